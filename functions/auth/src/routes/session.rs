//! Route group `session`: sign-in with a password, token refresh, logout, the caller's
//! sessions and profile, the public key set. (One Lambda function in template.yaml.)

use axum::{
    Router,
    routing::{delete, get, post},
};

use super::{jwks, login, no_store, profile, refresh, sessions, tenants};
use crate::AuthState;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/auth/v1/.well-known/jwks.json"),
    ("POST", "/auth/v1/login"),
    ("POST", "/auth/v1/refresh"),
    ("POST", "/auth/v1/logout"),
    ("POST", "/auth/v1/logout/all"),
    ("GET", "/auth/v1/profile"),
    ("PATCH", "/auth/v1/profile"),
    ("DELETE", "/auth/v1/profile"),
    ("GET", "/auth/v1/sessions"),
    ("DELETE", "/auth/v1/sessions/{sessionId}"),
    ("GET", "/auth/v1/tenants/current"),
];

pub fn router() -> Router<AuthState> {
    Router::new()
        .route("/auth/v1/.well-known/jwks.json", get(jwks::jwks))
        .route("/auth/v1/login", post(login::login).layer(no_store()))
        .route("/auth/v1/refresh", post(refresh::refresh).layer(no_store()))
        .route("/auth/v1/logout", post(refresh::logout))
        .route("/auth/v1/logout/all", post(refresh::logout_all))
        .route(
            "/auth/v1/profile",
            get(profile::get)
                .patch(profile::patch)
                .delete(profile::delete),
        )
        .route("/auth/v1/sessions", get(sessions::list))
        .route("/auth/v1/sessions/{sessionId}", delete(sessions::revoke))
        .route(
            "/auth/v1/tenants/current",
            get(tenants::current).layer(shared::auth::allow_cross_tenant()),
        )
}
