//! Tests of route group `mfa` (see src/routes/mfa.rs): TOTP enroll, confirm with
//! recovery codes, verify at login, disable; replay and lockout rules.

use auth::{
    domain::{
        User,
        totp::{MfaCode, TotpSecret, step_of},
    },
    repo::{self, mfa, users},
};
use chrono::Duration;
use serde_json::{Value, json};
use std::sync::{Arc, atomic::Ordering};

use shared::{
    store::{Delete, Item, Key, Put, Query, QueryPage, StoreResult, TransactOp, Update},
    testing::{Reply, t1},
};

use crate::helpers::{DEV_TOTP_SECRET, PASSWORD, TestAuth, assert_not_cached, id_of};

const DEV: &str = "dev@eventzr.com";
const USER: &str = "user@eventzr.com";

// ---- small local helpers -------------------------------------------------------------

async fn stored_user(app: &TestAuth, email: &str) -> User {
    users::get(app.state.store(), &t1(), id_of(email))
        .await
        .unwrap()
        .expect("user on record")
}

fn secret(base32: &str) -> TotpSecret {
    TotpSecret::parse(base32).expect("a base32 secret")
}

/// The code of `base32` at `offset` steps from the test clock's current step.
fn code(app: &TestAuth, base32: &str, offset: i64) -> String {
    secret(base32).code_at_step(step_of(app.state.epoch()) + offset)
}

fn dev_code(app: &TestAuth, offset: i64) -> String {
    code(app, DEV_TOTP_SECRET, offset)
}

