//! The JSON envelope every response wears:
//! `{"data", "error", "page"?, "meta": {request_id, trace_id?, tenant_id?, timestamp, service}}`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{clock::rfc3339_millis, context};

/// Marks a response as already enveloped, so the pipeline's safety net leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Enveloped;

/// `page` of list responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub limit: u32,
}

/// A successful response: status, `data` and (for lists) `page`.
#[derive(Debug)]
pub struct Envelope<T> {
    pub status: StatusCode,
    pub data: T,
    pub page: Option<Page>,
}

impl<T: Serialize> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Envelope {
            status: StatusCode::OK,
            data,
            page: None,
        }
    }
    pub fn created(data: T) -> Self {
        Envelope {
            status: StatusCode::CREATED,
            data,
            page: None,
        }
    }
    pub fn accepted(data: T) -> Self {
        Envelope {
            status: StatusCode::ACCEPTED,
            data,
            page: None,
        }
    }
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    pub fn with_page(mut self, page: Page) -> Self {
        self.page = Some(page);
        self
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.data) {
            Ok(data) => respond(self.status, data, Value::Null, self.page),
            Err(e) => crate::error::ApiError::internal(e).into_response(),
        }
    }
}

/// The envelope's `meta`, from the current request context.
pub fn meta() -> Value {
    let mut meta = Map::new();
    match context::current() {
        Some(ctx) => {
            meta.insert("request_id".into(), json!(ctx.request_id));
            if let Some(t) = &ctx.trace_id {
                meta.insert("trace_id".into(), json!(t));
            }
            if let Some(t) = ctx.tenant() {
                meta.insert("tenant_id".into(), json!(t));
            }
            meta.insert("timestamp".into(), json!(rfc3339_millis(ctx.started_at)));
            meta.insert("service".into(), json!(ctx.service.name()));
        }
        None => {
            meta.insert(
                "timestamp".into(),
                json!(rfc3339_millis(chrono::Utc::now())),
            );
        }
    }
    Value::Object(meta)
}

/// Serializes one envelope. Used by `Envelope`, `ApiError` and the safety net.
pub(crate) fn respond(
    status: StatusCode,
    data: Value,
    error: Value,
    page: Option<Page>,
) -> Response {
    let mut body = Map::new();
    body.insert("data".into(), data);
    body.insert("error".into(), error);
    if let Some(p) = page {
        body.insert("page".into(), json!(p));
    }
    body.insert("meta".into(), meta());
    let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.extensions_mut().insert(Enveloped);
    resp
}
