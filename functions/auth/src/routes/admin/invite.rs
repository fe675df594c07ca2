//! `POST /users/invite` (admin): mails a single-use invite token for the acting tenant.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{
    ApiError, Envelope,
    auth::Claims,
    extract::ApiJson,
    mail::Mail,
    openapi::{Data, IdempotencyKey},
};
use utoipa::ToSchema;

use super::{AdminCaller, users::record};
use crate::{
    domain::{Email, admin::GrantedRoles},
    error::{AuthError, AuthResult},
    repo::mail_limit,
    repo::{self, invites, one_time, tenants, users},
    state::AuthState,
};

/// Invitations are valid for 7 days.
pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;

/// Whom to invite, with which roles.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    #[schema(example = "new.hire@eventzr.com")]
    pub email: String,
    /// 1-10 of `user`, `partner`, `organizer`, `admin` (`system` cannot be granted).
    #[schema(example = json!(["organizer"]))]
    pub roles: Vec<String>,
}

/// The invite sent (its token travels only in the mail).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    /// The invited email, normalised.
    #[schema(example = "new.hire@eventzr.com")]
    pub email: String,
    /// The roles the signup will get, normalised.
    #[schema(example = json!(["organizer"]))]
    pub roles: Vec<String>,
    /// When the invite expires (7 days; RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// Mails a single-use invite token; the signup that redeems it reads exactly
/// `{"email": <normalised>, "roles": [...]}` and the token's tenant.
#[utoipa::path(
    post,
    path = "/auth/v1/users/invite",
    operation_id = "invite_user",
    tag = "admin",
    summary = "Invite a user into the tenant",
    description = "Needs the `admin` role. Mails a single-use invite link valid for 7 days; the \
        invitee signs up with it (`POST /auth/v1/signup/email` with `inviteToken`) and gets \
        these roles in the acting tenant. A `system` caller may invite into another tenant by naming it in `x-tenant-id`. \
        Inviting an address again replaces its earlier invite (only the newest link works), and an \
        invite grants nothing once its sender is no longer an active admin.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(content = InviteBody, example = json!({"email": "new.hire@eventzr.com", "roles": ["organizer"]})),
    responses(
        (status = 202, description = "The invite is mailed", body = Data<Invitation>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role, or \
            asks for the `system` role; `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 409, description = "`ERR_AUTH_EMAIL_TAKEN`: the email is already registered"),
        (status = 429, description = "`ERR_AUTH_RATE_LIMITED` (with `retry-after`): the tenant \
            mailed 50 invites this hour, or 3 to this address today"),
    )
)]
pub async fn invite(
    State(st): State<AuthState>,
    claims: Claims,
    body: Result<ApiJson<InviteBody>, ApiError>,
) -> Result<Envelope<Invitation>, ApiError> {
    // The session and the acting tenant (its name for the mail) in one batch read;
    // 401/403 before 400.
    let tenant = claims.tenant();
    let (caller, [tenant_item]) =
        AdminCaller::check_with(claims, &st, [repo::tenant(&tenant)]).await?;
    let ApiJson(body) = body?;
    let email = Email::parse(&body.email).map_err(|e| ApiError::validation(vec![e]))?;
    let roles = GrantedRoles::parse(&body.roles)?.names();
    // A suspended tenant gets no new users: no invite that signup would refuse.
    let inviting = tenant_item.as_ref().map(tenants::from_item).transpose()?;
    if inviting.as_ref().is_some_and(|t| t.is_suspended()) {
        return Err(AuthError::AccountSuspended.into());
    }
    let name = inviting.map_or_else(|| "EventZR".to_owned(), |t| t.name);
    if users::by_email(st.store(), &email).await?.is_some() {
        return Err(AuthError::EmailTaken.into());
    }
    if let Err(retry_after) =
        mail_limit::take_invite(st.store(), &tenant, email.as_ref(), st.now()).await?
    {
        let why = format!(
            "a tenant mails at most {} invites an hour, and {} a day to one address",
            mail_limit::INVITES_PER_HOUR,
            mail_limit::INVITES_PER_ADDRESS
        );
        return Err(
            ApiError::new(http::StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", why)
                .with_retry_after(retry_after),
        );
    }
    // Who invited: the signup checks they still may (an admin demoted since, or
    // suspended, invites nobody).
    let data = json!({
        "email": email.as_ref(),
        "roles": roles,
        "invitedBy": {"tenant": caller.claims.home_tenant().to_string(), "user": caller.claims.sub},
    });
    let now = st.epoch();
    let token = one_time::issue(
        st.store(),
        one_time::Kind::Invite,
        Some(&tenant),
        None,
        data,
        now,
        INVITE_TTL_SECS,
    )
    .await?;
    // This invite replaces any earlier one to the address.
    invites::mark_latest(st.store(), &tenant, &email, &token, now + INVITE_TTL_SECS).await?;
    send_invite(&st, &name, &email, &token).await?;
    record(&st, &caller, "user.invited", "", json!({ "roles": roles })).await;
    let expires = chrono::DateTime::from_timestamp(now + INVITE_TTL_SECS, 0).unwrap_or_default();
    Ok(Envelope::accepted(Invitation {
        email: email.as_ref().to_owned(),
        roles,
        expires_at: shared::clock::rfc3339_millis(expires),
    }))
}

/// Mails the invite to join the tenant called `name`.
async fn send_invite(st: &AuthState, name: &str, email: &Email, token: &str) -> AuthResult<()> {
    let link = format!(
        "{}/accept-invite?token={token}",
        st.cfg.link_base_url.trim_end_matches('/')
    );
    let mail = Mail {
        to: vec![email.as_ref().to_owned()],
        subject: format!("You are invited to join {name} on EventZR"),
        text: format!(
            "You have been invited to join {name} on EventZR.\n\n\
             Accept the invitation within 7 days:\n{link}\n\n\
             If you did not expect this mail, ignore it."
        ),
        html: None,
    };
    st.platform
        .mailer
        .send(&mail)
        .await
        .map_err(|e| AuthError::Api(ApiError::unavailable(e)))?;
    Ok(())
}
