//! The per-recipient check order of notify-svc.md: suppression, preference, frequency
//! cap, quiet hours (critical bypasses), then the quota for the whole request.

use serde_json::{Value, json};

use crate::helpers::{Caller, TestNotify};

fn marketing(recipients: Value, priority: &str) -> Value {
    json!({
        "channels": ["email"],
        "recipients": recipients,
        "content": {"subject": "Early-bird tickets", "text": "Book now"},
        "category": "marketing",
        "priority": priority,
    })
}

fn person(name: &str) -> Value {
    json!({"userId": name, "email": format!("{name}@example.com")})
}

fn outcome<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["data"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["recipient"]["userId"] == name)
        .unwrap_or_else(|| panic!("no delivery for {name}: {r}"))
}

/// A quiet-hours window around the test clock's current UTC hour.
fn quiet_now(t: &TestNotify) -> Value {
    use chrono::Timelike;
    let now = t.state.now();
    let start = (now - chrono::Duration::hours(1)).hour();
    let end = (now + chrono::Duration::hours(2)).hour();
    json!({"start": format!("{start:02}:00"), "end": format!("{end:02}:00"), "timezone": "UTC"})
}

async fn set_prefs(t: &TestNotify, who: &str, prefs: Value) {
    let r = t
        .put(
            "/notify/v1/preferences",
            &Caller::t1("user").sub(who),
            &prefs,
        )
        .await;
    assert_eq!(r.status, 200, "preferences of {who}: {}", r.json());
}

#[tokio::test]
async fn each_check_gives_its_outcome_in_one_send() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let admin = Caller::t1("admin");
    let r = t
        .post(
            "/notify/v1/suppressions",
            &admin,
            &json!({"contact": "suppressed@example.com", "reason": "asked to stop"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.json());
    set_prefs(
        &t,
        "optedout",
        json!({"channels": {"marketing": {"email": false}}}),
    )
    .await;
    set_prefs(&t, "capped", json!({"dailyCaps": {"marketing": 1}})).await;
    set_prefs(&t, "quiet", json!({"quietHours": quiet_now(&t)})).await;
    set_prefs(&t, "urgent", json!({"quietHours": quiet_now(&t)})).await;
    // `capped` already had today's one marketing message.
    let first = t
        .post(
            "/notify/v1/send",
            &org,
            &marketing(json!([person("capped")]), "normal"),
        )
        .await;
    assert_eq!(outcome(&first.json(), "capped")["status"], "sent");

    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &marketing(
                json!([
                    person("suppressed"),
                    person("optedout"),
                    person("capped"),
                    person("quiet"),
                    // In quiet hours too, but critical for this recipient.
                    {"userId": "urgent", "email": "urgent@example.com", "priority": "critical"},
                    person("plain")
                ]),
                "normal",
            ),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let body = r.json();
    assert_eq!(outcome(&body, "suppressed")["status"], "suppressed");
    assert!(
        outcome(&body, "suppressed")["detail"]
            .as_str()
            .unwrap()
            .starts_with("suppressed")
    );
    assert_eq!(outcome(&body, "optedout")["status"], "skipped");
    assert_eq!(outcome(&body, "optedout")["detail"], "opted out");
    assert_eq!(outcome(&body, "capped")["status"], "skipped");
    assert_eq!(outcome(&body, "capped")["detail"], "daily cap reached");
    assert_eq!(outcome(&body, "quiet")["status"], "scheduled");
    assert!(outcome(&body, "quiet")["scheduledAt"].is_string());
    assert_eq!(outcome(&body, "urgent")["status"], "sent");
    assert_eq!(outcome(&body, "plain")["status"], "sent");
    let mailed: Vec<String> =
        t.tp.outbox
            .sent()
            .iter()
            .flat_map(|m| m.mail.to.clone())
            .collect();
    assert_eq!(
        mailed,
        [
            "capped@example.com",
            "urgent@example.com",
            "plain@example.com"
        ]
    );

    // A critical send goes through quiet hours for everyone in it.
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &marketing(json!([person("quiet")]), "critical"),
        )
        .await;
    assert_eq!(outcome(&r.json(), "quiet")["status"], "sent");
}

