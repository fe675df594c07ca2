//! SMS (Publish to a phone number) and push (platform endpoints) through Amazon SNS, and
//! the channels of a deployed function.
//!
//! Provider errors are classified by what the dispatcher should do with them
//! ([`classify`]): throttling is retried later, an unreachable or failing SNS is retried,
//! a refused address or endpoint ends the delivery. Error texts carry the operation and
//! SNS's error code only, never SNS's message: it can quote the phone number or token.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use aws_sdk_sns::{
    Client,
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    types::MessageAttributeValue,
};
use serde_json::json;
use shared::platform::Platform;

use super::{ChannelError, Channels, PushMessage, PushSender, SmsSender};
use crate::config::NotifyConfig;

/// The channels of a deployed function: SES through the platform's mailer; SMS and push
/// through SNS when the stage set them up (`SMS_ENABLED`, `PUSH_APP_ARN_*`). One SDK
/// configuration (the platform's) serves every client. A platform without one (local),
/// or a stage that uses neither, gets no SMS or push provider.
pub fn from_platform(platform: &Platform, cfg: &NotifyConfig) -> Channels {
    // Built only when the stage uses SNS: each SDK client parses its endpoint rules at
    // construction, a cold-start cost for nothing otherwise.
    let used = cfg.sms_enabled || !cfg.push_apps.is_empty();
    let sns = platform.sdk().filter(|_| used).map(Client::new);
    let sms = sns
        .clone()
        .filter(|_| cfg.sms_enabled)
        .map(|c| Arc::new(SnsSms::new(c)) as Arc<dyn SmsSender>);
    let push = sns
        .filter(|_| !cfg.push_apps.is_empty())
        .map(|c| Arc::new(SnsPush::new(c, cfg.push_apps.clone())) as Arc<dyn PushSender>);
    Channels {
        email: Some(platform.mailer.clone()),
        sms,
        push,
    }
}

/// Text messages through SNS `Publish` with `PhoneNumber`, as transactional SMS (the
/// higher-reliability route; promotional SMS may be dropped for cost).
#[derive(Clone)]
pub struct SnsSms {
    client: Client,
}

impl SnsSms {
    pub fn new(client: Client) -> Self {
        SnsSms { client }
    }
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send(&self, phone: &str, text: &str) -> Result<String, ChannelError> {
        let sms_type = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| ChannelError::Rejected(format!("Publish: {e}")))?;
        let out = self
            .client
            .publish()
            .phone_number(phone)
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", sms_type)
            .send()
            .await
            .map_err(|e| from_sdk("Publish", &e))?;
        out.message_id
            .ok_or_else(|| ChannelError::Unavailable("Publish: no MessageId in the answer".into()))
    }
}

/// Push notifications through SNS platform endpoints: one platform application per
/// platform (`ios`, `android`, `web` → its ARN, from `NotifyConfig::push_apps`).
#[derive(Clone)]
pub struct SnsPush {
    client: Client,
    apps: BTreeMap<String, String>,
}

impl SnsPush {
    pub fn new(client: Client, apps: BTreeMap<String, String>) -> Self {
        SnsPush { client, apps }
    }

    /// Re-enables an endpoint SNS already has for this token (SNS disables an endpoint
    /// when the platform reports the token invalid; the app registering it again means
    /// it is valid again).
    async fn reenable(&self, endpoint: &str, token: &str) -> Result<(), ChannelError> {
        self.client
            .set_endpoint_attributes()
            .endpoint_arn(endpoint)
            .attributes("Token", token)
            .attributes("Enabled", "true")
            .send()
            .await
            .map_err(|e| from_sdk("SetEndpointAttributes", &e))?;
        Ok(())
    }
}

#[async_trait]
impl PushSender for SnsPush {
    async fn register(&self, platform: &str, token: &str) -> Result<String, ChannelError> {
        let app = self.apps.get(platform).ok_or_else(|| {
            ChannelError::Rejected(format!("no push application for platform '{platform}'"))
        })?;
        // Always `Enabled=true`: SNS answers the same endpoint for the same token and
        // attributes (registration is idempotent), and refuses a disabled one, naming it.
        let created = self
            .client
            .create_platform_endpoint()
            .platform_application_arn(app)
            .token(token)
            .attributes("Enabled", "true")
            .send()
            .await;
        match created {
            Ok(out) => out.endpoint_arn.ok_or_else(|| {
                ChannelError::Unavailable("CreatePlatformEndpoint: no EndpointArn".into())
            }),
            Err(e) => match existing_endpoint(&e) {
                Some(arn) => {
                    self.reenable(&arn, token).await?;
                    Ok(arn)
                }
                None => Err(from_sdk("CreatePlatformEndpoint", &e)),
            },
        }
    }

