//! Route group `session`: login, refresh, logout, sessions, profile, JWKS, current tenant.

use std::sync::Arc;

use auth::{
    domain::{User, UserStatus},
    repo::{
        self, credentials,
        lockout::{self, Counted},
        sessions::{self, Session},
        signin_limit, users,
    },
    tokens::RefreshToken,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::Duration;
use http::Request;
use serde_json::{Value, json};
use shared::{
    store::{
        Item, Put, TransactOp, Update,
        counting::CountingStore,
        faults::{FaultyStore, Op},
        memory::MemoryStore,
    },
    testing::{Reply, t1},
};

use crate::helpers::{PASSWORD, TestAuth, assert_not_cached, id_of};

const USER: &str = "user@eventzr.com";
const PARTNER: &str = "partner@eventzr.com";
const ORGANIZER: &str = "organizer@eventzr.com";

// ---- small local helpers -------------------------------------------------------------

async fn stored_user(app: &TestAuth, email: &str) -> User {
    users::get(app.state.store(), &t1(), id_of(email))
        .await
        .unwrap()
        .expect("user on record")
}

async fn set_user(app: &TestAuth, email: &str, name: &str, value: impl Into<shared::store::Value>) {
    app.state
        .store()
        .update(Update::new(repo::user(&t1(), id_of(email))).set(name, value))
        .await
        .expect("update user");
}

async fn stored_sessions(app: &TestAuth, email: &str) -> Vec<Session> {
    sessions::list(app.state.store(), &t1(), id_of(email))
        .await
        .unwrap()
}

async fn live_sessions(app: &TestAuth, email: &str) -> Vec<Session> {
    let now = app.state.epoch();
    let mut all = stored_sessions(app, email).await;
    all.retain(|s| s.is_live(now));
    all
}

/// The claims of a JWT, read without verifying (the tests' own tokens).
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn sid_of(jwt: &str) -> String {
    claims_of(jwt)["sid"].as_str().unwrap().to_owned()
}

fn hash_of(refresh: &str) -> String {
    RefreshToken::parse(refresh)
        .expect("a refresh token")
        .hash()
}

/// The single field a 400 VALIDATION names.
#[track_caller]
fn validation_field(r: &Reply) -> String {
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    let fields = &r.json()["error"]["details"]["fields"];
    fields[0]["field"].as_str().unwrap_or_default().to_owned()
}

async fn refresh(app: &TestAuth, token: &str) -> Reply {
    app.post("/auth/v1/refresh", None, &json!({ "refreshToken": token }))
        .await
}

/// The new pair of a successful refresh: (access, refresh).
#[track_caller]
fn pair(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let d = &r.json()["data"];
    (
        d["accessToken"].as_str().unwrap().to_owned(),
        d["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn patch_profile(app: &TestAuth, token: &str, body: &Value) -> Reply {
    app.call("PATCH", "/auth/v1/profile", Some(token), Some(body))
        .await
}

// ---- login ----------------------------------------------------------------------------

#[tokio::test]
async fn the_seed_guide_login_returns_tokens_and_the_user() {
    let app = TestAuth::new().await;
    let r = app.login("partner@eventzr.com", PASSWORD).await;
    assert_eq!(r.status, 200);
    let d = &r.json()["data"];
    assert_eq!(d["tokenType"], "Bearer");
    assert_eq!(d["expiresIn"], 900);
    assert_eq!(d["user"]["email"], "partner@eventzr.com");
    assert_eq!(d["user"]["roles"], json!(["partner"]));
    assert_eq!(d["user"]["tenantId"], auth::seed::T1);
    assert_eq!(d["user"]["planTier"], "ENTERPRISE");
    let profile = app.get("/auth/v1/profile", d["accessToken"].as_str()).await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.json()["data"]["email"], "partner@eventzr.com");
}

#[tokio::test]
async fn login_by_email_ignores_case_and_surrounding_spaces() {
    let app = TestAuth::new().await;
    let r = app.login("  User@EventZR.COM ", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let d = &r.json()["data"];
    assert_eq!(d["user"]["email"], USER);
    assert_eq!(d["user"]["id"], id_of(USER));
    let live = live_sessions(&app, USER).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, sid_of(d["accessToken"].as_str().unwrap()));
    assert_eq!(
        live[0].rt_hash,
        hash_of(d["refreshToken"].as_str().unwrap())
    );
}

#[tokio::test]
async fn login_by_username_works_once_the_profile_sets_one() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let r = patch_profile(&app, &access, &json!({ "username": "Ticket_Fan" })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["username"], "ticket_fan");

    let by_username = app
        .post(
            "/auth/v1/login",
            None,
            &json!({ "username": " TICKET_fan ", "password": PASSWORD }),
        )
        .await;
    assert_eq!(by_username.status, 200);
    assert_eq!(by_username.json()["data"]["user"]["id"], id_of(USER));
    assert_eq!(by_username.json()["data"]["user"]["username"], "ticket_fan");
    // The guides' single "email" box also takes a username.
    let in_email_field = app.login("ticket_fan", PASSWORD).await;
    assert_eq!(in_email_field.status, 200);
    assert_eq!(live_sessions(&app, USER).await.len(), 3);
    app.post(
        "/auth/v1/login",
        None,
        &json!({ "username": "ticket_fan", "password": "Password123?" }),
    )
    .await
    .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestAuth::new().await;
    let unknown = app.login("nobody@eventzr.com", PASSWORD).await;
    let wrong = app.login("user@eventzr.com", "Password123?").await;
    let unknown_name = app
        .post(
            "/auth/v1/login",
            None,
            &json!({ "username": "nobody_here", "password": PASSWORD }),
        )
        .await;
    unknown.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    wrong.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    unknown_name.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert_eq!(unknown.json()["error"], wrong.json()["error"]);
    assert_eq!(unknown.json()["error"], unknown_name.json()["error"]);
    assert_eq!(unknown.header("retry-after"), wrong.header("retry-after"));
    assert!(stored_sessions(&app, USER).await.is_empty());
    assert_eq!(stored_user(&app, USER).await.failed_logins, 1);
}

/// How long each refusal takes is a benchmark (`cargo bench -p auth-svc --bench auth`,
/// `login-unknown` against `login-wrong`, judged by scripts/bench.sh): here, that both do
/// the same work — one argon2id verification, and as many store requests.
#[tokio::test]
async fn unknown_email_and_wrong_password_do_the_same_work() {
    let store = Arc::new(CountingStore::new(MemoryStore::new()));
    let app = TestAuth::with_store(store.clone()).await;
    // The table's decoy key is made once, by the first unknown name.
    app.login("first@eventzr.com", PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    let mut work = Vec::new();
    for (email, password) in [("nobody@eventzr.com", PASSWORD), (USER, "Password123?")] {
        let before = app.state.hasher.verifications();
        store.reset();
        app.login(email, password)
            .await
            .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
        let requests = store.snapshot();
        work.push((app.state.hasher.verifications() - before, requests));
    }
    let [(unknown, u), (wrong, w)] = work[..] else {
        unreachable!()
    };
    assert_eq!((unknown, wrong), (1, 1), "one argon2id verification each");
    assert_eq!(
        u.total(),
        w.total(),
        "store requests: unknown {u:?}, wrong {w:?}"
    );
}

#[tokio::test]
async fn five_guesses_at_an_unknown_name_lock_it_as_they_would_an_account() {
    let app = TestAuth::new().await;
    for _ in 0..5 {
        app.login(USER, "Password123?").await;
    }
    let account = app.login(USER, "Password123?").await;
    account.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    for name in ["nobody@eventzr.com", "ghost"] {
        let body = json!({"email": name, "password": "Password123?"});
        let guess = || app.post("/auth/v1/login", None, &body);
        for _ in 0..4 {
            guess()
                .await
                .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
        }
        let fifth = guess().await;
        fifth.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
        assert_eq!(fifth.header("retry-after"), Some("900"), "{name}");
        assert_eq!(fifth.json()["error"], account.json()["error"], "{name}");
    }
    // Spelled otherwise, the email is the same name; another name has its own count.
    let other = app.login(" NoBody@EventZR.com ", PASSWORD).await;
    other.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    app.login("somebody@eventzr.com", PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");

    app.advance(Duration::minutes(10));
    let still = app.login("nobody@eventzr.com", PASSWORD).await;
    still.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert_eq!(still.header("retry-after"), Some("300"));
    app.advance(Duration::minutes(5));
    app.login("nobody@eventzr.com", PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");

    // The count is kept under an HMAC of the name, never the name, and expires.
    let key = credentials::decoy_hmac_key(app.state.store())
        .await
        .unwrap();
    let stand_in = Counted::stand_in(&key, "nobody@eventzr.com");
    let item = app
        .state
        .store()
        .get(stand_in.key())
        .await
        .unwrap()
        .expect("the stand-in's counter");
    let stored = format!("{item:?}");
    assert!(!stored.to_lowercase().contains("nobody"), "{stored}");
    assert_eq!(item.get_i64("failed_logins"), Some(1), "a new window");
    assert!(item.get_i64("expires_at").unwrap() > app.state.epoch());
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_for_fifteen_minutes() {
    let app = TestAuth::new().await;
    for _ in 0..4 {
        app.login(USER, "Password123?")
            .await
            .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    }
    let fifth = app.login(USER, "Password123?").await;
    fifth.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert_eq!(fifth.header("retry-after"), Some("900"));
    let stored = stored_user(&app, USER).await;
    assert_eq!(stored.failed_logins, 5);
    assert_eq!(stored.locked_until, app.state.epoch() + 900);

    // The right password does not open a locked account.
    app.advance(Duration::minutes(10));
    let right = app.login(USER, PASSWORD).await;
    right.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert_eq!(right.header("retry-after"), Some("300"));
    assert!(stored_sessions(&app, USER).await.is_empty());

    app.advance(Duration::minutes(5));
    let r = app.login(USER, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let stored = stored_user(&app, USER).await;
    assert_eq!(
        (stored.failed_logins, stored.locked_until),
        (0, 0),
        "the counter is reset"
    );
    // A fresh count: one failure is again only a 401.
    app.login(USER, "Password123?")
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
}

/// Five guesses reserved and still being checked (a parallel burst), no lock written:
/// the next sign-in is refused without a guess, told to retry in a second rather than at
/// the window's end, and signs in once the guesses gave their counts back.
#[tokio::test]
async fn guesses_in_flight_refuse_for_a_second_not_for_the_window() {
    let app = TestAuth::new().await;
    set_user(&app, USER, "failed_logins", 5).await;
    set_user(&app, USER, "failure_window_start", app.state.epoch() - 60).await;
    let r = app.login(USER, PASSWORD).await;
    r.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        stored_user(&app, USER).await.failed_logins,
        5,
        "no guess taken"
    );
    // The guesses were right: their counts are given back.
    set_user(&app, USER, "failed_logins", 0).await;
    let r = app.login(USER, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
}

#[tokio::test]
async fn a_suspended_account_is_refused_with_403() {
    let app = TestAuth::new().await;
    set_user(&app, USER, "status", "suspended").await;
    assert_eq!(stored_user(&app, USER).await.status, UserStatus::Suspended);
    app.login(USER, PASSWORD)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    // A wrong password still answers like any other (nothing about the status leaks).
    app.login(USER, "Password123?")
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert!(stored_sessions(&app, USER).await.is_empty());
}

#[tokio::test]
async fn an_unverified_account_is_refused_with_403() {
    let app = TestAuth::new().await;
    set_user(&app, USER, "email_verified", false).await;
    app.login(USER, PASSWORD)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_NOT_VERIFIED");
    assert!(stored_sessions(&app, USER).await.is_empty());
}

#[tokio::test]
async fn a_missing_password_or_malformed_body_is_a_validation_error_naming_the_field() {
    let app = TestAuth::new().await;
    let cases = [
        (json!({ "email": USER }), "password"),
        (json!({ "email": USER, "password": "" }), "password"),
        (json!({ "email": USER, "password": 123 }), "password"),
        (json!({ "password": PASSWORD }), "email"),
        (
            json!({ "email": "not@an@email", "password": PASSWORD }),
            "email",
        ),
        (json!([USER, PASSWORD]), "body"),
    ];
    for (body, field) in cases {
        let r = app.post("/auth/v1/login", None, &body).await;
        assert_eq!(validation_field(&r), field, "{body}");
    }
    let req = Request::post("/auth/v1/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"email\": \"user@eventzr.com\", "))
        .unwrap();
    assert_eq!(validation_field(&app.send(req).await), "body");
    assert!(stored_sessions(&app, USER).await.is_empty());
}

#[tokio::test]
async fn an_overlong_password_is_refused_before_any_lookup_hashing_or_counting() {
    let app = TestAuth::new().await;
    let huge = "x".repeat(1025);
    let before = app.state.hasher.verifications();
    for email in [USER, "nobody@eventzr.com"] {
        for _ in 0..6 {
            let r = app.login(email, &huge).await;
            r.assert_error(400, "ERR_AUTH_VALIDATION");
            assert_eq!(validation_field(&r), "password");
        }
    }
    assert_eq!(app.state.hasher.verifications(), before, "no argon2 work");
    assert_eq!(stored_user(&app, USER).await.failed_logins, 0);
    // Six counted guesses would have locked the name without an account.
    app.login("nobody@eventzr.com", "Password123?")
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    // 1024 bytes is still checked (and wrong); the right password still signs in.
    app.login(USER, &huge[..1024])
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    let r = app.login(USER, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
}

#[tokio::test]
async fn unknown_login_fields_are_refused() {
    let app = TestAuth::new().await;
    let r = app
        .post(
            "/auth/v1/login",
            None,
            &json!({ "email": USER, "password": PASSWORD, "tenantId": auth::seed::T3 }),
        )
        .await;
    assert_eq!(validation_field(&r), "tenantId");
    assert!(stored_sessions(&app, USER).await.is_empty());
}

#[tokio::test]
async fn an_mfa_account_gets_the_challenge_instead_of_tokens() {
    let app = TestAuth::new().await;
    let r = app.login("dev@eventzr.com", PASSWORD).await;
    assert_eq!(r.status, 200);
    let d = &r.json()["data"];
    assert_eq!(d["mfaRequired"], true);
    assert_eq!(d["availableMethods"], json!(["totp"]));
    assert!(d["mfaToken"].as_str().is_some_and(|t| t.len() == 43));
    assert!(d.get("accessToken").is_none());
}

// ---- refresh --------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_rotates_and_the_old_access_token_works_until_it_expires() {
    let app = TestAuth::new().await;
    let (old_access, first) = app.tokens(USER).await;
    let (new_access, second) = pair(&refresh(&app, &first).await);
    assert_ne!(second, first);
    assert_eq!(sid_of(&new_access), sid_of(&old_access), "same session");
    let stored = live_sessions(&app, USER).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rt_hash, hash_of(&second));
    assert_eq!(stored[0].rt_prev_hash, Some(hash_of(&first)));

    // The new refresh token works, and the old access token until its exp.
    let (_, third) = pair(&refresh(&app, &second).await);
    assert_eq!(
        app.get("/auth/v1/profile", Some(&old_access)).await.status,
        200
    );
    app.advance(Duration::seconds(900 + 31));
    app.get("/auth/v1/profile", Some(&old_access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_EXPIRED");
    let (fresh, _) = pair(&refresh(&app, &third).await);
    assert_eq!(app.get("/auth/v1/profile", Some(&fresh)).await.status, 200);
}

#[tokio::test]
async fn login_and_refresh_answers_are_never_cached() {
    let app = TestAuth::new().await;
    let tokens = app.login(USER, PASSWORD).await;
    assert_eq!(tokens.status, 200);
    assert_not_cached(&tokens);
    let challenge = app.login("dev@eventzr.com", PASSWORD).await;
    assert_eq!(challenge.json()["data"]["mfaRequired"], true);
    assert_not_cached(&challenge);
    let refused = app.login(USER, "wrong password").await;
    refused.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert_not_cached(&refused);

    let rotated = refresh(&app, &pair(&tokens).1).await;
    assert_eq!(rotated.status, 200);
    assert_not_cached(&rotated);
}

#[tokio::test]
async fn a_sign_in_s_meta_names_the_tenant_it_signed_into() {
    let app = TestAuth::new().await;
    let tokens = app.login(USER, PASSWORD).await;
    assert_eq!(tokens.json()["meta"]["tenant_id"], auth::seed::T1);
    let rotated = refresh(&app, &pair(&tokens).1).await;
    assert_eq!(rotated.json()["meta"]["tenant_id"], auth::seed::T1);
    // A refused sign-in names none: nobody signed in.
    let refused = app.login(USER, "wrong password").await;
    assert!(refused.json()["meta"]["tenant_id"].is_null());
    let other = app.login("admin@startup.co", PASSWORD).await;
    assert_eq!(other.json()["meta"]["tenant_id"], auth::seed::T3);
}

#[tokio::test]
async fn the_previous_token_inside_the_grace_window_gets_the_pair_already_issued() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    let issued = refresh(&app, &first).await;
    let (access, second) = pair(&issued);
    app.advance(Duration::seconds(5));
    let again = refresh(&app, &first).await;
    assert_eq!(pair(&again), (access, second.clone()), "the same pair");
    let stored = live_sessions(&app, USER).await;
    assert_eq!(stored.len(), 1, "not revoked");
    assert_eq!(stored[0].rt_hash, hash_of(&second), "no second rotation");
    assert_eq!(refresh(&app, &second).await.status, 200);
}

#[tokio::test]
async fn the_grace_window_refuses_the_previous_token_once_the_tenant_is_suspended() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    let (_, second) = pair(&refresh(&app, &first).await);
    app.set_tenant_status(auth::seed::T1, "suspended").await;
    app.advance(Duration::seconds(1));
    refresh(&app, &second)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    refresh(&app, &first)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
}

#[tokio::test]
async fn the_grace_window_refuses_the_previous_token_of_a_user_no_longer_active() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    let (_, second) = pair(&refresh(&app, &first).await);
    // Suspended without its sessions revoked (as if that write had been lost).
    set_user(&app, USER, "status", "suspended").await;
    app.advance(Duration::seconds(1));
    refresh(&app, &second)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    refresh(&app, &first)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
}

#[tokio::test]
async fn the_previous_token_after_the_grace_window_revokes_the_family() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    let (access, second) = pair(&refresh(&app, &first).await);
    app.advance(Duration::seconds(app.state.cfg.refresh_grace_secs + 1));
    refresh(&app, &first)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    refresh(&app, &second)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.get("/auth/v1/profile", Some(&access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    let stored = stored_sessions(&app, USER).await;
    assert!(stored[0].revoked);
    assert_eq!(stored[0].grace_pair, None, "the sealed pair is gone too");
}

#[tokio::test]
async fn a_refresh_rotates_and_reusing_an_older_token_revokes_the_family() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens("user@eventzr.com").await;
    let r = app
        .post("/auth/v1/refresh", None, &json!({"refreshToken": first}))
        .await;
    assert_eq!(r.status, 200);
    let second = r.json()["data"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    let r = app
        .post("/auth/v1/refresh", None, &json!({"refreshToken": second}))
        .await;
    let third_access = r.json()["data"]["accessToken"].as_str().unwrap().to_owned();
    // `first` is now two rotations old: reuse, so the whole family ends.
    app.post("/auth/v1/refresh", None, &json!({"refreshToken": first}))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.get("/auth/v1/profile", Some(&third_access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
}

#[tokio::test]
async fn a_token_many_rotations_old_still_revokes_the_family() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    let mut current = first.clone();
    for _ in 0..20 {
        current = pair(&refresh(&app, &current).await).1;
    }
    assert_eq!(stored_sessions(&app, USER).await[0].rt_retired.len(), 19);
    refresh(&app, &first)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    refresh(&app, &current)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert!(stored_sessions(&app, USER).await[0].revoked);
}

#[tokio::test]
async fn a_logged_out_sessions_refresh_token_is_revoked() {
    let app = TestAuth::new().await;
    let (access, refresh_token) = app.tokens(USER).await;
    assert_eq!(
        app.post("/auth/v1/logout", Some(&access), &json!({}))
            .await
            .status,
        200
    );
    refresh(&app, &refresh_token)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
}

#[tokio::test]
async fn refresh_tokens_expire_seven_days_after_login_whatever_the_rotations() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    app.advance(Duration::days(7) - Duration::seconds(60));
    let (_, rotated) = pair(&refresh(&app, &first).await);
    app.advance(Duration::seconds(60));
    refresh(&app, &rotated)
        .await
        .assert_error(401, "ERR_AUTH_REFRESH_TOKEN_EXPIRED");
    assert!(live_sessions(&app, USER).await.is_empty());
}

#[tokio::test]
async fn a_garbage_or_unknown_refresh_token_is_invalid() {
    let app = TestAuth::new().await;
    let (_, real) = app.tokens(USER).await;
    let unknown_session = RefreshToken::new(t1(), id_of(USER), "no-such-session").encode();
    let (route, _) = real.split_once('.').unwrap();
    let wrong_secret = format!("{route}.{}", shared::ids::random_token());
    for token in [
        "garbage".to_owned(),
        String::new(),
        "a.b".to_owned(),
        "x".repeat(2000),
        unknown_session,
    ] {
        refresh(&app, &token)
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_INVALID");
    }
    // A guessed secret for a real session id was never issued: invalid, and knowing the
    // session id (it is in every access token) is not enough to end the session.
    refresh(&app, &wrong_secret)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_INVALID");
    assert_eq!(live_sessions(&app, USER).await.len(), 1);
    assert_eq!(refresh(&app, &real).await.status, 200);
    assert_eq!(
        validation_field(&app.post("/auth/v1/refresh", None, &json!({})).await),
        "refreshToken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_parallel_refreshes_of_one_token_rotate_once_and_agree() {
    let app = TestAuth::new().await;
    let (_, first) = app.tokens(USER).await;
    let tasks = (0..10).map(|_| {
        let router = app.router.clone();
        let body = json!({ "refreshToken": first }).to_string();
        tokio::spawn(async move {
            let req = Request::post("/auth/v1/refresh")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            shared::testing::send(&router, req).await
        })
    });
    let replies = futures_util::future::join_all(tasks).await;
    let pairs: Vec<(String, String)> = replies.iter().map(|r| pair(r.as_ref().unwrap())).collect();
    assert!(
        pairs.iter().all(|p| p.1 == pairs[0].1),
        "one new refresh token for all"
    );
    let stored = stored_sessions(&app, USER).await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].revoked);
    assert_eq!(stored[0].rt_hash, hash_of(&pairs[0].1));
    assert_eq!(
        stored[0].rt_prev_hash,
        Some(hash_of(&first)),
        "exactly one rotation"
    );
    assert_eq!(refresh(&app, &pairs[0].1).await.status, 200);
}

// ---- session limit --------------------------------------------------------------------

#[tokio::test]
async fn an_eleventh_login_evicts_the_oldest_session() {
    let app = TestAuth::new().await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..11 {
        refresh_tokens.push(app.tokens(USER).await.1);
    }
    let live = live_sessions(&app, USER).await;
    assert_eq!(live.len(), 10);
    let oldest = RefreshToken::parse(&refresh_tokens[0]).unwrap().session_id;
    assert!(
        live.iter().all(|s| s.id != oldest),
        "the oldest was evicted"
    );
    refresh(&app, &refresh_tokens[0])
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(refresh(&app, &refresh_tokens[1]).await.status, 200);
    assert_eq!(refresh(&app, &refresh_tokens[10]).await.status, 200);
}

#[tokio::test]
async fn the_eviction_of_the_oldest_session_is_audited() {
    let app = TestAuth::new().await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..11 {
        refresh_tokens.push(app.tokens(USER).await.1);
    }
    let oldest = RefreshToken::parse(&refresh_tokens[0]).unwrap().session_id;
    let newest = RefreshToken::parse(&refresh_tokens[10]).unwrap().session_id;

    let revoked = audit_items(&app, "session.revoked").await;
    assert_eq!(revoked.len(), 1, "one session ended");
    let item = &revoked[0];
    assert_eq!(item.get_s("subject"), Some(id_of(USER)));
    let details: Value = serde_json::from_str(item.get_s("details").unwrap()).unwrap();
    assert_eq!(
        details,
        json!({ "session": oldest, "reason": "evicted at the session limit", "by": newest })
    );
}

/// A sign-in that counted nine live sessions of the ten allowed, and whose session write
/// then meets another sign-in's session, written meanwhile (two sign-ins at once, each
/// finding room for itself).
async fn login_meeting_another_sign_in(strict: bool) -> (TestAuth, Reply) {
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    if strict {
        assert_eq!(set_strict_sessions(&app, json!(true)).await.status, 200);
    }
    for _ in 0..9 {
        app.tokens(USER).await;
    }
    let mut other = stored_sessions(&app, USER).await.pop().unwrap();
    other.id = shared::ids::new_id().to_string();
    other.created_epoch = app.state.epoch();
    let key = repo::session(&t1(), id_of(USER), &other.id);
    let item = Item::from_record(&key, &other).unwrap();
    store.meanwhile(Op::Put, vec![TransactOp::Put(Put::new(item))]);
    let reply = app.login(USER, PASSWORD).await;
    (app, reply)
}

#[tokio::test]
async fn two_sign_ins_at_once_cannot_pass_the_session_limit() {
    let (app, reply) = login_meeting_another_sign_in(false).await;
    assert_eq!(reply.status, 200);
    let live = live_sessions(&app, USER).await;
    assert_eq!(
        live.len(),
        10,
        "the oldest ended once the session was written"
    );
    let new = reply.json()["data"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let new = RefreshToken::parse(&new).unwrap().session_id;
    assert!(live.iter().any(|s| s.id == new));
    assert_eq!(audit_items(&app, "session.revoked").await.len(), 1);
}

#[tokio::test]
async fn two_sign_ins_at_once_in_a_strict_tenant_cannot_pass_the_session_limit() {
    let (app, reply) = login_meeting_another_sign_in(true).await;
    reply.assert_error(429, "ERR_AUTH_MAX_SESSIONS_REACHED");
    assert_eq!(live_sessions(&app, USER).await.len(), 10);
}

/// Strict mode is set through `PATCH /tenants/{tenantId}` by the platform's system role.
async fn set_strict_sessions(app: &TestAuth, strict: Value) -> Reply {
    let system = app.tokens("system@eventzr.com").await.0;
    let path = format!("/auth/v1/tenants/{}", t1());
    let body = json!({ "strictSessions": strict });
    app.call("PATCH", &path, Some(&system), Some(&body)).await
}

#[tokio::test]
async fn a_strict_tenant_refuses_the_eleventh_login_with_429() {
    let app = TestAuth::new().await;
    let r = set_strict_sessions(&app, json!(true)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["strictSessions"], true);

    let mut refresh_tokens = Vec::new();
    for _ in 0..10 {
        refresh_tokens.push(app.tokens(USER).await.1);
    }
    let r = app.login(USER, PASSWORD).await;
    r.assert_error(429, "ERR_AUTH_MAX_SESSIONS_REACHED");
    // Sessions last days: no wait helps, so no Retry-After; the message says what does.
    assert_eq!(r.header("retry-after"), None);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("sign out of a session"), "{message}");
    assert_eq!(live_sessions(&app, USER).await.len(), 10);
    assert_eq!(refresh(&app, &refresh_tokens[0]).await.status, 200);
    let organizer = app.tokens(ORGANIZER).await.0;
    let current = app.get("/auth/v1/tenants/current", Some(&organizer)).await;
    assert_eq!(current.json()["data"]["strictSessions"], true);

    // Back to the default: the eleventh login ends the oldest session.
    let r = set_strict_sessions(&app, json!(false)).await;
    assert_eq!(r.json()["data"]["strictSessions"], false);
    assert_eq!(app.login(USER, PASSWORD).await.status, 200);
    assert_eq!(live_sessions(&app, USER).await.len(), 10);
}

#[tokio::test]
async fn strict_sessions_must_be_a_boolean_and_changes_nothing_otherwise() {
    let app = TestAuth::new().await;
    let r = set_strict_sessions(&app, json!("yes")).await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    let fields = r.json()["error"]["details"]["fields"].clone();
    assert_eq!(fields[0]["field"], "strictSessions", "{fields}");
    let stored = repo::tenants::get(app.state.store(), &t1())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.strict_sessions);
    // A tenant admin may not set it.
    let admin = app.tokens("admin@eventzr.com").await.0;
    let path = format!("/auth/v1/tenants/{}", t1());
    app.call(
        "PATCH",
        &path,
        Some(&admin),
        Some(&json!({"strictSessions": true})),
    )
    .await
    .assert_error(403, "ERR_AUTH_FORBIDDEN");
}

// ---- logout and sessions --------------------------------------------------------------

#[tokio::test]
async fn logout_revokes_only_the_current_session() {
    let app = TestAuth::new().await;
    let (a_access, a_refresh) = app.tokens(USER).await;
    let (b_access, b_refresh) = app.tokens(USER).await;
    let r = app
        .post("/auth/v1/logout", Some(&a_access), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["revoked"], 1);
    for path in [
        "/auth/v1/profile",
        "/auth/v1/sessions",
        "/auth/v1/tenants/current",
    ] {
        app.get(path, Some(&a_access))
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    }
    app.post("/auth/v1/logout", Some(&a_access), &json!({}))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(
        app.get("/auth/v1/profile", Some(&b_access)).await.status,
        200
    );
    refresh(&app, &a_refresh)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(refresh(&app, &b_refresh).await.status, 200);
    let live = live_sessions(&app, USER).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, sid_of(&b_access));
}

#[tokio::test]
async fn logout_all_revokes_every_session_of_the_caller_only() {
    let app = TestAuth::new().await;
    let mine: Vec<(String, String)> = [
        app.tokens(USER).await,
        app.tokens(USER).await,
        app.tokens(USER).await,
    ]
    .into();
    let (other, _) = app.tokens(PARTNER).await;
    let r = app
        .post("/auth/v1/logout/all", Some(&mine[1].0), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["revoked"], 3);
    for (access, refresh_token) in &mine {
        app.get("/auth/v1/profile", Some(access))
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
        refresh(&app, refresh_token)
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    }
    assert!(live_sessions(&app, USER).await.is_empty());
    assert_eq!(app.get("/auth/v1/profile", Some(&other)).await.status, 200);
}

#[tokio::test]
async fn the_session_list_shows_live_sessions_and_marks_the_current_one_once() {
    let app = TestAuth::new().await;
    let with_agent = Request::post("/auth/v1/login")
        .header("content-type", "application/json")
        .header("user-agent", "Firefox/140")
        .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
        .body(axum::body::Body::from(
            json!({ "email": USER, "password": PASSWORD }).to_string(),
        ))
        .unwrap();
    let (browser, _) = pair(&app.send(with_agent).await);
    let (current, _) = app.tokens(USER).await;
    let (ended, _) = app.tokens(USER).await;
    app.post("/auth/v1/logout", Some(&ended), &json!({})).await;

    let r = app.get("/auth/v1/sessions", Some(&current)).await;
    assert_eq!(r.status, 200);
    let list = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "the ended session is not listed");
    let flagged: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["id"], sid_of(&current));
    let other = list.iter().find(|s| s["id"] == sid_of(&browser)).unwrap();
    assert_eq!(other["userAgent"], "Firefox/140");
    // What the client claims is not an address; in-process there is no peer to record.
    assert_eq!(other["ip"], Value::Null);
    assert!(other["createdAt"].is_string() && other["lastUsedAt"].is_string());
    let text = String::from_utf8_lossy(&r.bytes);
    for secret in ["rt_hash", "rtHash", "grace", "rt_prev"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn a_session_records_api_gateways_source_ip_never_x_forwarded_for() {
    let app = TestAuth::new().await;
    // The replayed login event, from another source than its first forwarded entry.
    let mut event: Value =
        serde_json::from_str(include_str!("../../../../events/auth/session-login.json")).unwrap();
    event["headers"]["x-forwarded-for"] = json!("203.0.113.66, 198.51.100.23");
    event["requestContext"]["http"]["sourceIp"] = json!("198.51.100.23");
    let req = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
    let r = app
        .send(req.map(|b| axum::body::Body::from(b.to_vec())))
        .await;
    let (token, _) = pair(&r);

    let r = app.get("/auth/v1/sessions", Some(&token)).await;
    let list = r.json()["data"].as_array().unwrap().clone();
    let ips: Vec<&Value> = list.iter().map(|s| &s["ip"]).collect();
    assert_eq!(ips, [&json!("198.51.100.23")]);
}

#[tokio::test]
async fn deleting_another_users_session_is_not_found_and_ones_own_is_revoked() {
    let app = TestAuth::new().await;
    let (mine, _) = app.tokens(USER).await;
    let (second, second_refresh) = app.tokens(USER).await;
    let (theirs, their_refresh) = app.tokens(ORGANIZER).await;
    let app = &app;
    let delete = move |token: String, id: String| async move {
        app.call(
            "DELETE",
            &format!("/auth/v1/sessions/{id}"),
            Some(&token),
            None,
        )
        .await
    };

    delete(mine.clone(), sid_of(&theirs))
        .await
        .assert_error(404, "ERR_AUTH_SESSION_NOT_FOUND");
    delete(mine.clone(), "no-such-session".into())
        .await
        .assert_error(404, "ERR_AUTH_SESSION_NOT_FOUND");
    assert_eq!(live_sessions(app, ORGANIZER).await.len(), 1);
    assert_eq!(refresh(app, &their_refresh).await.status, 200);

    let r = delete(mine.clone(), sid_of(&second)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["id"], sid_of(&second));
    app.get("/auth/v1/profile", Some(&second))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    refresh(app, &second_refresh)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    // Already revoked: not found the second time.
    delete(mine.clone(), sid_of(&second))
        .await
        .assert_error(404, "ERR_AUTH_SESSION_NOT_FOUND");
    let live = live_sessions(app, USER).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, sid_of(&mine));

    // The caller's own current session: revoked like any other, and the token with it.
    let r = delete(mine.clone(), sid_of(&mine)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["data"]["id"], sid_of(&mine));
    assert!(live_sessions(app, USER).await.is_empty());
    // Then the session decides first, whatever the id names.
    for id in [sid_of(&mine), "no-such-session".into()] {
        delete(mine.clone(), id)
            .await
            .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    }
}

