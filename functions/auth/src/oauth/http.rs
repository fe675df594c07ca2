//! The HTTPS client for provider calls: hyper-util + hyper-rustls (what the AWS SDK's own
//! client is built from), rustls on aws-lc — the provider the SDK already uses, so no
//! second crypto stack — and the OS root store. 5 s per call, bounded answers, redirects
//! never followed (a 3xx is a failure like any non-2xx).

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::de::DeserializeOwned;

use crate::error::{AuthError, AuthResult};

/// Everything a call may take (connect, TLS, answer); a slow provider must not hold the Lambda.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Larger answers are refused (a JWKS or a token answer is a few KiB).
const MAX_BODY: usize = 256 * 1024;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// One client per process (built on first use: a cold start that never signs in with a
/// provider does not read the root store).
static CLIENT: LazyLock<Result<Client<Https, Full<Bytes>>, String>> = LazyLock::new(|| {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        tracing::warn!("no root certificates found: HTTPS calls to providers will fail");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(TIMEOUT));
    // Plain http is for a local fake provider (`OAUTH_<P>_BASE_URL`); the real endpoints
    // are all https.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new()).build(https))
});

pub fn provider_error(detail: impl Into<String>) -> AuthError {
    AuthError::OAuthProviderError(detail.into())
}

/// GET `url` (with a bearer token) and read its JSON answer.
pub async fn get_json<T: DeserializeOwned>(
    url: &str,
    bearer: Option<&str>,
    what: &str,
) -> AuthResult<T> {
    let mut req = Request::builder().method(Method::GET).uri(url);
    if let Some(token) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    send(req, Bytes::new(), what).await
}

/// POST a form (`application/x-www-form-urlencoded`) and read the JSON answer.
pub async fn post_form<T: DeserializeOwned>(
    url: &str,
    form: &[(&str, &str)],
    what: &str,
) -> AuthResult<T> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    send(req, Bytes::from(body), what).await
}

async fn send<T: DeserializeOwned>(
    req: http::request::Builder,
    body: Bytes,
    what: &str,
) -> AuthResult<T> {
    let client = CLIENT
        .as_ref()
        .map_err(|e| AuthError::Internal(format!("http client: {e}")))?;
    let req = req
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "eventzr-auth-svc")
        .body(Full::new(body))
        .map_err(|_| AuthError::Internal(format!("{what}: endpoint is not a valid URL")))?;
    let call = async {
        let resp = client
            .request(req)
            .await
            .map_err(|_| provider_error(format!("{what}: unreachable")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(provider_error(format!("{what}: answered {status}")));
        }
        let bytes = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| provider_error(format!("{what}: answer unreadable or too large")))?
            .to_bytes();
        serde_json::from_slice(&bytes)
            .map_err(|_| provider_error(format!("{what}: unexpected answer")))
    };
    tokio::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| provider_error(format!("{what}: timed out")))?
}
