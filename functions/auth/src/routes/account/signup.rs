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
use shared::{
    ApiError, Envelope, FieldError,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey},
    store::Update,
    tenant::TenantId,
};
use utoipa::ToSchema;

use super::{Accepted, EmailBody, LinkMail, SignIn, TokenBody};
use crate::{
    domain::{
        DisplayName, Email, Password, User, UserStatus, Username, admin::GrantedRoles,
        user::UserView,
    },
    error::{AuthError, AuthResult},
    repo::{
        self, audit,
        invites::{self, InvitedBy},
        mail_limit,
        one_time::{self, Kind},
        tenants::{self, Tenant},
        users,
    },
    signin::{self, SignInAnswer},
    state::{AuthState, ClientMeta},
};

pub const VERIFY_TTL_SECS: i64 = 24 * 3600;

const VERIFY_MAIL: LinkMail = LinkMail {
    subject: "Confirm your EventZR email address",
    action: "confirm your email address and the account you just created with it",
    page: "verify-email",
    valid_for: "24 hours",
};

/// What a resend mails: not a verification link but a link to choose the password. A
/// resend is asked by anyone who types the address; whoever signed up first may have
/// been someone else, and a plain verification would hand the mailbox's owner an account
/// whose password that someone still knows (security review, 2026-12-05).
const FINISH_MAIL: LinkMail = LinkMail {
    subject: "Finish setting up your EventZR account",
    action: "confirm your email address by choosing the account's password",
    page: "reset-password",
    valid_for: "30 minutes",
};

/// A new account: exactly one of `tenantName` (found a new organisation) and
/// `inviteToken` (join the inviting one).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignupBody {
    #[schema(example = "new.founder@eventzr.com")]
    pub email: String,
    /// 8-128 characters, not the email, not a common password.
    #[schema(example = "Password123!", format = Password)]
    pub password: String,
    /// The display name, 1-100 characters.
    #[schema(example = "New Founder")]
    pub name: String,
    #[serde(default)]
    pub username: Option<String>,
    /// A new BASE tenant, 1-100 characters, whose admin the new user becomes.
    #[serde(default)]
    #[schema(example = "New Founder Events")]
    pub tenant_name: Option<String>,
    /// The token of an invite mail (`POST /auth/v1/users/invite`); its email must match.
    #[serde(default)]
    pub invite_token: Option<String>,
}

crate::redact::redacted_debug!(
    SignupBody { email, name, username, tenant_name } secret { password, invite_token }
);

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
        let name = collect(&mut errors, DisplayName::parse(&b.name).map(String::from));
        let username = b
            .username
            .as_deref()
            .and_then(|u| collect(&mut errors, Username::claim(u)));
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

/// The new account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupView {
    pub user: UserView,
    /// True until the mailed link is followed (login answers 403 ACCOUNT_NOT_VERIFIED).
    pub verification_required: bool,
}

