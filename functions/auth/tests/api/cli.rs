//! The auth-admin commands (auth::ops): key sets and the staging seed, on the local
//! backends and over the wire against the emulator (Secrets Manager and DynamoDB).

use std::sync::Arc;

use auth::ops::{self, KeySecretIds, OpsError, SecretStore, Stage};
use auth::seed::Seeded;
use shared::{
    auth::{
        Verifier,
        keys::{Jwks, PrivateKeySet},
        verify::SecretKeys,
    },
    secrets::{LocalSecrets, Secrets, SecretsManager},
    store::{Store, dynamo, memory::MemoryStore},
    testing::{TestPlatform, emulator_endpoint, emulator_sdk_config},
};

/// Fresh secret ids, so runs against one emulator never meet.
fn fresh_ids() -> KeySecretIds {
    let run = uuid::Uuid::new_v4().simple();
    KeySecretIds {
        private: format!("test-{run}/eventzr/jwt-private-keys"),
        public: format!("test-{run}/eventzr/jwt-public-keys"),
    }
}

async fn emulator_secrets(test: &str) -> Option<SecretsManager> {
    let sdk = emulator_sdk_config(&emulator_endpoint(test)?).await;
    Some(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
        &sdk,
    )))
}

async fn emulator_table(test: &str) -> Option<Arc<dyn Store>> {
    let sdk = emulator_sdk_config(&emulator_endpoint(test)?).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("auth-cli-{}", uuid::Uuid::new_v4().simple());
    dynamo::ensure_table(&client, &table).await.expect("table");
    Some(Arc::new(dynamo::DynamoStore::new(client, table)))
}

async fn read_sets(secrets: &impl Secrets, ids: &KeySecretIds) -> (PrivateKeySet, Jwks) {
    let private = secrets.get(&ids.private).await.expect("private secret");
    let public = secrets.get(&ids.public).await.expect("public secret");
    (
        PrivateKeySet::parse(&private).expect("private set parses"),
        Jwks::parse(&public).expect("public set parses"),
    )
}

// --- keys init ------------------------------------------------------------------------

async fn init_writes_a_private_set_and_exactly_its_public_half(secrets: &impl SecretStore) {
    let ids = fresh_ids();

    let report = ops::keys_init(secrets, &ids, false).await.expect("init");

    let (private, public) = read_sets(secrets, &ids).await;
    assert_eq!(private.keys.len(), 1);
    assert_eq!(private.active, report.active);
    assert_eq!(public, private.public_set());
    assert_eq!(report.kids, vec![report.active.clone()]);
}

#[tokio::test]
async fn keys_init_writes_a_private_set_and_exactly_its_public_half() {
    init_writes_a_private_set_and_exactly_its_public_half(&LocalSecrets::new()).await;
}

#[tokio::test]
async fn keys_init_writes_both_secrets_in_secrets_manager() {
    let Some(secrets) = emulator_secrets("keys_init_writes_both_secrets_in_secrets_manager").await
    else {
        return;
    };
    init_writes_a_private_set_and_exactly_its_public_half(&secrets).await;
}

