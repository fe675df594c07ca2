//! Route group `people`: preferences (and the tenant's defaults), push devices, the
//! in-app inbox.

use std::sync::Arc;

use async_trait::async_trait;
use notify::{
    channels::{ChannelError, PushMessage, PushSender},
    domain::{
        Category, Channel, Delivery, Priority, Recipient, Status, delivery::Rendered,
        preferences::Preferences,
    },
    repo::{self, send_reads::SendReads},
};
use serde_json::{Value, json};
use shared::{
    ids::{new_id, sha256_hex},
    store::{
        Item, Key, Put, TransactOp,
        faults::{Fault, Op},
    },
    testing::{Reply, t1},
};

use crate::helpers::{Caller, TENANT_1, TestNotify, delivery_changes_meanwhile, faulty};

const PREFS: &str = "/notify/v1/preferences";
const DEFAULTS: &str = "/notify/v1/preferences/defaults";
const DEVICES: &str = "/notify/v1/devices";
const INBOX: &str = "/notify/v1/notifications";
const UNREAD: &str = "/notify/v1/notifications/unread-count";
const READ_ALL: &str = "/notify/v1/notifications/read-all";

#[track_caller]
fn ok(r: &Reply, status: u16) -> Value {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{}",
        String::from_utf8_lossy(&r.bytes)
    );
    r.json()
}

/// The fields a 400 VALIDATION names.
#[track_caller]
fn bad_fields(r: &Reply) -> Vec<String> {
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    r.error_fields()
}

fn user() -> Caller {
    Caller::t1("user")
}

// ---------------------------------------------------------------- preferences

fn paris_prefs() -> Value {
    json!({
        "channels": {"marketing": {"sms": false, "email": true}, "reminder": {"push": false}},
        "quietHours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
        "dailyCaps": {"marketing": 3}
    })
}

#[tokio::test]
async fn preferences_round_trip_and_become_the_callers_own() {
    let t = TestNotify::new().await;
    let before = ok(&t.get(PREFS, &user()).await, 200);
    assert_eq!(before["data"]["source"], "built_in");
    assert_eq!(
        before["data"]["preferences"]["channels"]["marketing"]["sms"],
        true
    );
    assert!(before["data"]["preferences"]["quietHours"].is_null());

    let put = ok(&t.put(PREFS, &user(), &paris_prefs()).await, 200);
    assert_eq!(put["data"]["source"], "own");

    let got = ok(&t.get(PREFS, &user()).await, 200)["data"].clone();
    assert_eq!(got["source"], "own");
    assert!(got["updatedAt"].is_string());
    assert_eq!(got["preferences"]["channels"]["marketing"]["sms"], false);
    assert_eq!(got["preferences"]["channels"]["marketing"]["email"], true);
    assert_eq!(got["preferences"]["channels"]["reminder"]["push"], false);
    assert_eq!(got["preferences"]["channels"]["reminder"]["in_app"], true);
    // Essential categories always show opted in.
    assert_eq!(got["preferences"]["channels"]["transactional"]["sms"], true);
    assert_eq!(
        got["preferences"]["quietHours"],
        json!({"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"})
    );
    assert_eq!(got["preferences"]["dailyCaps"], json!({"marketing": 3}));

    // The send path reads the same.
    let p = send_preferences(&t, Some("user-1")).await;
    assert!(!p.allows(Category::Marketing, Channel::Sms));
    assert!(p.allows(Category::Transactional, Channel::Sms));
    assert_eq!(p.daily_cap(Category::Marketing), Some(3));
    assert!(p.quiet_hours().is_some());

    // Timezone names match case-insensitively and are kept in the database's spelling.
    let lower =
        json!({"quietHours": {"start": "22:00", "end": "07:00", "timezone": "europe/paris"}});
    ok(&t.put(PREFS, &user(), &lower).await, 200);
    let got = ok(&t.get(PREFS, &user()).await, 200)["data"].clone();
    assert_eq!(got["preferences"]["quietHours"]["timezone"], "Europe/Paris");

    // Replacing means replacing: what is left out is back to opted in, no quiet hours.
    ok(&t.put(PREFS, &user(), &json!({})).await, 200);
    let got = ok(&t.get(PREFS, &user()).await, 200)["data"].clone();
    assert_eq!(got["preferences"]["channels"]["marketing"]["sms"], true);
    assert!(got["preferences"]["quietHours"].is_null());
    assert_eq!(got["preferences"]["dailyCaps"], json!({}));
}

/// The preferences a send's checks apply to a recipient (`user_id` None: address only).
async fn send_preferences(t: &TestNotify, user_id: Option<&str>) -> Preferences {
    let r = Recipient {
        user_id: user_id.map(str::to_owned),
        email: Some("someone@example.com".into()),
        ..Recipient::default()
    };
    let now = chrono::Utc::now();
    let (reads, _) = SendReads::read(
        t.state.store(),
        &t.state.tenants,
        &t1(),
        std::slice::from_ref(&r),
        &[Channel::Email],
        Category::Marketing,
        now,
    )
    .await
    .unwrap();
    reads.preferences(&r).clone()
}

#[tokio::test]
async fn a_person_without_preferences_gets_the_tenant_defaults() {
    let t = TestNotify::new().await;
    let organizer = Caller::t1("organizer");
    let defaults =
        json!({"channels": {"marketing": {"email": false}}, "dailyCaps": {"reminder": 2}});
    let put = ok(&t.put(DEFAULTS, &organizer, &defaults).await, 200);
    assert_eq!(put["data"]["source"], "tenant_defaults");

    let got = ok(&t.get(PREFS, &user()).await, 200)["data"].clone();
    assert_eq!(got["source"], "tenant_defaults");
    assert_eq!(got["preferences"]["channels"]["marketing"]["email"], false);
    assert_eq!(got["preferences"]["dailyCaps"], json!({"reminder": 2}));
    let read = ok(&t.get(DEFAULTS, &organizer).await, 200)["data"].clone();
    assert_eq!(
        read["preferences"]["channels"],
        got["preferences"]["channels"]
    );

    // Address-only recipients and people without preferences: the defaults.
    for who in [None, Some("nobody")] {
        let p = send_preferences(&t, who).await;
        assert!(!p.allows(Category::Marketing, Channel::Email));
        assert_eq!(p.daily_cap(Category::Reminder), Some(2));
    }
    // Own preferences win over the defaults.
    ok(&t.put(PREFS, &user(), &json!({})).await, 200);
    let own = send_preferences(&t, Some("user-1")).await;
    assert_eq!(own, Preferences::default());

    // Deleting them goes back to the defaults, for the answer and for sends; deleting
    // none is no error.
    for _ in 0..2 {
        let back = ok(&t.delete(PREFS, &user()).await, 200)["data"].clone();
        assert_eq!(back["source"], "tenant_defaults");
        assert_eq!(back["preferences"]["channels"]["marketing"]["email"], false);
    }
    assert_eq!(
        ok(&t.get(PREFS, &user()).await, 200)["data"]["source"],
        "tenant_defaults"
    );
    let back = send_preferences(&t, Some("user-1")).await;
    assert!(!back.allows(Category::Marketing, Channel::Email));
    t.call("DELETE", PREFS, None, None)
        .await
        .assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");

    // Another tenant's people are not affected.
    let other = ok(&t.get(PREFS, &Caller::t3("user")).await, 200)["data"].clone();
    assert_eq!(other["source"], "built_in");
    assert_eq!(other["preferences"]["channels"]["marketing"]["email"], true);
}

