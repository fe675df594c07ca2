//! Warm in-process latency of the shared request pipeline (`shared::http::finish`): the
//! public health route, a JWT-verified GET, an idempotent POST's first execution and its
//! replay — and a bare axum route without the pipeline, the floor the overhead is
//! measured from. Requests go through `tower::ServiceExt::oneshot` on the Router, over the
//! memory store: no network, no emulator.
//!
//! `cargo bench -p shared --bench pipeline`; p50/p99 land in
//! `target/bench/inprocess-shared.{md,json}`.

#[path = "support/latency.rs"]
mod latency;

use std::{hint::black_box, path::Path, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Body,
    routing::{get, post},
};
use criterion::Criterion;
use http::{Request, StatusCode};
use latency::Latencies;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::{
    Envelope,
    auth::Claims,
    extract::ApiJson,
    idempotency::{self, Idempotency},
    service::Service,
    store::{Store, memory::MemoryStore},
    testing::TestPlatform,
};
use tower::ServiceExt as _;

const SERVICE: Service = Service::Analytics;
const HEALTH: &str = "/analytics/v1/health";
const WHOAMI: &str = "/analytics/v1/whoami";
const ORDERS: &str = "/analytics/v1/orders";
const BARE: &str = "/bare";

#[derive(Deserialize, utoipa::ToSchema)]
struct Order {
    item: String,
    quantity: u32,
}

async fn whoami(caller: Claims) -> Envelope<Value> {
    Envelope::ok(json!({ "sub": caller.sub, "tenant": caller.tenant() }))
}

async fn create_order(_caller: Claims, ApiJson(order): ApiJson<Order>) -> Envelope<Value> {
    Envelope::created(json!({
        "orderId": shared::ids::new_id(),
        "item": order.item,
        "quantity": order.quantity,
    }))
}

/// The same handler work as `whoami`'s answer, with none of the pipeline.
async fn bare() -> Json<Value> {
    Json(json!({ "data": { "sub": "user-1" }, "error": null }))
}

struct App {
    /// Keeps the key set and clock the router's verifier reads.
    _tp: TestPlatform,
    pipeline: Router,
    bare: Router,
    token: String,
}

/// A service as `shared/tests/pipeline/helpers.rs` builds one, with just the benched routes.
fn app() -> App {
    let tp = TestPlatform::new();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let idem = Idempotency::for_service(&tp.platform, SERVICE, store.clone());
    let writes = Router::new().route(ORDERS, post(create_order)).layer(
        axum::middleware::from_fn_with_state(idem, idempotency::middleware),
    );
    let routes = Router::new()
        .route(WHOAMI, get(whoami))
        .merge(writes)
        .merge(shared::health::router(SERVICE, store));
    App {
        pipeline: shared::http::finish(routes, SERVICE, &tp.platform, &[]),
        bare: Router::new().route(BARE, get(bare)),
        token: tp.token(&["user"]),
        _tp: tp,
    }
}

fn request(method: &str, path: &str, token: Option<&str>, key: Option<&str>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    if method == "POST" {
        let body = json!({ "item": "ticket", "quantity": 2 }).to_string();
        req = req.header("content-type", "application/json");
        return req.body(Body::from(body)).unwrap();
    }
    req.body(Body::empty()).unwrap()
}

/// Serves `req` and reads the whole answer, as the Lambda adapter would.
async fn serve(router: Router, req: Request<Body>, expect: StatusCode) {
    let resp = router.oneshot(req).await.unwrap_or_else(|e| match e {});
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(status, expect, "{}", String::from_utf8_lossy(&body));
    black_box(body);
}

/// Sends `req` through a clone of `router` (the request is built untimed).
fn send(
    router: &Router,
    req: Request<Body>,
    expect: StatusCode,
) -> impl Future<Output = ()> + use<> {
    serve(router.clone(), req, expect)
}

fn main() {
    // The access log is formatted as in Lambda, then dropped.
    tracing::subscriber::set_global_default(shared::telemetry::subscriber(std::io::sink))
        .expect("subscriber");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = app();
    let token = app.token.as_str();
    let (pipe, floor) = (&app.pipeline, &app.bare);
    let ok = StatusCode::OK;
    // Warm: the key set is loaded on the first verification; the replayed key is taken.
    rt.block_on(async {
        send(floor, request("GET", BARE, None, None), ok).await;
        send(pipe, request("GET", HEALTH, None, None), ok).await;
        send(pipe, request("GET", WHOAMI, Some(token), None), ok).await;
        let first = request("POST", ORDERS, Some(token), Some("bench-replay"));
        send(pipe, first, StatusCode::CREATED).await;
    });

    let mut c = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    let mut lat = Latencies::default();
    let mut g = c.benchmark_group("pipeline");
    latency::bench(
        &mut g,
        &rt,
        &mut lat,
        ("bare", "GET /bare (axum alone, no pipeline)"),
        || send(floor, request("GET", BARE, None, None), ok),
    );
    latency::bench(
        &mut g,
        &rt,
        &mut lat,
        ("health", "GET /analytics/v1/health"),
        || send(pipe, request("GET", HEALTH, None, None), ok),
    );
    latency::bench(
        &mut g,
        &rt,
        &mut lat,
        ("jwt_get", "GET /analytics/v1/whoami (bearer, RS256)"),
        || send(pipe, request("GET", WHOAMI, Some(token), None), ok),
    );
    let mut n = 0u64;
    latency::bench(
        &mut g,
        &rt,
        &mut lat,
        (
            "idempotent_post_first",
            "POST /analytics/v1/orders, a fresh Idempotency-Key",
        ),
        || {
            n += 1;
            let req = request("POST", ORDERS, Some(token), Some(&format!("bench-{n}")));
            send(pipe, req, StatusCode::CREATED)
        },
    );
    latency::bench(
        &mut g,
        &rt,
        &mut lat,
        (
            "idempotent_post_replay",
            "POST /analytics/v1/orders, the same Idempotency-Key (replay)",
        ),
        || {
            let req = request("POST", ORDERS, Some(token), Some("bench-replay"));
            send(pipe, req, StatusCode::CREATED)
        },
    );
    g.finish();
    c.final_summary();

    let notes = overhead(&lat);
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench"));
    lat.write(dir, "shared", &notes);
}

/// The pipeline's own cost: each route's p50 less the bare route's.
fn overhead(lat: &Latencies) -> String {
    let Some((floor, _)) = lat.percentiles("bare") else {
        return String::new();
    };
    [
        "health",
        "jwt_get",
        "idempotent_post_first",
        "idempotent_post_replay",
    ]
    .iter()
    .filter_map(|name| {
        let (p50, _) = lat.percentiles(name)?;
        let extra = p50.saturating_sub(floor);
        Some(format!(
            "- `{name}`: pipeline overhead at p50 (less `bare`): {}",
            latency::show(extra)
        ))
    })
    .collect::<Vec<_>>()
    .join("\n")
}
