//! A Store wrapper that counts the requests passing through it, by operation, for tests
//! that hold a route to its DynamoDB request budget (each call of the port is one
//! DynamoDB request: the backends make no hidden extra calls).
//!
//! ```ignore
//! let store = Arc::new(CountingStore::new(MemoryStore::new()));
//! // … build the service over `store.clone()` as its `Arc<dyn Store>`, log in …
//! store.reset();
//! // … send the request being measured …
//! assert_eq!(store.snapshot().total(), 2);
//! ```

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    Delete, Index, Item, Key, Put, Query, QueryPage, ReadBeside, Store, StoreResult, TransactOp,
    Update,
};

/// Not an IAM action: a Query of an index, which needs `dynamodb:Query` on the table's
/// `/index/*` resource (scripts/iam-check.py).
pub const INDEX_QUERY: &str = "dynamodb:Query@index";

/// Requests counted since the last [`CountingStore::reset`], by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    pub get: u64,
    /// One per batch read, whatever the number of its keys (one BatchGetItem).
    pub get_many: u64,
    pub put: u64,
    pub update: u64,
    pub delete: u64,
    pub query: u64,
    /// One per transaction, whatever the number of its actions (one TransactWriteItems).
    pub transact: u64,
    /// Health checks: not a data request, so not part of [`total`](Self::total).
    pub ping: u64,
}

impl Requests {
    /// Data requests: every kind but `ping`.
    pub fn total(&self) -> u64 {
        self.get + self.get_many + self.put + self.update + self.delete + self.query + self.transact
    }
    /// Reads (`get`, `get_many`, `query`) among the data requests.
    pub fn reads(&self) -> u64 {
        self.get + self.get_many + self.query
    }
}

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    get_many: AtomicU64,
    put: AtomicU64,
    update: AtomicU64,
    delete: AtomicU64,
    query: AtomicU64,
    transact: AtomicU64,
    ping: AtomicU64,
}

impl Counters {
    fn all(&self) -> [&AtomicU64; 8] {
        [
            &self.get,
            &self.get_many,
            &self.put,
            &self.update,
            &self.delete,
            &self.query,
            &self.transact,
            &self.ping,
        ]
    }
}

/// Wraps any Store; every call is counted (failed ones too: they cost a request) and
/// passed on unchanged.
pub struct CountingStore<S: ?Sized = dyn Store> {
    inner: Arc<S>,
    counts: Counters,
    actions: Mutex<BTreeSet<&'static str>>,
}

impl<S: Store> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        Self::wrap(Arc::new(inner))
    }
}

