//! `GET /tenants/current`: the caller's tenant. A bearer route of auth itself, so the
//! session must still be live (a logged-out token gets 401 TOKEN_REVOKED here).

use axum::extract::State;
use shared::{ApiError, Envelope, auth::Claims, openapi::Data};

use crate::{
    repo::{
        self,
        tenants::{self, Tenant},
    },
    state::{AuthState, LiveCaller},
};

#[utoipa::path(
    get,
    path = "/auth/v1/tenants/current",
    operation_id = "get_current_tenant",
    tag = "session",
    summary = "The caller's tenant",
    description = "The tenant of the access token: id, name, plan, status and settings. A \
        `system` caller may name another tenant in `x-tenant-id` to read that one.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The tenant", body = Data<Tenant>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the tenant has no record"),
    )
)]
pub async fn current(
    State(st): State<AuthState>,
    claims: Claims,
) -> Result<Envelope<Tenant>, ApiError> {
    // Session and tenant in one batch read. `claims.tenant()`: a system caller naming a
    // tenant in x-tenant-id reads that one.
    let wanted = [repo::tenant(&claims.tenant())];
    let (_, [tenant]) = LiveCaller::check_with(claims, &st, wanted).await?;
    Ok(Envelope::ok(tenants::found(tenant.as_ref())?))
}
