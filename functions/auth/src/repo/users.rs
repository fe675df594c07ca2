//! Users: the record, plus email and username locks that make both unique platform-wide
//! (written in one transaction with the user, so a race creates exactly one user).

use shared::{
    store::{
        CancelReason, Condition, Delete, Item, Key, Put, Store, StoreError, TransactOp, Update,
        attr,
    },
    tenant::TenantId,
};

pub use super::lockout::Reservation;
use super::lockout::{self, Counted, Counter};
use crate::{
    domain::{Email, User, UserStatus, Username},
    error::{AuthError, AuthResult},
};

/// The user of an item read in a batch; 404 NOT_FOUND when there was none.
pub fn found(item: Option<&Item>) -> AuthResult<User> {
    item.map(from_item).transpose()?.ok_or(AuthError::NotFound)
}

pub fn from_item(item: &Item) -> AuthResult<User> {
    item.to_record()
        .map_err(|e| AuthError::Internal(format!("user record: {e}")))
}

fn tenant_of(user: &User) -> AuthResult<TenantId> {
    TenantId::parse(&user.tenant_id).map_err(|e| AuthError::Internal(e.to_string()))
}

pub fn key_of(user: &User) -> AuthResult<Key> {
    Ok(super::user(&tenant_of(user)?, &user.id))
}

pub async fn get(store: &dyn Store, tenant: &TenantId, user_id: &str) -> AuthResult<Option<User>> {
    match store.get(&super::user(tenant, user_id)).await? {
        Some(item) => from_item(&item).map(Some),
        None => Ok(None),
    }
}

/// Follows a lock item (email or username) to its user.
async fn by_lock(store: &dyn Store, lock: &Key) -> AuthResult<Option<User>> {
    let Some(lock) = store.get(lock).await? else {
        return Ok(None);
    };
    let (Some(t), Some(u)) = (lock.get_s("tenant_id"), lock.get_s("user_id")) else {
        return Ok(None);
    };
    let tenant = TenantId::parse(t).map_err(|e| AuthError::Internal(e.to_string()))?;
    get(store, &tenant, u).await
}

/// The user holding `email`'s lock; for an address the earlier rules stored in another
/// form (an internationalised domain before punycode), that form's lock too.
pub async fn by_email(store: &dyn Store, email: &Email) -> AuthResult<Option<User>> {
    if let Some(found) = by_lock(store, &super::email_lock(email)).await? {
        return Ok(Some(found));
    }
    match email.legacy_email() {
        Some(legacy) => by_lock(store, &super::email_lock(&legacy)).await,
        None => Ok(None),
    }
}

pub async fn by_username(store: &dyn Store, username: &Username) -> AuthResult<Option<User>> {
    by_lock(store, &super::username_lock(username)).await
}

fn user_item(user: &User) -> AuthResult<Item> {
    let tenant = tenant_of(user)?;
    let mut item = Item::from_record(&super::user(&tenant, &user.id), user)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    item.set(attr::GSI1PK, super::users_index(&tenant));
    item.set(attr::GSI1SK, format!("{}#{}", user.created_at, user.id));
    Ok(item)
}

fn lock_item(key: &Key, user: &User) -> Item {
    Item::new(key)
        .with("tenant_id", user.tenant_id.as_str())
        .with("user_id", user.id.as_str())
}

/// Creates the user and its locks; EmailTaken / UsernameTaken when another holds them.
pub async fn create(store: &dyn Store, user: &User) -> AuthResult<()> {
    create_with(store, user, None, None).await
}

/// [`create`] in one transaction with `invite` (the acceptance of the invite the user
/// joins by): when the invite no longer holds, nothing is written and the answer is
/// [`AuthError::OneTimeTokenInvalid`]. `unverified`: an account that holds the address
/// but never proved it, which the invitee (who did, by the invite mail) takes it over
/// from: its user item and username lock go and the email lock moves, in the same
/// transaction, on condition it is still unverified and still holds the lock (else
/// EmailTaken).
pub async fn create_invited(
    store: &dyn Store,
    user: &User,
    invite: TransactOp,
    unverified: Option<&User>,
) -> AuthResult<()> {
    create_with(store, user, Some(invite), unverified).await
}

/// Held by `holder`: a lock item naming it.
fn held_by(holder: &User) -> Condition {
    Condition::eq("user_id", holder.id.as_str())
}

