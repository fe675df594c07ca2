//! Route group `oauth`: sign-in with google, github, microsoft and apple (authorization
//! code + PKCE S256, state, nonce). (One Lambda function in template.yaml.)
//!
//! `authorize` stores what the callback needs (provider, PKCE verifier, nonce,
//! redirectUri) under a single-use 10-minute `state`; `callback` redeems it, exchanges
//! the code and signs in the user whose verified email the provider vouches for.
//! A provider that is not configured is 400 VALIDATION on `provider`, not 503: it is a
//! standing property of the deployment, retrying never helps, and the front end learns
//! to hide the button.

use axum::{
    Router,
    extract::{Path, State},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use shared::{ApiError, Envelope, FieldError, extract::ApiJson, openapi::Data, query::ApiQuery};
use utoipa::ToSchema;

use crate::{
    AuthState,
    error::{AuthError, AuthResult},
    oauth::{Provider, ProviderConfig, accounts, client},
    repo::one_time::{self, Kind},
    signin::{self, SignInAnswer},
    state::ClientMeta,
};

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/auth/v1/oauth/{provider}/authorize"),
    ("POST", "/auth/v1/oauth/{provider}/callback"),
];

pub fn router() -> Router<AuthState> {
    Router::new()
        .route("/auth/v1/oauth/{provider}/authorize", get(authorize))
        .route(
            "/auth/v1/oauth/{provider}/callback",
            post(callback).layer(super::no_store()),
        )
}

/// How long a started sign-in may take at the provider.
pub const STATE_TTL_SECS: i64 = 600;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeQuery {
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// Where to send the browser to sign in at the provider.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeView {
    /// The provider's authorization endpoint with client id, redirect URI, scope, `state`,
    /// the PKCE S256 challenge (and `nonce` for OpenID Connect providers).
    #[schema(format = "uri")]
    pub authorization_url: String,
    /// Single-use, 10 minutes: sent back with the code to the callback.
    pub state: String,
}

crate::redact::redacted_debug!(AuthorizeView {} secret { authorization_url, state });

/// What the state carries from authorize to callback (stored, never sent).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    provider: String,
    verifier: String,
    nonce: String,
    redirect_uri: String,
}

#[utoipa::path(
    get,
    path = "/auth/v1/oauth/{provider}/authorize",
    operation_id = "oauth_authorize",
    tag = "oauth",
    summary = "Start a sign-in with an OAuth provider",
    description = "Answers (200, not a redirect) the provider's authorization URL for the front \
        end to open, and the `state` it carries (single-use, 10 minutes; PKCE S256 and a nonce \
        are kept server-side). The provider sends the user back to `redirectUri` with `code` \
        and `state`, which the front end posts to `POST /auth/v1/oauth/{provider}/callback`.",
    params(
        ("provider" = crate::oauth::Provider, Path, description = "`google`, `github`, `microsoft` or `apple`; another name is 404 `ERR_AUTH_NOT_FOUND`, one not enabled in this deployment 400 `ERR_AUTH_VALIDATION` on `provider`"),
        ("redirectUri" = String, Query, description = "Where the provider sends the user back: \
            the front end's base URL or an allow-listed prefix, and below (else 400 \
            `ERR_AUTH_VALIDATION` on `redirectUri`)", example = "http://127.0.0.1:3000/oauth/callback"),
    ),
    responses(
        (status = 200, description = "The URL to open", body = Data<AuthorizeView>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: the provider is not enabled here, or \
            `redirectUri` is missing, malformed or not under an allowed base (`details.fields` names it)"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such provider"),
    )
)]
pub async fn authorize(
    State(st): State<AuthState>,
    Path(provider): Path<String>,
    query: Result<ApiQuery<AuthorizeQuery>, ApiError>,
) -> Result<Envelope<AuthorizeView>, ApiError> {
    let (provider, cfg) = configured(&st, &provider)?;
    // After the provider: an unknown one is 404 whatever the query.
    let ApiQuery(query) = query?;
    let redirect_uri = redirect_uri(&st, query.redirect_uri.as_deref())?;
    // RFC 7636: a 43-character verifier from the CSPRNG (256 bits), sent as S256.
    let pending = Pending {
        provider: provider.as_str().to_owned(),
        verifier: shared::ids::random_token(),
        nonce: shared::ids::random_token(),
        redirect_uri,
    };
    let data = serde_json::to_value(&pending).map_err(ApiError::internal)?;
    let state = one_time::issue(
        st.store(),
        Kind::OAuthState,
        None,
        None,
        data,
        st.epoch(),
        STATE_TTL_SECS,
    )
    .await?;
    let authorization_url = authorization_url(provider, cfg, &pending, &state)?;
    Ok(Envelope::ok(AuthorizeView {
        authorization_url,
        state,
    }))
}

/// What the provider sent back to `redirectUri`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackBody {
    /// The authorization code, 1-2048 characters.
    pub code: String,
    /// The `state` of the authorize answer, 1-256 characters.
    pub state: String,
}

crate::redact::redacted_debug!(CallbackBody {} secret { code, state });

