//! One-time tokens (email verification, password reset, magic link, invite, MFA
//! challenge, OAuth state, WebAuthn challenge): 256-bit random, stored as their SHA-256
//! under `OTT#<hash>` / `<kind>`, expiring, and consumed by a conditional delete so each
//! works exactly once.

use serde_json::Value;
use shared::{
    store::{Condition, Delete, Item, Put, Store, StoreError, attr},
    tenant::TenantId,
};

use crate::error::{AuthError, AuthResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    VerifyEmail,
    PasswordReset,
    MagicLink,
    Invite,
    Mfa,
    OAuthState,
    WebAuthn,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::VerifyEmail => "verify_email",
            Kind::PasswordReset => "password_reset",
            Kind::MagicLink => "magic_link",
            Kind::Invite => "invite",
            Kind::Mfa => "mfa",
            Kind::OAuthState => "oauth_state",
            Kind::WebAuthn => "webauthn",
        }
    }
}

/// What a consumed token was issued for.
#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    pub tenant: Option<TenantId>,
    pub user_id: Option<String>,
    pub data: Value,
}

/// Issues a token valid for `ttl_secs`; returns the token (shown once, e.g. in a mail).
pub async fn issue(
    store: &dyn Store,
    kind: Kind,
    tenant: Option<&TenantId>,
    user_id: Option<&str>,
    data: Value,
    now: i64,
    ttl_secs: i64,
) -> AuthResult<String> {
    let token = shared::ids::random_token();
    let key = super::one_time(kind.as_str(), &shared::ids::sha256_hex(token.as_bytes()));
    let mut item = Item::new(&key)
        .with("data", data.to_string())
        .with(attr::EXPIRES_AT, now + ttl_secs);
    if let Some(t) = tenant {
        item.set("tenant_id", t.to_string());
    }
    if let Some(u) = user_id {
        item.set("user_id", u);
    }
    store
        .put(Put::new(item).when(Condition::item_absent()))
        .await?;
    Ok(token)
}

/// Reads a live token of `kind` without consuming it, to check what it was issued for
/// before work that may still fail (a weak new password must not burn a reset link).
/// Only `redeem` makes it single-use.
pub async fn peek(store: &dyn Store, kind: Kind, token: &str, now: i64) -> AuthResult<Redeemed> {
    if token.is_empty() || token.len() > 256 {
        return Err(AuthError::OneTimeTokenInvalid);
    }
    let key = super::one_time(
        kind.as_str(),
        &shared::ids::sha256_hex(token.trim().as_bytes()),
    );
    match store.get(&key).await? {
        Some(item) if item.get_i64(attr::EXPIRES_AT).is_some_and(|e| e > now) => Ok(Redeemed {
            tenant: item
                .get_s("tenant_id")
                .and_then(|t| TenantId::parse(t).ok()),
            user_id: item.get_s("user_id").map(str::to_owned),
            data: item
                .get_s("data")
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null),
        }),
        _ => Err(AuthError::OneTimeTokenInvalid),
    }
}

/// Consumes a token of `kind`: exactly one caller gets it, and only before it expires.
pub async fn redeem(store: &dyn Store, kind: Kind, token: &str, now: i64) -> AuthResult<Redeemed> {
    if token.is_empty() || token.len() > 256 {
        return Err(AuthError::OneTimeTokenInvalid);
    }
    let key = super::one_time(
        kind.as_str(),
        &shared::ids::sha256_hex(token.trim().as_bytes()),
    );
    let taken = store
        .delete(
            Delete::new(key)
                .when(Condition::item_present().and(Condition::gt(attr::EXPIRES_AT, now))),
        )
        .await;
    let item = match taken {
        Ok(Some(item)) => item,
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => {
            return Err(AuthError::OneTimeTokenInvalid);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Redeemed {
        tenant: item
            .get_s("tenant_id")
            .and_then(|t| TenantId::parse(t).ok()),
        user_id: item.get_s("user_id").map(str::to_owned),
        data: item
            .get_s("data")
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null),
    })
}
