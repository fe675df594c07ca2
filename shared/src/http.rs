//! The pipeline every service router runs behind, in Lambda and in the local gateway:
//! request context (request id, trace id, access log) -> CORS -> body limit ->
//! authentication -> routes; unknown paths and methods answer in the envelope.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
};
use uuid::Uuid;

use crate::{
    auth::Authenticator,
    clock::Clock,
    context::{self, RequestContext},
    envelope::Enveloped,
    error::ApiError,
    platform::Platform,
    route_groups::RouteGroups,
    service::Service,
};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Wraps a service's routes in the pipeline. Call last, after every route is added.
/// `groups`: all of the service's routes, whichever this router serves, so that a
/// request for another group's path answers 405 as it would locally
/// ([`crate::route_groups::unmatched`]).
pub fn finish(
    routes: Router,
    service: Service,
    platform: &Platform,
    groups: &'static RouteGroups,
) -> Router {
    let auth = Arc::new(Authenticator::new(platform.verifier.clone(), service));
    let ctx = ContextState {
        service,
        clock: platform.clock.clone(),
    };
    routes
        .fallback(move |method: Method, uri: http::Uri| async move {
            crate::route_groups::unmatched(groups, &method, uri.path())
        })
        .layer(middleware::from_fn_with_state(
            auth,
            crate::auth::authenticate,
        ))
        .layer(RequestBodyLimitLayer::new(platform.config.body_limit))
        .layer(cors(&platform.config.allowed_origins))
        // Inside the request context: a panicking handler answers 500 in the envelope
        // with its request id and access-log line, and the process keeps serving.
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn_with_state(ctx, request_context))
}

/// The panic's message is not logged here (it may quote data); the panic hook has
/// already written it with its location to stderr.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

/// The pipeline for a router that belongs to no service (the local gateway's own routes).
pub fn finish_gateway(routes: Router, clock: Arc<dyn Clock>) -> Router {
    let ctx = ContextState {
        service: Service::Gateway,
        clock,
    };
    routes
        .fallback(|| async { ApiError::route_not_found() })
        .layer(middleware::from_fn_with_state(ctx, request_context))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            X_REQUEST_ID,
            HeaderName::from_static("x-tenant-id"),
            IDEMPOTENCY_KEY,
        ])
        // What a browser's script may read: `location` of a 201, and `www-authenticate`,
        // whose `error="invalid_token"` says "refresh, then retry".
        .expose_headers([
            X_REQUEST_ID,
            header::RETRY_AFTER,
            IDEMPOTENT_REPLAYED,
            header::LOCATION,
            header::WWW_AUTHENTICATE,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

#[derive(Clone)]
struct ContextState {
    service: Service,
    clock: Arc<dyn Clock>,
}

async fn request_context(State(st): State<ContextState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
        .unwrap_or_else(crate::ids::random_id);
    // Lambda's own trace id first; a header is taken only in X-Ray's shape, so a
    // client cannot write arbitrary text into every log line and `meta`.
    let trace_id = std::env::var("_X_AMZN_TRACE_ID").ok().or_else(|| {
        req.headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_trace_header(v))
            .map(str::to_owned)
    });
    let ctx = Arc::new(RequestContext::new(
        st.service,
        request_id,
        trace_id,
        st.clock.now(),
    ));
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());

    let mut resp = context::scope(ctx.clone(), async move {
        let resp = next.run(req).await;
        envelope_safety_net(resp)
    })
    .await;

    if let Ok(v) = HeaderValue::from_str(&request_id.to_string()) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    let headers = resp.headers_mut();
    // Answers are per caller and often personal (a profile, sessions, an inbox): no
    // browser or proxy keeps them. A route whose answer may be kept (JWKS, the docs)
    // says so itself.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // One access-log line per request: never headers, bodies or query strings
    // (tokens travel in Authorization and in one-time links).
    tracing::info!(
        target: "access",
        service = st.service.name(),
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = %request_id,
        tenant = ctx.tenant().map(|t| t.to_string()).unwrap_or_default(),
        "request"
    );
    resp
}

/// `Root=1-…;Parent=…;Sampled=1`: short, and only the characters X-Ray uses.
fn is_trace_header(v: &str) -> bool {
    v.len() <= 256
        && v.starts_with("Root=")
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=;-".contains(&b))
}

/// Errors produced below our own types (axum's 405, tower-http's 413, panics caught
/// by CatchPanicLayer) are re-issued in the envelope, keeping their headers (e.g. `allow`).
fn envelope_safety_net(resp: Response) -> Response {
    let status = resp.status();
    if status.as_u16() < 400 || resp.extensions().get::<Enveloped>().is_some() {
        return resp;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::route_not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "PAYLOAD_TOO_LARGE", "body is too large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        s if s.is_client_error() => ApiError::new(status, "VALIDATION", "request is invalid"),
        _ => ApiError::internal(format!("unenveloped {status}")),
    };
    let (parts, _) = resp.into_parts();
    let mut out = error.into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
