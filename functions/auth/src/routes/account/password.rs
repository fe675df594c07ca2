//! `POST /password/forgot`, `/password/reset`, `/password/change`.
//!
//! A reset is the owner's way back in: it works while the account is locked, clears the
//! lock, and ends every session (whoever knew the old password is out). It answers no
//! tokens, so it never bypasses MFA: the user logs in again and meets the challenge.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{
    ApiError, Envelope, FieldError,
    auth::Claims,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey},
    store::Update,
};
use utoipa::ToSchema;

use super::{Accepted, EmailBody, LinkMail};
use crate::{
    domain::{Email, Password, User, UserStatus},
    error::{AuthError, AuthResult},
    notices::{self, Notice},
    repo::{
        self, audit,
        one_time::{self, Kind},
        users,
    },
    routes::login,
    signin,
    state::{AuthState, ClientMeta, LiveCaller},
};

pub const RESET_TTL_SECS: i64 = 30 * 60;

const RESET_MAIL: LinkMail = LinkMail {
    subject: "Reset your EventZR password",
    action: "choose a new password",
    page: "reset-password",
    valid_for: "30 minutes",
};

/// `POST /password/forgot`: 202 always; a single-use reset link for an existing account.
#[utoipa::path(
    post,
    path = "/auth/v1/password/forgot",
    operation_id = "password_forgot",
    tag = "account",
    summary = "Mail a password reset link",
    description = "Always 202, whether or not the account exists (no enumeration); an existing \
        account is mailed a single-use reset link valid for 30 minutes (to use with \
        `POST /auth/v1/password/reset`); a suspended one is not. Works while the account is \
        locked.",
    params(IdempotencyKey),
    request_body(content = EmailBody, example = json!({"email": "partner@eventzr.com"})),
    responses(
        (status = 202, description = "Accepted (the same answer in every case)", body = Data<Accepted>),
    )
)]
pub async fn forgot(
    State(st): State<AuthState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Envelope<Accepted>, ApiError> {
    let email = super::parse_email(&body.email)?;
    let (st, client) = (&st, &client);
    super::for_account(st, &email, |user| async move {
        // A suspended account gets no link, as for magic links: the admin who suspended
        // it decides when it comes back, and with which password.
        if user.status == UserStatus::Suspended {
            return Ok(());
        }
        mail_reset_link(st, &user, &RESET_MAIL, client).await
    })
    .await?;
    Ok(Envelope::accepted(Accepted::YES))
}

/// Mails `user` a single-use link to choose a new password (30 minutes), in `mail`'s
/// words, within the account's hourly mail limit.
pub(super) async fn mail_reset_link(
    st: &AuthState,
    user: &User,
    mail: &LinkMail,
    client: &ClientMeta,
) -> AuthResult<()> {
    let link = (Kind::PasswordReset, RESET_TTL_SECS);
    super::mail_link(st, user, link, json!({}), mail, client).await
}

/// The token of the reset mail and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetBody {
    /// The single-use token of the reset link.
    pub token: String,
    /// 8-128 characters, not the email, not a common password.
    #[schema(example = "Password123!", format = Password)]
    pub new_password: String,
}

crate::redact::redacted_debug!(ResetBody {} secret { token, new_password });

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetDone {
    #[schema(example = true)]
    reset: bool,
}

/// `POST /password/reset`. The token is checked, the new password judged and hashed,
/// and only then the token consumed: a weak password does not burn the link.
#[utoipa::path(
    post,
    path = "/auth/v1/password/reset",
    operation_id = "password_reset",
    tag = "account",
    summary = "Set a new password with a reset link",
    description = "Sets the password, clears a lockout and ends every session of the account; \
        answers no tokens (log in again, meeting MFA if enabled). The link proved the \
        address: an account not yet verified is verified by it. A weak password does not \
        spend the token: fix it and send again.",
    params(IdempotencyKey),
    request_body(
        content = ResetBody,
        example = json!({"token": "<the token of the mailed link>", "newPassword": "Password123!"})
    ),
    responses(
        (status = 200, description = "Reset; every session of the account is revoked", body = Data<ResetDone>),
        (status = 400, description = "`ERR_AUTH_TOKEN_INVALID`: the token is unknown, expired or already used (or the \
            password was reset or changed since it was mailed); \
            `ERR_AUTH_WEAK_PASSWORD`: the new password is too short, too long, the email or a common one \
            (`details.fields` names `newPassword`)"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the account was suspended since \
            the link was mailed; nothing changed"),
    )
)]
pub async fn reset(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<Envelope<ResetDone>, ApiError> {
    let pending = one_time::peek(st.store(), Kind::PasswordReset, &body.token, st.epoch()).await?;
    let user = super::user_of(&st, &pending).await?;
    // A link mailed before a suspension does not change the suspended account's password
    // (the link is not spent: it works again if the account comes back in time).
    if user.status == UserStatus::Suspended {
        return Err(AuthError::AccountSuspended.into());
    }
    let password = super::new_password(body.new_password, &email_of(&user)?, "newPassword")?;
    let phc = super::hash(&st, password).await?;
    one_time::redeem(st.store(), Kind::PasswordReset, &body.token, st.epoch()).await?;
    // The new password and a cleared lockout in one write. The link reached the address,
    // so an unverified account is verified with it: whoever registered the address before
    // its owner (with a password they know) is out, and the owner signs in at once.
    let mut update = users::clearing_failures(password_update(&st, &user, phc)?);
    let confirming = !user.email_verified;
    if confirming {
        update = update.set("email_verified", true);
    }
    // A reset or change that landed since the link was checked wins: this link was
    // stamped with a password that is no longer the account's.
    let user = users::replace_password(st.store(), &user, update)
        .await?
        .ok_or(AuthError::OneTimeTokenInvalid)?;
    let revoked = super::revoke_sessions(&st, &user, None).await?;
    record(&st, &user, "password.reset", revoked).await?;
    // Choosing the first password that holds (a resend's link) is the account's setup,
    // not news to its owner.
    if !confirming {
        notices::send(&st, &user.email, Notice::PasswordReset).await;
    }
    Ok(Envelope::ok(ResetDone { reset: true }))
}

/// The current password and the new one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeBody {
    #[schema(example = "Password123!", format = Password)]
    pub current_password: String,
    /// 8-128 characters, not the email, not a common password.
    #[schema(example = "Another-Password-456", format = Password)]
    pub new_password: String,
}

