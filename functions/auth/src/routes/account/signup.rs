//! `POST /signup/email`, `/signup/verify`, `/signup/resend`.
//!
//! A signup either founds a tenant (`tenantName`: a new BASE tenant, the creator its
//! `admin`) or joins one by invite (`inviteToken`: the invite's tenant and roles). A
//! founder is created unverified and mailed a 24-hour verification link; an invitee
//! counts as verified (the invite mail proved the address) and may log in at once.
//! Neither gets tokens here: the answer may be kept 24 hours by the Idempotency-Key
//! layer, and a refresh token must never rest in clear.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{ApiError, Envelope, FieldError, extract::ApiJson, store::Update, tenant::TenantId};

use super::{Accepted, EmailBody, LinkMail, SignIn, TokenBody};
use crate::{
    domain::{Email, Password, User, UserStatus, Username, admin::GrantedRoles, user::UserView},
    error::{AuthError, AuthResult},
    repo::{
        audit,
        one_time::{self, Kind},
        tenants::{self, Tenant},
        users,
    },
    signin,
    state::{AuthState, ClientMeta},
};

pub const VERIFY_TTL_SECS: i64 = 24 * 3600;

const VERIFY_MAIL: LinkMail = LinkMail {
    subject: "Confirm your EventZR email address",
    action: "confirm your email address",
    page: "verify-email",
    valid_for: "24 hours",
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignupBody {
    pub email: String,
    pub password: String,
    pub name: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub invite_token: Option<String>,
}

/// How the new user gets a tenant.
enum Joining {
    NewTenant(String),
    Invite(String),
}

/// Who signs up, past validation.
struct NewAccount {
    email: Email,
    name: String,
    username: Option<Username>,
}

impl NewAccount {
    /// Field errors first (all of them, named), then the password policy.
    fn parse(b: SignupBody) -> Result<(Self, Joining, Password), ApiError> {
        let mut errors = Vec::new();
        let email = collect(&mut errors, Email::parse(&b.email));
        let name = collect(&mut errors, display_name(&b.name));
        let username = b
            .username
            .as_deref()
            .and_then(|u| collect(&mut errors, Username::parse(u)));
        let joining = collect(&mut errors, joining(b.tenant_name, b.invite_token));
        let (Some(email), Some(name), Some(joining), true) =
            (email, name, joining, errors.is_empty())
        else {
            return Err(ApiError::validation(errors));
        };
        let password = super::new_password(b.password, &email, "password")?;
        let account = NewAccount {
            email,
            name,
            username,
        };
        Ok((account, joining, password))
    }
}

/// Exactly one of `tenantName` (a new organisation) and `inviteToken`.
fn joining(tenant_name: Option<String>, invite: Option<String>) -> Result<Joining, FieldError> {
    match (tenant_name, invite) {
        (Some(name), None) => crate::domain::admin::tenant_name(&name)
            .map(Joining::NewTenant)
            .map_err(|e| FieldError::new("tenantName", e.issue)),
        (None, Some(token)) if !token.trim().is_empty() => Ok(Joining::Invite(token)),
        (None, Some(_)) => Err(FieldError::new("inviteToken", "must not be empty")),
        (Some(_), Some(_)) => Err(FieldError::new(
            "inviteToken",
            "give either tenantName or inviteToken, not both",
        )),
        (None, None) => Err(FieldError::new(
            "tenantName",
            "tenantName (a new organisation) or inviteToken is required",
        )),
    }
}

fn collect<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// 1-100 characters, trimmed, no control characters.
fn display_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must be 1-100 characters"));
    }
    Ok(name.to_owned())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignupView {
    pub user: UserView,
    /// True until the mailed link is followed (login answers 403 ACCOUNT_NOT_VERIFIED).
    pub verification_required: bool,
}

pub async fn signup(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Envelope<SignupView>, ApiError> {
    let (account, joining, password) = NewAccount::parse(body)?;
    let phc = super::hash(&st, password).await?;
    let user = match joining {
        Joining::NewTenant(tenant_name) => found_tenant(&st, &account, &tenant_name, phc).await?,
        Joining::Invite(token) => join_by_invite(&st, &account, &token, phc).await?,
    };
    let tenant = signin::tenant_of(&user)?;
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &tenant,
            kind: "account.created",
            actor: Some(&user.id),
            subject: Some(&user.id),
            details: json!({ "roles": user.roles, "verified": user.email_verified }),
        },
    )
    .await;
    if !user.email_verified {
        send_verification(&st, &user).await?;
    }
    let plan = tenants::plan_of(st.store(), &tenant).await?;
    Ok(Envelope::created(SignupView {
        user: UserView::of(&user, &plan),
        verification_required: !user.email_verified,
    }))
}

