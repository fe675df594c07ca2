//! The dispatcher: sends `scheduled` deliveries when due and retries `queued` ones
//! (backoff in sending.rs), run every minute by `POST /jobs/dispatch` (EventBridge in
//! AWS). Each delivery is claimed by a conditional update before it is sent, so two
//! dispatchers (or a dispatcher and a send request) never send it twice.

use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::Status,
    error::NotifyResult,
    repo::deliveries::{self, DUE_SHARDS},
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
    /// Could not be handled (a store error); left due for the next run.
    pub errors: u32,
}

/// Entries read per shard per pass.
const BATCH: u32 = 50;

/// One run: every due entry of every shard, until `budget` is spent.
pub async fn run(st: &NotifyState, budget: Duration) -> NotifyResult<Report> {
    let started = Instant::now();
    let mut report = Report::default();
    for shard in 0..DUE_SHARDS {
        loop {
            let now = st.epoch();
            let due = deliveries::due(st.store(), shard, now, BATCH).await?;
            let full = due.len() == BATCH as usize;
            let mut progressed = false;
            for entry in due {
                if started.elapsed() >= budget {
                    return Ok(report);
                }
                report.due += 1;
                // One unreadable record or one failed write must not stop the run: it
                // is logged, counted, and its entry stays due for the next run.
                match one(st, &entry, now, &mut report).await {
                    Ok(p) => progressed |= p,
                    Err(e) => {
                        tracing::warn!(delivery = %entry.delivery_id, error = %e, "dispatch of one delivery failed");
                        report.errors += 1;
                    }
                }
            }
            if !full || !progressed {
                break;
            }
        }
    }
    Ok(report)
}

/// Handles one due entry; true when it moved a delivery on.
async fn one(
    st: &NotifyState,
    entry: &deliveries::Due,
    now: i64,
    report: &mut Report,
) -> NotifyResult<bool> {
    let Some(d) = deliveries::get(st.store(), &entry.tenant, &entry.delivery_id).await? else {
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
    let Some(after) = sending::attempt(st, &d).await? else {
        report.skipped += 1;
        return Ok(false);
    };
    match after.status {
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
