//! Provider webhooks: what `POST /webhooks/ses` (SNS-signed SES notifications) and
//! `POST /webhooks/{provider}` (HMAC-signed callbacks) verify with, and what a verified
//! event does to a delivery and to the tenant's suppression list.
//!
//! - [`sns`]: AWS's signature algorithm, the SNS host allow-list, the signing-certificate
//!   cache behind the [`Fetcher`] port (tests inject a fake);
//! - [`hmac`]: `x-eventzr-signature`, the providers' secrets (several during rotation);
//! - [`ses`]: SES notifications read into an [`effects::Outcome`];
//! - [`effects`]: the delivery's transition and the suppressions an outcome causes.

pub mod effects;
pub mod fetch;
pub mod hmac;
pub mod ses;
pub mod sns;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use shared::platform::Platform;

pub use fetch::{FetchError, Fetcher, HttpsFetcher};

use crate::{config::NotifyConfig, error::NotifyResult};

/// What the webhook routes verify with, kept for the process: SNS signing certificates
/// per URL, the HMAC secrets (briefly), the accepted topics.
pub struct Webhooks {
    sns: sns::Verifier,
    secrets: hmac::SecretCache,
}

impl Webhooks {
    /// Certificates and subscription confirmations over HTTPS (`shared::outbound`).
    pub fn new(platform: &Platform, cfg: &NotifyConfig) -> Self {
        Self::with_fetcher(platform, cfg, Arc::new(HttpsFetcher))
    }

    /// The same with another fetcher (tests: canned certificates, recorded confirmations).
    pub fn with_fetcher(
        platform: &Platform,
        cfg: &NotifyConfig,
        fetcher: Arc<dyn Fetcher>,
    ) -> Self {
        Webhooks {
            sns: sns::Verifier::new(fetcher, cfg.sns_topic_arns.clone()),
            secrets: hmac::SecretCache::new(
                platform.secrets.clone(),
                cfg.webhook_secrets_secret_id.clone(),
            ),
        }
    }

    /// A verified SNS message from `body` (the exact bytes SNS posted), else
    /// INVALID_SIGNATURE (or PROVIDER_UNAVAILABLE when the certificate cannot be fetched).
    pub async fn verify_sns(&self, body: &[u8], now: DateTime<Utc>) -> NotifyResult<sns::Message> {
        self.sns.verify(body, now).await
    }

    /// Confirms the subscription of a verified SubscriptionConfirmation (GET its
    /// SubscribeURL, an SNS URL).
    pub async fn confirm_subscription(&self, msg: &sns::Message) -> NotifyResult<()> {
        self.sns.confirm(msg).await
    }

    /// Checks `x-eventzr-signature` of `provider` over `body` at `now` (epoch seconds):
    /// NOT_FOUND for a provider without secrets, else INVALID_SIGNATURE unless one v1 of
    /// the header is the HMAC of one of its secrets, within 300 s either way.
    pub async fn verify_hmac(
        &self,
        provider: &str,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> NotifyResult<()> {
        let secrets = self.secrets.of(provider, now).await?;
        hmac::verify(&secrets, header, body, now)
    }
}
