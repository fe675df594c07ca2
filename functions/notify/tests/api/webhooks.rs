//! POST /webhooks/ses (SNS-signed) and POST /webhooks/{provider} (HMAC-signed): every
//! refusal leaves the state as it was (no event id recorded, no suppression, no fetch of
//! a foreign URL); a valid replay answers 200 and changes nothing.
//!
//! Messages are signed here with the TEST key of tests/fixtures/sns (the string to sign is
//! rebuilt here from AWS's documentation, not taken from the crate), and two fixtures are
//! signed by openssl; the certificate reaches the verifier through a fake fetcher.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use axum::body::Body;
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use chrono::{DateTime, Duration, Utc};
use http::Request;
use notify::{
    repo::{suppressions, webhook_events},
    webhook::{FetchError, Fetcher, Webhooks},
};
use serde_json::{Value, json};
use shared::{
    clock::rfc3339_millis,
    testing::{Reply, t1, t3},
};

use crate::helpers::{Caller, TestNotify};

pub(crate) const CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-TEST-ONLY.pem";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:eventzr-local-ses";
const SUBSCRIBE_URL: &str = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:eventzr-local-ses&Token=tok-1";
const KEY_PEM: &str = include_str!("../fixtures/sns/TEST-ONLY-signing-key.pem");
pub(crate) const CERT_PEM: &str = include_str!("../fixtures/sns/TEST-ONLY-signing-cert.pem");
const V1_BOUNCE: &str = include_str!("../fixtures/sns/v1-bounce.json");
const V2_COMPLAINT: &str = include_str!("../fixtures/sns/v2-complaint.json");

/// AWS as the verifier sees it: canned answers per URL, and every URL asked.
#[derive(Default)]
pub(crate) struct FakeAws {
    answers: Mutex<HashMap<String, Result<Vec<u8>, FetchError>>>,
    calls: Mutex<Vec<String>>,
}

impl FakeAws {
    pub(crate) fn serve(&self, url: &str, answer: Result<Vec<u8>, FetchError>) {
        self.answers.lock().unwrap().insert(url.into(), answer);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Fetcher for FakeAws {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.calls.lock().unwrap().push(url.into());
        self.answers
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .unwrap_or(Err(FetchError::Refused(404)))
    }
}

struct Hooks {
    t: TestNotify,
    aws: Arc<FakeAws>,
}

async fn hooks() -> Hooks {
    let aws = Arc::new(FakeAws::default());
    aws.serve(CERT_URL, Ok(CERT_PEM.as_bytes().to_vec()));
    aws.serve(
        SUBSCRIBE_URL,
        Ok(b"<ConfirmSubscriptionResponse/>".to_vec()),
    );
    let fetcher = aws.clone();
    let t = TestNotify::new().await.with_state(move |st| {
        st.webhooks = Arc::new(Webhooks::with_fetcher(&st.platform, &st.cfg, fetcher));
    });
    Hooks { t, aws }
}

fn test_key() -> RsaKeyPair {
    let b64: String = KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    RsaKeyPair::from_pkcs8(&B64.decode(b64).unwrap()).unwrap()
}

/// AWS's string to sign: `Name\nValue\n` of these fields, in this order, when present.
fn string_to_sign(m: &Value) -> String {
    let names: &[&str] = if m["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    names
        .iter()
        .filter_map(|n| m[n].as_str().map(|v| format!("{n}\n{v}\n")))
        .collect()
}

/// `m` signed (SignatureVersion 2) with `key`.
fn signed_with(mut m: Value, key: &RsaKeyPair) -> Value {
    m["SignatureVersion"] = json!("2");
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        string_to_sign(&m).as_bytes(),
        &mut sig,
    )
    .unwrap();
    m["Signature"] = json!(B64.encode(sig));
    m
}

/// `m` signed (SignatureVersion 2) with the TEST key of tests/fixtures/sns.
pub(crate) fn signed(m: Value) -> Value {
    signed_with(m, &test_key())
}

fn bounce(ses_message_id: &str, address: &str, bounce_type: &str) -> Value {
    json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": address, "status": "5.1.1"}]
        },
        "mail": {"messageId": ses_message_id, "destination": [address]}
    })
}

