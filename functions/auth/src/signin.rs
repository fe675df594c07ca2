//! Completing a sign-in — whichever way the user proved who they are (password, MFA,
//! verified email, magic link, OAuth, WebAuthn): a new session within the session
//! limit, a token pair, an audit event.

use serde::Serialize;
use serde_json::json;
use shared::tenant::TenantId;
use utoipa::ToSchema;

use crate::{
    domain::{User, UserStatus},
    error::{AuthError, AuthResult},
    repo::{
        audit, one_time,
        sessions::{self, Session},
        tenants, users,
    },
    state::{AuthState, ClientMeta},
    tokens::{RefreshToken, TokenPair},
};

/// The `user` of a login response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginUser {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub tenant_id: String,
    pub plan_tier: String,
}

/// Tokens for a completed sign-in, and who signed in.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: LoginUser,
}

/// The MFA challenge answered instead of tokens: send `mfaToken` with a code to
/// `POST /auth/v1/mfa/totp/verify` within 5 minutes.
#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaChallenge {
    #[schema(example = true)]
    pub mfa_required: bool,
    pub mfa_token: String,
    #[schema(example = json!(["totp"]))]
    pub available_methods: Vec<&'static str>,
}

crate::redact::redacted_debug!(
    MfaChallenge { mfa_required, available_methods } secret { mfa_token }
);

/// What a password (or magic-link, OAuth) step answers: tokens, or the MFA challenge.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a schema only: the handlers answer one of the two
pub enum SignInAnswer {
    Tokens(LoginResponse),
    MfaChallenge(MfaChallenge),
}

pub const MFA_TOKEN_TTL: i64 = 300;

pub fn tenant_of(user: &User) -> AuthResult<TenantId> {
    TenantId::parse(&user.tenant_id).map_err(|e| AuthError::Internal(e.to_string()))
}

/// A single-use, 5-minute MFA challenge for `user`; 403 when their tenant is suspended,
/// as a sign-in without MFA is refused at this step (the code step would refuse it too,
/// after the person typed a code for nothing).
pub async fn mfa_challenge(st: &AuthState, user: &User) -> AuthResult<MfaChallenge> {
    let tenant = tenants::get(st.store(), &tenant_of(user)?).await?;
    if tenant.is_some_and(|t| t.is_suspended()) {
        return Err(AuthError::TenantSuspended);
    }
    let token = one_time::issue(
        st.store(),
        one_time::Kind::Mfa,
        Some(&tenant_of(user)?),
        Some(&user.id),
        json!({ "stamp": credential_stamp(user) }),
        st.epoch(),
        MFA_TOKEN_TTL,
    )
    .await?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: token,
        available_methods: vec!["totp"],
    })
}

/// A short fingerprint of the password `user` signed in with, kept in an MFA challenge:
/// a reset or change between the password step and the code ends the challenge (the
/// hash itself never leaves the user's item).
pub fn credential_stamp(user: &User) -> String {
    let hash = user.password_hash.as_deref().unwrap_or_default();
    shared::ids::sha256_hex(hash.as_bytes())[..16].to_owned()
}

/// Opens a session for `user` and issues its first token pair.
pub async fn complete(
    st: &AuthState,
    user: &User,
    meta: &ClientMeta,
    method: &str,
) -> AuthResult<LoginResponse> {
    let admission = admit(st, user).await?;
    open(st, user, admission, meta, method).await
}

/// What [`admit`] found: the tenant's plan, and the live sessions to end for the new one.
pub struct Admission {
    plan: String,
    strict: bool,
    evict: Vec<Session>,
}

/// Whether `user` may get a new session, decided before anything is written: 403
/// ACCOUNT_SUSPENDED for a suspended tenant, 429 MAX_SESSIONS_REACHED at the limit of
/// a strict tenant. A flow that spends a single-use token (a mailed link, an MFA
/// challenge) asks this first, so a refusal leaves the token and the account as they were.
pub async fn admit(st: &AuthState, user: &User) -> AuthResult<Admission> {
    let tenant = tenants::get(st.store(), &tenant_of(user)?).await?;
    if tenant.as_ref().is_some_and(|t| t.is_suspended()) {
        return Err(AuthError::TenantSuspended);
    }
    let plan = tenant
        .as_ref()
        .map(|t| t.plan_tier.clone())
        .unwrap_or_else(|| "BASE".into());
    let strict = tenant.as_ref().is_some_and(|t| t.strict_sessions);
    let evict = sessions_to_end(st, user, strict).await?;
    Ok(Admission {
        plan,
        strict,
        evict,
    })
}

/// A sign-in answers for the tenant it signed into: `meta.tenant_id` and the access log
/// show it as they do for a request with a token.
pub fn answer_for(tenant: &TenantId) {
    if let Some(ctx) = shared::context::current() {
        ctx.set_tenant(*tenant);
    }
}

