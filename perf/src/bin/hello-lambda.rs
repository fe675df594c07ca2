//! The cold-start floor: a bare lambda_http function (same runtime crates, features and
//! profile as the services, no state, no AWS clients, no tracing subscriber) answering
//! every API Gateway v2 event with a fixed JSON body.
//!
//! It starts tokio's multi-threaded runtime, as `#[tokio::main]` and lambda_http's own
//! examples do: the floor the issue's budget names. With `HELLO_RUNTIME=current_thread`
//! it starts the single-threaded runtime our functions use (`shared::lambda`), so the
//! bench reports our ratio to both floors from one binary.

use lambda_http::{Body, Error, Request, Response, service_fn};

async fn hello(_req: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Text(r#"{"hello":"world"}"#.into()))?)
}

fn main() -> Result<(), Error> {
    // What `#[tokio::main]` and `#[tokio::main(flavor = "current_thread")]` expand to.
    let mut runtime = match std::env::var("HELLO_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime
        .enable_all()
        .build()?
        .block_on(lambda_http::run(service_fn(hello)))
}
