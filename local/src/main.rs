//! `cargo run -p eventzr-local -- [--port 3000] [--store memory|dynamodb]`

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use eventzr_local::{Options, StoreKind};

/// Every EventZR service on one local port, as API Gateway would serve them.
#[derive(Parser)]
#[command(name = "eventzr-local", version)]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Store backend; `dynamodb` uses the standard AWS_ENDPOINT_URL and credentials.
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    store: StoreKind,
    /// Private key set file (JSON); generated there when missing. Default: a new key per run.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Also write each mail of the outbox as a JSON file into this folder.
    #[arg(long)]
    outbox_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The access log leaves through a background thread that writes lines in batches
    // (one write per batch, not a locked write per request on the serving threads); a
    // line is written as soon as the thread is free. Dropping the guard flushes it.
    let (log_writer, _flush_on_exit) =
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::BufWriter::new(std::io::stdout()));
    shared::telemetry::init_with(log_writer);
    let args = Args::parse();
    let gateway = eventzr_local::build(&Options {
        store: args.store,
        key_file: args.key_file,
        outbox_dir: args.outbox_dir,
    })
    .await?;
    // What the EventBridge schedule does in AWS: scheduled sends go out, retries happen.
    let notify = gateway.notify.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            match notify::dispatch::run(&notify, std::time::Duration::from_secs(10)).await {
                Ok(r) if r.due > 0 => tracing::info!(
                    sent = r.sent,
                    retried = r.retried,
                    failed = r.failed,
                    "dispatcher run"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "dispatcher run failed"),
            }
        }
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, store = ?args.store, "eventzr-local listening");
    eventzr_local::serve(listener, gateway.router, shutdown()).await?;
    tracing::info!("eventzr-local stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish in-flight requests, exit 0.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
