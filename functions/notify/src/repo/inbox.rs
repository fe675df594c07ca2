//! The in-app inbox (`T#<t>#U#<userId>#INBOX` / [`sort_key`]) and its unread counter
//! (`T#<t>#U#<userId>` / `INBOX#UNREAD`, attribute `count`). An item and the counter
//! change in one transaction, each item change conditional on its read state, so the
//! counter moves exactly once per item whatever the retries.

use serde::{Deserialize, Serialize};
use shared::{
    store::{
        CancelReason, Condition, Delete, Key, Put, Query, ResumeKey, Store, StoreError, TransactOp,
        Update, attr,
    },
    tenant::TenantId,
};

use crate::{
    domain::{Category, Delivery, Priority},
    error::{NotifyError, NotifyResult},
};

const UNREAD_SK: &str = "INBOX#UNREAD";
const COUNT: &str = "count";
const READ: &str = "read";
/// Items marked read per transaction by [`mark_all_read`] (plus the counter: within
/// DynamoDB's 100 actions).
const BATCH: usize = 25;
/// Items one unread-filtered page reads at most before answering (with a cursor), so an
/// inbox of many read items cannot make one request scan without end.
const MAX_SCANNED: usize = 500;

/// What a page's items may add up to as JSON. Lambda answers at most 6 MB, and that is
/// our JSON escaped once more inside Lambda's own (up to twice as long); an in-app body
/// may be 256 KiB, so 100 of them would not fit. A page ends early instead, with a
/// cursor: one item always fits.
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// One message in a person's inbox; `id` is its delivery's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxItem {
    pub id: String,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    pub created_at: String,
    pub read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    /// Where it sorts in the inbox (its key; see [`sort_key`]), as read.
    #[serde(skip)]
    pub sort_key: String,
}

/// Where delivery `d` sorts in its recipient's inbox, newest first: its id, a UUIDv7 of
/// when it was created — or, for one that was due later (a `scheduledAt`, quiet hours),
/// the same id with the time it arrived (`inbox_at`, written by the claim that took it
/// there) in place of its creation time, so that it sorts above what came in while it
/// waited. Derived from the delivery alone, so whatever reads the delivery finds its
/// item. (Items delivered before `inbox_at` was kept sort by their due time.)
pub fn sort_key(d: &Delivery) -> String {
    let due_ms = d
        .scheduled_at
        .as_deref()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.timestamp_millis());
    let arrived_ms = d
        .inbox_at
        .filter(|_| d.scheduled_at.is_some())
        .or(due_ms)
        .and_then(|ms| u64::try_from(ms).ok());
    match (arrived_ms, uuid::Uuid::parse_str(&d.id)) {
        (Some(ms), Ok(id)) => {
            let mut bytes = *id.as_bytes();
            // UUIDv7: the first 48 bits are the Unix time in milliseconds.
            bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
            uuid::Uuid::from_bytes(bytes).to_string()
        }
        _ => d.id.clone(),
    }
}

/// An unread item: where it sorts, and its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub sort_key: String,
    pub id: String,
}

/// Puts an in_app delivery into its recipient's inbox (unread), arrived at `now`, and
/// counts it. Delivering the same delivery again changes nothing.
pub async fn deliver(store: &dyn Store, t: &TenantId, d: &Delivery, now: &str) -> NotifyResult<()> {
    let user = d.recipient.user_id.as_deref().ok_or_else(|| {
        NotifyError::Internal(format!("in_app delivery {} has no recipient userId", d.id))
    })?;
    let entry = InboxItem {
        id: d.id.clone(),
        title: d.content.subject.clone().unwrap_or_default(),
        body: d.content.plain(),
        category: d.category,
        priority: d.priority,
        created_at: now.to_owned(),
        read: false,
        read_at: None,
        sort_key: String::new(),
    };
    let item = super::item(
        &super::inbox_item(t, user, &sort_key(d)),
        &entry,
        "inbox item",
    )?;
    let ops = vec![
        TransactOp::Put(Put::new(item).when(Condition::item_absent())),
        TransactOp::Update(Update::new(counter(t, user)).add(COUNT, 1)),
    ];
    match commit(store, ops).await? {
        Committed::Yes | Committed::ConditionFailed => Ok(()),
    }
}

