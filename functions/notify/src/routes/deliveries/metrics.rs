//! `GET /metrics`: delivery counts by status x channel x day, and the rates over them.
//! Counts come from the day buckets repo::deliveries adds to on every transition.

use std::collections::BTreeMap;

use axum::{Router, extract::State, routing::get};
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use shared::query::QueryParams;
use shared::{ApiError, Envelope, FieldError, access::Role, auth::Claims, openapi::Data};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{repo::counters, state::NotifyState};

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new().route("/notify/v1/metrics", get(metrics))
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(metrics))]
    struct Doc;
    Doc::openapi()
}

/// The longest range one request reads.
pub const MAX_DAYS: i64 = 92;

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema only
pub struct MetricsQuery {
    /// First day (UTC, `YYYY-MM-DD`); default 6 days before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day (UTC, `YYYY-MM-DD`); default today.
    #[param(format = Date)]
    to: Option<String>,
    /// Only this channel.
    channel: Option<String>,
}

/// One day x channel.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCounts {
    #[schema(format = Date)]
    pub date: String,
    pub channel: String,
    /// status -> deliveries that reached it that day.
    pub counts: BTreeMap<String, i64>,
}

/// Rates over the range (null when nothing was sent).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    /// delivered / sent
    pub delivery: Option<f64>,
    /// bounced / sent
    pub bounce: Option<f64>,
    /// complained / sent
    pub complaint: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    #[schema(format = Date)]
    pub from: String,
    #[schema(format = Date)]
    pub to: String,
    /// `own` (a user's deliveries) or `tenant`.
    pub scope: String,
    pub days: Vec<DayCounts>,
    /// status -> count over the range.
    pub totals: BTreeMap<String, i64>,
    pub rates: Rates,
}

#[utoipa::path(
    get,
    path = "/notify/v1/metrics",
    operation_id = "metrics",
    tag = "deliveries",
    summary = "Delivery counts and rates",
    description = "Counts by status x channel x day (UTC) over at most 92 days, with delivery, \
        bounce and complaint rates (over deliveries sent; in-app deliveries count as sent when \
        delivered). A `user` gets their own deliveries' counts, organizers and admins the tenant's.",
    params(MetricsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The counts", body = Data<Metrics>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: `from`, `to` or `channel` is invalid, \
            or the range is longer than 92 days"),
    )
)]
pub async fn metrics(
    State(st): State<NotifyState>,
    caller: Claims,
    q: QueryParams,
) -> Result<Envelope<Metrics>, ApiError> {
    let date = |name: &str| -> Result<Option<NaiveDate>, ApiError> {
        q.get(name)?
            .map(|s| {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .ok()
                    // Bounded, so the range arithmetic below cannot overflow.
                    .filter(|d| (2000..=2999).contains(&chrono::Datelike::year(d)))
                    .ok_or_else(|| {
                        ApiError::field(name, "must be a date YYYY-MM-DD (years 2000-2999)")
                    })
            })
            .transpose()
    };
    let to = date("to")?.unwrap_or_else(|| st.now().date_naive());
    let from = date("from")?.unwrap_or(to - Duration::days(6));
    if from > to {
        return Err(ApiError::field("from", "is after to"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::validation(vec![FieldError::new(
            "from",
            format!("the range is at most {MAX_DAYS} days"),
        )]));
    }
    let channel = match q.get("channel")? {
        Some(c) => Some(
            crate::domain::Channel::parse(c.trim())
                .ok_or_else(|| ApiError::field("channel", "must be email, sms, push or in_app"))?
                .as_str(),
        ),
        None => None,
    };
    let own = (!caller.has_role(Role::Organizer)).then(|| caller.sub.clone());
    let t = caller.tenant();
    let counts = counters::metrics(
        st.store(),
        &t,
        own.as_deref(),
        &from.to_string(),
        &to.to_string(),
    )
    .await?;
    let mut days: Vec<DayCounts> = Vec::new();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut sent = 0;
    // By day, then channel: one DayCounts per run of a day and channel.
    for c in counts {
        if channel.is_some_and(|ch| ch != c.channel) || c.n == 0 {
            continue;
        }
        if c.status == "sent" || (c.channel == "in_app" && c.status == "delivered") {
            sent += c.n;
        }
        *totals.entry(c.status.clone()).or_default() += c.n;
        match days.last_mut() {
            Some(d) if d.date == c.day && d.channel == c.channel => {
                d.counts.insert(c.status, c.n);
            }
            _ => days.push(DayCounts {
                date: c.day,
                channel: c.channel,
                counts: BTreeMap::from([(c.status, c.n)]),
            }),
        }
    }
    let rate = |status: &str| {
        (sent > 0).then(|| totals.get(status).copied().unwrap_or(0) as f64 / sent as f64)
    };
    let rates = Rates {
        delivery: rate("delivered"),
        bounce: rate("bounced"),
        complaint: rate("complained"),
    };
    Ok(Envelope::ok(Metrics {
        from: from.to_string(),
        to: to.to_string(),
        scope: if own.is_some() { "own" } else { "tenant" }.into(),
        days,
        totals,
        rates,
    }))
}
