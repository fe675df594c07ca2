//! The dispatcher: sends `scheduled` deliveries when due and retries `queued` ones
//! (backoff in sending.rs), run every minute by `POST /jobs/dispatch` (EventBridge in
//! AWS). Each delivery is claimed by a conditional update before it is sent, so two
//! dispatchers (or a dispatcher and a send request) never send it twice.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures_util::future::try_join_all;
use serde::Serialize;
use shared::{
    access::Feature,
    store::{Item, Key, get_each},
    tenant::TenantId,
    tenant_status::Standing,
};
use utoipa::ToSchema;

use crate::{
    domain::{Channel, Delivery, Status},
    error::NotifyResult,
    repo::{
        self,
        deliveries::{self, DUE_SHARDS},
    },
    sending,
    state::NotifyState,
};

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Due entries looked at.
    pub due: u32,
    /// Sent (or delivered, for in-app) by this run.
    pub sent: u32,
    /// Provider failures put back in the queue with backoff.
    pub retried: u32,
    /// Ended `failed` (rejected, or out of attempts).
    pub failed: u32,
    /// Claimed by someone else first, no longer due, or suppressed since it was sent.
    pub skipped: u32,
    /// Ended `cancelled` (or, caught mid-send, `failed`): the platform suspended the
    /// tenant since the send.
    pub cancelled: u32,
    /// Could not be handled (a store error); left due for the next run.
    pub errors: u32,
}

/// Entries read per shard per pass.
const BATCH: u32 = 50;

/// One run: every due entry of every shard, until `budget` is spent. A pass reads up to
/// [`BATCH`] entries of each shard (the 8 queries sent together), then their deliveries
/// and suppressions in two batch reads; a shard that filled its batch and moved
/// something on is read again.
pub async fn run(st: &NotifyState, budget: Duration) -> NotifyResult<Report> {
    run_in_batches(st, budget, BATCH).await
}

/// [`run`], reading up to `batch` entries of a shard a pass.
pub async fn run_in_batches(
    st: &NotifyState,
    budget: Duration,
    batch: u32,
) -> NotifyResult<Report> {
    let started = Instant::now();
    let mut report = Report::default();
    let mut shards: Vec<u32> = (0..DUE_SHARDS).collect();
    while !shards.is_empty() {
        let now = st.epoch();
        let pages = try_join_all(
            shards
                .iter()
                .map(|&shard| deliveries::due(st.store(), shard, now, batch)),
        )
        .await?;
        let due: Vec<(u32, deliveries::Due)> = shards
            .iter()
            .zip(pages)
            .flat_map(|(&shard, page)| page.into_iter().map(move |e| (shard, e)))
            .collect();
        let full: Vec<u32> = shards
            .iter()
            .copied()
            .filter(|&s| due.iter().filter(|(of, _)| *of == s).count() == batch as usize)
            .collect();
        let mut read = Batch::read(st, due.iter().map(|(_, e)| e)).await?;
        let mut progressed = Vec::new();
        for ((shard, entry), found) in due.iter().zip(std::mem::take(&mut read.deliveries)) {
            if started.elapsed() >= budget {
                return Ok(report);
            }
            report.due += 1;
            // One unreadable record or one failed write must not stop the run: it is
            // logged, counted, and its entry stays due for the next run.
            let done = match found {
                Ok(d) => one(st, entry, d, &read, now, &mut report).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(true) => progressed.push(*shard),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(delivery = %entry.delivery_id, error = %e, "dispatch of one delivery failed");
                    report.errors += 1;
                }
            }
        }
        shards = full
            .into_iter()
            .filter(|s| progressed.contains(s))
            .collect();
    }
    Ok(report)
}

/// What a batch of due entries needs read, in two rounds of batch reads: their
/// deliveries, then what those due again are checked against
/// ([`sending::recheck_keys`]: suppressions and preferences) and their tenants' status
/// in auth's table, in one batch read naming both tables.
struct Batch {
    deliveries: Vec<NotifyResult<Option<Delivery>>>,
    /// The items of every delivery's recheck keys, by key.
    rechecked: HashMap<Key, Item>,
    /// What auth's records say of the batch's tenants, and of the accounts its push and
    /// in-app deliveries go to.
    standing: Standing,
}

