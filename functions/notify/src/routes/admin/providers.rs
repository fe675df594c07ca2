//! TODO(helper C): GET /admin/providers

use axum::Router;

use crate::state::NotifyState;

// Routes (listed in the parent module):

// ("GET", "/notify/v1/admin/providers"),

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
