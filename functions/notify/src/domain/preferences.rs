//! A person's notification preferences: opt-in per category x channel, quiet hours in
//! their timezone, daily caps per category. `transactional` and `system` messages can be
//! neither opted out of nor capped (notify-svc.md "Checks"), so the model cannot express
//! it: an opt-out or a cap of an essential category is refused when parsed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, LocalResult, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{ApiError, FieldError};
use utoipa::ToSchema;

use super::{Category, Channel, zone::Zone};

/// The largest daily cap a person or tenant may set.
pub const MAX_DAILY_CAP: i64 = 1000;

/// Quiet hours: a wall-clock window in an IANA timezone; `start > end` wraps midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
    tz: Zone,
}

impl QuietHours {
    /// None when `start == end` (an empty, or a whole-day, window: ambiguous, refused).
    pub fn new(start: NaiveTime, end: NaiveTime, tz: Zone) -> Option<Self> {
        (start != end).then_some(QuietHours { start, end, tz })
    }

    /// When `now` falls in the window (start inclusive, end exclusive, by the wall clock
    /// of the timezone): the first instant after `now` at which that clock reads the end.
    pub fn until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = self.tz.local(now)?;
        let (time, date) = (local.time(), local.date());
        let end_date = if self.start < self.end {
            (self.start <= time && time < self.end).then_some(date)?
        } else if time >= self.start {
            date.succ_opt()?
        } else if time < self.end {
            date
        } else {
            return None;
        };
        first_reading(&self.tz, end_date.and_time(self.end), now)
    }
}

/// The first instant after `now` at which the wall clock of `tz` reads `end` or later.
/// In a fall-back overlap `end` happens twice: the first one still ahead counts. In a
/// spring-forward gap it never happens: the window ends at the jump.
fn first_reading(tz: &Zone, end: NaiveDateTime, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match tz.instants(end) {
        LocalResult::Single(at) => Some(at).filter(|at| *at > now),
        LocalResult::Ambiguous(first, second) => [first, second].into_iter().find(|at| *at > now),
        LocalResult::None => {
            // Bisect on seconds: the wall clock reads before `end` at `lo` (now is in the
            // window) and after it at `hi` (no zone is more than 14 h behind UTC).
            let reads_end = |secs: i64| {
                DateTime::from_timestamp(secs, 0)
                    .and_then(|u| tz.local(u))
                    .is_some_and(|local| local >= end)
            };
            let (mut lo, mut hi) = (now.timestamp(), end.and_utc().timestamp() + 86_400);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if reads_end(mid) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            DateTime::from_timestamp(hi, 0)
        }
    }
}

/// What a person takes. The default is the built-in one: everything opted in, no quiet
/// hours, no caps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    /// The (category, channel) pairs turned off; never an essential category.
    opted_out: BTreeSet<(Category, Channel)>,
    quiet_hours: Option<QuietHours>,
    /// Never an essential category.
    daily_caps: BTreeMap<Category, u32>,
}

impl Preferences {
    /// Does this person take `category` messages over `channel`? Essential categories
    /// (transactional, system) always pass.
    pub fn allows(&self, category: Category, channel: Channel) -> bool {
        category.is_essential() || !self.opted_out.contains(&(category, channel))
    }
    /// When `now` falls in the person's quiet hours: the end of the window.
    pub fn quiet_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.quiet_hours.as_ref()?.until(now)
    }
    /// The person's daily cap for `category` (None: no cap; always None for essential
    /// categories).
    pub fn daily_cap(&self, category: Category) -> Option<u32> {
        if category.is_essential() {
            return None;
        }
        self.daily_caps.get(&category).copied()
    }
    pub fn quiet_hours(&self) -> Option<&QuietHours> {
        self.quiet_hours.as_ref()
    }
}

/// Where the preferences that apply to a person come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreferencesSource {
    /// The person saved their own.
    Own,
    /// The person has none: the tenant's defaults apply.
    TenantDefaults,
    /// Neither the person nor the tenant saved any: everything opted in, no quiet hours,
    /// no caps.
    BuiltIn,
}

