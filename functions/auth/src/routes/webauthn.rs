//! Route group `webauthn`: passkeys: WebAuthn registration and authentication, and the
//! caller's list of them ([`passkeys`]).
//! (One Lambda function in template.yaml.)
//!
//! Verification is webauthn-rs's (attestation, origin, RP id hash, challenge, user
//! verification, signature). Each ceremony's server state lives in a one-time token
//! (`Kind::WebAuthn`, 5 minutes, single-use): the options call answers the token as an
//! opaque `challengeId`, the client sends it back with the authenticator's response.
//! Any failure of a ceremony is 401 WEBAUTHN_FAILED; malformed bodies are 400.

pub mod passkeys;

use axum::{
    Router,
    extract::State,
    routing::{delete, get, post},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use shared::{ApiError, Envelope, FieldError, extract::ApiJson, openapi::Data, tenant::TenantId};
use utoipa::ToSchema;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use crate::{
    AuthState,
    domain::{Email, User, UserStatus, passkey},
    error::{AuthError, AuthResult},
    repo::{
        audit,
        credentials::{self, StoredCredential},
        one_time::{self, Redeemed},
        users,
    },
    signin::{self, LoginResponse},
    state::{ClientMeta, LiveCaller},
};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/v1/webauthn/register/options"),
    ("POST", "/auth/v1/webauthn/register"),
    ("POST", "/auth/v1/webauthn/authenticate/options"),
    ("POST", "/auth/v1/webauthn/authenticate"),
    ("GET", "/auth/v1/webauthn/credentials"),
    ("DELETE", "/auth/v1/webauthn/credentials/{passkeyId}"),
];

pub fn router() -> Router<AuthState> {
    Router::new()
        .route("/auth/v1/webauthn/register/options", post(register_options))
        .route("/auth/v1/webauthn/register", post(register))
        .route(
            "/auth/v1/webauthn/authenticate/options",
            post(authenticate_options),
        )
        .route(
            "/auth/v1/webauthn/authenticate",
            post(authenticate).layer(super::no_store()),
        )
        .route("/auth/v1/webauthn/credentials", get(passkeys::list))
        .route(
            "/auth/v1/webauthn/credentials/{passkeyId}",
            delete(passkeys::remove),
        )
}

/// How long a ceremony's challenge stays valid (the design: 5 minutes).
pub const CHALLENGE_TTL: i64 = 300;
const REGISTER: &str = "register";
const AUTHENTICATE: &str = "authenticate";

/// Options plus the `challengeId` that names their stored state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ceremony<T> {
    pub challenge_id: String,
    #[serde(flatten)]
    pub options: T,
}

/// Registration options: `Ceremony<CreationChallengeResponse>` as serialized.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // a schema only: webauthn-rs's options carry no schema
pub struct RegistrationOptions {
    /// Send back as `challengeId` with the authenticator's response within 5 minutes;
    /// single-use.
    challenge_id: String,
    /// `PublicKeyCredentialCreationOptions` (W3C WebAuthn L3 §5.4) for
    /// `navigator.credentials.create({publicKey})`, binary fields base64url: `rp`, `user`,
    /// `challenge`, `pubKeyCredParams`, `timeout`, `attestation`, `excludeCredentials` (the
    /// caller's passkeys), `authenticatorSelection` (user verification required)...
    #[schema(value_type = Object)]
    public_key: Value,
}

/// Authentication options: `Ceremony<RequestChallengeResponse>` as serialized.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // a schema only
pub struct AuthenticationOptions {
    /// Send back as `challengeId` with the assertion within 5 minutes; single-use.
    challenge_id: String,
    /// `PublicKeyCredentialRequestOptions` (W3C WebAuthn L3 §5.5) for
    /// `navigator.credentials.get({publicKey})`, binary fields base64url: `challenge`,
    /// `timeout`, `rpId`, `allowCredentials`, `userVerification`.
    #[schema(value_type = Object)]
    public_key: Value,
}

/// The end of a ceremony: the options' `challengeId` and the authenticator's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CeremonyBody {
    /// The `challengeId` of the options call.
    pub challenge_id: String,
    /// The authenticator's response as the browser's `PublicKeyCredential.toJSON()`
    /// (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// Whose passkeys to ask for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsBody {
    #[schema(example = "partner@eventzr.com")]
    pub email: String,
}

