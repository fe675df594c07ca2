//! Sign-in with an external identity provider (authorization code + PKCE S256, state,
//! nonce): which providers exist, their endpoints and client credentials (from config, so
//! tests run against a local fake provider), and the outgoing calls to them.

pub mod accounts;
pub mod client;
mod http;

use std::collections::BTreeMap;

/// RFC 7636 S256: `BASE64URL(SHA256(ascii(code_verifier)))`.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The providers the design names. The path segment is the lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Provider {
    Google,
    Github,
    Microsoft,
    Apple,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Google,
        Provider::Github,
        Provider::Microsoft,
        Provider::Apple,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Github => "github",
            Provider::Microsoft => "microsoft",
            Provider::Apple => "apple",
        }
    }
    /// OpenID Connect providers prove the email with a signed id_token; GitHub is plain
    /// OAuth 2.0 and is asked through its API.
    pub fn is_oidc(self) -> bool {
        self != Provider::Github
    }
    pub fn scope(self) -> &'static str {
        match self {
            Provider::Github => "read:user user:email",
            // Apple knows no `profile` scope; `name` is its equivalent.
            Provider::Apple => "openid email name",
            _ => "openid email profile",
        }
    }

    /// The provider's real public endpoints.
    fn endpoints(self, ms_tenant: &str) -> Endpoints {
        let s = |v: &str| v.to_owned();
        match self {
            Provider::Google => Endpoints {
                authorize: s("https://accounts.google.com/o/oauth2/v2/auth"),
                token: s("https://oauth2.googleapis.com/token"),
                jwks_uri: s("https://www.googleapis.com/oauth2/v3/certs"),
                // Google documents both forms of its issuer.
                issuers: vec![s("https://accounts.google.com"), s("accounts.google.com")],
                api: String::new(),
            },
            Provider::Github => Endpoints {
                authorize: s("https://github.com/login/oauth/authorize"),
                token: s("https://github.com/login/oauth/access_token"),
                jwks_uri: String::new(),
                issuers: vec![],
                api: s("https://api.github.com"),
            },
            Provider::Microsoft => {
                let base = format!("https://login.microsoftonline.com/{ms_tenant}");
                Endpoints {
                    authorize: format!("{base}/oauth2/v2.0/authorize"),
                    token: format!("{base}/oauth2/v2.0/token"),
                    jwks_uri: format!("{base}/discovery/v2.0/keys"),
                    // Multi-tenant apps: the issuer names the user's directory (`tid`).
                    issuers: vec![s("https://login.microsoftonline.com/{tenantid}/v2.0")],
                    api: String::new(),
                }
            }
            Provider::Apple => Endpoints {
                authorize: s("https://appleid.apple.com/auth/authorize"),
                token: s("https://appleid.apple.com/auth/token"),
                jwks_uri: s("https://appleid.apple.com/auth/keys"),
                issuers: vec![s("https://appleid.apple.com")],
                api: String::new(),
            },
        }
    }
}

/// Where a provider is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    /// OIDC: the key set the id_token must be signed with, and the accepted `iss` values
    /// (`{tenantid}` stands for the token's `tid`, Microsoft's multi-tenant issuer).
    pub jwks_uri: String,
    pub issuers: Vec<String>,
    /// GitHub: the REST API base (`/user`, `/user/emails`).
    pub api: String,
}

impl Endpoints {
    /// Every endpoint under one base URL (a local fake provider, a proxy).
    pub fn at_base(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Endpoints {
            authorize: format!("{base}/authorize"),
            token: format!("{base}/token"),
            jwks_uri: format!("{base}/jwks"),
            issuers: vec![base.to_owned()],
            api: base.to_owned(),
        }
    }
}

/// The client secret, or the id of the secret holding it (Secrets Manager in AWS).
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecret {
    Value(String),
    SecretId(String),
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientSecret::Value(_) => f.write_str("ClientSecret::Value(<redacted>)"),
            ClientSecret::SecretId(id) => write!(f, "ClientSecret::SecretId({id})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub client_secret: ClientSecret,
}

impl ProviderConfig {
    /// The provider's public endpoints with these credentials.
    pub fn new(provider: Provider, client_id: &str, client_secret: ClientSecret) -> Self {
        ProviderConfig {
            endpoints: provider.endpoints("common"),
            client_id: client_id.to_owned(),
            client_secret,
        }
    }
    /// Every endpoint under `base` (tests' fake provider).
    pub fn at_base(base: &str, client_id: &str, client_secret: ClientSecret) -> Self {
        ProviderConfig {
            endpoints: Endpoints::at_base(base),
            client_id: client_id.to_owned(),
            client_secret,
        }
    }
}

/// The enabled providers (none by default) and where the front end may be sent back to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthConfig {
    pub providers: BTreeMap<Provider, ProviderConfig>,
    /// `redirectUri` prefixes accepted besides the link base URL (e.g. a mobile app's
    /// `com.eventzr.app:/oauth`), from `OAUTH_REDIRECT_ALLOWLIST` (comma separated).
    pub redirect_allowlist: Vec<String>,
}

