//! The providers: SMS and push through SNS over the wire (the emulator's record of what
//! it was sent), the channels a deployed function gets, and `GET /admin/providers`.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use axum::body::Body;
use http::Request;
use notify::{
    NotifyConfig,
    channels::{
        ChannelError, PushMessage, PushSender, SmsSender,
        sns::{SnsPush, SnsSms, from_platform},
    },
    domain::Channel,
    routes::admin::providers::{self, ProviderStatus, SendQuota, SesStatus},
};
use serde_json::{Value, json};
use shared::{
    config::Config,
    platform::Platform,
    testing::{emulator_data, emulator_endpoint, emulator_sdk_config},
};

use crate::helpers::{Caller, TestNotify};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// moto's record of SNS (`sns` of /moto-api/data.json): `SMS` is a list of
/// `{message_id, phone_number, message}`, `PlatformEndpoint` a list of
/// `{arn, token, messages: {<messageId>: <message>}}`.
async fn sns_record(endpoint: &str) -> Value {
    emulator_data(endpoint).await["sns"].clone()
}

fn endpoint_in<'a>(sns: &'a Value, arn: &str) -> Option<&'a Value> {
    sns["PlatformEndpoint"]
        .as_array()?
        .iter()
        .find(|e| e["arn"] == arn)
}

async fn platform_application(client: &aws_sdk_sns::Client, platform: &str) -> String {
    client
        .create_platform_application()
        .name(unique("eventzr-test"))
        .platform(platform)
        .send()
        .await
        .expect("platform application")
        .platform_application_arn
        .expect("application arn")
}

fn message() -> PushMessage {
    PushMessage {
        title: "Doors open".into(),
        body: "Hall B opens at 18:00".into(),
    }
}

#[tokio::test]
async fn sns_sms_publishes_to_the_phone_number() {
    let Some(endpoint) = emulator_endpoint("sns_sms_publishes_to_the_phone_number") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let sms = SnsSms::new(aws_sdk_sns::Client::new(&sdk));

    let id = sms
        .send("+14155550123", "Your EventZR code is 481516")
        .await
        .expect("sent");

    let sns = sns_record(&endpoint).await;
    let sent: Vec<&Value> = sns["SMS"]
        .as_array()
        .expect("SMS record")
        .iter()
        .filter(|m| m["message_id"] == id.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "{sns}");
    assert_eq!(sent[0]["phone_number"], "+14155550123");
    assert_eq!(sent[0]["message"], "Your EventZR code is 481516");
}

#[tokio::test]
async fn sns_sms_rejects_a_number_sns_refuses() {
    let Some(endpoint) = emulator_endpoint("sns_sms_rejects_a_number_sns_refuses") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let sms = SnsSms::new(aws_sdk_sns::Client::new(&sdk));
    let err = sms.send("+1", "hello").await.expect_err("refused");
    assert_eq!(
        err,
        ChannelError::Rejected("Publish: InvalidParameter".into())
    );
    // The provider's message (which may quote the number) is not carried along.
    assert!(!err.to_string().contains("+1 "), "{err}");
}

#[tokio::test]
async fn sns_push_registers_publishes_to_and_removes_a_device() {
    let Some(endpoint) = emulator_endpoint("sns_push_registers_publishes_to_and_removes_a_device")
    else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let client = aws_sdk_sns::Client::new(&sdk);
    let ios = platform_application(&client, "APNS").await;
    let android = platform_application(&client, "GCM").await;
    let push = SnsPush::new(
        client,
        BTreeMap::from([("ios".into(), ios.clone()), ("android".into(), android)]),
    );
    let token = unique("apns-token");

    let arn = push.register("ios", &token).await.expect("registered");
    let app_name = ios.rsplit('/').next().unwrap();
    assert!(
        arn.contains(&format!(":endpoint/APNS/{app_name}/")),
        "{arn} is not an endpoint of {ios}"
    );
    // Registering the same token again is idempotent.
    assert_eq!(push.register("ios", &token).await.expect("again"), arn);

    let id = push.send(&arn, &message()).await.expect("published");
    let sns = sns_record(&endpoint).await;
    let ep = endpoint_in(&sns, &arn).expect("endpoint in the record");
    assert_eq!(ep["token"], token.as_str());
    let published: Value =
        serde_json::from_str(ep["messages"][&id].as_str().expect("message")).expect("JSON");
    let apns: Value = serde_json::from_str(published["APNS"].as_str().unwrap()).unwrap();
    assert_eq!(apns["aps"]["alert"]["title"], "Doors open");
    assert_eq!(apns["aps"]["alert"]["body"], "Hall B opens at 18:00");
    let gcm: Value = serde_json::from_str(published["GCM"].as_str().unwrap()).unwrap();
    assert_eq!(gcm["notification"]["title"], "Doors open");
    assert_eq!(published["default"], "Hall B opens at 18:00");

    push.unregister(&arn).await.expect("removed");
    // (moto's record keeps every endpoint ever made: SNS itself tells it is gone.)
    // Removing it twice is fine; publishing to it now is refused for good.
    push.unregister(&arn).await.expect("idempotent");
    assert_eq!(
        push.send(&arn, &message()).await,
        Err(ChannelError::Rejected("Publish: NotFound".into()))
    );
}

