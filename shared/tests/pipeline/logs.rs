//! The access log: one JSON line per request, and never a token, password or query string.

use axum::body::Body;
use http::Request;

use serde_json::{Value, json};
use shared::service::Service;

use crate::helpers::TestApp;

async fn send(app: &TestApp, req: http::request::Builder, body: Body) -> (String, u16) {
    let id = uuid::Uuid::new_v4().to_string();
    let r = app
        .send(req.header("x-request-id", &id).body(body).unwrap())
        .await;
    (id, r.status.as_u16())
}

#[tokio::test]
async fn each_request_logs_one_access_line_without_secrets() {
    let captured = shared::testing::logs::captured();
    let app = TestApp::new(Service::Notify);
    let token = app.tp.token(&["organizer"]);
    let bearer = format!("Bearer {token}");

    let body = json!({"item": "Password123!", "quantity": 1}).to_string();
    let post = Request::post("/notify/v1/orders")
        .header("authorization", &bearer)
        .header("idempotency-key", "key-1");
    let sent = [
        send(&app, post, Body::from(body)).await,
        send(
            &app,
            Request::get("/notify/v1/whoami?token=one-time-secret-value")
                .header("authorization", &bearer),
            Body::empty(),
        )
        .await,
        send(
            &app,
            Request::get("/notify/v1/whoami")
                .header("authorization", "Bearer eyJhbGciOiJub25lIn0.e30."),
            Body::empty(),
        )
        .await,
        send(&app, Request::get("/notify/v1/missing"), Body::empty()).await,
    ];
    assert_eq!(
        sent.iter().map(|s| s.1).collect::<Vec<_>>(),
        [201, 200, 401, 404]
    );

    let text = captured.text();
    let lines: Vec<Value> = captured.lines();
    let access_of = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["target"] == "access" && l["request_id"] == id)
            .collect()
    };
    for (id, status) in &sent {
        let mine = access_of(id);
        assert_eq!(mine.len(), 1, "one access line for {id}");
        assert_eq!(mine[0]["status"], *status);
        assert!(mine[0]["latency_ms"].is_number());
    }
    let first = access_of(&sent[0].0)[0];
    assert_eq!(first["route"], "/notify/v1/orders");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["tenant"], shared::testing::T1);
    assert_eq!(access_of(&sent[3].0)[0]["route"], "unmatched");
    for secret in [
        token.as_str(),
        "Password123!",
        "one-time-secret-value",
        "eyJhbGciOiJub25lIn0",
        "Bearer",
    ] {
        assert!(!text.contains(secret), "the log contains {secret}:\n{text}");
    }
}
