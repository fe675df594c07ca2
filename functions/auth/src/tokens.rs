//! Token issuance: RS256 access tokens signed with the active private key (loaded from
//! the private key secret on first use, re-read every 5 minutes so a rotation reaches
//! warm functions), opaque refresh tokens, and sealing of a just-issued pair so a
//! concurrent duplicate refresh can receive it inside the grace window.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{TokenClaims, keys::PrivateKeySet},
    clock::Clock,
    secrets::Secrets,
    tenant::TenantId,
};
use tokio::sync::RwLock;

use crate::{
    domain::User,
    error::{AuthError, AuthResult},
};

const KEYS_MAX_AGE: Duration = Duration::minutes(5);

/// What a successful login, verification or refresh returns.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// RS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use: `POST /auth/v1/refresh` answers a new pair.
    pub refresh_token: String,
    /// Seconds the access token lives (900).
    #[schema(example = 900)]
    pub expires_in: i64,
    #[schema(example = "Bearer")]
    pub token_type: String,
}

crate::redact::redacted_debug!(
    TokenPair { expires_in, token_type } secret { access_token, refresh_token }
);

struct Loaded {
    keys: Arc<PrivateKeySet>,
    at: DateTime<Utc>,
}

pub struct Issuer {
    secrets: Arc<dyn Secrets>,
    secret_id: String,
    clock: Arc<dyn Clock>,
    issuer: String,
    audience: String,
    access_ttl: i64,
    loaded: RwLock<Option<Loaded>>,
}

impl Issuer {
    pub fn new(
        secrets: Arc<dyn Secrets>,
        secret_id: String,
        clock: Arc<dyn Clock>,
        issuer: String,
        audience: String,
        access_ttl: i64,
    ) -> Self {
        Issuer {
            secrets,
            secret_id,
            clock,
            issuer,
            audience,
            access_ttl,
            loaded: RwLock::new(None),
        }
    }

    /// The private key set, read from its secret on first use and every 5 minutes.
    pub async fn keys(&self) -> AuthResult<Arc<PrivateKeySet>> {
        let now = self.clock.now();
        if let Some(l) = self.loaded.read().await.as_ref()
            && now - l.at < KEYS_MAX_AGE
        {
            return Ok(l.keys.clone());
        }
        let mut slot = self.loaded.write().await;
        if let Some(l) = slot.as_ref()
            && now - l.at < KEYS_MAX_AGE
        {
            return Ok(l.keys.clone());
        }
        let json = self
            .secrets
            .get(&self.secret_id)
            .await
            .map_err(|e| AuthError::Api(shared::ApiError::unavailable(e)))?;
        let keys =
            Arc::new(PrivateKeySet::parse(&json).map_err(|e| AuthError::Internal(e.to_string()))?);
        *slot = Some(Loaded {
            keys: keys.clone(),
            at: now,
        });
        Ok(keys)
    }

    /// A 900 s access token for `user` in session `session_id`.
    pub async fn access_token(
        &self,
        user: &User,
        plan: &str,
        session_id: &str,
    ) -> AuthResult<String> {
        let now = self.clock.epoch_seconds();
        let claims = TokenClaims {
            sub: user.id.clone(),
            tenant_id: user.tenant_id.clone(),
            email: user.email.clone(),
            roles: user.roles.clone(),
            plan_tier: plan.to_owned(),
            iat: now,
            exp: now + self.access_ttl,
            nbf: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: shared::ids::random_id().to_string(),
            sid: Some(session_id.to_owned()),
        };
        self.keys()
            .await?
            .active_key()
            .sign(&claims)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }

    pub fn access_ttl(&self) -> i64 {
        self.access_ttl
    }