/// Logs `email` in with the staging password and returns the MFA challenge's token.
async fn challenge(app: &TestAuth, email: &str) -> String {
    let r = app.login(email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let d = &r.json()["data"];
    assert_eq!(d["mfaRequired"], true, "{d}");
    d["mfaToken"].as_str().expect("mfaToken").to_owned()
}

async fn verify(app: &TestAuth, mfa_token: &str, code: &str) -> Reply {
    app.post(
        "/auth/v1/mfa/totp/verify",
        None,
        &json!({ "mfaToken": mfa_token, "code": code }),
    )
    .await
}

fn body(r: &Reply) -> String {
    String::from_utf8_lossy(&r.bytes).into_owned()
}

fn access_of(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", body(r));
    r.json()["data"]["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned()
}

/// dev@ signed in through the MFA step (uses the current step's code).
async fn dev_access(app: &TestAuth) -> String {
    let token = challenge(app, DEV).await;
    access_of(&verify(app, &token, &dev_code(app, 0)).await)
}

async fn enroll(app: &TestAuth, access: &str) -> Reply {
    app.post("/auth/v1/mfa/totp/enroll", Some(access), &json!({}))
        .await
}

async fn confirm(app: &TestAuth, access: &str, code: &str) -> Reply {
    app.post(
        "/auth/v1/mfa/totp/confirm",
        Some(access),
        &json!({ "code": code }),
    )
    .await
}

async fn disable(app: &TestAuth, access: &str, code: &str) -> Reply {
    app.call(
        "DELETE",
        "/auth/v1/mfa/totp",
        Some(access),
        Some(&json!({ "code": code })),
    )
    .await
}

/// user@ enrolled and confirmed: (access token, secret, recovery codes). The clock is
/// then moved to the next step, so the confirming code's step is behind us.
async fn user_with_totp(app: &TestAuth) -> (String, String, Vec<String>) {
    let (access, _) = app.tokens(USER).await;
    let r = enroll(app, &access).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let secret = r.json()["data"]["secret"].as_str().unwrap().to_owned();
    let r = confirm(app, &access, &code(app, &secret, 0)).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let codes = r.json()["data"]["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    app.advance(Duration::seconds(30));
    (access, secret, codes)
}

async fn audit_kinds(app: &TestAuth) -> Vec<String> {
    app.audit_kinds(shared::testing::T1).await
}

// ---- verify at login -----------------------------------------------------------------

#[tokio::test]
async fn dev_signs_in_with_a_code_from_the_documented_secret() {
    let app = TestAuth::new().await;

    let r = app.login(DEV, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let d = &r.json()["data"];
    assert_eq!(d["mfaRequired"], true);
    assert_eq!(d["availableMethods"], json!(["totp"]));
    assert!(
        d.get("accessToken").is_none(),
        "no tokens before the second factor"
    );
    let token = d["mfaToken"].as_str().unwrap().to_owned();

    let r = verify(&app, &token, &dev_code(&app, 0)).await;
    let access = access_of(&r);
    assert_not_cached(&r);
    let d = &r.json()["data"];
    assert_eq!(d["tokenType"], "Bearer");
    assert_eq!(d["user"]["email"], DEV);
    assert!(d["refreshToken"].is_string());

    let profile = app.get("/auth/v1/profile", Some(&access)).await;
    assert_eq!(profile.status, 200, "{}", body(&profile));
    assert_eq!(profile.json()["data"]["email"], DEV);
    assert_eq!(profile.json()["data"]["mfaEnabled"], true);
    let stored = stored_user(&app, DEV).await;
    assert_eq!(stored.totp_last_step, Some(step_of(app.state.epoch())));
    assert!(
        audit_kinds(&app)
            .await
            .contains(&"login.succeeded".to_owned())
    );
}

#[tokio::test]
async fn a_suspended_tenant_refuses_before_the_challenge_or_code_is_spent() {
    let app = TestAuth::new().await;
    let r = app.login(DEV, PASSWORD).await;
    let token = r.json()["data"]["mfaToken"].as_str().unwrap().to_owned();
    let before = stored_user(&app, DEV).await;
    app.set_tenant_status(auth::seed::T1, "suspended").await;
    let code = dev_code(&app, 0);

    verify(&app, &token, &code)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    let after = stored_user(&app, DEV).await;
    assert_eq!(
        after.totp_last_step, before.totp_last_step,
        "the code was not spent"
    );
    assert_eq!(
        after.failed_logins, before.failed_logins,
        "no guess was counted"
    );

    // No new challenge while it lasts: the password step refuses, as it does without MFA.
    let r = app.login(DEV, PASSWORD).await;
    r.assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert_eq!(r.json()["error"]["details"]["scope"], "tenant");

    // The same challenge and code sign in once the tenant is active again.
    app.set_tenant_status(auth::seed::T1, "active").await;
    let r = verify(&app, &token, &code).await;
    assert_eq!(r.status, 200, "{}", body(&r));
}

#[tokio::test]
async fn codes_one_step_either_side_of_the_clock_are_accepted() {
    let app = TestAuth::new().await;

    let before = verify(&app, &challenge(&app, DEV).await, &dev_code(&app, -1)).await;
    let after = verify(&app, &challenge(&app, DEV).await, &dev_code(&app, 1)).await;

    access_of(&before);
    access_of(&after);
    let stored = stored_user(&app, DEV).await;
    assert_eq!(stored.totp_last_step, Some(step_of(app.state.epoch()) + 1));
}

#[tokio::test]
async fn codes_two_steps_away_are_refused_and_counted_as_failures() {
    let app = TestAuth::new().await;

    let token = challenge(&app, DEV).await;

    let before = verify(&app, &token, &dev_code(&app, -2)).await;
    let after = verify(&app, &token, &dev_code(&app, 2)).await;

    before.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    after.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    let stored = stored_user(&app, DEV).await;
    assert_eq!(stored.failed_logins, 2);
    assert_eq!(stored.totp_last_step, None);
    assert!(audit_kinds(&app).await.contains(&"mfa.failed".to_owned()));
}

#[tokio::test]
async fn a_code_accepted_once_is_refused_when_replayed() {
    let app = TestAuth::new().await;
    let code = dev_code(&app, 0);
    access_of(&verify(&app, &challenge(&app, DEV).await, &code).await);

    let replay = verify(&app, &challenge(&app, DEV).await, &code).await;

    replay.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    // An earlier step's code is refused too: steps only move forward.
    let earlier = verify(&app, &challenge(&app, DEV).await, &dev_code(&app, -1)).await;
    earlier.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    app.advance(Duration::seconds(30));
    access_of(&verify(&app, &challenge(&app, DEV).await, &dev_code(&app, 0)).await);
}

/// A right code refused only as used already (a double submit, a retry) is no guess:
/// six of them do not lock the account its owner just signed in to.
#[tokio::test]
async fn replays_of_a_right_code_are_not_counted_as_guesses() {
    let app = TestAuth::new().await;
    let code = dev_code(&app, 0);
    access_of(&verify(&app, &challenge(&app, DEV).await, &code).await);
    for _ in 0..6 {
        verify(&app, &challenge(&app, DEV).await, &code)
            .await
            .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    }
    assert_eq!(stored_user(&app, DEV).await.failed_logins, 0);
    app.advance(Duration::seconds(30));
    access_of(&verify(&app, &challenge(&app, DEV).await, &dev_code(&app, 0)).await);
}

#[tokio::test]
async fn one_code_sent_twice_at_once_signs_in_once() {
    let app = TestAuth::new().await;
    let (a, b) = (challenge(&app, DEV).await, challenge(&app, DEV).await);
    let code = dev_code(&app, 0);

    let (ra, rb) = tokio::join!(verify(&app, &a, &code), verify(&app, &b, &code));

    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{} / {}", body(&ra), body(&rb));
}

#[tokio::test]
async fn the_mfa_token_opens_one_session_only() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    access_of(&verify(&app, &token, &dev_code(&app, 0)).await);
    app.advance(Duration::seconds(30));

    let again = verify(&app, &token, &dev_code(&app, 0)).await;

    again.assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    // The code was not the problem: a fresh challenge takes it.
    access_of(&verify(&app, &challenge(&app, DEV).await, &dev_code(&app, 0)).await);
}

#[tokio::test]
async fn the_mfa_token_expires_after_five_minutes() {
    let app = TestAuth::new().await;
    let (early, late) = (challenge(&app, DEV).await, challenge(&app, DEV).await);

    app.advance(Duration::seconds(299));
    let in_time = verify(&app, &early, &dev_code(&app, 0)).await;
    app.advance(Duration::seconds(31));
    let too_late = verify(&app, &late, &dev_code(&app, 0)).await;

    access_of(&in_time);
    too_late.assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    // An expired challenge is not a guess at the code: nothing counted.
    assert_eq!(stored_user(&app, DEV).await.failed_logins, 0);
}

#[tokio::test]
async fn a_wrong_code_keeps_the_mfa_token_for_a_retry() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    let wrong = dev_code(&app, 5);

    let first = verify(&app, &token, &wrong).await;
    let retry = verify(&app, &token, &dev_code(&app, 0)).await;

    first.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    access_of(&retry);
    // Success clears the failure count, as a successful login does.
    assert_eq!(stored_user(&app, DEV).await.failed_logins, 0);
}

#[tokio::test]
async fn five_wrong_codes_lock_the_account_for_fifteen_minutes() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    let wrong = dev_code(&app, 5);

    for _ in 0..4 {
        verify(&app, &token, &wrong)
            .await
            .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    }
    let fifth = verify(&app, &token, &wrong).await;

    fifth.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert_eq!(fifth.header("retry-after"), Some("900"));
    assert_eq!(
        stored_user(&app, DEV).await.locked_until,
        app.state.epoch() + 900
    );
    // Locked: the right code does not get through, nor does the password.
    verify(&app, &token, &dev_code(&app, 0))
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    app.login(DEV, PASSWORD)
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
    assert!(
        audit_kinds(&app)
            .await
            .contains(&"account.locked".to_owned())
    );
    // After 15 minutes the owner signs in again.
    app.advance(Duration::minutes(15));
    dev_access(&app).await;
}

/// A challenge from the password step ends when the password is reset or changed before
/// the code: else the reset's revocations would miss the session it then opens.
#[tokio::test]
async fn a_challenge_issued_before_a_password_reset_opens_no_session() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    app.state
        .store()
        .update(Update::new(repo::user(&t1(), id_of(DEV))).set("password_hash", "$argon2id$new"))
        .await
        .unwrap();
    verify(&app, &token, &dev_code(&app, 0))
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert_eq!(
        stored_user(&app, DEV).await.failed_logins,
        0,
        "no guess counted"
    );
    // A challenge of the password as it is works.
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    access_of(&verify(&app, &token, &dev_code(&app, 0)).await);
}

