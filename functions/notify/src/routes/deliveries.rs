//! Route group `deliveries`: every delivery and its timeline, cancel, erase, metrics.
//! (One Lambda function in template.yaml.)
//!
//! Visibility: a `user` sees only deliveries addressed to their `userId`; organizers and
//! admins see the tenant's. Another tenant's id, or one the caller may not see, is 404.

pub mod metrics;

use axum::{
    Router,
    extract::{Path, State},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::query::QueryParams;
use shared::{
    ApiError, Envelope, FieldError,
    access::{RequireRole, Role, roles},
    auth::Claims,
    openapi::{Data, Paged},
    paging::{CursorScope, PageParams},
};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{
    domain::{Category, Channel, Delivery, Priority, Recipient, Status, TimelineEntry},
    error::NotifyError,
    repo::deliveries::{self, Scope},
    state::NotifyState,
};

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notify/v1/deliveries"),
    ("GET", "/notify/v1/deliveries/{deliveryId}"),
    ("POST", "/notify/v1/deliveries/{deliveryId}/cancel"),
    ("DELETE", "/notify/v1/deliveries/{deliveryId}"),
    ("GET", "/notify/v1/metrics"),
];

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new()
            .route("/notify/v1/deliveries", get(list))
            .route(
                "/notify/v1/deliveries/{deliveryId}",
                get(get_one).delete(erase),
            )
            .route("/notify/v1/deliveries/{deliveryId}/cancel", post(cancel)), // A retried cancel or erase replays its first answer instead of 409 or 404.
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
    .merge(metrics::router(st))
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(list, get_one, cancel, erase))]
    struct Doc;
    let mut doc = Doc::openapi();
    doc.merge(metrics::openapi());
    doc
}

/// A delivery as answered (without the stored message bodies).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub send_id: String,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub recipient: Recipient,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = "uuid")]
    pub template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i64>,
    /// The locale the send asked for (the template's variant for it, or its language's,
    /// was rendered; else the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "fr-CA")]
    pub locale: Option<String>,
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Every transition, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

impl DeliveryView {
    pub fn of(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            send_id: d.send_id,
            channel: d.channel,
            category: d.category,
            priority: d.priority,
            status: d.status,
            recipient: d.recipient,
            subject: d.content.subject,
            template_id: d.template_id,
            template_version: d.template_version,
            locale: d.locale,
            created_by: d.created_by,
            created_at: d.created_at,
            updated_at: d.updated_at,
            scheduled_at: d.scheduled_at,
            attempts: d.attempts,
            provider_message_id: d.provider_message_id,
            last_error: d.last_error,
            timeline: d.timeline,
        }
    }
}

/// The filters of `GET /deliveries`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `queued`, `scheduled`, `sending`, `sent`, `delivered`, `bounced`, `complained`,
    /// `failed`, `cancelled`, `suppressed`, `skipped`, `read`.
    pub status: Option<String>,
    /// `email`, `sms`, `push`, `in_app`.
    pub channel: Option<String>,
    /// `transactional`, `system`, `marketing`, `reminder`.
    pub category: Option<String>,
    /// A recipient's userId, email or phone (an email in any case, a phone number in any
    /// spelling the send takes).
    pub recipient: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Created at or before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
}

