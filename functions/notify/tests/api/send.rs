//! `POST /send`, `POST /send/test`: validation, channels, idempotency, quota.

use serde_json::{Value, json};

use shared::tenant_status::Inactive;

use crate::helpers::{self, Caller, TENANT_1, TestNotify};

pub fn email_send(to: &[&str]) -> Value {
    json!({
        "channels": ["email"],
        "recipients": to.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
        "content": {"subject": "Hello {{name}}", "html": "<p>Hi {{name}}</p>", "text": "Hi {{name}}"},
        "variables": {"name": "Ada"},
        "category": "transactional",
    })
}

/// The (status, detail) of the delivery to `user` over `channel` in a send's answer.
fn outcome(r: &shared::testing::Reply, user: &str, channel: &str) -> (Value, Value) {
    assert_eq!(r.status, 202, "{}", r.json());
    let body = r.json();
    let d = body["data"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["recipient"]["userId"] == user && d["channel"] == channel)
        .cloned()
        .unwrap_or_else(|| panic!("no {channel} delivery to {user}"));
    (d["status"].clone(), d["detail"].clone())
}

#[tokio::test]
async fn an_email_send_is_rendered_mailed_and_recorded_with_its_timeline() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    let d = &r.json()["data"]["deliveries"][0];
    assert_eq!(d["status"], "sent");
    assert_eq!(d["channel"], "email");
    let mails = t.tp.outbox.sent_to("ada@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail.subject, "Hello Ada");
    assert_eq!(mails[0].mail.text, "Hi Ada");

    let id = d["id"].as_str().unwrap();
    let got = t.get(&format!("/notify/v1/deliveries/{id}"), &org).await;
    assert_eq!(got.status, 200);
    let body = got.json();
    let statuses: Vec<&str> = body["data"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["queued", "sending", "sent"]);
    assert_eq!(
        got.json()["data"]["providerMessageId"],
        mails[0].id.as_str()
    );
    assert_eq!(got.json()["data"]["attempts"], 1);
}

#[tokio::test]
async fn bad_sends_are_refused_naming_what_is_wrong_and_nothing_is_sent() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let with = |patch: Value| {
        let mut b = email_send(&["ada@example.com"]);
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            with(json!({"channels": ["fax"]})),
            400,
            "ERR_NOTIFY_INVALID_CHANNEL",
        ),
        (with(json!({"channels": []})), 400, "ERR_NOTIFY_VALIDATION"),
        (
            with(json!({"recipients": [{"email": "not-an-email"}]})),
            400,
            "ERR_NOTIFY_INVALID_CONTACT",
        ),
        (
            with(json!({"channels": ["sms"], "recipients": [{"email": "a@b.io"}]})),
            400,
            "ERR_NOTIFY_INVALID_CONTACT",
        ),
        (
            with(json!({"channels": ["sms"], "recipients": [{"phone": "12345"}]})),
            400,
            "ERR_NOTIFY_INVALID_CONTACT",
        ),
        (
            with(json!({"channels": ["in_app"], "recipients": [{"email": "a@b.io"}]})),
            400,
            "ERR_NOTIFY_INVALID_CONTACT",
        ),
        (
            with(json!({"recipients": []})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(
                json!({"recipients": (0..101).map(|i| json!({"email": format!("p{i}@example.com")})).collect::<Vec<_>>()}),
            ),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"templateId": "00000000-0000-7000-8000-000000000000"})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"scheduledAt": "2001-01-01T00:00:00Z"})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"scheduledAt": "yesterday"})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"category": "spam"})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"variables": [1, 2]})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"content": {"subject": "x".repeat(999), "text": "t"}})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
        (
            with(json!({"content": {"text": "no subject"}})),
            400,
            "ERR_NOTIFY_VALIDATION",
        ),
    ];
    for (body, status, code) in cases {
        let r = t.post("/notify/v1/send", &org, &body).await;
        r.assert_error(status, code);
    }
    let far = (t.state.now() + chrono::Duration::days(31)).to_rfc3339();
    t.post("/notify/v1/send", &org, &with(json!({"scheduledAt": far})))
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
    // The field is named.
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &with(json!({"recipients": [{"email": "a@b.io"}, {"email": "nope"}]})),
        )
        .await;
    assert!(
        r.json()["error"]["details"]["fields"][0]["field"] == "recipients[1].email",
        "{}",
        r.json()
    );
    // Fields a provider would refuse after the quota was spent are refused first, named.
    let sms = |text: String| {
        with(
            json!({"channels": ["sms"], "recipients": [{"phone": "+14155550100"}],
            "content": {"text": text}}),
        )
    };
    for (body, field) in [
        (sms("x".repeat(1601)), "text"),
        (sms("é".repeat(801)), "text"),
        (
            with(json!({"content": {"subject": "a\r\nBcc: x@evil.test", "text": "t"}})),
            "content.subject",
        ),
        (
            with(json!({"content": {"subject": "bell\u{7}", "text": "t"}})),
            "content.subject",
        ),
    ] {
        let r = t.post("/notify/v1/send", &org, &body).await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            field,
            "{}",
            r.json()
        );
    }
    // A misspelt recipient field is named, not dropped with what it carried.
    for (recipient, field) in [
        (
            json!({"email": "a@b.io", "priorty": "critical"}),
            "recipients[0].priorty",
        ),
        (
            json!({"user_id": "u1", "email": "a@b.io"}),
            "recipients[0].user_id",
        ),
    ] {
        let r = t
            .post(
                "/notify/v1/send",
                &org,
                &with(json!({"recipients": [recipient]})),
            )
            .await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        assert_eq!(
            r.json()["error"]["details"]["fields"],
            json!([{"field": field, "issue": "is not allowed here"}])
        );
    }
    // A body is an object: serde would take an array as the fields in order.
    let positional = json!([["email"], [{"email": "arr@example.com"}], null, {"subject": "s", "text": "x"}, {}, "transactional", "normal", null, null]);
    let r = t.post("/notify/v1/send", &org, &positional).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([{"field": "body", "issue": "must be a JSON object, not an array"}])
    );
    assert!(t.tp.outbox.sent().is_empty());
    assert!(t.recorder.sent().is_empty());
    let list = t.get("/notify/v1/deliveries", &org).await;
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 0);
    // 1600 bytes is one SMS Publish.
    let r = t
        .post("/notify/v1/send", &org, &sms("x".repeat(1600)))
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(t.recorder.sent().len(), 1);
}

