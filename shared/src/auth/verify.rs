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
/// fails, the cached set keeps serving: a Secrets Manager hiccup must not log everyone
/// out). Every read of the source — successful or not — is rate-limited, so an outage
/// never turns into one Secrets Manager call per request.
pub struct KeyCache {
    source: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    /// The keys and when they were fetched.
    keys: RwLock<(KeyMap, Option<DateTime<Utc>>)>,
    /// When the source was last read, and whether that read failed.
    last_fetch: tokio::sync::Mutex<Option<(DateTime<Utc>, bool)>>,
}

/// With no key set loaded at all (a cold start while Secrets Manager fails), the source
/// is retried this often: sooner than MIN_REFRESH, since nothing verifies until it works.
pub const RETRY_UNLOADED: Duration = Duration::seconds(5);

impl KeyCache {
    pub fn new(source: Arc<dyn KeySource>, clock: Arc<dyn Clock>) -> Self {
        KeyCache {
            source,
            clock,
            keys: RwLock::new((Arc::new(HashMap::new()), None)),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached key for `kid`, whether the cached set is younger than MAX_AGE, and
    /// whether any set was ever loaded.
    fn cached(&self, kid: &str) -> (Option<Arc<DecodingKey>>, bool, bool) {
        let guard = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let fresh = guard.1.is_some_and(|at| self.clock.now() - at < MAX_AGE);
        (guard.0.get(kid).cloned(), fresh, guard.1.is_some())
    }

    pub async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, KeyError> {
        if let (Some(k), true, _) = self.cached(kid) {
            return Ok(Some(k));
        }
        // One refresh at a time; whoever waited re-checks what the winner loaded.
        let mut last = self.last_fetch.lock().await;
        let (cached, fresh, loaded) = self.cached(kid);
        if let (Some(k), true) = (&cached, fresh) {
            return Ok(Some(k.clone()));
        }
        let now = self.clock.now();
        let wait = if loaded { MIN_REFRESH } else { RETRY_UNLOADED };
        if let Some((at, failed)) = *last
            && now - at < wait
        {
            // Read recently: answer from what is cached (a stale key keeps verifying,
            // an unknown kid stays unknown) rather than asking the source again.
            return match cached {
                Some(k) => Ok(Some(k)),
                None if loaded || !failed => Ok(None),
                None => Err(KeyError("the public key set could not be loaded".into())),
            };
        }
        let set = match self.source.fetch().await {
            Ok(set) => set,
            Err(e) => {
                *last = Some((now, true));
                if cached.is_some() {
                    tracing::warn!(error = %e, "could not re-read the public key set; serving the cached one");
                    return Ok(cached);
                }
                return Err(e);
            }
        };
        *last = Some((now, false));
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

/// Tokens whose signature was verified, by SHA-256 of the whole token, so a client
/// presenting the same token again (every request of its 15 minutes) skips the RSA
/// verification (~24 µs, most of a warm request's own cost). A hit still re-checks
/// everything that can change: `exp`/`nbf` against the clock, and that the token's key
/// is still in the published set (a key removed by a rotation stops verifying at once).
/// Bounded: at most [`VERIFIED_CACHE_SIZE`] entries, expired ones dropped first.
struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Verified>>,
}

/// A verified token's key id and claims.
type Verified = Arc<(String, TokenClaims)>;

/// Entries the verified-token cache holds per process (a warm Lambda serves far fewer
/// distinct live tokens; the bound is for a flood of distinct valid tokens).
pub const VERIFIED_CACHE_SIZE: usize = 4096;

impl VerifiedTokens {
    fn digest(token: &str) -> [u8; 32] {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
    fn get(&self, digest: &[u8; 32]) -> Option<Verified> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned()
    }
    fn insert(&self, digest: [u8; 32], kid: String, claims: TokenClaims, now: i64) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= VERIFIED_CACHE_SIZE {
            map.retain(|_, v| v.1.exp + LEEWAY_SECS >= now);
            if map.len() >= VERIFIED_CACHE_SIZE {
                map.clear();
            }
        }
        map.insert(digest, Arc::new((kid, claims)));
    }
}

/// Verifies access tokens for one issuer and audience.
pub struct Verifier {
    keys: KeyCache,
    clock: Arc<dyn Clock>,
    validation: Validation,
    verified: VerifiedTokens,
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
            verified: VerifiedTokens {
                entries: RwLock::new(HashMap::new()),
            },
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Invalid("token size"));
        }
        let digest = VerifiedTokens::digest(token);
        if let Some(hit) = self.verified.get(&digest) {
            let (kid, claims) = hit.as_ref();
            self.key_for(kid).await?;
            self.check_times(claims)?;
            return Claims::from_token(claims.clone()).map_err(|_| VerifyError::Invalid("claims"));
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
        // RFC 7515 4.1.11: a recipient that does not understand every extension `crit`
        // names must refuse the token. We understand none, and never sign one.
        if header.crit.is_some() {
            return Err(VerifyError::Invalid("crit"));
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty() && k.len() <= 128)
            .ok_or(VerifyError::Invalid("kid"))?;
        let key = self.key_for(kid).await?;
        let data = jsonwebtoken::decode::<TokenClaims>(token, &key, &self.validation)
            .map_err(|_| VerifyError::Invalid("signature or claims"))?;
        self.check_times(&data.claims)?;
        let claims =
            Claims::from_token(data.claims.clone()).map_err(|_| VerifyError::Invalid("claims"))?;
        self.verified.insert(
            digest,
            kid.to_owned(),
            data.claims,
            self.clock.epoch_seconds(),
        );
        Ok(claims)
    }

