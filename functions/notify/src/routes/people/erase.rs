//! `DELETE /users/{userId}`: everything notify holds about a person, erased — what a
//! privacy request, or the deletion of their account, asks of it.

use axum::{
    Router,
    extract::{Path, State},
    routing::delete,
};
use serde::Serialize;
use shared::{ApiError, Envelope, access::Role, auth::Claims, openapi::Data};
use utoipa::{OpenApi, ToSchema};

use super::devices::forget;
use crate::{
    error::NotifyError,
    repo::{
        counters,
        deliveries::{self, Scope},
        devices, erasure, inbox, preferences,
    },
    state::NotifyState,
};

// Routes (listed in the parent module):
// ("DELETE", "/notify/v1/users/{userId}"),

/// Not behind the Idempotency-Key layer: the call is safe to repeat as it is, and a
/// stored first answer (`complete: false`) replayed would hide the progress of the next.
pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new().route("/notify/v1/users/{userId}", delete(erase))
}

/// Deliveries one request erases at most (each a read and a transaction); a person with
/// more is erased over several calls (`complete: false` until the last).
pub const DELIVERIES_PER_CALL: u32 = 100;

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserErased {
    #[schema(example = "b0000001-0000-4000-8000-000000000002")]
    pub user_id: String,
    /// Deliveries addressed to the person (by `userId`) erased by this call, with their
    /// due entries and inbox items: a scheduled one will not go out.
    pub deliveries_erased: usize,
    /// Push devices unregistered at the provider and forgotten.
    pub devices_removed: usize,
    /// In-app items left in the inbox that were erased (besides those of erased
    /// deliveries), and the unread count with them.
    pub inbox_items_erased: usize,
    /// Whether the person had preferences of their own (now gone: the tenant's defaults
    /// would apply).
    pub preferences_erased: bool,
    /// Their own daily metrics counters erased (the tenant's counters keep counting their
    /// deliveries, by status and channel only).
    pub metrics_erased: usize,
    /// False while deliveries to the person remain (over [`DELIVERIES_PER_CALL`] a call):
    /// call again.
    pub complete: bool,
}

#[utoipa::path(
    delete,
    path = "/notify/v1/users/{userId}",
    operation_id = "erase_user",
    tag = "people",
    summary = "Erase everything notify holds about a person",
    description = "For a privacy request, or when the person's account is deleted (call it \
        before `DELETE /auth/v1/profile`, while the token still works, or as an admin after \
        `DELETE /auth/v1/users/{userId}`). Erases the deliveries addressed to the person's \
        `userId` (a scheduled one will not go out), unregisters and forgets their push \
        devices, empties their in-app inbox and unread count, and deletes their own \
        preferences. At most 100 deliveries a call: `complete` is false while more remain, \
        and the same call again goes on (every part is safe to repeat). For 20 minutes, the \
        person's tokens issued before the call cannot register a device or save preferences \
        again (401 `ERR_NOTIFY_TOKEN_REVOKED`). Deliveries sent to \
        the person's email or phone without their `userId` are not found by it: erase those \
        with `DELETE /deliveries/{deliveryId}`. A person may erase themselves; anyone else \
        needs the `admin` role.",
    params(
        ("userId" = String, Path, description = "The person's id, as `recipients[].userId` names it \
            (1-128 letters, digits or `-_.@:`; anything else names nobody: 404)"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "What was erased", body = Data<UserErased>),
        (status = 401, description = "`ERR_NOTIFY_UNAUTHORIZED`: no valid token"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: another person, without the `admin` role"),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: the userId is not one a recipient can have"),
        (status = 503, description = "`ERR_NOTIFY_PROVIDER_UNAVAILABLE`: the push provider cannot \
            be reached to unregister a device; what was erased stays erased, call again"),
    )
)]
pub async fn erase(
    State(st): State<NotifyState>,
    caller: Claims,
    Path(user_id): Path<String>,
) -> Result<Envelope<UserErased>, ApiError> {
    if caller.sub != user_id {
        caller.require_role(Role::Admin)?;
    }
    // What `recipients[].userId` accepts: anything else names nobody (and a long or `#`
    // laden segment must not reach a key).
    if !crate::domain::is_recipient_user_id(&user_id) {
        return Err(NotifyError::NotFound.into());
    }
    let (t, store) = (caller.tenant(), st.store());
    // The index of a person's deliveries is eventually consistent: a delivery erased a
    // moment ago may be listed again, and is then simply not found.
    let scope = Scope::User(user_id.clone());
    let (listed, more) =
        deliveries::page(store, &t, &scope, (None, None), None, DELIVERIES_PER_CALL).await?;
    let mut deliveries_erased = 0;
    for d in &listed {
        deliveries_erased += usize::from(deliveries::erase(store, &t, &d.id).await?.is_some());
    }
    let found = devices::list(store, &t, &user_id).await?;
    for device in &found {
        forget(&st, &t, &user_id, device).await?;
    }
    let inbox_items_erased = inbox::clear(store, &t, &user_id).await?;
    let preferences_erased = preferences::erase_own(store, &t, &user_id).await?;
    let metrics_erased = counters::erase_user_metrics(store, &t, &user_id).await?;
    // The person's tokens issued until now stay valid elsewhere for their minutes: they
    // must not register a device or save preferences again (`repo::erasure`).
    erasure::mark(store, &t, &user_id, st.epoch()).await?;
    tracing::info!(by = %caller.sub, deliveries_erased, devices = found.len(), "person erased");
    Ok(Envelope::ok(UserErased {
        user_id,
        deliveries_erased,
        devices_removed: found.len(),
        inbox_items_erased,
        preferences_erased,
        metrics_erased,
        complete: more.is_none() && listed.len() < DELIVERIES_PER_CALL as usize,
    }))
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(erase))]
    struct Doc;
    Doc::openapi()
}