fn new_user(
    a: &NewAccount,
    tenant: &TenantId,
    roles: Vec<String>,
    phc: String,
    st: &AuthState,
) -> User {
    let now = shared::clock::rfc3339_millis(st.now());
    User {
        username: a.username.as_ref().map(|u| u.as_ref().to_owned()),
        password_hash: Some(phc),
        ..User::new(
            shared::ids::new_id().to_string(),
            tenant.to_string(),
            a.email.as_ref().to_owned(),
            a.name.clone(),
            roles,
            &now,
        )
    }
}

/// The user first (the email/username locks decide a race), then its BASE tenant, so a
/// refused signup leaves no orphan tenant behind.
async fn found_tenant(st: &AuthState, a: &NewAccount, name: &str, phc: String) -> AuthResult<User> {
    let tenant = TenantId::from_uuid(shared::ids::new_id());
    let user = new_user(a, &tenant, vec!["admin".into()], phc, st);
    users::create(st.store(), &user).await?;
    tenants::create(
        st.store(),
        &Tenant {
            id: tenant.to_string(),
            name: name.to_owned(),
            plan_tier: "BASE".into(),
            status: "active".into(),
            strict_sessions: false,
        },
    )
    .await?;
    Ok(user)
}

/// The invite (`data: {email, roles}`, its tenant) is checked without being consumed,
/// then the user created, then the invite consumed: a refused signup (EMAIL_TAKEN, a
/// typo'd email) leaves the invite usable, and a second use needs the same email, which
/// the email lock refuses.
async fn join_by_invite(
    st: &AuthState,
    a: &NewAccount,
    token: &str,
    phc: String,
) -> AuthResult<User> {
    let invite = one_time::peek(st.store(), Kind::Invite, token, st.epoch()).await?;
    let invited = invite.data["email"]
        .as_str()
        .and_then(|e| Email::parse(e).ok());
    let roles: Vec<String> =
        serde_json::from_value(invite.data["roles"].clone()).unwrap_or_default();
    let (Some(tenant), Some(invited), Ok(roles)) =
        (invite.tenant, invited, GrantedRoles::parse(&roles))
    else {
        return Err(AuthError::OneTimeTokenInvalid);
    };
    if invited != a.email {
        return Err(AuthError::OneTimeTokenInvalid);
    }
    let mut user = new_user(a, &tenant, roles.names(), phc, st);
    user.email_verified = true;
    users::create(st.store(), &user).await?;
    if let Err(e) = one_time::redeem(st.store(), Kind::Invite, token, st.epoch()).await {
        // Only an expiry in the last milliseconds or a store fault: the user exists, and
        // the email lock already makes the invite useless to anyone else.
        tracing::warn!(error = %e, "invite could not be consumed after signup");
    }
    Ok(user)
}

async fn send_verification(st: &AuthState, user: &User) -> AuthResult<()> {
    let token = one_time::issue(
        st.store(),
        Kind::VerifyEmail,
        Some(&signin::tenant_of(user)?),
        Some(&user.id),
        json!({}),
        st.epoch(),
        VERIFY_TTL_SECS,
    )
    .await?;
    super::send_link(st, &user.email, &VERIFY_MAIL, &token).await;
    Ok(())
}

/// `POST /signup/verify`: the mailed token marks the email verified and signs in.
pub async fn verify(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Envelope<SignIn>, ApiError> {
    let redeemed = one_time::redeem(st.store(), Kind::VerifyEmail, &body.token, st.epoch()).await?;
    let user = super::user_of(&st, &redeemed).await?;
    let user = users::update(
        st.store(),
        Update::new(users::key_of(&user)?)
            .set("email_verified", true)
            .set("updated_at", shared::clock::rfc3339_millis(st.now())),
    )
    .await?;
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &signin::tenant_of(&user)?,
            kind: "email.verified",
            actor: Some(&user.id),
            subject: Some(&user.id),
            details: json!({}),
        },
    )
    .await;
    Ok(Envelope::ok(
        super::sign_in(&st, &user, &meta, "email_verification").await?,
    ))
}

/// `POST /signup/resend`: 202 always; a new link only for an unverified active account.
pub async fn resend(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Envelope<Accepted>, ApiError> {
    let (st, email) = (&st, super::parse_email(&body.email)?);
    super::for_account(st, &email, |user| async move {
        if !user.email_verified && user.status == UserStatus::Active {
            send_verification(st, &user).await?;
        }
        Ok(())
    })
    .await?;
    Ok(Envelope::accepted(Accepted::YES))
}
