//! Token attacks against auth-svc and cross-service verification. The jwt_tool playbook
//! against auth's own bearer route (`GET /profile`, which also wants a live session):
//! every forged, stale or foreign token is a 401 — never a 500 — and the real token
//! still works after them. (shared/tests/pipeline/tokens.rs runs the same list against
//! a test route; these small crafting fns are local on purpose, not shared across crates.)

use axum::{Router, routing::get};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::Duration;
use serde_json::{Value, json};
use shared::{
    Envelope,
    auth::{Claims, keys::SigningKey},
    service::Service,
    testing::Reply,
};

use crate::helpers::TestAuth;

use shared::testing::forge::{raw_token, sign_as};

const PROFILE: &str = "/auth/v1/profile";
const USER: &str = "user@eventzr.com";

/// The claims auth put in `jwt` (its own token: read, not verified).
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

#[track_caller]
fn assert_refused(name: &str, r: &Reply, code: &str) {
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, code),
        "{name}: {}",
        String::from_utf8_lossy(&r.bytes)
    );
}

#[tokio::test]
async fn no_token_or_a_malformed_header_is_unauthorized() {
    let app = TestAuth::new().await;
    assert_refused(
        "no token",
        &app.get(PROFILE, None).await,
        "ERR_AUTH_UNAUTHORIZED",
    );
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme", ""] {
        let req = http::Request::get(PROFILE)
            .header("authorization", header)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_refused(header, &app.send(req).await, "ERR_AUTH_UNAUTHORIZED");
    }
}

#[tokio::test]
async fn forged_tampered_and_foreign_tokens_are_refused_and_the_real_one_still_works() {
    let app = TestAuth::new().await;
    let (valid, _) = app.tokens(USER).await;
    let claims = claims_of(&valid);
    let key = &app.tp.key;
    let kid = key.kid().to_owned();
    let head_ok = json!({"alg": "RS256", "typ": "at+jwt", "kid": kid});
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let with = |field: &str, v: Value| {
        let mut c = claims.clone();
        c[field] = v;
        c
    };
    let without = |field: &str| {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let now = app.state.epoch();
    let attacker = SigningKey::generate(kid.clone()).unwrap();
    // The classic confusion: HMAC keyed with the RSA public key.
    let hs256 = {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut forged = Vec::new();
        for secret in [key.public_jwk().n.as_bytes(), key.to_pkcs8_pem().as_bytes()] {
            let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
            let s = aws_lc_rs::hmac::sign(&k, input.as_bytes());
            forged.push(format!("{input}.{}", B64.encode(s.as_ref())));
        }
        forged
    };

    let invalid: Vec<(&str, String)> = vec![
        (
            "alg none",
            raw_token(
                &json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg None",
            raw_token(
                &json!({"alg": "None", "typ": "at+jwt", "kid": kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg NONE",
            raw_token(
                &json!({"alg": "NONE", "typ": "at+jwt", "kid": kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg nOnE",
            raw_token(
                &json!({"alg": "nOnE", "typ": "at+jwt", "kid": kid}),
                &claims,
                b"",
            ),
        ),
        (
            "alg none with the real signature",
            format!(
                "{}.{payload}.{sig}",
                B64.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string())
            ),
        ),
        ("HS256 keyed with n", hs256[0].clone()),
        ("HS256 keyed with the PEM", hs256[1].clone()),
        (
            "broken signature",
            format!("{head}.{payload}.{}", sig.chars().rev().collect::<String>()),
        ),
        ("truncated signature", valid[..valid.len() - 10].to_owned()),
        ("blank signature", format!("{head}.{payload}.")),
        ("no signature part", format!("{head}.{payload}")),
        ("null signature", format!("{head}.{payload}.null")),
        (
            "zero signature",
            format!("{head}.{payload}.{}", B64.encode([0u8; 256])),
        ),
        (
            "another key with our kid",
            sign_as(&attacker, &head_ok, &claims),
        ),
        (
            "embedded jwk",
            sign_as(
                &attacker,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "attacker", "jwk": attacker.public_jwk()}),
                &claims,
            ),
        ),
        (
            "embedded jwk with our kid",
            sign_as(
                &attacker,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "jwk": attacker.public_jwk()}),
                &claims,
            ),
        ),
        (
            "jku elsewhere",
            sign_as(
                &attacker,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "attacker", "jku": "https://evil.example/jwks.json"}),
                &claims,
            ),
        ),
        (
            "x5u elsewhere",
            sign_as(
                &attacker,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "attacker", "x5u": "https://evil.example/cert.pem"}),
                &claims,
            ),
        ),
        (
            "blank kid",
            sign_as(
                key,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": ""}),
                &claims,
            ),
        ),
        (
            "missing kid",
            sign_as(key, &json!({"alg": "RS256", "typ": "at+jwt"}), &claims),
        ),
        (
            "kid path traversal",
            sign_as(
                key,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "../../../../../../dev/null"}),
                &claims,
            ),
        ),
        (
            "kid SQL injection",
            sign_as(
                key,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "x' UNION SELECT 'key';--"}),
                &claims,
            ),
        ),
        (
            "kid OR injection",
            sign_as(
                key,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "' OR '1'='1"}),
                &claims,
            ),
        ),
        (
            "kid command injection",
            sign_as(
                key,
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "key1|/usr/bin/uname"}),
                &claims,
            ),
        ),
        (
            "not yet valid",
            sign_as(key, &head_ok, &with("nbf", json!(now + 600))),
        ),
        (
            "wrong aud",
            sign_as(
                key,
                &head_ok,
                &with("aud", json!("https://other-api.example")),
            ),
        ),
        (
            "aud list with a foreign one",
            sign_as(
                key,
                &head_ok,
                &with(
                    "aud",
                    json!([claims["aud"].clone(), "https://other-api.example"]),
                ),
            ),
        ),
        ("missing aud", sign_as(key, &head_ok, &without("aud"))),
        (
            "wrong iss",
            sign_as(key, &head_ok, &with("iss", json!("https://evil.example"))),
        ),
        ("missing iss", sign_as(key, &head_ok, &without("iss"))),
        (
            "wrong typ",
            sign_as(
                key,
                &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
                &claims,
            ),
        ),
        (
            "missing typ",
            sign_as(key, &json!({"alg": "RS256", "kid": kid}), &claims),
        ),
        (
            "tampered tenantId",
            format!(
                "{head}.{}.{sig}",
                B64.encode(with("tenantId", json!(auth::seed::T3)).to_string())
            ),
        ),
        (
            "tampered roles",
            format!(
                "{head}.{}.{sig}",
                B64.encode(with("roles", json!(["admin", "system"])).to_string())
            ),
        ),
        (
            "tampered planTier",
            format!(
                "{head}.{}.{sig}",
                B64.encode(with("planTier", json!("ENTERPRISE_PLUS")).to_string())
            ),
        ),
        ("oversized", format!("{head}.{}.{sig}", "A".repeat(20_000))),
        (
            "oversized but signed",
            sign_as(key, &head_ok, &with("pad", json!("x".repeat(20_000)))),
        ),
        ("not base64", "!!!.???.***".to_owned()),
        ("not a JWT", "garbage".to_owned()),
    ];
    for (name, token) in &invalid {
        assert_refused(
            name,
            &app.get(PROFILE, Some(token)).await,
            "ERR_AUTH_TOKEN_INVALID",
        );
    }
    let expired = sign_as(key, &head_ok, &with("exp", json!(now - 120)));
    assert_refused(
        "expired",
        &app.get(PROFILE, Some(&expired)).await,
        "ERR_AUTH_TOKEN_EXPIRED",
    );

    // A well-signed token whose session is not live is revoked on auth's own routes.
    let no_session = sign_as(key, &head_ok, &with("sid", json!("no-such-session")));
    assert_refused(
        "unknown sid",
        &app.get(PROFILE, Some(&no_session)).await,
        "ERR_AUTH_TOKEN_REVOKED",
    );
    let no_sid = sign_as(key, &head_ok, &without("sid"));
    assert_refused(
        "missing sid",
        &app.get(PROFILE, Some(&no_sid)).await,
        "ERR_AUTH_TOKEN_REVOKED",
    );

    let r = app.get(PROFILE, Some(&valid)).await;
    assert_eq!(r.status, 200, "the real token still works");
    assert_eq!(r.json()["data"]["email"], USER);
}

