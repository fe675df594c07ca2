//! Route drift: the routes template.yaml declares to API Gateway, the routes the service
//! routers serve and the routes events/ covers must be the same set.
//!
//! axum has no public route listing, so each service crate declares `ROUTE_GROUPS`, and this
//! test holds that table to what its router answers: every declared route is served
//! (a probe with `{params}` as `x` reaches neither the fallback nor 405) and no other
//! method is served on a declared path. A `.route()` on a path missing from the table
//! itself stays invisible to the probe; keeping each group's `ROUTES` beside its `router()` is the guard.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::{Router, body::Body, http::Request, http::StatusCode};
use shared::{ApiError, route_groups::RouteGroups, service::Service, testing::json_body};
use tower::ServiceExt as _;
use yaml_rust2::{Yaml, YamlLoader};

use crate::helpers::{
    Route, event_files, group_router, path_matches, probe_path, route_label, service_router,
    set_diff, workspace_root,
};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// An `HttpApi` event of a function in template.yaml.
struct TemplateRoute {
    route: Route,
    /// `Metadata.BuildProperties.Binary` of the function declaring it.
    binary: Option<String>,
    /// `Properties.Environment.Variables.ROUTE_GROUP` of that function.
    group: Option<String>,
    /// `<Function>.<Event>`, for messages.
    origin: String,
}

/// Every `Type: HttpApi` event of template.yaml's resources.
///
/// yaml-rust2 0.13 accepts CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`, `!If`,
/// …) as local tags and drops the tag: `!Ref HttpApi` loads as the string "HttpApi",
/// `!If [a, b, c]` as the array. So the text needs no preprocessing; the other side of
/// it is that an intrinsic in `Method`/`Path` would load as a plain string, which the
/// method and path checks below refuse (the template's conventions forbid them there).
fn template_routes() -> Result<Vec<TemplateRoute>, Vec<String>> {
    template_events().map(|(routes, _)| routes)
}

/// A service's catch-all path: `/<svc>/v1/{proxy+}`.
fn is_unmatched_path(p: &str) -> bool {
    p.strip_suffix("/v1/{proxy+}")
        .and_then(|svc| svc.strip_prefix('/'))
        .is_some_and(|svc| !svc.is_empty() && !svc.contains('/'))
}

