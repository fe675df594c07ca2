//! notify-svc — one tenant's notifications over email, SMS, push and an in-app inbox.
//! Routes and rules: ../shared/design/notify-svc.md. Today it serves its health route.

use axum::Router;
use shared::{platform::ServiceState, service::Service};

pub const SERVICE: Service = Service::Notify;

/// Every route of notify-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: ServiceState) -> Router {
    let routes = Router::new().merge(shared::health::router(SERVICE, state.store.clone()));
    shared::http::finish(routes, SERVICE, &state.platform)
}
