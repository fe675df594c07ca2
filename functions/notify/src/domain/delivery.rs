//! A delivery: one message to one recipient over one channel, with its timeline.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Category, Channel, Priority, Status};

/// Who a message is for. email/sms need the address; in_app and push need `userId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "b0000001-0000-4000-8000-000000000002",
        pattern = r"^[A-Za-z0-9._@:-]{1,128}$"
    )]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "user@eventzr.com", format = Email, max_length = 254)]
    pub email: Option<String>,
    /// E.164 (spaces, dashes, dots and parentheses are also accepted and dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "+14155550100", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    /// This recipient's priority when it differs from the send's (e.g. `critical` for
    /// the on-call organiser of an otherwise `normal` announcement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<super::Priority>,
}

/// One transition of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub status: Status,
    /// RFC 3339, UTC, milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
    /// Why (e.g. `suppressed: hard_bounce`, the provider's error), when there is a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The rendered message a delivery sends (kept for retries; erased with the delivery).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rendered {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Rendered {
    /// The text of a short message (SMS, push): its text body, else its subject. Not the
    /// HTML's text: an email's HTML body may run to pages, past what an SMS or a push
    /// payload holds.
    pub fn short(&self) -> String {
        self.text
            .clone()
            .or_else(|| self.subject.clone())
            .unwrap_or_default()
    }

    /// The plain text of a message read in full (an email's text part, an in-app body):
    /// its text body, else the text of its HTML body, else its subject.
    pub fn plain(&self) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        self.html
            .as_deref()
            .map(super::html_text::to_text)
            .filter(|t| !t.trim().is_empty())
            .or_else(|| self.subject.clone())
            .unwrap_or_default()
    }
}

/// A delivery as stored (and, minus internal fields, as answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// UUIDv7: sorts by creation time.
    pub id: String,
    pub tenant_id: String,
    /// The send request that created it (deliveries of one send share it).
    pub send_id: String,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub recipient: Recipient,
    /// The user who made the send (`system` for queue sends).
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default)]
    pub content: Rendered,
    /// When a `scheduled` delivery is due (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// Provider attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// Epoch seconds the dispatcher may next pick it up (queued/scheduled only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// A dispatcher's claim (epoch seconds) while `sending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub timeline: Vec<TimelineEntry>,
    /// Bumped by every write: updates are conditional on it (optimistic concurrency).
    #[serde(default)]
    pub rev: i64,
    /// The sort key of its dispatcher entry, while it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_sk: Option<String>,
    /// When it alone holds a unit of its person's frequency cap (the only delivery of its
    /// send to that person under a cap): the time whose day the unit was counted on, so
    /// that it goes back if the delivery ends unsent. None: it holds none, or shares one
    /// with the send's other channels (which may still go out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_at: Option<String>,
    /// For an in-app delivery that was due later (scheduled, quiet hours): when its first
    /// claim took it to the inbox (epoch ms), where its item sorts (`inbox::sort_key`).
    /// Set by that claim and kept, so a retried claim writes the same item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_at: Option<i64>,
}

impl Recipient {
    /// The contact `channel` sends to that a suppression list can hold (email, phone);
    /// None for push and in-app, which go to the user.
    pub fn contact(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_deref(),
            Channel::Sms => self.phone.as_deref(),
            Channel::Push | Channel::InApp => None,
        }
    }
}

impl Recipient {
    /// The account `channel` sends to (push devices, the inbox): its `userId`; None for
    /// email and SMS, which go to the address the sender gave.
    pub fn account(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Push | Channel::InApp => self.user_id.as_deref(),
            Channel::Email | Channel::Sms => None,
        }
    }
}

impl Delivery {
    /// [`Recipient::contact`] of this delivery's channel.
    pub fn contact(&self) -> Option<&str> {
        self.recipient.contact(self.channel)
    }
}
