//! auth-svc — the platform's identity provider: tenants, users, credentials, sessions
//! and the signing keys; it issues every token the other services accept.
//! Routes and rules: ../shared/design/auth-svc.md.

pub mod config;
pub mod deletion;
pub mod domain;
pub mod error;
pub mod notices;
pub mod oauth;
pub mod openapi;
pub mod ops;
mod redact;
pub mod repo;
pub mod routes;
pub mod seed;
pub mod signin;
pub mod state;
pub mod tokens;

use axum::Router;
use shared::service::Service;

pub use config::AuthConfig;
pub use state::AuthState;

pub const SERVICE: Service = Service::Auth;

/// Every (METHOD, path) this service serves, in API Gateway's `{param}` syntax, by
/// route group (one Lambda function each in template.yaml, `ROUTE_GROUP`). The drift
/// test holds it equal to template.yaml, events/ and what `router()` answers.
pub const ROUTE_GROUPS: &[(&str, &[(&str, &str)])] = &[
    (
        shared::route_groups::HEALTH,
        &[
            ("GET", "/auth/v1/health"),
            ("GET", "/auth/v1/openapi.json"),
            ("GET", "/auth/v1/docs"),
            ("GET", "/auth/v1/docs/scalar.js"),
        ],
    ),
    ("session", routes::session::ROUTES),
    ("mfa", routes::mfa::ROUTES),
    ("account", routes::account::ROUTES),
    ("admin", routes::admin::ROUTES),
    ("oauth", routes::oauth::ROUTES),
    ("webauthn", routes::webauthn::ROUTES),
];

/// Every route of auth-svc behind the shared pipeline (local gateway and tests).
pub fn router(state: AuthState) -> Router {
    group_router(state, None)
}

/// The routes of one route group (None: every group) behind the shared pipeline: what
/// the Lambda function of that group serves (`shared::route_groups`).
pub fn group_router(state: AuthState, only: Option<&str>) -> Router {
    use shared::route_groups::{self, HEALTH};
    let mut routes = route_groups::merge(
        only,
        &state,
        &[
            ("session", |_| routes::session::router()),
            ("mfa", |_| routes::mfa::router()),
            ("account", routes::account::router),
            ("admin", routes::admin::router),
            ("oauth", |_| routes::oauth::router()),
            ("webauthn", |_| routes::webauthn::router()),
        ],
    )
    .with_state(state.clone());
    // Alone, the admin group's GET /tenants/{tenantId} would take GET /tenants/current.
    routes = route_groups::yield_to_other_groups(routes, only, ROUTE_GROUPS);
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