#[tokio::test]
async fn verify_names_the_malformed_field_and_refuses_an_unknown_token() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;

    let bad_code = verify(&app, &token, "12ab").await;
    let no_token = verify(&app, "", &dev_code(&app, 0)).await;
    let unknown = verify(&app, "not-a-token", &dev_code(&app, 0)).await;

    bad_code.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        bad_code.json()["error"]["details"]["fields"][0]["field"],
        "code"
    );
    no_token.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        no_token.json()["error"]["details"]["fields"][0]["field"],
        "mfaToken"
    );
    unknown.assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert_eq!(stored_user(&app, DEV).await.failed_logins, 0);
    // None of these burned the challenge.
    access_of(&verify(&app, &token, &dev_code(&app, 0)).await);
}

// ---- enroll, confirm, recovery codes ---------------------------------------------------

#[tokio::test]
async fn enroll_then_confirm_enables_totp_and_returns_ten_recovery_codes() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;

    let r = enroll(&app, &access).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_not_cached(&r);
    let d = r.json()["data"].clone();
    let secret = d["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        d["otpauthUri"],
        format!(
            "otpauth://totp/EventZR:user%40eventzr.com?secret={secret}&issuer=EventZR&algorithm=SHA1&digits=6&period=30"
        )
    );
    let pending = stored_user(&app, USER).await;
    assert_eq!(
        pending.totp_pending_secret.as_deref(),
        Some(secret.as_str())
    );
    assert!(!pending.mfa_enabled());

    let r = confirm(&app, &access, &code(&app, &secret, 0)).await;

    assert_eq!(r.status, 200, "{}", body(&r));
    assert_not_cached(&r);
    let codes: Vec<String> =
        serde_json::from_value(r.json()["data"]["recoveryCodes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    let stored = stored_user(&app, USER).await;
    assert_eq!(stored.totp_secret.as_deref(), Some(secret.as_str()));
    assert_eq!(stored.totp_pending_secret, None);
    assert_eq!(stored.recovery_codes.len(), 10);
    for c in &codes {
        let normalized = c.replace('-', "");
        assert!(
            stored
                .recovery_codes
                .contains(&shared::ids::sha256_hex(normalized.as_bytes()))
        );
        assert!(
            !stored
                .recovery_codes
                .iter()
                .any(|h| h.contains(&normalized))
        );
    }
    assert!(audit_kinds(&app).await.contains(&"mfa.enabled".to_owned()));
    // From now on the password alone answers the challenge.
    challenge(&app, USER).await;
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = TestAuth::new().await;
    let (_, _, codes) = user_with_totp(&app).await;

    let first = verify(&app, &challenge(&app, USER).await, &codes[3].to_lowercase()).await;
    let again = verify(&app, &challenge(&app, USER).await, &codes[3]).await;

    access_of(&first);
    again.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    assert_eq!(stored_user(&app, USER).await.recovery_codes.len(), 9);
    // The others still work.
    access_of(&verify(&app, &challenge(&app, USER).await, &codes[0]).await);
    assert_eq!(stored_user(&app, USER).await.recovery_codes.len(), 8);
}

/// A session opened with the password alone (say, by whoever phished it) does not
/// outlive the second factor: turning TOTP on ends every other session, refresh tokens
/// too, and turning it off does the same. The confirming session goes on.
#[tokio::test]
async fn turning_totp_on_or_off_ends_the_other_sessions() {
    let app = TestAuth::new().await;
    let (intruder, intruder_refresh) = app.tokens(USER).await;
    let (access, _) = app.tokens(USER).await;
    let r = enroll(&app, &access).await;
    let secret = r.json()["data"]["secret"].as_str().unwrap().to_owned();
    let r = confirm(&app, &access, &code(&app, &secret, 0)).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(r.json()["data"]["revokedSessions"], 1);
    app.assert_session_ended(&intruder, &intruder_refresh).await;
    let notice = "Two-step sign-in is on for your EventZR account";
    assert_eq!(app.subjects_to(USER), [notice]);
    assert_eq!(app.get("/auth/v1/profile", Some(&access)).await.status, 200);

    // Off again: a session signed in through the challenge meanwhile ends too.
    app.advance(Duration::seconds(30));
    let other =
        access_of(&verify(&app, &challenge(&app, USER).await, &code(&app, &secret, 0)).await);
    app.advance(Duration::seconds(30));
    let r = disable(&app, &access, &code(&app, &secret, 0)).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(
        r.json()["data"],
        json!({"mfaEnabled": false, "revokedSessions": 1})
    );
    app.get("/auth/v1/profile", Some(&other))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(app.get("/auth/v1/profile", Some(&access)).await.status, 200);
    assert_eq!(
        app.subjects_to(USER).last().map(String::as_str),
        Some("Two-step sign-in is off for your EventZR account")
    );
}

#[tokio::test]
async fn enroll_while_totp_is_enabled_is_a_conflict() {
    let app = TestAuth::new().await;
    let access = dev_access(&app).await;

    let r = enroll(&app, &access).await;

    r.assert_error(409, "ERR_AUTH_MFA_ALREADY_ENABLED");
    let stored = stored_user(&app, DEV).await;
    assert_eq!(stored.totp_pending_secret, None);
    assert_eq!(stored.totp_secret.as_deref(), Some(DEV_TOTP_SECRET));
}

#[tokio::test]
async fn confirm_with_a_wrong_code_leaves_totp_off() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let secret = enroll(&app, &access).await.json()["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let wrong = confirm(&app, &access, &code(&app, &secret, 3)).await;
    let malformed = confirm(&app, &access, "ABCD-EFGH-IJKL-MNOP").await;

    wrong.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    malformed.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        malformed.json()["error"]["details"]["fields"][0]["field"],
        "code"
    );
    let stored = stored_user(&app, USER).await;
    assert!(!stored.mfa_enabled());
    assert_eq!(stored.totp_pending_secret.as_deref(), Some(secret.as_str()));
    assert!(stored.recovery_codes.is_empty());
}