/// An unsigned SNS Notification carrying `ses` at time `at`.
pub(crate) fn notification_at(sns_id: &str, ses: &Value, at: DateTime<Utc>) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": TOPIC,
        "Message": ses.to_string(),
        "Timestamp": rfc3339_millis(at),
        "SignatureVersion": "2",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"
    })
}

fn notification(t: &TestNotify, sns_id: &str, ses: &Value) -> Value {
    notification_at(sns_id, ses, t.state.now())
}

/// Posts as SNS does: text/plain, the type in `x-amz-sns-message-type`.
async fn post_raw(t: &TestNotify, body: String, kind: &str) -> Reply {
    let req = Request::builder()
        .method("POST")
        .uri("/notify/v1/webhooks/ses")
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", kind)
        .body(Body::from(body))
        .unwrap();
    t.send(req).await
}

async fn post_sns(t: &TestNotify, m: &Value) -> Reply {
    let kind = m["Type"].as_str().unwrap_or("Notification").to_owned();
    post_raw(t, m.to_string(), &kind).await
}

async fn seen(t: &TestNotify, provider: &str, event_id: &str) -> bool {
    webhook_events::seen(t.state.store(), provider, event_id, t.state.epoch())
        .await
        .unwrap()
}

/// Nothing recorded for this event and no tenant has a suppression.
async fn assert_untouched(t: &TestNotify, provider: &str, event_id: &str) {
    assert!(
        !seen(t, provider, event_id).await,
        "event {event_id} recorded"
    );
    for tenant in [t1(), t3()] {
        let (list, _) = suppressions::list(t.state.store(), &tenant, 100, None)
            .await
            .unwrap();
        assert!(list.is_empty(), "suppressions changed: {list:?}");
    }
}

fn result(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"]["result"].as_str().unwrap().to_owned()
}

// --- SNS ------------------------------------------------------------------------------

#[tokio::test]
async fn a_notification_for_an_unknown_message_changes_nothing_and_is_not_recorded() {
    let Hooks { t, aws } = hooks().await;
    let m = signed(notification(
        &t,
        "sns-1",
        &bounce("ses-unknown", "ann@example.com", "Permanent"),
    ));

    // No delivery has this SES message id: accepted, nothing to move or suppress, and
    // nothing written (a report racing its send's record is applied when redelivered).
    assert_eq!(result(&post_sns(&t, &m).await), "unknown_message");
    assert!(!seen(&t, "ses", "sns-1").await);
    assert_eq!(result(&post_sns(&t, &m).await), "unknown_message");
    assert!(!seen(&t, "ses", "sns-1").await);
    // The certificate was fetched once, from its SNS URL only.
    assert_eq!(aws.calls(), vec![CERT_URL.to_owned()]);
}

#[tokio::test]
async fn signature_versions_1_and_2_signed_by_openssl_both_verify() {
    let Hooks { t, .. } = hooks().await;
    t.tp.clock
        .set("2026-12-03T10:01:00Z".parse::<DateTime<Utc>>().unwrap());
    for (fixture, version) in [(V1_BOUNCE, "1"), (V2_COMPLAINT, "2")] {
        let m: Value = serde_json::from_str(fixture).unwrap();
        assert_eq!(m["SignatureVersion"], version);
        assert_eq!(
            result(&post_sns(&t, &m).await),
            "unknown_message",
            "v{version}"
        );

        // The same bytes claimed under the other version do not verify.
        // (Refused before the replay check: a wrongly accepted one would answer 200.)
        let mut other = m.clone();
        other["SignatureVersion"] = json!(if version == "1" { "2" } else { "1" });
        post_sns(&t, &other)
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    }
}

