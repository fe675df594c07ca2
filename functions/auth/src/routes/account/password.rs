//! `POST /password/forgot`, `/password/reset`, `/password/change`.
//!
//! A reset is the owner's way back in: it works while the account is locked, clears the
//! lock, and ends every session (whoever knew the old password is out). It answers no
//! tokens, so it never bypasses MFA: the user logs in again and meets the challenge.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{ApiError, Envelope, FieldError, extract::ApiJson, store::Update};

use super::{Accepted, EmailBody, LinkMail};
use crate::{
    domain::{Email, Password, User},
    error::{AuthError, AuthResult},
    repo::{
        audit,
        one_time::{self, Kind},
        users,
    },
    routes::login,
    signin,
    state::{AuthState, LiveCaller},
};

pub const RESET_TTL_SECS: i64 = 30 * 60;

const RESET_MAIL: LinkMail = LinkMail {
    subject: "Reset your EventZR password",
    action: "choose a new password",
    page: "reset-password",
    valid_for: "30 minutes",
};

/// `POST /password/forgot`: 202 always; a single-use reset link for an existing account.
pub async fn forgot(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Envelope<Accepted>, ApiError> {
    let email = super::parse_email(&body.email)?;
    let st = &st;
    super::for_account(st, &email, |user| async move {
        let token = one_time::issue(
            st.store(),
            Kind::PasswordReset,
            Some(&signin::tenant_of(&user)?),
            Some(&user.id),
            json!({}),
            st.epoch(),
            RESET_TTL_SECS,
        )
        .await?;
        super::send_link(st, &user.email, &RESET_MAIL, &token).await;
        Ok(())
    })
    .await?;
    Ok(Envelope::accepted(Accepted::YES))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetBody {
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Serialize)]
pub struct ResetDone {
    reset: bool,
}

/// `POST /password/reset`. The token is checked, the new password judged and hashed,
/// and only then the token consumed: a weak password does not burn the link.
pub async fn reset(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<Envelope<ResetDone>, ApiError> {
    let pending = one_time::peek(st.store(), Kind::PasswordReset, &body.token, st.epoch()).await?;
    let user = super::user_of(&st, &pending).await?;
    let password = super::new_password(body.new_password, &email_of(&user)?, "newPassword")?;
    let phc = super::hash(&st, password).await?;
    one_time::redeem(st.store(), Kind::PasswordReset, &body.token, st.epoch()).await?;
    let user = set_password(&st, &user, phc).await?;
    users::clear_failures(st.store(), &user).await?;
    let revoked = super::revoke_sessions(&st, &user, None).await?;
    record(&st, &user, "password.reset", revoked).await?;
    Ok(Envelope::ok(ResetDone { reset: true }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeBody {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDone {
    changed: bool,
    revoked_sessions: usize,
}

/// `POST /password/change`: the current password is checked as at login (a wrong one
/// is 401 INVALID_CREDENTIALS and counts toward the lockout); the caller's other
/// sessions end, this one stays.
pub async fn change(
    State(st): State<AuthState>,
    caller: LiveCaller,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Envelope<ChangeDone>, ApiError> {
    if body.current_password.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "currentPassword",
            "is required",
        )]));
    }
    let user = users::get(st.store(), &caller.tenant(), &caller.claims.sub).await?;
    let current = Password::candidate(body.current_password);
    let user = login::check_password(&st, user, current).await?;
    let password = super::new_password(body.new_password, &email_of(&user)?, "newPassword")?;
    let phc = super::hash(&st, password).await?;
    let user = set_password(&st, &user, phc).await?;
    let revoked = super::revoke_sessions(&st, &user, Some(&caller.session.id)).await?;
    record(&st, &user, "password.changed", revoked).await?;
    Ok(Envelope::ok(ChangeDone {
        changed: true,
        revoked_sessions: revoked,
    }))
}

fn email_of(user: &User) -> AuthResult<Email> {
    Email::parse(&user.email).map_err(|e| AuthError::Internal(e.issue))
}

async fn set_password(st: &AuthState, user: &User, phc: String) -> AuthResult<User> {
    users::update(
        st.store(),
        Update::new(users::key_of(user)?)
            .set("password_hash", phc)
            .set("updated_at", shared::clock::rfc3339_millis(st.now())),
    )
    .await
}

async fn record(st: &AuthState, user: &User, kind: &'static str, revoked: usize) -> AuthResult<()> {
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &signin::tenant_of(user)?,
            kind,
            actor: Some(&user.id),
            subject: Some(&user.id),
            details: json!({ "revokedSessions": revoked }),
        },
    )
    .await;
    Ok(())
}
