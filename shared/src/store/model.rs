//! The Store port's data model: values, items, keys, conditions, updates, queries.
//!
//! Backend-neutral on purpose: the memory backend and the DynamoDB backend both
//! translate these types, and handlers never see `aws_sdk_dynamodb` types.

use std::collections::BTreeMap;

use serde::{Serialize, de::DeserializeOwned};

use crate::tenant::TenantId;

/// One attribute value, mirroring DynamoDB's types. Numbers keep their decimal
/// text (as DynamoDB does) so no precision is lost between backends.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    S(String),
    N(String),
    B(Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
    Ss(Vec<String>),
    Ns(Vec<String>),
}

/// DynamoDB's limit on one item: its attribute names and values, 400 KB.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

impl Value {
    /// The bytes DynamoDB counts for this value (numbers: about a byte per two digits;
    /// lists and maps: 3 bytes plus their elements, and names for a map).
    pub fn size(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            Value::N(n) => n.len().div_ceil(2) + 1,
            Value::B(b) => b.len(),
            Value::Bool(_) | Value::Null => 1,
            Value::L(items) => 3 + items.iter().map(|v| 1 + v.size()).sum::<usize>(),
            Value::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| 1 + k.len() + v.size())
                    .sum::<usize>()
            }
            Value::Ss(items) => items.iter().map(String::len).sum(),
            Value::Ns(items) => items.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        }
    }

    pub fn s(v: impl Into<String>) -> Self {
        Value::S(v.into())
    }
    pub fn n(v: impl Into<i128>) -> Self {
        Value::N(v.into().to_string())
    }
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => n.parse().ok(),
            _ => None,
        }
    }
    pub fn as_b(&self) -> Option<&[u8]> {
        match self {
            Value::B(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::S(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::S(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::N(v.to_string())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::B(v)
    }
}

/// Attribute names with a meaning to the table itself.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1PK: &str = "gsi1pk";
    pub const GSI1SK: &str = "gsi1sk";
    /// DynamoDB TTL attribute (epoch seconds). Reads still compare it with the clock:
    /// TTL deletion is lazy (up to 48 h).
    pub const EXPIRES_AT: &str = "expires_at";
}

/// A stored item: attribute name -> value, always holding `pk` and `sk`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item(pub BTreeMap<String, Value>);

impl Item {
    pub fn new(key: &Key) -> Self {
        let mut m = BTreeMap::new();
        m.insert(attr::PK.to_owned(), Value::S(key.pk.clone()));
        m.insert(attr::SK.to_owned(), Value::S(key.sk.clone()));
        Item(m)
    }
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(name.to_owned(), value.into());
    }
    /// The bytes DynamoDB counts for the item, to hold against [`MAX_ITEM_BYTES`].
    pub fn size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.size()).sum()
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    pub fn get_s(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_s)
    }
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }
    /// The item's primary key, if it has one.
    pub fn key(&self) -> Option<Key> {
        Some(Key {
            pk: self.get_s(attr::PK)?.to_owned(),
            sk: self.get_s(attr::SK)?.to_owned(),
        })
    }
    /// True when the item carries an `expires_at` at or before `now` (epoch seconds).
    pub fn is_expired(&self, now_epoch: i64) -> bool {
        self.get_i64(attr::EXPIRES_AT)
            .is_some_and(|e| e <= now_epoch)
    }

    /// Builds an item from a serializable record plus its key. Record fields named
    /// like key attributes are overwritten by the key.
    pub fn from_record<T: Serialize>(key: &Key, record: &T) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_value(record)?;
        let mut item = Item::new(key);
        if let serde_json::Value::Object(map) = json {
            for (k, v) in map {
                if k != attr::PK && k != attr::SK && !v.is_null() {
                    item.0.insert(k, from_json(v));
                }
            }
        }
        Ok(item)
    }

    /// Reads the item back into a record type (key attributes included in the input).
    pub fn to_record<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(super::record::De::Map(&self.0))
    }
}

