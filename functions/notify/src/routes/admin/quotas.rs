//! `GET|PUT /admin/quotas`: the tenant's caps per channel (the plan's, which an admin
//! may lower, never raise) and today's / this month's usage.

mod body;

use axum::{Router, extract::State, routing::get};
use serde::Serialize;
use shared::{
    ApiError, Envelope,
    access::{PlanTier, RequireRole, roles},
    extract::ApiJson,
    openapi::Data,
    store::Item,
};
use utoipa::{OpenApi, ToSchema};

pub use body::QuotasBody;

use crate::{
    domain::{Channel, quota::plan_caps},
    repo::counters::{self, QuotaSettings, Usage},
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
    let (settings, usage, tier) = read_quotas(&st, &caller).await?;
    let settings = counters::parse_settings(settings.as_ref())?;
    Ok(Envelope::ok(view(&settings, usage, tier)))
}

/// The stored settings item, the usage and the plan the view is made of, in one
/// request: the plan is the one the tenant pays for now (auth's record), else the
/// token's (a token may be 15 minutes older than a plan change).
async fn read_quotas(
    st: &NotifyState,
    caller: &shared::auth::Claims,
) -> Result<(Option<Item>, Usage, PlanTier), ApiError> {
    let t = caller.tenant();
    let (settings, usage, standing) =
        counters::settings_and_usage(st.store(), &st.tenants, &t, st.now()).await?;
    let tier = standing.plan(&t).unwrap_or(caller.plan);
    Ok((settings, usage, tier))
}

/// The quotas as the admin sees them.
fn view(settings: &QuotaSettings, usage: Usage, tier: PlanTier) -> Quotas {
    let mut channels = Vec::new();
    for (ch, d, m) in usage {
        let plan = plan_caps(tier, ch);
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
    Quotas {
        plan: tier.as_str().into(),
        channels,
    }
}

#[utoipa::path(
    put,
    path = "/notify/v1/admin/quotas",
    operation_id = "put_quotas",
    tag = "admin",
    summary = "Lower the tenant's quotas",
    description = "Replaces the tenant's own caps. Each is at most the plan's (a plan upgrade is \
        how caps go up); a channel or period left out goes back to the plan's cap. `channels` \
        is a map (channel -> `{daily?, monthly?}`) or the list `GET` answers, edited and sent \
        back as it is (`[{channel, daily?, monthly?}]`); a period is a whole number or `GET`'s \
        period object, whose `limit` is the cap (`planLimit`, `used` and `remaining` are \
        ignored).",
    params(shared::openapi::IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(
        content = QuotasBody,
        examples(
            ("map" = (summary = "Caps by channel", value = json!(
                {"channels": {"email": {"daily": 500, "monthly": 10000}, "sms": {"daily": 50}}}
            ))),
            ("list" = (summary = "GET's channels, edited", value = json!({"channels": [
                {"channel": "email",
                 "daily": {"limit": 500, "planLimit": 500000, "used": 12, "remaining": 488},
                 "monthly": {"limit": 10000, "planLimit": 10000000, "used": 340, "remaining": 9660}},
                {"channel": "sms", "daily": 50}
            ]})))
        )
    ),
    responses(
        (status = 200, description = "The caps now in force", body = Data<Quotas>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: a cap is negative or above the plan's, \
            a daily cap lowered above the monthly one, or a channel named twice (`details.fields` \
            names it, e.g. `channels.email.daily` or `channels[0].daily`, as the shape sent); \
            `ERR_NOTIFY_INVALID_CHANNEL`: an unknown channel (`channels.pigeon`, \
            `channels[0].channel`)"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: admin role required"),
    )
)]
pub async fn put_quotas(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    ApiJson(body): ApiJson<QuotasBody>,
) -> Result<Envelope<Quotas>, ApiError> {
    // Usage is read with the plan, before the write (which does not change it).
    // The stored settings are replaced unread (even ones that no longer parse).
    let (_, usage, tier) = read_quotas(&st, &caller).await?;
    let settings = body.settings(tier)?;
    counters::put_settings(st.store(), &caller.tenant(), &settings).await?;
    Ok(Envelope::ok(view(&settings, usage, tier)))
}