#[tokio::test]
async fn confirm_without_an_enrollment_is_mfa_not_enabled() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;

    let r = confirm(&app, &access, "123456").await;

    r.assert_error(400, "ERR_AUTH_MFA_NOT_ENABLED");
}

#[tokio::test]
async fn the_bearer_routes_need_a_live_session() {
    let app = TestAuth::new().await;

    enroll(&app, "")
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    let (access, _) = app.tokens(USER).await;
    app.post("/auth/v1/logout", Some(&access), &json!({})).await;

    enroll(&app, &access)
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    // The session decides before the body is judged: 401, not 400 for the bad code.
    confirm(&app, &access, "not-a-code")
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    disable(&app, &access, "not-a-code")
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(stored_user(&app, USER).await.totp_pending_secret, None);
}

#[tokio::test]
async fn a_user_gone_while_the_session_lives_is_not_found() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let user = auth::repo::user(&t1(), id_of(USER));
    app.state
        .store()
        .delete(shared::store::Delete::new(user))
        .await
        .unwrap();

    enroll(&app, &access)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    confirm(&app, &access, "123456")
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    disable(&app, &access, "123456")
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
}

#[tokio::test]
async fn the_enrolled_secret_never_appears_in_later_responses() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let secret = enroll(&app, &access).await.json()["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut later: Vec<Reply> = vec![
        confirm(&app, &access, &code(&app, &secret, 0)).await,
        app.get("/auth/v1/profile", Some(&access)).await,
        app.login(USER, PASSWORD).await,
    ];
    app.advance(Duration::seconds(30));
    let token = challenge(&app, USER).await;
    later.push(verify(&app, &token, &code(&app, &secret, 0)).await);
    later.push(app.get("/auth/v1/profile", Some(&access)).await);

    for r in &later {
        assert!(r.status.is_success(), "{}", body(r));
        let text = body(r);
        assert!(!text.contains(&secret), "secret leaked: {text}");
        assert!(!text.to_lowercase().contains("totp_"), "{text}");
    }
    let profile: Value = later[4].json()["data"].clone();
    assert_eq!(profile["mfaEnabled"], true);
    assert!(profile.get("totpSecret").is_none() && profile.get("recoveryCodes").is_none());
}