#[tokio::test]
async fn keys_init_fills_the_template_placeholder_but_refuses_keys_unless_forced() {
    let secrets = LocalSecrets::new();
    let ids = fresh_ids();
    secrets.set(&ids.private, r#"{"keys":[]}"#);
    secrets.set(&ids.public, r#"{"keys":[]}"#);
    let first = ops::keys_init(&secrets, &ids, false).await.expect("init");

    let again = ops::keys_init(&secrets, &ids, false).await;

    assert!(matches!(again, Err(OpsError::KeysExist(id)) if id == ids.private));
    let (private, _) = read_sets(&secrets, &ids).await;
    assert_eq!(private.active, first.active, "refused init changed nothing");
    let forced = ops::keys_init(&secrets, &ids, true).await.expect("forced");
    assert_ne!(forced.active, first.active);
}

// --- keys rotate ----------------------------------------------------------------------

async fn rotation_keeps_tokens_signed_before_it_valid<S: SecretStore + Clone>(secrets: &S) {
    let tp = TestPlatform::new();
    let ids = fresh_ids();
    let before = ops::keys_init(secrets, &ids, false).await.expect("init");
    let (old_set, _) = read_sets(secrets, &ids).await;
    let old_token = old_set
        .active_key()
        .sign(&tp.claims(&["user"]))
        .expect("sign");

    let after = ops::keys_rotate(secrets, &ids, ops::DEFAULT_KEEP)
        .await
        .expect("rotate");

    assert_ne!(after.active, before.active);
    assert_eq!(
        after.kids,
        vec![after.active.clone(), before.active.clone()]
    );
    let (new_set, public) = read_sets(secrets, &ids).await;
    assert_eq!(new_set.active, after.active);
    assert_eq!(public, new_set.public_set());
    let config = &tp.platform.config;
    let verifier = Verifier::new(
        Arc::new(SecretKeys {
            secrets: Arc::new(secrets.clone()),
            secret_id: ids.public.clone(),
        }),
        tp.platform.clock.clone(),
        &config.jwt_issuer,
        &config.jwt_audience,
    );
    let new_token = new_set
        .active_key()
        .sign(&tp.claims(&["user"]))
        .expect("sign");
    verifier
        .verify(&old_token)
        .await
        .expect("token signed before rotation verifies");
    verifier
        .verify(&new_token)
        .await
        .expect("token signed after rotation verifies");
}

#[tokio::test]
async fn keys_rotate_adds_an_active_key_and_earlier_tokens_still_verify() {
    rotation_keeps_tokens_signed_before_it_valid(&LocalSecrets::new()).await;
}

#[tokio::test]
async fn keys_rotate_in_secrets_manager_keeps_earlier_tokens_valid() {
    let Some(secrets) =
        emulator_secrets("keys_rotate_in_secrets_manager_keeps_earlier_tokens_valid").await
    else {
        return;
    };
    rotation_keeps_tokens_signed_before_it_valid(&secrets).await;
}

#[tokio::test]
async fn keys_rotate_keeps_only_the_newest_keys() {
    let secrets = LocalSecrets::new();
    let ids = fresh_ids();
    let first = ops::keys_init(&secrets, &ids, false).await.expect("init");

    for _ in 0..3 {
        ops::keys_rotate(&secrets, &ids, 2).await.expect("rotate");
    }

    let (private, public) = read_sets(&secrets, &ids).await;
    assert_eq!(private.keys.len(), 2);
    assert_eq!(public.keys.len(), 2);
    assert!(public.keys.iter().all(|k| k.kid != first.active));
}

#[tokio::test]
async fn keys_rotate_refuses_an_empty_set_and_a_keep_below_two() {
    let secrets = LocalSecrets::new();
    let ids = fresh_ids();
    secrets.set(&ids.private, r#"{"keys":[]}"#);

    let empty = ops::keys_rotate(&secrets, &ids, 3).await;
    ops::keys_init(&secrets, &ids, true).await.expect("init");
    let keep_one = ops::keys_rotate(&secrets, &ids, 1).await;

    assert!(matches!(empty, Err(OpsError::NoKeys(_))));
    assert!(matches!(keep_one, Err(OpsError::KeepTooSmall)));
    assert_eq!(read_sets(&secrets, &ids).await.0.keys.len(), 1);
}

// --- seed -----------------------------------------------------------------------------

const NOW: &str = "2025-01-01T00:00:00.000Z";

async fn seeding_twice_creates_nothing_the_second_time(store: &dyn Store) {
    let first = ops::seed(store, Stage::Dev, "dev", NOW)
        .await
        .expect("seed");
    let second = ops::seed(store, Stage::Dev, "dev", NOW)
        .await
        .expect("seed");

    assert_eq!(
        first,
        Seeded {
            tenants: auth::seed::STAGING_TENANTS.len(),
            accounts: auth::seed::STAGING_ACCOUNTS.len(),
        }
    );
    assert_eq!(second, Seeded::default());
}

#[tokio::test]
async fn seed_twice_creates_nothing_the_second_time() {
    seeding_twice_creates_nothing_the_second_time(&MemoryStore::new()).await;
}

#[tokio::test]
async fn seed_on_dynamodb_twice_creates_nothing_the_second_time() {
    let Some(store) =
        emulator_table("seed_on_dynamodb_twice_creates_nothing_the_second_time").await
    else {
        return;
    };
    seeding_twice_creates_nothing_the_second_time(store.as_ref()).await;
}

#[tokio::test]
async fn seed_refuses_prod_and_an_unconfirmed_stage_writing_nothing() {
    let store = MemoryStore::new();

    let prod = ops::seed(&store, Stage::Prod, "prod", NOW).await;
    let unconfirmed = ops::seed(&store, Stage::Staging, "dev", NOW).await;

    assert!(matches!(prod, Err(OpsError::ProdSeed)));
    assert!(matches!(
        unconfirmed,
        Err(OpsError::StageNotConfirmed { .. })
    ));
    let seeded_later = ops::seed(&store, Stage::Staging, "staging", NOW)
        .await
        .expect("seed");
    assert_eq!(
        seeded_later.tenants,
        auth::seed::STAGING_TENANTS.len(),
        "the refused runs wrote no tenant"
    );
}
