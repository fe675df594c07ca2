//! The DynamoDB backend of the Store port (aws-sdk-dynamodb).
//!
//! Every attribute name in an expression goes through a `#n<i>` placeholder and every
//! value through a `:v<i>` placeholder: reserved words (`status`, `name`, `count`…) are
//! common in our items, and a value never reaches the expression text. Retries and
//! timeouts belong to the `SdkConfig` the caller builds; errors reach us after them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    self as ddb, AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};

use super::{
    CancelReason, Condition, Delete, Index, Item, Key, Put, Query, QueryPage, ReadBeside,
    ResumeKey, SortKey, Store, StoreError, StoreResult, TransactOp, Update, Value, attr,
    read_each_beside, validate_get_beside, validate_get_many, validate_transaction,
};

type AvMap = HashMap<String, AttributeValue>;

/// One service's table in DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// IAM refused a BatchGetItem naming this table and another: reads beside another
    /// table are sent one per table from then on (see `get_many_beside`).
    across_refused: Arc<AtomicBool>,
}

/// A BatchGetItem that failed, and whether IAM refused it.
struct BatchGetFailed {
    error: StoreError,
    denied: bool,
}

impl From<BatchGetFailed> for StoreError {
    fn from(f: BatchGetFailed) -> Self {
        f.error
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            across_refused: Arc::default(),
        }
    }
    pub fn table(&self) -> &str {
        &self.table
    }
    #[cfg(test)]
    fn client(&self) -> &Client {
        &self.client
    }

    /// One BatchGetItem of every part's keys (a part: a table and its keys; a table named
    /// by two parts is sent one list of their keys), answered part by part in the order
    /// of its keys. Keys DynamoDB leaves unprocessed (throttling, the 16 MB answer limit)
    /// are asked for again after a short pause, up to 4 more times, and then the read
    /// fails as throttled rather than answering `None` for an item that exists.
    async fn batch_get(
        &self,
        parts: &[(&str, &[Key])],
    ) -> Result<Vec<Vec<Option<Item>>>, BatchGetFailed> {
        let failed = |error| BatchGetFailed {
            error,
            denied: false,
        };
        // How many parts ask for each item: the last one takes it, the others a copy.
        let mut asked: HashMap<(&str, &Key), usize> = HashMap::new();
        let mut pending: HashMap<String, Vec<AvMap>> = HashMap::new();
        for &(table, keys) in parts {
            for key in keys {
                let n = asked.entry((table, key)).or_default();
                if *n == 0 {
                    pending
                        .entry(table.to_owned())
                        .or_default()
                        .push(key_to_av(key));
                }
                *n += 1;
            }
        }
        let mut found: HashMap<String, HashMap<Key, Item>> = HashMap::new();
        for attempt in 0..5u32 {
            let mut wanted = HashMap::with_capacity(pending.len());
            for (table, keys) in pending.drain() {
                let keys = ddb::KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| failed(StoreError::Invalid(short(e.to_string()))))?;
                wanted.insert(table, keys);
            }
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(wanted))
                .send()
                .await
                .map_err(|e| BatchGetFailed {
                    denied: e.code() == Some("AccessDeniedException"),
                    error: classify(e),
                })?;
            for (table, rows) in out.responses().into_iter().flatten() {
                let items = found.entry(table.clone()).or_default();
                for item in rows.iter().map(item_from_av) {
                    if let Some(key) = item.key() {
                        items.insert(key, item);
                    }
                }
            }
            pending = out
                .unprocessed_keys()
                .into_iter()
                .flatten()
                .filter(|(_, k)| !k.keys().is_empty())
                .map(|(table, k)| (table.clone(), k.keys().to_vec()))
                .collect();
            if pending.is_empty() {
                let mut answer = Vec::with_capacity(parts.len());
                for &(table, keys) in parts {
                    let mut rows = found.remove(table).unwrap_or_default();
                    let mut items = Vec::with_capacity(keys.len());
                    for key in keys {
                        let left = asked.get_mut(&(table, key)).map(|n| {
                            *n -= 1;
                            *n
                        });
                        items.push(match left {
                            Some(0) => rows.remove(key),
                            _ => rows.get(key).cloned(),
                        });
                    }
                    answer.push(items);
                    // A later part of the same table finds what this one left.
                    found.insert(table.to_owned(), rows);
                }
                return Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
        Err(failed(StoreError::Throttled))
    }

    async fn transact_once(&self, items: Vec<ddb::TransactWriteItem>) -> StoreResult<()> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(x)) => {
                    let mut reasons: Vec<CancelReason> = x
                        .cancellation_reasons()
                        .iter()
                        .map(|r| cancel_reason(r.code()))
                        .collect();
                    if reasons.is_empty() {
                        reasons = reasons_from_message(x.message().or(e.message()));
                    }
                    cancelled(reasons)
                }
                _ => classify(e),
            })?;
        Ok(())
    }
}

