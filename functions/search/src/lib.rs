//! search-svc — a per-tenant search index over events, venues, artists, destinations and brands.
//! Routes and rules: ../shared/design/search-svc.md. Today it serves its health route.

use axum::Router;
use shared::{platform::ServiceState, service::Service};

pub const SERVICE: Service = Service::Search;

/// Every route of search-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: ServiceState) -> Router {
    let routes = Router::new().merge(shared::health::router(SERVICE, state.store.clone()));
    shared::http::finish(routes, SERVICE, &state.platform)
}
