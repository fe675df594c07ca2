use auth::{AuthConfig, AuthState};
use shared::{
    platform::ServiceState,
    store::{Store, memory::MemoryStore},
    testing::TestPlatform,
};
use std::{sync::Arc, time::Instant};
fn main() {
    let tp = TestPlatform::new();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let state = AuthState::new(
        ServiceState {
            platform: tp.platform.clone(),
            store,
        },
        AuthConfig::local(),
    );
    let which = std::env::args().nth(1).unwrap_or_default();
    let t = Instant::now();
    let r = match which.as_str() {
        "session" => shared::http::finish(
            auth::routes::session::router().with_state(state.clone()),
            auth::SERVICE,
            &state.platform,
        ),
        "health" => shared::http::finish(
            shared::openapi::health_group(
                auth::SERVICE,
                state.store.clone(),
                auth::openapi::document,
                &state.platform,
            ),
            auth::SERVICE,
            &state.platform,
        ),
        _ => auth::router(state.clone()),
    };
    let first = t.elapsed();
    let t = Instant::now();
    for _ in 0..100 {
        let _ = auth::router(state.clone());
    }
    println!(
        "{which}: first {:?}, full router warm {:?}",
        first,
        t.elapsed() / 100
    );
    drop(r);
}