// ---- disable -------------------------------------------------------------------------

#[tokio::test]
async fn disable_with_a_current_code_turns_totp_off() {
    let app = TestAuth::new().await;
    let access = dev_access(&app).await;
    app.advance(Duration::seconds(30));

    let r = disable(&app, &access, &dev_code(&app, 0)).await;

    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(r.json()["data"]["mfaEnabled"], false);
    let stored = stored_user(&app, DEV).await;
    assert!(!stored.mfa_enabled());
    assert!(stored.recovery_codes.is_empty());
    assert_eq!(stored.totp_last_step, None);
    assert!(audit_kinds(&app).await.contains(&"mfa.disabled".to_owned()));
    // The password alone signs in now.
    app.tokens(DEV).await;
}

#[tokio::test]
async fn disable_accepts_a_recovery_code() {
    let app = TestAuth::new().await;
    let (access, _, codes) = user_with_totp(&app).await;

    let r = disable(&app, &access, &codes[9]).await;

    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(!stored_user(&app, USER).await.mfa_enabled());
}

#[tokio::test]
async fn disable_with_a_wrong_or_replayed_code_is_refused_and_counted() {
    let app = TestAuth::new().await;
    let used = dev_code(&app, 0);
    let access = dev_access(&app).await;

    let replayed = disable(&app, &access, &used).await;
    let wrong = disable(&app, &access, &dev_code(&app, 4)).await;

    replayed.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    wrong.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    let stored = stored_user(&app, DEV).await;
    assert!(stored.mfa_enabled());
    assert_eq!(stored.failed_logins, 2);
}

