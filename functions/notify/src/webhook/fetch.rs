//! The port the SNS verifier reaches AWS through: signing certificates and subscription
//! confirmations. Callers pass only URLs already on the SNS allow-list (`sns::sns_url`).

use async_trait::async_trait;

/// Signing certificates are a few KiB; a confirmation answer is a small XML document.
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// SNS answered, but not with a 2xx: the URL names nothing we can use.
    #[error("answered {0}")]
    Refused(u16),
    /// No answer (connection, TLS, timeout, oversize): worth a retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Fetcher: Send + Sync + 'static {
    /// GET `url`; the body of a 2xx answer.
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

/// The real one: `shared::outbound` (TLS on the OS roots, 5 s, bounded, no redirects).
pub struct HttpsFetcher;

#[async_trait]
impl Fetcher for HttpsFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let (status, body) =
            shared::outbound::get(url, &[("user-agent", "eventzr-notify-svc")], MAX_BODY)
                .await
                .map_err(|e| FetchError::Unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(FetchError::Refused(status.as_u16()));
        }
        Ok(body.to_vec())
    }
}
