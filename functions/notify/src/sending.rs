//! The send use case (notify-svc.md "Checks, in order"): for each recipient x channel,
//! suppression -> preference -> frequency cap -> quiet hours; the tenant's quota for
//! the whole request; then each delivery is stored and sent now (bounded) or left
//! `queued` / `scheduled` for the dispatcher. Used by `POST /send`; the design's send
//! queue (other services' sends, principal `system`) will call it too when it is built
//! with reports-svc's schedules.
//!
//! Rendering happens once per request before any check: its outcome does not depend on
//! the recipient (variables are per request), and doing it first means a template error
//! refuses the request before quota is reserved or anything is written — the order's
//! observable result (400/422, nothing sent) is the spec's.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shared::{
    access::{Feature, PlanTier},
    mail::Mail,
    store::{Item, Key, get_each},
    tenant::TenantId,
    tenant_status::Inactive,
};
use utoipa::ToSchema;

use crate::{
    channels::{ChannelError, PushMessage},
    domain::{
        Category, Channel, Delivery, Priority, Recipient, Status, TimelineEntry,
        delivery::Rendered, preferences::Preferences, quota::plan_caps,
    },
    error::{NotifyError, NotifyResult},
    repo::{
        self, counters, deliveries,
        deliveries::Change,
        preferences as saved_preferences,
        send_reads::{self, SendReads},
        suppressions::{self, Suppression},
    },
    state::NotifyState,
};

/// Who sends: the tenant (keys), the user (or `system`), the plan (quotas).
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    pub sub: String,
    pub plan: PlanTier,
}

/// What to send: already validated (routes/send.rs).
#[derive(Debug, Clone)]
pub struct SendCommand {
    pub channels: Vec<Channel>,
    pub recipients: Vec<Recipient>,
    pub content: Rendered,
    pub template: Option<(String, i64)>,
    pub locale: Option<String>,
    pub category: Category,
    pub priority: Priority,
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// One delivery's outcome in the 202 answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOutcome {
    #[schema(format = "uuid")]
    pub id: String,
    pub channel: Channel,
    pub recipient: Recipient,
    pub status: Status,
    /// Why it is not (yet) sent: `suppressed: hard_bounce`, `opted out`, `daily cap
    /// reached`, `quiet hours`, the provider's answer…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
}

/// `202` of `POST /send`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendOutcome {
    #[schema(format = "uuid")]
    pub send_id: String,
    pub deliveries: Vec<DeliveryOutcome>,
}

impl DeliveryOutcome {
    pub fn of(d: &Delivery) -> Self {
        DeliveryOutcome {
            id: d.id.clone(),
            channel: d.channel,
            recipient: d.recipient.clone(),
            status: d.status,
            detail: d.timeline.last().and_then(|e| e.detail.clone()),
            scheduled_at: d.scheduled_at.clone(),
        }
    }
}

/// A recipient x channel before it is stored: where the checks sent it.
struct Planned {
    recipient: Recipient,
    channel: Channel,
    status: Status,
    detail: Option<String>,
    due: Option<DateTime<Utc>>,
    /// The person a frequency cap is taken for (once per person per send).
    cap: Option<(String, u32)>,
    /// It alone holds its person's cap unit (see `Delivery::cap_at`).
    holds_cap: bool,
}

