//! Guess counting and lockout: 5 failures within 15 minutes lock for 15 minutes. The
//! counter lives on the user's item for an account, and on a stand-in item for a sign-in
//! name no account has — so an unknown email locks after the same five guesses as a real
//! one (the lock is no enumeration oracle) after comparable store work.
//!
//! A guess is counted before it is evaluated, by a conditional update, so any number of
//! parallel requests get at most `MAX_FAILURES` guesses per window: the reservation *is*
//! the failure count, given back (`release`) or cleared only when the guess was right.

use aws_lc_rs::hmac;
use serde::Deserialize;
use shared::store::{Condition, Item, Key, Store, StoreError, Update, attr};

use crate::error::{AuthError, AuthResult};

pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;
/// What a sign-in refused because the window's last guesses are still being checked is
/// told to wait: they end in a moment, with a lock or with the count given back.
pub const IN_FLIGHT_RETRY_SECS: i64 = 1;

/// Tries at reserving a guess. A try fails only when another sign-in's write to the
/// counter landed since it was read, and a sign-in writes it at most twice (its own
/// reservation, then its clear, release or lock): so a burst of one more sign-in than
/// the lockout allows guesses (the rest are refused without writing) never runs out.
/// Running out under heavier contention answers 503 with `Retry-After`, not 500.
pub const RESERVE_TRIES: usize = 2 * MAX_FAILURES as usize + 2;

/// The counter's attributes as last read (absent ones read as 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Counter {
    pub failed_logins: i64,
    pub failure_window_start: i64,
    pub locked_until: i64,
}

impl Counter {
    fn of(item: &Item) -> AuthResult<Self> {
        item.to_record()
            .map_err(|e| AuthError::Internal(format!("lockout counter: {e}")))
    }
}

/// One guess counted in advance: the failure count as this reservation left it, and the
/// window it was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub count: i64,
    pub window_start: i64,
}

/// The item a counter lives on.
#[derive(Debug, Clone)]
pub struct Counted {
    key: Key,
    /// A stand-in is created by its first guess and expires (TTL) once its window and
    /// lock are over; an account's counter is only ever written on the existing user.
    stand_in: bool,
}

impl Counted {
    pub fn account(key: Key) -> Self {
        Counted {
            key,
            stand_in: false,
        }
    }

    /// The stand-in of a sign-in name with no account, keyed by an HMAC of the name under
    /// the table's decoy key: the names people mistype are never stored readable.
    pub fn stand_in(decoy_key: &[u8], name: &str) -> Self {
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, decoy_key),
            format!("sign-in failures\0{name}").as_bytes(),
        );
        Counted {
            key: super::signin_failures(&data_encoding::HEXLOWER.encode(tag.as_ref())),
            stand_in: true,
        }
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// `cond`, on an item that must already exist unless this is a stand-in.
    fn guarded(&self, cond: Condition) -> Condition {
        if self.stand_in {
            cond
        } else {
            Condition::item_present().and(cond)
        }
    }

    /// The counter as stored now (a stand-in never written reads as 0s).
    pub async fn current(&self, store: &dyn Store) -> AuthResult<Counter> {
        match store.get(&self.key).await? {
            Some(item) => Counter::of(&item),
            None if self.stand_in => Ok(Counter::default()),
            None => Err(AuthError::NotFound),
        }
    }
}

/// `locked_until` absent or not after `now`.
fn unlocked_at(now: i64) -> Condition {
    Condition::not_exists("locked_until").or(Condition::le("locked_until", now))
}

/// `failure_window_start` is still `start` (an absent one reads as 0).
fn window_is(start: i64) -> Condition {
    if start == 0 {
        Condition::not_exists("failure_window_start").or(Condition::eq("failure_window_start", 0))
    } else {
        Condition::eq("failure_window_start", start)
    }
}

