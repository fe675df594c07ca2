//! Route group `session`: login, refresh, logout, sessions, profile, JWKS.

use serde_json::json;

use crate::helpers::{PASSWORD, TestAuth};

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

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestAuth::new().await;
    let unknown = app.login("nobody@eventzr.com", PASSWORD).await;
    let wrong = app.login("user@eventzr.com", "Password123?").await;
    unknown.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    wrong.assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert_eq!(unknown.json()["error"], wrong.json()["error"]);
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
