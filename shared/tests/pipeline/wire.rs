//! Over the wire against the emulator (`AWS_ENDPOINT_URL`, started by scripts/test.sh):
//! the store conformance suite and the idempotency checks on DynamoDB, and the Secrets
//! Manager and SES adapters. Without an endpoint each test prints one SKIPPED line;
//! in CI a missing endpoint fails instead.

use std::sync::Arc;

use shared::{
    mail::{Mail, MailError, Mailer, SesMailer},
    secrets::{Secrets, SecretsError, SecretsManager},
    service::Service,
    store::{
        Store,
        dynamo::{DynamoStore, ensure_table},
    },
    testing::{emulator_endpoint, emulator_sdk_config},
};

use crate::{helpers::TestApp, idempotency as checks};

/// A fresh table on the emulator for one test.
async fn fresh_table(endpoint: &str) -> Arc<dyn Store> {
    let sdk = emulator_sdk_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("test-{}", uuid::Uuid::new_v4().simple());
    ensure_table(&client, &table).await.expect("create table");
    Arc::new(DynamoStore::new(client, table))
}

#[tokio::test]
async fn dynamodb_store_passes_the_conformance_suite() {
    let Some(endpoint) = emulator_endpoint("dynamodb_store_passes_the_conformance_suite") else {
        return;
    };
    let store = fresh_table(&endpoint).await;
    shared::store::conformance::run_all(store.as_ref()).await;
    println!("store conformance suite passed against the DynamoDB emulator at {endpoint}");
}

#[tokio::test]
async fn dynamodb_store_reads_beside_another_table_in_one_request() {
    let Some(endpoint) = emulator_endpoint("dynamodb_store_reads_beside_another_table") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let mut tables = Vec::new();
    for _ in 0..2 {
        let table = format!("test-{}", uuid::Uuid::new_v4().simple());
        ensure_table(&client, &table).await.expect("create table");
        tables.push(DynamoStore::new(client.clone(), table));
    }
    shared::store::conformance::run_beside(&tables[0], &tables[1]).await;
    println!("the checks of a read beside another table passed against {endpoint}");
}

#[tokio::test]
async fn idempotency_holds_on_dynamodb() {
    let Some(endpoint) = emulator_endpoint("idempotency_holds_on_dynamodb") else {
        return;
    };
    let app = || async { TestApp::with_store(Service::Notify, fresh_table(&endpoint).await) };
    checks::twenty_concurrent_requests_with_one_key_execute_once(&app().await).await;
    checks::a_replay_is_byte_identical_and_marked(&app().await).await;
    checks::the_same_key_with_another_body_is_422(&app().await).await;
    checks::a_5xx_409_429_or_retry_after_is_not_stored_so_a_retry_runs_again(&app().await).await;
    checks::a_4xx_answer_is_stored_and_replayed(&app().await).await;
    checks::another_caller_or_tenant_never_replays_someone_else_s_response(&app().await).await;
    checks::a_record_older_than_24_hours_counts_as_absent(&app().await).await;
    checks::an_abandoned_in_progress_record_can_be_taken_over(&app().await).await;
    checks::an_answer_too_large_to_keep_is_never_run_twice(&app().await).await;
    println!("idempotency checks passed against the DynamoDB emulator");
}

#[tokio::test]
async fn health_reports_a_reachable_dynamodb_table() {
    let Some(endpoint) = emulator_endpoint("health_reports_a_reachable_dynamodb_table") else {
        return;
    };
    let app = TestApp::with_store(Service::Search, fresh_table(&endpoint).await);
    assert_eq!(app.get("/search/v1/health", None).await.status, 200);
    // A table that does not exist is a store failure: 503, not 500.
    let sdk = emulator_sdk_config(&endpoint).await;
    let missing = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "no-such-table",
    ));
    let app = TestApp::with_store(Service::Search, missing);
    app.get("/search/v1/health", None)
        .await
        .assert_error(503, "ERR_SEARCH_UNAVAILABLE");
}

#[tokio::test]
async fn secrets_manager_adapter_reads_what_was_stored() {
    let Some(endpoint) = emulator_endpoint("secrets_manager_adapter_reads_what_was_stored") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let sm = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk));
    let id = format!("test/{}/jwt-public-keys", uuid::Uuid::new_v4().simple());
    assert_eq!(sm.get(&id).await, Err(SecretsError::NotFound(id.clone())));
    sm.put(&id, r#"{"keys":[]}"#).await.unwrap();
    assert_eq!(sm.get(&id).await.unwrap(), r#"{"keys":[]}"#);
    sm.put(&id, r#"{"keys":[1]}"#).await.unwrap();
    assert_eq!(
        sm.get(&id).await.unwrap(),
        r#"{"keys":[1]}"#,
        "rotation: the new value wins"
    );
}

#[tokio::test]
async fn ses_adapter_sends_mail_the_emulator_records() {
    let Some(endpoint) = emulator_endpoint("ses_adapter_sends_mail_the_emulator_records") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint).await;
    let ses = aws_sdk_ses::Client::new(&sdk);
    let unverified = SesMailer::new(ses.clone(), "nobody@unverified.example");
    let mail = Mail {
        to: vec!["partner@eventzr.com".into()],
        subject: format!("Verify your email {}", uuid::Uuid::new_v4()),
        text: "Open https://app.eventzr.com/verify?token=abc".into(),
        html: Some(
            "<p>Open <a href=\"https://app.eventzr.com/verify?token=abc\">this link</a></p>".into(),
        ),
    };
    assert!(matches!(
        unverified.send(&mail).await,
        Err(MailError::Rejected(_))
    ));

    ses.verify_email_identity()
        .email_address("no-reply@eventzr.com")
        .send()
        .await
        .unwrap();
    // As `Platform::aws` builds it: the client is made on this first send.
    let mailer = SesMailer::on_first_send(&sdk, "no-reply@eventzr.com");
    let id = mailer.send(&mail).await.unwrap();

    // moto keeps sent mail in its backend, readable at /moto-api/data.json.
    let data = shared::testing::emulator_data(&endpoint).await;
    let sent = data["ses"]["Message"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("message {id} not recorded by the emulator"));
    assert_eq!(sent["subject"], mail.subject.as_str());
    assert_eq!(sent["source"], "no-reply@eventzr.com");
    assert_eq!(
        sent["destinations"]["ToAddresses"][0],
        "partner@eventzr.com"
    );
    assert!(sent["body"].as_str().unwrap().contains("verify?token=abc"));
}
