//! The user record as stored, and the view clients see (never a secret in it).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Suspended,
}

/// One user, stored at `T#<tenant>#USER#<id>` / `PROFILE`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    #[serde(default)]
    pub username: Option<String>,
    pub name: String,
    pub roles: Vec<String>,
    pub status: UserStatus,
    pub email_verified: bool,
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// TOTP: base32 secret once confirmed; the last accepted time step (replay guard).
    #[serde(default)]
    pub totp_secret: Option<String>,
    #[serde(default)]
    pub totp_pending_secret: Option<String>,
    #[serde(default)]
    pub totp_last_step: Option<i64>,
    /// SHA-256 of each unused recovery code.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// When the current set of recovery codes was made (epoch seconds; 0 before it was
    /// recorded).
    #[serde(default)]
    pub recovery_codes_at: i64,
    /// Failed logins in the current 15-minute window, its start, and the lock's end.
    #[serde(default)]
    pub failed_logins: i64,
    #[serde(default)]
    pub failure_window_start: i64,
    #[serde(default)]
    pub locked_until: i64,
}

crate::redact::redacted_debug!(User {
    id, tenant_id, email, username, name, roles, status, email_verified, locale, timezone,
    created_at, updated_at, totp_last_step, recovery_codes_at, failed_logins,
    failure_window_start, locked_until
} secret {
    password_hash, totp_secret, totp_pending_secret, recovery_codes
});

impl User {
    /// A new active user with no MFA and no failed logins; fields not given here
    /// (username, password, verification) are set by the caller where they apply.
    pub fn new(
        id: String,
        tenant_id: String,
        email: String,
        name: String,
        roles: Vec<String>,
        now: &str,
    ) -> Self {
        User {
            id,
            tenant_id,
            email,
            username: None,
            name,
            roles,
            status: UserStatus::Active,
            email_verified: false,
            password_hash: None,
            locale: None,
            timezone: None,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            totp_secret: None,
            totp_pending_secret: None,
            totp_last_step: None,
            recovery_codes: Vec::new(),
            recovery_codes_at: 0,
            failed_logins: 0,
            failure_window_start: 0,
            locked_until: 0,
        }
    }

    pub fn mfa_enabled(&self) -> bool {
        self.totp_secret.is_some()
    }
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// What `GET /profile`, admin reads and login return about a user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = "partner@eventzr.com")]
    pub email: String,
    pub username: Option<String>,
    pub name: String,
    /// `user`, `organizer`, `admin`, `partner`, `system`.
    #[schema(example = json!(["partner"]))]
    pub roles: Vec<String>,
    #[schema(format = "uuid", example = "a0000001-0000-0000-0000-000000000001")]
    pub tenant_id: String,
    /// The tenant's plan (`BASE` when the tenant has no record).
    #[schema(example = "ENTERPRISE")]
    pub plan_tier: String,
    pub status: UserStatus,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    /// A BCP 47 language tag, when set.
    pub locale: Option<String>,
    /// An IANA time zone, when set.
    pub timezone: Option<String>,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl UserView {
    pub fn of(user: &User, plan_tier: &str) -> Self {
        UserView {
            id: user.id.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            roles: user.roles.clone(),
            tenant_id: user.tenant_id.clone(),
            plan_tier: plan_tier.to_owned(),
            status: user.status,
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled(),
            locale: user.locale.clone(),
            timezone: user.timezone.clone(),
            created_at: user.created_at.clone(),
        }
    }
}
