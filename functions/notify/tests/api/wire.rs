//! Over the wire: a send through the real providers of the emulator — DynamoDB for the
//! table, SES for mail, SNS for SMS — read back from the emulator's own record.

use std::sync::Arc;

use serde_json::{Value, json};
use shared::testing::{emulator_data, emulator_endpoint, emulator_sdk_config};

use crate::helpers::{Caller, TestNotify, dynamo_table};

#[tokio::test]
async fn a_send_puts_the_rendered_email_into_ses_and_the_sms_into_sns() {
    let Some(endpoint) =
        emulator_endpoint("a_send_puts_the_rendered_email_into_ses_and_the_sms_into_sns")
    else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let ses = aws_sdk_ses::Client::new(&sdk);
    ses.verify_email_identity()
        .email_address("no-reply@eventzr.com")
        .send()
        .await
        .expect("verify sender");
    let store = dynamo_table(&endpoint).await;
    let t = TestNotify::with_store(store).with_state(|s| {
        s.channels.email = Some(Arc::new(shared::mail::SesMailer::new(
            ses.clone(),
            "no-reply@eventzr.com",
        )));
        s.channels.sms = Some(Arc::new(notify::channels::sns::SnsSms::new(
            aws_sdk_sns::Client::new(&sdk),
        )));
    });
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("wire-{tag}@example.com");
    let body = json!({
        "channels": ["email", "sms"],
        "recipients": [{"email": email, "phone": "+14155550142"}],
        "content": {
            "subject": "Your ticket {{code}}",
            "html": "<p>Ticket <b>{{code}}</b></p>",
            "text": "Ticket {{code}} ({{tag}})",
        },
        "variables": {"code": "A-17", "tag": tag},
        "category": "transactional",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    let outcomes = r.json()["data"]["deliveries"].clone();
    for d in outcomes.as_array().unwrap() {
        assert_eq!(d["status"], "sent", "{d}");
    }

    let data = emulator_data(&endpoint).await;
    let mail = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["destinations"]["ToAddresses"][0] == email.as_str())
        .unwrap_or_else(|| panic!("no SES message to {email}: {}", data["ses"]));
    assert_eq!(mail["source"], "no-reply@eventzr.com");
    assert_eq!(mail["subject"], "Your ticket A-17");
    assert!(
        mail["body"]
            .as_str()
            .unwrap()
            .contains("Ticket <b>A-17</b>"),
        "{mail}"
    );
    let sms: Vec<&Value> = data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["message"].as_str().is_some_and(|s| s.contains(&tag)))
        .collect();
    assert_eq!(sms.len(), 1, "{}", data["sns"]);
    assert_eq!(sms[0]["phone_number"], "+14155550142");
    assert_eq!(sms[0]["message"], format!("Ticket A-17 ({tag})"));

    // The delivery records the provider's id, in the table on the emulator.
    let email_delivery = outcomes
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "email")
        .unwrap();
    let got = t
        .get(
            &format!(
                "/notify/v1/deliveries/{}",
                email_delivery["id"].as_str().unwrap()
            ),
            &Caller::t1("admin"),
        )
        .await;
    assert_eq!(got.json()["data"]["providerMessageId"], mail["id"]);

    // The same send again with one Idempotency-Key: one more SES message, not two.
    let again = json!({
        "channels": ["email"], "recipients": [{"email": email}],
        "content": {"subject": "Once", "text": "Only once"}, "category": "transactional",
    });
    for _ in 0..2 {
        let r = t
            .call_with(
                "POST",
                "/notify/v1/send",
                Some(&Caller::t1("organizer")),
                Some(&again),
                &[("idempotency-key", &tag)],
            )
            .await;
        assert_eq!(r.status, 202);
    }
    let data = emulator_data(&endpoint).await;
    let once = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str() && m["subject"] == "Once")
        .count();
    assert_eq!(once, 1, "{}", data["ses"]);
}
