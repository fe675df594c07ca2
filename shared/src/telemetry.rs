//! Structured JSON logs (CloudWatch-friendly): level from `RUST_LOG` (default info).
//! What may be logged is decided at the call sites: the access log records route,
//! status, latency, tenant and request id — never headers, bodies or query strings.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the JSON subscriber once (later calls are no-ops).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .try_init();
}
