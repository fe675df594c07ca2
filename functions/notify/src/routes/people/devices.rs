//! TODO(helper P)

use axum::Router;

use crate::state::NotifyState;

// Routes (listed in the parent module):
// ("POST", "/notify/v1/devices"),
// ("DELETE", "/notify/v1/devices/{deviceId}"),

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
