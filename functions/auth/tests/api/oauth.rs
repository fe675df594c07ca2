//! Tests of route group `oauth` (see src/routes/oauth.rs), against a fake provider the
//! test starts on 127.0.0.1:0.

pub(crate) mod fake_provider;

use std::collections::HashMap;

use auth::{
    AuthConfig,
    domain::{Email, User},
    oauth::{ClientSecret, OAuthConfig, Provider, ProviderConfig},
    repo::{sessions, tenants, users},
};
use chrono::Duration;
use fake_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, Login, Misbehave};
use serde_json::{Value, json};
use shared::{
    tenant::TenantId,
    testing::{Reply, T1},
};

use crate::helpers::{TestAuth, assert_not_cached};

const APP: &str = "http://127.0.0.1:3000/oauth/done";
const PARTNER: &str = "partner@eventzr.com";

/// auth-svc with google, microsoft and github all served by one fake provider.
async fn app_with(t: TestAuth) -> (TestAuth, FakeProvider) {
    let fake = FakeProvider::start(t.tp.platform.clock.clone()).await;
    let at = |secret| ProviderConfig::at_base(&fake.base, CLIENT_ID, secret);
    let value = || ClientSecret::Value(CLIENT_SECRET.into());
    t.tp.secrets.set("test/oauth/github", CLIENT_SECRET);
    let oauth = OAuthConfig::default()
        .with(Provider::Google, at(value()))
        .with(Provider::Microsoft, at(value()))
        .with(
            Provider::Github,
            at(ClientSecret::SecretId("test/oauth/github".into())),
        );
    let cfg = AuthConfig {
        oauth,
        ..AuthConfig::local()
    };
    (t.with_config(cfg), fake)
}

pub(crate) async fn app() -> (TestAuth, FakeProvider) {
    app_with(TestAuth::new().await).await
}

/// A started sign-in: the `state` and the authorization URL's parameters.
struct Started {
    state: String,
    params: HashMap<String, String>,
}

async fn authorize(t: &TestAuth, provider: &str) -> Started {
    let r = authorize_to(t, provider, APP).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let d = &r.json()["data"];
    let url = url::Url::parse(d["authorizationUrl"].as_str().unwrap()).unwrap();
    Started {
        state: d["state"].as_str().unwrap().to_owned(),
        params: url.query_pairs().into_owned().collect(),
    }
}

async fn authorize_to(t: &TestAuth, provider: &str, redirect: &str) -> Reply {
    let q: String = url::Url::parse_with_params("http://x/", [("redirectUri", redirect)])
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    t.get(&format!("/auth/v1/oauth/{provider}/authorize?{q}"), None)
        .await
}

async fn callback(t: &TestAuth, provider: &str, code: &str, state: &str) -> Reply {
    t.post(
        &format!("/auth/v1/oauth/{provider}/callback"),
        None,
        &json!({"code": code, "state": state}),
    )
    .await
}

/// Authorize, sign in at the fake provider as `login`, call back.
pub(crate) async fn sign_in(
    t: &TestAuth,
    fake: &FakeProvider,
    provider: &str,
    login: Login,
) -> Reply {
    let started = authorize(t, provider).await;
    let code = fake.grant(&started.params, login);
    callback(t, provider, &code, &started.state).await
}

async fn stored(t: &TestAuth, email: &str) -> Option<User> {
    users::by_email(t.state.store(), &Email::parse(email).unwrap())
        .await
        .unwrap()
}

async fn live_sessions(t: &TestAuth, user: &User) -> usize {
    let tenant = TenantId::parse(&user.tenant_id).unwrap();
    sessions::list(t.state.store(), &tenant, &user.id)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.is_live(t.state.epoch()))
        .count()
}

fn data(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].clone()
}

// ---- authorize --------------------------------------------------------------------------

