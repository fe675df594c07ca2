//! Whether a tenant, or one of its accounts, is suspended or gone, as auth-svc's records
//! say. auth owns tenants and accounts; another service asks here before doing what a
//! suspended tenant, or a suspended or deleted account, must not have done (notify:
//! sending anything for a suspended tenant; push and in-app messages to an account that
//! is suspended or deleted). The reads are of the partition auth keeps for what it
//! publishes about a tenant, `T#<tenant>#TENANT`: the tenant's record (`META`, its
//! `status`), and one item per account that is not active (`USER#<userId>`, its `status`:
//! `suspended` or `deleted`; none for an active account). That partition is the only
//! one of auth's table another function's policy lets it read (template.yaml:
//! `dynamodb:LeadingKeys`), so no other service can read a user's own partition, which
//! holds password hashes, sessions and TOTP secrets. Read each time, not cached: a
//! suspension takes effect on the next send.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use crate::{
    access::PlanTier,
    store::{Item, Key, Store, StoreResult, Value, get_each, get_each_beside},
    tenant::TenantId,
};

/// The key of tenant `t`'s record in auth's table (auth-svc writes it with this key).
pub fn record_key(t: &TenantId) -> Key {
    Key::tenant(t, &["TENANT"], "META")
}
/// The record's attribute holding `active` or `suspended`.
pub const STATUS: &str = "status";
/// The tenant record's attribute holding its plan (`BASE` … `ENTERPRISE`): what the
/// tenant pays for now, where a token says what it paid for when it was issued.
pub const PLAN: &str = "planTier";
pub const SUSPENDED: &str = "suspended";
pub const DELETED: &str = "deleted";

/// The key of the record auth publishes while account `user_id` of tenant `t` is not
/// active (auth-svc writes it in the transaction that suspends or deletes the account,
/// and deletes it in the one that reactivates it).
pub fn account_key(t: &TenantId, user_id: &str) -> Key {
    Key::tenant(t, &["TENANT"], format!("USER#{user_id}"))
}

/// Why an account is not active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inactive {
    Suspended,
    Deleted,
}

impl Inactive {
    pub fn as_str(self) -> &'static str {
        match self {
            Inactive::Suspended => SUSPENDED,
            Inactive::Deleted => DELETED,
        }
    }

    /// The record auth writes at [`account_key`] while the account is `self`.
    pub fn record(self, t: &TenantId, user_id: &str) -> Item {
        Item::new(&account_key(t, user_id)).with(STATUS, self.as_str())
    }

    fn of(item: &Item) -> Option<Self> {
        match item.get(STATUS).and_then(Value::as_s)? {
            SUSPENDED => Some(Inactive::Suspended),
            DELETED => Some(Inactive::Deleted),
            _ => None,
        }
    }
}

/// What one read of auth's records found: the suspended tenants, and the accounts
/// that are not active, of those asked about.
#[derive(Debug, Default)]
pub struct Standing {
    suspended: HashSet<TenantId>,
    plans: HashMap<TenantId, PlanTier>,
    inactive: HashMap<(TenantId, String), Inactive>,
}

impl Standing {
    pub fn tenant_suspended(&self, t: &TenantId) -> bool {
        self.suspended.contains(t)
    }

    /// The plan tenant `t`'s record names; None without a record (or one naming none).
    pub fn plan(&self, t: &TenantId) -> Option<PlanTier> {
        self.plans.get(t).copied()
    }

    /// Why account `user_id` of `t` is not active; None when it is active, or was not
    /// asked about. An account auth has no record of counts as active: a userId
    /// nobody has is the sender's to answer for, as it was before accounts published.
    pub fn inactive(&self, t: &TenantId, user_id: &str) -> Option<Inactive> {
        self.inactive.get(&(*t, user_id.to_owned())).copied()
    }
}

/// The tenants and accounts one read asks about, each once, in the order of its keys.
struct Asked {
    tenants: Vec<TenantId>,
    accounts: Vec<(TenantId, String)>,
}

impl Asked {
    fn new(tenants: &[TenantId], accounts: &[(TenantId, &str)]) -> Self {
        let mut tenants: Vec<TenantId> = tenants.to_vec();
        tenants.sort();
        tenants.dedup();
        let mut accounts: Vec<(TenantId, String)> = accounts
            .iter()
            .map(|(t, u)| (*t, (*u).to_owned()))
            .collect();
        accounts.sort();
        accounts.dedup();
        Asked { tenants, accounts }
    }

    fn keys(&self) -> Vec<Key> {
        self.tenants
            .iter()
            .map(record_key)
            .chain(self.accounts.iter().map(|(t, u)| account_key(t, u)))
            .collect()
    }

    /// What the items read for [`keys`](Self::keys) say.
    fn standing(self, items: Vec<Option<Item>>) -> Standing {
        let (tenant_items, account_items) = items.split_at(self.tenants.len());
        let records: Vec<(TenantId, &Item)> = self
            .tenants
            .into_iter()
            .zip(tenant_items)
            .filter_map(|(t, item)| Some((t, item.as_ref()?)))
            .collect();
        let suspended = records
            .iter()
            .filter(|(_, i)| i.get(STATUS).and_then(Value::as_s) == Some(SUSPENDED))
            .map(|(t, _)| *t)
            .collect();
        let plans = records
            .iter()
            .filter_map(|(t, i)| Some((*t, PlanTier::parse(i.get(PLAN)?.as_s()?))))
            .collect();
        let inactive = self
            .accounts
            .into_iter()
            .zip(account_items)
            .filter_map(|(a, item)| Some((a, Inactive::of(item.as_ref()?)?)))
            .collect();
        Standing {
            suspended,
            plans,
            inactive,
        }
    }
}

