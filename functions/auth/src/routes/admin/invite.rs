//! `POST /users/invite` (admin): mails a single-use invite token for the acting tenant.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use shared::{ApiError, Envelope, extract::ApiJson, mail::Mail, tenant::TenantId};

use super::{AdminCaller, users::record};
use crate::{
    domain::{Email, admin::GrantedRoles},
    error::{AuthError, AuthResult},
    repo::{one_time, tenants, users},
    state::AuthState,
};

/// Invitations are valid for 7 days.
pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    pub roles: Vec<String>,
}

/// Mails a single-use invite token; the signup that redeems it reads exactly
/// `{"email": <normalised>, "roles": [...]}` and the token's tenant.
pub async fn invite(
    State(st): State<AuthState>,
    caller: AdminCaller,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<Envelope<Json>, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::validation(vec![e]))?;
    let roles = GrantedRoles::parse(&body.roles)?.names();
    if users::by_email(st.store(), &email).await?.is_some() {
        return Err(AuthError::EmailTaken.into());
    }
    let tenant = caller.tenant();
    let data = json!({ "email": email.as_ref(), "roles": roles });
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
    send_invite(&st, &tenant, &email, &token).await?;
    record(&st, &caller, "user.invited", "", json!({ "roles": roles })).await;
    let expires = chrono::DateTime::from_timestamp(now + INVITE_TTL_SECS, 0).unwrap_or_default();
    Ok(Envelope::accepted(json!({
        "email": email.as_ref(),
        "roles": roles,
        "expiresAt": shared::clock::rfc3339_millis(expires),
    })))
}

async fn send_invite(
    st: &AuthState,
    tenant: &TenantId,
    email: &Email,
    token: &str,
) -> AuthResult<()> {
    let name = tenants::get(st.store(), tenant)
        .await?
        .map_or_else(|| "EventZR".to_owned(), |t| t.name);
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
