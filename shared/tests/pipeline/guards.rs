//! Role and plan guards, and the x-tenant-id rule.

use serde_json::json;
use shared::{
    service::Service,
    testing::{T1, T3},
};

use crate::helpers::TestApp;

async fn get_with_tenant(
    app: &TestApp,
    path: &str,
    token: &str,
    tenant: Option<&str>,
) -> crate::helpers::Reply {
    let mut req = http::Request::get(path).header("authorization", format!("Bearer {token}"));
    if let Some(t) = tenant {
        req = req.header("x-tenant-id", t);
    }
    app.send(req.body(axum::body::Body::empty()).unwrap()).await
}

#[tokio::test]
async fn a_role_below_the_route_s_least_role_is_forbidden() {
    let app = TestApp::new(Service::Reports);
    for roles in [&["user"][..], &["organizer"], &["partner"]] {
        app.get("/reports/v1/admin", Some(&app.tp.token(roles)))
            .await
            .assert_error(403, "ERR_REPORTS_FORBIDDEN");
    }
    for roles in [&["admin"][..], &["user", "admin"], &["system"]] {
        assert_eq!(
            app.get("/reports/v1/admin", Some(&app.tp.token(roles)))
                .await
                .status,
            200,
            "{roles:?}"
        );
    }
    app.get("/reports/v1/admin", None)
        .await
        .assert_error(401, "ERR_REPORTS_UNAUTHORIZED");
}

#[tokio::test]
async fn a_plan_below_the_feature_s_tier_gets_subscription_required_with_details() {
    let app = TestApp::new(Service::Analytics);
    let mut c = app.tp.claims(&["admin"]);
    c.plan_tier = "professional".into();
    let r = app
        .get("/analytics/v1/heatmaps", Some(&app.tp.sign(&c)))
        .await;
    r.assert_error(403, "ERR_ANALYTICS_SUBSCRIPTION_REQUIRED");
    assert_eq!(
        r.json()["error"]["details"],
        json!({"requiredTier": "ENTERPRISE", "currentTier": "PRO", "feature": "heatmaps"})
    );
    c.plan_tier = "enterprise".into();
    assert_eq!(
        app.get("/analytics/v1/heatmaps", Some(&app.tp.sign(&c)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn x_tenant_id_must_match_the_token_unless_the_caller_is_system() {
    let app = TestApp::new(Service::Notify);
    let user = app.tp.token(&["admin"]);
    assert_eq!(
        get_with_tenant(&app, "/notify/v1/whoami", &user, Some(T1))
            .await
            .status,
        200
    );
    assert_eq!(
        get_with_tenant(&app, "/notify/v1/whoami", &user, None)
            .await
            .status,
        200,
        "optional outside search"
    );
    get_with_tenant(&app, "/notify/v1/whoami", &user, Some(T3))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    get_with_tenant(&app, "/notify/v1/whoami", &user, Some("not-a-uuid"))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");

    let mut sys = app.tp.claims(&["system"]);
    sys.tenant_id = "00000000-0000-0000-0000-000000000000".into();
    let sys = app.tp.sign(&sys);
    let r = get_with_tenant(&app, "/notify/v1/tenant", &sys, Some(T3)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["data"]["tenant"],
        T3,
        "system acts on the tenant it names"
    );
    assert_eq!(r.json()["meta"]["tenant_id"], T3);
}

#[tokio::test]
async fn system_acts_on_another_tenant_only_where_the_route_allows_it() {
    let app = TestApp::new(Service::Notify);
    let mut sys = app.tp.claims(&["system"]);
    sys.tenant_id = "00000000-0000-0000-0000-000000000000".into();
    let sys = app.tp.sign(&sys);
    let r = get_with_tenant(&app, "/notify/v1/whoami", &sys, Some(T3)).await;
    r.assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    // Refused, it acted on its own tenant only: meta does not echo the one it asked for.
    assert_eq!(
        r.json()["meta"]["tenant_id"],
        "00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(
        get_with_tenant(&app, "/notify/v1/whoami", &sys, None)
            .await
            .json()["data"]["tenant"],
        "00000000-0000-0000-0000-000000000000",
        "without the header, its own tenant"
    );
    // A `system` role in a token of an ordinary tenant crosses nothing.
    let stray = app.tp.token(&["system"]);
    get_with_tenant(&app, "/notify/v1/tenant", &stray, Some(T3))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
}

#[tokio::test]
async fn search_requires_x_tenant_id_on_authenticated_routes() {
    let app = TestApp::new(Service::Search);
    let token = app.tp.token(&["user"]);
    get_with_tenant(&app, "/search/v1/whoami", &token, None)
        .await
        .assert_error(403, "ERR_SEARCH_FORBIDDEN");
    get_with_tenant(&app, "/search/v1/whoami", &token, Some(T3))
        .await
        .assert_error(403, "ERR_SEARCH_FORBIDDEN");
    assert_eq!(
        get_with_tenant(&app, "/search/v1/whoami", &token, Some(T1))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/search/v1/health", None).await.status,
        200,
        "health stays public"
    );
}

#[tokio::test]
async fn the_tenant_extractor_gives_the_acting_tenant() {
    let app = TestApp::new(Service::Reports);
    let r = app
        .get("/reports/v1/tenant", Some(&app.tp.token(&["user"])))
        .await;
    assert_eq!(r.json()["data"]["tenant"], T1);
    app.get("/reports/v1/tenant", None)
        .await
        .assert_error(401, "ERR_REPORTS_UNAUTHORIZED");
    let mut sys = app.tp.claims(&["system"]);
    sys.tenant_id = "00000000-0000-0000-0000-000000000000".into();
    let r = get_with_tenant(&app, "/reports/v1/tenant", &app.tp.sign(&sys), Some(T3)).await;
    assert_eq!(r.json()["data"]["tenant"], T3);
}
