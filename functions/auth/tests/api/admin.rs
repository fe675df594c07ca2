//! Route group `admin`: the tenant's users (list, read, roles/status, unlock, invite)
//! and tenants (system role).

use std::collections::BTreeSet;

use auth::{
    domain::Email,
    repo::{one_time, tenants, users},
    seed::{STAGING_ACCOUNTS, T1, T3},
};
use axum::body::Body;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use http::Request;
use serde_json::{Value, json};
use shared::{
    tenant::TenantId,
    testing::{Reply, forge::sign_as, json_request},
};

const INVITE: &str = "/auth/v1/users/invite";

use crate::helpers::{PASSWORD, TestAuth, accept_invite, id_of, mailed_token, token_in};

fn ids_in(tenant: &str) -> BTreeSet<String> {
    STAGING_ACCOUNTS
        .iter()
        .filter(|a| a.tenant == tenant)
        .map(|a| a.id.to_owned())
        .collect()
}

fn user_path(email: &str) -> String {
    format!("/auth/v1/users/{}", id_of(email))
}

async fn patch(app: &TestAuth, path: &str, token: &str, body: Value) -> Reply {
    app.call("PATCH", path, Some(token), Some(&body)).await
}

async fn access(app: &TestAuth, email: &str) -> String {
    app.tokens(email).await.0
}

/// Walks `GET /users?<query>` page by page; returns every id and the page sizes.
async fn walk(app: &TestAuth, token: &str, query: &str) -> (Vec<String>, Vec<usize>) {
    let (users, sizes) = walk_list(app, "/auth/v1/users", token, query).await;
    (users.iter().map(id_in).collect(), sizes)
}

/// Walks the list at `path` (`?<query>`) page by page, each page's `page` asserted
/// consistent (`has_more` exactly when there is a `next_cursor`; the limit asked for);
/// returns every item and the page sizes.
async fn walk_list(
    app: &TestAuth,
    path: &str,
    token: &str,
    query: &str,
) -> (Vec<Value>, Vec<usize>) {
    let (mut items, mut sizes) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{path}?{query}&cursor={c}"),
            None => format!("{path}?{query}"),
        };
        let r = app.get(&path, Some(token)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
        let body = r.json();
        assert!(body["error"].is_null(), "{body}");
        let page = body["data"].as_array().unwrap();
        sizes.push(page.len());
        items.extend(page.iter().cloned());
        assert_eq!(
            body["page"]["has_more"],
            body["page"]["next_cursor"].is_string()
        );
        let limit = query
            .split('&')
            .find_map(|p| p.strip_prefix("limit="))
            .map_or(20, |l| l.parse().unwrap());
        assert_eq!(body["page"]["limit"], limit, "{body}");
        match body["page"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (items, sizes),
        }
    }
}

fn id_in(item: &Value) -> String {
    item["id"].as_str().expect("an id").to_owned()
}

/// The audit event kinds written for `tenant` this month.
async fn audit_kinds(app: &TestAuth, tenant: &str) -> Vec<String> {
    app.audit_kinds(tenant).await
}

async fn stored_user(app: &TestAuth, tenant: &str, email: &str) -> auth::domain::User {
    auth::repo::users::get(
        app.state.store(),
        &TenantId::parse(tenant).unwrap(),
        id_of(email),
    )
    .await
    .unwrap()
    .expect("stored user")
}

#[tokio::test]
async fn an_admin_pages_through_every_user_of_the_tenant_exactly_once() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@eventzr.com").await;
    let (ids, sizes) = walk(&app, &token, "limit=2").await;
    assert_eq!(sizes, [2, 2, 1]);
    let unique: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "no user twice");
    assert_eq!(unique, ids_in(T1), "all of T1, nobody else");
}

#[tokio::test]
async fn a_cursor_replayed_by_another_tenants_admin_is_invalid() {
    let app = TestAuth::new().await;
    let t1 = access(&app, "admin@eventzr.com").await;
    let r = app.get("/auth/v1/users?limit=2", Some(&t1)).await;
    let cursor = r.json()["page"]["next_cursor"].as_str().unwrap().to_owned();
    let t3 = access(&app, "admin@startup.co").await;
    app.get(
        &format!("/auth/v1/users?limit=2&cursor={cursor}"),
        Some(&t3),
    )
    .await
    .assert_error(400, "ERR_AUTH_INVALID_CURSOR");
    // Bound to the query too: the same admin cannot reuse it with another filter.
    app.get(
        &format!("/auth/v1/users?limit=2&role=admin&cursor={cursor}"),
        Some(&t1),
    )
    .await
    .assert_error(400, "ERR_AUTH_INVALID_CURSOR");
}

#[tokio::test]
async fn the_list_filters_by_role_and_status_and_names_a_bad_filter() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@eventzr.com").await;
    let (admins, sizes) = walk(&app, &token, "role=admin&limit=1").await;
    let expected: BTreeSet<String> = ["admin@eventzr.com", "dev@eventzr.com"]
        .map(|e| id_of(e).to_owned())
        .into();
    assert_eq!(admins.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(sizes.iter().all(|s| *s <= 1));
    let (suspended, _) = walk(&app, &token, "status=suspended").await;
    assert!(suspended.is_empty());
    let r = app
        .get("/auth/v1/users?role=root&status=gone", Some(&token))
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    let fields = r.error_fields();
    assert_eq!(fields, ["role", "status"]);
}

#[tokio::test]
async fn an_admin_reads_one_user_without_any_secret() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@eventzr.com").await;
    let r = app.get(&user_path("dev@eventzr.com"), Some(&token)).await;
    assert_eq!(r.status, 200);
    let d = &r.json()["data"];
    assert_eq!(d["email"], "dev@eventzr.com");
    assert_eq!(d["mfaEnabled"], true);
    let text = String::from_utf8_lossy(&r.bytes);
    for secret in ["argon2", "JBSWY3DPEHPK3PXP", "password", "totp"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // A malformed id names no user: 404, as on every route with an id in its path.
    app.get("/auth/v1/users/not-a-uuid", Some(&token))
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    app.post("/auth/v1/users/not-a-uuid/unlock", Some(&token), &json!({}))
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    app.call(
        "DELETE",
        "/auth/v1/users/not-a-uuid/mfa",
        Some(&token),
        None,
    )
    .await
    .assert_error(404, "ERR_AUTH_NOT_FOUND");
    let system = access(&app, "system@eventzr.com").await;
    let body = json!({"planTier": "PRO"});
    app.call(
        "PATCH",
        "/auth/v1/tenants/not-a-uuid",
        Some(&system),
        Some(&body),
    )
    .await
    .assert_error(404, "ERR_AUTH_NOT_FOUND");
}

#[tokio::test]
async fn another_tenants_admin_gets_404_for_a_t1_user_and_changes_nothing() {
    let app = TestAuth::new().await;
    let t3 = access(&app, "admin@startup.co").await;
    let path = user_path("user@eventzr.com");
    app.get(&path, Some(&t3))
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    patch(
        &app,
        &path,
        &t3,
        json!({"status": "suspended", "roles": ["admin"]}),
    )
    .await
    .assert_error(404, "ERR_AUTH_NOT_FOUND");
    app.post(&format!("{path}/unlock"), Some(&t3), &json!({}))
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    let user = stored_user(&app, T1, "user@eventzr.com").await;
    assert_eq!(user.roles, ["user"]);
    assert_eq!(user.status, auth::domain::UserStatus::Active);
}

#[tokio::test]
async fn users_partners_and_organizers_are_forbidden() {
    let app = TestAuth::new().await;
    let path = user_path("admin@eventzr.com");
    for email in [
        "user@eventzr.com",
        "organizer@eventzr.com",
        "partner@eventzr.com",
    ] {
        let token = access(&app, email).await;
        app.get("/auth/v1/users", Some(&token))
            .await
            .assert_error(403, "ERR_AUTH_FORBIDDEN");
        app.get(&path, Some(&token))
            .await
            .assert_error(403, "ERR_AUTH_FORBIDDEN");
        patch(&app, &path, &token, json!({"status": "suspended"}))
            .await
            .assert_error(403, "ERR_AUTH_FORBIDDEN");
        app.post(&format!("{path}/unlock"), Some(&token), &json!({}))
            .await
            .assert_error(403, "ERR_AUTH_FORBIDDEN");
        app.post(
            "/auth/v1/users/invite",
            Some(&token),
            &json!({"email": "x@eventzr.com", "roles": ["user"]}),
        )
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    }
    app.get("/auth/v1/users", None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    assert_eq!(
        stored_user(&app, T1, "admin@eventzr.com").await.status,
        auth::domain::UserStatus::Active
    );
}

#[tokio::test]
async fn an_admin_cannot_grant_the_system_role() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@eventzr.com").await;
    patch(
        &app,
        &user_path("user@eventzr.com"),
        &token,
        json!({"roles": ["user", "system"]}),
    )
    .await
    .assert_error(403, "ERR_AUTH_FORBIDDEN");
    assert_eq!(
        stored_user(&app, T1, "user@eventzr.com").await.roles,
        ["user"]
    );
    app.post(
        "/auth/v1/users/invite",
        Some(&token),
        &json!({"email": "root@eventzr.com", "roles": ["system"]}),
    )
    .await
    .assert_error(403, "ERR_AUTH_FORBIDDEN");
    let r = patch(
        &app,
        &user_path("user@eventzr.com"),
        &token,
        json!({"roles": ["root"]}),
    )
    .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "roles");
    assert!(app.tp.outbox.sent().is_empty());
}

