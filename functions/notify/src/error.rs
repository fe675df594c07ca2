//! notify-svc's outcomes, mapped once to statuses and `ERR_NOTIFY_*` names.

use http::StatusCode;
use serde_json::json;
use shared::{ApiError, FieldError, store::StoreError};

use crate::domain::{Channel, Status};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The send would take a channel over the tenant's daily or monthly quota.
    #[error("quota exceeded")]
    QuotaExceeded {
        channel: Channel,
        period: &'static str,
        limit: i64,
        used: i64,
        requested: i64,
        /// Seconds until the period's counter starts afresh; None when the send asks for
        /// more than the whole limit (waiting cannot help).
        retry_after: Option<u64>,
    },
    #[error("invalid channel")]
    InvalidChannel { field: String, value: String },
    #[error("invalid contact")]
    InvalidContact(FieldError),
    /// Handlebars could not parse a template; `line`/`column` are 1-based when known.
    #[error("invalid template: {message}")]
    InvalidTemplate {
        field: String,
        message: String,
        line: Option<usize>,
        column: Option<usize>,
    },
    #[error("missing template variables")]
    MissingTemplateVariables(Vec<String>),
    #[error("template rendering failed: {}", .0.message)]
    TemplateRenderingFailed(RenderFailure),
    #[error("template not found")]
    TemplateNotFound,
    /// A send named a template that exists but is archived: a conflict with its state
    /// (as a save of it is), not a 404 — it stays readable, so "no such template" is false.
    #[error("template archived")]
    TemplateArchived { id: String },
    #[error("delivery not cancellable")]
    DeliveryNotCancellable { status: Status },
    /// A test send to an address on the tenant's suppression list.
    #[error("contact suppressed")]
    ContactSuppressed { reason: String },
    #[error("invalid signature")]
    InvalidSignature,
    /// The provider cannot be reached (or keeps throttling); the detail is logged only.
    #[error("provider unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("channel not configured")]
    ChannelNotConfigured(Channel),
    /// The platform suspended the tenant (auth's record): it sends nothing.
    #[error("tenant suspended")]
    TenantSuspended,
    #[error("not found")]
    NotFound,
    /// Optimistic concurrency: the caller's `version` is not the current one.
    #[error("version conflict")]
    VersionConflict { current: i64 },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type NotifyResult<T> = Result<T, NotifyError>;

/// Why and where a render failed: the message, and the parts of it a client points at
/// (the editor's cursor, the variable to add) without parsing the message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderFailure {
    pub message: String,
    /// The source that failed (`text`, `locales.fr.subject`, `content.html`); None when
    /// the message as a whole is refused.
    pub field: Option<String>,
    /// 1-based, when Handlebars knows them.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The variable that is missing, when that is the failure.
    pub variable: Option<String>,
}

impl RenderFailure {
    /// `{field, part, line, column}` (null when unknown), and `variable` when one is
    /// missing; `part` is the message part whatever the locale or shape.
    fn details(&self) -> serde_json::Value {
        let part = self.field.as_deref().and_then(|f| f.rsplit('.').next());
        let mut d = json!({
            "field": self.field,
            "part": part,
            "line": self.line,
            "column": self.column,
        });
        if let Some(v) = &self.variable {
            d["variable"] = json!(v);
        }
        d
    }
}

impl From<FieldError> for NotifyError {
    fn from(e: FieldError) -> Self {
        NotifyError::Api(ApiError::validation(vec![e]))
    }
}