/// A DynamoDB client from a shared config (built once per cold start).
pub fn client_from_config(conf: &aws_config::SdkConfig) -> Client {
    Client::new(conf)
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_to_av(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item().filter(|m| !m.is_empty()).map(item_from_av))
    }

    /// One BatchGetItem (see `batch_get` for the keys it leaves unprocessed).
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        validate_get_many(keys)?;
        let parts = self.batch_get(&[(&self.table, keys)]).await?;
        Ok(parts.into_iter().next().unwrap_or_default())
    }

    /// One BatchGetItem naming both tables, when `other` is a DynamoDB table too. IAM is
    /// expected to hold each table's keys to that table's grant (this function's policy
    /// allows BatchGetItem on each table, the other's under its own `LeadingKeys`
    /// condition), but no AWS page says so for a multi-table batch. Should IAM refuse the
    /// pair where it grants each alone, each table is read on its own, now and for the
    /// rest of the process, and a warning says so: the reads keep working at one request
    /// more (docs/DESIGN-NOTES.md, "Reads beside another table").
    async fn get_many_beside(
        &self,
        keys: &[Key],
        other: &dyn Store,
        other_keys: &[Key],
    ) -> StoreResult<ReadBeside> {
        validate_get_beside(keys, other_keys)?;
        let together = other
            .unwatched()
            .as_dynamo()
            .filter(|_| !self.across_refused.load(Ordering::Relaxed));
        let Some(o) = together else {
            return read_each_beside(self, keys, other, other_keys).await;
        };
        match self
            .batch_get(&[(&self.table, keys), (&o.table, other_keys)])
            .await
        {
            Ok(parts) => {
                let mut parts = parts.into_iter();
                let mine = parts.next().unwrap_or_default();
                Ok((mine, parts.next().unwrap_or_default()))
            }
            // Refused together: read each alone. Only if that is allowed was it the pair
            // that IAM refused (not one of the tables, or a grant still spreading), and
            // only then are pairs given up, with one warning however many reads met it.
            Err(f) if f.denied && o.table != self.table => {
                let each = read_each_beside(self, keys, other, other_keys).await?;
                if !self.across_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        table = %self.table,
                        other = %o.table,
                        "IAM refused one BatchGetItem naming both tables; each is read on its own from now on"
                    );
                }
                Ok(each)
            }
            Err(f) => Err(f.error),
        }
    }

    fn as_dynamo(&self) -> Option<&DynamoStore> {
        Some(self)
    }

    async fn put(&self, put: Put) -> StoreResult<()> {
        let mut p = Placeholders::default();
        let cond = put.condition.as_ref().map(|c| condition(c, &mut p));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_av(&put.item)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(p.names_av())
            .set_expression_attribute_values(p.values_av())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        again_on_conflict(|| async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(x)) => {
                        condition_failed(x.item())
                    }
                    _ => classify(e),
                })
        })
        .await?;
        Ok(())
    }

    async fn update(&self, update: Update) -> StoreResult<Item> {
        let mut p = Placeholders::default();
        let expr = update_expression(&update, &mut p);
        let cond = update.condition.as_ref().map(|c| condition(c, &mut p));
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_to_av(&update.key)))
            .set_update_expression(expr)
            .set_condition_expression(cond)
            .set_expression_attribute_names(p.names_av())
            .set_expression_attribute_values(p.values_av())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let out = again_on_conflict(|| async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(x)) => {
                        condition_failed(x.item())
                    }
                    _ => classify(e),
                })
        })
        .await?;
        Ok(out
            .attributes()
            .map(item_from_av)
            .unwrap_or_else(|| Item::new(&update.key)))
    }

    async fn delete(&self, delete: Delete) -> StoreResult<Option<Item>> {
        let mut p = Placeholders::default();
        let cond = delete.condition.as_ref().map(|c| condition(c, &mut p));
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_to_av(&delete.key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(p.names_av())
            .set_expression_attribute_values(p.values_av())
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let out = again_on_conflict(|| async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(DeleteItemError::ConditionalCheckFailedException(x)) => {
                        condition_failed(x.item())
                    }
                    _ => classify(e),
                })
        })
        .await?;
        Ok(out.attributes().filter(|m| !m.is_empty()).map(item_from_av))
    }

    async fn query(&self, query: Query) -> StoreResult<QueryPage> {
        super::validate_query(&query)?;
        let mut p = Placeholders::default();
        let kc = key_condition(query.index, &query.pk, query.sk.as_ref(), &mut p);
        let start = query.start.map(|k| {
            k.0.into_iter()
                .map(|(n, v)| (n, AttributeValue::S(v)))
                .collect::<AvMap>()
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(match query.index {
                Index::Table => None,
                Index::Gsi1 => Some(GSI1.to_owned()),
            })
            .key_condition_expression(kc)
            .set_expression_attribute_names(p.names_av())
            .set_expression_attribute_values(p.values_av())
            .scan_index_forward(query.forward)
            .set_limit(query.limit.map(|l| l.min(i32::MAX as u32) as i32))
            .set_exclusive_start_key(start)
            // GSIs reject consistent reads; an index query is eventually consistent.
            .set_consistent_read((query.consistent && query.index == Index::Table).then_some(true))
            .send()
            .await
            .map_err(classify)?;
        let next = match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => Some(resume_key(k)?),
            _ => None,
        };
        Ok(QueryPage {
            items: out.items().iter().map(item_from_av).collect(),
            next,
        })
    }

    /// A transaction cancelled only because another one held one of its items
    /// (`TransactionConflict`) wrote nothing, and the SDK does not retry a cancellation:
    /// it is sent again ([`again_on_conflict`]). Two writers of one counter (a day's
    /// metrics, a quota) meet this under load.
    async fn transact(&self, ops: Vec<TransactOp>) -> StoreResult<()> {
        validate_transaction(&ops)?;
        again_on_conflict(|| async {
            // The SDK takes the items by value: built again for a retry, not copied for
            // every first send.
            let items = ops
                .iter()
                .map(|op| transact_item(&self.table, op))
                .collect::<StoreResult<Vec<_>>>()?;
            self.transact_once(items).await
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

const GSI1: &str = "gsi1";

fn transact_item(table: &str, op: &TransactOp) -> StoreResult<TransactWriteItem> {
    // The builders fail only on a missing required field: a bug here, not in the data.
    let invalid = |e: BuildError| StoreError::Invalid(short(e.to_string()));
    let mut p = Placeholders::default();
    let b = TransactWriteItem::builder();
    let built = match op {
        TransactOp::Put(put) => {
            let cond = put.condition.as_ref().map(|c| condition(c, &mut p));
            b.put(
                ddb::Put::builder()
                    .table_name(table)
                    .set_item(Some(item_to_av(&put.item)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(p.names_av())
                    .set_expression_attribute_values(p.values_av())
                    .build()
                    .map_err(invalid)?,
            )
        }
        TransactOp::Update(u) => {
            // TransactWriteItems requires an update expression, unlike UpdateItem.
            let expr = update_expression(u, &mut p).ok_or_else(|| {
                StoreError::Invalid("a transaction update needs at least one action".into())
            })?;
            let cond = u.condition.as_ref().map(|c| condition(c, &mut p));
            b.update(
                ddb::Update::builder()
                    .table_name(table)
                    .set_key(Some(key_to_av(&u.key)))
                    .update_expression(expr)
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(p.names_av())
                    .set_expression_attribute_values(p.values_av())
                    .build()
                    .map_err(invalid)?,
            )
        }
        TransactOp::Delete(d) => {
            let cond = d.condition.as_ref().map(|c| condition(c, &mut p));
            b.delete(
                ddb::Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_to_av(&d.key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(p.names_av())
                    .set_expression_attribute_values(p.values_av())
                    .build()
                    .map_err(invalid)?,
            )
        }
        TransactOp::Check { key, condition: c } => {
            let cond = condition(c, &mut p);
            b.condition_check(
                ddb::ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_to_av(key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(p.names_av())
                    .set_expression_attribute_values(p.values_av())
                    .build()
                    .map_err(invalid)?,
            )
        }
    };
    Ok(built.build())
}

fn cancel_reason(code: Option<&str>) -> CancelReason {
    match code {
        None | Some("None") | Some("") => CancelReason::None,
        Some("ConditionalCheckFailed") => CancelReason::ConditionFailed,
        Some(other) => CancelReason::Other(other.to_owned()),
    }
}

/// DynamoDB (and emulators) also list the codes in the message:
/// `… for specific reasons [ConditionalCheckFailed, None]`. Used only when the
/// structured `CancellationReasons` did not come through.
fn reasons_from_message(message: Option<&str>) -> Vec<CancelReason> {
    let Some(m) = message else { return Vec::new() };
    let (Some(open), Some(close)) = (m.rfind('['), m.rfind(']')) else {
        return Vec::new();
    };
    if close <= open {
        return Vec::new();
    }
    m[open + 1..close]
        .split(',')
        .map(|c| cancel_reason(Some(c.trim())))
        .collect()
}

fn condition_failed(item: Option<&AvMap>) -> StoreError {
    StoreError::ConditionFailed {
        current: item
            .filter(|m| !m.is_empty())
            .map(|m| Box::new(item_from_av(m))),
    }
}

fn resume_key(k: &AvMap) -> StoreResult<ResumeKey> {
    k.iter()
        .map(|(n, v)| match v {
            AttributeValue::S(s) => Ok((n.clone(), s.clone())),
            _ => Err(StoreError::Other(format!("non-string key attribute {n}"))),
        })
        .collect::<StoreResult<BTreeMap<_, _>>>()
        .map(ResumeKey)
}

// ---- error classification ----

const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
];
const SERVER_SIDE: &[&str] = &[
    // A concurrent transaction holds the item, or an idempotent transaction is still
    // running: both clear up on a retry.
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// A cancelled transaction: a condition that failed is the caller's answer; otherwise a
/// throttled or conflicting action means "try again later" (503), not a domain outcome.
fn cancelled(reasons: Vec<CancelReason>) -> StoreError {
    let other = |code: &str| {
        reasons
            .iter()
            .any(|r| matches!(r, CancelReason::Other(c) if c == code))
    };
    if reasons.contains(&CancelReason::ConditionFailed) {
        StoreError::TransactionCanceled { reasons }
    } else if THROTTLING_REASONS.iter().any(|c| other(c)) {
        StoreError::Throttled
    } else if other("TransactionConflict") {
        StoreError::Unavailable(CONFLICT.into())
    } else {
        StoreError::TransactionCanceled { reasons }
    }
}

const CONFLICT: &str = "transaction conflict";

/// Sends of one transaction that other transactions cancel before it answers 503.
const CONFLICT_ATTEMPTS: u32 = 4;

fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m == CONFLICT)
}

/// Sends a write again, after a jittered pause, while it only met a transaction holding
/// its item: a cancelled transaction (`TransactionConflict`), or a single-item write to
/// an item a transaction is writing (`TransactionConflictException`), which wrote
/// nothing. The SDK retries neither. [`CONFLICT_ATTEMPTS`] sends in all, then 503.
async fn again_on_conflict<T, F, Fut>(mut send: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(e) if is_conflict(&e) && attempt < CONFLICT_ATTEMPTS => {
                tokio::time::sleep(conflict_pause(attempt)).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// Full jitter over 0-20 ms, doubling with each attempt (at most ~140 ms in all), so the
/// writers that met do not meet again.
fn conflict_pause(attempt: u32) -> Duration {
    let mut b = [0u8; 2];
    // No randomness (never expected): the ceiling, which still backs off.
    let r = aws_lc_rs::rand::fill(&mut b).map_or(u16::MAX, |()| u16::from_le_bytes(b));
    let ceiling = 20_000u64 << (attempt - 1);
    Duration::from_micros(ceiling * u64::from(r) / u64::from(u16::MAX))
}

/// Cancellation reason codes that mean the table was throttled.
const THROTTLING_REASONS: &[&str] = &[
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// Maps an SDK error (after the SDK's own retries) to the port's error. Strings carry
/// the error code and the service's short message, never item values.
fn classify<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(_) => {}
        SdkError::TimeoutError(_) => return StoreError::Unavailable("timeout".into()),
        SdkError::DispatchFailure(f) if f.is_timeout() => {
            return StoreError::Unavailable("timeout".into());
        }
        SdkError::DispatchFailure(_) => {
            return StoreError::Unavailable(short(format!("{}", DisplayErrorContext(&err))));
        }
        // A response that did not parse: a proxy's error page, a cut connection.
        SdkError::ResponseError(_) => {
            return StoreError::Unavailable("unreadable response".into());
        }
        _ => return StoreError::Other(short(format!("{}", DisplayErrorContext(&err)))),
    }
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = err.code().unwrap_or("");
    let detail = short(match err.message() {
        Some(m) => format!("{code}: {m}"),
        None if code.is_empty() => format!("HTTP {status}"),
        None => code.to_owned(),
    });
    match code {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed { current: None },
        c if THROTTLING.contains(&c) => StoreError::Throttled,
        // A single-item write to an item a transaction is writing: nothing was written.
        "TransactionConflictException" => StoreError::Unavailable(CONFLICT.into()),
        "ValidationException" => StoreError::Invalid(detail),
        c if SERVER_SIDE.contains(&c) || status >= 500 => StoreError::Unavailable(detail),
        _ => StoreError::Other(detail),
    }
}

fn short(mut s: String) -> String {
    const MAX: usize = 240;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

// ---- expressions ----

/// Placeholders of one request: `#n<i>` -> attribute name (one per distinct name) and
/// `:v<i>` -> value.
#[derive(Debug, Default, PartialEq)]
struct Placeholders {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, Value>,
}

impl Placeholders {
    fn name(&mut self, attr: &str) -> String {
        if let Some((ph, _)) = self.names.iter().find(|(_, a)| *a == attr) {
            return ph.clone();
        }
        let ph = format!("#n{}", self.names.len());
        self.names.insert(ph.clone(), attr.to_owned());
        ph
    }
    fn value(&mut self, v: &Value) -> String {
        let ph = format!(":v{}", self.values.len());
        self.values.insert(ph.clone(), v.clone());
        ph
    }
    fn names_av(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone().into_iter().collect())
    }
    fn values_av(&self) -> Option<AvMap> {
        (!self.values.is_empty()).then(|| {
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), to_av(v)))
                .collect()
        })
    }
}

fn condition(c: &Condition, p: &mut Placeholders) -> String {
    let cmp = |p: &mut Placeholders, n: &str, op: &str, v: &Value| {
        format!("{} {op} {}", p.name(n), p.value(v))
    };
    match c {
        Condition::Exists(n) => format!("attribute_exists({})", p.name(n)),
        Condition::NotExists(n) => format!("attribute_not_exists({})", p.name(n)),
        Condition::Eq(n, v) => cmp(p, n, "=", v),
        Condition::Ne(n, v) => cmp(p, n, "<>", v),
        Condition::Lt(n, v) => cmp(p, n, "<", v),
        Condition::Le(n, v) => cmp(p, n, "<=", v),
        Condition::Gt(n, v) => cmp(p, n, ">", v),
        Condition::Ge(n, v) => cmp(p, n, ">=", v),
        Condition::BeginsWith(n, prefix) => {
            let name = p.name(n);
            format!(
                "begins_with({name}, {})",
                p.value(&Value::S(prefix.clone()))
            )
        }
        Condition::And(cs) => junction(cs, "AND", p),
        Condition::Or(cs) => junction(cs, "OR", p),
        Condition::Not(inner) => format!("NOT ({})", condition(inner, p)),
    }
}

/// `a AND b`, with compound operands in parentheses. DynamoDB has no `true`/`false`
/// literal: an empty AND (always true) and an empty OR (never true) become tautologies
/// on `pk`, which every item carries.
fn junction(cs: &[Condition], op: &str, p: &mut Placeholders) -> String {
    match cs {
        [] => {
            let pk = p.name(attr::PK);
            let inner = if op == "AND" { "OR" } else { "AND" };
            format!("(attribute_exists({pk}) {inner} attribute_not_exists({pk}))")
        }
        [one] => condition(one, p),
        many => many
            .iter()
            .map(|c| {
                let s = condition(c, p);
                if is_compound(c) { format!("({s})") } else { s }
            })
            .collect::<Vec<_>>()
            .join(&format!(" {op} ")),
    }
}

fn is_compound(c: &Condition) -> bool {
    match c {
        Condition::And(cs) | Condition::Or(cs) => match cs.as_slice() {
            [one] => is_compound(one),
            cs => cs.len() > 1,
        },
        _ => false,
    }
}

/// `SET #a = :x, #b = if_not_exists(#b, :y) ADD #c :z REMOVE #d`; None when empty.
fn update_expression(u: &Update, p: &mut Placeholders) -> Option<String> {
    let mut set: Vec<String> = Vec::new();
    for (n, v) in &u.set {
        set.push(format!("{} = {}", p.name(n), p.value(v)));
    }
    for (n, v) in &u.set_if_absent {
        let name = p.name(n);
        set.push(format!("{name} = if_not_exists({name}, {})", p.value(v)));
    }
    let add: Vec<String> = u
        .add
        .iter()
        .map(|(n, by)| format!("{} {}", p.name(n), p.value(&Value::from(*by))))
        .collect();
    let remove: Vec<String> = u.remove.iter().map(|n| p.name(n)).collect();
    let clauses: Vec<String> = [("SET", set), ("ADD", add), ("REMOVE", remove)]
        .into_iter()
        .filter(|(_, parts)| !parts.is_empty())
        .map(|(kw, parts)| format!("{kw} {}", parts.join(", ")))
        .collect();
    (!clauses.is_empty()).then(|| clauses.join(" "))
}

/// `#pk = :pk [AND <sort-key condition>]` on the table's or gsi1's key attributes.
fn key_condition(index: Index, pk: &str, sk: Option<&SortKey>, p: &mut Placeholders) -> String {
    let (pk_attr, sk_attr) = index.key_attrs();
    p.names.insert("#pk".into(), pk_attr.into());
    p.values.insert(":pk".into(), Value::s(pk));
    let Some(sk) = sk else {
        return "#pk = :pk".into();
    };
    p.names.insert("#sk".into(), sk_attr.into());
    let (op, v) = match sk {
        SortKey::Eq(v) => ("=", v),
        SortKey::Lt(v) => ("<", v),
        SortKey::Le(v) => ("<=", v),
        SortKey::Gt(v) => (">", v),
        SortKey::Ge(v) => (">=", v),
        SortKey::Between(lo, hi) => {
            p.values.insert(":sk".into(), Value::s(lo));
            p.values.insert(":sk2".into(), Value::s(hi));
            return "#pk = :pk AND #sk BETWEEN :sk AND :sk2".into();
        }
        SortKey::BeginsWith(v) => {
            p.values.insert(":sk".into(), Value::s(v));
            return "#pk = :pk AND begins_with(#sk, :sk)".into();
        }
    };
    p.values.insert(":sk".into(), Value::s(v));
    format!("#pk = :pk AND #sk {op} :sk")
}

// ---- values ----

fn to_av(v: &Value) -> AttributeValue {
    match v {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.clone()),
        Value::B(b) => AttributeValue::B(Blob::new(b.clone())),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(l) => AttributeValue::L(l.iter().map(to_av).collect()),
        Value::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()),
        Value::Ss(s) => AttributeValue::Ss(s.clone()),
        Value::Ns(n) => AttributeValue::Ns(n.clone()),
    }
}

/// Binary sets (which the model has no variant for, and we never write) read back as a
/// list of binaries; a type unknown to this SDK version reads as Null.
fn from_av(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(n.clone()),
        AttributeValue::B(b) => Value::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::L(l.iter().map(from_av).collect()),
        AttributeValue::M(m) => Value::M(m.iter().map(|(k, v)| (k.clone(), from_av(v))).collect()),
        AttributeValue::Ss(s) => Value::Ss(s.clone()),
        AttributeValue::Ns(n) => Value::Ns(n.clone()),
        AttributeValue::Bs(bs) => {
            Value::L(bs.iter().map(|b| Value::B(b.as_ref().to_vec())).collect())
        }
        _ => Value::Null,
    }
}

fn item_to_av(item: &Item) -> AvMap {
    item.0.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()
}

fn item_from_av(m: &AvMap) -> Item {
    Item(m.iter().map(|(k, v)| (k.clone(), from_av(v))).collect())
}

fn key_to_av(key: &Key) -> AvMap {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (attr::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

// ---- table setup (local gateway, wire tests) ----

/// Creates the table when missing (pk/sk strings, `gsi1` on gsi1pk/gsi1sk with
/// projection ALL, on-demand), waits until it and its index are ACTIVE (about 30 s at
/// most), then enables TTL on `expires_at`. Safe to call on every start.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::operation::create_table::CreateTableError;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;

    match client.describe_table().table_name(table).send().await {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            match create_table(client, table).await {
                Ok(()) => tracing::info!(table, "created table"),
                // Someone else created it between our describe and create.
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(CreateTableError::ResourceInUseException(_))
                    ) => {}
                Err(e) => return Err(classify(e)),
            }
        }
        Err(e) => return Err(classify(e)),
    }
    wait_active(client, table).await?;
    enable_ttl(client, table).await
}

