//! Data access of tenant administration: filtered pages of users and of tenants, the
//! per-tenant roster guard behind the last-admin rule, tenant updates.
//!
//! Last admin: every role or status change of a tenant's users commits in one
//! transaction with a bump of the tenant's roster item (`T#<t>#ADMINS` / `ROSTER`),
//! conditional on the version read before deciding. Two admins demoting each other at
//! once therefore cannot both commit: the second one's version is stale, it re-reads,
//! sees it would remove the last admin, and gets 409 LAST_ADMIN. Rejected alternative:
//! an active-admin counter item — every writer of users (signup, invites, seeding) would
//! have to keep it exact, and one missed path would lock a tenant out for good.

use shared::{
    store::{
        CancelReason, Condition, Delete, Item, Key, Query, ResumeKey, Store, StoreError,
        TransactOp, Update,
    },
    tenant::TenantId,
    tenant_status::Inactive,
};

use crate::{
    domain::{User, UserStatus},
    error::{AuthError, AuthResult},
    repo::{
        tenants::{self, Tenant},
        users,
    },
};

fn roster(t: &TenantId) -> Key {
    Key::tenant(t, &["ADMINS"], "ROSTER")
}

pub fn is_active_admin(u: &User) -> bool {
    u.status == UserStatus::Active && u.has_role("admin")
}

/// Records a filtered page reads at most before it ends (short, with a cursor).
pub const MAX_SCANNED: usize = 1_000;

/// Up to `limit` users of the tenant that `keep` accepts, in creation order, and where
/// the next page starts ([`filtered_page`] of the tenant's users index).
pub async fn list_users(
    store: &dyn Store,
    t: &TenantId,
    limit: u32,
    start: Option<ResumeKey>,
    filtered: bool,
    keep: impl Fn(&User) -> bool,
) -> AuthResult<(Vec<User>, Option<ResumeKey>)> {
    let query = users::index(t);
    filtered_page(store, query, limit, start, filtered, users::from_item, keep).await
}

/// Up to `limit` tenants that `keep` accepts, in id order, and where the next page
/// starts ([`filtered_page`] of the tenants index).
pub async fn list_tenants(
    store: &dyn Store,
    limit: u32,
    start: Option<ResumeKey>,
    filtered: bool,
    keep: impl Fn(&Tenant) -> bool,
) -> AuthResult<(Vec<Tenant>, Option<ResumeKey>)> {
    let query = tenants::all();
    filtered_page(
        store,
        query,
        limit,
        start,
        filtered,
        tenants::from_item,
        keep,
    )
    .await
}

/// Up to `limit` records of `query`'s partition (read as `record`) that `keep` accepts,
/// in the partition's order from `start`, and where the next page starts. DynamoDB
/// applies `Limit` before any filter, so a `filtered` page reads on until it is full, the
/// partition ends or it has read [`MAX_SCANNED`] records.
async fn filtered_page<T>(
    store: &dyn Store,
    query: Query,
    limit: u32,
    mut start: Option<ResumeKey>,
    filtered: bool,
    record: fn(&Item) -> AuthResult<T>,
    keep: impl Fn(&T) -> bool,
) -> AuthResult<(Vec<T>, Option<ResumeKey>)> {
    // Unfiltered, one more than the page tells exactly whether more follow; filtered,
    // wide batches keep the round trips few.
    let batch = if filtered { 100 } else { limit + 1 };
    // Where a page ending after an item resumes: its table key plus its index key
    // (DynamoDB takes any key of the index as the ExclusiveStartKey, so a page may stop
    // in the middle of a batch).
    let after = |item: &Item| ResumeKey::after(item, query.index);
    let (mut out, mut last, mut scanned) = (Vec::new(), None, 0usize);
    loop {
        let page = store
            .query(query.clone().limit(batch).resume(start))
            .await?;
        for item in &page.items {
            let found = record(item)?;
            scanned += 1;
            if !keep(&found) {
                if scanned >= MAX_SCANNED {
                    // A rare filter over a large partition: a short page and a cursor,
                    // not one request reading the whole partition.
                    return Ok((out, Some(after(item))));
                }
                continue;
            }
            if out.len() == limit as usize {
                // A further match exists: the page ends after the last one kept.
                return Ok((out, last));
            }
            out.push(found);
            last = Some(after(item));
        }
        match page.next {
            Some(n) => start = Some(n),
            None => return Ok((out, None)),
        }
    }
}

/// The roster's version (0 before the first change).
pub async fn roster_version(store: &dyn Store, t: &TenantId) -> AuthResult<i64> {
    Ok(store
        .get(&roster(t))
        .await?
        .and_then(|i| i.get_i64("version"))
        .unwrap_or(0))
}

/// Commits a role/status change of one user (`change` on its key), with `standing` (the
/// account's published record, [`super::account_standing`], when its status changes), if
/// no other change of the tenant's users committed since version `seen` was read.
/// `Ok(false)`: one did (or the transaction met a concurrent one); re-read and decide again.
pub async fn change_user(
    store: &dyn Store,
    t: &TenantId,
    change: Update,
    standing: Option<TransactOp>,
    seen: i64,
) -> AuthResult<bool> {
    let change = TransactOp::Update(change.when(Condition::item_present()));
    guarded(store, t, change, standing.into_iter().collect(), seen).await
}

