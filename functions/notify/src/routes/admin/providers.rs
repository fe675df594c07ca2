//! `GET /admin/providers` (admin): per channel, whether its provider is set up on this
//! stage, what the provider says about its limits (SES send quota and rate, in AWS), and
//! the last provider error the tenant's sends met.
//!
//! The last error is kept in the table, not in memory: sends and the dispatcher run in
//! other functions (route groups `send`, `jobs`) than this route (`admin`). It is per
//! tenant (keyed by the caller's tenant, so no tenant sees another's failures) and holds
//! the error class and SNS/SES error code only, never an address.

use std::sync::Arc;

use async_trait::async_trait;
use axum::{Extension, Router, extract::State, routing::get};
use serde::{Deserialize, Serialize};
use shared::{
    ApiError, Envelope,
    access::{RequireRole, roles},
    openapi::Data,
    store::{Key, Put, Query, Store},
    tenant::TenantId,
};
use utoipa::ToSchema;

use crate::{
    channels::ChannelError,
    domain::Channel,
    error::{NotifyError, NotifyResult},
    state::NotifyState,
};

// Routes (listed in the parent module):
// ("GET", "/notify/v1/admin/providers"),

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    let status: Arc<dyn ProviderStatus> = match st.platform.sdk() {
        Some(sdk) => Arc::new(SesStatus::new(aws_sdk_ses::Client::new(sdk))),
        None => Arc::new(LocalStatus),
    };
    router_with(status)
}

/// The route over a given provider status (tests: a fake SES).
pub fn router_with(status: Arc<dyn ProviderStatus>) -> Router<NotifyState> {
    Router::new()
        .route("/notify/v1/admin/providers", get(providers))
        .layer(Extension(status))
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(providers))]
    struct Doc;
    Doc::openapi()
}

/// SES's sending limits for the account (`GetSendQuota`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendQuota {
    /// Messages SES accepts in a rolling 24 hours (200 in the sandbox).
    #[schema(example = 50000.0)]
    pub max_24_hour_send: f64,
    /// Messages per second.
    #[schema(example = 14.0)]
    pub max_send_rate: f64,
    /// Messages sent in the last 24 hours.
    #[schema(example = 1234.0)]
    pub sent_last_24_hours: f64,
}

/// What the providers say about themselves: SES in AWS, nothing locally.
#[async_trait]
pub trait ProviderStatus: Send + Sync + 'static {
    /// Who carries `channel` when it is configured (`ses`, `sns`; `outbox`/`local` locally).
    fn provider(&self, channel: Channel) -> &'static str;
    /// The email provider's account limits; `None` where there are none (the outbox).
    async fn send_quota(&self) -> Result<Option<SendQuota>, ChannelError>;
    /// Local providers report no details (the answer's `details` stay null).
    fn is_local(&self) -> bool {
        false
    }
}

/// The local gateway and tests: mail to the outbox, SMS and push to the recorder.
pub struct LocalStatus;

#[async_trait]
impl ProviderStatus for LocalStatus {
    fn provider(&self, channel: Channel) -> &'static str {
        match channel {
            Channel::Email => "outbox",
            Channel::Sms | Channel::Push => "local",
            Channel::InApp => "inbox",
        }
    }
    async fn send_quota(&self) -> Result<Option<SendQuota>, ChannelError> {
        Ok(None)
    }
    fn is_local(&self) -> bool {
        true
    }
}

/// A deployed function: SES (`ses:GetSendQuota`, granted to the admin group only).
pub struct SesStatus {
    client: aws_sdk_ses::Client,
}

impl SesStatus {
    pub fn new(client: aws_sdk_ses::Client) -> Self {
        SesStatus { client }
    }
}

#[async_trait]
impl ProviderStatus for SesStatus {
    fn provider(&self, channel: Channel) -> &'static str {
        channel.provider()
    }
    async fn send_quota(&self) -> Result<Option<SendQuota>, ChannelError> {
        use aws_sdk_ses::error::{ProvideErrorMetadata, SdkError};
        let out = self.client.get_send_quota().send().await.map_err(|e| {
            let label = format!("GetSendQuota: {}", e.code().unwrap_or("no answer"));
            match e {
                SdkError::ServiceError(ref se) if se.err().code() == Some("Throttling") => {
                    ChannelError::Throttled(label)
                }
                _ => ChannelError::Unavailable(label),
            }
        })?;
        Ok(Some(SendQuota {
            max_24_hour_send: out.max24_hour_send,
            max_send_rate: out.max_send_rate,
            sent_last_24_hours: out.sent_last24_hours,
        }))
    }
}

/// One channel's provider.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    #[schema(example = "email")]
    pub channel: Channel,
    /// Whether this stage has a provider for the channel (sends to one that has not
    /// answer 400 `ERR_NOTIFY_CHANNEL_NOT_CONFIGURED`).
    pub configured: bool,
    /// Who carries the channel: `ses`, `sns`, `inbox` (in-app); locally `outbox`, `local`.
    /// Null when not configured.
    #[schema(example = "ses")]
    pub provider: Option<&'static str>,
    /// What the provider reports (AWS only; null locally and for channels without limits).
    pub details: Option<ProviderDetails>,
    /// The last provider error the tenant's sends met on this channel, if any.
    pub last_error: Option<LastError>,
}

/// Provider facts, by channel.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDetails {
    /// Email: SES's limits for the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_quota: Option<SendQuota>,
    /// Email: why the limits could not be read just now (e.g. `GetSendQuota: Throttling`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_quota_error: Option<String>,
    /// Push: the platforms with an SNS platform application.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["android", "ios"]))]
    pub platforms: Option<Vec<String>>,
}

