//! SES notifications (the `Message` of an SNS Notification, a JSON string): Bounce,
//! Complaint and Delivery, in the identity-notification shape (`notificationType`) or the
//! event-publishing one (`eventType`). Other messages (e.g. SES's
//! `AmazonSnsSubscriptionSucceeded`) are not ours to act on.

use serde::Deserialize;

use super::effects::Outcome;
use crate::{domain::Status, repo::suppressions::Kind};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    #[serde(default)]
    notification_type: Option<String>,
    #[serde(default)]
    event_type: Option<String>,
    mail: Mail,
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// The provider message id an SES notification is about, and what it means for that
/// delivery; None when the message is not a Bounce, Complaint or Delivery of SES.
pub fn read(message: &str) -> Option<(String, Outcome)> {
    let n: Notification = serde_json::from_str(message).ok()?;
    let kind = n.notification_type.or(n.event_type)?;
    let outcome = match kind.as_str() {
        "Bounce" => {
            let b = n.bounce?;
            let permanent = b.bounce_type == "Permanent";
            Outcome {
                status: Status::Bounced,
                detail: format!(
                    "{} bounce ({})",
                    short(&b.bounce_type),
                    short(b.bounce_sub_type.as_deref().unwrap_or("unspecified"))
                ),
                // Transient and undetermined bounces are recorded, never suppressed.
                suppress: permanent.then_some(Kind::HardBounce),
                recipients: addresses(b.bounced_recipients),
            }
        }
        "Complaint" => {
            let c = n.complaint?;
            Outcome {
                status: Status::Complained,
                detail: format!(
                    "complaint ({})",
                    short(
                        c.complaint_feedback_type
                            .as_deref()
                            .unwrap_or("unspecified")
                    )
                ),
                suppress: Some(Kind::Complaint),
                recipients: addresses(c.complained_recipients),
            }
        }
        "Delivery" => Outcome {
            status: Status::Delivered,
            detail: "delivered (SES)".into(),
            suppress: None,
            recipients: Vec::new(),
        },
        _ => return None,
    };
    Some((n.mail.message_id, outcome))
}

fn addresses(list: Vec<Recipient>) -> Vec<String> {
    list.into_iter().map(|r| r.email_address).collect()
}

/// Provider words echoed into a timeline stay short.
fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bounces_complaints_and_deliveries_are_read() {
        let bounce = json!({
            "notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": "a@x.io", "status": "5.1.1"}]},
            "mail": {"messageId": "m-1", "destination": ["a@x.io"]}
        });
        let (id, o) = read(&bounce.to_string()).unwrap();
        assert_eq!(id, "m-1");
        assert_eq!(o.status, Status::Bounced);
        assert_eq!(o.suppress, Some(Kind::HardBounce));
        assert_eq!(o.recipients, vec!["a@x.io".to_owned()]);
        assert_eq!(o.detail, "Permanent bounce (General)");

        let soft = bounce.to_string().replace("Permanent", "Transient");
        assert_eq!(read(&soft).unwrap().1.suppress, None);

        let complaint = json!({
            "eventType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": "b@x.io"}],
                "complaintFeedbackType": "abuse"},
            "mail": {"messageId": "m-2"}
        });
        let (_, o) = read(&complaint.to_string()).unwrap();
        assert_eq!(
            (o.status, o.suppress),
            (Status::Complained, Some(Kind::Complaint))
        );

        let delivery = json!({"notificationType": "Delivery", "mail": {"messageId": "m-3"},
            "delivery": {"recipients": ["c@x.io"]}});
        assert_eq!(
            read(&delivery.to_string()).unwrap().1.status,
            Status::Delivered
        );
    }

    #[test]
    fn other_messages_are_not_ours() {
        for other in [
            json!({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}),
            json!({"notificationType": "Send", "mail": {"messageId": "m"}}),
            json!({"notificationType": "Bounce", "mail": {"messageId": "m"}}),
            json!("plain text"),
        ] {
            assert!(read(&other.to_string()).is_none(), "{other}");
        }
        assert!(read("not json").is_none());
    }
}
