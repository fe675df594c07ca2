//! auth-svc — the platform's identity provider: tenants, users, credentials, sessions and the signing keys.
//! Routes and rules: ../shared/design/auth-svc.md. Today it serves its health route.

pub mod seed;

use axum::Router;
use shared::{platform::ServiceState, service::Service};

pub const SERVICE: Service = Service::Auth;

/// Every route of auth-svc behind the shared pipeline (Lambda, local gateway and tests).
pub fn router(state: ServiceState) -> Router {
    let routes = Router::new().merge(shared::health::router(SERVICE, state.store.clone()));
    shared::http::finish(routes, SERVICE, &state.platform)
}