impl<S: Store + ?Sized> CountingStore<S> {
    /// Wraps a store that the test also keeps a handle on.
    pub fn wrap(inner: Arc<S>) -> Self {
        CountingStore {
            inner,
            counts: Counters::default(),
            actions: Mutex::default(),
        }
    }
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }
    /// The counts so far. Read once the measured requests have completed: counts are
    /// relaxed atomics, exact then but not a consistent cut of calls still in flight.
    pub fn snapshot(&self) -> Requests {
        let c = &self.counts;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Requests {
            get: load(&c.get),
            get_many: load(&c.get_many),
            put: load(&c.put),
            update: load(&c.update),
            delete: load(&c.delete),
            query: load(&c.query),
            transact: load(&c.transact),
            ping: load(&c.ping),
        }
    }
    /// The IAM actions the calls so far need (`dynamodb:GetItem`…): one per operation,
    /// and for a transaction one per kind of item action it holds (IAM authorizes a
    /// transaction item by item). What a function's template policy must allow.
    pub fn iam_actions(&self) -> BTreeSet<&'static str> {
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// Starts counting from zero (call it between requests, not during one).
    pub fn reset(&self) {
        for a in self.counts.all() {
            a.store(0, Ordering::Relaxed);
        }
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn hit(&self, counter: &AtomicU64, actions: &[&'static str]) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(actions.iter().copied());
    }
}

/// The IAM action of one action of a transaction.
fn transact_action(op: &TransactOp) -> &'static str {
    match op {
        TransactOp::Put(_) => "dynamodb:PutItem",
        TransactOp::Update(_) => "dynamodb:UpdateItem",
        TransactOp::Delete(_) => "dynamodb:DeleteItem",
        TransactOp::Check { .. } => "dynamodb:ConditionCheckItem",
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for CountingStore<S> {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.hit(&self.counts.get, &["dynamodb:GetItem"]);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.hit(&self.counts.get_many, &["dynamodb:BatchGetItem"]);
        self.inner.get_many(keys).await
    }
    /// One batch read, as DynamoDB sends it (one BatchGetItem naming both tables): counted
    /// here, and not by `other` when it counts too (it may be this store, standing in
    /// for both tables).
    async fn get_many_beside(
        &self,
        keys: &[Key],
        other: &dyn Store,
        other_keys: &[Key],
    ) -> StoreResult<ReadBeside> {
        self.hit(&self.counts.get_many, &["dynamodb:BatchGetItem"]);
        self.inner
            .get_many_beside(keys, other.unwatched(), other_keys)
            .await
    }
    fn unwatched(&self) -> &dyn Store {
        self.inner.unwatched()
    }
    async fn put(&self, put: Put) -> StoreResult<()> {
        self.hit(&self.counts.put, &["dynamodb:PutItem"]);
        self.inner.put(put).await
    }
    async fn update(&self, update: Update) -> StoreResult<Item> {
        self.hit(&self.counts.update, &["dynamodb:UpdateItem"]);
        self.inner.update(update).await
    }
    async fn delete(&self, delete: Delete) -> StoreResult<Option<Item>> {
        self.hit(&self.counts.delete, &["dynamodb:DeleteItem"]);
        self.inner.delete(delete).await
    }
    async fn query(&self, query: Query) -> StoreResult<QueryPage> {
        // An index is a resource of its own (`<table>/index/*`) in IAM: noted apart, so
        // scripts/iam-check.py can hold it against the policy's resources.
        let actions: &[&'static str] = match query.index {
            Index::Table => &["dynamodb:Query"],
            _ => &["dynamodb:Query", INDEX_QUERY],
        };
        self.hit(&self.counts.query, actions);
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> StoreResult<()> {
        let actions: Vec<&'static str> = ops.iter().map(transact_action).collect();
        self.hit(&self.counts.transact, &actions);
        self.inner.transact(ops).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.hit(&self.counts.ping, &["dynamodb:DescribeTable"]);
        self.inner.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        Condition,
        faults::{Fault, FaultyStore},
        memory::MemoryStore,
    };

    fn key() -> Key {
        Key::global("p", "s")
    }

    #[tokio::test]
    async fn counting_passes_every_call_through_and_counts_it_by_kind() {
        let store = CountingStore::new(MemoryStore::new());
        store
            .put(Put::new(Item::new(&key()).with("n", 1i64)))
            .await
            .unwrap();
        let item = store
            .get(&key())
            .await
            .unwrap()
            .expect("the put reached the store");
        assert_eq!(item.get_i64("n"), Some(1));
        let after = store.update(Update::new(key()).add("n", 2)).await.unwrap();
        assert_eq!(after.get_i64("n"), Some(3));
        assert_eq!(
            store
                .query(Query::partition("p"))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let other = Key::global("p", "t");
        let ops = vec![TransactOp::Put(Put::new(Item::new(&other)))];
        store.transact(ops).await.unwrap();
        assert!(store.delete(Delete::new(key())).await.unwrap().is_some());
        store.ping().await.unwrap();
        store.get_many(&[key(), other]).await.unwrap();

        let n = store.snapshot();
        assert_eq!(
            n,
            Requests {
                get: 1,
                get_many: 1,
                put: 1,
                update: 1,
                delete: 1,
                query: 1,
                transact: 1,
                ping: 1,
            }
        );
        assert_eq!(n.total(), 7, "ping is no data request; a batch read is one");
        assert_eq!(n.reads(), 3);
        let actions: Vec<&str> = store.iam_actions().into_iter().collect();
        assert_eq!(
            actions,
            [
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ]
        );
    }

    #[tokio::test]
    async fn a_transaction_needs_the_action_of_each_kind_of_item_it_holds() {
        let store = CountingStore::new(MemoryStore::new());
        let ops = vec![
            TransactOp::Update(Update::new(key()).add("n", 1)),
            TransactOp::Check {
                key: Key::global("p", "t"),
                condition: Condition::item_absent(),
            },
        ];
        store.transact(ops).await.unwrap();
        let actions: Vec<&str> = store.iam_actions().into_iter().collect();
        assert_eq!(
            actions,
            ["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"]
        );
        store.reset();
        assert!(store.iam_actions().is_empty());
    }

    #[tokio::test]
    async fn failed_calls_count_too() {
        let store = CountingStore::new(MemoryStore::new());
        let put = Put::new(Item::new(&key())).when(Condition::item_present());
        assert!(store.put(put).await.unwrap_err().is_condition_failed());
        let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
        faulty.fail_next(1, Fault::Throttle);
        let counted = CountingStore::wrap(faulty.clone());
        assert!(counted.get(&key()).await.is_err());
        assert_eq!((store.snapshot().put, counted.snapshot().get), (1, 1));
        assert_eq!(faulty.faulted(), 1);
    }

    #[tokio::test]
    async fn a_read_beside_another_table_is_one_request_counted_by_the_store_asked() {
        let (own, other) = (Key::global("p", "own"), Key::global("q", "other"));
        // One counting store for both tables (how the requests tests stand in for two).
        let store = CountingStore::new(MemoryStore::new());
        store.put(Put::new(Item::new(&other))).await.unwrap();
        store.reset();
        let (here, there) = store
            .get_many_beside(
                std::slice::from_ref(&own),
                &store,
                std::slice::from_ref(&other),
            )
            .await
            .unwrap();
        assert_eq!((here, there.len()), (vec![None], 1));
        assert!(there[0].is_some());
        assert_eq!(
            (store.snapshot().get_many, store.snapshot().total()),
            (1, 1)
        );
        let actions: Vec<&str> = store.iam_actions().into_iter().collect();
        assert_eq!(actions, ["dynamodb:BatchGetItem"]);
        // Two counting stores: the one asked counts the read; the other, nothing.
        let beside = CountingStore::new(MemoryStore::new());
        store.reset();
        store
            .get_many_beside(&[own], &beside, &[other])
            .await
            .unwrap();
        assert_eq!(
            (store.snapshot().total(), beside.snapshot().total()),
            (1, 0)
        );
    }

    #[tokio::test]
    async fn reset_starts_the_count_again() {
        let store = CountingStore::new(MemoryStore::new());
        store.get(&key()).await.unwrap();
        store.ping().await.unwrap();
        store.reset();
        assert_eq!(store.snapshot(), Requests::default());
        store.get(&key()).await.unwrap();
        assert_eq!(store.snapshot().total(), 1);
    }

    #[test]
    fn a_counting_store_serves_as_an_arc_dyn_store_and_keeps_its_handle() {
        let counting = Arc::new(CountingStore::new(MemoryStore::new()));
        let store: Arc<dyn Store> = counting.clone();
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        assert_send_sync(&store);
        assert_eq!(counting.snapshot().total(), 0);
    }
}
