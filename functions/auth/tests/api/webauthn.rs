//! Tests of route group `webauthn` (see src/routes/webauthn.rs): passkeys registered
//! and used through a software authenticator (1Password's passkey-client over an
//! in-memory credential store, with a signature counter), verified by webauthn-rs.

use auth::repo::credentials;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use passkey_authenticator::{Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::AvailableBackend;
use passkey_types::{
    Passkey,
    ctap2::{Aaguid, Ctap2Error},
    webauthn::{CredentialCreationOptions, CredentialRequestOptions},
};
use serde_json::{Value, json};
use shared::{
    store::Update,
    testing::{Reply, t1},
};
use url::Url;

use crate::helpers::{TestAuth, assert_not_cached};

const PARTNER: &str = "partner@eventzr.com";
const PARTNER_ID: &str = "b0000001-0000-4000-8000-000000000001";
const ORGANIZER: &str = "organizer@eventzr.com";
const REGISTER_OPTIONS: &str = "/auth/v1/webauthn/register/options";
const REGISTER: &str = "/auth/v1/webauthn/register";
const AUTH_OPTIONS: &str = "/auth/v1/webauthn/authenticate/options";
const AUTHENTICATE: &str = "/auth/v1/webauthn/authenticate";

// ---- the software authenticator ---------------------------------------------------------

/// The person at the device: present and verified (PIN/biometric) every time.
struct AlwaysVerified;

#[async_trait::async_trait]
impl UserValidationMethod for AlwaysVerified {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }
    fn is_presence_enabled(&self) -> bool {
        true
    }
    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type SoftClient =
    Client<MemoryStore, AlwaysVerified, AvailableBackend, public_suffix::PublicSuffixList, ()>;

/// A browser with a platform authenticator that keeps a signature counter.
pub(crate) struct SoftKey {
    client: SoftClient,
    origin: Url,
}

impl SoftKey {
    pub(crate) fn new() -> Self {
        Self::with_store(MemoryStore::new(), true)
    }

    /// Many synced passkeys keep no counter and always report 0.
    fn without_counter() -> Self {
        Self::with_store(MemoryStore::new(), false)
    }

    fn with_store(store: MemoryStore, counter: bool) -> Self {
        let mut authenticator =
            Authenticator::new(Aaguid::new_empty(), store, AlwaysVerified, AvailableBackend);
        authenticator.set_make_credentials_with_signature_counter(counter);
        SoftKey {
            // The local relying party is http://localhost:3000 (AuthConfig::local()).
            client: Client::new(authenticator).allows_insecure_localhost(true),
            origin: Url::parse("http://localhost:3000").unwrap(),
        }
    }

    /// A second device holding a copy of this one's keys and counters (a clone).
    fn clone_device(&self) -> Self {
        Self::with_store(self.client.authenticator().store().clone(), true)
    }

    /// Answers `/register/options` data with the attestation JSON a browser would send.
    pub(crate) async fn attest(&mut self, options: &Value) -> Value {
        let request: CredentialCreationOptions =
            serde_json::from_value(json!({ "publicKey": options["publicKey"] }))
                .expect("creation options parse as WebAuthn JSON");
        let created = self
            .client
            .register(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator makes a credential");
        to_browser_json(serde_json::to_value(created).unwrap())
    }

    /// Answers `/authenticate/options` data with the assertion JSON a browser would send.
    pub(crate) async fn assert(&mut self, options: &Value) -> Value {
        let request: CredentialRequestOptions =
            serde_json::from_value(json!({ "publicKey": options["publicKey"] }))
                .expect("request options parse as WebAuthn JSON");
        let asserted = self
            .client
            .authenticate(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator signs the challenge");
        to_browser_json(serde_json::to_value(asserted).unwrap())
    }
}

/// passkey-types serialises binary fields as arrays of numbers; a browser's
/// `PublicKeyCredential.toJSON()` sends them base64url-encoded, as the API expects.
fn to_browser_json(v: Value) -> Value {
    match v {
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| i.as_u64().is_some_and(|n| n < 256)) =>
        {
            let bytes: Vec<u8> = items.iter().map(|i| i.as_u64().unwrap() as u8).collect();
            Value::String(URL_SAFE_NO_PAD.encode(bytes))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_browser_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, to_browser_json(v)))
                .collect(),
        ),
        other => other,
    }
}

