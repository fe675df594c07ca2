//! Warm in-process latency of auth-svc's sign-in paths: login with a password (argon2id
//! at OWASP cost, the staging account partner@eventzr.com), one argon2id verification
//! alone (what login spends hashing), the two refusals that must not tell each other
//! apart (an unknown email, a wrong password), and refresh (a rotation each
//! time, always presenting the newest refresh token). Through `auth::router` over the
//! memory store with the staging seed: no network, no emulator.
//!
//! `cargo bench -p auth-svc --bench auth`; p50/p99 land in
//! `target/bench/inprocess-auth.{md,json}` (scripts/bench.sh's names).

// The percentile recorder shared with shared/benches/pipeline.rs (this bench leaves part
// of it unused).
#[path = "../../../shared/benches/support/latency.rs"]
#[allow(dead_code)]
mod latency;

use std::{cell::RefCell, net::SocketAddr, path::Path, rc::Rc, sync::Arc, time::Duration};

use auth::{
    AuthConfig, AuthState,
    domain::{Email, password::Password},
    repo::{sessions, users},
};
use axum::{Router, body::Body, extract::ConnectInfo};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use criterion::{Criterion, SamplingMode};
use http::Request;
use latency::Latencies;
use serde_json::{Value, json};
use shared::{
    platform::ServiceState,
    store::{Store, memory::MemoryStore},
    tenant::TenantId,
    testing::{Reply, TestPlatform},
};

const PARTNER: &str = "partner@eventzr.com";
/// Unknown-email and wrong-password logins timed, alternately (~8 s).
const REFUSAL_PAIRS: usize = 200;

/// auth-svc with the staging tenants and accounts, as the API tests build it.
async fn app() -> (TestPlatform, AuthState, Router) {
    let tp = TestPlatform::new();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let svc = ServiceState {
        platform: tp.platform.clone(),
        store,
    };
    let state = AuthState::new(svc, AuthConfig::local());
    let now = shared::clock::rfc3339_millis(tp.platform.clock.now());
    auth::seed::staging(state.store(), &state.hasher, &now)
        .await
        .expect("seed");
    let router = auth::router(state.clone());
    (tp, state, router)
}

fn post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Serves `req` through a clone of `router`, reading the whole answer.
fn send(router: &Router, req: Request<Body>) -> impl Future<Output = Reply> + use<> {
    let router = router.clone();
    async move { shared::testing::send(&router, req).await }
}

fn data(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].clone()
}

/// The tenant, user and session (`tenantId`, `sub`, `sid`) of an access token.
fn session_of(access: &str) -> (TenantId, String, String) {
    let payload = access.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let s = |k: &str| claims[k].as_str().expect(k).to_owned();
    (TenantId::parse(&s("tenantId")).unwrap(), s("sub"), s("sid"))
}

