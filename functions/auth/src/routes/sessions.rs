//! `GET /sessions`, `DELETE /sessions/{sessionId}`: the caller's own sessions only.

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::json;
use shared::{ApiError, Envelope};

use crate::{
    error::AuthError,
    repo::{audit, sessions},
    state::{AuthState, LiveCaller},
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current: bool,
}

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

pub async fn revoke(
    State(st): State<AuthState>,
    caller: LiveCaller,
    Path(session_id): Path<String>,
) -> Result<Envelope<serde_json::Value>, ApiError> {
    // Session ids are UUIDs; anything else (say, a 2 KiB path segment that DynamoDB would
    // refuse as a key) cannot name a session.
    if uuid::Uuid::parse_str(&session_id).is_err() {
        return Err(AuthError::SessionNotFound.into());
    }
    // Keyed under the caller's own user: another user's session id is simply not found.
    let live = sessions::get(
        st.store(),
        &caller.tenant(),
        &caller.claims.sub,
        &session_id,
    )
    .await?
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
    Ok(Envelope::ok(json!({ "id": live.id, "revoked": true })))
}