/// A provider failure, as recorded by the send path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    /// `throttled` and `unavailable` are retried; `rejected` ended the delivery.
    #[schema(example = "throttled")]
    pub kind: String,
    /// The operation and the provider's error code.
    #[schema(example = "Publish: Throttling")]
    pub detail: String,
    /// When (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub at: String,
}

#[utoipa::path(
    get,
    path = "/notify/v1/admin/providers",
    operation_id = "get_providers",
    tag = "admin",
    summary = "The providers behind each channel",
    description = "Needs the `admin` role. One entry per channel (`email`, `sms`, `push`, \
        `in_app`): whether the stage has its provider set up, who it is, what the provider \
        reports (in AWS: SES's 24-hour quota, send rate and use; the push platforms) and \
        the last provider error the tenant's sends met. A provider that cannot be asked \
        right now shows in `details.sendQuotaError`; the answer is still 200.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Every channel's provider", body = Data<Vec<ProviderView>>,
            example = json!({"data": [
                {"channel": "email", "configured": true, "provider": "ses",
                 "details": {"sendQuota": {"max24HourSend": 50000.0, "maxSendRate": 14.0, "sentLast24Hours": 1234.0}},
                 "lastError": null},
                {"channel": "sms", "configured": true, "provider": "sns", "details": null,
                 "lastError": {"kind": "throttled", "detail": "Publish: Throttling", "at": "2025-11-23T19:30:01.000Z"}},
                {"channel": "push", "configured": false, "provider": null, "details": null, "lastError": null},
                {"channel": "in_app", "configured": true, "provider": "inbox", "details": null, "lastError": null}
            ], "error": null, "meta": {
                "request_id": "550e8400-e29b-41d4-a716-446655440000", "service": "notify-svc",
                "tenant_id": "a0000001-0000-0000-0000-000000000001",
                "timestamp": "2025-11-23T19:31:00.000Z"}})),
        (status = 401, description = "`ERR_NOTIFY_UNAUTHORIZED`: no valid bearer token"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `admin` role"),
    )
)]
pub async fn providers(
    State(st): State<NotifyState>,
    Extension(status): Extension<Arc<dyn ProviderStatus>>,
    caller: RequireRole<roles::Admin>,
) -> Result<Envelope<Vec<ProviderView>>, ApiError> {
    let mut errors = last_errors(st.store(), &caller.tenant()).await?;
    let local = status.is_local();
    let mut out = Vec::with_capacity(Channel::ALL.len());
    for channel in Channel::ALL {
        let configured = st.channels.is_configured(channel);
        let details = match channel {
            _ if !configured || local => None,
            Channel::Email => Some(match status.send_quota().await {
                Ok(quota) => ProviderDetails {
                    send_quota: quota,
                    send_quota_error: None,
                    platforms: None,
                },
                Err(e) => ProviderDetails {
                    send_quota: None,
                    send_quota_error: Some(detail(&e).to_owned()),
                    platforms: None,
                },
            }),
            Channel::Push => Some(ProviderDetails {
                send_quota: None,
                send_quota_error: None,
                platforms: Some(st.cfg.push_apps.keys().cloned().collect()),
            }),
            Channel::Sms | Channel::InApp => None,
        };
        out.push(ProviderView {
            channel,
            configured,
            provider: configured.then(|| status.provider(channel)),
            details,
            last_error: errors.remove(channel.as_str()),
        });
    }
    Ok(Envelope::ok(out))
}

fn kind(e: &ChannelError) -> &'static str {
    match e {
        ChannelError::Throttled(_) => "throttled",
        ChannelError::Unavailable(_) => "unavailable",
        ChannelError::Rejected(_) => "rejected",
    }
}

fn detail(e: &ChannelError) -> &str {
    match e {
        ChannelError::Throttled(d) | ChannelError::Unavailable(d) | ChannelError::Rejected(d) => d,
    }
}

/// The partition of a tenant's last provider errors (one item per channel, sk = channel).
fn errors_partition(t: &TenantId) -> String {
    shared::store::tenant_pk(t, &["PROVIDER"])
}

/// Records a provider failure met while sending for `tenant` on `channel` (the send path
/// and the dispatcher call this; the newest error replaces the previous one). Best
/// effort: a store failure here is logged, never the send's failure.
pub async fn record_error(
    store: &dyn Store,
    tenant: &TenantId,
    channel: Channel,
    error: &ChannelError,
    now: chrono::DateTime<chrono::Utc>,
) {
    let record = LastError {
        kind: kind(error).to_owned(),
        // Our adapters' texts hold the operation and an error code; cap anything longer.
        detail: detail(error).chars().take(200).collect(),
        at: shared::clock::rfc3339_millis(now),
    };
    let key = Key::tenant(tenant, &["PROVIDER"], channel.as_str());
    let put = match crate::repo::item(&key, &record, "provider error") {
        Ok(item) => store.put(Put::new(item)).await.map_err(NotifyError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = put {
        tracing::warn!(channel = channel.as_str(), error = %e, "could not record a provider error");
    }
}

/// The tenant's last error per channel name.
async fn last_errors(
    store: &dyn Store,
    tenant: &TenantId,
) -> NotifyResult<std::collections::BTreeMap<String, LastError>> {
    let page = store
        .query(Query::partition(errors_partition(tenant)))
        .await?;
    let mut out = std::collections::BTreeMap::new();
    for item in &page.items {
        if let Some(key) = item.key() {
            out.insert(
                key.sk.clone(),
                crate::repo::record::<LastError>(item, "provider error")?,
            );
        }
    }
    Ok(out)
}
