//! Typed settings from the environment, read once at cold start.

use std::env;

/// Default body limit (API-CONVENTIONS.md: 256 KiB unless a route says otherwise).
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `local`, `dev`, `staging`, `prod`.
    pub stage: String,
    /// This function's table (`TABLE_NAME`); defaults to `<stage>-<service>`.
    pub table_name: Option<String>,
    pub jwt_public_keys_secret_id: String,
    pub cursor_secret_id: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// CORS origins; `*` allows any (no credentials are used: bearer tokens only).
    pub allowed_origins: Vec<String>,
    pub mail_sender: String,
    pub body_limit: usize,
    /// Idempotency records stay INPROGRESS this long when no Lambda deadline is known.
    pub in_progress_secs: i64,
    /// The stage's public API URL (`PUBLIC_API_URL`), listed as a server in the OpenAPI
    /// documents after the relative `/` (the origin that served the document).
    pub public_api_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn new(message: String) -> Self {
        ConfigError(message)
    }
}

impl Config {
    /// Settings for the local gateway and tests.
    pub fn local() -> Self {
        Config {
            stage: "local".into(),
            table_name: None,
            jwt_public_keys_secret_id: "local/eventzr/jwt-public-keys".into(),
            cursor_secret_id: "local/eventzr/cursor-key".into(),
            jwt_issuer: "https://auth.eventzr.com".into(),
            jwt_audience: "https://api.eventzr.com".into(),
            allowed_origins: vec!["*".into()],
            mail_sender: "no-reply@eventzr.com".into(),
            body_limit: DEFAULT_BODY_LIMIT,
            in_progress_secs: 30,
            public_api_url: None,
        }
    }

    /// Settings of a deployed function (template.yaml sets these).
    pub fn from_env() -> Result<Self, ConfigError> {
        let req = |k: &str| env::var(k).map_err(|_| ConfigError(format!("{k} is not set")));
        let opt = |k: &str| env::var(k).ok().filter(|v| !v.trim().is_empty());
        let local = Config::local();
        let stage = req("STAGE")?;
        Ok(Config {
            table_name: opt("TABLE_NAME"),
            jwt_public_keys_secret_id: req("JWT_PUBLIC_KEYS_SECRET_ID")?,
            cursor_secret_id: req("CURSOR_SECRET_ID")?,
            jwt_issuer: opt("JWT_ISSUER").unwrap_or(local.jwt_issuer),
            jwt_audience: opt("JWT_AUDIENCE").unwrap_or(local.jwt_audience),
            allowed_origins: opt("ALLOWED_ORIGINS")
                .map(|v| parse_list(&v))
                .unwrap_or_default(),
            mail_sender: opt("SES_SENDER_IDENTITY").unwrap_or(local.mail_sender),
            body_limit: match opt("BODY_LIMIT_BYTES") {
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError("BODY_LIMIT_BYTES must be a number".into()))?,
                None => DEFAULT_BODY_LIMIT,
            },
            in_progress_secs: local.in_progress_secs,
            public_api_url: opt("PUBLIC_API_URL"),
            stage,
        })
    }

    /// The table of `service` in this stage.
    pub fn table_for(&self, service: crate::service::Service) -> String {
        self.table_name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.stage, service.slug()))
    }
}

fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_lists_ignore_blanks_and_spaces() {
        assert_eq!(
            parse_list(" https://a.io, ,https://b.io "),
            vec!["https://a.io", "https://b.io"]
        );
    }

    #[test]
    fn tables_default_to_stage_dash_service() {
        assert_eq!(
            Config::local().table_for(crate::service::Service::Search),
            "local-search"
        );
    }
}
