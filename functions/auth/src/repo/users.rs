//! Users: the record, plus email and username locks that make both unique platform-wide
//! (written in one transaction with the user, so a race creates exactly one user).

use shared::{
    store::{CancelReason, Condition, Item, Key, Put, Store, StoreError, TransactOp, Update, attr},
    tenant::TenantId,
};

use crate::{
    domain::{Email, User, Username},
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

pub async fn by_email(store: &dyn Store, email: &Email) -> AuthResult<Option<User>> {
    by_lock(store, &super::email_lock(email)).await
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
    let email = Email::parse(&user.email).map_err(|e| AuthError::Internal(e.issue))?;
    let mut ops = vec![
        TransactOp::Put(Put::new(user_item(user)?).when(Condition::item_absent())),
        TransactOp::Put(
            Put::new(lock_item(&super::email_lock(&email), user)).when(Condition::item_absent()),
        ),
    ];
    if let Some(u) = &user.username {
        let username = Username::parse(u).map_err(|e| AuthError::Internal(e.issue))?;
        ops.push(TransactOp::Put(
            Put::new(lock_item(&super::username_lock(&username), user))
                .when(Condition::item_absent()),
        ));
    }
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { reasons }) => {
            let failed = |i: usize| reasons.get(i) == Some(&CancelReason::ConditionFailed);
            if failed(1) {
                Err(AuthError::EmailTaken)
            } else if failed(2) {
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

/// Lockout policy: 5 failures within 15 minutes lock the account for 15 minutes.
pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;

/// Counts a failed attempt after the fact; returns when the account is now locked until,
/// if it is. Racy against parallel guesses (each checked the lock before counting):
/// guess-evaluating paths use `reserve_attempt` + `fail_attempt` instead.
pub async fn record_failure(store: &dyn Store, user: &User, now: i64) -> AuthResult<Option<i64>> {
    let key = key_of(user)?;
    let fresh_window = now - user.failure_window_start >= WINDOW_SECS;
    // The count restarts in a new window; ADD keeps concurrent failures exact.
    let upd = if fresh_window {
        Update::new(key)
            .set("failed_logins", 1)
            .set("failure_window_start", now)
    } else {
        Update::new(key).add("failed_logins", 1)
    };
    let after = update(store, upd).await?;
    if after.failed_logins >= MAX_FAILURES && after.locked_until <= now {
        let until = now + LOCK_SECS;
        update(store, Update::new(key_of(user)?).set("locked_until", until)).await?;
        return Ok(Some(until));
    }
    Ok(None)
}

/// One guess (password or second factor) counted in advance: the failure count as this
/// reservation left it, and the failure window it was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub count: i64,
    pub window_start: i64,
}

/// `locked_until` absent or not after `now`.
fn unlocked_at(now: i64) -> Condition {
    Condition::not_exists("locked_until").or(Condition::le("locked_until", now))
}

/// `failure_window_start` is still `start` (an absent one reads as 0).
fn window_is(start: i64) -> Condition {
    if start == 0 {
        Condition::not_exists("failure_window_start").or(Condition::eq("failure_window_start", 0))
    } else {
        Condition::eq("failure_window_start", start)
    }
}

/// Reserves one guess BEFORE it is evaluated, atomically on the user item, so that any
/// number of parallel requests get at most `MAX_FAILURES` guesses per window: the
/// reservation *is* the failure count, given back (`release_attempt`) or cleared
/// (`clear_failures`) only when the guess turns out right. `Err(until)` when the account
/// is locked (or its last guesses are in flight): answer 423, retry after `until - now`.
pub async fn reserve_attempt(
    store: &dyn Store,
    user: &User,
    now: i64,
) -> AuthResult<Result<Reservation, i64>> {
    let key = key_of(user)?;
    let mut seen = user.clone();
    // Each retry follows a concurrent change (a new window opened, counters cleared).
    for _ in 0..4 {
        if seen.locked_until > now {
            return Ok(Err(seen.locked_until));
        }
        let fresh_window = now - seen.failure_window_start >= WINDOW_SECS;
        if !fresh_window && seen.failed_logins >= MAX_FAILURES {
            // Full count, no lock written (yet): the last guesses are being evaluated.
            // Unless one of them fails and locks, the window's end frees the account.
            return Ok(Err(seen.failure_window_start + WINDOW_SECS));
        }
        let upd = if fresh_window {
            Update::new(key.clone())
                .set("failed_logins", 1)
                .set("failure_window_start", now)
        } else {
            Update::new(key.clone()).add("failed_logins", 1)
        };
        let mut cond = Condition::item_present()
            .and(unlocked_at(now))
            .and(window_is(seen.failure_window_start));
        if !fresh_window {
            cond = cond.and(
                Condition::not_exists("failed_logins")
                    .or(Condition::lt("failed_logins", MAX_FAILURES)),
            );
        }
        match store.update(upd.when(cond)).await {
            Ok(item) => {
                let after = from_item(&item)?;
                return Ok(Ok(Reservation {
                    count: after.failed_logins,
                    window_start: after.failure_window_start,
                }));
            }
            Err(StoreError::ConditionFailed { current }) => {
                seen = match current {
                    Some(item) => from_item(&item)?,
                    None => get(store, &tenant_of(user)?, &user.id)
                        .await?
                        .ok_or(AuthError::NotFound)?,
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AuthError::Internal(
        "lockout state kept changing while reserving an attempt".into(),
    ))
}

/// The reserved guess was wrong: the reservation stands as the failure. When it was the
/// one that filled the count, locks the account; returns until when, if this locked it.
pub async fn fail_attempt(
    store: &dyn Store,
    user: &User,
    reservation: &Reservation,
    now: i64,
) -> AuthResult<Option<i64>> {
    if reservation.count < MAX_FAILURES {
        return Ok(None);
    }
    let until = now + LOCK_SECS;
    let upd = Update::new(key_of(user)?).set("locked_until", until).when(
        Condition::item_present()
            .and(window_is(reservation.window_start))
            .and(unlocked_at(now)),
    );
    match store.update(upd).await {
        Ok(_) => Ok(Some(until)),
        // Counters cleared or a new window opened meanwhile: nothing left to lock.
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The reserved guess was right but the sign-in is not complete (a correct password of
/// an MFA account, a refused status): gives the attempt back, never below 0 and only in
/// the window it was counted in.
pub async fn release_attempt(
    store: &dyn Store,
    user: &User,
    reservation: &Reservation,
) -> AuthResult<()> {
    let upd = Update::new(key_of(user)?).add("failed_logins", -1).when(
        Condition::item_present()
            .and(Condition::gt("failed_logins", 0))
            .and(window_is(reservation.window_start)),
    );
    match store.update(upd).await {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Clears the lockout state (successful login, reset, admin unlock).
pub async fn clear_failures(store: &dyn Store, user: &User) -> AuthResult<User> {
    update(
        store,
        Update::new(key_of(user)?)
            .set("failed_logins", 0)
            .set("failure_window_start", 0)
            .set("locked_until", 0),
    )
    .await
}

/// A tenant's users in creation order, one page.
pub async fn list(
    store: &dyn Store,
    tenant: &TenantId,
    limit: u32,
    start: Option<shared::store::ResumeKey>,
) -> AuthResult<(Vec<User>, Option<shared::store::ResumeKey>)> {
    use shared::store::{Index, Query};
    let page = store
        .query(
            Query::partition(super::users_index(tenant))
                .on(Index::Gsi1)
                .limit(limit)
                .resume(start),
        )
        .await?;
    let users = page
        .items
        .iter()
        .map(from_item)
        .collect::<AuthResult<Vec<_>>>()?;
    Ok((users, page.next))
}
