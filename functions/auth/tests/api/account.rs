//! Route group `account`: signup and verification, password forgot/reset/change, magic
//! links — followed through the mail they send (the outbox here, SES over the wire).

use std::sync::Arc;

use auth::{
    domain::Email,
    repo::{
        one_time::{self, Kind},
        users,
    },
};
use chrono::Duration;
use futures_util::future::join_all;
use serde_json::{Value, json};
use shared::{
    store::{
        Delete, Item, Key, Put, TransactOp, Update,
        faults::{FaultyStore, Op},
        memory::MemoryStore,
    },
    tenant::TenantId,
    testing::t1,
};

use crate::helpers::{
    PASSWORD, TestAuth, accept_invite, assert_not_cached, id_of, mailed_token, token_in,
};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn signup_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password, "name": "Ada Founder", "tenantName": "Ada Events"})
}

async fn stored_user(app: &TestAuth, email: &str) -> Option<auth::domain::User> {
    users::by_email(app.state.store(), &Email::parse(email).unwrap())
        .await
        .unwrap()
}

/// Signs a new founder up and follows the verification link; returns the verify reply.
async fn signed_up_and_verified(
    app: &TestAuth,
    email: &str,
    password: &str,
) -> shared::testing::Reply {
    let r = app
        .post("/auth/v1/signup/email", None, &signup_body(email, password))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let token = mailed_token(app, email, "verify-email");
    app.post("/auth/v1/signup/verify", None, &json!({"token": token}))
        .await
}

#[tokio::test]
async fn a_mailed_link_into_a_suspended_tenant_is_refused_and_stays_usable() {
    let app = TestAuth::new().await;
    let partner = "partner@eventzr.com";
    let r = app
        .post(
            "/auth/v1/passwordless/magic-link",
            None,
            &json!({"email": partner}),
        )
        .await;
    assert_eq!(r.status, 202);
    let magic = mailed_token(&app, partner, "magic-link");
    let founder = "ada@example.com";
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body(founder, NEW_PASSWORD),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let verify = mailed_token(&app, founder, "verify-email");
    let tenants = [
        stored_user(&app, partner).await.unwrap().tenant_id,
        stored_user(&app, founder).await.unwrap().tenant_id,
    ];
    for t in &tenants {
        app.set_tenant_status(t, "suspended").await;
    }
    let follow = |path: &'static str, token: String| {
        let app = &app;
        async move { app.post(path, None, &json!({ "token": token })).await }
    };

    follow("/auth/v1/passwordless/verify", magic.clone())
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    follow("/auth/v1/signup/verify", verify.clone())
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert!(!stored_user(&app, founder).await.unwrap().email_verified);

    // Neither link was spent: both work once the tenants are active again.
    for t in &tenants {
        app.set_tenant_status(t, "active").await;
    }
    let r = follow("/auth/v1/passwordless/verify", magic).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let r = follow("/auth/v1/signup/verify", verify).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert!(stored_user(&app, founder).await.unwrap().email_verified);
}

#[tokio::test]
async fn signup_mails_a_verification_link_and_login_waits_for_it() {
    let app = TestAuth::new().await;
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body("Ada@Example.com", NEW_PASSWORD),
        )
        .await;
    assert_eq!(r.status, 201);
    let d = &r.json()["data"];
    assert_eq!(d["verificationRequired"], true);
    assert_eq!(r.json()["meta"]["tenant_id"], d["user"]["tenantId"]);
    assert!(r.json()["meta"]["tenant_id"].is_string());
    assert_eq!(d["user"]["email"], "ada@example.com");
    assert_eq!(d["user"]["roles"], json!(["admin"]));
    assert_eq!(d["user"]["planTier"], "BASE");
    assert_eq!(d["user"]["emailVerified"], false);
    assert!(d.get("accessToken").is_none() && d["user"].get("passwordHash").is_none());
    let stored = stored_user(&app, "ada@example.com").await.expect("stored");
    assert!(!stored.email_verified);
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));

    let mails = app.tp.outbox.sent_to("ada@example.com");
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .mail
            .html
            .as_deref()
            .unwrap()
            .contains("/verify-email?token=")
    );
    let token = mailed_token(&app, "ada@example.com", "verify-email");
    assert_eq!(token.len(), 43);
    assert!(!String::from_utf8_lossy(&r.bytes).contains(&token));

    app.login("ada@example.com", NEW_PASSWORD)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_NOT_VERIFIED");
    let v = app
        .post("/auth/v1/signup/verify", None, &json!({"token": token}))
        .await;
    assert_eq!(v.status, 200);
    assert_not_cached(&v);
    assert!(v.json()["data"]["accessToken"].as_str().is_some());
    assert_eq!(v.json()["data"]["user"]["email"], "ada@example.com");
    assert!(
        stored_user(&app, "ada@example.com")
            .await
            .unwrap()
            .email_verified
    );
    assert_eq!(app.login("ada@example.com", NEW_PASSWORD).await.status, 200);
    app.post("/auth/v1/signup/verify", None, &json!({"token": token}))
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
}

