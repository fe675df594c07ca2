//! The body of `PUT /admin/quotas` in either shape a client has: the map written by hand
//! (`{"email": {"daily": 10}}`), or the list `GET` answered, edited and sent back. Both
//! read into one list of entries, each knowing the path its errors name.
//!
//! Read by hand rather than as an untagged enum: serde's untagged errors say only "did
//! not match any variant", and every error here must name its field.

use std::{collections::BTreeMap, fmt, marker::PhantomData};

use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer},
};
use shared::{ApiError, FieldError, access::PlanTier};
use utoipa::ToSchema;

use crate::{
    domain::{Channel, quota::plan_caps},
    repo::counters::{LoweredCaps, QuotaSettings},
};

/// New caps per channel; a channel or period left out (or null) goes back to the plan's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotasBody {
    /// Either channel -> `{daily?, monthly?}`, or the `channels` list `GET` answers
    /// (`[{channel, daily?, monthly?}]`). A period is a whole number, or `GET`'s period
    /// object, whose `limit` is the cap (its other fields are ignored). Each cap is at most
    /// the plan's.
    #[schema(value_type = QuotaChannelsIn)]
    pub channels: Channels,
}

/// The entries of `channels`, in the order sent.
#[derive(Debug)]
pub struct Channels(Vec<Entry>);

#[derive(Debug)]
struct Entry {
    /// Its index in the list; None for a key of the map.
    index: Option<usize>,
    name: String,
    daily: Option<Cap>,
    monthly: Option<Cap>,
}

impl Entry {
    /// The field naming the channel: `channels.email` or `channels[0].channel`.
    fn channel_field(&self) -> String {
        match self.index {
            Some(i) => format!("channels[{i}].channel"),
            None => format!("channels.{}", self.name),
        }
    }
    /// A period's field: `channels.email.daily` or `channels[0].daily`.
    fn period_field(&self, ch: Channel, period: &str) -> String {
        match self.index {
            Some(i) => format!("channels[{i}].{period}"),
            None => format!("channels.{}.{period}", ch.as_str()),
        }
    }
}

impl QuotasBody {
    /// The caps to store, each checked against `plan`'s: INVALID_CHANNEL for an unknown
    /// name, else one VALIDATION naming every wrong field.
    pub fn settings(&self, plan: PlanTier) -> Result<QuotaSettings, ApiError> {
        let mut settings = QuotaSettings::default();
        let mut errors = Vec::new();
        let mut seen: BTreeMap<Channel, String> = BTreeMap::new();
        for e in &self.channels.0 {
            let ch = Channel::parse_field(&e.channel_field(), &e.name)?;
            // Two caps for one channel: which one is meant is anyone's guess.
            if let Some(first) = seen.get(&ch) {
                errors.push(FieldError::new(
                    e.channel_field(),
                    format!("names {} again (as {first} does)", ch.as_str()),
                ));
                continue;
            }
            seen.insert(ch, e.channel_field());
            errors.extend(check(e, ch, plan));
            let plan_caps = plan_caps(plan, ch);
            let caps = LoweredCaps {
                daily: kept(e.daily, plan_caps.daily),
                monthly: kept(e.monthly, plan_caps.monthly),
            };
            settings.channels.insert(ch, caps);
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(settings)
    }
}

/// What is wrong with one channel's caps under `plan`.
fn check(e: &Entry, ch: Channel, plan: PlanTier) -> Vec<FieldError> {
    let caps = plan_caps(plan, ch);
    let mut errors = Vec::new();
    for (period, value, max) in [
        ("daily", e.daily.map(|c| c.value), caps.daily),
        ("monthly", e.monthly.map(|c| c.value), caps.monthly),
    ] {
        if value.is_some_and(|v| !(0..=max).contains(&v)) {
            errors.push(FieldError::new(
                e.period_field(ch, period),
                format!("must be 0 to {max} (the {} plan's cap)", plan.as_str()),
            ));
        }
    }
    // A day's cap lowered above the month's would promise what the month refuses (a
    // monthly cap lowered alone is fine: the month's counter holds it). A daily at the
    // plan's cap is not lowered: it is what `GET` shows when only the month is.
    let monthly = e.monthly.map_or(caps.monthly, |c| c.value);
    if let Some(daily) = e.daily.map(|c| c.value)
        && daily < caps.daily
        && daily > monthly
        && errors.is_empty()
    {
        errors.push(FieldError::new(
            e.period_field(ch, "daily"),
            format!("must not exceed the monthly cap ({monthly})"),
        ));
    }
    errors
}

impl<'de> Deserialize<'de> for Channels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChannelsVisitor)
    }
}

