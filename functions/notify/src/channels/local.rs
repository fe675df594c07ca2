//! The local provider for SMS and push: records what would have been sent, for the
//! local gateway (`GET /_local/notify/messages`) and tests to read back.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;

use super::{ChannelError, PushMessage, PushSender, SmsSender};

/// One recorded SMS or push message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub id: String,
    /// `sms` or `push`.
    pub channel: &'static str,
    /// The phone number, or the push endpoint.
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub body: String,
}

/// Records every message; clones share the record.
#[derive(Clone, Default)]
pub struct Recorder {
    sent: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }
    /// Everything recorded, oldest first.
    pub fn sent(&self) -> Vec<Recorded> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }
    fn record(&self, r: Recorded) -> String {
        let id = r.id.clone();
        if let Ok(mut v) = self.sent.lock() {
            v.push(r);
        }
        id
    }
}

#[async_trait]
impl SmsSender for Recorder {
    async fn send(&self, phone: &str, text: &str) -> Result<String, ChannelError> {
        Ok(self.record(Recorded {
            id: uuid::Uuid::new_v4().to_string(),
            channel: "sms",
            to: phone.to_owned(),
            title: None,
            body: text.to_owned(),
        }))
    }
}

#[async_trait]
impl PushSender for Recorder {
    async fn register(&self, platform: &str, token: &str) -> Result<String, ChannelError> {
        let digest = shared::ids::sha256_hex(token.as_bytes());
        Ok(format!("local:push:{platform}:{}", &digest[..16]))
    }
    async fn unregister(&self, _endpoint: &str) -> Result<(), ChannelError> {
        Ok(())
    }
    async fn send(&self, endpoint: &str, message: &PushMessage) -> Result<String, ChannelError> {
        Ok(self.record(Recorded {
            id: uuid::Uuid::new_v4().to_string(),
            channel: "push",
            to: endpoint.to_owned(),
            title: Some(message.title.clone()),
            body: message.body.clone(),
        }))
    }
}
