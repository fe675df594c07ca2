//! Failed sign-ins per client (password spraying). The account lockout ([`super::lockout`])
//! stops guessing at one account; it does not stop one client from trying a common
//! password at every account, four an account every 15 minutes. Per clock hour (UTC), a
//! client (an IPv4 address, an IPv6 /64) is refused [`FAILURES_PER_SOURCE`] sign-ins and
//! an IPv6 /48 [`FAILURES_PER_NETWORK`]; past that, every password sign-in from it is
//! answered 429 RATE_LIMITED until the hour ends — a right password too, or a spray would
//! still find its accounts — before any account is looked up, so the refusal says
//! nothing about accounts.
//!
//! The counts are read on every sign-in (beside the account lookup, in parallel) and
//! written only when one is refused. Failures in flight together may pass a cap by their
//! number: this is a brake on volume, where the account's count is a reservation per guess.

use chrono::{DateTime, Utc};
use shared::{
    ApiError,
    ids::sha256_hex,
    store::{Key, Store, TransactOp, Update, Value},
};

use super::{
    mail_limit::until_next,
    source::{bucket, network},
};
use crate::error::{AuthError, AuthResult};

/// Refused sign-ins per client and clock hour. A person mistyping does not come near it;
/// an office behind one address would need ~100 people failing within the hour.
pub const FAILURES_PER_SOURCE: i64 = 100;
/// The same per IPv6 /48, a site (see [`super::mail_limit::SIGNUPS_PER_NETWORK`]).
pub const FAILURES_PER_NETWORK: i64 = 500;
const FAILURES: &str = "failures";

/// The counts `source` is held to in `now`'s hour, with their caps. Keyed by a digest of
/// the client, a partition per client (no hot partition for the hour); kept two hours.
fn counts(source: Option<&str>, now: DateTime<Utc>) -> Vec<(Key, i64)> {
    let hour = now.format("%Y-%m-%dT%H");
    let key = |client: String| {
        let digest = sha256_hex(client.as_bytes());
        Key::global(
            format!("SIGNIN_SOURCE#{}", &digest[..32]),
            format!("FAILURES#{hour}"),
        )
    };
    let mut counts = vec![(key(bucket(source)), FAILURES_PER_SOURCE)];
    counts.extend(network(source).map(|n| (key(n), FAILURES_PER_NETWORK)));
    counts
}

/// 429 RATE_LIMITED (with the seconds to the next hour) when `source` has used up a count
/// of refused sign-ins this hour. One read (BatchGetItem for an IPv6 client's two).
pub async fn check(store: &dyn Store, source: Option<&str>, now: DateTime<Utc>) -> AuthResult<()> {
    let counts = counts(source, now);
    let keys: Vec<Key> = counts.iter().map(|(k, _)| k.clone()).collect();
    let found = store.get_many(&keys).await?;
    let spent = found.iter().zip(&counts).find(|(item, (_, cap))| {
        item.as_ref()
            .and_then(|i| i.get(FAILURES))
            .and_then(Value::as_i64)
            .is_some_and(|n| n >= *cap)
    });
    let Some((_, (_, cap))) = spent else {
        return Ok(());
    };
    let from = if *cap == FAILURES_PER_SOURCE {
        "this address"
    } else {
        "this network (an IPv6 /48)"
    };
    Err(AuthError::Api(ApiError {
        message: format!("too many failed sign-ins from {from} ({cap} an hour): try again later")
            .into(),
        ..ApiError::rate_limited(until_next(now, 3600))
    }))
}

/// Counts one refused sign-in from `source` (one write: a transaction for an IPv6
/// client's two counts).
pub async fn count_failure(
    store: &dyn Store,
    source: Option<&str>,
    now: DateTime<Utc>,
) -> AuthResult<()> {
    let expires_at = now.timestamp() + 2 * 3600;
    let mut ops: Vec<Update> = counts(source, now)
        .into_iter()
        .map(|(key, _)| {
            Update::new(key)
                .add(FAILURES, 1)
                .set("expires_at", Value::n(expires_at))
        })
        .collect();
    if ops.len() == 1 {
        store.update(ops.remove(0)).await?;
    } else {
        store
            .transact(ops.into_iter().map(TransactOp::Update).collect())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_held_to_its_64s_count_and_its_48s_larger_one() {
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let of = |ip: &str| counts(Some(ip), now);
        let client = of("2001:db8:7:0::1");
        let caps: Vec<i64> = client.iter().map(|(_, cap)| *cap).collect();
        assert_eq!(caps, [FAILURES_PER_SOURCE, FAILURES_PER_NETWORK]);
        let neighbour = of("2001:db8:7:1::1");
        assert_ne!(client[0].0, neighbour[0].0, "another /64");
        assert_eq!(client[1].0, neighbour[1].0, "the same /48");
        assert_eq!(of("203.0.113.7").len(), 1, "IPv4: the address alone");
        // Every hour has its own count; the client's digest names the partition.
        let later = counts(Some("203.0.113.7"), now + chrono::Duration::hours(1));
        assert_eq!(later[0].0.pk, of("203.0.113.7")[0].0.pk);
        assert_ne!(later[0].0.sk, of("203.0.113.7")[0].0.sk);
    }
}