// ---- profile --------------------------------------------------------------------------

/// Every key of a JSON value, at any depth.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_profile_holds_no_secret_fields() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    // Give the record every secret it can hold, then read it back.
    set_user(&app, USER, "totp_secret", "JBSWY3DPEHPK3PXP").await;
    set_user(&app, USER, "totp_pending_secret", "KRSXG5CTMVRXEZLU").await;
    let r = app.get("/auth/v1/profile", Some(&access)).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["data"]["id"], id_of(USER));
    assert_eq!(body["data"]["mfaEnabled"], true);
    let mut all = Vec::new();
    keys(&body, &mut all);
    for k in &all {
        let k = k.to_ascii_lowercase();
        for bad in [
            "password", "hash", "totp", "recovery", "secret", "failed", "locked",
        ] {
            assert!(!k.contains(bad), "{k} in {body}");
        }
    }
    let text = String::from_utf8_lossy(&r.bytes);
    for secret in ["$argon2", "JBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLU"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn patch_profile_changes_name_locale_timezone_and_username() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let r = patch_profile(
        &app,
        &access,
        &json!({
            "name": "  Ada Lovelace ",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "username": "Ada"
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let d = &r.json()["data"];
    assert_eq!(
        (&d["name"], &d["locale"], &d["timezone"], &d["username"]),
        (
            &json!("Ada Lovelace"),
            &json!("en-GB"),
            &json!("Europe/London"),
            &json!("ada")
        )
    );
    let stored = stored_user(&app, USER).await;
    assert_eq!(stored.name, "Ada Lovelace");
    assert_eq!(stored.locale.as_deref(), Some("en-GB"));
    assert_eq!(stored.timezone.as_deref(), Some("Europe/London"));
    assert_eq!(stored.username.as_deref(), Some("ada"));
    assert_eq!(stored.roles, ["user"], "nothing else changed");

    // A new username frees the old one for someone else.
    let r = patch_profile(&app, &access, &json!({ "username": "countess" })).await;
    assert_eq!(r.status, 200);
    let (theirs, _) = app.tokens(ORGANIZER).await;
    let r = patch_profile(&app, &theirs, &json!({ "username": "ada" })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(
        stored_user(&app, ORGANIZER).await.username.as_deref(),
        Some("ada")
    );

    // Bad values name their field.
    for (body, field) in [
        (json!({ "name": "   " }), "name"),
        (json!({ "username": "a b" }), "username"),
        (json!({ "timezone": "x".repeat(65) }), "timezone"),
    ] {
        assert_eq!(
            validation_field(&patch_profile(&app, &access, &body).await),
            field
        );
    }
}

#[tokio::test]
async fn patch_profile_refuses_control_characters_and_unknown_locales_or_timezones_writing_nothing()
{
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let before = stored_user(&app, USER).await;
    for (body, field, issue) in [
        (
            json!({ "name": "Ada\u{202E}ecalevoL" }),
            "name",
            "bidirectional",
        ),
        (json!({ "name": "Ada\nLovelace" }), "name", "control"),
        (json!({ "name": "Ada\u{0}" }), "name", "control"),
        (json!({ "name": null }), "name", "required"),
        (json!({ "locale": "not a locale" }), "locale", "BCP 47"),
        (json!({ "locale": "en_GB" }), "locale", "BCP 47"),
        (json!({ "locale": "en-\u{202E}GB" }), "locale", "BCP 47"),
        (json!({ "timezone": "Mars/Olympus" }), "timezone", "IANA"),
        (json!({ "timezone": "+05:00" }), "timezone", "IANA"),
        // A good field beside a bad one is not written either.
        (
            json!({ "name": "Ada", "timezone": "Europe/Nowhere" }),
            "timezone",
            "IANA",
        ),
    ] {
        let r = patch_profile(&app, &access, &body).await;
        assert_eq!(validation_field(&r), field, "{body}");
        let said = r.json()["error"]["details"]["fields"][0]["issue"].clone();
        assert!(said.as_str().unwrap().contains(issue), "{body}: {said}");
    }
    assert_eq!(stored_user(&app, USER).await, before, "nothing written");

    // Valid values are stored in their canonical spelling.
    let body = json!({ "locale": "zh-hant-tw", "timezone": "america/new_york" });
    assert_eq!(patch_profile(&app, &access, &body).await.status, 200);
    let stored = stored_user(&app, USER).await;
    assert_eq!(stored.locale.as_deref(), Some("zh-Hant-TW"));
    assert_eq!(stored.timezone.as_deref(), Some("America/New_York"));
}

#[tokio::test]
async fn patch_profile_null_clears_username_locale_and_timezone_and_absent_keeps_them() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let set = json!({ "username": "ada", "locale": "en-GB", "timezone": "Europe/London" });
    assert_eq!(patch_profile(&app, &access, &set).await.status, 200);

    let r = patch_profile(&app, &access, &json!({ "name": "Ada" })).await;
    assert_eq!(r.status, 200);
    let kept = stored_user(&app, USER).await;
    assert_eq!(
        (
            kept.username.as_deref(),
            kept.locale.as_deref(),
            kept.timezone.as_deref()
        ),
        (Some("ada"), Some("en-GB"), Some("Europe/London")),
        "absent fields stay"
    );

    let clear = json!({ "username": null, "locale": null, "timezone": null });
    let r = patch_profile(&app, &access, &clear).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let d = &r.json()["data"];
    assert!(
        d["username"].is_null() && d["locale"].is_null() && d["timezone"].is_null(),
        "{d}"
    );
    let cleared = stored_user(&app, USER).await;
    assert_eq!(
        (cleared.username, cleared.locale, cleared.timezone),
        (None, None, None)
    );
    assert_eq!(cleared.name, "Ada");
    // The username is free again: it no longer signs in, and someone else may take it.
    let r = app
        .post(
            "/auth/v1/login",
            None,
            &json!({ "username": "ada", "password": PASSWORD }),
        )
        .await;
    r.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    let (theirs, _) = app.tokens(ORGANIZER).await;
    let r = patch_profile(&app, &theirs, &json!({ "username": "ada" })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
}

#[tokio::test]
async fn a_username_change_never_frees_a_lock_another_account_holds() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    assert_eq!(
        patch_profile(&app, &access, &json!({ "username": "ada" }))
            .await
            .status,
        200
    );
    // Meanwhile (a lost race) the lock of "ada" came to belong to another account.
    let lock = repo::username_lock(&auth::domain::Username::parse("ada").unwrap());
    let theirs = Item::new(&lock)
        .with("tenant_id", auth::seed::T1)
        .with("user_id", "someone-else");
    app.state.store().put(Put::new(theirs)).await.unwrap();
    for change in [json!({ "username": "ada2" }), json!({ "username": null })] {
        let r = patch_profile(&app, &access, &change).await;
        r.assert_error(409, "ERR_AUTH_CONFLICT");
        let held = app
            .state
            .store()
            .get(&lock)
            .await
            .unwrap()
            .expect("still there");
        assert_eq!(held.get_s("user_id"), Some("someone-else"));
        assert_eq!(
            stored_user(&app, USER).await.username.as_deref(),
            Some("ada")
        );
    }
}

#[tokio::test]
async fn patch_profile_refuses_roles_tenant_verification_and_email_naming_the_field() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let before = stored_user(&app, USER).await;
    for (field, value) in [
        ("roles", json!(["admin"])),
        ("tenantId", json!(auth::seed::T3)),
        ("emailVerified", json!(false)),
        ("email", json!("new@eventzr.com")),
        ("status", json!("active")),
    ] {
        let body = json!({ "name": "Changed", field: value });
        let r = patch_profile(&app, &access, &body).await;
        assert_eq!(validation_field(&r), field, "{body}");
    }
    assert_eq!(stored_user(&app, USER).await, before, "nothing changed");
}

#[tokio::test]
async fn a_username_taken_by_another_user_is_409() {
    let app = TestAuth::new().await;
    let (partner, _) = app.tokens(PARTNER).await;
    let (user, _) = app.tokens(USER).await;
    assert_eq!(
        patch_profile(&app, &partner, &json!({ "username": "stage_left" }))
            .await
            .status,
        200
    );
    let before = stored_user(&app, USER).await;
    patch_profile(
        &app,
        &user,
        &json!({ "username": "Stage_Left", "name": "Someone" }),
    )
    .await
    .assert_error(409, "ERR_AUTH_USERNAME_TAKEN");
    assert_eq!(stored_user(&app, USER).await, before, "nothing changed");
    assert_eq!(
        stored_user(&app, PARTNER).await.username.as_deref(),
        Some("stage_left")
    );
}

// ---- JWKS and tenant ------------------------------------------------------------------

#[tokio::test]
async fn the_jwks_is_a_bare_cacheable_key_set_that_verifies_issued_tokens() {
    let app = TestAuth::new().await;
    // A third-party verifier checks `exp` against the real clock, not the test's.
    app.tp.clock.set(chrono::Utc::now());
    let (access, _) = app.tokens(USER).await;
    let r = app.get("/auth/v1/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert!(r.header("content-type").unwrap().contains("json"));
    let jwks = r.json();
    assert!(
        jwks.get("data").is_none() && jwks.get("meta").is_none(),
        "bare"
    );
    let set = jwks["keys"].as_array().expect("keys");
    for k in set {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private member {private}");
        }
    }

    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = set
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the token's key is published");
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let config = &app.tp.platform.config;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&config.jwt_audience]);
    validation.set_issuer(&[&config.jwt_issuer]);
    let verified = jsonwebtoken::decode::<Value>(&access, &key, &validation).unwrap();
    assert_eq!(verified.claims["sub"], id_of(USER));
}

