//! Lambda entry of notify-svc: build the state once per cold start, then serve events.

use shared::{
    config::Config,
    platform::{Platform, ServiceState},
};

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    let platform = Platform::aws(Config::from_env()?).await;
    let state = ServiceState::aws(platform, notify::SERVICE);
    shared::lambda::run(notify::router(state)).await
}
