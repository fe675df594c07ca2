//! `POST /refresh` and the logouts. Rotation with reuse detection (ASVS 10.4.5): the
//! current token rotates once; the one it replaced, presented again inside the grace
//! window, gets the pair already issued (two tabs refreshing at once); presented later,
//! or any older token, revokes the whole family.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use shared::{ApiError, Envelope, extract::ApiJson};

use crate::{
    error::{AuthError, AuthResult},
    repo::{audit, sessions, tenants, users},
    state::{AuthState, LiveCaller},
    tokens::{RefreshToken, TokenPair},
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

pub async fn refresh(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Envelope<TokenPair>, ApiError> {
    let token = RefreshToken::parse(&body.refresh_token).ok_or_else(ApiError::token_invalid)?;
    Ok(Envelope::ok(rotate(&st, &token).await?))
}

async fn rotate(st: &AuthState, token: &RefreshToken) -> AuthResult<TokenPair> {
    let now = st.epoch();
    let presented = token.hash();
    // Two passes at most: a lost rotation race re-reads and takes the grace path.
    for _ in 0..2 {
        let session = sessions::get(st.store(), &token.tenant, &token.user_id, &token.session_id)
            .await?
            .ok_or(AuthError::Api(ApiError::token_invalid()))?;
        if session.revoked {
            return Err(AuthError::TokenRevoked);
        }
        if now >= session.absolute_expiry {
            return Err(AuthError::RefreshTokenExpired);
        }
        if shared::ids::secure_eq(presented.as_bytes(), session.rt_hash.as_bytes()) {
            let user = users::get(st.store(), &token.tenant, &token.user_id)
                .await?
                .ok_or(AuthError::TokenRevoked)?;
            let plan = tenants::plan_of(st.store(), &token.tenant).await?;
            let next = RefreshToken::new(token.tenant, &token.user_id, &token.session_id);
            let pair = TokenPair {
                access_token: st.issuer.access_token(&user, &plan, &session.id).await?,
                refresh_token: next.encode(),
                expires_in: st.issuer.access_ttl(),
                token_type: "Bearer".into(),
            };
            let sealed = st.issuer.seal(&pair).await?;
            let now_text = shared::clock::rfc3339_millis(st.now());
            if sessions::rotate(
                st.store(),
                &session,
                &presented,
                &next.hash(),
                &sealed,
                now,
                &now_text,
            )
            .await?
            {
                return Ok(pair);
            }
            continue;
        }
        let is_previous = session
            .rt_prev_hash
            .as_deref()
            .is_some_and(|p| shared::ids::secure_eq(presented.as_bytes(), p.as_bytes()));
        if is_previous && now - session.rotated_at <= st.cfg.refresh_grace_secs {
            if let Some(sealed) = &session.grace_pair
                && let Some(pair) = st.issuer.open(sealed).await?
            {
                return Ok(pair);
            }
        }
        // Reuse of a retired token: assume it was stolen; end the whole family.
        sessions::revoke(st.store(), &token.tenant, &token.user_id, &token.session_id).await?;
        audit::record(
            st.store(),
            st.now(),
            audit::Event {
                tenant: &token.tenant,
                kind: "session.revoked",
                actor: None,
                subject: Some(&token.user_id),
                details: json!({ "session": token.session_id, "reason": "refresh token reuse" }),
            },
        )
        .await;
        return Err(AuthError::TokenRevoked);
    }
    Err(AuthError::TokenRevoked)
}

/// `POST /logout`: revokes the caller's session and its refresh family.
pub async fn logout(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<serde_json::Value>, ApiError> {
    sessions::revoke(
        st.store(),
        &caller.tenant(),
        &caller.claims.sub,
        &caller.session.id,
    )
    .await?;
    audit_revoked(
        &st,
        &caller,
        json!({ "session": caller.session.id, "reason": "logout" }),
    )
    .await;
    Ok(Envelope::ok(json!({ "revoked": 1 })))
}

/// `POST /logout/all`: revokes every session of the caller.
pub async fn logout_all(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<serde_json::Value>, ApiError> {
    let now = st.epoch();
    let mut revoked = 0;
    for s in sessions::list(st.store(), &caller.tenant(), &caller.claims.sub).await? {
        if s.is_live(now) {
            sessions::revoke(st.store(), &caller.tenant(), &caller.claims.sub, &s.id).await?;
            revoked += 1;
        }
    }
    audit_revoked(
        &st,
        &caller,
        json!({ "sessions": revoked, "reason": "logout all" }),
    )
    .await;
    Ok(Envelope::ok(json!({ "revoked": revoked })))
}

async fn audit_revoked(st: &AuthState, caller: &LiveCaller, details: serde_json::Value) {
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &caller.tenant(),
            kind: "session.revoked",
            actor: Some(&caller.claims.sub),
            subject: Some(&caller.claims.sub),
            details,
        },
    )
    .await;
}
