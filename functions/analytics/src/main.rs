//! Lambda entry of analytics-svc: build the state once per cold start, then serve events.

use shared::{
    config::Config,
    platform::{Platform, ServiceState},
};

// One event at a time: a single-threaded runtime (why: shared::lambda).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::lambda::Error> {
    let platform = Platform::aws(Config::from_env()?).await;
    let state = ServiceState::aws(platform, analytics::SERVICE);
    // Its only group is health (its whole router); a ROUTE_GROUP naming another fails here.
    shared::route_groups::from_env(analytics::ROUTE_GROUPS)?;
    shared::lambda::run(analytics::router(state)).await
}
