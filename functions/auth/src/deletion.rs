//! Deleting an account (`DELETE /users/{userId}` by an admin, `DELETE /profile` by its
//! owner): nothing of it stays usable, and the address can be registered again.
//!
//! 1. Read and decide, writing nothing: the tenant's roster version, then the account's
//!    partition; a system account is refused (403), the last admin of a tenant with
//!    other users too (409 LAST_ADMIN).
//! 2. One transaction under the roster guard (as a role change commits): the user item,
//!    on condition its email and username are still as read, and the email and
//!    username locks naming it (so the address is free again). The account is gone:
//!    a sign-in, a refresh or a mailed link finds no user.
//! 3. What is left in its partition, read again: sessions (their tokens fail auth's
//!    live-session check once the item is gone), passkeys with their credential locks,
//!    counters. A failure here answers 503; the retry finds the account gone and
//!    finishes the sweep. A sign-in racing the deletion re-reads the user once its
//!    session is written (`signin::settle`) and refuses itself. An admin's pending
//!    invites are revoked (acceptance would refuse them).
//!
//! The audit trail keeps the user's id (not its email or name) for the security record.

use serde::Serialize;
use serde_json::json;
use shared::{
    ApiError, Envelope,
    store::{Condition, Delete, Item},
    tenant::TenantId,
};
use utoipa::ToSchema;

use crate::{
    domain::User,
    error::{AuthError, AuthResult},
    repo::{self, admin, audit, credentials, invites, users},
    state::AuthState,
};

/// What a deletion answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeleted {
    #[schema(format = "uuid", example = "b0000001-0000-4000-8000-000000000005")]
    pub id: String,
    #[schema(example = true)]
    pub deleted: bool,
}

/// Deletes the user `user_id` of `tenant` at `actor`'s request (the user itself, or an
/// admin), audited `user.deleted` once the account is gone.
pub async fn delete(
    st: &AuthState,
    tenant: &TenantId,
    user_id: &str,
    actor: &str,
) -> Result<Envelope<UserDeleted>, ApiError> {
    for _ in 0..3 {
        // The roster's version before the account: a change that commits after the
        // account was read moves the version, and the deletion decides again.
        let seen = admin::roster_version(st.store(), tenant).await?;
        let items = repo::user_items(st.store(), tenant, user_id, None).await?;
        let Some(user) = user_in(&items)? else {
            // Gone already. A deletion that failed after its transaction left these
            // (sessions whose tokens would still pass auth's check): finish it.
            sweep(st, tenant, user_id, &items).await?;
            return Err(AuthError::NotFound.into());
        };
        if user.has_role("system") {
            // The platform's own accounts are managed by the platform (`auth-admin`).
            return Err(ApiError::forbidden(
                "the system role is managed by the platform",
            ));
        }
        if admin::is_active_admin(&user)
            && !admin::has_other_active_admin(st.store(), tenant, &user.id).await?
            && has_other_users(st, tenant, &user.id).await?
        {
            // The tenant's last admin leaves only a tenant nobody else is in.
            return Err(AuthError::LastAdmin.into());
        }
        // Nothing is written before this transaction, so every refusal above (and a
        // roster that moved) leaves the account as it was.
        if !admin::delete_user(st.store(), tenant, &user, users::locks_of(&user)?, seen).await? {
            continue;
        }
        let event = audit::Event {
            tenant,
            kind: "user.deleted",
            actor: Some(actor),
            subject: Some(&user.id),
            details: json!({ "self": user.id == actor }),
        };
        audit::record(st.store(), st.now(), event).await;
        // Read again: a session a sign-in wrote meanwhile goes too (and that sign-in,
        // re-reading the user, refuses itself).
        let left = repo::user_items(st.store(), tenant, &user.id, None).await?;
        sweep(st, tenant, &user.id, &left).await?;
        if user.has_role("admin")
            && let Err(e) = invites::revoke_sent_by(st.store(), tenant, &user.id, st.epoch()).await
        {
            // Acceptance refuses them anyway (their sender is gone): only the list shows them.
            tracing::warn!(error = %e, "a deleted admin's pending invites not revoked");
        }
        return Ok(Envelope::ok(UserDeleted {
            id: user.id,
            deleted: true,
        }));
    }
    Err(ApiError::conflict(
        "the tenant's users changed meanwhile; retry",
    ))
}

/// The user record among an account's partition items, if it is still there.
fn user_in(items: &[Item]) -> AuthResult<Option<User>> {
    items
        .iter()
        .find(|i| i.key().is_some_and(|k| k.sk == repo::PROFILE_SORT))
        .map(users::from_item)
        .transpose()
}

/// Whether the tenant has a user besides `except` (the users index: eventually
/// consistent, so a user added a moment ago may be missed).
async fn has_other_users(st: &AuthState, tenant: &TenantId, except: &str) -> AuthResult<bool> {
    let (page, _) = users::list(st.store(), tenant, 2, None).await?;
    Ok(page.iter().any(|u| u.id != except))
}

/// Deletes `items` of a deleted account's partition: its sessions (their
/// tokens fail auth's live-session check at once), its passkeys with their credential
/// locks (each only while it still names the user), its counters. An error is answered
/// (503): the caller's retry finds the account gone and finishes here.
async fn sweep(st: &AuthState, tenant: &TenantId, user_id: &str, items: &[Item]) -> AuthResult<()> {
    let mut deletes = Vec::new();
    for item in items {
        let Some(key) = item.key() else { continue };
        if key.sk.starts_with(credentials::PREFIX) {
            let passkey = credentials::from_item(item)?;
            let names_user = Condition::item_absent().or(Condition::eq("user_id", user_id));
            deletes.push(Delete::new(credentials::lock(&passkey.credential_id)).when(names_user));
        }
        deletes.push(Delete::new(key));
    }
    shared::store::delete_each(st.store(), deletes)
        .await
        .inspect_err(|e| {
            tracing::warn!(tenant = %tenant, error = %e, "deleted account's items not all removed");
        })?;
    Ok(())
}