#[tokio::test]
async fn an_admin_changes_roles_and_the_change_is_stored_and_audited() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@eventzr.com").await;
    let r = patch(
        &app,
        &user_path("organizer@eventzr.com"),
        &token,
        json!({"roles": ["organizer", "partner"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["roles"], json!(["organizer", "partner"]));
    let stored = stored_user(&app, T1, "organizer@eventzr.com").await;
    assert_eq!(stored.roles, ["organizer", "partner"]);
    assert!(
        audit_kinds(&app, T1)
            .await
            .contains(&"role.changed".to_owned())
    );
}

#[tokio::test]
async fn the_same_roles_in_another_order_are_no_change() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@startup.co").await;
    let path = user_path("admin@startup.co");
    let r = patch(
        &app,
        &path,
        &token,
        json!({"roles": ["admin", "organizer"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    // That was a change: the admin signs in again, then sends the roles back reordered.
    let token = access(&app, "admin@startup.co").await;
    let changes_before = audit_kinds(&app, T3).await.len();
    let r = patch(
        &app,
        &path,
        &token,
        json!({"roles": ["organizer", "admin"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    // The caller's session lives on, and nothing is audited as a role change.
    assert_eq!(app.get("/auth/v1/profile", Some(&token)).await.status, 200);
    assert_eq!(audit_kinds(&app, T3).await.len(), changes_before);
}

#[tokio::test]
async fn demoting_or_suspending_the_last_admin_of_a_tenant_is_refused() {
    let app = TestAuth::new().await;
    let token = access(&app, "admin@startup.co").await;
    let path = user_path("admin@startup.co");
    patch(&app, &path, &token, json!({"roles": ["user"]}))
        .await
        .assert_error(409, "ERR_AUTH_LAST_ADMIN");
    patch(&app, &path, &token, json!({"status": "suspended"}))
        .await
        .assert_error(409, "ERR_AUTH_LAST_ADMIN");
    let stored = stored_user(&app, T3, "admin@startup.co").await;
    assert_eq!(stored.roles, ["admin"]);
    assert_eq!(stored.status, auth::domain::UserStatus::Active);
    // Keeping the admin role while adding others is fine.
    let r = patch(
        &app,
        &path,
        &token,
        json!({"roles": ["admin", "organizer"]}),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    two_admins_demote_each_other(&TestAuth::new().await).await;
}

#[tokio::test]
async fn over_the_wire_two_admins_demoting_each_other_at_once_leave_one_admin() {
    let name = "over_the_wire_two_admins_demoting_each_other_at_once_leave_one_admin";
    if let Some(app) = TestAuth::on_dynamodb(name).await {
        two_admins_demote_each_other(&app).await;
    }
}

async fn two_admins_demote_each_other(app: &TestAuth) {
    let admin = access(app, "admin@eventzr.com").await;
    // T1's admins become exactly admin@ and organizer@.
    for (email, roles) in [
        ("organizer@eventzr.com", json!(["admin"])),
        ("dev@eventzr.com", json!(["user"])),
    ] {
        let r = patch(app, &user_path(email), &admin, json!({ "roles": roles })).await;
        assert_eq!(r.status, 200);
    }
    let organizer = access(app, "organizer@eventzr.com").await;
    let demote = json!({"roles": ["user"]});
    let (organizer_path, admin_path) = (
        user_path("organizer@eventzr.com"),
        user_path("admin@eventzr.com"),
    );
    let (a, b) = tokio::join!(
        patch(app, &organizer_path, &admin, demote.clone()),
        patch(app, &admin_path, &organizer, demote.clone()),
    );
    // Exactly one demotion wins. The loser is refused either by the last-admin rule
    // (409), or — when the winner's demotion ended the loser's own session first, since a
    // role change revokes sessions — as a revoked token (401). Never both applied.
    let (winner, loser) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(winner.status, 200, "one demotion applies");
    match loser.status.as_u16() {
        409 => loser.assert_error(409, "ERR_AUTH_LAST_ADMIN"),
        401 => loser.assert_error(401, "ERR_AUTH_TOKEN_REVOKED"),
        other => panic!("the second demotion answered {other}"),
    }
    let mut admins = 0;
    for email in ["admin@eventzr.com", "organizer@eventzr.com"] {
        admins += usize::from(stored_user(app, T1, email).await.roles == ["admin"]);
    }
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn a_role_change_decided_on_a_stale_roster_is_not_committed() {
    use auth::repo::{admin, users};
    use shared::store::Update;
    let app = TestAuth::new().await;
    let (store, t1) = (app.state.store(), TenantId::parse(T1).unwrap());
    let seen = admin::roster_version(store, &t1).await.unwrap();
    let user = stored_user(&app, T1, "user@eventzr.com").await;
    let first = Update::new(users::key_of(&user).unwrap()).set("status", "suspended");
    assert!(
        admin::change_user(store, &t1, first, None, seen)
            .await
            .unwrap()
    );
    // A second change decided on the same (now stale) version must re-read instead.
    let second = Update::new(users::key_of(&user).unwrap()).set("status", "active");
    assert!(
        !admin::change_user(store, &t1, second, None, seen)
            .await
            .unwrap()
    );
    let after = stored_user(&app, T1, "user@eventzr.com").await;
    assert_eq!(after.status, auth::domain::UserStatus::Suspended);
    assert_eq!(admin::roster_version(store, &t1).await.unwrap(), seen + 1);
}

#[tokio::test]
async fn suspending_a_user_revokes_their_sessions_and_blocks_login() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let (user_access, user_refresh) = app.tokens("user@eventzr.com").await;
    let path = user_path("user@eventzr.com");
    let r = patch(&app, &path, &admin, json!({"status": "suspended"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["status"], "suspended");
    app.post(
        "/auth/v1/refresh",
        None,
        &json!({"refreshToken": user_refresh}),
    )
    .await
    .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.get("/auth/v1/profile", Some(&user_access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    let r = app.login("user@eventzr.com", PASSWORD).await;
    r.assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert_eq!(r.json()["error"]["details"], json!({"scope": "account"}));
    assert!(
        audit_kinds(&app, T1)
            .await
            .contains(&"user.suspended".to_owned())
    );
    let r = patch(&app, &path, &admin, json!({"status": "active"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.login("user@eventzr.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn unlock_after_five_failed_logins_lets_the_owner_log_in() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    for _ in 0..5 {
        app.login("user@eventzr.com", "wrong-password").await;
    }
    app.login("user@eventzr.com", PASSWORD)
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    let r = app
        .post(
            &format!("{}/unlock", user_path("user@eventzr.com")),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let stored = stored_user(&app, T1, "user@eventzr.com").await;
    assert_eq!((stored.failed_logins, stored.locked_until), (0, 0));
    assert_eq!(app.login("user@eventzr.com", PASSWORD).await.status, 200);
    assert!(
        audit_kinds(&app, T1)
            .await
            .contains(&"user.unlocked".to_owned())
    );
}

#[tokio::test]
async fn an_invite_mails_a_single_use_link_bound_to_the_tenant() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let r = app
        .post(
            "/auth/v1/users/invite",
            Some(&admin),
            &json!({"email": "  New.Hire@EventZR.com ", "roles": ["organizer"]}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["data"]["email"], "new.hire@eventzr.com");
    let mails = app.tp.outbox.sent_to("new.hire@eventzr.com");
    assert_eq!(mails.len(), 1);
    let link = "http://127.0.0.1:3000/accept-invite?token=";
    assert!(mails[0].mail.text.contains(link), "{}", mails[0].mail.text);
    // The tenant's name is the organisation's own text: a labelled line of the body, never
    // the subject.
    assert_eq!(
        mails[0].mail.subject,
        "You are invited to join an organisation on EventZR"
    );
    assert!(
        mails[0]
            .mail
            .text
            .contains("as its admins wrote it):\n    EventZR\n")
    );
    let token = mailed_token(&app, "new.hire@eventzr.com", "accept-invite");
    assert!(
        !String::from_utf8_lossy(&r.bytes).contains(&token),
        "token only in the mail"
    );
    let now = app.state.epoch();
    let redeemed = one_time::redeem(app.state.store(), one_time::Kind::Invite, &token, now)
        .await
        .expect("a valid invite");
    assert_eq!(redeemed.tenant, Some(TenantId::parse(T1).unwrap()));
    let inviter = stored_user(&app, T1, "admin@eventzr.com").await;
    assert_eq!(
        redeemed.data,
        json!({"email": "new.hire@eventzr.com", "roles": ["organizer"],
            "invitedBy": {"tenant": T1, "user": inviter.id}})
    );
    assert!(
        one_time::redeem(app.state.store(), one_time::Kind::Invite, &token, now)
            .await
            .is_err(),
        "single use"
    );
}

#[tokio::test]
async fn inviting_an_address_again_replaces_its_earlier_invite() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let to = "mistake@example.com";
    for roles in [json!(["admin"]), json!(["user"])] {
        let body = json!({"email": to, "roles": roles});
        let r = app.post("/auth/v1/users/invite", Some(&admin), &body).await;
        assert_eq!(r.status, 202);
    }
    let first = token_in(&app.tp.outbox.sent_to(to)[0].mail.text, "accept-invite");
    let second = mailed_token(&app, to, "accept-invite");
    assert_ne!(first, second);

    accept_invite(&app, to, &first)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert!(
        users::by_email(app.state.store(), &Email::parse(to).unwrap())
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
    let r = accept_invite(&app, to, &second).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["user"]["roles"], json!(["user"]));
}

#[tokio::test]
async fn an_invite_grants_nothing_once_its_inviter_is_no_longer_an_admin() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    // A second admin prepares an admin invite to an address they control...
    let deputy = stored_user(&app, T1, "organizer@eventzr.com").await;
    let path = format!("/auth/v1/users/{}", deputy.id);
    assert_eq!(
        patch(&app, &path, &admin, json!({"roles": ["admin"]}))
            .await
            .status,
        200
    );
    let deputy_token = access(&app, "organizer@eventzr.com").await;
    let body = json!({"email": "way-back@example.com", "roles": ["admin"]});
    let r = app
        .post("/auth/v1/users/invite", Some(&deputy_token), &body)
        .await;
    assert_eq!(r.status, 202);
    let token = mailed_token(&app, "way-back@example.com", "accept-invite");
    // ... and is demoted before it is used.
    assert_eq!(
        patch(&app, &path, &admin, json!({"roles": ["organizer"]}))
            .await
            .status,
        200
    );
    // The demotion revoked it: the pending list no longer shows it.
    let pending = app.get("/auth/v1/users/invites", Some(&admin)).await;
    assert_eq!(pending.status, 200);
    assert!(
        !pending.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["email"] == "way-back@example.com"),
        "{}",
        pending.json()
    );
    accept_invite(&app, "way-back@example.com", &token)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert!(
        users::by_email(
            app.state.store(),
            &Email::parse("way-back@example.com").unwrap()
        )
        .await
        .unwrap()
        .is_none()
    );

    // The same invite from an admin who still is one joins.
    let r = app.post("/auth/v1/users/invite", Some(&admin), &body).await;
    assert_eq!(r.status, 202);
    let token = mailed_token(&app, "way-back@example.com", "accept-invite");
    assert_eq!(
        accept_invite(&app, "way-back@example.com", &token)
            .await
            .status,
        201
    );
}

const INVITES: &str = "/auth/v1/users/invites";

fn emails(page: &Reply) -> BTreeSet<String> {
    page.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn admins_list_the_pending_invites_and_revoke_one_whose_link_then_fails() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    for (to, roles) in [
        ("ann@example.com", json!(["user"])),
        ("bob+events@example.com", json!(["organizer"])),
        ("joined@example.com", json!(["user"])),
    ] {
        let body = json!({"email": to, "roles": roles});
        let r = app.post("/auth/v1/users/invite", Some(&admin), &body).await;
        assert_eq!(r.status, 202);
    }
    let joined = mailed_token(&app, "joined@example.com", "accept-invite");
    assert_eq!(
        accept_invite(&app, "joined@example.com", &joined)
            .await
            .status,
        201
    );

    // Pending: the two not accepted, newest invite each, with sender and expiry.
    let r = app.get(INVITES, Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(
        emails(&r),
        BTreeSet::from(["ann@example.com".into(), "bob+events@example.com".into()])
    );
    let bob = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "bob+events@example.com")
        .unwrap()
        .clone();
    let sender = stored_user(&app, T1, "admin@eventzr.com").await;
    assert_eq!(bob["roles"], json!(["organizer"]));
    assert_eq!(bob["invitedBy"], sender.id);
    assert!(bob["expiresAt"].as_str().unwrap() > bob["createdAt"].as_str().unwrap());
    // One page at a time.
    let r = app.get(&format!("{INVITES}?limit=1"), Some(&admin)).await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["page"]["has_more"], true);

    // Revoked: gone from the list, its link refused, audited; a second revoke is 404.
    let bob_token = mailed_token(&app, "bob+events@example.com", "accept-invite");
    let path = format!("{INVITES}?email=Bob%2Bevents%40Example.com");
    let r = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["email"], "bob+events@example.com");
    assert_eq!(
        emails(&app.get(INVITES, Some(&admin)).await),
        BTreeSet::from(["ann@example.com".into()])
    );
    accept_invite(&app, "bob+events@example.com", &bob_token)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert!(
        audit_kinds(&app, T1)
            .await
            .contains(&"user.invite_revoked".to_owned())
    );
    app.call("DELETE", &path, Some(&admin), None)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");

    // Errors: no address, not an address, not an admin, another tenant's admin.
    app.call("DELETE", INVITES, Some(&admin), None)
        .await
        .assert_error(400, "ERR_AUTH_VALIDATION");
    app.call(
        "DELETE",
        &format!("{INVITES}?email=nope"),
        Some(&admin),
        None,
    )
    .await
    .assert_error(400, "ERR_AUTH_VALIDATION");
    let organizer = access(&app, "organizer@eventzr.com").await;
    app.get(INVITES, Some(&organizer))
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    let other = access(&app, "admin@startup.co").await;
    assert!(emails(&app.get(INVITES, Some(&other)).await).is_empty());
    let ann = format!("{INVITES}?email=ann%40example.com");
    app.call("DELETE", &ann, Some(&other), None)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    assert_eq!(
        emails(&app.get(INVITES, Some(&admin)).await).len(),
        1,
        "still pending"
    );
}

#[tokio::test]
async fn an_invite_the_platform_sent_shows_no_platform_user_to_the_tenant() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let req = Request::post("/auth/v1/users/invite")
        .header("authorization", format!("Bearer {system}"))
        .header("x-tenant-id", T3)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"email": "hire@startup.co", "roles": ["user"]}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(req).await.status, 202);
    let admin = access(&app, "admin@startup.co").await;
    let r = app.get(INVITES, Some(&admin)).await;
    assert_eq!(r.json()["data"][0]["email"], "hire@startup.co");
    assert_eq!(r.json()["data"][0]["invitedBy"], Value::Null);
    // The invitee still joins: the sender is checked as the platform's system user.
    let token = mailed_token(&app, "hire@startup.co", "accept-invite");
    assert_eq!(
        accept_invite(&app, "hire@startup.co", &token).await.status,
        201
    );
}

#[tokio::test]
async fn the_platform_cannot_invite_into_a_tenant_that_does_not_exist() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let req = Request::post("/auth/v1/users/invite")
        .header("authorization", format!("Bearer {system}"))
        .header("x-tenant-id", "a0000009-0000-0000-0000-000000000009")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"email": "orphan@example.com", "roles": ["admin"]}).to_string(),
        ))
        .unwrap();
    app.send(req).await.assert_error(404, "ERR_AUTH_NOT_FOUND");
    assert!(app.tp.outbox.sent_to("orphan@example.com").is_empty());
}

#[tokio::test]
async fn an_invite_expires_after_seven_days() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    app.post(
        "/auth/v1/users/invite",
        Some(&admin),
        &json!({"email": "late@eventzr.com", "roles": ["user"]}),
    )
    .await;
    let text = app.tp.outbox.sent_to("late@eventzr.com")[0]
        .mail
        .text
        .clone();
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    app.advance(chrono::Duration::days(7));
    let now = app.state.epoch();
    assert!(
        one_time::redeem(app.state.store(), one_time::Kind::Invite, &token, now)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_invite_for_a_registered_email_is_refused() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    app.post(
        "/auth/v1/users/invite",
        Some(&admin),
        &json!({"email": "Partner@eventzr.com", "roles": ["user"]}),
    )
    .await
    .assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    let r = app
        .post(
            "/auth/v1/users/invite",
            Some(&admin),
            &json!({"email": "not-an-email", "roles": ["user"]}),
        )
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "email");
    assert!(app.tp.outbox.sent().is_empty());
}

#[tokio::test]
async fn a_refusal_of_the_caller_is_not_kept_for_replay_under_its_idempotency_key() {
    let app = TestAuth::new().await;
    let body = json!({"email": "retry401@example.com", "roles": ["user"]});
    let invite_with = |token: String| {
        let key = [("idempotency-key", "retry-after-401")];
        app.send(json_request(
            "POST",
            INVITE,
            Some(&token),
            Some(&body),
            &key,
        ))
    };
    // The session ended (everywhere): the request is refused as the caller's.
    let ended = access(&app, "admin@eventzr.com").await;
    app.post("/auth/v1/logout/all", Some(&ended), &json!({}))
        .await;
    let refused = invite_with(ended).await;
    refused.assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert!(refused.header("www-authenticate").is_some());
    // Signed in again, the same retry runs: it is not the stored 401.
    let again = invite_with(access(&app, "admin@eventzr.com").await).await;
    assert_eq!(
        again.status,
        202,
        "{}",
        String::from_utf8_lossy(&again.bytes)
    );
    assert_eq!(again.header("idempotent-replayed"), None);
    assert_eq!(app.tp.outbox.sent_to("retry401@example.com").len(), 1);
}

#[tokio::test]
async fn an_invite_replayed_with_its_idempotency_key_sends_one_mail() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let body = json!({"email": "once@eventzr.com", "roles": ["user"]});
    let key = [("idempotency-key", "invite-42")];
    let send = || {
        app.send(json_request(
            "POST",
            INVITE,
            Some(&admin),
            Some(&body),
            &key,
        ))
    };
    let first = send().await;
    let second = send().await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (202, 202));
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.json()["data"], second.json()["data"]);
    assert_eq!(app.tp.outbox.sent_to("once@eventzr.com").len(), 1);

    // A replay skips the handler, not the live-session check: logged out, the same
    // token gets 401 for the stored answer too; a suspended tenant's, 403.
    let other = access(&app, "admin@eventzr.com").await;
    app.post("/auth/v1/logout", Some(&admin), &json!({})).await;
    let third = send().await;
    third.assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(third.header("idempotent-replayed"), None);
    // A public route does not answer to the token sent along: its replay needs no session.
    let (forgot_body, forgot_key) = (
        json!({"email": "user@eventzr.com"}),
        [("idempotency-key", "forgot-1")],
    );
    let forgot = || {
        let path = "/auth/v1/password/forgot";
        app.send(json_request(
            "POST",
            path,
            Some(&admin),
            Some(&forgot_body),
            &forgot_key,
        ))
    };
    assert_eq!(forgot().await.status, 202);
    let again = forgot().await;
    assert_eq!(again.status, 202);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    app.set_tenant_status(T1, "suspended").await;
    let replay = json_request("POST", INVITE, Some(&other), Some(&body), &key);
    app.send(replay)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
}

#[tokio::test]
async fn the_system_role_creates_and_patches_tenants() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let r = app
        .post(
            "/auth/v1/tenants",
            Some(&system),
            &json!({"name": " Acme Events ", "planTier": "professional"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let d = r.json()["data"].clone();
    assert_eq!(
        (
            d["name"].as_str(),
            d["planTier"].as_str(),
            d["status"].as_str()
        ),
        (Some("Acme Events"), Some("PRO"), Some("active"))
    );
    let id = TenantId::parse(d["id"].as_str().unwrap()).expect("a UUID");
    let at = format!("/auth/v1/tenants/{id}");
    assert_eq!(r.header("location"), Some(at.as_str()));
    let r = patch(
        &app,
        &at,
        &system,
        json!({"planTier": "pro_max", "status": "suspended"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let stored = tenants::get(app.state.store(), &id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.plan_tier.as_str(),
            stored.status.as_str(),
            stored.name.as_str()
        ),
        ("PROMAX", "suspended", "Acme Events")
    );
    let r = app
        .post(
            "/auth/v1/tenants",
            Some(&system),
            &json!({"name": "", "planTier": "gold"}),
        )
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([
            {"field": "name", "issue": "must be 1-100 characters, not all blank"},
            {"field": "planTier", "issue": "must be one of BASE, STUDENT, STARTUP, PRO, PROMAX, ENTERPRISE"},
        ])
    );
    patch(
        &app,
        &format!("/auth/v1/tenants/{}", uuid::Uuid::new_v4()),
        &system,
        json!({"name": "X"}),
    )
    .await
    .assert_error(404, "ERR_AUTH_NOT_FOUND");
}

#[tokio::test]
async fn the_platform_account_cannot_be_changed_through_the_admin_routes() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    patch(
        &app,
        &user_path("system@eventzr.com"),
        &system,
        json!({"roles": ["user"]}),
    )
    .await
    .assert_error(403, "ERR_AUTH_FORBIDDEN");
    let stored = stored_user(&app, auth::seed::SYSTEM, "system@eventzr.com").await;
    assert_eq!(stored.roles, ["system"]);
}

/// `token` may neither create a tenant, list them, nor read or patch T1's or T3's: 403,
/// and T3 unchanged.
async fn creates_and_patches_no_tenant(app: &TestAuth, token: &str) {
    app.get("/auth/v1/tenants", Some(token))
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    for t in [T1, T3] {
        app.get(&format!("/auth/v1/tenants/{t}"), Some(token))
            .await
            .assert_error(403, "ERR_AUTH_FORBIDDEN");
    }
    app.post(
        "/auth/v1/tenants",
        Some(token),
        &json!({"name": "Mine", "planTier": "BASE"}),
    )
    .await
    .assert_error(403, "ERR_AUTH_FORBIDDEN");
    for t in [T1, T3] {
        patch(
            app,
            &format!("/auth/v1/tenants/{t}"),
            token,
            json!({"planTier": "ENTERPRISE"}),
        )
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    }
    let t3 = tenants::get(app.state.store(), &TenantId::parse(T3).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t3.plan_tier, "STARTUP");
}

#[tokio::test]
async fn a_tenant_admin_cannot_create_or_patch_tenants() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    creates_and_patches_no_tenant(&app, &admin).await;
}

#[tokio::test]
async fn a_system_role_in_an_ordinary_tenant_creates_and_patches_no_tenant() {
    let app = TestAuth::new().await;
    // T1's admin's own token (a live session), re-signed with the role `system` added.
    let real = access(&app, "admin@eventzr.com").await;
    let part = |i: usize| -> Value {
        let raw = real.split('.').nth(i).unwrap();
        serde_json::from_slice(&B64.decode(raw).unwrap()).unwrap()
    };
    let mut claims = part(1);
    claims["roles"] = json!(["admin", "system"]);
    let keys = app.state.issuer.keys().await.unwrap();
    let stray = sign_as(keys.active_key(), &part(0), &claims);
    let r = app.get("/auth/v1/profile", Some(&stray)).await;
    assert_eq!(r.status, 200, "the token itself is good");

    creates_and_patches_no_tenant(&app, &stray).await;
    // The refusal the cross-tenant user routes give the same token.
    let as_t3 = Request::get("/auth/v1/users")
        .header("authorization", format!("Bearer {stray}"))
        .header("x-tenant-id", T3)
        .body(Body::empty())
        .unwrap();
    app.send(as_t3)
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
}

/// `GET /tenants/{tenantId}` of `token`: the reply, asserted to be in the envelope.
async fn read_tenant(app: &TestAuth, id: &str, token: Option<&str>) -> Reply {
    let r = app.get(&format!("/auth/v1/tenants/{id}"), token).await;
    let body = r.json();
    assert_eq!(body["meta"]["service"], "auth-svc", "{body}");
    assert!(
        body.get("data").is_some() && body.get("error").is_some(),
        "{body}"
    );
    r
}

/// The tenant a 200 answered, its envelope's error null.
fn tenant_in(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert!(r.json()["error"].is_null());
    r.json()["data"].clone()
}

#[tokio::test]
async fn the_system_role_reads_a_tenant_where_its_create_says_it_is() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let body = json!({"name": "Acme Events", "planTier": "STARTUP"});
    let created = app.post("/auth/v1/tenants", Some(&system), &body).await;
    assert_eq!(created.status, 201);
    let location = created.header("location").expect("Location").to_owned();
    let made = created.json()["data"].clone();
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/auth/v1/tenants/{id}"));

    let r = app.get(&location, Some(&system)).await;
    let read = tenant_in(&r);
    assert_eq!(
        read,
        json!({"id": id, "name": "Acme Events", "planTier": "STARTUP", "status": "active",
               "strictSessions": false})
    );
    assert_eq!(read, made);

    let r = patch(
        &app,
        &location,
        &system,
        json!({"status": "suspended", "planTier": "PRO"}),
    )
    .await;
    let patched = tenant_in(&r);
    let read = tenant_in(&read_tenant(&app, &id, Some(&system)).await);
    assert_eq!(
        (
            &read["id"],
            &read["name"],
            &read["planTier"],
            &read["status"]
        ),
        (
            &json!(id),
            &json!("Acme Events"),
            &json!("PRO"),
            &json!("suspended")
        )
    );
    assert_eq!(read, patched);
    // The platform's own tenant too (the caller's home tenant, which the live-session
    // check reads in the same batch).
    let platform = tenant_in(&read_tenant(&app, auth::seed::SYSTEM, Some(&system)).await);
    assert_eq!(
        (&platform["id"], &platform["status"]),
        (&json!(auth::seed::SYSTEM), &json!("active"))
    );
}

/// `GET` and `PATCH /tenants/{id}` with `token` both answer (`status`, `code`).
async fn read_and_patch_refused(app: &TestAuth, id: &str, token: &str, status: u16, code: &str) {
    read_tenant(app, id, Some(token))
        .await
        .assert_error(status, code);
    let path = format!("/auth/v1/tenants/{id}");
    patch(app, &path, token, json!({"planTier": "PRO"}))
        .await
        .assert_error(status, code);
}

#[tokio::test]
async fn a_tenant_admin_cannot_read_a_tenant() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    // Not even its own: tenants are the platform's business.
    for t in [T1, T3] {
        read_and_patch_refused(&app, t, &admin, 403, "ERR_AUTH_FORBIDDEN").await;
    }
}