/// One page of `user_id`'s inbox, newest first (delivery ids are UUIDv7), from `start`.
/// Returns the items and where the next page starts (None: the end).
pub async fn page(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    limit: u32,
    mut start: Option<ResumeKey>,
    unread_only: bool,
) -> NotifyResult<(Vec<InboxItem>, Option<ResumeKey>)> {
    let pk = super::inbox_partition(t, user_id);
    // Unfiltered, one more than the page tells exactly whether more follow; filtered,
    // wide batches keep the round trips few.
    let batch = if unread_only { 100 } else { limit + 1 };
    let (mut out, mut scanned, mut bytes) = (Vec::new(), 0usize, 0usize);
    loop {
        let found = store
            .query(
                Query::partition(&pk)
                    .backward()
                    .limit(batch)
                    .resume(start)
                    .consistent(),
            )
            .await?;
        for item in &found.items {
            let mut entry: InboxItem = super::record(item, "inbox item")?;
            entry.sort_key = item.get_s(attr::SK).unwrap_or(&entry.id).to_owned();
            scanned += 1;
            if unread_only && entry.read {
                if scanned >= MAX_SCANNED {
                    return Ok((out, Some(resume_after(&pk, &entry.sort_key))));
                }
                continue;
            }
            let size = serde_json::to_vec(&entry).map_or(0, |b| b.len());
            if out.len() == limit as usize || (!out.is_empty() && bytes + size > MAX_PAGE_BYTES) {
                let last = out
                    .last()
                    .map(|e: &InboxItem| resume_after(&pk, &e.sort_key));
                return Ok((out, last));
            }
            bytes += size;
            out.push(entry);
        }
        match found.next {
            Some(n) => start = Some(n),
            None => return Ok((out, None)),
        }
    }
}

/// How many of `user_id`'s inbox items are unread.
pub async fn unread_count(store: &dyn Store, t: &TenantId, user_id: &str) -> NotifyResult<u64> {
    let count = store
        .get(&counter(t, user_id))
        .await?
        .and_then(|i| i.get_i64(COUNT))
        .unwrap_or(0);
    Ok(u64::try_from(count).unwrap_or(0))
}

/// What [`mark_read`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkRead {
    Marked,
    AlreadyRead,
    NotFound,
    /// [`mark_read_with`]: the condition of one of `with`'s actions did not hold; nothing
    /// was written.
    WithRefused,
}

/// Marks the item at `sort_key` of `user_id` read (and counts it off) if it is unread.
pub async fn mark_read(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    sort_key: &str,
    now: &str,
) -> NotifyResult<MarkRead> {
    mark_read_with(store, t, user_id, sort_key, now, Vec::new()).await
}

/// [`mark_read`] in one transaction with `with` (the item's delivery moving to `read`).
pub async fn mark_read_with(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    sort_key: &str,
    now: &str,
    with: Vec<TransactOp>,
) -> NotifyResult<MarkRead> {
    let key = super::inbox_item(t, user_id, sort_key);
    let mut ops = read_ops(t, user_id, std::slice::from_ref(&key), now);
    let own = ops.len();
    ops.extend(with);
    match store.transact(ops).await {
        Ok(()) => Ok(MarkRead::Marked),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&CancelReason::ConditionFailed) =>
        {
            Ok(match store.get(&key).await? {
                Some(_) => MarkRead::AlreadyRead,
                None => MarkRead::NotFound,
            })
        }
        Err(StoreError::TransactionCanceled { reasons })
            // `get`: fewer reasons than actions (a backend that gave none) must not panic.
            if reasons
                .get(own..)
                .is_some_and(|r| r.contains(&CancelReason::ConditionFailed)) =>
        {
            Ok(MarkRead::WithRefused)
        }
        Err(e) => commit_error(e),
    }
}

/// Up to `max` of `user_id`'s unread items, newest first, from `start` (None:
/// the newest), and where the search stopped (None: it reached the oldest item). Pages of
/// read items count too (at most [`MAX_SCANNED`] each, four of them beyond what `max`
/// needs), so one request's work stays bounded however large the inbox is; each call
/// moves on by at least one item, so resuming from where one stopped ends.
pub async fn unread_ids(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    max: usize,
    mut start: Option<ResumeKey>,
) -> NotifyResult<(Vec<Unread>, Option<ResumeKey>)> {
    let mut unread = Vec::new();
    for _ in 0..max.div_ceil(100) + 4 {
        let want = (max - unread.len()).min(100) as u32;
        let (found, next) = page(store, t, user_id, want, start, true).await?;
        unread.extend(found.into_iter().map(|e| Unread {
            sort_key: e.sort_key,
            id: e.id,
        }));
        match next {
            Some(n) if unread.len() < max => start = Some(n),
            other => return Ok((unread, other)),
        }
    }
    Ok((unread, start))
}

/// What [`mark_all_read`] did.
#[derive(Debug, Default)]
pub struct MarkedAll {
    /// The items it marked read (and counted off).
    pub marked: Vec<Unread>,
    /// Those of them marked without their `with` actions (see [`mark_all_read`]).
    pub alone: Vec<Unread>,
}

