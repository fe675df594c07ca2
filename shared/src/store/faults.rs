//! A Store wrapper that fails on demand, for testing how callers meet a throttled or
//! unreachable backend (503 + retry-after, no partial writes) without a real outage.
//!
//! ```ignore
//! let store = Arc::new(FaultyStore::new(MemoryStore::new()));
//! store.fail_next(1, Fault::Throttle);
//! // … call the handler with `store.clone()` as its `Arc<dyn Store>` …
//! assert_eq!(store.calls_of(Op::Put), 1);
//! ```

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{
    Delete, Item, Key, Put, Query, QueryPage, Store, StoreError, StoreResult, TransactOp, Update,
};

/// The failure a faulted call returns (as the DynamoDB backend would after its retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `StoreError::Throttled`.
    Throttle,
    /// `StoreError::Unavailable("timeout")`.
    Timeout,
    /// `StoreError::TransactionCanceled` with no reasons (a backend that gave none).
    CancelledWithoutReasons,
}

impl Fault {
    fn error(self) -> StoreError {
        match self {
            Fault::Throttle => StoreError::Throttled,
            Fault::Timeout => StoreError::Unavailable("timeout".into()),
            Fault::CancelledWithoutReasons => StoreError::TransactionCanceled {
                reasons: Vec::new(),
            },
        }
    }
}

/// The operations of the Store port, for per-operation counters and targeted faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    GetMany,
    Put,
    Update,
    Delete,
    Query,
    Transact,
    Ping,
}

const OPS: usize = 8;

#[derive(Debug, Clone, Copy)]
enum Remaining {
    Times(usize),
    Always,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    fault: Fault,
    remaining: Remaining,
    /// Only calls of this operation fail (and use up the plan); None: every call.
    only: Option<Op>,
    /// Calls (of `only`) that pass before the first fault.
    skip: usize,
}

/// A concurrent writer: `ops` land just before the `nth` next call of `op` (1: the next),
/// and before each of the `times - 1` calls of `op` after it.
struct Writer {
    op: Op,
    nth: usize,
    times: usize,
    ops: Vec<TransactOp>,
}

/// Wraps any Store; faulted calls never reach the inner store.
pub struct FaultyStore<S: ?Sized = dyn Store> {
    inner: Arc<S>,
    plan: Mutex<Option<Plan>>,
    calls: [AtomicUsize; OPS],
    faulted: AtomicUsize,
    /// A concurrent writer's actions: see [`meanwhile_each`](Self::meanwhile_each).
    meanwhile: Mutex<Option<Writer>>,
    /// A call held before it reaches the store: see [`hold_before`](Self::hold_before).
    held: Mutex<Option<(Op, usize, Hold)>>,
}

/// The two sides of a call [`FaultyStore::hold_before`] holds: the test waits until the
/// call arrives, does what should happen meanwhile, then lets it go on.
#[derive(Clone, Default)]
pub struct Hold {
    reached: Arc<tokio::sync::Notify>,
    released: Arc<tokio::sync::Notify>,
}

impl Hold {
    /// Waits until the held call has arrived (at once if it already has). Panics after
    /// 10 s: a test holding a call that never comes fails instead of hanging.
    pub async fn reached(&self) {
        let wait = self.reached.notified();
        if tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            panic!("the held store call never arrived (check hold_before's op and nth)");
        }
    }
    /// Lets the held call go on (before or after it arrives).
    pub fn release(&self) {
        self.released.notify_one();
    }
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: S) -> Self {
        Self::wrap(Arc::new(inner))
    }
}

