//! Route group `webhooks` (public, no bearer token): delivery reports from providers,
//! verified before anything is read from them (crate::webhook). A refused event changes
//! nothing; a replayed one (same SNS MessageId / provider eventId) answers 200 and changes
//! nothing. The bodies are taken raw: signatures cover the exact bytes.

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    routing::post,
};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use shared::{ApiError, Envelope, extract, openapi::Data};
use utoipa::ToSchema;

use crate::{
    domain::Status,
    error::{NotifyError, NotifyResult},
    repo::{suppressions, webhook_events},
    state::NotifyState,
    webhook::{
        effects::{self, Outcome},
        hmac, ses,
        sns::Kind as SnsKind,
    },
};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/notify/v1/webhooks/ses"),
    ("POST", "/notify/v1/webhooks/{provider}"),
];

/// The event id namespace of SNS messages (`HOOK#ses`).
const SES: &str = "ses";

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new()
        .route("/notify/v1/webhooks/ses", post(ses_notification))
        .route("/notify/v1/webhooks/{provider}", post(provider_callback))
}

/// What became of an accepted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Handled {
    /// The delivery moved (and, for a permanent bounce or a complaint, the addresses were
    /// suppressed).
    Applied,
    /// This event id was handled before: nothing changed.
    Duplicate,
    /// The delivery's status does not take this outcome (a delivery report after a
    /// bounce): it did not move; a permanent bounce or a complaint still suppressed the
    /// address.
    NotApplicable,
    /// No delivery has this provider message id (or another provider sent it): nothing
    /// changed, and the event id was not recorded, so a redelivery after the message is
    /// known is applied.
    UnknownMessage,
    /// An SNS subscription to an allowed topic was confirmed.
    Confirmed,
    /// A verified message with nothing to do (an unsubscribe confirmation, an SES message
    /// other than Bounce/Complaint/Delivery).
    Ignored,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAck {
    pub result: Handled,
}

fn ack(result: Handled) -> Envelope<WebhookAck> {
    Envelope::ok(WebhookAck { result })
}

/// An SNS message as SNS posts it (documentation of the body; the handler reads bytes).
#[derive(ToSchema)]
#[schema(example = json!({
    "Type": "Notification",
    "MessageId": "a1b2c3d4-5678-90ab-cdef-111111111111",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:eventzr-ses",
    "Message": "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"ann@example.com\"}]},\"mail\":{\"messageId\":\"0100018c-ses-id\"}}",
    "Timestamp": "2026-01-15T10:00:00.000Z",
    "SignatureVersion": "2",
    "Signature": "base64…",
    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
}))]
#[allow(dead_code)] // a schema only
pub struct SnsMessage {
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[schema(rename = "Type")]
    kind: String,
    #[schema(rename = "MessageId")]
    message_id: String,
    #[schema(rename = "TopicArn")]
    topic_arn: String,
    #[schema(rename = "Subject")]
    subject: Option<String>,
    /// For SES: the notification, as a JSON string.
    #[schema(rename = "Message")]
    message: String,
    #[schema(rename = "Timestamp")]
    timestamp: String,
    /// `1` (SHA1withRSA) or `2` (SHA256withRSA).
    #[schema(rename = "SignatureVersion")]
    signature_version: String,
    #[schema(rename = "Signature")]
    signature: String,
    #[schema(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[schema(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[schema(rename = "Token")]
    token: Option<String>,
}