#[tokio::test]
async fn a_tampered_or_foreign_signature_is_refused_without_changing_state() {
    let Hooks { t, .. } = hooks().await;
    let ses = bounce("ses-1", "ann@example.com", "Permanent");
    let good = signed(notification(&t, "sns-t", &ses));

    let mut tampered = good.clone();
    tampered["Message"] = json!(bounce("ses-1", "bob@example.com", "Permanent").to_string());
    let mut subject_added = good.clone();
    subject_added["Subject"] = json!("hi");
    let other_key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let foreign = signed_with(notification(&t, "sns-t", &ses), &other_key);
    let mut garbage = good.clone();
    garbage["Signature"] = json!("not base64 !!");
    let mut truncated = good.clone();
    truncated["Signature"] = json!(&good["Signature"].as_str().unwrap()[..40]);
    let mut version3 = good.clone();
    version3["SignatureVersion"] = json!("3");
    let mut unsigned = good.clone();
    unsigned.as_object_mut().unwrap().remove("Signature");

    for m in [
        tampered,
        subject_added,
        foreign,
        garbage,
        truncated,
        version3,
        unsigned,
    ] {
        post_sns(&t, &m)
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    }
    for body in ["", "not json", "[]", "{}"] {
        post_raw(&t, body.into(), "Notification")
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    }
    assert_untouched(&t, "ses", "sns-t").await;
    // The genuine message still goes through afterwards.
    assert_eq!(result(&post_sns(&t, &good).await), "unknown_message");
}

#[tokio::test]
async fn certificate_urls_off_the_sns_hosts_are_refused_before_any_fetch() {
    let Hooks { t, aws } = hooks().await;
    let ses = bounce("ses-1", "ann@example.com", "Permanent");
    for url in [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-TEST-ONLY.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-TEST-ONLY.pem",
        "https://sns.amazonaws.com.evil.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com@evil.com/cert.pem",
        "https://evil.com@sns.us-east-1.amazonaws.com/cert.pem",
        "https://evil.com\\@sns.us-east-1.amazonaws.com/cert.pem",
        "https://evil.com/sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.pem?x=https://evil.com/c.pem",
        "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/cert.pem",
        "file:///etc/ssl/cert.pem",
    ] {
        let mut m = notification(&t, "sns-u", &ses);
        m["SigningCertURL"] = json!(url);
        // Validly signed: only the URL is wrong (SigningCertURL is not a signed field).
        post_sns(&t, &signed(m))
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    }
    assert!(aws.calls().is_empty(), "fetched: {:?}", aws.calls());
    assert_untouched(&t, "ses", "sns-u").await;
}

#[tokio::test]
async fn a_certificate_url_that_serves_no_certificate_is_refused_and_an_unreachable_one_is_503() {
    let Hooks { t, aws } = hooks().await;
    let ses = bounce("ses-1", "ann@example.com", "Permanent");
    let missing = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-missing.pem";
    let junk = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-junk.pem";
    let down = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-down.pem";
    aws.serve(
        junk,
        Ok(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec()),
    );
    aws.serve(down, Err(FetchError::Unavailable("timed out".into())));
    for (url, status, code) in [
        (missing, 401, "ERR_NOTIFY_INVALID_SIGNATURE"),
        (junk, 401, "ERR_NOTIFY_INVALID_SIGNATURE"),
        (down, 503, "ERR_NOTIFY_PROVIDER_UNAVAILABLE"),
    ] {
        let mut m = notification(&t, "sns-c", &ses);
        m["SigningCertURL"] = json!(url);
        post_sns(&t, &signed(m)).await.assert_error(status, code);
    }
    assert_untouched(&t, "ses", "sns-c").await;
}

#[tokio::test]
async fn an_unknown_topic_is_refused() {
    let Hooks { t, aws } = hooks().await;
    let mut m = notification(
        &t,
        "sns-topic",
        &bounce("ses-1", "ann@example.com", "Permanent"),
    );
    m["TopicArn"] = json!("arn:aws:sns:us-east-1:999999999999:someone-elses-topic");
    post_sns(&t, &signed(m))
        .await
        .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    assert!(aws.calls().is_empty());
    assert_untouched(&t, "ses", "sns-topic").await;
}

