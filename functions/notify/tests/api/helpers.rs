//! A notify-svc over any store, with the handles tests act on: the router, the test
//! clock, the mail outbox, the SMS/push recorder, and tokens for any caller.

#![allow(dead_code)]

use std::sync::Arc;

use axum::{Router, body::Body};
use http::Request;
use notify::{NotifyState, channels::local::Recorder};
use serde_json::Value;
use shared::{
    platform::ServiceState,
    store::{
        Item, Put, Store, TransactOp, Update,
        faults::{FaultyStore, Op},
        memory::MemoryStore,
    },
    tenant_status::{self, TenantRecords},
    testing::{Reply, T1, T3, TestPlatform, emulator_endpoint, emulator_sdk_config, json_request},
};

/// The staging tenants' ids (API-CONVENTIONS.md "Staging accounts").
pub const TENANT_1: &str = T1;
pub const TENANT_3: &str = T3;

/// A caller: who the token is for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    pub tenant: String,
    pub email: String,
    pub roles: Vec<String>,
    pub plan: String,
}

impl Caller {
    /// A caller of T1 with one role, id `<role>-1`, email `<role>@eventzr.com`.
    pub fn t1(role: &str) -> Self {
        Caller {
            sub: format!("{role}-1"),
            tenant: T1.into(),
            email: format!("{role}@eventzr.com"),
            roles: vec![role.into()],
            plan: "ENTERPRISE".into(),
        }
    }
    /// A caller of T3 (StartupCo, plan STARTUP).
    pub fn t3(role: &str) -> Self {
        Caller {
            sub: format!("t3-{role}-1"),
            tenant: T3.into(),
            email: format!("{role}@startup.co"),
            roles: vec![role.into()],
            plan: "STARTUP".into(),
        }
    }
    pub fn sub(mut self, sub: &str) -> Self {
        self.sub = sub.into();
        self
    }
    pub fn plan(mut self, plan: &str) -> Self {
        self.plan = plan.into();
        self
    }
}

pub struct TestNotify {
    pub tp: TestPlatform,
    pub state: NotifyState,
    pub router: Router,
    /// SMS and push messages sent (local provider).
    pub recorder: Recorder,
    /// auth's table, where notify reads tenant status ([`TestNotify::set_tenant_status`]).
    pub auth_table: Arc<dyn Store>,
}

impl TestNotify {
    /// notify-svc on a fresh store: the memory store, or a fresh DynamoDB table on the
    /// emulator when `EVENTZR_TEST_STORE=dynamodb`.
    pub async fn new() -> Self {
        if std::env::var("EVENTZR_TEST_STORE").as_deref() == Ok("dynamodb") {
            let endpoint = emulator_endpoint("notify suite on DynamoDB")
                .expect("EVENTZR_TEST_STORE=dynamodb needs the emulator (AWS_ENDPOINT_URL)");
            let auth_table = dynamo_table(&endpoint).await;
            // The emulator on a loaded machine can take seconds per request: a send must
            // not run out of its budget (5 s, then the rest stays queued for the
            // dispatcher), or what a test expects sent would still be queued.
            let cfg = notify::NotifyConfig {
                send_budget_ms: 120_000,
                ..notify::NotifyConfig::local()
            };
            return Self::configured(dynamo_table(&endpoint).await, auth_table, cfg);
        }
        Self::with_store(Arc::new(MemoryStore::new()))
    }

