//! Route group `mfa`: TOTP multi-factor authentication: enroll, confirm (recovery codes),
//! verify at login, disable; the recovery codes left, and a new set ([`recovery`]). (One
//! Lambda function in template.yaml.)
//!
//! Secrets leave the service in three answers only: the TOTP secret in the enroll
//! response, and the recovery codes in the confirm and regenerate responses (all
//! `cache-control: no-store`, as verify's tokens: `super::no_store`). None of these
//! routes sits behind the Idempotency-Key layer, which would keep those bodies.

pub mod recovery;
pub(crate) mod verify;

use axum::{
    Router,
    extract::State,
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::{ApiError, Envelope, auth::Claims, extract::ApiJson, openapi::Data, store::Item};
use utoipa::ToSchema;

use super::{account::revoke_sessions, no_store};
use crate::{
    AuthState,
    domain::{
        User,
        totp::{MfaCode, RECOVERY_CODES, RecoveryCode, TotpSecret},
    },
    error::{AuthError, AuthResult},
    notices::{self, Notice},
    repo::{self, audit, mfa, users},
    signin,
    state::LiveCaller,
};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/v1/mfa/totp/enroll"),
    ("POST", "/auth/v1/mfa/totp/confirm"),
    ("POST", "/auth/v1/mfa/totp/verify"),
    ("DELETE", "/auth/v1/mfa/totp"),
    ("GET", "/auth/v1/mfa/recovery-codes"),
    ("POST", "/auth/v1/mfa/recovery-codes"),
];

pub fn router() -> Router<AuthState> {
    Router::new()
        .route("/auth/v1/mfa/totp/enroll", post(enroll).layer(no_store()))
        .route("/auth/v1/mfa/totp/confirm", post(confirm).layer(no_store()))
        .route(
            "/auth/v1/mfa/totp/verify",
            post(verify::verify).layer(no_store()),
        )
        .route("/auth/v1/mfa/totp", delete(disable))
        .route(
            "/auth/v1/mfa/recovery-codes",
            get(recovery::left)
                .post(recovery::regenerate)
                .layer(no_store()),
        )
}

/// A code from the authenticator app (or, where accepted, a recovery code).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The app's current 6-digit code; where accepted, a recovery code
    /// (`XXXX-XXXX-XXXX-XXXX`, case, spaces and dashes ignored).
    #[schema(example = "123456")]
    pub code: String,
}

crate::redact::redacted_debug!(CodeBody {} secret { code });

/// A new TOTP secret, pending until confirmed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    /// The base32 secret (RFC 6238: SHA-1, 6 digits, 30 s), for manual entry. Never
    /// shown again.
    #[schema(example = "JBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// The same secret as an `otpauth://` URI, for a QR code.
    #[schema(
        example = "otpauth://totp/EventZR:dev%40eventzr.com?secret=JBSWY3DPEHPK3PXP&issuer=EventZR&algorithm=SHA1&digits=6&period=30"
    )]
    pub otpauth_uri: String,
}

crate::redact::redacted_debug!(Enrollment {} secret { secret, otpauth_uri });

/// TOTP is on; the recovery codes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Enabled {
    #[schema(example = true)]
    pub mfa_enabled: bool,
    /// 10 single-use codes, each accepted once in place of a TOTP code. Shown once; only
    /// their SHA-256 is stored.
    #[schema(example = json!(["ABCD-EFGH-IJKL-MNOP", "QRST-UVWX-YZ23-4567"]))]
    pub recovery_codes: Vec<String>,
    /// How many of the caller's other sessions ended (signed in without the new factor);
    /// only when TOTP was just turned on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    pub revoked_sessions: Option<usize>,
}

crate::redact::redacted_debug!(Enabled { mfa_enabled, revoked_sessions } secret { recovery_codes });

/// TOTP is off.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    #[schema(example = false)]
    pub mfa_enabled: bool,
    /// How many of the caller's other sessions ended.
    #[schema(example = 1)]
    pub revoked_sessions: usize,
}