impl OAuthConfig {
    pub fn with(mut self, provider: Provider, cfg: ProviderConfig) -> Self {
        self.providers.insert(provider, cfg);
        self
    }
    pub fn get(&self, provider: Provider) -> Option<&ProviderConfig> {
        self.providers.get(&provider)
    }

    /// A provider is enabled by `OAUTH_<P>_CLIENT_ID` plus `OAUTH_<P>_CLIENT_SECRET_ID`
    /// (a secret id, preferred in AWS) or `OAUTH_<P>_CLIENT_SECRET`; `OAUTH_<P>_BASE_URL`
    /// moves every endpoint under one base; `OAUTH_MICROSOFT_TENANT` (default `common`).
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut cfg = OAuthConfig {
            redirect_allowlist: var("OAUTH_REDIRECT_ALLOWLIST")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            ..Self::default()
        };
        let ms_tenant = var("OAUTH_MICROSOFT_TENANT").unwrap_or_else(|| "common".into());
        for p in Provider::ALL {
            let name = p.as_str().to_ascii_uppercase();
            let Some(client_id) = var(&format!("OAUTH_{name}_CLIENT_ID")) else {
                continue;
            };
            let secret = match (
                var(&format!("OAUTH_{name}_CLIENT_SECRET_ID")),
                var(&format!("OAUTH_{name}_CLIENT_SECRET")),
            ) {
                (Some(id), _) => ClientSecret::SecretId(id),
                (None, Some(v)) => ClientSecret::Value(v),
                (None, None) => {
                    tracing::warn!(
                        provider = p.as_str(),
                        "client id without a secret: disabled"
                    );
                    continue;
                }
            };
            let endpoints = match var(&format!("OAUTH_{name}_BASE_URL")) {
                Some(base) => Endpoints::at_base(&base),
                None => p.endpoints(&ms_tenant),
            };
            cfg.providers.insert(
                p,
                ProviderConfig {
                    endpoints,
                    client_id,
                    client_secret: secret,
                },
            );
        }
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_enabled_only_with_a_client_id_and_a_secret() {
        let vars = |k: &str| match k {
            "OAUTH_GOOGLE_CLIENT_ID" => Some("g-id".to_owned()),
            "OAUTH_GOOGLE_CLIENT_SECRET_ID" => Some("dev/oauth/google".to_owned()),
            "OAUTH_GOOGLE_CLIENT_SECRET" => Some("ignored".to_owned()),
            "OAUTH_GITHUB_CLIENT_ID" => Some("gh-id".to_owned()),
            "OAUTH_GITHUB_CLIENT_SECRET" => Some("gh-secret".to_owned()),
            "OAUTH_GITHUB_BASE_URL" => Some("http://127.0.0.1:9/".to_owned()),
            "OAUTH_APPLE_CLIENT_ID" => Some("no-secret".to_owned()),
            _ => None,
        };
        let cfg = OAuthConfig::from_vars(vars);
        let google = cfg.get(Provider::Google).unwrap();
        assert_eq!(
            google.client_secret,
            ClientSecret::SecretId("dev/oauth/google".into())
        );
        assert_eq!(
            google.endpoints.token,
            "https://oauth2.googleapis.com/token"
        );
        let github = cfg.get(Provider::Github).unwrap();
        assert_eq!(github.endpoints.token, "http://127.0.0.1:9/token");
        assert!(cfg.get(Provider::Apple).is_none() && cfg.get(Provider::Microsoft).is_none());
        assert!(!format!("{cfg:?}").contains("gh-secret"));
    }

    #[test]
    fn the_pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn provider_names_are_the_lowercase_path_segments() {
        assert_eq!(Provider::parse("github"), Some(Provider::Github));
        assert_eq!(Provider::parse("GitHub"), None);
        assert_eq!(Provider::parse("facebook"), None);
    }
}
