//! The cold-start floor: a bare lambda_http function (same runtime crates, features and
//! profile as the services, no state, no AWS clients, no tracing subscriber) answering
//! every API Gateway v2 event with a fixed JSON body.

use lambda_http::{Body, Error, Request, Response, service_fn};

async fn hello(_req: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Text(r#"{"hello":"world"}"#.into()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(hello)).await
}
