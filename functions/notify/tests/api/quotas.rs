//! `PUT /admin/quotas` in both shapes: the map, and the list `GET` answers sent back.
//! (Quotas refusing sends are in send.rs.)

use axum::body::Body;
use http::Request;
use notify::{domain::Channel, repo::counters};
use serde_json::{Value, json};
use shared::tenant::TenantId;

use crate::helpers::{Caller, TENANT_3, TestNotify};

const QUOTAS: &str = "/notify/v1/admin/quotas";

/// T3's admin: the STARTUP plan (email 2,000 a day, 40,000 a month).
fn admin() -> Caller {
    Caller::t3("admin")
}

/// `channel`'s entry of a quotas answer.
fn entry(quotas: &Value, channel: &str) -> Value {
    quotas["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .cloned()
        .unwrap()
}

/// The caps (daily, monthly) in force for `channel`.
fn limits(quotas: &Value, channel: &str) -> (i64, i64) {
    let e = entry(quotas, channel);
    let limit = |p: &str| e[p]["limit"].as_i64().unwrap();
    (limit("daily"), limit("monthly"))
}

/// The tenant's own caps of `channel` as stored (None: the plan's).
async fn stored(t: &TestNotify, channel: Channel) -> (Option<i64>, Option<i64>) {
    let tenant = TenantId::parse(TENANT_3).unwrap();
    let s = counters::settings(t.state.store(), &tenant).await.unwrap();
    let own = s.channels.get(&channel).copied().unwrap_or_default();
    (own.daily, own.monthly)
}

/// The field the first error detail names.
fn field(r: &shared::testing::Reply) -> Value {
    r.json()["error"]["details"]["fields"][0]["field"].clone()
}

#[tokio::test]
async fn the_channels_get_answers_can_be_edited_and_put_back() {
    let t = TestNotify::new().await;
    let got = t.get(QUOTAS, &admin()).await.json();
    let mut channels = got["data"]["channels"].clone();
    for c in channels.as_array_mut().unwrap() {
        match c["channel"].as_str().unwrap() {
            "email" => c["daily"]["limit"] = json!(100),
            // A period may also be a plain number, or left out (the plan's cap).
            "sms" => c["daily"] = json!(10),
            "push" => _ = c.as_object_mut().unwrap().remove("monthly"),
            _ => {}
        }
    }
    let r = t
        .put(QUOTAS, &admin(), &json!({"channels": channels}))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(limits(&r.json(), "email"), (100, 40_000));
    assert_eq!(limits(&r.json(), "sms"), (10, 3_000));
    assert_eq!(limits(&r.json(), "push"), (10_000, 200_000));
    // A period sent back at its plan's limit was not lowered: it stays the plan's (not
    // pinned there, so an upgrade lifts it).
    assert_eq!(stored(&t, Channel::Email).await, (Some(100), None));
    assert_eq!(stored(&t, Channel::Sms).await, (Some(10), None));
    assert_eq!(stored(&t, Channel::Push).await, (None, None));
    // What GET answers now goes back as it is, and changes nothing.
    let again = t.get(QUOTAS, &admin()).await.json();
    let r = t
        .put(
            QUOTAS,
            &admin(),
            &json!({"channels": again["data"]["channels"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["data"], again["data"]);
    // An empty list, like an empty map, puts every channel back to the plan's caps.
    let r = t.put(QUOTAS, &admin(), &json!({"channels": []})).await;
    assert_eq!(limits(&r.json(), "email"), (2_000, 40_000));
    assert_eq!(stored(&t, Channel::Email).await, (None, None));
    // `planLimit` is read-only: a client's own value decides nothing.
    let body =
        json!({"channels": [{"channel": "email", "daily": {"limit": 100, "planLimit": 100}}]});
    let r = t.put(QUOTAS, &admin(), &body).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(stored(&t, Channel::Email).await, (Some(100), None));
}

#[tokio::test]
async fn a_monthly_cap_lowered_alone_round_trips_through_get() {
    let t = TestNotify::new().await;
    let r = t
        .put(
            QUOTAS,
            &admin(),
            &json!({"channels": {"email": {"monthly": 1}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    // GET shows the plan's daily (2,000) above the monthly 1: sent back, that is the same
    // caps, not a daily lowered above the month.
    let got = t.get(QUOTAS, &admin()).await.json();
    let r = t
        .put(
            QUOTAS,
            &admin(),
            &json!({"channels": got["data"]["channels"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(limits(&r.json(), "email"), (2_000, 1));
    // A daily actually lowered above the month is still refused, in both shapes.
    let r = t
        .put(
            QUOTAS,
            &admin(),
            &json!({"channels": [{"channel": "email", "daily": 5, "monthly": 1}]}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([{"field": "channels[0].daily", "issue": "must not exceed the monthly cap (1)"}])
    );
}

#[tokio::test]
async fn list_errors_name_the_entry_and_its_field() {
    let t = TestNotify::new().await;
    let over = json!({"channels": [
        {"channel": "sms", "daily": 10},
        {"channel": "email", "daily": {"limit": 2_001, "planLimit": 2_000}},
    ]});
    let r = t.put(QUOTAS, &admin(), &over).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([{"field": "channels[1].daily", "issue": "must be 0 to 2000 (the STARTUP plan's cap)"}])
    );

    let r = t
        .put(
            QUOTAS,
            &admin(),
            &json!({"channels": [{"channel": "pigeon"}]}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_CHANNEL");
    assert_eq!(field(&r), "channels[0].channel");

    let twice = json!({"channels": [
        {"channel": "email", "daily": 10},
        {"channel": "sms"},
        {"channel": "email", "daily": 20},
    ]});
    let r = t.put(QUOTAS, &admin(), &twice).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"],
        json!([{"field": "channels[2].channel", "issue": "names email again (as channels[0].channel does)"}])
    );

    // Malformed entries: 400 naming the field, never a 500.
    for (entry, named) in [
        (json!({"daily": 1}), "channels[0].channel"),
        (
            json!({"channel": "email", "weekly": 1}),
            "channels[0].weekly",
        ),
        (
            json!({"channel": "email", "daily": "ten"}),
            "channels[0].daily",
        ),
        (
            json!({"channel": "email", "daily": 1.5}),
            "channels[0].daily",
        ),
        (
            json!({"channel": "email", "daily": u64::MAX}),
            "channels[0].daily",
        ),
        (
            json!({"channel": "email", "daily": {}}),
            "channels[0].daily.limit",
        ),
        (
            json!({"channel": "email", "daily": {"limt": 5}}),
            "channels[0].daily.limt",
        ),
        (
            json!({"channel": "email", "daily": {"limit": "5"}}),
            "channels[0].daily.limit",
        ),
        (json!(["email", 5]), "channels[0]"),
    ] {
        let r = t
            .put(QUOTAS, &admin(), &json!({"channels": [entry.clone()]}))
            .await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        assert_eq!(field(&r), named, "{entry}: {}", r.json());
    }
    let r = t.put(QUOTAS, &admin(), &json!({"channels": 5})).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(field(&r), "channels");
    // Nothing was stored by any of them.
    assert_eq!(stored(&t, Channel::Email).await, (None, None));
    assert_eq!(stored(&t, Channel::Sms).await, (None, None));
}

#[tokio::test]
async fn the_map_takes_periods_as_get_shows_them_and_refuses_a_channel_named_twice() {
    let t = TestNotify::new().await;
    let body = json!({"channels": {"email": {"daily": {"limit": 7, "used": 0}, "monthly": 70}}});
    let r = t.put(QUOTAS, &admin(), &body).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(limits(&r.json(), "email"), (7, 70));

    for (caps, named) in [
        (json!({"daily": {}}), "channels.email.daily.limit"),
        (json!([1, 2]), "channels.email"),
    ] {
        let r = t
            .put(QUOTAS, &admin(), &json!({"channels": {"email": caps}}))
            .await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        assert_eq!(field(&r), named, "{}", r.json());
    }

    // JSON allows a key twice; which cap was meant is unknowable (serde kept the last).
    let raw = r#"{"channels": {"email": {"daily": 1}, "sms": {}, "email": {"daily": 9}}}"#;
    let req = Request::builder()
        .method("PUT")
        .uri(QUOTAS)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", t.token(&admin())))
        .body(Body::from(raw))
        .unwrap();
    let r = t.send(req).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(field(&r), "channels.email");
    assert_eq!(stored(&t, Channel::Email).await, (Some(7), Some(70)));
}

/// The caps follow the plan the tenant has now (auth's record), not the one a token
/// issued before the change says: what is shown is what sends are held to.
#[tokio::test]
async fn quotas_follow_the_plan_of_the_tenant_s_record() {
    let t = TestNotify::new().await;
    t.set_tenant_plan(TENANT_3, "BASE").await;
    let got = t.get(QUOTAS, &admin()).await.json();
    assert_eq!(got["data"]["plan"], "BASE");
    assert_eq!(limits(&got, "sms"), (0, 0));
    assert_eq!(limits(&got, "email"), (200, 3_000));
    // A cap above the BASE plan's is refused, whatever the token says.
    let r = t
        .put(
            QUOTAS,
            &admin(),
            &json!({"channels": {"email": {"daily": 1_000}}}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(field(&r), "channels.email.daily");
}

/// A PUT replaces the stored settings without reading them: settings an older version
/// wrote in a shape this one no longer reads are put right by the next PUT.
#[tokio::test]
async fn a_put_replaces_stored_settings_it_cannot_read() {
    use shared::store::{Item, Put};
    let t = TestNotify::new().await;
    let tenant = TenantId::parse(TENANT_3).unwrap();
    let unreadable = Item::new(&counters::settings_key(&tenant)).with("channels", "email: 5");
    t.state.store().put(Put::new(unreadable)).await.unwrap();
    assert!(counters::settings(t.state.store(), &tenant).await.is_err());

    let body = json!({"channels": {"email": {"daily": 5}}});
    let put = t.put(QUOTAS, &admin(), &body).await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.bytes));
    assert_eq!(limits(&put.json(), "email"), (5, 40_000));
    assert_eq!(stored(&t, Channel::Email).await, (Some(5), None));
    let got = t.get(QUOTAS, &admin()).await;
    assert_eq!(got.status, 200);
    assert_eq!(limits(&got.json(), "email"), (5, 40_000));
}
