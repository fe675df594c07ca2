//! How many link mails (email verification, password reset, magic link) one account is
//! sent. The routes that send them are public and answer 202 to anyone, so without a cap
//! anyone could mail-bomb an account holder, spend the stage's SES quota and sender
//! reputation (shared with every tenant's notifications), and leave dozens of live reset
//! tokens. At most [`PER_HOUR`] per account and clock hour (UTC); past it the route issues
//! no token and sends nothing, and still answers 202 after the same floor: no signal to the
//! sender, nothing to enumerate.

use chrono::{DateTime, Utc};
use shared::{
    store::{Condition, Key, Store, Update, Value},
    tenant::TenantId,
};

use crate::error::AuthResult;

/// Link mails per account and clock hour: a person retrying a lost mail a few times
/// gets each, a loop gets five.
pub const PER_HOUR: i64 = 5;

/// The account's count for `now`'s hour, beside its profile; it expires after the hour.
fn window(t: &TenantId, user_id: &str, now: DateTime<Utc>) -> Key {
    Key::tenant(
        t,
        &["USER", user_id],
        format!("MAILS#{}", now.format("%Y-%m-%dT%H")),
    )
}

/// Takes one of the account's link mails for this hour: false when the hour's are spent
/// (then nothing is written).
pub async fn take(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    now: DateTime<Utc>,
) -> AuthResult<bool> {
    let take = Update::new(window(t, user_id, now))
        .add("sent", 1)
        .set("expires_at", Value::n(now.timestamp() + 2 * 3600))
        .when(Condition::not_exists("sent").or(Condition::lt("sent", Value::n(PER_HOUR))));
    match store.update(take).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}
