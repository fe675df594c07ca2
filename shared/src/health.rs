//! `GET /<svc>/v1/health`: public liveness plus store reachability, the same for every service.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

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
    /// When the store last answered a ping.
    reached: Arc<Mutex<Option<Instant>>>,
}

/// How long a store that answered counts as reachable. The ping is DynamoDB's
/// DescribeTable, a control-plane call with its own low rate limit: a public route must
/// not make one per request (a monitor's poll, or a flood, would throttle it).
const REACHED_FOR: Duration = Duration::from_secs(10);

/// The health route of `service`, ready to merge into its router.
pub fn router(service: Service, store: Arc<dyn Store>) -> Router {
    Router::new()
        .route(&format!("{}/health", service.base_path()), get(health))
        .with_state(HealthState {
            service,
            store,
            reached: Arc::default(),
        })
}

async fn health(State(st): State<HealthState>) -> Result<Envelope<Health>, ApiError> {
    let recent = |at: &Option<Instant>| at.is_some_and(|t| t.elapsed() < REACHED_FOR);
    if !st.reached.lock().is_ok_and(|at| recent(&at)) {
        // Any store failure makes the service unhealthy: 503 with retry-after, never 500.
        // A failure is not remembered: the next request asks again.
        st.store.ping().await.map_err(|e| {
            ApiError::unavailable(e).with_details(json!({ "store": "unreachable" }))
        })?;
        if let Ok(mut at) = st.reached.lock() {
            *at = Some(Instant::now());
        }
    }
    Ok(Envelope::ok(Health {
        status: "ok",
        service: st.service.name(),
        version: env!("CARGO_PKG_VERSION"),
        store: "ok",
    }))
}
