//! Deleting an account: `DELETE /users/{userId}` (admin) and `DELETE /profile` (its owner).

use std::sync::Arc;

use auth::{
    domain::Email,
    repo::{self, credentials},
    seed::{T1, T3},
};
use serde_json::{Value, json};
use shared::{
    store::{
        Delete, Item, Put, TransactOp, Update,
        faults::{Fault, FaultyStore, Op},
        memory::MemoryStore,
    },
    tenant::TenantId,
    tenant_status::{Inactive, TenantRecords},
    testing::Reply,
};

use crate::helpers::{PASSWORD, TestAuth, id_of};

const ADMIN: &str = "admin@eventzr.com";
const USER: &str = "user@eventzr.com";

fn t1() -> TenantId {
    TenantId::parse(T1).unwrap()
}

async fn delete_user(app: &TestAuth, token: &str, email: &str) -> Reply {
    let path = format!("/auth/v1/users/{}", id_of(email));
    app.call("DELETE", &path, Some(token), None).await
}

async fn delete_self(app: &TestAuth, token: &str) -> Reply {
    app.call("DELETE", "/auth/v1/profile", Some(token), None)
        .await
}

/// What the table still holds of the account: its partition's items, and whether its
/// email's lock exists.
async fn left_of(app: &TestAuth, tenant: &TenantId, email: &str) -> (usize, bool) {
    let store = app.state.store();
    let items = repo::user_items(store, tenant, id_of(email), None)
        .await
        .unwrap();
    let lock = repo::email_lock(&Email::parse(email).unwrap());
    (items.len(), store.get(&lock).await.unwrap().is_some())
}

/// What other services read of the account (`shared::tenant_status`).
async fn published_of(app: &TestAuth, tenant: &TenantId, email: &str) -> Option<Inactive> {
    TenantRecords::new(app.state.store.clone())
        .standing(&[], &[(*tenant, id_of(email))])
        .await
        .unwrap()
        .inactive(tenant, id_of(email))
}

async fn audit_of(app: &TestAuth, kind: &str) -> Vec<Value> {
    let month = app.state.now().format("%Y-%m").to_string();
    let page = app
        .state
        .store()
        .query(shared::store::Query::partition(shared::store::tenant_pk(
            &t1(),
            &["AUDIT", &month],
        )))
        .await
        .unwrap();
    page.items
        .iter()
        .filter(|i| i.get_s("kind") == Some(kind))
        .map(|i| {
            json!({
                "actor": i.get_s("actor"),
                "subject": i.get_s("subject"),
                "details": serde_json::from_str::<Value>(i.get_s("details").unwrap()).unwrap(),
            })
        })
        .collect()
}

