//! The embedded Store backend: one ordered map behind a mutex, with DynamoDB's
//! semantics (typed conditions, `ADD` counters, a sparse GSI, all-or-nothing
//! transactions, canonical numbers), so local runs and fast tests behave like the
//! table they stand in for. The conformance suite holds it to the same checks as
//! the DynamoDB backend; corners emulators get wrong are unit tests below.
//!
//! Expired items are not hidden: DynamoDB's TTL deletes lazily (up to days later),
//! so callers compare `expires_at` with their clock ([`Item::is_expired`],
//! [`Condition::live_at`]) and this store keeps expired items readable, as the
//! real table does.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{
    CancelReason, Condition, Delete, Index, Item, Key, MAX_ITEM_BYTES, Put, Query, QueryPage,
    ResumeKey, SortKey, Store, StoreError, StoreResult, TransactOp, Update, Value, attr,
    validate_transaction,
};

/// How far a change-feed subscriber may fall behind before it gets `RecvError::Lagged`.
const FEED_CAPACITY: usize = 4096;

/// One write, as a DynamoDB stream with NEW_AND_OLD_IMAGES reports it: `old: None`
/// is an insert, `new: None` a delete. Like a stream, writes that change nothing
/// (identical put, delete of a missing item, a transaction's check) report nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: Key,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// The embedded store. Clones share one table.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    items: Mutex<BTreeMap<Key, Item>>,
    feed: broadcast::Sender<Change>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                items: Mutex::new(BTreeMap::new()),
                feed: broadcast::channel(FEED_CAPACITY).0,
            }),
        }
    }

    /// The change feed (the local stand-in for DynamoDB Streams): every write made
    /// after this call, in commit order, one [`Change`] per item written.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.feed.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, Item>> {
        // Every write is computed before the map is touched, so a panic elsewhere
        // cannot have left it half-written: a poisoned lock is still consistent.
        self.inner
            .items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `new` (or deletes when `None`) and reports the change; returns the old item.
    fn commit(&self, items: &mut BTreeMap<Key, Item>, key: Key, new: Option<Item>) -> Option<Item> {
        let old = match &new {
            Some(item) => items.insert(key.clone(), item.clone()),
            None => items.remove(&key),
        };
        if old != new {
            // Sent under the lock so the feed's order is the commit order; an error
            // only means nobody is subscribed.
            let _ = self.inner.feed.send(Change {
                key,
                old: old.clone(),
                new,
            });
        }
        old
    }

    /// One non-transactional write: returns (old, new).
    fn write(&self, op: TransactOp) -> StoreResult<(Option<Item>, Option<Item>)> {
        let op = prepare(op)?;
        let key = op.key();
        let mut items = self.lock();
        let current = items.get(&key);
        match evaluate(&op, current) {
            Ok(Some(new)) => Ok((self.commit(&mut items, key, new.clone()), new)),
            Ok(None) => Ok((current.cloned(), current.cloned())),
            Err(Refusal::Condition) => Err(StoreError::ConditionFailed {
                current: current.cloned().map(Box::new),
            }),
            Err(Refusal::Invalid(msg)) => Err(StoreError::Invalid(msg)),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        check_key(key)?;
        Ok(self.lock().get(key).cloned())
    }

    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        super::validate_get_many(keys)?;
        keys.iter().try_for_each(check_key)?;
        let items = self.lock();
        Ok(keys.iter().map(|k| items.get(k).cloned()).collect())
    }

    async fn put(&self, put: Put) -> StoreResult<()> {
        self.write(TransactOp::Put(put)).map(drop)
    }

    async fn update(&self, update: Update) -> StoreResult<Item> {
        let (_, new) = self.write(TransactOp::Update(update))?;
        new.ok_or_else(|| StoreError::Other("an update left no item".into()))
    }

    async fn delete(&self, delete: Delete) -> StoreResult<Option<Item>> {
        self.write(TransactOp::Delete(delete)).map(|(old, _)| old)
    }

    async fn query(&self, q: Query) -> StoreResult<QueryPage> {
        check_query(&q)?;
        let start = q.start.as_ref().map(|s| position(s, q.index)).transpose()?;
        let items = self.lock();
        // (index sort key, table key): a total order, so paging over equal index sort
        // keys neither skips nor repeats an item.
        let mut rows: Vec<((&str, &Key), &Item)> = match q.index {
            Index::Table => items
                .range(Key::global(q.pk.clone(), "")..)
                .take_while(|(k, _)| k.pk == q.pk)
                .map(|(k, item)| ((k.sk.as_str(), k), item))
                .collect(),
            Index::Gsi1 => {
                // Sparse: only items carrying both index keys as strings.
                let mut rows: Vec<_> = items
                    .iter()
                    .filter(|(_, item)| item.get_s(attr::GSI1PK) == Some(q.pk.as_str()))
                    .filter_map(|(k, item)| Some(((item.get_s(attr::GSI1SK)?, k), item)))
                    .collect();
                rows.sort_by(|a, b| a.0.cmp(&b.0));
                rows
            }
        };
        rows.retain(|((sort, _), _)| q.sk.as_ref().is_none_or(|c| sort_key_matches(c, sort)));
        if !q.forward {
            rows.reverse();
        }
        if let Some((sort, key)) = &start {
            let after = (sort.as_str(), key);
            rows.retain(|(pos, _)| {
                if q.forward {
                    *pos > after
                } else {
                    *pos < after
                }
            });
        }
        // As DynamoDB: a query that reached its limit answers a resume key even when
        // nothing follows (its next page is empty).
        let limit = q.limit.map_or(usize::MAX, |l| l as usize);
        let reached = rows.len() >= limit;
        rows.truncate(limit);
        let next = reached
            .then(|| rows.last().map(|(_, item)| ResumeKey::after(item, q.index)))
            .flatten();
        let items = rows.into_iter().map(|(_, item)| item.clone()).collect();
        Ok(QueryPage { items, next })
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> StoreResult<()> {
        validate_transaction(&ops)?;
        let ops = ops
            .into_iter()
            .map(prepare)
            .collect::<StoreResult<Vec<_>>>()?;
        let mut items = self.lock();
        let mut reasons = Vec::with_capacity(ops.len());
        let mut writes = Vec::new();
        for op in &ops {
            let key = op.key();
            reasons.push(match evaluate(op, items.get(&key)) {
                Ok(new) => {
                    writes.extend(new.map(|new| (key, new)));
                    CancelReason::None
                }
                Err(Refusal::Condition) => CancelReason::ConditionFailed,
                // DynamoDB cancels (not rejects) a transaction whose action fails on
                // the item's data, e.g. ADD to a string, with reason ValidationError.
                Err(Refusal::Invalid(_)) => CancelReason::Other("ValidationError".into()),
            });
        }
        if reasons.iter().any(|r| *r != CancelReason::None) {
            return Err(StoreError::TransactionCanceled { reasons });
        }
        for (key, new) in writes {
            self.commit(&mut items, key, new);
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Why an action did not apply to the current item.
enum Refusal {
    Condition,
    /// The action does not fit the item's data (ADD to a non-number…).
    Invalid(String),
}

/// The state `op` leaves its item in (`Some(None)`: deleted; `None`: a check).
fn evaluate(op: &TransactOp, current: Option<&Item>) -> Result<Option<Option<Item>>, Refusal> {
    let condition = match op {
        TransactOp::Put(p) => p.condition.as_ref(),
        TransactOp::Update(u) => u.condition.as_ref(),
        TransactOp::Delete(d) => d.condition.as_ref(),
        TransactOp::Check { condition, .. } => Some(condition),
    };
    if condition.is_some_and(|c| !holds(c, current)) {
        return Err(Refusal::Condition);
    }
    let new = match op {
        TransactOp::Put(p) => p.item.clone(),
        TransactOp::Update(u) => updated(u, current).map_err(Refusal::Invalid)?,
        TransactOp::Delete(_) => return Ok(Some(None)),
        TransactOp::Check { .. } => return Ok(None),
    };
    // As DynamoDB: a write that would leave an item over 400 KB is refused.
    if new.size() > MAX_ITEM_BYTES {
        return Err(Refusal::Invalid(
            "Item size has exceeded the maximum allowed size".into(),
        ));
    }
    Ok(Some(Some(new)))
}

/// Applies SET, SET if_not_exists, ADD and REMOVE to the item (or to a new one).
fn updated(u: &Update, current: Option<&Item>) -> Result<Item, String> {
    let mut item = current.cloned().unwrap_or_else(|| Item::new(&u.key));
    for (name, v) in &u.set {
        item.0.insert(name.clone(), v.clone());
    }
    for (name, v) in &u.set_if_absent {
        item.0.entry(name.clone()).or_insert_with(|| v.clone());
    }
    for (name, by) in &u.add {
        let sum = match item.0.get(name) {
            None => Num::from(*by),
            Some(Value::N(n)) => Num::parse(n)
                .and_then(|n| n.checked_add(*by))
                .ok_or_else(|| format!("number overflow adding {by} to {name}"))?,
            Some(_) => {
                return Err(format!(
                    "an operand in the update expression has an incorrect data type: ADD {name}"
                ));
            }
        };
        item.0.insert(name.clone(), Value::N(sum.to_string()));
    }
    for name in &u.remove {
        item.0.remove(name);
    }
    check_index_keys(&item)?;
    Ok(item)
}

fn holds(c: &Condition, item: Option<&Item>) -> bool {
    let get = |name: &str| item.and_then(|i| i.get(name));
    let order = |name: &str, v: &Value, ok: fn(Ordering) -> bool| {
        get(name).and_then(|a| compare(a, v)).is_some_and(ok)
    };
    match c {
        Condition::Exists(n) => get(n).is_some(),
        Condition::NotExists(n) => get(n).is_none(),
        Condition::Eq(n, v) => get(n).is_some_and(|a| equal(a, v)),
        // DynamoDB: `a <> v` is true when `a` is missing or of another type.
        Condition::Ne(n, v) => !get(n).is_some_and(|a| equal(a, v)),
        Condition::Lt(n, v) => order(n, v, Ordering::is_lt),
        Condition::Le(n, v) => order(n, v, Ordering::is_le),
        Condition::Gt(n, v) => order(n, v, Ordering::is_gt),
        Condition::Ge(n, v) => order(n, v, Ordering::is_ge),
        Condition::BeginsWith(n, prefix) => {
            matches!(get(n), Some(Value::S(s)) if s.starts_with(prefix.as_str()))
        }
        Condition::And(cs) => cs.iter().all(|c| holds(c, item)),
        Condition::Or(cs) => cs.iter().any(|c| holds(c, item)),
        Condition::Not(c) => !holds(c, item),
    }
}

/// `=` of DynamoDB: same type and value; numbers by value, sets in any order.
fn equal(a: &Value, b: &Value) -> bool {
    let num_eq = |x: &str, y: &str| match (Num::parse(x), Num::parse(y)) {
        (Some(x), Some(y)) => x == y,
        _ => x == y,
    };
    match (a, b) {
        (Value::N(x), Value::N(y)) => num_eq(x, y),
        (Value::L(x), Value::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equal(x, y))
        }
        (Value::M(x), Value::M(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (Value::Ss(x), Value::Ss(y)) => x.len() == y.len() && x.iter().all(|e| y.contains(e)),
        (Value::Ns(x), Value::Ns(y)) => {
            x.len() == y.len() && x.iter().all(|e| y.iter().any(|f| num_eq(e, f)))
        }
        _ => a == b,
    }
}

/// `<`-family order of DynamoDB: only between two S (bytes), two N (value) or two B.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::S(x), Value::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::N(x), Value::N(y)) => Some(Num::parse(x)?.cmp(&Num::parse(y)?)),
        (Value::B(x), Value::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn sort_key_matches(c: &SortKey, sk: &str) -> bool {
    match c {
        SortKey::Eq(v) => sk == v,
        SortKey::Lt(v) => sk < v.as_str(),
        SortKey::Le(v) => sk <= v.as_str(),
        SortKey::Gt(v) => sk > v.as_str(),
        SortKey::Ge(v) => sk >= v.as_str(),
        SortKey::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
        SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
    }
}

/// The (index sort key, table key) a query resumes after.
fn position(start: &ResumeKey, index: Index) -> StoreResult<(String, Key)> {
    let get = |name: &str| {
        start
            .0
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(format!("the resume key lacks {name}")))
    };
    let key = Key::global(get(attr::PK)?, get(attr::SK)?);
    let sort = match index {
        Index::Table => key.sk.clone(),
        Index::Gsi1 => {
            get(attr::GSI1PK)?;
            get(attr::GSI1SK)?
        }
    };
    Ok((sort, key))
}

// Request checks: what DynamoDB answers with a ValidationException, refused here
// as `Invalid` before anything is read.

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

/// Checks an action and returns it with its values in DynamoDB's canonical form.
fn prepare(op: TransactOp) -> StoreResult<TransactOp> {
    let condition = |c: Option<&Condition>| c.map_or(Ok(()), check_condition);
    Ok(match op {
        TransactOp::Put(p) => {
            condition(p.condition.as_ref())?;
            TransactOp::Put(Put {
                item: prepare_item(p.item)?,
                condition: p.condition,
            })
        }
        TransactOp::Update(u) => TransactOp::Update(prepare_update(u)?),
        TransactOp::Delete(d) => {
            check_key(&d.key)?;
            condition(d.condition.as_ref())?;
            TransactOp::Delete(d)
        }
        TransactOp::Check { key, condition: c } => {
            check_key(&key)?;
            check_condition(&c)?;
            TransactOp::Check { key, condition: c }
        }
    })
}

fn prepare_item(item: Item) -> StoreResult<Item> {
    let key = item
        .key()
        .ok_or_else(|| invalid("an item needs string pk and sk"))?;
    check_key(&key)?;
    let mut attrs = BTreeMap::new();
    for (name, v) in item.0 {
        check_name(&name)?;
        attrs.insert(name, normalize(v)?);
    }
    let item = Item(attrs);
    check_index_keys(&item).map_err(StoreError::Invalid)?;
    Ok(item)
}

fn prepare_update(u: Update) -> StoreResult<Update> {
    check_key(&u.key)?;
    if let Some(c) = &u.condition {
        check_condition(c)?;
    }
    let names = (u.set.iter().map(|(n, _)| n))
        .chain(u.set_if_absent.iter().map(|(n, _)| n))
        .chain(u.add.iter().map(|(n, _)| n))
        .chain(&u.remove);
    let mut seen = HashSet::new();
    for name in names {
        check_name(name)?;
        if name == attr::PK || name == attr::SK {
            return Err(invalid(format!(
                "cannot update attribute {name}: it is part of the key"
            )));
        }
        if !seen.insert(name) {
            return Err(invalid(format!("two document paths overlap: {name}")));
        }
    }
    let canonical = |vs: Vec<(String, Value)>| {
        vs.into_iter()
            .map(|(n, v)| Ok((n, normalize(v)?)))
            .collect::<StoreResult<Vec<_>>>()
    };
    let set = canonical(u.set)?;
    let set_if_absent = canonical(u.set_if_absent)?;
    Ok(Update {
        set,
        set_if_absent,
        ..u
    })
}

fn check_key(key: &Key) -> StoreResult<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(invalid("a key attribute cannot be an empty string"));
    }
    Ok(())
}

fn check_name(name: &str) -> StoreResult<()> {
    if name.is_empty() {
        return Err(invalid("an attribute name cannot be empty"));
    }
    Ok(())
}

/// The GSI's key attributes are declared strings: another type or "" is refused.
fn check_index_keys(item: &Item) -> Result<(), String> {
    for name in [attr::GSI1PK, attr::GSI1SK] {
        match item.get(name) {
            None => {}
            Some(Value::S(s)) if !s.is_empty() => {}
            Some(v) => {
                return Err(format!(
                    "index key {name} must be a non-empty string, got {v:?}"
                ));
            }
        }
    }
    Ok(())
}

fn check_condition(c: &Condition) -> StoreResult<()> {
    match c {
        Condition::Exists(n) | Condition::NotExists(n) | Condition::BeginsWith(n, _) => {
            check_name(n)
        }
        Condition::Eq(n, v) | Condition::Ne(n, v) => {
            check_name(n)?;
            normalize(v.clone()).map(drop)
        }
        Condition::Lt(n, v) | Condition::Le(n, v) | Condition::Gt(n, v) | Condition::Ge(n, v) => {
            check_name(n)?;
            match v {
                Value::S(_) | Value::B(_) => Ok(()),
                Value::N(x) => number(x).map(drop),
                // DynamoDB refuses an ordering against a list, map, set, bool or null.
                _ => Err(invalid(format!(
                    "{n}: <, <=, >, >= take S, N or B, got {v:?}"
                ))),
            }
        }
        Condition::And(cs) | Condition::Or(cs) if cs.is_empty() => Err(invalid("an empty AND/OR")),
        Condition::And(cs) | Condition::Or(cs) => cs.iter().try_for_each(check_condition),
        Condition::Not(c) => check_condition(c),
    }
}

fn check_query(q: &Query) -> StoreResult<()> {
    super::validate_query(q)?;
    let bounds: Vec<&String> = match &q.sk {
        None => vec![],
        Some(SortKey::Between(lo, hi)) => vec![lo, hi],
        Some(
            SortKey::Eq(v)
            | SortKey::Lt(v)
            | SortKey::Le(v)
            | SortKey::Gt(v)
            | SortKey::Ge(v)
            | SortKey::BeginsWith(v),
        ) => vec![v],
    };
    if q.pk.is_empty() || bounds.iter().any(|b| b.is_empty()) {
        return Err(invalid("a key attribute cannot be an empty string"));
    }
    Ok(())
}

/// DynamoDB stores numbers canonically ("01.50" reads back as "1.5") and refuses
/// malformed numbers, empty sets and sets with duplicates.
fn normalize(v: Value) -> StoreResult<Value> {
    let distinct = |set: &[String]| {
        if set.is_empty() {
            return Err(invalid("a set cannot be empty"));
        }
        if set.iter().collect::<HashSet<_>>().len() != set.len() {
            return Err(invalid("a set cannot hold duplicates"));
        }
        Ok(())
    };
    Ok(match v {
        Value::N(n) => Value::N(number(&n)?.to_string()),
        Value::L(l) => Value::L(l.into_iter().map(normalize).collect::<StoreResult<_>>()?),
        Value::M(m) => Value::M(
            m.into_iter()
                .map(|(k, v)| Ok((k, normalize(v)?)))
                .collect::<StoreResult<_>>()?,
        ),
        Value::Ss(s) => {
            distinct(&s)?;
            Value::Ss(s)
        }
        Value::Ns(ns) => {
            let ns = ns
                .iter()
                .map(|n| number(n).map(|n| n.to_string()))
                .collect::<StoreResult<Vec<_>>>()?;
            distinct(&ns)?;
            Value::Ns(ns)
        }
        other => other,
    })
}

fn number(s: &str) -> StoreResult<Num> {
    Num::parse(s)
        .filter(Num::in_range)
        .ok_or_else(|| invalid(format!("{s:?} is not a DynamoDB number")))
}

/// An exact decimal, as DynamoDB keeps numbers: `0.d1d2… × 10^exp`, digits without
/// leading or trailing zeros (none for zero). Compared by value, never through f64.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl From<i64> for Num {
    fn from(v: i64) -> Self {
        Num::parse(&v.to_string()).expect("an integer is a number")
    }
}

impl Num {
    /// `[+-]digits[.digits][(e|E)[+-]digits]`.
    fn parse(s: &str) -> Option<Num> {
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all = int.bytes().chain(frac.bytes());
        if int.len() + frac.len() == 0 || !all.clone().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let all: Vec<u8> = all.map(|b| b - b'0').collect();
        let lead = all.iter().take_while(|&&d| d == 0).count();
        let mut digits = all[lead..].to_vec();
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Some(Num {
                neg: false,
                digits,
                exp: 0,
            });
        }
        let exp = exp
            .checked_add(int.len() as i64)?
            .checked_sub(lead as i64)?;
        Some(Num { neg, digits, exp })
    }

    /// DynamoDB's limits: 38 significant digits, magnitude 1E-130 to under 1E+126.
    fn in_range(&self) -> bool {
        self.digits.len() <= 38 && (self.digits.is_empty() || (-129..=126).contains(&self.exp))
    }

    fn cmp(&self, other: &Num) -> Ordering {
        let sign = |n: &Num| match (n.digits.is_empty(), n.neg) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        let by_sign = sign(self).cmp(&sign(other));
        if by_sign != Ordering::Equal || self.digits.is_empty() {
            return by_sign;
        }
        let magnitude = self
            .exp
            .cmp(&other.exp)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.neg {
            magnitude.reverse()
        } else {
            magnitude
        }
    }

    /// `self + by`, or `None` past DynamoDB's 38 digits (as DynamoDB refuses it).
    fn checked_add(&self, by: i64) -> Option<Num> {
        if by == 0 {
            return Some(self.clone());
        }
        let len = self.digits.len() as i64;
        let scale = u32::try_from((len - self.exp).max(0)).ok()?;
        let zeros = u32::try_from((self.exp - len).max(0)).ok()?;
        let mut m: i128 = 0;
        for d in &self.digits {
            m = m.checked_mul(10)?.checked_add(i128::from(*d))?;
        }
        m = m.checked_mul(10i128.checked_pow(zeros)?)?;
        if self.neg {
            m = -m;
        }
        let sum = m.checked_add(i128::from(by).checked_mul(10i128.checked_pow(scale)?)?)?;
        Num::parse(&format!("{sum}e-{scale}")).filter(Num::in_range)
    }
}

