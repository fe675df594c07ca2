//! Provider calls over `shared::outbound` (hyper-rustls on aws-lc, OS roots, 5 s per call,
//! no redirects): JSON answers only, and every failure is OAUTH_PROVIDER_ERROR with a
//! detail for the log that never holds a token or a response body.

use serde::de::DeserializeOwned;
use shared::outbound::{self, OutboundError};

use crate::error::{AuthError, AuthResult};

/// Larger answers are refused (a JWKS or a token answer is a few KiB).
const MAX_BODY: usize = 256 * 1024;
const ACCEPT: (&str, &str) = ("accept", "application/json");
const USER_AGENT: (&str, &str) = ("user-agent", "eventzr-auth-svc");

pub fn provider_error(detail: impl Into<String>) -> AuthError {
    AuthError::OAuthProviderError(detail.into())
}

/// GET `url` (with a bearer token) and read its JSON answer.
pub async fn get_json<T: DeserializeOwned>(
    url: &str,
    bearer: Option<&str>,
    what: &str,
) -> AuthResult<T> {
    let auth = bearer.map(|token| format!("Bearer {token}"));
    let mut headers = vec![ACCEPT, USER_AGENT];
    if let Some(value) = &auth {
        headers.push(("authorization", value.as_str()));
    }
    read(outbound::get(url, &headers, MAX_BODY).await, what)
}

/// POST a form (`application/x-www-form-urlencoded`) and read the JSON answer.
pub async fn post_form<T: DeserializeOwned>(
    url: &str,
    form: &[(&str, &str)],
    what: &str,
) -> AuthResult<T> {
    read(
        outbound::post_form(url, &[ACCEPT, USER_AGENT], form, MAX_BODY).await,
        what,
    )
}

fn read<T: DeserializeOwned>(
    answer: Result<(http::StatusCode, bytes::Bytes), OutboundError>,
    what: &str,
) -> AuthResult<T> {
    let (status, body) = answer.map_err(|e| match e {
        OutboundError::InvalidRequest(_) => {
            AuthError::Internal(format!("{what}: endpoint is not a valid URL"))
        }
        OutboundError::Client(e) => AuthError::Internal(format!("http client: {e}")),
        OutboundError::Unreachable => provider_error(format!("{what}: unreachable")),
        OutboundError::TimedOut => provider_error(format!("{what}: timed out")),
        OutboundError::Body => provider_error(format!("{what}: answer unreadable or too large")),
    })?;
    if !status.is_success() {
        return Err(provider_error(format!("{what}: answered {status}")));
    }
    serde_json::from_slice(&body).map_err(|_| provider_error(format!("{what}: unexpected answer")))
}