    async fn unregister(&self, endpoint: &str) -> Result<(), ChannelError> {
        // DeleteEndpoint is idempotent: an endpoint already gone is not an error.
        self.client
            .delete_endpoint()
            .endpoint_arn(endpoint)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteEndpoint", &e))?;
        Ok(())
    }

    async fn send(&self, endpoint: &str, message: &PushMessage) -> Result<String, ChannelError> {
        let out = self
            .client
            .publish()
            .target_arn(endpoint)
            .message_structure("json")
            .message(push_payload(message))
            .send()
            .await
            .map_err(|e| from_sdk("Publish", &e))?;
        out.message_id
            .ok_or_else(|| ChannelError::Unavailable("Publish: no MessageId in the answer".into()))
    }
}

/// The `MessageStructure=json` body of a push: one payload per platform (each a JSON
/// string, as SNS wants), `default` for any other. APNS carries an alert, GCM (FCM,
/// also used for web push) a notification; SNS translates GCM's for FCM v1 applications.
pub fn push_payload(m: &PushMessage) -> String {
    let apns =
        json!({ "aps": { "alert": { "title": m.title, "body": m.body }, "sound": "default" } })
            .to_string();
    let gcm = json!({ "notification": { "title": m.title, "body": m.body } }).to_string();
    json!({
        "default": m.body,
        "APNS": apns,
        "APNS_SANDBOX": apns,
        "GCM": gcm,
    })
    .to_string()
}

/// The endpoint SNS names when `CreatePlatformEndpoint` meets a token it already has with
/// other attributes: "… Endpoint arn:aws:sns:… already exists with the same Token, but
/// different attributes."
fn existing_endpoint<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<String> {
    let SdkError::ServiceError(se) = e else {
        return None;
    };
    let err = se.err();
    if err.code() != Some("InvalidParameter") {
        return None;
    }
    let message = err.message()?;
    if !message.contains("already exists with the same") {
        return None;
    }
    message
        .split_whitespace()
        .find(|w| w.starts_with("arn:") && w.contains(":endpoint/"))
        .map(str::to_owned)
}

/// What failed, as far as the classification needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The request was never sent (a missing or invalid parameter caught by the SDK).
    Construction,
    /// Timeout, connection failure, or an answer that could not be read.
    Transport,
    /// SNS answered an error.
    Service { code: Option<&'a str>, status: u16 },
}

/// What the dispatcher should do about a provider failure.
pub fn classify(operation: &str, failure: Failure<'_>) -> ChannelError {
    match failure {
        Failure::Construction => ChannelError::Rejected(format!("{operation}: invalid request")),
        Failure::Transport => ChannelError::Unavailable(format!("{operation}: no answer")),
        Failure::Service { code, status } => {
            let label = format!("{operation}: {}", code.unwrap_or("unknown error"));
            match code.unwrap_or_default() {
                "Throttling"
                | "ThrottlingException"
                | "Throttled"
                | "ThrottledException"
                | "KMSThrottling"
                | "RequestLimitExceeded"
                | "TooManyRequestsException" => ChannelError::Throttled(label),
                // The address or endpoint is the problem: retrying cannot help.
                "InvalidParameter"
                | "InvalidParameterValue"
                | "ParameterValueInvalid"
                | "ValidationException"
                | "EndpointDisabled"
                | "PlatformApplicationDisabled"
                | "NotFound"
                | "OptedOut" => ChannelError::Rejected(label),
                // Ours to fix (permissions, KMS), or SNS failing: keep the delivery and
                // retry; the alarms and the providers route show it.
                "AuthorizationError" | "InvalidSecurity" | "InternalError"
                | "ServiceUnavailable" => ChannelError::Unavailable(label),
                _ if code.is_some_and(|c| c.starts_with("KMS")) => ChannelError::Unavailable(label),
                _ if status >= 500 || status == 429 => ChannelError::Unavailable(label),
                _ => ChannelError::Rejected(label),
            }
        }
    }
}

