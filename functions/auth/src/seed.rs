//! The staging tenants and accounts of API-CONVENTIONS.md ("Staging accounts"), so the
//! seed guides' curl works as written. Written by the local gateway at start and by the
//! explicit seed command for a dev stage — never implicitly by a deployed function.
//! Existing records are left as they are: re-seeding never undoes an API change.

use shared::{store::Store, tenant::TenantId};

use crate::{
    domain::{Password, PasswordHasher, User},
    error::{AuthError, AuthResult},
    repo::{tenants, tenants::Tenant, users},
};

pub const T1: &str = "a0000001-0000-0000-0000-000000000001";
pub const T3: &str = "a0000003-0000-0000-0000-000000000003";
pub const SYSTEM: &str = "00000000-0000-0000-0000-000000000000";
/// All staging passwords.
pub const PASSWORD: &str = "Password123!";
/// dev@eventzr.com's TOTP secret, documented for testers.
pub const DEV_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

pub struct StagingTenant {
    pub id: &'static str,
    pub name: &'static str,
    pub plan: &'static str,
}

pub const STAGING_TENANTS: [StagingTenant; 3] = [
    StagingTenant {
        id: T1,
        name: "EventZR",
        plan: "ENTERPRISE",
    },
    StagingTenant {
        id: T3,
        name: "StartupCo",
        plan: "STARTUP",
    },
    StagingTenant {
        id: SYSTEM,
        name: "EventZR Platform",
        plan: "ENTERPRISE",
    },
];

pub struct StagingAccount {
    pub id: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub roles: &'static [&'static str],
    pub tenant: &'static str,
    pub totp: bool,
}

pub const STAGING_ACCOUNTS: [StagingAccount; 7] = [
    StagingAccount {
        id: "b0000001-0000-4000-8000-000000000001",
        email: "partner@eventzr.com",
        name: "Partner",
        roles: &["partner"],
        tenant: T1,
        totp: false,
    },
    StagingAccount {
        id: "b0000001-0000-4000-8000-000000000002",
        email: "user@eventzr.com",
        name: "User",
        roles: &["user"],
        tenant: T1,
        totp: false,
    },
    StagingAccount {
        id: "b0000001-0000-4000-8000-000000000003",
        email: "organizer@eventzr.com",
        name: "Organizer",
        roles: &["organizer"],
        tenant: T1,
        totp: false,
    },
    StagingAccount {
        id: "b0000001-0000-4000-8000-000000000004",
        email: "admin@eventzr.com",
        name: "Admin",
        roles: &["admin"],
        tenant: T1,
        totp: false,
    },
    StagingAccount {
        id: "b0000001-0000-4000-8000-000000000005",
        email: "dev@eventzr.com",
        name: "Developer",
        roles: &["user", "organizer", "admin"],
        tenant: T1,
        totp: true,
    },
    StagingAccount {
        id: "b0000003-0000-4000-8000-000000000001",
        email: "admin@startup.co",
        name: "StartupCo Admin",
        roles: &["admin"],
        tenant: T3,
        totp: false,
    },
    StagingAccount {
        id: "b0000000-0000-4000-8000-000000000001",
        email: "system@eventzr.com",
        name: "Platform",
        roles: &["system"],
        tenant: SYSTEM,
        totp: false,
    },
];

/// What one seeding created.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub tenants: usize,
    pub accounts: usize,
}

/// Creates the staging tenants and accounts that are missing.
pub async fn staging(store: &dyn Store, hasher: &PasswordHasher, now: &str) -> AuthResult<Seeded> {
    let mut seeded = Seeded::default();
    for t in &STAGING_TENANTS {
        let tenant = Tenant {
            id: t.id.into(),
            name: t.name.into(),
            plan_tier: t.plan.into(),
            status: "active".into(),
            strict_sessions: false,
        };
        if tenants::create(store, &tenant).await? {
            seeded.tenants += 1;
        }
    }
    // One hash for all accounts: each still verifies on its own, and seeding stays fast.
    let password = Password::candidate(PASSWORD.into(), "password")
        .map_err(|f| AuthError::Internal(format!("seed password {}", f.issue)))?;
    let hash = hasher.hash(&password)?;
    for a in &STAGING_ACCOUNTS {
        let tenant = TenantId::parse(a.tenant).map_err(|e| AuthError::Internal(e.to_string()))?;
        if users::get(store, &tenant, a.id).await?.is_some() {
            continue;
        }
        let user = User {
            email_verified: true,
            password_hash: Some(hash.clone()),
            totp_secret: a.totp.then(|| DEV_TOTP_SECRET.to_owned()),
            ..User::new(
                a.id.into(),
                a.tenant.into(),
                a.email.into(),
                a.name.into(),
                a.roles.iter().map(|r| r.to_string()).collect(),
                now,
            )
        };
        match users::create(store, &user).await {
            Ok(()) => seeded.accounts += 1,
            Err(AuthError::EmailTaken) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(seeded)
}
