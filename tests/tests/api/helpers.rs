//! What the replay, drift and gateway tests share: where the workspace files are, the
//! event fixtures, each service's router over the memory store, and route patterns.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::Router;
use serde_json::Value;
use shared::{
    platform::ServiceState, service::Service, store::memory::MemoryStore, testing::TestPlatform,
};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `service`'s router with every route group (the local gateway's), over a fresh memory
/// store.
pub fn service_router(service: Service) -> Router {
    group_router(service, None)
}

/// `service`'s router as the Lambda function of route group `only` builds it (every
/// group: None), over a fresh memory store. analytics, reports and search have one group.
pub fn group_router(service: Service, only: Option<&str>) -> Router {
    let tp = TestPlatform::new();
    let state = ServiceState {
        platform: tp.platform.clone(),
        store: Arc::new(MemoryStore::new()),
    };
    match service {
        Service::Auth => {
            auth::group_router(auth::AuthState::new(state, auth::AuthConfig::local()), only)
        }
        Service::Analytics => analytics::router(state),
        Service::Reports => reports::router(state),
        Service::Notify => notify::group_router(
            notify::NotifyState::local(
                state,
                &notify::channels::local::Recorder::new(),
                shared::tenant_status::TenantRecords::new(Arc::new(MemoryStore::new())),
            ),
            only,
        ),
        Service::Search => search::router(state),
        Service::Gateway => panic!("the gateway is not a service with a router"),
    }
}

/// `(METHOD, path pattern)`, e.g. `("GET", "/search/v1/health")`; patterns use API
/// Gateway's `{param}` / `{proxy+}` segments, as template.yaml and `routeKey` do.
pub type Route = (String, String);

pub fn route_label((method, path): &Route) -> String {
    format!("{method} {path}")
}

/// One API Gateway HTTP API (payload 2.0) event of `events/<service>/<name>.json`.
pub struct EventFile {
    /// Relative to the workspace root, for messages.
    pub name: String,
    pub path: PathBuf,
    /// The service of the `<service>` folder.
    pub owner: Service,
    pub text: String,
    pub json: Value,
}

impl EventFile {
    /// The sidecar holding the expected response: `<name>.expect.json`.
    pub fn sidecar_path(&self) -> PathBuf {
        self.path.with_extension("expect.json")
    }

    /// `routeKey` split into a route (`None` when it is not `METHOD /path`).
    pub fn route(&self) -> Option<Route> {
        let key = self.json["routeKey"].as_str()?;
        let (method, path) = key.split_once(' ')?;
        Some((method.to_owned(), path.to_owned()))
    }
}

/// Every `*.json` under `events/` that is not an `*.expect.json` sidecar.
pub fn event_files() -> Vec<EventFile> {
    let root = workspace_root();
    json_files(&root.join("events"))
        .into_iter()
        .filter(|p| !is_sidecar(p))
        .map(|path| {
            let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
            let owner = owner_of(&root.join("events"), &path)
                .unwrap_or_else(|| panic!("{name}: events must live in events/<service>/ (auth, analytics, reports, notify, search)"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
            EventFile {
                name,
                path,
                owner,
                text,
                json,
            }
        })
        .collect()
}

/// Every `*.expect.json` under `events/`.
pub fn sidecar_files() -> Vec<PathBuf> {
    json_files(&workspace_root().join("events"))
        .into_iter()
        .filter(|p| is_sidecar(p))
        .collect()
}

fn is_sidecar(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".expect.json")
}

/// The service of `events/<service>/<file>`; `None` for any other layout.
fn owner_of(events: &Path, file: &Path) -> Option<Service> {
    let rel: Vec<_> = file.strip_prefix(events).ok()?.components().collect();
    match rel.as_slice() {
        [dir, _file] => Service::parse(dir.as_os_str().to_str()?),
        _ => None,
    }
}

/// Every `*.json` file under `dir`, recursively, sorted (so failures read the same every run).
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether a concrete request path matches an API Gateway path pattern: `{param}` takes
/// one non-empty segment, a final `{proxy+}` one or more.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    for (i, p) in pat.iter().enumerate() {
        if p.starts_with('{') && p.ends_with("+}") {
            return i == pat.len() - 1 && got.len() > i && got[i..].iter().all(|s| !s.is_empty());
        }
        let Some(g) = got.get(i) else { return false };
        let matches = if p.starts_with('{') && p.ends_with('}') {
            !g.is_empty()
        } else {
            p == g
        };
        if !matches {
            return false;
        }
    }
    pat.len() == got.len()
}

/// A concrete path for a pattern: every `{param}` / `{proxy+}` segment becomes `x`.
pub fn probe_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "x"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Lines naming the routes only in `left` and only in `right`, for a failure message.
pub fn set_diff(
    left_name: &str,
    left: &BTreeSet<Route>,
    right_name: &str,
    right: &BTreeSet<Route>,
) -> String {
    let mut out = String::new();
    for r in left.difference(right) {
        out.push_str(&format!(
            "  {:<40} in {left_name}, missing from {right_name}\n",
            route_label(r)
        ));
    }
    for r in right.difference(left) {
        out.push_str(&format!(
            "  {:<40} in {right_name}, missing from {left_name}\n",
            route_label(r)
        ));
    }
    out
}

#[test]
fn path_patterns_match_like_api_gateway() {
    assert!(path_matches("/search/v1/health", "/search/v1/health"));
    assert!(!path_matches("/search/v1/health", "/search/v1/health/x"));
    assert!(!path_matches("/search/v1/health", "/search/v1"));
    assert!(path_matches("/auth/v1/users/{id}", "/auth/v1/users/42"));
    assert!(!path_matches("/auth/v1/users/{id}", "/auth/v1/users/"));
    assert!(path_matches("/reports/v1/{proxy+}", "/reports/v1/a/b"));
    assert!(!path_matches("/reports/v1/{proxy+}", "/reports/v1"));
    assert_eq!(
        probe_path("/auth/v1/users/{id}/roles"),
        "/auth/v1/users/x/roles"
    );
}
