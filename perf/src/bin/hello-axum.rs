//! The throughput floor: a bare axum hello world on 127.0.0.1:<port> (first argument,
//! default 3100), with the same axum features and tokio runtime as eventzr-local. It
//! answers every path with a small fixed JSON body.

use axum::{Router, http::header};

async fn hello() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"hello":"world"}"#,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        None => 3100,
        Some(p) => p.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage: hello-axum [PORT]")
        })?,
    };
    let app = Router::new().fallback(hello);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
