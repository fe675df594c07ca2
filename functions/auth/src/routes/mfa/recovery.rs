//! The caller's recovery codes: how many are left, and a new set (the old one void) —
//! so a person who used most of theirs need not turn TOTP off and enroll again.

use axum::extract::State;
use serde::Serialize;
use serde_json::json;
use shared::{ApiError, Envelope, auth::Claims, openapi::Data};
use utoipa::ToSchema;

use super::{Enabled, caller_and_user, record};
use crate::{
    AuthState,
    domain::totp::{RECOVERY_CODES, RecoveryCode},
    error::AuthError,
    repo::{mfa, users},
};

/// How many of the caller's recovery codes are unused.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesLeft {
    #[schema(example = 7)]
    pub remaining: usize,
}

#[utoipa::path(
    get,
    path = "/auth/v1/mfa/recovery-codes",
    operation_id = "mfa_recovery_codes_left",
    tag = "mfa",
    summary = "Count your unused recovery codes",
    description = "How many of the caller's 10 recovery codes are unused (the codes themselves \
        are shown only when made).",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The unused codes' count", body = Data<RecoveryCodesLeft>),
        (status = 400, description = "`ERR_AUTH_MFA_NOT_ENABLED`: TOTP is not on"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
    )
)]
pub async fn left(
    State(st): State<AuthState>,
    claims: Claims,
) -> Result<Envelope<RecoveryCodesLeft>, ApiError> {
    let (_, user) = caller_and_user(&st, claims).await?;
    let user = users::found(user.as_ref())?;
    if user.totp_secret.is_none() {
        return Err(AuthError::MfaNotEnabled.into());
    }
    Ok(Envelope::ok(RecoveryCodesLeft {
        remaining: user.recovery_codes.len(),
    }))
}

/// A new set is refused this long after the last one was made.
const FRESH_SET_SECS: i64 = 10;

#[utoipa::path(
    post,
    path = "/auth/v1/mfa/recovery-codes",
    operation_id = "mfa_recovery_codes_regenerate",
    tag = "mfa",
    summary = "Make a new set of recovery codes",
    description = "10 new single-use recovery codes, shown only here; every earlier code stops \
        working. Needs TOTP on and a session opened in the last 10 minutes (sign in again \
        otherwise). Audited (`mfa.recovery_codes_regenerated`). No body. The answer is \
        `Cache-Control: no-store`.",
    security(("bearerAuth" = [])),
    responses(
        (
            status = 200,
            description = "The new recovery codes (shown only here)",
            body = Data<Enabled>,
            headers(("Cache-Control" = String, description = "`no-store`"))
        ),
        (status = 400, description = "`ERR_AUTH_MFA_NOT_ENABLED`: TOTP is not on"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_REAUTHENTICATION_REQUIRED`: the session was opened more \
            than 10 minutes ago; sign in again"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 409, description = "`ERR_AUTH_CONFLICT`: a set was made less than 10 seconds \
            ago (a double submit: use that one), or the codes or TOTP changed while this set was \
            made (a code spent): nothing changed by this request; ask again"),
    )
)]
pub async fn regenerate(
    State(st): State<AuthState>,
    claims: Claims,
) -> Result<Envelope<Enabled>, ApiError> {
    let (caller, user) = caller_and_user(&st, claims).await?;
    // A thief holding a token must not get codes that outlive it.
    caller.require_recent_sign_in(st.epoch())?;
    let user = users::found(user.as_ref())?;
    let secret = user
        .totp_secret
        .as_deref()
        .ok_or(AuthError::MfaNotEnabled)?;
    // Two asked at once (a double submit) would each be shown, and only the one written
    // last works: a set made moments ago is the one to keep.
    let now = st.epoch();
    if now - user.recovery_codes_at < FRESH_SET_SECS {
        return Err(ApiError::conflict(
            "a new set of recovery codes was made less than 10 seconds ago: use that one, or \
             ask again in a few seconds",
        ));
    }
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect();
    let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
    // None: TOTP or the codes changed since they were read (another new set at once, a
    // code spent): this set is not kept, so it is not shown either.
    if mfa::replace_recovery_codes(st.store(), &user, secret, &hashes, now)
        .await?
        .is_none()
    {
        return Err(ApiError::conflict(
            "the recovery codes changed while this set was made (another request?): ask again",
        ));
    }
    record(&st, &user, "mfa.recovery_codes_regenerated", json!({})).await;
    crate::notices::send(
        &st,
        &user.email,
        crate::notices::Notice::RecoveryCodesRegenerated,
    )
    .await;
    Ok(Envelope::ok(Enabled {
        mfa_enabled: true,
        recovery_codes: codes.iter().map(RecoveryCode::display).collect(),
        revoked_sessions: None,
    }))
}
