//! Test helpers for every crate's tests (feature `test-support`): a platform on local
//! backends with a generated signing key, and a token builder.

pub mod requests_table;

use std::sync::Arc;

use chrono::Duration;

use crate::{
    auth::{TokenClaims, keys::SigningKey},
    clock::{Clock, ManualClock},
    config::Config,
    mail::Outbox,
    platform::Platform,
    secrets::LocalSecrets,
    tenant::TenantId,
};

pub const T1: &str = "a0000001-0000-0000-0000-000000000001";
pub const T3: &str = "a0000003-0000-0000-0000-000000000003";
/// Where tests and the local gateway keep the private key set.
pub const PRIVATE_KEYS_SECRET_ID: &str = "local/eventzr/jwt-private-keys";

/// A local platform and the handles tests need to act on it.
#[derive(Clone)]
pub struct TestPlatform {
    pub platform: Platform,
    pub clock: ManualClock,
    pub secrets: LocalSecrets,
    pub outbox: Outbox,
    pub key: Arc<SigningKey>,
}

impl TestPlatform {
    pub fn new() -> Self {
        Self::with_config(Config::local())
    }

    pub fn with_config(config: Config) -> Self {
        let clock = ManualClock::starting_today_away_from_midnight();
        let key = Arc::new(SigningKey::generate("test-key-1").expect("rsa keygen"));
        let secrets = LocalSecrets::new();
        let jwks = crate::auth::keys::Jwks {
            keys: vec![key.public_jwk().clone()],
        };
        secrets.set(
            &config.jwt_public_keys_secret_id,
            serde_json::to_string(&jwks).unwrap(),
        );
        secrets.set(&config.cursor_secret_id, "test-cursor-key-0123456789abcdef");
        // The private set auth-svc signs with holds the same key.
        let private = serde_json::json!({
            "active": key.kid(),
            "keys": [{ "kid": key.kid(), "pem": key.to_pkcs8_pem() }],
        });
        secrets.set(PRIVATE_KEYS_SECRET_ID, private.to_string());
        let outbox = Outbox::new(config.mail_sender.clone());
        let platform = Platform::new(
            config,
            Arc::new(clock.clone()),
            Arc::new(secrets.clone()),
            Arc::new(outbox.clone()),
        );
        TestPlatform {
            platform,
            clock,
            secrets,
            outbox,
            key,
        }
    }

    /// Claims for a caller of T1 with `roles`, valid for 15 minutes from the test clock.
    pub fn claims(&self, roles: &[&str]) -> TokenClaims {
        let now = self.clock.epoch_seconds();
        TokenClaims {
            sub: "user-1".into(),
            tenant_id: T1.into(),
            email: "user@eventzr.com".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            plan_tier: "ENTERPRISE".into(),
            iat: now,
            exp: now + 900,
            nbf: None,
            iss: self.platform.config.jwt_issuer.clone(),
            aud: self.platform.config.jwt_audience.clone(),
            jti: crate::ids::random_id().to_string(),
            sid: Some("session-1".into()),
        }
    }

    /// Signs claims with the published test key.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        self.key.sign(claims).expect("sign")
    }

    /// A valid bearer token for a T1 caller with `roles`.
    pub fn token(&self, roles: &[&str]) -> String {
        self.sign(&self.claims(roles))
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by)
    }
}

impl Default for TestPlatform {
    fn default() -> Self {
        Self::new()
    }
}

pub fn t1() -> TenantId {
    TenantId::parse(T1).unwrap()
}
pub fn t3() -> TenantId {
    TenantId::parse(T3).unwrap()
}

/// Reads a response body as JSON.
pub async fn json_body(resp: axum::response::Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&bytes)))
}

/// The over-the-wire emulator endpoint (`AWS_ENDPOINT_URL`), or `None` after printing one
/// line saying the test was skipped. In CI (`CI` set) a missing endpoint is a failure:
/// the wire tests must run there.
pub fn emulator_endpoint(test: &str) -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "{test}: AWS_ENDPOINT_URL is not set, and CI must run the emulator tests (use scripts/test.sh)"
            );
            // Straight to the process's stderr: the test harness captures `eprintln!`
            // and shows it only for failing tests, which would hide the skip.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED {test}: AWS_ENDPOINT_URL is not set (run scripts/test.sh to start the emulator)"
            );
            None
        }
    }
}

/// The emulator's record of what it was sent (SES mail, SNS messages, …): moto's
/// `/moto-api/data.json`. Plain HTTP on loopback, never through a proxy.
pub async fn emulator_data(endpoint: &str) -> serde_json::Value {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("{endpoint}/moto-api/data.json")
        .parse()
        .expect("emulator endpoint is a URI");
    let resp = client.get(uri).await.expect("emulator data");
    assert!(
        resp.status().is_success(),
        "emulator data: {}",
        resp.status()
    );
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("emulator body")
        .to_bytes();
    serde_json::from_slice(&body).expect("emulator data is JSON")
}

/// SDK configuration for the emulator at `endpoint` (dummy credentials, us-east-1).
pub async fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "emulator",
        ))
        .load()
        .await
}

/// A request to `path`: a bearer `token`, `headers`, and a JSON `body` when given.
pub fn json_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
    headers: &[(&str, &str)],
) -> http::Request<axum::body::Body> {
    let mut req = http::Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    req.body(body).expect("a valid request")
}

/// Sends one request through a router and reads the whole response.
pub async fn send(router: &axum::Router, req: http::Request<axum::body::Body>) -> Reply {
    use tower::ServiceExt as _;
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        bytes,
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.bytes)))
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The fields a validation error names (`error.details.fields[].field`), in order.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["error"]["details"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no fields named: {}", self.json()))
            .iter()
            .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
    /// Asserts a status and error code, with the body in the failure message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert!(self.json()["data"].is_null());
    }
}

/// Tokens no honest signer would make, for attack tests.
pub mod forge {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    use serde_json::Value;

    use crate::auth::keys::SigningKey;

    /// A JWT from raw parts.
    pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string()),
            B64.encode(signature)
        )
    }

    /// `claims` signed RS256 by `key` under a header of our choosing.
    pub fn sign_as(key: &SigningKey, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let ek =
            jsonwebtoken::EncodingKey::from_rsa_pem(key.to_pkcs8_pem().as_bytes()).expect("pem");
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &ek, jsonwebtoken::Algorithm::RS256)
            .expect("sign");
        format!("{input}.{sig}")
    }
}

/// The log of a whole test binary, captured through the platform's subscriber.
pub mod logs {
    use std::{
        io::Write,
        sync::{Arc, Mutex, OnceLock},
    };

    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
        }
        /// Every line, parsed (the subscriber writes JSON lines).
        pub fn lines(&self) -> Vec<serde_json::Value> {
            self.text()
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON log line"))
                .collect()
        }
    }

    /// Installs the capture as the binary's global subscriber on first use. Global, because
    /// a thread-local default races with tracing's per-callsite interest cache while other
    /// tests run in parallel; tests find their own lines by request id.
    pub fn captured() -> &'static Captured {
        static CAPTURED: OnceLock<Captured> = OnceLock::new();
        CAPTURED.get_or_init(|| {
            let captured = Captured::default();
            let sink = captured.clone();
            tracing::subscriber::set_global_default(crate::telemetry::subscriber(move || {
                sink.clone()
            }))
            .expect("no other global subscriber in this test binary");
            captured
        })
    }
}
