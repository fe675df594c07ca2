//! The OpenAPI documents as the services serve them: one per service at
//! `GET /<svc>/v1/openapi.json`, written to `target/openapi/` for the independent
//! validator (`openapi-spec-validator`, run by scripts/test.sh) and the reference UI.

use serde_json::{Value, json};
use shared::{service::Service, testing::send};

use crate::helpers::{service_router, workspace_root};

const SERVICES: [Service; 5] = [
    Service::Auth,
    Service::Analytics,
    Service::Reports,
    Service::Notify,
    Service::Search,
];

async fn served_document(service: Service) -> Value {
    let req = axum::http::Request::get(format!("{}/openapi.json", service.base_path()))
        .body(axum::body::Body::empty())
        .unwrap();
    let r = send(&service_router(service), req).await;
    assert_eq!(r.status, 200, "{}: {}", service.slug(), r.status);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.json()
}

#[tokio::test]
async fn every_service_serves_an_openapi_3_1_document_and_it_is_written_for_the_validator() {
    let dir = workspace_root().join("target/openapi");
    std::fs::create_dir_all(&dir).unwrap();
    for service in SERVICES {
        let doc = served_document(service).await;
        assert_eq!(doc["openapi"], "3.1.0", "{}", service.slug());
        assert_eq!(doc["info"]["title"], service.name());
        // Relative: the gateway on any port, the stage's API in AWS.
        assert_eq!(doc["servers"][0]["url"], "/");
        let health = format!("{}/health", service.base_path());
        assert!(
            doc["paths"][&health]["get"]["responses"]["200"].is_object(),
            "{}: no health route",
            service.slug()
        );
        std::fs::write(
            dir.join(format!("{}.json", service.slug())),
            serde_json::to_vec_pretty(&doc).unwrap(),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn the_pipeline_s_answers_are_documented_on_every_route() {
    let doc = served_document(Service::Auth).await;
    let login = &doc["paths"]["/auth/v1/login"]["post"];
    let statuses: Vec<&str> = login["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for status in ["200", "400", "401", "403", "413", "415", "423", "503"] {
        assert!(
            statuses.contains(&status),
            "login lacks {status}: {statuses:?}"
        );
    }
    assert!(
        login["responses"]["423"]["headers"]["Retry-After"].is_object(),
        "423 documents Retry-After"
    );
    assert!(login["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert_eq!(
        login["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );
    // Bearer routes carry the security requirement, the tenant header and the auth errors.
    let profile = &doc["paths"]["/auth/v1/profile"]["get"];
    if profile.is_object() {
        assert_eq!(profile["security"], json!([{"bearerAuth": []}]));
        let params: Vec<&str> = profile["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(params.contains(&"x-tenant-id"), "{params:?}");
    }
}

#[tokio::test]
async fn the_idempotency_layer_s_answers_and_headers_are_documented_where_they_occur() {
    let auth = served_document(Service::Auth).await;
    // A bearer route: another request under the same key is 422; a public route runs it,
    // unless a token is sent anyway.
    let invite = &auth["paths"]["/auth/v1/users/invite"]["post"]["responses"];
    assert!(invite["422"].is_object(), "{invite}");
    let forgot = &auth["paths"]["/auth/v1/password/forgot"]["post"]["responses"];
    let public_422 = forgot["422"]["description"].as_str().unwrap_or_default();
    assert!(
        public_422.contains("only when a valid bearer token is sent"),
        "{forgot}"
    );
    // Only answers the layer keeps are replayed: not a 409, a 413 (refused before the
    // layer) or the layer's own 422.
    for status in ["409", "413", "422"] {
        assert!(
            invite[status]["headers"]["Idempotent-Replayed"].is_null(),
            "{status}"
        );
    }
    assert!(invite["400"]["headers"]["Idempotent-Replayed"].is_object());
    // Replays say so; a running duplicate says when to come back.
    for responses in [invite, forgot] {
        let ok = responses
            .as_object()
            .unwrap()
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .expect("a success answer")
            .1;
        assert!(ok["headers"]["Idempotent-Replayed"].is_object(), "{ok}");
        assert!(responses["409"]["headers"]["Retry-After"].is_object());
    }
    // The address to revoke an invite for is required, though the handler names it itself.
    let revoke = &auth["paths"]["/auth/v1/users/invites"]["delete"]["parameters"];
    let email = revoke
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "email")
        .expect("an email parameter");
    assert_eq!(email["required"], true);
    // A route without the layer documents neither.
    let login = &auth["paths"]["/auth/v1/login"]["post"]["responses"];
    assert!(login["200"]["headers"]["Idempotent-Replayed"].is_null());
    // notify's 402 (a spent quota) says when it starts afresh.
    let notify = served_document(Service::Notify).await;
    let send = &notify["paths"]["/notify/v1/send"]["post"]["responses"];
    assert!(send["402"]["headers"]["Retry-After"].is_object(), "{send}");
    assert!(
        send["402"]["headers"]["Idempotent-Replayed"].is_null(),
        "not kept"
    );
    // A route's own 422 (a template that cannot render) is kept, and replayed.
    assert!(
        send["422"]["headers"]["Idempotent-Replayed"].is_object(),
        "{send}"
    );
}

#[tokio::test]
async fn the_login_example_of_the_document_signs_in_when_sent_as_is() {
    let doc = served_document(Service::Auth).await;
    let example = doc["paths"]["/auth/v1/login"]["post"]["requestBody"]["content"]
        ["application/json"]["example"]
        .clone();
    assert_eq!(example["email"], "partner@eventzr.com");
    let req = axum::http::Request::post("/auth/v1/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(example.to_string()))
        .unwrap();
    // The local gateway: the staging accounts are seeded there.
    let gateway = eventzr_local::build(&eventzr_local::Options::default())
        .await
        .expect("gateway");
    let r = send(&gateway.router, req).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert!(r.json()["data"]["accessToken"].is_string());
}
