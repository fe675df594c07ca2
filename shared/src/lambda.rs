//! The Lambda entry every `main.rs` calls: API Gateway v2 events through lambda_http
//! into the same axum Router the local gateway serves.
//!
//! The functions run on tokio's single-threaded runtime (`flavor = "current_thread"`):
//! an execution environment handles one event at a time, and an event's concurrent work
//! (batch reads, provider calls) waits on I/O, which one thread interleaves as well as
//! several. The multi-threaded default starts a worker per core at every cold start —
//! 0.6-1.1 ms of CPU per start of our functions here (BENCHMARKS.md) — for cores a
//! 256 MB function hardly has. CPU-bound work (argon2id) goes to `spawn_blocking`
//! either way. The local gateway, which serves concurrent requests, keeps the default.

use axum::Router;
use chrono::DateTime;
use lambda_http::RequestExt;
use tower::ServiceBuilder;

use crate::context::InvocationDeadline;

pub use lambda_http::Error;

pub async fn run(router: Router) -> Result<(), Error> {
    crate::telemetry::init();
    let service = ServiceBuilder::new()
        .map_request(|mut req: lambda_http::Request| {
            // Hand the invocation deadline to the pipeline as our own type, so nothing
            // below this line depends on lambda_http.
            let deadline = req
                .lambda_context_ref()
                .and_then(|c| DateTime::from_timestamp_millis(c.deadline as i64));
            if let Some(d) = deadline {
                req.extensions_mut().insert(InvocationDeadline(d));
            }
            req
        })
        .service(router);
    lambda_http::run(service).await
}

/// The entry of a function invoked directly rather than through API Gateway (scheduled
/// jobs: EventBridge Scheduler): each event's JSON payload and the invocation deadline
/// go to `handler`. An `Err` fails the invocation, which is what reaches the
/// schedule's dead-letter queue and the function's Errors alarm.
pub async fn run_events<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(serde_json::Value, Option<DateTime<chrono::Utc>>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, Error>> + Send,
{
    crate::telemetry::init();
    let handler = std::sync::Arc::new(handler);
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |ev: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>| {
            let handler = handler.clone();
            async move {
                let deadline = DateTime::from_timestamp_millis(ev.context.deadline as i64);
                handler(ev.payload, deadline).await
            }
        },
    ))
    .await
}
