//! The Lambda entry every `main.rs` calls: API Gateway v2 events through lambda_http
//! into the same axum Router the local gateway serves.
//!
//! The functions run on tokio's single-threaded runtime (`flavor = "current_thread"`):
//! an execution environment handles one event at a time, and an event's concurrent work
//! (batch reads, provider calls) waits on I/O, which one thread interleaves as well as
//! several. The multi-threaded default starts a worker per core at every cold start —
//! 0.6-1.1 ms of CPU per start of our functions here (BENCHMARKS.md) — for cores a
//! 256 MB function hardly has. CPU-bound work (argon2id) goes to `spawn_blocking`
//! either way. The local gateway, which serves concurrent requests, keeps the default.

use std::borrow::Cow;

use axum::Router;
use chrono::DateTime;
use lambda_http::{RequestExt, lambda_runtime::LambdaEvent, request::LambdaRequest};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use tower::ServiceBuilder;

use crate::context::InvocationDeadline;

pub use lambda_http::Error;

pub async fn run(router: Router) -> Result<(), Error> {
    crate::telemetry::init();
    let service = ServiceBuilder::new()
        .map_request(|mut req: lambda_http::Request| {
            // Hand the invocation deadline to the pipeline as our own type, so nothing
            // below this line depends on lambda_http.
            let deadline = req
                .lambda_context_ref()
                .and_then(|c| DateTime::from_timestamp_millis(c.deadline as i64));
            if let Some(d) = deadline {
                req.extensions_mut().insert(InvocationDeadline(d));
            }
            req
        })
        .map_response(join_repeated_headers)
        .service(router);
    // lambda_http::run, with each event's query made one `http::Uri` accepts first.
    let adapter = ServiceBuilder::new()
        .map_request(|mut ev: LambdaEvent<LambdaRequest>| {
            encode_query(&mut ev.payload);
            ev
        })
        .service(lambda_http::Adapter::from(service));
    lambda_http::lambda_runtime::run(adapter).await
}

/// Bytes of a query to percent-encode: all but letters, digits and what `http::Uri`
/// accepts there, `%` included (an escape stays one). Every query parser decodes them
/// back to the same bytes.
const QUERY_ENCODES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'$')
    .remove(b'%')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b'-')
    .remove(b'.')
    .remove(b'/')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'?')
    .remove(b'@')
    .remove(b'_')
    .remove(b'~');

/// API Gateway hands over the query string as the client sent it; lambda_http builds
/// the request's URI from it and panics (`expect`) when `http` refuses a byte, such as
/// the `"` of `?q="a"` that curl sends unencoded. The invocation then fails before our
/// pipeline runs: a bare 502 from the gateway and the function's Errors alarm. Encoded
/// first, the request reaches the routes with the same decoded values.
fn encode_query(event: &mut LambdaRequest) {
    let LambdaRequest::ApiGatewayV2(r) = event else {
        return;
    };
    let Some(q) = r.raw_query_string.as_mut() else {
        return;
    };
    // Borrowed: nothing to encode, the usual case.
    let encoded = match Cow::from(percent_encode(q.as_bytes(), QUERY_ENCODES)) {
        Cow::Owned(e) => Some(e),
        Cow::Borrowed(_) => None,
    };
    if let Some(e) = encoded {
        *q = e;
    }
}

/// An API Gateway v2 response carries one value per header, and lambda_http keeps only
/// the first of repeated ones (`Set-Cookie` aside: it has its own field). So a second
/// `Vary` (CORS's `origin` after a handler's `accept-encoding`) was lost in AWS only.
/// Joined with ", " first, as HTTP allows for list-valued fields (RFC 9110 §5.3).
fn join_repeated_headers<B>(mut resp: http::Response<B>) -> http::Response<B> {
    let repeated: Vec<http::HeaderName> = resp
        .headers()
        .keys()
        .filter(|n| {
            *n != http::header::SET_COOKIE && resp.headers().get_all(*n).iter().nth(1).is_some()
        })
        .cloned()
        .collect();
    for name in repeated {
        let joined = resp
            .headers()
            .get_all(&name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(v) = http::HeaderValue::from_str(&joined) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// What [`run`] makes of one API Gateway event's payload: the request the routes see
/// (for tests that replay events/ without the runtime).
pub fn request_from_event(payload: &str) -> Result<lambda_http::Request, serde_json::Error> {
    let mut event: LambdaRequest = serde_json::from_str(payload)?;
    encode_query(&mut event);
    Ok(event.into())
}

/// The entry of a function invoked directly rather than through API Gateway (scheduled
/// jobs: EventBridge Scheduler): each event's JSON payload and the invocation deadline
/// go to `handler`. An `Err` fails the invocation, which is what reaches the
/// schedule's dead-letter queue and the function's Errors alarm.
pub async fn run_events<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(serde_json::Value, Option<DateTime<chrono::Utc>>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, Error>> + Send,
{
    crate::telemetry::init();
    let handler = std::sync::Arc::new(handler);
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |ev: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>| {
            let handler = handler.clone();
            async move {
                let deadline = DateTime::from_timestamp_millis(ev.context.deadline as i64);
                handler(ev.payload, deadline).await
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(raw_query: &str) -> LambdaRequest {
        let mut ev: serde_json::Value =
            serde_json::from_str(include_str!("../../events/search/get-health.json")).unwrap();
        ev["rawQueryString"] = raw_query.into();
        serde_json::from_value(ev).unwrap()
    }

    fn query_of(ev: LambdaRequest) -> Vec<(String, String)> {
        let req = http::Request::<lambda_http::Body>::from(ev);
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn a_query_http_refuses_reaches_the_routes_with_its_values() {
        let raw = "q=\"a b\"&tag=<x>&name=%C3%A9t%C3%A9&r=caf\u{e9}&k=a+b|{c}";
        // lambda_http alone panics building the URI: the invocation would fail.
        assert!(std::panic::catch_unwind(|| query_of(event(raw))).is_err());
        let mut ev = event(raw);
        encode_query(&mut ev);
        assert_eq!(
            query_of(ev),
            [
                ("q", "\"a b\""),
                ("tag", "<x>"),
                ("name", "été"),
                ("r", "café"),
                ("k", "a b|{c}"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn repeated_response_headers_are_joined_but_cookies_stay_apart() {
        let resp = http::Response::builder()
            .header("vary", "accept-encoding")
            .header("vary", "origin")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .header("content-type", "application/json")
            .body(())
            .unwrap();
        let resp = join_repeated_headers(resp);
        let all = |n: &str| {
            resp.headers()
                .get_all(n)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(all("vary"), ["accept-encoding, origin"]);
        assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(all("content-type"), ["application/json"]);
    }

    #[test]
    fn a_query_http_accepts_is_left_as_it_is() {
        let raw = "limit=20&cursor=abc%3D%3D&from=2026-12-01T00:00:00%2B01:00&a=b/c?d";
        let mut ev = event(raw);
        encode_query(&mut ev);
        let LambdaRequest::ApiGatewayV2(r) = &ev else {
            panic!("an API Gateway v2 event")
        };
        assert_eq!(r.raw_query_string.as_deref(), Some(raw));
    }
}
