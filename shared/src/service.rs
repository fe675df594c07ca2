//! Which service is answering: picks the `ERR_<SVC>_` prefix and `meta.service`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Auth,
    Analytics,
    Reports,
    Notify,
    Search,
    /// The local gateway itself (paths outside every service).
    Gateway,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Auth,
        Service::Analytics,
        Service::Reports,
        Service::Notify,
        Service::Search,
    ];

    /// Path segment and table suffix: `auth`, `analytics`, …
    pub fn slug(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Analytics => "analytics",
            Service::Reports => "reports",
            Service::Notify => "notify",
            Service::Search => "search",
            Service::Gateway => "gateway",
        }
    }
    /// `meta.service`: `auth-svc`, …
    pub fn name(self) -> &'static str {
        match self {
            Service::Auth => "auth-svc",
            Service::Analytics => "analytics-svc",
            Service::Reports => "reports-svc",
            Service::Notify => "notify-svc",
            Service::Search => "search-svc",
            Service::Gateway => "gateway",
        }
    }
    /// The `<SVC>` of `ERR_<SVC>_<NAME>`.
    pub fn code(self) -> &'static str {
        match self {
            Service::Auth => "AUTH",
            Service::Analytics => "ANALYTICS",
            Service::Reports => "REPORTS",
            Service::Notify => "NOTIFY",
            Service::Search => "SEARCH",
            Service::Gateway => "GATEWAY",
        }
    }
    /// `/<svc>/v1`
    pub fn base_path(self) -> String {
        format!("/{}/v1", self.slug())
    }
    /// The service owning a request path, by its first segment.
    pub fn for_path(path: &str) -> Option<Service> {
        let first = path.trim_start_matches('/').split('/').next()?;
        Service::ALL.into_iter().find(|s| s.slug() == first)
    }
    /// Search requires `x-tenant-id` on every authenticated route (API-CONVENTIONS.md).
    pub fn requires_tenant_header(self) -> bool {
        self == Service::Search
    }
    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|x| x.slug() == s)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
