//! Injectable time: expiry logic (tokens, lockouts, idempotency records) is tested by
//! moving a [`ManualClock`], never by sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn epoch_seconds(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests, benchmarks).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(t)))
    }
    /// Starts at the current real time.
    pub fn starting_now() -> Self {
        Self::at(Utc::now())
    }
    /// Starts today (UTC) at the current time, or at noon when the evening is on: tests
    /// that move the clock on by hours and count "today" (quotas, caps, metrics) must not
    /// depend on when they run — one failed only between 23:00 and midnight.
    pub fn starting_today_away_from_midnight() -> Self {
        let now = Utc::now();
        if now.hour() < 18 {
            return Self::at(now);
        }
        let noon = now.date_naive().and_hms_opt(12, 0, 0).unwrap_or_default();
        Self::at(noon.and_utc())
    }
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `2026-02-24T12:00:00.000Z`: the envelope's timestamp format.
pub fn rfc3339_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(DateTime::from_timestamp(1_740_000_000, 0).unwrap());
        assert_eq!(c.epoch_seconds(), 1_740_000_000);
        c.advance(Duration::minutes(15));
        assert_eq!(c.epoch_seconds(), 1_740_000_900);
    }

    #[test]
    fn timestamps_have_milliseconds_and_a_z() {
        let t = DateTime::from_timestamp(1_771_934_400, 0).unwrap();
        assert_eq!(rfc3339_millis(t), "2026-02-24T12:00:00.000Z");
    }
}