#[tokio::test]
async fn a_disabled_endpoint_is_refused_until_the_device_registers_again() {
    let Some(endpoint) =
        emulator_endpoint("a_disabled_endpoint_is_refused_until_the_device_registers_again")
    else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let client = aws_sdk_sns::Client::new(&sdk);
    let ios = platform_application(&client, "APNS").await;
    let push = SnsPush::new(client.clone(), BTreeMap::from([("ios".into(), ios)]));
    let token = unique("apns-token");
    let arn = push.register("ios", &token).await.expect("registered");

    // What SNS does when Apple reports the token invalid.
    client
        .set_endpoint_attributes()
        .endpoint_arn(&arn)
        .attributes("Enabled", "false")
        .send()
        .await
        .expect("disable");
    assert_eq!(
        push.send(&arn, &message()).await,
        Err(ChannelError::Rejected("Publish: EndpointDisabled".into()))
    );

    // The app registers the token again: the same endpoint, enabled.
    assert_eq!(push.register("ios", &token).await.expect("again"), arn);
    push.send(&arn, &message()).await.expect("published again");
}

#[tokio::test]
async fn registering_with_a_missing_platform_application_is_rejected() {
    let Some(endpoint) =
        emulator_endpoint("registering_with_a_missing_platform_application_is_rejected")
    else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let push = SnsPush::new(
        aws_sdk_sns::Client::new(&sdk),
        BTreeMap::from([(
            "web".into(),
            "arn:aws:sns:us-east-1:123456789012:app/GCM/no-such-app".into(),
        )]),
    );
    assert_eq!(
        push.register("web", "token").await,
        Err(ChannelError::Rejected(
            "CreatePlatformEndpoint: NotFound".into()
        ))
    );
    assert!(matches!(
        push.register("ios", "token").await,
        Err(ChannelError::Rejected(_))
    ));
}

#[tokio::test]
async fn ses_reports_its_send_quota() {
    let Some(endpoint) = emulator_endpoint("ses_reports_its_send_quota") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let status = SesStatus::new(aws_sdk_ses::Client::new(&sdk));
    let quota = status
        .send_quota()
        .await
        .expect("quota")
        .expect("SES has one");
    // moto answers the sandbox's limits.
    assert_eq!(quota.max_24_hour_send, 200.0);
    assert_eq!(quota.max_send_rate, 1.0);
    assert!(quota.sent_last_24_hours >= 0.0);
    assert_eq!(status.provider(Channel::Email), "ses");
    assert!(!status.is_local());
}

/// A deployed function's channels follow the stage: email always, SMS when enabled, push
/// when a platform application is set. (No AWS call: clients resolve on first use.)
#[tokio::test]
async fn a_deployed_function_gets_the_channels_its_stage_set_up() {
    let aws = Platform::aws(Config::local()).await;
    let all = from_platform(&aws, &NotifyConfig::local());
    for channel in Channel::ALL {
        assert!(all.is_configured(channel), "{channel:?}");
    }

    let bare = NotifyConfig {
        sms_enabled: false,
        push_apps: BTreeMap::new(),
        ..NotifyConfig::local()
    };
    let some = from_platform(&aws, &bare);
    assert!(some.is_configured(Channel::Email));
    assert!(!some.is_configured(Channel::Sms));
    assert!(!some.is_configured(Channel::Push));
    assert!(some.is_configured(Channel::InApp));

    // Without an SDK configuration (a local platform) there is no SNS to use.
    let t = TestNotify::new().await;
    let local = from_platform(&t.state.platform, &NotifyConfig::local());
    assert!(local.is_configured(Channel::Email));
    assert!(!local.is_configured(Channel::Sms));
    assert!(!local.is_configured(Channel::Push));
}

// --- GET /admin/providers ---------------------------------------------------------

const PROVIDERS: &str = "/notify/v1/admin/providers";

fn entry<'a>(body: &'a Value, channel: &str) -> &'a Value {
    body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|e| e["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} entry in {body}"))
}

