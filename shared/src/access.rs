//! Roles, plan tiers and features (API-CONVENTIONS.md "Roles", "Plan tiers and features"),
//! and the per-route guards [`RequireRole`] and [`RequireFeature`].

use std::{marker::PhantomData, ops::Deref};

use axum::extract::FromRequestParts;
use http::{StatusCode, request::Parts};
use serde_json::json;

use crate::{auth::Claims, error::ApiError};

/// `user` < `organizer` < `admin` inside a tenant; `partner` is user-level with
/// partner-scoped reads; `system` is the platform role and passes every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Partner,
    Organizer,
    Admin,
    System,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "user" => Some(Role::User),
            "partner" => Some(Role::Partner),
            "organizer" => Some(Role::Organizer),
            "admin" => Some(Role::Admin),
            "system" => Some(Role::System),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Partner => "partner",
            Role::Organizer => "organizer",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }
    fn rank(self) -> u8 {
        match self {
            Role::User | Role::Partner => 1,
            Role::Organizer => 2,
            Role::Admin => 3,
            Role::System => 4,
        }
    }
    /// Does holding `self` grant what `least` requires?
    pub fn satisfies(self, least: Role) -> bool {
        match least {
            // Partner-scoped routes are for partners (and the platform), not for every admin.
            Role::Partner => matches!(self, Role::Partner | Role::System),
            _ => self.rank() >= least.rank(),
        }
    }
}

/// Plan tiers in order; `BASE` = `STUDENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanTier {
    Base,
    Student,
    Startup,
    Pro,
    ProMax,
    Enterprise,
}

impl PlanTier {
    /// Case-insensitive, with the aliases the guides use; unknown means BASE.
    pub fn parse(s: &str) -> PlanTier {
        match s.trim().to_ascii_lowercase().as_str() {
            "student" => PlanTier::Student,
            "startup" => PlanTier::Startup,
            "pro" | "professional" => PlanTier::Pro,
            "promax" | "pro_max" | "pro-max" => PlanTier::ProMax,
            "enterprise" => PlanTier::Enterprise,
            _ => PlanTier::Base,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PlanTier::Base => "BASE",
            PlanTier::Student => "STUDENT",
            PlanTier::Startup => "STARTUP",
            PlanTier::Pro => "PRO",
            PlanTier::ProMax => "PROMAX",
            PlanTier::Enterprise => "ENTERPRISE",
        }
    }
    pub fn level(self) -> u8 {
        match self {
            PlanTier::Base | PlanTier::Student => 0,
            PlanTier::Startup => 1,
            PlanTier::Pro => 2,
            PlanTier::ProMax => 3,
            PlanTier::Enterprise => 4,
        }
    }
    pub fn at_least(self, other: PlanTier) -> bool {
        self.level() >= other.level()
    }
    /// How far back analytics may look (`None`: unlimited).
    pub fn max_range_days(self) -> Option<u32> {
        match self.level() {
            0 => Some(7),
            1 => Some(30),
            2 | 3 => Some(365),
            _ => None,
        }
    }
}

macro_rules! features {
    ($($variant:ident => $name:literal, $tier:ident;)*) => {
        /// Plan-gated features and the least tier that unlocks each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Feature { $($variant),* }

        impl Feature {
            pub const ALL: &'static [Feature] = &[$(Feature::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(Feature::$variant => $name),* }
            }
            pub fn required_tier(self) -> PlanTier {
                match self { $(Feature::$variant => PlanTier::$tier),* }
            }
        }

        /// Marker types naming a feature in a handler signature: `RequireFeature<features::Heatmaps>`.
        pub mod features {
            $(
                pub struct $variant;
                impl super::FeatureRequirement for $variant {
                    const FEATURE: super::Feature = super::Feature::$variant;
                }
            )*
        }
    };
}

features! {
    BasicMetrics => "basic_metrics", Base;
    PublicStats => "public_stats", Base;
    EntityDashboards => "entity_dashboards", Startup;
    EngagementMetrics => "engagement_metrics", Startup;
    SearchAnalytics => "search_analytics", Startup;
    // Texts cost money per message, and free tenants are founded by anyone: SMS to any
    // number from them is toll-fraud bait (notify).
    Sms => "sms", Startup;
    Comparisons => "comparisons", Pro;
    Forecasts => "forecasts", Pro;
    AiInsights => "ai_insights", Pro;
    CustomReports => "custom_reports", Pro;
    TrendAnalysis => "trend_analysis", Pro;
    MlPredictions => "ml_predictions", ProMax;
    ScheduledReports => "scheduled_reports", ProMax;
    Recommendations => "recommendations", ProMax;
    UnlimitedReports => "unlimited_reports", ProMax;
    Heatmaps => "heatmaps", Enterprise;
    CustomSql => "custom_sql", Enterprise;
    RealtimeAnalytics => "realtime_analytics", Enterprise;
}