#[tokio::test]
async fn an_unknown_tenant_is_not_found() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    read_and_patch_refused(&app, &unknown, &system, 404, "ERR_AUTH_NOT_FOUND").await;
}

/// As PATCH answers it and every route with an id in its path: a malformed id names no
/// tenant (404), once the caller is authenticated and authorised.
#[tokio::test]
async fn a_malformed_tenant_id_is_not_found_after_the_caller_is_checked() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    read_and_patch_refused(&app, "not-a-uuid", &system, 404, "ERR_AUTH_NOT_FOUND").await;
    let admin = access(&app, "admin@eventzr.com").await;
    read_and_patch_refused(&app, "not-a-uuid", &admin, 403, "ERR_AUTH_FORBIDDEN").await;
    read_tenant(&app, "not-a-uuid", None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
}

#[tokio::test]
async fn a_tenant_is_not_read_without_a_live_session() {
    let app = TestAuth::new().await;
    read_tenant(&app, T3, None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    read_and_patch_refused(&app, T3, "not-a-token", 401, "ERR_AUTH_TOKEN_INVALID").await;
    let system = access(&app, "system@eventzr.com").await;
    assert_eq!(
        tenant_in(&read_tenant(&app, T3, Some(&system)).await)["id"],
        T3
    );
    let out = app.post("/auth/v1/logout", Some(&system), &json!({})).await;
    assert_eq!(out.status, 200);
    read_and_patch_refused(&app, T3, &system, 401, "ERR_AUTH_TOKEN_REVOKED").await;
}

const TENANTS: &str = "/auth/v1/tenants";

/// Every tenant `GET /tenants?<query>` lists to `token`, walked page by page.
async fn listed_tenants(app: &TestAuth, token: &str, query: &str) -> Vec<Value> {
    walk_list(app, TENANTS, token, query).await.0
}

/// The tenant `POST /tenants` created (as it answered).
async fn new_tenant(app: &TestAuth, system: &str, name: &str, plan: &str) -> Value {
    let body = json!({"name": name, "planTier": plan});
    let r = app.post(TENANTS, Some(system), &body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].clone()
}

/// The listed tenant of id `id`, asserted to be listed once.
fn listed<'a>(list: &'a [Value], id: &str) -> &'a Value {
    let found: Vec<_> = list.iter().filter(|t| t["id"] == id).collect();
    assert_eq!(found.len(), 1, "{id} once in {list:?}");
    found[0]
}

