//! A test service: routes exercising each shared piece, served over a memory store
//! (or any store), with the handles tests act on.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Router,
    body::Body,
    extract::State,
    routing::{get, post},
};
use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
pub use shared::testing::Reply;
use shared::{
    ApiError, Envelope,
    access::{RequireFeature, RequireRole, features, roles},
    auth::Claims,
    extract::ApiJson,
    idempotency::{self, Idempotency},
    service::Service,
    store::{Store, memory::MemoryStore},
    testing::TestPlatform,
};

#[derive(Clone)]
pub struct TestState {
    pub calls: Arc<AtomicUsize>,
    /// Held for writing by a test, it keeps handlers waiting (to abandon a request).
    pub gate: Arc<tokio::sync::RwLock<()>>,
}

pub struct TestApp {
    pub tp: TestPlatform,
    pub router: Router,
    pub calls: Arc<AtomicUsize>,
    pub gate: Arc<tokio::sync::RwLock<()>>,
    #[allow(dead_code)] // kept for tests that inspect stored state
    pub store: Arc<dyn Store>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub item: String,
    pub quantity: u32,
    /// Test knobs: answer with this status, after this many milliseconds.
    #[serde(default)]
    pub fail_with: Option<u16>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// …with this `retry-after`.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// The answer repeats `item` this many times (a large answer from a small request).
    #[serde(default)]
    pub echo_times: Option<usize>,
}

async fn whoami(caller: Claims) -> Envelope<Value> {
    Envelope::ok(json!({
        "sub": caller.sub,
        "tenant": caller.tenant(),
        "roles": caller.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "plan": caller.plan.as_str(),
    }))
}

async fn tenant_only(shared::tenant::Tenant(t): shared::tenant::Tenant) -> Envelope<Value> {
    Envelope::ok(json!({ "tenant": t }))
}

async fn maybe_whoami(caller: Option<Claims>) -> Envelope<Value> {
    Envelope::ok(json!({ "authenticated": caller.is_some() }))
}

async fn admin_only(caller: RequireRole<roles::Admin>) -> Envelope<Value> {
    Envelope::ok(json!({ "sub": caller.sub }))
}

async fn heatmaps(caller: RequireFeature<features::Heatmaps>) -> Envelope<Value> {
    Envelope::ok(json!({ "plan": caller.plan.as_str() }))
}

async fn create_order(
    State(st): State<TestState>,
    _caller: Option<Claims>,
    ApiJson(order): ApiJson<Order>,
) -> Result<Envelope<Value>, ApiError> {
    st.calls.fetch_add(1, Ordering::SeqCst);
    let _open = st.gate.read().await;
    if let Some(ms) = order.delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(code) = order.fail_with {
        let status = StatusCode::from_u16(code).unwrap();
        let e = ApiError::new(status, "TEST_FAILURE", "the test asked for it");
        return Err(match order.retry_after {
            Some(secs) => e.with_retry_after(secs),
            None => e,
        });
    }
    Ok(Envelope::created(json!({
        "orderId": shared::ids::new_id(),
        "item": order.item.repeat(order.echo_times.unwrap_or(1)),
        "quantity": order.quantity,
    })))
}

impl TestApp {
    pub fn new(service: Service) -> Self {
        Self::with_store(service, Arc::new(MemoryStore::new()))
    }

    pub fn with_store(service: Service, store: Arc<dyn Store>) -> Self {
        let tp = TestPlatform::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::RwLock::new(()));
        let base = service.base_path();
        let idem = Idempotency::for_service(&tp.platform, service, store.clone());
        let writes = Router::new()
            .route(&format!("{base}/orders"), post(create_order))
            .route(
                &format!("{base}/orders/{{id}}"),
                axum::routing::put(create_order),
            )
            .layer(axum::middleware::from_fn_with_state(
                idem,
                idempotency::middleware,
            ))
            .with_state(TestState {
                calls: calls.clone(),
                gate: gate.clone(),
            });
        let routes = Router::new()
            .route(&format!("{base}/whoami"), get(whoami))
            .route(&format!("{base}/maybe"), get(maybe_whoami))
            .route(
                &format!("{base}/tenant"),
                get(tenant_only).layer(shared::auth::allow_cross_tenant()),
            )
            .route(&format!("{base}/admin"), get(admin_only))
            .route(&format!("{base}/heatmaps"), get(heatmaps))
            .route(
                &format!("{base}/panic"),
                get(|| async { panic!("a handler bug") as Envelope<Value> }),
            )
            .merge(writes)
            .merge(shared::health::router(service, store.clone()));
        let router = shared::http::finish(routes, service, &tp.platform, &[]);
        TestApp {
            tp,
            router,
            calls,
            gate,
            store,
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        shared::testing::send(&self.router, req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: &Value,
    ) -> Reply {
        let mut req = Request::post(path).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }
}
