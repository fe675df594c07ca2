//! `POST /mfa/totp/verify`: the second step of a login that answered the MFA challenge.
//!
//! Retrying after a wrong code: the `mfaToken` stays valid until it is used for a
//! successful sign-in or expires (5 minutes). The token is only *read* before the code
//! is checked and is *consumed* (conditional delete) after the code was accepted, so it
//! still opens exactly one session; wrong codes are bounded by the lockout (5 failures
//! -> 423), not by the token. Re-issuing a fresh token with each failure was rejected:
//! it gives no more protection and makes every client juggle tokens.

use axum::extract::State;
use serde::Deserialize;
use shared::{ApiError, Envelope, FieldError, extract::ApiJson, openapi::Data};
use utoipa::ToSchema;

use super::{ensure_unlocked, failed_code, reserve_guess};
use crate::{
    domain::{User, UserStatus, totp::MfaCode},
    error::{AuthError, AuthResult},
    repo::{
        mfa,
        one_time::{self, Kind, Redeemed},
        users,
    },
    signin::{self, LoginResponse},
    state::{AuthState, ClientMeta},
};

/// The login's MFA challenge and a code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyBody {
    /// `mfaToken` of the challenge `POST /auth/v1/login` answered.
    pub mfa_token: String,
    /// The authenticator app's current 6-digit code, or an unused recovery code
    /// (`XXXX-XXXX-XXXX-XXXX`).
    #[schema(example = "123456")]
    pub code: String,
}

crate::redact::redacted_debug!(VerifyBody {} secret { mfa_token, code });

#[utoipa::path(
    post,
    path = "/auth/v1/mfa/totp/verify",
    operation_id = "mfa_totp_verify",
    tag = "mfa",
    summary = "Complete a login with a TOTP or recovery code",
    description = "The second step of a login that answered `mfaRequired`: the challenge's \
        `mfaToken` with the current code of the account's authenticator app (or a recovery \
        code, used up) answers the tokens. The `mfaToken` lives 5 minutes and stays valid \
        after a wrong code, until it signs in once. Wrong codes count toward the lockout: \
        5 failures (with the passwords') in 15 minutes lock the account for 15 minutes. A \
        code accepted once is refused if replayed. Staging: dev@eventzr.com has TOTP with \
        the secret JBSWY3DPEHPK3PXP.",
    request_body(
        content = VerifyBody,
        description = "The `mfaToken` of the login of dev@eventzr.com / Password123!, and the \
            current code of the secret JBSWY3DPEHPK3PXP",
        example = json!({"mfaToken": "<mfaToken of POST /auth/v1/login>", "code": "123456"})
    ),
    responses(
        (status = 200, description = "Signed in", body = Data<LoginResponse>),
        (status = 400, description = "`ERR_AUTH_TOKEN_INVALID`: the `mfaToken` is unknown, expired, \
            already used, or older than a password reset or change; `ERR_AUTH_MFA_NOT_ENABLED`: the account no longer has TOTP"),
        (status = 401, description = "`ERR_AUTH_MFA_INVALID_CODE`: the code is wrong, replayed or an \
            already used recovery code (the `mfaToken` stays valid)"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the account or its tenant is suspended"),
        (status = 423, description = "`ERR_AUTH_ACCOUNT_LOCKED`: too many failures; retry after \
            `Retry-After` seconds"),
        (status = 429, description = "`ERR_AUTH_MAX_SESSIONS_REACHED`: the session limit is reached \
            and the tenant refuses new sessions rather than ending the oldest: sign out of a \
            session elsewhere, or reset the password"),
    )
)]
pub async fn verify(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Envelope<LoginResponse>, ApiError> {
    let code = parse(&body)?;
    let now = st.epoch();
    let challenge = one_time::peek(st.store(), Kind::Mfa, &body.mfa_token, now).await?;
    let user = user_of(&st, &challenge).await?;
    // Issued before a password reset or change: that ended it (a challenge of the old
    // password must not open a session the reset meant to end).
    if challenge.data["stamp"].as_str() != Some(signin::credential_stamp(&user).as_str()) {
        return Err(AuthError::OneTimeTokenInvalid.into());
    }
    ensure_unlocked(&user, now)?;
    if user.status == UserStatus::Suspended {
        return Err(AuthError::AccountSuspended.into());
    }
    if !user.mfa_enabled() {
        return Err(AuthError::MfaNotEnabled.into());
    }
    // The tenant's say before any guess is counted or code spent: a suspended tenant or a
    // strict session limit refuses here, leaving the challenge and a recovery code usable.
    let admission = signin::admit(&st, &user).await?;
    // Counted before the code is checked, so parallel guesses cannot outrun the lockout.
    let reservation = reserve_guess(&st, &user).await?;
    if !mfa::use_code(st.store(), &user, &code, now).await? {
        if mfa::is_right_totp(&user, &code, now) {
            // Refused as used already, yet right: its guess is given back. Counted, eight
            // copies of one code sent at once locked the owner out right after signing in.
            users::release_attempt(st.store(), &user, &reservation).await?;
            return Err(AuthError::MfaInvalidCode.into());
        }
        return Err(failed_code(&st, &user, &reservation, "login").await.into());
    }
    // Exactly one sign-in per challenge, even with two good codes at once.
    if let Err(e) = one_time::redeem(st.store(), Kind::Mfa, &body.mfa_token, now).await {
        // The code was right: not a failed guess, even though this request loses.
        users::release_attempt(st.store(), &user, &reservation).await?;
        return Err(e.into());
    }
    let user = users::clear_failures_for_sign_in(st.store(), &user, &reservation).await?;
    let method = match code {
        MfaCode::Totp(_) => "totp",
        MfaCode::Recovery(_) => "recovery_code",
    };
    Ok(Envelope::ok(
        signin::open(&st, &user, admission, &meta, method).await?,
    ))
}

fn parse(body: &VerifyBody) -> Result<MfaCode, ApiError> {
    let mut errors = Vec::new();
    if body.mfa_token.trim().is_empty() {
        errors.push(FieldError::new("mfaToken", "is required"));
    }
    let code = MfaCode::parse(&body.code).map_err(|e| errors.push(e)).ok();
    match code {
        Some(code) if errors.is_empty() => Ok(code),
        _ => Err(ApiError::validation(errors)),
    }
}

/// The user the challenge was issued to; a challenge whose user is gone is invalid.
async fn user_of(st: &AuthState, challenge: &Redeemed) -> AuthResult<User> {
    let (Some(tenant), Some(user_id)) = (&challenge.tenant, &challenge.user_id) else {
        return Err(AuthError::OneTimeTokenInvalid);
    };
    users::get(st.store(), tenant, user_id)
        .await?
        .ok_or(AuthError::OneTimeTokenInvalid)
}