impl<S: Store + ?Sized> FaultyStore<S> {
    /// Wraps a store that the test also keeps a handle on (e.g. to inspect its items).
    pub fn wrap(inner: Arc<S>) -> Self {
        FaultyStore {
            inner,
            plan: Mutex::new(None),
            calls: Default::default(),
            faulted: AtomicUsize::new(0),
            meanwhile: Mutex::new(None),
            held: Mutex::new(None),
        }
    }
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }
    /// The next `n` calls (of any operation) fail with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.set(Some(Plan {
            fault,
            remaining: Remaining::Times(n),
            only: None,
            skip: 0,
        }));
    }
    /// The next `n` calls of `op` fail with `fault`; other operations pass.
    pub fn fail_next_of(&self, op: Op, n: usize, fault: Fault) {
        self.fail_after_of(op, 0, n, fault);
    }
    /// The next `skip` calls of `op` pass, then `n` fail with `fault` (other operations
    /// pass): a failure partway through a sequence of writes.
    pub fn fail_after_of(&self, op: Op, skip: usize, n: usize, fault: Fault) {
        self.set(Some(Plan {
            fault,
            remaining: Remaining::Times(n),
            only: Some(op),
            skip,
        }));
    }
    /// Every call fails with `fault` until [`heal`](Self::heal).
    pub fn fail_always(&self, fault: Fault) {
        self.set(Some(Plan {
            fault,
            remaining: Remaining::Always,
            only: None,
            skip: 0,
        }));
    }
    /// A concurrent writer: `ops` are written (one transaction) just before the next call
    /// of `op` reaches the inner store, as if they landed between a caller's read and its
    /// write.
    pub fn meanwhile(&self, op: Op, ops: Vec<TransactOp>) {
        self.meanwhile_before(op, 1, ops);
    }
    /// [`meanwhile`](Self::meanwhile), before the `nth` next call of `op` (1: the next).
    pub fn meanwhile_before(&self, op: Op, nth: usize, ops: Vec<TransactOp>) {
        self.set_writer(op, nth, 1, ops);
    }
    /// A concurrent writer that keeps writing: `ops` land just before each of the next
    /// `times` calls of `op`, as if every one of a caller's tries met another change.
    pub fn meanwhile_each(&self, op: Op, times: usize, ops: Vec<TransactOp>) {
        self.set_writer(op, 1, times, ops);
    }
    fn set_writer(&self, op: Op, nth: usize, times: usize, ops: Vec<TransactOp>) {
        let writer = (times > 0).then(|| Writer {
            op,
            nth: nth.max(1),
            times,
            ops,
        });
        *self.meanwhile.lock().unwrap_or_else(|e| e.into_inner()) = writer;
    }
    /// The `nth` next call of `op` (1: the next) waits, before it is counted or faulted,
    /// until the returned [`Hold`] is released: another caller can act while one is
    /// stopped between two of its calls.
    pub fn hold_before(&self, op: Op, nth: usize) -> Hold {
        let hold = Hold::default();
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some((op, nth.max(1), hold.clone()));
        hold
    }
    /// Calls pass through again.
    pub fn heal(&self) {
        self.set(None);
    }
    /// Calls made to this store, faulted or not, over all operations.
    pub fn calls(&self) -> usize {
        self.calls.iter().map(|c| c.load(Ordering::SeqCst)).sum()
    }
    /// Calls made of one operation, faulted or not.
    pub fn calls_of(&self, op: Op) -> usize {
        self.calls[op as usize].load(Ordering::SeqCst)
    }
    /// Calls answered with a fault (they never reached the inner store).
    pub fn faulted(&self) -> usize {
        self.faulted.load(Ordering::SeqCst)
    }

    fn set(&self, plan: Option<Plan>) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = plan;
    }

    /// The hold waiting for `op`, [`enter`](Self::enter), then the concurrent writer's
    /// actions waiting for `op`.
    async fn reach(&self, op: Op) -> StoreResult<()> {
        if let Some(hold) = Self::due(&self.held, op) {
            hold.reached.notify_one();
            hold.released.notified().await;
        }
        self.enter(op)?;
        match self.writes_due(op) {
            Some(ops) => self.inner.transact(ops).await,
            None => Ok(()),
        }
    }

    /// The concurrent writer's actions, when this call of `op` is one it lands before.
    fn writes_due(&self, op: Op) -> Option<Vec<TransactOp>> {
        let mut m = self.meanwhile.lock().unwrap_or_else(|e| e.into_inner());
        let w = m.as_mut().filter(|w| w.op == op)?;
        if w.nth > 1 {
            w.nth -= 1;
            return None;
        }
        w.times -= 1;
        if w.times == 0 {
            m.take().map(|w| w.ops)
        } else {
            Some(w.ops.clone())
        }
    }

    /// What `slot` keeps for the `n`-th next call of `op`, when this call is that one.
    fn due<T>(slot: &Mutex<Option<(Op, usize, T)>>, op: Op) -> Option<T> {
        let mut m = slot.lock().unwrap_or_else(|e| e.into_inner());
        match m.as_mut() {
            Some((o, 1, _)) if *o == op => m.take().map(|(_, _, t)| t),
            Some((o, n, _)) if *o == op => {
                *n -= 1;
                None
            }
            _ => None,
        }
    }

    /// Counts the call and decides, under one lock, whether it fails.
    fn enter(&self, op: Op) -> StoreResult<()> {
        self.calls[op as usize].fetch_add(1, Ordering::SeqCst);
        let mut plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let Some(p) = plan.as_mut() else {
            return Ok(());
        };
        if p.only.is_some_and(|o| o != op) {
            return Ok(());
        }
        if p.skip > 0 {
            p.skip -= 1;
            return Ok(());
        }
        let fault = p.fault;
        match &mut p.remaining {
            Remaining::Always => {}
            Remaining::Times(0) => {
                *plan = None;
                return Ok(());
            }
            Remaining::Times(n) => {
                *n -= 1;
                if *n == 0 {
                    *plan = None;
                }
            }
        }
        self.faulted.fetch_add(1, Ordering::SeqCst);
        Err(fault.error())
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for FaultyStore<S> {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.reach(Op::Get).await?;
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.reach(Op::GetMany).await?;
        self.inner.get_many(keys).await
    }
    async fn put(&self, put: Put) -> StoreResult<()> {
        self.reach(Op::Put).await?;
        self.inner.put(put).await
    }
    async fn update(&self, update: Update) -> StoreResult<Item> {
        self.reach(Op::Update).await?;
        self.inner.update(update).await
    }
    async fn delete(&self, delete: Delete) -> StoreResult<Option<Item>> {
        self.reach(Op::Delete).await?;
        self.inner.delete(delete).await
    }
    async fn query(&self, query: Query) -> StoreResult<QueryPage> {
        self.reach(Op::Query).await?;
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> StoreResult<()> {
        self.reach(Op::Transact).await?;
        self.inner.transact(ops).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.reach(Op::Ping).await?;
        self.inner.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every call successfully and counts what reached it.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Counting {
        fn hit<T>(&self, v: T) -> StoreResult<T> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(v)
        }
        fn reached(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Store for Counting {
        async fn get(&self, _: &Key) -> StoreResult<Option<Item>> {
            self.hit(None)
        }
        async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
            self.hit(vec![None; keys.len()])
        }
        async fn put(&self, _: Put) -> StoreResult<()> {
            self.hit(())
        }
        async fn update(&self, u: Update) -> StoreResult<Item> {
            self.hit(Item::new(&u.key))
        }
        async fn delete(&self, _: Delete) -> StoreResult<Option<Item>> {
            self.hit(None)
        }
        async fn query(&self, _: Query) -> StoreResult<QueryPage> {
            self.hit(QueryPage::default())
        }
        async fn transact(&self, _: Vec<TransactOp>) -> StoreResult<()> {
            self.hit(())
        }
        async fn ping(&self) -> StoreResult<()> {
            self.hit(())
        }
    }

    fn key() -> Key {
        Key::global("p", "s")
    }

    #[tokio::test]
    async fn fail_next_fails_n_calls_without_reaching_the_inner_store() {
        let inner = Arc::new(Counting::default());
        let store = FaultyStore::wrap(inner.clone());
        store.fail_next(2, Fault::Throttle);

        assert!(matches!(
            store.get(&key()).await,
            Err(StoreError::Throttled)
        ));
        assert!(matches!(store.ping().await, Err(StoreError::Throttled)));
        assert!(store.get(&key()).await.is_ok());

        assert_eq!(inner.reached(), 1);
        assert_eq!(store.calls(), 3);
        assert_eq!(store.calls_of(Op::Get), 2);
        assert_eq!(store.calls_of(Op::Ping), 1);
        assert_eq!(store.faulted(), 2);
    }

    #[tokio::test]
    async fn a_held_call_waits_until_released_while_other_calls_go_on() {
        let inner = Arc::new(Counting::default());
        let store = FaultyStore::wrap(inner.clone());
        let hold = store.hold_before(Op::Get, 2);

        let k = key();
        store.get(&k).await.unwrap();
        let (held, ()) = tokio::join!(store.get(&k), async {
            hold.reached().await;
            // Stopped before it is counted: a put passes meanwhile, and a fault set now
            // meets the held call.
            assert_eq!((inner.reached(), store.calls_of(Op::Get)), (1, 1));
            store.put(Put::new(Item::new(&key()))).await.unwrap();
            store.fail_next_of(Op::Get, 1, Fault::Throttle);
            hold.release();
        });

        assert!(matches!(held, Err(StoreError::Throttled)));
        assert_eq!((inner.reached(), store.calls_of(Op::Get)), (2, 2));
        store.get(&key()).await.unwrap();
    }

    #[tokio::test]
    async fn fail_always_holds_until_healed() {
        let store = FaultyStore::new(Counting::default());
        store.fail_always(Fault::Timeout);
        for _ in 0..3 {
            let err = store.put(Put::new(Item::new(&key()))).await.unwrap_err();
            assert!(matches!(&err, StoreError::Unavailable(m) if m == "timeout"));
            assert!(err.is_transient());
        }
        store.heal();
        assert!(store.put(Put::new(Item::new(&key()))).await.is_ok());
        assert_eq!(store.inner().reached(), 1);
        assert_eq!(store.calls_of(Op::Put), 4);
    }

    #[tokio::test]
    async fn a_targeted_fault_spares_other_operations() {
        let store = FaultyStore::new(Counting::default());
        store.fail_next_of(Op::Transact, 1, Fault::Throttle);
        assert!(store.get(&key()).await.is_ok());
        assert!(store.update(Update::new(key()).add("n", 1)).await.is_ok());
        assert!(matches!(
            store.transact(vec![]).await,
            Err(StoreError::Throttled)
        ));
        assert!(store.transact(vec![]).await.is_ok());
        assert_eq!(store.faulted(), 1);
    }

    #[tokio::test]
    async fn fail_after_lets_the_first_calls_of_its_operation_pass() {
        let store = FaultyStore::new(Counting::default());
        store.fail_after_of(Op::Transact, 2, 1, Fault::Timeout);
        assert!(store.get(&key()).await.is_ok());
        assert!(store.transact(vec![]).await.is_ok());
        assert!(store.transact(vec![]).await.is_ok());
        assert!(store.transact(vec![]).await.unwrap_err().is_transient());
        assert!(store.transact(vec![]).await.is_ok());
        assert_eq!((store.faulted(), store.inner().reached()), (1, 4));
    }

    #[tokio::test]
    async fn fail_next_zero_faults_nothing() {
        let store = FaultyStore::new(Counting::default());
        store.fail_next(0, Fault::Throttle);
        assert!(store.query(Query::partition("p")).await.is_ok());
        assert!(store.delete(Delete::new(key())).await.is_ok());
        assert_eq!(store.faulted(), 0);
    }

    #[tokio::test]
    async fn a_repeated_concurrent_write_lands_before_each_of_the_next_calls_then_stops() {
        let store = FaultyStore::new(crate::store::memory::MemoryStore::new());
        let n = |item: Item| item.get_i64("n");
        store.meanwhile_each(
            Op::Update,
            2,
            vec![TransactOp::Update(Update::new(key()).add("n", 1))],
        );
        assert_eq!(
            store.get(&key()).await.unwrap(),
            None,
            "a get does not set it off"
        );
        let add = || Update::new(key()).add("n", 10);
        assert_eq!(n(store.update(add()).await.unwrap()), Some(11));
        assert_eq!(n(store.update(add()).await.unwrap()), Some(22));
        assert_eq!(
            n(store.update(add()).await.unwrap()),
            Some(32),
            "two times, then no more"
        );
    }

    #[tokio::test]
    async fn a_concurrent_write_lands_once_just_before_the_next_call_of_its_operation() {
        let store = FaultyStore::new(crate::store::memory::MemoryStore::new());
        let bump = || TransactOp::Update(Update::new(key()).add("n", 1));
        let n = |item: Option<Item>| item.and_then(|i| i.get_i64("n"));
        store.meanwhile(Op::Update, vec![bump()]);
        // Other operations do not set it off.
        assert_eq!(n(store.get(&key()).await.unwrap()), None);
        let updated = store.update(Update::new(key()).add("n", 10)).await.unwrap();
        assert_eq!(
            n(Some(updated)),
            Some(11),
            "the concurrent write came first"
        );
        store.update(Update::new(key()).add("n", 10)).await.unwrap();
        assert_eq!(
            n(store.get(&key()).await.unwrap()),
            Some(21),
            "it landed once"
        );
    }

    #[test]
    fn an_arc_dyn_store_can_be_wrapped_and_shared_across_threads() {
        let inner: Arc<dyn Store> = Arc::new(Counting::default());
        let store: Arc<dyn Store> = Arc::new(FaultyStore::wrap(inner));
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        assert_send_sync(&store);
    }
}