#[tokio::test]
async fn transactional_mail_ignores_marketing_opt_outs_and_caps_but_not_suppressions() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    set_prefs(
        &t,
        "optedout",
        json!({"channels": {"marketing": {"email": false}, "reminder": {"email": false}}, "dailyCaps": {"marketing": 0}}),
    )
    .await;
    let mut body = marketing(json!([person("optedout")]), "normal");
    body["category"] = json!("transactional");
    let r = t.post("/notify/v1/send", &org, &body).await;
    assert_eq!(
        outcome(&r.json(), "optedout")["status"],
        "sent",
        "{}",
        r.json()
    );
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &marketing(json!([person("optedout")]), "normal"),
        )
        .await;
    assert_eq!(outcome(&r.json(), "optedout")["status"], "skipped");

    t.post(
        "/notify/v1/suppressions",
        &Caller::t1("admin"),
        &json!({"contact": "optedout@example.com", "reason": "bounced"}),
    )
    .await;
    let r = t.post("/notify/v1/send", &org, &body).await;
    assert_eq!(outcome(&r.json(), "optedout")["status"], "suppressed");
}

#[tokio::test]
async fn quiet_hours_defer_to_the_end_of_the_window_and_the_dispatcher_sends_then() {
    let t = TestNotify::new().await;
    let key = "k-0123456789abcdef";
    t.tp.secrets
        .set(&t.state.cfg.internal_api_key_secret_id, key);
    set_prefs(&t, "quiet", json!({"quietHours": quiet_now(&t)})).await;
    let r = t
        .post(
            "/notify/v1/send",
            &Caller::t1("organizer"),
            &marketing(json!([person("quiet")]), "normal"),
        )
        .await;
    let d = outcome(&r.json(), "quiet").clone();
    assert_eq!(d["status"], "scheduled");
    let at = chrono::DateTime::parse_from_rfc3339(d["scheduledAt"].as_str().unwrap()).unwrap();
    assert!(
        at > t.state.now() && at <= t.state.now() + chrono::Duration::hours(2),
        "{at}"
    );
    t.advance(chrono::Duration::hours(3));
    let run = t
        .call_with(
            "POST",
            "/notify/v1/jobs/dispatch",
            None,
            None,
            &[("x-internal-api-key", key)],
        )
        .await;
    assert_eq!(run.json()["data"]["sent"], 1, "{}", run.json());
    assert_eq!(t.tp.outbox.sent_to("quiet@example.com").len(), 1);
}

/// A frequency cap counts once per person per send; the same person named three times
/// in one send used to get three messages past a cap of one.
#[tokio::test]
async fn a_person_named_several_times_in_one_send_is_capped_once() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let caps = json!({"dailyCaps": {"marketing": 1}});
    let r = t.put("/notify/v1/preferences/defaults", &org, &caps).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = json!({
        "channels": ["in_app"],
        "recipients": [{"userId": "capuser"}, {"userId": "capuser", "email": "c@example.com"}, {"userId": " capuser "}],
        "content": {"subject": "Early bird", "text": "Book now"},
        "category": "marketing",
    });
    let r = t.post("/notify/v1/send", &org, &body).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let ds = r.json()["data"]["deliveries"].as_array().unwrap().clone();
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(ds[0]["status"], "delivered");
    let again = t.post("/notify/v1/send", &org, &body).await;
    assert_eq!(
        again.json()["data"]["deliveries"][0]["detail"],
        "daily cap reached"
    );
}

