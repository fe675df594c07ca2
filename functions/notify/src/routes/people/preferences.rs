//! `/preferences`: the caller's own preferences, and the tenant's defaults (what a person
//! who saved none gets). The send path reads them through `repo::send_reads`.

use axum::{Router, extract::State, routing::get};
use serde::Serialize;
use shared::{
    ApiError, Envelope,
    access::{RequireRole, roles},
    auth::Claims,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey},
};
use utoipa::{OpenApi, ToSchema};

use crate::{
    domain::preferences::{Preferences, PreferencesDoc, PreferencesSource},
    repo::{
        erasure,
        preferences::{self as repo, Effective},
    },
    state::NotifyState,
};

// Routes (listed in the parent module):
// ("GET", "/notify/v1/preferences"),
// ("PUT", "/notify/v1/preferences"),
// ("DELETE", "/notify/v1/preferences"),
// ("GET", "/notify/v1/preferences/defaults"),
// ("PUT", "/notify/v1/preferences/defaults"),

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new()
            .route(
                "/notify/v1/preferences",
                get(get_own).put(put_own).delete(delete_own),
            )
            .route(
                "/notify/v1/preferences/defaults",
                get(get_defaults).put(put_defaults),
            ),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
}

/// Preferences as they apply, and where they come from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesView {
    /// `own`: saved by the person; `tenant_defaults`: the person saved none, the tenant's
    /// defaults apply; `built_in`: neither saved any (everything opted in, no quiet hours,
    /// no caps).
    pub source: PreferencesSource,
    /// When the applying preferences were saved (RFC 3339); null when built in.
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
    /// What applies, in the shape `PUT` takes: edit it and send it back as is.
    pub preferences: PreferencesDoc,
}

impl From<Effective> for PreferencesView {
    fn from(e: Effective) -> Self {
        PreferencesView {
            source: e.source,
            updated_at: e.updated_at,
            preferences: PreferencesDoc::from(&e.preferences),
        }
    }
}

const VALIDATION_400: &str = "`ERR_NOTIFY_VALIDATION`: a field is invalid, named in \
    `details.fields` (`channels.<category>` / `channels.<category>.<channel>` unknown or \
    opting out of `transactional`/`system`, `quietHours.start`/`quietHours.end` not HH:MM or \
    equal, `quietHours.timezone` not an IANA zone, `dailyCaps.<category>` not 0-1000 or \
    essential, or an unknown field)";

#[utoipa::path(
    get,
    path = "/notify/v1/preferences",
    operation_id = "get_preferences",
    tag = "people",
    summary = "Read the caller's preferences",
    description = "The preferences that apply to the caller: their own when they saved any, \
        else the tenant's defaults, else the built-in ones (`source` says which). The matrix \
        always lists every category and channel.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's preferences", body = Data<PreferencesView>),
    )
)]
pub async fn get_own(
    State(st): State<NotifyState>,
    caller: Claims,
) -> Result<Envelope<PreferencesView>, ApiError> {
    let found = repo::resolve(st.store(), &caller.tenant(), Some(&caller.sub)).await?;
    Ok(Envelope::ok(found.into()))
}

#[utoipa::path(
    put,
    path = "/notify/v1/preferences",
    operation_id = "put_preferences",
    tag = "people",
    summary = "Replace the caller's preferences",
    description = "Replaces the caller's own preferences as a whole (what is left out is \
        opted in / not capped / no quiet hours). From then on they apply instead of the \
        tenant's defaults.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(content = PreferencesDoc, example = json!({
        "channels": {"marketing": {"email": true, "sms": false, "push": false, "in_app": true}},
        "quietHours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
        "dailyCaps": {"marketing": 3}
    })),
    responses(
        (status = 200, description = "The caller's preferences as saved", body = Data<PreferencesView>),
        (status = 400, description = VALIDATION_400),
    )
)]
pub async fn put_own(
    State(st): State<NotifyState>,
    caller: Claims,
    ApiJson(body): ApiJson<PreferencesDoc>,
) -> Result<Envelope<PreferencesView>, ApiError> {
    let prefs = Preferences::try_from(body)?;
    // A token issued before the person was erased must not put their data back.
    let erased = erasure::erased_at(st.store(), &caller.tenant(), &caller.sub).await?;
    erasure::refuse_older_token(&caller, erased)?;
    let now = shared::clock::rfc3339_millis(st.now());
    repo::put_own(st.store(), &caller.tenant(), &caller.sub, &prefs, &now).await?;
    Ok(Envelope::ok(saved(prefs, PreferencesSource::Own, now)))
}

#[utoipa::path(
    delete,
    path = "/notify/v1/preferences",
    operation_id = "delete_preferences",
    tag = "people",
    summary = "Go back to the tenant's default preferences",
    description = "Deletes the caller's own preferences: the tenant's defaults (else the \
        built-in ones) apply to them again, as before they saved any. Answers what applies \
        now; deleting none is not an error.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The preferences that apply now", body = Data<PreferencesView>),
    )
)]
pub async fn delete_own(
    State(st): State<NotifyState>,
    caller: Claims,
) -> Result<Envelope<PreferencesView>, ApiError> {
    let now = repo::delete_own(st.store(), &caller.tenant(), &caller.sub).await?;
    Ok(Envelope::ok(now.into()))
}

#[utoipa::path(
    get,
    path = "/notify/v1/preferences/defaults",
    operation_id = "get_preference_defaults",
    tag = "people",
    summary = "Read the tenant's default preferences",
    description = "What a person of the tenant who saved no preferences gets (also every \
        address-only recipient): the tenant's defaults, else the built-in ones (`source`). \
        Needs the `organizer` role.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The tenant's defaults", body = Data<PreferencesView>),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `organizer` role"),
    )
)]
pub async fn get_defaults(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
) -> Result<Envelope<PreferencesView>, ApiError> {
    let found = repo::resolve_defaults(st.store(), &caller.tenant()).await?;
    Ok(Envelope::ok(found.into()))
}

#[utoipa::path(
    put,
    path = "/notify/v1/preferences/defaults",
    operation_id = "put_preference_defaults",
    tag = "people",
    summary = "Replace the tenant's default preferences",
    description = "Replaces the defaults as a whole; they apply at once to every person of \
        the tenant who saved no preferences of their own. Needs the `organizer` role.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(content = PreferencesDoc, example = json!({
        "channels": {"marketing": {"sms": false}},
        "quietHours": null,
        "dailyCaps": {"marketing": 2, "reminder": 5}
    })),
    responses(
        (status = 200, description = "The defaults as saved", body = Data<PreferencesView>),
        (status = 400, description = VALIDATION_400),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `organizer` role"),
    )
)]
pub async fn put_defaults(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    ApiJson(body): ApiJson<PreferencesDoc>,
) -> Result<Envelope<PreferencesView>, ApiError> {
    let prefs = Preferences::try_from(body)?;
    let now = shared::clock::rfc3339_millis(st.now());
    repo::put_defaults(st.store(), &caller.tenant(), &prefs, &now, &caller.sub).await?;
    Ok(Envelope::ok(saved(
        prefs,
        PreferencesSource::TenantDefaults,
        now,
    )))
}

fn saved(preferences: Preferences, source: PreferencesSource, now: String) -> PreferencesView {
    Effective {
        preferences,
        source,
        updated_at: Some(now),
    }
    .into()
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(get_own, put_own, delete_own, get_defaults, put_defaults))]
    struct Doc;
    Doc::openapi()
}
