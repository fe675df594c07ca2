//! Route group `account`: accounts by email — signup and verification, password
//! forgot/reset/change, magic links. (One Lambda function in template.yaml.)
//!
//! Every link travels only in a mail (`{link_base_url}/<page>?token=<token>`); the token
//! is a one-time token (repo::one_time), never logged nor echoed in a response.
//! forgot/resend/magic-link answer 202 whether or not the account exists, after the same
//! store reads and no sooner than `MIN_ANSWER` (no enumeration by answer or timing).

pub mod magic;
pub mod password;
pub mod signup;

use std::time::Duration;

use axum::{Router, routing::post};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{ApiError, mail::Mail, tenant::TenantId};
use utoipa::ToSchema;

use crate::{
    domain::{Email, Password, User, UserStatus},
    error::{AuthError, AuthResult},
    repo::{mail_limit, one_time::Redeemed, sessions, users},
    signin::{self, LoginResponse, MfaChallenge},
    state::{AuthState, ClientMeta},
};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/v1/signup/email"),
    ("POST", "/auth/v1/signup/verify"),
    ("POST", "/auth/v1/signup/resend"),
    ("POST", "/auth/v1/password/forgot"),
    ("POST", "/auth/v1/password/reset"),
    ("POST", "/auth/v1/password/change"),
    ("POST", "/auth/v1/passwordless/magic-link"),
    ("POST", "/auth/v1/passwordless/verify"),
];

/// The routes that answer tokens (the two `verify`s) stay outside the Idempotency-Key
/// layer: it would keep their response — a refresh token in clear — for 24 hours, and
/// their single-use token already makes a retry harmless. Every other route honours it.
pub fn router(st: &AuthState) -> Router<AuthState> {
    // The public routes' replays need no session (a token sent along is not what they
    // answer to); the one bearer route's do.
    let public = shared::idempotency::honour(
        Router::new()
            .route("/auth/v1/signup/email", post(signup::signup))
            .route("/auth/v1/signup/resend", post(signup::resend))
            .route("/auth/v1/password/forgot", post(password::forgot))
            .route("/auth/v1/password/reset", post(password::reset))
            .route("/auth/v1/passwordless/magic-link", post(magic::magic_link)),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    );
    let bearer = super::idempotent(
        Router::new().route("/auth/v1/password/change", post(password::change)),
        st,
    );
    let idempotent = public.merge(bearer);
    Router::new()
        .route("/auth/v1/signup/verify", post(signup::verify))
        .route("/auth/v1/passwordless/verify", post(magic::verify))
        // Only the two verify routes answer tokens (route_layer covers routes added so far).
        .route_layer(super::no_store())
        .merge(idempotent)
}

/// `{token}` of the verify routes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The single-use token of the mailed link (its `token` query parameter).
    pub token: String,
}

crate::redact::redacted_debug!(TokenBody {} secret { token });

/// `{email}` of resend and forgot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    #[schema(example = "partner@eventzr.com")]
    pub email: String,
}

/// The `data` of every 202: the same whether or not a mail went out.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = true)]
    accepted: bool,
}

impl Accepted {
    pub const YES: Accepted = Accepted { accepted: true };
}

/// What a completed sign-in answers: tokens, or the MFA challenge for MFA accounts
/// (documented as `SignInAnswer`, which serializes the same).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SignIn {
    Tokens(Box<LoginResponse>),
    Mfa(MfaChallenge),
}

/// Where a mailed link leads `user`, decided before the link is spent (so a refusal
/// leaves it usable): the MFA challenge (a link never skips the second factor), or a
/// session the tenant admits.
enum Next {
    Mfa,
    Session(signin::Admission),
}

/// 403 ACCOUNT_SUSPENDED for a suspended account or tenant, 429 at a strict tenant's
/// session limit; otherwise what [`sign_in`] will do.
async fn admit(st: &AuthState, user: &User) -> AuthResult<Next> {
    if user.status == UserStatus::Suspended {
        return Err(AuthError::AccountSuspended);
    }
    if user.mfa_enabled() {
        return Ok(Next::Mfa);
    }
    Ok(Next::Session(signin::admit(st, user).await?))
}

/// Signs `user` in after a mailed link proved the address, as [`admit`] decided.
async fn sign_in(
    st: &AuthState,
    user: &User,
    next: Next,
    meta: &ClientMeta,
    method: &str,
) -> AuthResult<SignIn> {
    Ok(match next {
        Next::Mfa => SignIn::Mfa(signin::mfa_challenge(st, user).await?),
        Next::Session(admission) => SignIn::Tokens(Box::new(
            signin::open(st, user, admission, meta, method).await?,
        )),
    })
}

pub fn parse_email(raw: &str) -> Result<Email, ApiError> {
    // These routes find an account: one stored under the earlier rules too.
    Email::lookup(raw).map_err(|f| ApiError::validation(vec![f]))
}

/// A new password under the policy; WEAK_PASSWORD names `field` (`password` at signup,
/// `newPassword` on reset and change).
pub fn new_password(raw: String, email: &Email, field: &str) -> Result<Password, ApiError> {
    Password::new_for(raw, email).map_err(|e| match e {
        AuthError::WeakPassword(why) => weak_password(field, why),
        e => e.into(),
    })
}

/// 400 WEAK_PASSWORD naming `field`.
pub fn weak_password(field: &str, why: impl Into<String>) -> ApiError {
    let why = why.into();
    let details = json!({"fields": [{"field": field, "issue": why}]});
    ApiError::new(StatusCode::BAD_REQUEST, "WEAK_PASSWORD", why).with_details(details)
}

/// argon2id off the async runtime's threads.
async fn hash(st: &AuthState, password: Password) -> AuthResult<String> {
    let hasher = st.hasher.clone();
    tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?
}

