//! auth-svc — the platform's identity provider: tenants, users, credentials, sessions
//! and the signing keys; it issues every token the other services accept.
//! Routes and rules: ../shared/design/auth-svc.md.

pub mod config;
pub mod domain;
pub mod error;
pub mod oauth;
pub mod openapi;
pub mod ops;
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
        "health",
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

/// Every route of auth-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: AuthState) -> Router {
    let routes = Router::new()
        .merge(routes::session::router())
        .merge(routes::mfa::router())
        .merge(routes::account::router(&state))
        .merge(routes::admin::router(&state))
        .merge(routes::oauth::router())
        .merge(routes::webauthn::router())
        .with_state(state.clone())
        .merge(shared::openapi::health_group(
            SERVICE,
            state.store.clone(),
            openapi::document,
            &state.platform,
        ));
    shared::http::finish(routes, SERVICE, &state.platform)
}
