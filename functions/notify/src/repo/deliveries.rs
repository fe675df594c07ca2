//! Deliveries (keys: repo/mod.rs). Every write replaces the item on the condition that
//! its `rev` is the one read (optimistic concurrency), in one transaction with what must
//! change alongside: the dispatcher's due entry, the provider message id mapping, and
//! the day's metrics buckets (so a transition is counted exactly once).

use chrono::{DateTime, Utc};
use shared::{
    store::{
        Condition, Delete, Item, Key, Put, Query, QueryPage, ResumeKey, SortKey, Store, StoreError,
        TransactOp, attr,
    },
    tenant::TenantId,
};

use crate::{
    domain::{Delivery, Status, TimelineEntry},
    error::{NotifyError, NotifyResult},
};

/// Dispatcher entries are spread over this many partitions.
pub const DUE_SHARDS: u32 = 8;

fn tenant_of(d: &Delivery) -> NotifyResult<TenantId> {
    TenantId::parse(&d.tenant_id)
        .map_err(|e| NotifyError::Internal(format!("delivery tenant: {e}")))
}

fn delivery_item(d: &Delivery) -> NotifyResult<Item> {
    let t = tenant_of(d)?;
    let mut item = super::item(&super::delivery(&t, &d.id), d, "delivery")?;
    if let Some(user) = &d.recipient.user_id {
        item.set(attr::GSI1PK, super::user_deliveries_partition(&t, user));
        item.set(attr::GSI1SK, d.id.clone());
    }
    Ok(item)
}

/// The shard of a delivery's due entries (stable per delivery).
fn shard(id: &str) -> u32 {
    id.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % DUE_SHARDS
}

pub fn due_partition(shard: u32) -> String {
    format!("DUE#{shard}")
}

fn due_key(d: &Delivery, at: i64) -> Key {
    Key::global(
        due_partition(shard(&d.id)),
        format!("{at:010}#{}#{}", d.tenant_id, d.id),
    )
}

fn message_key(provider_message_id: &str) -> Key {
    Key::global(format!("MSG#{provider_message_id}"), "MSG")
}

/// Stores new deliveries, each with its due entry (queued/scheduled) and its first
/// metrics count, in as few transactions as DynamoDB takes (100 actions, 4 MB), one after
/// another: a send's deliveries share their metrics counters, and transactions writing
/// one item at the same time cancel each other (`TransactionConflict`). The counts of a
/// transaction's deliveries are added up, one update per counter.
pub async fn create_all(
    store: &dyn Store,
    now: DateTime<Utc>,
    ds: &mut [Delivery],
) -> NotifyResult<()> {
    for d in ds.iter_mut() {
        if let (Status::Queued | Status::Scheduled, Some(at)) = (d.status, d.next_attempt_at) {
            d.due_sk = Some(due_key(d, at).sk);
        }
    }
    let mut batch = WriteBatch::default();
    // The deliveries of the transactions committed so far, and of the one being filled.
    let (mut stored, mut filling) = (0, 0);
    for d in ds.iter() {
        let t = tenant_of(d)?;
        let mut ops = vec![TransactOp::Put(
            Put::new(delivery_item(d)?).when(Condition::item_absent()),
        )];
        if let (Some(sk), Some(at)) = (&d.due_sk, d.next_attempt_at) {
            ops.push(TransactOp::Put(Put::new(due_item(d, sk, at))));
        }
        // Every delivery starts `queued` (its timeline's first entry), then moves to where
        // the checks sent it: both are counted, as the timeline shows them.
        let mut counters = super::counters::metric_keys(&t, d, Status::Queued, now);
        if d.status != Status::Queued {
            counters.extend(super::counters::metric_keys(&t, d, d.status, now));
        }
        let bytes = serde_json::to_vec(d).map_or(0, |b| b.len());
        if !batch.fits(&ops, &counters, bytes) {
            if let Err(e) = batch.commit(store).await {
                return Err(undo_created(store, now, &ds[..stored], e).await);
            }
            stored += filling;
            filling = 0;
        }
        batch.add(ops, counters, bytes, &d.id);
        filling += 1;
    }
    match batch.commit(store).await {
        Ok(()) => Ok(()),
        Err(e) => Err(undo_created(store, now, &ds[..stored], e).await),
    }
}

