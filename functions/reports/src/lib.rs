//! reports-svc — platform data as files: report templates, async exports, schedules and webhooks.
//! Routes and rules: ../shared/design/reports-svc.md. Today it serves its health route.

use axum::Router;
use shared::{platform::ServiceState, service::Service};

pub const SERVICE: Service = Service::Reports;

/// Every route of reports-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: ServiceState) -> Router {
    let routes = Router::new().merge(shared::health::router(SERVICE, state.store.clone()));
    shared::http::finish(routes, SERVICE, &state.platform)
}