#[tokio::test]
async fn a_verification_link_expires_after_24_hours_and_resend_mails_a_new_one() {
    let app = TestAuth::new().await;
    app.post(
        "/auth/v1/signup/email",
        None,
        &signup_body("late@example.com", NEW_PASSWORD),
    )
    .await;
    let stale = mailed_token(&app, "late@example.com", "verify-email");
    app.advance(Duration::hours(24) + Duration::seconds(1));
    app.post("/auth/v1/signup/verify", None, &json!({"token": stale}))
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    let r = app
        .post(
            "/auth/v1/signup/resend",
            None,
            &json!({"email": "late@example.com"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(app.tp.outbox.sent_to("late@example.com").len(), 2);
    // The resend's link chooses the password as it confirms the address.
    let fresh = mailed_token(&app, "late@example.com", "reset-password");
    let body = json!({"token": fresh, "newPassword": "a later passphrase 7"});
    let v = app.post("/auth/v1/password/reset", None, &body).await;
    assert_eq!(v.status, 200, "{}", v.json());
    assert_eq!(
        app.login("late@example.com", "a later passphrase 7")
            .await
            .status,
        200
    );
    // Verified now: a resend answers the same and mails nothing.
    let r = app
        .post(
            "/auth/v1/signup/resend",
            None,
            &json!({"email": "late@example.com"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(app.tp.outbox.sent_to("late@example.com").len(), 2);
}

/// A form learns every missing field at once (serde stops at the first).
#[tokio::test]
async fn an_empty_signup_names_every_missing_field() {
    let app = TestAuth::new().await;
    let r = app
        .post("/auth/v1/signup/email", None, &json!({"name": "Ada"}))
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([
            {"field": "email", "issue": "is required"},
            {"field": "password", "issue": "is required"},
        ])
    );
    assert_eq!(r.json()["error"]["message"], "request validation failed");
}

#[tokio::test]
async fn signup_rejects_a_taken_email_or_username() {
    let app = TestAuth::new().await;
    app.post(
        "/auth/v1/signup/email",
        None,
        &signup_body("PARTNER@eventzr.com", NEW_PASSWORD),
    )
    .await
    .assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    let mut first = signup_body("first@example.com", NEW_PASSWORD);
    first["username"] = json!("ada");
    assert_eq!(
        app.post("/auth/v1/signup/email", None, &first).await.status,
        201
    );
    let mut second = signup_body("second@example.com", NEW_PASSWORD);
    second["username"] = json!("ADA");
    app.post("/auth/v1/signup/email", None, &second)
        .await
        .assert_error(409, "ERR_AUTH_USERNAME_TAKEN");
    assert!(stored_user(&app, "second@example.com").await.is_none());
    assert!(app.tp.outbox.sent_to("second@example.com").is_empty());
    // A name people would take for the platform's staff is nobody's, at signup or later.
    second["username"] = json!("Support");
    let r = app.post("/auth/v1/signup/email", None, &second).await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "username"
    );
    let (access, _) = app.tokens("user@eventzr.com").await;
    let r = app
        .call(
            "PATCH",
            "/auth/v1/profile",
            Some(&access),
            Some(&json!({"username": "admin"})),
        )
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "username"
    );
    // A name taken before it was reserved stays its holder's: a full form sent back with
    // it saves.
    let user = stored_user(&app, "user@eventzr.com").await.unwrap();
    let key = users::key_of(&user).unwrap();
    app.state
        .store()
        .update(shared::store::Update::new(key).set("username", "team"))
        .await
        .unwrap();
    let r = app
        .call(
            "PATCH",
            "/auth/v1/profile",
            Some(&access),
            Some(&json!({"username": "team", "name": "User Again"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
}

/// One mailbox is one account: an internationalised domain and its punycode, or
/// fullwidth letters and the letters they show, are the same address; a local part with
/// an invisible or non-ASCII character is no address at all.
#[tokio::test]
async fn one_mailbox_cannot_hold_two_accounts_under_two_spellings() {
    let app = TestAuth::new().await;
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body("ann@Bücher.de", NEW_PASSWORD),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    assert!(stored_user(&app, "ann@xn--bcher-kva.de").await.is_some());
    for twin in ["ann@xn--bcher-kva.de", "ANN@ＢÜＣＨＥＲ.de"] {
        app.post(
            "/auth/v1/signup/email",
            None,
            &signup_body(twin, NEW_PASSWORD),
        )
        .await
        .assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    }
    for bad in ["partner\u{200b}@eventzr.com", "ｐartner@eventzr.com"] {
        let r = app
            .post(
                "/auth/v1/signup/email",
                None,
                &signup_body(bad, NEW_PASSWORD),
            )
            .await;
        r.assert_error(400, "ERR_AUTH_VALIDATION");
        assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "email");
    }
}

/// Accounts stored under the earlier, laxer email rules (before 2026-12-04): their
/// addresses are refused for new accounts, yet the people behind them still sign in and
/// reset their password, and a new sign-up cannot take the same mailbox again.
#[tokio::test]
async fn accounts_stored_under_the_earlier_email_rules_still_sign_in() {
    let app = TestAuth::new().await;
    let store = app.state.store();
    for (n, (stored, typed)) in [
        ("josé@example.com", " JOSÉ@example.com"),
        ("a..b@docomo.ne.jp", "A..B@docomo.ne.jp"),
        ("ann@bücher.de", "Ann@Bücher.de"),
    ]
    .into_iter()
    .enumerate()
    {
        // A verified account, moved to the address as the earlier rules stored it.
        let today = format!("moved{n}@example.com");
        let v = signed_up_and_verified(&app, &today, NEW_PASSWORD).await;
        assert_eq!(v.status, 200);
        let user = stored_user(&app, &today).await.unwrap();
        let lock = |address: &str| Key::global(format!("EMAIL#{address}"), "LOCK");
        store.delete(Delete::new(lock(&today))).await.unwrap();
        let moved = Item::new(&lock(stored))
            .with("tenant_id", user.tenant_id.as_str())
            .with("user_id", user.id.as_str());
        store.put(Put::new(moved)).await.unwrap();
        let key = auth::repo::user(&TenantId::parse(&user.tenant_id).unwrap(), &user.id);
        store
            .update(Update::new(key).set("email", stored))
            .await
            .unwrap();

        let r = app.login(typed, NEW_PASSWORD).await;
        assert_eq!(
            r.status,
            200,
            "{stored}: {}",
            String::from_utf8_lossy(&r.bytes)
        );
        let r = app
            .post("/auth/v1/password/forgot", None, &json!({"email": typed}))
            .await;
        assert_eq!(r.status, 202);
        assert_eq!(app.tp.outbox.sent_to(stored).len(), 1, "{stored}");
    }
    // The internationalised one, signing up again under its punycode: taken.
    app.post(
        "/auth/v1/signup/email",
        None,
        &signup_body("ann@xn--bcher-kva.de", NEW_PASSWORD),
    )
    .await
    .assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    let twins = users::by_email(store, &Email::parse("ann@bücher.de").unwrap())
        .await
        .unwrap();
    assert_eq!(twins.map(|u| u.email), Some("ann@bücher.de".to_owned()));
}

#[tokio::test]
async fn signup_rejects_weak_passwords_naming_the_field() {
    let app = TestAuth::new().await;
    for weak in ["short1!", "password1", "QWERTYUIOP", "weak@example.com"] {
        let r = app
            .post(
                "/auth/v1/signup/email",
                None,
                &signup_body("weak@example.com", weak),
            )
            .await;
        r.assert_error(400, "ERR_AUTH_WEAK_PASSWORD");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            "password",
            "{weak}"
        );
    }
    assert!(stored_user(&app, "weak@example.com").await.is_none());
}

#[tokio::test]
async fn signup_refuses_a_name_with_control_or_bidi_characters_naming_it() {
    let app = TestAuth::new().await;
    for name in ["Ada\u{202E}x", "Ada\nLovelace", "Ada\u{0}"] {
        let mut body = signup_body("named@example.com", NEW_PASSWORD);
        body["name"] = json!(name);
        let r = app.post("/auth/v1/signup/email", None, &body).await;
        r.assert_error(400, "ERR_AUTH_VALIDATION");
        let field = &r.json()["error"]["details"]["fields"][0];
        assert_eq!(field["field"], "name", "{name:?}");
        assert!(
            field["issue"].as_str().unwrap().contains("control"),
            "{field}"
        );
    }
    assert!(stored_user(&app, "named@example.com").await.is_none());
}

#[tokio::test]
async fn signup_needs_exactly_one_of_tenant_name_or_invite_token() {
    let app = TestAuth::new().await;
    let field = |r: &shared::testing::Reply| {
        r.assert_error(400, "ERR_AUTH_VALIDATION");
        r.json()["error"]["details"]["fields"][0]["field"].clone()
    };
    let mut neither = signup_body("x@example.com", NEW_PASSWORD);
    neither.as_object_mut().unwrap().remove("tenantName");
    assert_eq!(
        field(&app.post("/auth/v1/signup/email", None, &neither).await),
        "tenantName"
    );
    let mut both = signup_body("x@example.com", NEW_PASSWORD);
    both["inviteToken"] = json!("abc");
    assert_eq!(
        field(&app.post("/auth/v1/signup/email", None, &both).await),
        "inviteToken"
    );
    let bad_email = signup_body("not-an-email", NEW_PASSWORD);
    assert_eq!(
        field(&app.post("/auth/v1/signup/email", None, &bad_email).await),
        "email"
    );
    let mut role = signup_body("x@example.com", NEW_PASSWORD);
    role["roles"] = json!(["system"]);
    app.post("/auth/v1/signup/email", None, &role)
        .await
        .assert_error(400, "ERR_AUTH_VALIDATION");
}

#[tokio::test]
async fn long_and_unicode_passwords_work_and_are_never_truncated() {
    let app = TestAuth::new().await;
    let long = format!("{}Z", "p".repeat(63)); // 64 characters
    let unicode = "пароль-日本語-🔐-contraseña".to_owned();
    for (email, password, near_miss) in [
        (
            "long@example.com",
            long.clone(),
            format!("{}Y", "p".repeat(63)),
        ),
        (
            "longer@example.com",
            format!("{long}{}", "q".repeat(40)),
            format!("{long}{}r", "q".repeat(39)),
        ),
        (
            "unicode@example.com",
            unicode.clone(),
            unicode.replace('🔐', "🔑"),
        ),
    ] {
        assert_eq!(
            signed_up_and_verified(&app, email, &password).await.status,
            200
        );
        assert_eq!(app.login(email, &password).await.status, 200, "{email}");
        app.login(email, &near_miss)
            .await
            .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    }
}

#[tokio::test]
async fn ten_parallel_signups_with_one_email_create_exactly_one_user() {
    let app = TestAuth::new().await;
    let calls = (0..10).map(|i| {
        let mut body = signup_body("race@example.com", NEW_PASSWORD);
        body["tenantName"] = json!(format!("Race {i}"));
        let app = &app;
        async move { app.post("/auth/v1/signup/email", None, &body).await }
    });
    let replies = join_all(calls).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1);
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    }
    assert_eq!(app.tp.outbox.sent_to("race@example.com").len(), 1);
    let user = stored_user(&app, "race@example.com").await.unwrap();
    let tenant = auth::signin::tenant_of(&user).unwrap();
    let (listed, _) = users::list(app.state.store(), &tenant, 50, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn resend_forgot_and_magic_link_answer_202_and_mail_only_known_accounts() {
    let app = TestAuth::new().await;
    for path in [
        "signup/resend",
        "password/forgot",
        "passwordless/magic-link",
    ] {
        let r = app
            .post(
                &format!("/auth/v1/{path}"),
                None,
                &json!({"email": "nobody@example.com"}),
            )
            .await;
        assert_eq!(r.status, 202, "{path}");
        assert_eq!(r.json()["data"], json!({"accepted": true}));
    }
    assert!(app.tp.outbox.sent().is_empty());

    app.post(
        "/auth/v1/signup/email",
        None,
        &signup_body("new@example.com", NEW_PASSWORD),
    )
    .await;
    app.post(
        "/auth/v1/signup/resend",
        None,
        &json!({"email": "new@example.com"}),
    )
    .await;
    assert_eq!(app.tp.outbox.sent_to("new@example.com").len(), 2);
    app.post(
        "/auth/v1/password/forgot",
        None,
        &json!({"email": "user@eventzr.com"}),
    )
    .await;
    mailed_token(&app, "user@eventzr.com", "reset-password");
    app.post(
        "/auth/v1/passwordless/magic-link",
        None,
        &json!({"email": "partner@eventzr.com"}),
    )
    .await;
    mailed_token(&app, "partner@eventzr.com", "magic-link");
    // An unverified account gets no magic link.
    app.post(
        "/auth/v1/passwordless/magic-link",
        None,
        &json!({"email": "new@example.com"}),
    )
    .await;
    assert_eq!(app.tp.outbox.sent_to("new@example.com").len(), 2);
}

#[tokio::test]
async fn an_account_is_sent_five_link_mails_an_hour_per_client_address_and_twenty_in_all() {
    let app = TestAuth::new().await;
    let forgot_from = |ip: [u8; 4]| {
        let app = &app;
        async move {
            let req = axum::http::Request::post("/auth/v1/password/forgot")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"email": "partner@eventzr.com"}).to_string(),
                ))
                .unwrap();
            assert_eq!(app.send_from(ip, req).await.status, 202);
        }
    };
    let mails = || app.tp.outbox.sent_to("partner@eventzr.com").len();
    // A stranger's loop spends its own five, not the person's.
    for _ in 0..7 {
        forgot_from([203, 0, 113, 66]).await;
    }
    assert_eq!(mails(), 5);
    forgot_from([198, 51, 100, 7]).await;
    assert_eq!(mails(), 6, "the person's own address still gets a link");
    // Many addresses together reach the account's ceiling, twenty an hour.
    for last in 1..=6 {
        for _ in 0..5 {
            forgot_from([192, 0, 2, last]).await;
        }
    }
    assert_eq!(mails(), 20);
}

/// A signup whose connection comes from `ip` (as the local gateway sees its peer).
async fn signup_as(app: &TestAuth, ip: std::net::IpAddr, body: Value) -> shared::testing::Reply {
    let req = axum::http::Request::post("/auth/v1/signup/email")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.send_from(ip, req).await
}

#[tokio::test]
async fn one_client_address_founds_ten_tenants_an_hour_and_invitees_are_not_counted() {
    let app = TestAuth::new().await;
    let signup_from = |ip: [u8; 4], body: Value| signup_as(&app, ip.into(), body);
    let founder = |i: usize| signup_body(&format!("bulk{i}@example.com"), NEW_PASSWORD);
    let script = [203, 0, 113, 66];
    for i in 0..10 {
        assert_eq!(signup_from(script, founder(i)).await.status, 201, "{i}");
    }
    let r = signup_from(script, founder(10)).await;
    r.assert_error(429, "ERR_AUTH_RATE_LIMITED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    // Refused before anything is written or mailed.
    assert!(stored_user(&app, "bulk10@example.com").await.is_none());
    assert!(app.tp.outbox.sent_to("bulk10@example.com").is_empty());

    // Another address is not affected; an invitee from the same one is not counted.
    assert_eq!(
        signup_from([198, 51, 100, 7], founder(11)).await.status,
        201
    );
    let token = invite(&app, "guest@example.com", &["user"]).await;
    let body = json!({"email": "guest@example.com", "password": NEW_PASSWORD,
        "name": "Guest", "inviteToken": token});
    assert_eq!(signup_from(script, body).await.status, 201);
    // The next hour starts afresh.
    app.advance(Duration::hours(1));
    assert_eq!(signup_from(script, founder(10)).await.status, 201);
}

#[tokio::test]
async fn an_ipv6_client_founds_ten_tenants_an_hour_per_64_and_fifty_per_48() {
    let app = TestAuth::new().await;
    let signup_from = |ip: std::net::Ipv6Addr, i: u16| {
        let body = signup_body(&format!("v6-{i}@example.com"), NEW_PASSWORD);
        signup_as(&app, ip.into(), body)
    };
    let host = |net: u16, host: u16| std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, net, 0, 0, 0, host);
    // Another address of the same /64 is the same client.
    for i in 0..10 {
        assert_eq!(signup_from(host(0, i + 1), i).await.status, 201, "{i}");
    }
    signup_from(host(0, 99), 10)
        .await
        .assert_error(429, "ERR_AUTH_RATE_LIMITED");
    // Other /64s of the /48 have their own ten, up to fifty for the /48.
    for i in 0..40 {
        let r = signup_from(host(1 + i / 10, 1), 100 + i).await;
        assert_eq!(r.status, 201, "{i}");
    }
    signup_from(host(9, 1), 200)
        .await
        .assert_error(429, "ERR_AUTH_RATE_LIMITED");
    // Another /48 is another site.
    let elsewhere = std::net::Ipv6Addr::new(0x2001, 0xdb8, 8, 0, 0, 0, 0, 1);
    assert_eq!(signup_from(elsewhere, 300).await.status, 201);
}

/// An IPv6 client's link mails count by its /48: other /64s of one site are the same
/// asker, so one site cannot spend the account's hourly ceiling (its owner's links).
#[tokio::test]
async fn an_ipv6_site_asks_for_an_account_s_links_five_times_an_hour_whatever_its_64() {
    let app = TestAuth::new().await;
    let forgot_from = |net: u16| {
        let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, net, 0, 0, 0, 1);
        let req = axum::http::Request::post("/auth/v1/password/forgot")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"email": "user@eventzr.com"}).to_string(),
            ))
            .unwrap();
        app.send_from(std::net::IpAddr::V6(ip), req)
    };
    for net in 0..20 {
        assert_eq!(forgot_from(net).await.status, 202);
    }
    assert_eq!(app.tp.outbox.sent_to("user@eventzr.com").len(), 5);
    // The owner, elsewhere, still gets theirs.
    let r = app
        .post(
            "/auth/v1/password/forgot",
            None,
            &json!({"email": "user@eventzr.com"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(app.tp.outbox.sent_to("user@eventzr.com").len(), 6);
}

#[tokio::test]
async fn link_mails_share_one_budget_across_kinds_and_start_afresh_each_hour() {
    let app = TestAuth::new().await;
    let ask = |path: &'static str, email: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(&format!("/auth/v1/{path}"), None, &json!({"email": email}))
                .await;
            // The same answer past the limit: no signal to whoever is asking.
            assert_eq!(r.status, 202, "{path}");
            assert_eq!(r.json()["data"], json!({"accepted": true}));
        }
    };
    for _ in 0..7 {
        ask("password/forgot", "user@eventzr.com").await;
    }
    assert_eq!(app.tp.outbox.sent_to("user@eventzr.com").len(), 5);
    // One budget for every kind of link mail.
    ask("passwordless/magic-link", "user@eventzr.com").await;
    assert_eq!(app.tp.outbox.sent_to("user@eventzr.com").len(), 5);
    // Another account is not affected, and the next hour starts afresh.
    ask("password/forgot", "partner@eventzr.com").await;
    assert_eq!(app.tp.outbox.sent_to("partner@eventzr.com").len(), 1);
    app.advance(Duration::hours(1));
    ask("passwordless/magic-link", "user@eventzr.com").await;
    assert_eq!(app.tp.outbox.sent_to("user@eventzr.com").len(), 6);
    mailed_token(&app, "user@eventzr.com", "magic-link");

    // Signup's own verification mail counts: four resends more, then none.
    app.post(
        "/auth/v1/signup/email",
        None,
        &signup_body("loop@example.com", NEW_PASSWORD),
    )
    .await;
    for _ in 0..6 {
        ask("signup/resend", "loop@example.com").await;
    }
    assert_eq!(app.tp.outbox.sent_to("loop@example.com").len(), 5);
}