/// A send whose deliveries could not all be stored fails whole: those stored already are
/// cancelled, so none of them goes out (the dispatcher would send them while the caller,
/// answered an error, sends again). Best effort; answers the error that stopped the send.
async fn undo_created(
    store: &dyn Store,
    now: DateTime<Utc>,
    stored: &[Delivery],
    error: NotifyError,
) -> NotifyError {
    if stored.is_empty() {
        return error;
    }
    let detail = "the send failed before all its deliveries were stored";
    if let Err(e) = transition_all(store, now, stored, Status::Cancelled, Some(detail)).await {
        tracing::error!(error = %e, deliveries = stored.len(), "could not cancel the deliveries of a failed send");
    }
    error
}

/// The deliveries of one transaction ([`create_all`], [`transition_all`]) and their
/// summed metrics counts.
#[derive(Default)]
struct WriteBatch {
    ops: Vec<TransactOp>,
    counts: std::collections::BTreeMap<Key, i64>,
    /// The first delivery's id: it chooses the shard of the summed counts.
    by: Option<String>,
    bytes: usize,
    /// Actions of the transaction that are not the batch's (other items written with it).
    reserved: usize,
}

impl WriteBatch {
    /// Under DynamoDB's 4 MB a transaction, with room for keys and attribute names.
    const MAX_BYTES: usize = 3 << 20;

    fn fits(&self, ops: &[TransactOp], counters: &[Key], bytes: usize) -> bool {
        let new_counters = counters
            .iter()
            .filter(|k| !self.counts.contains_key(k))
            .count();
        let actions = self.reserved + self.ops.len() + ops.len() + self.counts.len() + new_counters;
        self.ops.is_empty()
            || (actions <= shared::store::MAX_TRANSACT_ITEMS
                && self.bytes + bytes <= Self::MAX_BYTES)
    }

    fn add(&mut self, ops: Vec<TransactOp>, counters: Vec<Key>, bytes: usize, by: &str) {
        self.by.get_or_insert_with(|| by.to_owned());
        self.ops.extend(ops);
        for k in counters {
            *self.counts.entry(k).or_default() += 1;
        }
        self.bytes += bytes;
    }

    /// The batch's actions, its summed counts last; the batch is empty again.
    fn take_ops(&mut self) -> Vec<TransactOp> {
        let mut ops = std::mem::take(&mut self.ops);
        let by = self.by.take().unwrap_or_default();
        ops.extend(
            std::mem::take(&mut self.counts)
                .into_iter()
                .map(|(k, n)| super::counters::metric_update(k, n, &by)),
        );
        self.bytes = 0;
        ops
    }

    fn into_ops(mut self) -> Vec<TransactOp> {
        self.take_ops()
    }

    async fn commit(&mut self, store: &dyn Store) -> NotifyResult<()> {
        let ops = self.take_ops();
        if ops.is_empty() {
            return Ok(());
        }
        store.transact(ops).await?;
        Ok(())
    }
}

fn due_item(d: &Delivery, sk: &str, at: i64) -> Item {
    Item::new(&Key::global(due_partition(shard(&d.id)), sk.to_owned()))
        .with("tenant_id", d.tenant_id.clone())
        .with("delivery_id", d.id.clone())
        .with("due_at", at)
}

/// Delivery `id` of tenant `t` (strongly consistent), if it exists.
pub async fn get(store: &dyn Store, t: &TenantId, id: &str) -> NotifyResult<Option<Delivery>> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    match store.get(&super::delivery(t, id)).await? {
        Some(item) => super::record(&item, "delivery").map(Some),
        None => Ok(None),
    }
}

/// What a write changes besides the status.
#[derive(Debug, Default, Clone)]
pub struct Change {
    pub detail: Option<String>,
    /// New dispatcher time (epoch seconds): keeps or moves the due entry. None removes it.
    pub due_at: Option<i64>,
    pub attempts: Option<u32>,
    pub lease_until: Option<i64>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    /// When its inbox item arrives (epoch ms; see `Delivery::inbox_at`), set once.
    pub inbox_at: Option<i64>,
    /// Other items that change with it, in the same transaction (its quota given back).
    pub also: Vec<TransactOp>,
}

