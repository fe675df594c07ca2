//! reports-svc — platform data as files: report templates, async exports, schedules and webhooks.
//! Routes and rules: ../shared/design/reports-svc.md. Today it serves its health route.

use axum::Router;
use shared::{platform::ServiceState, service::Service};

pub const SERVICE: Service = Service::Reports;

/// Every (METHOD, path) this service serves, in API Gateway's `{param}` syntax, by
/// route group (one Lambda function each in template.yaml, `ROUTE_GROUP`). The drift
/// test holds it equal to template.yaml, events/ and what `router()` answers.
pub const ROUTE_GROUPS: &[(&str, &[(&str, &str)])] = &[(
    shared::route_groups::HEALTH,
    &[
        ("GET", "/reports/v1/health"),
        ("GET", "/reports/v1/openapi.json"),
        ("GET", "/reports/v1/docs"),
        ("GET", "/reports/v1/docs/scalar.js"),
    ],
)];

/// This service's OpenAPI document (today: the shared routes only).
pub fn openapi() -> utoipa::openapi::OpenApi {
    shared::openapi::document(SERVICE, utoipa::openapi::OpenApi::default())
}

/// Every route of reports-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: ServiceState) -> Router {
    let routes = Router::new().merge(shared::openapi::health_group(
        SERVICE,
        state.store.clone(),
        openapi,
        &state.platform,
    ));
    shared::http::finish(routes, SERVICE, &state.platform, ROUTE_GROUPS)
}