struct Filter {
    status: Option<Status>,
    channel: Option<Channel>,
    category: Option<Category>,
    recipient: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Filter {
    fn parse(q: &QueryParams) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let one = |errors: &mut Vec<FieldError>, name: &str, ok: bool, why: &str| {
            if !ok {
                errors.push(FieldError::new(name, why));
            }
        };
        let status = q
            .gathered("status", &mut errors)
            .map(|s| Status::parse(s.trim()));
        one(
            &mut errors,
            "status",
            !matches!(status, Some(None)),
            "is not a delivery status",
        );
        let channel = q
            .gathered("channel", &mut errors)
            .map(|s| Channel::parse(s.trim()));
        one(
            &mut errors,
            "channel",
            !matches!(channel, Some(None)),
            "must be email, sms, push or in_app",
        );
        let category = q
            .gathered("category", &mut errors)
            .map(|s| Category::parse(s.trim()));
        one(
            &mut errors,
            "category",
            !matches!(category, Some(None)),
            "must be transactional, system, marketing or reminder",
        );
        let time = |s: &str| {
            DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .ok()
        };
        let from = q.gathered("from", &mut errors).map(time);
        one(
            &mut errors,
            "from",
            !matches!(from, Some(None)),
            "must be an RFC 3339 date-time",
        );
        let to = q.gathered("to", &mut errors).map(time);
        one(
            &mut errors,
            "to",
            !matches!(to, Some(None)),
            "must be an RFC 3339 date-time",
        );
        // An address or a number in the form deliveries store it (a phone number as sent,
        // `+1 415 555 0100`, is `+14155550100`); anything else is matched as given (a user id).
        let recipient = q.gathered("recipient", &mut errors).map(|r| {
            crate::repo::suppressions::normalise(r, "recipient")
                .unwrap_or_else(|_| r.trim().to_lowercase())
        });
        one(
            &mut errors,
            "recipient",
            recipient
                .as_ref()
                .is_none_or(|r| !r.is_empty() && r.len() <= 254),
            "must be 1-254 characters",
        );
        if let (Some(Some(f)), Some(Some(t))) = (from, to)
            && f > t
        {
            errors.push(FieldError::new("from", "is after to"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Filter {
            status: status.flatten(),
            channel: channel.flatten(),
            category: category.flatten(),
            recipient,
            from: from.flatten(),
            to: to.flatten(),
        })
    }

    fn keeps(&self, d: &Delivery) -> bool {
        self.status.is_none_or(|s| d.status == s)
            && self.channel.is_none_or(|c| d.channel == c)
            && self.category.is_none_or(|c| d.category == c)
            && self.recipient.as_ref().is_none_or(|r| {
                [&d.recipient.user_id, &d.recipient.email, &d.recipient.phone]
                    .into_iter()
                    .any(|v| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(r)))
            })
    }

    /// UUIDv7 ids sort by creation time: `from`/`to` become a sort-key range.
    fn id_range(&self) -> (Option<String>, Option<String>) {
        let bound = |t: DateTime<Utc>, hi: bool| {
            let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
            let hex = format!("{ms:012x}");
            let tail = if hi {
                "-ffff-ffff-ffff-ffffffffffff"
            } else {
                "-0000-0000-0000-000000000000"
            };
            format!("{}-{}{tail}", &hex[..8], &hex[8..12])
        };
        (
            self.from.map(|t| bound(t, false)),
            self.to.map(|t| bound(t, true)),
        )
    }

    fn scope(&self, user: Option<&str>) -> String {
        format!(
            "GET /notify/v1/deliveries?user={}&status={}&channel={}&category={}&recipient={}&from={}&to={}",
            user.unwrap_or(""),
            self.status.map_or("", Status::as_str),
            self.channel.map_or("", Channel::as_str),
            self.category.map_or("", Category::as_str),
            self.recipient.as_deref().unwrap_or(""),
            self.from.map(|t| t.timestamp_millis()).unwrap_or(0),
            self.to.map(|t| t.timestamp_millis()).unwrap_or(0),
        )
    }
}

/// How many items one request may read to fill a filtered page.
const MAX_SCANNED: usize = 1_000;

#[utoipa::path(
    get,
    path = "/notify/v1/deliveries",
    operation_id = "list_deliveries",
    tag = "deliveries",
    summary = "List deliveries",
    description = "Newest first, one cursor page at a time. A `user` sees the deliveries addressed \
        to their own userId; organizers and admins see the tenant's. Filters combine; a page may \
        hold fewer than `limit` items when filters skip many (follow `next_cursor`).",
    params(shared::openapi::PageQuery, ListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of deliveries", body = Paged<DeliveryView>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: a filter is invalid (`details.fields` \
            names it); `ERR_NOTIFY_INVALID_CURSOR`"),
    )
)]
pub async fn list(
    State(st): State<NotifyState>,
    caller: Claims,
    page: PageParams,
    q: QueryParams,
) -> Result<Envelope<Vec<DeliveryView>>, ApiError> {
    let filter = Filter::parse(&q)?;
    let t = caller.tenant();
    let scope = if caller.has_role(Role::Organizer) {
        Scope::Tenant
    } else {
        Scope::User(caller.sub.clone())
    };
    let own = match &scope {
        Scope::User(u) => Some(u.as_str()),
        Scope::Tenant => None,
    };
    let cursor_scope = CursorScope::new(&caller, filter.scope(own));
    let mut start = st.platform.cursors.resume(&cursor_scope, &page).await?;
    let limit = page.limit as usize;
    let mut found: Vec<Delivery> = Vec::new();
    let mut scanned = 0;
    let next = loop {
        // One more than the page: DynamoDB answers a resume key at its limit even when
        // nothing follows, so the item after the page says whether more do.
        let ask = page.limit.saturating_add(1);
        let (batch, next) =
            deliveries::page(st.store(), &t, &scope, filter.id_range(), start, ask).await?;
        scanned += batch.len();
        let mut rest = batch.into_iter();
        for d in rest.by_ref() {
            if filter.keeps(&d) {
                found.push(d);
                if found.len() == limit {
                    break;
                }
            }
        }
        if found.len() == limit {
            // Resume after the last item returned, unless nothing can follow it.
            let more = rest.next().is_some() || next.is_some();
            break more
                .then(|| {
                    found
                        .last()
                        .map(|d| deliveries::resume_after(&t, &scope, d))
                })
                .flatten();
        }
        match next {
            Some(n) if scanned < MAX_SCANNED => start = Some(n),
            other => break other,
        }
    };
    let page = st
        .platform
        .cursors
        .page(&cursor_scope, page.limit, next.as_ref())
        .await?;
    Ok(Envelope::ok(found.into_iter().map(DeliveryView::of).collect()).with_page(page))
}