async fn create_with(
    store: &dyn Store,
    user: &User,
    invite: Option<TransactOp>,
    replacing: Option<&User>,
) -> AuthResult<()> {
    let email = Email::parse(&user.email).map_err(|e| AuthError::Internal(e.issue))?;
    let free = |holder: Option<&User>| holder.map_or_else(Condition::item_absent, held_by);
    let mut ops = vec![
        TransactOp::Put(Put::new(user_item(user)?).when(Condition::item_absent())),
        TransactOp::Put(
            Put::new(lock_item(&super::email_lock(&email), user)).when(free(replacing)),
        ),
    ];
    let mut username_at = None;
    let mut same_username = false;
    if let Some(u) = &user.username {
        let username = Username::parse(u).map_err(|e| AuthError::Internal(e.issue))?;
        username_at = Some(ops.len());
        same_username = replacing.is_some_and(|old| old.username.as_deref() == Some(u.as_str()));
        let holder = replacing.filter(|_| same_username);
        ops.push(TransactOp::Put(
            Put::new(lock_item(&super::username_lock(&username), user)).when(free(holder)),
        ));
    }
    // The replaced account: still unverified, as read, when it goes.
    let replaced_at = replacing.map(|_| ops.len());
    if let Some(old) = replacing {
        let unverified = Condition::item_present().and(Condition::eq("email_verified", false));
        ops.push(TransactOp::Delete(
            Delete::new(key_of(old)?).when(unverified),
        ));
        if let (Some(u), false) = (&old.username, same_username) {
            let username = Username::parse(u).map_err(|e| AuthError::Internal(e.issue))?;
            ops.push(TransactOp::Delete(
                Delete::new(super::username_lock(&username)).when(held_by(old)),
            ));
        }
    }
    // The same mailbox as the earlier rules stored it (its domain in Unicode) is taken too.
    let mut legacy_at = None;
    if let Some(legacy) = email.legacy_email() {
        legacy_at = Some(ops.len());
        ops.push(TransactOp::Check {
            key: super::email_lock(&legacy),
            condition: Condition::item_absent(),
        });
    }
    let invite_at = invite.is_some().then_some(ops.len());
    ops.extend(invite);
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { reasons }) => {
            let failed = |i: usize| reasons.get(i) == Some(&CancelReason::ConditionFailed);
            let replaced_changed =
                replaced_at.is_some_and(|at| (at..invite_at.unwrap_or(reasons.len())).any(failed));
            if failed(1) || legacy_at.is_some_and(failed) || replaced_changed {
                Err(AuthError::EmailTaken)
            } else if invite_at.is_some_and(failed) {
                Err(AuthError::OneTimeTokenInvalid)
            } else if username_at.is_some_and(failed) {
                Err(AuthError::UsernameTaken)
            } else {
                Err(AuthError::Internal(format!(
                    "user create cancelled: {reasons:?}"
                )))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The global items naming `user`: its email's lock (and, for an address the earlier
/// rules stored in another form, that form's), its username's.
pub fn locks_of(user: &User) -> AuthResult<Vec<Key>> {
    // As stored, which earlier rules may have accepted and today's would refuse.
    let email = Email::lookup(&user.email).map_err(|e| AuthError::Internal(e.issue))?;
    let mut keys = vec![super::email_lock(&email)];
    keys.extend(email.legacy_email().map(|l| super::email_lock(&l)));
    if let Some(u) = &user.username {
        let username = Username::parse(u).map_err(|e| AuthError::Internal(e.issue))?;
        keys.push(super::username_lock(&username));
    }
    Ok(keys)
}

/// Applies `update` (built by the caller on `key_of(user)`) and returns the new record.
pub async fn update(store: &dyn Store, update: Update) -> AuthResult<User> {
    let item = store
        .update(update.when(Condition::item_present()))
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AuthError::NotFound,
            e => e.into(),
        })?;
    from_item(&item)
}