pub async fn send(st: &NotifyState, p: &Principal, cmd: SendCommand) -> NotifyResult<SendOutcome> {
    for ch in &cmd.channels {
        if !st.channels.is_configured(*ch) {
            return Err(NotifyError::ChannelNotConfigured(*ch));
        }
    }
    let now = st.now();
    let store = st.store();
    let t = &p.tenant;

    // 1-4: per recipient, from one batch read (caps are taken after the quota is
    // reserved) naming auth's table too: the tenant's status and that of the accounts
    // push and in-app messages would go to.
    // A message scheduled for another day counts toward that day's caps.
    let cap_day = cap_day(&cmd, now);
    let (reads, standing) = SendReads::read(
        store,
        &st.tenants,
        t,
        &cmd.recipients,
        &cmd.channels,
        cmd.category,
        cap_day,
    )
    .await?;
    if standing.tenant_suspended(t) {
        return Err(NotifyError::TenantSuspended);
    }
    // The plan the tenant pays for now, as auth's record says (the token's may be 15
    // minutes old: a downgrade must take effect on the next send).
    let tier = standing.plan(t).unwrap_or(p.plan);
    if cmd.channels.contains(&Channel::Sms) {
        Feature::Sms.check(tier)?;
    }
    let mut planned = Vec::new();
    for r in &cmd.recipients {
        let prefs = reads.preferences(r);
        let person = send_reads::person(r);
        for &ch in &cmd.channels {
            let mut plan = Planned {
                recipient: r.clone(),
                channel: ch,
                status: Status::Queued,
                detail: None,
                due: None,
                cap: None,
                holds_cap: false,
            };
            if let Some(why) = r.account(ch).and_then(|u| standing.inactive(t, u)) {
                // auth suspended or deleted the account: nothing goes to its devices or
                // inbox (email and SMS go to the address given, under suppressions).
                plan.status = Status::Skipped;
                plan.detail = Some(format!("account {}", why.as_str()));
            } else if let Some(s) = r.contact(ch).and_then(|c| reads.suppression(c)) {
                plan.status = Status::Suppressed;
                plan.detail = Some(format!("suppressed: {}", s.reason));
            } else if !prefs.allows(cmd.category, ch) {
                plan.status = Status::Skipped;
                plan.detail = Some("opted out".into());
            } else {
                if let (Some(cap), Some(person)) = (prefs.daily_cap(cmd.category), person) {
                    // Counted once per person per send, whatever the channels.
                    if reads.sent_today(person) >= i64::from(cap) {
                        plan.status = Status::Skipped;
                        plan.detail = Some("daily cap reached".into());
                    } else {
                        plan.cap = Some((person.to_owned(), cap));
                    }
                }
                if plan.status == Status::Queued {
                    let priority = r.priority.unwrap_or(cmd.priority);
                    let quiet = (priority != Priority::Critical)
                        .then(|| prefs.quiet_until(cmd.scheduled_at.unwrap_or(now)))
                        .flatten();
                    match (quiet, cmd.scheduled_at) {
                        (Some(end), _) => {
                            plan.status = Status::Scheduled;
                            plan.detail = Some("quiet hours".into());
                            plan.due = Some(end);
                        }
                        (None, Some(at)) if at > now => {
                            plan.status = Status::Scheduled;
                            plan.due = Some(at);
                        }
                        _ => plan.due = Some(now),
                    }
                }
            }
            planned.push(plan);
        }
    }

    let planned = one_per_contact(planned);

    // 5: the quota, for everything that will be sent, all or nothing.
    let quota = &reads.quota;
    let mut wanted: BTreeMap<Channel, (i64, crate::domain::quota::Caps)> = BTreeMap::new();
    for pl in planned
        .iter()
        .filter(|p| matches!(p.status, Status::Queued | Status::Scheduled))
    {
        let caps = quota.effective(pl.channel, plan_caps(tier, pl.channel));
        wanted.entry(pl.channel).or_insert((0, caps)).0 += 1;
    }
    counters::reserve(store, t, now, &wanted).await?;

    // From here on the quota is reserved: if storing fails, it is given back (best
    // effort) before the error answers, so a retry of the request is not counted twice.
    let ds = match store_deliveries(st, p, &cmd, planned, now, &mut wanted).await {
        Ok(ds) => ds,
        Err(e) => {
            for (&ch, &(n, _)) in &wanted {
                if let Err(re) = counters::release(store, t, ch, now, n).await {
                    tracing::warn!(error = %re, channel = ch.as_str(), "could not give back a quota reservation");
                }
            }
            return Err(e);
        }
    };

    let out_send_id = ds.first().map(|d| d.send_id.clone()).unwrap_or_default();
    // 7: send what is due now, within the request's budget; the rest stays queued.
    let budget = Duration::from_millis(st.cfg.send_budget_ms);
    let started = std::time::Instant::now();
    let mut out = Vec::with_capacity(ds.len());
    for d in ds {
        if d.status == Status::Queued && started.elapsed() < budget {
            // Stored deliveries are never lost to an error here: one that could not be
            // sent now stays queued for the dispatcher (and the request still answers 202,
            // so a retry with the same Idempotency-Key replays instead of sending again).
            let d = match attempt(st, &d).await {
                Ok(Some(updated)) => updated,
                Ok(None) => d,
                Err(e) => {
                    tracing::warn!(delivery = %d.id, error = %e, "send left to the dispatcher");
                    d
                }
            };
            out.push(DeliveryOutcome::of(&d));
        } else {
            out.push(DeliveryOutcome::of(&d));
        }
    }
    Ok(SendOutcome {
        send_id: out_send_id,
        deliveries: out,
    })
}