#[tokio::test]
async fn the_tenant_defaults_are_for_organizers_only() {
    let t = TestNotify::new().await;
    t.get(DEFAULTS, &user())
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.put(DEFAULTS, &user(), &json!({}))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    let built_in = ok(&t.get(DEFAULTS, &Caller::t1("admin")).await, 200);
    assert_eq!(built_in["data"]["source"], "built_in");
    t.call("GET", PREFS, None, None)
        .await
        .assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
}

#[tokio::test]
async fn invalid_preferences_are_refused_naming_the_field_and_nothing_is_saved() {
    let t = TestNotify::new().await;
    let cases = [
        (
            json!({"quietHours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Atlantis"}}),
            "quietHours.timezone",
        ),
        (
            json!({"quietHours": {"start": "10pm", "end": "07:00", "timezone": "UTC"}}),
            "quietHours.start",
        ),
        (
            json!({"quietHours": {"start": "22:00", "end": "22:00", "timezone": "UTC"}}),
            "quietHours.end",
        ),
        (
            json!({"quietHours": {"start": "22:00", "timezone": "UTC"}}),
            "quietHours.end",
        ),
        (
            json!({"dailyCaps": {"marketing": 1001}}),
            "dailyCaps.marketing",
        ),
        (
            json!({"dailyCaps": {"marketing": -1}}),
            "dailyCaps.marketing",
        ),
        (json!({"dailyCaps": {"system": 5}}), "dailyCaps.system"),
        (
            json!({"channels": {"gossip": {"email": true}}}),
            "channels.gossip",
        ),
        (
            json!({"channels": {"marketing": {"pigeon": true}}}),
            "channels.marketing.pigeon",
        ),
        (
            json!({"channels": {"transactional": {"email": false}}}),
            "channels.transactional.email",
        ),
        (
            json!({"channels": {"marketing": {"sms": "no"}}}),
            "channels.marketing.sms",
        ),
        (json!({"timezone": "UTC"}), "timezone"),
    ];
    for (body, field) in &cases {
        let r = t.put(PREFS, &user(), body).await;
        assert_eq!(bad_fields(&r), [*field], "{body}");
    }
    let r = t.put(DEFAULTS, &Caller::t1("organizer"), &cases[0].0).await;
    assert_eq!(bad_fields(&r), ["quietHours.timezone"]);
    assert_eq!(
        ok(&t.get(PREFS, &user()).await, 200)["data"]["source"],
        "built_in"
    );
}

// ---------------------------------------------------------------- devices

fn local_endpoint(platform: &str, token: &str) -> String {
    format!(
        "local:push:{platform}:{}",
        &sha256_hex(token.as_bytes())[..16]
    )
}

async fn register(t: &TestNotify, caller: &Caller, token: &str) -> Reply {
    t.post(DEVICES, caller, &json!({"platform": "ios", "token": token}))
        .await
}

#[tokio::test]
async fn a_device_is_registered_with_the_push_provider_and_the_token_is_kept_nowhere() {
    let t = TestNotify::new().await;
    let token = "apns-token-0123456789abcdef";
    let r = register(&t, &user(), token).await;
    let body = ok(&r, 201);
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["platform"], "ios");
    assert!(!String::from_utf8_lossy(&r.bytes).contains(token));
    assert_eq!(
        r.header("location"),
        Some(format!("{DEVICES}/{id}").as_str())
    );

    let devices = repo::devices::list(t.state.store(), &t1(), "user-1")
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, id);
    assert_eq!(devices[0].endpoint, local_endpoint("ios", token));
    let stored = t
        .state
        .store()
        .get(&repo::user_item(&t1(), "user-1", &format!("DEVICE#{id}")))
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{stored:?}").contains(token));
}