#[tokio::test]
async fn stale_or_future_timestamps_are_refused() {
    let Hooks { t, .. } = hooks().await;
    let ses = bounce("ses-1", "ann@example.com", "Permanent");
    let now = t.state.now();
    for (id, at) in [
        ("sns-old", now - Duration::minutes(61)),
        ("sns-future", now + Duration::minutes(6)),
    ] {
        post_sns(&t, &signed(notification_at(id, &ses, at)))
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
        assert_untouched(&t, "ses", id).await;
    }
    for (id, at) in [
        ("sns-59min", now - Duration::minutes(59)),
        ("sns-skewed", now + Duration::minutes(4)),
    ] {
        assert_eq!(
            result(&post_sns(&t, &signed(notification_at(id, &ses, at))).await),
            "unknown_message"
        );
    }
}

#[tokio::test]
async fn a_certificate_not_valid_at_our_clock_is_refused() {
    let Hooks { t, .. } = hooks().await;
    // The test certificate's validity starts 2026-12-02.
    let before = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    t.tp.clock.set(before);
    let m = signed(notification_at(
        "sns-early",
        &bounce("ses-1", "a@x.io", "Permanent"),
        before,
    ));
    post_sns(&t, &m)
        .await
        .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    assert_untouched(&t, "ses", "sns-early").await;
}

#[tokio::test]
async fn a_message_type_header_that_disagrees_with_the_message_is_refused() {
    let Hooks { t, .. } = hooks().await;
    let m = signed(notification(
        &t,
        "sns-h",
        &bounce("ses-1", "a@x.io", "Permanent"),
    ));
    post_raw(&t, m.to_string(), "SubscriptionConfirmation")
        .await
        .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    assert_untouched(&t, "ses", "sns-h").await;
}

#[tokio::test]
async fn other_ses_messages_are_accepted_and_ignored() {
    let Hooks { t, .. } = hooks().await;
    let setup = json!({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"});
    let m = signed(notification(&t, "sns-setup", &setup));
    assert_eq!(result(&post_sns(&t, &m).await), "ignored");
}

fn confirmation(t: &TestNotify, sns_id: &str, subscribe_url: &str) -> Value {
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": sns_id,
        "Token": "tok-1",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic. To confirm, visit the SubscribeURL.",
        "SubscribeURL": subscribe_url,
        "Timestamp": rfc3339_millis(t.state.now()),
        "SignatureVersion": "2",
        "SigningCertURL": CERT_URL
    })
}

#[tokio::test]
async fn a_subscription_confirmation_calls_its_subscribe_url_once() {
    let Hooks { t, aws } = hooks().await;
    let m = signed(confirmation(&t, "sns-sub", SUBSCRIBE_URL));
    assert_eq!(result(&post_sns(&t, &m).await), "confirmed");
    assert_eq!(
        aws.calls(),
        vec![CERT_URL.to_owned(), SUBSCRIBE_URL.to_owned()]
    );

    assert_eq!(result(&post_sns(&t, &m).await), "duplicate");
    assert_eq!(aws.calls().len(), 2);
}

#[tokio::test]
async fn a_subscription_confirmation_with_a_foreign_subscribe_url_is_refused() {
    let Hooks { t, aws } = hooks().await;
    for url in [
        "https://evil.com/?Action=ConfirmSubscription&Token=tok-1",
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok-1",
        "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    ] {
        // Signed: SubscribeURL is a signed field, so the signature covers the foreign URL.
        post_sns(&t, &signed(confirmation(&t, "sns-evil", url)))
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    }
    assert!(aws.calls().is_empty(), "fetched: {:?}", aws.calls());
    assert_untouched(&t, "ses", "sns-evil").await;
}

#[tokio::test]
async fn a_confirmation_that_cannot_reach_sns_is_503_and_can_be_retried() {
    let Hooks { t, aws } = hooks().await;
    aws.serve(
        SUBSCRIBE_URL,
        Err(FetchError::Unavailable("timed out".into())),
    );
    let m = signed(confirmation(&t, "sns-retry", SUBSCRIBE_URL));
    post_sns(&t, &m)
        .await
        .assert_error(503, "ERR_NOTIFY_PROVIDER_UNAVAILABLE");
    assert!(
        !seen(&t, "ses", "sns-retry").await,
        "the claim was released"
    );

    aws.serve(SUBSCRIBE_URL, Ok(Vec::new()));
    assert_eq!(result(&post_sns(&t, &m).await), "confirmed");
}