/// The user a redeemed token was issued for (TOKEN_INVALID if it no longer exists).
async fn user_of(st: &AuthState, redeemed: &Redeemed) -> AuthResult<User> {
    let (Some(tenant), Some(id)) = (&redeemed.tenant, &redeemed.user_id) else {
        return Err(AuthError::OneTimeTokenInvalid);
    };
    let user = users::get(st.store(), tenant, id)
        .await?
        .ok_or(AuthError::OneTimeTokenInvalid)?;
    // A mailed link carries the fingerprint of the password it was mailed under
    // ([`stamped`]): a reset or a change since (the "I have been compromised" action)
    // ends every link mailed before it. Links mailed before links carried one have none.
    match redeemed.data.get("stamp").and_then(|s| s.as_str()) {
        Some(stamp) if stamp != signin::credential_stamp(&user) => {
            Err(AuthError::OneTimeTokenInvalid)
        }
        _ => Ok(user),
    }
}

/// `data` of a link mailed to `user`, with the fingerprint of their current password
/// ([`user_of`] refuses the link once the password changed).
fn stamped(user: &User, mut data: serde_json::Value) -> serde_json::Value {
    if let Some(map) = data.as_object_mut() {
        map.insert("stamp".into(), signin::credential_stamp(user).into());
    }
    data
}

/// Revokes every live session of `user` but `keep`; returns how many.
pub(crate) async fn revoke_sessions(
    st: &AuthState,
    user: &User,
    keep: Option<&str>,
) -> AuthResult<usize> {
    let tenant = signin::tenant_of(user)?;
    sessions::revoke_live(st.store(), &tenant, &user.id, keep, st.epoch()).await
}

/// The least time forgot/resend/magic-link take: the known-account branch also writes
/// a token and calls the mail provider, which the unknown branch cannot imitate.
const MIN_ANSWER: Duration = Duration::from_millis(250);

/// Runs `work` for the account behind `email` (if any) so that an unknown address reads
/// the same items (by_email stops after the lock when there is no account: one more
/// read) and answers after the same floor.
async fn for_account<F, Fut>(st: &AuthState, email: &Email, work: F) -> AuthResult<()>
where
    F: FnOnce(User) -> Fut,
    Fut: Future<Output = AuthResult<()>>,
{
    let started = tokio::time::Instant::now();
    let outcome = async {
        match users::by_email(st.store(), email).await? {
            Some(user) => work(user).await,
            None => users::get(st.store(), &TenantId::SYSTEM, "absent")
                .await
                .map(drop),
        }
    }
    .await;
    tokio::time::sleep_until(started + MIN_ANSWER).await;
    outcome
}

/// Takes one of `user`'s link mails for this hour, asked by `client`
/// (`repo::mail_limit`): false when they are spent, and then the caller issues no token
/// and sends nothing.
async fn mail_allowed(
    st: &AuthState,
    user: &User,
    kind: &LinkMail,
    client: &ClientMeta,
) -> AuthResult<bool> {
    let tenant = signin::tenant_of(user)?;
    let source = client.ip.as_deref();
    let allowed = mail_limit::take(st.store(), &tenant, &user.id, source, st.now()).await?;
    if !allowed {
        tracing::info!(
            page = kind.page,
            per_source = mail_limit::PER_SOURCE,
            per_account = mail_limit::PER_ACCOUNT,
            "link mail not sent: the account's hourly limit is spent"
        );
    }
    Ok(allowed)
}

/// Mails `user` a single-use link of `kind` (valid `ttl_secs`, carrying `data` stamped
/// with their current password) in `mail`'s words, within the account's hourly limit.
async fn mail_link(
    st: &AuthState,
    user: &User,
    (kind, ttl_secs): (crate::repo::one_time::Kind, i64),
    data: serde_json::Value,
    mail: &LinkMail,
    client: &ClientMeta,
) -> AuthResult<()> {
    if !mail_allowed(st, user, mail, client).await? {
        return Ok(());
    }
    let token = crate::repo::one_time::issue(
        st.store(),
        kind,
        Some(&signin::tenant_of(user)?),
        Some(&user.id),
        stamped(user, data),
        st.epoch(),
        ttl_secs,
    )
    .await?;
    send_link(st, &user.email, mail, &token).await;
    Ok(())
}

/// One kind of link mail.
pub struct LinkMail {
    pub subject: &'static str,
    /// "… open this link to <action>".
    pub action: &'static str,
    /// The front end's page the link opens.
    pub page: &'static str,
    pub valid_for: &'static str,
}

/// Mails `token` as a link. A mail failure is logged, not answered: the caller answers
/// the same either way (and can ask again), so it reveals nothing.
async fn send_link(st: &AuthState, to: &str, kind: &LinkMail, token: &str) {
    let link = format!(
        "{}/{}?token={token}",
        st.cfg.link_base_url.trim_end_matches('/'),
        kind.page
    );
    let (action, valid_for) = (kind.action, kind.valid_for);
    let ignore = "If you did not ask for this, ignore this mail and do not open the link; \
                  nothing changes.";
    let mail = Mail {
        to: vec![to.to_owned()],
        subject: kind.subject.to_owned(),
        text: format!(
            "Hello,\n\nOpen this link to {action} (valid for {valid_for}):\n\n{link}\n\n{ignore}\n\n— EventZR\n"
        ),
        html: Some(format!(
            "<p>Hello,</p><p>Open this link to {action} (valid for {valid_for}):</p>\
             <p><a href=\"{link}\">{link}</a></p><p>{ignore}</p><p>— EventZR</p>"
        )),
    };
    if let Err(e) = st.platform.mailer.send(&mail).await {
        tracing::warn!(error = %e, page = kind.page, "could not send a link mail");
    }
}
