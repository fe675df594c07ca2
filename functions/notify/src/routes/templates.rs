//! TODO(helper T)

use axum::Router;

use crate::state::NotifyState;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notify/v1/templates"),
    ("POST", "/notify/v1/templates"),
    ("GET", "/notify/v1/templates/{templateId}"),
    ("PUT", "/notify/v1/templates/{templateId}"),
    ("DELETE", "/notify/v1/templates/{templateId}"),
    ("POST", "/notify/v1/templates/{templateId}/preview"),
];

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