/// A real email send, so a delivery with a provider message id exists (the outbox's id).
async fn sent_email(t: &TestNotify, to: &str) -> String {
    let r = t
        .post(
            "/notify/v1/send",
            &Caller::t1("organizer"),
            &json!({
                "channels": ["email"],
                "recipients": [{"email": to}],
                "content": {"subject": "Hello", "text": "Hello there"},
                "category": "transactional"
            }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    t.tp.outbox
        .sent_to(to)
        .last()
        .expect("mail sent")
        .id
        .clone()
}

async fn check(t: &TestNotify, caller: &Caller, contact: &str) -> Value {
    let r = t
        .post(
            "/notify/v1/suppressions/check",
            caller,
            &json!({"contacts": [contact]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"][0].clone()
}

async fn delivery_status(t: &TestNotify) -> String {
    let r = t
        .get("/notify/v1/deliveries", &Caller::t1("organizer"))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"][0]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_permanent_bounce_suppresses_the_address_in_the_delivery_tenant() {
    let Hooks { t, .. } = hooks().await;
    let ses_id = sent_email(&t, "ann@example.com").await;
    let m = signed(notification(
        &t,
        "sns-b",
        &bounce(&ses_id, "Ann@Example.com", "Permanent"),
    ));
    assert_eq!(result(&post_sns(&t, &m).await), "applied");

    let s = check(&t, &Caller::t1("organizer"), "ann@example.com").await;
    assert_eq!(
        (s["suppressed"].clone(), s["reason"].clone()),
        (json!(true), json!("hard_bounce"))
    );
    assert_eq!(
        check(&t, &Caller::t3("organizer"), "ann@example.com").await["suppressed"],
        false
    );
    assert_eq!(delivery_status(&t).await, "bounced");
}

/// A report the delivery's status does not take (a second bounce, under another event
/// id, after the first) says so: `not_applicable`, the delivery as it was.
#[tokio::test]
async fn a_report_the_delivery_cannot_take_says_not_applicable() {
    let Hooks { t, .. } = hooks().await;
    let ses_id = sent_email(&t, "ann@example.com").await;
    let first = signed(notification(
        &t,
        "sns-1",
        &bounce(&ses_id, "ann@example.com", "Permanent"),
    ));
    assert_eq!(result(&post_sns(&t, &first).await), "applied");
    let delivered = json!({"notificationType": "Delivery", "mail": {"messageId": ses_id},
        "delivery": {"recipients": ["ann@example.com"]}});
    let late = signed(notification(&t, "sns-2", &delivered));
    assert_eq!(result(&post_sns(&t, &late).await), "not_applicable");
    assert_eq!(delivery_status(&t).await, "bounced");
}

#[tokio::test]
async fn a_replayed_bounce_for_a_real_delivery_changes_nothing() {
    let Hooks { t, .. } = hooks().await;
    let ses_id = sent_email(&t, "ann@example.com").await;
    let m = signed(notification(
        &t,
        "sns-replay",
        &bounce(&ses_id, "ann@example.com", "Permanent"),
    ));
    assert_eq!(result(&post_sns(&t, &m).await), "applied");
    // The admin lifts the suppression; the same SNS message again must not re-add it.
    let lifted = t
        .delete(
            "/notify/v1/suppressions/ann%40example.com",
            &Caller::t1("admin"),
        )
        .await;
    assert_eq!(lifted.status, 200, "{}", lifted.json());
    assert_eq!(result(&post_sns(&t, &m).await), "duplicate");
    assert_eq!(
        check(&t, &Caller::t1("organizer"), "ann@example.com").await["suppressed"],
        false
    );
    assert_eq!(delivery_status(&t).await, "bounced");
}

#[tokio::test]
async fn a_signed_transient_bounce_is_recorded_but_suppresses_nothing() {
    let Hooks { t, .. } = hooks().await;
    let ses_id = sent_email(&t, "ann@example.com").await;
    let m = signed(notification(
        &t,
        "sns-s",
        &bounce(&ses_id, "ann@example.com", "Transient"),
    ));
    assert_eq!(result(&post_sns(&t, &m).await), "applied");
    assert_eq!(
        check(&t, &Caller::t1("organizer"), "ann@example.com").await["suppressed"],
        false
    );
    assert_eq!(delivery_status(&t).await, "bounced");
}

// --- HMAC providers -------------------------------------------------------------------

const NEW_SECRET: &str = "whsec_new_0123456789";
const OLD_SECRET: &str = "whsec_old_0123456789";

fn with_secrets(t: &TestNotify) {
    t.tp.secrets.set(
        &t.state.cfg.webhook_secrets_secret_id,
        json!({"acme": [NEW_SECRET, OLD_SECRET], "sns": [NEW_SECRET], "retired": []}).to_string(),
    );
}

/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>." + body>`.
pub(crate) fn signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

async fn post_hook(t: &TestNotify, provider: &str, body: &str, sig: Option<&str>) -> Reply {
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/notify/v1/webhooks/{provider}"))
        .header("content-type", "application/json");
    if let Some(s) = sig {
        req = req.header("x-eventzr-signature", s);
    }
    t.send(req.body(Body::from(body.to_owned())).unwrap()).await
}

fn event(event_id: &str) -> String {
    json!({"eventId": event_id, "messageId": "msg-unknown", "status": "bounced",
        "recipient": "ann@example.com", "bounceType": "hard"})
    .to_string()
}

#[tokio::test]
async fn a_validly_signed_callback_is_handled_once() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let msg_id = sent_sms(&t, "+14155550100").await;
    let body = json!({"eventId": "evt-1", "messageId": msg_id, "status": "delivered"}).to_string();
    let sig = signature(NEW_SECRET, t.state.epoch(), &body);
    assert_eq!(
        result(&post_hook(&t, "sns", &body, Some(&sig)).await),
        "applied"
    );
    assert!(seen(&t, "sns", "evt-1").await);
    assert_eq!(delivery_status(&t).await, "delivered");

    assert_eq!(
        result(&post_hook(&t, "sns", &body, Some(&sig)).await),
        "duplicate"
    );
    // Event ids are per provider.
    assert!(!seen(&t, "acme", "evt-1").await);
}

#[tokio::test]
async fn a_callback_for_an_unknown_message_is_not_recorded() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let body = event("evt-early");
    let sig = signature(NEW_SECRET, t.state.epoch(), &body);
    for _ in 0..2 {
        assert_eq!(
            result(&post_hook(&t, "acme", &body, Some(&sig)).await),
            "unknown_message"
        );
        assert!(!seen(&t, "acme", "evt-early").await);
    }
}

#[tokio::test]
async fn a_provider_cannot_report_on_a_message_another_provider_sent() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    // An email, sent through SES; its message id is in every copy's Message-ID header.
    let ses_id = sent_email(&t, "ann@example.com").await;
    let body = json!({"eventId": "evt-x", "messageId": ses_id, "status": "complained",
        "recipient": "ann@example.com"})
    .to_string();
    let sig = signature(NEW_SECRET, t.state.epoch(), &body);
    assert_eq!(
        result(&post_hook(&t, "acme", &body, Some(&sig)).await),
        "unknown_message"
    );
    // Nothing moved, nothing suppressed.
    assert_eq!(delivery_status(&t).await, "sent");
    assert_eq!(
        check(&t, &Caller::t1("organizer"), "ann@example.com").await["suppressed"],
        false
    );
}

#[tokio::test]
async fn the_old_secret_and_several_v1_entries_are_accepted_during_a_rotation() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let now = t.state.epoch();
    let body = event("evt-old");
    let sig = signature(OLD_SECRET, now, &body);
    assert_eq!(
        result(&post_hook(&t, "acme", &body, Some(&sig)).await),
        "unknown_message"
    );

    // The provider signs with a key we do not know yet and with one we do.
    let body = event("evt-two");
    let unknown = signature("whsec_future", now, &body);
    let known = signature(NEW_SECRET, now, &body);
    let both = format!("{unknown},{}", known.split_once(',').unwrap().1);
    assert_eq!(
        result(&post_hook(&t, "acme", &body, Some(&both)).await),
        "unknown_message"
    );
}

#[tokio::test]
async fn a_wrong_secret_or_a_changed_body_is_refused_without_changing_state() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let now = t.state.epoch();
    let body = event("evt-w");
    let wrong = signature("whsec_guess", now, &body);
    post_hook(&t, "acme", &body, Some(&wrong))
        .await
        .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    // Signed over the compact body, sent re-serialised: the exact bytes count.
    let sig = signature(NEW_SECRET, now, &body);
    let spaced = body.replace(',', ", ");
    post_hook(&t, "acme", &spaced, Some(&sig))
        .await
        .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    assert_untouched(&t, "acme", "evt-w").await;
}

