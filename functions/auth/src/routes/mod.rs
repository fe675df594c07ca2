//! auth-svc's handlers, by resource; each route group (one module with `ROUTES` and
//! `router()`) is one Lambda function in template.yaml.

pub mod account;
pub mod admin;
pub mod jwks;
pub mod login;
pub mod mfa;
pub mod oauth;
pub mod profile;
pub mod refresh;
pub mod session;
pub mod sessions;
pub mod tenants;
pub mod webauthn;

use std::future::{Ready, ready};

use axum::{
    middleware::{MapResponseLayer, map_response},
    response::Response,
};
use http::{HeaderValue, header};

/// The layer [`no_store`] builds.
pub type NoStoreLayer = MapResponseLayer<fn(Response) -> Ready<Response>, (), ()>;

/// For every route whose answer carries a secret — an access or refresh token, an MFA
/// challenge token, a TOTP secret, recovery codes: `cache-control: no-store` and
/// `pragma: no-cache` (RFC 6749 §5.1), so no browser, proxy or CDN keeps it. A layer on
/// the route, not a wrapper in each handler, so the error answers get it too and a new
/// answer type cannot forget it: `post(handler).layer(routes::no_store())`.
pub fn no_store() -> NoStoreLayer {
    map_response(mark_no_store as fn(Response) -> Ready<Response>)
}

fn mark_no_store(mut res: Response) -> Ready<Response> {
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    ready(res)
}

/// Bearer `routes` behind the Idempotency-Key layer, whose replays first pass the
/// live-session check: a token whose session was logged out, revoked or whose tenant is
/// suspended gets 401/403 for a stored answer, as it would for a new request. (Public
/// routes use the plain layer: a token sent to them along is not checked.)
pub fn idempotent(
    routes: axum::Router<crate::state::AuthState>,
    st: &crate::state::AuthState,
) -> axum::Router<crate::state::AuthState> {
    shared::idempotency::honour_guarded(
        routes,
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
        std::sync::Arc::new(LiveReplays(st.clone())),
    )
}

struct LiveReplays(crate::state::AuthState);

#[async_trait::async_trait]
impl shared::idempotency::ReplayGuard for LiveReplays {
    async fn allow(&self, claims: &shared::auth::Claims) -> Result<(), shared::ApiError> {
        crate::state::LiveCaller::check_with(claims.clone(), &self.0, [])
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, routing::post};
    use http::{Request, StatusCode};

    use super::no_store;

    async fn answer(router: &Router, path: &str) -> shared::testing::Reply {
        let req = Request::post(path).body(Body::empty()).unwrap();
        shared::testing::send(router, req).await
    }

    #[tokio::test]
    async fn no_store_marks_the_answers_of_the_routes_it_layers_and_only_those() {
        // The shape of account's router: the token routes layered, the rest merged after.
        let router = Router::new()
            .route("/token", post(|| async { "a token" }))
            .route("/refused", post(|| async { StatusCode::FORBIDDEN }))
            .route_layer(no_store())
            .merge(Router::new().route("/other", post(|| async { "public" })));
        for path in ["/token", "/refused"] {
            let r = answer(&router, path).await;
            assert_eq!(
                (r.header("cache-control"), r.header("pragma")),
                (Some("no-store"), Some("no-cache")),
                "{path}"
            );
        }
        assert_eq!(
            answer(&router, "/other").await.header("cache-control"),
            None
        );
    }
}