// ---- flows ---------------------------------------------------------------------------

async fn register_options(app: &TestAuth, token: &str) -> Value {
    let r = app.call("POST", REGISTER_OPTIONS, Some(token), None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].clone()
}

async fn auth_options(app: &TestAuth, email: &str) -> Value {
    let r = app
        .post(AUTH_OPTIONS, None, &json!({ "email": email }))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].clone()
}

async fn answer(
    app: &TestAuth,
    path: &str,
    token: Option<&str>,
    options: &Value,
    credential: &Value,
) -> Reply {
    let body = json!({ "challengeId": options["challengeId"], "credential": credential });
    app.post(path, token, &body).await
}

/// Registers a passkey for `email` on `key`; returns its credential id.
async fn enrol(app: &TestAuth, key: &mut SoftKey, email: &str) -> String {
    let (access, _) = app.tokens(email).await;
    let options = register_options(app, &access).await;
    let attestation = key.attest(&options).await;
    let r = answer(app, REGISTER, Some(&access), &options, &attestation).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"]["credentialId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One passkey sign-in: options for `email`, assertion by `key`, the reply.
async fn sign_in(app: &TestAuth, key: &mut SoftKey, email: &str) -> Reply {
    let options = auth_options(app, email).await;
    let assertion = key.assert(&options).await;
    answer(app, AUTHENTICATE, None, &options, &assertion).await
}

async fn stored_counter(app: &TestAuth, credential_id: &str) -> i64 {
    credentials::get(app.state.store(), &t1(), PARTNER_ID, credential_id)
        .await
        .unwrap()
        .expect("credential on record")
        .counter
}

// ---- registration ----------------------------------------------------------------------

#[tokio::test]
async fn register_options_describe_the_relying_party_and_the_caller() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(PARTNER).await;

    let options = register_options(&app, &access).await;

    assert!(
        options["challengeId"]
            .as_str()
            .is_some_and(|c| c.len() >= 43)
    );
    let pk = &options["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["name"], PARTNER);
    assert!(pk["challenge"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
}

#[tokio::test]
async fn register_stores_the_credential_under_the_user_and_excludes_it_next_time() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();

    let id = enrol(&app, &mut key, PARTNER).await;

    let stored = credentials::list(app.state.store(), &t1(), PARTNER_ID)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].credential_id, id);
    assert_eq!(stored[0].user_id, PARTNER_ID);
    assert!(stored[0].passkey.contains("cred"), "public key kept");
    let (access, _) = app.tokens(PARTNER).await;
    let again = register_options(&app, &access).await;
    assert_eq!(
        again["publicKey"]["excludeCredentials"][0]["id"],
        id.as_str()
    );
}

#[tokio::test]
async fn register_needs_a_live_session() {
    let app = TestAuth::new().await;

    app.call("POST", REGISTER_OPTIONS, None, None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    app.post(
        REGISTER,
        None,
        &json!({"challengeId": "x", "credential": {}}),
    )
    .await
    .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
}

#[tokio::test]
async fn register_rejects_a_challenge_issued_to_another_user() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    let (organizer, _) = app.tokens(ORGANIZER).await;
    let (partner, _) = app.tokens(PARTNER).await;
    let options = register_options(&app, &organizer).await;
    let attestation = key.attest(&options).await;

    answer(&app, REGISTER, Some(&partner), &options, &attestation)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");

    assert!(
        credentials::list(app.state.store(), &t1(), PARTNER_ID)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn register_rejects_a_malformed_credential_naming_the_field() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(PARTNER).await;
    let options = register_options(&app, &access).await;

    let r = answer(&app, REGISTER, Some(&access), &options, &json!({"id": 1})).await;

    r.assert_error(400, "ERR_AUTH_VALIDATION");
    assert!(r.json().to_string().contains("credential"));
}

// ---- authentication ------------------------------------------------------------------

#[tokio::test]
async fn a_registered_passkey_signs_in_with_tokens_that_work() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    let id = enrol(&app, &mut key, PARTNER).await;

    let r = sign_in(&app, &mut key, PARTNER).await;

    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_not_cached(&r);
    let data = &r.json()["data"];
    assert_eq!(data["user"]["email"], PARTNER);
    assert!(data["refreshToken"].as_str().is_some());
    let access = data["accessToken"].as_str().unwrap();
    let profile = app.get("/auth/v1/profile", Some(access)).await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.json()["data"]["email"], PARTNER);
    assert_eq!(stored_counter(&app, &id).await, 1, "counter persisted");
}

