//! The outgoing calls to a provider: the code exchange (with the PKCE verifier), the
//! id_token check (signature against the provider's JWKS, `iss`, `aud`, `exp`, `nonce`)
//! and GitHub's API. Every failure is OAUTH_PROVIDER_ERROR (502); its detail goes to the
//! log only and never holds a token or a response body.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use shared::{ApiError, auth::keys::Jwks, secrets::Secrets};

use super::{
    ClientSecret, ProviderConfig,
    http::{get_json, post_form, provider_error},
};
use crate::error::{AuthError, AuthResult};

/// `exp` tolerance for clock skew, as for our own tokens.
const LEEWAY_SECS: i64 = 30;

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    /// Only a verified email may sign in (and link to an existing account).
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Client secrets read from the secrets store, each kept [`SECRET_TTL`]: a rotated secret
/// (Apple's expires within 6 months) reaches warm functions within minutes, without a
/// deploy, as the signing keys do.
static SECRETS: LazyLock<Mutex<HashMap<String, (Instant, String)>>> =
    LazyLock::new(Default::default);
const SECRET_TTL: Duration = Duration::from_secs(300);

pub async fn client_secret(cfg: &ProviderConfig, secrets: &dyn Secrets) -> AuthResult<String> {
    let id = match &cfg.client_secret {
        ClientSecret::Value(v) => return Ok(v.clone()),
        ClientSecret::SecretId(id) => id,
    };
    let fresh = SECRETS.lock().ok().and_then(|m| {
        m.get(id)
            .filter(|(at, _)| at.elapsed() < SECRET_TTL)
            .map(|(_, v)| v.clone())
    });
    if let Some(v) = fresh {
        return Ok(v);
    }
    let value = secrets
        .get(id)
        .await
        .map_err(|e| AuthError::Api(ApiError::unavailable(format!("oauth client secret: {e}"))))?;
    if let Ok(mut m) = SECRETS.lock() {
        m.insert(id.clone(), (Instant::now(), value.clone()));
    }
    Ok(value)
}

/// The token endpoint's answer (other fields ignored).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
}

/// Exchanges the authorization code (RFC 6749 4.1.3, RFC 7636 4.5).
pub async fn exchange_code(
    cfg: &ProviderConfig,
    secret: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> AuthResult<TokenResponse> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", secret),
        ("code_verifier", verifier),
    ];
    post_form(&cfg.endpoints.token, &form, "token endpoint").await
}

/// A boolean claim some providers send as a string (Apple: `"true"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_true(f: &Option<Flag>) -> bool {
        match f {
            Some(Flag::Bool(b)) => *b,
            Some(Flag::Text(s)) => s.eq_ignore_ascii_case("true"),
            None => false,
        }
    }
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Flag>,
    /// Microsoft: "email domain owner verified" — its id_tokens carry no
    /// `email_verified`, and an unverified `email` there is how nOAuth takeovers work.
    #[serde(default)]
    xms_edov: Option<Flag>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tid: Option<String>,
}

/// Checks an OIDC id_token (OIDC Core 3.1.3.7): RS256 signature by a key of the
/// provider's JWKS, `iss`, `aud` = our client id, `exp` against `now`, and our `nonce`.
pub async fn verify_id_token(
    cfg: &ProviderConfig,
    id_token: &str,
    nonce: &str,
    now: i64,
) -> AuthResult<Identity> {
    let bad = |why: &str| provider_error(format!("id_token: {why}"));
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| bad("malformed"))?;
    if header.alg != Algorithm::RS256 {
        return Err(bad("alg is not RS256"));
    }
    // RFC 7515 4.1.11: extensions we do not understand (all of them) refuse the token.
    if header.crit.is_some() {
        return Err(bad("crit"));
    }
    let jwks: Jwks = get_json(&cfg.endpoints.jwks_uri, None, "jwks endpoint").await?;
    let keys = jwks.decoding_keys();
    let key = match header.kid.as_deref() {
        Some(kid) => keys.iter().find(|(k, _)| k == kid),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .map(|(_, key)| key)
    .ok_or_else(|| bad("unknown kid"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&cfg.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // exp against the injected clock below; iss below (Microsoft's `{tenantid}`).
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<IdClaims>(id_token, key, &validation)
        .map_err(|e| bad(&format!("{:?}", e.kind())))?
        .claims;
    let tid = claims.tid.as_deref().unwrap_or("");
    if !cfg
        .endpoints
        .issuers
        .iter()
        .any(|i| i.replace("{tenantid}", tid) == claims.iss)
    {
        return Err(bad("issuer"));
    }
    if now > claims.exp + LEEWAY_SECS {
        return Err(bad("expired"));
    }
    let nonce_ok = claims
        .nonce
        .as_deref()
        .is_some_and(|n| shared::ids::secure_eq(n.as_bytes(), nonce.as_bytes()));
    if !nonce_ok {
        return Err(bad("nonce"));
    }
    Ok(Identity {
        email_verified: Flag::is_true(&claims.email_verified) || Flag::is_true(&claims.xms_edov),
        subject: claims.sub,
        email: claims.email,
        name: claims.name,
    })
}

#[derive(Debug, Deserialize)]
struct GithubUser {
    id: i64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub (plain OAuth 2.0): the user, and their primary email with its verification.
pub async fn github_identity(cfg: &ProviderConfig, access_token: &str) -> AuthResult<Identity> {
    let api = cfg.endpoints.api.trim_end_matches('/');
    let user: GithubUser =
        get_json(&format!("{api}/user"), Some(access_token), "user endpoint").await?;
    let emails: Vec<GithubEmail> = get_json(
        &format!("{api}/user/emails"),
        Some(access_token),
        "emails endpoint",
    )
    .await?;
    let primary = emails.into_iter().find(|e| e.primary);
    Ok(Identity {
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
        name: user.name.or(Some(user.login)),
    })
}
