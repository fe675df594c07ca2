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
        "health",
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

/// Every route of notify-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: NotifyState) -> Router {
    use routes::*;
    let routes = Router::new()
        .merge(send::router(&state))
        .merge(deliveries::router(&state))
        .merge(templates::router(&state))
        .merge(people::router(&state))
        .merge(admin::router(&state))
        .merge(webhooks::router(&state))
        .merge(jobs::router(&state))
        .with_state(state.clone())
        .merge(shared::openapi::health_group(
            SERVICE,
            state.store.clone(),
            openapi::document,
            &state.platform,
        ));
    shared::http::finish(routes, SERVICE, &state.platform)
}