fn from_json(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::N(n.to_string()),
        J::String(s) => Value::S(s),
        J::Array(a) => Value::L(a.into_iter().map(from_json).collect()),
        J::Object(o) => Value::M(o.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

/// What an item's value was as JSON before records were read straight from items
/// (`record`'s tests hold the two to the same answers).
#[cfg(test)]
pub(super) fn to_json(v: &Value) -> serde_json::Value {
    use base64::Engine as _;
    use serde_json::Value as J;
    let num = |n: &str| {
        n.parse::<i64>()
            .map(J::from)
            .or_else(|_| n.parse::<u64>().map(J::from))
            .or_else(|_| n.parse::<f64>().map(J::from))
            .unwrap_or_else(|_| J::String(n.to_owned()))
    };
    match v {
        Value::S(s) => J::String(s.clone()),
        Value::N(n) => num(n),
        Value::B(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Bool(b) => J::Bool(*b),
        Value::Null => J::Null,
        Value::L(l) => J::Array(l.iter().map(to_json).collect()),
        Value::M(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Value::Ss(s) => J::Array(s.iter().cloned().map(J::String).collect()),
        Value::Ns(n) => J::Array(n.iter().map(|n| num(n)).collect()),
    }
}

/// A primary key. Partition keys of tenant data are built with [`Key::tenant`], so a
/// repository cannot address an item without naming its tenant first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    /// `T#<tenant>#<part>#<part>…` / `sk`: the shape of every tenant-owned item.
    pub fn tenant(tenant: &TenantId, parts: &[&str], sk: impl Into<String>) -> Self {
        Key {
            pk: tenant_pk(tenant, parts),
            sk: sk.into(),
        }
    }
    /// Keys outside any tenant (global lookups that precede knowing the tenant,
    /// e.g. an email index). Use sparingly: every caller is a tenancy decision.
    pub fn global(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// `T#<tenant>#A#B`: the partition-key prefix rule of ARCHITECTURE.md.
pub fn tenant_pk(tenant: &TenantId, parts: &[&str]) -> String {
    let mut pk = format!("T#{tenant}");
    for p in parts {
        pk.push('#');
        pk.push_str(p);
    }
    pk
}

/// Typed condition expressions. Attribute names are top-level names; backends take
/// care of reserved words and placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Exists(String),
    NotExists(String),
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    BeginsWith(String, String),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// The item does not exist yet (`attribute_not_exists(pk)`).
    pub fn item_absent() -> Self {
        Condition::NotExists(attr::PK.to_owned())
    }
    /// The item exists (`attribute_exists(pk)`).
    pub fn item_present() -> Self {
        Condition::Exists(attr::PK.to_owned())
    }
    pub fn exists(name: &str) -> Self {
        Condition::Exists(name.to_owned())
    }
    pub fn not_exists(name: &str) -> Self {
        Condition::NotExists(name.to_owned())
    }
    pub fn eq(name: &str, v: impl Into<Value>) -> Self {
        Condition::Eq(name.to_owned(), v.into())
    }
    pub fn ne(name: &str, v: impl Into<Value>) -> Self {
        Condition::Ne(name.to_owned(), v.into())
    }
    pub fn lt(name: &str, v: impl Into<Value>) -> Self {
        Condition::Lt(name.to_owned(), v.into())
    }
    pub fn le(name: &str, v: impl Into<Value>) -> Self {
        Condition::Le(name.to_owned(), v.into())
    }
    pub fn gt(name: &str, v: impl Into<Value>) -> Self {
        Condition::Gt(name.to_owned(), v.into())
    }
    pub fn ge(name: &str, v: impl Into<Value>) -> Self {
        Condition::Ge(name.to_owned(), v.into())
    }
    pub fn begins_with(name: &str, prefix: impl Into<String>) -> Self {
        Condition::BeginsWith(name.to_owned(), prefix.into())
    }
    pub fn and(self, other: Condition) -> Self {
        match self {
            Condition::And(mut v) => {
                v.push(other);
                Condition::And(v)
            }
            c => Condition::And(vec![c, other]),
        }
    }
    pub fn or(self, other: Condition) -> Self {
        match self {
            Condition::Or(mut v) => {
                v.push(other);
                Condition::Or(v)
            }
            c => Condition::Or(vec![c, other]),
        }
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Condition::Not(Box::new(self))
    }
    /// Not expired at `now` (epoch seconds): absent `expires_at` or one in the future.
    pub fn live_at(now_epoch: i64) -> Self {
        Condition::not_exists(attr::EXPIRES_AT).or(Condition::gt(attr::EXPIRES_AT, now_epoch))
    }
}

/// A conditional put (replaces the whole item).
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    pub item: Item,
    pub condition: Option<Condition>,
}

impl Put {
    pub fn new(item: Item) -> Self {
        Put {
            item,
            condition: None,
        }
    }
    pub fn when(mut self, c: Condition) -> Self {
        self.condition = Some(c);
        self
    }
}

/// A conditional delete; returns the old item when it existed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub key: Key,
    pub condition: Option<Condition>,
}

impl Delete {
    pub fn new(key: Key) -> Self {
        Delete {
            key,
            condition: None,
        }
    }
    pub fn when(mut self, c: Condition) -> Self {
        self.condition = Some(c);
        self
    }
}

/// An update: `SET` values, `ADD` numbers (atomic counters; a missing attribute counts
/// as 0), `REMOVE` attributes; creates the item when absent unless a condition forbids
/// it. Returns the item as it is after the update.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub key: Key,
    pub set: Vec<(String, Value)>,
    /// `SET name = if_not_exists(name, value)`.
    pub set_if_absent: Vec<(String, Value)>,
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
    pub condition: Option<Condition>,
}

impl Update {
    pub fn new(key: Key) -> Self {
        Update {
            key,
            set: Vec::new(),
            set_if_absent: Vec::new(),
            add: Vec::new(),
            remove: Vec::new(),
            condition: None,
        }
    }
    pub fn set(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set.push((name.to_owned(), v.into()));
        self
    }
    pub fn set_if_absent(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set_if_absent.push((name.to_owned(), v.into()));
        self
    }
    pub fn add(mut self, name: &str, by: i64) -> Self {
        self.add.push((name.to_owned(), by));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }
    pub fn when(mut self, c: Condition) -> Self {
        self.condition = Some(c);
        self
    }
}

/// Which key schema a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Table,
    /// `gsi1` on `gsi1pk`/`gsi1sk`, projection ALL, sparse (only items carrying both).
    Gsi1,
}

