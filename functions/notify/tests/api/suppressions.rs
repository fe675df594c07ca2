//! The suppression list: GET/POST /suppressions, DELETE /suppressions/{contact} and
//! DELETE /suppressions?contact= (admin), POST /suppressions/check (organizer).

use serde_json::{Value, json};
use shared::testing::Reply;

use crate::helpers::{Caller, TestNotify};

const LIST: &str = "/notify/v1/suppressions";
const CHECK: &str = "/notify/v1/suppressions/check";

fn admin() -> Caller {
    Caller::t1("admin")
}

async fn add(t: &TestNotify, caller: &Caller, contact: &str, reason: Option<&str>) -> Reply {
    let mut body = json!({ "contact": contact });
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    t.post(LIST, caller, &body).await
}

/// The contacts of the caller's list (one page of 100).
async fn listed(t: &TestNotify, caller: &Caller) -> Vec<String> {
    let r = t.get(&format!("{LIST}?limit=100"), caller).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["contact"].as_str().unwrap().to_owned())
        .collect()
}

async fn check(t: &TestNotify, caller: &Caller, contacts: Value) -> Reply {
    t.post(CHECK, caller, &json!({ "contacts": contacts }))
        .await
}

#[tokio::test]
async fn an_admin_adds_lists_and_removes_contacts_normalised() {
    let t = TestNotify::new().await;
    let r = add(&t, &admin(), "  Ann@Example.COM ", Some("asked by phone")).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    let data = &r.json()["data"];
    assert_eq!(data["contact"], "ann@example.com");
    assert_eq!(data["reason"], "manual");
    assert_eq!(data["note"], "asked by phone");
    assert_eq!(data["createdBy"], "admin-1");
    assert!(data["createdAt"].as_str().unwrap().ends_with('Z'));

    let r = add(&t, &admin(), "+1 (415) 555-0100", None).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["data"]["contact"], "+14155550100");
    assert!(r.json()["data"].get("note").is_none());

    assert_eq!(
        listed(&t, &admin()).await,
        vec!["+14155550100", "ann@example.com"]
    );

    // URL-encoded, and normalised like the body.
    let r = t
        .delete(&format!("{LIST}/ANN%40example.com"), &admin())
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["contact"], "ann@example.com");
    let r = t.delete(&format!("{LIST}/%2B14155550100"), &admin()).await;
    assert_eq!(r.status, 200);
    assert!(listed(&t, &admin()).await.is_empty());

    t.delete(&format!("{LIST}/ann%40example.com"), &admin())
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
}

/// Addresses API Gateway cannot route in a path (it decodes `%2F`, `%3F`, `%23`, `%25`
/// before routing) are removed by naming them in the query.
#[tokio::test]
async fn an_admin_removes_any_address_named_in_the_query() {
    let t = TestNotify::new().await;
    let odd = "ann/sales?#100%@example.com";
    let r = add(&t, &admin(), odd, None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    add(&t, &admin(), "bob@example.com", None).await;

    let remove = |contact: &str| format!("{LIST}?contact={contact}");
    t.delete(&remove(""), &admin())
        .await
        .assert_error(400, "ERR_NOTIFY_INVALID_CONTACT");
    let r = t.delete(LIST, &admin()).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "contact"
    );
    t.delete(&remove("bob%40example.com"), &Caller::t1("organizer"))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    // Two contacts: neither is removed, and the error names `contact` (before, it was
    // "request is invalid", naming nothing).
    let r = t
        .delete(
            &format!(
                "{LIST}?contact=ann%2Fsales%3F%23100%25%40example.com&contact=bob%40example.com"
            ),
            &admin(),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    let field = &r.json()["error"]["details"]["fields"][0];
    assert_eq!(field["field"], "contact");
    assert!(field["issue"].as_str().unwrap().contains("more than once"));
    let kept = listed(&t, &admin()).await;
    assert!(kept.contains(&odd.to_owned()) && kept.contains(&"bob@example.com".to_owned()));
    t.delete(&remove("bob%40example.com"), &Caller::t3("admin"))
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    assert_eq!(listed(&t, &admin()).await.len(), 2, "nothing removed yet");

    let r = t
        .delete(&remove("ANN%2Fsales%3F%23100%25%40example.com"), &admin())
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["contact"], odd);
    assert_eq!(listed(&t, &admin()).await, vec!["bob@example.com"]);
    t.delete(&remove("ann%2Fsales%3F%23100%25%40example.com"), &admin())
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");

    // One Idempotency-Key for two removals is a reused key, not a replay of the first.
    let keyed = async |contact: &str| {
        let path = remove(contact);
        let key = [("idempotency-key", "remove-1")];
        t.call_with("DELETE", &path, Some(&admin()), None, &key)
            .await
    };
    assert_eq!(keyed("bob%40example.com").await.status, 200);
    add(&t, &admin(), "carol@example.com", None).await;
    keyed("carol%40example.com")
        .await
        .assert_error(422, "ERR_NOTIFY_IDEMPOTENCY_KEY_REUSED");
    assert_eq!(listed(&t, &admin()).await, vec!["carol@example.com"]);
}