#[tokio::test]
async fn registering_the_same_token_again_answers_the_same_device() {
    let t = TestNotify::new().await;
    let first = ok(&register(&t, &user(), "tok-1").await, 201);
    let again = ok(&register(&t, &user(), "tok-1").await, 200);
    assert_eq!(first["data"]["id"], again["data"]["id"]);
    let other = ok(&register(&t, &user(), "tok-2").await, 201);
    assert_ne!(first["data"]["id"], other["data"]["id"]);
    // Same token on another platform: another device.
    let web = t
        .post(
            DEVICES,
            &user(),
            &json!({"platform": "web", "token": "tok-1"}),
        )
        .await;
    assert_ne!(ok(&web, 201)["data"]["id"], first["data"]["id"]);
    let n = repo::devices::list(t.state.store(), &t1(), "user-1")
        .await
        .unwrap()
        .len();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn a_person_has_at_most_twenty_devices() {
    let t = TestNotify::new().await;
    for i in 0..20 {
        ok(&register(&t, &user(), &format!("tok-{i}")).await, 201);
    }
    let r = register(&t, &user(), "tok-20").await;
    assert_eq!(bad_fields(&r), ["devices"]);
    // A known token is still answered; another person is not limited by this one.
    ok(&register(&t, &user(), "tok-3").await, 200);
    ok(&register(&t, &user().sub("user-2"), "tok-20").await, 201);
}

#[tokio::test]
async fn invalid_device_bodies_are_refused_naming_the_field() {
    let t = TestNotify::new().await;
    let cases = [
        (json!({"platform": "blackberry", "token": "x"}), "platform"),
        (json!({"platform": "ios", "token": "  "}), "token"),
        (
            json!({"platform": "ios", "token": "x".repeat(4097)}),
            "token",
        ),
        (json!({"platform": "ios"}), "token"),
        (
            json!({"platform": "ios", "token": "x", "userId": "u"}),
            "userId",
        ),
    ];
    for (body, field) in cases {
        let r = t.post(DEVICES, &user(), &body).await;
        assert_eq!(bad_fields(&r), [field]);
    }
}

#[tokio::test]
async fn a_device_can_be_removed_by_its_owner_only() {
    let t = TestNotify::new().await;
    let id = ok(&register(&t, &user(), "tok-1").await, 201)["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("{DEVICES}/{id}");
    // Another person of the tenant, the same sub in another tenant, unknown ids: 404.
    for caller in [user().sub("user-2"), Caller::t3("user").sub("user-1")] {
        t.delete(&path, &caller)
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    for bad in ["0123456789abcdef0123456789abcdef", "not-a-device"] {
        t.delete(&format!("{DEVICES}/{bad}"), &user())
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    let gone = ok(&t.delete(&path, &user()).await, 200);
    assert_eq!(gone["data"], json!({"id": id, "deleted": true}));
    assert!(
        repo::devices::list(t.state.store(), &t1(), "user-1")
            .await
            .unwrap()
            .is_empty()
    );
    t.delete(&path, &user())
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    // Registering it again makes it new again.
    ok(&register(&t, &user(), "tok-1").await, 201);
}

#[tokio::test]
async fn the_callers_devices_are_listed_and_read_without_their_tokens() {
    let t = TestNotify::new().await;
    assert_eq!(ok(&t.get(DEVICES, &user()).await, 200)["data"], json!([]));
    let first = ok(&register(&t, &user(), "tok-a").await, 201)["data"].clone();
    t.advance(chrono::Duration::seconds(1));
    let r = t
        .post(
            DEVICES,
            &user(),
            &json!({"platform": "web", "token": "tok-b"}),
        )
        .await;
    let second = ok(&r, 201)["data"].clone();
    ok(&register(&t, &user().sub("user-2"), "tok-c").await, 201);

    let listed = t.get(DEVICES, &user()).await;
    assert_eq!(
        ok(&listed, 200)["data"],
        json!([first, second]),
        "oldest first, own only"
    );
    assert!(!String::from_utf8_lossy(&listed.bytes).contains("tok-a"));
    // Where the registration's Location points.
    let path = format!("{DEVICES}/{}", first["id"].as_str().unwrap());
    assert_eq!(ok(&t.get(&path, &user()).await, 200)["data"], first);
    for caller in [user().sub("user-2"), Caller::t3("user").sub("user-1")] {
        t.get(&path, &caller)
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    t.get(&format!("{DEVICES}/not-a-device"), &user())
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
}

/// The owner item of `endpoint`: (tenant, user, device), if any.
async fn endpoint_owner(t: &TestNotify, endpoint: &str) -> Option<(String, String, String)> {
    let key = Key::global(
        format!("ENDPOINT#{}", sha256_hex(endpoint.as_bytes())),
        "OWNER",
    );
    let item = t.state.store().get(&key).await.unwrap()?;
    let field = |f: &str| item.get_s(f).unwrap_or_default().to_owned();
    Some((field("tenant_id"), field("user_id"), field("device_id")))
}

/// A token another person registers since is theirs: the first person's record goes with
/// the move, and their old id is not found any more.
#[tokio::test]
async fn a_device_registered_by_another_person_moves_to_them() {
    let t = TestNotify::new().await;
    let mine = ok(&register(&t, &user(), "tok-1").await, 201)["data"]["id"].clone();
    let theirs = ok(&register(&t, &user().sub("user-2"), "tok-1").await, 201)["data"]["id"].clone();
    let tenant = t1();
    let devices = |who: &'static str| repo::devices::list(t.state.store(), &tenant, who);
    assert!(devices("user-1").await.unwrap().is_empty());
    assert_eq!(devices("user-2").await.unwrap()[0].id, theirs);
    let owner = endpoint_owner(&t, &local_endpoint("ios", "tok-1")).await;
    assert_eq!(
        owner,
        Some((
            TENANT_1.into(),
            "user-2".into(),
            theirs.as_str().unwrap().into()
        ))
    );
    t.delete(&format!("{DEVICES}/{}", mine.as_str().unwrap()), &user())
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
}

/// Removing a device and its endpoint's ownership is one transaction; if the endpoint
/// changed hands between the read and the write, the record alone goes and the new
/// owner keeps it.
#[tokio::test]
async fn removing_a_device_whose_endpoint_changed_hands_meanwhile_keeps_the_new_owner() {
    let (store, t) = faulty();
    let id = ok(&register(&t, &user(), "tok-1").await, 201)["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoint = local_endpoint("ios", "tok-1");
    assert_eq!(
        endpoint_owner(&t, &endpoint).await.map(|o| o.1),
        Some("user-1".into())
    );
    let new_owner = Item::new(&Key::global(
        format!("ENDPOINT#{}", sha256_hex(endpoint.as_bytes())),
        "OWNER",
    ))
    .with("tenant_id", TENANT_1)
    .with("user_id", "user-2")
    .with("device_id", "0123456789abcdef0123456789abcdef");
    store.meanwhile(Op::Transact, vec![TransactOp::Put(Put::new(new_owner))]);

    let gone = ok(&t.delete(&format!("{DEVICES}/{id}"), &user()).await, 200);

    assert_eq!(gone["data"]["deleted"], true);
    assert!(
        repo::devices::list(t.state.store(), &t1(), "user-1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        endpoint_owner(&t, &endpoint).await.map(|o| o.1),
        Some("user-2".into())
    );
}

#[tokio::test]
async fn registering_a_device_without_a_push_provider_is_refused() {
    let t = TestNotify::new()
        .await
        .with_state(|s| s.channels.push = None);
    let r = register(&t, &user(), "tok-1").await;
    r.assert_error(400, "ERR_NOTIFY_CHANNEL_NOT_CONFIGURED");
    assert_eq!(r.json()["error"]["details"]["channel"], "push");
}

/// A push provider that cannot be reached.
struct Down;

#[async_trait]
impl PushSender for Down {
    async fn register(&self, _: &str, _: &str) -> Result<String, ChannelError> {
        Err(ChannelError::Unavailable("connection reset".into()))
    }
    async fn unregister(&self, _: &str) -> Result<(), ChannelError> {
        Err(ChannelError::Throttled("slow down".into()))
    }
    async fn send(&self, _: &str, _: &PushMessage) -> Result<String, ChannelError> {
        Err(ChannelError::Unavailable("connection reset".into()))
    }
}

#[tokio::test]
async fn a_provider_failure_is_503_and_changes_nothing() {
    let t = TestNotify::new().await;
    let id = ok(&register(&t, &user(), "tok-1").await, 201)["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = t.with_state(|s| s.channels.push = Some(Arc::new(Down)));
    let r = register(&t, &user(), "tok-2").await;
    r.assert_error(503, "ERR_NOTIFY_PROVIDER_UNAVAILABLE");
    assert!(r.header("retry-after").is_some());
    t.delete(&format!("{DEVICES}/{id}"), &user())
        .await
        .assert_error(503, "ERR_NOTIFY_PROVIDER_UNAVAILABLE");
    let left = repo::devices::list(t.state.store(), &t1(), "user-1")
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "the device is kept for a retry");
}

// ---------------------------------------------------------------- inbox

/// An in_app delivery to `user` of T1.
fn in_app(user: &str, subject: &str) -> Delivery {
    let now = shared::clock::rfc3339_millis(chrono::Utc::now());
    Delivery {
        id: new_id().to_string(),
        tenant_id: TENANT_1.into(),
        send_id: new_id().to_string(),
        channel: Channel::InApp,
        category: Category::Reminder,
        priority: Priority::High,
        status: Status::Sent,
        recipient: Recipient {
            user_id: Some(user.into()),
            ..Recipient::default()
        },
        created_by: "organizer-1".into(),
        created_at: now.clone(),
        updated_at: now,
        template_id: None,
        template_version: None,
        locale: None,
        content: Rendered {
            subject: Some(subject.into()),
            html: Some(format!("<p>{subject}</p>")),
            text: Some(format!("{subject}, in text")),
        },
        scheduled_at: None,
        attempts: 0,
        next_attempt_at: None,
        lease_until: None,
        provider_message_id: None,
        last_error: None,
        timeline: Vec::new(),
        rev: 0,
        due_sk: None,
        cap_at: None,
        inbox_at: None,
    }
}

/// Delivers `n` messages titled `m0`… to user-1, oldest first; returns their ids.
async fn fill(t: &TestNotify, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let d = in_app("user-1", &format!("m{i}"));
        repo::inbox::deliver(t.state.store(), &t1(), &d, &d.created_at)
            .await
            .unwrap();
        ids.push(d.id);
    }
    ids
}

fn titles(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn unread(t: &TestNotify, caller: &Caller) -> u64 {
    ok(&t.get(UNREAD, caller).await, 200)["data"]["count"]
        .as_u64()
        .unwrap()
}

fn read_path(id: &str) -> String {
    format!("{INBOX}/{id}/read")
}

#[tokio::test]
async fn the_inbox_lists_the_callers_own_items_newest_first() {
    let t = TestNotify::new().await;
    fill(&t, 3).await;
    let d = in_app("user-2", "for someone else");
    repo::inbox::deliver(t.state.store(), &t1(), &d, &d.created_at)
        .await
        .unwrap();

    let body = ok(&t.get(INBOX, &user()).await, 200);
    assert_eq!(titles(&body), ["m2", "m1", "m0"]);
    let first = &body["data"][0];
    assert_eq!(first["body"], "m2, in text");
    assert_eq!(first["category"], "reminder");
    assert_eq!(first["priority"], "high");
    assert_eq!(first["read"], false);
    assert_eq!(body["page"]["has_more"], false);
    assert_eq!(unread(&t, &user()).await, 3);
    assert_eq!(unread(&t, &user().sub("user-2")).await, 1);
    // Same sub, other tenant: nothing.
    let other = ok(&t.get(INBOX, &Caller::t3("user").sub("user-1")).await, 200);
    assert_eq!(other["data"], json!([]));
}

#[tokio::test]
async fn delivering_the_same_delivery_twice_counts_it_once() {
    let t = TestNotify::new().await;
    let d = in_app("user-1", "once");
    for _ in 0..2 {
        repo::inbox::deliver(t.state.store(), &t1(), &d, &d.created_at)
            .await
            .unwrap();
    }
    assert_eq!(unread(&t, &user()).await, 1);
    assert_eq!(titles(&ok(&t.get(INBOX, &user()).await, 200)), ["once"]);
}

#[tokio::test]
async fn the_inbox_pages_with_a_cursor_bound_to_its_filter() {
    let t = TestNotify::new().await;
    let ids = fill(&t, 5).await;
    let mut seen = Vec::new();
    let mut path = format!("{INBOX}?limit=2");
    let mut cursors = Vec::new();
    loop {
        let body = ok(&t.get(&path, &user()).await, 200);
        seen.extend(titles(&body));
        match body["page"]["next_cursor"].as_str() {
            Some(c) => {
                cursors.push(c.to_owned());
                path = format!("{INBOX}?limit=2&cursor={c}");
            }
            None => break,
        }
    }
    assert_eq!(seen, ["m4", "m3", "m2", "m1", "m0"]);
    assert_eq!(cursors.len(), 2);

    // Unread only, paged: m3 and m1 are read.
    for id in [&ids[3], &ids[1]] {
        ok(&t.post(&read_path(id), &user(), &json!({})).await, 200);
    }
    let page1 = ok(
        &t.get(&format!("{INBOX}?unread=true&limit=2"), &user())
            .await,
        200,
    );
    assert_eq!(titles(&page1), ["m4", "m2"]);
    let c = page1["page"]["next_cursor"].as_str().unwrap();
    let page2 = ok(
        &t.get(&format!("{INBOX}?unread=true&limit=2&cursor={c}"), &user())
            .await,
        200,
    );
    assert_eq!(titles(&page2), ["m0"]);
    assert_eq!(page2["page"]["has_more"], false);

    // A cursor of one filter (or caller) is not valid for another.
    t.get(&format!("{INBOX}?limit=2&cursor={c}"), &user())
        .await
        .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");
    t.get(
        &format!("{INBOX}?unread=true&limit=2&cursor={c}"),
        &user().sub("user-2"),
    )
    .await
    .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");
    assert_eq!(
        bad_fields(&t.get(&format!("{INBOX}?unread=yes"), &user()).await),
        ["unread"]
    );
    let twice = t
        .get(&format!("{INBOX}?unread=true&unread=false"), &user())
        .await;
    assert_eq!(bad_fields(&twice), ["unread"]);
    let issue = &twice.json()["error"]["details"]["fields"][0]["issue"];
    assert_eq!(issue, "is given more than once (give one value)");
    assert_eq!(
        bad_fields(&t.get(&format!("{INBOX}?limit=0"), &user()).await),
        ["limit"]
    );
}

/// Lambda answers at most 6 MB: 24 in-app messages of 200 KiB would not fit one page,
/// and the gateway would answer 5xx in AWS (locally the page was 200). A page stops
/// before its items pass 2 MiB as JSON and says more follow. (On the memory store
/// whatever the run: 5 MB of items through the serial emulator would hold up the rest.)
#[tokio::test]
async fn a_page_of_large_messages_stays_within_what_lambda_can_answer() {
    let t = TestNotify::with_store(std::sync::Arc::new(
        shared::store::memory::MemoryStore::new(),
    ));
    for i in 0..24 {
        let mut d = in_app("user-1", &format!("m{i}"));
        d.content.text = Some(format!("{i}{}", "x".repeat(200 * 1024)));
        repo::inbox::deliver(t.state.store(), &t1(), &d, &d.created_at)
            .await
            .unwrap();
    }
    let mut path = format!("{INBOX}?limit=100");
    let (mut seen, mut pages) = (Vec::new(), 0);
    loop {
        let r = t.get(&path, &user()).await;
        assert!(
            r.bytes.len() < 2 * 1024 * 1024 + 4096,
            "{} bytes",
            r.bytes.len()
        );
        let body = ok(&r, 200);
        seen.extend(titles(&body));
        pages += 1;
        match body["page"]["next_cursor"].as_str() {
            Some(c) => path = format!("{INBOX}?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 24, "every message once");
    assert_eq!(seen.first().map(String::as_str), Some("m23"));
    assert!(pages >= 3, "{pages} pages");
}

/// A cancelled transaction that names no reason (a backend that gave none) is a 503 to
/// retry, not a panic (the reasons were sliced past their end: a 500).
#[tokio::test]
async fn a_read_cancelled_without_reasons_is_503_and_a_retry_marks_it() {
    let (store, t) = faulty();
    let ids = fill(&t, 1).await;
    store.fail_next_of(Op::Transact, 1, Fault::CancelledWithoutReasons);
    t.post(&read_path(&ids[0]), &user(), &json!({}))
        .await
        .assert_error(503, "ERR_NOTIFY_UNAVAILABLE");
    let r = ok(&t.post(&read_path(&ids[0]), &user(), &json!({})).await, 200);
    assert_eq!(r["data"]["changed"], true);
}

#[tokio::test]
async fn reading_an_item_counts_it_off_once() {
    let t = TestNotify::new().await;
    let ids = fill(&t, 3).await;
    let first = ok(&t.post(&read_path(&ids[1]), &user(), &json!({})).await, 200);
    assert_eq!(
        first["data"],
        json!({"id": ids[1], "read": true, "changed": true})
    );
    assert_eq!(unread(&t, &user()).await, 2);
    let again = ok(&t.post(&read_path(&ids[1]), &user(), &json!({})).await, 200);
    assert_eq!(again["data"]["changed"], false);
    assert_eq!(unread(&t, &user()).await, 2);

    let body = ok(&t.get(INBOX, &user()).await, 200);
    let item = &body["data"][1];
    assert_eq!(
        (item["title"].as_str(), item["read"].as_bool()),
        (Some("m1"), Some(true))
    );
    assert!(item["readAt"].is_string());
    assert_eq!(body["data"][0]["read"], false);
}

#[tokio::test]
async fn another_persons_or_tenants_item_is_not_found() {
    let t = TestNotify::new().await;
    let ids = fill(&t, 1).await;
    let path = read_path(&ids[0]);
    for caller in [user().sub("user-2"), Caller::t3("user").sub("user-1")] {
        t.post(&path, &caller, &json!({}))
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    for bad in [new_id().to_string(), "not-a-uuid".into()] {
        t.post(&read_path(&bad), &user(), &json!({}))
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    assert_eq!(unread(&t, &user()).await, 1);
    assert_eq!(unread(&t, &user().sub("user-2")).await, 0);
    // Nothing was created under the other callers.
    let other = ok(&t.get(INBOX, &user().sub("user-2")).await, 200);
    assert_eq!(other["data"], json!([]));
}

#[tokio::test]
async fn read_all_marks_every_unread_item_and_zeroes_the_count() {
    let t = TestNotify::new().await;
    // More than one transaction's worth.
    let ids = fill(&t, 30).await;
    ok(&t.post(&read_path(&ids[7]), &user(), &json!({})).await, 200);
    let other = in_app("user-2", "untouched");
    repo::inbox::deliver(t.state.store(), &t1(), &other, &other.created_at)
        .await
        .unwrap();

    // Two cursors: refused, and nothing is marked.
    let two = format!("{READ_ALL}?cursor=a&cursor=b");
    assert_eq!(
        bad_fields(&t.post(&two, &user(), &json!({})).await),
        ["cursor"]
    );
    assert_eq!(unread(&t, &user()).await, 29);
    let r = ok(&t.post(READ_ALL, &user(), &json!({})).await, 200);
    assert_eq!(
        r["data"],
        json!({"updated": 29, "hasMore": false, "nextCursor": null})
    );
    assert_eq!(unread(&t, &user()).await, 0);
    let left = ok(&t.get(&format!("{INBOX}?unread=true"), &user()).await, 200);
    assert_eq!(left["data"], json!([]));
    // An empty cursor is no cursor.
    let empty = format!("{READ_ALL}?cursor=");
    let r = ok(&t.post(&empty, &user(), &json!({})).await, 200);
    assert_eq!(
        r["data"],
        json!({"updated": 0, "hasMore": false, "nextCursor": null})
    );
    assert_eq!(unread(&t, &user().sub("user-2")).await, 1);
}

#[tokio::test]
async fn read_all_marks_at_most_its_bound_a_call_newest_first_and_says_more_remain() {
    use notify::routes::people::notifications::READ_ALL_MAX;
    let t = TestNotify::new().await;
    let ids = fill(&t, READ_ALL_MAX + 3).await;

    let r = ok(&t.post(READ_ALL, &user(), &json!({})).await, 200);
    assert_eq!(
        (&r["data"]["updated"], &r["data"]["hasMore"]),
        (&json!(READ_ALL_MAX), &json!(true))
    );
    let cursor = r["data"]["nextCursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    assert_eq!(unread(&t, &user()).await, 3);
    // The oldest three are the ones left (the unread list pages past the read ones).
    let mut left: Vec<String> = Vec::new();
    let mut path = format!("{INBOX}?unread=true");
    loop {
        let page = ok(&t.get(&path, &user()).await, 200);
        left.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        match page["page"]["next_cursor"].as_str() {
            Some(c) => path = format!("{INBOX}?unread=true&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(left, [ids[2].clone(), ids[1].clone(), ids[0].clone()]);

    // The next call goes on from the cursor and takes the rest.
    let next = format!("{READ_ALL}?cursor={cursor}");
    let r = ok(&t.post(&next, &user(), &json!({})).await, 200);
    assert_eq!(
        r["data"],
        json!({"updated": 3, "hasMore": false, "nextCursor": null})
    );
    assert_eq!(unread(&t, &user()).await, 0);
    // A cursor is the caller's own.
    t.post(&next, &user().sub("user-2"), &json!({}))
        .await
        .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");
}

#[tokio::test]
async fn read_all_s_search_goes_on_from_where_it_stopped_past_any_number_of_read_items() {
    // The search itself, on the memory store: thousands of items are cheap there.
    let store = shared::store::memory::MemoryStore::new();
    let older = in_app("user-1", "left unread");
    repo::inbox::deliver(&store, &t1(), &older, &older.created_at)
        .await
        .unwrap();
    for i in 0..2_600 {
        let d = in_app("user-1", &format!("read {i}"));
        let key = repo::inbox_item(&t1(), "user-1", &d.id);
        let entry = repo::inbox::InboxItem {
            id: d.id.clone(),
            title: "t".into(),
            body: "b".into(),
            category: d.category,
            priority: d.priority,
            created_at: d.created_at.clone(),
            read: true,
            read_at: Some(d.created_at.clone()),
            sort_key: String::new(),
        };
        let item = shared::store::Item::from_record(&key, &entry).unwrap();
        shared::store::Store::put(&store, shared::store::Put::new(item))
            .await
            .unwrap();
    }
    // One item wanted: five pages of at most 500 read items, then it stops, saying where.
    let (found, stopped) = repo::inbox::unread_ids(&store, &t1(), "user-1", 1, None)
        .await
        .unwrap();
    assert!(found.is_empty());
    let stopped = stopped.expect("stopped before the oldest item");
    let (found, end) = repo::inbox::unread_ids(&store, &t1(), "user-1", 1, Some(stopped))
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, [older.id.as_str()]);
    assert!(end.is_none(), "the search reached the oldest item");
}

/// `n` in-app messages sent to user-1 through `POST /send` (real deliveries, delivered
/// to the inbox); their ids.
async fn sent_in_app(t: &TestNotify, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({
            "channels": ["in_app"],
            "recipients": [{"userId": "user-1"}],
            "content": {"subject": format!("m{i}"), "text": "Doors open at 9."},
            "category": "transactional",
        });
        let r = t
            .post("/notify/v1/send", &Caller::t1("organizer"), &body)
            .await;
        let d = &ok(&r, 202)["data"]["deliveries"][0];
        assert_eq!(d["status"], "delivered", "{d}");
        ids.push(d["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// A delivery's status and its timeline's last entry, as the organizer reads it.
async fn delivery_status(t: &TestNotify, id: &str) -> (String, String) {
    let r = t
        .get(
            &format!("/notify/v1/deliveries/{id}"),
            &Caller::t1("organizer"),
        )
        .await;
    let d = ok(&r, 200)["data"].clone();
    let last = d["timeline"].as_array().unwrap().last().unwrap()["status"].clone();
    (
        d["status"].as_str().unwrap().to_owned(),
        last.as_str().unwrap().to_owned(),
    )
}

fn read_status() -> (String, String) {
    ("read".into(), "read".into())
}

/// Reading an item moves its delivery to `read`, once, with the item: reading it again,
/// or reading all, moves nothing twice (metrics count one `read` per delivery).
#[tokio::test]
async fn reading_sent_messages_moves_their_deliveries_to_read() {
    let t = TestNotify::new().await;
    let ids = sent_in_app(&t, 3).await;

    ok(&t.post(&read_path(&ids[0]), &user(), &json!({})).await, 200);
    ok(&t.post(&read_path(&ids[0]), &user(), &json!({})).await, 200);
    assert_eq!(delivery_status(&t, &ids[0]).await, read_status());
    assert_eq!(delivery_status(&t, &ids[1]).await.0, "delivered");

    let all = ok(&t.post(READ_ALL, &user(), &json!({})).await, 200);
    assert_eq!(all["data"]["updated"], 2);
    for id in &ids {
        assert_eq!(delivery_status(&t, id).await, read_status(), "{id}");
    }
    assert_eq!(unread(&t, &user()).await, 0);
    let metrics = ok(
        &t.get("/notify/v1/metrics", &Caller::t1("organizer")).await,
        200,
    );
    assert_eq!(metrics["data"]["totals"]["read"], 3);
}

/// The item and its delivery move in one transaction, conditional on the delivery as
/// read: one that changed meanwhile is read again, and the item is counted off once.
#[tokio::test]
async fn reading_an_item_whose_delivery_changed_meanwhile_reads_it_again() {
    let (store, t) = faulty();
    let ids = sent_in_app(&t, 1).await;
    delivery_changes_meanwhile(&store, &ids[0]);
    let (gets, writes) = (store.calls_of(Op::Get), store.calls_of(Op::Transact));

    let r = ok(&t.post(&read_path(&ids[0]), &user(), &json!({})).await, 200);

    assert_eq!(r["data"]["changed"], true);
    assert_eq!(store.calls_of(Op::Get) - gets, 2, "the delivery read again");
    assert_eq!(store.calls_of(Op::Transact) - writes, 2);
    assert_eq!(delivery_status(&t, &ids[0]).await, read_status());
    assert_eq!(unread(&t, &user()).await, 0);
}

/// Reading all marks the items and moves their deliveries in one transaction; one
/// delivery that changed meanwhile sends the items one by one, and the deliveries after
/// them, each read again.
#[tokio::test]
async fn read_all_moves_each_delivery_even_when_one_changed_meanwhile() {
    let (store, t) = faulty();
    let ids = sent_in_app(&t, 3).await;
    delivery_changes_meanwhile(&store, &ids[1]);

    let all = ok(&t.post(READ_ALL, &user(), &json!({})).await, 200);

    assert_eq!(all["data"]["updated"], 3);
    for id in &ids {
        assert_eq!(delivery_status(&t, id).await, read_status(), "{id}");
    }
    let metrics = ok(
        &t.get("/notify/v1/metrics", &Caller::t1("organizer")).await,
        200,
    );
    assert_eq!(metrics["data"]["totals"]["read"], 3, "each counted once");
}

#[tokio::test]
async fn a_scheduled_in_app_message_arrives_at_the_top_of_the_inbox_and_reads_like_any() {
    let t = TestNotify::new().await;
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({
        "channels": ["in_app"], "recipients": [{"userId": "user-1"}],
        "content": {"subject": "scheduled", "text": "Doors open."},
        "category": "transactional", "scheduledAt": at,
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    let scheduled = ok(&r, 202)["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two arrive while it waits; then it comes due, but the dispatcher takes it only a
    // while later, after a third arrived: it still goes on top, where it arrived.
    sent_in_app(&t, 2).await;
    t.advance(chrono::Duration::hours(1) + chrono::Duration::seconds(5));
    sent_in_app(&t, 1).await;
    t.advance(chrono::Duration::seconds(35));
    let arrived = shared::clock::rfc3339_millis(t.state.now());
    notify::dispatch::run(&t.state, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let inbox = ok(&t.get(INBOX, &user()).await, 200);
    // (m0 and m1 came in the same millisecond of the test clock: either order.)
    let mut listed = titles(&inbox);
    listed[2..].sort();
    assert_eq!(
        listed,
        ["scheduled", "m0", "m0", "m1"],
        "newest arrival first"
    );
    let first = &inbox["data"][0];
    assert_eq!(
        first["id"],
        scheduled.as_str(),
        "still named by its delivery"
    );
    assert_eq!(first["createdAt"], arrived.as_str(), "when it arrived");
    // It reads like any other, its delivery with it, and is erased like any other.
    let read = ok(
        &t.post(&read_path(&scheduled), &user(), &json!({})).await,
        200,
    );
    assert_eq!(read["data"]["changed"], true);
    assert_eq!(delivery_status(&t, &scheduled).await.0, "read");
    assert_eq!(unread(&t, &user()).await, 3);
    let erase = t
        .call(
            "DELETE",
            &format!("/notify/v1/deliveries/{scheduled}"),
            Some(&Caller::t1("admin")),
            None,
        )
        .await;
    assert_eq!(erase.status, 200, "{}", erase.json());
    let left = titles(&ok(&t.get(INBOX, &user()).await, 200));
    assert!(
        !left.contains(&"scheduled".to_owned()) && left.len() == 3,
        "{left:?}"
    );
}

#[tokio::test]
async fn an_item_stored_under_its_delivery_id_before_arrival_order_still_reads_and_erases() {
    let t = TestNotify::new().await;
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({
        "channels": ["in_app"], "recipients": [{"userId": "user-1"}],
        "content": {"subject": "old", "text": "x"}, "category": "transactional", "scheduledAt": at,
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    let id = ok(&r, 202)["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.advance(chrono::Duration::hours(1));
    notify::dispatch::run(&t.state, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    // Move the item to where items were kept before: under the delivery's id.
    let store = t.state.store();
    let d = repo::deliveries::get(store, &t1(), &id)
        .await
        .unwrap()
        .unwrap();
    let now_at = repo::inbox_item(&t1(), "user-1", &repo::inbox::sort_key(&d));
    assert_ne!(now_at.sk, id);
    let item = store.get(&now_at).await.unwrap().unwrap();
    let mut old = item.clone();
    old.set(shared::store::attr::SK, id.as_str());
    store.put(shared::store::Put::new(old)).await.unwrap();
    store
        .delete(shared::store::Delete::new(now_at))
        .await
        .unwrap();

    ok(&t.post(&read_path(&id), &user(), &json!({})).await, 200);
    assert_eq!(delivery_status(&t, &id).await.0, "read");
    let erase = t
        .call(
            "DELETE",
            &format!("/notify/v1/deliveries/{id}"),
            Some(&Caller::t1("admin")),
            None,
        )
        .await;
    assert_eq!(erase.status, 200, "{}", erase.json());
    assert!(titles(&ok(&t.get(INBOX, &user()).await, 200)).is_empty());
}

// ---------------------------------------------------------------- erasure

const ERASE_USER_1: &str = "/notify/v1/users/user-1";

/// An email to user-1 (by id and address) scheduled an hour ahead; its delivery id.
async fn scheduled_email(t: &TestNotify) -> String {
    let at = (t.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({
        "channels": ["email"],
        "recipients": [{"userId": "user-1", "email": "user1@example.com"}],
        "content": {"subject": "Later", "text": "Doors open at 9."},
        "category": "transactional",
        "scheduledAt": at,
    });
    let r = t
        .post("/notify/v1/send", &Caller::t1("organizer"), &body)
        .await;
    let d = &ok(&r, 202)["data"]["deliveries"][0];
    assert_eq!(d["status"], "scheduled", "{d}");
    d["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn erasing_a_person_leaves_nothing_of_them_in_notify() {
    let t = TestNotify::new().await;
    ok(&register(&t, &user(), "tok-erase").await, 201);
    let mut ids = sent_in_app(&t, 2).await;
    ok(&t.put(PREFS, &user(), &paris_prefs()).await, 200);
    ok(&t.post(&read_path(&ids[0]), &user(), &json!({})).await, 200);
    ids.push(scheduled_email(&t).await);
    fill(&t, 1).await; // an inbox item whose delivery is gone already
    // Someone else's things stay.
    let other = user().sub("user-2");
    ok(&register(&t, &other, "tok-other").await, 201);
    ok(&t.put(PREFS, &other, &paris_prefs()).await, 200);

    let r = t.delete(ERASE_USER_1, &user()).await;
    let mut erased = ok(&r, 200)["data"].clone();
    let metrics = erased["metricsErased"].take();
    assert!(metrics.as_u64().unwrap() > 0, "{metrics}");
    assert_eq!(
        erased,
        json!({"userId": "user-1", "deliveriesErased": 3, "devicesRemoved": 1,
            "inboxItemsErased": 1, "preferencesErased": true, "metricsErased": null,
            "complete": true})
    );
    let own_metrics = shared::store::tenant_pk(&t1(), &["U", "user-1", "MET"]);
    let left = t
        .state
        .store()
        .query(shared::store::Query::partition(own_metrics))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);

    let store = t.state.store();
    assert!(
        repo::devices::list(store, &t1(), "user-1")
            .await
            .unwrap()
            .is_empty()
    );
    let endpoint = local_endpoint("ios", "tok-erase");
    assert_eq!(endpoint_owner(&t, &endpoint).await, None, "unregistered");
    assert_eq!(ok(&t.get(INBOX, &user()).await, 200)["data"], json!([]));
    assert_eq!(unread(&t, &user()).await, 0);
    assert_ne!(
        ok(&t.get(PREFS, &user()).await, 200)["data"]["source"],
        "own"
    );
    for id in &ids {
        let r = t
            .get(
                &format!("/notify/v1/deliveries/{id}"),
                &Caller::t1("organizer"),
            )
            .await;
        r.assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    // The scheduled message never goes out.
    t.advance(chrono::Duration::hours(2));
    notify::dispatch::run(&t.state, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert!(t.tp.outbox.sent_to("user1@example.com").is_empty());
    // user-2 keeps theirs.
    assert_eq!(
        repo::devices::list(store, &t1(), "user-2")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(&t.get(PREFS, &other).await, 200)["data"]["source"],
        "own"
    );

    // Again: nothing left to erase, and safe to repeat.
    let again = ok(&t.delete(ERASE_USER_1, &user()).await, 200);
    assert_eq!(again["data"]["deliveriesErased"], 0);
    assert_eq!(again["data"]["preferencesErased"], false);
    assert_eq!(again["data"]["complete"], true);
}

#[tokio::test]
async fn only_the_person_or_an_admin_of_their_tenant_erases_them() {
    let t = TestNotify::new().await;
    ok(&t.put(PREFS, &user(), &paris_prefs()).await, 200);
    for caller in [user().sub("user-2"), Caller::t1("organizer")] {
        t.delete(ERASE_USER_1, &caller)
            .await
            .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    }
    // Ids a recipient cannot have name nobody (nor reach into other keys).
    for bad in ["a%23b", &"x".repeat(200), "a%2Fb"] {
        t.delete(&format!("/notify/v1/users/{bad}"), &Caller::t1("admin"))
            .await
            .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    }
    // Another tenant's admin reaches only their own tenant's user-1.
    let there = ok(&t.delete(ERASE_USER_1, &Caller::t3("admin")).await, 200);
    assert_eq!(there["data"]["preferencesErased"], false);
    assert_eq!(
        ok(&t.get(PREFS, &user()).await, 200)["data"]["source"],
        "own"
    );
    let done = ok(&t.delete(ERASE_USER_1, &Caller::t1("admin")).await, 200);
    assert_eq!(done["data"]["preferencesErased"], true);
}

#[tokio::test]
async fn a_person_with_many_deliveries_is_erased_over_several_calls() {
    let t = TestNotify::new().await;
    let body = json!({
        "channels": ["email"],
        // One person under several addresses: a delivery each.
        "recipients": (0..51)
            .map(|i| json!({"userId": "user-1", "email": format!("u{i}@example.com")}))
            .collect::<Vec<_>>(),
        "content": {"subject": "Hi", "text": "Doors open at 9."},
        "category": "transactional",
    });
    for _ in 0..2 {
        let r = t
            .post("/notify/v1/send", &Caller::t1("organizer"), &body)
            .await;
        ok(&r, 202);
    }
    let first = ok(&t.delete(ERASE_USER_1, &user()).await, 200)["data"].clone();
    assert_eq!(
        (first["deliveriesErased"].clone(), first["complete"].clone()),
        (json!(100), json!(false))
    );
    let last = ok(&t.delete(ERASE_USER_1, &user()).await, 200)["data"].clone();
    assert_eq!(
        (last["deliveriesErased"].clone(), last["complete"].clone()),
        (json!(2), json!(true))
    );
    assert_eq!(unread(&t, &user()).await, 0);
}

/// The person's tokens issued before the erasure stay valid for their minutes (notify
/// does not see auth's revocations): they must not put a device or preferences back.
#[tokio::test]
async fn a_token_from_before_the_erasure_cannot_put_the_persons_data_back() {
    let t = TestNotify::new().await;
    let old = t.token(&user());
    t.advance(chrono::Duration::seconds(1));
    ok(&t.delete(ERASE_USER_1, &Caller::t1("admin")).await, 200);
    let with_old = async |method: &str, path: &str, body: Value| {
        t.send(shared::testing::json_request(
            method,
            path,
            Some(&old),
            Some(&body),
            &[],
        ))
        .await
    };
    with_old(
        "POST",
        DEVICES,
        json!({"platform": "ios", "token": "back-again"}),
    )
    .await
    .assert_error(401, "ERR_NOTIFY_TOKEN_REVOKED");
    with_old("PUT", PREFS, paris_prefs())
        .await
        .assert_error(401, "ERR_NOTIFY_TOKEN_REVOKED");
    assert!(
        repo::devices::list(t.state.store(), &t1(), "user-1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_ne!(
        ok(&t.get(PREFS, &user()).await, 200)["data"]["source"],
        "own"
    );
    // A token issued after it (the person signed in again) works.
    t.advance(chrono::Duration::seconds(1));
    ok(&register(&t, &user(), "back-again").await, 201);
    ok(&t.put(PREFS, &user(), &paris_prefs()).await, 200);
}