#[tokio::test]
async fn disable_gives_the_right_guess_back_and_keeps_earlier_failures() {
    let app = TestAuth::new().await;
    let access = dev_access(&app).await;
    app.advance(Duration::seconds(30));

    let wrong = disable(&app, &access, &dev_code(&app, 4)).await;
    let right = disable(&app, &access, &dev_code(&app, 0)).await;

    wrong.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    assert_eq!(right.status, 200, "{}", body(&right));
    let stored = stored_user(&app, DEV).await;
    assert!(!stored.mfa_enabled());
    assert_eq!(
        stored.failed_logins, 1,
        "the wrong code counts, the right one is given back"
    );
}

/// The fallback write of `mfa::disable_with`: when the counter its guess was reserved on
/// has been cleared meanwhile (a successful login), TOTP still goes off and the counter
/// is not taken below 0.
#[tokio::test]
async fn disable_goes_through_when_the_counter_was_cleared_meanwhile() {
    let app = TestAuth::new().await;
    let user = stored_user(&app, DEV).await;
    let (store, now) = (app.state.store(), app.state.epoch());
    let reservation = users::reserve_attempt(store, &user, now)
        .await
        .unwrap()
        .expect("not locked");
    users::clear_failures(store, &user).await.unwrap();
    let code = MfaCode::parse(&dev_code(&app, 0)).unwrap();

    let disabled = mfa::disable_with(store, &user, &code, &reservation, now).await;

    assert!(disabled.unwrap());
    let stored = stored_user(&app, DEV).await;
    assert!(!stored.mfa_enabled() && stored.totp_secret.is_none());
    assert_eq!(stored.failed_logins, 0);
}

#[tokio::test]
async fn disable_without_totp_is_mfa_not_enabled() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;

    let r = disable(&app, &access, "123456").await;

    r.assert_error(400, "ERR_AUTH_MFA_NOT_ENABLED");
    assert_eq!(stored_user(&app, USER).await.failed_logins, 0);
}

// ---- over the wire -------------------------------------------------------------------

#[tokio::test]
async fn totp_sign_in_replay_guard_and_recovery_codes_work_on_dynamodb() {
    let Some(app) =
        TestAuth::on_dynamodb("totp_sign_in_replay_guard_and_recovery_codes_work_on_dynamodb")
            .await
    else {
        return;
    };
    // The seed guide's flow: dev@ -> challenge -> code from the documented secret.
    let code = dev_code(&app, 0);
    let access = access_of(&verify(&app, &challenge(&app, DEV).await, &code).await);
    let profile = app.get("/auth/v1/profile", Some(&access)).await;
    assert_eq!(profile.status, 200, "{}", body(&profile));
    assert_eq!(profile.json()["data"]["mfaEnabled"], true);
    // The conditional step update holds on DynamoDB too.
    let token = challenge(&app, DEV).await;
    verify(&app, &token, &code)
        .await
        .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    app.advance(Duration::seconds(30));
    access_of(&verify(&app, &token, &dev_code(&app, 0)).await);
    verify(&app, &token, &dev_code(&app, 1))
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    // Enrollment, and the recovery-code list's conditional rewrite.
    let (_, _, codes) = user_with_totp(&app).await;
    access_of(&verify(&app, &challenge(&app, USER).await, &codes[0]).await);
    verify(&app, &challenge(&app, USER).await, &codes[0])
        .await
        .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    assert_eq!(stored_user(&app, USER).await.recovery_codes.len(), 9);
}

#[tokio::test]
async fn logging_in_again_does_not_reset_the_count_of_wrong_codes() {
    let app = TestAuth::new().await;
    for _ in 0..4 {
        let mfa_token = challenge(&app, DEV).await;
        verify(&app, &mfa_token, &dev_code(&app, 5))
            .await
            .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    }
    let mfa_token = challenge(&app, DEV).await;
    verify(&app, &mfa_token, &dev_code(&app, 5))
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
}

#[tokio::test]
async fn adding_totp_needs_a_sign_in_from_the_last_ten_minutes() {
    let app = TestAuth::new().await;
    let (old, _) = app.tokens("partner@eventzr.com").await;
    // 11 minutes later the token (900 s) is still valid, but the sign-in is too old.
    app.advance(chrono::Duration::minutes(11));
    app.call("POST", "/auth/v1/mfa/totp/enroll", Some(&old), None)
        .await
        .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
    let (fresh, _) = app.tokens("partner@eventzr.com").await;
    let r = app
        .call("POST", "/auth/v1/mfa/totp/enroll", Some(&fresh), None)
        .await;
    assert_eq!(r.status, 200);
}

// ---- lockout against parallel guesses ------------------------------------------------