async fn create_table(
    client: &Client,
    table: &str,
) -> Result<(), SdkError<aws_sdk_dynamodb::operation::create_table::CreateTableError>> {
    use ddb::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let def = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(attr::GSI1PK, KeyType::Hash)?)
        .key_schema(key(attr::GSI1SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(def(attr::PK)?)
        .attribute_definitions(def(attr::SK)?)
        .attribute_definitions(def(attr::GSI1PK)?)
        .attribute_definitions(def(attr::GSI1SK)?)
        .key_schema(key(attr::PK, KeyType::Hash)?)
        .key_schema(key(attr::SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await?;
    Ok(())
}

async fn wait_active(client: &Client, table: &str) -> Result<(), StoreError> {
    use ddb::{IndexStatus, TableStatus};
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pause = Duration::from_millis(50);
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(classify)?;
        let desc = out.table();
        let table_active = desc.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = desc.is_some_and(|t| {
            t.global_secondary_indexes()
                .iter()
                .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active))
        });
        if table_active && indexes_active {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "table {table} not ACTIVE after 30 s"
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    use ddb::{TimeToLiveSpecification, TimeToLiveStatus};
    let out = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(classify)?;
    if let Some(d) = out.time_to_live_description()
        && d.attribute_name() == Some(attr::EXPIRES_AT)
        && matches!(
            d.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        )
    {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attr::EXPIRES_AT)
        .enabled(true)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // A concurrent start enabled it first: "TimeToLive is already enabled".
        Err(e) if e.message().is_some_and(|m| m.contains("already enabled")) => Ok(()),
        Err(e) => Err(classify(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
    fn render(c: &Condition) -> (String, Placeholders) {
        let mut p = Placeholders::default();
        (condition(c, &mut p), p)
    }

    #[test]
    fn item_absent_checks_the_partition_key_through_a_placeholder() {
        let (expr, p) = render(&Condition::item_absent());
        assert_eq!(expr, "attribute_not_exists(#n0)");
        assert_eq!(p.names, names(&[("#n0", "pk")]));
        assert!(p.values.is_empty());
        assert_eq!(p.values_av(), None, "an empty value map must not be sent");
    }

    #[test]
    fn reserved_words_and_nested_junctions_get_placeholders_and_parentheses() {
        let c = Condition::eq("status", "active").and(Condition::live_at(100));
        let (expr, p) = render(&c);
        assert_eq!(
            expr,
            "#n0 = :v0 AND (attribute_not_exists(#n1) OR #n1 > :v1)"
        );
        assert_eq!(p.names, names(&[("#n0", "status"), ("#n1", "expires_at")]));
        assert_eq!(
            p.values,
            values(&[(":v0", Value::s("active")), (":v1", Value::n(100))])
        );
    }

    #[test]
    fn every_comparison_renders_its_operator() {
        let c = Condition::And(vec![
            Condition::ne("name", "x"),
            Condition::lt("count", 1),
            Condition::le("count", 2),
            Condition::ge("count", 3),
            Condition::exists("status"),
            Condition::begins_with("sk", "USER#"),
            Condition::eq("v", 4).not(),
        ]);
        let (expr, p) = render(&c);
        assert_eq!(
            expr,
            "#n0 <> :v0 AND #n1 < :v1 AND #n1 <= :v2 AND #n1 >= :v3 AND attribute_exists(#n2) \
             AND begins_with(#n3, :v4) AND NOT (#n4 = :v5)"
        );
        assert_eq!(
            p.names,
            names(&[
                ("#n0", "name"),
                ("#n1", "count"),
                ("#n2", "status"),
                ("#n3", "sk"),
                ("#n4", "v")
            ])
        );
        assert_eq!(p.values[":v4"], Value::s("USER#"));
        assert_eq!(p.values[":v5"], Value::n(4));
    }

    #[test]
    fn single_and_empty_junctions_need_no_literal() {
        let one = Condition::Or(vec![Condition::And(vec![Condition::exists("a")])]);
        assert_eq!(render(&one).0, "attribute_exists(#n0)");
        let nested = Condition::And(vec![
            Condition::exists("a"),
            Condition::Or(vec![Condition::Or(vec![
                Condition::exists("b"),
                Condition::exists("c"),
            ])]),
        ]);
        assert_eq!(
            render(&nested).0,
            "attribute_exists(#n0) AND (attribute_exists(#n1) OR attribute_exists(#n2))"
        );
        assert_eq!(
            render(&Condition::And(vec![])).0,
            "(attribute_exists(#n0) OR attribute_not_exists(#n0))"
        );
        assert_eq!(
            render(&Condition::Or(vec![])).0,
            "(attribute_exists(#n0) AND attribute_not_exists(#n0))"
        );
    }

    #[test]
    fn update_expression_orders_clauses_and_shares_placeholders_with_its_condition() {
        let u = Update::new(Key::global("p", "s"))
            .set("status", "paid")
            .set("total", 10)
            .set_if_absent("created_at", 5)
            .add("count", 1)
            .remove("name")
            .remove("draft")
            .when(Condition::eq("status", "open"));
        let mut p = Placeholders::default();
        let expr = update_expression(&u, &mut p);
        let cond = condition(u.condition.as_ref().unwrap(), &mut p);
        assert_eq!(
            expr.as_deref(),
            Some(
                "SET #n0 = :v0, #n1 = :v1, #n2 = if_not_exists(#n2, :v2) ADD #n3 :v3 \
                 REMOVE #n4, #n5"
            )
        );
        assert_eq!(cond, "#n0 = :v4");
        assert_eq!(
            p.names,
            names(&[
                ("#n0", "status"),
                ("#n1", "total"),
                ("#n2", "created_at"),
                ("#n3", "count"),
                ("#n4", "name"),
                ("#n5", "draft")
            ])
        );
        assert_eq!(
            p.values,
            values(&[
                (":v0", Value::s("paid")),
                (":v1", Value::n(10)),
                (":v2", Value::n(5)),
                (":v3", Value::n(1)),
                (":v4", Value::s("open")),
            ])
        );
    }

    #[test]
    fn update_expression_omits_empty_clauses() {
        let key = Key::global("p", "s");
        let mut p = Placeholders::default();
        let add_only = Update::new(key.clone()).add("hits", -2);
        assert_eq!(
            update_expression(&add_only, &mut p).as_deref(),
            Some("ADD #n0 :v0")
        );
        assert_eq!(p.values[":v0"], Value::N("-2".into()));
        let remove_only = Update::new(key.clone()).remove("a");
        assert_eq!(
            update_expression(&remove_only, &mut Placeholders::default()).as_deref(),
            Some("REMOVE #n0")
        );
        assert_eq!(
            update_expression(&Update::new(key), &mut Placeholders::default()),
            None
        );
    }

    #[test]
    fn key_condition_on_the_table_without_sort_key() {
        let mut p = Placeholders::default();
        assert_eq!(
            key_condition(Index::Table, "T#t1#USER", None, &mut p),
            "#pk = :pk"
        );
        assert_eq!(p.names, names(&[("#pk", "pk")]));
        assert_eq!(p.values, values(&[(":pk", Value::s("T#t1#USER"))]));
    }

    #[test]
    fn key_condition_on_gsi1_uses_its_key_attributes() {
        let mut p = Placeholders::default();
        let sk = SortKey::BeginsWith("2024-".into());
        assert_eq!(
            key_condition(Index::Gsi1, "EMAIL#a@b.c", Some(&sk), &mut p),
            "#pk = :pk AND begins_with(#sk, :sk)"
        );
        assert_eq!(p.names, names(&[("#pk", "gsi1pk"), ("#sk", "gsi1sk")]));
        assert_eq!(
            p.values,
            values(&[(":pk", Value::s("EMAIL#a@b.c")), (":sk", Value::s("2024-"))])
        );
    }

    #[test]
    fn key_condition_renders_every_sort_key_operator() {
        let cases = [
            (SortKey::Eq("a".into()), "#pk = :pk AND #sk = :sk"),
            (SortKey::Lt("a".into()), "#pk = :pk AND #sk < :sk"),
            (SortKey::Le("a".into()), "#pk = :pk AND #sk <= :sk"),
            (SortKey::Gt("a".into()), "#pk = :pk AND #sk > :sk"),
            (SortKey::Ge("a".into()), "#pk = :pk AND #sk >= :sk"),
        ];
        for (sk, want) in cases {
            let mut p = Placeholders::default();
            assert_eq!(key_condition(Index::Table, "P", Some(&sk), &mut p), want);
            assert_eq!(p.values[":sk"], Value::s("a"));
        }
        let mut p = Placeholders::default();
        let between = SortKey::Between("a".into(), "m".into());
        assert_eq!(
            key_condition(Index::Table, "P", Some(&between), &mut p),
            "#pk = :pk AND #sk BETWEEN :sk AND :sk2"
        );
        assert_eq!(
            p.values,
            values(&[
                (":pk", Value::s("P")),
                (":sk", Value::s("a")),
                (":sk2", Value::s("m"))
            ])
        );
    }

    #[test]
    fn values_survive_the_round_trip_through_attribute_values() {
        let v = Value::M(BTreeMap::from([
            ("s".to_owned(), Value::s("x")),
            ("n".to_owned(), Value::N("3.14".into())),
            ("b".to_owned(), Value::B(vec![0, 1, 255])),
            ("t".to_owned(), Value::Bool(true)),
            ("z".to_owned(), Value::Null),
            ("l".to_owned(), Value::L(vec![Value::n(1), Value::s("a")])),
            ("ss".to_owned(), Value::Ss(vec!["a".into(), "b".into()])),
            ("ns".to_owned(), Value::Ns(vec!["1".into(), "2".into()])),
        ]));
        let av = to_av(&v);
        let AttributeValue::M(m) = &av else {
            panic!("not a map: {av:?}")
        };
        assert_eq!(m["b"], AttributeValue::B(Blob::new(vec![0, 1, 255])));
        assert_eq!(m["z"], AttributeValue::Null(true));
        assert_eq!(from_av(&av), v);
        let item = Item::new(&Key::global("p", "s")).with("status", "ok");
        assert_eq!(item_from_av(&item_to_av(&item)), item);
        assert_eq!(
            from_av(&AttributeValue::Bs(vec![Blob::new(vec![7])])),
            Value::L(vec![Value::B(vec![7])])
        );
    }

    #[test]
    fn cancellation_codes_map_to_reasons() {
        assert_eq!(cancel_reason(None), CancelReason::None);
        assert_eq!(cancel_reason(Some("None")), CancelReason::None);
        assert_eq!(
            cancel_reason(Some("ConditionalCheckFailed")),
            CancelReason::ConditionFailed
        );
        assert_eq!(
            cancel_reason(Some("TransactionConflict")),
            CancelReason::Other("TransactionConflict".into())
        );
        let msg = "Transaction cancelled, please refer cancellation reasons for specific \
                   reasons [None, ConditionalCheckFailed, ThrottlingError]";
        assert_eq!(
            reasons_from_message(Some(msg)),
            vec![
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::Other("ThrottlingError".into())
            ]
        );
        assert!(reasons_from_message(Some("no list here")).is_empty());
        assert!(reasons_from_message(None).is_empty());
    }

    #[test]
    fn an_empty_update_cannot_join_a_transaction() {
        let op = TransactOp::Update(Update::new(Key::global("p", "s")));
        assert!(matches!(
            transact_item("t", &op),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn long_error_details_are_cut_on_a_char_boundary() {
        let s = short("é".repeat(200));
        assert!(s.len() <= 243 && s.ends_with('…'));
        assert_eq!(short("short".into()), "short");
    }

    /// The SDK against fake endpoints: what reaches the port after the SDK's retries.
    mod wire {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        use axum::http::{StatusCode, header};

        use super::*;

        const JSON: &str = "application/x-amz-json-1.0";

        struct Fake {
            url: String,
            hits: Arc<AtomicUsize>,
            bodies: Arc<std::sync::Mutex<Vec<String>>>,
        }

        impl Fake {
            fn hits(&self) -> usize {
                self.hits.load(Ordering::SeqCst)
            }
            /// The tables each request named (`RequestItems`' keys), in arrival order.
            fn tables_asked(&self) -> Vec<Vec<String>> {
                let bodies = self.bodies.lock().unwrap();
                bodies
                    .iter()
                    .map(|b| {
                        let v: serde_json::Value = serde_json::from_str(b).unwrap();
                        let mut t: Vec<String> = v["RequestItems"]
                            .as_object()
                            .map(|m| m.keys().cloned().collect())
                            .unwrap_or_default();
                        t.sort();
                        t
                    })
                    .collect()
            }
        }

        /// An endpoint answering every request with the same status and JSON body.
        async fn fake(status: u16, error_type: &'static str, body: &'static str) -> Fake {
            fake_in_turn(vec![(status, error_type, body)]).await
        }

        /// An endpoint answering the n-th request with `answers[n]` (status, error type
        /// header, JSON body), and every request past them with the last one.
        async fn fake_in_turn(answers: Vec<(u16, &'static str, &'static str)>) -> Fake {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let hits = Arc::new(AtomicUsize::new(0));
            let counter = hits.clone();
            let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
            let kept = bodies.clone();
            let answers = Arc::new(answers);
            let app = axum::Router::new().fallback(move |req: axum::body::Bytes| {
                let (counter, answers, kept) = (counter.clone(), answers.clone(), kept.clone());
                async move {
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&req).into_owned());
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let (status, error_type, body) = answers[n.min(answers.len() - 1)];
                    let mut res = axum::http::Response::builder()
                        .status(StatusCode::from_u16(status).unwrap())
                        .header(header::CONTENT_TYPE, JSON);
                    // An (even empty) x-amzn-ErrorType header wins over the body's __type.
                    if !error_type.is_empty() {
                        res = res.header("x-amzn-errortype", error_type);
                    }
                    res.body(axum::body::Body::from(body)).unwrap()
                }
            });
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Fake { url, hits, bodies }
        }

        fn store(url: &str, attempt_timeout: Option<Duration>) -> DynamoStore {
            let mut conf = aws_sdk_dynamodb::Config::builder()
                .endpoint_url(url)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
                .behavior_version(BehaviorVersion::latest())
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(Duration::from_millis(1)),
                );
            if let Some(t) = attempt_timeout {
                conf = conf.timeout_config(
                    TimeoutConfig::builder()
                        .operation_attempt_timeout(t)
                        .build(),
                );
            }
            DynamoStore::new(Client::from_conf(conf.build()), "t")
        }

        fn key() -> Key {
            Key::global("p", "s")
        }

        /// Store "t" and store "u", one client.
        fn two_tables(url: &str) -> (DynamoStore, DynamoStore) {
            let t = store(url, None);
            let u = DynamoStore::new(t.client().clone(), "u");
            (t, u)
        }

        fn n_of(item: &Option<Item>) -> Option<i64> {
            item.as_ref()?.get_i64("n")
        }

        const BOTH: &str = r#"{"Responses":{
            "t":[{"pk":{"S":"p"},"sk":{"S":"s"},"n":{"N":"1"}}],
            "u":[{"pk":{"S":"p"},"sk":{"S":"s"},"n":{"N":"2"}}]},"UnprocessedKeys":{}}"#;

        #[tokio::test]
        async fn a_read_beside_another_table_is_one_batch_get_item_naming_both() {
            let f = fake(200, "", BOTH).await;
            let (t, u) = two_tables(&f.url);
            let missing = Key::global("p", "gone");
            let (here, there) = t
                .get_many_beside(&[key()], &u, &[missing, key()])
                .await
                .unwrap();
            assert_eq!(here.iter().map(n_of).collect::<Vec<_>>(), [Some(1)]);
            assert_eq!(there.iter().map(n_of).collect::<Vec<_>>(), [None, Some(2)]);
            assert_eq!(f.tables_asked(), [["t", "u"]]);
        }

        #[tokio::test]
        async fn keys_of_either_table_left_unprocessed_are_asked_for_again() {
            let f = fake_in_turn(vec![
                (
                    200,
                    "",
                    r#"{"Responses":{"t":[{"pk":{"S":"p"},"sk":{"S":"s"},"n":{"N":"1"}}]},
                    "UnprocessedKeys":{"u":{"Keys":[{"pk":{"S":"p"},"sk":{"S":"s"}}],"ConsistentRead":true}}}"#,
                ),
                (200, "", BOTH),
            ])
            .await;
            let (t, u) = two_tables(&f.url);
            let (here, there) = t.get_many_beside(&[key()], &u, &[key()]).await.unwrap();
            assert_eq!((n_of(&here[0]), n_of(&there[0])), (Some(1), Some(2)));
            assert_eq!(f.tables_asked(), [vec!["t", "u"], vec!["u"]]);
        }

        #[tokio::test]
        async fn a_pair_iam_refuses_is_read_one_table_a_request_from_then_on() {
            let f = fake_in_turn(vec![
                (
                    400,
                    "AccessDeniedException",
                    r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not authorized"}"#,
                ),
                (200, "", BOTH),
            ])
            .await;
            let (t, u) = two_tables(&f.url);
            for round in 0..2 {
                let (here, there) = t.get_many_beside(&[key()], &u, &[key()]).await.unwrap();
                assert_eq!(
                    (n_of(&here[0]), n_of(&there[0])),
                    (Some(1), Some(2)),
                    "{round}"
                );
            }
            let mut asked = f.tables_asked();
            assert_eq!(asked.remove(0), ["t", "u"], "tried together once");
            asked.sort();
            assert_eq!(
                asked,
                [["t"], ["t"], ["u"], ["u"]],
                "then one table a request"
            );
            // Refused alone too: the refusal is the caller's error, not read around.
            let f = fake(
                400,
                "AccessDeniedException",
                r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not authorized"}"#,
            )
            .await;
            let (t, u) = two_tables(&f.url);
            let err = t.get_many_beside(&[key()], &u, &[key()]).await.unwrap_err();
            assert!(matches!(err, StoreError::Other(_)), "{err:?}");
            assert!(
                !t.across_refused.load(Ordering::Relaxed),
                "not the pair: later reads still try it"
            );
        }

        #[tokio::test]
        async fn throttling_is_retried_by_the_sdk_then_reported_as_throttled() {
            let f = fake(
                400,
                "ThrottlingException",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#,
            )
            .await;
            let err = store(&f.url, None).get(&key()).await.unwrap_err();
            assert!(matches!(err, StoreError::Throttled), "{err:?}");
            assert_eq!(f.hits(), 3, "1 attempt + 2 retries");
        }

        #[tokio::test]
        async fn provisioned_throughput_exceeded_in_the_body_alone_is_throttled() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
            )
            .await;
            let err = store(&f.url, None)
                .query(Query::partition("p"))
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Throttled), "{err:?}");
            assert_eq!(f.hits(), 3);
        }

        #[tokio::test]
        async fn an_endpoint_that_never_answers_is_unavailable() {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let conns = Arc::new(AtomicUsize::new(0));
            let counter = conns.clone();
            tokio::spawn(async move {
                let mut held = Vec::new(); // accepted, never read, never answered
                while let Ok((sock, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    held.push(sock);
                }
            });
            let started = Instant::now();
            let err = store(&url, Some(Duration::from_millis(200)))
                .get(&key())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, StoreError::Unavailable(m) if m == "timeout"),
                "{err:?}"
            );
            assert_eq!(conns.load(Ordering::SeqCst), 3, "each attempt timed out");
            assert!(started.elapsed() < Duration::from_secs(5));
        }

        #[tokio::test]
        async fn a_refused_connection_is_unavailable() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            drop(listener);
            let err = store(&url, None).ping().await.unwrap_err();
            assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        }

        #[tokio::test]
        async fn server_errors_are_retried_then_unavailable() {
            let f = fake(
                500,
                "InternalServerError",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"oops"}"#,
            )
            .await;
            let err = store(&f.url, None).ping().await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Unavailable(m) if m == "InternalServerError: oops"),
                "{err:?}"
            );
            assert_eq!(f.hits(), 3);
        }

        #[tokio::test]
        async fn validation_errors_are_invalid_and_not_retried() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad key"}"#,
            )
            .await;
            let err = store(&f.url, None).get(&key()).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Invalid(m) if m == "ValidationException: bad key"),
                "{err:?}"
            );
            assert_eq!(f.hits(), 1);
        }

        #[tokio::test]
        async fn other_client_errors_are_other() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}"#,
            )
            .await;
            let err = store(&f.url, None).ping().await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Other(m) if m.starts_with("ResourceNotFoundException")),
                "{err:?}"
            );
        }

        #[tokio::test]
        async fn a_failed_condition_carries_the_item_the_backend_returned() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","Message":"The conditional request failed","Item":{"pk":{"S":"p"},"sk":{"S":"s"},"status":{"S":"taken"}}}"#,
            )
            .await;
            let put = Put::new(Item::new(&key())).when(Condition::item_absent());
            let err = store(&f.url, None).put(put).await.unwrap_err();
            let StoreError::ConditionFailed {
                current: Some(item),
            } = err
            else {
                panic!("{err:?}")
            };
            assert_eq!(item.get_s("status"), Some("taken"));
            assert_eq!(f.hits(), 1);
        }

        #[tokio::test]
        async fn a_failed_condition_without_item_still_is_condition_failed() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
            )
            .await;
            let del = Delete::new(key()).when(Condition::item_present());
            let err = store(&f.url, None).delete(del).await.unwrap_err();
            assert!(
                matches!(err, StoreError::ConditionFailed { current: None }),
                "{err:?}"
            );
        }

        #[tokio::test]
        async fn a_cancelled_transaction_reports_one_reason_per_action() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}"#,
            )
            .await;
            let ops = vec![
                TransactOp::Put(Put::new(Item::new(&Key::global("a", "1")))),
                TransactOp::Check {
                    key: Key::global("b", "1"),
                    condition: Condition::item_present(),
                },
            ];
            let err = store(&f.url, None).transact(ops).await.unwrap_err();
            let StoreError::TransactionCanceled { reasons } = err else {
                panic!("{err:?}")
            };
            assert_eq!(
                reasons,
                vec![CancelReason::None, CancelReason::ConditionFailed]
            );
        }

        /// What a two-action transaction fails with when DynamoDB answers `body` (400).
        async fn transact_error(body: &'static str) -> StoreError {
            let f = fake(400, "", body).await;
            store(&f.url, None).transact(two_ops()).await.unwrap_err()
        }

        #[tokio::test]
        async fn a_transaction_cancelled_by_throttling_is_throttled_not_a_domain_outcome() {
            let err = transact_error(r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled [None, ThrottlingError]","CancellationReasons":[{"Code":"None"},{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity"}]}"#).await;
            assert!(matches!(err, StoreError::Throttled), "{err:?}");
            assert!(err.is_transient());
        }

        const CONFLICT_ANSWER: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled [TransactionConflict, None]","CancellationReasons":[{"Code":"TransactionConflict"},{"Code":"None"}]}"#;

        fn two_ops() -> Vec<TransactOp> {
            vec![
                TransactOp::Put(Put::new(Item::new(&Key::global("a", "1")))),
                TransactOp::Update(Update::new(Key::global("b", "1")).add("n", 1)),
            ]
        }

        #[tokio::test]
        async fn a_transaction_conflict_is_sent_again_then_transient() {
            let f = fake(400, "", CONFLICT_ANSWER).await;
            let err = store(&f.url, None).transact(two_ops()).await.unwrap_err();
            assert!(err.is_transient(), "{err:?}");
            assert_eq!(f.hits(), CONFLICT_ATTEMPTS as usize, "one send per attempt");
        }

        #[tokio::test]
        async fn a_transaction_that_met_another_goes_through_on_its_next_send() {
            let f = fake_in_turn(vec![(400, "", CONFLICT_ANSWER), (200, "", "{}")]).await;
            store(&f.url, None).transact(two_ops()).await.unwrap();
            assert_eq!(f.hits(), 2);
        }

        const ITEM_CONFLICT_ANSWER: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#;

        #[tokio::test]
        async fn a_single_item_write_that_met_a_transaction_goes_through_on_its_next_send() {
            let f = fake_in_turn(vec![(400, "", ITEM_CONFLICT_ANSWER), (200, "", "{}")]).await;
            let s = store(&f.url, None);
            s.update(Update::new(key()).add("n", 1)).await.unwrap();
            assert_eq!(f.hits(), 2);
            let f = fake_in_turn(vec![(400, "", ITEM_CONFLICT_ANSWER), (200, "", "{}")]).await;
            store(&f.url, None)
                .put(Put::new(Item::new(&key())))
                .await
                .unwrap();
            assert_eq!(f.hits(), 2);
            let f = fake_in_turn(vec![(400, "", ITEM_CONFLICT_ANSWER), (200, "", "{}")]).await;
            store(&f.url, None)
                .delete(Delete::new(key()))
                .await
                .unwrap();
            assert_eq!(f.hits(), 2);
        }

        #[tokio::test]
        async fn a_single_item_write_held_by_transactions_throughout_is_transient() {
            let f = fake(400, "", ITEM_CONFLICT_ANSWER).await;
            let err = store(&f.url, None)
                .update(Update::new(key()).add("n", 1))
                .await
                .unwrap_err();
            assert!(err.is_transient(), "{err:?}");
            assert_eq!(f.hits(), CONFLICT_ATTEMPTS as usize, "one send per attempt");
        }

        #[test]
        fn conflict_pauses_are_jittered_under_a_doubling_ceiling() {
            for attempt in 1..CONFLICT_ATTEMPTS {
                let ceiling = Duration::from_millis(20 << (attempt - 1));
                let pauses: Vec<Duration> = (0..50).map(|_| conflict_pause(attempt)).collect();
                assert!(pauses.iter().all(|p| *p <= ceiling), "{pauses:?}");
                assert!(pauses.iter().any(|p| *p != pauses[0]), "not jittered");
            }
        }

        #[tokio::test]
        async fn a_failed_condition_wins_over_a_conflict_in_the_same_transaction() {
            let err = transact_error(r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled [ConditionalCheckFailed, ThrottlingError]","CancellationReasons":[{"Code":"ConditionalCheckFailed"},{"Code":"ThrottlingError"}]}"#).await;
            assert!(
                matches!(err, StoreError::TransactionCanceled { .. }),
                "{err:?}"
            );
        }

        #[tokio::test]
        async fn a_transaction_still_in_progress_is_transient() {
            let err = transact_error(r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionInProgressException","message":"Transaction is ongoing for the idempotency token"}"#).await;
            assert!(err.is_transient(), "{err:?}");
        }

        #[tokio::test]
        async fn cancellation_reasons_fall_back_to_the_message() {
            let f = fake(
                400,
                "",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, TransactionConflict]"}"#,
            )
            .await;
            let ops = vec![
                TransactOp::Delete(Delete::new(Key::global("a", "1"))),
                TransactOp::Update(Update::new(Key::global("b", "1")).add("n", 1)),
            ];
            let err = store(&f.url, None).transact(ops).await.unwrap_err();
            let StoreError::TransactionCanceled { reasons } = err else {
                panic!("{err:?}")
            };
            assert_eq!(
                reasons,
                vec![
                    CancelReason::ConditionFailed,
                    CancelReason::Other("TransactionConflict".into())
                ]
            );
        }
    }
}
