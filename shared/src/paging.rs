//! Cursor paging (API-CONVENTIONS.md "Pagination"): `?limit=` (1-100, default 20) and
//! `?cursor=`. A cursor is `base64url(nonce ‖ AES-256-GCM-SIV(payload))`: opaque (the
//! table keys it resumes from, which may hold ids and address digests, cannot be read
//! from it), and bound — as associated data — to the tenant, the caller and a hash of
//! the query, with a 24 h expiry inside, so it can be neither forged nor replayed against
//! another tenant, caller or query. GCM-SIV because the nonces are random: a repeated
//! one would not give the key away.

use std::{collections::BTreeMap, sync::Arc};

use aws_lc_rs::{aead, hmac};
use axum::extract::FromRequestParts;
use base64::Engine as _;
use http::request::Parts;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::{
    auth::Claims, clock::Clock, envelope::Page, error::ApiError, ids::sha256_hex,
    query::QueryParams, secrets::Secrets, store::ResumeKey, tenant::TenantId,
};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
pub const CURSOR_TTL_SECS: i64 = 24 * 3600;
const MAX_CURSOR_LEN: usize = 4096;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `?limit=&cursor=` of a list route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParams {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_uri(&parts.uri);
        PageParams::parse(q.get("limit")?, q.get("cursor")?.map(str::to_owned))
    }
}

impl PageParams {
    pub fn parse(limit: Option<&str>, cursor: Option<String>) -> Result<Self, ApiError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::field("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
                })?,
        };
        Ok(PageParams {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        })
    }
}

/// What a cursor is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorScope {
    pub tenant: TenantId,
    pub caller: String,
    /// The route plus every filter of the query, in a stable form.
    pub query: String,
}

impl CursorScope {
    pub fn new(claims: &Claims, query: impl Into<String>) -> Self {
        CursorScope {
            tenant: claims.tenant(),
            caller: claims.sub.clone(),
            query: query.into(),
        }
    }
}

/// What a cursor holds: its expiry and the key to resume from.
#[derive(Serialize, Deserialize)]
struct Payload {
    x: i64,
    k: BTreeMap<String, String>,
}

impl CursorScope {
    /// The associated data a cursor is sealed with.
    fn bound(&self) -> Vec<u8> {
        format!(
            "eventzr cursor v2\n{}\n{}\n{}",
            self.tenant,
            self.caller,
            sha256_hex(self.query.as_bytes())
        )
        .into_bytes()
    }
}

const NONCE_LEN: usize = aead::NONCE_LEN;

/// The stage key's two uses: MACs (fingerprints) and sealing cursors, with a key derived
/// from it (HMAC as the PRF, one label per use).
struct Keys {
    mac: hmac::Key,
    seal: aead::LessSafeKey,
}

enum KeySource {
    Secret {
        secrets: Arc<dyn Secrets>,
        id: String,
    },
    Fixed(Vec<u8>),
}

/// Issues and checks cursors. The HMAC key loads on first use.
pub struct Cursors {
    source: KeySource,
    keys: OnceCell<Keys>,
    clock: Arc<dyn Clock>,
}

impl Cursors {
    pub fn from_secret(secrets: Arc<dyn Secrets>, id: String, clock: Arc<dyn Clock>) -> Self {
        Cursors {
            source: KeySource::Secret { secrets, id },
            keys: OnceCell::new(),
            clock,
        }
    }
    pub fn with_key(key: &[u8], clock: Arc<dyn Clock>) -> Self {
        Cursors {
            source: KeySource::Fixed(key.to_vec()),
            keys: OnceCell::new(),
            clock,
        }
    }