/// Moves `d` to `to` (timeline entry, metrics) if it is unchanged since it was read and
/// the state machine allows it. None: it changed meanwhile, or the move is not allowed.
pub async fn transition(
    store: &dyn Store,
    now: DateTime<Utc>,
    d: &Delivery,
    to: Status,
    detail: Option<String>,
) -> NotifyResult<Option<Delivery>> {
    apply(
        store,
        now,
        d,
        to,
        Change {
            detail,
            ..Change::default()
        },
    )
    .await
}

/// [`transition`] with the other fields a dispatcher or sender changes.
pub async fn apply(
    store: &dyn Store,
    now: DateTime<Utc>,
    d: &Delivery,
    to: Status,
    change: Change,
) -> NotifyResult<Option<Delivery>> {
    let Some(p) = prepare(d, to, now, change)? else {
        return Ok(None);
    };
    let (next, ops) = p.into_parts();
    match store.transact(ops).await {
        Ok(()) => Ok(Some(next)),
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&shared::store::CancelReason::ConditionFailed) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`apply`] for what already happened beyond our control — the provider took the
/// message. If the transaction fails on something transient (on DynamoDB, most likely
/// a conflict on the tenant's metrics counters, which every delivery's change adds to),
/// the delivery's own writes go again alone and its counts after them, best effort:
/// left `sending`, the delivery would be sent again when its lease ran out.
pub async fn record_sent(
    store: &dyn Store,
    now: DateTime<Utc>,
    d: &Delivery,
    to: Status,
    change: Change,
) -> NotifyResult<Option<Delivery>> {
    match apply(store, now, d, to, change.clone()).await {
        Err(NotifyError::Store(e)) if e.is_transient() => {
            tracing::warn!(delivery = %d.id, error = %e, "recording a sent delivery: writing it without its counts");
        }
        done => return done,
    }
    let Some(p) = prepare(d, to, now, change)? else {
        return Ok(None);
    };
    match store.transact(p.ops).await {
        Ok(()) => {}
        // A timeout can hide a first attempt that was written after all.
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&shared::store::CancelReason::ConditionFailed) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    for key in p.counters {
        if let TransactOp::Update(u) = super::counters::metric_update(key, 1, &d.id)
            && let Err(e) = store.update(u).await
        {
            tracing::warn!(delivery = %d.id, error = %e, "a metrics count was not written");
        }
    }
    Ok(Some(p.next))
}

/// A change of one delivery, ready to write: the delivery after it, the actions that write
/// it (the first is the put conditional on the revision read) and the metrics counters it
/// adds one to.
pub struct Prepared {
    next: Delivery,
    ops: Vec<TransactOp>,
    counters: Vec<Key>,
}

impl Prepared {
    /// The delivery after the change, and every action that writes it, the metrics counts
    /// included: for a transaction of its own or one shared with other items (never with
    /// another delivery's change: their counters may be the same items).
    pub fn into_parts(self) -> (Delivery, Vec<TransactOp>) {
        let mut ops = self.ops;
        ops.extend(
            self.counters
                .into_iter()
                .map(|k| super::counters::metric_update(k, 1, &self.next.id)),
        );
        (self.next, ops)
    }
}