/// Opens the session [`admit`] allowed and issues its first token pair.
pub async fn open(
    st: &AuthState,
    user: &User,
    admission: Admission,
    meta: &ClientMeta,
    method: &str,
) -> AuthResult<LoginResponse> {
    let tenant_id = tenant_of(user)?;
    let Admission {
        plan,
        strict,
        evict,
    } = admission;
    let now = st.now();
    let session_id = shared::ids::new_id().to_string();
    end_sessions(st, &tenant_id, user, &evict, &session_id).await?;
    let refresh = RefreshToken::new(tenant_id, &user.id, &session_id);
    let session = Session {
        id: session_id.clone(),
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        created_at: shared::clock::rfc3339_millis(now),
        created_epoch: now.timestamp(),
        last_used_at: shared::clock::rfc3339_millis(now),
        user_agent: meta.user_agent.clone(),
        ip: meta.ip.clone(),
        rt_hash: refresh.hash(),
        rt_prev_hash: None,
        rt_retired: Vec::new(),
        rotated_at: 0,
        grace_pair: None,
        absolute_expiry: now.timestamp() + st.cfg.refresh_ttl_secs,
        revoked: false,
    };
    sessions::put_new(st.store(), &session).await?;
    match settle(st, user, &session_id, strict).await {
        Ok(late) => end_sessions(st, &tenant_id, user, &late, &session_id).await?,
        Err(refused) => {
            // The session must not outlive the refusal, even by an access token's minutes.
            sessions::revoke(st.store(), &tenant_id, &user.id, &session_id).await?;
            return Err(refused);
        }
    }
    // A completed sign-in clears the password guesses counted against the account,
    // whatever proved it: a mailed link or a passkey proves as much as the password (which
    // cleared them already when it was the proof; no write then).
    if user.failed_logins > 0 || user.locked_until > 0 {
        users::clear_failures(st.store(), user).await?;
    }
    let access = st.issuer.access_token(user, &plan, &session_id).await?;
    answer_for(&tenant_id);
    audit::record(
        st.store(),
        now,
        audit::Event {
            tenant: &tenant_id,
            kind: "login.succeeded",
            actor: Some(&user.id),
            subject: Some(&user.id),
            details: json!({ "method": method, "session": session_id }),
        },
    )
    .await;
    Ok(LoginResponse {
        tokens: TokenPair {
            access_token: access,
            refresh_token: refresh.encode(),
            expires_in: st.issuer.access_ttl(),
            token_type: "Bearer".into(),
        },
        user: LoginUser {
            id: user.id.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            tenant_id: user.tenant_id.clone(),
            plan_tier: plan,
        },
    })
}

/// Ends `evict` for the session `by`, each revocation audited like any other
/// (auth-svc.md "Every security event"), saying why.
async fn end_sessions(
    st: &AuthState,
    tenant_id: &TenantId,
    user: &User,
    evict: &[Session],
    by: &str,
) -> AuthResult<()> {
    for old in evict {
        sessions::revoke(st.store(), tenant_id, &user.id, &old.id).await?;
        audit::record(
            st.store(),
            st.now(),
            audit::Event {
                tenant: tenant_id,
                kind: "session.revoked",
                actor: Some(&user.id),
                subject: Some(&user.id),
                details: json!({
                    "session": old.id,
                    "reason": "evicted at the session limit",
                    "by": by,
                }),
            },
        )
        .await;
    }
    Ok(())
}

/// Whether the session just written may stand, read again (strongly, the user and their
/// sessions in one query) once it exists; `Ok` holds the sessions it must still end.
/// - A password reset or change, or a suspension, that lands while a sign-in is checking
///   the password revokes the sessions it lists, and a session written after that
///   listing would survive it: when the user shows a change, the sign-in is refused.
/// - Concurrent sign-ins each found room under the session limit before any of them
///   wrote. Counted again now, the limit holds: the oldest sessions end, or, in a strict
///   tenant, the sign-in that finds itself over the limit is refused (two at once may
///   both be, never both admitted).
async fn settle(
    st: &AuthState,
    user: &User,
    session_id: &str,
    strict: bool,
) -> AuthResult<Vec<Session>> {
    let (current, sessions) = sessions::with_user(st.store(), &tenant_of(user)?, &user.id).await?;
    match current {
        Some(u) if u.status == UserStatus::Suspended => return Err(AuthError::AccountSuspended),
        Some(u) if u.password_hash == user.password_hash && u.status == user.status => {}
        _ => return Err(AuthError::InvalidCredentials),
    }
    let now = st.epoch();
    let others: Vec<Session> = sessions
        .into_iter()
        .filter(|s| s.id != session_id && s.is_live(now))
        .collect();
    let excess = (others.len() + 1).saturating_sub(st.cfg.session_limit);
    if excess == 0 {
        return Ok(Vec::new());
    }
    if strict {
        return Err(AuthError::MaxSessionsReached);
    }
    Ok(others.into_iter().take(excess).collect())
}

/// At most `session_limit` live sessions: the oldest end (returned here, revoked by
/// [`open`]), or — in a tenant with strict sessions — the new login is refused with 429
/// MAX_SESSIONS_REACHED.
async fn sessions_to_end(st: &AuthState, user: &User, strict: bool) -> AuthResult<Vec<Session>> {
    let tenant = tenant_of(user)?;
    let now = st.epoch();
    let mut live: Vec<Session> = sessions::list(st.store(), &tenant, &user.id)
        .await?
        .into_iter()
        .filter(|s| s.is_live(now))
        .collect();
    if live.len() < st.cfg.session_limit {
        return Ok(Vec::new());
    }
    if strict {
        return Err(AuthError::MaxSessionsReached);
    }
    let excess = live.len() + 1 - st.cfg.session_limit;
    live.truncate(excess);
    Ok(live)
}