    async fn keys(&self) -> Result<&Keys, ApiError> {
        self.keys
            .get_or_try_init(|| async {
                let bytes = match &self.source {
                    KeySource::Fixed(k) => k.clone(),
                    KeySource::Secret { secrets, id } => secrets
                        .get(id)
                        .await
                        .map_err(ApiError::unavailable)?
                        .into_bytes(),
                };
                if bytes.len() < 16 {
                    return Err(ApiError::internal("cursor key shorter than 16 bytes"));
                }
                let mac = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
                let derived = hmac::sign(&mac, b"eventzr cursor sealing key v1");
                let seal = aead::UnboundKey::new(&aead::AES_256_GCM_SIV, derived.as_ref())
                    .map_err(|_| ApiError::internal("cursor sealing key"))?;
                Ok(Keys {
                    mac,
                    seal: aead::LessSafeKey::new(seal),
                })
            })
            .await
    }

    pub async fn encode(
        &self,
        scope: &CursorScope,
        resume: &ResumeKey,
    ) -> Result<String, ApiError> {
        let payload = Payload {
            x: self.clock.epoch_seconds() + CURSOR_TTL_SECS,
            k: resume.0.clone(),
        };
        let mut sealed = serde_json::to_vec(&payload).map_err(ApiError::internal)?;
        let nonce = crate::ids::random_bytes::<NONCE_LEN>();
        self.keys()
            .await?
            .seal
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(scope.bound()),
                &mut sealed,
            )
            .map_err(|_| ApiError::internal("cursor sealing failed"))?;
        let mut cursor = nonce.to_vec();
        cursor.extend_from_slice(&sealed);
        Ok(B64.encode(cursor))
    }

    /// The resume key of a cursor issued for exactly this scope, else 400 INVALID_CURSOR.
    pub async fn decode(&self, scope: &CursorScope, cursor: &str) -> Result<ResumeKey, ApiError> {
        let keys = self.keys().await?;
        let invalid = ApiError::invalid_cursor;
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let bytes = B64.decode(cursor).map_err(|_| invalid())?;
        if bytes.len() < NONCE_LEN {
            return Err(invalid());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
        let mut sealed = sealed.to_vec();
        // The tag is checked (in constant time) before anything of the payload is read;
        // another tenant, caller or query is another associated data: it fails here too.
        let plain = keys
            .seal
            .open_in_place(nonce, aead::Aad::from(scope.bound()), &mut sealed)
            .map_err(|_| invalid())?;
        let payload: Payload = serde_json::from_slice(plain).map_err(|_| invalid())?;
        if payload.x <= self.clock.epoch_seconds() {
            return Err(invalid());
        }
        Ok(ResumeKey(payload.k))
    }

    /// The decoded cursor of `params`, if it has one.
    pub async fn resume(
        &self,
        scope: &CursorScope,
        params: &PageParams,
    ) -> Result<Option<ResumeKey>, ApiError> {
        match &params.cursor {
            Some(c) => self.decode(scope, c).await.map(Some),
            None => Ok(None),
        }
    }

    /// HMAC-SHA256 of `data` under the stage key, hex. Also keys idempotency fingerprints,
    /// so a stored fingerprint of a body holding a password cannot be brute-forced from
    /// the table alone.
    pub async fn mac_hex(&self, data: &[u8]) -> Result<String, ApiError> {
        let tag = hmac::sign(&self.keys().await?.mac, data);
        Ok(tag.as_ref().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The envelope's `page` for a result that stopped at `next`.
    pub async fn page(
        &self,
        scope: &CursorScope,
        limit: u32,
        next: Option<&ResumeKey>,
    ) -> Result<Page, ApiError> {
        let next_cursor = match next {
            Some(k) => Some(self.encode(scope, k).await?),
            None => None,
        };
        Ok(Page {
            has_more: next_cursor.is_some(),
            next_cursor,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn scope(tenant: &str, caller: &str, query: &str) -> CursorScope {
        CursorScope {
            tenant: TenantId::parse(tenant).unwrap(),
            caller: caller.into(),
            query: query.into(),
        }
    }
    const T1: &str = "a0000001-0000-0000-0000-000000000001";
    const T3: &str = "a0000003-0000-0000-0000-000000000003";

    fn resume() -> ResumeKey {
        ResumeKey(BTreeMap::from([
            ("pk".into(), format!("T#{T1}#USER")),
            ("sk".into(), "u5".into()),
        ]))
    }

    #[tokio::test]
    async fn a_cursor_round_trips_within_its_scope() {
        let c = Cursors::with_key(
            b"0123456789abcdef0123",
            Arc::new(ManualClock::starting_now()),
        );
        let s = scope(T1, "u1", "GET /auth/v1/users?role=admin");
        let cur = c.encode(&s, &resume()).await.unwrap();
        assert_eq!(c.decode(&s, &cur).await.unwrap(), resume());
    }

    #[tokio::test]
    async fn cursors_for_another_tenant_caller_or_query_are_invalid() {
        let c = Cursors::with_key(
            b"0123456789abcdef0123",
            Arc::new(ManualClock::starting_now()),
        );
        let cur = c.encode(&scope(T1, "u1", "q"), &resume()).await.unwrap();
        for other in [
            scope(T3, "u1", "q"),
            scope(T1, "u2", "q"),
            scope(T1, "u1", "q2"),
        ] {
            assert_eq!(
                c.decode(&other, &cur).await.unwrap_err().name,
                "INVALID_CURSOR"
            );
        }
    }

    #[tokio::test]
    async fn tampered_and_expired_cursors_are_invalid() {
        let clock = ManualClock::starting_now();
        let c = Cursors::with_key(b"0123456789abcdef0123", Arc::new(clock.clone()));
        let s = scope(T1, "u1", "q");
        let cur = c.encode(&s, &resume()).await.unwrap();
        // Any bit changed, anywhere (nonce, payload, tag), or a cursor cut short.
        let bytes = B64.decode(&cur).unwrap();
        for at in [0, NONCE_LEN, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1;
            assert!(c.decode(&s, &B64.encode(&flipped)).await.is_err(), "{at}");
        }
        let short = B64.encode(&bytes[..bytes.len() - 1]);
        assert!(c.decode(&s, &short).await.is_err());
        assert!(c.decode(&s, &B64.encode(&bytes[..5])).await.is_err());
        assert!(c.decode(&s, "").await.is_err());
        assert!(c.decode(&s, "garbage").await.is_err());
        assert!(c.decode(&s, &"a".repeat(5000)).await.is_err());
        clock.advance(chrono::Duration::hours(24));
        assert!(c.decode(&s, &cur).await.is_err());
    }

    #[tokio::test]
    async fn a_cursor_is_opaque_and_never_the_same_twice() {
        let c = Cursors::with_key(
            b"0123456789abcdef0123",
            Arc::new(ManualClock::starting_now()),
        );
        let s = scope(T1, "u1", "q");
        let (a, b) = (
            c.encode(&s, &resume()).await.unwrap(),
            c.encode(&s, &resume()).await.unwrap(),
        );
        assert_ne!(a, b, "a fresh nonce each time");
        // Neither the keys it resumes from nor what it is bound to can be read from it.
        let bytes = B64.decode(&a).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [T1, "USER", "u5", "u1"] {
            assert!(!text.contains(secret), "{secret} readable in the cursor");
            assert!(
                !a.contains(&B64.encode(secret)),
                "{secret} readable in base64"
            );
        }
        assert_eq!(c.decode(&s, &b).await.unwrap(), resume());
    }

    #[tokio::test]
    async fn a_cursor_from_another_key_is_invalid() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
        let a = Cursors::with_key(b"0123456789abcdef0123", clock.clone());
        let b = Cursors::with_key(b"another-key-0123456789", clock);
        let s = scope(T1, "u1", "q");
        let cur = a.encode(&s, &resume()).await.unwrap();
        assert!(b.decode(&s, &cur).await.is_err());
    }

    #[test]
    fn limits_default_to_20_and_stay_within_1_to_100() {
        assert_eq!(PageParams::parse(None, None).unwrap().limit, 20);
        assert_eq!(PageParams::parse(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            let e = PageParams::parse(Some(bad), None).unwrap_err();
            assert_eq!(e.details.unwrap()["fields"][0]["field"], "limit");
        }
    }
}
