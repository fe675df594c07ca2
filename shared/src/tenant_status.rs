//! Whether a tenant is suspended, as auth-svc's record of it says. auth owns tenants;
//! another service asks here before doing what a suspended tenant must not (notify:
//! sending mail, SMS and push). The read is of the tenant's record in auth's table
//! (`T#<tenant>#TENANT` / `META`, its `status`), the only items of that table another
//! function's policy lets it read (template.yaml: `dynamodb:LeadingKeys`). Read each time,
//! not cached: a suspension takes effect on the next send.

use std::{collections::HashSet, sync::Arc};

use crate::{
    store::{Key, Store, StoreResult, Value, get_each},
    tenant::TenantId,
};

/// The key of tenant `t`'s record in auth's table (auth-svc writes it with this key).
pub fn record_key(t: &TenantId) -> Key {
    Key::tenant(t, &["TENANT"], "META")
}
/// The record's attribute holding `active` or `suspended`.
pub const STATUS: &str = "status";
pub const SUSPENDED: &str = "suspended";

/// Reads tenants' status from auth's table.
#[derive(Clone)]
pub struct TenantRecords {
    auth_table: Arc<dyn Store>,
}

impl TenantRecords {
    pub fn new(auth_table: Arc<dyn Store>) -> Self {
        TenantRecords { auth_table }
    }

    /// Which of `tenants` are suspended, in one batch read (several sent together past
    /// 100 distinct tenants). A tenant with no record is not suspended: tokens name only
    /// tenants auth issued them for, and a stage may hold no record of the platform
    /// tenant (the seed writes one; nothing else must).
    pub async fn suspended(&self, tenants: &[TenantId]) -> StoreResult<HashSet<TenantId>> {
        let mut distinct: Vec<TenantId> = tenants.to_vec();
        distinct.sort();
        distinct.dedup();
        if distinct.is_empty() {
            return Ok(HashSet::new());
        }
        let keys: Vec<Key> = distinct.iter().map(record_key).collect();
        let items = get_each(self.auth_table.as_ref(), &keys).await?;
        Ok(distinct
            .into_iter()
            .zip(items)
            .filter(|(_, item)| {
                item.as_ref()
                    .and_then(|i| i.get(STATUS))
                    .and_then(Value::as_s)
                    == Some(SUSPENDED)
            })
            .map(|(t, _)| t)
            .collect())
    }

    /// Is `t` suspended?
    pub async fn is_suspended(&self, t: &TenantId) -> StoreResult<bool> {
        Ok(!self.suspended(std::slice::from_ref(t)).await?.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Item, Put, memory::MemoryStore};

    fn tenant(n: u8) -> TenantId {
        TenantId::parse(&format!("a000000{n}-0000-0000-0000-00000000000{n}")).unwrap()
    }

    #[tokio::test]
    async fn only_a_record_saying_suspended_suspends() {
        let store = Arc::new(MemoryStore::new());
        for (n, status) in [(1, "active"), (2, SUSPENDED)] {
            let item = Item::new(&record_key(&tenant(n))).with(STATUS, status);
            store.put(Put::new(item)).await.unwrap();
        }
        let records = TenantRecords::new(store);
        let asked = [tenant(1), tenant(2), tenant(3), tenant(2)];
        assert_eq!(
            records.suspended(&asked).await.unwrap(),
            HashSet::from([tenant(2)])
        );
        assert!(records.is_suspended(&tenant(2)).await.unwrap());
        assert!(
            !records.is_suspended(&tenant(3)).await.unwrap(),
            "no record"
        );
        assert!(records.suspended(&[]).await.unwrap().is_empty());
    }
}