#[tokio::test]
async fn a_message_scheduled_for_another_day_counts_toward_that_days_cap() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    set_prefs(&t, "capped", json!({"dailyCaps": {"marketing": 1}})).await;
    let in_ten_days = (t.state.now() + chrono::Duration::days(10)).to_rfc3339();
    let scheduled = |at: &str| {
        let mut b = marketing(json!([person("capped")]), "normal");
        b["scheduledAt"] = json!(at);
        b
    };
    let r = t
        .post("/notify/v1/send", &org, &scheduled(&in_ten_days))
        .await;
    assert_eq!(outcome(&r.json(), "capped")["status"], "scheduled");
    // Today is still free; that day is not.
    let today = t
        .post(
            "/notify/v1/send",
            &org,
            &marketing(json!([person("capped")]), "normal"),
        )
        .await;
    assert_eq!(
        outcome(&today.json(), "capped")["status"],
        "sent",
        "{}",
        today.json()
    );
    let again = t
        .post("/notify/v1/send", &org, &scheduled(&in_ten_days))
        .await;
    let capped = outcome(&again.json(), "capped").clone();
    assert_eq!(
        (capped["status"].as_str(), capped["detail"].as_str()),
        (Some("skipped"), Some("daily cap reached"))
    );
}

/// A time two minutes ahead on the test clock's own day (the clock moved past midnight
/// first if need be): a message scheduled then counts on today's cap.
fn later_today(t: &TestNotify) -> chrono::DateTime<chrono::Utc> {
    let soon = |t: &TestNotify| t.state.now() + chrono::Duration::minutes(2);
    if soon(t).date_naive() != t.state.now().date_naive() {
        t.advance(chrono::Duration::minutes(5));
    }
    soon(t)
}

#[tokio::test]
async fn a_capped_message_that_never_goes_out_gives_its_cap_unit_back() {
    let t = TestNotify::new().await;
    let (org, admin) = (Caller::t1("organizer"), Caller::t1("admin"));
    set_prefs(&t, "capped", json!({"dailyCaps": {"marketing": 1}})).await;
    let later = later_today(&t).to_rfc3339();
    let mut scheduled = marketing(json!([person("capped")]), "normal");
    scheduled["scheduledAt"] = json!(later);
    let send_now = || marketing(json!([person("capped")]), "normal");
    // Cancelled and erased messages were never sent: the day's one is still there.
    for undo in ["cancel", "erase"] {
        let r = t.post("/notify/v1/send", &org, &scheduled).await;
        let d = outcome(&r.json(), "capped").clone();
        assert_eq!(d["status"], "scheduled", "{undo}");
        let path = format!("/notify/v1/deliveries/{}", d["id"].as_str().unwrap());
        let r = match undo {
            "cancel" => t.post(&format!("{path}/cancel"), &admin, &json!({})).await,
            _ => t.call("DELETE", &path, Some(&admin), None).await,
        };
        assert_eq!(r.status, 200, "{undo}: {}", r.json());
    }
    let r = t.post("/notify/v1/send", &org, &send_now()).await;
    assert_eq!(
        outcome(&r.json(), "capped")["status"],
        "sent",
        "{}",
        r.json()
    );
    // That one was sent: the cap holds.
    let again = t.post("/notify/v1/send", &org, &send_now()).await;
    assert_eq!(outcome(&again.json(), "capped")["status"], "skipped");
}

#[tokio::test]
async fn a_cap_unit_shared_by_a_sends_channels_stays_taken_when_one_is_cancelled() {
    let t = TestNotify::new().await;
    let (org, admin) = (Caller::t1("organizer"), Caller::t1("admin"));
    set_prefs(&t, "capped", json!({"dailyCaps": {"marketing": 1}})).await;
    let later = later_today(&t).to_rfc3339();
    let mut both = marketing(
        json!([{"userId": "capped", "email": "capped@example.com", "phone": "+14155550100"}]),
        "normal",
    );
    both["channels"] = json!(["email", "sms"]);
    both["scheduledAt"] = json!(later);
    let r = t.post("/notify/v1/send", &org, &both).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let email = r.json()["data"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "email")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = format!("/notify/v1/deliveries/{email}/cancel");
    assert_eq!(t.post(&cancel, &admin, &json!({})).await.status, 200);
    // The SMS of the same message still goes out that day: the unit stays taken.
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &marketing(json!([person("capped")]), "normal"),
        )
        .await;
    assert_eq!(outcome(&r.json(), "capped")["status"], "skipped");
}
