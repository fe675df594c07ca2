//! auth-svc's state, built once per cold start (Lambda), by the local gateway, or by tests.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use lambda_http::{RequestExt as _, request::RequestContext};
use shared::{
    ApiError,
    auth::Claims,
    platform::{Platform, ServiceState},
    store::{Item, Key, Store},
    tenant::TenantId,
};

use crate::{
    config::AuthConfig,
    domain::PasswordHasher,
    repo::{
        self,
        sessions::{self, Session},
    },
    tokens::Issuer,
};

#[derive(Clone)]
pub struct AuthState {
    pub platform: Platform,
    pub store: Arc<dyn Store>,
    pub cfg: Arc<AuthConfig>,
    pub issuer: Arc<Issuer>,
    pub hasher: Arc<PasswordHasher>,
}

impl AuthState {
    pub fn new(svc: ServiceState, cfg: AuthConfig) -> Self {
        let p = &svc.platform;
        let issuer = Issuer::new(
            p.secrets.clone(),
            cfg.private_keys_secret_id.clone(),
            p.clock.clone(),
            p.config.jwt_issuer.clone(),
            p.config.jwt_audience.clone(),
            cfg.access_ttl_secs,
        );
        AuthState {
            platform: svc.platform,
            store: svc.store,
            cfg: Arc::new(cfg),
            issuer: Arc::new(issuer),
            hasher: Arc::new(PasswordHasher::owasp()),
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.platform.clock.now()
    }
    pub fn epoch(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// A caller whose token is valid AND whose session is still live. auth's own bearer
/// routes use it, so a logout or revocation takes effect at once here; the other
/// services accept a token until its `exp`.
pub struct LiveCaller {
    pub claims: Claims,
    pub session: Session,
}

/// How recent a sign-in must be to add a second factor (step-up).
pub const RECENT_SIGN_IN_SECS: i64 = 600;

impl LiveCaller {
    pub fn tenant(&self) -> TenantId {
        self.claims.home_tenant()
    }

    /// Adding a sign-in method (TOTP, a passkey) needs a session opened in the last 10
    /// minutes: a stolen access token from an older session must not let the thief add
    /// their own authenticator (403 REAUTHENTICATION_REQUIRED; sign in again).
    pub fn require_recent_sign_in(&self, now: i64) -> Result<(), ApiError> {
        if now - self.session.created_epoch <= RECENT_SIGN_IN_SECS {
            return Ok(());
        }
        Err(ApiError::new(
            http::StatusCode::FORBIDDEN,
            "REAUTHENTICATION_REQUIRED",
            "sign in again: changing sign-in methods needs a sign-in from the last 10 minutes",
        ))
    }
}

impl LiveCaller {
    /// The live-session check together with items the route reads anyway, in ONE batch
    /// read (BatchGetItem): a bearer GET that needs the caller's user and tenant costs
    /// one DynamoDB request instead of three. `extra`'s items come back in its order.
    /// 401 TOKEN_REVOKED when the session has ended, whatever else was found.
    pub async fn check_with<const N: usize>(
        claims: Claims,
        st: &AuthState,
        extra: [Key; N],
    ) -> Result<(LiveCaller, [Option<Item>; N]), ApiError> {
        Self::check(claims, st, extra, true).await
    }

    /// [`check_with`](Self::check_with) for the routes that end sessions (logout, logout
    /// everywhere, revoking one): they stay open to a suspended tenant's users, who may
    /// need to end a session they fear was stolen — a suspension revokes none.
    pub async fn check_ending<const N: usize>(
        claims: Claims,
        st: &AuthState,
        extra: [Key; N],
    ) -> Result<(LiveCaller, [Option<Item>; N]), ApiError> {
        Self::check(claims, st, extra, false).await
    }

    async fn check<const N: usize>(
        claims: Claims,
        st: &AuthState,
        extra: [Key; N],
        refuse_suspended: bool,
    ) -> Result<(LiveCaller, [Option<Item>; N]), ApiError> {
        let sid = claims
            .session_id
            .as_deref()
            .ok_or_else(ApiError::token_revoked)?;
        // The caller's own tenant too: a suspended tenant's users are refused on every
        // bearer route, not only where a route happens to read the tenant (a suspension
        // does not revoke their sessions one by one). get_each: a route may name it too.
        let mut keys = Vec::with_capacity(N + 2);
        keys.push(repo::session(&claims.home_tenant(), &claims.sub, sid));
        keys.push(repo::tenant(&claims.home_tenant()));
        keys.extend(extra);
        let mut items = shared::store::get_each(st.store(), &keys)
            .await?
            .into_iter();
        let session = items
            .next()
            .flatten()
            .map(|item| sessions::from_item(&item))
            .transpose()?
            .filter(|s| s.is_live(st.epoch()))
            .ok_or_else(ApiError::token_revoked)?;
        let home = items.next().flatten();
        if refuse_suspended
            && home
                .as_ref()
                .map(crate::repo::tenants::from_item)
                .transpose()?
                .is_some_and(|t| t.is_suspended())
        {
            return Err(crate::error::AuthError::TenantSuspended.into());
        }
        let rest = std::array::from_fn(|_| items.next().flatten());
        Ok((LiveCaller { claims, session }, rest))
    }
}

impl FromRequestParts<AuthState> for LiveCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AuthState) -> Result<Self, ApiError> {
        let claims = Claims::from_request_parts(parts, st).await?;
        Ok(LiveCaller::check_with(claims, st, []).await?.0)
    }
}

/// A [`LiveCaller`] for the routes that end the caller's sessions
/// ([`LiveCaller::check_ending`]: a suspended tenant does not stop them).
pub struct EndingCaller(pub LiveCaller);

impl FromRequestParts<AuthState> for EndingCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AuthState) -> Result<Self, ApiError> {
        let claims = Claims::from_request_parts(parts, st).await?;
        Ok(EndingCaller(
            LiveCaller::check_ending(claims, st, []).await?.0,
        ))
    }
}

/// Where a request came from: shown in the session list, and the client the per-source
/// limits count (failed sign-ins, link mails, foundings: `repo::source`).
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The address the request came from as the platform saw it: API Gateway's
/// `requestContext.http.sourceIp` in Lambda, the TCP peer behind eventzr-local (None for
/// a router called in-process). Never `X-Forwarded-For`: API Gateway appends the address
/// to whatever the client sent there, so its first entry is the client's to choose.
fn source_ip(parts: &Parts) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = parts.request_context_ref() {
        let ip = ctx.http.source_ip.as_deref()?;
        return ip.parse::<IpAddr>().ok().map(|ip| ip.to_string());
    }
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(peer.ip().to_string())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect::<String>())
        };
        Ok(ClientMeta {
            user_agent: header("user-agent"),
            ip: source_ip(parts),
        })
    }
}