fn ids_of(list: &[Value]) -> Vec<String> {
    list.iter().map(id_in).collect()
}

#[track_caller]
fn assert_in_id_order(list: &[Value]) {
    let ids = ids_of(list);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ascending tenant ids");
}

#[tokio::test]
async fn the_system_role_lists_every_tenant_in_id_order() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let acme = new_tenant(&app, &system, "Acme Events", "STARTUP").await;
    let zeta = new_tenant(&app, &system, "Zeta Fest", "enterprise").await;

    let r = app.get(TENANTS, Some(&system)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let body = r.json();
    assert!(body["error"].is_null());
    assert_eq!(body["meta"]["service"], "auth-svc");
    assert_eq!(
        body["page"],
        json!({"has_more": false, "next_cursor": null, "limit": 20})
    );
    let list = body["data"].as_array().unwrap().clone();
    let staging = [auth::seed::SYSTEM, T1, T3];
    assert_eq!(list.len(), staging.len() + 2, "{list:?}");
    // The staging seed's tenants, as stored.
    assert_eq!(
        listed(&list, T1),
        &json!({"id": T1, "name": "EventZR", "planTier": "ENTERPRISE", "status": "active",
               "strictSessions": false})
    );
    assert_eq!(listed(&list, T3)["name"], "StartupCo");
    assert_eq!(
        listed(&list, auth::seed::SYSTEM)["name"],
        "EventZR Platform"
    );
    // The created ones as their POST answered them: name, plan and status.
    for made in [&acme, &zeta] {
        assert_eq!(listed(&list, made["id"].as_str().unwrap()), made);
    }
    assert_eq!(
        (&zeta["name"], &zeta["planTier"], &zeta["status"]),
        (&json!("Zeta Fest"), &json!("ENTERPRISE"), &json!("active"))
    );
    assert_in_id_order(&list);
    // Created later, listed later: ids are UUIDv7.
    let ids = ids_of(&list);
    let at = |t: &Value| ids.iter().position(|i| *i == t["id"]).unwrap();
    assert!(at(&acme) < at(&zeta), "{ids:?}");

    // A change shows in the list.
    let path = format!("{TENANTS}/{}", zeta["id"].as_str().unwrap());
    let r = patch(&app, &path, &system, json!({"status": "suspended"})).await;
    let patched = tenant_in(&r);
    let list = listed_tenants(&app, &system, "").await;
    assert_eq!(listed(&list, zeta["id"].as_str().unwrap()), &patched);
    assert_eq!(patched["status"], "suspended");
    assert_eq!(
        listed(&list, acme["id"].as_str().unwrap())["status"],
        "active"
    );
}

