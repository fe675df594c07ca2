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
    /// When the store was last pinged, and whether it answered.
    last: Arc<Mutex<Option<(Instant, bool)>>>,
}

/// How long a ping's outcome stands. The ping is DynamoDB's DescribeTable, a control-plane
/// call with its own low rate limit: a public route must not make one per request (a
/// monitor's poll, or a flood, would throttle it), least of all during an outage.
const REACHED_FOR: Duration = Duration::from_secs(10);
const UNREACHED_FOR: Duration = Duration::from_secs(2);

/// The health route of `service`, ready to merge into its router.
pub fn router(service: Service, store: Arc<dyn Store>) -> Router {
    Router::new()
        .route(&format!("{}/health", service.base_path()), get(health))
        .with_state(HealthState {
            service,
            store,
            last: Arc::default(),
        })
}

async fn health(State(st): State<HealthState>) -> Result<Envelope<Health>, ApiError> {
    // Any store failure makes the service unhealthy: 503 with retry-after, never 500.
    let unreachable = || {
        ApiError::unavailable("store unreachable").with_details(json!({ "store": "unreachable" }))
    };
    let standing = st.last.lock().ok().and_then(|last| {
        let (at, ok) = (*last)?;
        let lasts = if ok { REACHED_FOR } else { UNREACHED_FOR };
        (at.elapsed() < lasts).then_some(ok)
    });
    let ok = match standing {
        Some(ok) => ok,
        None => {
            let pinged = st.store.ping().await;
            if let Err(e) = &pinged {
                tracing::warn!(error = %e, "health: the store did not answer");
            }
            if let Ok(mut last) = st.last.lock() {
                *last = Some((Instant::now(), pinged.is_ok()));
            }
            pinged.is_ok()
        }
    };
    if !ok {
        return Err(unreachable());
    }
    Ok(Envelope::ok(Health {
        status: "ok",
        service: st.service.name(),
        version: env!("CARGO_PKG_VERSION"),
        store: "ok",
    }))
}
