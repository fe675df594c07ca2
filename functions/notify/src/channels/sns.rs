//! SMS (Publish to a phone number) and push (platform endpoints) through Amazon SNS.
//! TODO(helper C): SnsSms and SnsPush implementing SmsSender / PushSender.

use super::Channels;
use crate::config::NotifyConfig;
use shared::platform::Platform;

/// The channels of a deployed function: SES through the platform's mailer; SMS and push
/// through SNS when the stage set them up.
pub fn from_platform(platform: &Platform, _cfg: &NotifyConfig) -> Channels {
    Channels {
        email: Some(platform.mailer.clone()),
        sms: None,
        push: None,
    }
}
