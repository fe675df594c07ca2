//! When a person was erased (`T#<t>#U#<userId>` / `ERASED`), kept while access tokens
//! issued before it may still be live: such a token must not put the person's data back
//! (a device, preferences) once it is erased. Other services accept a token until its
//! `exp` (auth-svc.md "Revocation reach"), so notify cannot tell a deleted account's
//! token from a live one but by this.

use shared::{
    ApiError,
    auth::Claims,
    store::{Item, Key, Put, Store},
    tenant::TenantId,
};

use crate::error::NotifyResult;

/// The marker's sort key in the person's partition: between their devices (`DEVICE#…`)
/// and everything else of it, so the device listing reads it in the same query.
pub const SORT: &str = "ERASED";
const AT: &str = "erased_at";

/// Longer than an access token lives (15 minutes), with room for clock skew.
const KEEP_SECS: i64 = 20 * 60;

pub fn key(t: &TenantId, user_id: &str) -> Key {
    super::user_item(t, user_id, SORT)
}

/// Records that `user_id` was erased at `now` (epoch seconds).
pub async fn mark(store: &dyn Store, t: &TenantId, user_id: &str, now: i64) -> NotifyResult<()> {
    let item = Item::new(&key(t, user_id))
        .with(AT, now)
        .with(shared::store::attr::EXPIRES_AT, now + KEEP_SECS);
    store.put(Put::new(item)).await?;
    Ok(())
}

/// When the person was erased, from the marker item (read by the caller).
pub fn at(item: Option<&Item>) -> Option<i64> {
    item.and_then(|i| i.get_i64(AT))
}

/// When `user_id` was erased, if lately.
pub async fn erased_at(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
) -> NotifyResult<Option<i64>> {
    Ok(at(store.get(&key(t, user_id)).await?.as_ref()))
}

/// 401 TOKEN_REVOKED for a token of the person issued before their erasure.
pub fn refuse_older_token(caller: &Claims, erased_at: Option<i64>) -> Result<(), ApiError> {
    match erased_at {
        Some(at) if caller.issued_at <= at => Err(ApiError::new(
            http::StatusCode::UNAUTHORIZED,
            "TOKEN_REVOKED",
            "this token was issued before the person's notification data was erased: sign in again",
        )),
        _ => Ok(()),
    }
}
