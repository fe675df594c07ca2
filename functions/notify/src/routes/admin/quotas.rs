//! `GET|PUT /admin/quotas`: the tenant's caps per channel (the plan's, which an admin
//! may lower, never raise) and today's / this month's usage.

use std::collections::BTreeMap;

use axum::{Router, extract::State, routing::get};
use serde::{Deserialize, Serialize};
use shared::{
    ApiError, Envelope, FieldError,
    access::{RequireRole, roles},
    extract::ApiJson,
    openapi::Data,
};
use utoipa::{OpenApi, ToSchema};

use crate::{
    domain::{Channel, quota::plan_caps},
    repo::counters::{self, LoweredCaps, QuotaSettings},
    state::NotifyState,
};

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new().route("/notify/v1/admin/quotas", get(get_quotas).put(put_quotas)),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(get_quotas, put_quotas))]
    struct Doc;
    Doc::openapi()
}

/// One period of one channel.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    /// The cap in force.
    pub limit: i64,
    /// What the plan allows.
    pub plan_limit: i64,
    pub used: i64,
    pub remaining: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelQuota {
    pub channel: Channel,
    pub daily: Period,
    pub monthly: Period,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    #[schema(example = "ENTERPRISE")]
    pub plan: String,
    pub channels: Vec<ChannelQuota>,
}

#[utoipa::path(
    get,
    path = "/notify/v1/admin/quotas",
    operation_id = "get_quotas",
    tag = "admin",
    summary = "Quotas and usage per channel",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Caps and usage (UTC day and month)", body = Data<Quotas>),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: admin role required"),
    )
)]
pub async fn get_quotas(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
) -> Result<Envelope<Quotas>, ApiError> {
    Ok(Envelope::ok(view(&st, &caller, None).await?))
}

/// The quotas as the admin sees them; `settings` when just written (not read again).
async fn view(
    st: &NotifyState,
    caller: &shared::auth::Claims,
    settings: Option<QuotaSettings>,
) -> Result<Quotas, ApiError> {
    let t = caller.tenant();
    let (settings, usage) =
        counters::settings_and_usage(st.store(), &t, settings, st.now()).await?;
    let mut channels = Vec::new();
    for (ch, d, m) in usage {
        let plan = plan_caps(caller.plan, ch);
        let caps = settings.effective(ch, plan);
        let period = |limit: i64, plan_limit: i64, used: i64| Period {
            limit,
            plan_limit,
            used,
            remaining: (limit - used).max(0),
        };
        channels.push(ChannelQuota {
            channel: ch,
            daily: period(caps.daily, plan.daily, d),
            monthly: period(caps.monthly, plan.monthly, m),
        });
    }
    Ok(Quotas {
        plan: caller.plan.as_str().into(),
        channels,
    })
}

/// New caps per channel; a missing channel or period goes back to the plan's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotasBody {
    /// channel -> `{daily?, monthly?}`; each at most the plan's.
    #[schema(example = json!({"email": {"daily": 500, "monthly": 10000}, "sms": {"daily": 50}}))]
    pub channels: BTreeMap<String, CapsBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapsBody {
    pub daily: Option<i64>,
    pub monthly: Option<i64>,
}

#[utoipa::path(
    put,
    path = "/notify/v1/admin/quotas",
    operation_id = "put_quotas",
    tag = "admin",
    summary = "Lower the tenant's quotas",
    description = "Replaces the tenant's own caps. Each is at most the plan's (a plan upgrade is \
        how caps go up); a channel or period left out goes back to the plan's cap.",
    params(shared::openapi::IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body = QuotasBody,
    responses(
        (status = 200, description = "The caps now in force", body = Data<Quotas>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: a cap is negative or above the plan's, \
            or a daily cap above the monthly one (`details.fields` names it, e.g. \
            `channels.email.daily`); `ERR_NOTIFY_INVALID_CHANNEL`"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: admin role required"),
    )
)]
pub async fn put_quotas(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    ApiJson(body): ApiJson<QuotasBody>,
) -> Result<Envelope<Quotas>, ApiError> {
    let mut settings = QuotaSettings::default();
    let mut errors = Vec::new();
    for (name, caps) in &body.channels {
        let ch = Channel::parse_field(&format!("channels.{name}"), name)?;
        let before = errors.len();
        let plan = plan_caps(caller.plan, ch);
        for (period, value, max) in [
            ("daily", caps.daily, plan.daily),
            ("monthly", caps.monthly, plan.monthly),
        ] {
            if let Some(v) = value
                && !(0..=max).contains(&v)
            {
                errors.push(FieldError::new(
                    format!("channels.{}.{period}", ch.as_str()),
                    format!(
                        "must be 0 to {max} (the {} plan's cap)",
                        caller.plan.as_str()
                    ),
                ));
            }
        }
        // A day's cap set above the month's would promise what the month refuses (a
        // monthly cap lowered alone is fine: the month's counter holds it).
        let monthly = caps.monthly.unwrap_or(plan.monthly);
        if let Some(daily) = caps.daily
            && daily > monthly
            && errors.len() == before
        {
            errors.push(FieldError::new(
                format!("channels.{}.daily", ch.as_str()),
                format!("must not exceed the monthly cap ({monthly})"),
            ));
        }
        settings.channels.insert(
            ch,
            LoweredCaps {
                daily: caps.daily,
                monthly: caps.monthly,
            },
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    counters::put_settings(st.store(), &caller.tenant(), &settings).await?;
    Ok(Envelope::ok(view(&st, &caller, Some(settings)).await?))
}
