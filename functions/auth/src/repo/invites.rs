//! A tenant's pending invites: one record per invited address
//! (`T#<tenant>#INVITE` / `<address digest>`), naming the newest invite token. Invite
//! tokens themselves are one-time tokens ([`super::one_time`]) valid for 7 days; the
//! record decides which of them still counts:
//! - inviting the address again replaces the record, so only the newest link works (a
//!   wrong role is corrected by re-inviting, not by waiting for the first to expire);
//! - revoking leaves a tombstone until the record's expiry, which every earlier token
//!   of the address has reached by then;
//! - the signup that accepts an invite deletes the record in the transaction that
//!   creates the user, on condition that it still names that token: a revoke or a
//!   re-invite racing the signup wins or loses whole;
//! - a token that records its sender (`invitedBy`) needs its record; tokens issued
//!   before records existed have neither, and count while no record (or tombstone)
//!   says otherwise.

use serde::{Deserialize, Serialize};
use shared::{
    store::{
        Condition, Delete, Item, Key, Put, Query, ResumeKey, Store, StoreError, TransactOp, Update,
        Value, query_page,
    },
    tenant::TenantId,
};

use crate::{
    domain::Email,
    error::{AuthError, AuthResult},
};

/// An address as counters and records key it: hashed, never in clear.
pub fn address_digest(email: &str) -> String {
    let mut digest = shared::ids::sha256_hex(email.as_bytes());
    digest.truncate(32);
    digest
}

/// Who sent an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitedBy {
    pub tenant: String,
    pub user: String,
}

impl InvitedBy {
    /// As an invite token's data holds it (`invitedBy`); None for earlier tokens.
    pub fn of(data: &serde_json::Value) -> Option<InvitedBy> {
        serde_json::from_value(data.get("invitedBy")?.clone()).ok()
    }
}

/// The newest invite to one address of the tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub email: String,
    pub roles: Vec<String>,
    pub invited_by: InvitedBy,
    /// RFC 3339.
    pub created_at: String,
    /// Epoch seconds; also the item's TTL.
    #[serde(rename = "expires_at")]
    pub expires_at: i64,
    /// The SHA-256 of the invite's token.
    token_digest: String,
    /// Revoked: no token of the address counts until the record expires.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    revoked: bool,
}

impl Pending {
    /// When it expires, RFC 3339.
    pub fn expires(&self) -> String {
        let at = chrono::DateTime::from_timestamp(self.expires_at, 0).unwrap_or_default();
        shared::clock::rfc3339_millis(at)
    }

    pub fn new(
        email: &Email,
        roles: Vec<String>,
        invited_by: InvitedBy,
        created_at: String,
        expires_at: i64,
        token: &str,
    ) -> Self {
        Pending {
            email: email.as_ref().to_owned(),
            roles,
            invited_by,
            created_at,
            expires_at,
            token_digest: token_digest(token),
            revoked: false,
        }
    }
}

const PARTITION: &str = "INVITE";

/// The record of tenant `t`'s invite to `email`.
pub fn key(t: &TenantId, email: &Email) -> Key {
    Key::tenant(t, &[PARTITION], address_digest(email.as_ref()))
}

/// Records `pending` (to `email`) as the address's invite, replacing an earlier one.
pub async fn put(
    store: &dyn Store,
    t: &TenantId,
    email: &Email,
    pending: &Pending,
) -> AuthResult<()> {
    let item = Item::from_record(&key(t, email), pending)
        .map_err(|e| AuthError::Internal(format!("invite record: {e}")))?;
    store.put(Put::new(item)).await?;
    Ok(())
}

/// Whether `token` is the invite that counts for its address, given the record as read
/// (`record`) and whether the token names its sender.
pub fn counts(record: Option<&Item>, token: &str, names_sender: bool) -> bool {
    match record {
        Some(r) => {
            r.get(REVOKED).is_none() && r.get_s(DIGEST) == Some(token_digest(token).as_str())
        }
        None => !names_sender,
    }
}

/// The action that accepts `token` inside the transaction creating the invitee: deletes
/// the record that names it (`recorded`), or checks that none has appeared since it was
/// read (a token from before records). Fails, and so cancels the signup, if a revoke or
/// a re-invite landed meanwhile.
pub fn acceptance(t: &TenantId, email: &Email, token: &str, recorded: bool) -> TransactOp {
    let key = key(t, email);
    if recorded {
        TransactOp::Delete(
            Delete::new(key).when(
                Condition::eq(DIGEST, Value::s(token_digest(token)))
                    .and(Condition::not_exists(REVOKED)),
            ),
        )
    } else {
        TransactOp::Check {
            key,
            condition: Condition::item_absent(),
        }
    }
}

