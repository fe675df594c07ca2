//! Deliveries (see repo/mod.rs for keys). TODO(me): bodies.

use chrono::{DateTime, Utc};
use shared::{store::Store, tenant::TenantId};

use crate::{
    domain::{Delivery, Status},
    error::NotifyResult,
};

/// Delivery `id` of tenant `t` (strongly consistent), if it exists.
pub async fn get(_store: &dyn Store, _t: &TenantId, _id: &str) -> NotifyResult<Option<Delivery>> {
    Ok(None)
}

/// Moves `d` to `to` (appending to its timeline, counting it in the metrics) if it is
/// still in the status it was read in and the state machine allows it. Returns the
/// updated delivery, or None when it had changed meanwhile or the move is not allowed.
pub async fn transition(
    _store: &dyn Store,
    _now: DateTime<Utc>,
    _d: &Delivery,
    _to: Status,
    _detail: Option<String>,
) -> NotifyResult<Option<Delivery>> {
    Ok(None)
}

/// The delivery a provider's message id belongs to (provider webhooks): its tenant and id.
pub async fn find_by_message_id(
    _store: &dyn Store,
    _provider_message_id: &str,
) -> NotifyResult<Option<Delivery>> {
    Ok(None)
}
