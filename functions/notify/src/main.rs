//! Lambda entry of notify-svc: build the state once per cold start, then serve events —
//! API Gateway requests, or (`NOTIFY_ENTRY=scheduled-dispatch`, the dispatcher function
//! EventBridge Scheduler invokes every minute) `{"job": "notify.dispatch"}` events.

use notify::{NotifyConfig, NotifyState};
use shared::{
    config::Config,
    platform::{Platform, ServiceState},
    tenant_status::TenantRecords,
};

// One event at a time: a single-threaded runtime (why: shared::lambda).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::lambda::Error> {
    let platform = Platform::aws(Config::from_env()?).await;
    let cfg = NotifyConfig::from_env()?;
    let channels = notify::channels::sns::from_platform(&platform, &cfg);
    // auth's table, for tenant status (AUTH_TABLE_NAME; by default the stage's).
    let auth_table = std::env::var("AUTH_TABLE_NAME")
        .unwrap_or_else(|_| format!("{}-auth", platform.config.stage));
    let tenants = TenantRecords::new(
        platform
            .dynamo_table(auth_table)
            .expect("an AWS platform has an SDK configuration"),
    );
    let state = NotifyState::new(
        ServiceState::aws(platform, notify::SERVICE),
        cfg,
        channels,
        tenants,
    );
    if std::env::var("NOTIFY_ENTRY").as_deref() == Ok("scheduled-dispatch") {
        return shared::lambda::run_events(move |payload, deadline| {
            let state = state.clone();
            async move { notify::dispatch::scheduled(&state, &payload, deadline).await }
        })
        .await;
    }
    let group = shared::route_groups::from_env(notify::ROUTE_GROUPS)?;
    shared::lambda::run(notify::group_router(state, group)).await
}
