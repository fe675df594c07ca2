//! TODO(me)

use axum::Router;

use crate::state::NotifyState;

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/notify/v1/send"),
    ("POST", "/notify/v1/send/test"),
];

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