#[tokio::test]
async fn the_current_tenant_is_the_callers() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let r = app.get("/auth/v1/tenants/current", Some(&access)).await;
    assert_eq!(r.status, 200);
    let d = &r.json()["data"];
    assert_eq!(d["id"], auth::seed::T1);
    assert_eq!(d["name"], "EventZR");
    assert_eq!(d["planTier"], "ENTERPRISE");
    app.get("/auth/v1/tenants/current", None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
}

// ---- logs -----------------------------------------------------------------------------

use shared::testing::logs::captured as captured_log;

/// POSTs `body` with a fresh request id, remembered in `ids`.
async fn send_logged(app: &TestAuth, ids: &mut Vec<String>, path: &str, body: Value) -> Reply {
    let id = uuid::Uuid::new_v4().to_string();
    ids.push(id.clone());
    let req = Request::post(path)
        .header("content-type", "application/json")
        .header("x-request-id", id)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn logs_never_hold_refresh_tokens_or_password_hashes() {
    captured_log();
    let app = TestAuth::new().await;
    let mut ids = Vec::new();
    let login = json!({ "email": USER, "password": PASSWORD });
    let (_, first) = pair(&send_logged(&app, &mut ids, "/auth/v1/login", login).await);
    let body = json!({ "refreshToken": first });
    let (_, second) = pair(&send_logged(&app, &mut ids, "/auth/v1/refresh", body).await);
    let wrong = json!({ "email": USER, "password": "wrong-password" });
    send_logged(&app, &mut ids, "/auth/v1/login", wrong).await;
    let reuse = json!({ "refreshToken": first });
    send_logged(&app, &mut ids, "/auth/v1/refresh", reuse).await;

    let text = captured_log().text();
    for id in &ids {
        assert!(
            text.lines()
                .any(|l| l.contains(id.as_str()) && l.contains("\"access\"")),
            "an access line for {id}"
        );
    }
    let hash = stored_user(&app, USER).await.password_hash.unwrap();
    for secret in [
        first.as_str(),
        second.as_str(),
        first.split_once('.').unwrap().1,
        "$argon2",
        hash.as_str(),
        PASSWORD,
        "wrong-password",
    ] {
        assert!(!text.contains(secret), "the log contains {secret}");
    }
}

// ---- over the wire --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_refresh_concurrent_refreshes_and_logout_work_on_dynamodb() {
    let Some(app) =
        TestAuth::on_dynamodb("login_refresh_concurrent_refreshes_and_logout_work_on_dynamodb")
            .await
    else {
        return;
    };
    let (access, first) = app.tokens(USER).await;
    let (_, second) = pair(&refresh(&app, &first).await);
    let tasks = (0..10).map(|_| {
        let router = app.router.clone();
        let body = json!({ "refreshToken": second }).to_string();
        tokio::spawn(async move {
            let req = Request::post("/auth/v1/refresh")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            shared::testing::send(&router, req).await
        })
    });
    let pairs: Vec<(String, String)> = futures_util::future::join_all(tasks)
        .await
        .iter()
        .map(|r| pair(r.as_ref().unwrap()))
        .collect();
    assert!(pairs.iter().all(|p| p.1 == pairs[0].1));
    let stored = stored_sessions(&app, USER).await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].revoked);
    assert_eq!(stored[0].rt_prev_hash, Some(hash_of(&second)));
    assert_eq!(stored[0].rt_hash, hash_of(&pairs[0].1));

    assert_eq!(
        app.get("/auth/v1/sessions", Some(&access)).await.status,
        200
    );
    assert_eq!(
        app.post("/auth/v1/logout", Some(&pairs[0].0), &json!({}))
            .await
            .status,
        200
    );
    refresh(&app, &pairs[0].1)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.get("/auth/v1/profile", Some(&access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert!(stored_sessions(&app, USER).await[0].revoked);
}

#[tokio::test]
async fn logs_never_hold_totp_secrets_or_one_time_tokens() {
    let log = captured_log();
    let app = TestAuth::new().await;
    let (access, _) = app.tokens("partner@eventzr.com").await;
    let enroll = app
        .call("POST", "/auth/v1/mfa/totp/enroll", Some(&access), None)
        .await;
    assert_eq!(
        enroll.status,
        200,
        "{}",
        String::from_utf8_lossy(&enroll.bytes)
    );
    let secret = enroll.json()["data"]["secret"].as_str().unwrap().to_owned();
    let forgot = app
        .post(
            "/auth/v1/password/forgot",
            None,
            &json!({"email": "user@eventzr.com"}),
        )
        .await;
    assert_eq!(forgot.status, 202);
    let mail = app.tp.outbox.sent_to("user@eventzr.com");
    let link = mail.last().expect("a reset mail").mail.text.clone();
    let token = link
        .split("token=")
        .nth(1)
        .and_then(|t| t.split(|c: char| c.is_whitespace()).next())
        .expect("a token in the link")
        .to_owned();
    let text = log.text();
    assert!(!text.contains(&secret), "the TOTP secret reached the log");
    assert!(!text.contains(&token), "the reset token reached the log");
    assert!(!text.contains(&access), "the access token reached the log");
}

#[tokio::test]
async fn a_malformed_or_huge_session_id_is_not_found_not_an_error() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens("user@eventzr.com").await;
    for id in ["not-a-uuid".to_owned(), "x".repeat(3000)] {
        app.call(
            "DELETE",
            &format!("/auth/v1/sessions/{id}"),
            Some(&access),
            None,
        )
        .await
        .assert_error(404, "ERR_AUTH_SESSION_NOT_FOUND");
    }
}

