//! Idempotency-Key semantics (API-CONVENTIONS.md). Each check is a function over a
//! `TestApp`, run here on the memory store and in `wire` against the DynamoDB emulator.

use chrono::Duration;
use futures_util::future::join_all;
use serde_json::{Value, json};
use shared::{
    service::Service,
    store::faults::{Fault, FaultyStore},
};

use crate::helpers::TestApp;

const ORDERS: &str = "/notify/v1/orders";

fn order(quantity: u32) -> Value {
    json!({"item": "ticket", "quantity": quantity})
}

pub async fn twenty_concurrent_requests_with_one_key_execute_once(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    let body = json!({"item": "ticket", "quantity": 2, "delay_ms": 300});
    let replies =
        join_all((0..20).map(|_| app.post_json(ORDERS, Some(&token), Some("race-1"), &body))).await;
    assert_eq!(app.calls(), 1, "the handler ran once");
    let created: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    let in_progress = replies.iter().filter(|r| r.status == 409).count();
    assert!(!created.is_empty(), "one request executed");
    for r in &replies {
        assert!(
            r.status == 201 || r.status == 409,
            "unexpected {}",
            r.status
        );
        if r.status == 409 {
            r.assert_error(409, "ERR_NOTIFY_IDEMPOTENCY_IN_PROGRESS");
        }
    }
    assert_eq!(created.len() + in_progress, 20);
    // Once done, the same request is a replay of the one execution.
    let original = created
        .iter()
        .find(|r| r.header("idempotent-replayed").is_none())
        .unwrap();
    let replay = app
        .post_json(ORDERS, Some(&token), Some("race-1"), &body)
        .await;
    assert_eq!(replay.bytes, original.bytes);
    assert_eq!(app.calls(), 1);
}

pub async fn a_replay_is_byte_identical_and_marked(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    let first = app
        .post_json(ORDERS, Some(&token), Some("k-replay"), &order(1))
        .await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    // Same JSON, other formatting and key order: the same request.
    let req = http::Request::post(ORDERS)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "k-replay")
        .body(axum::body::Body::from(
            "{ \"quantity\": 1,\n  \"item\": \"ticket\" }",
        ))
        .unwrap();
    let second = app.send(req).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.bytes, first.bytes, "byte for byte");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("content-type"), Some("application/json"));
    assert_ne!(
        second.header("x-request-id"),
        first.header("x-request-id"),
        "a new request id in the header"
    );
    assert_eq!(app.calls(), 1);
}

pub async fn the_same_key_with_another_body_is_422(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    assert_eq!(
        app.post_json(ORDERS, Some(&token), Some("k-reuse"), &order(1))
            .await
            .status,
        201
    );
    let r = app
        .post_json(ORDERS, Some(&token), Some("k-reuse"), &order(2))
        .await;
    r.assert_error(422, "ERR_NOTIFY_IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.calls(), 1);
}

pub async fn a_5xx_409_429_or_retry_after_is_not_stored_so_a_retry_runs_again(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    // (A quota refusal names when it resets: 402 with retry-after.)
    let cases = [
        (503u16, None),
        (500, None),
        (409, None),
        (429, None),
        (402, Some(60)),
    ];
    for (i, (code, retry_after)) in cases.into_iter().enumerate() {
        let key = format!("k-fail-{code}");
        let body =
            json!({"item": "ticket", "quantity": 1, "fail_with": code, "retry_after": retry_after});
        assert_eq!(
            app.post_json(ORDERS, Some(&token), Some(&key), &body)
                .await
                .status,
            code
        );
        let retry = app.post_json(ORDERS, Some(&token), Some(&key), &body).await;
        assert_eq!(retry.status, code);
        assert!(
            retry.header("idempotent-replayed").is_none(),
            "{code} re-ran"
        );
        assert_eq!(app.calls(), 2 * (i + 1));
    }
}

pub async fn a_4xx_answer_is_stored_and_replayed(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    let body = json!({"item": "ticket", "quantity": 1, "fail_with": 400});
    let first = app
        .post_json(ORDERS, Some(&token), Some("k-400"), &body)
        .await;
    first.assert_error(400, "ERR_NOTIFY_TEST_FAILURE");
    let again = app
        .post_json(ORDERS, Some(&token), Some("k-400"), &body)
        .await;
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.calls(), 1);
}