/// Plain notation without exponent, as DynamoDB returns numbers.
impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digits.is_empty() {
            return f.write_str("0");
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.neg { "-" } else { "" };
        let (len, exp) = (digits.len() as i64, self.exp);
        if exp <= 0 {
            write!(
                f,
                "{sign}0.{}{digits}",
                "0".repeat(exp.unsigned_abs() as usize)
            )
        } else if exp >= len {
            write!(f, "{sign}{digits}{}", "0".repeat((exp - len) as usize))
        } else {
            let (int, frac) = digits.split_at(exp as usize);
            write!(f, "{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn key(sk: &str) -> Key {
        Key::global("P", sk)
    }

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        conformance::run_all(&MemoryStore::new()).await
    }

    #[tokio::test]
    async fn memory_stores_pass_the_checks_of_a_read_beside_another_table() {
        conformance::run_beside(&MemoryStore::new(), &MemoryStore::new()).await
    }

    #[test]
    fn numbers_parse_to_their_canonical_form() {
        for (given, canonical) in [
            ("01.50", "1.5"),
            ("1e2", "100"),
            ("1.5E-3", "0.0015"),
            ("-0", "0"),
            ("+7", "7"),
            ("-12.5", "-12.5"),
            (".5", "0.5"),
            (
                "123456789012345678901234567890.12345678",
                "123456789012345678901234567890.12345678",
            ),
        ] {
            assert_eq!(
                Num::parse(given).map(|n| n.to_string()).as_deref(),
                Some(canonical),
                "{given}"
            );
        }
        for bad in ["", "-", ".", "1.2.3", "1e", "abc", "1 ", "0x10"] {
            assert_eq!(Num::parse(bad), None, "{bad:?}");
        }
        assert!(number("1e126").is_err() && number("1e125").is_ok());
        assert!(number("1e-130").is_ok() && number("1e-131").is_err());
        assert!(number(&"9".repeat(39)).is_err() && number(&"9".repeat(38)).is_ok());
    }

    #[test]
    fn numbers_compare_by_value_not_text() {
        let lt = |a: &str, b: &str| Num::parse(a).unwrap().cmp(&Num::parse(b).unwrap());
        assert_eq!(lt("9", "10"), Ordering::Less);
        assert_eq!(lt("-10", "-9"), Ordering::Less);
        assert_eq!(lt("-0.5", "0"), Ordering::Less);
        assert_eq!(lt("1e2", "100.0"), Ordering::Equal);
        assert_eq!(lt("0.001", "0.01"), Ordering::Less);
        // Beyond f64's 53 bits and i64's range.
        assert_eq!(
            lt("9007199254740993", "9007199254740992"),
            Ordering::Greater
        );
        assert_eq!(
            lt(
                "99999999999999999999999999999999999998",
                "99999999999999999999999999999999999999"
            ),
            Ordering::Less
        );
    }

    #[test]
    fn comparisons_follow_dynamodb_types() {
        let item = Item::new(&key("a"))
            .with("n", 9)
            .with("s", "9")
            .with("nul", Value::Null);
        let holds = |c: Condition| holds(&c, Some(&item));
        // Ordering only within one type; across types or on a missing attribute: false.
        assert!(!holds(Condition::lt("n", "10")) && !holds(Condition::ge("n", "10")));
        assert!(!holds(Condition::lt("missing", 10)) && !holds(Condition::ge("missing", 10)));
        assert!(holds(Condition::gt("s", "10")), "strings compare bytewise");
        // `<>` is the negation of `=`: true across types and on a missing attribute.
        assert!(holds(Condition::ne("n", "9")) && holds(Condition::ne("missing", 1)));
        assert!(
            !holds(Condition::eq("n", "9")) && holds(Condition::eq("n", Value::N("9.0".into())))
        );
        // A missing attribute is not NULL; a NULL attribute is.
        assert!(
            !holds(Condition::eq("missing", Value::Null))
                && holds(Condition::eq("nul", Value::Null))
        );
        assert!(
            !holds(Condition::begins_with("n", "9")),
            "begins_with reads strings only"
        );
        // An absent item has no attributes at all.
        assert!(
            super::holds(&Condition::ne("pk", "x"), None)
                && !super::holds(&Condition::item_present(), None)
        );
    }

    #[test]
    fn sets_and_maps_compare_as_values() {
        let ss = |v: &[&str]| Value::Ss(v.iter().map(|s| s.to_string()).collect());
        let ns = |v: &[&str]| Value::Ns(v.iter().map(|s| s.to_string()).collect());
        assert!(equal(&ss(&["a", "b"]), &ss(&["b", "a"])) && !equal(&ss(&["a"]), &ss(&["a", "b"])));
        assert!(equal(&ns(&["1", "2.0"]), &ns(&["2", "1"])));
        let m = |n: &str| Value::M(BTreeMap::from([("x".to_owned(), Value::N(n.into()))]));
        assert!(equal(&m("1"), &m("1.0")) && !equal(&m("1"), &m("2")));
    }

    #[tokio::test]
    async fn ordering_against_a_list_or_set_is_invalid() {
        let store = MemoryStore::new();
        let put = Put::new(Item::new(&key("a"))).when(Condition::lt("n", Value::L(vec![])));
        assert!(matches!(store.put(put).await, Err(StoreError::Invalid(_))));
    }

    #[tokio::test]
    async fn malformed_values_and_index_keys_are_invalid() {
        let store = MemoryStore::new();
        for (name, v) in [
            ("n", Value::N("1.2.3".into())),
            ("ss", Value::Ss(vec![])),
            ("ss", Value::Ss(vec!["a".into(), "a".into()])),
            ("ns", Value::Ns(vec!["1".into(), "1.0".into()])),
            (attr::GSI1PK, Value::s("")),
            (attr::GSI1SK, Value::n(1)),
        ] {
            let put = Put::new(Item::new(&key("a")).with(name, v.clone()));
            assert!(
                matches!(store.put(put).await, Err(StoreError::Invalid(_))),
                "{name}: {v:?}"
            );
        }
        let empty_sk = Put::new(Item::new(&Key::global("P", "")));
        assert!(matches!(
            store.put(empty_sk).await,
            Err(StoreError::Invalid(_))
        ));
        let overlap = Update::new(key("a")).set("x", 1).remove("x");
        assert!(matches!(
            store.update(overlap).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.get(&key("a")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn numbers_are_stored_canonically_and_added_exactly() {
        let store = MemoryStore::new();
        store
            .put(Put::new(
                Item::new(&key("a")).with("n", Value::N("01.50".into())),
            ))
            .await
            .unwrap();
        let item = store
            .update(Update::new(key("a")).add("n", 1))
            .await
            .unwrap();
        assert_eq!(item.get("n"), Some(&Value::N("2.5".into())));
        let item = store
            .update(Update::new(key("a")).add("n", -3))
            .await
            .unwrap();
        assert_eq!(item.get("n"), Some(&Value::N("-0.5".into())));
        // 38 significant digits, all after the point: adding 1 needs a 39th.
        let precise = Item::new(&key("b")).with("n", Value::N(format!("0.{}", "1".repeat(38))));
        store.put(Put::new(precise)).await.unwrap();
        let overflow = store.update(Update::new(key("b")).add("n", 1)).await;
        assert!(
            matches!(overflow, Err(StoreError::Invalid(_))),
            "{overflow:?}"
        );
    }

    #[tokio::test]
    async fn the_change_feed_reports_every_write_in_order() {
        let store = MemoryStore::new();
        let mut feed = store.subscribe();
        let a = Item::new(&key("a")).with("v", 1);
        store.put(Put::new(a.clone())).await.unwrap();
        store.put(Put::new(a.clone())).await.unwrap(); // unchanged: no record
        let a2 = store
            .update(Update::new(key("a")).add("v", 1))
            .await
            .unwrap();
        let refused = store
            .put(Put::new(a.clone()).when(Condition::item_absent()))
            .await;
        assert!(refused.unwrap_err().is_condition_failed());
        store.delete(Delete::new(key("missing"))).await.unwrap(); // nothing deleted: no record
        let b = Item::new(&key("b"));
        let ops = vec![
            TransactOp::Put(Put::new(b.clone())),
            TransactOp::Delete(Delete::new(key("a"))),
            TransactOp::Check {
                key: key("c"),
                condition: Condition::item_absent(),
            },
        ];
        store.transact(ops).await.unwrap();

        let change = |k: &str, old: Option<&Item>, new: Option<&Item>| Change {
            key: key(k),
            old: old.cloned(),
            new: new.cloned(),
        };
        let expected = [
            change("a", None, Some(&a)),
            change("a", Some(&a), Some(&a2)),
            change("b", None, Some(&b)),
            change("a", Some(&a2), None),
        ];
        for want in expected {
            assert_eq!(feed.try_recv().unwrap(), want);
        }
        assert!(feed.try_recv().is_err(), "no further changes");
    }

    #[tokio::test]
    async fn clones_share_one_table_and_feed() {
        let store = MemoryStore::new();
        let mut feed = store.subscribe();
        store
            .clone()
            .put(Put::new(Item::new(&key("a"))))
            .await
            .unwrap();
        assert!(store.get(&key("a")).await.unwrap().is_some());
        assert_eq!(feed.try_recv().unwrap().key, key("a"));
    }

    #[tokio::test]
    async fn expired_items_stay_readable() {
        let store = MemoryStore::new();
        let item = Item::new(&key("a")).with(attr::EXPIRES_AT, 1_i64);
        store.put(Put::new(item.clone())).await.unwrap();
        assert_eq!(store.get(&key("a")).await.unwrap(), Some(item));
    }

    #[tokio::test]
    async fn a_transaction_adding_to_a_string_is_cancelled_with_a_validation_error() {
        let store = MemoryStore::new();
        store
            .put(Put::new(Item::new(&key("a")).with("n", "text")))
            .await
            .unwrap();
        let ops = vec![
            TransactOp::Put(Put::new(Item::new(&key("b")))),
            TransactOp::Update(Update::new(key("a")).add("n", 1)),
        ];
        let reasons = match store.transact(ops).await {
            Err(StoreError::TransactionCanceled { reasons }) => reasons,
            other => panic!("expected a cancellation, got {other:?}"),
        };
        assert_eq!(
            reasons,
            [
                CancelReason::None,
                CancelReason::Other("ValidationError".into())
            ]
        );
        assert_eq!(store.get(&key("b")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn gsi_pages_through_equal_index_sort_keys_by_table_key() {
        let store = MemoryStore::new();
        for sk in ["c", "a", "d", "b"] {
            let item = Item::new(&key(sk))
                .with(attr::GSI1PK, "G")
                .with(attr::GSI1SK, "same");
            store.put(Put::new(item)).await.unwrap();
        }
        for forward in [true, false] {
            let (mut seen, mut next) = (Vec::new(), None);
            loop {
                let mut q = Query::partition("G").on(Index::Gsi1).limit(1).resume(next);
                q.forward = forward;
                let page = store.query(q).await.unwrap();
                seen.extend(
                    page.items
                        .iter()
                        .map(|i| i.get_s(attr::SK).unwrap().to_owned()),
                );
                next = page.next;
                if next.is_none() {
                    break;
                }
            }
            let mut want = vec!["a", "b", "c", "d"];
            if !forward {
                want.reverse();
            }
            assert_eq!(seen, want);
        }
    }

    #[tokio::test]
    async fn malformed_queries_are_invalid() {
        let store = MemoryStore::new();
        for q in [
            Query::partition("G").on(Index::Gsi1).consistent(),
            Query::partition("P").sk(SortKey::Between("b".into(), "a".into())),
            Query::partition(""),
            Query::partition("P").sk(SortKey::Eq(String::new())),
            Query::partition("P").resume(Some(ResumeKey::default())),
        ] {
            assert!(
                matches!(store.query(q.clone()).await, Err(StoreError::Invalid(_))),
                "{q:?}"
            );
        }
    }
}
