//! Lambda entry of notify-svc: build the state once per cold start, then serve events.

use notify::{NotifyConfig, NotifyState};
use shared::{
    config::Config,
    platform::{Platform, ServiceState},
};

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    let platform = Platform::aws(Config::from_env()?).await;
    let cfg = NotifyConfig::from_env()?;
    let channels = notify::channels::sns::from_platform(&platform, &cfg);
    let state = NotifyState::new(ServiceState::aws(platform, notify::SERVICE), cfg, channels);
    shared::lambda::run(notify::router(state)).await
}
