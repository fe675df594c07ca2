//! Structured JSON logs (CloudWatch-friendly): level from `RUST_LOG` (default info).
//! What may be logged is decided at the call sites: the access log records route,
//! status, latency, tenant and request id — never headers, bodies or query strings.

use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter};

/// Installs the JSON subscriber on stdout once (later calls are no-ops).
pub fn init() {
    init_with(std::io::stdout);
}

/// Installs the subscriber writing to `writer` once (eventzr-local: a background writer).
pub fn init_with<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = tracing::subscriber::set_global_default(subscriber(writer));
}

/// The platform's subscriber writing to `writer` (tests capture the log with it).
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
}
