//! What tenant administration accepts: grantable role sets, plan tiers, tenant names and
//! statuses, parsed once at the edge.

use shared::{
    ApiError, FieldError,
    access::{PlanTier, Role},
};

use crate::domain::UserStatus;

/// A non-empty set of roles an admin may grant inside a tenant: `user`, `partner`,
/// `organizer`, `admin`. `system` is the platform's own role; asking for it is an
/// authorization failure (403 FORBIDDEN), not a malformed request: the body is valid,
/// the caller just may not grant it (the design: "cannot grant `system`").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedRoles(Vec<Role>);

impl GrantedRoles {
    pub fn parse(raw: &[String]) -> Result<Self, ApiError> {
        let bad = |issue: String| ApiError::field("roles", issue);
        if raw.is_empty() || raw.len() > 10 {
            return Err(bad("must name 1 to 10 roles".into()));
        }
        let mut roles = Vec::new();
        for name in raw {
            match Role::parse(name.trim()) {
                Some(Role::System) => {
                    return Err(ApiError::forbidden("the system role cannot be granted"));
                }
                Some(role) if !roles.contains(&role) => roles.push(role),
                Some(_) => {}
                None => {
                    return Err(bad(format!(
                        "unknown role '{}'; use user, partner, organizer or admin",
                        name.chars().take(32).collect::<String>()
                    )));
                }
            }
        }
        Ok(GrantedRoles(roles))
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

/// `active` or `suspended` (a user's, in a PATCH or a list filter).
pub fn user_status(field: &str, raw: &str) -> Result<UserStatus, FieldError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "active" => Ok(UserStatus::Active),
        "suspended" => Ok(UserStatus::Suspended),
        _ => Err(FieldError::new(field, "must be 'active' or 'suspended'")),
    }
}

pub fn user_status_name(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "active",
        UserStatus::Suspended => "suspended",
    }
}

/// BASE, STUDENT, STARTUP, PRO, PROMAX or ENTERPRISE, case-insensitive, with the
/// aliases of `PlanTier::parse` (`professional`, `pro_max`); stored by canonical name.
/// Unlike `PlanTier::parse` (lenient for tokens), an unknown name is refused here.
pub fn plan_tier(raw: &str) -> Result<PlanTier, FieldError> {
    let tier = PlanTier::parse(raw);
    if tier == PlanTier::Base && !raw.trim().eq_ignore_ascii_case("base") {
        return Err(FieldError::new(
            "planTier",
            "must be one of BASE, STUDENT, STARTUP, PRO, PROMAX, ENTERPRISE",
        ));
    }
    Ok(tier)
}

/// 1-100 characters, trimmed.
pub fn tenant_name(raw: &str) -> Result<String, FieldError> {
    // Shown to others like a person's name (invite mails name the tenant): the same
    // characters are refused.
    crate::domain::profile::DisplayName::parse(raw).map(String::from)
}

/// A tenant's `active` or `suspended`.
pub fn tenant_status(raw: &str) -> Result<&'static str, FieldError> {
    user_status("status", raw).map(user_status_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Result<GrantedRoles, ApiError> {
        GrantedRoles::parse(&r.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn grantable_roles_are_deduplicated_and_normalised() {
        assert_eq!(
            roles(&["Admin", "user", "admin"]).unwrap().names(),
            ["admin", "user"]
        );
    }

    #[test]
    fn granting_system_is_forbidden_and_unknown_roles_name_the_field() {
        assert_eq!(roles(&["user", "system"]).unwrap_err().name, "FORBIDDEN");
        for bad in [&["root"][..], &[]] {
            let e = roles(bad).unwrap_err();
            assert_eq!(e.name, "VALIDATION");
            assert_eq!(e.details.unwrap()["fields"][0]["field"], "roles");
        }
    }

    #[test]
    fn plan_tiers_accept_aliases_and_refuse_unknown_names() {
        assert_eq!(plan_tier("professional").unwrap().as_str(), "PRO");
        assert_eq!(plan_tier("pro_max").unwrap().as_str(), "PROMAX");
        assert_eq!(plan_tier(" base ").unwrap().as_str(), "BASE");
        assert_eq!(plan_tier("gold").unwrap_err().field, "planTier");
        assert_eq!(plan_tier("").unwrap_err().field, "planTier");
    }

    #[test]
    fn statuses_and_names_are_checked() {
        assert_eq!(
            user_status("status", "SUSPENDED").unwrap(),
            UserStatus::Suspended
        );
        assert!(user_status("status", "deleted").is_err());
        assert_eq!(tenant_name("  Acme  ").unwrap(), "Acme");
        assert!(tenant_name(" ").is_err());
        assert!(tenant_name(&"x".repeat(101)).is_err());
    }
}
