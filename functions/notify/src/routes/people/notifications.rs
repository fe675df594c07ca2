//! `/notifications`: the caller's in-app inbox. Items live under the caller's own
//! partition, so another person's (or tenant's) item is simply not found. Marking an item
//! read also moves its delivery to `read`.

use std::collections::HashMap;

use axum::{
    Router,
    extract::{FromRequestParts, Path, State},
    routing::{get, post},
};
use http::request::Parts;
use serde::{Deserialize, Serialize};
use shared::query::{ApiQuery, QueryParams};
use shared::{
    ApiError, Envelope,
    auth::Claims,
    openapi::{Data, IdempotencyKey, Paged},
    paging::{CursorScope, PageParams},
    store::get_each,
};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{
    domain::{Category, Delivery, Priority, Status},
    error::NotifyError,
    repo::{
        self,
        deliveries::{self, Change},
        inbox::{self, InboxItem, MarkRead, Unread},
    },
    state::NotifyState,
};

// Routes (listed in the parent module):
// ("GET", "/notify/v1/notifications"),
// ("GET", "/notify/v1/notifications/unread-count"),
// ("POST", "/notify/v1/notifications/{notificationId}/read"),
// ("POST", "/notify/v1/notifications/read-all"),

pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new()
            .route("/notify/v1/notifications", get(list))
            .route("/notify/v1/notifications/unread-count", get(unread_count))
            .route("/notify/v1/notifications/{notificationId}/read", post(read))
            .route("/notify/v1/notifications/read-all", post(read_all)),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
}

/// One inbox item.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// The id of the `in_app` delivery that put it here.
    #[schema(format = "uuid")]
    pub id: String,
    /// The message's subject.
    pub title: String,
    /// The message's text.
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub read: bool,
    /// When it was marked read.
    #[schema(format = DateTime)]
    pub read_at: Option<String>,
}

impl From<InboxItem> for NotificationView {
    fn from(i: InboxItem) -> Self {
        NotificationView {
            id: i.id,
            title: i.title,
            body: i.body,
            category: i.category,
            priority: i.priority,
            created_at: i.created_at,
            read: i.read,
            read_at: i.read_at,
        }
    }
}

/// `?unread=` of `GET /notifications`.
pub struct UnreadFilter(bool);

impl<S: Send + Sync> FromRequestParts<S> for UnreadFilter {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_uri(&parts.uri);
        match q.get("unread")? {
            None | Some("false") => Ok(UnreadFilter(false)),
            Some("true") => Ok(UnreadFilter(true)),
            Some(_) => Err(ApiError::field("unread", "must be true or false")),
        }
    }
}

/// The query of `GET /notifications` as documented.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema only
pub struct ListQuery {
    /// `true`: only unread items.
    unread: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/notify/v1/notifications",
    operation_id = "list_notifications",
    tag = "people",
    summary = "List the caller's in-app notifications",
    description = "The caller's inbox, newest first, one cursor page at a time; \
        `unread=true` keeps the unread ones only. A page may hold fewer items than `limit` \
        while `page.has_more` is true: with `unread=true`, or when its messages add up to \
        2 MiB (an answer stays within what Lambda can return).",
    params(shared::openapi::PageQuery, ListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of the inbox", body = Paged<NotificationView>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: `limit` or `unread` is invalid; \
            `ERR_NOTIFY_INVALID_CURSOR`: the cursor is tampered, expired or was issued for \
            another query, caller or tenant"),
    )
)]
pub async fn list(
    State(st): State<NotifyState>,
    caller: Claims,
    page: PageParams,
    UnreadFilter(unread): UnreadFilter,
) -> Result<Envelope<Vec<NotificationView>>, ApiError> {
    let scope = CursorScope::new(
        &caller,
        format!("GET /notify/v1/notifications?unread={unread}"),
    );
    let start = st.platform.cursors.resume(&scope, &page).await?;
    let (items, next) = inbox::page(
        st.store(),
        &caller.tenant(),
        &caller.sub,
        page.limit,
        start,
        unread,
    )
    .await?;
    let page = st
        .platform
        .cursors
        .page(&scope, page.limit, next.as_ref())
        .await?;
    let views = items.into_iter().map(Into::into).collect();
    Ok(Envelope::ok(views).with_page(page))
}