crate::redact::redacted_debug!(ChangeBody {} secret { current_password, new_password });

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDone {
    #[schema(example = true)]
    changed: bool,
    /// How many of the caller's other sessions ended.
    #[schema(example = 1)]
    revoked_sessions: usize,
}

/// `POST /password/change`: the current password is checked as at login (a wrong one
/// is 401 INVALID_CREDENTIALS and counts toward the lockout); the caller's other
/// sessions end, this one stays.
#[utoipa::path(
    post,
    path = "/auth/v1/password/change",
    operation_id = "password_change",
    tag = "account",
    summary = "Change the caller's password",
    description = "The current password is checked as at login (a wrong one counts toward the \
        lockout: 5 failures in 15 minutes lock the account for 15 minutes). The caller's other \
        sessions end; this one stays.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(
        content = ChangeBody,
        example = json!({"currentPassword": "Password123!", "newPassword": "Another-Password-456"})
    ),
    responses(
        (status = 200, description = "Changed; the caller's other sessions are revoked", body = Data<ChangeDone>),
        (status = 400, description = "`ERR_AUTH_WEAK_PASSWORD`: the new password is too short, too long, \
            the email, a common one or the current one (`details.fields` names `newPassword`); \
            `ERR_AUTH_VALIDATION`: the current password is wrong (`details.fields` names `currentPassword`; it counts \
            toward the lockout like a failed login)"),
        (status = 401, description = "`ERR_AUTH_UNAUTHORIZED`: no valid bearer token; \
            `ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the account is suspended; \
            `ERR_AUTH_ACCOUNT_NOT_VERIFIED`: the email is not verified"),
        (status = 423, description = "`ERR_AUTH_ACCOUNT_LOCKED`: too many failures; retry after `Retry-After` seconds"),
    )
)]
pub async fn change(
    State(st): State<AuthState>,
    claims: Claims,
    body: Result<ApiJson<ChangeBody>, ApiError>,
) -> Result<Envelope<ChangeDone>, ApiError> {
    // The session and the user in one batch read; 401 before 400.
    let key = repo::user(&claims.home_tenant(), &claims.sub);
    let (caller, [item]) = LiveCaller::check_with(claims, &st, [key]).await?;
    let ApiJson(body) = body?;
    // A "change" to the same password changes nothing, yet would end the other sessions
    // and tell the person they did something.
    let unchanged = shared::ids::secure_eq(
        body.new_password.as_bytes(),
        body.current_password.as_bytes(),
    );
    let current = Password::candidate(body.current_password, "currentPassword")
        .map_err(|f| ApiError::validation(vec![f]))?;
    let user = item.as_ref().map(users::from_item).transpose()?;
    if unchanged {
        let why = "must differ from the current password";
        return Err(super::weak_password("newPassword", why));
    }
    // The new password's policy first: a refused change counts no guess and clears no
    // failures (checking the current password writes both).
    let password = match &user {
        Some(u) => Some(super::new_password(
            body.new_password,
            &email_of(u)?,
            "newPassword",
        )?),
        None => None,
    };
    // A wrong current password counts a guess like a login, but answers as the form field
    // it is: a 401 on a bearer route reads as "session expired" to a front end, which would
    // refresh or sign the person out instead of showing the field.
    let exists = user.is_some();
    let user = login::check_password(&st, user, current)
        .await
        .map_err(|e| match e {
            AuthError::InvalidCredentials if exists => ApiError::validation(vec![FieldError::new(
                "currentPassword",
                "is not this account's current password",
            )]),
            e => e.into(),
        })?;
    // check_password refuses an account that is gone (401), so the policy ran above.
    let password = password.ok_or(AuthError::InvalidCredentials)?;
    let phc = super::hash(&st, password).await?;
    // A reset or change that landed since the current password was checked wins: the
    // password given is no longer the current one.
    let user = users::replace_password(st.store(), &user, password_update(&st, &user, phc)?)
        .await?
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "currentPassword",
                "is no longer this account's current password: it was changed meanwhile",
            )])
        })?;
    let revoked = super::revoke_sessions(&st, &user, Some(&caller.session.id)).await?;
    record(&st, &user, "password.changed", revoked).await?;
    notices::send(&st, &user.email, Notice::PasswordChanged).await;
    Ok(Envelope::ok(ChangeDone {
        changed: true,
        revoked_sessions: revoked,
    }))
}

fn email_of(user: &User) -> AuthResult<Email> {
    Email::lookup(&user.email).map_err(|e| AuthError::Internal(e.issue))
}

fn password_update(st: &AuthState, user: &User, phc: String) -> AuthResult<Update> {
    Ok(Update::new(users::key_of(user)?)
        .set("password_hash", phc)
        .set("updated_at", shared::clock::rfc3339_millis(st.now())))
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