/// Deletes `user`'s item, while its email and username are as read, and `locks` (the
/// items naming it: each goes only while it still names the user, or is absent), and
/// publishes the account as deleted, under the roster guard, as [`change_user`] commits. `Ok(false)`: something moved (the
/// roster, the user): read again and decide again.
pub async fn delete_user(
    store: &dyn Store,
    t: &TenantId,
    user: &User,
    locks: Vec<Key>,
    seen: i64,
) -> AuthResult<bool> {
    // As read: a username changed meanwhile would leave its new lock naming nobody.
    let username = match &user.username {
        Some(u) => Condition::eq("username", u.as_str()),
        None => Condition::not_exists("username"),
    };
    let as_read = Condition::item_present()
        .and(Condition::eq("email", user.email.as_str()))
        .and(username);
    let delete = TransactOp::Delete(Delete::new(users::key_of(user)?).when(as_read));
    let names_user = || Condition::item_absent().or(Condition::eq("user_id", user.id.as_str()));
    let mut more: Vec<TransactOp> = locks
        .into_iter()
        .map(|k| TransactOp::Delete(Delete::new(k).when(names_user())))
        .collect();
    // Other services stop addressing the account (notify: push and in-app messages).
    more.push(super::account_standing(
        t,
        &user.id,
        Some(Inactive::Deleted),
    ));
    match guarded(store, t, delete, more, seen).await {
        // Gone, or its email or username changed: read again and decide again.
        Err(AuthError::NotFound) => Ok(false),
        other => other,
    }
}

/// `first` (on a user item, which must exist: else NotFound), the roster's bump from
/// `seen`, and `more`, in one transaction. `Ok(false)`: the roster moved (re-decide).
async fn guarded(
    store: &dyn Store,
    t: &TenantId,
    first: TransactOp,
    more: Vec<TransactOp>,
    seen: i64,
) -> AuthResult<bool> {
    let unchanged = if seen == 0 {
        Condition::not_exists("version")
    } else {
        Condition::eq("version", seen)
    };
    let mut ops = vec![
        first,
        TransactOp::Update(
            Update::new(roster(t))
                .set("version", seen + 1)
                .when(unchanged),
        ),
    ];
    ops.extend(more);
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled { reasons }) => {
            let failed = |i: usize| reasons.get(i) == Some(&CancelReason::ConditionFailed);
            if failed(0) {
                Err(AuthError::NotFound)
            } else if reasons
                .iter()
                .skip(2)
                .any(|r| *r == CancelReason::ConditionFailed)
            {
                // A lock naming another account: the table disagrees with itself.
                Err(AuthError::Internal(
                    "a lock of the user names another account".into(),
                ))
            } else {
                Ok(false)
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the tenant keeps an active admin besides `except`. Candidates come from the
/// users index (eventually consistent); each is confirmed by a strong read, so a stale
/// index can only refuse a change wrongly, never leave a tenant without an admin.
pub async fn has_other_active_admin(
    store: &dyn Store,
    t: &TenantId,
    except: &str,
) -> AuthResult<bool> {
    let mut start = None;
    loop {
        let (page, next) = users::list(store, t, 100, start).await?;
        for candidate in page.iter().filter(|u| u.id != except && is_active_admin(u)) {
            let current = users::get(store, t, &candidate.id).await?;
            if current.as_ref().is_some_and(is_active_admin) {
                return Ok(true);
            }
        }
        match next {
            Some(n) => start = Some(n),
            None => return Ok(false),
        }
    }
}

/// What a system caller may change on a tenant (canonical values).
#[derive(Debug, Default)]
pub struct TenantChange {
    pub name: Option<String>,
    pub plan_tier: Option<&'static str>,
    pub status: Option<&'static str>,
    pub strict_sessions: Option<bool>,
}

/// Applies `change` to an existing tenant; NotFound when there is none.
pub async fn update_tenant(
    store: &dyn Store,
    id: &TenantId,
    change: &TenantChange,
) -> AuthResult<Tenant> {
    // Attribute names are the record's serde names (camelCase), as `tenants::create` stores
    // them. The index attributes are set again: a record written before the tenants index
    // existed joins it here (no extra request).
    let mut upd = Update::new(super::tenant(id));
    for (name, value) in tenants::index_attrs(id) {
        upd = upd.set(name, value);
    }
    if let Some(n) = &change.name {
        upd = upd.set("name", n.as_str());
    }
    if let Some(p) = change.plan_tier {
        upd = upd.set("planTier", p);
    }
    if let Some(s) = change.status {
        upd = upd.set("status", s);
    }
    if let Some(strict) = change.strict_sessions {
        upd = upd.set("strictSessions", strict);
    }
    let item = store
        .update(upd.when(Condition::item_present()))
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AuthError::NotFound,
            e => e.into(),
        })?;
    item.to_record()
        .map_err(|e| AuthError::Internal(format!("tenant record: {e}")))
}
