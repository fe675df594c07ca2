//! The Store port: items in one service's table, addressed by tenant-first keys.
//!
//! Two backends implement it — [`dynamo::DynamoStore`] (aws-sdk-dynamodb) and
//! [`memory::MemoryStore`] (embedded, for local runs and fast tests) — and one
//! conformance suite ([`conformance`]) runs against both.

mod batch;
#[cfg(any(test, feature = "test-support"))]
pub mod counting;
pub mod dynamo;
#[cfg(any(test, feature = "test-support"))]
pub mod faults;
pub mod memory;
mod model;
mod record;

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;

use async_trait::async_trait;

pub use batch::{delete_each, get_each, get_each_beside, query_all};
pub use model::*;

/// What can go wrong at the port. Handlers map the first two to domain outcomes;
/// `Throttled`/`Unavailable` become 503 with `retry-after`; the rest are internal.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold. Carries the item as it was, when the backend returned it.
    #[error("condition check failed")]
    ConditionFailed { current: Option<Box<Item>> },
    /// A transaction was cancelled; one reason per action, in order.
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCanceled { reasons: Vec<CancelReason> },
    /// The backend throttled us, still after the SDK's retries.
    #[error("store throttled")]
    Throttled,
    /// Timeout, connection failure or a 5xx from the backend, after the SDK's retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request itself was invalid (a bug in the caller: too many actions, bad key…).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// Anything else (kept for the log, never shown to a client).
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }
    /// True for the failures a client should retry later (503 + retry-after).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Throttled | StoreError::Unavailable(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The items of a read beside another table's: this table's, then the other's, each in
/// the order of its keys.
pub type ReadBeside = (Vec<Option<Item>>, Vec<Option<Item>>);

/// Any store as a `&dyn Store` (implemented for every sized store), so a wrapper can hand
/// on the store it wraps whatever its type.
pub trait AsDynStore {
    fn as_dyn_store(&self) -> &dyn Store;
}

impl<S: Store> AsDynStore for S {
    fn as_dyn_store(&self) -> &dyn Store {
        self
    }
}

/// One service's table.
#[async_trait]
pub trait Store: AsDynStore + Send + Sync + 'static {
    /// Strongly consistent read of one item.
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;
    /// Strongly consistent read of 1 to [`MAX_BATCH_GET_KEYS`] distinct items in one
    /// request (DynamoDB BatchGetItem), answered in the order of `keys`, `None` where
    /// there is no item. For a route that needs several known items at once (the
    /// caller's session, user and tenant): one round trip instead of one per item.
    /// Each item is read on its own, not as one snapshot: never read a version guard
    /// together with the items it guards (a concurrent transaction may show in one and
    /// not yet in the other).
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>>;
    /// Put (replace) an item, if its condition holds.
    async fn put(&self, put: Put) -> StoreResult<()>;
    /// Update (or create) an item, if its condition holds; returns the new item.
    async fn update(&self, update: Update) -> StoreResult<Item>;
    /// Delete an item, if its condition holds; returns the old item if there was one.
    async fn delete(&self, delete: Delete) -> StoreResult<Option<Item>>;
    /// Query one partition of the table or of an index.
    async fn query(&self, query: Query) -> StoreResult<QueryPage>;
    /// All or nothing, at most [`MAX_TRANSACT_ITEMS`] actions on distinct items.
    async fn transact(&self, ops: Vec<TransactOp>) -> StoreResult<()>;
    /// Reachability check for health routes (cheap; no item read).
    async fn ping(&self) -> StoreResult<()>;

    /// [`get_many`](Store::get_many) of `keys` here and of `other_keys` in `other`,
    /// another service's table, as one request where the backend can: on DynamoDB one
    /// BatchGetItem naming both tables (sent with this store's client), one key list
    /// when both are the same table. Otherwise one read of each, side by side. Either
    /// list may be empty; together they hold 1 to [`MAX_BATCH_GET_KEYS`] keys, and
    /// neither names a key twice.
    async fn get_many_beside(
        &self,
        keys: &[Key],
        other: &dyn Store,
        other_keys: &[Key],
    ) -> StoreResult<ReadBeside> {
        validate_get_beside(keys, other_keys)?;
        read_each_beside(self.as_dyn_store(), keys, other, other_keys).await
    }
    /// This store as the DynamoDB table it is, if it is one (a read beside it can then
    /// join its request). The port names one backend here on purpose: only DynamoDB
    /// can send two tables' keys in one request, and only to a table it can reach.
    fn as_dynamo(&self) -> Option<&dynamo::DynamoStore> {
        None
    }
    /// The store a read beside this one is sent to: itself, or, for a wrapper that only
    /// watches calls (the counting store), the store it wraps, so that the read is
    /// counted once, by the store it was asked of.
    fn unwatched(&self) -> &dyn Store {
        self.as_dyn_store()
    }
}

