//! Access-token claims: the wire form auth-svc signs, and the verified form handlers see.

use serde::{Deserialize, Serialize};

use crate::{
    access::{Feature, PlanTier, Role},
    error::ApiError,
    tenant::TenantId,
};

/// The JWT payload as signed (API-CONVENTIONS.md "JWT").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub sub: String,
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(rename = "planTier", default)]
    pub plan_tier: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iss: String,
    pub aud: String,
    #[serde(default)]
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// A verified caller. `tenant()` is the tenant the request acts on: the token's own,
/// or — for the `system` role only — the one named by `x-tenant-id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub plan: PlanTier,
    pub session_id: Option<String>,
    pub token_id: String,
    /// `iat`: when the token was issued (epoch seconds).
    pub issued_at: i64,
    pub expires_at: i64,
    home_tenant: TenantId,
    acting_tenant: TenantId,
}

impl Claims {
    pub(crate) fn from_token(t: TokenClaims) -> Result<Self, ()> {
        let tenant = TenantId::parse(&t.tenant_id).map_err(|_| ())?;
        if t.sub.is_empty() {
            return Err(());
        }
        Ok(Claims {
            sub: t.sub,
            email: t.email,
            roles: t.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            plan: PlanTier::parse(&t.plan_tier),
            session_id: t.sid,
            token_id: t.jti,
            issued_at: t.iat,
            expires_at: t.exp,
            home_tenant: tenant,
            acting_tenant: tenant,
        })
    }

    /// The tenant this request acts on (keys are built from it).
    pub fn tenant(&self) -> TenantId {
        self.acting_tenant
    }
    /// The tenant the token was issued for.
    pub fn home_tenant(&self) -> TenantId {
        self.home_tenant
    }
    pub(crate) fn act_on(&mut self, tenant: TenantId) {
        self.acting_tenant = tenant;
    }

    pub fn has_role(&self, least: Role) -> bool {
        self.roles.iter().any(|r| r.satisfies(least))
    }
    /// 403 FORBIDDEN unless the caller holds `least` (or a higher role).
    pub fn require_role(&self, least: Role) -> Result<(), ApiError> {
        if self.has_role(least) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "requires the {} role",
                least.as_str()
            )))
        }
    }
    /// 403 SUBSCRIPTION_REQUIRED unless the caller's plan unlocks `feature`.
    pub fn require_feature(&self, feature: Feature) -> Result<(), ApiError> {
        feature.check(self.plan)
    }
}