/// Where a delivery of `channel` to `r` goes: the address, the number, or the user.
fn destination(r: &Recipient, channel: Channel) -> Option<&str> {
    match channel {
        Channel::Email | Channel::Sms => r.contact(channel),
        Channel::Push | Channel::InApp => r.account(channel),
    }
}

/// One message per channel and destination: recipients that differ only in what else
/// they carry (`{email}` and `{email, userId}`, one `userId` with two addresses over
/// push) would otherwise get it twice, and a frequency cap, taken once per person per
/// send, would let every copy through. Of two entries for one destination, one with a
/// `userId` wins, so that the person's preferences and cap decide; else the first.
fn one_per_contact(planned: Vec<Planned>) -> Vec<Planned> {
    let mut out: Vec<Planned> = Vec::with_capacity(planned.len());
    let mut at: HashMap<(Channel, String), usize> = HashMap::new();
    for pl in planned {
        let Some(to) = destination(&pl.recipient, pl.channel).map(str::to_owned) else {
            out.push(pl);
            continue;
        };
        match at.get(&(pl.channel, to.clone())) {
            Some(&i) => {
                if out[i].recipient.user_id.is_none() && pl.recipient.user_id.is_some() {
                    out[i] = pl;
                }
            }
            None => {
                at.insert((pl.channel, to), out.len());
                out.push(pl);
            }
        }
    }
    out
}

/// The day a send's frequency caps are counted on: the day it is scheduled for, else
/// today. (Quiet hours that hold a message past midnight still count it on the day it
/// was asked for.)
fn cap_day(cmd: &SendCommand, now: DateTime<Utc>) -> DateTime<Utc> {
    cmd.scheduled_at.filter(|at| *at > now).unwrap_or(now)
}

