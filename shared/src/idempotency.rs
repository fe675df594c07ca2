//! The Idempotency-Key layer (API-CONVENTIONS.md "Idempotency"), modelled on Powertools
//! for AWS Lambda: a conditional put of an INPROGRESS record, the response saved as
//! COMPLETED, replays byte for byte with `idempotent-replayed: true`.
//!
//! Record key: tenant + a hash of (service, caller, method, route template, key), so a
//! key from another tenant or caller is a different record. Fingerprint: HMAC-SHA256
//! (stage key) of method, path and the canonical JSON body — keyed, because bodies may
//! hold passwords and the record lives 24 h in the table.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    body::Body,
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};

use crate::{
    auth,
    clock::Clock,
    context::InvocationDeadline,
    envelope::Enveloped,
    error::ApiError,
    http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED},
    ids::sha256_hex,
    service::Service,
    store::{Condition, Delete, Item, Key, Put, Store, StoreError, Update, Value, attr},
};

/// Records are kept (and keys honoured) for 24 hours.
pub const RETENTION_SECS: i64 = 24 * 3600;
/// Response headers replayed with the body (the request id is always the new request's).
const KEPT_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

/// The largest answer kept for replay: DynamoDB holds 400 KB an item, and the record's
/// key, fingerprint and headers need some of it.
pub const MAX_STORED_BODY: usize = 350 * 1024;
const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// The layer's settings; [`honour`] puts the routes that honour the header behind it.
pub struct Idempotency {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub service: Service,
    /// How long an INPROGRESS record blocks retries when no Lambda deadline is known.
    pub in_progress_secs: i64,
    /// Largest request body read for fingerprinting (the pipeline's body limit).
    pub body_limit: usize,
    /// Holds the stage's HMAC key that fingerprints are computed with.
    pub keys: Arc<crate::paging::Cursors>,
    /// What the service checks before it answers an authenticated caller from a stored
    /// record ([`ReplayGuard`]); None: the token alone.
    pub guard: Option<Arc<dyn ReplayGuard>>,
}

/// A service's check of an authenticated caller before a stored answer is replayed to
/// them. A replay skips the handler, and with it any check the handler makes beyond the
/// token: auth's live session (a logged-out token must not be answered 2xx), its
/// tenant's suspension. Asked only when a record is found, so a first request pays
/// nothing for it.
#[async_trait::async_trait]
pub trait ReplayGuard: Send + Sync {
    async fn allow(&self, claims: &auth::Claims) -> Result<(), ApiError>;
}

impl Idempotency {
    /// The settings for `service`'s routes on its own table, from the platform's config.
    pub fn for_service(
        platform: &crate::platform::Platform,
        service: Service,
        store: Arc<dyn Store>,
    ) -> Arc<Self> {
        Arc::new(Self::settings(platform, service, store))
    }

    fn settings(
        platform: &crate::platform::Platform,
        service: Service,
        store: Arc<dyn Store>,
    ) -> Self {
        Idempotency {
            store,
            clock: platform.clock.clone(),
            service,
            in_progress_secs: platform.config.in_progress_secs,
            body_limit: platform.config.body_limit,
            keys: platform.cursors.clone(),
            guard: None,
        }
    }
}

/// `routes` (those added so far) behind `service`'s Idempotency-Key layer; GET and HEAD
/// pass through. Each such route lists `openapi::IdempotencyKey` in its parameters.
pub fn honour<S: Clone + Send + Sync + 'static>(
    routes: axum::Router<S>,
    platform: &crate::platform::Platform,
    service: Service,
    store: Arc<dyn Store>,
) -> axum::Router<S> {
    routes.route_layer(axum::middleware::from_fn_with_state(
        Idempotency::for_service(platform, service, store),
        middleware,
    ))
}

/// [`honour`], with `guard` asked before a stored answer is replayed to an authenticated
/// caller.
pub fn honour_guarded<S: Clone + Send + Sync + 'static>(
    routes: axum::Router<S>,
    platform: &crate::platform::Platform,
    service: Service,
    store: Arc<dyn Store>,
    guard: Arc<dyn ReplayGuard>,
) -> axum::Router<S> {
    let cfg = Arc::new(Idempotency {
        guard: Some(guard),
        ..Idempotency::settings(platform, service, store)
    });
    routes.route_layer(axum::middleware::from_fn_with_state(cfg, middleware))
}

/// The middleware itself (see [`honour`]).
pub async fn middleware(State(cfg): State<Arc<Idempotency>>, req: Request, next: Next) -> Response {
    handle(cfg, req, next).await
}

