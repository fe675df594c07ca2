//! Route group `deliveries`: every delivery and its timeline, cancel, erase, metrics.
//! (One Lambda function in template.yaml.)

pub mod metrics;

use axum::Router;

use crate::state::NotifyState;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notify/v1/deliveries"),
    ("GET", "/notify/v1/deliveries/{deliveryId}"),
    ("POST", "/notify/v1/deliveries/{deliveryId}/cancel"),
    ("DELETE", "/notify/v1/deliveries/{deliveryId}"),
    ("GET", "/notify/v1/metrics"),
];

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    Router::new().merge(metrics::router(st))
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    metrics::openapi()
}