#[utoipa::path(
    post,
    path = "/notify/v1/webhooks/ses",
    operation_id = "ses_webhook",
    tag = "webhooks",
    summary = "SES bounce, complaint and delivery notifications over SNS",
    description = "SNS posts here (`Content-Type: text/plain`). The message is verified per AWS's \
        algorithm before anything else: SignatureVersion `2` (SHA256withRSA) or `1` (SHA1withRSA) by \
        the certificate at `SigningCertURL`, which must be `https://sns.<region>.amazonaws.com/….pem` \
        (fetched from nowhere else, cached); `TopicArn` on the stage's allow-list; `Timestamp` at \
        most 1 hour old and at most 5 minutes ahead. A SubscriptionConfirmation is confirmed by \
        calling its `SubscribeURL` (an SNS URL too). An SES Bounce/Complaint/Delivery moves the \
        delivery with that provider message id; a Permanent bounce or a complaint adds the \
        addresses to that delivery's tenant's suppression list (`hard_bounce` / `complaint`), \
        transient bounces are only recorded. Each `MessageId` is handled once: a replay answers \
        `duplicate` and changes nothing.",
    request_body(content = SnsMessage, content_type = "text/plain",
        description = "The SNS message JSON, as SNS sends it"),
    responses(
        (status = 200, description = "Accepted: `result` says what it did", body = Data<WebhookAck>),
        (status = 401, description = "`ERR_NOTIFY_INVALID_SIGNATURE`: not a validly signed SNS message \
            of an allowed topic, a certificate URL or SubscribeURL off the SNS hosts, or a stale \
            timestamp; nothing changed"),
        (status = 503, description = "`ERR_NOTIFY_PROVIDER_UNAVAILABLE`: the signing certificate or \
            the subscription confirmation could not be fetched; SNS retries"),
    )
)]
pub async fn ses_notification(
    State(st): State<NotifyState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Envelope<WebhookAck>, ApiError> {
    let now = st.now();
    let msg = st.webhooks.verify_sns(&body, now).await?;
    // SNS also names the type in a header; a message re-labelled in transit is not ours.
    if let Some(h) = headers.get("x-amz-sns-message-type")
        && h.to_str().ok() != Some(msg.kind.as_str())
    {
        return Err(NotifyError::InvalidSignature.into());
    }
    let result = match msg.kind {
        SnsKind::UnsubscribeConfirmation => {
            tracing::info!(topic = %msg.topic_arn, "SNS unsubscribe confirmation received");
            Handled::Ignored
        }
        SnsKind::SubscriptionConfirmation => once(
            &st,
            SES,
            &msg.message_id,
            st.webhooks.confirm_subscription(&msg),
        )
        .await?
        .map_or(Handled::Duplicate, |()| Handled::Confirmed),
        SnsKind::Notification => match ses::read(&msg.message) {
            None => Handled::Ignored,
            Some((message_id, outcome)) => {
                report(&st, SES, &msg.message_id, &message_id, &outcome).await?
            }
        },
    };
    Ok(ack(result))
}

/// Applies `outcome` to the delivery of `message_id`, once per `event_id`. An event for a
/// message no delivery has is not claimed: nothing is written for it (a foreign message
/// costs a read), and a redelivery once the send has recorded the message id is applied.
async fn report(
    st: &NotifyState,
    provider: &str,
    event_id: &str,
    message_id: &str,
    outcome: &Outcome,
) -> NotifyResult<Handled> {
    let Some(delivery) = effects::find(st.store(), provider, message_id).await? else {
        return Ok(Handled::UnknownMessage);
    };
    let apply = effects::apply_to(st.store(), st.now(), &delivery, outcome);
    Ok(match once(st, provider, event_id, apply).await? {
        None => Handled::Duplicate,
        Some(true) => Handled::Applied,
        Some(false) => Handled::NotApplicable,
    })
}

/// Runs `effect` once per event id: claims the id first (a replay gets None), and releases
/// it when the effect fails so the provider's retry runs it again.
async fn once<T>(
    st: &NotifyState,
    provider: &str,
    event_id: &str,
    effect: impl Future<Output = NotifyResult<T>>,
) -> NotifyResult<Option<T>> {
    if !webhook_events::claim(st.store(), provider, event_id, st.epoch()).await? {
        return Ok(None);
    }
    match effect.await {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            if let Err(r) = webhook_events::release(st.store(), provider, event_id).await {
                tracing::warn!(error = %r, "webhook event claim not released");
            }
            Err(e)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportedStatus {
    Delivered,
    Bounced,
    Complained,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BounceType {
    /// Permanent: the address is suppressed.
    Hard,
    /// Temporary: recorded only.
    Soft,
}

/// A provider's delivery report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderEvent {
    /// The provider's id of this event (1-128 printable characters); each is handled once.
    #[schema(example = "evt_01HZX3")]
    pub event_id: String,
    /// The provider's id of the message, as it answered our send.
    #[schema(example = "msg_8842")]
    pub message_id: String,
    pub status: ReportedStatus,
    /// The address concerned (email or E.164), when the provider names it; else the
    /// delivery's own.
    #[serde(default)]
    #[schema(example = "ann@example.com")]
    pub recipient: Option<String>,
    /// For `bounced`: `hard` suppresses the address, `soft` (the default) does not.
    #[serde(default)]
    pub bounce_type: Option<BounceType>,
}

impl ProviderEvent {
    fn outcome(&self, provider: &str) -> NotifyResult<Outcome> {
        let printable =
            |s: &str| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        if !printable(&self.event_id) {
            return Err(
                ApiError::field("eventId", "must be 1-128 printable ASCII characters").into(),
            );
        }
        if !printable(&self.message_id) {
            return Err(
                ApiError::field("messageId", "must be 1-128 printable ASCII characters").into(),
            );
        }
        let recipients = match &self.recipient {
            Some(r) => vec![suppressions::normalise(r, "recipient")?],
            None => Vec::new(),
        };
        let hard = self.bounce_type == Some(BounceType::Hard);
        let (status, detail, suppress) = match self.status {
            ReportedStatus::Delivered => (Status::Delivered, "delivered", None),
            ReportedStatus::Bounced if hard => (
                Status::Bounced,
                "hard bounce",
                Some(suppressions::Kind::HardBounce),
            ),
            ReportedStatus::Bounced => (Status::Bounced, "soft bounce", None),
            ReportedStatus::Complained => (
                Status::Complained,
                "complaint",
                Some(suppressions::Kind::Complaint),
            ),
            ReportedStatus::Failed => (Status::Failed, "failed", None),
        };
        Ok(Outcome {
            status,
            detail: format!("{detail} ({provider})"),
            suppress,
            recipients,
        })
    }
}

/// A provider name as configured in the secret: lowercase letters, digits, `-`, `_`.
fn is_provider_name(p: &str) -> bool {
    (1..=32).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[utoipa::path(
    post,
    path = "/notify/v1/webhooks/{provider}",
    operation_id = "provider_webhook",
    tag = "webhooks",
    summary = "A provider's HMAC-signed delivery report",
    description = "Header `x-eventzr-signature: t=<unix seconds>,v1=<hex>`: v1 is HMAC-SHA256 over \
        `<t>.` followed by the exact body, with one of the provider's secrets (the stage's webhook \
        secret holds `{\"<provider>\": [\"<secret>\", …]}`; several secrets and several `v1` entries \
        are accepted during a rotation); `t` within 300 s of our clock either way. The report moves \
        the delivery with that `messageId`; `bounced` with `bounceType: hard` and `complained` add \
        the address to that delivery's tenant's suppression list. Each `eventId` is handled once: \
        a replay answers `duplicate` and changes nothing.",
    params(("provider" = String, Path, description = "The provider's name, as configured (lowercase)")),
    request_body(content = ProviderEvent, example = json!({
        "eventId": "evt_01HZX3", "messageId": "msg_8842", "status": "bounced",
        "recipient": "ann@example.com", "bounceType": "hard"
    })),
    responses(
        (status = 200, description = "Accepted: `result` says what it did", body = Data<WebhookAck>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CONTACT`: `recipient` is neither an email \
            nor an E.164 number (signature valid; nothing changed)"),
        (status = 401, description = "`ERR_NOTIFY_INVALID_SIGNATURE`: the signature header is missing, \
            malformed, outside the 300 s tolerance or made with no current secret; nothing changed"),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: no secret is configured for this provider"),
    )
)]
pub async fn provider_callback(
    State(st): State<NotifyState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Envelope<WebhookAck>, ApiError> {
    if !is_provider_name(&provider) {
        return Err(NotifyError::NotFound.into());
    }
    if !extract::is_json_or_absent(&headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let signature = headers.get(hmac::HEADER).and_then(|v| v.to_str().ok());
    st.webhooks
        .verify_hmac(&provider, signature, &body, st.epoch())
        .await?;
    let event: ProviderEvent = extract::parse_json(&body)?;
    let outcome = event.outcome(&provider)?;
    let result = report(&st, &provider, &event.event_id, &event.message_id, &outcome).await?;
    Ok(ack(result))
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(ses_notification, provider_callback))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_plain() {
        for ok in ["acme", "send-grid", "p_2"] {
            assert!(is_provider_name(ok), "{ok}");
        }
        for bad in ["", "Acme", "a.b", "a/b", "ä", &"x".repeat(33)] {
            assert!(!is_provider_name(bad), "{bad}");
        }
    }
}
