//! Store throttling and timeouts surface as 503 UNAVAILABLE with retry-after, never 500.

use std::sync::Arc;

use shared::{
    service::Service,
    store::{
        counting::CountingStore,
        faults::{Fault, FaultyStore},
        memory::MemoryStore,
    },
};

use crate::helpers::TestApp;

#[tokio::test]
async fn a_throttled_or_timed_out_store_makes_health_503_with_retry_after() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let mut apps = Vec::new();
    for fault in [Fault::Throttle, Fault::Timeout] {
        // A new app for each: a failure is remembered for a moment (below).
        let app = TestApp::with_store(Service::Analytics, faulty.clone());
        faulty.fail_always(fault);
        let r = app.get("/analytics/v1/health", None).await;
        r.assert_error(503, "ERR_ANALYTICS_UNAVAILABLE");
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.json()["error"]["details"]["store"], "unreachable");
        let text = String::from_utf8_lossy(&r.bytes).to_lowercase();
        assert!(
            !text.contains("throttl") && !text.contains("timeout"),
            "no internals leak: {text}"
        );
        apps.push(app);
    }
    let app = apps.pop().unwrap();
    faulty.heal();
    // A failure stands 2 s (an outage must not turn every health poll into a
    // DescribeTable), then the store is asked again.
    assert_eq!(app.get("/analytics/v1/health", None).await.status, 503);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(app.get("/analytics/v1/health", None).await.status, 200);
}

/// The store's ping (DynamoDB's DescribeTable, a rate-limited control-plane call) is made
/// once in a while, not once per health request.
#[tokio::test]
async fn health_asks_the_store_once_for_many_requests() {
    let counting = Arc::new(CountingStore::new(MemoryStore::new()));
    let app = TestApp::with_store(Service::Analytics, counting.clone());
    for _ in 0..5 {
        assert_eq!(app.get("/analytics/v1/health", None).await.status, 200);
    }
    assert_eq!(counting.snapshot().ping, 1);
}