impl Index {
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Table => (attr::PK, attr::SK),
            Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK),
        }
    }
}

/// Sort-key conditions of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Eq(String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    Between(String, String),
    BeginsWith(String),
}

/// Where to resume a query: the last evaluated item's key attributes (table key,
/// plus the index key for an index query). Opaque to callers; paging signs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResumeKey(pub BTreeMap<String, String>);

impl ResumeKey {
    /// The key that resumes a query on `index` after `item`, as DynamoDB's
    /// LastEvaluatedKey: the table key, plus the index key on an index.
    pub fn after(item: &Item, index: Index) -> ResumeKey {
        let names: &[&str] = match index {
            Index::Table => &[attr::PK, attr::SK],
            Index::Gsi1 => &[attr::PK, attr::SK, attr::GSI1PK, attr::GSI1SK],
        };
        let attrs = names
            .iter()
            .filter_map(|n| Some(((*n).to_owned(), item.get_s(n)?.to_owned())));
        ResumeKey(attrs.collect())
    }
}

/// A query over one partition of the table or of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: Option<SortKey>,
    pub forward: bool,
    pub limit: Option<u32>,
    pub start: Option<ResumeKey>,
    pub consistent: bool,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Query {
            index: Index::Table,
            pk: pk.into(),
            sk: None,
            forward: true,
            limit: None,
            start: None,
            consistent: false,
        }
    }
    pub fn on(mut self, index: Index) -> Self {
        self.index = index;
        self
    }
    pub fn sk(mut self, c: SortKey) -> Self {
        self.sk = Some(c);
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn resume(mut self, k: Option<ResumeKey>) -> Self {
        self.start = k;
        self
    }
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }
}

/// One page of a query. `next` is set when the backend stopped at `limit`, whether or
/// not items are left (DynamoDB sets it whenever it reached the limit, and so does the
/// memory store), or stopped at 1 MB: use [`query_page`](super::query_page) for a page
/// whose `next` means that more follow.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryPage {
    pub items: Vec<Item>,
    pub next: Option<ResumeKey>,
}

/// One action of a transaction (at most [`MAX_TRANSACT_ITEMS`], each on a distinct item).
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    Put(Put),
    Update(Update),
    Delete(Delete),
    Check { key: Key, condition: Condition },
}

impl TransactOp {
    pub fn key(&self) -> Key {
        match self {
            TransactOp::Put(p) => p.item.key().unwrap_or(Key::global("", "")),
            TransactOp::Update(u) => u.key.clone(),
            TransactOp::Delete(d) => d.key.clone(),
            TransactOp::Check { key, .. } => key.clone(),
        }
    }
}

/// DynamoDB's TransactWriteItems limit.
pub const MAX_TRANSACT_ITEMS: usize = 100;

/// DynamoDB's BatchGetItem limit.
pub const MAX_BATCH_GET_KEYS: usize = 100;

/// Why one action of a cancelled transaction failed (same order as the actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReason {
    /// This action did not fail.
    None,
    ConditionFailed,
    /// Another backend code (e.g. `TransactionConflict`, `ThrottlingError`).
    Other(String),
}
