//! Stored passkeys (WebAuthn credentials): one item per credential under its user,
//! `T#<t>#USER#<u>` / `WEBAUTHN#<credId>`, plus a global `WEBAUTHN#<credId>` / `LOCK`
//! written in the same transaction, so a credential id is registered to one account
//! only (WebAuthn L3 §7.1 step 26: reject a credential id already registered).
//!
//! The `passkey` attribute is webauthn-rs's own serialisation of the credential (public
//! key, algorithm, flags); `counter` is the signature counter we compare and advance
//! with a conditional update — the authority for clone detection.

use serde::{Deserialize, Serialize};
use shared::{
    store::{
        CancelReason, Condition, Delete, Item, Key, Put, Query, SortKey, Store, StoreError,
        TransactOp, Update,
    },
    tenant::TenantId,
};

use crate::error::{AuthError, AuthResult};

pub const PREFIX: &str = "WEBAUTHN#";

/// Keys hold the SHA-256 of the credential id: ids may be up to 1023 bytes, past
/// DynamoDB's 1 KiB sort-key limit once encoded.
pub fn key(t: &TenantId, user_id: &str, credential_id: &str) -> Key {
    key_by_id(t, user_id, &passkey_id(credential_id))
}
/// A passkey's id in the API (`GET /webauthn/credentials`): the SHA-256 (hex) of its
/// credential id, 64 characters whatever the credential id's length.
pub fn passkey_id(credential_id: &str) -> String {
    shared::ids::sha256_hex(credential_id.as_bytes())
}
/// The key of the user's passkey `passkey_id`.
pub fn key_by_id(t: &TenantId, user_id: &str, passkey_id: &str) -> Key {
    Key::tenant(t, &["USER", user_id], format!("{PREFIX}{passkey_id}"))
}
/// The global lock that maps a credential id to its user (how a passkey sign-in finds it).
pub fn lock(credential_id: &str) -> Key {
    let id = shared::ids::sha256_hex(credential_id.as_bytes());
    Key::global(format!("{PREFIX}{id}"), "LOCK")
}
/// The HMAC key behind everything kept for unknown sign-in names — the decoy credential
/// ids shown for unknown emails, the keys of their failure counters (`lockout`): random
/// per table, created on first use, never leaves the table.
fn decoy_key() -> Key {
    Key::global("WEBAUTHN#DECOY", "KEY")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredCredential {
    /// base64url (no padding) of the raw credential id.
    pub credential_id: String,
    pub tenant_id: String,
    pub user_id: String,
    /// webauthn-rs `Passkey` as JSON: COSE public key, algorithm, backup flags.
    pub passkey: String,
    /// Last accepted signature counter (0 for authenticators without one).
    pub counter: i64,
    pub created_at: String,
    #[serde(default)]
    pub last_used_at: Option<String>,
}

pub fn from_item(item: &Item) -> AuthResult<StoredCredential> {
    item.to_record()
        .map_err(|e| AuthError::Internal(format!("webauthn credential record: {e}")))
}

pub async fn list(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
) -> AuthResult<Vec<StoredCredential>> {
    let page = store
        .query(
            // Consistent: a passkey registered a moment ago is offered at the next login.
            Query::partition(super::user_partition(t, user_id))
                .sk(SortKey::BeginsWith(PREFIX.into()))
                .consistent(),
        )
        .await?;
    page.items.iter().map(from_item).collect()
}

pub async fn get(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    credential_id: &str,
) -> AuthResult<Option<StoredCredential>> {
    match store.get(&key(t, user_id, credential_id)).await? {
        Some(item) => from_item(&item).map(Some),
        None => Ok(None),
    }
}

/// Removes a passkey and frees its credential id, in one transaction; false when it was
/// gone already (removed meanwhile).
pub async fn remove(store: &dyn Store, cred: &StoredCredential) -> AuthResult<bool> {
    let t = TenantId::parse(&cred.tenant_id).map_err(|e| AuthError::Internal(e.to_string()))?;
    let ops = vec![
        TransactOp::Delete(
            Delete::new(key(&t, &cred.user_id, &cred.credential_id))
                .when(Condition::item_present()),
        ),
        TransactOp::Delete(Delete::new(lock(&cred.credential_id))),
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.contains(&CancelReason::ConditionFailed) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores a new credential; WebauthnFailed when its id is already registered anywhere.
pub async fn create(store: &dyn Store, cred: &StoredCredential) -> AuthResult<()> {
    let t = TenantId::parse(&cred.tenant_id).map_err(|e| AuthError::Internal(e.to_string()))?;
    let item = Item::from_record(&key(&t, &cred.user_id, &cred.credential_id), cred)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let lock = Item::new(&lock(&cred.credential_id))
        .with("tenant_id", cred.tenant_id.as_str())
        .with("user_id", cred.user_id.as_str());
    let ops = vec![
        TransactOp::Put(Put::new(item).when(Condition::item_absent())),
        TransactOp::Put(Put::new(lock).when(Condition::item_absent())),
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.contains(&CancelReason::ConditionFailed) =>
        {
            Err(AuthError::WebauthnFailed)
        }
        Err(e) => Err(e.into()),
    }
}

/// Records a successful assertion. The counter only moves forward: with a non-zero
/// `counter` the update holds only while the stored one is lower, so two racing
/// assertions with one counter value cannot both pass; an authenticator that always
/// reports 0 is accepted only while the stored counter is 0 too. A failed condition is
/// WebauthnFailed (possible cloned authenticator).
pub async fn record_use(
    store: &dyn Store,
    cred: &StoredCredential,
    counter: u32,
    passkey: String,
    now: &str,
) -> AuthResult<()> {
    let t = TenantId::parse(&cred.tenant_id).map_err(|e| AuthError::Internal(e.to_string()))?;
    let counter = i64::from(counter);
    let advances = if counter > 0 {
        Condition::lt("counter", counter)
    } else {
        Condition::eq("counter", 0i64)
    };
    let update = Update::new(key(&t, &cred.user_id, &cred.credential_id))
        .set("counter", counter)
        .set("passkey", passkey)
        .set("last_used_at", now)
        .when(Condition::item_present().and(advances));
    match store.update(update).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_condition_failed() => Err(AuthError::WebauthnFailed),
        Err(e) => Err(e.into()),
    }
}

/// The decoy HMAC key (32 bytes), created once per table by a conditional put.
pub async fn decoy_hmac_key(store: &dyn Store) -> AuthResult<Vec<u8>> {
    let read = |item: &Item| item.get("key").and_then(|v| v.as_b()).map(<[u8]>::to_vec);
    if let Some(k) = store.get(&decoy_key()).await?.as_ref().and_then(read) {
        return Ok(k);
    }
    let fresh = shared::ids::random_bytes::<32>().to_vec();
    let put =
        Put::new(Item::new(&decoy_key()).with("key", fresh.clone())).when(Condition::item_absent());
    match store.put(put).await {
        Ok(()) => Ok(fresh),
        // Another request created it first: use theirs.
        Err(e) if e.is_condition_failed() => store
            .get(&decoy_key())
            .await?
            .as_ref()
            .and_then(read)
            .ok_or_else(|| AuthError::Internal("webauthn decoy key vanished".into())),
        Err(e) => Err(e.into()),
    }
}