#[tokio::test]
async fn an_admin_deletes_a_user_and_nothing_of_the_account_stays_usable() {
    let app = TestAuth::new().await;
    let (user_access, user_refresh) = app.tokens(USER).await;
    app.tokens(USER).await;
    assert_eq!(
        left_of(&app, &t1(), USER).await,
        (3, true),
        "profile, 2 sessions"
    );
    let admin = app.tokens(ADMIN).await.0;
    assert_eq!(published_of(&app, &t1(), USER).await, None);

    let r = delete_user(&app, &admin, USER).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    // Other services read the account as deleted (notify addresses it no more).
    assert_eq!(
        published_of(&app, &t1(), USER).await,
        Some(Inactive::Deleted)
    );
    assert_eq!(
        r.json()["data"],
        json!({"id": id_of(USER), "deleted": true})
    );

    // Its tokens, its password and its record are gone.
    app.assert_session_ended(&user_access, &user_refresh).await;
    app.login(USER, PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    let path = format!("/auth/v1/users/{}", id_of(USER));
    app.get(&path, Some(&admin))
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    delete_user(&app, &admin, USER)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    assert_eq!(left_of(&app, &t1(), USER).await, (0, false));

    // Audited by id only: the trail keeps no email or name of the deleted person.
    let audited = audit_of(&app, "user.deleted").await;
    assert_eq!(
        audited,
        vec![json!({"actor": id_of(ADMIN), "subject": id_of(USER), "details": {"self": false}})]
    );

    // The address is free: it signs up again, as a new account.
    let again = json!({"email": USER, "password": "A-new-passphrase-42", "name": "New",
        "tenantName": "New Events"});
    let r = app.post("/auth/v1/signup/email", None, &again).await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert_ne!(r.json()["data"]["user"]["id"], id_of(USER));
}

#[tokio::test]
async fn a_deleted_users_passkeys_cannot_sign_in() {
    let app = TestAuth::new().await;
    let cred = credentials::StoredCredential {
        credential_id: "cred-of-user".into(),
        tenant_id: T1.into(),
        user_id: id_of(USER).into(),
        passkey: "{}".into(),
        counter: 0,
        created_at: "2026-12-04T00:00:00.000Z".into(),
        last_used_at: None,
    };
    credentials::create(app.state.store(), &cred).await.unwrap();
    let lock = credentials::lock(&cred.credential_id);
    assert!(app.state.store().get(&lock).await.unwrap().is_some());

    let admin = app.tokens(ADMIN).await.0;
    assert_eq!(delete_user(&app, &admin, USER).await.status, 200);
    // The lock is how a passkey sign-in finds its account.
    assert!(app.state.store().get(&lock).await.unwrap().is_none());
    let left = credentials::list(app.state.store(), &t1(), id_of(USER))
        .await
        .unwrap();
    assert!(left.is_empty());
}

#[tokio::test]
async fn deleting_a_user_needs_an_admin_with_a_recent_sign_in_in_the_same_tenant() {
    let app = TestAuth::new().await;
    let organizer = app.tokens("organizer@eventzr.com").await.0;
    delete_user(&app, &organizer, USER)
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
    // Another tenant's admin does not find the user.
    let other = app.tokens("admin@startup.co").await.0;
    delete_user(&app, &other, USER)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    let admin = app.tokens(ADMIN).await.0;
    for bad in ["not-a-uuid", "b0000001-0000-4000-8000-00000000dead"] {
        app.call(
            "DELETE",
            &format!("/auth/v1/users/{bad}"),
            Some(&admin),
            None,
        )
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    }
    // A session older than 10 minutes signs in again first.
    app.advance(chrono::Duration::minutes(11));
    delete_user(&app, &admin, USER)
        .await
        .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
    assert!(left_of(&app, &t1(), USER).await.1, "nothing deleted");
    // The platform's accounts are not the tenant's to delete.
    let system = app.tokens("system@eventzr.com").await.0;
    let path = format!("/auth/v1/users/{}", id_of("system@eventzr.com"));
    app.call("DELETE", &path, Some(&system), None)
        .await
        .assert_error(403, "ERR_AUTH_FORBIDDEN");
}

#[tokio::test]
async fn the_last_admin_stays_while_the_tenant_has_other_users() {
    let app = TestAuth::new().await;
    let admin = app.tokens(ADMIN).await.0;
    // dev@ is the tenant's other admin: it may go, and then admin@ is the last one.
    assert_eq!(
        delete_user(&app, &admin, "dev@eventzr.com").await.status,
        200
    );
    delete_self(&app, &admin)
        .await
        .assert_error(409, "ERR_AUTH_LAST_ADMIN");
    delete_user(&app, &admin, ADMIN)
        .await
        .assert_error(409, "ERR_AUTH_LAST_ADMIN");
    assert_eq!(app.get("/auth/v1/profile", Some(&admin)).await.status, 200);
}

#[tokio::test]
async fn a_person_deletes_their_own_account() {
    let app = TestAuth::new().await;
    let (access, _) = app.tokens(USER).await;
    let r = delete_self(&app, &access).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["data"]["id"], id_of(USER));
    app.get("/auth/v1/profile", Some(&access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
    assert_eq!(left_of(&app, &t1(), USER).await, (0, false));
    assert_eq!(
        published_of(&app, &t1(), USER).await,
        Some(Inactive::Deleted)
    );
    let audited = audit_of(&app, "user.deleted").await;
    assert_eq!(
        audited,
        vec![json!({"actor": id_of(USER), "subject": id_of(USER), "details": {"self": true}})]
    );

    // A stolen token of an older session is not enough.
    let (access, _) = app.tokens("partner@eventzr.com").await;
    app.advance(chrono::Duration::minutes(11));
    delete_self(&app, &access)
        .await
        .assert_error(403, "ERR_AUTH_REAUTHENTICATION_REQUIRED");
    assert!(left_of(&app, &t1(), "partner@eventzr.com").await.1);
}

#[tokio::test]
async fn the_only_person_in_a_tenant_may_leave_it() {
    let app = TestAuth::new().await;
    // admin@startup.co is its tenant's only user, and its admin.
    let access = app.tokens("admin@startup.co").await.0;
    assert_eq!(delete_self(&app, &access).await.status, 200);
    let t3 = TenantId::parse(T3).unwrap();
    assert_eq!(left_of(&app, &t3, "admin@startup.co").await, (0, false));
}

/// A sign-in that read the account before it was deleted, and writes its session after:
/// it re-reads the user once the session exists, and refuses itself.
#[tokio::test]
async fn a_sign_in_racing_the_deletion_keeps_no_session() {
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    let user = repo::user(&t1(), id_of(USER));
    store.meanwhile(Op::Put, vec![TransactOp::Delete(Delete::new(user))]);
    app.login(USER, PASSWORD)
        .await
        .assert_error(401, "ERR_AUTH_INVALID_CREDENTIALS");
    let sessions = auth::repo::sessions::list(app.state.store(), &t1(), id_of(USER))
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].revoked, "{sessions:?}");
}

