//! `POST /users/invite` (admin): mails a single-use invite token for the acting tenant;
//! `GET` / `DELETE /users/invites`: the tenant's pending invites, and revoking one.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::query::ApiQuery;
use shared::{
    ApiError, Envelope,
    auth::Claims,
    extract::ApiJson,
    mail::Mail,
    openapi::{Data, IdempotencyKey, Paged},
    paging::{CursorScope, PageParams},
    tenant::TenantId,
};
use utoipa::{IntoParams, ToSchema};

use super::{AdminCaller, users::record};
use crate::{
    domain::{Email, admin::GrantedRoles},
    error::{AuthError, AuthResult},
    repo::mail_limit,
    repo::{
        self,
        invites::{self, InvitedBy, Pending},
        one_time, tenants, users,
    },
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
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no tenant has the id a `system` \
            caller named in `x-tenant-id`"),
        (status = 409, description = "`ERR_AUTH_EMAIL_TAKEN`: a verified account has the email (an \
            unverified one does not block an invite: its acceptance takes the address over)"),
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
    // No users for a tenant that does not exist (a system caller may name any id in
    // x-tenant-id: its invitee would be out of the platform's reach), and a suspended
    // tenant gets none either: no invite that signup would refuse.
    let inviting = tenant_item
        .as_ref()
        .map(tenants::from_item)
        .transpose()?
        .ok_or(AuthError::NotFound)?;
    if inviting.is_suspended() {
        return Err(AuthError::TenantSuspended.into());
    }
    let name = inviting.name;
    // An account that never proved the address does not hold it against an invite: the
    // invite mail proves it, and the acceptance takes the address over (signup).
    if users::by_email(st.store(), &email)
        .await?
        .is_some_and(|u| u.email_verified)
    {
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
        return Err(ApiError {
            message: why.into(),
            ..ApiError::rate_limited(retry_after)
        });
    }
    // Who invited: the signup checks they still may (an admin demoted since, or
    // suspended, invites nobody).
    let invited_by = InvitedBy {
        tenant: caller.claims.home_tenant().to_string(),
        user: caller.claims.sub.clone(),
    };
    let data = json!({ "email": email.as_ref(), "roles": roles, "invitedBy": invited_by });
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
    let pending = Pending::new(
        &email,
        roles,
        invited_by,
        shared::clock::rfc3339_millis(st.now()),
        now + INVITE_TTL_SECS,
        &token,
    );
    // Mailed first: a failed send leaves the earlier invite (and its record) working.
    send_invite(&st, &name, &email, &token).await?;
    invites::put(st.store(), &tenant, &email, &pending).await?;
    record(
        &st,
        &caller,
        "user.invited",
        "",
        json!({ "roles": pending.roles }),
    )
    .await;
    Ok(Envelope::accepted(Invitation::of(pending)))
}

impl Invitation {
    fn of(p: Pending) -> Self {
        Invitation {
            expires_at: p.expires(),
            email: p.email,
            roles: p.roles,
        }
    }
}

