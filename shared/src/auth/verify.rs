//! RS256 access-token verification against a key set loaded from a [`KeySource`].
//!
//! Rules (API-CONVENTIONS.md "JWT", RFC 8725): RS256 only; `typ` at+jwt; `kid` required
//! and resolved only in our key set (`jku`/`x5u`/`jwk` headers are ignored); `iss` and
//! `aud` required and checked; `exp`/`nbf` against the injected clock with 30 s leeway.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{
    claims::{Claims, TokenClaims},
    keys::{Jwks, KeyError},
};
use crate::{clock::Clock, secrets::Secrets};

/// Tokens above this size are refused before any parsing (8 KiB: ours are < 2 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// `exp`/`nbf` tolerance for clock skew.
pub const LEEWAY_SECS: i64 = 30;
/// An unknown `kid` refreshes the key set at most this often.
pub const MIN_REFRESH: Duration = Duration::seconds(60);
/// A known key is re-checked against the published set this often, so a key removed
/// after a rotation stops verifying on warm functions too.
pub const MAX_AGE: Duration = Duration::minutes(10);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    Expired,
    Invalid(&'static str),
    /// The key set could not be loaded (503, not the caller's fault).
    KeysUnavailable,
}

/// Where the public key set comes from.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    async fn fetch(&self) -> Result<Jwks, KeyError>;
}

/// A fixed key set (tests).
pub struct StaticKeys(pub Jwks);

#[async_trait]
impl KeySource for StaticKeys {
    async fn fetch(&self) -> Result<Jwks, KeyError> {
        Ok(self.0.clone())
    }
}

/// The public key set stored as a secret (Secrets Manager in AWS, a local secret otherwise).
pub struct SecretKeys {
    pub secrets: Arc<dyn Secrets>,
    pub secret_id: String,
}

#[async_trait]
impl KeySource for SecretKeys {
    async fn fetch(&self) -> Result<Jwks, KeyError> {
        let json = self
            .secrets
            .get(&self.secret_id)
            .await
            .map_err(|e| KeyError(e.to_string()))?;
        Jwks::parse(&json)
    }
}

type KeyMap = Arc<HashMap<String, Arc<DecodingKey>>>;

/// Keys by kid, loaded on first use (not at init), refreshed on an unknown kid at most
/// once per [`MIN_REFRESH`], and re-read when older than [`MAX_AGE`] (if that re-read
/// fails, the cached set keeps serving: a Secrets Manager hiccup must not log everyone out).
pub struct KeyCache {
    source: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    /// The keys and when they were fetched.
    keys: RwLock<(KeyMap, Option<DateTime<Utc>>)>,
    last_fetch: tokio::sync::Mutex<Option<DateTime<Utc>>>,
}

impl KeyCache {
    pub fn new(source: Arc<dyn KeySource>, clock: Arc<dyn Clock>) -> Self {
        KeyCache {
            source,
            clock,
            keys: RwLock::new((Arc::new(HashMap::new()), None)),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached key for `kid`, and whether the cached set is younger than MAX_AGE.
    fn cached(&self, kid: &str) -> (Option<Arc<DecodingKey>>, bool) {
        let guard = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let fresh = guard.1.is_some_and(|at| self.clock.now() - at < MAX_AGE);
        (guard.0.get(kid).cloned(), fresh)
    }

    pub async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, KeyError> {
        if let (Some(k), true) = self.cached(kid) {
            return Ok(Some(k));
        }
        // One refresh at a time; whoever waited re-checks what the winner loaded.
        let mut last = self.last_fetch.lock().await;
        let (cached, fresh) = self.cached(kid);
        if let (Some(k), true) = (&cached, fresh) {
            return Ok(Some(k.clone()));
        }
        let now = self.clock.now();
        if cached.is_none() && last.is_some_and(|t| now - t < MIN_REFRESH) {
            return Ok(None);
        }
        let set = match self.source.fetch().await {
            Ok(set) => set,
            Err(e) if cached.is_some() => {
                tracing::warn!(error = %e, "could not re-read the public key set; serving the cached one");
                *last = Some(now);
                return Ok(cached);
            }
            Err(e) => return Err(e),
        };
        *last = Some(now);
        let map: HashMap<_, _> = set
            .decoding_keys()
            .into_iter()
            .map(|(kid, k)| (kid, Arc::new(k)))
            .collect();
        tracing::info!(keys = map.len(), "loaded the public key set");
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(map), Some(now));
        Ok(self.cached(kid).0)
    }
}

/// Verifies access tokens for one issuer and audience.
pub struct Verifier {
    keys: KeyCache,
    clock: Arc<dyn Clock>,
    validation: Validation,
}

impl Verifier {
    pub fn new(
        source: Arc<dyn KeySource>,
        clock: Arc<dyn Clock>,
        issuer: &str,
        audience: &str,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // exp/nbf are checked below against the injected clock, not the system time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Verifier {
            keys: KeyCache::new(source, clock.clone()),
            clock,
            validation,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Invalid("token size"));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("header"))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Invalid("alg"));
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(VerifyError::Invalid("typ"));
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty() && k.len() <= 128)
            .ok_or(VerifyError::Invalid("kid"))?;
        let key = self
            .keys
            .key(kid)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "public key set unavailable");
                VerifyError::KeysUnavailable
            })?
            .ok_or(VerifyError::Invalid("unknown kid"))?;
        let data = jsonwebtoken::decode::<TokenClaims>(token, &key, &self.validation)
            .map_err(|_| VerifyError::Invalid("signature or claims"))?;
        let now = self.clock.epoch_seconds();
        if now > data.claims.exp + LEEWAY_SECS {
            return Err(VerifyError::Expired);
        }
        if data.claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(VerifyError::Invalid("not yet valid"));
        }
        Claims::from_token(data.claims).map_err(|_| VerifyError::Invalid("claims"))
    }
}