#[tokio::test]
async fn a_reset_verifies_the_address_so_its_owner_takes_over_an_account_registered_before_them() {
    let app = TestAuth::new().await;
    // Someone registers the owner's address first, with a password they know.
    let victim = "owner@example.com";
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body(victim, "attacker knows this"),
        )
        .await;
    assert_eq!(r.status, 201);
    // The owner cannot sign up; they reset the password through their own inbox.
    app.post(
        "/auth/v1/signup/email",
        None,
        &signup_body(victim, NEW_PASSWORD),
    )
    .await
    .assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    let r = app
        .post("/auth/v1/password/forgot", None, &json!({"email": victim}))
        .await;
    assert_eq!(r.status, 202);
    let token = mailed_token(&app, victim, "reset-password");
    let r = app
        .post(
            "/auth/v1/password/reset",
            None,
            &json!({"token": token, "newPassword": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    // Verified by the reset: the owner signs in; the first password is gone.
    assert!(stored_user(&app, victim).await.unwrap().email_verified);
    assert_eq!(app.login(victim, NEW_PASSWORD).await.status, 200);
    app.login(victim, "attacker knows this")
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
}

/// The lifecycle review found a suspended account was still mailed reset links (not
/// magic links) and that a reset changed its password, ready for when it came back.
#[tokio::test]
async fn a_suspended_account_gets_no_reset_link_and_an_earlier_one_changes_nothing() {
    let app = TestAuth::new().await;
    let to = "partner@eventzr.com";
    let forgot = async || {
        let r = app
            .post("/auth/v1/password/forgot", None, &json!({"email": to}))
            .await;
        assert_eq!(r.status, 202);
    };
    forgot().await;
    let earlier = mailed_token(&app, to, "reset-password");
    let admin = app.tokens("admin@eventzr.com").await.0;
    let path = format!("/auth/v1/users/{}", id_of(to));
    let suspend = json!({"status": "suspended"});
    let r = app.call("PATCH", &path, Some(&admin), Some(&suspend)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));

    forgot().await;
    assert_eq!(app.tp.outbox.sent_to(to).len(), 1, "no second link");
    let body = json!({"token": earlier, "newPassword": NEW_PASSWORD});
    app.post("/auth/v1/password/reset", None, &body)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    // Reactivated (within the link's 30 minutes), the old password signs in.
    let active = json!({"status": "active"});
    let r = app.call("PATCH", &path, Some(&admin), Some(&active)).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.login(to, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_locked_owner_can_reset_and_the_reset_clears_the_lock_and_ends_every_session() {
    let app = TestAuth::new().await;
    let (_, old_refresh) = app.tokens("user@eventzr.com").await;
    for _ in 0..4 {
        app.login("user@eventzr.com", "wrong password").await;
    }
    app.login("user@eventzr.com", "wrong password")
        .await
        .assert_error(423, "ERR_AUTH_ACCOUNT_LOCKED");

    app.post(
        "/auth/v1/password/forgot",
        None,
        &json!({"email": "user@eventzr.com"}),
    )
    .await;
    let token = mailed_token(&app, "user@eventzr.com", "reset-password");
    let body = json!({"token": token, "newPassword": NEW_PASSWORD});
    let r = app.post("/auth/v1/password/reset", None, &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], json!({"reset": true}));
    // The owner is told, in a mail that carries no link.
    let mails = app.tp.outbox.sent_to("user@eventzr.com");
    let notice = &mails.last().unwrap().mail;
    assert_eq!(notice.subject, "Your EventZR password was reset");
    assert!(!notice.text.contains("http"), "{}", notice.text);

    let user = stored_user(&app, "user@eventzr.com").await.unwrap();
    assert_eq!((user.locked_until, user.failed_logins), (0, 0));
    app.post(
        "/auth/v1/refresh",
        None,
        &json!({"refreshToken": old_refresh}),
    )
    .await
    .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.login("user@eventzr.com", PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert_eq!(
        app.login("user@eventzr.com", NEW_PASSWORD).await.status,
        200
    );
    app.post("/auth/v1/password/reset", None, &body)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
}

/// A reset (or a change) of the password ends every link mailed before it: the other
/// reset links and the magic links. A link mailed after it works.
#[tokio::test]
async fn a_new_password_ends_every_link_mailed_before_it() {
    let app = TestAuth::new().await;
    let to = "partner@eventzr.com";
    let ask = async |path: &str| {
        let r = app.post(path, None, &json!({"email": to})).await;
        assert_eq!(r.status, 202);
    };
    ask("/auth/v1/passwordless/magic-link").await;
    let magic = mailed_token(&app, to, "magic-link");
    ask("/auth/v1/password/forgot").await;
    let first = mailed_token(&app, to, "reset-password");
    ask("/auth/v1/password/forgot").await;
    let second = mailed_token(&app, to, "reset-password");

    let r = app
        .post(
            "/auth/v1/password/reset",
            None,
            &json!({"token": first, "newPassword": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    app.post(
        "/auth/v1/passwordless/verify",
        None,
        &json!({"token": magic}),
    )
    .await
    .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    let again = json!({"token": second, "newPassword": "yet another passphrase"});
    app.post("/auth/v1/password/reset", None, &again)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert_eq!(app.login(to, NEW_PASSWORD).await.status, 200);

    // A change from a session does the same; a link mailed after it works.
    ask("/auth/v1/passwordless/magic-link").await;
    let before_change = mailed_token(&app, to, "magic-link");
    let login = app.login(to, NEW_PASSWORD).await;
    let access = login.json()["data"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = json!({"currentPassword": NEW_PASSWORD, "newPassword": "a third passphrase here"});
    let r = app
        .post("/auth/v1/password/change", Some(&access), &change)
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    app.post(
        "/auth/v1/passwordless/verify",
        None,
        &json!({"token": before_change}),
    )
    .await
    .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    ask("/auth/v1/passwordless/magic-link").await;
    let after = mailed_token(&app, to, "magic-link");
    let r = app
        .post(
            "/auth/v1/passwordless/verify",
            None,
            &json!({"token": after}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
}

/// Someone registers the owner's address first, with a password they know. The owner,
/// refused at signup, asks for the link again: it makes them choose the password as it
/// confirms the address, so the squatter's password dies with the confirmation (a plain
/// verification link handed the owner an account whose password the squatter kept).
#[tokio::test]
async fn a_resend_confirms_the_address_only_with_a_password_its_owner_chooses() {
    let app = TestAuth::new().await;
    let to = "owner@example.com";
    let squatter = "the squatter's passphrase";
    let r = app
        .post("/auth/v1/signup/email", None, &signup_body(to, squatter))
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body(to, NEW_PASSWORD),
        )
        .await;
    r.assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/auth/v1/password/forgot")
    );
    let r = app
        .post("/auth/v1/signup/resend", None, &json!({"email": to}))
        .await;
    assert_eq!(r.status, 202);
    let mails = app.tp.outbox.sent_to(to);
    let mail = &mails.last().unwrap().mail;
    assert_eq!(mail.subject, "Finish setting up your EventZR account");
    assert!(!mail.text.contains("verify-email"), "{}", mail.text);
    let token = mailed_token(&app, to, "reset-password");
    let body = json!({"token": token, "newPassword": NEW_PASSWORD});
    let r = app.post("/auth/v1/password/reset", None, &body).await;
    assert_eq!(r.status, 200, "{}", r.json());
    app.login(to, squatter)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    assert_eq!(app.login(to, NEW_PASSWORD).await.status, 200);
    // Setting the account up is no news to its owner: no "password was reset" notice.
    assert_eq!(
        app.subjects_to(to).last().map(String::as_str),
        Some("Finish setting up your EventZR account")
    );
}

/// auth-svc on a store where another password write lands just before this request's
/// own password write: two resets, or a reset and a change, at the same moment.
async fn meeting_another_password_write() -> (TestAuth, Arc<FaultyStore>) {
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    (app, store)
}

fn theirs(email: &str) -> TransactOp {
    let id = auth::seed::STAGING_ACCOUNTS
        .iter()
        .find(|a| a.email == email)
        .unwrap()
        .id;
    let key = auth::repo::user(&t1(), id);
    TransactOp::Update(Update::new(key).set("password_hash", "$argon2id$the-winner"))
}

async fn stored_hash(app: &TestAuth, email: &str) -> Option<String> {
    let email = Email::parse(email).unwrap();
    users::by_email(app.state.store(), &email)
        .await
        .unwrap()
        .unwrap()
        .password_hash
}

/// Two reset links (or a reset and a change) at once each checked the same old password;
/// the write that lands second must not replace the first one's password with its own
/// (a thief's change racing the owner's reset kept the thief's password).
#[tokio::test]
async fn a_reset_racing_another_password_write_is_refused_and_writes_nothing() {
    let (app, store) = meeting_another_password_write().await;
    let to = "partner@eventzr.com";
    let r = app
        .post("/auth/v1/password/forgot", None, &json!({"email": to}))
        .await;
    assert_eq!(r.status, 202);
    let token = mailed_token(&app, to, "reset-password");
    store.meanwhile(Op::Update, vec![theirs(to)]);
    let body = json!({"token": token, "newPassword": NEW_PASSWORD});
    app.post("/auth/v1/password/reset", None, &body)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert_eq!(
        stored_hash(&app, to).await.as_deref(),
        Some("$argon2id$the-winner")
    );
}

#[tokio::test]
async fn a_change_racing_another_password_write_is_refused_and_writes_nothing() {
    let (app, store) = meeting_another_password_write().await;
    let to = "partner@eventzr.com";
    let access = app.tokens(to).await.0;
    // The change's writes: its guess reserved, then cleared (right password), then the
    // new password — the other write lands just before that.
    store.meanwhile_before(Op::Update, 3, vec![theirs(to)]);
    let change = json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD});
    let r = app
        .post("/auth/v1/password/change", Some(&access), &change)
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "currentPassword"
    );
    assert_eq!(
        stored_hash(&app, to).await.as_deref(),
        Some("$argon2id$the-winner")
    );
}

#[tokio::test]
async fn a_reset_link_expires_after_30_minutes_and_a_weak_password_does_not_burn_it() {
    let app = TestAuth::new().await;
    app.post(
        "/auth/v1/password/forgot",
        None,
        &json!({"email": "user@eventzr.com"}),
    )
    .await;
    let token = mailed_token(&app, "user@eventzr.com", "reset-password");
    let weak = app
        .post(
            "/auth/v1/password/reset",
            None,
            &json!({"token": token, "newPassword": "password1"}),
        )
        .await;
    weak.assert_error(400, "ERR_AUTH_WEAK_PASSWORD");
    assert_eq!(
        weak.json()["error"]["details"]["fields"][0]["field"],
        "newPassword"
    );
    app.advance(Duration::minutes(30) + Duration::seconds(1));
    app.post(
        "/auth/v1/password/reset",
        None,
        &json!({"token": token, "newPassword": NEW_PASSWORD}),
    )
    .await
    .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert_eq!(app.login("user@eventzr.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_password_reset_never_bypasses_mfa() {
    let app = TestAuth::new().await;
    app.post(
        "/auth/v1/password/forgot",
        None,
        &json!({"email": "dev@eventzr.com"}),
    )
    .await;
    let token = mailed_token(&app, "dev@eventzr.com", "reset-password");
    let r = app
        .post(
            "/auth/v1/password/reset",
            None,
            &json!({"token": token, "newPassword": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["data"].get("accessToken").is_none());
    let login = app.login("dev@eventzr.com", NEW_PASSWORD).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.json()["data"]["mfaRequired"], true);
    assert!(login.json()["data"].get("accessToken").is_none());
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_keeps_this_one() {
    let app = TestAuth::new().await;
    let (this_access, _) = app.tokens("organizer@eventzr.com").await;
    let (other_access, other_refresh) = app.tokens("organizer@eventzr.com").await;
    let body = json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD});
    let r = app
        .post("/auth/v1/password/change", Some(&this_access), &body)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["data"],
        json!({"changed": true, "revokedSessions": 1})
    );
    let mails = app.tp.outbox.sent_to("organizer@eventzr.com");
    let notice = &mails.last().unwrap().mail;
    assert_eq!(notice.subject, "Your EventZR password was changed");
    assert!(!notice.text.contains(NEW_PASSWORD) && !notice.text.contains(PASSWORD));
    assert_eq!(
        app.get("/auth/v1/profile", Some(&this_access)).await.status,
        200
    );
    app.get("/auth/v1/profile", Some(&other_access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    app.post(
        "/auth/v1/refresh",
        None,
        &json!({"refreshToken": other_refresh}),
    )
    .await
    .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(
        app.login("organizer@eventzr.com", NEW_PASSWORD)
            .await
            .status,
        200
    );
    app.login("organizer@eventzr.com", PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_change_to_the_same_password_is_refused_and_ends_nothing() {
    let app = TestAuth::new().await;
    let (other_access, _) = app.tokens("user@eventzr.com").await;
    let (access, _) = app.tokens("user@eventzr.com").await;
    let same = json!({"currentPassword": PASSWORD, "newPassword": PASSWORD});
    let r = app
        .post("/auth/v1/password/change", Some(&access), &same)
        .await;
    r.assert_error(400, "ERR_AUTH_WEAK_PASSWORD");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "newPassword"
    );
    assert_eq!(
        app.get("/auth/v1/profile", Some(&other_access))
            .await
            .status,
        200
    );
    let user = stored_user(&app, "user@eventzr.com").await.unwrap();
    assert_eq!(user.failed_logins, 0, "no guess was counted");
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_like_a_login() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens("admin@eventzr.com").await;
    let change = |current: &str, new: &str| json!({"currentPassword": current, "newPassword": new});
    app.post(
        "/auth/v1/password/change",
        None,
        &change(PASSWORD, NEW_PASSWORD),
    )
    .await
    .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    // The field is named (a 401 would read as an expired session); the guess is counted.
    let wrong = app
        .post(
            "/auth/v1/password/change",
            Some(&access),
            &change("not it", NEW_PASSWORD),
        )
        .await;
    wrong.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        wrong.json()["error"]["details"]["fields"],
        json!([{"field": "currentPassword", "issue": "is not this account's current password"}])
    );
    assert_eq!(
        stored_user(&app, "admin@eventzr.com")
            .await
            .unwrap()
            .failed_logins,
        1
    );
    let weak = app
        .post(
            "/auth/v1/password/change",
            Some(&access),
            &change(PASSWORD, "12345678"),
        )
        .await;
    weak.assert_error(400, "ERR_AUTH_WEAK_PASSWORD");
    assert_eq!(
        weak.json()["error"]["details"]["fields"][0]["field"],
        "newPassword"
    );
    // Refused before the current password was checked: the failure count stands.
    assert_eq!(
        stored_user(&app, "admin@eventzr.com")
            .await
            .unwrap()
            .failed_logins,
        1
    );
    assert_eq!(app.login("admin@eventzr.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_magic_link_signs_partner_in_once_and_meets_mfa_for_dev() {
    let app = TestAuth::new().await;
    let redirect = "http://127.0.0.1:3000/dashboard?tab=events";
    let r = app
        .post(
            "/auth/v1/passwordless/magic-link",
            None,
            &json!({"email": "partner@eventzr.com", "redirectUri": redirect}),
        )
        .await;
    assert_eq!(r.status, 202);
    let token = mailed_token(&app, "partner@eventzr.com", "magic-link");
    let v = app
        .post(
            "/auth/v1/passwordless/verify",
            None,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(v.status, 200);
    assert_not_cached(&v);
    let d = &v.json()["data"];
    assert_eq!(d["user"]["email"], "partner@eventzr.com");
    assert_eq!(d["redirectUri"], redirect);
    assert_eq!(
        app.get("/auth/v1/profile", d["accessToken"].as_str())
            .await
            .status,
        200
    );
    app.post(
        "/auth/v1/passwordless/verify",
        None,
        &json!({"token": token}),
    )
    .await
    .assert_error(400, "ERR_AUTH_TOKEN_INVALID");

    app.post(
        "/auth/v1/passwordless/magic-link",
        None,
        &json!({"email": "dev@eventzr.com"}),
    )
    .await;
    let token = mailed_token(&app, "dev@eventzr.com", "magic-link");
    let v = app
        .post(
            "/auth/v1/passwordless/verify",
            None,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(v.status, 200);
    assert_eq!(v.json()["data"]["mfaRequired"], true);
    assert!(v.json()["data"].get("accessToken").is_none());
}

#[tokio::test]
async fn a_magic_link_works_while_locked_expires_in_15_minutes_and_refuses_foreign_redirects() {
    let app = TestAuth::new().await;
    for _ in 0..5 {
        app.login("user@eventzr.com", "wrong password").await;
    }
    let link = |email: &str| json!({"email": email});
    app.post(
        "/auth/v1/passwordless/magic-link",
        None,
        &link("user@eventzr.com"),
    )
    .await;
    let token = mailed_token(&app, "user@eventzr.com", "magic-link");
    let v = app
        .post(
            "/auth/v1/passwordless/verify",
            None,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(v.status, 200);
    assert!(v.json()["data"]["accessToken"].as_str().is_some());

    app.post(
        "/auth/v1/passwordless/magic-link",
        None,
        &link("partner@eventzr.com"),
    )
    .await;
    let token = mailed_token(&app, "partner@eventzr.com", "magic-link");
    app.advance(Duration::minutes(15) + Duration::seconds(1));
    app.post(
        "/auth/v1/passwordless/verify",
        None,
        &json!({"token": token}),
    )
    .await
    .assert_error(400, "ERR_AUTH_TOKEN_INVALID");

    for evil in [
        "https://evil.example/",
        "http://127.0.0.1:3000.evil.example/x",
    ] {
        let r = app
            .post(
                "/auth/v1/passwordless/magic-link",
                None,
                &json!({"email": "partner@eventzr.com", "redirectUri": evil}),
            )
            .await;
        r.assert_error(400, "ERR_AUTH_VALIDATION");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            "redirectUri"
        );
    }
}

async fn invite(app: &TestAuth, email: &str, roles: &[&str]) -> String {
    let now = app.state.epoch();
    one_time::issue(
        app.state.store(),
        Kind::Invite,
        Some(&t1()),
        None,
        json!({"email": email, "roles": roles}),
        now,
        7 * 24 * 3600,
    )
    .await
    .unwrap()
}

/// Invites the address through the route as T1's admin (a recorded invite).
async fn invite_by_route(app: &TestAuth, email: &str, roles: &[&str]) {
    let (admin, _) = app.tokens("admin@eventzr.com").await;
    let body = json!({"email": email, "roles": roles});
    let r = app.post("/auth/v1/users/invite", Some(&admin), &body).await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
}

#[tokio::test]
async fn an_invite_from_before_records_yields_to_a_re_invite_and_stays_dead_once_revoked() {
    let app = TestAuth::new().await;
    let to = "old@example.com";
    // Mailed before invites had records: no sender, no record.
    let old = invite(&app, to, &["admin"]).await;
    invite_by_route(&app, to, &["user"]).await;
    accept_invite(&app, to, &old)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    // Revoking the newer one does not bring the older one back.
    let (admin, _) = app.tokens("admin@eventzr.com").await;
    let r = app
        .call(
            "DELETE",
            "/auth/v1/users/invites?email=old%40example.com",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    accept_invite(&app, to, &old)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert!(stored_user(&app, to).await.is_none());
}

#[tokio::test]
async fn a_revoke_landing_between_an_acceptance_s_read_and_its_write_refuses_the_signup_whole() {
    use auth::repo::invites;
    let app = TestAuth::new().await;
    let to = "racing@example.com";
    invite_by_route(&app, to, &["user"]).await;
    let token = token_in(&app.tp.outbox.sent_to(to)[0].mail.text, "accept-invite");
    // The signup read the record (it counted), then the revoke landed.
    let email = Email::parse(to).unwrap();
    let acceptance = invites::acceptance(&t1(), &email, &token, true);
    invites::revoke(app.state.store(), &t1(), &email, app.state.epoch())
        .await
        .unwrap()
        .expect("pending");
    let user = auth::domain::User::new(
        uuid::Uuid::new_v4().to_string(),
        t1().to_string(),
        to.to_owned(),
        "Racer".into(),
        vec!["user".into()],
        "2026-01-01T00:00:00.000Z",
    );
    let refused = users::create_invited(app.state.store(), &user, acceptance, None).await;
    assert!(
        matches!(refused, Err(auth::error::AuthError::OneTimeTokenInvalid)),
        "{refused:?}"
    );
    assert!(stored_user(&app, to).await.is_none(), "nothing written");
}

#[tokio::test]
async fn an_invite_joins_its_tenant_with_its_roles_and_counts_as_verified() {
    let app = TestAuth::new().await;
    let token = invite(&app, "guest@example.com", &["organizer"]).await;
    let body = |email: &str| json!({"email": email, "password": NEW_PASSWORD, "name": "Guest", "inviteToken": token});
    // Another email: refused, and the invite stays usable for the invited address.
    app.post("/auth/v1/signup/email", None, &body("intruder@example.com"))
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    let r = app
        .post("/auth/v1/signup/email", None, &body("Guest@Example.com"))
        .await;
    assert_eq!(r.status, 201);
    let d = &r.json()["data"];
    assert_eq!(d["verificationRequired"], false);
    assert_eq!(d["user"]["tenantId"], auth::seed::T1);
    assert_eq!(d["user"]["roles"], json!(["organizer"]));
    assert_eq!(d["user"]["planTier"], "ENTERPRISE");
    assert!(app.tp.outbox.sent().is_empty());
    assert_eq!(
        app.login("guest@example.com", NEW_PASSWORD).await.status,
        200
    );
    // Single use.
    app.post("/auth/v1/signup/email", None, &body("guest2@example.com"))
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
}

#[tokio::test]
async fn an_invite_to_a_suspended_tenant_is_refused_and_writes_nothing() {
    let app = TestAuth::new().await;
    let token = invite(&app, "guest@example.com", &["user"]).await;
    app.set_tenant_status(auth::seed::T1, "suspended").await;
    let body = json!({"email": "guest@example.com", "password": NEW_PASSWORD, "name": "Guest", "inviteToken": token});

    app.post("/auth/v1/signup/email", None, &body)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
    assert!(stored_user(&app, "guest@example.com").await.is_none());

    // The invite was left as it was: usable once the tenant is active again.
    app.set_tenant_status(auth::seed::T1, "active").await;
    let r = app.post("/auth/v1/signup/email", None, &body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
}

#[tokio::test]
async fn an_expired_invite_is_refused() {
    let app = TestAuth::new().await;
    let token = invite(&app, "late-guest@example.com", &["user"]).await;
    app.advance(Duration::days(7) + Duration::seconds(1));
    let body = json!({"email": "late-guest@example.com", "password": NEW_PASSWORD, "name": "G", "inviteToken": token});
    app.post("/auth/v1/signup/email", None, &body)
        .await
        .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert!(stored_user(&app, "late-guest@example.com").await.is_none());
}

#[tokio::test]
async fn a_retried_signup_with_the_same_idempotency_key_replays_the_first_answer() {
    let app = TestAuth::new().await;
    let send = || {
        let req = http::Request::post("/auth/v1/signup/email")
            .header("content-type", "application/json")
            .header("idempotency-key", "signup-7f3a")
            .body(axum::body::Body::from(
                signup_body("retry@example.com", NEW_PASSWORD).to_string(),
            ))
            .unwrap();
        app.send(req)
    };
    let first = send().await;
    let second = send().await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (201, 201));
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.json()["data"], second.json()["data"]);
    assert_eq!(app.tp.outbox.sent_to("retry@example.com").len(), 1);
}

/// Over the wire: DynamoDB on the emulator, and mail through SES, read back from the
/// emulator's record of sent messages to follow the link.
#[tokio::test]
async fn signup_verify_and_login_work_over_the_wire_with_mail_through_ses() {
    let Some(endpoint) = shared::testing::emulator_endpoint("account_over_the_wire") else {
        return;
    };
    let sdk = shared::testing::emulator_sdk_config(&endpoint).await;
    let ses = aws_sdk_ses::Client::new(&sdk);
    ses.verify_email_identity()
        .email_address("no-reply@eventzr.com")
        .send()
        .await
        .expect("verify sender");
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("auth-test-{}", uuid::Uuid::new_v4().simple());
    shared::store::dynamo::ensure_table(&dynamo, &table)
        .await
        .expect("table");
    let store = Arc::new(shared::store::dynamo::DynamoStore::new(dynamo, table));
    let mailer = Arc::new(shared::mail::SesMailer::new(ses, "no-reply@eventzr.com"));
    let app = TestAuth::with_parts(store, Some(mailer)).await;

    let email = format!("wire-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body(&email, NEW_PASSWORD),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    app.login(&email, NEW_PASSWORD)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_NOT_VERIFIED");

    let data = shared::testing::emulator_data(&endpoint).await;
    let sent = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["destinations"]["ToAddresses"][0] == email.as_str())
        .unwrap_or_else(|| panic!("no SES message to {email}: {}", data["ses"]));
    assert_eq!(sent["source"], "no-reply@eventzr.com");
    let token = token_in(sent["body"].as_str().expect("body"), "verify-email");
    let v = app
        .post("/auth/v1/signup/verify", None, &json!({"token": token}))
        .await;
    assert_eq!(v.status, 200, "{}", String::from_utf8_lossy(&v.bytes));
    assert!(v.json()["data"]["refreshToken"].as_str().is_some());
    assert_eq!(app.login(&email, NEW_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn forgot_answers_unknown_and_known_emails_after_the_same_floor() {
    let app = TestAuth::new().await;
    for email in ["nobody@example.com", "user@eventzr.com"] {
        let started = std::time::Instant::now();
        let r = app
            .post("/auth/v1/password/forgot", None, &json!({"email": email}))
            .await;
        assert_eq!(r.status, 202);
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(250),
            "{email}"
        );
    }
    assert_eq!(app.tp.outbox.sent().len(), 1);
}

#[tokio::test]
async fn a_magic_link_sign_in_clears_the_password_guesses_as_a_password_sign_in_does() {
    let app = TestAuth::new().await;
    let to = "user@eventzr.com";
    for _ in 0..4 {
        app.login(to, "Password123?")
            .await
            .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    }
    assert_eq!(stored_user(&app, to).await.unwrap().failed_logins, 4);
    let r = app
        .post(
            "/auth/v1/passwordless/magic-link",
            None,
            &json!({"email": to}),
        )
        .await;
    assert_eq!(r.status, 202);
    let magic = mailed_token(&app, to, "magic-link");
    let r = app
        .post(
            "/auth/v1/passwordless/verify",
            None,
            &json!({"token": magic}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(stored_user(&app, to).await.unwrap().failed_logins, 0);
    // The next wrong password is the first of a new count, not the fifth.
    app.login(to, "Password123?")
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
}

#[tokio::test]
async fn an_invitee_takes_their_address_over_from_an_account_that_never_proved_it() {
    let app = TestAuth::new().await;
    let to = "gina@example.com";
    // Invited, then someone registers the address (with a password they know) first.
    invite_by_route(&app, to, &["user"]).await;
    let token = mailed_token(&app, to, "accept-invite");
    let squatter = json!({"email": to, "password": "squatter passphrase", "name": "Not Gina",
        "tenantName": "Gina Co"});
    let r = app.post("/auth/v1/signup/email", None, &squatter).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let squatter_link = mailed_token(&app, to, "verify-email");
    let old = stored_user(&app, to).await.unwrap();
    // The invite mail proved the address: the unverified account goes, the invitee joins.
    let r = accept_invite(&app, to, &token).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let joined = stored_user(&app, to).await.unwrap();
    assert_ne!(joined.id, old.id);
    assert_eq!(
        (joined.tenant_id.as_str(), joined.email_verified),
        (auth::seed::T1, true)
    );
    assert!(
        users::get(
            app.state.store(),
            &TenantId::parse(&old.tenant_id).unwrap(),
            &old.id
        )
        .await
        .unwrap()
        .is_none(),
        "the unverified account is gone"
    );
    app.login(to, "squatter passphrase")
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    app.post(
        "/auth/v1/signup/verify",
        None,
        &json!({"token": squatter_link}),
    )
    .await
    .assert_error(400, "ERR_AUTH_TOKEN_INVALID");
    assert!(
        app.audit_kinds(&old.tenant_id)
            .await
            .contains(&"user.replaced".to_owned())
    );

    // A registration before the invite does not refuse the invite either; a verified
    // account does.
    let early = "early@example.com";
    let r = app
        .post(
            "/auth/v1/signup/email",
            None,
            &signup_body(early, NEW_PASSWORD),
        )
        .await;
    assert_eq!(r.status, 201);
    invite_by_route(&app, early, &["user"]).await;
    let token = mailed_token(&app, early, "accept-invite");
    assert_eq!(accept_invite(&app, early, &token).await.status, 201);
    let (admin, _) = app.tokens("admin@eventzr.com").await;
    let body = json!({"email": early, "roles": ["user"]});
    app.post("/auth/v1/users/invite", Some(&admin), &body)
        .await
        .assert_error(409, "ERR_AUTH_EMAIL_TAKEN");
}