#[tokio::test]
async fn a_timestamp_outside_300_seconds_either_way_is_refused() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let now = t.state.epoch();
    for (id, at) in [("evt-late", now - 301), ("evt-early", now + 301)] {
        let body = event(id);
        post_hook(&t, "acme", &body, Some(&signature(NEW_SECRET, at, &body)))
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
        assert_untouched(&t, "acme", id).await;
    }
    for (id, at) in [("evt-300-ago", now - 300), ("evt-300-ahead", now + 300)] {
        let body = event(id);
        let r = post_hook(&t, "acme", &body, Some(&signature(NEW_SECRET, at, &body))).await;
        assert_eq!(result(&r), "unknown_message");
    }
}

#[tokio::test]
async fn malformed_signature_headers_are_refused() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let now = t.state.epoch();
    let body = event("evt-m");
    let good = signature(NEW_SECRET, now, &body);
    let hex = good.split_once("v1=").unwrap().1.to_owned();
    for header in [
        None,
        Some(String::new()),
        Some(format!("v1={hex}")),
        Some(format!("t={now}")),
        Some(format!("t=abc,v1={hex}")),
        Some(format!("t={now},v1={}", &hex[..63])),
        Some(format!("t={now};v1={hex}")),
        Some(format!("t={now},t={now},v1={hex}")),
        Some(format!("sha256={hex}")),
        Some(hex.clone()),
    ] {
        post_hook(&t, "acme", &body, header.as_deref())
            .await
            .assert_error(401, "ERR_NOTIFY_INVALID_SIGNATURE");
    }
    assert_untouched(&t, "acme", "evt-m").await;
}

