//! auth-svc's own settings (beyond shared::config).

use std::env;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The private key set secret (readable by auth functions only).
    pub private_keys_secret_id: String,
    /// Where links in mail point (the front end), e.g. `https://app.eventzr.com`.
    pub link_base_url: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// A concurrent duplicate refresh inside this window gets the pair already issued.
    pub refresh_grace_secs: i64,
    pub session_limit: usize,
    /// WebAuthn relying party id (the site's registrable domain) and the origin the
    /// browser reports, e.g. `eventzr.com` / `https://app.eventzr.com`.
    pub webauthn_rp_id: String,
    pub webauthn_origin: String,
    /// OAuth providers (none configured locally) and extra allowed redirect URIs.
    pub oauth: crate::oauth::OAuthConfig,
}

impl AuthConfig {
    pub fn local() -> Self {
        AuthConfig {
            private_keys_secret_id: "local/eventzr/jwt-private-keys".into(),
            link_base_url: "http://127.0.0.1:3000".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 7 * 24 * 3600,
            refresh_grace_secs: 10,
            session_limit: 10,
            webauthn_rp_id: "localhost".into(),
            webauthn_origin: "http://localhost:3000".into(),
            oauth: Default::default(),
        }
    }

    pub fn from_env() -> Result<Self, String> {
        let local = Self::local();
        Ok(AuthConfig {
            // Only the route groups that sign tokens get the id (template.yaml grants
            // exactly those to read it); elsewhere it is empty and never read.
            private_keys_secret_id: env::var("JWT_PRIVATE_KEYS_SECRET_ID").unwrap_or_default(),
            link_base_url: env::var("LINK_BASE_URL").unwrap_or(local.link_base_url),
            webauthn_rp_id: env::var("WEBAUTHN_RP_ID").unwrap_or(local.webauthn_rp_id),
            webauthn_origin: env::var("WEBAUTHN_ORIGIN").unwrap_or(local.webauthn_origin),
            oauth: crate::oauth::OAuthConfig::from_env(),
            ..local
        })
    }
}
