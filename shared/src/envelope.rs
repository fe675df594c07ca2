//! The JSON envelope every response wears:
//! `{"data", "error", "page"?, "meta": {request_id, trace_id?, tenant_id?, timestamp, service}}`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

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
    /// `Location` of a created resource (RFC 9110 15.3.2): its path on this API.
    pub location: Option<String>,
}

impl<T: Serialize> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Envelope {
            status: StatusCode::OK,
            data,
            page: None,
            location: None,
        }
    }
    pub fn created(data: T) -> Self {
        Envelope {
            status: StatusCode::CREATED,
            data,
            page: None,
            location: None,
        }
    }
    pub fn accepted(data: T) -> Self {
        Envelope {
            status: StatusCode::ACCEPTED,
            data,
            page: None,
            location: None,
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
    /// A 201's `Location`: the path the new resource is read or changed at.
    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let mut resp = respond(self.status, &self.data, &(), self.page.as_ref());
        if let Some(v) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp
    }
}

/// The envelope's `meta`, from the current request context. Serialized straight into
/// the body (no intermediate JSON tree); fields in the order they have always had.
#[derive(Serialize)]
struct Meta {
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<crate::tenant::TenantId>,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
}

impl Meta {
    fn current() -> Self {
        match context::current() {
            Some(ctx) => Meta {
                request_id: Some(ctx.request_id),
                service: Some(ctx.service.name()),
                tenant_id: ctx.tenant(),
                timestamp: rfc3339_millis(ctx.started_at),
                trace_id: ctx.trace_id.clone(),
            },
            None => Meta {
                request_id: None,
                service: None,
                tenant_id: None,
                timestamp: rfc3339_millis(chrono::Utc::now()),
                trace_id: None,
            },
        }
    }
}

/// The envelope's `meta` as JSON (for callers outside a response).
pub fn meta() -> Value {
    serde_json::to_value(Meta::current()).unwrap_or(Value::Null)
}

/// Serializes one envelope straight to bytes. Used by `Envelope`, `ApiError` and the
/// safety net. A `data` that cannot be serialized answers 500 INTERNAL instead.
pub(crate) fn respond<D: Serialize + ?Sized, E: Serialize + ?Sized>(
    status: StatusCode,
    data: &D,
    error: &E,
    page: Option<&Page>,
) -> Response {
    #[derive(Serialize)]
    struct Body<'a, D: ?Sized, E: ?Sized> {
        data: &'a D,
        error: &'a E,
        meta: Meta,
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<&'a Page>,
    }
    let body = Body {
        data,
        error,
        meta: Meta::current(),
        page,
    };
    let bytes = match serde_json::to_vec(&body) {
        Ok(bytes) => bytes,
        Err(e) => return crate::error::ApiError::internal(e).into_response(),
    };
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.extensions_mut().insert(Enveloped);
    resp
}