#[tokio::test]
async fn authenticate_options_list_the_users_credentials() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    let id = enrol(&app, &mut key, PARTNER).await;

    let options = auth_options(&app, PARTNER).await;

    let allow = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allow.len(), 1);
    assert_eq!(allow[0]["id"], id.as_str());
    assert_eq!(options["publicKey"]["rpId"], "localhost");
}

#[tokio::test]
async fn authenticate_options_for_an_unknown_email_look_the_same() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    enrol(&app, &mut key, PARTNER).await;

    let known = auth_options(&app, PARTNER).await;
    let unknown = auth_options(&app, "nobody-here@eventzr.com").await;
    let unknown_again = auth_options(&app, "nobody-here@eventzr.com").await;

    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known), keys(&unknown));
    assert_eq!(keys(&known["publicKey"]), keys(&unknown["publicKey"]));
    assert_ne!(known["challengeId"], unknown["challengeId"]);
    // The decoy list is stable per email, so asking twice tells nothing either.
    assert_eq!(
        unknown["publicKey"]["allowCredentials"],
        unknown_again["publicKey"]["allowCredentials"]
    );
    // ... and its challenge is a real stored one that simply never verifies.
    let assertion = key.assert(&known).await;
    answer(&app, AUTHENTICATE, None, &unknown, &assertion)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
}

#[tokio::test]
async fn authenticate_options_reject_a_malformed_email() {
    let app = TestAuth::new().await;

    app.post(AUTH_OPTIONS, None, &json!({"email": "not-an-email"}))
        .await
        .assert_error(400, "ERR_AUTH_VALIDATION");
}

#[tokio::test]
async fn a_challenge_works_once() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    enrol(&app, &mut key, PARTNER).await;
    let options = auth_options(&app, PARTNER).await;
    let assertion = key.assert(&options).await;
    let first = answer(&app, AUTHENTICATE, None, &options, &assertion).await;
    assert_eq!(first.status, 200);

    answer(&app, AUTHENTICATE, None, &options, &assertion)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
}

#[tokio::test]
async fn a_challenge_expires_after_five_minutes() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    enrol(&app, &mut key, PARTNER).await;
    let options = auth_options(&app, PARTNER).await;
    let assertion = key.assert(&options).await;

    app.advance(Duration::minutes(5));

    answer(&app, AUTHENTICATE, None, &options, &assertion)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
}

#[tokio::test]
async fn a_registration_challenge_expires_after_five_minutes() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    let (access, _) = app.tokens(PARTNER).await;
    let options = register_options(&app, &access).await;
    let attestation = key.attest(&options).await;

    app.advance(Duration::minutes(5));

    answer(&app, REGISTER, Some(&access), &options, &attestation)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
}

#[tokio::test]
async fn a_counter_that_does_not_increase_is_refused_as_a_possible_clone() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    let id = enrol(&app, &mut key, PARTNER).await;
    let mut clone = key.clone_device();
    assert_eq!(sign_in(&app, &mut key, PARTNER).await.status, 200);

    // The copy still counts from where the original was when it was copied.
    sign_in(&app, &mut clone, PARTNER)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");

    assert_eq!(stored_counter(&app, &id).await, 1, "counter not moved back");
}

#[tokio::test]
async fn an_authenticator_that_always_reports_zero_is_accepted() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::without_counter();
    let id = enrol(&app, &mut key, PARTNER).await;

    assert_eq!(sign_in(&app, &mut key, PARTNER).await.status, 200);
    assert_eq!(sign_in(&app, &mut key, PARTNER).await.status, 200);

    assert_eq!(stored_counter(&app, &id).await, 0);
}