#[tokio::test]
async fn a_provider_without_secrets_is_not_found() {
    let t = TestNotify::new().await;
    let body = event("evt-n");
    let sig = signature(NEW_SECRET, t.state.epoch(), &body);
    // No webhook secret at all on this stage.
    post_hook(&t, "acme", &body, Some(&sig))
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    with_secrets(&t);
    t.advance(Duration::seconds(61)); // past the secrets cache
    let sig = signature(NEW_SECRET, t.state.epoch(), &body);
    for provider in ["unknown", "retired", "ACME", "a.b"] {
        post_hook(&t, provider, &body, Some(&sig))
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    assert_eq!(
        result(&post_hook(&t, "acme", &body, Some(&sig)).await),
        "unknown_message"
    );
}

#[tokio::test]
async fn a_signed_but_invalid_report_is_refused_naming_the_field() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let now = t.state.epoch();
    let cases = [
        (
            json!({"eventId": "evt-v", "messageId": "m", "status": "lost"}),
            "VALIDATION",
            "status",
        ),
        (
            json!({"eventId": "evt-v", "messageId": "m"}),
            "VALIDATION",
            "status",
        ),
        (
            json!({"eventId": "evt-v", "messageId": "m", "status": "bounced", "extra": 1}),
            "VALIDATION",
            "extra",
        ),
        (
            json!({"eventId": "evt v", "messageId": "m", "status": "failed"}),
            "VALIDATION",
            "eventId",
        ),
        (
            json!({"eventId": "evt-v", "messageId": "m", "status": "complained", "recipient": "nope"}),
            "INVALID_CONTACT",
            "recipient",
        ),
    ];
    for (body, code, field) in cases {
        let body = body.to_string();
        let r = post_hook(&t, "acme", &body, Some(&signature(NEW_SECRET, now, &body))).await;
        r.assert_error(400, &format!("ERR_NOTIFY_{code}"));
        assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], field);
    }
    assert_untouched(&t, "acme", "evt-v").await;
}