#[tokio::test]
async fn the_tenant_list_pages_through_every_tenant_exactly_once() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    for i in 0..4 {
        new_tenant(&app, &system, &format!("Tenant {i}"), "BASE").await;
    }
    let whole = listed_tenants(&app, &system, "limit=100").await;
    assert_eq!(whole.len(), 7);
    let (pages, sizes) = walk_list(&app, TENANTS, &system, "limit=2").await;
    // Pages of two, then the last one, with no next cursor (no empty page after it).
    assert_eq!(sizes, [2, 2, 2, 1]);
    assert_eq!(pages, whole, "every tenant once, in the same order");
    assert_in_id_order(&pages);
    let (pages, sizes) = walk_list(&app, TENANTS, &system, "limit=7").await;
    assert_eq!((pages.len(), sizes), (7, vec![7]));
}

/// `GET <path>?<query>` as `token`: 400 with `code`, and its `error` (code, message,
/// details).
async fn refused_400(app: &TestAuth, path: &str, query: &str, token: &str, code: &str) -> Value {
    let r = app.get(&format!("{path}?{query}"), Some(token)).await;
    r.assert_error(400, code);
    r.json()["error"].clone()
}

/// `GET /tenants?<query>` as `token`: 400 VALIDATION naming `field` alone, with `issue`;
/// its `error`.
async fn refused_field(
    app: &TestAuth,
    query: &str,
    token: &str,
    field: &str,
    issue: &str,
) -> Value {
    let error = refused_400(app, TENANTS, query, token, "ERR_AUTH_VALIDATION").await;
    let fields = &error["details"]["fields"];
    assert_eq!(
        fields,
        &json!([{"field": field, "issue": issue}]),
        "{query}"
    );
    error
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_refused_as_the_users_list_refuses_it() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let admin = access(&app, "admin@eventzr.com").await;
    for limit in ["0", "101", "abc", "-1", ""] {
        let query = format!("limit={limit}");
        let issue = "must be an integer from 1 to 100";
        let error = refused_field(&app, &query, &system, "limit", issue).await;
        let users = refused_400(
            &app,
            "/auth/v1/users",
            &query,
            &admin,
            "ERR_AUTH_VALIDATION",
        );
        assert_eq!(users.await, error, "limit={limit}");
    }
    let r = app.get(&format!("{TENANTS}?limit=1"), Some(&system)).await;
    let cursor = r.json()["page"]["next_cursor"].as_str().unwrap().to_owned();
    // One character changed: refused as /users refuses a tampered cursor.
    let users = app.get("/auth/v1/users?limit=1", Some(&admin)).await;
    let users_cursor = users.json()["page"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let tamper = |c: &str| {
        let mut c = c.to_owned().into_bytes();
        c[10] = if c[10] == b'A' { b'B' } else { b'A' };
        String::from_utf8(c).unwrap()
    };
    let error = refused_400(
        &app,
        TENANTS,
        &format!("limit=1&cursor={}", tamper(&cursor)),
        &system,
        "ERR_AUTH_INVALID_CURSOR",
    )
    .await;
    let query = format!("limit=1&cursor={}", tamper(&users_cursor));
    let users = refused_400(
        &app,
        "/auth/v1/users",
        &query,
        &admin,
        "ERR_AUTH_INVALID_CURSOR",
    );
    assert_eq!(users.await, error);
    // A cursor of another list, or of the same list under another filter, is no cursor
    // here.
    for query in [
        format!("limit=1&cursor={users_cursor}"),
        format!("limit=1&status=active&cursor={cursor}"),
    ] {
        refused_400(&app, TENANTS, &query, &system, "ERR_AUTH_INVALID_CURSOR").await;
    }
    // Nor is this list's cursor one of the users list, for the same caller and tenant.
    let query = format!("limit=1&cursor={cursor}");
    refused_400(
        &app,
        "/auth/v1/users",
        &query,
        &system,
        "ERR_AUTH_INVALID_CURSOR",
    )
    .await;
    // The untouched cursor still works.
    let r = app
        .get(&format!("{TENANTS}?limit=1&cursor={cursor}"), Some(&system))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_tenant_list_filters_by_status_and_names_a_bad_one() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let made: Vec<Value> = created_tenants(&app, &system, 3).await;
    for id in [T3, made[1]["id"].as_str().unwrap()] {
        app.set_tenant_status(id, "suspended").await;
    }
    let suspended = listed_tenants(&app, &system, "status=suspended").await;
    assert_eq!(
        ids_of(&suspended),
        sorted([T3, made[1]["id"].as_str().unwrap()])
    );
    assert!(suspended.iter().all(|t| t["status"] == "suspended"));
    // Paged through a filter, a page at a time: every active one exactly once.
    let (active, sizes) = walk_list(&app, TENANTS, &system, "status=active&limit=1").await;
    let mut expected = vec![auth::seed::SYSTEM, T1];
    expected.extend([&made[0], &made[2]].map(|t| t["id"].as_str().unwrap()));
    assert_eq!(ids_of(&active), sorted(expected));
    // In id order the last active one (T1) is followed only by suspended T3: its page
    // ends the list, with no cursor to an empty page.
    assert_eq!(sizes, [1, 1, 1, 1]);
    // Case and blanks as PATCH takes them.
    let upper = listed_tenants(&app, &system, "status=%20SUSPENDED").await;
    assert_eq!(upper, suspended);
    for bad in ["bogus", "deleted", ""] {
        let query = format!("status={bad}");
        let issue = "must be 'active' or 'suspended'";
        refused_field(&app, &query, &system, "status", issue).await;
    }
}

/// `n` tenants created by `POST /tenants`, in order.
async fn created_tenants(app: &TestAuth, system: &str, n: usize) -> Vec<Value> {
    let mut made = Vec::new();
    for i in 0..n {
        made.push(new_tenant(app, system, &format!("Tenant {i}"), "BASE").await);
    }
    made
}

fn sorted<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn only_a_live_system_session_lists_tenants() {
    let app = TestAuth::new().await;
    // A tenant admin: 403, as for one tenant; before a bad limit is looked at.
    let admin = access(&app, "admin@eventzr.com").await;
    for query in ["", "?limit=0", "?status=bogus"] {
        app.get(&format!("{TENANTS}{query}"), Some(&admin))
            .await
            .assert_error(403, "ERR_AUTH_FORBIDDEN");
    }
    read_tenant(&app, T1, Some(&admin))
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    app.get(TENANTS, None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    let system = access(&app, "system@eventzr.com").await;
    assert_eq!(listed_tenants(&app, &system, "").await.len(), 3);
    let out = app.post("/auth/v1/logout", Some(&system), &json!({})).await;
    assert_eq!(out.status, 200);
    for query in ["", "?limit=0"] {
        app.get(&format!("{TENANTS}{query}"), Some(&system))
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    }
}

/// Every path that founds a tenant puts it in the list: a signup, an OAuth sign-up (and
/// `POST /tenants` and the staging seed, above).
#[tokio::test]
async fn tenants_founded_by_signup_and_oauth_sign_up_are_listed() {
    let (app, fake) = crate::oauth::app().await;
    let body = json!({"email": "founder@example.com", "password": "a brand new passphrase",
        "name": "Ada Founder", "tenantName": "Founded Events"});
    let r = app.post("/auth/v1/signup/email", None, &body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let login = crate::oauth::fake_provider::Login::verified("ada@analytical.engine");
    let r = crate::oauth::sign_in(&app, &fake, "google", login).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));

    let system = access(&app, "system@eventzr.com").await;
    let list = listed_tenants(&app, &system, "").await;
    assert_eq!(list.len(), 5, "{list:?}");
    for (email, name) in [
        ("founder@example.com", "Founded Events"),
        ("ada@analytical.engine", "Ada Lovelace"),
    ] {
        let user = users::by_email(app.state.store(), &Email::parse(email).unwrap())
            .await
            .unwrap()
            .expect("founder");
        assert_eq!(
            listed(&list, &user.tenant_id),
            &json!({"id": user.tenant_id, "name": name, "planTier": "BASE",
                   "status": "active", "strictSessions": false})
        );
    }
    assert_in_id_order(&list);
}

/// A tenant record written before the list existed carries no index attributes: not
/// listed until its first change, which puts it there.
#[tokio::test]
async fn a_tenant_written_before_the_index_joins_the_list_at_its_first_change() {
    let app = TestAuth::new().await;
    let id = TenantId::from_uuid(uuid::Uuid::now_v7());
    let record = tenants::Tenant {
        id: id.to_string(),
        name: "Old Co".into(),
        plan_tier: "PRO".into(),
        status: "active".into(),
        strict_sessions: false,
    };
    // As tenants::create wrote it until 2026-12-05.
    let item = shared::store::Item::from_record(&auth::repo::tenant(&id), &record).unwrap();
    app.state
        .store()
        .put(shared::store::Put::new(item))
        .await
        .unwrap();
    let system = access(&app, "system@eventzr.com").await;
    let list = listed_tenants(&app, &system, "").await;
    assert!(!ids_of(&list).contains(&id.to_string()), "{list:?}");
    let path = format!("{TENANTS}/{id}");
    let r = patch(&app, &path, &system, json!({"planTier": "PRO"})).await;
    let patched = tenant_in(&r);
    let list = listed_tenants(&app, &system, "").await;
    assert_eq!(listed(&list, &id.to_string()), &patched);
    assert_eq!(list.len(), 4);
}

#[tokio::test]
async fn over_the_wire_an_admin_lists_and_patches_users() {
    let Some(app) = TestAuth::on_dynamodb("over_the_wire_an_admin_lists_and_patches_users").await
    else {
        return;
    };
    let token = access(&app, "admin@eventzr.com").await;
    let (ids, _) = walk(&app, &token, "limit=2").await;
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), ids_in(T1));
    assert_eq!(ids.len(), ids_in(T1).len());
    let r = patch(
        &app,
        &user_path("organizer@eventzr.com"),
        &token,
        json!({"roles": ["organizer", "partner"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        stored_user(&app, T1, "organizer@eventzr.com").await.roles,
        ["organizer", "partner"]
    );
    let t3 = access(&app, "admin@startup.co").await;
    patch(
        &app,
        &user_path("admin@startup.co"),
        &t3,
        json!({"roles": ["user"]}),
    )
    .await
    .assert_error(409, "ERR_AUTH_LAST_ADMIN");
}

#[tokio::test]
async fn a_suspended_tenant_s_admin_changes_and_invites_no_one() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let user_access = access(&app, "user@eventzr.com").await;
    let feared = access(&app, "organizer@eventzr.com").await;
    let feared_too = access(&app, "organizer@eventzr.com").await;
    app.set_tenant_status(T1, "suspended").await;
    let audited = audit_kinds(&app, T1).await.len();

    // The admin's session outlived the suspension: the change is refused before it is made.
    let body = json!({"status": "suspended", "roles": ["organizer"]});
    let r = patch(&app, &user_path("user@eventzr.com"), &admin, body).await;
    r.assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert_eq!(r.json()["error"]["details"]["scope"], "tenant");
    let user = stored_user(&app, T1, "user@eventzr.com").await;
    assert_eq!(user.roles, ["user"]);
    assert_eq!(user.status, auth::domain::UserStatus::Active);
    // Nor does it invite anyone (signup would refuse the invite).
    let body = json!({"email": "new@eventzr.com", "roles": ["user"]});
    app.post("/auth/v1/users/invite", Some(&admin), &body)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert!(app.tp.outbox.sent_to("new@eventzr.com").is_empty());
    assert_eq!(audit_kinds(&app, T1).await.len(), audited);
    // Every bearer route refuses its users while it lasts, reads and writes alike.
    app.get("/auth/v1/sessions", Some(&user_access))
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    app.post("/auth/v1/mfa/totp/enroll", Some(&user_access), &json!({}))
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    let change = json!({"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"});
    app.post("/auth/v1/password/change", Some(&user_access), &change)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert_eq!(app.login("user@eventzr.com", PASSWORD).await.status, 403);
    // Ending a session stays open: a person who fears a token was stolen can end it.
    let r = app.post("/auth/v1/logout", Some(&feared), &json!({})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let r = app
        .post("/auth/v1/logout/all", Some(&feared_too), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    // Nobody was signed out by the suspension itself: lifted, the same tokens work again.
    app.set_tenant_status(T1, "active").await;
    assert_eq!(
        app.get("/auth/v1/sessions", Some(&user_access))
            .await
            .status,
        200
    );
    app.get("/auth/v1/profile", Some(&feared_too))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
}

/// Invites carry the tenant's name from the platform's address, and anyone can make a
/// tenant: 50 an hour per tenant, 3 a day to one address, past that 429 and no mail.
#[tokio::test]
async fn invites_are_limited_per_tenant_and_per_address() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let invite = async |token: &str, email: &str| {
        let body = json!({"email": email, "roles": ["user"]});
        app.post("/auth/v1/users/invite", Some(token), &body).await
    };
    for _ in 0..3 {
        assert_eq!(invite(&admin, "again@example.net").await.status, 202);
    }
    let r = invite(&admin, "again@example.net").await;
    r.assert_error(429, "ERR_AUTH_RATE_LIMITED");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.tp.outbox.sent_to("again@example.net").len(), 3);
    for i in 3..50 {
        let r = invite(&admin, &format!("hire{i}@example.net")).await;
        assert_eq!(
            r.status,
            202,
            "invite {i}: {}",
            String::from_utf8_lossy(&r.bytes)
        );
    }
    invite(&admin, "one.too.many@example.net")
        .await
        .assert_error(429, "ERR_AUTH_RATE_LIMITED");
    assert!(app.tp.outbox.sent_to("one.too.many@example.net").is_empty());
    // The next hour, invites go out again (the address's day still counts).
    let day = app.state.now().date_naive();
    app.advance(chrono::Duration::hours(1));
    let admin = access(&app, "admin@eventzr.com").await;
    assert_eq!(invite(&admin, "one.too.many@example.net").await.status, 202);
    let same_day = app.state.now().date_naive() == day;
    let again = invite(&admin, "again@example.net").await.status;
    assert_eq!(again, if same_day { 429 } else { 202 });
}

/// A tenant's name is shown to others (invite mails): no bidi or line-breaking
/// characters, as for a person's name.
#[tokio::test]
async fn a_tenant_name_refuses_bidi_and_line_breaking_characters() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    for name in ["evil\u{202e}moc.xe", "two\u{2028}lines", "tab\tbed"] {
        let r = app
            .post(
                "/auth/v1/tenants",
                Some(&system),
                &json!({"name": name, "planTier": "BASE"}),
            )
            .await;
        r.assert_error(400, "ERR_AUTH_VALIDATION");
        assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "name");
    }
    let body = json!({"email": "rlo@example.com", "password": "a brand new passphrase",
        "name": "Ada", "tenantName": "Acme\u{202e}"});
    let r = app.post("/auth/v1/signup/email", None, &body).await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "tenantName"
    );
}

