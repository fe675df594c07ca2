//! Deliveries: listing and visibility, cancel, erase, metrics; the dispatcher (scheduled
//! sends, retries with backoff, concurrent runs) and its internal API key.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use serde_json::{Value, json};
use shared::{
    mail::{Mail, MailError, Mailer},
    store::faults::{Fault, Op},
    tenant_status::Inactive,
};

use crate::{
    helpers::{self, Caller, TestNotify, delivery_changes_meanwhile, faulty},
    send::email_send,
};

const KEY: &str = "internal-key-for-tests-0123456789";

fn with_key(t: TestNotify) -> TestNotify {
    let id = t.state.cfg.internal_api_key_secret_id.clone();
    t.tp.secrets.set(&id, KEY);
    t
}

async fn dispatch(t: &TestNotify) -> Value {
    let r = t
        .call_with(
            "POST",
            "/notify/v1/jobs/dispatch",
            None,
            None,
            &[("x-internal-api-key", KEY)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].clone()
}

fn scheduled(to: &str, at: &str) -> Value {
    let mut b = email_send(&[to]);
    b["scheduledAt"] = json!(at);
    b
}

#[tokio::test]
async fn the_dispatcher_refuses_a_missing_or_wrong_key() {
    let t = with_key(TestNotify::new().await);
    for headers in [
        vec![],
        vec![("x-internal-api-key", "wrong")],
        vec![("x-internal-api-key", "")],
    ] {
        let r = t
            .call_with("POST", "/notify/v1/jobs/dispatch", None, None, &headers)
            .await;
        r.assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
    }
    // A bearer token is not the key.
    let r = t
        .call(
            "POST",
            "/notify/v1/jobs/dispatch",
            Some(&Caller::t1("admin")),
            None,
        )
        .await;
    r.assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
    // No secret configured: closed.
    let t = TestNotify::new().await;
    let r = t
        .call_with(
            "POST",
            "/notify/v1/jobs/dispatch",
            None,
            None,
            &[("x-internal-api-key", KEY)],
        )
        .await;
    r.assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
}

#[tokio::test]
async fn scheduled_deliveries_go_out_when_due() {
    let t = with_key(TestNotify::new().await);
    let org = Caller::t1("organizer");
    let at = (t.state.now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = t
        .post("/notify/v1/send", &org, &scheduled("ada@example.com", &at))
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let d = &r.json()["data"]["deliveries"][0];
    assert_eq!(d["status"], "scheduled");
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(dispatch(&t).await["sent"], 0);
    assert!(t.tp.outbox.sent().is_empty());
    t.advance(chrono::Duration::hours(2));
    assert_eq!(dispatch(&t).await["sent"], 1);
    assert_eq!(t.tp.outbox.sent_to("ada@example.com").len(), 1);
    let got = t.get(&format!("/notify/v1/deliveries/{id}"), &org).await;
    assert_eq!(got.json()["data"]["status"], "sent");
    // Nothing left to do.
    assert_eq!(dispatch(&t).await["due"], 0);
}

#[tokio::test]
async fn a_suspended_tenant_s_waiting_sends_are_cancelled_when_due_and_its_quota_given_back() {
    let t = with_key(TestNotify::new().await);
    let t1_delivery = scheduled_email(&t, "ada@example.com").await;
    scheduled_email_by(&t, &Caller::t3("organizer"), "bob@example.com").await;
    assert_eq!(emails_today(&t).await, 1);
    // The platform suspends T1 (auth's record); T3 is untouched.
    t.set_tenant_status(helpers::TENANT_1, "suspended").await;
    t.advance(chrono::Duration::hours(1));
    let report = dispatch(&t).await;
    assert_eq!(
        (report["cancelled"].as_i64(), report["sent"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(t.tp.outbox.sent_to("ada@example.com").is_empty());
    assert_eq!(t.tp.outbox.sent_to("bob@example.com").len(), 1);
    // The delivery says why.
    assert_eq!(
        status_and_last_detail(&t, &t1_delivery).await,
        (json!("cancelled"), json!("tenant suspended"))
    );
    assert_eq!(
        emails_today(&t).await,
        0,
        "the unsent mail's unit is given back"
    );
    // Nothing is left due, and a reactivated tenant sends again.
    assert_eq!(dispatch(&t).await["due"], 0);
    t.set_tenant_status(helpers::TENANT_1, "active").await;
    let r = t
        .post(
            "/notify/v1/send",
            &Caller::t1("organizer"),
            &email_send(&["ada@example.com"]),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(t.tp.outbox.sent_to("ada@example.com").len(), 1);
}

/// Texts a tenant scheduled on a paid plan do not go out after it moved to a free one.
#[tokio::test]
async fn a_waiting_sms_of_a_tenant_downgraded_since_is_cancelled_when_due() {
    let t = with_key(TestNotify::new().await);
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({
        "channels": ["sms"],
        "recipients": [{"phone": "+14155550123"}],
        "content": {"text": "doors open"},
        "category": "transactional",
        "scheduledAt": at,
    });
    let r = t
        .post("/notify/v1/send", &Caller::t3("organizer"), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.set_tenant_plan(helpers::TENANT_3, "BASE").await;
    t.advance(chrono::Duration::hours(1));
    let report = dispatch(&t).await;
    assert_eq!(
        (report["cancelled"].as_i64(), report["sent"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(t.recorder.sent().is_empty());
    assert_eq!(
        status_and_last_detail_as(&t, &Caller::t3("admin"), &id).await,
        (json!("cancelled"), json!("the plan does not include sms"))
    );
}

/// A delivery's status and the detail of its last timeline entry, as T1's admin reads it.
async fn status_and_last_detail(t: &TestNotify, id: &str) -> (Value, Value) {
    status_and_last_detail_as(t, &Caller::t1("admin"), id).await
}

async fn status_and_last_detail_as(t: &TestNotify, reader: &Caller, id: &str) -> (Value, Value) {
    let got = t
        .get(&format!("/notify/v1/deliveries/{id}"), reader)
        .await
        .json();
    let last = got["data"]["timeline"].as_array().unwrap().last().cloned();
    (
        got["data"]["status"].clone(),
        last.unwrap()["detail"].clone(),
    )
}

/// An in-app message scheduled for a person whom auth suspends before it is due is
/// cancelled when due, saying why; one scheduled after the reactivation arrives.
#[tokio::test]
async fn a_waiting_in_app_message_to_an_account_suspended_since_is_cancelled_when_due() {
    let t = with_key(TestNotify::new().await);
    let me = Caller::t1("user");
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({
        "channels": ["in_app"],
        "recipients": [{"userId": me.sub}],
        "content": {"subject": "Doors open", "text": "Hall B"},
        "category": "reminder",
        "scheduledAt": at,
    });
    let org = Caller::t1("organizer");
    let r = t.post("/notify/v1/send", &org, &body).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.set_account_status(helpers::TENANT_1, &me.sub, Some(Inactive::Suspended))
        .await;
    t.advance(chrono::Duration::hours(1));
    let report = dispatch(&t).await;
    assert_eq!(
        (report["cancelled"].as_i64(), report["sent"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        status_and_last_detail(&t, &id).await,
        (json!("cancelled"), json!("account suspended"))
    );
    let count = t.get("/notify/v1/notifications/unread-count", &me).await;
    assert_eq!(count.json()["data"]["count"], 0);

    t.set_account_status(helpers::TENANT_1, &me.sub, None).await;
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let mut again = body.clone();
    again["scheduledAt"] = json!(at);
    let r = t.post("/notify/v1/send", &org, &again).await;
    assert_eq!(r.status, 202, "{}", r.json());
    t.advance(chrono::Duration::hours(1));
    assert_eq!(dispatch(&t).await["sent"], 1);
    let count = t.get("/notify/v1/notifications/unread-count", &me).await;
    assert_eq!(count.json()["data"]["count"], 1);
}

/// A mail provider that takes a while (so concurrent senders overlap) and counts.
struct SlowMailer {
    sent: Arc<AtomicUsize>,
    outbox: shared::mail::Outbox,
}

#[async_trait]
impl Mailer for SlowMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.outbox.send(mail).await
    }
}

fn slow(t: TestNotify) -> (TestNotify, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let mailer = Arc::new(SlowMailer {
        sent: sent.clone(),
        outbox: t.tp.outbox.clone(),
    });
    (t.with_state(|s| s.channels.email = Some(mailer)), sent)
}

/// Twelve emails scheduled ten minutes ahead by the organizer, then the clock moved on
/// to when they are due; their addresses.
async fn twelve_come_due(t: &TestNotify) -> Vec<String> {
    let at = (t.state.now() + chrono::Duration::minutes(10)).to_rfc3339();
    let people: Vec<String> = (0..12).map(|i| format!("p{i}@example.com")).collect();
    let mut body = email_send(&people.iter().map(String::as_str).collect::<Vec<_>>());
    body["scheduledAt"] = json!(at);
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    assert_eq!(r.status, 202);
    t.advance(chrono::Duration::minutes(10));
    people
}

// Two worker threads and a provider that takes 20 ms: the runs really overlap, and only
// the conditional claim keeps them from sending a delivery twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_dispatch_runs_send_each_delivery_once() {
    let (t, sent) = slow(with_key(TestNotify::new().await));
    let people = twelve_come_due(&t).await;
    let budget = std::time::Duration::from_secs(30);
    let (a, b) = (t.state.clone(), t.state.clone());
    let (a, b) = tokio::join!(
        tokio::spawn(async move { notify::dispatch::run(&a, budget).await }),
        tokio::spawn(async move { notify::dispatch::run(&b, budget).await }),
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!(a.sent + b.sent, 12, "{a:?} {b:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 12);
    for p in &people {
        assert_eq!(t.tp.outbox.sent_to(p).len(), 1, "{p}");
    }
}

/// More due entries than one pass reads: a run reads the shards that filled their batch
/// again, until everything due is sent, each once. With one entry a shard a pass, 12
/// deliveries over 8 shards put two in one shard at least (50 a pass in production).
#[tokio::test]
async fn a_run_sends_more_due_deliveries_than_one_pass_reads() {
    let t = TestNotify::new().await;
    twelve_come_due(&t).await;

    let budget = std::time::Duration::from_secs(60);
    let run = notify::dispatch::run_in_batches(&t.state, budget, 1)
        .await
        .unwrap();

    assert_eq!((run.due, run.sent), (12, 12), "{run:?}");
    assert_eq!(t.tp.outbox.sent().len(), 12);
    let again = notify::dispatch::run(&t.state, budget).await.unwrap();
    assert_eq!(again.due, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_claiming_one_delivery_send_it_once() {
    let (t, sent) = slow(TestNotify::new().await);
    let org = Caller::t1("organizer");
    let at = (t.state.now() + chrono::Duration::minutes(1)).to_rfc3339();
    let r = t
        .post("/notify/v1/send", &org, &scheduled("ada@example.com", &at))
        .await;
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.advance(chrono::Duration::minutes(1));
    let d = notify::repo::deliveries::get(t.state.store(), &shared::testing::t1(), &id)
        .await
        .unwrap()
        .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (st, d) = (t.state.clone(), d.clone());
            tokio::spawn(async move { notify::sending::attempt(&st, &d).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!((won, sent.load(Ordering::SeqCst)), (1, 1));
}

/// A mail provider that is down: every send fails as retryable.
struct DownMailer(Arc<AtomicUsize>);

#[async_trait]
impl Mailer for DownMailer {
    async fn send(&self, _mail: &Mail) -> Result<String, MailError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(MailError::Unavailable("Throttling".into()))
    }
}

#[tokio::test]
async fn a_provider_failure_is_retried_with_backoff_and_fails_after_five_attempts() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mailer = Arc::new(DownMailer(calls.clone()));
    let t = with_key(
        TestNotify::new()
            .await
            .with_state(|s| s.channels.email = Some(mailer)),
    );
    let org = Caller::t1("organizer");
    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;
    assert_eq!(r.status, 202);
    let d = &r.json()["data"]["deliveries"][0];
    assert_eq!(d["status"], "queued", "{d}");
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Backoff 60 s, 120 s, 240 s, 480 s: nothing happens before each is due.
    for wait in [60, 120, 240, 480] {
        t.advance(chrono::Duration::seconds(wait - 1));
        assert_eq!(dispatch(&t).await["due"], 0, "early at {wait}");
        t.advance(chrono::Duration::seconds(1));
        let run = dispatch(&t).await;
        assert_eq!(run["due"], 1, "{run}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let got = t
        .get(&format!("/notify/v1/deliveries/{id}"), &org)
        .await
        .json()["data"]
        .clone();
    assert_eq!(got["status"], "failed");
    assert_eq!(got["attempts"], 5);
    assert!(got["lastError"].as_str().unwrap().contains("Throttling"));
    // Failed is final: no more attempts.
    t.advance(chrono::Duration::days(1));
    assert_eq!(dispatch(&t).await["due"], 0);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn only_queued_or_scheduled_deliveries_can_be_cancelled_by_an_admin() {
    let t = with_key(TestNotify::new().await);
    let org = Caller::t1("organizer");
    let admin = Caller::t1("admin");
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let later = t
        .post("/notify/v1/send", &org, &scheduled("ada@example.com", &at))
        .await;
    let later_id = later.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = t
        .post("/notify/v1/send", &org, &email_send(&["bob@example.com"]))
        .await;
    let sent_id = now.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    t.post(
        &format!("/notify/v1/deliveries/{later_id}/cancel"),
        &org,
        &json!({}),
    )
    .await
    .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    let r = t
        .post(
            &format!("/notify/v1/deliveries/{later_id}/cancel"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["data"]["status"], "cancelled");
    let r = t
        .post(
            &format!("/notify/v1/deliveries/{sent_id}/cancel"),
            &admin,
            &json!({}),
        )
        .await;
    r.assert_error(409, "ERR_NOTIFY_DELIVERY_NOT_CANCELLABLE");
    assert_eq!(r.json()["error"]["details"]["status"], "sent");
    t.post(
        &format!("/notify/v1/deliveries/{later_id}/cancel"),
        &admin,
        &json!({}),
    )
    .await
    .assert_error(409, "ERR_NOTIFY_DELIVERY_NOT_CANCELLABLE");
    // The cancelled one never goes out.
    t.advance(chrono::Duration::hours(2));
    assert_eq!(dispatch(&t).await["sent"], 0);
    assert!(t.tp.outbox.sent_to("ada@example.com").is_empty());
    t.post(
        "/notify/v1/deliveries/not-a-uuid/cancel",
        &admin,
        &json!({}),
    )
    .await
    .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
}

#[tokio::test]
async fn a_retried_cancel_or_erase_with_its_key_replays_the_first_answer() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let admin = Caller::t1("admin");
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let mut ids = Vec::new();
    for who in ["ada@example.com", "bob@example.com"] {
        let r = t.post("/notify/v1/send", &org, &scheduled(who, &at)).await;
        ids.push(
            r.json()["data"]["deliveries"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let cancel = format!("/notify/v1/deliveries/{}/cancel", ids[0]);
    let erase = format!("/notify/v1/deliveries/{}", ids[1]);
    for (method, path, body, status) in [
        ("POST", &cancel, Some(json!({})), 200),
        ("DELETE", &erase, None, 200),
    ] {
        let keyed = [("idempotency-key", "retry-1")];
        let call = || t.call_with(method, path, Some(&admin), body.as_ref(), &keyed);
        let first = call().await;
        assert_eq!(first.status, status, "{method} {path}");
        // A lost answer, retried with its key: the first answer again, not 409 or 404.
        let again = call().await;
        assert_eq!(again.status, status, "{method} {path}");
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.bytes, first.bytes);
        // Without the key the operation runs again and finds its work done.
        let fresh = t
            .call_with(method, path, Some(&admin), body.as_ref(), &[])
            .await;
        assert!(
            matches!(fresh.status.as_u16(), 404 | 409),
            "{}",
            fresh.status
        );
    }
}

#[tokio::test]
async fn an_erased_delivery_is_gone() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let admin = Caller::t1("admin");
    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.delete(&format!("/notify/v1/deliveries/{id}"), &org)
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.delete(&format!("/notify/v1/deliveries/{id}"), &Caller::t3("admin"))
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    let r = t
        .delete(&format!("/notify/v1/deliveries/{id}"), &admin)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["erased"], true);
    t.get(&format!("/notify/v1/deliveries/{id}"), &admin)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    t.delete(&format!("/notify/v1/deliveries/{id}"), &admin)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    assert_eq!(
        t.get("/notify/v1/deliveries", &admin).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn users_see_only_their_own_deliveries_and_other_tenants_see_none() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let me = Caller::t1("user");
    let body = json!({
        "channels": ["in_app"],
        "recipients": [{"userId": me.sub}, {"userId": "someone-else"}],
        "content": {"subject": "Welcome", "text": "Hello"},
        "category": "system",
    });
    let r = t.post("/notify/v1/send", &org, &body).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let ids: Vec<String> = r.json()["data"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let mine = t.get("/notify/v1/deliveries", &me).await;
    let listed = mine.json()["data"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["recipient"]["userId"], me.sub.as_str());
    assert_eq!(
        t.get(&format!("/notify/v1/deliveries/{}", ids[0]), &me)
            .await
            .status,
        200
    );
    t.get(&format!("/notify/v1/deliveries/{}", ids[1]), &me)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    assert_eq!(
        t.get("/notify/v1/deliveries", &org).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let other = Caller::t3("admin");
    t.get(&format!("/notify/v1/deliveries/{}", ids[0]), &other)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    assert_eq!(
        t.get("/notify/v1/deliveries", &other).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn deliveries_filter_and_page_newest_first() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let start = t.state.now();
    for i in 0..5 {
        t.post(
            "/notify/v1/send",
            &org,
            &email_send(&[&format!("p{i}@example.com")]),
        )
        .await;
        t.advance(chrono::Duration::seconds(10));
    }
    let sms = json!({
        "channels": ["sms"], "recipients": [{"phone": "+14155550100"}],
        "content": {"text": "x"}, "category": "reminder",
    });
    t.post("/notify/v1/send", &org, &sms).await;

    let page1 = t
        .get("/notify/v1/deliveries?channel=email&limit=2", &org)
        .await;
    let items = page1.json()["data"].as_array().unwrap().clone();
    assert_eq!(
        items
            .iter()
            .map(|d| d["recipient"]["email"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["p4@example.com", "p3@example.com"]
    );
    let cursor = page1.json()["page"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let page2 = t
        .get(
            &format!("/notify/v1/deliveries?channel=email&limit=2&cursor={cursor}"),
            &org,
        )
        .await;
    assert_eq!(
        page2.json()["data"][0]["recipient"]["email"],
        "p2@example.com"
    );
    // A cursor is bound to its filters.
    t.get(
        &format!("/notify/v1/deliveries?channel=sms&limit=2&cursor={cursor}"),
        &org,
    )
    .await
    .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");
    let only = t
        .get("/notify/v1/deliveries?recipient=P1@example.com", &org)
        .await;
    assert_eq!(only.json()["data"].as_array().unwrap().len(), 1);
    // A number in any spelling the send takes finds the SMS.
    for spelled in [
        "%2B14155550100",
        "%2B1%20(415)%20555-0100",
        "%2B1%20415%20555%200100",
    ] {
        let found = t
            .get(&format!("/notify/v1/deliveries?recipient={spelled}"), &org)
            .await
            .json();
        let data = found["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{spelled}: {found}");
        assert_eq!(data[0]["channel"], "sms");
    }
    // All six on a page of six: no more (a query that reached its limit answers a
    // resume key on DynamoDB and the memory store alike, even with nothing left).
    let all = t.get("/notify/v1/deliveries?limit=6", &org).await.json();
    assert_eq!(all["data"].as_array().unwrap().len(), 6);
    assert_eq!(all["page"]["has_more"], false, "{all}");
    let from = (start + chrono::Duration::seconds(25))
        .to_rfc3339()
        .replace('+', "%2B");
    let recent = t
        .get(
            &format!("/notify/v1/deliveries?from={from}&channel=email"),
            &org,
        )
        .await;
    assert_eq!(
        recent.json()["data"].as_array().unwrap().len(),
        2,
        "{}",
        recent.json()
    );
    for bad in [
        "status=lost",
        "channel=fax",
        "category=x",
        "from=yesterday",
        "limit=0",
    ] {
        t.get(&format!("/notify/v1/deliveries?{bad}"), &org)
            .await
            .assert_error(400, "ERR_NOTIFY_VALIDATION");
    }
    // A filter given twice names itself: before, the last one silently won, so
    // `status=sent&status=failed` listed only the failed deliveries.
    for (twice, field) in [
        ("deliveries?status=sent&status=failed", "status"),
        ("deliveries?channel=email&limit=2&channel=email", "channel"),
        ("deliveries?limit=2&limit=50", "limit"),
        ("metrics?from=2026-01-01&from=2026-02-01", "from"),
    ] {
        let r = t.get(&format!("/notify/v1/{twice}"), &org).await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        let named = &r.json()["error"]["details"]["fields"][0];
        assert_eq!(named["field"], field, "{twice}");
        assert!(named["issue"].as_str().unwrap().contains("more than once"));
    }
    // Named with the other bad filters, not instead of them.
    let r = t
        .get(
            "/notify/v1/deliveries?status=lost&channel=email&channel=sms",
            &org,
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    let fields = r.error_fields();
    assert_eq!(fields, ["status", "channel"]);
}

#[tokio::test]
async fn metrics_count_each_status_per_channel_and_day() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    t.post(
        "/notify/v1/send",
        &org,
        &email_send(&["a@example.com", "b@example.com"]),
    )
    .await;
    let m = t.get("/notify/v1/metrics", &org).await;
    assert_eq!(m.status, 200, "{}", m.json());
    let data = &m.json()["data"];
    assert_eq!(data["scope"], "tenant");
    assert_eq!(data["totals"]["sent"], 2);
    assert_eq!(data["totals"]["queued"], 2);
    assert_eq!(data["days"][0]["channel"], "email");
    // A delivery created in another state was `queued` first, as its timeline says.
    let scheduled_at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = t
        .post(
            "/notify/v1/send",
            &org,
            &scheduled("c@example.com", &scheduled_at),
        )
        .await;
    assert_eq!(r.json()["data"]["deliveries"][0]["status"], "scheduled");
    let m = t.get("/notify/v1/metrics", &org).await.json();
    assert_eq!(
        (
            m["data"]["totals"]["queued"].clone(),
            m["data"]["totals"]["scheduled"].clone()
        ),
        (json!(3), json!(1))
    );
    assert_eq!(data["rates"]["delivery"], 0.0);
    let mine = t.get("/notify/v1/metrics", &Caller::t1("user")).await;
    assert_eq!(mine.json()["data"]["scope"], "own");
    assert!(
        mine.json()["data"]["totals"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    t.get("/notify/v1/metrics?from=2026-01-01&to=2026-12-31", &org)
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
    t.get("/notify/v1/metrics?channel=fax", &org)
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

/// Three days of sends: a range reads exactly its days (its first and last included),
/// by day then channel, and a user's own scope holds only their deliveries.
#[tokio::test]
async fn metrics_read_exactly_the_days_asked_for_by_day_then_channel() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let user = Caller::t1("user");
    let today = |t: &TestNotify| t.state.now().format("%Y-%m-%d").to_string();
    let send = async |body: Value| {
        let r = t.post("/notify/v1/send", &org, &body).await;
        assert_eq!(r.status, 202, "{}", r.json());
    };
    let d1 = today(&t);
    send(email_send(&["a@example.com"])).await;
    t.advance(chrono::Duration::days(1));
    let d2 = today(&t);
    send(email_send(&["b@example.com", "c@example.com"])).await;
    send(json!({
        "channels": ["in_app"],
        "recipients": [{"userId": user.sub}],
        "content": {"subject": "Doors open", "text": "Doors open at 9."},
        "category": "transactional",
    }))
    .await;
    t.advance(chrono::Duration::days(1));
    let d3 = today(&t);
    send(email_send(&["d@example.com"])).await;

    let read = async |who: &Caller, query: String| {
        let m = t.get(&format!("/notify/v1/metrics?{query}"), who).await;
        assert_eq!(m.status, 200, "{}", m.json());
        let data = m.json()["data"].clone();
        let days: Vec<(String, String)> = data["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["date"].as_str().unwrap().into(),
                    d["channel"].as_str().unwrap().into(),
                )
            })
            .collect();
        (days, data["totals"]["queued"].clone())
    };
    let day = |d: &str, ch: &str| (d.to_owned(), ch.to_owned());

    let (days, queued) = read(&org, format!("from={d2}&to={d2}")).await;
    assert_eq!(days, [day(&d2, "email"), day(&d2, "in_app")]);
    assert_eq!(queued, 3);
    let (days, queued) = read(&org, format!("from={d1}&to={d3}")).await;
    assert_eq!(
        days,
        [
            day(&d1, "email"),
            day(&d2, "email"),
            day(&d2, "in_app"),
            day(&d3, "email")
        ]
    );
    assert_eq!(queued, 5);
    let (days, _) = read(&org, format!("from={d2}&to={d3}&channel=email")).await;
    assert_eq!(days, [day(&d2, "email"), day(&d3, "email")]);
    // The default range ends today.
    let (days, queued) = read(&org, format!("from={d3}")).await;
    assert_eq!((days, queued), (vec![day(&d3, "email")], json!(1)));
    // A user sees their own delivery only.
    let (days, queued) = read(&user, format!("from={d1}&to={d3}")).await;
    assert_eq!((days, queued), (vec![day(&d2, "in_app")], json!(1)));
}

#[tokio::test]
async fn the_scheduled_entry_runs_the_dispatcher_and_refuses_other_events() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    let at = (t.state.now() + chrono::Duration::minutes(5)).to_rfc3339();
    t.post("/notify/v1/send", &org, &scheduled("ada@example.com", &at))
        .await;
    t.advance(chrono::Duration::minutes(5));
    let deadline = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    let bad = notify::dispatch::scheduled(&t.state, &json!({"job": "other"}), deadline).await;
    assert!(bad.is_err());
    assert!(t.tp.outbox.sent().is_empty());
    let report =
        notify::dispatch::scheduled(&t.state, &json!({"job": "notify.dispatch"}), deadline)
            .await
            .unwrap();
    assert_eq!(report["sent"], 1);
    assert_eq!(t.tp.outbox.sent_to("ada@example.com").len(), 1);
}

#[tokio::test]
async fn a_contact_suppressed_before_its_delivery_comes_due_is_not_sent_to() {
    let t = with_key(TestNotify::new().await);
    let org = Caller::t1("organizer");
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = t
        .post("/notify/v1/send", &org, &scheduled("ada@example.com", &at))
        .await;
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = t
        .post(
            "/notify/v1/suppressions",
            &Caller::t1("admin"),
            &json!({"contact": "ada@example.com", "reason": "asked"}),
        )
        .await;
    assert!(s.status.is_success(), "{}", s.json());
    t.advance(chrono::Duration::hours(1));
    let run = dispatch(&t).await;
    assert_eq!(run["sent"], 0, "{run}");
    assert!(t.tp.outbox.sent().is_empty());
    let got = t.get(&format!("/notify/v1/deliveries/{id}"), &org).await;
    assert_eq!(got.json()["data"]["status"], "suppressed");
    // Nothing left due, and the quota unit it never used is back.
    assert_eq!(dispatch(&t).await["due"], 0);
    assert_eq!(emails_today(&t).await, 0);
}

/// An unsubscribe holds for what was scheduled before it: a person who opted out of the
/// category (their own preferences, or the tenant's defaults for one without any) is
/// skipped when the delivery comes due, and its quota unit goes back. Transactional mail
/// is not opted out of.
#[tokio::test]
async fn a_person_who_opted_out_before_a_scheduled_delivery_comes_due_is_skipped() {
    let t = with_key(TestNotify::new().await);
    let org = Caller::t1("organizer");
    let me = Caller::t1("user");
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let send = |category: &str, recipient: Value| {
        json!({
            "channels": ["email"],
            "recipients": [recipient],
            "content": {"subject": "Early bird", "text": "Tickets are on sale."},
            "category": category,
            "scheduledAt": at,
        })
    };
    let mut ids = Vec::new();
    for (category, recipient) in [
        (
            "marketing",
            json!({"userId": me.sub, "email": "me@example.com"}),
        ),
        (
            "transactional",
            json!({"userId": me.sub, "email": "me@example.com"}),
        ),
        ("marketing", json!({"email": "anon@example.com"})),
    ] {
        let r = t
            .post("/notify/v1/send", &org, &send(category, recipient))
            .await;
        assert_eq!(
            r.json()["data"]["deliveries"][0]["status"],
            "scheduled",
            "{}",
            r.json()
        );
        ids.push(
            r.json()["data"]["deliveries"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(emails_today(&t).await, 3);
    let off = json!({"channels": {"marketing": {"email": false}}});
    assert_eq!(t.put("/notify/v1/preferences", &me, &off).await.status, 200);
    let r = t.put("/notify/v1/preferences/defaults", &org, &off).await;
    assert_eq!(r.status, 200, "{}", r.json());

    t.advance(chrono::Duration::hours(1));
    let run = dispatch(&t).await;

    assert_eq!((&run["due"], &run["sent"]), (&json!(3), &json!(1)), "{run}");
    let status = async |id: &String| {
        let path = format!("/notify/v1/deliveries/{id}");
        let d = t.get(&path, &org).await.json()["data"].clone();
        (
            d["status"].clone(),
            d["timeline"].as_array().unwrap().last().unwrap()["detail"].clone(),
        )
    };
    assert_eq!(
        status(&ids[0]).await,
        (json!("skipped"), json!("opted out"))
    );
    assert_eq!(status(&ids[1]).await.0, "sent");
    assert_eq!(
        status(&ids[2]).await,
        (json!("skipped"), json!("opted out"))
    );
    assert_eq!(t.tp.outbox.sent().len(), 1, "the transactional mail alone");
    assert_eq!(
        emails_today(&t).await,
        1,
        "the skipped ones' units are back"
    );
    assert_eq!(dispatch(&t).await["due"], 0);
}

#[tokio::test]
async fn cancelling_or_erasing_an_unsent_delivery_gives_its_quota_back() {
    let t = TestNotify::new().await;
    let admin = Caller::t1("admin");
    let a = scheduled_email(&t, "a@example.com").await;
    let b = scheduled_email(&t, "b@example.com").await;
    assert_eq!(emails_today(&t).await, 2);
    assert_eq!(
        t.post(
            &format!("/notify/v1/deliveries/{a}/cancel"),
            &admin,
            &json!({})
        )
        .await
        .status,
        200
    );
    assert_eq!(emails_today(&t).await, 1);
    assert_eq!(
        t.delete(&format!("/notify/v1/deliveries/{b}"), &admin)
            .await
            .status,
        200
    );
    assert_eq!(emails_today(&t).await, 0);
}

/// The erase's transaction is conditional on the delivery as read: one that changed
/// between the read and the write is read again, and its quota unit goes back once.
#[tokio::test]
async fn an_erase_meeting_a_change_reads_again_and_gives_the_quota_back_once() {
    let (store, t) = faulty();
    let id = scheduled_email(&t, "a@example.com").await;
    assert_eq!(emails_today(&t).await, 1);
    delivery_changes_meanwhile(&store, &id);
    let (gets, writes) = (store.calls_of(Op::Get), store.calls_of(Op::Transact));

    let r = t
        .delete(&format!("/notify/v1/deliveries/{id}"), &Caller::t1("admin"))
        .await;

    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(store.calls_of(Op::Get) - gets, 2, "read again");
    assert_eq!(store.calls_of(Op::Transact) - writes, 2, "written again");
    let gone = t
        .get(
            &format!("/notify/v1/deliveries/{id}"),
            &Caller::t1("organizer"),
        )
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(emails_today(&t).await, 0);
}

/// An email to 100 people: its deliveries are stored in three transactions (49, 49, 2).
fn email_to_a_hundred() -> Value {
    let people: Vec<String> = (0..100).map(|i| format!("p{i}@example.com")).collect();
    email_send(&people.iter().map(String::as_str).collect::<Vec<_>>())
}

/// After a send of [`email_to_a_hundred`] failed at its second delivery transaction: the
/// first transaction's 49 deliveries are all that is stored, every one cancelled, no mail
/// has gone out, and none does when a dispatcher runs `later`.
async fn nothing_of_the_failed_send_goes_out(
    t: &TestNotify,
    org: &Caller,
    later: chrono::Duration,
) {
    let page = t.get("/notify/v1/deliveries?limit=100", org).await.json();
    let ds = page["data"].as_array().unwrap();
    assert_eq!(ds.len(), 49, "the first transaction's deliveries");
    let statuses: Vec<&Value> = ds.iter().map(|d| &d["status"]).collect();
    assert!(statuses.iter().all(|s| *s == "cancelled"), "{statuses:?}");
    assert!(t.tp.outbox.sent().is_empty());
    t.advance(later);
    assert_eq!(dispatch(t).await["due"], 0);
    assert!(t.tp.outbox.sent().is_empty());
}

/// A send whose deliveries could not all be stored (100 take three transactions; the
/// second fails) answers 503 and sends nothing: the deliveries stored already are
/// cancelled, none is left due, and the quota is given back, so a retry sends each once.
#[tokio::test]
async fn a_send_that_could_not_store_all_its_deliveries_sends_none_of_them() {
    let (store, t) = faulty();
    let t = with_key(t);
    let org = Caller::t1("organizer");
    let mut body = email_to_a_hundred();
    body["scheduledAt"] = json!((t.state.now() + chrono::Duration::hours(1)).to_rfc3339());
    // The first deliveries' transaction passes (the quota is reserved by plain updates);
    // the next fails.
    store.fail_after_of(Op::Transact, 1, 1, Fault::Timeout);

    let r = t.post("/notify/v1/send", &org, &body).await;

    r.assert_error(503, "ERR_NOTIFY_UNAVAILABLE");
    assert_eq!(emails_today(&t).await, 0);
    nothing_of_the_failed_send_goes_out(&t, &org, chrono::Duration::hours(1)).await;
}

/// The same failure, with a dispatcher run landing while the send is between two of its
/// transactions: the deliveries stored so far are held for the request (due only after
/// `SEND_HOLD_SECS`), so the run finds none due, and the request's cancellation is the
/// last word. Due at once, the run would have mailed the first 49 while the caller,
/// answered 503, sends again.
#[tokio::test]
async fn a_dispatcher_run_while_a_send_stores_its_deliveries_sends_none_of_them() {
    let (store, t) = faulty();
    let t = with_key(t);
    let org = Caller::t1("organizer");
    let body = email_to_a_hundred();
    // The first 49 deliveries' transaction; the send stops before the next one.
    let hold = store.hold_before(Op::Transact, 2);

    let (r, run) = tokio::join!(t.post("/notify/v1/send", &org, &body), async {
        hold.reached().await;
        let run = dispatch(&t).await;
        store.fail_next_of(Op::Transact, 1, Fault::Timeout);
        hold.release();
        run
    });

    r.assert_error(503, "ERR_NOTIFY_UNAVAILABLE");
    assert_eq!((&run["due"], &run["sent"]), (&json!(0), &json!(0)));
    let hold = chrono::Duration::seconds(notify::sending::SEND_HOLD_SECS);
    nothing_of_the_failed_send_goes_out(&t, &org, hold).await;
}

/// A delivery the send request could not send itself (here its claim was throttled)
/// stays queued, and the dispatcher sends it once the request's hold is over.
#[tokio::test]
async fn a_delivery_a_send_left_queued_goes_out_once_the_hold_is_over() {
    let (store, t) = faulty();
    let t = with_key(t);
    let org = Caller::t1("organizer");
    // The delivery's transaction passes; the request's claim is throttled.
    store.fail_after_of(Op::Transact, 1, 1, Fault::Throttle);

    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;

    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["deliveries"][0]["status"], "queued");
    assert_eq!(dispatch(&t).await["due"], 0, "held for the request");
    t.advance(chrono::Duration::seconds(
        notify::sending::SEND_HOLD_SECS - 1,
    ));
    assert_eq!(dispatch(&t).await["due"], 0, "still held");
    t.advance(chrono::Duration::seconds(1));
    let run = dispatch(&t).await;
    assert_eq!((&run["due"], &run["sent"]), (&json!(1), &json!(1)));
    assert_eq!(t.tp.outbox.sent().len(), 1);
}

/// The provider took the message, then writing "sent" failed on something transient (on
/// DynamoDB, a conflict on the tenant's shared metrics counters): the delivery is
/// written again without its counts, so it is `sent`, not left `sending` for the
/// dispatcher to send again when the lease runs out; the counts follow on their own.
#[tokio::test]
async fn a_sent_message_is_recorded_even_when_its_first_write_fails() {
    let (store, t) = faulty();
    let t = with_key(t);
    let org = Caller::t1("organizer");
    // The delivery's transaction and the claim pass; "sent" is throttled.
    store.fail_after_of(Op::Transact, 2, 1, Fault::Throttle);

    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;

    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["deliveries"][0]["status"], "sent");
    t.advance(chrono::Duration::seconds(notify::sending::LEASE_SECS + 60));
    assert_eq!(dispatch(&t).await["due"], 0);
    assert_eq!(t.tp.outbox.sent().len(), 1, "sent once");
    let m = t.get("/notify/v1/metrics", &org).await.json();
    assert_eq!(m["data"]["totals"]["sent"], 1, "{m}");
}

/// A delivery left `sending` (its sender died after the provider may have taken it) is
/// claimed again when its lease ends, whatever happened to its contact meanwhile: no
/// check can move a `sending` delivery, and one that tried left its due entry read on
/// every run, for ever.
#[tokio::test]
async fn a_delivery_whose_sender_died_is_taken_over_even_if_its_contact_was_suppressed() {
    let (store, t) = faulty();
    let t = with_key(t);
    let org = Caller::t1("organizer");
    // The delivery's transaction and the claim pass; "sent" fails, and so does its retry.
    store.fail_after_of(Op::Transact, 2, 2, Fault::Throttle);
    let r = t
        .post("/notify/v1/send", &org, &email_send(&["ada@example.com"]))
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.bytes));
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = t.get(&format!("/notify/v1/deliveries/{id}"), &org).await;
    assert_eq!(got.json()["data"]["status"], "sending");
    let body = json!({"contact": "ada@example.com", "reason": "bounced meanwhile"});
    let s = t
        .post("/notify/v1/suppressions", &Caller::t1("admin"), &body)
        .await;
    assert_eq!(s.status, 201);

    t.advance(chrono::Duration::seconds(notify::sending::LEASE_SECS + 1));
    let run = dispatch(&t).await;
    assert_eq!((&run["due"], &run["sent"]), (&json!(1), &json!(1)), "{run}");
    assert_eq!(dispatch(&t).await["due"], 0, "nothing left due");
    let got = t.get(&format!("/notify/v1/deliveries/{id}"), &org).await;
    assert_eq!(got.json()["data"]["status"], "sent");
}

/// A cap a concurrent send took gives its unit back at once; if the send then fails,
/// that unit is not given back a second time (the quota would go below what was sent).
#[tokio::test]
async fn a_failed_send_gives_back_no_unit_twice() {
    let (store, t) = faulty();
    let capper = Caller::t1("user").sub("capper");
    let caps = json!({"dailyCaps": {"marketing": 1}});
    assert_eq!(
        t.put("/notify/v1/preferences", &capper, &caps).await.status,
        200
    );
    let body = json!({
        "channels": ["email"],
        "recipients": [{"userId": "capper", "email": "capper@example.com"}],
        "content": {"subject": "Early bird", "text": "Tickets are on sale."},
        "category": "marketing",
    });
    // The quota's two updates pass; a concurrent send takes the cap just before this
    // send's own take; then storing the deliveries fails.
    let cap = notify::repo::counters::cap_key(
        &shared::testing::t1(),
        "capper",
        notify::domain::Category::Marketing,
        t.state.now(),
    );
    let taken = shared::store::Update::new(cap).add("n", 1);
    store.meanwhile_before(
        Op::Update,
        3,
        vec![shared::store::TransactOp::Update(taken)],
    );
    store.fail_next_of(Op::Transact, 1, Fault::Timeout);

    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;

    r.assert_error(503, "ERR_NOTIFY_UNAVAILABLE");
    assert_eq!(emails_today(&t).await, 0);
}

/// An email to `to` scheduled an hour ahead by the organizer; its delivery id.
async fn scheduled_email(t: &TestNotify, to: &str) -> String {
    scheduled_email_by(t, &Caller::t1("organizer"), to).await
}

/// A mail to `to` that `caller` schedules for an hour from now; its delivery id.
async fn scheduled_email_by(t: &TestNotify, caller: &Caller, to: &str) -> String {
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = t.post("/notify/v1/send", caller, &scheduled(to, &at)).await;
    assert_eq!(r.status, 202, "{}", r.json());
    r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The email quota used today, as the admin's quotas view shows it.
async fn emails_today(t: &TestNotify) -> i64 {
    let q = t
        .get("/notify/v1/admin/quotas", &Caller::t1("admin"))
        .await
        .json();
    q["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "email")
        .unwrap()["daily"]["used"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn erasing_an_unread_in_app_delivery_takes_it_off_the_unread_count() {
    let t = TestNotify::new().await;
    let me = Caller::t1("user");
    let body = json!({
        "channels": ["in_app"], "recipients": [{"userId": me.sub}],
        "content": {"subject": "Hi", "text": "Hello"}, "category": "system",
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    let id = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.get("/notify/v1/notifications/unread-count", &me)
            .await
            .json()["data"]["count"],
        1
    );
    assert_eq!(
        t.delete(&format!("/notify/v1/deliveries/{id}"), &Caller::t1("admin"))
            .await
            .status,
        200
    );
    assert_eq!(
        t.get("/notify/v1/notifications/unread-count", &me)
            .await
            .json()["data"]["count"],
        0
    );
    assert_eq!(
        t.get("/notify/v1/notifications", &me).await.json()["data"],
        json!([])
    );
}

#[tokio::test]
async fn metrics_refuse_dates_out_of_range_instead_of_failing() {
    let t = TestNotify::new().await;
    let org = Caller::t1("organizer");
    for q in [
        "to=-262143-01-01",
        "from=%2B262142-12-31&to=%2B262142-12-31",
        "to=1999-12-31",
    ] {
        t.get(&format!("/notify/v1/metrics?{q}"), &org)
            .await
            .assert_error(400, "ERR_NOTIFY_VALIDATION");
    }
}