    /// The key `kid` names, if it is (still) in the published set.
    async fn key_for(&self, kid: &str) -> Result<Arc<DecodingKey>, VerifyError> {
        self.keys
            .key(kid)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "public key set unavailable");
                VerifyError::KeysUnavailable
            })?
            .ok_or(VerifyError::Invalid("unknown kid"))
    }

    fn check_times(&self, claims: &TokenClaims) -> Result<(), VerifyError> {
        let now = self.clock.epoch_seconds();
        if now > claims.exp + LEEWAY_SECS {
            return Err(VerifyError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(VerifyError::Invalid("not yet valid"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::{auth::keys::SigningKey, clock::ManualClock};

    /// A key source that counts its reads and fails while `down` is set.
    struct Flaky {
        set: Jwks,
        reads: AtomicUsize,
        down: AtomicBool,
    }

    #[async_trait]
    impl KeySource for Flaky {
        async fn fetch(&self) -> Result<Jwks, KeyError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(KeyError("secrets manager is down".into()));
            }
            Ok(self.set.clone())
        }
    }

    fn cache(down: bool) -> (KeyCache, Arc<Flaky>, ManualClock, String) {
        let key = SigningKey::generate("k1").unwrap();
        let source = Arc::new(Flaky {
            set: Jwks {
                keys: vec![key.public_jwk().clone()],
            },
            reads: AtomicUsize::new(0),
            down: AtomicBool::new(down),
        });
        let clock = ManualClock::starting_now();
        let cache = KeyCache::new(source.clone(), Arc::new(clock.clone()));
        (cache, source, clock, key.kid().to_owned())
    }

    #[tokio::test]
    async fn a_stale_set_with_the_source_down_is_re_read_at_most_once_a_minute() {
        let (cache, source, clock, kid) = cache(false);
        assert!(cache.key(&kid).await.unwrap().is_some());
        source.down.store(true, Ordering::SeqCst);
        clock.advance(MAX_AGE + Duration::seconds(1));
        for _ in 0..50 {
            assert!(cache.key(&kid).await.unwrap().is_some(), "stale key serves");
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 2, "one failed re-read");
        clock.advance(MIN_REFRESH);
        assert!(cache.key(&kid).await.unwrap().is_some());
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            3,
            "next try a minute later"
        );
        source.down.store(false, Ordering::SeqCst);
        clock.advance(MIN_REFRESH);
        assert!(cache.key(&kid).await.unwrap().is_some());
        assert!(cache.key(&kid).await.unwrap().is_some());
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            4,
            "fresh again after it works"
        );
    }

    #[tokio::test]
    async fn a_cold_start_with_the_source_down_retries_every_few_seconds_not_per_request() {
        let (cache, source, clock, kid) = cache(true);
        for _ in 0..20 {
            assert!(cache.key(&kid).await.is_err(), "unavailable, not unknown");
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        source.down.store(false, Ordering::SeqCst);
        assert!(
            cache.key(&kid).await.is_err(),
            "still within the retry pause"
        );
        clock.advance(RETRY_UNLOADED);
        assert!(cache.key(&kid).await.unwrap().is_some());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }

    fn verifier_for(source: Arc<Flaky>, clock: &ManualClock) -> Verifier {
        Verifier::new(source, Arc::new(clock.clone()), "iss", "aud")
    }

    fn token(key: &SigningKey, clock: &ManualClock, exp_in: i64) -> String {
        let now = clock.epoch_seconds();
        key.sign(&TokenClaims {
            sub: "u1".into(),
            tenant_id: "a0000001-0000-0000-0000-000000000001".into(),
            email: "u@x.io".into(),
            roles: vec!["user".into()],
            plan_tier: "PRO".into(),
            iat: now,
            exp: now + exp_in,
            nbf: None,
            iss: "iss".into(),
            aud: "aud".into(),
            jti: "j".into(),
            sid: None,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_cached_token_still_expires_and_still_needs_its_key_in_the_set() {
        let key = SigningKey::generate("k1").unwrap();
        let source = Arc::new(Flaky {
            set: Jwks {
                keys: vec![key.public_jwk().clone()],
            },
            reads: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let clock = ManualClock::starting_now();
        let v = verifier_for(source.clone(), &clock);
        let t = token(&key, &clock, 60);
        assert_eq!(v.verify(&t).await.unwrap().sub, "u1");
        assert_eq!(v.verify(&t).await.unwrap().sub, "u1", "from the cache");
        // A tampered copy is not the cached token.
        let mut forged = t.clone();
        forged.pop();
        forged.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(v.verify(&forged).await.is_err());
        clock.advance(Duration::seconds(60 + LEEWAY_SECS + 1));
        assert_eq!(v.verify(&t).await.unwrap_err(), VerifyError::Expired);

        // A key dropped from the published set stops its cached tokens too.
        let clock = ManualClock::starting_now();
        let rotating = Arc::new(Flaky {
            set: Jwks {
                keys: vec![key.public_jwk().clone()],
            },
            reads: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let v = verifier_for(rotating.clone(), &clock);
        let t = token(&key, &clock, 3600);
        assert!(v.verify(&t).await.is_ok());
        let other = SigningKey::generate("k2").unwrap();
        let rotated = Arc::new(Flaky {
            set: Jwks {
                keys: vec![other.public_jwk().clone()],
            },
            reads: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        // Same verifier state, new source contents: swap by rebuilding the cache's view.
        let v2 = Verifier {
            keys: KeyCache::new(rotated, Arc::new(clock.clone())),
            clock: Arc::new(clock.clone()),
            validation: v.validation.clone(),
            verified: VerifiedTokens {
                entries: RwLock::new(v.verified.entries.read().unwrap().clone()),
            },
        };
        assert_eq!(
            v2.verify(&t).await.unwrap_err(),
            VerifyError::Invalid("unknown kid")
        );
    }

    #[tokio::test]
    async fn unknown_kids_do_not_re_read_the_source_more_than_once_a_minute() {
        let (cache, source, clock, kid) = cache(false);
        assert!(cache.key(&kid).await.unwrap().is_some());
        for i in 0..30 {
            assert!(cache.key(&format!("unknown-{i}")).await.unwrap().is_none());
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 1, "loaded just now");
        clock.advance(MIN_REFRESH);
        assert!(cache.key("unknown").await.unwrap().is_none());
        assert!(cache.key("unknown").await.unwrap().is_none());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }
}
