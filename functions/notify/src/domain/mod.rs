//! notify-svc's vocabulary: channels, categories, priorities, the delivery state machine.

pub mod delivery;
pub mod html_text;
pub mod preferences;
pub mod quota;
pub mod template;
pub mod zone;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use delivery::{Delivery, Recipient, TimelineEntry};

/// How a message reaches a person.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Amazon SES to `recipient.email`.
    Email,
    /// SNS Publish to `recipient.phone` (E.164).
    Sms,
    /// SNS platform endpoints of the devices `recipient.userId` registered.
    Push,
    /// The inbox of `recipient.userId` (`GET /notify/v1/notifications`).
    InApp,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Sms, Channel::Push, Channel::InApp];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::InApp => "in_app",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// The provider that sends this channel's messages (and whose webhooks may report on
    /// them): SES for email, SNS for SMS and push; the inbox is ours.
    pub fn provider(self) -> &'static str {
        match self {
            Channel::Email => "ses",
            Channel::Sms | Channel::Push => "sns",
            Channel::InApp => "inbox",
        }
    }
    /// A channel a client named in `field`: unknown names answer INVALID_CHANNEL.
    pub fn parse_field(field: &str, raw: &str) -> Result<Channel, crate::error::NotifyError> {
        Channel::parse(raw.trim()).ok_or_else(|| crate::error::NotifyError::InvalidChannel {
            field: field.to_owned(),
            value: raw.to_owned(),
        })
    }
}

/// What a message is about; decides which preferences and caps apply.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Transactional,
    System,
    Marketing,
    Reminder,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Transactional,
        Category::System,
        Category::Marketing,
        Category::Reminder,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Transactional => "transactional",
            Category::System => "system",
            Category::Marketing => "marketing",
            Category::Reminder => "reminder",
        }
    }
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// `transactional` and `system` cannot be opted out of and bypass frequency caps.
    pub fn is_essential(self) -> bool {
        matches!(self, Category::Transactional | Category::System)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    /// Bypasses quiet hours.
    Critical,
}

/// A delivery's state. Transitions: [`Status::can_become`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Scheduled,
    Sending,
    Sent,
    Delivered,
    Bounced,
    Complained,
    Failed,
    Cancelled,
    Suppressed,
    Skipped,
    Read,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Queued,
        Status::Scheduled,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Bounced,
        Status::Complained,
        Status::Failed,
        Status::Cancelled,
        Status::Suppressed,
        Status::Skipped,
        Status::Read,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Scheduled => "scheduled",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Bounced => "bounced",
            Status::Complained => "complained",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Suppressed => "suppressed",
            Status::Skipped => "skipped",
            Status::Read => "read",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The state machine of notify-svc.md "Concepts". A provider may report a bounce or a
    /// complaint after `delivered` (SES does), so those stay reachable from it.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        match self {
            Queued => matches!(
                next,
                Scheduled | Sending | Cancelled | Suppressed | Skipped | Failed
            ),
            // Suppressed, skipped: a contact suppressed, or a person who opted out, before
            // the delivery came due.
            Scheduled => matches!(next, Queued | Sending | Cancelled | Suppressed | Skipped),
            // A send the provider throttled goes back to `queued` for the dispatcher.
            Sending => matches!(next, Sent | Queued | Failed | Delivered),
            Sent => matches!(next, Delivered | Bounced | Complained | Failed | Read),
            Delivered => matches!(next, Bounced | Complained | Read),
            Bounced | Complained | Failed | Cancelled | Suppressed | Skipped | Read => false,
        }
    }

    /// Ended: no transition leaves it.
    pub fn is_terminal(self) -> bool {
        Status::ALL.iter().all(|n| !self.can_become(*n))
    }
}

/// A recipient's `userId` as sends take it: 1-128 letters, digits or `-_.@:` (no `#`,
/// which would reach into the keys built from it).
pub fn is_recipient_user_id(u: &str) -> bool {
    (1..=128).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_only_moves_forward() {
        assert!(Status::Queued.can_become(Status::Sending));
        assert!(Status::Scheduled.can_become(Status::Cancelled));
        assert!(Status::Sent.can_become(Status::Bounced));
        assert!(!Status::Sent.can_become(Status::Queued));
        assert!(!Status::Cancelled.can_become(Status::Sending));
        assert!(!Status::Delivered.can_become(Status::Cancelled));
        for s in [
            Status::Failed,
            Status::Cancelled,
            Status::Suppressed,
            Status::Skipped,
            Status::Read,
        ] {
            assert!(s.is_terminal(), "{s:?}");
        }
        assert!(!Status::Sent.is_terminal());
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert!(Category::Transactional.is_essential() && !Category::Marketing.is_essential());
    }
}