/// A stored passkey.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// The credential's id, base64url.
    pub credential_id: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[utoipa::path(
    post,
    path = "/auth/v1/webauthn/register/options",
    operation_id = "webauthn_register_options",
    tag = "webauthn",
    summary = "Start registering a passkey",
    description = "Options for `navigator.credentials.create()` for the caller's account \
        (its existing passkeys excluded, user verification required) and the `challengeId` \
        that names the stored challenge (5 minutes, single-use). Needs a session opened in the \
        last 10 minutes (sign in again otherwise). No body.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The creation options", body = Data<RegistrationOptions>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_REAUTHENTICATION_REQUIRED`: the session was opened more \
            than 10 minutes ago; sign in again"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
    )
)]
pub async fn register_options(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<Ceremony<CreationChallengeResponse>>, ApiError> {
    caller.require_recent_sign_in(st.epoch())?;
    let tenant = caller.tenant();
    let user = users::get(st.store(), &tenant, &caller.claims.sub)
        .await?
        .ok_or(AuthError::NotFound)?;
    // Excluded: the authenticator refuses to make a second credential for this account.
    let exclude = credentials::list(st.store(), &tenant, &user.id)
        .await?
        .iter()
        .filter_map(|c| URL_SAFE_NO_PAD.decode(&c.credential_id).ok())
        .collect();
    let (options, state) = passkey::relying_party(&st.cfg)?
        .start_passkey_registration(
            passkey::user_handle(&user),
            &user.email,
            &user.name,
            Some(exclude),
        )
        .map_err(|e| AuthError::Internal(format!("webauthn registration options: {e}")))?;
    let challenge_id = store_state(&st, REGISTER, Some((&tenant, &user.id)), json!(state)).await?;
    Ok(Envelope::ok(Ceremony {
        challenge_id,
        options,
    }))
}

#[utoipa::path(
    post,
    path = "/auth/v1/webauthn/register",
    operation_id = "webauthn_register",
    tag = "webauthn",
    summary = "Store a passkey",
    description = "Verifies the authenticator's attestation (origin, RP id, challenge, user \
        verification) against the challenge of `POST /auth/v1/webauthn/register/options` and \
        stores the passkey; it then signs in with `POST /auth/v1/webauthn/authenticate`. The \
        challenge is used up whatever the outcome. Needs a session opened in the last 10 \
        minutes.",
    security(("bearerAuth" = [])),
    request_body(
        content = CeremonyBody,
        example = json!({
            "challengeId": "<challengeId of the options>",
            "credential": {
                "id": "<credential id, base64url>",
                "rawId": "<credential id, base64url>",
                "type": "public-key",
                "response": {
                    "clientDataJSON": "<base64url>",
                    "attestationObject": "<base64url>"
                },
                "extensions": {}
            }
        })
    ),
    responses(
        (status = 201, description = "The passkey is stored", body = Data<Registered>),
        (status = 401, description = "`ERR_AUTH_WEBAUTHN_FAILED`: the challenge is unknown, expired, \
            used or another account's, the attestation does not verify, or the credential is \
            already registered; `ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_REAUTHENTICATION_REQUIRED`: the session was opened more \
            than 10 minutes ago; sign in again"),
    )
)]
pub async fn register(
    State(st): State<AuthState>,
    caller: LiveCaller,
    ApiJson(body): ApiJson<CeremonyBody>,
) -> Result<Envelope<Registered>, ApiError> {
    caller.require_recent_sign_in(st.epoch())?;
    let response: RegisterPublicKeyCredential = parse_credential(body.credential)?;
    let tenant = caller.tenant();
    let (who, state) = take_state::<PasskeyRegistration>(&st, &body.challenge_id, REGISTER).await?;
    // A challenge issued to another account is no challenge for this one.
    if who.tenant.as_ref() != Some(&tenant) || who.user_id.as_deref() != Some(&caller.claims.sub) {
        return Err(AuthError::WebauthnFailed.into());
    }
    let created = passkey::relying_party(&st.cfg)?
        .finish_passkey_registration(&response, &state)
        .map_err(rejected)?;
    let passkey = to_json(&created)?;
    let stored = StoredCredential {
        credential_id: URL_SAFE_NO_PAD.encode(created.cred_id()),
        tenant_id: tenant.to_string(),
        user_id: caller.claims.sub.clone(),
        counter: registered_counter(&passkey),
        passkey,
        created_at: shared::clock::rfc3339_millis(st.now()),
        last_used_at: None,
    };
    credentials::create(st.store(), &stored).await?;
    security_event(&st, &tenant, "mfa.webauthn_registered", &stored).await;
    crate::notices::send(
        &st,
        &caller.claims.email,
        crate::notices::Notice::PasskeyAdded,
    )
    .await;
    Ok(Envelope::created(Registered {
        credential_id: stored.credential_id,
        created_at: stored.created_at,
    }))
}

/// Public. No enumeration: an unknown email, or an account without passkeys, gets
/// options of the same shape with a stored challenge and a decoy allow list (stable per
/// email, keyed by a secret), after comparable store work.
#[utoipa::path(
    post,
    path = "/auth/v1/webauthn/authenticate/options",
    operation_id = "webauthn_authenticate_options",
    tag = "webauthn",
    summary = "Start signing in with a passkey",
    description = "Options for `navigator.credentials.get()` listing the account's passkeys, \
        and the `challengeId` of the stored challenge (5 minutes, single-use). No enumeration: \
        an unknown email, or an account without passkeys, gets options of the same shape \
        (whose assertion can never succeed).",
    request_body(content = OptionsBody, example = json!({"email": "partner@eventzr.com"})),
    responses(
        (status = 200, description = "The request options", body = Data<AuthenticationOptions>),
    )
)]
pub async fn authenticate_options(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<OptionsBody>,
) -> Result<Envelope<Ceremony<RequestChallengeResponse>>, ApiError> {
    let email = Email::lookup(&body.email).map_err(|f| ApiError::validation(vec![f]))?;
    let user = users::by_email(st.store(), &email).await?;
    let passkeys = match &user {
        Some(u) => passkeys_of(&st, u).await?,
        None => Vec::new(),
    };
    let (options, owner, state) = match user {
        Some(user) if !passkeys.is_empty() => {
            let (options, state) = passkey::relying_party(&st.cfg)?
                .start_passkey_authentication(&passkeys)
                .map_err(|e| AuthError::Internal(format!("webauthn request options: {e}")))?;
            (options, Some(user), json!(state))
        }
        _ => {
            let key = credentials::decoy_hmac_key(st.store()).await?;
            (
                passkey::decoy_request(&st.cfg, &key, &email)?,
                None,
                Value::Null,
            )
        }
    };
    let tenant = owner.as_ref().map(signin::tenant_of).transpose()?;
    let owner_ids = tenant.as_ref().zip(owner.as_ref().map(|u| u.id.as_str()));
    let challenge_id = store_state(&st, AUTHENTICATE, owner_ids, state).await?;
    Ok(Envelope::ok(Ceremony {
        challenge_id,
        options,
    }))
}

/// Public. A verified assertion signs the user in. Passkeys require user verification
/// (webauthn-rs's passkey policy), so they are phishing-resistant multi-factor on
/// their own: no TOTP challenge follows, unlike a password login.
#[utoipa::path(
    post,
    path = "/auth/v1/webauthn/authenticate",
    operation_id = "webauthn_authenticate",
    tag = "webauthn",
    summary = "Sign in with a passkey",
    description = "Verifies the assertion against the challenge of \
        `POST /auth/v1/webauthn/authenticate/options` and answers the tokens. Passkeys \
        require user verification, so no TOTP challenge follows. The authenticator's \
        signature counter must increase (a stored non-zero counter that does not suggests a \
        cloned authenticator); authenticators that always report 0 are accepted. The \
        challenge is used up whatever the outcome.",
    request_body(
        content = CeremonyBody,
        example = json!({
            "challengeId": "<challengeId of the options>",
            "credential": {
                "id": "<credential id, base64url>",
                "rawId": "<credential id, base64url>",
                "type": "public-key",
                "response": {
                    "clientDataJSON": "<base64url>",
                    "authenticatorData": "<base64url>",
                    "signature": "<base64url>",
                    "userHandle": "<base64url>"
                },
                "extensions": {}
            }
        })
    ),
    responses(
        (status = 200, description = "Signed in", body = Data<LoginResponse>),
        (status = 401, description = "`ERR_AUTH_WEBAUTHN_FAILED`: the challenge is unknown, expired, \
            used or a registration's, the email had no passkeys, the assertion does not verify, \
            or the signature counter did not increase"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the account or its tenant is suspended"),
        (status = 429, description = "`ERR_AUTH_MAX_SESSIONS_REACHED`: the session limit is reached \
            and the tenant refuses new sessions rather than ending the oldest: sign out of a \
            session elsewhere, or reset the password"),
    )
)]
pub async fn authenticate(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<CeremonyBody>,
) -> Result<Envelope<LoginResponse>, ApiError> {
    let response: PublicKeyCredential = parse_credential(body.credential)?;
    let (who, state) =
        take_state::<Option<PasskeyAuthentication>>(&st, &body.challenge_id, AUTHENTICATE).await?;
    // A decoy challenge (unknown email) has no state and no owner: it never succeeds.
    let (Some(state), Some(tenant), Some(user_id)) = (state, who.tenant, who.user_id) else {
        return Err(AuthError::WebauthnFailed.into());
    };
    let result = passkey::relying_party(&st.cfg)?
        .finish_passkey_authentication(&response, &state)
        .map_err(rejected)?;
    advance_counter(&st, &tenant, &user_id, &result).await?;
    let user = users::get(st.store(), &tenant, &user_id)
        .await?
        .ok_or(AuthError::WebauthnFailed)?;
    if user.status == UserStatus::Suspended {
        return Err(AuthError::AccountSuspended.into());
    }
    Ok(Envelope::ok(
        signin::complete(&st, &user, &meta, "webauthn").await?,
    ))
}

/// Clone detection (W3C WebAuthn L3 §7.2 step 22): a non-zero signature counter that
/// does not exceed the stored one may mean a cloned authenticator; authenticators
/// without a counter always report 0 and are accepted. The stored credential, not the
/// ceremony's snapshot, is the reference, and the new counter is written conditionally.
async fn advance_counter(
    st: &AuthState,
    tenant: &TenantId,
    user_id: &str,
    result: &AuthenticationResult,
) -> AuthResult<()> {
    let credential_id = URL_SAFE_NO_PAD.encode(result.cred_id());
    let stored = credentials::get(st.store(), tenant, user_id, &credential_id)
        .await?
        .ok_or(AuthError::WebauthnFailed)?;
    let counter = i64::from(result.counter());
    if (counter > 0 || stored.counter > 0) && counter <= stored.counter {
        security_event(st, tenant, "webauthn.counter_not_increased", &stored).await;
        return Err(AuthError::WebauthnFailed);
    }
    let mut updated: Passkey = serde_json::from_str(&stored.passkey)
        .map_err(|e| AuthError::Internal(format!("stored passkey: {e}")))?;
    updated.update_credential(result);
    let now = shared::clock::rfc3339_millis(st.now());
    credentials::record_use(
        st.store(),
        &stored,
        result.counter(),
        to_json(&updated)?,
        &now,
    )
    .await
}

async fn passkeys_of(st: &AuthState, user: &User) -> AuthResult<Vec<Passkey>> {
    let tenant = signin::tenant_of(user)?;
    Ok(credentials::list(st.store(), &tenant, &user.id)
        .await?
        .iter()
        .filter_map(|c| serde_json::from_str(&c.passkey).ok())
        .collect())
}

async fn store_state(
    st: &AuthState,
    ceremony: &str,
    owner: Option<(&TenantId, &str)>,
    state: Value,
) -> AuthResult<String> {
    one_time::issue(
        st.store(),
        one_time::Kind::WebAuthn,
        owner.map(|(t, _)| t),
        owner.map(|(_, u)| u),
        json!({ "ceremony": ceremony, "state": state }),
        st.epoch(),
        CHALLENGE_TTL,
    )
    .await
}

/// Consumes the challenge (single-use even when what follows fails) and reads its state.
async fn take_state<S: DeserializeOwned>(
    st: &AuthState,
    challenge_id: &str,
    ceremony: &str,
) -> AuthResult<(Redeemed, S)> {
    let mut redeemed = one_time::redeem(
        st.store(),
        one_time::Kind::WebAuthn,
        challenge_id,
        st.epoch(),
    )
    .await
    .map_err(|e| match e {
        AuthError::OneTimeTokenInvalid => AuthError::WebauthnFailed,
        e => e,
    })?;
    if redeemed.data["ceremony"] != ceremony {
        return Err(AuthError::WebauthnFailed);
    }
    let state = serde_json::from_value(redeemed.data["state"].take())
        .map_err(|e| AuthError::Internal(format!("webauthn state: {e}")))?;
    Ok((redeemed, state))
}

fn parse_credential<T: DeserializeOwned>(raw: Value) -> Result<T, ApiError> {
    serde_json::from_value(raw).map_err(|_| {
        ApiError::validation(vec![FieldError::new(
            "credential",
            "is not a WebAuthn public key credential",
        )])
    })
}

fn rejected(e: webauthn_rs::prelude::WebauthnError) -> AuthError {
    tracing::info!(error = %e, "webauthn ceremony rejected");
    AuthError::WebauthnFailed
}

/// The counter the authenticator reported at registration. webauthn-rs exposes it only
/// in its serialisation (`cred.counter`) unless its `danger-credential-internals` is on.
fn registered_counter(passkey_json: &str) -> i64 {
    serde_json::from_str::<Value>(passkey_json)
        .ok()
        .and_then(|v| v["cred"]["counter"].as_i64())
        .unwrap_or(0)
}

fn to_json(passkey: &Passkey) -> AuthResult<String> {
    serde_json::to_string(passkey).map_err(|e| AuthError::Internal(e.to_string()))
}

async fn security_event(
    st: &AuthState,
    tenant: &TenantId,
    kind: &'static str,
    c: &StoredCredential,
) {
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant,
            kind,
            actor: Some(&c.user_id),
            subject: Some(&c.user_id),
            details: json!({ "credentialId": c.credential_id }),
        },
    )
    .await;
}