#[tokio::test]
async fn a_stored_counter_ahead_of_the_authenticator_is_refused() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    let id = enrol(&app, &mut key, PARTNER).await;
    // Another device with these keys has been used 100 times meanwhile.
    app.state
        .store()
        .update(Update::new(credentials::key(&t1(), PARTNER_ID, &id)).set("counter", 100i64))
        .await
        .unwrap();

    sign_in(&app, &mut key, PARTNER)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");

    assert_eq!(stored_counter(&app, &id).await, 100);
}

#[tokio::test]
async fn an_assertion_for_another_users_challenge_fails() {
    let app = TestAuth::new().await;
    let mut partner_key = SoftKey::new();
    let mut organizer_key = SoftKey::new();
    enrol(&app, &mut partner_key, PARTNER).await;
    enrol(&app, &mut organizer_key, ORGANIZER).await;
    let partner_options = auth_options(&app, PARTNER).await;
    let organizer_options = auth_options(&app, ORGANIZER).await;
    // The organizer's authenticator signs the organizer's challenge...
    let assertion = organizer_key.assert(&organizer_options).await;

    // ... and sends it against the partner's challenge.
    answer(&app, AUTHENTICATE, None, &partner_options, &assertion)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
}

#[tokio::test]
async fn a_suspended_user_cannot_sign_in_with_a_passkey() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    enrol(&app, &mut key, PARTNER).await;
    app.state
        .store()
        .update(Update::new(auth::repo::user(&t1(), PARTNER_ID)).set("status", "suspended"))
        .await
        .unwrap();

    sign_in(&app, &mut key, PARTNER)
        .await
        .assert_error(403, "ERR_AUTH_ACCOUNT_SUSPENDED");
}

#[tokio::test]
async fn authenticate_rejects_an_unknown_challenge_and_a_malformed_body() {
    let app = TestAuth::new().await;

    app.post(
        AUTHENTICATE,
        None,
        &json!({"challengeId": "nope", "credential": {}}),
    )
    .await
    .assert_error(400, "ERR_AUTH_VALIDATION");
    app.post(AUTHENTICATE, None, &json!({"credential": {}}))
        .await
        .assert_error(400, "ERR_AUTH_VALIDATION");
}

// ---- over the wire ---------------------------------------------------------------------

#[tokio::test]
async fn passkey_register_and_sign_in_work_on_dynamodb() {
    let Some(app) = TestAuth::on_dynamodb("passkey_register_and_sign_in_work_on_dynamodb").await
    else {
        return;
    };
    let mut key = SoftKey::new();
    let id = enrol(&app, &mut key, PARTNER).await;

    let r = sign_in(&app, &mut key, PARTNER).await;

    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let access = r.json()["data"]["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/auth/v1/profile", Some(&access)).await.status, 200);
    assert_eq!(stored_counter(&app, &id).await, 1);
    let mut clone = key.clone_device();
    let _ = sign_in(&app, &mut key, PARTNER).await;
    sign_in(&app, &mut clone, PARTNER)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
}

#[tokio::test]
async fn adding_a_passkey_needs_a_sign_in_from_the_last_ten_minutes() {
    let app = TestAuth::new().await;
    let (old, _) = app.tokens("partner@eventzr.com").await;
    app.advance(chrono::Duration::minutes(11));
    app.call(
        "POST",
        "/auth/v1/webauthn/register/options",
        Some(&old),
        None,
    )
    .await
    .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
}

// ---- managing passkeys -----------------------------------------------------------------

const PASSKEYS: &str = "/auth/v1/webauthn/credentials";