#[utoipa::path(
    post,
    path = "/auth/v1/signup/email",
    operation_id = "signup_email",
    tag = "account",
    summary = "Create an account",
    description = "Either founds a tenant (`tenantName`: a new BASE tenant whose `admin` the \
        user becomes) or joins one by invite (`inviteToken`: the invite's tenant and roles; the \
        email must be the invited one). A founder is created unverified and mailed a 24-hour \
        verification link (`POST /auth/v1/signup/verify`); an invitee counts as verified and may \
        log in at once. No tokens are answered here.",
    params(IdempotencyKey),
    request_body(
        content = SignupBody,
        example = json!({
            "email": "new.founder@eventzr.com",
            "password": "Password123!",
            "name": "New Founder",
            "tenantName": "New Founder Events"
        })
    ),
    responses(
        (status = 201, description = "Created; `verificationRequired` until the mailed link is followed", body = Data<SignupView>),
        (status = 400, description = "`ERR_AUTH_WEAK_PASSWORD`: the password is too short, too long, \
            the email or a common one (`details.fields` names `password`); \
            `ERR_AUTH_TOKEN_INVALID`: the invite is invalid, expired, used, for another email, \
            replaced by a newer invite to the address, or sent by someone no longer an active admin"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the inviting tenant is suspended"),
        (status = 409, description = "`ERR_AUTH_EMAIL_TAKEN`: the email is already registered (by \
            invite: by a verified account; an unverified one is replaced, the invite having proved \
            the address); `ERR_AUTH_USERNAME_TAKEN`: the username is taken"),
        (status = 429, description = "`ERR_AUTH_RATE_LIMITED`: 10 signups founding a tenant \
            this hour from this client address (an IPv6 one: its /64; 50 from its /48), \
            whatever their outcome (signups by invite are not counted); `Retry-After` says when \
            the next hour starts"),
    )
)]
pub async fn signup(
    State(st): State<AuthState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Envelope<SignupView>, ApiError> {
    let (account, joining, password) = NewAccount::parse(body)?;
    if matches!(joining, Joining::NewTenant(_)) {
        // Before the password is hashed: a refusal costs the caller nothing of ours.
        mail_limit::take_signup(st.store(), client.ip.as_deref(), st.now()).await?;
    }
    let phc = super::hash(&st, password).await?;
    let (user, plan) = match joining {
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
        send_verification(&st, &user, &client).await?;
    }
    // The account's tenant is known now: `meta.tenant_id` says it, as for a sign-in.
    signin::answer_for(&tenant);
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
/// refused signup leaves no orphan tenant behind. With the new tenant's plan.
async fn found_tenant(
    st: &AuthState,
    a: &NewAccount,
    name: &str,
    phc: String,
) -> AuthResult<(User, String)> {
    let tenant = TenantId::from_uuid(shared::ids::new_id());
    let user = new_user(a, &tenant, vec!["admin".into()], phc, st);
    users::create(st.store(), &user).await?;
    let record = Tenant {
        id: tenant.to_string(),
        name: name.to_owned(),
        plan_tier: "BASE".into(),
        status: "active".into(),
        strict_sessions: false,
    };
    tenants::create(st.store(), &record).await?;
    Ok((user, record.plan_tier))
}

/// The invite (`data: {email, roles}`, its tenant) is checked without being consumed,
/// then the user created (with the invite's record, `repo::invites`), then the invite
/// token consumed: a refused signup (EMAIL_TAKEN, a
/// typo'd email) leaves the invite usable, and a second use needs the same email, which
/// the email lock refuses. The tenant is read before anything is written: a suspended
/// tenant gets no new users (403 ACCOUNT_SUSPENDED, the invite left as it was). With the
/// tenant's plan.
async fn join_by_invite(
    st: &AuthState,
    a: &NewAccount,
    token: &str,
    phc: String,
) -> AuthResult<(User, String)> {
    let invite = one_time::peek(st.store(), Kind::Invite, token, st.epoch()).await?;
    let invited = invite.data["email"]
        .as_str()
        .and_then(|e| Email::lookup(e).ok());
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
    // The tenant, the address's invite record and the sender, in one batch read.
    let sender = InvitedBy::of(&invite.data)
        .map(|by| Ok::<_, AuthError>((tenant_id(&by.tenant)?, by.user)))
        .transpose()?;
    let mut keys = vec![repo::tenant(&tenant), invites::key(&tenant, &invited)];
    keys.extend(sender.as_ref().map(|(t, id)| repo::user(t, id)));
    let found = st.store().get_many(&keys).await?;
    // An invite into a tenant that does not exist (any more) joins nothing.
    if found[0].is_none() || !invites::counts(found[1].as_ref(), token, sender.is_some()) {
        return Err(AuthError::OneTimeTokenInvalid);
    }
    if sender.is_some() && !may_still_invite(found.get(2).and_then(Option::as_ref))? {
        return Err(AuthError::OneTimeTokenInvalid);
    }
    let plan = tenants::plan_in_item(found[0].as_ref())?;
    let mut user = new_user(a, &tenant, roles.names(), phc, st);
    user.email_verified = true;
    // The user and the invite's acceptance in one transaction: a revoke or re-invite
    // landing since the read above refuses the signup whole.
    let acceptance = || invites::acceptance(&tenant, &invited, token, found[1].is_some());
    match users::create_invited(st.store(), &user, acceptance(), None).await {
        // An account that never proved the address (a registration by someone else, or
        // the invitee's own abandoned one) does not keep the invitee out: the invite mail
        // proved it. That account goes, in the same transaction.
        Err(AuthError::EmailTaken) => {
            let holder = users::by_email(st.store(), &invited).await?;
            let Some(old) = holder.filter(|u| !u.email_verified) else {
                return Err(AuthError::EmailTaken);
            };
            users::create_invited(st.store(), &user, acceptance(), Some(&old)).await?;
            replaced_unverified(st, &old, &tenant).await;
        }
        other => other?,
    }
    if let Err(e) = one_time::redeem(st.store(), Kind::Invite, token, st.epoch()).await {
        // Only an expiry in the last milliseconds or a store fault: the user exists, and
        // the email lock already makes the invite useless to anyone else.
        tracing::warn!(error = %e, "invite could not be consumed after signup");
    }
    Ok((user, plan))
}

/// Audits, in the replaced account's tenant, that an invitee took its address over.
async fn replaced_unverified(st: &AuthState, old: &User, invited_to: &TenantId) {
    let Ok(tenant) = signin::tenant_of(old) else {
        return;
    };
    let event = audit::Event {
        tenant: &tenant,
        kind: "user.replaced",
        actor: None,
        subject: Some(&old.id),
        details: json!({
            "reason": "an invitee proved the unverified address",
            "invitedTo": invited_to.to_string(),
        }),
    };
    audit::record(st.store(), st.now(), event).await;
}

/// A tenant id the platform itself wrote (an invite's sender).
fn tenant_id(raw: &str) -> AuthResult<TenantId> {
    TenantId::parse(raw).map_err(|_| AuthError::OneTimeTokenInvalid)
}

/// Whether the inviter, as read now, could send the invite today: still there, active,
/// and an admin (or the platform's system role). A demoted or suspended admin's pending
/// invites grant nothing, so they cannot keep a way back in.
fn may_still_invite(inviter: Option<&shared::store::Item>) -> AuthResult<bool> {
    let Some(user) = inviter.map(users::from_item).transpose()? else {
        return Ok(false);
    };
    Ok(user.status == UserStatus::Active && (user.has_role("admin") || user.has_role("system")))
}

async fn send_verification(st: &AuthState, user: &User, client: &ClientMeta) -> AuthResult<()> {
    let link = (Kind::VerifyEmail, VERIFY_TTL_SECS);
    super::mail_link(st, user, link, json!({}), &VERIFY_MAIL, client).await
}

/// `POST /signup/verify`: the mailed token marks the email verified and signs in.
#[utoipa::path(
    post,
    path = "/auth/v1/signup/verify",
    operation_id = "signup_verify",
    tag = "account",
    summary = "Verify the email of a new account",
    description = "Redeems the single-use token of the verification mail (24 hours), marks the \
        email verified and signs in: tokens, or — for an account with MFA — the challenge to \
        complete with `POST /auth/v1/mfa/totp/verify`. Not idempotent by key: a retry with the \
        same token is refused (the token is spent).",
    request_body(content = TokenBody, example = json!({"token": "<the token of the mailed link>"})),
    responses(
        (status = 200, description = "Verified and signed in, or the MFA challenge", body = Data<SignInAnswer>),
        (status = 400, description = "`ERR_AUTH_TOKEN_INVALID`: the token is unknown, expired or already used, \
            the address is already verified, or the password was reset since it was mailed"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the account or its tenant is suspended"),
        (status = 429, description = "`ERR_AUTH_MAX_SESSIONS_REACHED`: the session limit is reached \
            and the tenant refuses new sessions"),
    )
)]
pub async fn verify(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Envelope<SignIn>, ApiError> {
    // Every check before the link is spent: a refused sign-in leaves the link usable and
    // the account unverified.
    let pending = one_time::peek(st.store(), Kind::VerifyEmail, &body.token, st.epoch()).await?;
    let user = super::user_of(&st, &pending).await?;
    // Once the address is verified, the other verification links mailed to it (a resend)
    // verify nothing: they would only be 24-hour sign-in links.
    if user.email_verified {
        return Err(AuthError::OneTimeTokenInvalid.into());
    }
    let next = super::admit(&st, &user).await?;
    one_time::redeem(st.store(), Kind::VerifyEmail, &body.token, st.epoch()).await?;
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
        super::sign_in(&st, &user, next, &meta, "email_verification").await?,
    ))
}