#[tokio::test]
async fn only_organizers_send() {
    let t = TestNotify::new().await;
    t.post(
        "/notify/v1/send",
        &Caller::t1("user"),
        &email_send(&["a@b.io"]),
    )
    .await
    .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    let anon = t
        .call(
            "POST",
            "/notify/v1/send",
            None,
            Some(&email_send(&["a@b.io"])),
        )
        .await;
    assert_eq!(anon.status, 401);
}

#[tokio::test]
async fn a_channel_without_a_provider_is_refused_not_silently_dropped() {
    let t = TestNotify::new()
        .await
        .with_state(|s| s.channels.sms = None);
    let body = json!({
        "channels": ["sms"], "recipients": [{"phone": "+14155550100"}],
        "content": {"text": "Doors open at 7"}, "category": "transactional",
    });
    t.post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await
        .assert_error(400, "ERR_NOTIFY_CHANNEL_NOT_CONFIGURED");
    assert!(t.recorder.sent().is_empty());
}

#[tokio::test]
async fn an_sms_goes_to_the_provider() {
    let t = TestNotify::new().await;
    let body = json!({
        "channels": ["sms"], "recipients": [{"phone": "+1 (415) 555-0100"}],
        "content": {"text": "Doors open at {{time}}"}, "variables": {"time": "7pm"}, "category": "reminder",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(r.json()["data"]["deliveries"][0]["status"], "sent");
    let sent = t.recorder.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].channel, sent[0].to.as_str(), sent[0].body.as_str()),
        ("sms", "+14155550100", "Doors open at 7pm")
    );
}