#[tokio::test]
async fn an_access_token_expires_after_900_seconds_and_30_of_leeway() {
    let app = TestAuth::new().await;
    let (valid, _) = app.tokens(USER).await;
    app.advance(Duration::seconds(900 + 30));
    assert_eq!(app.get(PROFILE, Some(&valid)).await.status, 200);
    app.advance(Duration::seconds(2));
    assert_refused(
        "expired",
        &app.get(PROFILE, Some(&valid)).await,
        "ERR_AUTH_TOKEN_EXPIRED",
    );
}

async fn whoami(caller: Claims) -> Envelope<Value> {
    Envelope::ok(json!({ "sub": caller.sub, "tenant": caller.tenant() }))
}

#[tokio::test]
async fn another_service_accepts_an_auth_token_until_a_rotation_removes_its_key() {
    let app = TestAuth::new().await;
    // notify-svc has only its health route today: a protected route on notify's
    // pipeline over the same platform stands in for any other service.
    let notify = shared::http::finish(
        Router::new().route("/notify/v1/whoami", get(whoami)),
        Service::Notify,
        &app.tp.platform,
        &[],
    );
    let call = |token: String| {
        let notify = notify.clone();
        async move {
            let req = http::Request::get("/notify/v1/whoami")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            shared::testing::send(&notify, req).await
        }
    };
    let (access, _) = app.tokens(USER).await;
    let r = call(access.clone()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["tenant"], auth::seed::T1);
    assert_eq!(r.json()["data"]["sub"], claims_of(&access)["sub"]);

    // Rotation that removes the old key: auth signs with the new one (its key cache
    // re-reads the private set within 5 minutes) and only the new one is published.
    let next = SigningKey::generate("test-key-2").unwrap();
    let private = json!({
        "active": next.kid(),
        "keys": [{ "kid": next.kid(), "pem": next.to_pkcs8_pem() }],
    });
    app.tp
        .secrets
        .set(shared::testing::PRIVATE_KEYS_SECRET_ID, private.to_string());
    let config = &app.tp.platform.config;
    app.tp.secrets.set(
        &config.jwt_public_keys_secret_id,
        json!({ "keys": [next.public_jwk()] }).to_string(),
    );
    app.advance(Duration::seconds(5 * 60 + 1));
    let (rotated, _) = app.tokens(USER).await;
    assert_eq!(
        jsonwebtoken::decode_header(&rotated)
            .unwrap()
            .kid
            .as_deref(),
        Some("test-key-2")
    );
    // The new kid makes notify's verifier re-read the public set (at most once a
    // minute); from then on the removed key verifies nothing.
    assert_eq!(call(rotated).await.status, 200, "the new key verifies");
    call(access.clone())
        .await
        .assert_error(401, "ERR_NOTIFY_TOKEN_INVALID");
    app.advance(Duration::seconds(61));
    call(access)
        .await
        .assert_error(401, "ERR_NOTIFY_TOKEN_INVALID");
}
