//! Route group `admin`: the tenant's suppression list, its quotas, the providers' state.
//! (One Lambda function in template.yaml.)

pub mod providers;
pub mod quotas;
pub mod suppressions;

use axum::Router;

use crate::state::NotifyState;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notify/v1/suppressions"),
    ("POST", "/notify/v1/suppressions"),
    ("DELETE", "/notify/v1/suppressions"),
    ("DELETE", "/notify/v1/suppressions/{contact}"),
    ("POST", "/notify/v1/suppressions/check"),
    ("GET", "/notify/v1/admin/quotas"),
    ("PUT", "/notify/v1/admin/quotas"),
    ("GET", "/notify/v1/admin/providers"),
];

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    Router::new()
        .merge(suppressions::router(st))
        .merge(quotas::router(st))
        .merge(providers::router(st))
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = suppressions::openapi();
    doc.merge(quotas::openapi());
    doc.merge(providers::openapi());
    doc
}