/// A person who lost their authenticator and recovery codes: an admin who signed in
/// lately turns their TOTP off; their password alone signs them in until they enroll
/// again. Audited; not for other tenants, other roles or system users.
#[tokio::test]
async fn an_admin_turns_off_a_users_lost_two_step_sign_in() {
    let app = TestAuth::new().await;
    let dev = "dev@eventzr.com";
    let path = user_path(dev) + "/mfa";
    assert_eq!(
        app.login(dev, PASSWORD).await.json()["data"]["mfaRequired"],
        true
    );
    let reset = async |token: &str| app.call("DELETE", &path, Some(token), None).await;

    reset(&access(&app, "organizer@eventzr.com").await)
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    reset(&access(&app, "admin@startup.co").await)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    let stale = access(&app, "admin@eventzr.com").await;
    app.advance(chrono::Duration::minutes(11));
    reset(&stale)
        .await
        .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
    assert!(stored_user(&app, T1, dev).await.totp_secret.is_some());

    let admin = access(&app, "admin@eventzr.com").await;
    let r = reset(&admin).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["mfaEnabled"], false);
    let stored = stored_user(&app, T1, dev).await;
    assert!(stored.totp_secret.is_none() && stored.recovery_codes.is_empty());
    assert!(
        audit_kinds(&app, T1)
            .await
            .contains(&"mfa.reset".to_owned())
    );
    assert_eq!(
        app.subjects_to(dev),
        ["Your EventZR second factors were removed"]
    );
    let login = app.login(dev, PASSWORD).await;
    assert_eq!(login.status, 200);
    assert!(
        login.json()["data"]["accessToken"].is_string(),
        "{}",
        login.json()
    );
    reset(&admin)
        .await
        .assert_error(400, "ERR_AUTH_MFA_NOT_ENABLED");
    // The platform's system user is the platform's to manage, even for a system caller.
    let system = access(&app, "system@eventzr.com").await;
    let own = Request::delete("/auth/v1/users/b0000000-0000-4000-8000-000000000001/mfa")
        .header("authorization", format!("Bearer {system}"))
        .body(Body::empty())
        .unwrap();
    app.send(own).await.assert_error(403, "ERR_AUTH_FORBIDDEN");
}