async fn passkeys(app: &TestAuth, token: &str) -> Vec<Value> {
    let r = app.get(PASSKEYS, Some(token)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_removed_passkey_no_longer_signs_in_and_its_credential_id_is_free_again() {
    let app = TestAuth::new().await;
    let (mut laptop, mut phone) = (SoftKey::new(), SoftKey::new());
    let laptop_id = enrol(&app, &mut laptop, PARTNER).await;
    app.advance(chrono::Duration::seconds(1));
    enrol(&app, &mut phone, PARTNER).await;
    assert_eq!(sign_in(&app, &mut laptop, PARTNER).await.status, 200);

    let (access, _) = app.tokens(PARTNER).await;
    let listed = passkeys(&app, &access).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        listed[0]["credentialId"],
        laptop_id.as_str(),
        "oldest first"
    );
    assert!(listed[0]["lastUsedAt"].is_string(), "used once");
    assert!(listed[1]["lastUsedAt"].is_null(), "never used");
    let id = listed[0]["id"].as_str().unwrap().to_owned();

    let laptop_record = credentials::get(app.state.store(), &t1(), PARTNER_ID, &laptop_id)
        .await
        .unwrap()
        .unwrap();
    // The laptop's assertion, made before the passkey is removed, arrives after.
    let options = auth_options(&app, PARTNER).await;
    let late = laptop.assert(&options).await;
    let path = format!("{PASSKEYS}/{id}");
    let r = app.call("DELETE", &path, Some(&access), None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"], json!({"id": id, "removed": true}));
    // The lost laptop signs in no more, and is no longer offered; the phone still is.
    answer(&app, AUTHENTICATE, None, &options, &late)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
    let offered = auth_options(&app, PARTNER).await["publicKey"]["allowCredentials"].clone();
    assert_eq!(offered.as_array().map(Vec::len), Some(1), "{offered}");
    assert_ne!(offered[0]["id"], laptop_id.as_str());
    assert_eq!(sign_in(&app, &mut phone, PARTNER).await.status, 200);
    assert_eq!(passkeys(&app, &access).await.len(), 1);
    // Gone: 404, as for an id the caller never had and one that is not an id at all.
    for path in [
        path.clone(),
        format!("{PASSKEYS}/{}", "0".repeat(64)),
        format!("{PASSKEYS}/x"),
    ] {
        app.call("DELETE", &path, Some(&access), None)
            .await
            .assert_error(404, "ERR_AUTH_NOT_FOUND");
    }
    // The owner was told of each passkey added, and of the one removed.
    let added = "A passkey was added to your EventZR account";
    let removed = "A passkey was removed from your EventZR account";
    assert_eq!(app.subjects_to(PARTNER), [added, added, removed]);
    // Audited; and the credential id may be registered again.
    let kinds = app.audit_kinds(shared::testing::T1).await;
    assert!(
        kinds.contains(&"mfa.webauthn_removed".to_owned()),
        "{kinds:?}"
    );
    let again = credentials::create(app.state.store(), &laptop_record).await;
    assert!(
        again.is_ok(),
        "the credential id's lock went with it: {again:?}"
    );
}

#[tokio::test]
async fn only_the_callers_own_passkeys_are_listed_or_removed_and_after_a_recent_sign_in() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    enrol(&app, &mut key, PARTNER).await;
    let (partner, _) = app.tokens(PARTNER).await;
    let id = passkeys(&app, &partner).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("{PASSKEYS}/{id}");
    // Another user (an admin of the same tenant, too) sees none and removes nothing.
    let (admin, _) = app.tokens("admin@eventzr.com").await;
    assert!(passkeys(&app, &admin).await.is_empty());
    app.call("DELETE", &path, Some(&admin), None)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    // An old session must sign in again first; no token at all is 401.
    app.advance(chrono::Duration::minutes(11));
    app.call("DELETE", &path, Some(&partner), None)
        .await
        .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
    app.call("DELETE", &path, None, None)
        .await
        .assert_error(401, "ERR_AUTH_UNAUTHORIZED");
    assert_eq!(
        sign_in(&app, &mut key, PARTNER).await.status,
        200,
        "still there"
    );
}

#[tokio::test]
async fn an_admin_mfa_reset_removes_the_users_passkeys_too() {
    let app = TestAuth::new().await;
    let mut key = SoftKey::new();
    enrol(&app, &mut key, PARTNER).await;
    let options = auth_options(&app, PARTNER).await;
    let assertion = key.assert(&options).await;
    let (admin, _) = app.tokens("admin@eventzr.com").await;
    let path = format!("/auth/v1/users/{PARTNER_ID}/mfa");
    let r = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    answer(&app, AUTHENTICATE, None, &options, &assertion)
        .await
        .assert_error(401, "ERR_AUTH_WEBAUTHN_FAILED");
    let (partner, _) = app.tokens(PARTNER).await;
    assert!(passkeys(&app, &partner).await.is_empty());
    // Nothing left to remove.
    app.call("DELETE", &path, Some(&admin), None)
        .await
        .assert_error(400, "ERR_AUTH_MFA_NOT_ENABLED");
}
