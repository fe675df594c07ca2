//! Lambda entry of auth-svc: build the state once per cold start, then serve events.

use auth::{AuthConfig, AuthState};
use shared::{
    config::Config,
    platform::{Platform, ServiceState},
};

// One event at a time: a single-threaded runtime (why: shared::lambda).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::lambda::Error> {
    let platform = Platform::aws(Config::from_env()?).await;
    let state = AuthState::new(
        ServiceState::aws(platform, auth::SERVICE),
        AuthConfig::from_env()?,
    );
    let group = shared::route_groups::from_env(auth::ROUTE_GROUPS)?;
    shared::lambda::run(auth::group_router(state, group)).await
}
