//! The envelope, request ids and axum's own rejections re-issued in the envelope.

use axum::body::Body;
use http::Request;
use serde_json::json;
use shared::service::Service;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_answers_in_the_envelope_with_meta_and_a_request_id() {
    let app = TestApp::new(Service::Search);
    let r = app.get("/search/v1/health", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["data"]["status"], "ok");
    assert_eq!(body["data"]["store"], "ok");
    assert!(body["error"].is_null());
    assert!(body.get("page").is_none(), "page only on lists");
    assert_eq!(body["meta"]["service"], "search-svc");
    let id = r.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(body["meta"]["request_id"], id);
    assert!(body["meta"]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(
        body["meta"].get("tenant_id").is_none(),
        "tenant only when known"
    );
}

/// No answer is kept by a browser or proxy unless its route says so (auth's JWKS test
/// checks one that does), and none is content-sniffed.
#[tokio::test]
async fn answers_are_not_stored_or_sniffed_unless_the_route_says_so() {
    let app = TestApp::new(Service::Auth);
    for path in ["/auth/v1/health", "/auth/v1/nowhere"] {
        let r = app.get(path, None).await;
        assert_eq!(
            (
                r.header("cache-control"),
                r.header("x-content-type-options")
            ),
            (Some("no-store"), Some("nosniff")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_valid_request_id_is_echoed_and_a_malformed_one_replaced() {
    let app = TestApp::new(Service::Auth);
    let mine = "550e8400-e29b-41d4-a716-446655440000";
    let req = Request::get("/auth/v1/health")
        .header("x-request-id", mine)
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.header("x-request-id"), Some(mine));
    assert_eq!(r.json()["meta"]["request_id"], mine);
    let req = Request::get("/auth/v1/health")
        .header("x-request-id", "<script>")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    let id = r.header("x-request-id").unwrap();
    assert_ne!(id, "<script>");
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

#[tokio::test]
async fn the_lambda_trace_id_reaches_meta() {
    let app = TestApp::new(Service::Auth);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let req = Request::get("/auth/v1/health")
        .header("x-amzn-trace-id", trace)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.json()["meta"]["trace_id"], trace);
}

#[tokio::test]
async fn a_trace_header_that_is_not_x_ray_shaped_is_ignored() {
    let app = TestApp::new(Service::Auth);
    let req = Request::get("/auth/v1/health")
        .header("x-amzn-trace-id", "Root=1 level=ERROR forged log line")
        .body(Body::empty())
        .unwrap();
    let meta = &app.send(req).await.json()["meta"];
    assert!(meta["trace_id"].is_null(), "{meta}");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_in_the_envelope_and_the_service_keeps_serving() {
    let app = TestApp::new(Service::Auth);
    let r = app.get("/auth/v1/panic", None).await;
    r.assert_error(500, "ERR_AUTH_INTERNAL");
    assert!(r.header("x-request-id").is_some());
    assert!(!String::from_utf8_lossy(&r.bytes).contains("a handler bug"));
    assert_eq!(app.get("/auth/v1/health", None).await.status, 200);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_404_and_405_in_the_envelope() {
    let app = TestApp::new(Service::Notify);
    app.get("/notify/v1/nope", None)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    let r = app
        .send(
            Request::delete("/notify/v1/health")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    r.assert_error(405, "ERR_NOTIFY_METHOD_NOT_ALLOWED");
    assert!(r.header("allow").unwrap().contains("GET"));
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_field() {
    let app = TestApp::new(Service::Reports);
    let token = app.tp.token(&["user"]);
    let cases = [
        (r#"{"item": "a""#, "body"),
        (r#"{"quantity": 1}"#, "item"),
        // Every missing field at once, in the body's order.
        (r#"{"delay_ms": 1}"#, "item,quantity"),
        (r#"{"item": "a", "quantity": "many"}"#, "quantity"),
        (r#"{"item": "a", "quantity": -1}"#, "quantity"),
        ("", "body"),
    ];
    for (body, field) in cases {
        let req = Request::post("/reports/v1/orders")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let r = app.send(req).await;
        r.assert_error(400, "ERR_REPORTS_VALIDATION");
        let named = r.error_fields();
        assert_eq!(named.join(","), field, "{body}");
    }
    assert_eq!(app.calls(), 0, "no handler ran");
}

#[tokio::test]
async fn a_body_is_parsed_without_content_type_but_a_non_json_type_is_415() {
    let app = TestApp::new(Service::Reports);
    let body = json!({"item": "a", "quantity": 1}).to_string();
    let req = Request::post("/reports/v1/orders")
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(app.send(req).await.status, 201);
    let req = Request::post("/reports/v1/orders")
        .header("content-type", "text/plain")
        .body(Body::from(body))
        .unwrap();
    app.send(req)
        .await
        .assert_error(415, "ERR_REPORTS_UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn an_oversize_body_is_413_with_or_without_content_length() {
    let app = TestApp::new(Service::Reports);
    let big = format!(r#"{{"item": "{}", "quantity": 1}}"#, "x".repeat(300 * 1024));
    let req = Request::post("/reports/v1/orders")
        .header("content-type", "application/json")
        .header("content-length", big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    app.send(req)
        .await
        .assert_error(413, "ERR_REPORTS_PAYLOAD_TOO_LARGE");
    // Streamed without a length: the limit still applies while reading.
    let stream = futures_like_stream(big);
    let req = Request::post("/reports/v1/orders")
        .header("content-type", "application/json")
        .body(stream)
        .unwrap();
    app.send(req)
        .await
        .assert_error(413, "ERR_REPORTS_PAYLOAD_TOO_LARGE");
    assert_eq!(app.calls(), 0);
}

/// A body with no size hint (as a chunked upload has).
fn futures_like_stream(data: String) -> Body {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = data
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn cors_preflight_is_answered_and_errors_carry_cors_headers() {
    let app = TestApp::new(Service::Auth);
    let req = Request::options("/auth/v1/whoami")
        .header("origin", "https://app.eventzr.com")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, x-tenant-id",
        )
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert!(r.status.is_success());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("x-tenant-id")
    );
    let req = Request::get("/auth/v1/whoami")
        .header("origin", "https://app.eventzr.com")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // A browser's script reads these only when exposed: the 401's challenge among them.
    let exposed = r.header("access-control-expose-headers").unwrap();
    for h in [
        "x-request-id",
        "retry-after",
        "idempotent-replayed",
        "location",
        "www-authenticate",
    ] {
        assert!(exposed.contains(h), "{h} not in {exposed}");
    }
    assert!(r.header("www-authenticate").is_some());
}
