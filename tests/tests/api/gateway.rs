//! The local gateway over real HTTP: every service at its API Gateway path, the shared
//! pipeline's envelope, request ids, CORS and errors; then on DynamoDB (emulator). The
//! built binary's start and clean stop are tested in local/tests/binary.rs.

use std::time::Duration;

use eventzr_local::{Gateway, Options, StoreKind};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use shared::{
    service::Service,
    testing::{emulator_endpoint, emulator_sdk_config},
};
use uuid::Uuid;

/// The gateway served on `127.0.0.1:0` for the rest of the test.
struct TestGateway {
    base: String,
    client: Client,
    /// Handles on the running gateway (outbox, stores, keys).
    gateway: Gateway,
}

impl TestGateway {
    async fn spawn(opts: &Options) -> Self {
        let gateway = eventzr_local::build(opts)
            .await
            .expect("the gateway builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let router = gateway.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        TestGateway {
            base: format!("http://{addr}"),
            client: http_client(),
            gateway,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }
}

/// No proxy from the environment: every request here is to loopback.
fn http_client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

fn request_id_header(resp: &Response) -> Uuid {
    let value = resp
        .headers()
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .expect("x-request-id is ASCII");
    Uuid::parse_str(value).unwrap_or_else(|_| panic!("x-request-id {value:?} is not a UUID"))
}

/// Status, x-request-id header and the JSON envelope of a response.
async fn read(resp: Response) -> (StatusCode, Uuid, Value) {
    let status = resp.status();
    let id = request_id_header(&resp);
    let body = resp.json::<Value>().await.expect("a JSON body");
    (status, id, body)
}

async fn assert_healthy(gw: &TestGateway, svc: Service) {
    let (status, id, body) = read(gw.get(&format!("/{}/v1/health", svc.slug())).await).await;
    assert_eq!(status, StatusCode::OK, "{svc} health: {body}");
    assert_eq!(body["data"]["status"], "ok", "{svc}: {body}");
    assert_eq!(body["error"], Value::Null, "{svc}: {body}");
    assert_eq!(body["meta"]["service"], svc.name(), "{svc}: {body}");
    assert_eq!(
        body["meta"]["request_id"],
        id.to_string(),
        "{svc}: meta.request_id is the header's"
    );
}

#[tokio::test]
async fn every_service_answers_health_through_the_gateway() {
    let gw = TestGateway::spawn(&Options::default()).await;

    for svc in Service::ALL {
        assert_healthy(&gw, svc).await;
    }
}

#[tokio::test]
async fn a_valid_request_id_is_echoed_in_header_and_meta() {
    let gw = TestGateway::spawn(&Options::default()).await;
    let sent = Uuid::new_v4();

    let resp = gw
        .request(Method::GET, "/search/v1/health")
        .header("x-request-id", sent.to_string())
        .send()
        .await
        .expect("request");

    let (status, id, body) = read(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id, sent);
    assert_eq!(body["meta"]["request_id"], sent.to_string());
}

#[tokio::test]
async fn a_malformed_request_id_is_replaced_by_a_generated_uuid() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let resp = gw
        .request(Method::GET, "/analytics/v1/health")
        .header("x-request-id", "not-a-uuid; drop table")
        .send()
        .await
        .expect("request");

    let (status, id, body) = read(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["meta"]["request_id"], id.to_string());
}

#[tokio::test]
async fn an_unknown_path_under_a_service_answers_that_service_not_found() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let (status, _, body) = read(gw.get("/search/v1/nope").await).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "ERR_SEARCH_NOT_FOUND", "{body}");
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["meta"]["service"], "search-svc");
}

#[tokio::test]
async fn a_path_outside_every_service_answers_a_not_found_envelope() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let (status, _, body) = read(gw.get("/nope").await).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(
        code.starts_with("ERR_") && code.ends_with("_NOT_FOUND"),
        "{body}"
    );
    assert_eq!(body["data"], Value::Null);
    assert!(body["meta"]["request_id"].is_string(), "{body}");
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_allow() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let resp = gw
        .request(Method::POST, "/auth/v1/health")
        .send()
        .await
        .expect("request");

    let allow = resp
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let (status, _, body) = read(resp).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(
        body["error"]["code"], "ERR_AUTH_METHOD_NOT_ALLOWED",
        "{body}"
    );
    let allow = allow.expect("an allow header");
    assert!(allow.contains("GET"), "allow: {allow}");
}

