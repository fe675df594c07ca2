//! TODO(helper W)

use axum::Router;

use crate::state::NotifyState;

// Routes (listed in the parent module):
// ("GET", "/notify/v1/suppressions"),
// ("POST", "/notify/v1/suppressions"),
// ("DELETE", "/notify/v1/suppressions/{contact}"),
// ("POST", "/notify/v1/suppressions/check"),

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