    /// Seals a pair for the grace window (AES-256-GCM under a key derived from the
    /// active signing key, which only auth functions can read).
    pub async fn seal(&self, pair: &TokenPair) -> AuthResult<String> {
        let key = self.grace_key().await?;
        let nonce_bytes = shared::ids::random_bytes::<12>();
        let mut data = serde_json::to_vec(pair).map_err(|e| AuthError::Internal(e.to_string()))?;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::empty(),
            &mut data,
        )
        .map_err(|_| AuthError::Internal("seal".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        Ok(B64.encode(out))
    }

    /// The sealed pair, or None if it cannot be opened (e.g. sealed under an older key).
    pub async fn open(&self, sealed: &str) -> AuthResult<Option<TokenPair>> {
        let key = self.grace_key().await?;
        let Ok(raw) = B64.decode(sealed) else {
            return Ok(None);
        };
        if raw.len() < 12 {
            return Ok(None);
        }
        let (nonce, rest) = raw.split_at(12);
        let mut data = rest.to_vec();
        let Ok(nonce) = Nonce::try_assume_unique_for_key(nonce) else {
            return Ok(None);
        };
        let Ok(plain) = key.open_in_place(nonce, Aad::empty(), &mut data) else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(plain).ok())
    }

    async fn grace_key(&self) -> AuthResult<LessSafeKey> {
        let keys = self.keys().await?;
        let mut input = b"eventzr refresh grace v1".to_vec();
        input.extend_from_slice(keys.active_key().to_pkcs8_pem().as_bytes());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
        let unbound = UnboundKey::new(&AES_256_GCM, digest.as_ref())
            .map_err(|_| AuthError::Internal("grace key".into()))?;
        Ok(LessSafeKey::new(unbound))
    }
}

/// A refresh token: `<base64url(tenant|user|session)>.<256-bit secret>`. The prefix only
/// routes to the session item; the secret's SHA-256 is what the session stores.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub tenant: TenantId,
    pub user_id: String,
    pub session_id: String,
    pub secret: String,
}

crate::redact::redacted_debug!(RefreshToken { tenant, user_id, session_id } secret { secret });

impl RefreshToken {
    pub fn new(tenant: TenantId, user_id: &str, session_id: &str) -> Self {
        RefreshToken {
            tenant,
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            secret: shared::ids::random_token(),
        }
    }

    pub fn encode(&self) -> String {
        let route = format!("{}|{}|{}", self.tenant, self.user_id, self.session_id);
        format!("{}.{}", B64.encode(route), self.secret)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > 512 {
            return None;
        }
        let (route, secret) = raw.trim().split_once('.')?;
        let route = String::from_utf8(B64.decode(route).ok()?).ok()?;
        let mut parts = route.split('|');
        let (t, u, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || secret.len() != 43 {
            return None;
        }
        Some(RefreshToken {
            tenant: TenantId::parse(t).ok()?,
            user_id: u.to_owned(),
            session_id: s.to_owned(),
            secret: secret.to_owned(),
        })
    }

    pub fn hash(&self) -> String {
        shared::ids::sha256_hex(self.secret.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_round_trip_and_reject_garbage() {
        let t = RefreshToken::new(shared::testing::t1(), "u1", "s1");
        assert_eq!(RefreshToken::parse(&t.encode()), Some(t.clone()));
        for bad in [
            "",
            "x.y",
            "eyJhbGciOiJSUzI1NiIs...",
            &format!("{}x", t.encode()),
        ] {
            assert_eq!(RefreshToken::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_mis_shaped_key_secret_fails_without_quoting_it() {
        let tp = shared::testing::TestPlatform::new();
        let pem = tp.key.to_pkcs8_pem();
        // The PEM where the list belongs: serde's own message would quote it.
        let secret = serde_json::json!({"active": tp.key.kid(), "keys": pem}).to_string();
        tp.secrets
            .set(shared::testing::PRIVATE_KEYS_SECRET_ID, secret);
        let issuer = Issuer::new(
            tp.platform.secrets.clone(),
            shared::testing::PRIVATE_KEYS_SECRET_ID.into(),
            tp.platform.clock.clone(),
            "iss".into(),
            "aud".into(),
            900,
        );
        let text = issuer.keys().await.err().expect("refused").to_string();
        let body = pem.lines().nth(1).expect("a PEM body line");
        assert!(!text.contains(body), "{text}");
        assert!(!text.contains("BEGIN PRIVATE KEY"), "{text}");
        assert!(text.contains("private key set"), "{text}");
    }
}