/// `POST /signup/resend`: 202 always; a link only for an unverified active account, and
/// that link chooses the password as it verifies ([`FINISH_MAIL`]).
#[utoipa::path(
    post,
    path = "/auth/v1/signup/resend",
    operation_id = "signup_resend",
    tag = "account",
    summary = "Mail a link that confirms the address again",
    description = "Always 202 (whether or not the account exists, is verified or active: no \
        enumeration). An unverified, active account is mailed a 30-minute link to its \
        `reset-password` page: `POST /auth/v1/password/reset` with its token and a new \
        password confirms the address, and the password chosen at signup stops working. \
        Not a plain verification link: whoever asks for it may not be whoever signed up \
        (a password chosen by someone else must not survive the mailbox owner's \
        confirmation).",
    params(IdempotencyKey),
    request_body(content = EmailBody, example = json!({"email": "new.founder@eventzr.com"})),
    responses(
        (status = 202, description = "Accepted (the same answer in every case)", body = Data<Accepted>),
    )
)]
pub async fn resend(
    State(st): State<AuthState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Envelope<Accepted>, ApiError> {
    let (st, client, email) = (&st, &client, super::parse_email(&body.email)?);
    super::for_account(st, &email, |user| async move {
        if !user.email_verified && user.status == UserStatus::Active {
            super::password::mail_reset_link(st, &user, &FINISH_MAIL, client).await?;
        }
        Ok(())
    })
    .await?;
    Ok(Envelope::accepted(Accepted::YES))
}
