//! Route group `mfa`: TOTP multi-factor authentication: enroll, confirm (recovery codes),
//! verify at login, disable. (One Lambda function in template.yaml.)
//!
//! Secrets leave the service twice only: the TOTP secret in the enroll response and the
//! recovery codes in the confirm response (both `cache-control: no-store`). None of
//! these routes sits behind the Idempotency-Key layer, which would keep those bodies.

mod verify;

use axum::{
    Router,
    extract::State,
    response::IntoResponse,
    routing::{delete, post},
};
use http::header;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::{ApiError, Envelope, extract::ApiJson};

use crate::{
    AuthState,
    domain::{
        User,
        totp::{MfaCode, RECOVERY_CODES, RecoveryCode, TotpSecret},
    },
    error::{AuthError, AuthResult},
    repo::{audit, mfa, users},
    signin,
    state::LiveCaller,
};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/v1/mfa/totp/enroll"),
    ("POST", "/auth/v1/mfa/totp/confirm"),
    ("POST", "/auth/v1/mfa/totp/verify"),
    ("DELETE", "/auth/v1/mfa/totp"),
];

pub fn router() -> Router<AuthState> {
    Router::new()
        .route("/auth/v1/mfa/totp/enroll", post(enroll))
        .route("/auth/v1/mfa/totp/confirm", post(confirm))
        .route("/auth/v1/mfa/totp/verify", post(verify::verify))
        .route("/auth/v1/mfa/totp", delete(disable))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enabled {
    pub mfa_enabled: bool,
    /// Shown once; only their SHA-256 is stored.
    pub recovery_codes: Vec<String>,
}

/// `POST /mfa/totp/enroll`: a fresh secret, pending until a code from it is confirmed.
/// Enrolling again before confirming replaces the pending secret.
pub async fn enroll(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_recent_sign_in(st.epoch())?;
    let user = current_user(&st, &caller).await?;
    if user.mfa_enabled() {
        return Err(AuthError::MfaAlreadyEnabled.into());
    }
    let secret = TotpSecret::generate();
    mfa::start_enrollment(st.store(), &user, &secret).await?;
    let body = Enrollment {
        secret: secret.to_base32(),
        otpauth_uri: secret.otpauth_uri(&user.email),
    };
    Ok(no_store(Envelope::ok(body)))
}

/// `POST /mfa/totp/confirm`: a code from the pending secret enables TOTP and answers
/// the recovery codes, once.
///
/// Without a pending enrollment the answer is 400 MFA_NOT_ENABLED rather than
/// VALIDATION on `code`: no code could succeed, the account's state is what is wrong
/// (the client should call enroll, not re-prompt for a code).
pub async fn confirm(
    State(st): State<AuthState>,
    caller: LiveCaller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let code = MfaCode::parse_totp(&body.code).map_err(|f| ApiError::validation(vec![f]))?;
    let user = current_user(&st, &caller).await?;
    if user.mfa_enabled() {
        return Err(AuthError::MfaAlreadyEnabled.into());
    }
    let pending = user
        .totp_pending_secret
        .as_deref()
        .ok_or(AuthError::MfaNotEnabled)?;
    let step = TotpSecret::parse(pending)
        .ok_or_else(|| AuthError::Internal("pending TOTP secret is not base32".into()))?
        .matching_step(&code, st.epoch(), user.totp_last_step)
        .ok_or(AuthError::MfaInvalidCode)?;
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect();
    let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
    // None: a concurrent confirm or enroll changed the state this code was checked on.
    mfa::enable(st.store(), &user, pending, step, &hashes)
        .await?
        .ok_or(AuthError::MfaInvalidCode)?;
    record(&st, &user, "mfa.enabled", json!({ "method": "totp" })).await;
    let body = Enabled {
        mfa_enabled: true,
        recovery_codes: codes.iter().map(RecoveryCode::display).collect(),
    };
    Ok(no_store(Envelope::ok(body)))
}

/// `DELETE /mfa/totp`: a current code (or a recovery code) turns TOTP off. A wrong code
/// counts toward the lockout like a failed login: a stolen access token must not buy
/// unlimited guesses at the second factor.
pub async fn disable(
    State(st): State<AuthState>,
    caller: LiveCaller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Envelope<Value>, ApiError> {
    let code = MfaCode::parse(&body.code).map_err(|f| ApiError::validation(vec![f]))?;
    let user = current_user(&st, &caller).await?;
    let secret = user.totp_secret.clone().ok_or(AuthError::MfaNotEnabled)?;
    ensure_unlocked(&user, st.epoch())?;
    let reservation = reserve_guess(&st, &user).await?;
    if !mfa::use_code(st.store(), &user, &code, st.epoch()).await? {
        return Err(failed_code(&st, &user, &reservation, "disable")
            .await
            .into());
    }
    users::release_attempt(st.store(), &user, &reservation).await?;
    mfa::disable(st.store(), &user, &secret)
        .await?
        .ok_or(AuthError::MfaNotEnabled)?;
    record(&st, &user, "mfa.disabled", json!({ "method": "totp" })).await;
    Ok(Envelope::ok(json!({ "mfaEnabled": false })))
}

async fn current_user(st: &AuthState, caller: &LiveCaller) -> AuthResult<User> {
    users::get(st.store(), &caller.tenant(), &caller.claims.sub)
        .await?
        .ok_or(AuthError::NotFound)
}

fn no_store<T: Serialize>(body: Envelope<T>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], body)
}

fn ensure_unlocked(user: &User, now: i64) -> AuthResult<()> {
    if user.locked_until > now {
        return Err(AuthError::AccountLocked {
            retry_after: (user.locked_until - now) as u64,
        });
    }
    Ok(())
}

/// Counts a second-factor guess toward the lockout BEFORE it is checked (see
/// `users::reserve_attempt`); 423 when the account is locked.
async fn reserve_guess(st: &AuthState, user: &User) -> AuthResult<users::Reservation> {
    let now = st.epoch();
    users::reserve_attempt(st.store(), user, now)
        .await?
        .map_err(|until| AuthError::AccountLocked {
            retry_after: (until - now).max(1) as u64,
        })
}

/// A wrong second factor: its reserved attempt stands as the failure (design "Failed
/// MFA codes count too"), audited; 401 MFA_INVALID_CODE, or 423 once it locks the account.
async fn failed_code(
    st: &AuthState,
    user: &User,
    reservation: &users::Reservation,
    during: &str,
) -> AuthError {
    let now = st.epoch();
    let locked = match users::fail_attempt(st.store(), user, reservation, now).await {
        Ok(locked) => locked,
        Err(e) => return e,
    };
    record(st, user, "mfa.failed", json!({ "during": during })).await;
    match locked {
        Some(until) => {
            record(st, user, "account.locked", json!({ "during": during })).await;
            AuthError::AccountLocked {
                retry_after: (until - now) as u64,
            }
        }
        None => AuthError::MfaInvalidCode,
    }
}

async fn record(st: &AuthState, user: &User, kind: &'static str, details: Value) {
    let Ok(tenant) = signin::tenant_of(user) else {
        return;
    };
    let event = audit::Event {
        tenant: &tenant,
        kind,
        actor: Some(&user.id),
        subject: Some(&user.id),
        details,
    };
    audit::record(st.store(), st.now(), event).await;
}