#[tokio::test]
async fn the_platform_tenant_cannot_be_suspended() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let r = patch(
        &app,
        &format!("/auth/v1/tenants/{}", auth::seed::SYSTEM),
        &system,
        json!({"status": "suspended"}),
    )
    .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "status");
    let platform = tenants::get(app.state.store(), &TenantId::SYSTEM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(platform.status, "active");
    assert_eq!(app.get("/auth/v1/profile", Some(&system)).await.status, 200);
}

#[tokio::test]
async fn a_suspended_tenant_s_users_can_neither_sign_in_nor_refresh() {
    let app = TestAuth::new().await;
    let (_, refresh) = app.tokens("admin@startup.co").await;
    app.set_tenant_status(auth::seed::T3, "suspended").await;
    // Told that the tenant is suspended, not their account (same code, as specified).
    let r = app.login("admin@startup.co", PASSWORD).await;
    r.assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert_eq!(r.json()["error"]["details"], json!({"scope": "tenant"}));
    assert_eq!(r.json()["error"]["message"], "the tenant is suspended");
    let r = app
        .post("/auth/v1/refresh", None, &json!({"refreshToken": refresh}))
        .await;
    r.assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert_eq!(r.json()["error"]["details"]["scope"], "tenant");
    // T1 is untouched.
    assert_eq!(app.login("user@eventzr.com", PASSWORD).await.status, 200);
}

