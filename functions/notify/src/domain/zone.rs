//! IANA timezones for quiet hours: names resolved in jiff's bundled tz database, wall
//! clocks read in chrono types (the rest of the service speaks chrono).
//!
//! Why jiff and not chrono-tz: chrono-tz compiles the database into Rust statics whose
//! every transition holds a `&'static str` abbreviation — ~28,000 pointers the loader
//! relocates at each cold start (notify-svc's largest share). jiff bundles the same
//! database as TZif bytes, parsed on first lookup of a zone (BENCHMARKS.md).

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeDelta, Timelike, Utc};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

/// A timezone of the IANA database, by its canonical name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone(TimeZone);

impl Zone {
    /// `Europe/Paris`, `Asia/Kolkata`, `UTC`, the database's links such as `US/Eastern`;
    /// case-insensitive. Nothing outside the bundled database (no files, no POSIX rules).
    pub fn parse(name: &str) -> Option<Zone> {
        TimeZone::get(name)
            .ok()
            .filter(|tz| tz.iana_name().is_some())
            .map(Zone)
    }

    /// The database's spelling of the name (`europe/paris` parses to `Europe/Paris`).
    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }

    /// What the zone's wall clock reads at `at` (None outside jiff's years -9999..=9999).
    pub fn local(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        let ts = jiff::Timestamp::new(at.timestamp(), 0).ok()?;
        let offset = self.0.to_offset(ts).seconds();
        at.naive_utc()
            .checked_add_signed(TimeDelta::seconds(offset.into()))
    }

    /// The instants at which the wall clock reads `local`: one, two in a fall-back
    /// overlap (earliest first), none in a spring-forward gap.
    pub fn instants(&self, local: NaiveDateTime) -> LocalResult<DateTime<Utc>> {
        let Some(civil) = civil(local) else {
            return LocalResult::None;
        };
        let at = |offset: Offset| {
            local
                .checked_sub_signed(TimeDelta::seconds(offset.seconds().into()))
                .map(|utc| utc.and_utc())
        };
        match self.0.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                at(offset).map_or(LocalResult::None, LocalResult::Single)
            }
            AmbiguousOffset::Gap { .. } => LocalResult::None,
            // `before` is the offset in force before the transition: the larger one when
            // clocks fall back, so the earlier instant.
            AmbiguousOffset::Fold { before, after } => match (at(before), at(after)) {
                (Some(a), Some(b)) => LocalResult::Ambiguous(a, b),
                _ => LocalResult::None,
            },
        }
    }
}

fn civil(t: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let small = |v: u32| i8::try_from(v).ok();
    jiff::civil::DateTime::new(
        i16::try_from(t.year()).ok()?,
        small(t.month())?,
        small(t.day())?,
        small(t.hour())?,
        small(t.minute())?,
        small(t.second())?,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn naive(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    #[test]
    fn names_resolve_case_insensitively_to_the_databases_spelling() {
        assert_eq!(Zone::parse("europe/paris").unwrap().name(), "Europe/Paris");
        assert_eq!(Zone::parse("UTC").unwrap().name(), "UTC");
        assert_eq!(Zone::parse("US/Eastern").unwrap().name(), "US/Eastern");
        for bad in [
            "",
            "Mars/Olympus",
            "EST5EDT,M3.2.0,M11.1.0",
            "+05:00",
            "/etc/passwd",
        ] {
            assert!(Zone::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_wall_clock_follows_the_offset_in_force() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(
            paris.local(utc("2026-01-15T12:00:00Z")),
            Some(naive("2026-01-15T13:00:00"))
        );
        assert_eq!(
            paris.local(utc("2026-07-15T12:00:00Z")),
            Some(naive("2026-07-15T14:00:00"))
        );
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        assert_eq!(
            kolkata.local(utc("2026-07-15T12:00:00Z")),
            Some(naive("2026-07-15T17:30:00"))
        );
    }

    #[test]
    fn a_reading_is_single_skipped_or_repeated() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(
            paris.instants(naive("2026-03-29T04:00:00")),
            LocalResult::Single(utc("2026-03-29T02:00:00Z"))
        );
        assert_eq!(
            paris.instants(naive("2026-03-29T02:30:00")),
            LocalResult::None
        );
        assert_eq!(
            paris.instants(naive("2026-10-25T02:30:00")),
            LocalResult::Ambiguous(utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z"))
        );
    }
}
