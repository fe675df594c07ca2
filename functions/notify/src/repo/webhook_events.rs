//! Provider event ids already handled (`HOOK#<provider>` / `<eventId>`, with a TTL), so a
//! provider's retry or an attacker's replay of a validly signed event changes nothing.
//!
//! An event is claimed by a conditional put before its effects and released when they
//! fail, so the provider's retry runs them again.

use shared::store::{Condition, Delete, Item, Key, Put, Store, attr};

use crate::error::NotifyResult;

/// How long an event id is remembered: longer than any provider retries (SNS gives up
/// within an hour by default; the HMAC signature's tolerance is 5 minutes).
pub const RETENTION_SECS: i64 = 7 * 24 * 3600;

pub fn key(provider: &str, event_id: &str) -> Key {
    Key::global(format!("HOOK#{provider}"), event_id)
}

/// Records `event_id` of `provider` as handled at `now` (epoch seconds). False when it was
/// already recorded (and not expired): a replay.
pub async fn claim(
    store: &dyn Store,
    provider: &str,
    event_id: &str,
    now: i64,
) -> NotifyResult<bool> {
    let item = Item::new(&key(provider, event_id))
        .with("provider", provider)
        .with("received_at", now)
        .with(attr::EXPIRES_AT, now + RETENTION_SECS);
    // TTL deletion is lazy: an expired record counts as absent.
    let absent = Condition::item_absent().or(Condition::le(attr::EXPIRES_AT, now));
    match store.put(Put::new(item).when(absent)).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Forgets a claim whose effects failed, so the provider's retry is not taken for a replay.
pub async fn release(store: &dyn Store, provider: &str, event_id: &str) -> NotifyResult<()> {
    store.delete(Delete::new(key(provider, event_id))).await?;
    Ok(())
}

/// Whether `event_id` of `provider` is recorded (tests, diagnostics).
pub async fn seen(
    store: &dyn Store,
    provider: &str,
    event_id: &str,
    now: i64,
) -> NotifyResult<bool> {
    Ok(store
        .get(&key(provider, event_id))
        .await?
        .is_some_and(|it| !it.is_expired(now)))
}