/// `{count}` of unread items.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub count: u64,
}

#[utoipa::path(
    get,
    path = "/notify/v1/notifications/unread-count",
    operation_id = "count_unread_notifications",
    tag = "people",
    summary = "Count the caller's unread in-app notifications",
    description = "One counter read (kept with every delivery and read), cheap enough to poll.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The number of unread items", body = Data<UnreadCount>),
    )
)]
pub async fn unread_count(
    State(st): State<NotifyState>,
    caller: Claims,
) -> Result<Envelope<UnreadCount>, ApiError> {
    let count = inbox::unread_count(st.store(), &caller.tenant(), &caller.sub).await?;
    Ok(Envelope::ok(UnreadCount { count }))
}

/// `POST /notifications/{notificationId}/read`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    #[schema(format = "uuid")]
    pub id: String,
    pub read: bool,
    /// False when the item was already read (nothing changed).
    pub changed: bool,
}

#[utoipa::path(
    post,
    path = "/notify/v1/notifications/{notificationId}/read",
    operation_id = "read_notification",
    tag = "people",
    summary = "Mark one of the caller's notifications read",
    description = "Marks the item read, counts it off the unread count and moves its delivery \
        to `read`. An item already read stays as it is (`changed: false`).",
    params(
        ("notificationId" = String, Path, format = "uuid", description = "The item's `id`"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The item is read", body = Data<MarkedRead>),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: the caller has no item with this id"),
    )
)]
pub async fn read(
    State(st): State<NotifyState>,
    caller: Claims,
    Path(id): Path<String>,
) -> Result<Envelope<MarkedRead>, ApiError> {
    // Ids are UUIDs; anything else (say, a 2 KiB segment DynamoDB would refuse as a key)
    // names no item.
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(NotifyError::NotFound.into());
    }
    let (t, now) = (caller.tenant(), st.now());
    let stamp = shared::clock::rfc3339_millis(now);
    let store = st.store();
    // The delivery is read first, so that the item and its delivery move in one
    // transaction; a delivery that changed meanwhile is read again.
    for _ in 0..3 {
        let d = deliveries::get(store, &t, &id).await?;
        let moving = d.as_ref().filter(|d| d.status != Status::Read);
        let with = match moving {
            Some(d) => deliveries::prepare(d, Status::Read, now, Change::default())?
                .map(|p| p.into_parts().1)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        // The item sorts where its delivery says (a delayed one, by its arrival).
        let sort_key = d.as_ref().map_or_else(|| id.clone(), inbox::sort_key);
        let mut marked =
            inbox::mark_read_with(store, &t, &caller.sub, &sort_key, &stamp, with.clone()).await?;
        if marked == MarkRead::NotFound && sort_key != id {
            // Stored before items of deliveries due later sorted by arrival: by its id.
            marked = inbox::mark_read_with(store, &t, &caller.sub, &id, &stamp, with).await?;
        }
        let changed = match marked {
            MarkRead::Marked => true,
            MarkRead::NotFound => return Err(NotifyError::NotFound.into()),
            // Completes a move an earlier request could not make.
            MarkRead::AlreadyRead => {
                if let Some(d) = moving {
                    deliveries::transition(store, now, d, Status::Read, None).await?;
                }
                false
            }
            MarkRead::WithRefused => continue,
        };
        return Ok(Envelope::ok(MarkedRead {
            id,
            read: true,
            changed,
        }));
    }
    Err(ApiError::unavailable(
        "the notification's delivery kept changing",
    ))
}