/// Marks items `ids` of `user_id` read where unread, [`BATCH`] a transaction, each with
/// the actions `with` gives for its items (their deliveries' moves; None: none fit). The
/// counter drops by exactly the number marked, so a message arriving meanwhile stays
/// counted. A transaction one of whose conditions failed (an item read meanwhile, a
/// delivery changed) marks its items one by one, without `with`: they are `alone`.
pub async fn mark_all_read(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    items: &[Unread],
    now: &str,
    with: impl Fn(&[Unread]) -> NotifyResult<Option<Vec<TransactOp>>>,
) -> NotifyResult<MarkedAll> {
    let mut out = MarkedAll::default();
    for chunk in items.chunks(BATCH) {
        let keys: Vec<Key> = chunk
            .iter()
            .map(|u| super::inbox_item(t, user_id, &u.sort_key))
            .collect();
        let mut ops = read_ops(t, user_id, &keys, now);
        let joined = match with(chunk)? {
            Some(more) => {
                ops.extend(more);
                true
            }
            None => false,
        };
        match commit(store, ops).await? {
            Committed::Yes => {
                out.marked.extend(chunk.iter().cloned());
                if !joined {
                    out.alone.extend(chunk.iter().cloned());
                }
            }
            // One was read (or changed) meanwhile: mark the rest one by one.
            Committed::ConditionFailed => {
                for u in chunk {
                    if mark_read(store, t, user_id, &u.sort_key, now).await? == MarkRead::Marked {
                        out.marked.push(u.clone());
                        out.alone.push(u.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Marks `keys` read, each only if unread, and counts them off.
fn read_ops(t: &TenantId, user_id: &str, keys: &[Key], now: &str) -> Vec<TransactOp> {
    let mut ops: Vec<TransactOp> = keys
        .iter()
        .map(|k| {
            TransactOp::Update(
                Update::new(k.clone())
                    .set(READ, true)
                    .set("readAt", now)
                    .when(Condition::item_present().and(Condition::eq(READ, false))),
            )
        })
        .collect();
    ops.push(TransactOp::Update(
        Update::new(counter(t, user_id)).add(COUNT, -(keys.len() as i64)),
    ));
    ops
}

enum Committed {
    Yes,
    /// A condition of the transaction did not hold; nothing was written.
    ConditionFailed,
}

async fn commit(store: &dyn Store, ops: Vec<TransactOp>) -> NotifyResult<Committed> {
    match store.transact(ops).await {
        Ok(()) => Ok(Committed::Yes),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.contains(&CancelReason::ConditionFailed) =>
        {
            Ok(Committed::ConditionFailed)
        }
        Err(e) => commit_error(e),
    }
}

fn commit_error<T>(e: StoreError) -> NotifyResult<T> {
    match e {
        // Cancelled by a concurrent transaction on the same items: a retry will do.
        e @ StoreError::TransactionCanceled { .. } => {
            Err(NotifyError::Api(shared::ApiError::unavailable(e)))
        }
        e => Err(e.into()),
    }
}

fn counter(t: &TenantId, user_id: &str) -> Key {
    super::user_item(t, user_id, UNREAD_SK)
}

/// Where a backward query resumes after the item at `sort_key`.
fn resume_after(pk: &str, sort_key: &str) -> ResumeKey {
    ResumeKey(
        [
            (attr::PK.to_owned(), pk.to_owned()),
            (attr::SK.to_owned(), sort_key.to_owned()),
        ]
        .into(),
    )
}

/// Deletes every item of `user_id`'s inbox and its unread counter (erasing the person);
/// how many items went.
pub async fn clear(store: &dyn Store, t: &TenantId, user_id: &str) -> NotifyResult<usize> {
    let erased = super::delete_partition(store, super::inbox_partition(t, user_id)).await?;
    store.delete(Delete::new(counter(t, user_id))).await?;
    Ok(erased)
}

/// What erasing delivery `d` does to its inbox item: delete it and, if it was unread,
/// take it off the unread count — conditional on the read state just seen, so a read
/// racing the erase cannot leave the count off by one.
pub async fn erase_ops(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    d: &Delivery,
) -> NotifyResult<Vec<TransactOp>> {
    let mut key = super::inbox_item(t, user_id, &sort_key(d));
    let mut found = store.get(&key).await?;
    if found.is_none() && key.sk != d.id {
        // Stored before items of deliveries due later sorted by arrival: by its id.
        key = super::inbox_item(t, user_id, &d.id);
        found = store.get(&key).await?;
    }
    let Some(item) = found else {
        return Ok(Vec::new());
    };
    let unread = matches!(item.get(READ), Some(shared::store::Value::Bool(false)));
    let mut ops = vec![TransactOp::Delete(
        Delete::new(key).when(Condition::eq(READ, !unread)),
    )];
    if unread {
        ops.push(TransactOp::Update(
            Update::new(counter(t, user_id)).add(COUNT, -1),
        ));
    }
    Ok(ops)
}
