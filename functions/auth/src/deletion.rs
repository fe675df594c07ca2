//! Deleting an account (`DELETE /users/{userId}` by an admin, `DELETE /profile` by its
//! owner): nothing of it stays usable, and the address can be registered again.
//!
//! 1. Its sessions are revoked first, so its tokens die even if a later step fails (the
//!    account is then signed out, never signed in without a record).
//! 2. One transaction, under the tenant's roster guard (the last-admin rule, as for a
//!    role change): the user item and every global item naming it — the email and
//!    username locks (so the address is free again) and each passkey's credential lock
//!    (so no passkey signs in).
//! 3. The rest of its partition goes: sessions, passkeys, counters; and an admin's
//!    pending invites are revoked (acceptance would refuse them). Best effort: what a
//!    failure leaves names no account any more (revoked sessions, passkeys without
//!    locks), and a sign-in racing the deletion re-reads the user once its session is
//!    written (`signin::settle`) and refuses itself.
//!
//! The audit trail keeps the user's id (not its email or name) for the security record.

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::json;
use shared::{
    ApiError, Envelope,
    store::{Delete, Item},
    tenant::TenantId,
};
use utoipa::ToSchema;

use crate::{
    domain::User,
    error::{AuthError, AuthResult},
    repo::{
        self, admin, audit,
        credentials::{self, StoredCredential},
        invites,
        sessions::{self, Session},
        users,
    },
    state::AuthState,
};

/// A transaction holds at most 100 writes: the user, the roster and its locks (up to 3)
/// leave this many for passkeys' locks; passkeys beyond them are removed one by one first.
const PASSKEY_LOCKS_IN_TRANSACTION: usize = 90;

/// What a deletion answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeleted {
    #[schema(format = "uuid", example = "b0000001-0000-4000-8000-000000000005")]
    pub id: String,
    #[schema(example = true)]
    pub deleted: bool,
}

/// Deletes the user `user_id` of `tenant` at `actor`'s request (the user itself, or an
/// admin), audited `user.deleted`.
pub async fn delete(
    st: &AuthState,
    tenant: &TenantId,
    user_id: &str,
    actor: &str,
) -> Result<Envelope<UserDeleted>, ApiError> {
    let user = delete_account(st, tenant, user_id).await?;
    let event = audit::Event {
        tenant,
        kind: "user.deleted",
        actor: Some(actor),
        subject: Some(&user.id),
        details: json!({ "self": user.id == actor }),
    };
    audit::record(st.store(), st.now(), event).await;
    Ok(Envelope::ok(UserDeleted {
        id: user.id,
        deleted: true,
    }))
}

/// Deletes the account, deciding again when another change of the tenant's users commits
/// meanwhile. The user as it was.
async fn delete_account(st: &AuthState, tenant: &TenantId, user_id: &str) -> AuthResult<User> {
    for _ in 0..3 {
        // The roster's version and everything of the account, side by side.
        let (seen, items) = tokio::join!(
            admin::roster_version(st.store(), tenant),
            repo::user_items(st.store(), tenant, user_id, None)
        );
        let Account {
            user,
            sessions,
            mut passkeys,
        } = Account::of(&items?)?;
        let (seen, user) = (seen?, user.ok_or(AuthError::NotFound)?);
        if user.has_role("system") {
            // The platform's own accounts are managed by the platform (`auth-admin`).
            return Err(ApiError::forbidden("the system role is managed by the platform").into());
        }
        if admin::is_active_admin(&user)
            && !admin::has_other_active_admin(st.store(), tenant, &user.id).await?
            && has_other_users(st, tenant, &user.id).await?
        {
            // The tenant's last admin leaves only a tenant nobody else is in.
            return Err(AuthError::LastAdmin);
        }
        let now = st.epoch();
        for s in sessions.iter().filter(|s| s.is_live(now)) {
            sessions::revoke(st.store(), tenant, &user.id, &s.id).await?;
        }
        if passkeys.len() > PASSKEY_LOCKS_IN_TRANSACTION {
            for p in passkeys.drain(PASSKEY_LOCKS_IN_TRANSACTION..) {
                credentials::remove(st.store(), &p).await?;
            }
        }
        let mut locks = users::locks_of(&user)?;
        locks.extend(passkeys.iter().map(|p| credentials::lock(&p.credential_id)));
        if admin::delete_user(st.store(), tenant, &user, locks, seen).await? {
            sweep(st, tenant, &user.id).await;
            if user.has_role("admin")
                && let Err(e) =
                    invites::revoke_sent_by(st.store(), tenant, &user.id, st.epoch()).await
            {
                // Acceptance refuses them anyway (their sender is gone): only the list shows them.
                tracing::warn!(error = %e, "a deleted admin's pending invites not revoked");
            }
            return Ok(user);
        }
    }
    Err(ApiError::conflict("the tenant's users changed meanwhile; retry").into())
}

/// An account's partition, read.
struct Account {
    user: Option<User>,
    sessions: Vec<Session>,
    passkeys: Vec<StoredCredential>,
}

impl Account {
    fn of(items: &[Item]) -> AuthResult<Self> {
        let mut account = Account {
            user: None,
            sessions: Vec::new(),
            passkeys: Vec::new(),
        };
        for item in items {
            let Some(key) = item.key() else { continue };
            if key.sk == repo::PROFILE_SORT {
                account.user = Some(users::from_item(item)?);
            } else if key.sk.starts_with(repo::SESSION_PREFIX) {
                account.sessions.push(sessions::from_item(item)?);
            } else if key.sk.starts_with(credentials::PREFIX) {
                account.passkeys.push(credentials::from_item(item)?);
            }
        }
        Ok(account)
    }
}

/// Whether the tenant has a user besides `except` (the users index: eventually
/// consistent, so a user added a moment ago may be missed).
async fn has_other_users(st: &AuthState, tenant: &TenantId, except: &str) -> AuthResult<bool> {
    let (page, _) = users::list(st.store(), tenant, 2, None).await?;
    Ok(page.iter().any(|u| u.id != except))
}

/// Deletes what is left in the user's partition, read again after the deletion (a
/// session a sign-in wrote meanwhile goes too), 25 items at a time.
async fn sweep(st: &AuthState, tenant: &TenantId, user_id: &str) {
    let items = match repo::user_items(st.store(), tenant, user_id, None).await {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!(error = %e, "deleted account's items not listed; they name no account");
            return;
        }
    };
    let keys: Vec<_> = items.iter().filter_map(Item::key).collect();
    for chunk in keys.chunks(25) {
        let deletes = chunk
            .iter()
            .map(|k| st.store().delete(Delete::new(k.clone())));
        if let Some(e) = join_all(deletes).await.into_iter().find_map(Result::err) {
            tracing::warn!(error = %e, "deleted account's items not all removed; they name no account");
            return;
        }
    }
}