#[tokio::test]
async fn authorize_returns_the_provider_url_with_pkce_state_and_nonce() {
    let (t, fake) = app().await;
    let s = authorize(&t, "google").await;
    let p = |k: &str| s.params.get(k).map(String::as_str).unwrap_or("");
    assert_eq!(p("client_id"), CLIENT_ID);
    assert_eq!(p("redirect_uri"), APP);
    assert_eq!(p("response_type"), "code");
    assert_eq!(p("scope"), "openid email profile");
    assert_eq!(p("state"), s.state);
    assert_eq!(p("code_challenge_method"), "S256");
    assert_eq!(p("code_challenge").len(), 43);
    assert!(p("nonce").len() >= 43);
    let r = authorize_to(&t, "google", APP).await;
    assert!(
        r.json()["data"]["authorizationUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/authorize?", fake.base))
    );
    assert_ne!(
        r.json()["data"]["state"],
        s.state,
        "state is random per sign-in"
    );

    let gh = authorize(&t, "github").await;
    assert_eq!(gh.params["scope"], "read:user user:email");
    assert!(!gh.params.contains_key("nonce"), "github is not OIDC");
}

#[tokio::test]
async fn authorize_refuses_a_redirect_uri_outside_the_application() {
    let (t, _fake) = app().await;
    for foreign in [
        "https://evil.example/cb",
        "http://127.0.0.1:3000.evil.example/cb",
        "http://127.0.0.1:3000@evil.example/cb",
        "http://127.0.0.1:30001/cb",
        "",
    ] {
        let r = authorize_to(&t, "google", foreign).await;
        r.assert_error(400, "ERR_AUTH_VALIDATION");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            "redirectUri",
            "{foreign}"
        );
    }
    let r = t.get("/auth/v1/oauth/google/authorize", None).await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    // Two of them, even both allowed: which one was meant is not ours to guess.
    let allowed = "http%3A%2F%2F127.0.0.1%3A3000%2Foauth%2Fdone";
    let path =
        format!("/auth/v1/oauth/google/authorize?redirectUri={allowed}&redirectUri={allowed}");
    let r = t.get(&path, None).await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    let field = &r.json()["error"]["details"]["fields"][0];
    assert_eq!(field["field"], "redirectUri");
    assert!(field["issue"].as_str().unwrap().contains("more than once"));
    // An unknown provider is still 404 first.
    let path =
        format!("/auth/v1/oauth/facebook/authorize?redirectUri={allowed}&redirectUri={allowed}");
    t.get(&path, None)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
}

#[tokio::test]
async fn an_unknown_provider_is_not_found_and_an_unconfigured_one_is_a_validation_error() {
    let (t, _fake) = app().await;
    authorize_to(&t, "facebook", APP)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    callback(&t, "facebook", "c", "s")
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    let r = authorize_to(&t, "apple", APP).await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "provider"
    );
}

// ---- callback ---------------------------------------------------------------------------

#[tokio::test]
async fn oauth_sign_in_creates_a_verified_admin_in_a_new_base_tenant() {
    let (t, fake) = app().await;
    let r = sign_in(
        &t,
        &fake,
        "google",
        Login::verified("ada@analytical.engine"),
    )
    .await;
    assert_not_cached(&r);
    let d = data(&r);
    assert!(d["accessToken"].as_str().unwrap().len() > 100);
    assert!(d["refreshToken"].is_string());
    assert_eq!(d["user"]["email"], "ada@analytical.engine");
    assert_eq!(d["user"]["roles"], json!(["admin"]));
    assert_eq!(d["user"]["planTier"], "BASE");
    assert_ne!(d["user"]["tenantId"], T1);

    let user = stored(&t, "ada@analytical.engine")
        .await
        .expect("user created");
    assert!(user.email_verified && user.password_hash.is_none());
    assert_eq!(user.name, "Ada Lovelace");
    let tenant = tenants::get(t.state.store(), &TenantId::parse(&user.tenant_id).unwrap())
        .await
        .unwrap()
        .expect("tenant created");
    assert_eq!(
        (tenant.plan_tier.as_str(), tenant.name.as_str()),
        ("BASE", "Ada Lovelace")
    );
    assert_eq!(live_sessions(&t, &user).await, 1);
    // The access token works on a bearer route.
    let me = t.get("/auth/v1/profile", d["accessToken"].as_str()).await;
    assert_eq!(data(&me)["email"], "ada@analytical.engine");
}