#[tokio::test]
async fn a_non_json_callback_is_415() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    let body = event("evt-x");
    let req = Request::builder()
        .method("POST")
        .uri("/notify/v1/webhooks/acme")
        .header("content-type", "text/xml")
        .header(
            "x-eventzr-signature",
            signature(NEW_SECRET, t.state.epoch(), &body),
        )
        .body(Body::from(body))
        .unwrap();
    t.send(req)
        .await
        .assert_error(415, "ERR_NOTIFY_UNSUPPORTED_MEDIA_TYPE");
    assert_untouched(&t, "acme", "evt-x").await;
}

/// A real SMS send (sent through SNS; locally the recorder), so a delivery with a
/// provider message id exists.
async fn sent_sms(t: &TestNotify, to: &str) -> String {
    let r = t
        .post(
            "/notify/v1/send",
            &Caller::t1("organizer"),
            &json!({
                "channels": ["sms"],
                "recipients": [{"phone": to}],
                "content": {"text": "Hello there"},
                "category": "transactional"
            }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    t.recorder.sent().last().expect("sms sent").id.clone()
}

#[tokio::test]
async fn a_signed_hard_bounce_or_complaint_suppresses_in_the_delivery_tenant_only() {
    let t = TestNotify::new().await;
    with_secrets(&t);
    // The provider of the message reports on it: SNS (here through an HMAC relay).
    let msg_id = sent_sms(&t, "+14155550100").await;
    let body =
        json!({"eventId": "evt-h", "messageId": msg_id, "status": "bounced", "bounceType": "hard"})
            .to_string();
    let r = post_hook(
        &t,
        "sns",
        &body,
        Some(&signature(NEW_SECRET, t.state.epoch(), &body)),
    )
    .await;
    assert_eq!(result(&r), "applied");
    let s = check(&t, &Caller::t1("organizer"), "+14155550100").await;
    assert_eq!(s["reason"], "hard_bounce");
    assert_eq!(
        check(&t, &Caller::t3("organizer"), "+14155550100").await["suppressed"],
        false
    );
    assert_eq!(delivery_status(&t).await, "bounced");

    let msg_id = sent_sms(&t, "+14155550101").await;
    let body = json!({"eventId": "evt-c", "messageId": msg_id, "status": "complained"}).to_string();
    let r = post_hook(
        &t,
        "sns",
        &body,
        Some(&signature(NEW_SECRET, t.state.epoch(), &body)),
    )
    .await;
    assert_eq!(result(&r), "applied");
    assert_eq!(
        check(&t, &Caller::t1("organizer"), "+14155550101").await["reason"],
        "complaint"
    );
}

#[tokio::test]
async fn the_document_describes_both_webhooks_as_public() {
    let t = TestNotify::new().await;
    let doc = t
        .call("GET", "/notify/v1/openapi.json", None, None)
        .await
        .json();
    for path in ["/notify/v1/webhooks/ses", "/notify/v1/webhooks/{provider}"] {
        let op = &doc["paths"][path]["post"];
        assert_eq!(op["tags"], json!(["webhooks"]), "{path}");
        assert!(op.get("security").is_none(), "{path}");
        assert!(
            op["responses"]["401"]["description"]
                .as_str()
                .unwrap()
                .contains("ERR_NOTIFY_INVALID_SIGNATURE")
        );
    }
    let ses = &doc["paths"]["/notify/v1/webhooks/ses"]["post"];
    assert!(ses["requestBody"]["content"]["text/plain"].is_object());
}