fn main() {
    // The access log is formatted as in Lambda, then dropped.
    tracing::subscriber::set_global_default(shared::telemetry::subscriber(std::io::sink))
        .expect("subscriber");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_tp, state, router) = rt.block_on(app());
    let login_body = json!({ "email": PARTNER, "password": auth::seed::PASSWORD });
    // Warm (the signing keys load on first use) and open the session refresh rotates.
    let refresh = rt.block_on(async {
        let first = data(&send(&router, post("/auth/v1/login", &login_body)).await);
        let body = json!({ "refreshToken": first["refreshToken"] });
        let next = data(&send(&router, post("/auth/v1/refresh", &body)).await);
        next["refreshToken"].as_str().unwrap().to_owned()
    });
    let newest = Rc::new(RefCell::new(refresh));

    let mut c = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut lat = Latencies::default();

    // argon2id takes tens of milliseconds: few samples, each of a few logins.
    let mut g = c.benchmark_group("auth");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let store = state.store.clone();
    latency::bench_then(
        &mut g,
        &rt,
        &mut lat,
        ("login", "POST /auth/v1/login (password, argon2id)"),
        || send(&router, post("/auth/v1/login", &login_body)),
        // Each login opens a session: remove it, so every login meets the same account
        // (no growing session list, no eviction past the session limit).
        |reply| {
            let store = store.clone();
            async move {
                let access = data(&reply)["accessToken"].as_str().unwrap().to_owned();
                let (tenant, user, sid) = session_of(&access);
                sessions::delete(store.as_ref(), &tenant, &user, &sid)
                    .await
                    .expect("remove the session");
            }
        },
    );
    // What login spends in argon2id: one verification at the platform's parameters, as
    // login runs it (the partner's hash has them), alone.
    let hasher = state.hasher.clone();
    let candidate =
        Password::candidate(auth::seed::PASSWORD.to_owned(), "password").expect("seed password");
    latency::bench(
        &mut g,
        &rt,
        &mut lat,
        (
            "argon2id",
            "argon2id verification alone (login's password check)",
        ),
        || {
            let (hasher, candidate) = (hasher.clone(), candidate.clone());
            async move { hasher.verify_dummy(&candidate) }
        },
    );
    g.finish();

    // The two refusals (no user enumeration by timing), interleaved request by request so
    // both meet the same process and machine state: benched one after the other, the two
    // rows moved ~5 ms apart either way between runs (1.29x one way, 1.26x the other).
    // A new unknown email each time, as an enumeration would try them; the wrong
    // password's failure is cleared each time, so the account never locks. Each pair
    // comes from its own address: a client is refused after 100 failed sign-ins an hour
    // (repo::signin_limit), and both refusals read and count that client's failures.
    let partner = rt
        .block_on(users::by_email(
            store.as_ref(),
            &Email::parse(PARTNER).expect("email"),
        ))
        .expect("read")
        .expect("the partner account");
    let wrong_body = json!({ "email": PARTNER, "password": "Password123?" });
    // All of them in a test run too (`cargo test --bench auth`, which CI runs): the
    // per-client sign-in limit once stopped this loop at its 51st pair, unseen by CI.
    rt.block_on(async {
        for n in 0..REFUSAL_PAIRS {
            let email = format!("nobody-{n}@example.com");
            let unknown = json!({ "email": email, "password": auth::seed::PASSWORD });
            let client = ConnectInfo(SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 50000)));
            let from_client = |body: &Value| {
                let mut req = post("/auth/v1/login", body);
                req.extensions_mut().insert(client);
                req
            };
            latency::timed(
                1,
                lat.bench("login-unknown", "POST /auth/v1/login (unknown email: 401)"),
                &mut || send(&router, from_client(&unknown)),
                &mut |reply: Reply| {
                    assert_eq!(reply.status, 401);
                    async {}
                },
            )
            .await;
            latency::timed(
                1,
                lat.bench("login-wrong", "POST /auth/v1/login (wrong password: 401)"),
                &mut || send(&router, from_client(&wrong_body)),
                &mut |reply: Reply| {
                    assert_eq!(reply.status, 401);
                    let (store, partner) = (store.clone(), partner.clone());
                    async move {
                        users::clear_failures(store.as_ref(), &partner)
                            .await
                            .expect("clear the failure");
                    }
                },
            )
            .await;
        }
    });

    let mut g = c.benchmark_group("auth");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    latency::bench_then(
        &mut g,
        &rt,
        &mut lat,
        ("refresh", "POST /auth/v1/refresh (rotation)"),
        || {
            let body = json!({ "refreshToken": *newest.borrow() });
            send(&router, post("/auth/v1/refresh", &body))
        },
        |reply| {
            let next = data(&reply)["refreshToken"].as_str().unwrap().to_owned();
            *newest.borrow_mut() = next;
            async {}
        },
    );
    g.finish();
    c.final_summary();

    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/bench"));
    lat.write(dir, "auth", "");
}