/// What [`apply`] writes; None when the state machine does not allow the move.
pub fn prepare(
    d: &Delivery,
    to: Status,
    now: DateTime<Utc>,
    change: Change,
) -> NotifyResult<Option<Prepared>> {
    if to != d.status && !d.status.can_become(to) {
        return Ok(None);
    }
    let t = tenant_of(d)?;
    let mut next = d.clone();
    next.rev = d.rev + 1;
    next.updated_at = shared::clock::rfc3339_millis(now);
    if to != d.status {
        next.status = to;
        next.timeline.push(TimelineEntry {
            status: to,
            at: shared::clock::rfc3339_millis(now),
            detail: change.detail.clone(),
        });
    }
    if let Some(a) = change.attempts {
        next.attempts = a;
    }
    next.lease_until = change.lease_until;
    if change.provider_message_id.is_some() {
        next.provider_message_id = change.provider_message_id.clone();
    }
    if change.inbox_at.is_some() && next.inbox_at.is_none() {
        next.inbox_at = change.inbox_at;
    }
    if change.last_error.is_some() {
        next.last_error = change.last_error.clone();
    }
    next.next_attempt_at = change.due_at;
    next.due_sk = change.due_at.map(|at| due_key(d, at).sk);

    let mut ops = vec![TransactOp::Put(
        Put::new(delivery_item(&next)?).when(Condition::eq("rev", d.rev)),
    )];
    if d.due_sk != next.due_sk {
        if let Some(old) = &d.due_sk {
            ops.push(TransactOp::Delete(Delete::new(Key::global(
                due_partition(shard(&d.id)),
                old.clone(),
            ))));
        }
        if let (Some(sk), Some(at)) = (&next.due_sk, next.next_attempt_at) {
            ops.push(TransactOp::Put(Put::new(due_item(&next, sk, at))));
        }
    }
    if let Some(mid) = &change.provider_message_id {
        ops.push(TransactOp::Put(Put::new(
            Item::new(&message_key(mid))
                .with("tenant_id", d.tenant_id.clone())
                .with("delivery_id", d.id.clone()),
        )));
    }
    ops.extend(change.also);
    let counters = if to != d.status {
        super::counters::metric_keys(&t, d, to, now)
    } else {
        Vec::new()
    };
    Ok(Some(Prepared {
        next,
        ops,
        counters,
    }))
}

/// The actions that move each of `ds` to `to` where the state machine allows it (their
/// metrics counts summed), for one transaction with other items; None when they would
/// not fit one ([`WriteBatch`]'s limits, leaving `reserved` actions to the others).
pub fn transitions(
    ds: &[&Delivery],
    to: Status,
    now: DateTime<Utc>,
    reserved: usize,
) -> NotifyResult<Option<Vec<TransactOp>>> {
    let mut batch = WriteBatch {
        reserved,
        ..WriteBatch::default()
    };
    for d in ds {
        let Some(p) = prepare(d, to, now, Change::default())? else {
            continue;
        };
        let bytes = serde_json::to_vec(&p.next).map_or(0, |b| b.len());
        if !batch.fits(&p.ops, &p.counters, bytes) {
            return Ok(None);
        }
        batch.add(p.ops, p.counters, bytes, &d.id);
    }
    Ok(Some(batch.into_ops()))
}

/// Moves each of `ds` to `to` where the state machine allows it, in as few transactions
/// as DynamoDB takes (their metrics counts summed); a transaction that meets a delivery
/// changed since it was read moves that batch's deliveries one by one, each read again.
pub async fn transition_all(
    store: &dyn Store,
    now: DateTime<Utc>,
    ds: &[Delivery],
    to: Status,
    detail: Option<&str>,
) -> NotifyResult<()> {
    let mut batch = WriteBatch::default();
    let mut members: Vec<&Delivery> = Vec::new();
    let change = || Change {
        detail: detail.map(str::to_owned),
        ..Change::default()
    };
    for d in ds {
        let Some(p) = prepare(d, to, now, change())? else {
            continue;
        };
        let bytes = serde_json::to_vec(&p.next).map_or(0, |b| b.len());
        if !batch.fits(&p.ops, &p.counters, bytes) {
            commit_or_one_by_one(store, now, &mut batch, &mut members, to, detail).await?;
        }
        batch.add(p.ops, p.counters, bytes, &d.id);
        members.push(d);
    }
    commit_or_one_by_one(store, now, &mut batch, &mut members, to, detail).await
}