/// Reserves one guess BEFORE it is evaluated; `seen` is the counter as last read.
/// `Err(until)` when locked, or in a second when the window's last guesses are in
/// flight: answer 423, retry after `until - now`.
pub async fn reserve(
    store: &dyn Store,
    on: &Counted,
    mut seen: Counter,
    now: i64,
) -> AuthResult<Result<Reservation, i64>> {
    // Each retry follows a concurrent change (a new window opened, counters cleared).
    for _ in 0..RESERVE_TRIES {
        if seen.locked_until > now {
            return Ok(Err(seen.locked_until));
        }
        let fresh_window = now - seen.failure_window_start >= WINDOW_SECS;
        if !fresh_window && seen.failed_logins >= MAX_FAILURES {
            // Full count, no lock written (yet): the last guesses are being evaluated.
            // Right ones give their count back in a moment, a wrong fifth locks: either
            // way the answer is known in a second, not at the window's end (a client
            // obeying retry-after would have waited up to 15 minutes on a parallel
            // burst of right passwords). Past the window, a fresh one opens anyway.
            let until = now + IN_FLIGHT_RETRY_SECS;
            return Ok(Err(until.min(seen.failure_window_start + WINDOW_SECS)));
        }
        let mut upd = if fresh_window {
            Update::new(on.key.clone())
                .set("failed_logins", 1)
                .set("failure_window_start", now)
        } else {
            Update::new(on.key.clone()).add("failed_logins", 1)
        };
        if on.stand_in {
            // Outlives this window and a lock taken in it.
            upd = upd.set(attr::EXPIRES_AT, now + WINDOW_SECS + LOCK_SECS);
        }
        let mut cond = unlocked_at(now).and(window_is(seen.failure_window_start));
        if !fresh_window {
            cond = cond.and(
                Condition::not_exists("failed_logins")
                    .or(Condition::lt("failed_logins", MAX_FAILURES)),
            );
        }
        match store.update(upd.when(on.guarded(cond))).await {
            Ok(item) => {
                let after = Counter::of(&item)?;
                return Ok(Ok(Reservation {
                    count: after.failed_logins,
                    window_start: after.failure_window_start,
                }));
            }
            Err(StoreError::ConditionFailed { current }) => {
                seen = match current {
                    Some(item) => Counter::of(&item)?,
                    None => on.current(store).await?,
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(
        StoreError::Unavailable("the lockout counter kept changing while reserving a guess".into())
            .into(),
    )
}

/// The reserved guess was wrong: the reservation stands as the failure. When it was the
/// one that filled the count, locks; returns until when, if this locked it.
pub async fn fail(
    store: &dyn Store,
    on: &Counted,
    reservation: &Reservation,
    now: i64,
) -> AuthResult<Option<i64>> {
    if reservation.count < MAX_FAILURES {
        return Ok(None);
    }
    let until = now + LOCK_SECS;
    let upd = Update::new(on.key.clone()).set("locked_until", until).when(
        Condition::item_present()
            .and(window_is(reservation.window_start))
            .and(unlocked_at(now)),
    );
    match store.update(upd).await {
        Ok(_) => Ok(Some(until)),
        // Counters cleared or a new window opened meanwhile: nothing left to lock.
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The reserved guess was right but the sign-in is not complete (a correct password of
/// an MFA account, a refused status): gives the attempt back, never below 0 and only in
/// the window it was counted in.
pub async fn release(store: &dyn Store, on: &Counted, reservation: &Reservation) -> AuthResult<()> {
    let upd = given_back(Update::new(on.key.clone()))
        .when(Condition::item_present().and(releasable(reservation)));
    match store.update(upd).await {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `upd`, also giving one reserved guess back (with [`releasable`] as its guard), for a
/// write that releases the guess together with what the right guess allowed.
pub fn given_back(upd: Update) -> Update {
    upd.add("failed_logins", -1)
}

/// The guard of giving `reservation`'s guess back: never below 0, and only in the window
/// it was counted in (a cleared counter or a new window has nothing of it left).
pub fn releasable(reservation: &Reservation) -> Condition {
    Condition::gt("failed_logins", 0).and(window_is(reservation.window_start))
}