/// Preferences as written and read: `PUT`/`GET /notify/v1/preferences` (and `/defaults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreferencesDoc {
    /// Opt-in per category (`transactional`, `system`, `marketing`, `reminder`) and
    /// channel (`email`, `sms`, `push`, `in_app`). A category or channel left out is opted
    /// in. `transactional` and `system` cannot be opted out of: `false` for them is
    /// refused (400 naming the field); answers always show them `true`.
    #[serde(default)]
    #[schema(example = json!({"marketing": {"email": true, "sms": false, "push": false, "in_app": true}}))]
    pub channels: BTreeMap<String, BTreeMap<String, bool>>,
    /// No messages but `critical` ones in this window; null: none.
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursDoc>,
    /// At most this many messages of a category per person per day (0-1000); a category
    /// left out is not capped. `transactional` and `system` cannot be capped (refused).
    #[serde(default)]
    #[schema(example = json!({"marketing": 3}))]
    pub daily_caps: BTreeMap<String, i64>,
}

/// A quiet-hours window; `start` later than `end` wraps midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuietHoursDoc {
    /// `HH:MM`, 24-hour, wall clock of `timezone` (inclusive).
    #[schema(example = "22:00")]
    pub start: String,
    /// `HH:MM`, 24-hour (exclusive); not equal to `start`.
    #[schema(example = "07:00")]
    pub end: String,
    /// An IANA timezone name, matched case-insensitively and answered in the
    /// database's spelling (`europe/paris` is stored as `Europe/Paris`).
    #[schema(example = "Europe/Paris")]
    pub timezone: String,
}

impl TryFrom<PreferencesDoc> for Preferences {
    type Error = ApiError;

