//! Route groups: each service's routes are split into groups, one Lambda function each
//! (template.yaml sets `ROUTE_GROUP`). A function builds only its own group's routes:
//! API Gateway sends it nothing else and its IAM allows nothing else, while building a
//! whole service's routers is a measurable share of a cold start (auth: ~0.5 ms for all
//! its routes, 0.1-0.25 ms for one group's; BENCHMARKS.md).
//! Without `ROUTE_GROUP` (the local gateway, `cargo lambda watch`, tests) every group is
//! served.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use http::{HeaderValue, Method, header};

use crate::{config::ConfigError, error::ApiError};

/// A service's `ROUTE_GROUPS`: each group's name and its (METHOD, path) routes.
pub type RouteGroups = [(&'static str, &'static [(&'static str, &'static str)])];

/// Builds one group's routes (on the service's state, before it is applied).
pub type GroupRouter<S> = fn(&S) -> Router<S>;

/// The group whose routes `health_group` serves, in every service.
pub const HEALTH: &str = "health";

/// The group this function serves: `ROUTE_GROUP`, which must name one of `groups`;
/// None when it is unset or blank (every group).
pub fn from_env(groups: &RouteGroups) -> Result<Option<&'static str>, ConfigError> {
    pick(std::env::var("ROUTE_GROUP").ok().as_deref(), groups)
}