async fn commit_or_one_by_one(
    store: &dyn Store,
    now: DateTime<Utc>,
    batch: &mut WriteBatch,
    members: &mut Vec<&Delivery>,
    to: Status,
    detail: Option<&str>,
) -> NotifyResult<()> {
    let moved = std::mem::take(members);
    match batch.commit(store).await {
        Err(NotifyError::Store(StoreError::TransactionCanceled { reasons }))
            if reasons.contains(&shared::store::CancelReason::ConditionFailed) =>
        {
            for d in moved {
                if let Some(now_d) = get(store, &tenant_of(d)?, &d.id).await? {
                    transition(store, now, &now_d, to, detail.map(str::to_owned)).await?;
                }
            }
            Ok(())
        }
        done => done,
    }
}

/// The delivery a provider's message id belongs to (provider webhooks).
pub async fn find_by_message_id(
    store: &dyn Store,
    provider_message_id: &str,
) -> NotifyResult<Option<Delivery>> {
    if provider_message_id.is_empty() || provider_message_id.len() > 512 {
        return Ok(None);
    }
    let Some(map) = store.get(&message_key(provider_message_id)).await? else {
        return Ok(None);
    };
    let (Some(tenant), Some(id)) = (map.get_s("tenant_id"), map.get_s("delivery_id")) else {
        return Ok(None);
    };
    let t = TenantId::parse(tenant).map_err(|e| NotifyError::Internal(e.to_string()))?;
    get(store, &t, id).await
}

/// The updates that give back what `d` took, to the day each was counted on: its quota
/// unit and, when it alone holds one, its person's frequency-cap unit. For a delivery
/// that will never be sent (cancelled, erased or stopped before it went out).
pub fn quota_back(d: &Delivery) -> Vec<TransactOp> {
    let (Ok(t), Ok(at)) = (tenant_of(d), DateTime::parse_from_rfc3339(&d.created_at)) else {
        return Vec::new();
    };
    let mut ops = super::counters::release_ops(&t, d.channel, at.with_timezone(&Utc), 1);
    ops.extend(cap_back(d).map(TransactOp::Update));
    ops
}

/// The update giving back the frequency-cap unit `d` alone holds, if it holds one.
fn cap_back(d: &Delivery) -> Option<shared::store::Update> {
    let t = tenant_of(d).ok()?;
    let at = DateTime::parse_from_rfc3339(d.cap_at.as_deref()?).ok()?;
    let person = super::send_reads::person(&d.recipient)?;
    Some(super::counters::cap_back(
        &t,
        person,
        d.category,
        at.with_timezone(&Utc),
    ))
}

/// Gives `d`'s quota unit back after a change that ends it unsent (a contact suppressed
/// or a person who opted out before it went out, a push nobody could receive): plain
/// updates, not part of the change's transaction, since every send of the tenant
/// reserves on the same counters and a transaction writing them would cancel those
/// reservations. Best effort: a unit not given back ends the quota that much early.
pub async fn give_quota_back(store: &dyn Store, d: &Delivery) {
    let (Ok(t), Ok(at)) = (tenant_of(d), DateTime::parse_from_rfc3339(&d.created_at)) else {
        return;
    };
    let at = at.with_timezone(&Utc);
    if let Some(back) = cap_back(d)
        && let Err(e) = store.update(back).await
    {
        tracing::warn!(delivery = %d.id, error = %e, "a frequency-cap unit was not given back");
    }
    if let Err(e) = super::counters::release(store, &t, d.channel, at, 1).await {
        tracing::warn!(delivery = %d.id, error = %e, "a quota unit was not given back");
    }
}

