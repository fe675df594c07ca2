//! A person's registered push devices (`T#<t>#U#<userId>` / `DEVICE#<deviceId>`). The
//! token itself is never stored: only the provider's endpoint it was registered as.

use serde::{Deserialize, Serialize};
use shared::{
    store::{
        CancelReason, Condition, Delete, Key, Put, Query, SortKey, Store, StoreError, TransactOp,
    },
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
    Ok(list_with_erasure(store, t, user_id).await?.0)
}

/// Every device `user_id` registered, and when the person was erased lately
/// ([`super::erasure`]), in one query: the marker sorts right after the devices.
pub async fn list_with_erasure(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
) -> NotifyResult<(Vec<Device>, Option<i64>)> {
    let range = SortKey::Between(PREFIX.into(), super::erasure::SORT.into());
    let query = Query::partition(super::user_partition(t, user_id))
        .sk(range)
        .consistent();
    let (mut out, mut erased) = (Vec::new(), None);
    for item in shared::store::query_all(store, query).await? {
        match item.key() {
            Some(k) if k.sk.starts_with(PREFIX) => out.push(super::record(&item, "device")?),
            Some(k) if k.sk == super::erasure::SORT => erased = super::erasure::at(Some(&item)),
            _ => {}
        }
    }
    Ok((out, erased))
}

/// Who an endpoint belongs to (`ENDPOINT#<sha256(endpoint)>` / `OWNER`). The provider
/// answers the same endpoint for the same token, so a device handed from one person to
/// another (a shared tablet, a resold phone) must have one owner: registering it moves
/// it, and the previous owner's device record goes with the move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Owner {
    tenant_id: String,
    user_id: String,
    device_id: String,
}

fn owner_key(endpoint: &str) -> Key {
    Key::global(
        format!("ENDPOINT#{}", shared::ids::sha256_hex(endpoint.as_bytes())),
        "OWNER",
    )
}

async fn owner(store: &dyn Store, endpoint: &str) -> NotifyResult<Option<Owner>> {
    match store.get(&owner_key(endpoint)).await? {
        Some(item) => Ok(Some(super::record(&item, "endpoint owner")?)),
        None => Ok(None),
    }
}

/// Records a new device and makes its person the endpoint's owner (dropping a previous
/// owner's record of it), in one transaction. `Ok(false)`: one with this id was
/// registered meanwhile.
pub async fn insert(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    d: &Device,
) -> NotifyResult<bool> {
    let previous = owner(store, &d.endpoint).await?;
    let item = super::item(&key(t, user_id, &d.id), d, "device")?;
    let me = Owner {
        tenant_id: t.to_string(),
        user_id: user_id.to_owned(),
        device_id: d.id.clone(),
    };
    let unchanged = match &previous {
        Some(p) => Condition::eq("device_id", p.device_id.clone())
            .and(Condition::eq("user_id", p.user_id.clone()))
            .and(Condition::eq("tenant_id", p.tenant_id.clone())),
        None => Condition::item_absent(),
    };
    let mut ops = vec![
        TransactOp::Put(Put::new(item).when(Condition::item_absent())),
        TransactOp::Put(
            Put::new(super::item(&owner_key(&d.endpoint), &me, "endpoint owner")?).when(unchanged),
        ),
    ];
    if let Some(p) = previous.filter(|p| *p != me)
        && let Ok(pt) = TenantId::parse(&p.tenant_id)
    {
        ops.push(TransactOp::Delete(Delete::new(key(
            &pt,
            &p.user_id,
            &p.device_id,
        ))));
    }
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&CancelReason::ConditionFailed) =>
        {
            Ok(false)
        }
        // The endpoint changed hands meanwhile: a retry sorts it out.
        Err(StoreError::TransactionCanceled { .. }) => Err(StoreError::Unavailable(
            "a concurrent registration of the same device".into(),
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// Does `d` (of `user_id` in `t`) still own its endpoint? False once another person
/// registered the same token: removing `d` must not unregister their device.
pub async fn owns_endpoint(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    d: &Device,
) -> NotifyResult<bool> {
    Ok(owner(store, &d.endpoint).await?.is_some_and(|o| {
        o.tenant_id == t.to_string() && o.user_id == user_id && o.device_id == d.id
    }))
}

/// Forgets device `d` of `user_id`, and its endpoint's ownership when `owned` (as
/// [`owns_endpoint`] read it): one transaction. If the endpoint changed hands meanwhile,
/// the device alone goes.
pub async fn remove(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    d: &Device,
    owned: bool,
) -> NotifyResult<()> {
    let device = Delete::new(key(t, user_id, &d.id));
    if !owned {
        store.delete(device).await?;
        return Ok(());
    }
    let mine = Condition::eq("device_id", d.id.clone())
        .and(Condition::eq("user_id", user_id.to_owned()))
        .and(Condition::eq("tenant_id", t.to_string()));
    let both = vec![
        TransactOp::Delete(device.clone()),
        TransactOp::Delete(Delete::new(owner_key(&d.endpoint)).when(mine)),
    ];
    match store.transact(both).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.get(1) == Some(&CancelReason::ConditionFailed) =>
        {
            store.delete(device).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn key(t: &TenantId, user_id: &str, id: &str) -> shared::store::Key {
    super::user_item(t, user_id, &format!("{PREFIX}{id}"))
}