impl Feature {
    /// 403 SUBSCRIPTION_REQUIRED `{requiredTier, currentTier, feature}` unless `plan` unlocks it.
    pub fn check(self, plan: PlanTier) -> Result<(), ApiError> {
        let required = self.required_tier();
        if plan.at_least(required) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "SUBSCRIPTION_REQUIRED",
            format!("{} requires the {} plan", self.name(), required.as_str()),
        )
        .with_details(json!({
            "requiredTier": required.as_str(),
            "currentTier": plan.as_str(),
            "feature": self.name(),
        })))
    }
}

pub trait RoleRequirement {
    const ROLE: Role;
}
pub trait FeatureRequirement {
    const FEATURE: Feature;
}

/// Marker types naming the least role in a handler signature: `RequireRole<roles::Admin>`.
pub mod roles {
    macro_rules! role {
        ($($t:ident),*) => {$(
            pub struct $t;
            impl super::RoleRequirement for $t {
                const ROLE: super::Role = super::Role::$t;
            }
        )*};
    }
    role!(User, Partner, Organizer, Admin, System);
}

/// Extractor: a verified caller holding at least role `R` (else 401 / 403 FORBIDDEN).
pub struct RequireRole<R>(pub Claims, PhantomData<R>);

impl<R> Deref for RequireRole<R> {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<S: Send + Sync, R: RoleRequirement> FromRequestParts<S> for RequireRole<R> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let claims = Claims::from_request_parts(parts, state).await?;
        claims.require_role(R::ROLE)?;
        Ok(RequireRole(claims, PhantomData))
    }
}

/// Extractor: a verified caller whose plan unlocks feature `F` (else 401 / 403 SUBSCRIPTION_REQUIRED).
pub struct RequireFeature<F>(pub Claims, PhantomData<F>);

impl<F> Deref for RequireFeature<F> {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<S: Send + Sync, F: FeatureRequirement> FromRequestParts<S> for RequireFeature<F> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let claims = Claims::from_request_parts(parts, state).await?;
        claims.require_feature(F::FEATURE)?;
        Ok(RequireFeature(claims, PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_case_insensitively_with_aliases_and_default_to_base() {
        assert_eq!(PlanTier::parse("professional"), PlanTier::Pro);
        assert_eq!(PlanTier::parse("PRO_MAX"), PlanTier::ProMax);
        assert_eq!(PlanTier::parse("promax"), PlanTier::ProMax);
        assert_eq!(PlanTier::parse("Enterprise"), PlanTier::Enterprise);
        assert_eq!(PlanTier::parse("gold"), PlanTier::Base);
        assert_eq!(PlanTier::parse(""), PlanTier::Base);
        assert!(
            PlanTier::Student.at_least(PlanTier::Base)
                && PlanTier::Base.at_least(PlanTier::Student)
        );
    }

    #[test]
    fn features_unlock_cumulatively() {
        assert!(Feature::Heatmaps.check(PlanTier::Enterprise).is_ok());
        assert!(Feature::Comparisons.check(PlanTier::ProMax).is_ok());
        let e = Feature::Heatmaps.check(PlanTier::Pro).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(e.name, "SUBSCRIPTION_REQUIRED");
        assert_eq!(
            *e.details.unwrap(),
            json!({"requiredTier": "ENTERPRISE", "currentTier": "PRO", "feature": "heatmaps"})
        );
    }

    #[test]
    fn the_role_hierarchy_is_user_organizer_admin_and_partner_is_separate() {
        assert!(Role::Admin.satisfies(Role::Organizer));
        assert!(Role::Organizer.satisfies(Role::User));
        assert!(!Role::User.satisfies(Role::Organizer));
        assert!(Role::Partner.satisfies(Role::User));
        assert!(!Role::Partner.satisfies(Role::Organizer));
        assert!(!Role::Admin.satisfies(Role::Partner));
        assert!(Role::System.satisfies(Role::Admin));
    }

    #[test]
    fn analytics_ranges_follow_the_tier() {
        assert_eq!(PlanTier::Base.max_range_days(), Some(7));
        assert_eq!(PlanTier::Startup.max_range_days(), Some(30));
        assert_eq!(PlanTier::Pro.max_range_days(), Some(365));
        assert_eq!(PlanTier::Enterprise.max_range_days(), None);
    }
}