#[tokio::test]
async fn admin_sees_every_channel_configured_locally() {
    let t = TestNotify::new().await;
    let r = t.get(PROVIDERS, &Caller::t1("admin")).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    assert_eq!(body["data"].as_array().unwrap().len(), 4);
    for (channel, provider) in [
        ("email", "outbox"),
        ("sms", "local"),
        ("push", "local"),
        ("in_app", "inbox"),
    ] {
        let e = entry(&body, channel);
        assert_eq!(e["configured"], true, "{e}");
        assert_eq!(e["provider"], provider, "{e}");
        assert!(e["details"].is_null(), "{e}");
        assert!(e["lastError"].is_null(), "{e}");
    }
}

#[tokio::test]
async fn providers_need_the_admin_role() {
    let t = TestNotify::new().await;
    t.get(PROVIDERS, &Caller::t1("organizer"))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.call("GET", PROVIDERS, None, None)
        .await
        .assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
}

#[tokio::test]
async fn a_channel_without_provider_shows_unconfigured() {
    let t = TestNotify::new()
        .await
        .with_state(|s| s.channels.push = None);
    let r = t.get(PROVIDERS, &Caller::t1("admin")).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    let push = entry(&body, "push");
    assert_eq!(push["configured"], false);
    assert!(push["provider"].is_null());
    assert_eq!(entry(&body, "sms")["configured"], true);
}

#[tokio::test]
async fn the_last_provider_error_shows_to_its_tenant_only() {
    let t = TestNotify::new().await;
    let tenant = shared::tenant::TenantId::parse(crate::helpers::TENANT_1).expect("tenant");
    let at = t.state.now();
    providers::record_error(
        t.state.store(),
        &tenant,
        Channel::Sms,
        &ChannelError::Unavailable("Publish: InternalError".into()),
        at,
    )
    .await;
    // The newest error replaces the previous one.
    providers::record_error(
        t.state.store(),
        &tenant,
        Channel::Sms,
        &ChannelError::Throttled("Publish: Throttling".into()),
        at,
    )
    .await;

    let body = t.get(PROVIDERS, &Caller::t1("admin")).await.json();
    assert_eq!(
        entry(&body, "sms")["lastError"],
        json!({
            "kind": "throttled",
            "detail": "Publish: Throttling",
            "at": shared::clock::rfc3339_millis(at),
        })
    );
    assert!(entry(&body, "email")["lastError"].is_null());

    let other = t.get(PROVIDERS, &Caller::t3("admin")).await.json();
    assert!(entry(&other, "sms")["lastError"].is_null(), "{other}");
}

/// SES as a deployed function sees it, without AWS: a quota, or a failure to read it.
struct FakeSes(Result<SendQuota, ChannelError>);

#[async_trait]
impl ProviderStatus for FakeSes {
    fn provider(&self, channel: Channel) -> &'static str {
        match channel {
            Channel::Email => "ses",
            Channel::Sms | Channel::Push => "sns",
            Channel::InApp => "inbox",
        }
    }
    async fn send_quota(&self) -> Result<Option<SendQuota>, ChannelError> {
        self.0.clone().map(Some)
    }
}

async fn providers_with(t: &TestNotify, status: FakeSes) -> Value {
    let router = shared::http::finish(
        providers::router_with(Arc::new(status)).with_state(t.state.clone()),
        notify::SERVICE,
        &t.state.platform,
        notify::ROUTE_GROUPS,
    );
    let req = Request::get(PROVIDERS)
        .header(
            "authorization",
            format!("Bearer {}", t.token(&Caller::t1("admin"))),
        )
        .body(Body::empty())
        .unwrap();
    let r = shared::testing::send(&router, req).await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

#[tokio::test]
async fn in_aws_email_shows_the_ses_quota_and_push_its_platforms() {
    let t = TestNotify::new().await;
    let quota = SendQuota {
        max_24_hour_send: 50_000.0,
        max_send_rate: 14.0,
        sent_last_24_hours: 1_234.0,
    };
    let body = providers_with(&t, FakeSes(Ok(quota))).await;
    let email = entry(&body, "email");
    assert_eq!(email["provider"], "ses");
    assert_eq!(
        email["details"],
        json!({"sendQuota": {"max24HourSend": 50000.0, "maxSendRate": 14.0, "sentLast24Hours": 1234.0}})
    );
    let push = entry(&body, "push");
    assert_eq!(push["provider"], "sns");
    assert_eq!(
        push["details"],
        json!({"platforms": ["android", "ios", "web"]})
    );
    assert!(entry(&body, "sms")["details"].is_null());
}

#[tokio::test]
async fn an_unreachable_ses_still_answers_with_the_reason() {
    let t = TestNotify::new().await;
    let body = providers_with(
        &t,
        FakeSes(Err(ChannelError::Throttled(
            "GetSendQuota: Throttling".into(),
        ))),
    )
    .await;
    assert_eq!(
        entry(&body, "email")["details"],
        json!({"sendQuotaError": "GetSendQuota: Throttling"})
    );
    assert_eq!(entry(&body, "email")["configured"], true);
}