/// Takes the frequency caps and stores every delivery with its outcome so far.
async fn store_deliveries(
    st: &NotifyState,
    p: &Principal,
    cmd: &SendCommand,
    mut planned: Vec<Planned>,
    now: DateTime<Utc>,
    reserved: &mut BTreeMap<Channel, (i64, crate::domain::quota::Caps)>,
) -> NotifyResult<Vec<Delivery>> {
    let store = st.store();
    let t = &p.tenant;
    // Frequency caps, now that the send will happen: a cap a concurrent send took
    // meanwhile skips that person (and gives their quota back).
    let day = cap_day(cmd, now);
    let mut taken: BTreeMap<String, bool> = BTreeMap::new();
    for pl in planned.iter_mut() {
        let Some((person, cap)) = pl.cap.clone() else {
            continue;
        };
        let ok = match taken.get(&person) {
            Some(ok) => *ok,
            None => {
                let ok = counters::take_cap(store, t, &person, cmd.category, cap, day).await?;
                taken.insert(person.clone(), ok);
                ok
            }
        };
        if !ok {
            // Given back now, so no longer the send's to give back if it fails later.
            counters::release(store, t, pl.channel, now, 1).await?;
            if let Some((n, _)) = reserved.get_mut(&pl.channel) {
                *n -= 1;
            }
            pl.status = Status::Skipped;
            pl.detail = Some("daily cap reached".into());
            pl.due = None;
        }
    }

    // A person with one delivery under a cap: that delivery alone holds the unit, and
    // gives it back if it ends unsent. With several (channels), none does: the others may
    // still go out.
    let mut under_cap: BTreeMap<String, usize> = BTreeMap::new();
    for pl in planned
        .iter()
        .filter(|pl| pl.cap.is_some() && pl.status != Status::Skipped)
    {
        if let Some((person, _)) = &pl.cap {
            *under_cap.entry(person.clone()).or_default() += 1;
        }
    }
    for pl in planned.iter_mut() {
        pl.holds_cap = pl.status != Status::Skipped
            && pl
                .cap
                .as_ref()
                .is_some_and(|(person, _)| under_cap[person] == 1);
    }
    let cap_at = shared::clock::rfc3339_millis(day);

    // Store every delivery with its outcome so far.
    let held_until = now.timestamp() + SEND_HOLD_SECS;
    let send_id = shared::ids::id_at(now).to_string();
    let at = shared::clock::rfc3339_millis(now);
    let mut ds: Vec<Delivery> = planned
        .into_iter()
        .map(|pl| {
            let mut timeline = vec![TimelineEntry {
                status: Status::Queued,
                at: at.clone(),
                detail: None,
            }];
            if pl.status != Status::Queued {
                timeline.push(TimelineEntry {
                    status: pl.status,
                    at: at.clone(),
                    detail: pl.detail.clone(),
                });
            }
            Delivery {
                id: shared::ids::id_at(now).to_string(),
                tenant_id: t.to_string(),
                send_id: send_id.clone(),
                channel: pl.channel,
                category: cmd.category,
                priority: pl.recipient.priority.unwrap_or(cmd.priority),
                status: pl.status,
                recipient: pl.recipient,
                created_by: p.sub.clone(),
                created_at: at.clone(),
                updated_at: at.clone(),
                template_id: cmd.template.as_ref().map(|(id, _)| id.clone()),
                template_version: cmd.template.as_ref().map(|(_, v)| *v),
                locale: cmd.locale.clone(),
                content: cmd.content.clone(),
                scheduled_at: (pl.status == Status::Scheduled)
                    .then(|| pl.due.map(shared::clock::rfc3339_millis))
                    .flatten(),
                attempts: 0,
                next_attempt_at: pl.due.map(|d| d.timestamp().max(held_until)),
                lease_until: None,
                provider_message_id: None,
                last_error: None,
                timeline,
                rev: 0,
                due_sk: None,
                cap_at: pl.holds_cap.then(|| cap_at.clone()),
                inbox_at: None,
            }
        })
        .collect();
    deliveries::create_all(store, now, &mut ds).await?;
    Ok(ds)
}

/// How long the dispatcher leaves a new send's deliveries to the request that stores
/// them: longer than any caller of [`send`] runs. Today that is `POST /send`, whose
/// function times out at 10 s (a drift test holds template.yaml to 5 s under this); a
/// caller in a longer-running function (the send queue, when built) needs a longer hold,
/// or one taken from its invocation's deadline. A send stores its deliveries in several transactions when it has many, and
/// cancels those stored if a later one fails; were they due at once, a dispatcher run in
/// between could send them while the caller, answered the error, sends again. One the
/// request leaves queued (its send budget spent, or its process gone) goes out on the
/// first run after the hold; a scheduled one due sooner, up to this much later.
pub const SEND_HOLD_SECS: i64 = 30;

/// Claims a queued (or due scheduled) delivery and sends it. None: another sender or
/// dispatcher claimed it first. Provider failures are recorded on the delivery: a
/// retryable one re-queues it with backoff (until `max_attempts`: `failed`), a
/// rejection fails it.
pub async fn attempt(st: &NotifyState, d: &Delivery) -> NotifyResult<Option<Delivery>> {
    let keys = recheck_keys(d);
    let items = get_each(st.store(), &keys).await?;
    let found: HashMap<&Key, &Item> = keys
        .iter()
        .zip(&items)
        .filter_map(|(k, i)| Some((k, i.as_ref()?)))
        .collect();
    let recheck = Recheck::from_items(d, |k| found.get(k).copied())?;
    attempt_checked(st, d, &recheck).await
}

