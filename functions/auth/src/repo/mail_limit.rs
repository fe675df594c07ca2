//! How many link mails (email verification, password reset, magic link) one account is
//! sent. The routes that send them are public and answer 202 to anyone, so without a cap
//! anyone could mail-bomb an account holder, spend the stage's SES quota and sender
//! reputation (shared with every tenant's notifications), and leave dozens of live reset
//! tokens. Per clock hour (UTC), an account is sent at most [`PER_SOURCE`] links asked
//! from one client address (an IPv6 client's /48) and [`PER_ACCOUNT`] in all: one stranger cannot spend the
//! person's own links (they still get theirs from their own address), and many together
//! reach the account's ceiling only. Past either, the route issues no token and sends
//! nothing, and still answers 202 after the same floor: no signal, nothing to enumerate.

use chrono::{DateTime, Utc};
use shared::{
    ApiError,
    store::{CancelReason, Condition, Key, Store, StoreError, TransactOp, Update, Value},
    tenant::TenantId,
};

use super::source::{bucket, network};
use crate::error::{AuthError, AuthResult};

/// Link mails per account, client address and clock hour: a person retrying a lost mail
/// a few times gets each.
pub const PER_SOURCE: i64 = 5;
/// Link mails per account and clock hour, whoever asks.
pub const PER_ACCOUNT: i64 = 20;

/// Takes one of the account's link mails for `now`'s hour, asked from `source` (the
/// client address; None where none is known, one bucket for all such): false when either
/// count is spent, and then nothing is written. Both counts live beside the profile and
/// expire after the hour.
pub async fn take(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    source: Option<&str>,
    now: DateTime<Utc>,
) -> AuthResult<bool> {
    let hour = now.format("%Y-%m-%dT%H");
    let expires_at = now.timestamp() + 2 * 3600;
    let count = |sort: String, cap: i64| {
        one_more(Key::tenant(t, &["USER", user_id], sort), cap, expires_at)
    };
    let counts = vec![
        count(format!("MAILS#{hour}"), PER_ACCOUNT),
        // An IPv6 client by its /48, not its /64: a site has 65,536 /64s, and the account's
        // ceiling must take more than one site to spend (security review, 2026-12-05).
        count(
            format!(
                "MAILS#{hour}#{}",
                network(source).unwrap_or_else(|| bucket(source))
            ),
            PER_SOURCE,
        ),
    ];
    match store.transact(counts).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.contains(&CancelReason::ConditionFailed) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Adds one to the count at `key` if it stays within `cap`; the count expires at
/// `expires_at` (epoch seconds).
fn one_more(key: Key, cap: i64, expires_at: i64) -> TransactOp {
    TransactOp::Update(
        Update::new(key)
            .add("sent", 1)
            .set("expires_at", Value::n(expires_at))
            .when(Condition::not_exists("sent").or(Condition::lt("sent", Value::n(cap)))),
    )
}

/// Invites a tenant mails per clock hour. An invite names the tenant in its subject and
/// comes from the platform's address, and anyone can create a tenant by signing up: an
/// unbounded invite route would make the stage's SES a spam relay under a name the
/// sender chose.
pub const INVITES_PER_HOUR: i64 = 50;
/// Invites one tenant mails one address per UTC day.
pub const INVITES_PER_ADDRESS: i64 = 3;

/// Takes one of tenant `t`'s invites to `email` for `now`: None when one of the counts
/// is spent (nothing written), with the seconds until it starts afresh.
pub async fn take_invite(
    store: &dyn Store,
    t: &TenantId,
    email: &str,
    now: DateTime<Utc>,
) -> AuthResult<Result<(), u64>> {
    let count = |sort: String, cap: i64, keep: i64| {
        one_more(
            Key::tenant(t, &["INVITES"], sort),
            cap,
            now.timestamp() + keep,
        )
    };
    // The address hashed: the counter outlives nothing, but holds no address either.
    let address = super::invites::address_digest(email);
    let counts = vec![
        count(
            format!("H#{}", now.format("%Y-%m-%dT%H")),
            INVITES_PER_HOUR,
            2 * 3600,
        ),
        count(
            format!("D#{}#{address}", now.format("%Y-%m-%d")),
            INVITES_PER_ADDRESS,
            2 * 86_400,
        ),
    ];
    match store.transact(counts).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::TransactionCanceled { reasons }) => {
            match reasons
                .iter()
                .position(|r| *r == CancelReason::ConditionFailed)
            {
                Some(0) => Ok(Err(until_next(now, 3600))),
                Some(_) => Ok(Err(until_next(now, 86_400))),
                None => Err(StoreError::TransactionCanceled { reasons }.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Seconds from `now` to the start of the next UTC period of `period` seconds.
pub(crate) fn until_next(now: DateTime<Utc>, period: i64) -> u64 {
    (period - now.timestamp().rem_euclid(period)).max(1) as u64
}

/// Tenants one client may found per clock hour (by signup, or by a first OAuth sign-in).
/// Each founding mails a verification link to an address of the caller's choosing under
/// a tenant name of their choosing, and each tenant brings its own sending quotas:
/// without a cap, one script made 200 tenants (and mailed 200 strangers) in ten seconds.
/// An office behind one address founding more than this in an hour is not a pattern we
/// expect; joining by invite is not counted (the inviting tenant's own caps apply).
/// Attempts count, whatever their outcome (an `EMAIL_TAKEN` too).
pub const SIGNUPS_PER_SOURCE: i64 = 10;
/// The same per IPv6 /48 (a site; providers hand a customer a /48 or /56, so a count per
/// /64 alone would allow 256 to 65,536 times the cap).
pub const SIGNUPS_PER_NETWORK: i64 = 50;

/// Takes one of the client's foundings for `now`'s hour (`source`: its address; None,
/// the one bucket of callers without a known address). Past a cap: 429 RATE_LIMITED
/// with the seconds to the next hour, and nothing written. Addresses are kept hashed,
/// for two hours.
pub async fn take_signup(
    store: &dyn Store,
    source: Option<&str>,
    now: DateTime<Utc>,
) -> AuthResult<()> {
    let hour = now.format("%Y-%m-%dT%H");
    let expires_at = now.timestamp() + 2 * 3600;
    let count = |bucket: String, cap: i64| {
        let digest = shared::ids::sha256_hex(bucket.as_bytes());
        one_more(
            Key::global(format!("SIGNUPS#{hour}"), &digest[..32]),
            cap,
            expires_at,
        )
    };
    let mut counts = vec![count(bucket(source), SIGNUPS_PER_SOURCE)];
    counts.extend(network(source).map(|n| count(n, SIGNUPS_PER_NETWORK)));
    match store.transact(counts).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.contains(&CancelReason::ConditionFailed) =>
        {
            Err(AuthError::Api(ApiError {
                message: format!(
                    "at most {SIGNUPS_PER_SOURCE} new tenants an hour from one address: try \
                     again later, or join an existing tenant by invite"
                )
                .into(),
                ..ApiError::rate_limited(until_next(now, 3600))
            }))
        }
        Err(e) => Err(e.into()),
    }
}