/// Reads tenants' and accounts' status from auth's table.
#[derive(Clone)]
pub struct TenantRecords {
    auth_table: Arc<dyn Store>,
}

impl TenantRecords {
    pub fn new(auth_table: Arc<dyn Store>) -> Self {
        TenantRecords { auth_table }
    }

    /// The standing of `tenants` and of `accounts` (tenant, userId), in one batch read
    /// (several sent together past 100 distinct keys). A tenant with no record is not
    /// suspended: tokens name only tenants auth issued them for, and a stage may hold no
    /// record of the platform tenant (the seed writes one; nothing else must).
    pub async fn standing(
        &self,
        tenants: &[TenantId],
        accounts: &[(TenantId, &str)],
    ) -> StoreResult<Standing> {
        let asked = Asked::new(tenants, accounts);
        let items = get_each(self.auth_table.as_ref(), &asked.keys()).await?;
        Ok(asked.standing(items))
    }

    /// [`standing`](Self::standing), read beside the caller's own `keys` in its table
    /// `own`: one request for both where the store can (one BatchGetItem naming both
    /// tables; [`get_each_beside`]). Answers the items of `keys`, in their order.
    pub async fn standing_beside(
        &self,
        own: &dyn Store,
        keys: &[Key],
        tenants: &[TenantId],
        accounts: &[(TenantId, &str)],
    ) -> StoreResult<(Vec<Option<Item>>, Standing)> {
        let asked = Asked::new(tenants, accounts);
        let (items, records) =
            get_each_beside(own, keys, self.auth_table.as_ref(), &asked.keys()).await?;
        Ok((items, asked.standing(records)))
    }

    /// The standing of one tenant (its status and plan), no accounts.
    pub async fn tenant(&self, t: &TenantId) -> StoreResult<Standing> {
        self.standing(std::slice::from_ref(t), &[]).await
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
        let standing = records.standing(&asked, &[]).await.unwrap();
        assert_eq!(standing.suspended, HashSet::from([tenant(2)]));
        assert!(
            records
                .tenant(&tenant(2))
                .await
                .unwrap()
                .tenant_suspended(&tenant(2))
        );
        assert!(
            !records
                .tenant(&tenant(3))
                .await
                .unwrap()
                .tenant_suspended(&tenant(3)),
            "no record"
        );
        assert!(
            records
                .standing(&[], &[])
                .await
                .unwrap()
                .suspended
                .is_empty()
        );
    }

    #[tokio::test]
    async fn standing_beside_own_keys_is_one_request_answering_both() {
        use crate::store::counting::CountingStore;
        let auth = Arc::new(MemoryStore::new());
        let item = Item::new(&record_key(&tenant(1)))
            .with(STATUS, SUSPENDED)
            .with(PLAN, "startup");
        auth.put(Put::new(item)).await.unwrap();
        auth.put(Put::new(Inactive::Deleted.record(&tenant(1), "u1")))
            .await
            .unwrap();
        let own = CountingStore::new(MemoryStore::new());
        let mine = Key::global("own", "x");
        own.put(Put::new(Item::new(&mine).with("n", 1i64)))
            .await
            .unwrap();
        own.reset();
        let records = TenantRecords::new(auth);
        let keys = [mine.clone(), Key::global("own", "missing"), mine];
        let (items, standing) = records
            .standing_beside(&own, &keys, &[tenant(1)], &[(tenant(1), "u1")])
            .await
            .unwrap();
        let ns: Vec<Option<i64>> = items
            .iter()
            .map(|i| i.as_ref().and_then(|i| i.get_i64("n")))
            .collect();
        assert_eq!(ns, [Some(1), None, Some(1)]);
        assert!(standing.tenant_suspended(&tenant(1)));
        assert_eq!(standing.plan(&tenant(1)), Some(PlanTier::Startup));
        assert_eq!(standing.inactive(&tenant(1), "u1"), Some(Inactive::Deleted));
        assert_eq!(own.snapshot().total(), 1, "one batch read for both tables");
    }

    #[tokio::test]
    async fn accounts_without_a_record_are_active() {
        let store = Arc::new(MemoryStore::new());
        let records = TenantRecords::new(store.clone());
        for (user, why) in [("u1", Inactive::Suspended), ("u2", Inactive::Deleted)] {
            store
                .put(Put::new(why.record(&tenant(1), user)))
                .await
                .unwrap();
        }
        // Another tenant's account of the same id is another account.
        let asked = [
            (tenant(1), "u1"),
            (tenant(1), "u2"),
            (tenant(1), "u3"),
            (tenant(2), "u1"),
            (tenant(1), "u1"),
        ];
        store
            .put(Put::new(
                Item::new(&record_key(&tenant(1))).with(PLAN, "startup"),
            ))
            .await
            .unwrap();
        let standing = records.standing(&[tenant(1)], &asked).await.unwrap();
        assert_eq!(standing.plan(&tenant(1)), Some(PlanTier::Startup));
        assert_eq!(standing.plan(&tenant(2)), None, "not asked, no record");
        assert_eq!(
            standing.inactive(&tenant(1), "u1"),
            Some(Inactive::Suspended)
        );
        assert_eq!(standing.inactive(&tenant(1), "u2"), Some(Inactive::Deleted));
        assert_eq!(standing.inactive(&tenant(1), "u3"), None);
        assert_eq!(standing.inactive(&tenant(2), "u1"), None);
        assert!(!standing.tenant_suspended(&tenant(1)));
        // A suspended account does not suspend its tenant.
        store
            .put(Put::new(Inactive::Suspended.record(&tenant(3), "u1")))
            .await
            .unwrap();
        let t3 = records.tenant(&tenant(3)).await.unwrap();
        assert!(!t3.tenant_suspended(&tenant(3)));
    }
}
