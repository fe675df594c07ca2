//! Sessions (`T#<t>#USER#<u>` / `SESSION#<id>`): one per login, holding its refresh
//! token family. Rotation is a conditional update on the current token's hash, so two
//! concurrent refreshes cannot both rotate.

use serde::{Deserialize, Serialize};
use shared::{
    store::{Condition, Delete, Item, Put, SortKey, Store, StoreError, Update, Value, attr},
    tenant::TenantId,
};

use crate::{
    domain::User,
    error::{AuthError, AuthResult},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub created_at: String,
    pub created_epoch: i64,
    pub last_used_at: String,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    /// SHA-256 of the current refresh token, and of the one it replaced.
    pub rt_hash: String,
    #[serde(default)]
    pub rt_prev_hash: Option<String>,
    /// Hashes of the tokens retired before `rt_prev_hash`, newest first, at most
    /// [`RETIRED_KEPT`]: presenting one is reuse (revoke the family), whereas a secret
    /// never issued is only invalid — so knowing a session id is not enough to end it.
    #[serde(default)]
    pub rt_retired: Vec<String>,
    #[serde(default)]
    pub rotated_at: i64,
    /// The pair issued by the last rotation, sealed, for the grace window.
    #[serde(default)]
    pub grace_pair: Option<String>,
    /// 7 days after login, whatever the rotations.
    pub absolute_expiry: i64,
    #[serde(default)]
    pub revoked: bool,
}

impl Session {
    pub fn is_live(&self, now: i64) -> bool {
        !self.revoked && now < self.absolute_expiry
    }
    fn tenant(&self) -> AuthResult<TenantId> {
        TenantId::parse(&self.tenant_id).map_err(|e| AuthError::Internal(e.to_string()))
    }
}

pub fn from_item(item: &Item) -> AuthResult<Session> {
    item.to_record()
        .map_err(|e| AuthError::Internal(format!("session record: {e}")))
}

pub async fn get(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    id: &str,
) -> AuthResult<Option<Session>> {
    match store.get(&super::session(t, user_id, id)).await? {
        Some(item) => from_item(&item).map(Some),
        None => Ok(None),
    }
}

pub async fn put_new(store: &dyn Store, s: &Session) -> AuthResult<()> {
    let key = super::session(&s.tenant()?, &s.user_id, &s.id);
    let item = Item::from_record(&key, s)
        .map_err(|e| AuthError::Internal(e.to_string()))?
        .with(attr::EXPIRES_AT, s.absolute_expiry);
    store
        .put(Put::new(item).when(Condition::item_absent()))
        .await?;
    Ok(())
}

/// Every session of a user still on record (live or not), oldest first.
pub async fn list(store: &dyn Store, t: &TenantId, user_id: &str) -> AuthResult<Vec<Session>> {
    let sessions = SortKey::BeginsWith(super::SESSION_PREFIX.into());
    let items = super::user_items(store, t, user_id, Some(sessions)).await?;
    let mut out = items
        .iter()
        .map(from_item)
        .collect::<AuthResult<Vec<_>>>()?;
    out.sort_by_key(|s| s.created_epoch);
    Ok(out)
}

/// The user's record and every session on record (oldest first), in one strongly
/// consistent query of the user's partition: the profile (`PROFILE`) sorts just before
/// the sessions (`SESSION#…`), and nothing else of the partition sorts between them.
pub async fn with_user(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
) -> AuthResult<(Option<User>, Vec<Session>)> {
    // `$` follows `#`: the range ends after the last `SESSION#…`.
    let range = SortKey::Between(super::PROFILE_SORT.into(), "SESSION$".into());
    let mut user = None;
    let mut out = Vec::new();
    for item in super::user_items(store, t, user_id, Some(range)).await? {
        match item.key() {
            Some(k) if k.sk == super::PROFILE_SORT => user = Some(super::users::from_item(&item)?),
            Some(k) if k.sk.starts_with(super::SESSION_PREFIX) => out.push(from_item(&item)?),
            _ => {}
        }
    }
    out.sort_by_key(|s| s.created_epoch);
    Ok((user, out))
}

/// How many retired token hashes a session remembers beyond the previous one (at a
/// refresh every 15 minutes, 8 hours of use). An older token is refused as invalid.
pub const RETIRED_KEPT: usize = 32;

/// Rotates the refresh token if `old_hash` is still current. `Ok(false)`: someone else
/// rotated first.
pub async fn rotate(
    store: &dyn Store,
    s: &Session,
    old_hash: &str,
    new_hash: &str,
    sealed_pair: &str,
    now: i64,
    now_text: &str,
) -> AuthResult<bool> {
    let key = super::session(&s.tenant()?, &s.user_id, &s.id);
    // `s` is what the condition below pins (rt_hash unchanged means no rotation since it
    // was read), so its history is the current one.
    let retired: Vec<Value> = s
        .rt_prev_hash
        .iter()
        .chain(&s.rt_retired)
        .take(RETIRED_KEPT)
        .map(|h| Value::S(h.clone()))
        .collect();
    let upd = Update::new(key)
        .set("rt_retired", Value::L(retired))
        .set("rt_prev_hash", old_hash)
        .set("rt_hash", new_hash)
        .set("rotated_at", now)
        .set("grace_pair", sealed_pair)
        .set("last_used_at", now_text)
        .when(
            Condition::eq("rt_hash", old_hash)
                .and(Condition::eq("revoked", false))
                .and(Condition::item_present()),
        );
    match store.update(upd).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Revokes a session (and so its refresh family). Idempotent.
pub async fn revoke(store: &dyn Store, t: &TenantId, user_id: &str, id: &str) -> AuthResult<bool> {
    let upd = Update::new(super::session(t, user_id, id))
        .set("revoked", true)
        .remove("grace_pair")
        .when(Condition::item_present());
    match store.update(upd).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Revokes every live session of the user but `keep`; how many it revoked.
pub async fn revoke_live(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> AuthResult<usize> {
    let mut revoked = 0;
    for s in list(store, t, user_id).await? {
        if s.is_live(now) && Some(s.id.as_str()) != keep {
            revoke(store, t, user_id, &s.id).await?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// Removes a session record (eviction past the session limit).
pub async fn delete(store: &dyn Store, t: &TenantId, user_id: &str, id: &str) -> AuthResult<()> {
    store
        .delete(Delete::new(super::session(t, user_id, id)))
        .await?;
    Ok(())
}
