//! `/devices`: the caller's push devices. A token is registered with the push provider
//! (an SNS platform endpoint) and only the endpoint is kept; the token is neither
//! stored, logged nor echoed (the body type has no `Debug` on purpose).

use axum::{
    Router,
    extract::{Path, State},
    routing::get,
};
use serde::{Deserialize, Serialize};
use shared::{
    ApiError, Envelope,
    auth::Claims,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey},
    tenant::TenantId,
};
use utoipa::{OpenApi, ToSchema};

use crate::{
    channels::{ChannelError, PushSender},
    domain::Channel,
    error::{NotifyError, NotifyResult},
    repo::{
        devices::{self as repo, Device, MAX_DEVICES},
        erasure,
    },
    state::NotifyState,
};

// Routes (listed in the parent module):
// ("GET", "/notify/v1/devices"),
// ("POST", "/notify/v1/devices"),
// ("GET", "/notify/v1/devices/{deviceId}"),
// ("DELETE", "/notify/v1/devices/{deviceId}"),

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new()
            .route("/notify/v1/devices", get(list).post(register))
            .route("/notify/v1/devices/{deviceId}", get(read).delete(remove)),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
}

/// A device's push platform.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DevicePlatform {
    /// Apple Push Notification service.
    Ios,
    /// Firebase Cloud Messaging.
    Android,
    /// Web Push.
    Web,
}

impl DevicePlatform {
    fn as_str(self) -> &'static str {
        match self {
            DevicePlatform::Ios => "ios",
            DevicePlatform::Android => "android",
            DevicePlatform::Web => "web",
        }
    }
}

/// The longest token accepted (FCM tokens run to ~250 characters, a Web Push
/// subscription to a few hundred).
const MAX_TOKEN_LEN: usize = 4096;

/// `{platform, token}` of `POST /devices`. No `Debug`: the token must not reach a log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBody {
    pub platform: DevicePlatform,
    /// The push token the platform gave the app (1-4096 printable characters). Never
    /// returned nor logged.
    #[schema(example = "f1c2d3e4b5a6978899aabbccddeeff00112233445566778899aabbccddeeff00")]
    pub token: String,
}

/// A registered device (its token is never shown).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Stable for a (platform, token): registering the same token again finds it.
    #[schema(example = "4f1c0d9a2b7e4e0c8d3a6b5f9e2c1a07")]
    pub id: String,
    #[schema(example = "ios")]
    pub platform: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        DeviceView {
            id: d.id,
            platform: d.platform,
            created_at: d.created_at,
        }
    }
}

/// `DELETE /devices/{deviceId}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceRemoved {
    pub id: String,
    pub deleted: bool,
}

#[utoipa::path(
    get,
    path = "/notify/v1/devices",
    operation_id = "list_devices",
    tag = "people",
    summary = "The caller's push devices",
    description = "Every device the caller registered (at most 20), oldest first, so an app \
        can show them and remove one it no longer uses. Tokens are never returned. Not paged.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's devices", body = Data<Vec<DeviceView>>),
    )
)]
pub async fn list(
    State(st): State<NotifyState>,
    caller: Claims,
) -> Result<Envelope<Vec<DeviceView>>, ApiError> {
    let mut found = repo::list(st.store(), &caller.tenant(), &caller.sub).await?;
    found.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(Envelope::ok(found.into_iter().map(Into::into).collect()))
}

#[utoipa::path(
    get,
    path = "/notify/v1/devices/{deviceId}",
    operation_id = "get_device",
    tag = "people",
    summary = "One of the caller's push devices",
    description = "The device `POST /devices` answered (its `Location`). Only the caller's own \
        devices can be named.",
    params(("deviceId" = String, Path, description = "The `id` answered when the device was registered")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The device", body = Data<DeviceView>),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: the caller has no device with this id"),
    )
)]
pub async fn read(
    State(st): State<NotifyState>,
    caller: Claims,
    Path(device_id): Path<String>,
) -> Result<Envelope<DeviceView>, ApiError> {
    Ok(Envelope::ok(
        own_device(&st, &caller, &device_id).await?.into(),
    ))
}

/// The caller's device `device_id`. Keyed under the caller: another person's (or
/// tenant's) device is simply not found, and so is an id no device can have.
async fn own_device(st: &NotifyState, caller: &Claims, device_id: &str) -> NotifyResult<Device> {
    let device = if repo::is_device_id(device_id) {
        repo::get(st.store(), &caller.tenant(), &caller.sub, device_id).await?
    } else {
        None
    };
    device.ok_or(NotifyError::NotFound)
}