#[tokio::test]
async fn a_cors_preflight_is_answered_with_allow_origin() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let resp = gw
        .request(Method::OPTIONS, "/notify/v1/health")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization,x-request-id",
        )
        .send()
        .await
        .expect("request");

    assert!(
        resp.status().is_success(),
        "preflight answered {}",
        resp.status()
    );
    assert!(
        resp.headers().contains_key("access-control-allow-origin"),
        "headers: {:?}",
        resp.headers()
    );
}

#[tokio::test]
async fn the_outbox_lists_mail_as_an_array() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let (status, _, body) = read(gw.get("/_local/outbox").await).await;

    assert_eq!(status, StatusCode::OK);
    let listed = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("data is not an array: {body}"));
    assert_eq!(listed.len(), gw.gateway.outbox.sent().len());
    assert_eq!(body["error"], Value::Null);
}

#[tokio::test]
async fn the_gateway_serves_one_document_with_every_service_s_routes() {
    let gw = TestGateway::spawn(&Options::default()).await;

    let (status, _, doc) = read(gw.get("/openapi.json").await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/auth/v1/login",
        "/auth/v1/health",
        "/search/v1/health",
        "/notify/v1/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearerAuth"].is_object());
    // What it documents is what the services serve: the gateway writes it for the validator.
    let dir = crate::helpers::workspace_root().join("target/openapi");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("gateway.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
}

#[tokio::test]
async fn the_reference_pages_load_their_script_and_document_from_the_same_origin() {
    let gw = TestGateway::spawn(&Options::default()).await;
    for (page, spec) in [
        ("/docs", "/openapi.json"),
        ("/auth/v1/docs", "/auth/v1/openapi.json"),
    ] {
        let resp = gw.get(page).await;
        assert_eq!(resp.status(), StatusCode::OK, "{page}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"src="docs/scalar.js""#) && html.contains("url: 'openapi.json'"));
        // The relative URLs resolve next to the page.
        let script = gw.get(&format!("{page}/scalar.js")).await;
        assert_eq!(script.status(), StatusCode::OK, "{page}/scalar.js");
        assert_eq!(
            script.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(script.headers()["content-encoding"], "gzip");
        let gz = script.bytes().await.unwrap();
        assert!(
            gz.starts_with(&[0x1f, 0x8b]) && gz.len() > 1_000_000,
            "{} bytes",
            gz.len()
        );
        assert_eq!(gw.get(spec).await.status(), StatusCode::OK, "{spec}");
    }
}

/// The SDK's default chain (which `--store dynamodb` uses) needs credentials and a region;
/// the emulator accepts any. scripts/emulator.sh exports these; set them when a caller
/// exported only AWS_ENDPOINT_URL.
fn default_emulator_environment() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (key, value) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var_os(key).is_none() {
                // SAFETY: set once, before the SDK reads it; nothing else in this test
                // binary writes the environment, and the other threads here read it only
                // through std::env (which serializes with set_var), never via libc getenv.
                unsafe { std::env::set_var(key, value) };
            }
        }
    });
}

#[tokio::test]
async fn the_gateway_on_dynamodb_creates_every_table_and_answers_health() {
    let Some(endpoint) = emulator_endpoint("gateway_on_dynamodb") else {
        return;
    };
    default_emulator_environment();

    let gw = TestGateway::spawn(&Options {
        store: StoreKind::Dynamodb,
        ..Options::default()
    })
    .await;

    for svc in Service::ALL {
        assert_healthy(&gw, svc).await;
    }
    let dynamo = aws_sdk_dynamodb::Client::new(&emulator_sdk_config(&endpoint).await);
    for svc in Service::ALL {
        let table = format!("local-{}", svc.slug());
        let out = dynamo
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeTable {table}: {e:?}"));
        let status = out.table().and_then(|t| t.table_status()).cloned();
        assert_eq!(
            status,
            Some(aws_sdk_dynamodb::types::TableStatus::Active),
            "{table}"
        );
    }
}