/// A delivery due again — scheduled, or queued again after a failed attempt — since its
/// send. Not one `sending` whose claim lapsed: it may have gone out already, and no
/// check can stop it (`sending` moves only to an outcome), so it is claimed again.
fn due_again(d: &Delivery) -> bool {
    match d.status {
        Status::Scheduled => true,
        Status::Queued => d.attempts > 0,
        _ => false,
    }
}

/// What a delivery due again is checked against once more, as they are now: a contact
/// suppressed since the send (a bounce, a complaint, an admin) is not sent to, and a
/// person who opted out of the category since (a scheduled campaign may be 30 days old:
/// an unsubscribe must hold) is skipped. A first attempt was checked by its send.
#[derive(Debug, Default)]
pub struct Recheck {
    pub suppression: Option<Suppression>,
    /// The preferences in force for the recipient; None: not checked again (a first
    /// attempt, or a category nobody opts out of).
    pub preferences: Option<Preferences>,
    /// The platform suspended the delivery's tenant since the send (the dispatcher reads
    /// auth's records for every delivery it handles, first attempts too).
    pub tenant_suspended: bool,
    /// auth suspended or deleted the account a push or in-app delivery goes to since
    /// the send (read as `tenant_suspended` is).
    pub account: Option<Inactive>,
    /// The tenant's plan no longer includes the delivery's channel (SMS after a
    /// downgrade to a free plan).
    pub channel_not_in_plan: bool,
}

/// The items [`Recheck::from_items`] reads for `d`: its contact's suppression and, for
/// a category people may opt out of, the recipient's own preferences and the tenant's
/// defaults. None for a first attempt.
pub fn recheck_keys(d: &Delivery) -> Vec<Key> {
    let Ok(t) = TenantId::parse(&d.tenant_id) else {
        return Vec::new();
    };
    if !due_again(d) {
        return Vec::new();
    }
    let mut keys: Vec<Key> = d
        .contact()
        .map(|c| repo::suppression(&t, c))
        .into_iter()
        .collect();
    if !d.category.is_essential() {
        if let Some(u) = &d.recipient.user_id {
            keys.push(saved_preferences::own_key(&t, u));
        }
        keys.push(saved_preferences::defaults_key(&t));
    }
    keys
}

impl Recheck {
    /// The recheck of `d` from the items of [`recheck_keys`] (`found`: the item read
    /// for a key, None when there is none).
    pub fn from_items<'a>(
        d: &Delivery,
        found: impl Fn(&Key) -> Option<&'a Item>,
    ) -> NotifyResult<Self> {
        let (Ok(t), true) = (TenantId::parse(&d.tenant_id), due_again(d)) else {
            return Ok(Recheck::default());
        };
        let suppression = d
            .contact()
            .and_then(|c| found(&repo::suppression(&t, c)))
            .map(suppressions::parse)
            .transpose()?;
        let preferences = if d.category.is_essential() {
            None
        } else {
            // The person's own, else the tenant's defaults, else the built-in ones: as at
            // the send (repo::send_reads).
            let own = d
                .recipient
                .user_id
                .as_deref()
                .and_then(|u| found(&saved_preferences::own_key(&t, u)));
            let saved = own
                .or_else(|| found(&saved_preferences::defaults_key(&t)))
                .map(saved_preferences::parse)
                .transpose()?;
            Some(saved.map(|s| s.preferences).unwrap_or_default())
        };
        Ok(Recheck {
            suppression,
            preferences,
            ..Recheck::default()
        })
    }
}