pub async fn another_caller_or_tenant_never_replays_someone_else_s_response(app: &TestApp) {
    let mine = app.tp.token(&["organizer"]);
    let mut c = app.tp.claims(&["organizer"]);
    c.sub = "user-2".into();
    let colleague = app.tp.sign(&c);
    let mut c = app.tp.claims(&["organizer"]);
    c.tenant_id = shared::testing::T3.into();
    let other_tenant = app.tp.sign(&c);
    for token in [&mine, &colleague, &other_tenant] {
        let r = app
            .post_json(ORDERS, Some(token), Some("k-shared"), &order(1))
            .await;
        assert_eq!(r.status, 201);
        assert!(r.header("idempotent-replayed").is_none());
    }
    assert_eq!(app.calls(), 3);
}

pub async fn a_record_older_than_24_hours_counts_as_absent(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    assert_eq!(
        app.post_json(ORDERS, Some(&token), Some("k-old"), &order(1))
            .await
            .status,
        201
    );
    app.tp.advance(Duration::hours(24) + Duration::seconds(1));
    let token = app.tp.token(&["organizer"]);
    let r = app
        .post_json(ORDERS, Some(&token), Some("k-old"), &order(1))
        .await;
    assert_eq!(r.status, 201);
    assert!(r.header("idempotent-replayed").is_none());
    assert_eq!(app.calls(), 2);
}

pub async fn an_abandoned_in_progress_record_can_be_taken_over(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    // A request that never finishes (a crashed invocation) leaves an INPROGRESS record.
    // It is dropped once inside the handler (its claim written), however long the store
    // took to get it there: a fixed timeout could cut it off before the claim.
    let hold = app.gate.write().await;
    let body = order(1);
    let request = app.post_json(ORDERS, Some(&token), Some("k-crash"), &body);
    let inside = async {
        while app.calls() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let abandoned = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::select! {
            r = request => panic!("answered {} through a closed gate", r.status),
            () = inside => {}
        }
    })
    .await;
    assert!(abandoned.is_ok(), "the request never reached the handler");
    drop(hold);
    app.post_json(ORDERS, Some(&token), Some("k-crash"), &order(1))
        .await
        .assert_error(409, "ERR_NOTIFY_IDEMPOTENCY_IN_PROGRESS");
    app.tp.advance(Duration::seconds(31)); // past in_progress_until
    let token = app.tp.token(&["organizer"]);
    let retry = app
        .post_json(ORDERS, Some(&token), Some("k-crash"), &order(1))
        .await;
    assert_eq!(retry.status, 201, "the retry took the abandoned key over");
    assert!(retry.header("idempotent-replayed").is_none());
    assert_eq!(app.calls(), 2);
    let replay = app
        .post_json(ORDERS, Some(&token), Some("k-crash"), &order(1))
        .await;
    assert_eq!(replay.bytes, retry.bytes);
}

/// An answer too large for one DynamoDB item is not kept, but the record says the
/// request completed: a retry is told so (409 naming the first answer's status) and the
/// operation does not run again. Unguarded, the save failed, the claim stayed in progress
/// and, once it lapsed, a retry ran the request a second time.
pub async fn an_answer_too_large_to_keep_is_never_run_twice(app: &TestApp) {
    let token = app.tp.token(&["organizer"]);
    let big = json!({"item": "x".repeat(1024), "quantity": 1, "echo_times": 400});
    let first = app
        .post_json(ORDERS, Some(&token), Some("k-big"), &big)
        .await;
    assert_eq!(first.status, 201);
    assert!(first.bytes.len() > shared::idempotency::MAX_STORED_BODY);
    app.tp.advance(Duration::minutes(10)); // past any in_progress_until
    let retry = app
        .post_json(ORDERS, Some(&token), Some("k-big"), &big)
        .await;
    retry.assert_error(409, "ERR_NOTIFY_IDEMPOTENCY_ANSWER_NOT_KEPT");
    assert_eq!(retry.json()["error"]["details"]["status"], 201);
    assert_eq!(app.calls(), 1, "the operation ran once");
}