/// `POST /mfa/totp/enroll`: a fresh secret, pending until a code from it is confirmed.
/// Enrolling again before confirming replaces the pending secret.
#[utoipa::path(
    post,
    path = "/auth/v1/mfa/totp/enroll",
    operation_id = "mfa_totp_enroll",
    tag = "mfa",
    summary = "Start TOTP enrollment",
    description = "A fresh TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) for the caller's \
        authenticator app; it stays pending, and MFA off, until `POST /auth/v1/mfa/totp/confirm` \
        receives a code from it. Enrolling again before confirming replaces the pending \
        secret. Needs a session opened in the last 10 minutes (sign in again otherwise). No \
        body. The answer is `Cache-Control: no-store`.",
    security(("bearerAuth" = [])),
    responses(
        (
            status = 200,
            description = "The pending secret (shown only here)",
            body = Data<Enrollment>,
            headers(("Cache-Control" = String, description = "`no-store`"))
        ),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_REAUTHENTICATION_REQUIRED`: the session was opened more \
            than 10 minutes ago; sign in again"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 409, description = "`ERR_AUTH_MFA_ALREADY_ENABLED`: TOTP is already on (disable it first)"),
    )
)]
pub async fn enroll(
    State(st): State<AuthState>,
    claims: Claims,
) -> Result<Envelope<Enrollment>, ApiError> {
    let (caller, user) = caller_and_user(&st, claims).await?;
    caller.require_recent_sign_in(st.epoch())?;
    let user = users::found(user.as_ref())?;
    if user.mfa_enabled() {
        return Err(AuthError::MfaAlreadyEnabled.into());
    }
    let secret = TotpSecret::generate();
    mfa::start_enrollment(st.store(), &user, &secret).await?;
    let body = Enrollment {
        secret: secret.to_base32(),
        otpauth_uri: secret.otpauth_uri(&user.email),
    };
    Ok(Envelope::ok(body))
}

/// `POST /mfa/totp/confirm`: a code from the pending secret enables TOTP and answers
/// the recovery codes, once.
///
/// Without a pending enrollment the answer is 400 MFA_NOT_ENABLED rather than
/// VALIDATION on `code`: no code could succeed, the account's state is what is wrong
/// (the client should call enroll, not re-prompt for a code).
#[utoipa::path(
    post,
    path = "/auth/v1/mfa/totp/confirm",
    operation_id = "mfa_totp_confirm",
    tag = "mfa",
    summary = "Confirm TOTP enrollment",
    description = "A current 6-digit code from the pending secret of \
        `POST /auth/v1/mfa/totp/enroll` turns TOTP on (logins then answer the MFA challenge) \
        and answers 10 single-use recovery codes, shown only here. Recovery codes are not \
        accepted. Every other session of the account ends: one signed in by whoever knew \
        the password must not outlive the second factor. The answer is \
        `Cache-Control: no-store`.",
    security(("bearerAuth" = [])),
    request_body(
        content = CodeBody,
        description = "A current code of the pending secret",
        example = json!({"code": "123456"})
    ),
    responses(
        (
            status = 200,
            description = "TOTP is on; the recovery codes (shown only here)",
            body = Data<Enabled>,
            headers(("Cache-Control" = String, description = "`no-store`"))
        ),
        (status = 400, description = "`ERR_AUTH_MFA_NOT_ENABLED`: no enrollment is pending (call enroll first)"),
        (status = 401, description = "`ERR_AUTH_MFA_INVALID_CODE`: the code does not match the pending \
            secret (or a concurrent enroll replaced it); `ERR_AUTH_TOKEN_REVOKED`: the session was \
            logged out or revoked"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 409, description = "`ERR_AUTH_MFA_ALREADY_ENABLED`: TOTP is already on"),
    )
)]
pub async fn confirm(
    State(st): State<AuthState>,
    claims: Claims,
    body: Result<ApiJson<CodeBody>, ApiError>,
) -> Result<Envelope<Enabled>, ApiError> {
    let (caller, user) = caller_and_user(&st, claims).await?;
    let ApiJson(body) = body?;
    let code = MfaCode::parse_totp(&body.code).map_err(|f| ApiError::validation(vec![f]))?;
    let user = users::found(user.as_ref())?;
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
    mfa::enable(st.store(), &user, pending, step, &hashes, st.epoch())
        .await?
        .ok_or(AuthError::MfaInvalidCode)?;
    // ASVS 7.4.3: a factor changed, other sessions end (a session opened with a phished
    // password would otherwise keep the account, and could manage its MFA, for days).
    let revoked = others_ended(&st, &user, &caller).await;
    record(&st, &user, "mfa.enabled", json!({ "method": "totp" })).await;
    notices::send(&st, &user.email, Notice::TotpEnabled).await;
    let body = Enabled {
        mfa_enabled: true,
        recovery_codes: codes.iter().map(RecoveryCode::display).collect(),
        revoked_sessions: Some(revoked),
    };
    Ok(Envelope::ok(body))
}

/// `DELETE /mfa/totp`: a current code (or a recovery code) turns TOTP off. A wrong code
/// counts toward the lockout like a failed login: a stolen access token must not buy
/// unlimited guesses at the second factor.
#[utoipa::path(
    delete,
    path = "/auth/v1/mfa/totp",
    operation_id = "mfa_totp_disable",
    tag = "mfa",
    summary = "Turn TOTP off",
    description = "A current TOTP code, or an unused recovery code, turns TOTP off and \
        discards the recovery codes; every other session of the account ends. A wrong code \
        counts toward the lockout like a failed login: 5 failures in 15 minutes lock the \
        account for 15 minutes.",
    security(("bearerAuth" = [])),
    request_body(
        content = CodeBody,
        description = "A current code, or a recovery code",
        example = json!({"code": "123456"})
    ),
    responses(
        (status = 200, description = "TOTP is off", body = Data<Disabled>),
        (status = 400, description = "`ERR_AUTH_MFA_NOT_ENABLED`: TOTP is not on"),
        (status = 401, description = "`ERR_AUTH_MFA_INVALID_CODE`: the code is wrong, replayed or an \
            already used recovery code; `ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 423, description = "`ERR_AUTH_ACCOUNT_LOCKED`: too many failed logins or codes; retry \
            after `Retry-After` seconds"),
    )
)]
pub async fn disable(
    State(st): State<AuthState>,
    claims: Claims,
    body: Result<ApiJson<CodeBody>, ApiError>,
) -> Result<Envelope<Disabled>, ApiError> {
    let (caller, user) = caller_and_user(&st, claims).await?;
    let ApiJson(body) = body?;
    let code = MfaCode::parse(&body.code).map_err(|f| ApiError::validation(vec![f]))?;
    let user = users::found(user.as_ref())?;
    if user.totp_secret.is_none() {
        return Err(AuthError::MfaNotEnabled.into());
    }
    ensure_unlocked(&user, st.epoch())?;
    let reservation = reserve_guess(&st, &user).await?;
    // One write checks the code, turns TOTP off and gives the reserved guess back.
    if !mfa::disable_with(st.store(), &user, &code, &reservation, st.epoch()).await? {
        return Err(failed_code(&st, &user, &reservation, "disable")
            .await
            .into());
    }
    let revoked = others_ended(&st, &user, &caller).await;
    record(&st, &user, "mfa.disabled", json!({ "method": "totp" })).await;
    notices::send(&st, &user.email, Notice::TotpDisabled).await;
    Ok(Envelope::ok(Disabled {
        mfa_enabled: false,
        revoked_sessions: revoked,
    }))
}

/// Ends the caller's other sessions once a factor changed; how many. After the change is
/// committed, so best effort: an error must not hide the recovery codes of a TOTP now on
/// (its retry would find the pending secret spent), and is logged instead.
async fn others_ended(st: &AuthState, user: &User, caller: &LiveCaller) -> usize {
    revoke_sessions(st, user, Some(&caller.session.id))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not end the other sessions after an MFA change");
            0
        })
}

/// The live-session check and the caller's user item in one batch read. The session
/// decides first (401, whatever else was found), then the route's own order of checks:
/// the body (400), then the user (`users::found`: 404 when the account is gone).
async fn caller_and_user(
    st: &AuthState,
    claims: Claims,
) -> Result<(LiveCaller, Option<Item>), ApiError> {
    let key = repo::user(&claims.home_tenant(), &claims.sub);
    let (caller, [user]) = LiveCaller::check_with(claims, st, [key]).await?;
    Ok((caller, user))
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