/// [`attempt`] with its [`Recheck`] already read (the dispatcher reads those of a whole
/// batch at once). A delivery that never reached a provider — stopped by the recheck
/// before any attempt, or a first attempt with nobody to send to — gives its quota unit
/// back once its change is written ([`deliveries::give_quota_back`]).
pub async fn attempt_checked(
    st: &NotifyState,
    d: &Delivery,
    recheck: &Recheck,
) -> NotifyResult<Option<Delivery>> {
    let store = st.store();
    let now = st.now();
    let by_platform = if recheck.tenant_suspended {
        Some("tenant suspended".to_owned())
    } else if recheck.channel_not_in_plan {
        Some(format!("the plan does not include {}", d.channel.as_str()))
    } else {
        recheck
            .account
            .map(|why| format!("account {}", why.as_str()))
    };
    let stopped = match (by_platform, &recheck.suppression, &recheck.preferences) {
        // A claim abandoned mid-send can only fail; anything still waiting is cancelled.
        (Some(detail), ..) => Some((
            if d.status == Status::Sending {
                Status::Failed
            } else {
                Status::Cancelled
            },
            detail,
        )),
        (None, Some(s), _) => Some((Status::Suppressed, format!("suppressed: {}", s.reason))),
        (None, None, Some(p)) if !p.allows(d.category, d.channel) => {
            Some((Status::Skipped, "opted out".to_owned()))
        }
        _ => None,
    };
    if let Some((status, detail)) = stopped {
        let moved = deliveries::transition(store, now, d, status, Some(detail)).await?;
        if moved.is_some() && d.attempts == 0 {
            deliveries::give_quota_back(store, d).await;
        }
        return Ok(moved);
    }
    let lease = now.timestamp() + LEASE_SECS;
    // The claim keeps a due entry at the lease's end: if this process dies mid-send,
    // the dispatcher picks the delivery up again then.
    let claim = deliveries::apply(
        store,
        now,
        d,
        Status::Sending,
        Change {
            due_at: Some(lease),
            lease_until: Some(lease),
            attempts: Some(d.attempts + 1),
            // A delayed in-app message sorts in the inbox where it arrives: now.
            inbox_at: (d.channel == Channel::InApp && d.scheduled_at.is_some())
                .then(|| now.timestamp_millis()),
            ..Change::default()
        },
    )
    .await;
    let claimed = match claim {
        Ok(Some(claimed)) => claimed,
        // Someone else claimed it first — on DynamoDB a claim racing another can also be
        // cancelled as a transaction conflict, which is the same outcome.
        Ok(None) => return Ok(None),
        Err(NotifyError::Store(e)) if e.is_transient() => return Ok(None),
        Err(e) => return Err(e),
    };
    let result = deliver(st, &claimed).await;
    let now = st.now();
    let next = match result {
        Ok(Outcome::Sent(message_id)) => {
            deliveries::record_sent(
                store,
                now,
                &claimed,
                Status::Sent,
                Change {
                    provider_message_id: message_id,
                    ..Change::default()
                },
            )
            .await?
        }
        Ok(Outcome::Delivered) => {
            deliveries::record_sent(store, now, &claimed, Status::Delivered, Change::default())
                .await?
        }
        // Nobody to send to (a user without devices): on a first attempt, no provider
        // was ever called.
        Ok(Outcome::NoTarget(why)) => {
            let failed = fail(store, now, &claimed, why).await?;
            if failed.is_some() && claimed.attempts <= 1 {
                deliveries::give_quota_back(store, &claimed).await;
            }
            failed
        }
        Err(e) => {
            let why = e.to_string();
            if let Ok(tenant) = TenantId::parse(&claimed.tenant_id) {
                crate::routes::admin::providers::record_error(
                    store,
                    &tenant,
                    claimed.channel,
                    &e,
                    now,
                )
                .await;
            }
            if e.is_retryable() && claimed.attempts < st.cfg.max_attempts {
                let wait = backoff(st.cfg.retry_base_secs, claimed.attempts);
                deliveries::apply(
                    store,
                    now,
                    &claimed,
                    Status::Queued,
                    Change {
                        detail: Some(format!(
                            "attempt {} failed: {why}; retry in {wait} s",
                            claimed.attempts
                        )),
                        due_at: Some(now.timestamp() + wait),
                        last_error: Some(why),
                        ..Change::default()
                    },
                )
                .await?
            } else {
                tracing::warn!(delivery = %claimed.id, channel = claimed.channel.as_str(), attempts = claimed.attempts, error = %why, "delivery failed");
                fail(store, now, &claimed, why).await?
            }
        }
    };
    Ok(Some(next.unwrap_or(claimed)))
}

