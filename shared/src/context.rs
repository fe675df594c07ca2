//! Per-request context (request id, trace id, service, tenant, start time), held in a
//! task-local for the duration of one request so that every response built inside it
//! — handler results, extractor rejections, fallbacks — carries the same `meta`.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{service::Service, tenant::TenantId};

#[derive(Debug)]
pub struct RequestContext {
    pub request_id: Uuid,
    pub trace_id: Option<String>,
    pub service: Service,
    pub started_at: DateTime<Utc>,
    /// The tenant the request acts on: set when the token is verified, and set again
    /// when a route refuses to let it act on the tenant it named (then its own).
    tenant: Mutex<Option<TenantId>>,
}

impl RequestContext {
    pub fn new(
        service: Service,
        request_id: Uuid,
        trace_id: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        RequestContext {
            request_id,
            trace_id,
            service,
            started_at: at,
            tenant: Mutex::new(None),
        }
    }
    /// Recorded once the token is verified (for `meta.tenant_id` and the access log).
    pub fn set_tenant(&self, t: TenantId) {
        if let Ok(mut tenant) = self.tenant.lock() {
            *tenant = Some(t);
        }
    }
    pub fn tenant(&self) -> Option<TenantId> {
        self.tenant.lock().ok().and_then(|t| *t)
    }
}

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// Runs `fut` with `ctx` as the current request context.
pub async fn scope<F: Future>(ctx: Arc<RequestContext>, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// The current request's context, if called inside a request.
pub fn current() -> Option<Arc<RequestContext>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The service answering the current request (Gateway outside any request).
pub fn current_service() -> Service {
    current().map(|c| c.service).unwrap_or(Service::Gateway)
}

/// When the current Lambda invocation times out (request extension set by `lambda::run`).
/// Idempotency records stay INPROGRESS until then, as Powertools does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationDeadline(pub DateTime<Utc>);
