//! The caller's own passkeys: list them, and remove one (a lost, stolen or replaced
//! device). Registration and sign-in are the ceremonies of the parent module.

use axum::extract::{Path, State};
use serde::Serialize;
use shared::{ApiError, Envelope, auth::Claims, openapi::Data};
use utoipa::ToSchema;

use super::security_event;
use crate::{
    AuthState,
    error::AuthError,
    repo::credentials::{self, StoredCredential},
    state::LiveCaller,
};

/// A passkey of the caller's.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyView {
    /// Names the passkey in `DELETE /auth/v1/webauthn/credentials/{passkeyId}` (the
    /// SHA-256, hex, of its credential id).
    #[schema(example = "3f1c9a0b5e7d2c4f6a8b0d1e3f5a7c9b1d3e5f7a9c0b2d4e6f8a0c1e3b5d7f9a")]
    pub id: String,
    /// The credential's id as the authenticator knows it, base64url.
    pub credential_id: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The last sign-in with it; null: never used.
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
}

impl PasskeyView {
    fn of(c: &StoredCredential) -> Self {
        PasskeyView {
            id: credentials::passkey_id(&c.credential_id),
            credential_id: c.credential_id.clone(),
            created_at: c.created_at.clone(),
            last_used_at: c.last_used_at.clone(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/auth/v1/webauthn/credentials",
    operation_id = "webauthn_list_passkeys",
    tag = "webauthn",
    summary = "List your passkeys",
    description = "The caller's passkeys, oldest first, with when each was last used to sign in.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's passkeys", body = Data<Vec<PasskeyView>>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
    )
)]
pub async fn list(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<Vec<PasskeyView>>, ApiError> {
    let mut stored = credentials::list(st.store(), &caller.tenant(), &caller.claims.sub).await?;
    stored.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(Envelope::ok(stored.iter().map(PasskeyView::of).collect()))
}

/// What `DELETE /webauthn/credentials/{passkeyId}` removed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRemoved {
    pub id: String,
    pub removed: bool,
}

#[utoipa::path(
    delete,
    path = "/auth/v1/webauthn/credentials/{passkeyId}",
    operation_id = "webauthn_remove_passkey",
    tag = "webauthn",
    summary = "Remove one of your passkeys",
    description = "The passkey can no longer sign in (a lost, stolen or replaced device), and its \
        credential id may be registered again. Sessions it opened are not ended: \
        `POST /auth/v1/logout/all` does that. Needs a session opened in the last 10 minutes, as \
        adding one does. An admin removes all of a user's second factors, passkeys included, with \
        `DELETE /auth/v1/users/{userId}/mfa`.",
    security(("bearerAuth" = [])),
    params(("passkeyId" = String, Path, description = "The `id` of a passkey of `GET /auth/v1/webauthn/credentials`")),
    responses(
        (status = 200, description = "The passkey is removed", body = Data<PasskeyRemoved>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_REAUTHENTICATION_REQUIRED`: the session was opened more \
            than 10 minutes ago; sign in again"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the caller has no passkey with this id"),
    )
)]
pub async fn remove(
    State(st): State<AuthState>,
    claims: Claims,
    Path(passkey_id): Path<String>,
) -> Result<Envelope<PasskeyRemoved>, ApiError> {
    // The session and the passkey in one batch read; an id that is not 64 hex digits
    // names no passkey and is not read.
    let well_formed = passkey_id.len() == 64
        && passkey_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let key = credentials::key_by_id(&claims.home_tenant(), &claims.sub, &passkey_id);
    let (caller, stored) = if well_formed {
        let (caller, [item]) = LiveCaller::check_with(claims, &st, [key]).await?;
        let stored = item.as_ref().map(credentials::from_item).transpose()?;
        (caller, stored)
    } else {
        let (caller, []) = LiveCaller::check_with(claims, &st, []).await?;
        (caller, None)
    };
    // 401, then 403, then 404: whether a passkey exists is told to a recent session only.
    caller.require_recent_sign_in(st.epoch())?;
    let stored = stored.ok_or(AuthError::NotFound)?;
    if !credentials::remove(st.store(), &stored).await? {
        return Err(AuthError::NotFound.into());
    }
    security_event(&st, &caller.tenant(), "mfa.webauthn_removed", &stored).await;
    crate::notices::send(
        &st,
        &caller.claims.email,
        crate::notices::Notice::PasskeyRemoved,
    )
    .await;
    Ok(Envelope::ok(PasskeyRemoved {
        id: passkey_id,
        removed: true,
    }))
}