#[tokio::test]
async fn first_sign_ins_found_tenants_within_the_same_hourly_cap_as_signups() {
    let (t, fake) = app().await;
    for i in 0..10 {
        let login = Login::verified(&format!("founder{i}@example.com"));
        let r = sign_in(&t, &fake, "google", login).await;
        assert_eq!(r.status, 200, "{i}");
    }
    let r = sign_in(
        &t,
        &fake,
        "google",
        Login::verified("founder10@example.com"),
    )
    .await;
    r.assert_error(429, "ERR_AUTH_RATE_LIMITED");
    assert!(r.header("retry-after").is_some());
    assert!(
        stored(&t, "founder10@example.com").await.is_none(),
        "no tenant, no user"
    );
    // Signing in to an account that exists founds nothing: not counted.
    let r = sign_in(&t, &fake, "google", Login::verified("founder3@example.com")).await;
    assert_eq!(r.status, 200);
    // A signup from the same client shares the cap.
    let body = json!({"email": "x@example.com", "password": "a brand new passphrase",
        "name": "X", "tenantName": "X Events"});
    t.post("/auth/v1/signup/email", None, &body)
        .await
        .assert_error(429, "ERR_AUTH_RATE_LIMITED");
}

#[tokio::test]
async fn oauth_sign_in_links_to_the_existing_verified_user_by_email() {
    let (t, fake) = app().await;
    let before = stored(&t, PARTNER).await.unwrap();
    let r = sign_in(&t, &fake, "microsoft", Login::verified(PARTNER)).await;
    let d = data(&r);
    assert_eq!(d["user"]["id"], before.id.as_str());
    assert_eq!(d["user"]["tenantId"], T1);
    assert_eq!(d["user"]["roles"], json!(["partner"]));
    assert_eq!(d["user"]["planTier"], "ENTERPRISE");
    let after = stored(&t, PARTNER).await.unwrap();
    assert_eq!(
        after.password_hash, before.password_hash,
        "the password still works"
    );
    assert_eq!(live_sessions(&t, &after).await, 1);
}

#[tokio::test]
async fn github_sign_in_uses_the_primary_verified_email_and_a_secret_from_the_store() {
    let (t, fake) = app().await;
    let d = data(&sign_in(&t, &fake, "github", Login::verified(PARTNER)).await);
    assert_eq!(d["user"]["email"], PARTNER);
    assert_eq!(d["user"]["tenantId"], T1);
}

#[tokio::test]
async fn an_mfa_user_gets_the_mfa_challenge_instead_of_tokens() {
    let (t, fake) = app().await;
    let d = data(&sign_in(&t, &fake, "google", Login::verified("dev@eventzr.com")).await);
    assert_eq!(d["mfaRequired"], true);
    assert!(d["mfaToken"].is_string() && d.get("accessToken").is_none());
}

#[tokio::test]
async fn an_unverified_provider_email_never_links_to_an_existing_account() {
    let (t, fake) = app().await;
    for provider in ["google", "github"] {
        sign_in(&t, &fake, provider, Login::unverified(PARTNER))
            .await
            .assert_error(403, "ERR_AUTH_ACCOUNT_NOT_VERIFIED");
    }
    let partner = stored(&t, PARTNER).await.unwrap();
    assert_eq!(live_sessions(&t, &partner).await, 0);
    // Nor does it create an account.
    sign_in(
        &t,
        &fake,
        "google",
        Login::unverified("new@nowhere.example"),
    )
    .await
    .assert_error(403, "ERR_AUTH_ACCOUNT_NOT_VERIFIED");
    assert!(stored(&t, "new@nowhere.example").await.is_none());
}

#[tokio::test]
async fn the_state_is_single_use() {
    let (t, fake) = app().await;
    let s = authorize(&t, "google").await;
    let code = fake.grant(&s.params, Login::verified(PARTNER));
    data(&callback(&t, "google", &code, &s.state).await);
    let code2 = fake.grant(&s.params, Login::verified(PARTNER));
    callback(&t, "google", &code2, &s.state)
        .await
        .assert_error(400, "ERR_AUTH_OAUTH_STATE_INVALID");
    assert_eq!(
        fake.exchanges(),
        1,
        "no code is exchanged for a spent state"
    );
}