fn key_is_valid(k: &str) -> bool {
    (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

async fn handle(cfg: Arc<Idempotency>, req: Request, next: Next) -> Response {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY).cloned() else {
        return next.run(req).await;
    };
    if !mutating {
        return next.run(req).await;
    }
    let Some(idem_key) = raw_key
        .to_str()
        .ok()
        .filter(|k| key_is_valid(k))
        .map(str::to_owned)
    else {
        return ApiError::field(
            "Idempotency-Key",
            "must be 1-255 printable ASCII characters",
        )
        .into_response();
    };
    match run(&cfg, idem_key, req, next).await {
        Ok(r) | Err(r) => r,
    }
}

async fn run(
    cfg: &Idempotency,
    idem_key: String,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, cfg.body_limit)
        .await
        .map_err(|_| ApiError::payload_too_large(cfg.body_limit).into_response())?;
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let fingerprint = cfg
        .keys
        .mac_hex(&fingerprint_input(
            &parts.method,
            &path_and_query(&parts.uri),
            &bytes,
        ))
        .await
        .map_err(IntoResponse::into_response)?;
    let claims = auth::claims_of(&parts.extensions);
    // An anonymous caller is anybody: its key is bound to the request itself, so a
    // stranger who reuses the key with another body (another email on forgot-password)
    // runs their own request instead of replaying, or blocking, the first one.
    let caller = match &claims {
        Some(c) => c.sub.clone(),
        None => format!("anonymous:{fingerprint}"),
    };
    let scope = sha256_hex(
        format!(
            "{}\n{caller}\n{}\n{route}\n{idem_key}",
            cfg.service.slug(),
            parts.method
        )
        .as_bytes(),
    );
    let key = match &claims {
        Some(c) => Key::tenant(&c.tenant(), &["IDEMP"], scope),
        // Public routes have no tenant yet: their records live in one global partition.
        None => Key::global("IDEMP#PUBLIC", scope),
    };

    let now = cfg.clock.epoch_seconds();
    let in_progress_until = parts
        .extensions
        .get::<InvocationDeadline>()
        .map(|d| d.0.timestamp())
        .unwrap_or(now + cfg.in_progress_secs);
    let record = Item::new(&key)
        .with("status", IN_PROGRESS)
        .with("fingerprint", fingerprint.as_str())
        .with("in_progress_until", in_progress_until)
        .with(attr::EXPIRES_AT, now + RETENTION_SECS);
    // Take the key if nobody holds it: absent, expired (TTL is lazy), or abandoned
    // in progress (a crashed or timed-out invocation).
    let claimable = Condition::item_absent()
        .or(Condition::le(attr::EXPIRES_AT, now))
        .or(Condition::eq("status", IN_PROGRESS).and(Condition::lt("in_progress_until", now)));
    match cfg.store.put(Put::new(record).when(claimable)).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { current }) => {
            if let (Some(guard), Some(c)) = (&cfg.guard, &claims) {
                guard.allow(c).await.map_err(IntoResponse::into_response)?;
            }
            let current = match current {
                Some(item) => Some(*item),
                None => cfg.store.get(&key).await.map_err(store_down)?,
            };
            return Err(existing(current, &fingerprint));
        }
        Err(e) => return Err(store_down(e)),
    }

    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = next.run(req).await;
    let status = resp.status();
    if status.is_server_error()
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || resp.headers().contains_key(header::RETRY_AFTER)
    {
        // Not a final answer: let a retry run again. An answer that names a time to come
        // back (a quota that resets at midnight) is not final either: stored, the same
        // key would replay the refusal for 24 h after the quota had reset. Nor is a
        // refusal of the caller rather than of the request (401, 403): after signing in
        // again, or being granted the role, the same request must run, not replay it.
        let release = Delete::new(key).when(
            Condition::eq("status", IN_PROGRESS).and(Condition::eq("fingerprint", fingerprint)),
        );
        if let Err(e) = cfg.store.delete(release).await {
            tracing::warn!(error = %e, "could not release an idempotency record; it expires at in_progress_until");
        }
        return Ok(resp);
    }
    let (rparts, rbody) = resp.into_parts();
    let body = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    let headers: BTreeMap<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            Some((
                h.as_str().to_owned(),
                Value::s(rparts.headers.get(h)?.to_str().ok()?),
            ))
        })
        .collect();
    let mut save = Update::new(key)
        .set("status", COMPLETED)
        .set("response_status", i64::from(status.as_u16()))
        .set("response_headers", Value::M(headers))
        .remove("in_progress_until")
        .when(Condition::eq("fingerprint", fingerprint));
    // An answer DynamoDB cannot hold in one item (a send to 100 people on every channel
    // with long subjects) is not kept: the record says the request completed, so a retry
    // is told so rather than left to run it again once the claim lapses.
    save = if body.len() <= MAX_STORED_BODY {
        save.set("response_body", Value::B(body.to_vec()))
    } else {
        save.set("response_too_large", true)
    };
    if let Err(e) = cfg.store.update(save).await {
        // The operation ran; answer it. A retry meets INPROGRESS until it lapses.
        tracing::warn!(error = %e, "could not save an idempotent response");
    }
    Ok(Response::from_parts(rparts, Body::from(body)))
}

/// The answer for a key somebody already holds.
fn existing(current: Option<Item>, fingerprint: &str) -> Response {
    let Some(record) = current else {
        // Released between our put and our read: the other request is finishing.
        return in_progress();
    };
    if record.get_s("fingerprint") != Some(fingerprint) {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with a different request",
        )
        .into_response();
    }
    if record.get_s("status") != Some(COMPLETED) {
        return in_progress();
    }
    replay(&record)
        .unwrap_or_else(|| ApiError::internal("unreadable idempotency record").into_response())
}

