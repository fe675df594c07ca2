//! Atomic counters: quota usage per channel per day/month, frequency caps per person
//! per category per day, and the metrics buckets (written by repo::deliveries, read
//! here). All are `ADD` updates; reservations are conditional on the limit.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use shared::{
    store::{Condition, Item, Key, Put, Query, SortKey, Store, TransactOp, Update, Value},
    tenant::TenantId,
    tenant_status::{Standing, TenantRecords},
};

use crate::{
    domain::{Category, Channel, quota::Caps},
    error::{NotifyError, NotifyResult},
};

/// The UTC day of every day bucket (`YYYY-MM-DD`).
pub fn day(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}
fn month(now: DateTime<Utc>) -> String {
    now.format("%Y-%m").to_string()
}
fn daily_key(t: &TenantId, ch: Channel, now: DateTime<Utc>) -> Key {
    Key::tenant(t, &["QUOTA"], format!("D#{}#{}", day(now), ch.as_str()))
}
fn monthly_key(t: &TenantId, ch: Channel, now: DateTime<Utc>) -> Key {
    Key::tenant(t, &["QUOTA"], format!("M#{}#{}", month(now), ch.as_str()))
}

/// Seconds from `now` until the `daily` or `monthly` counter's period ends (UTC).
fn resets_in(period: &str, now: DateTime<Utc>) -> u64 {
    let today = now.date_naive();
    let next = if period == "daily" {
        today.succ_opt()
    } else {
        today
            .with_day(1)
            .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
    };
    next.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(86_400, |at| {
            (at.and_utc() - now).num_seconds().max(1) as u64
        })
}

/// Counters are kept a little past their period (TTL), for the admin route and audits.
fn expiry(now: DateTime<Utc>, days: i64) -> i64 {
    now.timestamp() + days * 86_400
}

/// The admin's own caps (never above the plan's), per channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSettings {
    #[serde(default)]
    pub channels: BTreeMap<Channel, LoweredCaps>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoweredCaps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<i64>,
}

impl QuotaSettings {
    /// The caps in force: the plan's, lowered by the admin's.
    pub fn effective(&self, channel: Channel, plan: Caps) -> Caps {
        let own = self.channels.get(&channel).copied().unwrap_or_default();
        Caps {
            daily: own.daily.map_or(plan.daily, |d| d.min(plan.daily)),
            monthly: own.monthly.map_or(plan.monthly, |m| m.min(plan.monthly)),
        }
    }
}

/// Where the admin's quota settings are kept.
pub fn settings_key(t: &TenantId) -> Key {
    super::settings(t, "QUOTAS")
}

/// The quota settings as read (none saved: the plan's caps alone).
pub fn parse_settings(item: Option<&Item>) -> NotifyResult<QuotaSettings> {
    item.map_or_else(
        || Ok(QuotaSettings::default()),
        |i| super::record(i, "quota settings"),
    )
}

pub async fn settings(store: &dyn Store, t: &TenantId) -> NotifyResult<QuotaSettings> {
    parse_settings(store.get(&settings_key(t)).await?.as_ref())
}

pub async fn put_settings(store: &dyn Store, t: &TenantId, s: &QuotaSettings) -> NotifyResult<()> {
    let item = super::item(&settings_key(t), s, "quota settings")?;
    store.put(Put::new(item)).await?;
    Ok(())
}

/// Today's and this month's usage of `channel`.
pub async fn usage(
    store: &dyn Store,
    t: &TenantId,
    channel: Channel,
    now: DateTime<Utc>,
) -> NotifyResult<(i64, i64)> {
    let read = |k: Key| async move { Ok::<_, NotifyError>(used(store.get(&k).await?.as_ref())) };
    Ok((
        read(daily_key(t, channel, now)).await?,
        read(monthly_key(t, channel, now)).await?,
    ))
}

/// Every channel's usage today and this month.
pub type Usage = Vec<(Channel, i64, i64)>;

