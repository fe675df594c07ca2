//! Token verification through a protected route: every forged, stale or foreign token
//! is a 401 with the right code (never 500), and a valid one still works after them.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::Duration;
use serde_json::{Value, json};
use shared::{auth::keys::SigningKey, service::Service};

use crate::helpers::TestApp;

const WHOAMI: &str = "/analytics/v1/whoami";

fn app() -> TestApp {
    TestApp::new(Service::Analytics)
}

use shared::testing::forge::{raw_token, sign_as};

fn claims_json(app: &TestApp) -> Value {
    serde_json::to_value(app.tp.claims(&["user"])).unwrap()
}

/// Signs `claims` with the real key, but with a header of our choosing.
fn sign_with_header(app: &TestApp, header: &Value, claims: &Value) -> String {
    sign_as(&app.tp.key, header, claims)
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let app = app();
    let r = app.get(WHOAMI, Some(&app.tp.token(&["organizer"]))).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["data"]["tenant"], shared::testing::T1);
    assert_eq!(body["data"]["roles"], json!(["organizer"]));
    assert_eq!(body["meta"]["tenant_id"], shared::testing::T1);
    assert_eq!(body["meta"]["service"], "analytics-svc");
}

#[tokio::test]
async fn a_401_carries_its_bearer_challenge() {
    let app = app();
    let missing = app.get(WHOAMI, None).await;
    assert_eq!(
        missing.header("www-authenticate"),
        Some(r#"Bearer realm="eventzr""#)
    );
    let forged = app.get(WHOAMI, Some("a.b.c")).await;
    forged.assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
    assert_eq!(
        forged.header("www-authenticate"),
        Some(r#"Bearer realm="eventzr", error="invalid_token""#)
    );
    let ok = app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await;
    assert_eq!(ok.header("www-authenticate"), None);
}

#[tokio::test]
async fn a_missing_or_malformed_authorization_header_is_unauthorized() {
    let app = app();
    app.get(WHOAMI, None)
        .await
        .assert_error(401, "ERR_ANALYTICS_UNAUTHORIZED");
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme", ""] {
        let req = http::Request::get(WHOAMI)
            .header("authorization", header)
            .body(axum::body::Body::empty())
            .unwrap();
        app.send(req)
            .await
            .assert_error(401, "ERR_ANALYTICS_UNAUTHORIZED");
    }
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_invalid_and_a_valid_token_still_works_after() {
    let app = app();
    let claims = claims_json(&app);
    let kid = app.tp.key.kid().to_owned();
    let valid = app.tp.token(&["user"]);
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();

    let mut tampered = claims.clone();
    tampered["tenantId"] = json!(shared::testing::T3);
    let mut roles_up = claims.clone();
    roles_up["roles"] = json!(["admin", "system"]);
    let mut plan_up = claims.clone();
    plan_up["planTier"] = json!("ENTERPRISE_PLUS");

    let attacker = SigningKey::generate(kid.clone()).unwrap();
    let hs256_sig = {
        // The classic confusion attack: HMAC keyed with the public key.
        let k = aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            app.tp.key.public_jwk().n.as_bytes(),
        );
        let input = format!(
            "{}.{}",
            B64.encode(json!({"alg":"HS256","typ":"at+jwt","kid":kid}).to_string()),
            B64.encode(claims.to_string())
        );
        aws_lc_rs::hmac::sign(&k, input.as_bytes())
            .as_ref()
            .to_vec()
    };

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            raw_token(
                &json!({"alg":"none","typ":"at+jwt","kid":kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg None",
            raw_token(
                &json!({"alg":"None","typ":"at+jwt","kid":kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg NONE",
            raw_token(
                &json!({"alg":"NONE","typ":"at+jwt","kid":kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg nOnE",
            raw_token(
                &json!({"alg":"nOnE","typ":"at+jwt","kid":kid}),
                &claims,
                b"",
            ),
        ),
        (
            "HS256 with the public key",
            raw_token(
                &json!({"alg":"HS256","typ":"at+jwt","kid":kid}),
                &claims,
                &hs256_sig,
            ),
        ),
        (
            "tampered tenantId",
            format!("{head}.{}.{sig}", B64.encode(tampered.to_string())),
        ),
        (
            "tampered roles",
            format!("{head}.{}.{sig}", B64.encode(roles_up.to_string())),
        ),
        (
            "tampered planTier",
            format!("{head}.{}.{sig}", B64.encode(plan_up.to_string())),
        ),
        ("truncated", valid[..valid.len() - 10].to_owned()),
        ("two parts", format!("{head}.{payload}")),
        ("blank signature", format!("{head}.{payload}.")),
        (
            "signed by another key with our kid",
            attacker.sign(&claims).unwrap(),
        ),
        (
            "embedded jwk",
            sign_as(
                &attacker,
                &json!({"alg":"RS256","typ":"at+jwt","kid":"attacker","jwk":attacker.public_jwk()}),
                &claims,
            ),
        ),
        (
            "jku elsewhere",
            sign_as(
                &attacker,
                &json!({"alg":"RS256","typ":"at+jwt","kid":"attacker","jku":"https://evil.example/jwks.json"}),
                &claims,
            ),
        ),
        (
            "x5u elsewhere",
            sign_as(
                &attacker,
                &json!({"alg":"RS256","typ":"at+jwt","kid":"attacker","x5u":"https://evil.example/cert.pem"}),
                &claims,
            ),
        ),
        (
            "unknown kid",
            sign_with_header(
                &app,
                &json!({"alg":"RS256","typ":"at+jwt","kid":"nope"}),
                &claims,
            ),
        ),
        (
            "blank kid",
            sign_with_header(
                &app,
                &json!({"alg":"RS256","typ":"at+jwt","kid":""}),
                &claims,
            ),
        ),
        (
            "missing kid",
            sign_with_header(&app, &json!({"alg":"RS256","typ":"at+jwt"}), &claims),
        ),
        (
            "kid path traversal",
            sign_with_header(
                &app,
                &json!({"alg":"RS256","typ":"at+jwt","kid":"../../../../dev/null"}),
                &claims,
            ),
        ),
        (
            "kid injection",
            sign_with_header(
                &app,
                &json!({"alg":"RS256","typ":"at+jwt","kid":"x' OR '1'='1"}),
                &claims,
            ),
        ),
        (
            "wrong typ",
            sign_with_header(&app, &json!({"alg":"RS256","typ":"JWT","kid":kid}), &claims),
        ),
        (
            "missing typ",
            sign_with_header(&app, &json!({"alg":"RS256","kid":kid}), &claims),
        ),
        (
            "critical extension",
            sign_with_header(
                &app,
                &json!({"alg":"RS256","typ":"at+jwt","kid":kid,"crit":["exp"],"exp":1}),
                &claims,
            ),
        ),
        ("not base64", "!!!.???.***".to_owned()),
        ("oversized", format!("{head}.{}.{sig}", "A".repeat(10_000))),
    ];
    for (name, token) in cases {
        let r = app.get(WHOAMI, Some(&token)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "ERR_ANALYTICS_TOKEN_INVALID".to_owned()),
            "{name}: {}",
            String::from_utf8_lossy(&r.bytes)
        );
    }
    assert_eq!(app.get(WHOAMI, Some(&valid)).await.status, 200);
}

#[tokio::test]
async fn claims_checks_reject_wrong_issuer_audience_and_missing_claims() {
    let app = app();
    let mut cases = Vec::new();
    let mut c = app.tp.claims(&["user"]);
    c.iss = "https://evil.example".into();
    cases.push(("wrong iss", app.tp.sign(&c)));
    let mut c = app.tp.claims(&["user"]);
    c.aud = "https://other-api.example".into();
    cases.push(("wrong aud", app.tp.sign(&c)));
    let mut c = app.tp.claims(&["user"]);
    c.tenant_id = "not-a-uuid".into();
    cases.push(("bad tenantId", app.tp.sign(&c)));
    let mut missing_aud = serde_json::to_value(app.tp.claims(&["user"])).unwrap();
    missing_aud.as_object_mut().unwrap().remove("aud");
    cases.push(("missing aud", app.tp.key.sign(&missing_aud).unwrap()));
    let mut missing_iss = serde_json::to_value(app.tp.claims(&["user"])).unwrap();
    missing_iss.as_object_mut().unwrap().remove("iss");
    cases.push(("missing iss", app.tp.key.sign(&missing_iss).unwrap()));
    for (name, token) in cases {
        let r = app.get(WHOAMI, Some(&token)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "ERR_ANALYTICS_TOKEN_INVALID".into()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn expiry_and_not_before_allow_30_seconds_of_leeway() {
    let app = app();
    let token = app.tp.token(&["user"]); // exp = now + 900
    app.tp.advance(Duration::seconds(900 + 30));
    assert_eq!(
        app.get(WHOAMI, Some(&token)).await.status,
        200,
        "inside the leeway"
    );
    app.tp.advance(Duration::seconds(2));
    app.get(WHOAMI, Some(&token))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_EXPIRED");

    let mut c = app.tp.claims(&["user"]);
    c.nbf = Some(c.iat + 60);
    let early = app.tp.sign(&c);
    app.get(WHOAMI, Some(&early))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
    app.tp.advance(Duration::seconds(31));
    assert_eq!(
        app.get(WHOAMI, Some(&early)).await.status,
        200,
        "nbf within leeway"
    );
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_key_set_at_most_once_a_minute() {
    let app = app();
    assert_eq!(
        app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await.status,
        200
    );
    // Rotation: a new key signs, and its public half is published afterwards.
    let rotated = SigningKey::generate("test-key-2").unwrap();
    let token = rotated.sign(&app.tp.claims(&["user"])).unwrap();
    app.get(WHOAMI, Some(&token))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
    let jwks = json!({"keys": [app.tp.key.public_jwk(), rotated.public_jwk()]});
    app.tp.secrets.set(
        &app.tp.platform.config.jwt_public_keys_secret_id,
        jwks.to_string(),
    );
    // The last refresh was less than a minute ago: no new fetch yet.
    app.get(WHOAMI, Some(&token))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
    app.tp.advance(Duration::seconds(61));
    assert_eq!(
        app.get(WHOAMI, Some(&token)).await.status,
        200,
        "refreshed after a minute"
    );
    assert_eq!(
        app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await.status,
        200,
        "old key still verifies"
    );
    // A key removed from the set stops verifying after the next refresh.
    app.tp.secrets.set(
        &app.tp.platform.config.jwt_public_keys_secret_id,
        json!({"keys": [rotated.public_jwk()]}).to_string(),
    );
    app.tp.advance(Duration::seconds(61));
    let unknown = SigningKey::generate("test-key-3")
        .unwrap()
        .sign(&app.tp.claims(&["user"]))
        .unwrap();
    app.get(WHOAMI, Some(&unknown))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
    app.get(WHOAMI, Some(&app.tp.token(&["user"])))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
}

#[tokio::test]
async fn an_unreadable_key_set_is_503_not_401_or_500() {
    let app = app();
    app.tp.secrets.set(
        &app.tp.platform.config.jwt_public_keys_secret_id,
        "not json",
    );
    let r = app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await;
    r.assert_error(503, "ERR_ANALYTICS_UNAVAILABLE");
    assert_eq!(r.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn public_routes_accept_no_token_but_not_a_bad_one() {
    let app = app();
    let r = app.get("/analytics/v1/maybe", None).await;
    assert_eq!(r.json()["data"]["authenticated"], false);
    let r = app
        .get("/analytics/v1/maybe", Some(&app.tp.token(&["user"])))
        .await;
    assert_eq!(r.json()["data"]["authenticated"], true);
    app.get("/analytics/v1/maybe", Some("garbage"))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
}

#[tokio::test]
async fn a_key_removed_from_the_set_stops_verifying_within_ten_minutes() {
    let app = app();
    assert_eq!(
        app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await.status,
        200
    );
    let successor = SigningKey::generate("test-key-2").unwrap();
    let config = &app.tp.platform.config;
    app.tp.secrets.set(
        &config.jwt_public_keys_secret_id,
        json!({"keys": [successor.public_jwk()]}).to_string(),
    );
    app.tp.advance(Duration::minutes(9));
    assert_eq!(
        app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await.status,
        200,
        "still cached"
    );
    app.tp.advance(Duration::minutes(2));
    app.get(WHOAMI, Some(&app.tp.token(&["user"])))
        .await
        .assert_error(401, "ERR_ANALYTICS_TOKEN_INVALID");
}

#[tokio::test]
async fn a_failed_re_read_keeps_serving_the_cached_set() {
    let app = app();
    assert_eq!(
        app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await.status,
        200
    );
    app.tp.secrets.set(
        &app.tp.platform.config.jwt_public_keys_secret_id,
        "not json",
    );
    app.tp.advance(Duration::minutes(11));
    assert_eq!(
        app.get(WHOAMI, Some(&app.tp.token(&["user"]))).await.status,
        200
    );
}
