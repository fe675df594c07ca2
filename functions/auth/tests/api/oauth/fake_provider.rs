//! A local identity provider on 127.0.0.1:0, OIDC and GitHub style at once: `/token`
//! (checks the client, the code, the redirect URI and SHA256(code_verifier) against the
//! code_challenge it was given, then answers an RS256 id_token and an access token),
//! `/jwks`, and GitHub's `/user` + `/user/emails`. The user "authenticates" by the test
//! calling [`FakeProvider::grant`] with the parameters of the authorization URL.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use shared::{auth::keys::SigningKey, clock::Clock};

pub const CLIENT_ID: &str = "eventzr-test-client";
pub const CLIENT_SECRET: &str = "fake-client-secret";
const KID: &str = "provider-key-1";

/// Who signs in at the provider, and what the provider then does wrong, if anything.
#[derive(Debug, Clone)]
pub struct Login {
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub misbehave: Misbehave,
}

impl Login {
    pub fn verified(email: &str) -> Self {
        Login {
            email: email.into(),
            email_verified: true,
            name: "Ada Lovelace".into(),
            misbehave: Misbehave::None,
        }
    }
    pub fn unverified(email: &str) -> Self {
        Login {
            email_verified: false,
            ..Self::verified(email)
        }
    }
    pub fn misbehaving(email: &str, misbehave: Misbehave) -> Self {
        Login {
            misbehave,
            ..Self::verified(email)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehave {
    None,
    WrongNonce,
    WrongAudience,
    /// Signed by a key the JWKS does not hold (same kid).
    BadSignature,
    Expired,
    /// The id_token's header names a critical extension (RFC 7515 4.1.11).
    CriticalHeader,
    /// The token endpoint answers 500.
    ServerError,
}

/// What the authorize URL told the provider, kept with the code it hands out.
struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
    login: Login,
}

#[derive(Default)]
struct Books {
    grants: HashMap<String, Grant>,
    access: HashMap<String, Login>,
    /// How many code exchanges succeeded.
    exchanges: usize,
}

#[derive(Clone)]
struct Fake {
    base: String,
    key: Arc<SigningKey>,
    rogue: Arc<SigningKey>,
    clock: Arc<dyn Clock>,
    books: Arc<Mutex<Books>>,
}

pub struct FakeProvider {
    pub base: String,
    fake: Fake,
}

impl FakeProvider {
    /// Starts the provider; its tokens are dated by `clock` (the service's test clock).
    pub async fn start(clock: Arc<dyn Clock>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = Fake {
            base: base.clone(),
            key: Arc::new(SigningKey::generate(KID).unwrap()),
            rogue: Arc::new(SigningKey::generate(KID).unwrap()),
            clock,
            books: Arc::default(),
        };
        let app = Router::new()
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeProvider { base, fake }
    }

    /// The user signs in at the provider for the authorization URL's `params`; returns
    /// the code the provider redirects back with.
    pub fn grant(&self, params: &HashMap<String, String>, login: Login) -> String {
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        let param = |k: &str| params.get(k).cloned().unwrap_or_default();
        assert_eq!(param("client_id"), CLIENT_ID);
        assert_eq!(param("code_challenge_method"), "S256");
        self.fake.books.lock().unwrap().grants.insert(
            code.clone(),
            Grant {
                challenge: param("code_challenge"),
                nonce: param("nonce"),
                redirect_uri: param("redirect_uri"),
                login,
            },
        );
        code
    }

    pub fn exchanges(&self) -> usize {
        self.fake.books.lock().unwrap().exchanges
    }
}

fn form(body: &str) -> HashMap<String, String> {
    url::Url::parse(&format!("http://form/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn refuse(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

async fn token(State(f): State<Fake>, body: String) -> Response {
    let p = form(&body);
    let field = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some(grant) = f.books.lock().unwrap().grants.remove(field("code")) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if grant.login.misbehave == Misbehave::ServerError {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    // RFC 7636 4.6: the verifier must hash to the challenge of the authorization request.
    let verifier = field("code_verifier");
    if field("grant_type") != "authorization_code"
        || field("redirect_uri") != grant.redirect_uri
        || !(43..=128).contains(&verifier.len())
        || auth::oauth::pkce_challenge(verifier) != grant.challenge
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let now = f.clock.epoch_seconds();
    let login = &grant.login;
    let m = login.misbehave;
    let claims = json!({
        "iss": f.base,
        "sub": format!("sub-{}", login.email),
        "aud": if m == Misbehave::WrongAudience { "someone-else" } else { CLIENT_ID },
        "iat": now,
        "exp": if m == Misbehave::Expired { now - 3600 } else { now + 600 },
        "nonce": if m == Misbehave::WrongNonce { "not-your-nonce" } else { grant.nonce.as_str() },
        "email": login.email,
        "email_verified": login.email_verified,
        "name": login.name,
    });
    let signer = if m == Misbehave::BadSignature {
        &f.rogue
    } else {
        &f.key
    };
    let access = format!("at-{}", uuid::Uuid::new_v4().simple());
    let mut books = f.books.lock().unwrap();
    books.access.insert(access.clone(), grant.login.clone());
    books.exchanges += 1;
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": if m == Misbehave::CriticalHeader {
            let header = json!({"alg": "RS256", "kid": signer.kid(), "crit": ["exp"], "exp": 1});
            shared::testing::forge::sign_as(signer, &header, &claims)
        } else {
            signer.sign(&claims).unwrap()
        },
    }))
    .into_response()
}

async fn jwks(State(f): State<Fake>) -> Json<Value> {
    Json(json!({ "keys": [f.key.public_jwk()] }))
}

fn caller(f: &Fake, headers: &HeaderMap) -> Option<Login> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    f.books.lock().unwrap().access.get(token).cloned()
}

async fn user(State(f): State<Fake>, headers: HeaderMap) -> Response {
    match caller(&f, &headers) {
        Some(l) => Json(json!({"id": 4242, "login": "ada", "name": l.name})).into_response(),
        None => refuse(StatusCode::UNAUTHORIZED, "bad credentials"),
    }
}

async fn emails(State(f): State<Fake>, headers: HeaderMap) -> Response {
    match caller(&f, &headers) {
        Some(l) => Json(json!([
            {"email": "ada@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
            {"email": l.email, "primary": true, "verified": l.email_verified, "visibility": "private"},
        ]))
        .into_response(),
        None => refuse(StatusCode::UNAUTHORIZED, "bad credentials"),
    }
}