struct ChannelsVisitor;

impl<'de> Visitor<'de> for ChannelsVisitor {
    type Value = Channels;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of channels, or an array of {channel, daily, monthly}")
    }

    // Entries are kept as a list, so a key given twice is seen (a map keeps the last).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Channels, A::Error> {
        let mut out = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let Object(caps) = map.next_value::<Object<CapsIn>>()?;
            out.push(Entry {
                index: None,
                name,
                daily: caps.daily,
                monthly: caps.monthly,
            });
        }
        Ok(Channels(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Channels, A::Error> {
        let mut out = Vec::new();
        while let Some(Object(e)) = seq.next_element::<Object<ListEntryIn>>()? {
            out.push(Entry {
                index: Some(out.len()),
                name: e.channel,
                daily: e.daily,
                monthly: e.monthly,
            });
        }
        Ok(Channels(out))
    }
}

/// `T` from a JSON object only: serde's derived structs also take an array of their
/// fields in order, which would read `["email", 5]` as a daily cap of 5.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Object)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapsIn {
    #[serde(default)]
    daily: Option<Cap>,
    #[serde(default)]
    monthly: Option<Cap>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListEntryIn {
    channel: String,
    #[serde(default)]
    daily: Option<Cap>,
    #[serde(default)]
    monthly: Option<Cap>,
}

/// A period's cap: a whole number, or `GET`'s period object (its `limit`: `as_read`).
#[derive(Debug, Clone, Copy)]
struct Cap {
    value: i64,
    as_read: bool,
}

/// The cap to store: none (the plan's) for a period sent back as `GET` showed it at the
/// plan's cap — it was not lowered, and storing it would pin it where a later upgrade
/// cannot lift it. A plain number is stored as given, the plan's value included.
fn kept(cap: Option<Cap>, plan_cap: i64) -> Option<i64> {
    cap.filter(|c| !(c.as_read && c.value == plan_cap))
        .map(|c| c.value)
}

impl<'de> Deserialize<'de> for Cap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CapVisitor)
    }
}

struct CapVisitor;

impl<'de> Visitor<'de> for CapVisitor {
    type Value = Cap;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number, or an object with a whole number `limit`")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cap, E> {
        Ok(Cap {
            value: v,
            as_read: false,
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cap, E> {
        i64::try_from(v)
            .map(|value| Cap {
                value,
                as_read: false,
            })
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Cap, A::Error> {
        let p = PeriodIn::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Cap {
            value: p.limit,
            as_read: true,
        })
    }
}

/// `GET`'s period as sent back: the usage and the plan's cap are not the client's to set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // the read-only fields are read to be accepted, then dropped
struct PeriodIn {
    limit: i64,
    #[serde(default)]
    plan_limit: Option<IgnoredAny>,
    #[serde(default)]
    used: Option<IgnoredAny>,
    #[serde(default)]
    remaining: Option<IgnoredAny>,
}

// The documented shapes of `channels`, which `Channels` reads.

/// The caps by channel: a map keyed by channel, or the list `GET` answers.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a schema only
pub enum QuotaChannelsIn {
    /// Channel (`email`, `sms`, `push`, `in_app`) -> its caps.
    Map(BTreeMap<String, QuotaCapsIn>),
    /// The `channels` of `GET /notify/v1/admin/quotas`, edited: each channel at most once.
    List(Vec<QuotaChannelIn>),
}

/// One channel's caps, keyed by its name.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a schema only
pub struct QuotaCapsIn {
    daily: Option<QuotaCapIn>,
    monthly: Option<QuotaCapIn>,
}

/// One channel's caps, as an entry of `GET`'s list.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a schema only
pub struct QuotaChannelIn {
    #[schema(inline)]
    channel: Channel,
    daily: Option<QuotaCapIn>,
    monthly: Option<QuotaCapIn>,
}

/// A period's cap: a whole number, or `GET`'s period object.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a schema only
pub enum QuotaCapIn {
    Cap(i64),
    Period(QuotaPeriodIn),
}

/// `GET`'s period: `limit` is the cap; the others are ignored.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // a schema only
pub struct QuotaPeriodIn {
    #[schema(minimum = 0)]
    limit: i64,
    /// Read-only: ignored (a `limit` at the current plan's cap stays the plan's).
    plan_limit: Option<i64>,
    /// Read-only: ignored.
    used: Option<i64>,
    /// Read-only: ignored.
    remaining: Option<i64>,
}