// ---- refused sign-ins per client (password spraying) --------------------------------

#[tokio::test]
async fn a_client_refused_100_sign_ins_in_an_hour_is_refused_every_sign_in_until_the_next() {
    let app = TestAuth::new().await;
    let sprayer = [203, 0, 113, 66];
    let cap = signin_limit::FAILURES_PER_SOURCE;
    // Malformed requests are not sign-ins: none of them counts.
    for _ in 0..=cap {
        let req = Request::post("/auth/v1/login")
            .header("content-type", "application/json")
            .body(json!({"email": PARTNER}).to_string().into())
            .unwrap();
        app.send_from(sprayer, req)
            .await
            .assert_error(400, "ERR_AUTH_VALIDATION");
    }
    // One common password at every name: unknown names, and real accounts under their
    // lockout (four guesses each), all count.
    for i in 0..cap {
        let name = match i % 25 {
            0 => USER.to_owned(),
            _ => format!("spray{i}@eventzr.com"),
        };
        app.login_from(sprayer, &name, "Summer2026!")
            .await
            .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    }
    // Now the right password is refused too, before the account is looked at.
    let partner = stored_user(&app, PARTNER).await;
    let r = app.login_from(sprayer, PARTNER, PASSWORD).await;
    r.assert_error(429, "ERR_AUTH_RATE_LIMITED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("failed sign-ins"), "{message}");
    assert_eq!(
        stored_user(&app, PARTNER).await.failed_logins,
        partner.failed_logins
    );
    assert!(stored_sessions(&app, PARTNER).await.is_empty());
    // An unknown name gets the same answer: the refusal tells nothing about accounts.
    let unknown = app
        .login_from(sprayer, "nobody@eventzr.com", PASSWORD)
        .await;
    assert_eq!(unknown.json()["error"], r.json()["error"]);

    // Another client is not affected, and the next hour starts afresh.
    assert_eq!(
        app.login_from([198, 51, 100, 7], PARTNER, PASSWORD)
            .await
            .status,
        200
    );
    app.advance(Duration::hours(1));
    assert_eq!(app.login_from(sprayer, PARTNER, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn an_ipv6_client_is_counted_by_its_64() {
    let app = TestAuth::new().await;
    let host = |net: u16, host: u16| std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, net, 0, 0, 0, host);
    // A new address of the same /64 for every guess is the same client.
    for i in 0..signin_limit::FAILURES_PER_SOURCE as u16 {
        app.login_from(
            host(0, i + 1),
            &format!("v6-{i}@eventzr.com"),
            "Summer2026!",
        )
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    }
    app.login_from(host(0, 999), PARTNER, PASSWORD)
        .await
        .assert_error(429, "ERR_AUTH_RATE_LIMITED");
    // The next /64 of the same /48 has its own count (the /48's is five times larger).
    assert_eq!(
        app.login_from(host(1, 1), PARTNER, PASSWORD).await.status,
        200
    );
}

// ---- lockout against parallel guesses ------------------------------------------------

/// T1's audit items of `kind` this month.
async fn audit_items(app: &TestAuth, kind: &str) -> Vec<Item> {
    let month = app.state.now().format("%Y-%m").to_string();
    let pk = shared::store::tenant_pk(&t1(), &["AUDIT", &month]);
    let page = app
        .state
        .store()
        .query(shared::store::Query::partition(pk))
        .await
        .unwrap();
    page.items
        .into_iter()
        .filter(|i| i.get_s("kind") == Some(kind))
        .collect()
}

async fn audit_count(app: &TestAuth, kind: &str) -> usize {
    audit_items(app, kind).await.len()
}

#[tokio::test]
async fn a_burst_of_parallel_wrong_passwords_gets_at_most_five_guesses() {
    let app = TestAuth::new().await;
    let replies =
        futures_util::future::join_all((0..20).map(|_| app.login(USER, "Password123?"))).await;
    let (mut invalid, mut locked) = (0, 0);
    for r in &replies {
        if r.status == 401 {
            r.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
            invalid += 1;
        } else {
            r.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
            assert!(r.header("retry-after").is_some());
            locked += 1;
        }
    }
    // Exactly five guesses were evaluated: four answered 401 and the fifth, which locked
    // the account, 423 (as in the sequential case); the other fifteen were never tried.
    assert_eq!((invalid, locked), (4, 16));
    assert_eq!(
        audit_count(&app, "login.failed").await + audit_count(&app, "account.locked").await,
        5
    );
    let stored = stored_user(&app, USER).await;
    assert_eq!(stored.failed_logins, 5);
    assert_eq!(stored.locked_until, app.state.epoch() + 900);
    // The right password does not open the account either.
    app.login(USER, PASSWORD)
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert!(stored_sessions(&app, USER).await.is_empty());
}

#[tokio::test]
async fn a_burst_of_parallel_right_passwords_leaves_no_count_behind() {
    let app = TestAuth::new().await;
    // As many at once as the lockout allows guesses: every one is answered and given back.
    // (More at once than that would find every attempt reserved and get a passing 423.)
    let replies = futures_util::future::join_all((0..5).map(|_| app.login(USER, PASSWORD))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    }
    let stored = stored_user(&app, USER).await;
    assert_eq!((stored.failed_logins, stored.locked_until), (0, 0));
}

/// The login of a faulty store that bumps the user's lockout window just before each of
/// its next `changes` updates: each bump fails one of the login's reservation tries, as
/// another sign-in's write to the counter would.
async fn login_meeting_changes(changes: usize) -> (TestAuth, Arc<FaultyStore>, Reply) {
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    let bump = Update::new(repo::user(&t1(), id_of(USER))).add("failure_window_start", 1);
    store.meanwhile_each(Op::Update, changes, vec![TransactOp::Update(bump)]);
    let reply = app.login(USER, PASSWORD).await;
    (app, store, reply)
}

#[tokio::test]
async fn a_login_meeting_every_change_a_burst_can_make_still_signs_in() {
    // Five other sign-ins at once write the counter at most twice each.
    let changes = 2 * lockout::MAX_FAILURES as usize;
    let (app, store, reply) = login_meeting_changes(changes).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    // Every change cost one try; the next reserved, then the right password cleared.
    assert_eq!(store.calls_of(Op::Update), changes + 2);
    let stored = stored_user(&app, USER).await;
    assert_eq!((stored.failed_logins, stored.locked_until), (0, 0));
    assert_eq!(live_sessions(&app, USER).await.len(), 1);
}

#[tokio::test]
async fn a_login_whose_counter_changes_on_every_try_is_503_and_writes_nothing() {
    let (app, store, reply) = login_meeting_changes(lockout::RESERVE_TRIES).await;
    reply.assert_error(503, "ERR_AUTH_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(store.calls_of(Op::Update), lockout::RESERVE_TRIES);
    // Only the other writer's changes landed: no guess counted, no session.
    let stored = stored_user(&app, USER).await;
    assert_eq!(stored.failed_logins, 0);
    assert_eq!(stored.failure_window_start, lockout::RESERVE_TRIES as i64);
    assert!(stored_sessions(&app, USER).await.is_empty());
}

/// A login whose session write meets `change` to the user, landing between the login's
/// read of the user (and its password check) and the session's write.
async fn login_meeting(change: Update) -> (TestAuth, Reply) {
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    store.meanwhile(Op::Put, vec![TransactOp::Update(change)]);
    let reply = app.login(USER, PASSWORD).await;
    (app, reply)
}

/// A password reset or a suspension lists the sessions to revoke: a sign-in checking the
/// old password meanwhile wrote its session after that listing, and it survived both (a
/// race reproduced against the gateway on DynamoDB). Now the sign-in reads the user again
/// once its session exists and, refused, ends the session.
#[tokio::test]
async fn a_reset_or_suspension_during_a_sign_in_leaves_it_no_session() {
    let user = || Update::new(repo::user(&t1(), id_of(USER)));
    let (app, reply) = login_meeting(user().set("password_hash", "$argon2id$reset")).await;
    reply.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert!(live_sessions(&app, USER).await.is_empty());

    let (app, reply) = login_meeting(user().set("status", "suspended")).await;
    reply.assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert!(live_sessions(&app, USER).await.is_empty());
    // A reset landing while the password is checked (before the login's next write of
    // the user, after its guess was reserved) refuses the sign-in too, and the reset's
    // password stays (a rehash or a cleared count must not write over it).
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    let reset = user().set("password_hash", "$argon2id$reset");
    store.meanwhile_before(Op::Update, 2, vec![TransactOp::Update(reset)]);
    app.login(USER, PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert!(live_sessions(&app, USER).await.is_empty());
    assert_eq!(
        stored_user(&app, USER).await.password_hash.as_deref(),
        Some("$argon2id$reset")
    );
    // The guess was right: it is given back, not left counting toward a lockout.
    assert_eq!(stored_user(&app, USER).await.failed_logins, 0);
    // A suspension landing there is told as one, and gives the guess back too (five
    // such races used to lock the reactivated owner out for 15 minutes).
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    let suspension = user().set("status", "suspended");
    store.meanwhile_before(Op::Update, 2, vec![TransactOp::Update(suspension)]);
    app.login(USER, PASSWORD)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert!(live_sessions(&app, USER).await.is_empty());
    assert_eq!(stored_user(&app, USER).await.failed_logins, 0);
    // Without a change meanwhile, the same login signs in.
    let (app, reply) = login_meeting(user().set("locale", "fr")).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    assert_eq!(live_sessions(&app, USER).await.len(), 1);
}
