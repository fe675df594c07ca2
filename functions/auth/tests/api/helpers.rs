//! A seeded auth-svc over any store, with the handles tests act on: the router, the
//! test clock, the outbox, the signing key.

use std::sync::Arc;

use auth::{AuthConfig, AuthState};
use axum::{Router, body::Body};
use http::Request;
use serde_json::{Value, json};
use shared::{
    mail::Mailer,
    platform::ServiceState,
    store::{Store, memory::MemoryStore},
    testing::{Reply, TestPlatform, emulator_endpoint, emulator_sdk_config},
};

pub use auth::seed::{DEV_TOTP_SECRET, PASSWORD};

/// An answer carrying a token (or another secret) forbids caching it (RFC 6749 §5.1).
#[track_caller]
pub fn assert_not_cached(r: &Reply) {
    assert_eq!(
        (r.header("cache-control"), r.header("pragma")),
        (Some("no-store"), Some("no-cache")),
        "status {}",
        r.status
    );
}

pub struct TestAuth {
    pub tp: TestPlatform,
    pub state: AuthState,
    pub router: Router,
}

impl TestAuth {
    /// auth-svc with the staging tenants and accounts on a fresh store: the memory store,
    /// or a fresh DynamoDB table on the emulator when `EVENTZR_TEST_STORE=dynamodb`
    /// (scripts/test.sh runs the whole suite both ways).
    pub async fn new() -> Self {
        if std::env::var("EVENTZR_TEST_STORE").as_deref() == Ok("dynamodb") {
            return Self::on_dynamodb("auth suite on DynamoDB")
                .await
                .expect("EVENTZR_TEST_STORE=dynamodb needs the emulator (AWS_ENDPOINT_URL)");
        }
        Self::with_store(Arc::new(MemoryStore::new())).await
    }

    pub async fn with_store(store: Arc<dyn Store>) -> Self {
        Self::with_parts(store, None).await
    }

    /// Over `store`, sending mail through `mailer` instead of the outbox (e.g. SES on
    /// the emulator) when one is given.
    pub async fn with_parts(store: Arc<dyn Store>, mailer: Option<Arc<dyn Mailer>>) -> Self {
        let mut tp = TestPlatform::new();
        if let Some(mailer) = mailer {
            tp.platform.mailer = mailer;
        }
        let state = AuthState::new(
            ServiceState {
                platform: tp.platform.clone(),
                store,
            },
            AuthConfig::local(),
        );
        let now = shared::clock::rfc3339_millis(tp.platform.clock.now());
        auth::seed::staging(state.store(), &state.hasher, &now)
            .await
            .expect("seed");
        let router = auth::router(state.clone());
        TestAuth { tp, state, router }
    }

    /// auth-svc on a fresh table of the emulator, or None (one SKIPPED line) without it.
    pub async fn on_dynamodb(test: &str) -> Option<Self> {
        let endpoint = emulator_endpoint(test)?;
        let sdk = emulator_sdk_config(&endpoint).await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("auth-test-{}", uuid::Uuid::new_v4().simple());
        shared::store::dynamo::ensure_table(&client, &table)
            .await
            .expect("table");
        Some(
            Self::with_store(Arc::new(shared::store::dynamo::DynamoStore::new(
                client, table,
            )))
            .await,
        )
    }

    /// The same service with other settings (e.g. OAuth providers). The token issuer
    /// keeps the settings it was built with, so derive `cfg` from `AuthConfig::local()`.
    pub fn with_config(mut self, cfg: AuthConfig) -> Self {
        self.state.cfg = Arc::new(cfg);
        self.router = auth::router(self.state.clone());
        self
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        shared::testing::send(&self.router, req).await
    }

    /// `req` as if it came from `ip` (the local gateway's peer address; in Lambda, API
    /// Gateway's `sourceIp`): what the per-client caps count.
    pub async fn send_from(
        &self,
        ip: impl Into<std::net::IpAddr>,
        mut req: Request<Body>,
    ) -> Reply {
        let peer = std::net::SocketAddr::from((ip.into(), 40_000));
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        self.send(req).await
    }