/// Revokes the tenant's pending invite to `email`: its record becomes a tombstone until
/// it expires. None when there was no pending invite (none, accepted, revoked, expired).
pub async fn revoke(
    store: &dyn Store,
    t: &TenantId,
    email: &Email,
    now: i64,
) -> AuthResult<Option<Pending>> {
    let tombstone = Update::new(key(t, email))
        .set(REVOKED, true)
        .when(Condition::item_present().and(Condition::not_exists(REVOKED)));
    match store.update(tombstone).await {
        Ok(item) if !item.is_expired(now) => from_item(&item).map(Some),
        Ok(_) => Ok(None),
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Revokes every pending invite of the tenant that `sender` sent (they stopped being an
/// admin, or their account was deleted): acceptance would refuse them anyway, and the
/// pending list would show them as if they worked. A record re-sent by someone else
/// meanwhile (its token changed) is left alone. How many were revoked.
pub async fn revoke_sent_by(
    store: &dyn Store,
    t: &TenantId,
    sender: &str,
    now: i64,
) -> AuthResult<usize> {
    let all = Query::partition(shared::store::tenant_pk(t, &[PARTITION])).consistent();
    let mut revoked = 0;
    for item in shared::store::query_all(store, all).await? {
        if item.is_expired(now) {
            continue;
        }
        let pending = from_item(&item)?;
        if pending.revoked || pending.invited_by.user != sender {
            continue;
        }
        let Some(key) = item.key() else { continue };
        let tombstone = Update::new(key).set(REVOKED, true).when(
            Condition::not_exists(REVOKED)
                .and(Condition::eq(DIGEST, pending.token_digest.as_str())),
        );
        match store.update(tombstone).await {
            Ok(_) => revoked += 1,
            Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(revoked)
}

/// One page of the tenant's pending invites (in address-digest order, which reveals
/// nothing); expired ones are left out, so a page may hold fewer than `limit`.
pub async fn page(
    store: &dyn Store,
    t: &TenantId,
    limit: u32,
    start: Option<ResumeKey>,
    now: i64,
) -> AuthResult<(Vec<Pending>, Option<ResumeKey>)> {
    let found = query_page(
        store,
        Query::partition(shared::store::tenant_pk(t, &[PARTITION]))
            .resume(start)
            .consistent(),
        limit,
    )
    .await?;
    let pending = found
        .items
        .iter()
        .filter(|item| !item.is_expired(now) && item.get(REVOKED).is_none())
        .map(from_item)
        .collect::<AuthResult<Vec<_>>>()?;
    Ok((pending, found.next))
}

fn from_item(item: &Item) -> AuthResult<Pending> {
    item.to_record()
        .map_err(|e| AuthError::Internal(format!("invite record: {e}")))
}

const DIGEST: &str = "tokenDigest";
/// Set on a revoked record (the serialized `Pending::revoked`).
const REVOKED: &str = "revoked";

fn token_digest(token: &str) -> String {
    shared::ids::sha256_hex(token.trim().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_counts_when_it_is_the_recorded_one_or_predates_records() {
        let t = TenantId::parse("a0000001-0000-0000-0000-000000000001").unwrap();
        let email = Email::parse("ann@example.com").unwrap();
        let by = InvitedBy {
            tenant: t.to_string(),
            user: "u1".into(),
        };
        let pending = Pending::new(&email, vec!["user".into()], by, "now".into(), 9, "tok-2");
        let record = Item::from_record(&key(&t, &email), &pending).unwrap();
        assert!(counts(Some(&record), "tok-2", true));
        assert!(!counts(Some(&record), "tok-1", true), "replaced");
        assert!(
            !counts(Some(&record), "tok-1", false),
            "replaced, however old"
        );
        assert!(!counts(None, "tok-2", true), "accepted");
        assert!(counts(None, "tok-0", false), "issued before records");
        let tombstone = record.clone().with(REVOKED, true);
        assert!(!counts(Some(&tombstone), "tok-2", true), "revoked");
        assert!(
            !counts(Some(&tombstone), "tok-0", false),
            "revoked, however old"
        );
        let back = from_item(&record).unwrap();
        assert_eq!(
            (back.email.as_str(), back.expires_at),
            ("ann@example.com", 9)
        );
    }
}
