//! `GET /sessions`, `DELETE /sessions/{sessionId}`: the caller's own sessions only.

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::json;
use shared::{ApiError, Envelope, auth::Claims, openapi::Data};
use utoipa::ToSchema;

use crate::{
    error::AuthError,
    repo::{self, audit, sessions},
    state::{AuthState, LiveCaller},
};

/// One live session of the caller.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    #[schema(format = "uuid")]
    pub id: String,
    /// When the session was opened (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When its refresh token was last rotated (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub last_used_at: String,
    /// The `User-Agent` of the sign-in (at most 256 characters), when sent.
    pub user_agent: Option<String>,
    /// The address the sign-in came from as API Gateway saw it (never what the client
    /// put in `X-Forwarded-For`), when known.
    pub ip: Option<String>,
    /// True for the session of the access token making this request.
    pub current: bool,
}

/// A revoked session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionRevoked {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = true)]
    pub revoked: bool,
}

#[utoipa::path(
    get,
    path = "/auth/v1/sessions",
    operation_id = "list_sessions",
    tag = "session",
    summary = "The caller's live sessions",
    description = "Every live session of the caller (its own only), newest first; `current` \
        marks the one of this access token. Not paged: the session limit (10 by default) bounds it.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The sessions", body = Data<Vec<SessionView>>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
    )
)]
pub async fn list(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<Vec<SessionView>>, ApiError> {
    let now = st.epoch();
    let views = sessions::list(st.store(), &caller.tenant(), &caller.claims.sub)
        .await?
        .into_iter()
        .filter(|s| s.is_live(now))
        .rev()
        .map(|s| SessionView {
            current: s.id == caller.session.id,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(Envelope::ok(views))
}

#[utoipa::path(
    delete,
    path = "/auth/v1/sessions/{sessionId}",
    operation_id = "revoke_session",
    tag = "session",
    summary = "Revoke one of the caller's sessions",
    description = "Ends the session and its refresh token (signs out that device). Only the \
        caller's own sessions can be named; revoking the current one logs this token out.",
    security(("bearerAuth" = [])),
    params(("sessionId" = String, Path, format = "uuid", description = "The `id` of a session of `GET /auth/v1/sessions`")),
    responses(
        (status = 200, description = "The session is revoked", body = Data<SessionRevoked>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session of the access token was logged out or revoked"),
        (status = 404, description = "`ERR_AUTH_SESSION_NOT_FOUND`: no live session of the caller has this id \
            (already revoked or expired, another user's, or not a UUID)"),
    )
)]
pub async fn revoke(
    State(st): State<AuthState>,
    claims: Claims,
    Path(session_id): Path<String>,
) -> Result<Envelope<SessionRevoked>, ApiError> {
    // The caller's session and the target in one batch read. The target is keyed under
    // the caller's own user: another user's session id is simply not found. Session ids
    // are UUIDs; anything else (say, a 2 KiB path segment that DynamoDB would refuse as a
    // key) cannot name a session, and is not read. The caller's own session is the one
    // the check reads already (a batch's keys must differ).
    let own = claims.session_id.as_deref() == Some(session_id.as_str());
    let other = (!own && uuid::Uuid::parse_str(&session_id).is_ok())
        .then(|| repo::session(&claims.home_tenant(), &claims.sub, &session_id));
    let (caller, target) = match other {
        Some(key) => {
            let (caller, [item]) = LiveCaller::check_ending(claims, &st, [key]).await?;
            let target = item.as_ref().map(sessions::from_item).transpose()?;
            (caller, target)
        }
        None => {
            let (caller, []) = LiveCaller::check_ending(claims, &st, []).await?;
            let target = own.then(|| caller.session.clone());
            (caller, target)
        }
    };
    let live = target
        .filter(|s| s.is_live(st.epoch()))
        .ok_or(AuthError::SessionNotFound)?;
    sessions::revoke(st.store(), &caller.tenant(), &caller.claims.sub, &live.id).await?;
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &caller.tenant(),
            kind: "session.revoked",
            actor: Some(&caller.claims.sub),
            subject: Some(&caller.claims.sub),
            details: json!({ "session": live.id, "reason": "revoked by owner" }),
        },
    )
    .await;
    Ok(Envelope::ok(SessionRevoked {
        id: live.id,
        revoked: true,
    }))
}