/// The stored quota settings item (parsed by [`parse_settings`] where they are shown: a
/// PUT replaces them unread) and every channel's usage today and this month (all known
/// keys), and, in the same request, from auth's table (`records`), the tenant's
/// standing: the plan it pays for now (the admin quotas view).
pub async fn settings_and_usage(
    store: &dyn Store,
    records: &TenantRecords,
    t: &TenantId,
    now: DateTime<Utc>,
) -> NotifyResult<(Option<Item>, Usage, Standing)> {
    let mut keys: Vec<Key> = Channel::ALL
        .iter()
        .flat_map(|&ch| [daily_key(t, ch, now), monthly_key(t, ch, now)])
        .collect();
    keys.push(settings_key(t));
    let (mut items, standing) = records
        .standing_beside(store, &keys, std::slice::from_ref(t), &[])
        .await?;
    let settings = items.pop().flatten();
    let usage = Channel::ALL
        .iter()
        .zip(items.chunks(2))
        .map(|(&ch, dm)| (ch, used(dm[0].as_ref()), used(dm[1].as_ref())))
        .collect();
    Ok((settings, usage, standing))
}

/// A usage counter's count (0 before its first send).
fn used(counter: Option<&Item>) -> i64 {
    counter.and_then(|i| i.get_i64("used")).unwrap_or(0)
}