impl From<RenderFailure> for NotifyError {
    fn from(f: RenderFailure) -> Self {
        NotifyError::TemplateRenderingFailed(f)
    }
}

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        use StatusCode as S;
        match e {
            NotifyError::QuotaExceeded {
                channel,
                period,
                limit,
                used,
                requested,
                retry_after,
            } => {
                let e = ApiError::new(
                    S::PAYMENT_REQUIRED,
                    "QUOTA_EXCEEDED",
                    format!(
                        "this send would exceed the tenant's {period} {} quota",
                        channel.as_str()
                    ),
                )
                .with_details(json!({
                    "channel": channel.as_str(),
                    "period": period,
                    "limit": limit,
                    "used": used,
                    "requested": requested,
                }));
                match retry_after {
                    Some(secs) => e.with_retry_after(secs),
                    None => e,
                }
            }
            NotifyError::InvalidChannel { field, value } => ApiError::new(
                S::BAD_REQUEST,
                "INVALID_CHANNEL",
                format!("{field}: unknown channel '{}'", truncate(&value)),
            )
            // `fields` as every field error has it (API-CONVENTIONS); `field` kept for the
            // clients that read it before.
            .with_details(json!({
                "fields": [{"field": field, "issue": "must be email, sms, push or in_app"}],
                "field": field,
                "allowed": ["email", "sms", "push", "in_app"],
            })),
            NotifyError::InvalidContact(f) => ApiError::new(
                S::BAD_REQUEST,
                "INVALID_CONTACT",
                format!("{}: {}", f.field, f.issue),
            )
            .with_details(json!({ "fields": [f] })),
            NotifyError::InvalidTemplate {
                field,
                message,
                line,
                column,
            } => ApiError::new(
                S::BAD_REQUEST,
                "INVALID_TEMPLATE",
                format!("{field} is not a valid Handlebars template: {message}"),
            )
            .with_details(json!({ "field": field, "line": line, "column": column })),
            NotifyError::MissingTemplateVariables(names) => ApiError::new(
                S::BAD_REQUEST,
                "MISSING_TEMPLATE_VARIABLES",
                format!(
                    "variables required by the template are missing: {}",
                    names.join(", ")
                ),
            )
            .with_details(json!({ "missing": names })),
            NotifyError::TemplateRenderingFailed(f) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "TEMPLATE_RENDERING_FAILED",
                format!("the template could not be rendered: {}", f.message),
            )
            .with_details(f.details()),
            NotifyError::TemplateNotFound => {
                ApiError::new(S::NOT_FOUND, "TEMPLATE_NOT_FOUND", "no such template")
            }
            NotifyError::TemplateArchived { id } => ApiError::conflict(
                "the template is archived: send with an active template, or create a new one",
            )
            .with_details(json!({ "field": "templateId", "templateId": id, "archived": true })),
            NotifyError::DeliveryNotCancellable { status } => ApiError::new(
                S::CONFLICT,
                "DELIVERY_NOT_CANCELLABLE",
                format!(
                    "a {} delivery cannot be cancelled (only queued or scheduled)",
                    status.as_str()
                ),
            )
            .with_details(json!({ "status": status.as_str() })),
            NotifyError::ContactSuppressed { reason } => ApiError::new(
                S::CONFLICT,
                "CONTACT_SUPPRESSED",
                "the address is on the tenant's suppression list: an admin removes it first",
            )
            .with_details(json!({ "reason": reason })),
            NotifyError::InvalidSignature => ApiError::new(
                S::UNAUTHORIZED,
                "INVALID_SIGNATURE",
                "the signature is not valid",
            ),
            NotifyError::ProviderUnavailable(detail) => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "PROVIDER_UNAVAILABLE",
                "the provider is unavailable; try again later",
            )
            .with_retry_after(30)
            .with_source(detail),
            NotifyError::ChannelNotConfigured(channel) => ApiError::new(
                S::BAD_REQUEST,
                "CHANNEL_NOT_CONFIGURED",
                format!(
                    "the {} channel is not set up on this stage",
                    channel.as_str()
                ),
            )
            .with_details(json!({ "channel": channel.as_str() })),
            NotifyError::TenantSuspended => ApiError::new(
                S::FORBIDDEN,
                "TENANT_SUSPENDED",
                "the tenant is suspended: it sends nothing",
            ),
            NotifyError::NotFound => ApiError::not_found(),
            NotifyError::VersionConflict { current } => {
                ApiError::conflict("the template changed since you read it")
                    .with_details(json!({ "currentVersion": current }))
            }
            NotifyError::Api(e) => e,
            NotifyError::Store(e) => e.into(),
            NotifyError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

/// Echoed client values are cut short (an error must not mirror a 256 KiB body).
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
