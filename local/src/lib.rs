//! eventzr-local: every service's router in one process, at the same paths as API
//! Gateway, on the embedded store (or DynamoDB), with a dev signing key, the staging
//! tenants and accounts seeded and a mail outbox at `GET /_local/outbox`.

use std::{collections::HashMap, future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::{Request, State},
    response::Response,
    routing::get,
};
use shared::{
    Envelope,
    auth::keys::PrivateKeySet,
    clock::{Clock, SystemClock},
    config::Config,
    mail::{Outbox, SentMail},
    platform::{Platform, ServiceState},
    secrets::LocalSecrets,
    service::Service,
    store::{Store, dynamo::DynamoStore, memory::MemoryStore},
};
use tower::ServiceExt as _;

/// Which Store backend the gateway runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// The embedded in-memory store (default; nothing to install).
    Memory,
    /// DynamoDB at `AWS_ENDPOINT_URL` (an emulator, DynamoDB Local or AWS); tables are
    /// created when missing.
    Dynamodb,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub store: StoreKind,
    /// PEM/JSON private key set to load; generated (and written there) when missing.
    pub key_file: Option<PathBuf>,
    /// Also write every mail as JSON into this folder.
    pub outbox_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            store: StoreKind::Memory,
            key_file: None,
            outbox_dir: None,
        }
    }
}

/// The assembled gateway and the handles its tests use.
pub struct Gateway {
    pub router: Router,
    pub outbox: Outbox,
    pub keys: Arc<PrivateKeySet>,
    pub platform: Platform,
    pub stores: HashMap<Service, Arc<dyn Store>>,
    /// SMS and push messages notify-svc sent.
    pub messages: notify::channels::local::Recorder,
    /// notify-svc's state (the binary runs its dispatcher on a timer).
    pub notify: notify::NotifyState,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("signing key: {0}")]
    Key(String),
    #[error("store: {0}")]
    Store(#[from] shared::store::StoreError),
    #[error("seeding: {0}")]
    Seed(String),
}

/// The private key set: loaded from `path` if it exists, else generated (and saved there).
fn load_or_generate_keys(path: Option<&PathBuf>) -> Result<PrivateKeySet, GatewayError> {
    if let Some(p) = path
        && p.exists()
    {
        let json = std::fs::read_to_string(p).map_err(|e| GatewayError::Key(e.to_string()))?;
        return PrivateKeySet::parse(&json).map_err(|e| GatewayError::Key(e.to_string()));
    }
    let set = PrivateKeySet::generate().map_err(|e| GatewayError::Key(e.to_string()))?;
    if let Some(p) = path {
        write_private(p, &set.to_json()).map_err(|e| GatewayError::Key(e.to_string()))?;
    }
    Ok(set)
}

/// Private keys go to a new file readable by its owner only (0600), never over an
/// existing one.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path)?.write_all(text.as_bytes())
}

