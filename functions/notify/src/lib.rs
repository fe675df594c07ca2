//! notify-svc — one tenant's notifications over email, SMS, push and an in-app inbox,
//! respecting preferences, suppressions, quiet hours, caps and quotas, and tracking every
//! delivery to its final state. Routes and rules: ../shared/design/notify-svc.md.

pub mod channels;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod openapi;
pub mod repo;
pub mod routes;
pub mod sending;
pub mod state;
pub mod webhook;

use axum::Router;
use shared::service::Service;

pub use config::NotifyConfig;
pub use state::NotifyState;

pub const SERVICE: Service = Service::Notify;

/// Every (METHOD, path) this service serves, in API Gateway's `{param}` syntax, by
/// route group (one Lambda function each in template.yaml, `ROUTE_GROUP`). The drift
/// test holds it equal to template.yaml, events/ and what `router()` answers.
pub const ROUTE_GROUPS: &[(&str, &[(&str, &str)])] = &[
    (
        shared::route_groups::HEALTH,
        &[
            ("GET", "/notify/v1/health"),
            ("GET", "/notify/v1/openapi.json"),
            ("GET", "/notify/v1/docs"),
            ("GET", "/notify/v1/docs/scalar.js"),
        ],
    ),
    ("send", routes::send::ROUTES),
    ("deliveries", routes::deliveries::ROUTES),
    ("templates", routes::templates::ROUTES),
    ("people", routes::people::ROUTES),
    ("admin", routes::admin::ROUTES),
    ("webhooks", routes::webhooks::ROUTES),
    ("jobs", routes::jobs::ROUTES),
];

/// This service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::document()
}

/// Every route of notify-svc behind the shared pipeline (local gateway and tests).
pub fn router(state: NotifyState) -> Router {
    group_router(state, None)
}

/// The routes of one route group (None: every group) behind the shared pipeline: what
/// the Lambda function of that group serves (`shared::route_groups`).
pub fn group_router(state: NotifyState, only: Option<&str>) -> Router {
    use routes::*;
    use shared::route_groups::{self, HEALTH};
    let mut routes = route_groups::merge(
        only,
        &state,
        &[
            ("send", send::router),
            ("deliveries", deliveries::router),
            ("templates", templates::router),
            ("people", people::router),
            ("admin", admin::router),
            ("webhooks", webhooks::router),
            ("jobs", jobs::router),
        ],
    )
    .with_state(state.clone());
    if route_groups::serves(only, HEALTH) {
        routes = routes.merge(shared::openapi::health_group(
            SERVICE,
            state.store.clone(),
            openapi::document,
            &state.platform,
        ));
    }
    shared::http::finish(routes, SERVICE, &state.platform, ROUTE_GROUPS)
}
