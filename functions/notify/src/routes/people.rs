//! Route group `people`: a person's preferences (and the tenant's defaults), their push
//! devices, their in-app inbox, and the erasure of all of it. (One Lambda function in template.yaml.)

pub mod devices;
pub mod erase;
pub mod notifications;
pub mod preferences;

use axum::Router;

use crate::state::NotifyState;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notify/v1/preferences"),
    ("PUT", "/notify/v1/preferences"),
    ("DELETE", "/notify/v1/preferences"),
    ("GET", "/notify/v1/preferences/defaults"),
    ("PUT", "/notify/v1/preferences/defaults"),
    ("GET", "/notify/v1/devices"),
    ("POST", "/notify/v1/devices"),
    ("GET", "/notify/v1/devices/{deviceId}"),
    ("DELETE", "/notify/v1/devices/{deviceId}"),
    ("GET", "/notify/v1/notifications"),
    ("GET", "/notify/v1/notifications/unread-count"),
    ("POST", "/notify/v1/notifications/{notificationId}/read"),
    ("POST", "/notify/v1/notifications/read-all"),
    ("DELETE", "/notify/v1/users/{userId}"),
];

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    Router::new()
        .merge(preferences::router(st))
        .merge(devices::router(st))
        .merge(notifications::router(st))
        .merge(erase::router(st))
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = preferences::openapi();
    doc.merge(devices::openapi());
    doc.merge(notifications::openapi());
    doc.merge(erase::openapi());
    doc
}