    /// Every invalid field is named (`channels.marketing.fax`, `quietHours.timezone`,
    /// `dailyCaps.system`).
    fn try_from(doc: PreferencesDoc) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut prefs = Preferences::default();
        for (cat_name, channels) in &doc.channels {
            let Some(category) = Category::parse(cat_name) else {
                errors.push(unknown_category(&format!("channels.{cat_name}")));
                continue;
            };
            for (ch_name, on) in channels {
                let field = format!("channels.{cat_name}.{ch_name}");
                match Channel::parse(ch_name) {
                    None => errors.push(FieldError::new(
                        field,
                        "is not a channel: email, sms, push or in_app",
                    )),
                    Some(_) if !on && category.is_essential() => errors.push(FieldError::new(
                        field,
                        format!("{cat_name} messages cannot be opted out of"),
                    )),
                    Some(channel) if !on => {
                        prefs.opted_out.insert((category, channel));
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(q) = &doc.quiet_hours {
            match parse_quiet_hours(q) {
                Ok(q) => prefs.quiet_hours = Some(q),
                Err(mut e) => errors.append(&mut e),
            }
        }
        for (cat_name, cap) in &doc.daily_caps {
            let field = format!("dailyCaps.{cat_name}");
            match Category::parse(cat_name) {
                None => errors.push(unknown_category(&field)),
                Some(c) if c.is_essential() => errors.push(FieldError::new(
                    field,
                    format!("{cat_name} messages cannot be capped"),
                )),
                Some(_) if !(0..=MAX_DAILY_CAP).contains(cap) => errors.push(FieldError::new(
                    field,
                    format!("must be an integer from 0 to {MAX_DAILY_CAP}"),
                )),
                Some(c) => {
                    prefs.daily_caps.insert(c, *cap as u32);
                }
            }
        }
        if errors.is_empty() {
            Ok(prefs)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

impl From<&Preferences> for PreferencesDoc {
    /// The whole matrix, every category x channel, so a client sees (and can send back)
    /// exactly what applies.
    fn from(p: &Preferences) -> Self {
        let channels = Category::ALL
            .into_iter()
            .map(|c| {
                let row = Channel::ALL
                    .into_iter()
                    .map(|ch| (ch.as_str().to_owned(), p.allows(c, ch)))
                    .collect();
                (c.as_str().to_owned(), row)
            })
            .collect();
        PreferencesDoc {
            channels,
            quiet_hours: p.quiet_hours.as_ref().map(|q| QuietHoursDoc {
                start: q.start.format("%H:%M").to_string(),
                end: q.end.format("%H:%M").to_string(),
                timezone: q.tz.name().to_owned(),
            }),
            daily_caps: p
                .daily_caps
                .iter()
                .map(|(c, n)| (c.as_str().to_owned(), i64::from(*n)))
                .collect(),
        }
    }
}

fn unknown_category(field: &str) -> FieldError {
    FieldError::new(
        field,
        "is not a category: transactional, system, marketing or reminder",
    )
}

fn parse_quiet_hours(q: &QuietHoursDoc) -> Result<QuietHours, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut time = |field: &str, s: &str| {
        let t = parse_hh_mm(s);
        if t.is_none() {
            errors.push(FieldError::new(
                field,
                "must be a 24-hour time HH:MM (00:00-23:59)",
            ));
        }
        t
    };
    let start = time("quietHours.start", &q.start);
    let end = time("quietHours.end", &q.end);
    let tz = Zone::parse(&q.timezone);
    if tz.is_none() {
        errors.push(FieldError::new(
            "quietHours.timezone",
            "must be an IANA timezone name such as Europe/Paris",
        ));
    }
    match (start, end, tz) {
        (Some(start), Some(end), Some(tz)) => QuietHours::new(start, end, tz).ok_or_else(|| {
            vec![FieldError::new(
                "quietHours.end",
                "must differ from quietHours.start",
            )]
        }),
        _ => Err(errors),
    }
}

/// `HH:MM` exactly (two digits each).
fn parse_hh_mm(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<u32> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
    };
    NaiveTime::from_hms_opt(two(0)?, two(3)?, 0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn quiet(start: &str, end: &str, tz: &str) -> Preferences {
        parse(json!({"quietHours": {"start": start, "end": end, "timezone": tz}})).unwrap()
    }

    fn parse(v: serde_json::Value) -> Result<Preferences, ApiError> {
        Preferences::try_from(serde_json::from_value::<PreferencesDoc>(v).unwrap())
    }

    fn fields(e: ApiError) -> Vec<String> {
        e.details.unwrap()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_same_day_window_covers_its_start_but_not_its_end() {
        let p = quiet("09:00", "17:00", "UTC");
        let end = Some(at("2026-05-04T17:00:00Z"));
        assert_eq!(p.quiet_until(at("2026-05-04T12:00:00Z")), end);
        assert_eq!(p.quiet_until(at("2026-05-04T09:00:00Z")), end);
        assert_eq!(p.quiet_until(at("2026-05-04T08:59:59Z")), None);
        assert_eq!(p.quiet_until(at("2026-05-04T17:00:00Z")), None);
    }

    #[test]
    fn a_window_wrapping_midnight_ends_the_next_morning_or_the_same_one() {
        let p = quiet("22:00", "07:00", "UTC");
        assert_eq!(
            p.quiet_until(at("2026-05-04T23:30:00Z")),
            Some(at("2026-05-05T07:00:00Z"))
        );
        assert_eq!(
            p.quiet_until(at("2026-05-04T22:00:00Z")),
            Some(at("2026-05-05T07:00:00Z"))
        );
        assert_eq!(
            p.quiet_until(at("2026-05-05T03:00:00Z")),
            Some(at("2026-05-05T07:00:00Z"))
        );
        assert_eq!(p.quiet_until(at("2026-05-05T07:00:00Z")), None);
        assert_eq!(p.quiet_until(at("2026-05-05T12:00:00Z")), None);
    }

    #[test]
    fn the_window_is_read_on_the_wall_clock_of_the_persons_timezone() {
        // Paris is UTC+1 in January: 22:00-07:00 local is 21:00-06:00 UTC.
        let p = quiet("22:00", "07:00", "Europe/Paris");
        assert_eq!(
            p.quiet_until(at("2026-01-15T21:30:00Z")),
            Some(at("2026-01-16T06:00:00Z"))
        );
        assert_eq!(p.quiet_until(at("2026-01-15T20:30:00Z")), None);
        assert_eq!(p.quiet_until(at("2026-01-16T06:00:00Z")), None);
        // New York is UTC-4 in July: 23:30 UTC is 19:30 there, before the window.
        let ny = quiet("21:00", "08:00", "America/New_York");
        assert_eq!(ny.quiet_until(at("2026-07-01T23:30:00Z")), None);
        assert_eq!(
            ny.quiet_until(at("2026-07-02T02:00:00Z")),
            Some(at("2026-07-02T12:00:00Z"))
        );
    }

    #[test]
    fn a_window_across_the_spring_forward_night_ends_on_the_new_offset() {
        // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let p = quiet("22:00", "07:00", "Europe/Paris");
        assert_eq!(
            p.quiet_until(at("2026-03-28T22:30:00Z")),
            Some(at("2026-03-29T05:00:00Z"))
        );
    }

    #[test]
    fn a_window_ending_in_the_skipped_hour_ends_at_the_jump() {
        let p = quiet("23:00", "02:30", "Europe/Paris");
        assert_eq!(
            p.quiet_until(at("2026-03-28T23:00:00Z")),
            Some(at("2026-03-29T01:00:00Z"))
        );
        // Starting in the skipped hour: the window opens when the clock passes its start.
        let q = quiet("02:30", "04:00", "Europe/Paris");
        assert_eq!(
            q.quiet_until(at("2026-03-29T01:30:00Z")),
            Some(at("2026-03-29T02:00:00Z"))
        );
    }

    #[test]
    fn a_window_ending_in_the_repeated_hour_ends_at_its_next_reading() {
        // Paris, 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
        let p = quiet("01:00", "02:30", "Europe/Paris");
        // First pass (CEST): the first 02:30, 00:30 UTC.
        assert_eq!(
            p.quiet_until(at("2026-10-24T23:30:00Z")),
            Some(at("2026-10-25T00:30:00Z"))
        );
        // Second pass (02:10 CET): the second 02:30, 01:30 UTC.
        assert_eq!(
            p.quiet_until(at("2026-10-25T01:10:00Z")),
            Some(at("2026-10-25T01:30:00Z"))
        );
        let night = quiet("22:00", "07:00", "Europe/Paris");
        assert_eq!(
            night.quiet_until(at("2026-10-24T21:00:00Z")),
            Some(at("2026-10-25T06:00:00Z"))
        );
    }

    #[test]
    fn a_skipped_day_does_not_panic_and_ends_at_the_jump() {
        // Samoa skipped 2011-12-30: 23:59:59 on the 29th (UTC-10) was followed by
        // 00:00 on the 31st (UTC+14), at 10:00 UTC on the 30th.
        let p = quiet("22:00", "07:00", "Pacific/Apia");
        assert_eq!(
            p.quiet_until(at("2011-12-30T09:00:00Z")),
            Some(at("2011-12-30T10:00:00Z"))
        );
    }

    #[test]
    fn essential_categories_always_pass_and_are_never_capped() {
        let p = parse(json!({
            "channels": {"marketing": {"sms": false}, "transactional": {"sms": true}},
            "dailyCaps": {"marketing": 2}
        }))
        .unwrap();
        assert!(!p.allows(Category::Marketing, Channel::Sms));
        assert!(p.allows(Category::Marketing, Channel::Email));
        assert!(p.allows(Category::Transactional, Channel::Sms));
        assert_eq!(p.daily_cap(Category::Marketing), Some(2));
        assert_eq!(p.daily_cap(Category::Reminder), None);
        assert_eq!(p.daily_cap(Category::System), None);
        assert_eq!(Preferences::default().quiet_until(Utc::now()), None);
    }

    #[test]
    fn invalid_fields_are_each_named() {
        let e = parse(json!({
            "channels": {"gossip": {"email": true}, "marketing": {"fax": false},
                         "system": {"email": false}},
            "quietHours": {"start": "7:00", "end": "24:00", "timezone": "Mars/Olympus"},
            "dailyCaps": {"reminder": 1001, "transactional": 1, "weather": 1}
        }))
        .unwrap_err();
        let mut got = fields(e);
        got.sort();
        assert_eq!(
            got,
            [
                "channels.gossip",
                "channels.marketing.fax",
                "channels.system.email",
                "dailyCaps.reminder",
                "dailyCaps.transactional",
                "dailyCaps.weather",
                "quietHours.end",
                "quietHours.start",
                "quietHours.timezone",
            ]
        );
        let same =
            parse(json!({"quietHours": {"start": "08:00", "end": "08:00", "timezone": "UTC"}}));
        assert_eq!(fields(same.unwrap_err()), ["quietHours.end"]);
        assert!(parse(json!({"dailyCaps": {"marketing": -1}})).is_err());
        assert!(parse(json!({"dailyCaps": {"marketing": 0}})).is_ok());
    }

    #[test]
    fn the_document_shows_the_whole_matrix_and_parses_back_to_the_same() {
        let p = parse(json!({
            "channels": {"reminder": {"push": false}},
            "quietHours": {"start": "22:30", "end": "06:45", "timezone": "Asia/Kolkata"},
            "dailyCaps": {"marketing": 5}
        }))
        .unwrap();
        let doc = PreferencesDoc::from(&p);
        assert_eq!(doc.channels.len(), 4);
        assert!(!doc.channels["reminder"]["push"]);
        assert!(doc.channels["system"]["sms"]);
        assert_eq!(doc.quiet_hours.as_ref().unwrap().start, "22:30");
        assert_eq!(Preferences::try_from(doc).unwrap(), p);
    }
}