/// Applies `update` (a new password, built on `key_of(user)`) only while the password is
/// still the one `user` was read with. Of two password writes racing (two reset links, a
/// reset and a change), one wins and the other gets `None`: what it checked (a link
/// stamped with the old password, the current password) is no longer true, and it must
/// not write over the winner.
pub async fn replace_password(
    store: &dyn Store,
    user: &User,
    update: Update,
) -> AuthResult<Option<User>> {
    let same = match &user.password_hash {
        Some(h) => Condition::eq("password_hash", h.as_str()),
        None => Condition::not_exists("password_hash"),
    };
    match store
        .update(update.when(Condition::item_present().and(same)))
        .await
    {
        Ok(item) => from_item(&item).map(Some),
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The lockout counter on `user`'s item.
fn counted(user: &User) -> AuthResult<Counted> {
    Ok(Counted::account(key_of(user)?))
}

/// The counter fields of `user` as read.
fn counter(user: &User) -> Counter {
    Counter {
        failed_logins: user.failed_logins,
        failure_window_start: user.failure_window_start,
        locked_until: user.locked_until,
    }
}

/// Reserves one guess at `user`'s password or second factor before it is evaluated
/// ([`lockout::reserve`]); `Err(until)` when the account is locked.
pub async fn reserve_attempt(
    store: &dyn Store,
    user: &User,
    now: i64,
) -> AuthResult<Result<Reservation, i64>> {
    lockout::reserve(store, &counted(user)?, counter(user), now).await
}

/// The reserved guess was wrong ([`lockout::fail`]): until when the account is now
/// locked, if this locked it.
pub async fn fail_attempt(
    store: &dyn Store,
    user: &User,
    reservation: &Reservation,
    now: i64,
) -> AuthResult<Option<i64>> {
    lockout::fail(store, &counted(user)?, reservation, now).await
}

/// The reserved guess was right but the sign-in is not complete ([`lockout::release`]).
pub async fn release_attempt(
    store: &dyn Store,
    user: &User,
    reservation: &Reservation,
) -> AuthResult<()> {
    lockout::release(store, &counted(user)?, reservation).await
}

/// Clears the lockout state (successful login, admin unlock).
pub async fn clear_failures(store: &dyn Store, user: &User) -> AuthResult<User> {
    update(store, clearing_failures(Update::new(key_of(user)?))).await
}

/// [`clear_failures`] for a sign-in that checked `user`'s password (or code): only while
/// the password and the status are still those it read. A reset, change or suspension
/// landing during the argon2 check lists the sessions to revoke before this sign-in
/// writes its own; refused here (401), the sign-in writes none.
pub async fn clear_failures_for_sign_in(
    store: &dyn Store,
    user: &User,
    reservation: &Reservation,
) -> AuthResult<User> {
    let upd = clearing_failures(Update::new(key_of(user)?)).when(credentials_as_read(user));
    match store.update(upd).await {
        Ok(item) => from_item(&item),
        Err(StoreError::ConditionFailed { .. }) => {
            // The password or the status changed while the password was checked. The
            // guess was right, so it is given back (kept, five such races locked the
            // owner out for 15 minutes), and the sign-in is refused as the account now
            // stands: suspended (403), else no longer this password (401).
            release_attempt(store, user, reservation).await?;
            let now = get(store, &tenant_of(user)?, &user.id).await?;
            Err(match now {
                Some(u) if u.status == UserStatus::Suspended => AuthError::AccountSuspended,
                _ => AuthError::InvalidCredentials,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// `user`'s item still holds the password hash and the status `user` was read with.
pub fn credentials_as_read(user: &User) -> Condition {
    let status = serde_json::to_value(user.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let cond = Condition::item_present().and(Condition::eq("status", status));
    // An account without a password (OAuth only) stores it as null: nothing to compare.
    match &user.password_hash {
        Some(h) => cond.and(Condition::eq("password_hash", h.as_str())),
        None => cond,
    }
}

/// `upd` (on a user's key), also clearing the lockout state: for a write that clears it
/// together with what ends the lockout (a password reset).
pub fn clearing_failures(upd: Update) -> Update {
    upd.set("failed_logins", 0)
        .set("failure_window_start", 0)
        .set("locked_until", 0)
}

/// The query of the tenant's users index (gsi1), in creation order.
pub fn index(tenant: &TenantId) -> shared::store::Query {
    shared::store::Query::partition(super::users_index(tenant)).on(shared::store::Index::Gsi1)
}

/// A tenant's users in creation order, one page.
pub async fn list(
    store: &dyn Store,
    tenant: &TenantId,
    limit: u32,
    start: Option<shared::store::ResumeKey>,
) -> AuthResult<(Vec<User>, Option<shared::store::ResumeKey>)> {
    let page = store
        .query(index(tenant).limit(limit).resume(start))
        .await?;
    let users = page
        .items
        .iter()
        .map(from_item)
        .collect::<AuthResult<Vec<_>>>()?;
    Ok((users, page.next))
}
