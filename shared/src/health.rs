//! `GET /<svc>/v1/health`: public liveness plus store reachability, the same for every service.

use std::sync::Arc;

use axum::{Router, extract::State, routing::get};
use serde::Serialize;
use serde_json::json;

use crate::{envelope::Envelope, error::ApiError, service::Service, store::Store};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub service: &'static str,
    pub version: &'static str,
    pub store: &'static str,
}

#[derive(Clone)]
struct HealthState {
    service: Service,
    store: Arc<dyn Store>,
}

/// The health route of `service`, ready to merge into its router.
pub fn router(service: Service, store: Arc<dyn Store>) -> Router {
    Router::new()
        .route(&format!("{}/health", service.base_path()), get(health))
        .with_state(HealthState { service, store })
}

async fn health(State(st): State<HealthState>) -> Result<Envelope<Health>, ApiError> {
    // Any store failure makes the service unhealthy: 503 with retry-after, never 500.
    st.store
        .ping()
        .await
        .map_err(|e| ApiError::unavailable(e).with_details(json!({ "store": "unreachable" })))?;
    Ok(Envelope::ok(Health {
        status: "ok",
        service: st.service.name(),
        version: env!("CARGO_PKG_VERSION"),
        store: "ok",
    }))
}