#[tokio::test]
async fn the_same_send_with_one_idempotency_key_sends_once() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let body = email_send(&["ada@example.com", "bob@example.com"]);
    let first = t
        .call_with(
            "POST",
            "/notify/v1/send",
            Some(&org),
            Some(&body),
            &[("idempotency-key", "send-42")],
        )
        .await;
    let again = t
        .call_with(
            "POST",
            "/notify/v1/send",
            Some(&org),
            Some(&body),
            &[("idempotency-key", "send-42")],
        )
        .await;
    assert_eq!((first.status.as_u16(), again.status.as_u16()), (202, 202));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.json()["data"], again.json()["data"]);
    assert_eq!(t.tp.outbox.sent().len(), 2);
    let list = t.get("/notify/v1/deliveries", &org).await;
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_send_over_the_daily_quota_is_refused_whole_with_402() {
    let t = TestNotify::new().await;
    let admin = Caller::t1("admin");
    let org = Caller::t1("organizer");
    let r = t
        .put(
            "/notify/v1/admin/quotas",
            &admin,
            &json!({"channels": {"email": {"daily": 3}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let ok = t
        .post(
            "/notify/v1/send",
            &org,
            &email_send(&["a@example.com", "b@example.com"]),
        )
        .await;
    assert_eq!(ok.status, 202);
    let over = t
        .post(
            "/notify/v1/send",
            &org,
            &email_send(&["c@example.com", "d@example.com"]),
        )
        .await;
    over.assert_error(402, "ERR_NOTIFY_QUOTA_EXCEEDED");
    let details = &over.json()["error"]["details"];
    assert_eq!(
        (details["channel"].as_str(), details["period"].as_str()),
        (Some("email"), Some("daily"))
    );
    assert_eq!(
        (
            details["limit"].as_i64(),
            details["used"].as_i64(),
            details["requested"].as_i64()
        ),
        (Some(3), Some(2), Some(2))
    );
    // A send over the whole limit on its own: no wait helps (no retry-after), and `used`
    // is still the day's own count.
    let four = [
        "c@example.com",
        "d@example.com",
        "e@example.com",
        "f@example.com",
    ];
    let alone = t.post("/notify/v1/send", &org, &email_send(&four)).await;
    alone.assert_error(402, "ERR_NOTIFY_QUOTA_EXCEEDED");
    assert_eq!(alone.header("retry-after"), None);
    let details = &alone.json()["error"]["details"];
    assert_eq!(
        (
            details["limit"].as_i64(),
            details["used"].as_i64(),
            details["requested"].as_i64()
        ),
        (Some(3), Some(2), Some(4))
    );
    // Nothing of the refused sends happened.
    assert_eq!(t.tp.outbox.sent().len(), 2);
    let list = t.get("/notify/v1/deliveries", &org).await;
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 2);
    let q = t.get("/notify/v1/admin/quotas", &admin).await;
    let email = q.json()["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "email")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            email["daily"]["used"].as_i64(),
            email["daily"]["limit"].as_i64()
        ),
        (Some(2), Some(3))
    );
    // One more fits; a new day starts afresh.
    assert_eq!(
        t.post("/notify/v1/send", &org, &email_send(&["c@example.com"]))
            .await
            .status,
        202
    );
    t.advance(chrono::Duration::days(1));
    assert_eq!(
        t.post(
            "/notify/v1/send",
            &org,
            &email_send(&["e@example.com", "f@example.com"])
        )
        .await
        .status,
        202
    );
    // The admin view reads each channel's day and month apart (one batch read).
    let q = t.get("/notify/v1/admin/quotas", &admin).await;
    let used: Vec<(String, i64, i64)> = q.json()["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let n = |p: &str| c[p]["used"].as_i64().unwrap();
            (
                c["channel"].as_str().unwrap().to_owned(),
                n("daily"),
                n("monthly"),
            )
        })
        .collect();
    let email = used.iter().find(|(ch, ..)| ch == "email").unwrap();
    assert_eq!((email.1, email.2), (2, 5), "{used:?}");
    assert!(
        used.iter()
            .all(|(ch, d, m)| ch == "email" || (*d, *m) == (0, 0)),
        "{used:?}"
    );
}

#[tokio::test]
async fn a_quota_refusal_says_when_it_resets_and_its_key_runs_again_then() {
    let t = TestNotify::new().await;
    let admin = Caller::t1("admin");
    let org = Caller::t1("organizer");
    t.put(
        "/notify/v1/admin/quotas",
        &admin,
        &json!({"channels": {"email": {"daily": 1}}}),
    )
    .await;
    let body = email_send(&["a@example.com"]);
    let keyed = || {
        t.call_with(
            "POST",
            "/notify/v1/send",
            Some(&org),
            Some(&body),
            &[("idempotency-key", "nightly-digest")],
        )
    };
    assert_eq!(t.post("/notify/v1/send", &org, &body).await.status, 202);
    let over = keyed().await;
    over.assert_error(402, "ERR_NOTIFY_QUOTA_EXCEEDED");
    let now = t.state.now();
    let midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let wait = (midnight - now).num_seconds().to_string();
    assert_eq!(over.header("retry-after"), Some(wait.as_str()));
    // Not stored: the same key after the reset sends, instead of replaying the 402.
    t.advance(chrono::Duration::days(1));
    let r = keyed().await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(t.tp.outbox.sent().len(), 2);
    // Asking for more than the whole limit cannot be cured by waiting: no retry-after.
    let two = t
        .post(
            "/notify/v1/send",
            &org,
            &email_send(&["b@example.com", "c@example.com"]),
        )
        .await;
    two.assert_error(402, "ERR_NOTIFY_QUOTA_EXCEEDED");
    assert_eq!(two.header("retry-after"), None);
}

#[tokio::test]
async fn quotas_can_be_lowered_but_never_raised_above_the_plan() {
    let t = TestNotify::new().await;
    let admin = Caller::t3("admin");
    let q = t.get("/notify/v1/admin/quotas", &admin).await;
    assert_eq!(q.status, 200);
    assert_eq!(q.json()["data"]["plan"], "STARTUP");
    let email = &q.json()["data"]["channels"][0];
    let plan_daily = email["daily"]["planLimit"].as_i64().unwrap();
    let r = t
        .put(
            "/notify/v1/admin/quotas",
            &admin,
            &json!({"channels": {"email": {"daily": plan_daily + 1}}}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "channels.email.daily"
    );
    // A monthly cap lowered alone is fine, even below the plan's daily.
    let r = t
        .put(
            "/notify/v1/admin/quotas",
            &admin,
            &json!({"channels": {"email": {"monthly": 1}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    // A daily cap above the monthly one is refused, naming the daily.
    let r = t
        .put(
            "/notify/v1/admin/quotas",
            &admin,
            &json!({"channels": {"email": {"daily": 100, "monthly": 50}}}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([{"field": "channels.email.daily", "issue": "must not exceed the monthly cap (50)"}])
    );
    t.put(
        "/notify/v1/admin/quotas",
        &admin,
        &json!({"channels": {"pigeon": {}}}),
    )
    .await
    .assert_error(400, "ERR_NOTIFY_INVALID_CHANNEL");
    t.get("/notify/v1/admin/quotas", &Caller::t3("organizer"))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
}

#[tokio::test]
async fn a_test_send_goes_to_the_caller_only() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let r = t
        .post(
            "/notify/v1/send/test",
            &org,
            &json!({"content": {"subject": "Hi {{name}}", "text": "Body"}, "variables": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["data"]["sentTo"], org.email.as_str());
    let mails = t.tp.outbox.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail.to, vec![org.email.clone()]);
    assert_eq!(mails[0].mail.subject, "[TEST] Hi Ada");
    t.post(
        "/notify/v1/send/test",
        &Caller::t1("user"),
        &json!({"content": {"subject": "x", "text": "y"}}),
    )
    .await
    .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    // Any channel's template can be tried: an SMS has no subject, the mail takes its line.
    for (channel, text) in [
        ("sms", "\n Your code is {{code}}\nbye"),
        ("in_app", "Doors at {{code}}"),
    ] {
        let tpl = t
            .post(
                "/notify/v1/templates",
                &org,
                &json!({"name": channel, "channel": channel, "text": text, "requiredVariables": ["code"]}),
            )
            .await;
        assert_eq!(tpl.status, 201, "{}", tpl.json());
        let r = t
            .post(
                "/notify/v1/send/test",
                &org,
                &json!({"templateId": tpl.json()["data"]["id"], "variables": {"code": "1234"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json());
    }
    let mails = t.tp.outbox.sent();
    let subjects: Vec<_> = mails.iter().map(|m| m.mail.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "[TEST] Hi Ada",
            "[TEST] Your code is 1234",
            "[TEST] Doors at 1234"
        ]
    );
    assert_eq!(mails[1].mail.text, "\n Your code is 1234\nbye");
    assert!(mails.iter().all(|m| m.mail.to == vec![org.email.clone()]));
    // A body naming other recipients is refused outright.
    t.post(
        "/notify/v1/send/test",
        &org,
        &json!({"content": {"subject": "x", "text": "y"}, "recipients": [{"email": "victim@example.com"}]}),
    )
    .await
    .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

/// A test send is a mail like any other: not to a suppressed address, and its subject,
/// taken from the text when there is none, is one header line.
#[tokio::test]
async fn a_test_send_honours_the_suppression_list_and_keeps_its_subject_one_line() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let r = t
        .post(
            "/notify/v1/send/test",
            &org,
            &json!({"content": {"text": "Hello\rBcc: victim@example.com\nrest"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = t
        .post(
            "/notify/v1/send/test",
            &org,
            &json!({"content": {"text": "Doors\u{7} open\tat 9\nrest"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let subjects: Vec<String> =
        t.tp.outbox
            .sent()
            .iter()
            .map(|m| m.mail.subject.clone())
            .collect();
    assert_eq!(subjects, ["[TEST] Hello", "[TEST] Doors  open at 9"]);

    let admin = Caller::t1("admin");
    let body = json!({"contact": org.email, "reason": "complained by phone"});
    assert_eq!(
        t.post("/notify/v1/suppressions", &admin, &body)
            .await
            .status,
        201
    );
    let quota = async || {
        t.get("/notify/v1/admin/quotas", &admin).await.json()["data"]["channels"][0].clone()
    };
    let before = quota().await;
    let r = t
        .post(
            "/notify/v1/send/test",
            &org,
            &json!({"content": {"subject": "x", "text": "y"}}),
        )
        .await;
    r.assert_error(409, "ERR_NOTIFY_CONTACT_SUPPRESSED");
    assert_eq!(r.json()["error"]["details"]["reason"], "manual");
    assert_eq!(t.tp.outbox.sent().len(), 2, "no third mail");
    assert_eq!(quota().await, before, "no quota taken");
}

#[tokio::test]
async fn push_goes_to_every_registered_device_and_in_app_to_the_inbox() {
    let t = TestNotify::new().await;
    let me = Caller::t1("user");
    for token in ["device-token-a", "device-token-b"] {
        let r = t
            .post(
                "/notify/v1/devices",
                &me,
                &json!({"platform": "ios", "token": token}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json());
    }
    let body = json!({
        "channels": ["push", "in_app"],
        "recipients": [{"userId": me.sub}, {"userId": "no-devices"}],
        "content": {"subject": "Doors open", "text": "Hall B at {{time}}"},
        "variables": {"time": "18:00"},
        "category": "reminder",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let outcomes = r.json()["data"]["deliveries"].as_array().unwrap().clone();
    let status = |user: &str, ch: &str| {
        outcomes
            .iter()
            .find(|d| d["recipient"]["userId"] == user && d["channel"] == ch)
            .map(|d| {
                (
                    d["status"].as_str().unwrap().to_owned(),
                    d["detail"].clone(),
                )
            })
            .unwrap()
    };
    assert_eq!(status(&me.sub, "push").0, "sent");
    assert_eq!(status(&me.sub, "in_app").0, "delivered");
    let (s, detail) = status("no-devices", "push");
    assert_eq!(
        (s.as_str(), detail.as_str()),
        ("failed", Some("no registered devices"))
    );
    let pushes: Vec<_> = t
        .recorder
        .sent()
        .into_iter()
        .filter(|m| m.channel == "push")
        .collect();
    assert_eq!(pushes.len(), 2);
    assert!(
        pushes
            .iter()
            .all(|p| p.title.as_deref() == Some("Doors open") && p.body == "Hall B at 18:00")
    );
    let count = t.get("/notify/v1/notifications/unread-count", &me).await;
    assert_eq!(count.json()["data"]["count"], 1);
    // The push nobody could receive never reached a provider: its quota unit is back.
    let q = t
        .get("/notify/v1/admin/quotas", &Caller::t1("admin"))
        .await
        .json();
    let push = q["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "push")
        .unwrap()
        .clone();
    assert_eq!(push["daily"]["used"], 1, "{push}");
}

/// Texts cost money and free tenants are founded by anyone: SMS needs a paid plan
/// (toll fraud through self-service tenants; security review, 2026-12-05).
#[tokio::test]
async fn a_free_plan_sends_no_sms() {
    let t = TestNotify::new().await;
    let free = Caller::t3("organizer").plan("BASE");
    let body = json!({
        "channels": ["email", "sms"],
        "recipients": [{"email": "a@example.com", "phone": "+882123456789"}],
        "content": {"subject": "Hi", "text": "hi"},
        "category": "transactional",
    });
    let r = t.post("/notify/v1/send", &free, &body).await;
    r.assert_error(403, "ERR_NOTIFY_SUBSCRIPTION_REQUIRED");
    assert_eq!(
        r.json()["error"]["details"],
        json!({"requiredTier": "STARTUP", "currentTier": "BASE", "feature": "sms"})
    );
    assert!(t.recorder.sent().is_empty());
    assert!(
        t.tp.outbox.sent_to("a@example.com").is_empty(),
        "nothing at all"
    );
    // The quotas say so too; a paid plan sends.
    let q = t
        .get("/notify/v1/admin/quotas", &Caller::t3("admin").plan("BASE"))
        .await
        .json();
    let sms = q["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(
        (
            sms["daily"]["limit"].clone(),
            sms["monthly"]["limit"].clone()
        ),
        (json!(0), json!(0))
    );
    let r = t
        .post("/notify/v1/send", &Caller::t3("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
}

/// The plan is the one the tenant has now (auth's record), not the one a token issued
/// before a downgrade says.
#[tokio::test]
async fn a_tenant_downgraded_to_a_free_plan_sends_no_sms_with_an_older_token() {
    let t = TestNotify::new().await;
    t.set_tenant_plan(helpers::TENANT_3, "BASE").await;
    let body = json!({
        "channels": ["sms"],
        "recipients": [{"phone": "+14155550123"}],
        "content": {"text": "hi"},
        "category": "transactional",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t3("organizer"), &body)
        .await;
    r.assert_error(403, "ERR_NOTIFY_SUBSCRIPTION_REQUIRED");
    assert_eq!(r.json()["error"]["details"]["currentTier"], "BASE");
    assert!(t.recorder.sent().is_empty());
}

/// auth suspended one account and deleted another (its records in auth's table): their
/// devices and inboxes get nothing, each delivery skipped saying why and taking no quota,
/// while email still goes to the address the sender gave. Reactivated, the account gets
/// in-app messages again.
#[tokio::test]
async fn a_suspended_or_deleted_account_gets_no_push_or_in_app_message() {
    let t = TestNotify::new().await;
    let me = Caller::t1("user");
    let r = t
        .post(
            "/notify/v1/devices",
            &me,
            &json!({"platform": "ios", "token": "device-token-a"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    t.set_account_status(TENANT_1, &me.sub, Some(Inactive::Suspended))
        .await;
    t.set_account_status(TENANT_1, "gone-user", Some(Inactive::Deleted))
        .await;
    let body = |recipients: Value| {
        json!({
            "channels": ["push", "in_app", "email"],
            "recipients": recipients,
            "content": {"subject": "Doors open", "text": "Hall B"},
            "category": "reminder",
        })
    };
    let org = Caller::t1("organizer");
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &body(json!([
                {"userId": me.sub, "email": "me@example.com"},
                {"userId": "gone-user", "email": "gone@example.com"},
                {"userId": "active-user", "email": "active@example.com"},
            ])),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let outcomes = r.json()["data"]["deliveries"].as_array().unwrap().clone();
    let outcome = |user: &str, ch: &str| {
        let d = outcomes
            .iter()
            .find(|d| d["recipient"]["userId"] == user && d["channel"] == ch)
            .unwrap();
        (d["status"].clone(), d["detail"].clone())
    };
    for ch in ["push", "in_app"] {
        assert_eq!(
            outcome(&me.sub, ch),
            (json!("skipped"), json!("account suspended"))
        );
        assert_eq!(
            outcome("gone-user", ch),
            (json!("skipped"), json!("account deleted"))
        );
    }
    // What goes out may still be queued when the request's send budget runs out (on
    // DynamoDB under load); the skips above are decided before anything is sent.
    let (status, _) = outcome("active-user", "in_app");
    assert!(status == "delivered" || status == "queued", "{status}");
    for user in [me.sub.as_str(), "gone-user", "active-user"] {
        let (status, _) = outcome(user, "email");
        assert!(status == "sent" || status == "queued", "{user}: {status}");
    }
    // Nothing reached the suspended account's device or inbox, and no push was metered
    // (the active user's push found no device and gave its unit back).
    assert!(t.recorder.sent().iter().all(|m| m.channel != "push"));
    let count = t.get("/notify/v1/notifications/unread-count", &me).await;
    assert_eq!(count.json()["data"]["count"], 0);
    let q = t
        .get("/notify/v1/admin/quotas", &Caller::t1("admin"))
        .await
        .json();
    let used = |ch: &str| {
        q["data"]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"] == ch)
            .unwrap()["daily"]["used"]
            .clone()
    };
    assert_eq!((used("push"), used("email")), (json!(0), json!(3)));

    // Reactivated (auth deletes the record), the account gets its messages again.
    t.set_account_status(TENANT_1, &me.sub, None).await;
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &body(json!([{"userId": me.sub, "email": "me@example.com"}])),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let count = t.get("/notify/v1/notifications/unread-count", &me).await;
    assert_eq!(count.json()["data"]["count"], 1);
    assert_eq!(
        t.recorder
            .sent()
            .iter()
            .filter(|m| m.channel == "push")
            .count(),
        1
    );
}

/// 100 in-app recipients and the tenant make 101 keys: two batch reads of auth's records,
/// whose answers must still line up with the accounts asked about.
#[tokio::test]
async fn account_standing_holds_across_the_batch_reads_of_a_full_send() {
    let t = TestNotify::new().await;
    for u in ["u0", "u99"] {
        t.set_account_status(TENANT_1, u, Some(Inactive::Suspended))
            .await;
    }
    let recipients: Vec<Value> = (0..100)
        .map(|i| json!({"userId": format!("u{i}")}))
        .collect();
    let body = json!({
        "channels": ["in_app"],
        "recipients": recipients,
        "content": {"subject": "Doors open", "text": "Hall B"},
        "category": "reminder",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    for u in ["u0", "u99"] {
        let skipped = (json!("skipped"), json!("account suspended"));
        assert_eq!(outcome(&r, u, "in_app"), skipped, "{u}");
    }
    // The others go (delivered now, or queued past the request's send budget on a busy
    // machine).
    for u in ["u1", "u50", "u98"] {
        let (status, _) = outcome(&r, u, "in_app");
        assert!(status == "delivered" || status == "queued", "{u}: {status}");
    }
}

/// One message per channel and destination, however the entries naming it differ; the
/// entry that names the person decides (their preferences, their cap).
#[tokio::test]
async fn a_destination_named_twice_gets_one_message_and_the_named_person_decides() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let send = |channels: Value, category: &str, recipients: Value| {
        json!({
            "channels": channels,
            "recipients": recipients,
            "content": {"subject": "Doors open", "text": "Hall B"},
            "category": category,
        })
    };
    let deliveries = |r: &shared::testing::Reply| -> Vec<Value> {
        assert_eq!(r.status, 202, "{}", r.json());
        r.json()["data"]["deliveries"].as_array().unwrap().clone()
    };

    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &send(
                json!(["email", "sms"]),
                "transactional",
                json!([
                    {"email": "dup@example.com", "phone": "+14155550100"},
                    {"email": "DUP@example.com", "phone": "+1 415 555 0100", "userId": "u-dup"},
                ]),
            ),
        )
        .await;
    let ds = deliveries(&r);
    assert_eq!(ds.len(), 2, "{ds:?}");
    assert!(
        ds.iter().all(|d| d["recipient"]["userId"] == "u-dup"),
        "{ds:?}"
    );
    assert_eq!(t.tp.outbox.sent_to("dup@example.com").len(), 1);
    let sms = t
        .recorder
        .sent()
        .into_iter()
        .filter(|m| m.channel == "sms")
        .count();
    assert_eq!(sms, 1);

    // One user with two addresses, over in-app: one inbox item.
    let me = Caller::t1("user");
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &send(
                json!(["in_app"]),
                "marketing",
                json!([
                    {"userId": me.sub, "email": "a@example.com"},
                    {"userId": me.sub, "email": "b@example.com"},
                    {"userId": me.sub},
                ]),
            ),
        )
        .await;
    assert_eq!(deliveries(&r).len(), 1);
    let count = t.get("/notify/v1/notifications/unread-count", &me).await;
    assert_eq!(count.json()["data"]["count"], 1);

    // The address alone would pass the tenant's (built-in) defaults; named with the
    // person, their opt-out decides, wherever the entry stands in the list.
    let off = json!({"channels": {"marketing": {"email": false}}});
    assert_eq!(t.put("/notify/v1/preferences", &me, &off).await.status, 200);
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &send(
                json!(["email"]),
                "marketing",
                json!([{"email": "me@example.com"}, {"email": "me@example.com", "userId": me.sub}]),
            ),
        )
        .await;
    let ds = deliveries(&r);
    assert_eq!(ds.len(), 1);
    assert_eq!(
        (&ds[0]["status"], &ds[0]["detail"]),
        (&json!("skipped"), &json!("opted out"))
    );
    assert!(t.tp.outbox.sent_to("me@example.com").is_empty());
}

#[tokio::test]
async fn the_same_person_listed_twice_gets_one_message() {
    let t = TestNotify::new().await;
    let r = t
        .post(
            "/notify/v1/send",
            &Caller::t1("organizer"),
            &email_send(&["ada@example.com", "ADA@example.com "]),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(r.json()["data"]["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(t.tp.outbox.sent().len(), 1);
}

#[tokio::test]
async fn a_template_goes_only_over_its_own_channel() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let tpl = t
        .post(
            "/notify/v1/templates",
            &org,
            &json!({"name": "ticket", "channel": "email", "subject": "Ticket {{code}}", "text": "Code {{code}}"}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.json());
    let id = tpl.json()["data"]["id"].as_str().unwrap().to_owned();
    let body = |channels: Value| {
        json!({
            "channels": channels, "recipients": [{"email": "ada@example.com", "phone": "+14155550100"}],
            "templateId": id, "variables": {"code": "A-17"}, "category": "transactional",
        })
    };
    let r = t
        .post("/notify/v1/send", &org, &body(json!(["email", "sms"])))
        .await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_CHANNEL");
    assert_eq!(r.json()["error"]["details"]["field"], "channels[1]");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "channels[1]"
    );
    assert!(t.recorder.sent().is_empty() && t.tp.outbox.sent().is_empty());
    let ok = t
        .post("/notify/v1/send", &org, &body(json!(["email"])))
        .await;
    assert_eq!(ok.status, 202, "{}", ok.json());
    assert_eq!(t.tp.outbox.sent()[0].mail.subject, "Ticket A-17");
    let d = &ok.json()["data"]["deliveries"][0];
    let got = t
        .get(
            &format!("/notify/v1/deliveries/{}", d["id"].as_str().unwrap()),
            &org,
        )
        .await;
    assert_eq!(
        (
            got.json()["data"]["templateId"].as_str(),
            got.json()["data"]["templateVersion"].as_i64()
        ),
        (Some(id.as_str()), Some(1))
    );
}

#[tokio::test]
async fn a_device_registered_again_by_another_person_is_theirs_alone() {
    let t = TestNotify::new().await;
    let ann = Caller::t1("user").sub("ann");
    let ben = Caller::t1("user").sub("ben");
    let token = json!({"platform": "android", "token": "shared-tablet-token"});
    let first = t.post("/notify/v1/devices", &ann, &token).await;
    assert_eq!(first.status, 201, "{}", first.json());
    let ann_device = first.json()["data"]["id"].as_str().unwrap().to_owned();
    let second = t.post("/notify/v1/devices", &ben, &token).await;
    assert_eq!(second.status, 201, "{}", second.json());
    let ben_device = second.json()["data"]["id"].as_str().unwrap().to_owned();

    let body = json!({
        "channels": ["push"], "recipients": [{"userId": "ann"}, {"userId": "ben"}],
        "content": {"subject": "Hi", "text": "For Ben only"}, "category": "system",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    let by = |u: &str| {
        r.json()["data"]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["recipient"]["userId"] == u)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!((by("ann"), by("ben")), (json!("failed"), json!("sent")));
    assert_eq!(
        t.recorder.sent().len(),
        1,
        "the tablet gets Ben's message only"
    );
    // Ann's record of the tablet went with the move; Ben's stays until he removes it.
    t.delete(&format!("/notify/v1/devices/{ann_device}"), &ann)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    assert_eq!(
        t.delete(&format!("/notify/v1/devices/{ben_device}"), &ben)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_suspended_tenant_sends_nothing() {
    let t = TestNotify::new().await;
    t.set_tenant_status(crate::helpers::TENANT_1, "suspended")
        .await;
    let org = Caller::t1("organizer");
    // A token issued before the suspension is still valid for its 15 minutes: notify
    // asks auth's record, not the token.
    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;
    r.assert_error(403, "ERR_NOTIFY_TENANT_SUSPENDED");
    let test = json!({"content": {"subject": "x", "text": "y"}});
    t.post("/notify/v1/send/test", &org, &test)
        .await
        .assert_error(403, "ERR_NOTIFY_TENANT_SUSPENDED");
    assert!(t.tp.outbox.sent().is_empty());
    let listed = t.get("/notify/v1/deliveries", &Caller::t1("admin")).await;
    assert_eq!(listed.json()["data"], json!([]), "nothing stored");
    // Another tenant sends; so does T1 once the platform lifts the suspension.
    let t3 = t
        .post(
            "/notify/v1/send",
            &Caller::t3("organizer"),
            &email_send(&["bob@example.com"]),
        )
        .await;
    assert_eq!(t3.status, 202, "{}", t3.json());
    t.set_tenant_status(crate::helpers::TENANT_1, "active")
        .await;
    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(t.tp.outbox.sent().len(), 2);
}

#[tokio::test]
async fn a_mail_without_a_text_part_is_sent_with_the_text_of_its_html() {
    let t = TestNotify::new().await;
    let html =
        "<p>Your ticket code is <b>ABC123</b>.</p><p><a href=\"https://ex.com/t\">Manage</a></p>";
    let body = json!({
        "channels": ["email", "sms"],
        "recipients": [{"email": "h@example.com", "phone": "+14155550100"}],
        "content": {"subject": "Your ticket", "html": html},
        "category": "transactional",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let text = "Your ticket code is ABC123.\nManage (https://ex.com/t)";
    // The mail's text/plain part: the HTML's text, not the subject alone.
    let mail = &t.tp.outbox.sent_to("h@example.com")[0].mail;
    assert_eq!(
        (mail.text.as_str(), mail.html.as_deref()),
        (text, Some(html))
    );
    // A short message takes the text, else the subject: an HTML body is the mail's, and
    // may run to pages.
    let sms = t.recorder.sent();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].body, "Your ticket");
}

#[tokio::test]
async fn a_variable_holding_an_object_is_422_and_nothing_is_sent() {
    let t = TestNotify::new().await;
    let mut body = email_send(&["ada@example.com"]);
    body["variables"] = json!({"name": {"first": "Ada"}});
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    r.assert_error(422, "ERR_NOTIFY_TEMPLATE_RENDERING_FAILED");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("content.subject (line 1, column 7): a variable holds an object"),
        "{message}"
    );
    assert_eq!(
        r.json()["error"]["details"],
        json!({"field": "content.subject", "part": "subject", "line": 1, "column": 7})
    );
    assert!(t.tp.outbox.sent_to("ada@example.com").is_empty());
    // Named by its field, it renders.
    body["content"]["subject"] = json!("Hello {{name.first}}");
    body["content"]["html"] = json!("<p>Hi {{name.first}}</p>");
    body["content"]["text"] = json!("Hi {{name.first}}");
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(
        t.tp.outbox.sent_to("ada@example.com")[0].mail.subject,
        "Hello Ada"
    );
}
