//! The audit trail: every security event as an item and a log line. Writing it never
//! fails the request (the event already happened); a failed write is logged.

use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::{
    store::{Item, Put, Store, attr},
    tenant::TenantId,
};

/// Kept for 400 days.
const RETENTION_SECS: i64 = 400 * 24 * 3600;

pub struct Event<'a> {
    pub tenant: &'a TenantId,
    /// `login.succeeded`, `login.failed`, `account.locked`, `mfa.enabled`, …
    pub kind: &'static str,
    pub actor: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub details: Value,
}

pub async fn record(store: &dyn Store, at: DateTime<Utc>, event: Event<'_>) {
    let id = shared::ids::new_id().to_string();
    let key = super::audit(
        event.tenant,
        &at.format("%Y-%m").to_string(),
        format!("{}#{id}", shared::clock::rfc3339_millis(at)),
    );
    tracing::info!(
        target: "audit",
        tenant = %event.tenant,
        event = event.kind,
        actor = event.actor.unwrap_or(""),
        subject = event.subject.unwrap_or(""),
        "security event"
    );
    let item = Item::new(&key)
        .with("id", id)
        .with("kind", event.kind)
        .with("at", shared::clock::rfc3339_millis(at))
        .with("actor", event.actor.unwrap_or(""))
        .with("subject", event.subject.unwrap_or(""))
        .with("details", event.details.to_string())
        .with(attr::EXPIRES_AT, at.timestamp() + RETENTION_SECS);
    if let Err(e) = store.put(Put::new(item)).await {
        tracing::warn!(error = %e, event = event.kind, "could not write an audit event");
    }
}