/// Mails the invite to join the tenant called `name`.
async fn send_invite(st: &AuthState, name: &str, email: &Email, token: &str) -> AuthResult<()> {
    let link = format!(
        "{}/accept-invite?token={token}",
        st.cfg.link_base_url.trim_end_matches('/')
    );
    let mail = Mail {
        to: vec![email.as_ref().to_owned()],
        // The name is the tenant's own text, mailed from the platform's address: never in
        // the subject, and in the body only as a labelled field on its own line, so that
        // "EventZR Security: verify at …" reads as the name it is, not as the platform
        // speaking; quotes around it could be closed by the name itself (reviews,
        // 2026-12-05).
        subject: "You are invited to join an organisation on EventZR".to_owned(),
        text: format!(
            "You have been invited to join an organisation on EventZR.\n\n\
             Organisation (its name, as its admins wrote it):\n    {name}\n\n\
             Accept the invitation within 7 days:\n{link}\n\n\
             If you did not expect this mail, ignore it. EventZR never asks for your \
             password by mail."
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

/// A pending invite, as the tenant's admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingInvite {
    #[schema(example = "new.hire@eventzr.com")]
    pub email: String,
    #[schema(example = json!(["organizer"]))]
    pub roles: Vec<String>,
    /// The id of the tenant's user who sent it; null when the platform (a `system` user)
    /// did.
    pub invited_by: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl PendingInvite {
    fn of(p: Pending, tenant: &TenantId) -> Self {
        let own = p.invited_by.tenant == tenant.to_string();
        PendingInvite {
            expires_at: p.expires(),
            email: p.email,
            roles: p.roles,
            invited_by: own.then_some(p.invited_by.user),
            created_at: p.created_at,
        }
    }
}

#[utoipa::path(
    get,
    path = "/auth/v1/users/invites",
    operation_id = "list_invites",
    tag = "admin",
    summary = "List the tenant's pending invites",
    description = "The newest invite to each address that is neither accepted, revoked nor \
        expired, one cursor page at a time (in no meaningful order; a page may hold fewer than \
        `limit` while `page.has_more` is true). Needs the `admin` role. A `system` caller may \
        name another tenant in `x-tenant-id`.",
    params(shared::openapi::PageQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of pending invites", body = Paged<PendingInvite>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: `limit` is invalid; \
            `ERR_AUTH_INVALID_CURSOR`: the cursor is tampered, expired or was issued for another \
            query, caller or tenant"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no tenant has the id a `system` caller \
            named in `x-tenant-id`"),
    )
)]
pub async fn list(
    State(st): State<AuthState>,
    claims: Claims,
    page: Result<PageParams, ApiError>,
) -> Result<Envelope<Vec<PendingInvite>>, ApiError> {
    let tenant = claims.tenant();
    let (caller, [tenant_item]) =
        AdminCaller::check_with(claims, &st, [repo::tenant(&tenant)]).await?;
    let page = page?;
    // No tenant record, no invites: 404, as `POST /users/invite` answers.
    if tenant_item.is_none() && !tenant.is_system() {
        return Err(AuthError::NotFound.into());
    }
    let scope = CursorScope::new(&caller.claims, "invites");
    let start = st.platform.cursors.resume(&scope, &page).await?;
    let (found, next) = invites::page(st.store(), &tenant, page.limit, start, st.epoch()).await?;
    let page = st
        .platform
        .cursors
        .page(&scope, page.limit, next.as_ref())
        .await?;
    let views = found
        .into_iter()
        .map(|p| PendingInvite::of(p, &tenant))
        .collect();
    Ok(Envelope::ok(views).with_page(page))
}

/// The query of `DELETE /users/invites`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitedQuery {
    /// The invited address, URL-encoded (`new.hire%40eventzr.com`).
    #[param(required = true)]
    pub email: Option<String>,
}

#[utoipa::path(
    delete,
    path = "/auth/v1/users/invites",
    operation_id = "revoke_invite",
    tag = "admin",
    summary = "Revoke the pending invite to an address",
    description = "Its link stops working at once (a signup with it answers \
        `ERR_AUTH_TOKEN_INVALID`). The address is a query parameter, not a path segment: \
        addresses may hold `/`, `?`, `#` or `%`, which a path cannot carry through API \
        Gateway. Needs the `admin` role; audited as `user.invite_revoked`.",
    params(InvitedQuery, IdempotencyKey),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The invite that was revoked", body = Data<PendingInvite>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: `email` is missing or not an \
            address (`details.fields` names it)"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no pending invite to this address \
            (never sent, accepted, revoked or expired)"),
    )
)]
pub async fn revoke(
    State(st): State<AuthState>,
    claims: Claims,
    query: Result<ApiQuery<InvitedQuery>, ApiError>,
) -> Result<Envelope<PendingInvite>, ApiError> {
    let tenant = claims.tenant();
    let (caller, []) = AdminCaller::check_with(claims, &st, []).await?;
    // After the role and session checks, as on every admin route.
    let ApiQuery(q) = query?;
    let raw = q
        .email
        .ok_or_else(|| ApiError::field("email", "is required: ?email=<invited address>"))?;
    let email = Email::lookup(&raw).map_err(|e| ApiError::validation(vec![e]))?;
    let revoked = invites::revoke(st.store(), &tenant, &email, st.epoch())
        .await?
        .ok_or(AuthError::NotFound)?;
    record(
        &st,
        &caller,
        "user.invite_revoked",
        "",
        json!({ "roles": revoked.roles }),
    )
    .await;
    Ok(Envelope::ok(PendingInvite::of(revoked, &tenant)))
}