fn in_progress() -> Response {
    ApiError::new(
        StatusCode::CONFLICT,
        "IDEMPOTENCY_IN_PROGRESS",
        "a request with this Idempotency-Key is still in progress",
    )
    .with_retry_after(1)
    .into_response()
}

fn replay(record: &Item) -> Option<Response> {
    let status =
        StatusCode::from_u16(u16::try_from(record.get_i64("response_status")?).ok()?).ok()?;
    if record.get("response_too_large").is_some() {
        return Some(
            ApiError::new(
                StatusCode::CONFLICT,
                "IDEMPOTENCY_ANSWER_NOT_KEPT",
                format!(
                    "the request with this Idempotency-Key completed ({}) and was not run \
                     again; its answer was too large to keep for replay",
                    status.as_u16()
                ),
            )
            .with_details(serde_json::json!({"status": status.as_u16()}))
            .into_response(),
        );
    }
    let body = record.get("response_body")?.as_b()?.to_vec();
    let mut resp = (status, body).into_response();
    if let Some(Value::M(headers)) = record.get("response_headers") {
        for (name, value) in headers {
            if let (Ok(n), Some(Ok(v))) = (
                HeaderName::try_from(name.as_str()),
                value.as_s().map(HeaderValue::from_str),
            ) {
                resp.headers_mut().insert(n, v);
            }
        }
    }
    resp.headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    // The stored body is already an envelope: the safety net must not rewrap a stored 4xx.
    resp.extensions_mut().insert(Enveloped);
    Some(resp)
}

fn store_down(e: StoreError) -> Response {
    // The store is the guard: without it the operation must not run.
    ApiError::unavailable(e).into_response()
}

/// Method, path and the body as canonical JSON (keys sorted, no spaces), so formatting
/// and key order do not make a retry look like another request.
/// The path, then the query's pairs decoded and sorted (`?b=2&a=1` and `?a=1&b=2` are one
/// request; `DELETE /suppressions?contact=a` and `?contact=b` are two). No query: the
/// path alone, as fingerprints were before queries counted.
fn path_and_query(uri: &http::Uri) -> String {
    let Some(q) = uri.query().filter(|q| !q.is_empty()) else {
        return uri.path().to_owned();
    };
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    pairs.sort();
    let canonical: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}?{canonical}", uri.path())
}

pub fn fingerprint_input(method: &Method, path: &str, body: &[u8]) -> Vec<u8> {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_vec(&sorted(v)).ok())
        .unwrap_or_else(|| body.to_vec());
    let mut input = format!("{method}\n{path}\n").into_bytes();
    input.extend_from_slice(&canonical);
    input
}

/// Object keys in sorted order at every depth. Explicit, because serde_json's `Map` keeps
/// insertion order whenever any crate in the build enables its `preserve_order` feature.
fn sorted(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        J::Array(items) => J::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_counts_in_the_fingerprint_whatever_its_order_or_encoding() {
        let at = |u: &str| path_and_query(&u.parse::<http::Uri>().unwrap());
        assert_eq!(at("/s?contact=a%40x.io"), at("/s?contact=a@x.io"));
        assert_eq!(at("/s?b=2&a=1"), at("/s?a=1&b=2"));
        assert_ne!(at("/s?contact=a@x.io"), at("/s?contact=b@x.io"));
        // No query: the path alone, as before queries counted (records kept across a
        // deploy still match).
        assert_eq!(at("/s"), "/s");
        assert_eq!(at("/s?"), "/s");
    }

    #[test]
    fn the_fingerprint_ignores_json_formatting_and_key_order() {
        let a = fingerprint_input(&Method::POST, "/x", br#"{"a":1,"b":[1,2]}"#);
        let b = fingerprint_input(&Method::POST, "/x", b"{ \"b\": [1, 2],\n \"a\": 1 }");
        assert_eq!(a, b);
        let nested_a =
            fingerprint_input(&Method::POST, "/x", br#"{"o":{"y":1,"x":[{"q":1,"p":2}]}}"#);
        let nested_b =
            fingerprint_input(&Method::POST, "/x", br#"{"o":{"x":[{"p":2,"q":1}],"y":1}}"#);
        assert_eq!(nested_a, nested_b);
        assert_ne!(
            a,
            fingerprint_input(&Method::POST, "/x", br#"{"a":2,"b":[1,2]}"#)
        );
        assert_ne!(
            a,
            fingerprint_input(&Method::PUT, "/x", br#"{"a":1,"b":[1,2]}"#)
        );
        assert_ne!(
            a,
            fingerprint_input(&Method::POST, "/y", br#"{"a":1,"b":[1,2]}"#)
        );
    }

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        assert!(key_is_valid("a"));
        assert!(key_is_valid(&"k".repeat(255)));
        assert!(!key_is_valid(""));
        assert!(!key_is_valid(&"k".repeat(256)));
        assert!(!key_is_valid("tab\there"));
        assert!(!key_is_valid("ünïcode"));
    }
}