#[tokio::test]
async fn memory_an_answer_too_large_to_keep_is_never_run_twice() {
    an_answer_too_large_to_keep_is_never_run_twice(&TestApp::new(Service::Notify)).await;
}
#[tokio::test]
async fn memory_twenty_concurrent_requests_with_one_key_execute_once() {
    twenty_concurrent_requests_with_one_key_execute_once(&TestApp::new(Service::Notify)).await;
}
#[tokio::test]
async fn memory_a_replay_is_byte_identical_and_marked() {
    a_replay_is_byte_identical_and_marked(&TestApp::new(Service::Notify)).await;
}
#[tokio::test]
async fn memory_the_same_key_with_another_body_is_422() {
    the_same_key_with_another_body_is_422(&TestApp::new(Service::Notify)).await;
}
#[tokio::test]
async fn memory_a_5xx_409_429_or_retry_after_is_not_stored_so_a_retry_runs_again() {
    a_5xx_409_429_or_retry_after_is_not_stored_so_a_retry_runs_again(&TestApp::new(
        Service::Notify,
    ))
    .await;
}
#[tokio::test]
async fn memory_a_4xx_answer_is_stored_and_replayed() {
    a_4xx_answer_is_stored_and_replayed(&TestApp::new(Service::Notify)).await;
}
#[tokio::test]
async fn memory_another_caller_or_tenant_never_replays_someone_else_s_response() {
    another_caller_or_tenant_never_replays_someone_else_s_response(&TestApp::new(Service::Notify))
        .await;
}
#[tokio::test]
async fn memory_a_record_older_than_24_hours_counts_as_absent() {
    a_record_older_than_24_hours_counts_as_absent(&TestApp::new(Service::Notify)).await;
}
#[tokio::test]
async fn memory_an_abandoned_in_progress_record_can_be_taken_over() {
    an_abandoned_in_progress_record_can_be_taken_over(&TestApp::new(Service::Notify)).await;
}

#[tokio::test]
async fn anonymous_callers_sharing_a_key_replay_only_the_very_same_request() {
    let app = TestApp::new(Service::Notify);
    let first = app.post_json(ORDERS, None, Some("k-anon"), &order(1)).await;
    assert_eq!(first.status, 201);
    // A stranger with the same key and another body runs their own request.
    let other = app.post_json(ORDERS, None, Some("k-anon"), &order(2)).await;
    assert_eq!(other.status, 201);
    assert!(other.header("idempotent-replayed").is_none());
    assert_eq!(app.calls(), 2);
    // The same anonymous request again is a replay.
    let again = app.post_json(ORDERS, None, Some("k-anon"), &order(1)).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(app.calls(), 2);
}

#[tokio::test]
async fn an_invalid_key_is_400_and_get_ignores_the_header() {
    let app = TestApp::new(Service::Notify);
    let token = app.tp.token(&["organizer"]);
    for key in ["", &"k".repeat(256), "caf\u{e9}"] {
        let req = http::Request::post(ORDERS)
            .header("authorization", format!("Bearer {token}"))
            .header(
                "idempotency-key",
                http::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
            )
            .body(axum::body::Body::from(order(1).to_string()))
            .unwrap();
        let r = app.send(req).await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            "Idempotency-Key"
        );
    }
    assert_eq!(app.calls(), 0);
    let req = http::Request::get("/notify/v1/health")
        .header("idempotency-key", "k")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, 200);
}

#[tokio::test]
async fn when_the_idempotency_store_fails_the_answer_is_503_and_nothing_runs() {
    let faulty = std::sync::Arc::new(FaultyStore::new(shared::store::memory::MemoryStore::new()));
    let app = TestApp::with_store(Service::Notify, faulty.clone());
    let token = app.tp.token(&["organizer"]);
    for fault in [Fault::Throttle, Fault::Timeout] {
        faulty.fail_next(1, fault);
        let r = app
            .post_json(ORDERS, Some(&token), Some("k-down"), &order(1))
            .await;
        r.assert_error(503, "ERR_NOTIFY_UNAVAILABLE");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(app.calls(), 0);
    assert_eq!(
        app.post_json(ORDERS, Some(&token), Some("k-down"), &order(1))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_stored_fingerprint_is_keyed_so_a_password_in_a_body_cannot_be_brute_forced() {
    use shared::{idempotency::fingerprint_input, ids::sha256_hex, store::Key, testing::t1};
    let app = TestApp::new(Service::Notify);
    let token = app.tp.token(&["organizer"]);
    let body = json!({"item": "Password123!", "quantity": 1});
    assert_eq!(
        app.post_json(ORDERS, Some(&token), Some("k-secret"), &body)
            .await
            .status,
        201
    );
    let scope = sha256_hex(b"notify\nuser-1\nPOST\n/notify/v1/orders\nk-secret");
    let record = app
        .store
        .get(&Key::tenant(&t1(), &["IDEMP"], scope))
        .await
        .unwrap()
        .expect("the idempotency record");
    let stored = record.get_s("fingerprint").unwrap();
    let unkeyed = sha256_hex(&fingerprint_input(
        &http::Method::POST,
        ORDERS,
        body.to_string().as_bytes(),
    ));
    assert_eq!(stored.len(), 64);
    assert_ne!(
        stored, unkeyed,
        "a plain SHA-256 of the body would be crackable"
    );
}
