//! Event replay (ARCHITECTURE.md, testing layer 5): every `events/<svc>/*.json` goes
//! through lambda_http's own event parsing into its service's router, the way the
//! Lambda runtime delivers it, and must answer the status of its `*.expect.json`.

use axum::http::header;
use serde_json::Value;
use shared::service::Service;
use tower::ServiceExt as _;

use crate::helpers::{EventFile, event_files, service_router, sidecar_files};

/// `<name>.expect.json`: `{"status": 200}`, optionally `"code": "ERR_<SVC>_<NAME>"`.
struct Expected {
    status: u16,
    code: Option<String>,
}

fn expected(event: &EventFile) -> Result<Expected, String> {
    let path = event.sidecar_path();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: no sidecar {} ({e}); add one with {{\"status\": <code>}}",
            event.name,
            path.display()
        )
    })?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: sidecar is not JSON: {e}", event.name))?;
    let status = json["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| format!("{}: sidecar has no numeric \"status\"", event.name))?;
    Ok(Expected {
        status,
        code: json["code"].as_str().map(str::to_owned),
    })
}

/// Replays one event; `Err` describes the first thing that differs.
async fn replay(event: &EventFile) -> Result<(), String> {
    let want = expected(event)?;
    let name = &event.name;

    // What our Lambda entry does with the invocation payload (lambda_http's own parsing,
    // after making the query one `http` accepts).
    let req = shared::lambda::request_from_event(&event.text)
        .map_err(|e| format!("{name}: lambda_http cannot parse it as an event: {e}"))?;
    let routed = Service::for_path(req.uri().path());
    if routed != Some(event.owner) {
        return Err(format!(
            "{name}: path {} belongs to {routed:?}, but the event is in events/{}/",
            req.uri().path(),
            event.owner.slug()
        ));
    }

    // lambda_http::Body implements http_body::Body<Data = Bytes>, so the router takes the
    // request as is, exactly as shared::lambda::run hands it over: no body conversion.
    let resp = service_router(event.owner)
        .oneshot(req)
        .await
        .unwrap_or_else(|never| match never {});

    // And back the way the runtime answers API Gateway (lambda_http's IntoResponse picks
    // a text or base64 body from content-type).
    let resp = lambda_http::IntoResponse::into_response(resp).await;
    let status = resp.status().as_u16();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let body: Option<Value> = match resp.body() {
        lambda_http::Body::Text(text) if is_json => Some(
            serde_json::from_str(text)
                .map_err(|e| format!("{name}: JSON response is not JSON: {e}"))?,
        ),
        lambda_http::Body::Text(_) | lambda_http::Body::Empty => None,
        _ if is_json => {
            return Err(format!(
                "{name}: a JSON response would reach API Gateway base64-encoded"
            ));
        }
        _ => None,
    };
    let code = body.as_ref().and_then(|b| b["error"]["code"].as_str());

    if status != want.status {
        return Err(format!(
            "{name}: status {status}, expected {} (error code {code:?})",
            want.status
        ));
    }
    if let Some(want_code) = &want.code
        && code != Some(want_code.as_str())
    {
        return Err(format!("{name}: error code {code:?}, expected {want_code}"));
    }
    // Every enveloped answer names its service (the OpenAPI document is not enveloped).
    if let Some(body) = &body
        && body.get("error").is_some()
        && body["meta"]["service"] != event.owner.name()
    {
        return Err(format!(
            "{name}: meta.service is {}, expected {}",
            body["meta"]["service"],
            event.owner.name()
        ));
    }
    Ok(())
}

#[tokio::test]
async fn every_event_replays_through_its_service_with_the_expected_status() {
    let events = event_files();
    assert!(!events.is_empty(), "events/ holds no event");

    let mut failures = Vec::new();
    for event in &events {
        if let Err(why) = replay(event).await {
            failures.push(why);
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} events failed to replay:\n  {}",
        failures.len(),
        events.len(),
        failures.join("\n  ")
    );
    println!("replayed {} events", events.len());
}

#[test]
fn every_sidecar_belongs_to_an_event() {
    let orphans: Vec<String> = sidecar_files()
        .into_iter()
        .filter(|sidecar| {
            let name = sidecar.to_string_lossy();
            let event = name.trim_end_matches(".expect.json").to_owned() + ".json";
            !std::path::Path::new(&event).exists()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(orphans.is_empty(), "sidecars without an event: {orphans:?}");
}
