//! auth-svc's table: every key built here, from newtypes, tenant first. The only
//! global keys are the lookups that precede knowing the tenant: email and username
//! locks (login, uniqueness) and one-time tokens (links in mail); the only global index
//! partition lists the tenants themselves ([`tenants::INDEX`]).

pub mod admin;
pub mod audit;
pub mod credentials;
pub mod invites;
pub mod lockout;
pub mod mail_limit;
pub mod mfa;
pub mod one_time;
pub mod sessions;
pub mod signin_limit;
pub mod source;
pub mod tenants;
pub mod users;

use shared::{
    store::{Delete, Item, Key, Put, Query, SortKey, Store, TransactOp, tenant_pk},
    tenant::TenantId,
    tenant_status::Inactive,
};

use crate::{
    domain::{Email, Username},
    error::AuthResult,
};

/// A tenant's record; other services read its `status` (`shared::tenant_status`).
pub fn tenant(t: &TenantId) -> Key {
    shared::tenant_status::record_key(t)
}
/// What other services read of account `user_id` (`shared::tenant_status`): a record
/// while it is suspended or deleted, none while it is active. Written in the transaction
/// that changes the account, so the two never disagree.
pub fn account_standing(t: &TenantId, user_id: &str, inactive: Option<Inactive>) -> TransactOp {
    match inactive {
        Some(why) => TransactOp::Put(Put::new(why.record(t, user_id))),
        None => TransactOp::Delete(Delete::new(shared::tenant_status::account_key(t, user_id))),
    }
}
pub fn user(t: &TenantId, user_id: &str) -> Key {
    Key::tenant(t, &["USER", user_id], PROFILE_SORT)
}
pub const PROFILE_SORT: &str = "PROFILE";
/// gsi1 partition listing a tenant's users (sort: creation time, then id). Tenant-first,
/// so it never meets [`tenants::INDEX`].
pub fn users_index(t: &TenantId) -> String {
    tenant_pk(t, &["USERS"])
}
pub fn user_partition(t: &TenantId, user_id: &str) -> String {
    tenant_pk(t, &["USER", user_id])
}
/// The items of the user's partition (its record, sessions, passkeys, counters) whose
/// sort key is in `range` (all of them: None), read strongly, every page.
pub async fn user_items(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    range: Option<SortKey>,
) -> AuthResult<Vec<Item>> {
    let mut query = Query::partition(user_partition(t, user_id)).consistent();
    if let Some(r) = range {
        query = query.sk(r);
    }
    Ok(shared::store::query_all(store, query).await?)
}
pub fn session(t: &TenantId, user_id: &str, session_id: &str) -> Key {
    Key::tenant(t, &["USER", user_id], format!("SESSION#{session_id}"))
}
pub const SESSION_PREFIX: &str = "SESSION#";
pub fn email_lock(email: &Email) -> Key {
    Key::global(format!("EMAIL#{}", email.as_ref()), "LOCK")
}
pub fn username_lock(username: &Username) -> Key {
    Key::global(format!("USERNAME#{}", username.as_ref()), "LOCK")
}
/// The failure counter of a sign-in name no account has, under the name's HMAC
/// ([`lockout::Counted::stand_in`]).
pub fn signin_failures(name_hmac: &str) -> Key {
    Key::global(format!("SIGNIN#{name_hmac}"), "FAILURES")
}
/// One-time tokens are stored under the SHA-256 of the token, never the token itself.
pub fn one_time(kind: &str, token_hash: &str) -> Key {
    Key::global(format!("OTT#{token_hash}"), kind)
}
/// Audit events, one partition per tenant and month, sorted by time.
pub fn audit(t: &TenantId, month: &str, sort: String) -> Key {
    Key::tenant(t, &["AUDIT", month], sort)
}