#[tokio::test]
async fn adding_a_contact_already_suppressed_answers_200_with_the_entry_unchanged() {
    let t = TestNotify::new().await;
    assert_eq!(
        add(&t, &admin(), "ann@example.com", Some("first"))
            .await
            .status,
        201
    );
    let r = add(
        &t,
        &admin().sub("admin-2"),
        "ANN@example.com",
        Some("second"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["note"], "first");
    assert_eq!(r.json()["data"]["createdBy"], "admin-1");
    assert_eq!(listed(&t, &admin()).await, vec!["ann@example.com"]);
}

#[tokio::test]
async fn invalid_contacts_are_refused_naming_the_field() {
    let t = TestNotify::new().await;
    for bad in ["", "nope", "ann@", "4155550100", "+0123"] {
        let r = add(&t, &admin(), bad, None).await;
        r.assert_error(400, "ERR_NOTIFY_INVALID_CONTACT");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            "contact",
            "{bad}"
        );
    }
    t.delete(&format!("{LIST}/nope"), &admin())
        .await
        .assert_error(400, "ERR_NOTIFY_INVALID_CONTACT");
    let r = check(&t, &admin(), json!(["ann@example.com", "not-a-contact"])).await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_CONTACT");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "contacts[1]"
    );
    assert!(listed(&t, &admin()).await.is_empty());
}

#[tokio::test]
async fn bad_bodies_are_refused() {
    let t = TestNotify::new().await;
    let long = "x".repeat(501);
    let r = add(&t, &admin(), "ann@example.com", Some(&long)).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(r.json()["error"]["details"]["fields"][0]["field"], "reason");
    let r = t
        .post(
            LIST,
            &admin(),
            &json!({"contact": "ann@example.com", "kind": "manual"}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert!(listed(&t, &admin()).await.is_empty());

    check(&t, &admin(), json!([]))
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
    let many: Vec<String> = (0..101).map(|i| format!("p{i}@example.com")).collect();
    check(&t, &admin(), json!(many))
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

#[tokio::test]
async fn the_list_pages_with_a_cursor_bound_to_the_caller() {
    let t = TestNotify::new().await;
    for c in ["a@x.io", "b@x.io", "c@x.io"] {
        assert_eq!(add(&t, &admin(), c, None).await.status, 201);
    }
    let r = t.get(&format!("{LIST}?limit=2"), &admin()).await;
    assert_eq!(r.status, 200);
    let page = r.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["page"]["has_more"], true);
    let cursor = page["page"]["next_cursor"].as_str().unwrap().to_owned();

    let r = t
        .get(&format!("{LIST}?limit=2&cursor={cursor}"), &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"][0]["contact"], "c@x.io");
    assert_eq!(r.json()["page"]["has_more"], false);
    // A page that ends exactly at the last entry says no more (DynamoDB, like the
    // memory store, answers a resume key whenever a query reached its limit).
    let r = t.get(&format!("{LIST}?limit=3"), &admin()).await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 3);
    assert_eq!(r.json()["page"]["has_more"], false, "{}", r.json());

    t.get(
        &format!("{LIST}?limit=2&cursor={cursor}"),
        &Caller::t3("admin"),
    )
    .await
    .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");
    t.get(&format!("{LIST}?limit=0"), &admin())
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

#[tokio::test]
async fn check_answers_each_contact_in_order_with_its_reason() {
    let t = TestNotify::new().await;
    add(&t, &admin(), "ann@example.com", None).await;
    let r = check(
        &t,
        &Caller::t1("organizer"),
        json!(["bob@example.com", "ANN@example.com", "+1 415 555 0100"]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(
        r.json()["data"],
        json!([
            {"contact": "bob@example.com", "suppressed": false},
            {"contact": "ann@example.com", "suppressed": true, "reason": "manual"},
            {"contact": "+14155550100", "suppressed": false},
        ])
    );
}

#[tokio::test]
async fn another_tenant_neither_sees_nor_removes_the_entries() {
    let t = TestNotify::new().await;
    add(&t, &admin(), "ann@example.com", None).await;
    let t3 = Caller::t3("admin");
    assert!(listed(&t, &t3).await.is_empty());
    t.delete(&format!("{LIST}/ann%40example.com"), &t3)
        .await
        .assert_error(404, "ERR_NOTIFY_NOT_FOUND");
    let r = check(&t, &t3, json!(["ann@example.com"])).await;
    assert_eq!(r.json()["data"][0]["suppressed"], false);
    // T3's own entry is its own.
    assert_eq!(add(&t, &t3, "ann@example.com", None).await.status, 201);
    assert_eq!(listed(&t, &admin()).await, vec!["ann@example.com"]);
    assert_eq!(listed(&t, &t3).await, vec!["ann@example.com"]);
}

#[tokio::test]
async fn roles_organizers_check_admins_manage() {
    let t = TestNotify::new().await;
    let organizer = Caller::t1("organizer");
    add(&t, &organizer, "ann@example.com", None)
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.get(LIST, &organizer)
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    add(&t, &admin(), "ann@example.com", None).await;
    t.delete(&format!("{LIST}/ann%40example.com"), &organizer)
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    check(&t, &Caller::t1("user"), json!(["ann@example.com"]))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    let r = check(&t, &organizer, json!(["ann@example.com"])).await;
    assert_eq!(r.json()["data"][0]["suppressed"], true);
    t.call("GET", LIST, None, None)
        .await
        .assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
    assert_eq!(listed(&t, &admin()).await, vec!["ann@example.com"]);
}

#[tokio::test]
async fn the_document_describes_the_suppression_routes() {
    let t = TestNotify::new().await;
    let doc = t
        .call("GET", "/notify/v1/openapi.json", None, None)
        .await
        .json();
    for (path, method) in [
        (LIST, "get"),
        (LIST, "post"),
        (LIST, "delete"),
        ("/notify/v1/suppressions/{contact}", "delete"),
        (CHECK, "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["admin"]), "{method} {path}");
        assert!(op["security"].is_array(), "{method} {path}");
    }
}