    /// `POST /login` from `ip`.
    pub async fn login_from(
        &self,
        ip: impl Into<std::net::IpAddr>,
        email: &str,
        password: &str,
    ) -> Reply {
        let body = serde_json::json!({"email": email, "password": password});
        let req = Request::post("/auth/v1/login")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send_from(ip, req).await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("GET", path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.call("POST", path, token, Some(body)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/auth/v1/login",
            None,
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// The session of these tokens has ended: the access token is refused as revoked,
    /// and the refresh token refreshes nothing.
    pub async fn assert_session_ended(&self, access: &str, refresh: &str) {
        self.get("/auth/v1/profile", Some(access))
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
        let refreshed = self
            .post("/auth/v1/refresh", None, &json!({"refreshToken": refresh}))
            .await;
        assert_eq!(
            refreshed.status,
            401,
            "{}",
            String::from_utf8_lossy(&refreshed.bytes)
        );
    }

    /// The subjects of the mails sent to `to`, oldest first.
    pub fn subjects_to(&self, to: &str) -> Vec<String> {
        self.tp
            .outbox
            .sent_to(to)
            .into_iter()
            .map(|m| m.mail.subject)
            .collect()
    }

    /// Logs a staging account in; returns (access token, refresh token).
    pub async fn tokens(&self, email: &str) -> (String, String) {
        let r = self.login(email, PASSWORD).await;
        assert_eq!(
            r.status,
            200,
            "login {email}: {}",
            String::from_utf8_lossy(&r.bytes)
        );
        let d = &r.json()["data"];
        (
            d["accessToken"].as_str().expect("accessToken").to_owned(),
            d["refreshToken"].as_str().expect("refreshToken").to_owned(),
        )
    }

    /// The kinds of `tenant`'s audit events this month, oldest first.
    pub async fn audit_kinds(&self, tenant: &str) -> Vec<String> {
        let month = self.state.now().format("%Y-%m").to_string();
        let t = shared::tenant::TenantId::parse(tenant).unwrap();
        let pk = shared::store::tenant_pk(&t, &["AUDIT", &month]);
        let query = shared::store::Query::partition(pk);
        let page = self.state.store().query(query).await.unwrap();
        page.items
            .iter()
            .filter_map(|i| i.get_s("kind").map(str::to_owned))
            .collect()
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.tp.advance(by)
    }

    /// The platform (the system account) sets `tenant`'s status (`active`, `suspended`).
    pub async fn set_tenant_status(&self, tenant: &str, status: &str) {
        let system = self.tokens("system@eventzr.com").await.0;
        let path = format!("/auth/v1/tenants/{tenant}");
        let body = serde_json::json!({ "status": status });
        let r = self.call("PATCH", &path, Some(&system), Some(&body)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    }
}

/// Follows `…/<page>?token=<token>` in a mail body.
pub fn token_in(body: &str, page: &str) -> String {
    let marker = format!("/{page}?token=");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {page} link in: {body}"))
        + marker.len();
    body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The token of the last link to `page` mailed to `to`.
pub fn mailed_token(app: &TestAuth, to: &str, page: &str) -> String {
    let mails = app.tp.outbox.sent_to(to);
    let mail = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
    token_in(&mail.mail.text, page)
}

/// Signs up as `email` with the invite `token` (a new password, a plain name).
pub async fn accept_invite(app: &TestAuth, email: &str, token: &str) -> Reply {
    let body = json!({"email": email, "password": "a brand new passphrase",
        "name": "New Hire", "inviteToken": token});
    app.post("/auth/v1/signup/email", None, &body).await
}

/// The id of a staging account (auth::seed).
pub fn id_of(email: &str) -> &'static str {
    auth::seed::STAGING_ACCOUNTS
        .iter()
        .find(|a| a.email == email)
        .map(|a| a.id)
        .expect("a staging account")
}
