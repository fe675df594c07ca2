//! A user's TOTP state on the user record: the pending secret, the confirmed secret,
//! the last accepted time step and the recovery-code hashes. Every write is conditional
//! on the state it was decided on, so two concurrent requests never both use one code.

use shared::store::{Condition, Store, StoreError, Update, Value};

use super::users;
use crate::{
    domain::{
        User,
        totp::{MfaCode, TotpSecret},
    },
    error::{AuthError, AuthResult},
};

const SECRET: &str = "totp_secret";
const PENDING: &str = "totp_pending_secret";
const LAST_STEP: &str = "totp_last_step";
const RECOVERY: &str = "recovery_codes";

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
) -> AuthResult<Option<User>> {
    let upd = Update::new(users::key_of(user)?)
        .set(SECRET, pending)
        .set(LAST_STEP, step)
        .set(RECOVERY, hashes(recovery_hashes))
        .remove(PENDING);
    let cond = Condition::eq(PENDING, pending)
        .and(Condition::not_exists(SECRET))
        .and(step_unused(step));
    update_if(store, upd, cond).await
}

/// Removes every TOTP trace, if the secret is still the one the code was checked against.
pub async fn disable(store: &dyn Store, user: &User, secret: &str) -> AuthResult<Option<User>> {
    let upd = Update::new(users::key_of(user)?)
        .set(RECOVERY, Value::L(Vec::new()))
        .remove(SECRET)
        .remove(PENDING)
        .remove(LAST_STEP);
    update_if(store, upd, Condition::eq(SECRET, secret)).await
}

/// Checks `code` against the enabled TOTP secret or the unused recovery codes, and uses
/// it up: the TOTP step is recorded, the recovery code removed. True when it was good.
pub async fn use_code(
    store: &dyn Store,
    user: &User,
    code: &MfaCode,
    now: i64,
) -> AuthResult<bool> {
    match code {
        MfaCode::Totp(code) => {
            let Some(stored) = user.totp_secret.as_deref() else {
                return Ok(false);
            };
            let secret = TotpSecret::parse(stored)
                .ok_or_else(|| AuthError::Internal("stored TOTP secret is not base32".into()))?;
            let Some(step) = secret.matching_step(code, now, user.totp_last_step) else {
                return Ok(false);
            };
            let upd = Update::new(users::key_of(user)?).set(LAST_STEP, step);
            let cond = Condition::eq(SECRET, stored).and(step_unused(step));
            Ok(update_if(store, upd, cond).await?.is_some())
        }
        MfaCode::Recovery(code) => use_recovery(store, user.clone(), &code.hash()).await,
    }
}

/// Removes one recovery-code hash, conditional on the list being the one read, so the
/// same code cannot be used twice concurrently. Another code used at the same moment
/// changes the list: re-read and try again (a few times; it is a user typing).
async fn use_recovery(store: &dyn Store, mut user: User, hash: &str) -> AuthResult<bool> {
    for _ in 0..3 {
        if !user.recovery_codes.iter().any(|h| h == hash) {
            return Ok(false);
        }
        let left: Vec<String> = user
            .recovery_codes
            .iter()
            .filter(|h| *h != hash)
            .cloned()
            .collect();
        let upd = Update::new(users::key_of(&user)?).set(RECOVERY, hashes(&left));
        let cond =
            Condition::eq(RECOVERY, hashes(&user.recovery_codes)).and(Condition::exists(SECRET));
        if update_if(store, upd, cond).await?.is_some() {
            return Ok(true);
        }
        let tenant = crate::signin::tenant_of(&user)?;
        match users::get(store, &tenant, &user.id).await? {
            Some(fresh) => user = fresh,
            None => return Ok(false),
        }
    }
    Ok(false)
}