pub async fn build(opts: &Options) -> Result<Gateway, GatewayError> {
    let config = Config::local();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = Arc::new(load_or_generate_keys(opts.key_file.as_ref())?);

    // The services read the public set exactly as in AWS: a secret, by id.
    let secrets = LocalSecrets::new();
    secrets.set(
        &config.jwt_public_keys_secret_id,
        serde_json::to_string(&keys.public_set()).unwrap_or_default(),
    );
    secrets.set("local/eventzr/jwt-private-keys", keys.to_json());
    secrets.set(&config.cursor_secret_id, shared::ids::random_token());
    // notify's dispatcher key: `EVENTZR_INTERNAL_API_KEY` when set (to call
    // `POST /notify/v1/jobs/dispatch` by hand), else random (the gateway runs the
    // dispatcher itself, as the schedule does in AWS).
    secrets.set(
        &notify::NotifyConfig::local().internal_api_key_secret_id,
        std::env::var("EVENTZR_INTERNAL_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(shared::ids::random_token),
    );

    let mut outbox = Outbox::new(config.mail_sender.clone());
    if let Some(dir) = &opts.outbox_dir {
        outbox = outbox.with_dir(dir);
    }
    let platform = Platform::new(
        config.clone(),
        clock.clone(),
        Arc::new(secrets),
        Arc::new(outbox.clone()),
    );

    let mut stores: HashMap<Service, Arc<dyn Store>> = HashMap::new();
    let sdk = match opts.store {
        StoreKind::Dynamodb => Some(shared::platform::sdk_config().await),
        StoreKind::Memory => None,
    };
    for svc in Service::ALL {
        let store: Arc<dyn Store> = match &sdk {
            None => Arc::new(MemoryStore::new()),
            Some(sdk) => {
                let client = aws_sdk_dynamodb::Client::new(sdk);
                let table = config.table_for(svc);
                shared::store::dynamo::ensure_table(&client, &table).await?;
                Arc::new(DynamoStore::new(client, table))
            }
        };
        stores.insert(svc, store);
    }

    let auth_state = auth::AuthState::new(
        ServiceState {
            platform: platform.clone(),
            store: stores[&Service::Auth].clone(),
        },
        local_auth_config(),
    );
    let now = shared::clock::rfc3339_millis(clock.now());
    let seeded = auth::seed::staging(auth_state.store(), &auth_state.hasher, &now)
        .await
        .map_err(|e| GatewayError::Seed(e.to_string()))?;
    tracing::info!(
        tenants = seeded.tenants,
        accounts = seeded.accounts,
        "seeded the staging tenants and accounts"
    );

    // SMS and push messages notify-svc would have sent (`GET /_local/messages`).
    let notify_recorder = notify::channels::local::Recorder::new();
    // notify reads tenant status from auth's records, as it does in AWS.
    let notify_state = notify::NotifyState::local(
        ServiceState {
            platform: platform.clone(),
            store: stores[&Service::Notify].clone(),
        },
        &notify_recorder,
        shared::tenant_status::TenantRecords::new(stores[&Service::Auth].clone()),
    );
    let routers: HashMap<Service, Router> = Service::ALL
        .into_iter()
        .map(|svc| {
            let state = ServiceState {
                platform: platform.clone(),
                store: stores[&svc].clone(),
            };
            let router = match svc {
                Service::Auth => auth::router(auth_state.clone()),
                Service::Analytics => analytics::router(state),
                Service::Reports => reports::router(state),
                Service::Notify => notify::router(notify_state.clone()),
                Service::Search => search::router(state),
                Service::Gateway => unreachable!("not a service"),
            };
            (svc, router)
        })
        .collect();

    let own = shared::http::finish_gateway(
        Router::new()
            .route("/_local/outbox", get(list_outbox))
            .route("/openapi.json", get(merged_openapi))
            .with_state(outbox.clone())
            .route("/_local/messages", get(list_messages))
            .with_state(notify_recorder.clone())
            .merge(shared::docs::routes("/docs")),
        clock,
    );
    let dispatch = Arc::new(Dispatch { routers, own });
    let router = Router::new().fallback(route).with_state(dispatch);
    Ok(Gateway {
        router,
        outbox,
        keys,
        platform,
        stores,
        messages: notify_recorder,
        notify: notify_state,
    })
}

/// auth's local settings. `LINK_BASE_URL`, `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGIN`, as in
/// AWS, point mail links, allowed redirects and passkeys at a front end's dev server
/// (e.g. `http://localhost:5173`); the rest stays local.
fn local_auth_config() -> auth::AuthConfig {
    let local = auth::AuthConfig::local();
    let env = |name: &str, default: String| std::env::var(name).unwrap_or(default);
    auth::AuthConfig {
        link_base_url: env("LINK_BASE_URL", local.link_base_url.clone()),
        webauthn_rp_id: env("WEBAUTHN_RP_ID", local.webauthn_rp_id.clone()),
        webauthn_origin: env("WEBAUTHN_ORIGIN", local.webauthn_origin.clone()),
        ..local
    }
}

/// Serves `router` on `listener` until `shutdown` completes. Each request carries its
/// connection's peer address (`ConnectInfo`): auth records it as a session's ip, as it
/// records API Gateway's `sourceIp` in AWS, rather than anything the client claims.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

struct Dispatch {
    routers: HashMap<Service, Router>,
    own: Router,
}

/// API Gateway routes by path; so do we: `/<svc>/…` goes to that service's router.
async fn route(State(d): State<Arc<Dispatch>>, req: Request) -> Response {
    let router = Service::for_path(req.uri().path())
        .and_then(|s| d.routers.get(&s))
        .unwrap_or(&d.own)
        .clone();
    match router.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// `GET /openapi.json`: every service's document in one.
async fn merged_openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(shared::openapi::merge([
        auth::openapi::document(),
        analytics::openapi(),
        reports::openapi(),
        notify::openapi(),
        search::openapi(),
    ]))
}

/// `GET /_local/messages`: every SMS and push message notify-svc sent since start.
async fn list_messages(
    State(recorder): State<notify::channels::local::Recorder>,
) -> Envelope<Vec<notify::channels::local::Recorded>> {
    Envelope::ok(recorder.sent())
}

/// `GET /_local/outbox`: every mail sent since start, oldest first.
async fn list_outbox(State(outbox): State<Outbox>) -> Envelope<Vec<SentMail>> {
    Envelope::ok(outbox.sent())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_file_is_private_and_loads_back_the_same_set() {
        let dir = std::env::temp_dir().join(format!("eventzr-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let made = load_or_generate_keys(Some(&path)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = load_or_generate_keys(Some(&path)).unwrap();
        assert_eq!(loaded.active_key().kid(), made.active_key().kid());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_mis_shaped_key_file_is_refused_without_quoting_it() {
        let dir = std::env::temp_dir().join(format!("eventzr-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let pem = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----";
        std::fs::write(&path, format!(r#"{{"active": "k1", "keys": "{pem}"}}"#)).unwrap();
        let e = load_or_generate_keys(Some(&path)).err().expect("refused");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!e.to_string().contains("MIIEvQ"), "{e}");
    }

    /// The gateway served on a free loopback port: its base URL, the sender that stops it,
    /// and the server's task.
    async fn serving() -> (
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        let gateway = build(&Options::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, gateway.router, async {
            let _ = stopped.await;
        }));
        (base, stop, server)
    }

    #[tokio::test]
    async fn a_session_records_the_peer_address_not_x_forwarded_for() {
        let (base, stop, server) = serving().await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();

        let login: serde_json::Value = client
            .post(format!("{base}/auth/v1/login"))
            .header("x-forwarded-for", "203.0.113.66")
            .json(
                &serde_json::json!({"email": "user@eventzr.com", "password": auth::seed::PASSWORD}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["data"]["accessToken"].as_str().expect("signed in");
        let sessions: serde_json::Value = client
            .get(format!("{base}/auth/v1/sessions"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let _ = stop.send(());
        server.await.unwrap().unwrap();

        assert_eq!(sessions["data"][0]["ip"], "127.0.0.1", "{sessions}");
    }

    /// The wiring of auth's published account records to notify: an account the admin
    /// suspends, then deletes, gets no in-app message, saying why.
    #[tokio::test]
    async fn notify_sends_nothing_in_app_to_an_account_auth_suspended_or_deleted() {
        use serde_json::{Value, json};
        let (base, stop, server) = serving().await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
            let mut req = client
                .request(method, format!("{base}{path}"))
                .bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let login = |email: &'static str| {
            let req = client
                .post(format!("{base}/auth/v1/login"))
                .json(&json!({"email": email, "password": auth::seed::PASSWORD}));
            async move {
                let r: Value = req.send().await.unwrap().json().await.unwrap();
                r["data"]["accessToken"].as_str().unwrap().to_owned()
            }
        };
        let (admin, organizer) = (
            login("admin@eventzr.com").await,
            login("organizer@eventzr.com").await,
        );
        let user = auth::seed::STAGING_ACCOUNTS
            .iter()
            .find(|a| a.email == "user@eventzr.com")
            .unwrap()
            .id;
        let in_app_outcome = || {
            let body = json!({
                "channels": ["in_app"],
                "recipients": [{"userId": user}],
                "content": {"subject": "Doors open", "text": "Hall B"},
                "category": "reminder",
            });
            let send = call(
                reqwest::Method::POST,
                "/notify/v1/send",
                &organizer,
                Some(body),
            );
            async move {
                let (status, r) = send.await;
                assert_eq!(status, 202, "{r}");
                let d = &r["data"]["deliveries"][0];
                (d["status"].clone(), d["detail"].clone())
            }
        };
        assert_eq!(in_app_outcome().await.0, "delivered");
        let path = format!("/auth/v1/users/{user}");
        let suspend = Some(json!({"status": "suspended"}));
        let (status, r) = call(reqwest::Method::PATCH, &path, &admin, suspend).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            in_app_outcome().await,
            (json!("skipped"), json!("account suspended"))
        );
        let (status, r) = call(reqwest::Method::DELETE, &path, &admin, None).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            in_app_outcome().await,
            (json!("skipped"), json!("account deleted"))
        );
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