#[tokio::test]
async fn a_burst_of_parallel_wrong_totp_codes_gets_at_most_five_guesses() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    let wrong = dev_code(&app, 5);
    let replies =
        futures_util::future::join_all((0..20).map(|_| verify(&app, &token, &wrong))).await;
    let (mut invalid, mut locked) = (0, 0);
    for r in &replies {
        if r.status == 401 {
            r.assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
            invalid += 1;
        } else {
            r.assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
            locked += 1;
        }
    }
    // Five codes were evaluated (each audited as mfa.failed): four answered 401, the one
    // that locked the account 423; the other fifteen were refused before any check.
    assert_eq!((invalid, locked), (4, 16));
    let kinds = audit_kinds(&app).await;
    assert_eq!(kinds.iter().filter(|k| *k == "mfa.failed").count(), 5);
    assert_eq!(kinds.iter().filter(|k| *k == "account.locked").count(), 1);
    let stored = stored_user(&app, DEV).await;
    assert_eq!(stored.failed_logins, 5);
    assert_eq!(stored.locked_until, app.state.epoch() + 900);
    // Locked: the right code does not get through.
    verify(&app, &token, &dev_code(&app, 0))
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");
}

#[tokio::test]
async fn five_correct_passwords_of_an_mfa_account_without_completing_mfa_do_not_lock_it() {
    let app = TestAuth::new().await;
    for _ in 0..6 {
        challenge(&app, DEV).await;
    }
    // In parallel too: each reserved attempt is given back once the password is right.
    let replies = futures_util::future::join_all((0..5).map(|_| app.login(DEV, PASSWORD))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", body(r));
    }
    let stored = stored_user(&app, DEV).await;
    assert_eq!((stored.failed_logins, stored.locked_until), (0, 0));
    dev_access(&app).await;
}

#[tokio::test]
async fn a_correct_password_does_not_give_back_wrong_codes() {
    let app = TestAuth::new().await;
    let token = challenge(&app, DEV).await;
    for _ in 0..3 {
        verify(&app, &token, &dev_code(&app, 5))
            .await
            .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    }
    challenge(&app, DEV).await;
    challenge(&app, DEV).await;
    assert_eq!(stored_user(&app, DEV).await.failed_logins, 3);
}

/// A store on which another recovery code is used up just before each of the next
/// `left` writes of the list: what five codes used at once look like to one of them.
struct OthersSpendingCodes {
    inner: shared::store::memory::MemoryStore,
    left: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl shared::store::Store for OthersSpendingCodes {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.inner.get_many(keys).await
    }
    async fn put(&self, put: Put) -> StoreResult<()> {
        self.inner.put(put).await
    }
    async fn update(&self, update: Update) -> StoreResult<Item> {
        let spends_a_code = update.set.iter().any(|(n, _)| n == "recovery_codes");
        if spends_a_code && self.left.load(Ordering::SeqCst) > 0 {
            self.left.fetch_sub(1, Ordering::SeqCst);
            let item = self.inner.get(&update.key).await?.expect("the user");
            let Some(shared::store::Value::L(mut codes)) = item.get("recovery_codes").cloned()
            else {
                panic!("a recovery code list")
            };
            codes.pop(); // the last one, never the code under test (the first)
            let other = Update::new(update.key.clone())
                .set("recovery_codes", shared::store::Value::L(codes));
            self.inner.update(other).await?;
        }
        self.inner.update(update).await
    }
    async fn delete(&self, delete: Delete) -> StoreResult<Option<Item>> {
        self.inner.delete(delete).await
    }
    async fn query(&self, query: Query) -> StoreResult<QueryPage> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> StoreResult<()> {
        self.inner.transact(ops).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}

/// Each other code used meanwhile fails one try of this one; a set of codes used at once
/// all get through, none counted as a failed guess (three tries refused two of five).
#[tokio::test]
async fn a_recovery_code_gets_through_while_the_others_are_used_at_once() {
    let store = Arc::new(OthersSpendingCodes {
        inner: shared::store::memory::MemoryStore::new(),
        left: std::sync::atomic::AtomicUsize::new(0),
    });
    let app = TestAuth::with_store(store.clone()).await;
    let (_, _, codes) = user_with_totp(&app).await;
    let token = challenge(&app, USER).await;
    store.left.store(5, Ordering::SeqCst);
    access_of(&verify(&app, &token, &codes[0]).await);
    let stored = stored_user(&app, USER).await;
    assert_eq!(
        stored.recovery_codes.len(),
        10 - 1 - 5,
        "its own and five others"
    );
    assert_eq!(stored.failed_logins, 0);
}

// ---- recovery codes left, and a new set -------------------------------------------------

const RECOVERY: &str = "/auth/v1/mfa/recovery-codes";

async fn codes_left(app: &TestAuth, access: &str) -> u64 {
    let r = app.get(RECOVERY, Some(access)).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    r.json()["data"]["remaining"].as_u64().unwrap()
}

#[tokio::test]
async fn recovery_codes_are_counted_and_a_new_set_voids_the_old() {
    let app = TestAuth::new().await;
    let (access, _, old) = user_with_totp(&app).await;
    assert_eq!(codes_left(&app, &access).await, 10);
    let access = access_of(&verify(&app, &challenge(&app, USER).await, &old[0]).await);
    assert_eq!(codes_left(&app, &access).await, 9);

    let r = app.post(RECOVERY, Some(&access), &json!({})).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let new: Vec<String> =
        serde_json::from_value(r.json()["data"]["recoveryCodes"].clone()).unwrap();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)), "a new set");
    assert_eq!(codes_left(&app, &access).await, 10);
    // The old set is void; the new one signs in.
    verify(&app, &challenge(&app, USER).await, &old[1])
        .await
        .assert_error(401, "ERR_AUTH_MFA_INVALID_CODE");
    access_of(&verify(&app, &challenge(&app, USER).await, &new[0]).await);
    let kinds = app.audit_kinds(shared::testing::T1).await;
    assert!(
        kinds.contains(&"mfa.recovery_codes_regenerated".to_owned()),
        "{kinds:?}"
    );
    assert_eq!(
        app.subjects_to(USER).last().map(String::as_str),
        Some("New EventZR recovery codes were made")
    );
}

