//! The providers behind the channels, as ports: email through the platform's Mailer
//! (SES / outbox), SMS and push through SNS ([`sns`]) or the local recorder ([`local`]).
//! A channel whose provider is not set up is `None`: sends to it answer 400
//! `CHANNEL_NOT_CONFIGURED` (never a silent success). `in_app` needs no provider.

pub mod local;
pub mod sns;

use std::sync::Arc;

use async_trait::async_trait;
use shared::mail::Mailer;

use crate::domain::Channel;

/// Why a provider call failed. `Throttled`/`Unavailable` are retried by the dispatcher;
/// `Rejected` (bad address, disabled endpoint…) ends the delivery `failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("provider throttled: {0}")]
    Throttled(String),
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    #[error("rejected by provider: {0}")]
    Rejected(String),
}

impl ChannelError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ChannelError::Rejected(_))
    }
}

impl From<shared::mail::MailError> for ChannelError {
    fn from(e: shared::mail::MailError) -> Self {
        match e {
            shared::mail::MailError::Rejected(m) => ChannelError::Rejected(m),
            shared::mail::MailError::Unavailable(m) => ChannelError::Unavailable(m),
        }
    }
}

/// Text messages to E.164 numbers.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// Sends and returns the provider's message id.
    async fn send(&self, phone: &str, text: &str) -> Result<String, ChannelError>;
}

/// A push message to one registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
}

/// Push notifications to registered devices (SNS platform endpoints).
#[async_trait]
pub trait PushSender: Send + Sync + 'static {
    /// Registers a device token with the platform's application; returns the endpoint
    /// address messages are published to.
    async fn register(&self, platform: &str, token: &str) -> Result<String, ChannelError>;
    /// Removes an endpoint (a device the user deleted).
    async fn unregister(&self, endpoint: &str) -> Result<(), ChannelError>;
    /// Sends to one endpoint; returns the provider's message id.
    async fn send(&self, endpoint: &str, message: &PushMessage) -> Result<String, ChannelError>;
}

/// The providers this stage has set up.
#[derive(Clone, Default)]
pub struct Channels {
    pub email: Option<Arc<dyn Mailer>>,
    pub sms: Option<Arc<dyn SmsSender>>,
    pub push: Option<Arc<dyn PushSender>>,
}

impl Channels {
    pub fn is_configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
            Channel::Push => self.push.is_some(),
            Channel::InApp => true,
        }
    }
}