fn pick(value: Option<&str>, groups: &RouteGroups) -> Result<Option<&'static str>, ConfigError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match groups.iter().find(|(name, _)| *name == value) {
        Some((name, _)) => Ok(Some(name)),
        None => Err(ConfigError::new(format!(
            "ROUTE_GROUP={value} is none of this service's route groups ({})",
            groups
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Whether a function serving `only` (None: every group) serves `group`.
pub fn serves(only: Option<&str>, group: &str) -> bool {
    only.is_none_or(|g| g == group)
}

/// The routers of the groups a function serves, merged (the health group's is the
/// caller's: it comes with its state applied).
pub fn merge<S: Clone + Send + Sync + 'static>(
    only: Option<&str>,
    state: &S,
    routers: &[(&str, GroupRouter<S>)],
) -> Router<S> {
    routers
        .iter()
        .filter(|(group, _)| serves(only, group))
        .fold(Router::new(), |all, (_, build)| all.merge(build(state)))
}

/// `router`, serving only group `only`, leaves to [`unmatched`] the requests for another
/// group's route that one of its own `{param}` routes would take: auth's admin group
/// serves `GET /auth/v1/tenants/{tenantId}`, its session group `GET
/// /auth/v1/tenants/current`. API Gateway sends each such request to the other group's
/// function (a literal segment beats a path variable), and a router of every group
/// prefers the literal route too (matchit); alone, the admin function would answer
/// `current` as a tenant id. `router` is returned as it is when nothing overlaps (or
/// `only` is None: every group served).
pub fn yield_to_other_groups(
    router: Router,
    only: Option<&str>,
    groups: &'static RouteGroups,
) -> Router {
    let Some((_, own)) = groups.iter().find(|(name, _)| Some(*name) == only) else {
        return router;
    };
    let taken: Vec<(&'static str, &'static str)> = groups
        .iter()
        .filter(|(name, _)| Some(*name) != only)
        .flat_map(|(_, routes)| routes.iter().copied())
        .filter(|&(method, theirs)| {
            own.iter()
                .any(|&(m, mine)| m == method && mine != theirs && path_matches(mine, theirs))
        })
        .collect();
    if taken.is_empty() {
        return router;
    }
    let yielded = Yielded {
        groups,
        routes: taken.into(),
    };
    router.route_layer(middleware::from_fn_with_state(yielded, yield_request))
}

/// What [`yield_to_other_groups`] leaves to [`unmatched`]: other groups' routes.
#[derive(Clone)]
struct Yielded {
    groups: &'static RouteGroups,
    routes: Arc<[(&'static str, &'static str)]>,
}

async fn yield_request(State(y): State<Yielded>, req: Request, next: Next) -> Response {
    // HEAD is served by a GET route.
    let method = match req.method() {
        &Method::HEAD => Method::GET,
        m => m.clone(),
    };
    let path = req.uri().path();
    if y.routes
        .iter()
        .any(|&(m, theirs)| m == method.as_str() && path_matches(theirs, path))
    {
        return unmatched(y.groups, req.method(), path);
    }
    next.run(req).await
}

/// The answer to a request no route of this function serves: 405 with `Allow` when a
/// route of the service (any group) has its path, else 404. In AWS each service's
/// catch-all route (`ANY /<svc>/v1/{proxy+}`) sends what matches no other route to its
/// health function, which serves only its own group: without this, a wrong method on
/// another group's path was a 404 there and a 405 locally.
pub fn unmatched(groups: &RouteGroups, method: &Method, path: &str) -> Response {
    let mut allow: Vec<&str> = groups
        .iter()
        .flat_map(|(_, routes)| routes.iter())
        .filter(|(_, template)| path_matches(template, path))
        .map(|(m, _)| *m)
        .collect();
    if allow.is_empty() {
        return ApiError::route_not_found().into_response();
    }
    // As axum's own 405 does, GET implies HEAD — except when HEAD is what was refused
    // (another group's GET: this function cannot run it).
    if allow.contains(&"GET") && method != Method::HEAD {
        allow.push("HEAD");
    }
    allow.sort_unstable();
    allow.dedup();
    let mut resp = ApiError::method_not_allowed().into_response();
    if let Ok(v) = HeaderValue::from_str(&allow.join(",")) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// Whether `path` is an instance of `template` (API Gateway's `{param}` segments match
/// one non-empty segment each).
fn path_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &RouteGroups = &[
        (HEALTH, &[("GET", "/x/v1/health")]),
        ("send", &[("POST", "/x/v1/send")]),
    ];

    #[test]
    fn an_unset_or_blank_group_serves_everything_and_a_known_one_itself() {
        assert_eq!(pick(None, GROUPS).unwrap(), None);
        assert_eq!(pick(Some("  "), GROUPS).unwrap(), None);
        assert_eq!(pick(Some("send"), GROUPS).unwrap(), Some("send"));
        assert!(serves(None, "send") && serves(Some("send"), "send"));
        assert!(!serves(Some(HEALTH), "send"));
    }

    #[test]
    fn an_unmatched_request_is_405_on_a_known_path_and_404_elsewhere() {
        const ROUTES: &RouteGroups = &[
            (HEALTH, &[("GET", "/x/v1/health")]),
            (
                "users",
                &[
                    ("GET", "/x/v1/users/{userId}"),
                    ("PATCH", "/x/v1/users/{userId}"),
                ],
            ),
        ];
        let r = unmatched(ROUTES, &Method::DELETE, "/x/v1/users/u-1");
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET,HEAD,PATCH");
        let r = unmatched(ROUTES, &Method::HEAD, "/x/v1/users/u-1");
        assert_eq!(r.headers()["allow"], "GET,PATCH");
        for path in [
            "/x/v1/users",
            "/x/v1/users/",
            "/x/v1/users/u-1/x",
            "/x/v1/nope",
        ] {
            assert_eq!(
                unmatched(ROUTES, &Method::GET, path).status(),
                404,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn one_group_alone_leaves_another_group_s_literal_route_to_unmatched() {
        use axum::{body::Body, routing::get};
        use tower::ServiceExt as _;
        const ROUTES: &RouteGroups = &[
            ("session", &[("GET", "/x/v1/things/current")]),
            (
                "admin",
                &[
                    ("GET", "/x/v1/things/{thingId}"),
                    ("PATCH", "/x/v1/things/{thingId}"),
                ],
            ),
        ];
        let admin = Router::new().route(
            "/x/v1/things/{thingId}",
            get(|| async { "a thing" }).patch(|| async { "patched" }),
        );
        let status = async |router: &Router, method: Method, path: &str| {
            let req = http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let resp = router.clone().oneshot(req).await.unwrap();
            (
                resp.status().as_u16(),
                resp.headers().get(header::ALLOW).cloned(),
            )
        };
        let alone = yield_to_other_groups(admin.clone(), Some("admin"), ROUTES);
        let allow = Some(HeaderValue::from_static("GET,HEAD,PATCH"));
        assert_eq!(
            status(&alone, Method::GET, "/x/v1/things/current").await,
            (405, allow.clone())
        );
        assert_eq!(
            status(&alone, Method::HEAD, "/x/v1/things/current").await.0,
            405
        );
        // What API Gateway does send the admin function still reaches it.
        assert_eq!(
            status(&alone, Method::GET, "/x/v1/things/t-1").await,
            (200, None)
        );
        assert_eq!(
            status(&alone, Method::PATCH, "/x/v1/things/current").await,
            (200, None)
        );
        // Serving every group (or nothing overlapping), the router is left as it is.
        let all = yield_to_other_groups(admin.clone(), None, ROUTES);
        assert_eq!(
            status(&all, Method::GET, "/x/v1/things/current").await,
            (200, None)
        );
        let session = Router::new().route("/x/v1/things/current", get(|| async { "mine" }));
        let session = yield_to_other_groups(session, Some("session"), ROUTES);
        assert_eq!(
            status(&session, Method::GET, "/x/v1/things/current").await,
            (200, None)
        );
    }

    #[test]
    fn an_unknown_group_is_a_configuration_error_naming_the_known_ones() {
        let e = pick(Some("sned"), GROUPS).unwrap_err().to_string();
        assert_eq!(
            e,
            "configuration: ROUTE_GROUP=sned is none of this service's route groups \
             (health, send)"
        );
    }
}