/// Reads a delivery the caller may see, else 404.
async fn visible(st: &NotifyState, caller: &Claims, id: &str) -> Result<Delivery, ApiError> {
    let d = deliveries::get(st.store(), &caller.tenant(), id)
        .await?
        .ok_or(NotifyError::NotFound)?;
    if !caller.has_role(Role::Organizer)
        && d.recipient.user_id.as_deref() != Some(caller.sub.as_str())
    {
        return Err(NotifyError::NotFound.into());
    }
    Ok(d)
}

#[utoipa::path(
    get,
    path = "/notify/v1/deliveries/{deliveryId}",
    operation_id = "get_delivery",
    tag = "deliveries",
    summary = "Read a delivery and its timeline",
    description = "Same visibility as the list: a `user` reads only deliveries addressed to them.",
    params(("deliveryId" = String, Path, format = "uuid")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The delivery", body = Data<DeliveryView>),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: no such delivery visible to the caller"),
    )
)]
pub async fn get_one(
    State(st): State<NotifyState>,
    caller: Claims,
    Path(id): Path<String>,
) -> Result<Envelope<DeliveryView>, ApiError> {
    Ok(Envelope::ok(DeliveryView::of(
        visible(&st, &caller, &id).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/notify/v1/deliveries/{deliveryId}/cancel",
    operation_id = "cancel_delivery",
    tag = "deliveries",
    summary = "Cancel a queued or scheduled delivery",
    params(("deliveryId" = String, Path, format = "uuid"), shared::openapi::IdempotencyKey),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Cancelled", body = Data<DeliveryView>),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: admin role required"),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`"),
        (status = 409, description = "`ERR_NOTIFY_DELIVERY_NOT_CANCELLABLE`: it is no longer queued or scheduled"),
    )
)]
pub async fn cancel(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    Path(id): Path<String>,
) -> Result<Envelope<DeliveryView>, ApiError> {
    let d = visible(&st, &caller, &id).await?;
    if !matches!(d.status, Status::Queued | Status::Scheduled) {
        return Err(NotifyError::DeliveryNotCancellable { status: d.status }.into());
    }
    let detail = Some(format!("cancelled by {}", caller.sub));
    // It will never be sent: its quota unit goes back in the cancel's transaction.
    let change = deliveries::Change {
        detail,
        also: deliveries::quota_back(&d),
        ..Default::default()
    };
    match deliveries::apply(st.store(), st.now(), &d, Status::Cancelled, change).await? {
        Some(done) => Ok(Envelope::ok(DeliveryView::of(done))),
        // It moved meanwhile (a dispatcher claimed it): answer what it is now.
        None => {
            let now = visible(&st, &caller, &id).await?;
            Err(NotifyError::DeliveryNotCancellable { status: now.status }.into())
        }
    }
}

/// An erased delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = true)]
    pub erased: bool,
}

#[utoipa::path(
    delete,
    path = "/notify/v1/deliveries/{deliveryId}",
    operation_id = "erase_delivery",
    tag = "deliveries",
    summary = "Erase a delivery (privacy request)",
    description = "Deletes the record, its inbox item and its provider mapping for good. Metrics \
        counts (which hold no personal data) are kept.",
    params(("deliveryId" = String, Path, format = "uuid"), shared::openapi::IdempotencyKey),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Erased", body = Data<Erased>),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: admin role required"),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`"),
    )
)]
pub async fn erase(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    Path(id): Path<String>,
) -> Result<Envelope<Erased>, ApiError> {
    if deliveries::erase(st.store(), &caller.tenant(), &id)
        .await?
        .is_none()
    {
        return Err(NotifyError::NotFound.into());
    }
    tracing::info!(delivery = %id, by = %caller.sub, "delivery erased");
    Ok(Envelope::ok(Erased { id, erased: true }))
}
