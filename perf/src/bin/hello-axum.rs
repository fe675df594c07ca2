//! The throughput floors: a bare axum hello world on 127.0.0.1:<port>, with the same axum
//! features and tokio runtime as eventzr-local. It answers every path with a small fixed
//! JSON body.
//!
//! `hello-axum [PORT] [--access-log] [--busy-ns N]` (port 3100 by default):
//! - `--access-log`: also write the one thing ARCHITECTURE.md requires of every request
//!   that hello world skips, a JSON access-log line, through the same tracing-subscriber
//!   configuration and background writer as eventzr-local, from the handler itself (no
//!   middleware, a counter for the request id, no tenant). That is less than any
//!   conforming service does per request, so its throughput bounds what one can reach on
//!   the same machine.
//! - `--busy-ns N`: spend N ns of CPU in the handler before answering, to measure what a
//!   given amount of per-request work costs in throughput (scripts/perf/headroom.py).

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    http::{Method, Uri, header},
};

type Hello = ([(header::HeaderName, &'static str); 1], &'static str);

static BUSY: OnceLock<Duration> = OnceLock::new();
static REQUESTS: AtomicU64 = AtomicU64::new(0);

async fn hello() -> Hello {
    let busy = BUSY.get().copied().unwrap_or_default();
    if !busy.is_zero() {
        let started = Instant::now();
        while started.elapsed() < busy {
            std::hint::spin_loop();
        }
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"hello":"world"}"#,
    )
}

async fn hello_logged(method: Method, uri: Uri) -> Hello {
    let started = Instant::now();
    let answer = hello().await;
    tracing::info!(
        target: "access",
        method = %method,
        route = uri.path(),
        status = 200u16,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = REQUESTS.fetch_add(1, Ordering::Relaxed),
        "request"
    );
    answer
}

struct Args {
    port: u16,
    access_log: bool,
    busy: Duration,
}

const USAGE: &str = "usage: hello-axum [PORT] [--access-log] [--busy-ns N]";

fn args() -> Result<Args, std::io::Error> {
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, USAGE);
    let mut out = Args {
        port: 3100,
        access_log: false,
        busy: Duration::ZERO,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--access-log" => out.access_log = true,
            "--busy-ns" => {
                let ns = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(invalid)?;
                out.busy = Duration::from_nanos(ns);
            }
            port => out.port = port.parse().map_err(|_| invalid())?,
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = args()?;
    BUSY.get_or_init(|| args.busy);
    // The guard stays alive while serving (dropping it stops the writer thread).
    let (app, _writer_guard) = if args.access_log {
        // The options of shared::telemetry::subscriber (without its RUST_LOG filter) and
        // the writer of eventzr-local's main, copied: the floors link none of our crates.
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::BufWriter::new(std::io::stdout()));
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(true)
            .with_ansi(false)
            .with_writer(writer)
            .init();
        (Router::new().fallback(hello_logged), Some(guard))
    } else {
        (Router::new().fallback(hello), None)
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    axum::serve(listener, app).await
}
