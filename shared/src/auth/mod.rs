//! Authentication for every route: the pipeline verifies a bearer token once per
//! request (when one is sent) and applies the `x-tenant-id` rule; handlers and guards
//! read the outcome through the [`Claims`] extractor. Absent token ≠ bad token: a
//! public route ignores a missing one, and `Option<Claims>` still rejects a bad one.

mod claims;
pub mod keys;
pub mod verify;

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts, Request, State},
    middleware::Next,
    response::Response,
};
use http::{HeaderMap, header, request::Parts};

pub use claims::{Claims, TokenClaims};
pub use verify::{KeySource, SecretKeys, StaticKeys, Verifier, VerifyError};

use crate::{context, error::ApiError, service::Service, tenant::TenantId};

/// Why authentication failed (kept in request extensions; cheap to clone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    Expired,
    Invalid,
    TenantMismatch,
    KeysUnavailable,
}

impl From<AuthFailure> for ApiError {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::Missing => ApiError::unauthorized("missing bearer token"),
            AuthFailure::Malformed => {
                ApiError::unauthorized("authorization header must be 'Bearer <token>'")
            }
            AuthFailure::Expired => ApiError::token_expired(),
            AuthFailure::Invalid => ApiError::token_invalid(),
            AuthFailure::TenantMismatch => {
                ApiError::forbidden("x-tenant-id does not match the token's tenant")
            }
            AuthFailure::KeysUnavailable => ApiError::unavailable("public key set unavailable"),
        }
    }
}

/// The outcome stored in request extensions.
#[derive(Debug, Clone)]
struct Authenticated(Result<Arc<Claims>, AuthFailure>);

/// Verifies bearer tokens for one service.
pub struct Authenticator {
    verifier: Arc<Verifier>,
    service: Service,
}

impl Authenticator {
    pub fn new(verifier: Arc<Verifier>, service: Service) -> Self {
        Authenticator { verifier, service }
    }

    /// `None` when the request carries no Authorization header.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Option<Result<Claims, AuthFailure>> {
        let value = headers.get(header::AUTHORIZATION)?;
        Some(self.check(value.to_str().ok(), headers).await)
    }

    async fn check(&self, value: Option<&str>, headers: &HeaderMap) -> Result<Claims, AuthFailure> {
        let value = value.ok_or(AuthFailure::Malformed)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthFailure::Malformed);
        }
        let mut claims = self
            .verifier
            .verify(token.trim())
            .await
            .map_err(|e| match e {
                VerifyError::Expired => AuthFailure::Expired,
                VerifyError::Invalid(why) => {
                    tracing::info!(reason = why, "token refused");
                    AuthFailure::Invalid
                }
                VerifyError::KeysUnavailable => AuthFailure::KeysUnavailable,
            })?;
        apply_tenant_header(&mut claims, headers, self.service.requires_tenant_header())?;
        Ok(claims)
    }
}

/// The `x-tenant-id` rule: when present it must equal the token's tenant, except for the
/// `system` role of the system tenant, which may act on the tenant it names on the routes
/// that allow it (`allow_cross_tenant`). Required on search.
fn apply_tenant_header(
    claims: &mut Claims,
    headers: &HeaderMap,
    required: bool,
) -> Result<(), AuthFailure> {
    let Some(raw) = headers.get("x-tenant-id") else {
        return if required {
            Err(AuthFailure::TenantMismatch)
        } else {
            Ok(())
        };
    };
    let named = raw
        .to_str()
        .ok()
        .and_then(|s| TenantId::parse(s).ok())
        .ok_or(AuthFailure::TenantMismatch)?;
    if named == claims.home_tenant() {
        Ok(())
    } else if claims.has_role(crate::access::Role::System) && claims.home_tenant().is_system() {
        // Recorded here; honoured only on routes that opt in (`allow_cross_tenant`).
        claims.act_on(named);
        Ok(())
    } else {
        Err(AuthFailure::TenantMismatch)
    }
}

/// Pipeline middleware: verify once, remember the outcome, record the tenant in the context.
pub(crate) async fn authenticate(
    State(auth): State<Arc<Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(outcome) = auth.authenticate(req.headers()).await {
        if let (Ok(c), Some(ctx)) = (&outcome, context::current()) {
            ctx.set_tenant(c.tenant());
        }
        req.extensions_mut()
            .insert(Authenticated(outcome.map(Arc::new)));
    }
    next.run(req).await
}

/// Marks a route on which a `system` caller may act on the tenant named by `x-tenant-id`
/// (API-CONVENTIONS: "cross-tenant, only where a route says so"). Everywhere else such a
/// request is refused with 403 before the handler runs.
#[derive(Debug, Clone, Copy)]
pub struct CrossTenant;

/// The opt-in, as a layer: `get(handler).layer(allow_cross_tenant())`.
pub fn allow_cross_tenant() -> axum::Extension<CrossTenant> {
    axum::Extension(CrossTenant)
}

/// The claims of a verified request, if this route lets them act where they ask to.
fn permitted(c: &Arc<Claims>, parts: &Parts) -> Result<Claims, ApiError> {
    if c.tenant() != c.home_tenant() && parts.extensions.get::<CrossTenant>().is_none() {
        // Refused: the request acted on no tenant but the caller's own, so `meta` and the
        // access log name that one, not the tenant the header asked for.
        if let Some(ctx) = context::current() {
            ctx.set_tenant(c.home_tenant());
        }
        return Err(AuthFailure::TenantMismatch.into());
    }
    Ok(Claims::clone(c))
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            None => Err(AuthFailure::Missing.into()),
            Some(Authenticated(Err(f))) => Err(f.clone().into()),
            Some(Authenticated(Ok(c))) => permitted(c, parts),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            None => Ok(None),
            Some(Authenticated(Err(f))) => Err(f.clone().into()),
            Some(Authenticated(Ok(c))) => permitted(c, parts).map(Some),
        }
    }
}

/// The verified claims of a request, for middleware (idempotency) that runs before extractors.
pub fn claims_of(extensions: &http::Extensions) -> Option<Arc<Claims>> {
    match extensions.get::<Authenticated>() {
        Some(Authenticated(Ok(c))) => Some(c.clone()),
        _ => None,
    }
}
