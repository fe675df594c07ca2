//! `GET /tenants/current`: the caller's tenant. A bearer route of auth itself, so the
//! session must still be live (a logged-out token gets 401 TOKEN_REVOKED here).

use axum::extract::State;
use shared::{ApiError, Envelope};

use crate::{
    error::AuthError,
    repo::tenants::{self, Tenant},
    state::{AuthState, LiveCaller},
};

pub async fn current(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<Tenant>, ApiError> {
    // `claims.tenant()`: a system caller naming a tenant in x-tenant-id reads that one.
    let tenant = tenants::get(st.store(), &caller.claims.tenant())
        .await?
        .ok_or(AuthError::NotFound)?;
    Ok(Envelope::ok(tenant))
}
