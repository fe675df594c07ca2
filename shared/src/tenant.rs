//! Tenant identity. Every stored key starts with a [`TenantId`] (see `store::Key::tenant`),
//! and the id always comes from the verified token, never from a body.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A tenant's id (a UUID). Private field: built by parsing, from a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(Uuid);

impl TenantId {
    /// The platform's own tenant, home of the `system` role.
    pub const SYSTEM: TenantId = TenantId(Uuid::nil());

    pub fn parse(s: &str) -> Result<Self, InvalidTenantId> {
        Uuid::parse_str(s.trim())
            .map(TenantId)
            .map_err(|_| InvalidTenantId)
    }
    pub fn from_uuid(id: Uuid) -> Self {
        TenantId(id)
    }
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
    pub fn is_system(&self) -> bool {
        self.0.is_nil()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hyphenated lowercase: the form keys and claims use.
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for TenantId {
    type Err = InvalidTenantId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a tenant UUID")]
pub struct InvalidTenantId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_hyphenated_lowercase_form() {
        let t = TenantId::parse("A0000001-0000-0000-0000-000000000001").unwrap();
        assert_eq!(t.to_string(), "a0000001-0000-0000-0000-000000000001");
    }

    #[test]
    fn rejects_what_is_not_a_uuid() {
        assert_eq!(TenantId::parse("T1"), Err(InvalidTenantId));
        assert_eq!(TenantId::parse(""), Err(InvalidTenantId));
    }

    #[test]
    fn the_system_tenant_is_the_nil_uuid() {
        assert!(
            TenantId::parse("00000000-0000-0000-0000-000000000000")
                .unwrap()
                .is_system()
        );
    }
}

/// Extractor: the tenant a verified request acts on (see `Claims::tenant`), for handlers
/// that need only the tenant. Rejects like `Claims` (401 without a valid token, 403 on an
/// `x-tenant-id` mismatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant(pub TenantId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Tenant {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let claims = crate::auth::Claims::from_request_parts(parts, state).await?;
        Ok(Tenant(claims.tenant()))
    }
}
