//! TODO(helper W)

use axum::Router;

use crate::state::NotifyState;

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/notify/v1/webhooks/ses"),
    ("POST", "/notify/v1/webhooks/{provider}"),
];

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