#[tokio::test]
async fn the_state_expires_after_10_minutes() {
    let (t, fake) = app().await;
    let s = authorize(&t, "google").await;
    let code = fake.grant(&s.params, Login::verified(PARTNER));
    t.advance(Duration::seconds(601));
    callback(&t, "google", &code, &s.state)
        .await
        .assert_error(400, "ERR_AUTH_OAUTH_STATE_INVALID");
    callback(&t, "google", "any", "never-issued")
        .await
        .assert_error(400, "ERR_AUTH_OAUTH_STATE_INVALID");
}

#[tokio::test]
async fn a_state_issued_for_another_provider_is_refused() {
    let (t, fake) = app().await;
    let s = authorize(&t, "google").await;
    let code = fake.grant(&s.params, Login::verified(PARTNER));
    callback(&t, "microsoft", &code, &s.state)
        .await
        .assert_error(400, "ERR_AUTH_OAUTH_STATE_INVALID");
    assert_eq!(fake.exchanges(), 0);
}

#[tokio::test]
async fn the_code_exchange_proves_the_pkce_verifier() {
    let (t, fake) = app().await;
    // The code was granted for another sign-in's challenge: our verifier does not match.
    let ours = authorize(&t, "google").await;
    let other = authorize(&t, "google").await;
    let code = fake.grant(&other.params, Login::verified(PARTNER));
    callback(&t, "google", &code, &ours.state)
        .await
        .assert_error(502, "ERR_AUTH_OAUTH_PROVIDER_ERROR");
    assert_eq!(fake.exchanges(), 0);
}

#[tokio::test]
async fn a_bad_id_token_or_a_failing_provider_is_a_provider_error() {
    let (t, fake) = app().await;
    for m in [
        Misbehave::WrongNonce,
        Misbehave::WrongAudience,
        Misbehave::BadSignature,
        Misbehave::Expired,
        Misbehave::CriticalHeader,
        Misbehave::ServerError,
    ] {
        let r = sign_in(&t, &fake, "google", Login::misbehaving(PARTNER, m)).await;
        r.assert_error(502, "ERR_AUTH_OAUTH_PROVIDER_ERROR");
        assert!(
            !String::from_utf8_lossy(&r.bytes).contains("id_token"),
            "{m:?}: no detail leaks"
        );
    }
    let partner = stored(&t, PARTNER).await.unwrap();
    assert_eq!(live_sessions(&t, &partner).await, 0);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_provider_error() {
    let (t, _fake) = app().await;
    let dead = ProviderConfig::at_base(
        "http://127.0.0.1:9",
        CLIENT_ID,
        ClientSecret::Value(CLIENT_SECRET.into()),
    );
    let mut cfg = (*t.state.cfg).clone();
    cfg.oauth = cfg.oauth.with(Provider::Google, dead);
    let t = t.with_config(cfg);
    let s = authorize(&t, "google").await;
    callback(&t, "google", "code", &s.state)
        .await
        .assert_error(502, "ERR_AUTH_OAUTH_PROVIDER_ERROR");
}

#[tokio::test]
async fn a_callback_without_code_or_state_is_a_validation_error() {
    let (t, _fake) = app().await;
    let r = t
        .post(
            "/auth/v1/oauth/google/callback",
            None,
            &json!({"state": "s"}),
        )
        .await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "code");
    let r = callback(&t, "google", "c", "").await;
    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "state");
}

#[tokio::test]
async fn oauth_sign_in_works_over_the_wire() {
    let Some(t) = TestAuth::on_dynamodb("oauth_sign_in_works_over_the_wire").await else {
        return;
    };
    let (t, fake) = app_with(t).await;
    let d = data(&sign_in(&t, &fake, "google", Login::verified("grace@hopper.example")).await);
    assert_eq!(d["user"]["roles"], json!(["admin"]));
    let user = stored(&t, "grace@hopper.example")
        .await
        .expect("user created");
    assert_eq!(live_sessions(&t, &user).await, 1);
    // The state is spent in DynamoDB too.
    let s = authorize(&t, "google").await;
    let code = fake.grant(&s.params, Login::verified(PARTNER));
    data(&callback(&t, "google", &code, &s.state).await);
    callback(&t, "google", &code, &s.state)
        .await
        .assert_error(400, "ERR_AUTH_OAUTH_STATE_INVALID");
}
