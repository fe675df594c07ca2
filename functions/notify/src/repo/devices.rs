//! A person's registered push devices (`T#<t>#U#<userId>` / `DEVICE#<deviceId>`). The
//! token itself is never stored: only the provider's endpoint it was registered as.

use serde::{Deserialize, Serialize};
use shared::{
    store::{Condition, Delete, Put, Query, SortKey, Store},
    tenant::TenantId,
};

use crate::error::NotifyResult;

const PREFIX: &str = "DEVICE#";

/// At most this many devices per person (a phone, a tablet, a few browsers…).
pub const MAX_DEVICES: usize = 20;

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    /// `ios`, `android` or `web`.
    pub platform: String,
    /// Where push messages go (an SNS endpoint ARN).
    pub endpoint: String,
    #[serde(default)]
    pub created_at: String,
}

/// The id of `token` on `platform` for this person: a registration of the same token
/// again finds the same device. Salted with the tenant and the person so ids never
/// correlate people who share a device.
pub fn device_id(t: &TenantId, user_id: &str, platform: &str, token: &str) -> String {
    let digest = shared::ids::sha256_hex(format!("{t}\n{user_id}\n{platform}\n{token}").as_bytes());
    digest[..32].to_owned()
}

/// Is `id` shaped like a [`device_id`] (anything else cannot name a device)?
pub fn is_device_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Device `id` of `user_id`, if registered.
pub async fn get(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    id: &str,
) -> NotifyResult<Option<Device>> {
    match store.get(&key(t, user_id, id)).await? {
        Some(item) => Ok(Some(super::record(&item, "device")?)),
        None => Ok(None),
    }
}

/// Every device `user_id` registered.
pub async fn list(store: &dyn Store, t: &TenantId, user_id: &str) -> NotifyResult<Vec<Device>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .query(
                Query::partition(super::user_partition(t, user_id))
                    .sk(SortKey::BeginsWith(PREFIX.into()))
                    .consistent()
                    .resume(start),
            )
            .await?;
        for item in &page.items {
            out.push(super::record(item, "device")?);
        }
        match page.next {
            Some(n) => start = Some(n),
            None => return Ok(out),
        }
    }
}

/// Records a new device. `Ok(false)`: one with this id was registered meanwhile.
pub async fn insert(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    d: &Device,
) -> NotifyResult<bool> {
    let item = super::item(&key(t, user_id, &d.id), d, "device")?;
    match store
        .put(Put::new(item).when(Condition::item_absent()))
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Forgets device `id` of `user_id`.
pub async fn remove(store: &dyn Store, t: &TenantId, user_id: &str, id: &str) -> NotifyResult<()> {
    store.delete(Delete::new(key(t, user_id, id))).await?;
    Ok(())
}

fn key(t: &TenantId, user_id: &str, id: &str) -> shared::store::Key {
    super::user_item(t, user_id, &format!("{PREFIX}{id}"))
}