#[utoipa::path(
    post,
    path = "/auth/v1/oauth/{provider}/callback",
    operation_id = "oauth_callback",
    tag = "oauth",
    summary = "Complete a sign-in with an OAuth provider",
    description = "Redeems the `state` (single-use, issued for this provider), exchanges the code \
        (with the PKCE verifier) and signs in the user whose email the provider verified: the \
        existing verified account with that email, else a new account (admin of a new BASE \
        tenant). Answers tokens, or — for an account with MFA — the challenge to complete with \
        `POST /auth/v1/mfa/totp/verify` (200 JSON, not a redirect).",
    params(("provider" = crate::oauth::Provider, Path, description = "`google`, `github`, `microsoft` or `apple`; another name is 404 `ERR_AUTH_NOT_FOUND`, one not enabled in this deployment 400 `ERR_AUTH_VALIDATION` on `provider`")),
    request_body(
        content = CallbackBody,
        example = json!({"code": "<the code the provider sent>", "state": "<the state of the authorize answer>"})
    ),
    responses(
        (status = 200, description = "Signed in, or the MFA challenge", body = Data<SignInAnswer>),
        (status = 400, description = "`ERR_AUTH_OAUTH_STATE_INVALID`: the state is unknown, expired, \
            used or issued for another provider (start again)"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_NOT_VERIFIED`: the provider did not verify \
            the email; `ERR_AUTH_ACCOUNT_SUSPENDED`: the account or its tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such provider"),
        (status = 409, description = "`ERR_AUTH_EMAIL_TAKEN`: an account not yet verified holds this \
            email (reset its password first: `POST /auth/v1/password/forgot`)"),
        (status = 429, description = "`ERR_AUTH_MAX_SESSIONS_REACHED`: the session limit is reached \
            and the tenant refuses new sessions; `ERR_AUTH_RATE_LIMITED` (with `Retry-After`): \
            a first sign-in would found a tenant, and this client address founded 10 this hour \
            (by signup or by provider)"),
        (status = 502, description = "`ERR_AUTH_OAUTH_PROVIDER_ERROR`: the provider failed, was \
            unreachable or answered an invalid token"),
    )
)]
pub async fn callback(
    State(st): State<AuthState>,
    Path(provider): Path<String>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<CallbackBody>,
) -> Result<Response, ApiError> {
    let (provider, cfg) = configured(&st, &provider)?;
    body.validate()?;
    let pending = redeem(&st, provider, &body.state).await?;
    let secret = client::client_secret(cfg, st.platform.secrets.as_ref()).await?;
    let tokens = client::exchange_code(
        cfg,
        &secret,
        &body.code,
        &pending.redirect_uri,
        &pending.verifier,
    )
    .await?;
    let missing =
        |what: &str| AuthError::OAuthProviderError(format!("token answer without {what}"));
    let identity = if provider.is_oidc() {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| missing("id_token"))?;
        client::verify_id_token(cfg, id_token, &pending.nonce, st.epoch()).await?
    } else {
        let access = tokens
            .access_token
            .as_deref()
            .ok_or_else(|| missing("access_token"))?;
        client::github_identity(cfg, access).await?
    };
    let user = accounts::user_for(&st, provider, &identity, meta.ip.as_deref()).await?;
    if user.mfa_enabled() {
        return Ok(Envelope::ok(signin::mfa_challenge(&st, &user).await?).into_response());
    }
    let method = format!("oauth:{}", provider.as_str());
    Ok(Envelope::ok(signin::complete(&st, &user, &meta, &method).await?).into_response())
}

impl CallbackBody {
    fn validate(&self) -> Result<(), ApiError> {
        let mut fields = Vec::new();
        if self.code.trim().is_empty() || self.code.len() > 2048 {
            fields.push(FieldError::new("code", "must be 1-2048 characters"));
        }
        if self.state.trim().is_empty() || self.state.len() > 256 {
            fields.push(FieldError::new("state", "must be 1-256 characters"));
        }
        if fields.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(fields))
        }
    }
}

/// An unknown provider is 404 (no such resource); a known one not set up here, 400.
fn configured<'a>(
    st: &'a AuthState,
    raw: &str,
) -> Result<(Provider, &'a ProviderConfig), ApiError> {
    let provider = Provider::parse(raw).ok_or_else(ApiError::not_found)?;
    let cfg = st
        .cfg
        .oauth
        .get(provider)
        .ok_or_else(|| ApiError::field("provider", "is not enabled"))?;
    Ok((provider, cfg))
}

/// Consumes the state: single-use, unexpired, and issued for this provider.
async fn redeem(st: &AuthState, provider: Provider, state: &str) -> AuthResult<Pending> {
    let redeemed = one_time::redeem(st.store(), Kind::OAuthState, state, st.epoch())
        .await
        .map_err(|e| match e {
            AuthError::OneTimeTokenInvalid => AuthError::OAuthStateInvalid,
            e => e,
        })?;
    serde_json::from_value::<Pending>(redeemed.data)
        .ok()
        .filter(|p| p.provider == provider.as_str())
        .ok_or(AuthError::OAuthStateInvalid)
}

/// Open-redirect guard: back under the link base URL or an allow-listed prefix only.
fn redirect_uri(st: &AuthState, raw: Option<&str>) -> Result<String, ApiError> {
    let bases = std::iter::once(st.cfg.link_base_url.as_str())
        .chain(st.cfg.oauth.redirect_allowlist.iter().map(String::as_str));
    crate::domain::redirect::check(raw.unwrap_or(""), bases)
        .map_err(|e| ApiError::validation(vec![e]))
}

fn authorization_url(
    provider: Provider,
    cfg: &ProviderConfig,
    pending: &Pending,
    state: &str,
) -> Result<String, ApiError> {
    let challenge = crate::oauth::pkce_challenge(&pending.verifier);
    let mut params = vec![
        ("client_id", cfg.client_id.as_str()),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", provider.scope()),
        ("state", state),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if provider.is_oidc() {
        params.push(("nonce", pending.nonce.as_str()));
    }
    if provider == Provider::Apple {
        // Apple requires form_post when the name or email scope is asked for.
        params.push(("response_mode", "form_post"));
    }
    url::Url::parse_with_params(&cfg.endpoints.authorize, &params)
        .map(String::from)
        .map_err(|e| {
            ApiError::internal(format!("authorize endpoint of {}: {e}", provider.as_str()))
        })
}
