//! Route group `admin`: tenant administration (users: list, read, roles/status, unlock,
//! MFA reset, deletion, invite; pending invites) and tenants (system role). (One Lambda function in template.yaml.)
//!
//! Every route needs a live session (auth's own bearer routes see a revocation at once)
//! and a role: `admin` for users, `system` for tenants. Users are addressed under the
//! caller's acting tenant (`Claims::tenant`: its own, or for `system` the one named by
//! `x-tenant-id` — these routes opt in with `allow_cross_tenant`), so another tenant's
//! user id is simply not found.

pub mod invite;
pub mod tenants;
pub mod users;

use std::{marker::PhantomData, ops::Deref};

use axum::{
    Router,
    extract::FromRequestParts,
    routing::{delete, get, post},
};
use http::request::Parts;
use shared::{
    ApiError,
    access::{Role, RoleRequirement, roles},
    auth::{Claims, allow_cross_tenant},
    envelope::Page,
    paging::{CursorScope, PageParams},
    store::{Item, Key, ResumeKey},
    tenant::TenantId,
};

use crate::{
    error::AuthResult,
    state::{AuthState, LiveCaller},
};

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/auth/v1/users"),
    ("POST", "/auth/v1/users/invite"),
    ("GET", "/auth/v1/users/invites"),
    ("DELETE", "/auth/v1/users/invites"),
    ("GET", "/auth/v1/users/{userId}"),
    ("PATCH", "/auth/v1/users/{userId}"),
    ("DELETE", "/auth/v1/users/{userId}"),
    ("POST", "/auth/v1/users/{userId}/unlock"),
    ("DELETE", "/auth/v1/users/{userId}/mfa"),
    ("GET", "/auth/v1/tenants"),
    ("POST", "/auth/v1/tenants"),
    ("GET", "/auth/v1/tenants/{tenantId}"),
    ("PATCH", "/auth/v1/tenants/{tenantId}"),
];

/// The group's routes; the mutating ones honour `Idempotency-Key` (the layer lets GETs through).
pub fn router(st: &AuthState) -> Router<AuthState> {
    // A system caller administers another tenant's users by naming it in x-tenant-id.
    let users = Router::new()
        .route("/auth/v1/users", get(users::list))
        .route("/auth/v1/users/invite", post(invite::invite))
        .route(
            "/auth/v1/users/invites",
            get(invite::list).delete(invite::revoke),
        )
        .route(
            "/auth/v1/users/{userId}",
            get(users::get).patch(users::patch).delete(users::delete),
        )
        .route("/auth/v1/users/{userId}/unlock", post(users::unlock))
        .route("/auth/v1/users/{userId}/mfa", delete(users::reset_mfa))
        .route_layer(allow_cross_tenant());
    super::idempotent(
        Router::new()
            .merge(users)
            .route("/auth/v1/tenants", get(tenants::list).post(tenants::create))
            .route(
                "/auth/v1/tenants/{tenantId}",
                get(tenants::get).patch(tenants::patch),
            ),
        st,
    )
}

/// A caller with a live session holding at least role `R` (401, else 403 FORBIDDEN).
pub struct Live<R> {
    pub caller: LiveCaller,
    role: PhantomData<R>,
}

pub type AdminCaller = Live<roles::Admin>;
pub type SystemCaller = Live<roles::System>;

impl<R> Live<R> {
    /// The tenant the request acts on; every key of the request is built from it.
    pub fn tenant(&self) -> TenantId {
        self.caller.claims.tenant()
    }
    pub fn id(&self) -> &str {
        &self.caller.claims.sub
    }
}

impl<R> Deref for Live<R> {
    type Target = LiveCaller;
    fn deref(&self) -> &LiveCaller {
        &self.caller
    }
}

impl<R: RoleRequirement> Live<R> {
    /// [`LiveCaller::check_with`] (the session and the route's own reads in one batch
    /// read), then the role: 401 before 403, as the extractor answers. `system` counts
    /// only in a token of the platform tenant: held in an ordinary tenant it crosses
    /// nothing (DESIGN-NOTES "x-tenant-id"), so it opens no platform route either.
    pub async fn check_with<const N: usize>(
        claims: Claims,
        st: &AuthState,
        extra: [Key; N],
    ) -> Result<(Self, [Option<Item>; N]), ApiError> {
        let (caller, items) = LiveCaller::check_with(claims, st, extra).await?;
        caller.claims.require_role(R::ROLE)?;
        if R::ROLE == Role::System && !caller.claims.home_tenant().is_system() {
            return Err(ApiError::forbidden(
                "requires the system role of the platform tenant",
            ));
        }
        let live = Live {
            caller,
            role: PhantomData,
        };
        Ok((live, items))
    }
}

impl<R: RoleRequirement> FromRequestParts<AuthState> for Live<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AuthState) -> Result<Self, ApiError> {
        let claims = Claims::from_request_parts(parts, st).await?;
        Ok(Self::check_with(claims, st, []).await?.0)
    }
}

/// One cursor page of a list (`GET /users`, `GET /tenants`): `read` from where `page`'s
/// cursor, issued under `scope`, resumes (400 INVALID_CURSOR for one issued under another
/// scope, tampered or expired), and the envelope's `page` sealing where it stopped.
async fn cursor_page<T, F>(
    st: &AuthState,
    scope: &CursorScope,
    page: &PageParams,
    read: impl FnOnce(Option<ResumeKey>) -> F,
) -> Result<(Vec<T>, Page), ApiError>
where
    F: Future<Output = AuthResult<(Vec<T>, Option<ResumeKey>)>>,
{
    let start = st.platform.cursors.resume(scope, page).await?;
    let (found, next) = read(start).await?;
    let page = st
        .platform
        .cursors
        .page(scope, page.limit, next.as_ref())
        .await?;
    Ok((found, page))
}