/// Unread items one `POST /notifications/read-all` marks at most: with their deliveries'
/// moves, 40 transactions, well inside the function's timeout on DynamoDB.
pub const READ_ALL_MAX: usize = 1_000;

/// `POST /notifications/read-all`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadAll {
    /// How many items were unread and are now read.
    pub updated: u64,
    /// True when this call stopped before the oldest item (at its bound): call again with
    /// `?cursor=<nextCursor>` to go on from there.
    pub has_more: bool,
    /// Where the next call goes on; null when `hasMore` is false.
    pub next_cursor: Option<String>,
}

/// The query of `POST /notifications/read-all`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadAllQuery {
    /// `nextCursor` of the previous call, to go on where it stopped.
    pub cursor: Option<String>,
}

#[utoipa::path(
    post,
    path = "/notify/v1/notifications/read-all",
    operation_id = "read_all_notifications",
    tag = "people",
    summary = "Mark all the caller's notifications read",
    description = "Marks the caller's unread items read, newest first (their deliveries move \
        to `read`); the unread count drops by that number. One call marks at most 1,000 and \
        looks through a bounded number of items; `hasMore: true` says it stopped before the \
        oldest: call again with `?cursor=<nextCursor>` until `hasMore` is false. Each call \
        goes on from where the last stopped, so the walk ends however large the inbox. The walk \
        goes from newest to oldest: items that arrive during it are newer than where it is and \
        are left unread (the unread count shows them; a call without a cursor takes them).",
    params(ReadAllQuery, IdempotencyKey),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "How many items were marked", body = Data<ReadAll>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CURSOR`: the cursor is tampered, \
            expired or another caller's"),
    )
)]
pub async fn read_all(
    State(st): State<NotifyState>,
    caller: Claims,
    ApiQuery(q): ApiQuery<ReadAllQuery>,
) -> Result<Envelope<ReadAll>, ApiError> {
    let (t, now) = (caller.tenant(), st.now());
    let stamp = shared::clock::rfc3339_millis(now);
    let store = st.store();
    let scope = CursorScope::new(&caller, "read-all");
    // An empty `cursor=` is no cursor, as on the lists.
    let start = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(st.platform.cursors.decode(&scope, c).await?),
        None => None,
    };
    let (unread, stopped) = inbox::unread_ids(store, &t, &caller.sub, READ_ALL_MAX, start).await?;
    // Their deliveries, in one batch read (100 a request), move to `read` in the items'
    // own transactions.
    let keys: Vec<_> = unread.iter().map(|u| repo::delivery(&t, &u.id)).collect();
    let mut found: HashMap<String, Delivery> = HashMap::new();
    for item in get_each(store, &keys).await?.iter().flatten() {
        let d: Delivery = repo::record(item, "delivery")?;
        found.insert(d.id.clone(), d);
    }
    let moving = |chunk: &[Unread]| -> Vec<&Delivery> {
        chunk
            .iter()
            .filter_map(|u| found.get(&u.id))
            .filter(|d| d.status != Status::Read)
            .collect()
    };
    // The chunk's item updates and its unread counter come first.
    let with = |chunk: &[Unread]| {
        deliveries::transitions(&moving(chunk), Status::Read, now, chunk.len() + 1)
    };
    let done = inbox::mark_all_read(store, &t, &caller.sub, &unread, &stamp, with).await?;
    // Items marked without their deliveries (one read meanwhile, or too large together).
    let alone: Vec<Delivery> = moving(&done.alone).into_iter().cloned().collect();
    deliveries::transition_all(store, now, &alone, Status::Read, None).await?;
    let next_cursor = match &stopped {
        Some(at) => Some(st.platform.cursors.encode(&scope, at).await?),
        None => None,
    };
    Ok(Envelope::ok(ReadAll {
        updated: done.marked.len() as u64,
        has_more: next_cursor.is_some(),
        next_cursor,
    }))
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(list, unread_count, read, read_all))]
    struct Doc;
    Doc::openapi()
}