/// Erases a delivery (privacy request): the record, its due entry, its message id
/// mapping and its inbox item, and gives its quota unit back when it was not sent yet —
/// one transaction, conditional on the delivery being as read. Returns what was erased
/// (None: there was none).
pub async fn erase(store: &dyn Store, t: &TenantId, id: &str) -> NotifyResult<Option<Delivery>> {
    // A delivery changes a few times in its life: a change meanwhile reads it again.
    for _ in 0..3 {
        let Some(d) = get(store, t, id).await? else {
            return Ok(None);
        };
        let unchanged = Condition::eq("rev", d.rev);
        let mut ops = vec![TransactOp::Delete(
            Delete::new(super::delivery(t, id)).when(unchanged),
        )];
        if let Some(sk) = &d.due_sk {
            ops.push(TransactOp::Delete(Delete::new(Key::global(
                due_partition(shard(&d.id)),
                sk.clone(),
            ))));
        }
        if let Some(mid) = &d.provider_message_id {
            ops.push(TransactOp::Delete(Delete::new(message_key(mid))));
        }
        if let (crate::domain::Channel::InApp, Some(user)) = (d.channel, &d.recipient.user_id) {
            ops.extend(super::inbox::erase_ops(store, t, user, &d).await?);
        }
        if matches!(d.status, Status::Queued | Status::Scheduled) {
            ops.extend(quota_back(&d));
        }
        match store.transact(ops).await {
            Ok(()) => return Ok(Some(d)),
            Err(StoreError::TransactionCanceled { reasons })
                if reasons.first() == Some(&shared::store::CancelReason::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Unavailable("the delivery kept changing while being erased".into()).into())
}

/// One due entry of the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub tenant: TenantId,
    pub delivery_id: String,
    pub key: Key,
}

/// Entries of `shard` due at or before `now_epoch`, oldest first.
pub async fn due(
    store: &dyn Store,
    shard: u32,
    now_epoch: i64,
    limit: u32,
) -> NotifyResult<Vec<Due>> {
    let page = store
        .query(
            Query::partition(due_partition(shard))
                // `~` sorts after every `#<tenant>#<id>` suffix of this second.
                .sk(SortKey::Le(format!("{now_epoch:010}~")))
                .limit(limit)
                // The dispatcher reads a shard again right after dropping entries from it:
                // a stale page would show it no progress and stop that shard's run.
                .consistent(),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|item| {
            Some(Due {
                tenant: TenantId::parse(item.get_s("tenant_id")?).ok()?,
                delivery_id: item.get_s("delivery_id")?.to_owned(),
                key: item.key()?,
            })
        })
        .collect())
}

/// Drops a due entry whose delivery no longer needs it (or no longer exists).
pub async fn drop_due(store: &dyn Store, key: &Key) -> NotifyResult<()> {
    store.delete(Delete::new(key.clone())).await?;
    Ok(())
}

/// Which deliveries a list reads.
#[derive(Debug, Clone)]
pub enum Scope {
    Tenant,
    User(String),
}

/// One page of deliveries (newest first), between ids `lo..=hi` when given.
pub async fn page(
    store: &dyn Store,
    t: &TenantId,
    scope: &Scope,
    range: (Option<String>, Option<String>),
    start: Option<ResumeKey>,
    limit: u32,
) -> NotifyResult<(Vec<Delivery>, Option<ResumeKey>)> {
    let mut q = match scope {
        Scope::Tenant => Query::partition(super::deliveries_partition(t)),
        Scope::User(u) => {
            Query::partition(super::user_deliveries_partition(t, u)).on(shared::store::Index::Gsi1)
        }
    };
    q = q.backward().limit(limit).resume(start);
    q.sk = match range {
        (Some(lo), Some(hi)) => Some(SortKey::Between(lo, hi)),
        (Some(lo), None) => Some(SortKey::Ge(lo)),
        (None, Some(hi)) => Some(SortKey::Le(hi)),
        (None, None) => None,
    };
    let QueryPage { items, next } = store.query(q).await?;
    let ds = items
        .iter()
        .map(|i| super::record(i, "delivery"))
        .collect::<NotifyResult<Vec<Delivery>>>()?;
    Ok((ds, next))
}

/// The resume key that continues a listing after `d` (when a filtered page stops early).
pub fn resume_after(t: &TenantId, scope: &Scope, d: &Delivery) -> ResumeKey {
    let mut k = std::collections::BTreeMap::new();
    k.insert(attr::PK.to_owned(), super::deliveries_partition(t));
    k.insert(attr::SK.to_owned(), d.id.clone());
    if let Scope::User(u) = scope {
        k.insert(
            attr::GSI1PK.to_owned(),
            super::user_deliveries_partition(t, u),
        );
        k.insert(attr::GSI1SK.to_owned(), d.id.clone());
    }
    ResumeKey(k)
}
