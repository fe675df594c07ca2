//! The Lambda entry every `main.rs` calls: API Gateway v2 events through lambda_http
//! into the same axum Router the local gateway serves.

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
