//! A user's TOTP state on the user record: the pending secret, the confirmed secret,
//! the last accepted time step and the recovery-code hashes. Every write is conditional
//! on the state it was decided on, so two concurrent requests never both use one code.

use shared::store::{Condition, Store, StoreError, Update, Value};

use super::{
    lockout::{self, Reservation},
    users,
};
use crate::{
    domain::{
        User,
        totp::{MfaCode, RECOVERY_CODES, TotpSecret},
    },
    error::{AuthError, AuthResult},
};

const SECRET: &str = "totp_secret";
const PENDING: &str = "totp_pending_secret";
const LAST_STEP: &str = "totp_last_step";
const RECOVERY: &str = "recovery_codes";
const RECOVERY_AT: &str = "recovery_codes_at";

/// Applies `upd` when `cond` (and the item's existence) holds: `Ok(None)` when it did not.
async fn update_if(store: &dyn Store, upd: Update, cond: Condition) -> AuthResult<Option<User>> {
    match store
        .update(upd.when(Condition::item_present().and(cond)))
        .await
    {
        Ok(item) => item
            .to_record()
            .map(Some)
            .map_err(|e| AuthError::Internal(format!("user record: {e}"))),
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The step must be later than any accepted before: a code is never accepted twice.
fn step_unused(step: i64) -> Condition {
    Condition::not_exists(LAST_STEP).or(Condition::lt(LAST_STEP, step))
}

fn hashes(list: &[String]) -> Value {
    Value::L(list.iter().map(|h| Value::s(h.as_str())).collect())
}

/// Stores a new pending secret (replacing an unconfirmed one); MFA_ALREADY_ENABLED if
/// TOTP got enabled meanwhile.
pub async fn start_enrollment(
    store: &dyn Store,
    user: &User,
    secret: &TotpSecret,
) -> AuthResult<()> {
    let upd = Update::new(users::key_of(user)?).set(PENDING, secret.to_base32());
    update_if(store, upd, Condition::not_exists(SECRET))
        .await?
        .map(drop)
        .ok_or(AuthError::MfaAlreadyEnabled)
}

/// Turns the pending secret into the enabled one, recording the step its confirming
/// code used and the recovery-code hashes. `None` when the pending secret changed, TOTP
/// got enabled meanwhile, or the step was already used.
pub async fn enable(
    store: &dyn Store,
    user: &User,
    pending: &str,
    step: i64,
    recovery_hashes: &[String],
    now: i64,
) -> AuthResult<Option<User>> {
    let upd = Update::new(users::key_of(user)?)
        .set(SECRET, pending)
        .set(LAST_STEP, step)
        .set(RECOVERY, hashes(recovery_hashes))
        .set(RECOVERY_AT, now)
        .remove(PENDING);
    let cond = Condition::eq(PENDING, pending)
        .and(Condition::not_exists(SECRET))
        .and(step_unused(step));
    update_if(store, upd, cond).await
}

/// Replaces the recovery codes with `recovery_hashes` while TOTP is on with `secret` and
/// the codes are those `user` was read with. None when anything of it changed meanwhile
/// (TOTP turned off or re-enrolled, a code spent, another new set): two new sets asked
/// at once must not both be shown while only the last written works.
pub async fn replace_recovery_codes(
    store: &dyn Store,
    user: &User,
    secret: &str,
    recovery_hashes: &[String],
    now: i64,
) -> AuthResult<Option<User>> {
    let upd = Update::new(users::key_of(user)?)
        .set(RECOVERY, hashes(recovery_hashes))
        .set(RECOVERY_AT, now);
    let as_read =
        Condition::eq(SECRET, secret).and(Condition::eq(RECOVERY, hashes(&user.recovery_codes)));
    update_if(store, upd, as_read).await
}

/// Turns TOTP off with `code` (a current TOTP code or an unused recovery code) in one
/// conditional write of the user item, which also gives back the guess `reservation`
/// counted; when the counter has moved on (cleared, a new window) there is nothing to
/// give back and the write goes without it. False: the code is wrong or already used,
/// or TOTP changed meanwhile.
pub async fn disable_with(
    store: &dyn Store,
    user: &User,
    code: &MfaCode,
    reservation: &Reservation,
    now: i64,
) -> AuthResult<bool> {
    let mut user = user.clone();
    for _ in 0..SPEND_TRIES {
        let (Some(secret), Some(spend)) = (user.totp_secret.as_deref(), spend(&user, code, now)?)
        else {
            return Ok(false);
        };
        // Everything TOTP goes, so the code's own write (step, list) is not needed.
        let off = Update::new(users::key_of(&user)?)
            .set(RECOVERY, Value::L(Vec::new()))
            .remove(SECRET)
            .remove(PENDING)
            .remove(LAST_STEP);
        let good = spend.cond.and(Condition::eq(SECRET, secret));
        let with_guess = lockout::given_back(off.clone());
        if update_if(
            store,
            with_guess,
            good.clone().and(lockout::releasable(reservation)),
        )
        .await?
        .is_some()
            || update_if(store, off, good).await?.is_some()
        {
            return Ok(true);
        }
        match reread(store, &user, code).await? {
            Some(fresh) => user = fresh,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// Turns `user`'s TOTP off without a code (an admin's reset for a person who lost their
/// authenticator and recovery codes): the secret, a pending one, the last step and the
/// recovery codes go. None when TOTP is not enabled (or the user is gone).
pub async fn reset(store: &dyn Store, user: &User) -> AuthResult<Option<User>> {
    let off = Update::new(users::key_of(user)?)
        .set(RECOVERY, Value::L(Vec::new()))
        .remove(SECRET)
        .remove(PENDING)
        .remove(LAST_STEP);
    update_if(store, off, Condition::exists(SECRET)).await
}

/// Checks `code` against the enabled TOTP secret or the unused recovery codes, and uses
/// it up: the TOTP step is recorded, the recovery code removed. True when it was good.
pub async fn use_code(
    store: &dyn Store,
    user: &User,
    code: &MfaCode,
    now: i64,
) -> AuthResult<bool> {
    let mut user = user.clone();
    for _ in 0..SPEND_TRIES {
        let Some(spend) = spend(&user, code, now)? else {
            return Ok(false);
        };
        if update_if(store, spend.writes, spend.cond).await?.is_some() {
            return Ok(true);
        }
        match reread(store, &user, code).await? {
            Some(fresh) => user = fresh,
            None => return Ok(false),
        }
    }
    // Still good after every try: a right code, not a failed guess.
    Err(StoreError::Unavailable("the recovery codes kept changing while using one".into()).into())
}

/// Whether `code` is a TOTP code of `user`'s secret for the current window, used or
/// not: one that [`use_code`] refused only because it was used already (a double submit,
/// a client's retry, the same code sent at once) is no guess at the second factor.
pub fn is_right_totp(user: &User, code: &MfaCode, now: i64) -> bool {
    let (MfaCode::Totp(code), Some(stored)) = (code, user.totp_secret.as_deref()) else {
        return false;
    };
    TotpSecret::parse(stored).is_some_and(|s| s.matching_step(code, now, None).is_some())
}

/// Tries at using a recovery code. A try fails only when another code was used since
/// the list was read, and a list holds at most [`RECOVERY_CODES`]: so every code of a set
/// used at once gets through (three tries refused two of five used together, counting
/// each as a failed guess toward the lockout; found by the 2026-12-04 concurrency review).
const SPEND_TRIES: usize = RECOVERY_CODES + 1;

/// A code that is good on the user item as read: what using it up writes, and the
/// condition that keeps it good until that write.
struct Spend {
    writes: Update,
    cond: Condition,
}

/// `None`: `code` is wrong, or already used, on `user` as read. A TOTP step is recorded
/// (the step must be later than any accepted before); a recovery code is removed from
/// the list, conditional on the list being the one read, so one code cannot be used
/// twice concurrently.
fn spend(user: &User, code: &MfaCode, now: i64) -> AuthResult<Option<Spend>> {
    let key = users::key_of(user)?;
    match code {
        MfaCode::Totp(code) => {
            let Some(stored) = user.totp_secret.as_deref() else {
                return Ok(None);
            };
            let secret = TotpSecret::parse(stored)
                .ok_or_else(|| AuthError::Internal("stored TOTP secret is not base32".into()))?;
            Ok(secret
                .matching_step(code, now, user.totp_last_step)
                .map(|step| Spend {
                    writes: Update::new(key).set(LAST_STEP, step),
                    cond: Condition::eq(SECRET, stored).and(step_unused(step)),
                }))
        }
        MfaCode::Recovery(code) => {
            let Some(left) = without(&user.recovery_codes, &code.hash()) else {
                return Ok(None);
            };
            Ok(Some(Spend {
                writes: Update::new(key).set(RECOVERY, hashes(&left)),
                cond: Condition::eq(RECOVERY, hashes(&user.recovery_codes))
                    .and(Condition::exists(SECRET)),
            }))
        }
    }
}

/// `stored` without `hash`, or `None` when it is not there. Every stored hash is compared
/// in constant time, and all of them whatever matches (the time tells nothing about which
/// code, if any, was right).
fn without(stored: &[String], hash: &str) -> Option<Vec<String>> {
    let mut found = false;
    let mut left = Vec::with_capacity(stored.len());
    for h in stored {
        if shared::ids::secure_eq(h.as_bytes(), hash.as_bytes()) {
            found = true;
        } else {
            left.push(h.clone());
        }
    }
    found.then_some(left)
}

/// After a spend's condition failed: a TOTP code stays refused (its step was used, or the
/// secret changed), while another recovery code used at the same moment changes the list,
/// so a recovery code is tried again on the user read afresh (a few times; it is a user
/// typing). `None`: give up.
async fn reread(store: &dyn Store, user: &User, code: &MfaCode) -> AuthResult<Option<User>> {
    match code {
        MfaCode::Totp(_) => Ok(None),
        MfaCode::Recovery(_) => users::get(store, &crate::signin::tenant_of(user)?, &user.id).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(hashes: &[&str]) -> Vec<String> {
        hashes.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn a_stored_recovery_code_is_removed_and_the_others_stay_in_order() {
        let stored = list(&["aa", "bb", "cc"]);
        assert_eq!(without(&stored, "bb"), Some(list(&["aa", "cc"])));
        assert_eq!(without(&stored, "aa"), Some(list(&["bb", "cc"])));
        assert_eq!(without(&list(&["aa"]), "aa"), Some(vec![]));
    }

    #[test]
    fn a_recovery_code_not_stored_is_refused() {
        assert_eq!(without(&list(&["aa", "bb"]), "ab"), None);
        assert_eq!(without(&list(&["aa", "bb"]), "aab"), None);
        assert_eq!(without(&[], "aa"), None);
    }
}