#[utoipa::path(
    post,
    path = "/notify/v1/devices",
    operation_id = "register_device",
    tag = "people",
    summary = "Register the caller's push device",
    description = "Registers a push token of the caller's app with the push provider, so \
        `push` deliveries to the caller reach this device. Registering the same token again \
        answers the same device (200 instead of 201). At most 20 devices per person. The \
        token is never stored, logged nor returned.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(content = DeviceBody, example = json!({"platform": "ios", "token": "f1c2d3e4b5a6978899aabbccddeeff00"})),
    responses(
        (status = 201, description = "The device is registered", body = Data<DeviceView>,
            headers(("Location" = String, description = "`/notify/v1/devices/{deviceId}`"))),
        (status = 200, description = "This token was already registered: the same device", body = Data<DeviceView>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: `platform` is not ios, android or \
            web, `token` is empty, too long or refused by the provider, or the caller already \
            has 20 devices (`devices`); `ERR_NOTIFY_CHANNEL_NOT_CONFIGURED`: push is not set \
            up on this stage"),
        (status = 503, description = "`ERR_NOTIFY_PROVIDER_UNAVAILABLE`: the push provider \
            cannot be reached; try again later"),
    )
)]
pub async fn register(
    State(st): State<NotifyState>,
    caller: Claims,
    ApiJson(body): ApiJson<DeviceBody>,
) -> Result<Envelope<DeviceView>, ApiError> {
    let push = push_of(&st)?;
    let token = valid_token(&body.token)?;
    let (t, platform) = (caller.tenant(), body.platform.as_str());
    let id = repo::device_id(&t, &caller.sub, platform, token);
    // One query answers all three: is this token registered already, is there room, and
    // was the person erased since this token was issued (it must not put a device back).
    let (mine, erased) = repo::list_with_erasure(st.store(), &t, &caller.sub).await?;
    erasure::refuse_older_token(&caller, erased)?;
    if let Some(known) = mine.iter().find(|d| d.id == id) {
        return Ok(Envelope::ok(known.clone().into()));
    }
    if mine.len() >= MAX_DEVICES {
        return Err(ApiError::field(
            "devices",
            format!(
                "at most {MAX_DEVICES} devices per person: remove one first \
                 (DELETE /notify/v1/devices/{{deviceId}})"
            ),
        ));
    }
    let endpoint = push
        .register(platform, token)
        .await
        .map_err(|e| provider_error(e, "register"))?;
    let device = Device {
        id,
        platform: platform.to_owned(),
        endpoint,
        created_at: shared::clock::rfc3339_millis(st.now()),
    };
    if repo::insert(st.store(), &t, &caller.sub, &device).await? {
        let location = format!("/notify/v1/devices/{}", device.id);
        return Ok(Envelope::created(device.into()).at(location));
    }
    // Registered concurrently by another request: that one is the device.
    let known = repo::get(st.store(), &t, &caller.sub, &device.id).await?;
    Ok(Envelope::ok(known.unwrap_or(device).into()))
}

#[utoipa::path(
    delete,
    path = "/notify/v1/devices/{deviceId}",
    operation_id = "delete_device",
    tag = "people",
    summary = "Remove one of the caller's push devices",
    description = "Unregisters the device from the push provider and forgets it: no push \
        reaches it any more. Only the caller's own devices can be named. On a stage without \
        a push provider the device is only forgotten.",
    params(
        ("deviceId" = String, Path, description = "The `id` answered when the device was registered"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The device is removed", body = Data<DeviceRemoved>),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: the caller has no device with this id"),
        (status = 503, description = "`ERR_NOTIFY_PROVIDER_UNAVAILABLE`: the push provider \
            cannot be reached; the device is kept, try again later"),
    )
)]
pub async fn remove(
    State(st): State<NotifyState>,
    caller: Claims,
    Path(device_id): Path<String>,
) -> Result<Envelope<DeviceRemoved>, ApiError> {
    let device = own_device(&st, &caller, &device_id).await?;
    forget(&st, &caller.tenant(), &caller.sub, &device).await?;
    Ok(Envelope::ok(DeviceRemoved {
        id: device.id,
        deleted: true,
    }))
}

/// Unregisters `device` of `user_id` at the push provider and forgets it. Without a push
/// provider on this stage nothing can reach the device anyway: the wish to forget it
/// still wins. A device whose token another person registered since is theirs now at
/// the provider: only the record goes.
pub async fn forget(
    st: &NotifyState,
    t: &TenantId,
    user_id: &str,
    device: &Device,
) -> NotifyResult<()> {
    let owned = repo::owns_endpoint(st.store(), t, user_id, device).await?;
    if let Some(push) = st.channels.push.as_deref().filter(|_| owned) {
        match push.unregister(&device.endpoint).await {
            // A refused endpoint is one the provider no longer knows: nothing to undo.
            Ok(()) | Err(ChannelError::Rejected(_)) => {}
            Err(e) => return Err(provider_error(e, "unregister")),
        }
    }
    repo::remove(st.store(), t, user_id, device, owned).await
}

fn valid_token(raw: &str) -> Result<&str, ApiError> {
    let token = raw.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.chars().any(char::is_control) {
        return Err(ApiError::field(
            "token",
            format!("must be 1-{MAX_TOKEN_LEN} printable characters"),
        ));
    }
    Ok(token)
}

fn push_of(st: &NotifyState) -> NotifyResult<&dyn PushSender> {
    st.channels
        .push
        .as_deref()
        .ok_or(NotifyError::ChannelNotConfigured(Channel::Push))
}

/// The provider's own message is left out: it may quote the token.
fn provider_error(e: ChannelError, call: &str) -> NotifyError {
    match e {
        ChannelError::Rejected(_) => {
            ApiError::field("token", "was refused by the push provider").into()
        }
        ChannelError::Throttled(_) => {
            NotifyError::ProviderUnavailable(format!("push {call}: throttled"))
        }
        ChannelError::Unavailable(_) => {
            NotifyError::ProviderUnavailable(format!("push {call}: unavailable"))
        }
    }
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(list, register, read, remove))]
    struct Doc;
    Doc::openapi()
}