/// The contract with the other services: what they read of the record
/// (`shared::tenant_status`, notify before it sends) follows the platform's PATCH.
#[tokio::test]
async fn other_services_read_a_tenant_s_suspension_from_its_record() {
    let app = TestAuth::new().await;
    let records = shared::tenant_status::TenantRecords::new(app.state.store.clone());
    let t3 = shared::tenant::TenantId::parse(auth::seed::T3).unwrap();
    assert!(!records.tenant(&t3).await.unwrap().tenant_suspended(&t3));
    app.set_tenant_status(auth::seed::T3, "suspended").await;
    assert!(records.tenant(&t3).await.unwrap().tenant_suspended(&t3));
    app.set_tenant_status(auth::seed::T3, "active").await;
    assert!(!records.tenant(&t3).await.unwrap().tenant_suspended(&t3));
    // And its plan, as the platform changes it (notify: SMS needs STARTUP).
    let plan = || async { records.tenant(&t3).await.unwrap().plan(&t3) };
    assert_eq!(plan().await, Some(shared::access::PlanTier::Startup));
    let system = app.tokens("system@eventzr.com").await.0;
    let path = format!("/auth/v1/tenants/{}", auth::seed::T3);
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&system),
            Some(&json!({"planTier": "base"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(plan().await, Some(shared::access::PlanTier::Base));
}

/// The same contract for one account: while it is suspended, other services read it
/// so (notify sends it no push or in-app message); reactivated, it reads active again.
/// A role change alone publishes nothing.
#[tokio::test]
async fn other_services_read_an_account_s_suspension_from_its_record() {
    use shared::tenant_status::{Inactive, TenantRecords};
    let app = TestAuth::new().await;
    let records = TenantRecords::new(app.state.store.clone());
    let t1 = TenantId::parse(T1).unwrap();
    let user = stored_user(&app, T1, "user@eventzr.com").await;
    let standing = || async {
        records
            .standing(&[], &[(t1, user.id.as_str())])
            .await
            .unwrap()
            .inactive(&t1, &user.id)
    };
    let admin = access(&app, "admin@eventzr.com").await;
    let path = user_path("user@eventzr.com");
    assert_eq!(standing().await, None);
    let r = patch(&app, &path, &admin, json!({"roles": ["organizer"]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(standing().await, None, "a role change publishes nothing");
    let r = patch(&app, &path, &admin, json!({"status": "suspended"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(standing().await, Some(Inactive::Suspended));
    let r = patch(&app, &path, &admin, json!({"status": "active"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(standing().await, None);
    let key = shared::tenant_status::account_key(&t1, &user.id);
    assert!(app.state.store().get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_rights_at_once() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    let promote = patch(
        &app,
        &user_path("organizer@eventzr.com"),
        &admin,
        json!({"roles": ["admin"]}),
    )
    .await;
    assert_eq!(promote.status, 200);
    // Its roles changed, so organizer signs in again and gets a token that says admin.
    let organizer = access(&app, "organizer@eventzr.com").await;
    let demote = patch(
        &app,
        &user_path("admin@eventzr.com"),
        &organizer,
        json!({"roles": ["user"]}),
    )
    .await;
    assert_eq!(demote.status, 200);
    // The demoted admin's old token still says admin, but its session is over.
    patch(
        &app,
        &user_path("admin@eventzr.com"),
        &admin,
        json!({"roles": ["admin"]}),
    )
    .await
    .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.post(
        "/auth/v1/users/invite",
        Some(&admin),
        &json!({"email": "new@eventzr.com", "roles": ["admin"]}),
    )
    .await
    .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
}

#[tokio::test]
async fn system_reads_another_tenant_s_users_and_tenant_but_not_as_that_tenant_elsewhere() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    let as_t1 = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {system}"))
            .header("x-tenant-id", T1)
            .body(Body::empty())
            .unwrap()
    };
    let r = app.send(as_t1("/auth/v1/users")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let emails: BTreeSet<_> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert!(emails.contains("partner@eventzr.com"), "{emails:?}");
    let r = app.send(as_t1("/auth/v1/tenants/current")).await;
    assert_eq!(r.json()["data"]["id"], T1);
    // Its own account routes never act on the named tenant.
    app.send(as_t1("/auth/v1/profile"))
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    app.send(as_t1("/auth/v1/sessions"))
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
}

#[tokio::test]
async fn a_tenant_without_a_record_is_not_found() {
    let app = TestAuth::new().await;
    let system = access(&app, "system@eventzr.com").await;
    // Every route that reads the tenant's roster says so, not only the one reading it.
    for path in [
        "/auth/v1/tenants/current",
        "/auth/v1/users",
        "/auth/v1/users/invites",
    ] {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {system}"))
            .header("x-tenant-id", "a0000009-0000-0000-0000-000000000009")
            .body(Body::empty())
            .unwrap();
        app.send(req).await.assert_error(404, "ERR_AUTH_NOT_FOUND");
    }
}

/// A rare filter over a large roster reads at most `MAX_SCANNED` users a page: a short
/// page with a cursor instead of one request reading the whole partition (which in AWS
/// could outlast the gateway's 30 s); every match is still found, once. On the memory
/// store whatever the run: the cap is ours, and 1,000 writes through the serial emulator
/// would hold up every other suite.
#[tokio::test]
async fn a_filtered_list_over_a_large_roster_pages_instead_of_reading_it_all() {
    let app = TestAuth::with_store(std::sync::Arc::new(
        shared::store::memory::MemoryStore::new(),
    ))
    .await;
    let token = access(&app, "admin@eventzr.com").await;
    let model = stored_user(&app, T1, "user@eventzr.com").await;
    for i in 0..auth::repo::admin::MAX_SCANNED {
        let mut u = model.clone();
        u.id = shared::ids::new_id().to_string();
        u.email = format!("member{i}@example.com");
        auth::repo::users::create(app.state.store(), &u)
            .await
            .unwrap();
    }
    let (admins, sizes) = walk(&app, &token, "role=admin").await;
    assert_eq!(admins.len(), 2, "both admins, once each");
    assert!(sizes.len() >= 2, "the scan stopped and went on: {sizes:?}");
}

/// The one field a 400 names, and its issue.
fn named_field(r: &Reply) -> (String, String) {
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    let fields = r.json()["error"]["details"]["fields"].clone();
    assert_eq!(fields.as_array().map(Vec::len), Some(1), "{fields}");
    let text = |k: &str| fields[0][k].as_str().unwrap().to_owned();
    (text("field"), text("issue"))
}

#[tokio::test]
async fn a_query_parameter_given_twice_is_refused_naming_it() {
    let app = TestAuth::new().await;
    let admin = access(&app, "admin@eventzr.com").await;
    // Before, the last value won: the first listed suspended users only, the second
    // answered pages of 100.
    for (query, field) in [
        ("status=active&status=suspended", "status"),
        ("limit=5&limit=100", "limit"),
        ("role=admin&limit=1&role=user", "role"),
        ("cursor=a&cursor=b", "cursor"),
    ] {
        let r = app
            .get(&format!("/auth/v1/users?{query}"), Some(&admin))
            .await;
        let (named, issue) = named_field(&r);
        assert_eq!(named, field, "{query}");
        assert!(issue.contains("more than once"), "{query}: {issue}");
    }
    // A repeat is one more bad field: the others are named with it.
    let r = app
        .get("/auth/v1/users?role=root&status=a&status=b", Some(&admin))
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    let fields = r.error_fields();
    assert_eq!(fields, ["role", "status"]);
    // Once each, and names the route does not read (repeated or not), are as before.
    let r = app
        .get(
            "/auth/v1/users?status=active&limit=5&utm=x&utm=y&other=z",
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));

    let system = access(&app, "system@eventzr.com").await;
    let r = app
        .get(
            &format!("{TENANTS}?status=active&status=active"),
            Some(&system),
        )
        .await;
    assert_eq!(named_field(&r).0, "status");

    // A revoke naming two addresses revokes neither; a caller who may not revoke is told
    // that first.
    let organizer = access(&app, "organizer@eventzr.com").await;
    let both = "email=ann%40example.com&email=bob%40example.com";
    app.call(
        "DELETE",
        &format!("{INVITES}?{both}"),
        Some(&organizer),
        None,
    )
    .await
    .assert_error(403, "ERR_AUTH_FORBIDDEN");
    for to in ["ann@example.com", "bob@example.com"] {
        let body = json!({"email": to, "roles": ["user"]});
        let r = app.post("/auth/v1/users/invite", Some(&admin), &body).await;
        assert_eq!(r.status, 202);
    }
    let r = app
        .call("DELETE", &format!("{INVITES}?{both}"), Some(&admin), None)
        .await;
    assert_eq!(named_field(&r).0, "email");
    let pending = app.get(INVITES, Some(&admin)).await;
    assert_eq!(
        emails(&pending),
        BTreeSet::from(["ann@example.com".into(), "bob@example.com".into()])
    );
}