/// A deleted admin's pending invites are revoked: acceptance would refuse them (their
/// sender is gone), and the pending list no longer shows them.
#[tokio::test]
async fn a_deleted_admins_pending_invites_are_revoked() {
    let app = TestAuth::new().await;
    let dev_admin = app.tokens(ADMIN).await.0;
    let body = json!({"email": "newcomer@example.com", "roles": ["user"]});
    let r = app
        .post("/auth/v1/users/invite", Some(&dev_admin), &body)
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    // Another admin (dev@ has MFA: made admin here is organizer@) deletes admin@.
    let organizer = id_of("organizer@eventzr.com");
    let promote = json!({"roles": ["admin"]});
    let path = format!("/auth/v1/users/{organizer}");
    let r = app
        .call("PATCH", &path, Some(&dev_admin), Some(&promote))
        .await;
    assert_eq!(r.status, 200);
    let other = app.tokens("organizer@eventzr.com").await.0;
    assert_eq!(delete_user(&app, &other, ADMIN).await.status, 200);
    let pending = app.get("/auth/v1/users/invites", Some(&other)).await;
    assert_eq!(pending.status, 200, "{}", pending.json());
    assert_eq!(pending.json()["data"], json!([]));
}

/// auth-svc on a store that fails or changes things on demand.
async fn faulty() -> (TestAuth, Arc<FaultyStore>) {
    let store: Arc<FaultyStore> = Arc::new(FaultyStore::wrap(Arc::new(MemoryStore::new())));
    let app = TestAuth::with_store(store.clone()).await;
    (app, store)
}

/// The account is gone once its transaction commits; a failure deleting what is left
/// (its sessions) answers 503, and the retry finds the account gone and finishes.
#[tokio::test]
async fn a_deletion_that_fails_after_its_transaction_is_finished_by_the_retry() {
    let (app, store) = faulty().await;
    let user_access = app.tokens(USER).await.0;
    let admin = app.tokens(ADMIN).await.0;
    store.fail_next_of(Op::Delete, 1, Fault::Timeout);
    let r = delete_user(&app, &admin, USER).await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(
        left_of(&app, &t1(), USER).await,
        (1, false),
        "a session left"
    );
    // Audited already: the account is gone.
    assert_eq!(audit_of(&app, "user.deleted").await.len(), 1);

    delete_user(&app, &admin, USER)
        .await
        .assert_error(404, "ERR_AUTH_NOT_FOUND");
    assert_eq!(left_of(&app, &t1(), USER).await, (0, false));
    app.get("/auth/v1/profile", Some(&user_access))
        .await
        .assert_error(401, "ERR_AUTH_TOKEN_REVOKED");
}

/// A username set while the deletion decided: the deletion reads again, and the new
/// username's lock goes with the account instead of naming nobody for ever.
#[tokio::test]
async fn a_username_set_during_the_deletion_is_freed_with_it() {
    let (app, store) = faulty().await;
    let admin = app.tokens(ADMIN).await.0;
    let username = auth::domain::Username::parse("renamed").unwrap();
    let lock = repo::username_lock(&username);
    let set = vec![
        TransactOp::Update(Update::new(repo::user(&t1(), id_of(USER))).set("username", "renamed")),
        TransactOp::Put(Put::new(
            Item::new(&lock)
                .with("tenant_id", T1)
                .with("user_id", id_of(USER)),
        )),
    ];
    store.meanwhile(Op::Transact, set);
    assert_eq!(delete_user(&app, &admin, USER).await.status, 200);
    assert!(app.state.store().get(&lock).await.unwrap().is_none());
    assert_eq!(left_of(&app, &t1(), USER).await, (0, false));
}

/// Two admins leaving at once: each found the other still there. The other's deletion
/// commits first (the roster moves); this one decides again, is refused as the last
/// admin, and wrote nothing before that (not a session revoked).
#[tokio::test]
async fn a_deletion_refused_after_the_roster_moved_wrote_nothing() {
    let (app, store) = faulty().await;
    let admin = app.tokens(ADMIN).await.0;
    let before = repo::user_items(app.state.store(), &t1(), id_of(ADMIN), None)
        .await
        .unwrap();
    let roster = shared::store::Key::tenant(&t1(), &["ADMINS"], "ROSTER");
    let other_leaves = vec![
        TransactOp::Delete(Delete::new(repo::user(&t1(), id_of("dev@eventzr.com")))),
        TransactOp::Update(Update::new(roster).add("version", 1)),
    ];
    store.meanwhile(Op::Transact, other_leaves);
    delete_self(&app, &admin)
        .await
        .assert_error(409, "ERR_AUTH_LAST_ADMIN");
    let after = repo::user_items(app.state.store(), &t1(), id_of(ADMIN), None)
        .await
        .unwrap();
    assert_eq!(before, after, "not a session revoked");
}