/// Reserves `wanted[channel]` sends against each channel's caps, all or nothing.
/// Refused: `QuotaExceeded` naming the first channel and period over.
///
/// One conditional `ADD` per counter (a channel's day and month), sent together, not a
/// transaction: every send of a tenant reserves on the same two items, and DynamoDB
/// cancels transactions that write one item at once, while single-item updates of it
/// simply take turns. When one is refused, those taken are given back: a concurrent send
/// near the cap may then be refused too (never more than the cap is sent).
pub async fn reserve(
    store: &dyn Store,
    t: &TenantId,
    now: DateTime<Utc>,
    wanted: &BTreeMap<Channel, (i64, Caps)>,
) -> NotifyResult<()> {
    let mut takes = Vec::new();
    for (&ch, &(n, caps)) in wanted {
        if n <= 0 {
            continue;
        }
        for (key, limit, period, ttl) in [
            (daily_key(t, ch, now), caps.daily, "daily", 3),
            (monthly_key(t, ch, now), caps.monthly, "monthly", 62),
        ] {
            if n > limit {
                // Over the whole limit on its own: no wait helps. `used` is still the
                // period's own count, as the quotas view shows it.
                let (d, m) = usage(store, t, ch, now).await?;
                return Err(NotifyError::QuotaExceeded {
                    channel: ch,
                    period,
                    limit,
                    used: if period == "daily" { d } else { m },
                    requested: n,
                    retry_after: None,
                });
            }
            let take = Update::new(key.clone())
                .add("used", n)
                .set("expires_at", expiry(now, ttl))
                .when(Condition::not_exists("used").or(Condition::le("used", Value::n(limit - n))));
            takes.push((take, key, ch, period, limit, n));
        }
    }
    let sent = join_all(takes.iter().map(|(take, ..)| store.update(take.clone()))).await;
    let mut over = None;
    let mut failed = None;
    let mut taken = Vec::new();
    for ((_, key, ch, period, limit, n), result) in takes.into_iter().zip(sent) {
        match result {
            Ok(_) => taken.push((key, n)),
            Err(e) if e.is_condition_failed() => {
                over.get_or_insert((ch, period, limit, n));
            }
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if over.is_none() && failed.is_none() {
        return Ok(());
    }
    give_back(store, taken).await;
    if let Some((channel, period, limit, requested)) = over {
        let (d, m) = usage(store, t, channel, now).await?;
        let used = if period == "daily" { d } else { m };
        return Err(NotifyError::QuotaExceeded {
            channel,
            period,
            limit,
            used,
            requested,
            retry_after: Some(resets_in(period, now)),
        });
    }
    Err(failed.map_or_else(
        || NotifyError::Internal("a quota reservation failed".into()),
        NotifyError::from,
    ))
}

/// Takes `n` back off each counter, together; best effort (a unit not given back makes
/// the tenant's quota end that much early), a failure is logged.
async fn give_back(store: &dyn Store, counters: Vec<(Key, i64)>) {
    let back = counters
        .into_iter()
        .map(|(key, n)| store.update(Update::new(key).add("used", -n)));
    for result in join_all(back).await {
        if let Err(e) = result {
            tracing::warn!(error = %e, "a reserved quota unit was not given back");
        }
    }
}

/// Gives back `n` reserved sends of `channel` (a recipient dropped after reserving): its
/// day's and its month's counters, updated together.
pub async fn release(
    store: &dyn Store,
    t: &TenantId,
    channel: Channel,
    now: DateTime<Utc>,
    n: i64,
) -> NotifyResult<()> {
    if n <= 0 {
        return Ok(());
    }
    let back = release_ops(t, channel, now, n)
        .into_iter()
        .filter_map(|op| match op {
            TransactOp::Update(u) => Some(store.update(u)),
            _ => None,
        });
    for result in join_all(back).await {
        result?;
    }
    Ok(())
}

/// The two updates that give back `n` sends of `channel` reserved at `at` (its day's and
/// its month's counters), for the caller's transaction (or sent alone by [`release`]).
pub fn release_ops(t: &TenantId, channel: Channel, at: DateTime<Utc>, n: i64) -> Vec<TransactOp> {
    // A counter its TTL already removed (a delivery cancelled days later) comes back as
    // a negative count: it gets the expiry it had, so it does not stay forever.
    let give_back = |key: Key, ttl| {
        TransactOp::Update(
            Update::new(key)
                .add("used", -n)
                .set_if_absent("expires_at", expiry(at, ttl)),
        )
    };
    vec![
        give_back(daily_key(t, channel, at), 3),
        give_back(monthly_key(t, channel, at), 62),
    ]
}

/// Where `person`'s count of `category` messages today is kept.
pub fn cap_key(t: &TenantId, person: &str, category: Category, now: DateTime<Utc>) -> Key {
    Key::tenant(
        t,
        &["CAP", person],
        format!("{}#{}", day(now), category.as_str()),
    )
}

/// How many messages a day counter read by [`cap_key`] says were sent (0: none yet).
pub fn cap_sent(counter: Option<&Item>) -> i64 {
    counter.and_then(|i| i.get_i64("n")).unwrap_or(0)
}

/// Counts one more `category` message to `person` on `day`'s date (the day it is sent,
/// or scheduled for) if that stays within `cap`. False: the cap is reached (a concurrent
/// send took the last one).
pub async fn take_cap(
    store: &dyn Store,
    t: &TenantId,
    person: &str,
    category: Category,
    cap: u32,
    day: DateTime<Utc>,
) -> NotifyResult<bool> {
    let update = Update::new(cap_key(t, person, category, day))
        .add("n", 1)
        .set("expires_at", expiry(day, 2))
        .when(Condition::not_exists("n").or(Condition::lt("n", i64::from(cap))));
    match store.update(update).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The update that gives back one `category` message counted for `person` on `at`'s
/// day (its delivery ended unsent). Unconditional, as a quota unit's give-back: a counter
/// its TTL removed (a past day) comes back negative with the expiry it had.
pub fn cap_back(t: &TenantId, person: &str, category: Category, at: DateTime<Utc>) -> Update {
    Update::new(cap_key(t, person, category, at))
        .add("n", -1)
        .set_if_absent("expires_at", expiry(at, 2))
}

/// The metrics of a tenant (`user` None) or of one user: one partition, a counter per
/// day x channel x status (`<yyyy-mm-dd>#<channel>#<status>`), so a range of days is one
/// query. Writes land on today's counters, as they would on a partition per day.
fn metrics_pk(t: &TenantId, user: Option<&str>) -> String {
    match user {
        Some(u) => shared::store::tenant_pk(t, &["U", u, "MET"]),
        None => shared::store::tenant_pk(t, &["MET"]),
    }
}

/// Deletes `user_id`'s own metrics (erasing the person); the tenant's keep counting them.
pub async fn erase_user_metrics(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
) -> NotifyResult<usize> {
    super::delete_partition(store, metrics_pk(t, Some(user_id))).await
}

/// The counters a delivery reaching `status` at `now` adds one to (repo::deliveries
/// writes them in the same transaction as the transition, so each is counted exactly
/// once): the tenant's day and, for a `userId` recipient, that user's day. These are the
/// counters' names; [`metric_update`] writes one of each counter's shards.
pub fn metric_keys(
    t: &TenantId,
    d: &crate::domain::Delivery,
    status: crate::domain::Status,
    now: DateTime<Utc>,
) -> Vec<Key> {
    let sk = format!("{}#{}#{}", day(now), d.channel.as_str(), status.as_str());
    std::iter::once(None)
        .chain(d.recipient.user_id.as_deref().map(Some))
        .map(|user| Key {
            pk: metrics_pk(t, user),
            sk: sk.clone(),
        })
        .collect()
}

/// Every metrics counter is split over this many items, which [`metrics`] adds up. Every
/// delivery's change adds to its tenant's counter of the day in the change's transaction,
/// and DynamoDB cancels a transaction that writes an item another transaction is writing
/// (`TransactionConflict`): on one item, a busy tenant's concurrent changes cancel each
/// other faster than the store's retries get them through. Spread over 16, two changes
/// meet one time in 16, and the retries absorb that.
pub const METRIC_SHARDS: u32 = 16;

/// The shard a write chooses by `by` (a delivery id: stable, so a test sees the same
/// items every run, and spread, since ids differ in their random bits).
fn metric_shard(by: &str) -> u32 {
    // FNV-1a: every byte moves the result, the random tail of a UUIDv7 included.
    let h = by.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h % METRIC_SHARDS
}

/// Adds `n` to the metrics counter `key` (from [`metric_keys`]), on the shard that `by`
/// (the id of a delivery it counts) chooses. The writes of one transaction share a shard.
pub fn metric_update(key: Key, n: i64, by: &str) -> TransactOp {
    let sk = format!("{}#{:02}", key.sk, metric_shard(by));
    TransactOp::Update(Update::new(Key { pk: key.pk, sk }).add("n", n))
}

/// One counter of [`metrics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: String,
    pub channel: String,
    pub status: String,
    pub n: i64,
}

/// The counters of days `from` to `to` (`YYYY-MM-DD`, both included), by day, then
/// channel, then status, each the sum of its shards (and of the one item a counter was
/// before it had shards). `user` None: the tenant's. One query (a week of every channel
/// and status at 16 shards is ~3,600 small items, a page; a longer answer reads on).
pub async fn metrics(
    store: &dyn Store,
    t: &TenantId,
    user: Option<&str>,
    from: &str,
    to: &str,
) -> NotifyResult<Vec<DayCount>> {
    // `~` sorts after every `#<channel>#<status>#<shard>` of the last day.
    let range = SortKey::Between(format!("{from}#"), format!("{to}#~"));
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut start = None;
    loop {
        let q = Query::partition(metrics_pk(t, user))
            .sk(range.clone())
            .resume(start.take());
        let page = store.query(q).await?;
        for item in &page.items {
            let Some(key) = item.key() else { continue };
            // `<day>#<channel>#<status>`, then `#<shard>` (absent on a counter written
            // before counters had shards).
            let mut parts = key.sk.splitn(4, '#');
            let (Some(day), Some(channel), Some(status)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            *sums
                .entry((day.to_owned(), channel.to_owned(), status.to_owned()))
                .or_default() += item.get_i64("n").unwrap_or(0);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    Ok(sums
        .into_iter()
        .map(|((day, channel, status), n)| DayCount {
            day,
            channel,
            status,
            n,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_resets_at_the_next_utc_day_or_month() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(resets_in("daily", at("2026-12-04T23:59:30Z")), 30);
        assert_eq!(resets_in("daily", at("2026-12-04T00:00:00Z")), 86_400);
        assert_eq!(resets_in("monthly", at("2026-12-31T23:00:00Z")), 3_600);
        assert_eq!(resets_in("monthly", at("2027-02-28T00:00:00Z")), 86_400);
    }

    #[test]
    fn the_changes_of_different_deliveries_write_different_shards_of_a_counter() {
        let key = Key::global("T#x#MET", "2026-12-04#email#sent");
        let written = |id: &str| match metric_update(key.clone(), 1, id) {
            TransactOp::Update(u) => u.key,
            other => panic!("not an update: {other:?}"),
        };
        // UUIDv7s of one millisecond: only their last bits differ.
        let ids: Vec<String> = (0..64)
            .map(|i| format!("0193a5e0-7c00-7000-8000-{:012x}", i * 7919))
            .collect();
        let shards: std::collections::BTreeSet<String> =
            ids.iter().map(|id| written(id).sk).collect();
        assert_eq!(shards.len(), METRIC_SHARDS as usize, "{shards:?}");
        assert!(
            shards
                .iter()
                .all(|sk| sk.starts_with("2026-12-04#email#sent#"))
        );
        // The same delivery always writes the same shard.
        assert_eq!(written(&ids[0]), written(&ids[0]));
    }

    #[tokio::test]
    async fn metrics_add_up_each_counters_shards_and_its_unsharded_item() {
        let store = shared::store::memory::MemoryStore::new();
        let t = TenantId::parse("a0000000-0000-4000-8000-000000000001").unwrap();
        let pk = metrics_pk(&t, None);
        for (sk, n) in [
            // Written before counters had shards.
            ("2026-12-03#email#sent", 2),
            ("2026-12-03#email#sent#03", 1),
            ("2026-12-03#email#sent#15", 4),
            ("2026-12-03#email#delivered#00", 1),
            ("2026-12-03#sms#sent#07", 5),
            ("2026-12-04#email#sent#03", 9),
            // Outside the range.
            ("2026-12-05#email#sent#03", 100),
        ] {
            let item = Item::new(&Key::global(pk.clone(), sk)).with("n", n);
            store.put(Put::new(item)).await.unwrap();
        }
        let got = metrics(&store, &t, None, "2026-12-03", "2026-12-04")
            .await
            .unwrap();
        let got: Vec<(&str, &str, &str, i64)> = got
            .iter()
            .map(|c| (c.day.as_str(), c.channel.as_str(), c.status.as_str(), c.n))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-12-03", "email", "delivered", 1),
                ("2026-12-03", "email", "sent", 7),
                ("2026-12-03", "sms", "sent", 5),
                ("2026-12-04", "email", "sent", 9),
            ]
        );
    }

    #[tokio::test]
    async fn a_refused_reservation_gives_back_every_counter_it_took() {
        let store = shared::store::memory::MemoryStore::new();
        let t = TenantId::parse("a0000000-0000-4000-8000-000000000001").unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .to_utc();
        let caps = |daily, monthly| Caps { daily, monthly };
        let email_and_sms = |sms: Caps| {
            BTreeMap::from([
                (Channel::Email, (2, caps(10, 100))),
                (Channel::Sms, (2, sms)),
            ])
        };
        // SMS has 1 of its month left: the whole send is refused, on SMS's month.
        store
            .update(Update::new(monthly_key(&t, Channel::Sms, now)).add("used", 4))
            .await
            .unwrap();
        let err = reserve(&store, &t, now, &email_and_sms(caps(10, 5)))
            .await
            .unwrap_err();
        match err {
            NotifyError::QuotaExceeded {
                channel,
                period,
                used,
                requested,
                ..
            } => assert_eq!(
                (channel, period, used, requested),
                (Channel::Sms, "monthly", 4, 2)
            ),
            other => panic!("{other:?}"),
        }
        // Nothing stays taken: email's day and month, SMS's day.
        assert_eq!(
            usage(&store, &t, Channel::Email, now).await.unwrap(),
            (0, 0)
        );
        assert_eq!(usage(&store, &t, Channel::Sms, now).await.unwrap(), (0, 4));

        // Within every cap: all four are taken.
        reserve(&store, &t, now, &email_and_sms(caps(10, 6)))
            .await
            .unwrap();
        assert_eq!(
            usage(&store, &t, Channel::Email, now).await.unwrap(),
            (2, 2)
        );
        assert_eq!(usage(&store, &t, Channel::Sms, now).await.unwrap(), (2, 6));
    }

    #[tokio::test]
    async fn a_unit_given_back_after_its_counter_expired_expires_again() {
        let store = shared::store::memory::MemoryStore::new();
        let t = TenantId::parse("a0000000-0000-4000-8000-000000000001").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        // Nothing stored (TTL removed both counters); then one unit comes back.
        release(&store, &t, Channel::Email, at, 1).await.unwrap();
        for (key, days) in [
            (daily_key(&t, Channel::Email, at), 3),
            (monthly_key(&t, Channel::Email, at), 62),
        ] {
            let item = store.get(&key).await.unwrap().expect("the counter");
            assert_eq!(item.get_i64("used"), Some(-1));
            assert_eq!(item.get_i64("expires_at"), Some(expiry(at, days)));
        }
    }
}
