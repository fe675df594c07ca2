//! notify-svc's items in its table. Every tenant item's partition starts `T#<tenant>`;
//! the few global items (dispatch queue, provider message ids, webhook event ids) name
//! the tenant inside, so no route can reach another tenant's data by key.
//!
//! | item | pk | sk | gsi1pk / gsi1sk |
//! |---|---|---|---|
//! | delivery | `T#<t>#DLV` | `<deliveryId>` (UUIDv7: time order) | `T#<t>#U#<userId>#DLV` / `<deliveryId>` |
//! | due entry (dispatcher) | `DUE#<shard>` | `<epoch:010>#<t>#<deliveryId>` | |
//! | provider message id | `MSG#<providerMessageId>` | `MSG` | |
//! | template head | `T#<t>#TPL#<templateId>` | `~HEAD` (after every version) | `T#<t>#TPLS` / `<name>#<templateId>` |
//! | template version | `T#<t>#TPL#<templateId>` | `V#<version:06>` | |
//! | preferences | `T#<t>#U#<userId>` | `PREFS` | |
//! | tenant defaults | `T#<t>#SETTINGS` | `PREFS` | |
//! | quota settings | `T#<t>#SETTINGS` | `QUOTAS` | |
//! | device | `T#<t>#U#<userId>` | `DEVICE#<deviceId>` | |
//! | inbox item | `T#<t>#U#<userId>#INBOX` | `<deliveryId>` | |
//! | unread counter | `T#<t>#U#<userId>` | `INBOX#UNREAD` | |
//! | suppression | `T#<t>#SUPP` | `<contact>` | |
//! | metrics counter shard | `T#<t>#MET` | `<yyyy-mm-dd>#<channel>#<status>#<00-15>` | |
//! | own metrics counter shard | `T#<t>#U#<userId>#MET` | `<yyyy-mm-dd>#<channel>#<status>#<00-15>` | |
//! | quota usage | `T#<t>#QUOTA` | `D#<yyyy-mm-dd>#<channel>` / `M#<yyyy-mm>#<channel>` | |
//! | frequency cap | `T#<t>#CAP#<person>` | `<yyyy-mm-dd>#<category>` | |
//! | push endpoint owner | `ENDPOINT#<sha256(endpoint)>` | `OWNER` | |
//! | provider last error | `T#<t>#PROVIDER` | `<channel>` | |
//! | webhook event id | `HOOK#<provider>` | `<eventId>` (TTL) | |

pub mod counters;
pub mod deliveries;
pub mod devices;
pub mod erasure;
pub mod inbox;
pub mod preferences;
pub mod send_reads;
pub mod suppressions;
pub mod templates;
pub mod webhook_events;

use shared::{
    store::{Delete, Item, Key, Query, Store},
    tenant::TenantId,
};

use crate::error::{NotifyError, NotifyResult};

pub fn delivery(t: &TenantId, id: &str) -> Key {
    Key::tenant(t, &["DLV"], id)
}
pub fn deliveries_partition(t: &TenantId) -> String {
    shared::store::tenant_pk(t, &["DLV"])
}
pub fn user_deliveries_partition(t: &TenantId, user_id: &str) -> String {
    shared::store::tenant_pk(t, &["U", user_id, "DLV"])
}
pub fn template(t: &TenantId, id: &str, sk: &str) -> Key {
    Key::tenant(t, &["TPL", id], sk)
}
pub fn templates_index(t: &TenantId) -> String {
    shared::store::tenant_pk(t, &["TPLS"])
}
pub fn user_partition(t: &TenantId, user_id: &str) -> String {
    shared::store::tenant_pk(t, &["U", user_id])
}
pub fn user_item(t: &TenantId, user_id: &str, sk: &str) -> Key {
    Key::tenant(t, &["U", user_id], sk)
}
pub fn settings(t: &TenantId, sk: &str) -> Key {
    Key::tenant(t, &["SETTINGS"], sk)
}
pub fn inbox_partition(t: &TenantId, user_id: &str) -> String {
    shared::store::tenant_pk(t, &["U", user_id, "INBOX"])
}
/// An inbox item, at its sort key (`inbox::sort_key`: its delivery's id, or the id with
/// the due time in it).
pub fn inbox_item(t: &TenantId, user_id: &str, sort_key: &str) -> Key {
    Key::tenant(t, &["U", user_id, "INBOX"], sort_key)
}
pub fn suppressions_partition(t: &TenantId) -> String {
    shared::store::tenant_pk(t, &["SUPP"])
}
pub fn suppression(t: &TenantId, contact: &str) -> Key {
    Key::tenant(t, &["SUPP"], contact)
}

/// Reads a stored record, naming what it is when the item does not fit the type.
pub fn record<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> NotifyResult<T> {
    item.to_record()
        .map_err(|e| NotifyError::Internal(format!("{what} record: {e}")))
}

/// Builds an item from a record under `key`.
pub fn item<T: serde::Serialize>(key: &Key, record: &T, what: &str) -> NotifyResult<Item> {
    Item::from_record(key, record).map_err(|e| NotifyError::Internal(format!("{what} record: {e}")))
}

/// Deletes every item of partition `pk` (what erasing a person removes: their inbox,
/// their metrics); how many there were.
pub async fn delete_partition(store: &dyn Store, pk: String) -> NotifyResult<usize> {
    let items = shared::store::query_all(store, Query::partition(pk).consistent()).await?;
    let deletes: Vec<Delete> = items
        .iter()
        .filter_map(Item::key)
        .map(Delete::new)
        .collect();
    let n = deletes.len();
    shared::store::delete_each(store, deletes).await?;
    Ok(n)
}