/// Classifies an SDK error of `operation` (see [`classify`]).
pub fn from_sdk<E: ProvideErrorMetadata>(
    operation: &str,
    e: &SdkError<E, HttpResponse>,
) -> ChannelError {
    let failure = match e {
        SdkError::ConstructionFailure(_) => Failure::Construction,
        SdkError::ServiceError(se) => Failure::Service {
            code: se.err().code(),
            status: se.raw().status().as_u16(),
        },
        // TimeoutError, DispatchFailure, ResponseError and any kind added later.
        _ => Failure::Transport,
    };
    classify(operation, failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, status: u16) -> ChannelError {
        classify(
            "Publish",
            Failure::Service {
                code: Some(code),
                status,
            },
        )
    }

    #[test]
    fn throttling_is_retried_later() {
        for code in ["Throttling", "ThrottledException", "KMSThrottling"] {
            assert_eq!(
                service(code, 400),
                ChannelError::Throttled(format!("Publish: {code}"))
            );
        }
    }

    #[test]
    fn bad_addresses_and_dead_endpoints_are_rejected() {
        for code in [
            "InvalidParameter",
            "ParameterValueInvalid",
            "EndpointDisabled",
            "PlatformApplicationDisabled",
            "NotFound",
        ] {
            let e = service(code, 400);
            assert!(matches!(e, ChannelError::Rejected(_)), "{code}: {e:?}");
            assert!(!e.is_retryable());
        }
    }

    #[test]
    fn sns_failures_and_our_own_setup_are_retried() {
        for (code, status) in [
            ("InternalError", 500),
            ("AuthorizationError", 403),
            ("KMSAccessDenied", 400),
            ("SomethingNew", 503),
        ] {
            let e = service(code, status);
            assert!(matches!(e, ChannelError::Unavailable(_)), "{code}: {e:?}");
            assert!(e.is_retryable());
        }
        assert!(matches!(
            classify("Publish", Failure::Transport),
            ChannelError::Unavailable(_)
        ));
        assert!(matches!(
            classify(
                "Publish",
                Failure::Service {
                    code: None,
                    status: 502
                }
            ),
            ChannelError::Unavailable(_)
        ));
    }

    #[test]
    fn unknown_client_errors_and_unsendable_requests_are_rejected() {
        assert!(matches!(
            service("SomethingNew", 400),
            ChannelError::Rejected(_)
        ));
        assert_eq!(
            classify("Publish", Failure::Construction),
            ChannelError::Rejected("Publish: invalid request".into())
        );
    }

    #[test]
    fn push_payload_has_a_json_string_per_platform() {
        let m = PushMessage {
            title: "Doors open \"now\"".into(),
            body: "Hall B, 18:00".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&push_payload(&m)).unwrap();
        assert_eq!(v["default"], "Hall B, 18:00");
        for key in ["APNS", "APNS_SANDBOX"] {
            let apns: serde_json::Value = serde_json::from_str(v[key].as_str().unwrap()).unwrap();
            assert_eq!(apns["aps"]["alert"]["title"], "Doors open \"now\"");
            assert_eq!(apns["aps"]["alert"]["body"], "Hall B, 18:00");
        }
        let gcm: serde_json::Value = serde_json::from_str(v["GCM"].as_str().unwrap()).unwrap();
        assert_eq!(gcm["notification"]["title"], "Doors open \"now\"");
        assert_eq!(gcm["notification"]["body"], "Hall B, 18:00");
    }

    #[tokio::test]
    async fn an_unknown_platform_is_rejected_before_any_call() {
        // No endpoint is reachable from this client: the refusal must come first.
        let conf = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let push = SnsPush::new(
            Client::from_conf(conf),
            [(
                "ios".to_owned(),
                "arn:aws:sns:us-east-1:1:app/APNS/x".to_owned(),
            )]
            .into(),
        );
        assert_eq!(
            push.register("windows", "tok").await,
            Err(ChannelError::Rejected(
                "no push application for platform 'windows'".into()
            ))
        );
    }
}