impl Batch {
    async fn read(
        st: &NotifyState,
        due: impl Iterator<Item = &deliveries::Due>,
    ) -> NotifyResult<Self> {
        let keys: Vec<Key> = due
            .map(|e| repo::delivery(&e.tenant, &e.delivery_id))
            .collect();
        let deliveries: Vec<NotifyResult<Option<Delivery>>> = get_each(st.store(), &keys)
            .await?
            .iter()
            .map(|i| i.as_ref().map(|i| repo::record(i, "delivery")).transpose())
            .collect();
        let keys: Vec<Key> = deliveries
            .iter()
            .filter_map(|d| d.as_ref().ok()?.as_ref())
            .flat_map(sending::recheck_keys)
            .collect();
        let addressed: Vec<(TenantId, Option<&str>)> = deliveries
            .iter()
            .filter_map(|d| d.as_ref().ok()?.as_ref())
            .filter_map(|d| {
                let t = TenantId::parse(&d.tenant_id).ok()?;
                Some((t, d.recipient.account(d.channel)))
            })
            .collect();
        let tenants: Vec<TenantId> = addressed.iter().map(|(t, _)| *t).collect();
        let accounts: Vec<(TenantId, &str)> = addressed
            .iter()
            .filter_map(|(t, u)| Some((*t, (*u)?)))
            .collect();
        let (items, standing) = st
            .tenants
            .standing_beside(st.store(), &keys, &tenants, &accounts)
            .await?;
        let mut rechecked = HashMap::new();
        for (key, item) in keys.into_iter().zip(items) {
            if let Some(i) = item {
                rechecked.insert(key, i);
            }
        }
        Ok(Batch {
            deliveries,
            rechecked,
            standing,
        })
    }
}

/// Handles one due entry (its delivery as read); true when it moved a delivery on.
async fn one(
    st: &NotifyState,
    entry: &deliveries::Due,
    found: Option<Delivery>,
    batch: &Batch,
    now: i64,
    report: &mut Report,
) -> NotifyResult<bool> {
    let Some(d) = found else {
        deliveries::drop_due(st.store(), &entry.key).await?;
        report.skipped += 1;
        return Ok(false);
    };
    let current = d.due_sk.as_deref() == Some(entry.key.sk.as_str());
    let claimable = match d.status {
        Status::Queued | Status::Scheduled => true,
        // A claim whose holder died: its lease has run out.
        Status::Sending => d.lease_until.is_some_and(|l| l <= now),
        _ => false,
    };
    if !current {
        // A leftover entry (the delivery moved on): drop it.
        deliveries::drop_due(st.store(), &entry.key).await?;
    }
    if !claimable || !current {
        report.skipped += 1;
        return Ok(false);
    }
    let mut recheck = sending::Recheck::from_items(&d, |k| batch.rechecked.get(k))?;
    if let Ok(t) = TenantId::parse(&d.tenant_id) {
        recheck.tenant_suspended = batch.standing.tenant_suspended(&t);
        recheck.account = d
            .recipient
            .account(d.channel)
            .and_then(|u| batch.standing.inactive(&t, u));
        recheck.channel_not_in_plan = d.channel == Channel::Sms
            && batch
                .standing
                .plan(&t)
                .is_some_and(|plan| Feature::Sms.check(plan).is_err());
    }
    let suspended =
        recheck.tenant_suspended || recheck.account.is_some() || recheck.channel_not_in_plan;
    let Some(after) = sending::attempt_checked(st, &d, &recheck).await? else {
        report.skipped += 1;
        return Ok(false);
    };
    match after.status {
        _ if suspended => report.cancelled += 1,
        Status::Sent | Status::Delivered => report.sent += 1,
        Status::Queued => report.retried += 1,
        Status::Failed => report.failed += 1,
        _ => report.skipped += 1,
    }
    Ok(true)
}

/// The most a scheduled run sends for (the dispatcher function's timeout is 50 s; the
/// next run starts a minute later).
pub const SCHEDULED_RUN_BUDGET: Duration = Duration::from_secs(40);

/// A scheduled invocation (EventBridge Scheduler, no HTTP): `{"job": "notify.dispatch"}`,
/// bounded by the invocation's deadline (less a margin to record outcomes). An unknown
/// event or a failed run is an error, so it reaches the dead-letter queue.
pub async fn scheduled(
    st: &NotifyState,
    payload: &serde_json::Value,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<serde_json::Value, shared::lambda::Error> {
    if payload.get("job").and_then(|j| j.as_str()) != Some("notify.dispatch") {
        return Err("unexpected event: expected {\"job\": \"notify.dispatch\"}".into());
    }
    let budget = deadline
        .map(|d| (d - chrono::Utc::now()).to_std().unwrap_or_default())
        .map(|left| left.saturating_sub(Duration::from_secs(5)))
        .unwrap_or(SCHEDULED_RUN_BUDGET)
        .min(SCHEDULED_RUN_BUDGET);
    let report = run(st, budget).await.map_err(|e| {
        tracing::error!(error = %e, "scheduled dispatch failed");
        shared::lambda::Error::from(e.to_string())
    })?;
    tracing::info!(
        due = report.due,
        sent = report.sent,
        retried = report.retried,
        failed = report.failed,
        "scheduled dispatch run"
    );
    Ok(serde_json::to_value(report)?)
}