#[tokio::test]
async fn a_new_set_of_recovery_codes_needs_totp_on_and_a_recent_sign_in() {
    let app = TestAuth::new().await;
    let (partner, _) = app.tokens("partner@eventzr.com").await;
    app.get(RECOVERY, Some(&partner))
        .await
        .assert_error(400, "ERR_AUTH_MFA_NOT_ENABLED");
    app.post(RECOVERY, Some(&partner), &json!({}))
        .await
        .assert_error(400, "ERR_AUTH_MFA_NOT_ENABLED");
    let (access, _, old) = user_with_totp(&app).await;
    app.advance(Duration::minutes(11));
    app.post(RECOVERY, Some(&access), &json!({}))
        .await
        .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
    // Nothing changed: the old codes still count.
    assert_eq!(codes_left(&app, &access).await, old.len() as u64);
    app.get(RECOVERY, None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
}

#[tokio::test]
async fn of_two_new_sets_asked_at_once_only_the_one_kept_is_shown() {
    let app = TestAuth::new().await;
    user_with_totp(&app).await;
    // Both requests read the user before either writes.
    let read = stored_user(&app, USER).await;
    let secret = read.totp_secret.clone().unwrap();
    let store = app.state.store();
    let (a, b) = (vec!["a".to_owned()], vec!["b".to_owned()]);
    let first = auth::repo::mfa::replace_recovery_codes(store, &read, &secret, &a, 0).await;
    assert!(first.unwrap().is_some());
    // The second finds the codes changed: not written, so its set is never shown (409).
    let second = auth::repo::mfa::replace_recovery_codes(store, &read, &secret, &b, 0).await;
    assert!(second.unwrap().is_none());
    assert_eq!(stored_user(&app, USER).await.recovery_codes, ["a"]);
}

/// A double submit: the second request reads the first one's new set, so the codes
/// condition holds for it too — both would be shown while only the second works.
#[tokio::test]
async fn a_new_set_asked_again_within_ten_seconds_is_refused_and_the_first_stays() {
    let app = TestAuth::new().await;
    let (access, _, _) = user_with_totp(&app).await;
    app.advance(Duration::seconds(11));
    let r = app.post(RECOVERY, Some(&access), &json!({})).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let first: Vec<String> =
        serde_json::from_value(r.json()["data"]["recoveryCodes"].clone()).unwrap();
    let again = app.post(RECOVERY, Some(&access), &json!({})).await;
    again.assert_error(409, "ERR_AUTH_CONFLICT");
    // The set shown first is the one that works.
    access_of(&verify(&app, &challenge(&app, USER).await, &first[0]).await);
    // Moments later, a new set may be made again.
    app.advance(Duration::seconds(11));
    assert_eq!(
        app.post(RECOVERY, Some(&access), &json!({})).await.status,
        200
    );
}
