//! Provider webhooks: SNS-signed SES notifications and HMAC-signed callbacks.
//! TODO(helper W): verification (SNS certificate cache, HMAC secrets) lives here.

use shared::platform::Platform;

use crate::config::NotifyConfig;

/// What the webhook routes verify with (certificate cache, secrets).
pub struct Webhooks {}

impl Webhooks {
    pub fn new(_platform: &Platform, _cfg: &NotifyConfig) -> Self {
        Webhooks {}
    }
}