/// `keys` in `first` and `other_keys` in `second`, one read of each, side by side (none
/// for an empty list).
pub(crate) async fn read_each_beside(
    first: &dyn Store,
    keys: &[Key],
    second: &dyn Store,
    other_keys: &[Key],
) -> StoreResult<ReadBeside> {
    futures_util::future::try_join(read_any(first, keys), read_any(second, other_keys)).await
}

async fn read_any(store: &dyn Store, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
    if keys.is_empty() {
        Ok(Vec::new())
    } else {
        store.get_many(keys).await
    }
}

/// One page of up to `limit` items whose `next` is set only when more may follow.
///
/// DynamoDB answers a resume key whenever a query reached its `Limit`, even with nothing
/// left: a list answering that key to its caller shows `has_more` on its last full page,
/// and the next page empty. So this asks for one item more than it keeps. (A page cut at
/// 1 MB keeps DynamoDB's key: then more may follow.)
pub async fn query_page(store: &dyn Store, query: Query, limit: u32) -> StoreResult<QueryPage> {
    let index = query.index;
    let mut page = store.query(query.limit(limit.saturating_add(1))).await?;
    let keep = limit as usize;
    if page.items.len() > keep {
        page.items.truncate(keep);
        page.next = page.items.last().map(|it| ResumeKey::after(it, index));
    }
    Ok(page)
}

/// Checks shared by both backends before a transaction is attempted, so both refuse
/// the same malformed requests.
pub(crate) fn validate_transaction(ops: &[TransactOp]) -> StoreResult<()> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACT_ITEMS} actions, got {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        if let TransactOp::Put(p) = op
            && p.item.key().is_none()
        {
            return Err(StoreError::Invalid("put item without pk/sk".into()));
        }
        if !seen.insert(op.key()) {
            return Err(StoreError::Invalid(
                "two actions of one transaction address the same item".into(),
            ));
        }
    }
    Ok(())
}

/// What DynamoDB's BatchGetItem refuses (and emulators may not), refused alike by both
/// backends: no keys, more than [`MAX_BATCH_GET_KEYS`], a key twice.
pub(crate) fn validate_get_many(keys: &[Key]) -> StoreResult<()> {
    if keys.is_empty() || keys.len() > MAX_BATCH_GET_KEYS {
        return Err(StoreError::Invalid(format!(
            "a batch read holds 1 to {MAX_BATCH_GET_KEYS} keys, got {}",
            keys.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if keys.iter().any(|k| !seen.insert(k)) {
        return Err(StoreError::Invalid(
            "a batch read names the same key twice".into(),
        ));
    }
    Ok(())
}

/// What [`Store::get_many_beside`] refuses, alike on every backend: no keys or more than
/// [`MAX_BATCH_GET_KEYS`] in all, or a key twice in one list.
pub(crate) fn validate_get_beside(keys: &[Key], other_keys: &[Key]) -> StoreResult<()> {
    let total = keys.len() + other_keys.len();
    if total == 0 || total > MAX_BATCH_GET_KEYS {
        return Err(StoreError::Invalid(format!(
            "a batch read holds 1 to {MAX_BATCH_GET_KEYS} keys, got {total}"
        )));
    }
    for list in [keys, other_keys] {
        if !list.is_empty() {
            validate_get_many(list)?;
        }
    }
    Ok(())
}

/// Queries DynamoDB refuses (and emulators may not), refused alike by both backends.
pub(crate) fn validate_query(q: &Query) -> StoreResult<()> {
    if q.limit == Some(0) {
        return Err(StoreError::Invalid("a query limit is at least 1".into()));
    }
    if q.consistent && q.index == Index::Gsi1 {
        return Err(StoreError::Invalid(
            "consistent reads are not supported on global secondary indexes".into(),
        ));
    }
    if let Some(SortKey::Between(lo, hi)) = &q.sk
        && lo > hi
    {
        return Err(StoreError::Invalid(
            "BETWEEN needs its lower bound first".into(),
        ));
    }
    // Both backends refuse a resume key from another partition the same way (DynamoDB
    // would answer a ValidationException; the memory store would skip silently).
    if let Some(start) = &q.start
        && start.0.get(q.index.key_attrs().0) != Some(&q.pk)
    {
        return Err(StoreError::Invalid(
            "the resume key belongs to another partition".into(),
        ));
    }
    Ok(())
}