/// Ends a claimed delivery `failed`, recording why.
async fn fail(
    store: &dyn shared::store::Store,
    now: DateTime<Utc>,
    claimed: &Delivery,
    why: String,
) -> NotifyResult<Option<Delivery>> {
    let change = Change {
        detail: Some(why.clone()),
        last_error: Some(why),
        ..Change::default()
    };
    deliveries::apply(store, now, claimed, Status::Failed, change).await
}

/// How long a claim holds before another dispatcher may take the delivery over.
pub const LEASE_SECS: i64 = 120;

/// Exponential backoff: base x 2^(attempt-1), capped at 6 hours.
pub fn backoff(base_secs: i64, attempt: u32) -> i64 {
    let factor = 1i64 << attempt.saturating_sub(1).min(16);
    (base_secs.saturating_mul(factor)).min(6 * 3600)
}

enum Outcome {
    Sent(Option<String>),
    Delivered,
    NoTarget(String),
}

async fn deliver(st: &NotifyState, d: &Delivery) -> Result<Outcome, ChannelError> {
    let missing = |what: &str| ChannelError::Rejected(format!("the recipient has no {what}"));
    match d.channel {
        Channel::Email => {
            let mailer = st
                .channels
                .email
                .as_ref()
                .ok_or_else(|| ChannelError::Rejected("email is not configured".into()))?;
            let to = d.recipient.email.clone().ok_or_else(|| missing("email"))?;
            let mail = Mail {
                to: vec![to],
                subject: d.content.subject.clone().unwrap_or_default(),
                // Without a text part of its own, the HTML's text (never the subject
                // alone: readers that show text/plain would see nothing else).
                text: d.content.plain(),
                html: d.content.html.clone(),
            };
            Ok(Outcome::Sent(Some(mailer.send(&mail).await?)))
        }
        Channel::Sms => {
            let sms = st
                .channels
                .sms
                .as_ref()
                .ok_or_else(|| ChannelError::Rejected("sms is not configured".into()))?;
            let to = d
                .recipient
                .phone
                .as_deref()
                .ok_or_else(|| missing("phone"))?;
            Ok(Outcome::Sent(Some(sms.send(to, &d.content.short()).await?)))
        }
        Channel::Push => {
            let push = st
                .channels
                .push
                .as_ref()
                .ok_or_else(|| ChannelError::Rejected("push is not configured".into()))?;
            let user = d
                .recipient
                .user_id
                .as_deref()
                .ok_or_else(|| missing("userId"))?;
            let tenant =
                TenantId::parse(&d.tenant_id).map_err(|e| ChannelError::Rejected(e.to_string()))?;
            let devices = repo::devices::list(st.store(), &tenant, user)
                .await
                .map_err(|e| ChannelError::Unavailable(e.to_string()))?;
            if devices.is_empty() {
                return Ok(Outcome::NoTarget("no registered devices".into()));
            }
            let msg = PushMessage {
                title: d.content.subject.clone().unwrap_or_default(),
                body: d.content.short(),
            };
            // Sent when at least one device took it; the first id identifies the send.
            let mut first = None;
            let mut last_err = None;
            for dev in &devices {
                match push.send(&dev.endpoint, &msg).await {
                    Ok(id) => {
                        first.get_or_insert(id);
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            match (first, last_err) {
                (Some(id), _) => Ok(Outcome::Sent(Some(id))),
                (None, Some(e)) => Err(e),
                (None, None) => Ok(Outcome::NoTarget("no registered devices".into())),
            }
        }
        Channel::InApp => {
            let tenant =
                TenantId::parse(&d.tenant_id).map_err(|e| ChannelError::Rejected(e.to_string()))?;
            let now = shared::clock::rfc3339_millis(st.now());
            repo::inbox::deliver(st.store(), &tenant, d, &now)
                .await
                .map_err(|e| ChannelError::Unavailable(e.to_string()))?;
            Ok(Outcome::Delivered)
        }
    }
}

/// Helper for routes: variables must be a JSON object (or absent).
pub fn variables_object(v: Option<Value>) -> NotifyResult<Value> {
    match v {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(shared::FieldError::new("variables", "must be an object").into()),
    }
}
