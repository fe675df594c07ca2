//! Route groups: each service's routes are split into groups, one Lambda function each
//! (template.yaml sets `ROUTE_GROUP`). A function builds only its own group's routes:
//! API Gateway sends it nothing else and its IAM allows nothing else, while building a
//! whole service's routers is a measurable share of a cold start (auth: ~0.5 ms for all
//! its routes, 0.1-0.25 ms for one group's; BENCHMARKS.md).
//! Without `ROUTE_GROUP` (the local gateway, `cargo lambda watch`, tests) every group is
//! served.

use axum::Router;

use crate::config::ConfigError;

/// A service's `ROUTE_GROUPS`: each group's name and its (METHOD, path) routes.
pub type RouteGroups = [(&'static str, &'static [(&'static str, &'static str)])];

/// Builds one group's routes (on the service's state, before it is applied).
pub type GroupRouter<S> = fn(&S) -> Router<S>;

/// The group whose routes `health_group` serves, in every service.
pub const HEALTH: &str = "health";

/// The group this function serves: `ROUTE_GROUP`, which must name one of `groups`;
/// None when it is unset or blank (every group).
pub fn from_env(groups: &RouteGroups) -> Result<Option<&'static str>, ConfigError> {
    pick(std::env::var("ROUTE_GROUP").ok().as_deref(), groups)
}

fn pick(value: Option<&str>, groups: &RouteGroups) -> Result<Option<&'static str>, ConfigError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match groups.iter().find(|(name, _)| *name == value) {
        Some((name, _)) => Ok(Some(name)),
        None => Err(ConfigError::new(format!(
            "ROUTE_GROUP={value} is none of this service's route groups ({})",
            groups
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Whether a function serving `only` (None: every group) serves `group`.
pub fn serves(only: Option<&str>, group: &str) -> bool {
    only.is_none_or(|g| g == group)
}

/// The routers of the groups a function serves, merged (the health group's is the
/// caller's: it comes with its state applied).
pub fn merge<S: Clone + Send + Sync + 'static>(
    only: Option<&str>,
    state: &S,
    routers: &[(&str, GroupRouter<S>)],
) -> Router<S> {
    routers
        .iter()
        .filter(|(group, _)| serves(only, group))
        .fold(Router::new(), |all, (_, build)| all.merge(build(state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &RouteGroups = &[
        (HEALTH, &[("GET", "/x/v1/health")]),
        ("send", &[("POST", "/x/v1/send")]),
    ];

    #[test]
    fn an_unset_or_blank_group_serves_everything_and_a_known_one_itself() {
        assert_eq!(pick(None, GROUPS).unwrap(), None);
        assert_eq!(pick(Some("  "), GROUPS).unwrap(), None);
        assert_eq!(pick(Some("send"), GROUPS).unwrap(), Some("send"));
        assert!(serves(None, "send") && serves(Some("send"), "send"));
        assert!(!serves(Some(HEALTH), "send"));
    }

    #[test]
    fn an_unknown_group_is_a_configuration_error_naming_the_known_ones() {
        let e = pick(Some("sned"), GROUPS).unwrap_err().to_string();
        assert_eq!(
            e,
            "configuration: ROUTE_GROUP=sned is none of this service's route groups \
             (health, send)"
        );
    }
}
