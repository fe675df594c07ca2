//! `ApiError`: every failure a client can see, as `ERR_<SVC>_<NAME>` with a status.
//! The `<SVC>` comes from the request context, so a service's error enum maps to
//! names only (`From<AuthError> for ApiError` picks status + name).

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::json;

use crate::{envelope, store::StoreError};

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub issue: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, issue: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            issue: issue.into(),
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// `<NAME>` of `ERR_<SVC>_<NAME>`.
    pub name: Cow<'static, str>,
    /// Safe for clients: never internals, secrets or another tenant's data.
    pub message: Cow<'static, str>,
    pub details: Option<Box<serde_json::Value>>,
    /// Seconds, sent as `retry-after` (423, 429, 503).
    pub retry_after: Option<u64>,
    /// For the log only (never serialized).
    pub source: Option<Box<str>>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        name: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            name: name.into(),
            message: message.into(),
            details: None,
            retry_after: None,
            source: None,
        }
    }
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn with_source(mut self, source: impl std::fmt::Display) -> Self {
        self.source = Some(source.to_string().into());
        self
    }

    /// 400 VALIDATION with the fields that were wrong.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = match fields.first() {
            Some(f) if fields.len() == 1 => format!("{}: {}", f.field, f.issue),
            _ => "request validation failed".to_owned(),
        };
        ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION", message)
            .with_details(json!({ "fields": fields }))
    }
    pub fn field(field: impl Into<String>, issue: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, issue)])
    }
    pub fn invalid_cursor() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_CURSOR",
            "cursor is invalid or expired",
        )
    }
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }
    pub fn token_expired() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "TOKEN_EXPIRED",
            "token has expired",
        )
    }
    pub fn token_invalid() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "TOKEN_INVALID",
            "token is invalid",
        )
    }
    pub fn token_revoked() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "TOKEN_REVOKED",
            "token was revoked",
        )
    }
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }
    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "resource not found")
    }
    pub fn route_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
    }
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "method not allowed on this route",
        )
    }
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "CONFLICT", message)
    }
    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("body exceeds {limit} bytes"),
        )
    }
    pub fn unsupported_media_type() -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "body must be application/json, in UTF-8, not compressed",
        )
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many requests",
        )
        .with_retry_after(retry_after)
    }
    pub fn internal(source: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )
        .with_source(source)
    }
    /// A dependency is down or throttling, after retries.
    pub fn unavailable(source: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "service temporarily unavailable, retry later",
        )
        .with_retry_after(1)
        .with_source(source)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.name,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let service = crate::context::current_service();
        let code = format!("ERR_{}_{}", service.code(), self.name);
        if self.status.is_server_error() {
            tracing::error!(code = %code, source = self.source.as_deref().unwrap_or(""), "request failed");
        } else if let Some(src) = &self.source {
            tracing::warn!(code = %code, source = %src, "request refused");
        }
        let error = json!({
            "code": code,
            "message": self.message,
            "details": self.details,
        });
        let mut resp = envelope::respond(self.status, &(), &error, None);
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(www_authenticate(&self.name)),
            );
        }
        resp
    }
}

/// The challenge of a 401 (RFC 9110 §11.6.1: a 401 carries one). The platform's tokens
/// are bearer tokens (RFC 6750 §3): a token that was presented and failed says
/// `invalid_token`, which OAuth client libraries read as "refresh, then retry".
fn www_authenticate(name: &str) -> &'static str {
    match name {
        "TOKEN_INVALID" | "TOKEN_EXPIRED" | "TOKEN_REVOKED" => {
            r#"Bearer realm="eventzr", error="invalid_token""#
        }
        _ => r#"Bearer realm="eventzr""#,
    }
}