    /// Over `store`; auth's tenant records in memory.
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        Self::with_stores(store, Arc::new(MemoryStore::new()))
    }

    /// Over `store`, reading tenant status from `auth_table`.
    pub fn with_stores(store: Arc<dyn Store>, auth_table: Arc<dyn Store>) -> Self {
        Self::configured(store, auth_table, notify::NotifyConfig::local())
    }

    fn configured(
        store: Arc<dyn Store>,
        auth_table: Arc<dyn Store>,
        cfg: notify::NotifyConfig,
    ) -> Self {
        let tp = TestPlatform::new();
        let recorder = Recorder::new();
        let mut state = NotifyState::local(
            ServiceState {
                platform: tp.platform.clone(),
                store,
            },
            &recorder,
            TenantRecords::new(auth_table.clone()),
        );
        state.cfg = Arc::new(cfg);
        let router = notify::router(state.clone());
        TestNotify {
            tp,
            state,
            router,
            recorder,
            auth_table,
        }
    }

    /// What auth-svc's `PATCH /tenants/{id}` leaves in its table: the tenant's record
    /// with `status` (`active`, `suspended`).
    pub async fn set_tenant_status(&self, tenant: &str, status: &str) {
        let t = shared::tenant::TenantId::parse(tenant).unwrap();
        let record = Item::new(&tenant_status::record_key(&t))
            .with("id", tenant)
            .with(tenant_status::STATUS, status);
        self.auth_table.put(Put::new(record)).await.unwrap();
    }

    /// What auth-svc's `PATCH /tenants/{id}` `{"planTier"}` leaves in the tenant's record.
    pub async fn set_tenant_plan(&self, tenant: &str, plan: &str) {
        let t = shared::tenant::TenantId::parse(tenant).unwrap();
        let change = shared::store::Update::new(tenant_status::record_key(&t))
            .set(tenant_status::PLAN, plan);
        self.auth_table.update(change).await.unwrap();
    }

    /// What auth-svc's `PATCH /users/{id}` (suspension) and `DELETE /users/{id}` leave in
    /// its table for account `user_id`: a record while it is not active, none after.
    pub async fn set_account_status(
        &self,
        tenant: &str,
        user_id: &str,
        inactive: Option<tenant_status::Inactive>,
    ) {
        let t = shared::tenant::TenantId::parse(tenant).unwrap();
        match inactive {
            Some(why) => self
                .auth_table
                .put(Put::new(why.record(&t, user_id)))
                .await
                .unwrap(),
            None => {
                let key = tenant_status::account_key(&t, user_id);
                self.auth_table
                    .delete(shared::store::Delete::new(key))
                    .await
                    .unwrap();
            }
        }
    }

    /// The same service after a change to its state (config, channels…).
    pub fn with_state(mut self, change: impl FnOnce(&mut NotifyState)) -> Self {
        change(&mut self.state);
        self.router = notify::router(self.state.clone());
        self
    }

    /// A signed access token for `caller`, valid 15 minutes from the test clock.
    pub fn token(&self, caller: &Caller) -> String {
        let mut c = self.tp.claims(&[]);
        c.sub = caller.sub.clone();
        c.tenant_id = caller.tenant.clone();
        c.email = caller.email.clone();
        c.roles = caller.roles.clone();
        c.plan_tier = caller.plan.clone();
        self.tp.sign(&c)
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        shared::testing::send(&self.router, req).await
    }

    /// One request as `caller` (None: anonymous), with a JSON body when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        caller: Option<&Caller>,
        body: Option<&Value>,
    ) -> Reply {
        self.call_with(method, path, caller, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        caller: Option<&Caller>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let token = caller.map(|c| self.token(c));
        self.send(json_request(method, path, token.as_deref(), body, headers))
            .await
    }

    pub async fn get(&self, path: &str, caller: &Caller) -> Reply {
        self.call("GET", path, Some(caller), None).await
    }
    pub async fn post(&self, path: &str, caller: &Caller, body: &Value) -> Reply {
        self.call("POST", path, Some(caller), Some(body)).await
    }
    pub async fn put(&self, path: &str, caller: &Caller, body: &Value) -> Reply {
        self.call("PUT", path, Some(caller), Some(body)).await
    }
    pub async fn delete(&self, path: &str, caller: &Caller) -> Reply {
        self.call("DELETE", path, Some(caller), None).await
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.tp.advance(by)
    }
}

/// A fresh notify table on the emulator.
/// A notify over a memory store that fails (or changes) on demand, and that store.
pub fn faulty() -> (Arc<FaultyStore<MemoryStore>>, TestNotify) {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let t = TestNotify::with_store(store.clone());
    (store, t)
}

/// A concurrent writer changes delivery `id` of tenant 1 (bumps its `rev`) just before
/// the next transaction reaches `store`.
pub fn delivery_changes_meanwhile(store: &FaultyStore<MemoryStore>, id: &str) {
    let key = notify::repo::delivery(&shared::testing::t1(), id);
    store.meanwhile(
        Op::Transact,
        vec![TransactOp::Update(Update::new(key).add("rev", 1))],
    );
}

pub async fn dynamo_table(endpoint: &str) -> Arc<dyn Store> {
    let sdk = emulator_sdk_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("notify-test-{}", uuid::Uuid::new_v4().simple());
    shared::store::dynamo::ensure_table(&client, &table)
        .await
        .expect("table");
    Arc::new(shared::store::dynamo::DynamoStore::new(client, table))
}
