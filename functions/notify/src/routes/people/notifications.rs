//! TODO(helper P)

use axum::Router;

use crate::state::NotifyState;

// Routes (listed in the parent module):
// ("GET", "/notify/v1/notifications"),
// ("GET", "/notify/v1/notifications/unread-count"),
// ("POST", "/notify/v1/notifications/{notificationId}/read"),
// ("POST", "/notify/v1/notifications/read-all"),

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
