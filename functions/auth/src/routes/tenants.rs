//! `GET /tenants/current`: the caller's tenant.

use axum::extract::State;
use shared::{ApiError, Envelope, auth::Claims};

use crate::{
    error::AuthError,
    repo::tenants::{self, Tenant},
    state::AuthState,
};

pub async fn current(
    State(st): State<AuthState>,
    caller: Claims,
) -> Result<Envelope<Tenant>, ApiError> {
    let tenant = tenants::get(st.store(), &caller.tenant())
        .await?
        .ok_or(AuthError::NotFound)?;
    Ok(Envelope::ok(tenant))
}