/// The template's routes, and apart from them its catch-alls (`ANY /<svc>/v1/{proxy+}`).
fn template_events() -> Result<(Vec<TemplateRoute>, Vec<TemplateRoute>), Vec<String>> {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("template.yaml is not YAML: {e}"));
    let resources = docs
        .first()
        .and_then(|d| d["Resources"].as_hash())
        .expect("template.yaml has Resources");

    let mut routes = Vec::new();
    let mut unmatched = Vec::new();
    let mut errors = Vec::new();
    for (name, resource) in resources {
        let name = name.as_str().unwrap_or("?");
        let Some(events) = resource["Properties"]["Events"].as_hash() else {
            continue;
        };
        for (event_name, event) in events {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let origin = format!("{name}.{}", event_name.as_str().unwrap_or("?"));
            let props = &event["Properties"];
            let method = props["Method"].as_str().map(str::to_ascii_uppercase);
            let path = props["Path"].as_str().map(str::to_owned);
            match (method, path) {
                (Some(m), Some(p)) if m == "ANY" && is_unmatched_path(&p) => unmatched.push(TemplateRoute {
                    route: (m, p),
                    binary: str_at(resource, &["Metadata", "BuildProperties", "Binary"]),
                    group: str_at(resource, &["Properties", "Environment", "Variables", "ROUTE_GROUP"]),
                    origin,
                }),
                (Some(m), Some(p)) if METHODS.contains(&m.as_str()) && p.starts_with('/') && !p.contains('$') => {
                    routes.push(TemplateRoute {
                        route: (m, p),
                        binary: str_at(resource, &["Metadata", "BuildProperties", "Binary"]),
                        group: str_at(
                            resource,
                            &["Properties", "Environment", "Variables", "ROUTE_GROUP"],
                        ),
                        origin,
                    })
                }
                (m, p) => errors.push(format!(
                    "{origin}: HttpApi event needs a literal Method (one of {METHODS:?}) and Path (/…), found Method {m:?}, Path {p:?}"
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok((routes, unmatched))
    } else {
        Err(errors)
    }
}

fn str_at(node: &Yaml, keys: &[&str]) -> Option<String> {
    keys.iter()
        .fold(node, |n, k| &n[*k])
        .as_str()
        .map(str::to_owned)
}

/// Whether `service`'s router serves `route`: neither its fallback (404 "no such route")
/// nor 405 answers it. Any other answer (401, 400, 404 of a missing resource…) means a
/// handler matched.
async fn is_served(routers: &HashMap<Service, Router>, route: &Route) -> Result<bool, String> {
    let router = Service::for_path(&route.1)
        .and_then(|s| routers.get(&s))
        .ok_or_else(|| format!("{}: the path is under no service", route_label(route)))?;
    served_by(router, route).await
}

/// Whether `router` serves `route` (see [`is_served`]).
async fn served_by(router: &Router, route: &Route) -> Result<bool, String> {
    let (method, pattern) = route;
    let req = Request::builder()
        .method(method.as_str())
        .uri(probe_path(pattern))
        .body(Body::empty())
        .map_err(|e| format!("{}: {e}", route_label(route)))?;
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|never| match never {});
    Ok(match resp.status() {
        StatusCode::METHOD_NOT_ALLOWED => false,
        StatusCode::NOT_FOUND => {
            json_body(resp).await["error"]["message"] != *ApiError::route_not_found().message
        }
        _ => true,
    })
}

const PROBED_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Each service and its crate's `ROUTE_GROUPS`.
fn groups_by_service() -> [(Service, &'static RouteGroups); 5] {
    [
        (Service::Auth, auth::ROUTE_GROUPS),
        (Service::Analytics, analytics::ROUTE_GROUPS),
        (Service::Reports, reports::ROUTE_GROUPS),
        (Service::Notify, notify::ROUTE_GROUPS),
        (Service::Search, search::ROUTE_GROUPS),
    ]
}

/// A Lambda function builds only its route group's routes (`ROUTE_GROUP`): each group's
/// router serves every route of its group and no route of the service's other groups.
#[tokio::test]
async fn each_route_group_router_serves_its_own_routes_only() {
    let mut errors = Vec::new();
    for (service, groups) in groups_by_service() {
        for (group, _) in groups {
            let router = group_router(service, Some(group));
            for (other, routes) in groups {
                for (method, path) in *routes {
                    let route = (method.to_string(), path.to_string());
                    match served_by(&router, &route).await {
                        Ok(served) if served != (group == other) => errors.push(format!(
                            "{}: {} by the {group} group's router, listed under {other}",
                            route_label(&route),
                            if served { "served" } else { "not served" },
                        )),
                        Ok(_) => {}
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Every service crate's `ROUTE_GROUPS`: (group, routes).
pub fn service_route_groups() -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
    groups_by_service()
        .into_iter()
        .flat_map(|(_, groups)| groups.iter().copied())
        .collect()
}

/// Every service's OpenAPI document, as it serves it.
fn service_documents() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        auth::openapi::document(),
        analytics::openapi(),
        reports::openapi(),
        notify::openapi(),
        search::openapi(),
    ]
}

/// The union of every service crate's routes.
fn service_routes() -> BTreeSet<Route> {
    service_route_groups()
        .into_iter()
        .flat_map(|(_, routes)| routes.iter())
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

#[tokio::test]
async fn template_routers_and_events_declare_the_same_routes() {
    let template: BTreeSet<Route> = match template_routes() {
        Ok(routes) => routes.into_iter().map(|r| r.route).collect(),
        Err(errors) => panic!("template.yaml:\n  {}", errors.join("\n  ")),
    };
    let events: BTreeSet<Route> = event_files()
        .iter()
        .map(|e| {
            e.route()
                .unwrap_or_else(|| panic!("{}: routeKey is not `METHOD /path`", e.name))
        })
        .filter(|(m, p)| !(m == "ANY" && is_unmatched_path(p)))
        .collect();
    assert!(
        !template.is_empty(),
        "template.yaml declares no HttpApi route"
    );

    let declared: BTreeSet<Route> = service_routes();
    let routers: HashMap<Service, Router> = groups_by_service()
        .into_iter()
        .map(|(service, _)| (service, service_router(service)))
        .collect();
    let mut errors = Vec::new();
    let paths: BTreeSet<&String> = declared.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in PROBED_METHODS {
            let route = (method.to_owned(), path.clone());
            match is_served(&routers, &route).await {
                Ok(served) if served != declared.contains(&route) => errors.push(format!(
                    "{}: {} by the router but {} in ROUTE_GROUPS",
                    route_label(&route),
                    if served { "served" } else { "not served" },
                    if served { "absent" } else { "listed" },
                )),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    let documented: BTreeSet<Route> = service_documents()
        .iter()
        .flat_map(shared::openapi::routes_of)
        .collect();
    let diff = [
        set_diff("template.yaml", &template, "events/", &events),
        set_diff(
            "template.yaml",
            &template,
            "the OpenAPI documents",
            &documented,
        ),
        set_diff(
            "template.yaml",
            &template,
            "the routers (ROUTE_GROUPS)",
            &declared,
        ),
    ]
    .concat();
    assert!(
        diff.is_empty(),
        "routes drifted between template.yaml, events/ and the service routers:\n{diff}"
    );
    let all = template;
    println!(
        "{} routes agree across template.yaml, events/, the routers and the OpenAPI documents",
        all.len()
    );
}

#[test]
fn every_template_route_is_wired_to_its_service_function() {
    let routes = template_routes()
        .unwrap_or_else(|errors| panic!("template.yaml:\n  {}", errors.join("\n  ")));
    let wrong: Vec<String> = routes
        .iter()
        .filter_map(|r| {
            let want = Service::for_path(&r.route.1).map(|s| format!("{}-svc", s.slug()));
            (want.is_none() || r.binary != want).then(|| {
                format!(
                    "{} ({}): built from binary {:?}, expected {:?}",
                    route_label(&r.route),
                    r.origin,
                    r.binary,
                    want
                )
            })
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "routes wired to the wrong function:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn every_template_route_sits_under_the_function_of_its_route_group() {
    let routes = template_routes()
        .unwrap_or_else(|errors| panic!("template.yaml:\n  {}", errors.join("\n  ")));
    let group_of: BTreeMap<Route, &str> = service_route_groups()
        .into_iter()
        .flat_map(|(group, routes)| {
            routes
                .iter()
                .map(move |(m, p)| ((m.to_string(), p.to_string()), group))
        })
        .collect();
    let wrong: Vec<String> = routes
        .iter()
        .filter_map(|r| {
            let want = group_of.get(&r.route).copied();
            (want.is_none() || r.group.as_deref() != want).then(|| {
                format!(
                    "{} ({}): under ROUTE_GROUP {:?}, ROUTE_GROUPS puts it in {:?}",
                    route_label(&r.route),
                    r.origin,
                    r.group,
                    want
                )
            })
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "routes under the wrong route group's function:\n  {}",
        wrong.join("\n  ")
    );
}

/// Each service has one catch-all, `ANY /<svc>/v1/{proxy+}`, on its health function (it
/// answers only 404/405, from the service's ROUTE_GROUPS), and an event replays it.
#[test]
fn each_service_sends_what_matches_no_route_to_its_health_function() {
    let (_, unmatched) = template_events()
        .unwrap_or_else(|errors| panic!("template.yaml:\n  {}", errors.join("\n  ")));
    let mut want: Vec<String> = groups_by_service()
        .iter()
        .map(|(service, _)| format!("/{}/v1/{{proxy+}}", service.slug()))
        .collect();
    want.sort();
    let mut got: Vec<String> = unmatched.iter().map(|r| r.route.1.clone()).collect();
    got.sort();
    assert_eq!(got, want, "one catch-all per service");
    for r in &unmatched {
        let svc = Service::for_path(&r.route.1).expect("a service path");
        assert_eq!(
            (r.binary.clone(), r.group.as_deref()),
            (
                Some(format!("{}-svc", svc.slug())),
                Some(shared::route_groups::HEALTH)
            ),
            "{}",
            r.origin
        );
    }
    let replayed: BTreeSet<String> = event_files()
        .iter()
        .filter_map(|e| e.route())
        .filter(|(m, p)| m == "ANY" && is_unmatched_path(p))
        .map(|(_, p)| p)
        .collect();
    assert!(!replayed.is_empty(), "no events/ file replays a catch-all");
}

#[test]
fn every_event_route_key_matches_its_request() {
    let mut errors = Vec::new();
    for event in event_files() {
        let e = &event.json;
        let name = &event.name;
        let raw_path = e["rawPath"].as_str().unwrap_or_default();
        let method = e["requestContext"]["http"]["method"]
            .as_str()
            .unwrap_or_default();
        if e["version"] != "2.0" {
            errors.push(format!(
                "{name}: version is {}, expected \"2.0\" (HTTP API payload v2)",
                e["version"]
            ));
        }
        if e["requestContext"]["routeKey"] != e["routeKey"] {
            errors.push(format!(
                "{name}: requestContext.routeKey differs from routeKey"
            ));
        }
        if e["requestContext"]["http"]["path"] != raw_path {
            errors.push(format!(
                "{name}: requestContext.http.path differs from rawPath"
            ));
        }
        if e["requestContext"]["stage"] != "$default" {
            errors.push(format!("{name}: requestContext.stage is not \"$default\""));
        }
        match event.route() {
            Some((m, pattern))
                if (m == method || m == "ANY") && path_matches(&pattern, raw_path) => {}
            _ => errors.push(format!(
                "{name}: routeKey {} does not match the request {method} {raw_path}",
                e["routeKey"]
            )),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn yaml_loader_reads_cloudformation_short_tags_as_their_values() {
    let docs = YamlLoader::load_from_str(
        "A: !Ref HttpApi\nB: !Sub ${Stage}-auth\nC: !GetAtt T.Arn\nD: !If [IsProd, true, false]\nE: !Not [!Equals [!Ref X, '']]\n",
    )
    .expect("short tags load");
    let d = &docs[0];
    assert_eq!(d["A"].as_str(), Some("HttpApi"));
    assert_eq!(d["B"].as_str(), Some("${Stage}-auth"));
    assert_eq!(d["C"].as_str(), Some("T.Arn"));
    assert_eq!(d["D"][0].as_str(), Some("IsProd"));
    assert_eq!(d["E"][0][0].as_str(), Some("X"));
}

/// notify holds a send's deliveries from the dispatcher for `SEND_HOLD_SECS`, on the
/// ground that no send request runs longer (sending.rs): the function serving
/// `POST /notify/v1/send` must time out well before, or a request still storing
/// deliveries could meet a dispatcher run again.
#[test]
fn the_notify_send_hold_outlasts_the_send_function_timeout() {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text).expect("template.yaml is YAML");
    let doc = &docs[0];
    let function = &doc["Resources"]["NotifySendFunction"];
    assert_eq!(
        str_at(
            function,
            &["Properties", "Environment", "Variables", "ROUTE_GROUP"]
        )
        .as_deref(),
        Some("send"),
        "NotifySendFunction serves notify's send group"
    );
    let timeout = function["Properties"]["Timeout"]
        .as_i64()
        .or_else(|| doc["Globals"]["Function"]["Timeout"].as_i64())
        .expect("a Timeout for NotifySendFunction");
    // A margin: the hold counts from the send's whole second, and the request has run a
    // little before it stores anything.
    assert!(
        timeout + 5 <= notify::sending::SEND_HOLD_SECS,
        "NotifySendFunction times out after {timeout} s, not 5 s before the {} s hold",
        notify::sending::SEND_HOLD_SECS
    );
}

/// The logical ids a function's policies allow `secretsmanager:GetSecretValue` on
/// (`!Ref X` loads as "X").
fn secrets_readable_by(resource: &Yaml) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in resource["Properties"]["Policies"]
        .as_vec()
        .into_iter()
        .flatten()
    {
        for st in policy["Statement"].as_vec().into_iter().flatten() {
            let actions = match &st["Action"] {
                Yaml::Array(a) => a.iter().filter_map(Yaml::as_str).collect(),
                a => a.as_str().into_iter().collect::<Vec<_>>(),
            };
            if st["Effect"].as_str() != Some("Allow")
                || !actions.contains(&"secretsmanager:GetSecretValue")
            {
                continue;
            }
            match &st["Resource"] {
                Yaml::Array(r) => out.extend(r.iter().filter_map(Yaml::as_str).map(str::to_owned)),
                r => out.extend(r.as_str().map(str::to_owned)),
            }
        }
    }
    out
}

/// Least privilege for the cursor key, which loads on first use: a function may read it
/// exactly when one of its routes pages (`cursor`) or takes an `Idempotency-Key` (whose
/// fingerprints it keys), as each route's OpenAPI operation declares them.
#[test]
fn the_cursor_key_is_granted_to_exactly_the_functions_that_use_it() {
    let mut uses: BTreeSet<Route> = BTreeSet::new();
    for doc in service_documents() {
        let doc = serde_json::to_value(&doc).unwrap();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                if names.contains(&"cursor") || names.contains(&"Idempotency-Key") {
                    uses.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    assert!(
        uses.contains(&("POST".into(), "/notify/v1/send".into())),
        "the documents declare no Idempotency-Key: {uses:?}"
    );
    let routes = template_routes()
        .unwrap_or_else(|errors| panic!("template.yaml:\n  {}", errors.join("\n  ")));
    let mut by_function: BTreeMap<&str, Vec<&Route>> = BTreeMap::new();
    for r in &routes {
        let function = r.origin.split('.').next().unwrap_or_default();
        by_function.entry(function).or_default().push(&r.route);
    }
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let resources = &docs[0]["Resources"];
    let wrong: Vec<String> = by_function
        .iter()
        .filter_map(|(function, routes)| {
            let granted = secrets_readable_by(&resources[*function]).contains("CursorSecret");
            let users: Vec<String> = routes
                .iter()
                .filter(|r| uses.contains(**r))
                .map(|r| route_label(r))
                .collect();
            (granted == users.is_empty())
                .then(|| format!("{function}: granted {granted}, used by {users:?}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "the cursor key's grants differ from its use:\n  {}",
        wrong.join("\n  ")
    );
}
