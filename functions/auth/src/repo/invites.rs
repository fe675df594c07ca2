//! Which of a tenant's invites to one address still counts. Invite tokens are one-time
//! tokens ([`super::one_time`]) valid for 7 days; beside them, one marker per tenant and
//! address names the newest (`T#<tenant>#INVITES` / `A#<address digest>`):
//! - inviting the address again replaces the earlier invite (a wrong role is corrected
//!   by re-inviting, not by waiting 7 days for the first to expire);
//! - a signup with any other token of the address is refused.
//!
//! Invites issued before the markers existed have none and count until they expire.

use shared::{
    store::{Item, Key, Put, Store, Value, attr},
    tenant::TenantId,
};

use crate::{domain::Email, error::AuthResult};

const LATEST: &str = "latest";

/// An address as counters and markers hold it: hashed, never in clear.
pub fn address_digest(email: &str) -> String {
    let mut digest = shared::ids::sha256_hex(email.as_bytes());
    digest.truncate(32);
    digest
}

/// The marker of the newest invite of tenant `t` to `email`.
pub fn latest_key(t: &TenantId, email: &Email) -> Key {
    Key::tenant(
        t,
        &["INVITES"],
        format!("A#{}", address_digest(email.as_ref())),
    )
}

/// Records `token` as the newest invite to `email`, until `expires_at` (epoch seconds).
pub async fn mark_latest(
    store: &dyn Store,
    t: &TenantId,
    email: &Email,
    token: &str,
    expires_at: i64,
) -> AuthResult<()> {
    let item = Item::new(&latest_key(t, email))
        .with(LATEST, Value::s(token_digest(token)))
        .with(attr::EXPIRES_AT, Value::n(expires_at));
    store.put(Put::new(item)).await?;
    Ok(())
}

/// True when `marker` (the item at [`latest_key`], as read) names an invite other than
/// `token`: a newer one replaced it.
pub fn superseded(marker: Option<&Item>, token: &str) -> bool {
    marker
        .and_then(|m| m.get_s(LATEST))
        .is_some_and(|latest| latest != token_digest(token))
}

fn token_digest(token: &str) -> String {
    shared::ids::sha256_hex(token.trim().as_bytes())
}
