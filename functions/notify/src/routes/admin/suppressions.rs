//! `/suppressions…`: the tenant's suppression list — contacts nothing is sent to (hard
//! bounces and complaints reported by providers, and manual entries). Keys are built from
//! the caller's tenant: another tenant's entries are simply not found.

use axum::{
    Router,
    extract::{Path, State},
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use shared::query::ApiQuery;
use shared::{
    ApiError, Envelope,
    access::{RequireRole, roles},
    clock::rfc3339_millis,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey, Paged},
    paging::{CursorScope, PageParams},
};
use utoipa::ToSchema;

use crate::{
    error::NotifyError,
    repo::suppressions::{self, Kind, Suppression},
    state::NotifyState,
};

// Routes (listed in the parent module):
// ("GET", "/notify/v1/suppressions"),
// ("POST", "/notify/v1/suppressions"),
// ("DELETE", "/notify/v1/suppressions"),
// ("DELETE", "/notify/v1/suppressions/{contact}"),
// ("POST", "/notify/v1/suppressions/check"),

/// Contacts one check may ask about.
pub const MAX_CHECK: usize = 100;
const MAX_NOTE_CHARS: usize = 500;

/// Adding and removing honour `Idempotency-Key`; the check only reads.
pub fn router(st: &NotifyState) -> Router<NotifyState> {
    let list = shared::idempotency::honour(
        Router::new()
            .route(
                "/notify/v1/suppressions",
                get(list).post(add).delete(remove_named),
            )
            .route("/notify/v1/suppressions/{contact}", delete(remove)),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    );
    list.route("/notify/v1/suppressions/check", post(check))
}

/// Why a contact is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A provider reported a permanent bounce.
    HardBounce,
    /// The recipient reported a message as spam.
    Complaint,
    /// An admin added it.
    Manual,
}

impl Reason {
    fn of(stored: &str) -> Reason {
        match stored {
            "hard_bounce" => Reason::HardBounce,
            "complaint" => Reason::Complaint,
            _ => Reason::Manual,
        }
    }
}

/// One entry of the list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionView {
    /// The email address (lowercase) or E.164 number.
    #[schema(example = "ann@example.com")]
    pub contact: String,
    pub reason: Reason,
    /// The admin's note (manual entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The admin who added it (manual entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The delivery whose bounce or complaint caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

impl From<Suppression> for SuppressionView {
    fn from(s: Suppression) -> Self {
        SuppressionView {
            reason: Reason::of(&s.reason),
            contact: s.contact,
            note: s.note,
            created_at: s.created_at,
            created_by: s.created_by,
            delivery_id: s.delivery_id,
        }
    }
}

#[utoipa::path(
    get,
    path = "/notify/v1/suppressions",
    operation_id = "list_suppressions",
    tag = "admin",
    summary = "List the tenant's suppression list",
    description = "Every suppressed contact of the caller's tenant, by contact, one cursor page \
        at a time. Needs the `admin` role.",
    params(shared::openapi::PageQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of suppressed contacts", body = Paged<SuppressionView>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: `limit` is invalid; \
            `ERR_NOTIFY_INVALID_CURSOR`: the cursor is tampered, expired or another query's"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `admin` role"),
    )
)]
pub async fn list(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    page: PageParams,
) -> Result<Envelope<Vec<SuppressionView>>, ApiError> {
    let scope = CursorScope::new(&caller, "GET /notify/v1/suppressions");
    let start = st.platform.cursors.resume(&scope, &page).await?;
    let (found, next) = suppressions::list(st.store(), &caller.tenant(), page.limit, start).await?;
    let page = st
        .platform
        .cursors
        .page(&scope, page.limit, next.as_ref())
        .await?;
    let views = found.into_iter().map(SuppressionView::from).collect();
    Ok(Envelope::ok(views).with_page(page))
}

/// A contact to suppress by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewSuppression {
    /// An email address or an E.164 phone number (normalised: trimmed, lowercase, no spaces).
    #[schema(example = "ann@example.com")]
    pub contact: String,
    /// Why (kept as the entry's `note`; its `reason` is `manual`), at most 500 characters.
    #[serde(default)]
    #[schema(example = "asked by phone not to be contacted")]
    pub reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/notify/v1/suppressions",
    operation_id = "add_suppression",
    tag = "admin",
    summary = "Suppress a contact",
    description = "Adds an email address or an E.164 number to the tenant's suppression list \
        (`reason: manual`, the body's `reason` as `note`): nothing is sent to it until it is \
        removed. Adding a contact that is already suppressed changes nothing and answers 200 \
        with the entry in force (whatever its reason). Needs the `admin` role.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(content = NewSuppression, example = json!({"contact": "ann@example.com", "reason": "asked not to be contacted"})),
    responses(
        (status = 201, description = "Suppressed", body = Data<SuppressionView>),
        (status = 200, description = "Already suppressed: the entry in force, unchanged", body = Data<SuppressionView>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CONTACT`: `contact` is neither an email \
            address nor an E.164 number"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `admin` role"),
    )
)]
pub async fn add(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    ApiJson(body): ApiJson<NewSuppression>,
) -> Result<Envelope<SuppressionView>, ApiError> {
    let contact = suppressions::normalise(&body.contact, "contact")?;
    let note = body
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::field("reason", "must be at most 500 characters"));
    }
    let mut entry = Suppression::new(contact, Kind::Manual, rfc3339_millis(st.now()));
    entry.note = note;
    entry.created_by = Some(caller.sub.clone());
    let (in_force, added) = suppressions::add(st.store(), &caller.tenant(), &entry).await?;
    let view = SuppressionView::from(in_force);
    Ok(if added {
        Envelope::created(view)
    } else {
        Envelope::ok(view)
    })
}

#[utoipa::path(
    delete,
    path = "/notify/v1/suppressions/{contact}",
    operation_id = "remove_suppression",
    tag = "admin",
    summary = "Remove a contact from the suppression list",
    description = "Messages may reach the contact again. Needs the `admin` role.",
    params(
        ("contact" = String, Path, description = "The email address or E.164 number, URL-encoded \
            (`ann%40example.com`, `%2B14155550100`)"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The removed entry", body = Data<SuppressionView>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CONTACT`: not an email address nor an E.164 number"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `admin` role"),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: the contact is not on the tenant's list"),
    )
)]
pub async fn remove(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    Path(contact): Path<String>,
) -> Result<Envelope<SuppressionView>, ApiError> {
    removed(&st, &caller, &contact).await
}

/// The query of `DELETE /suppressions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// The email address or E.164 number, URL-encoded (`ann%2Fsales%40example.com`; a `+`
    /// is `%2B`, since a bare `+` in a query means a space).
    #[param(example = "ann@example.com")]
    pub contact: Option<String>,
}

#[utoipa::path(
    delete,
    path = "/notify/v1/suppressions",
    operation_id = "remove_suppression_by_query",
    tag = "admin",
    summary = "Remove a contact from the suppression list (contact in the query)",
    description = "As `DELETE /notify/v1/suppressions/{contact}`, for any address: API Gateway \
        decodes a path before it routes it, so an address with `/`, `?`, `#` or `%` (all \
        allowed in an email's local part) cannot be named in the path, but can be here. \
        Needs the `admin` role.",
    params(ContactQuery, IdempotencyKey),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The removed entry", body = Data<SuppressionView>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: no `contact`; \
            `ERR_NOTIFY_INVALID_CONTACT`: not an email address nor an E.164 number"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `admin` role"),
        (status = 404, description = "`ERR_NOTIFY_NOT_FOUND`: the contact is not on the tenant's list"),
    )
)]
pub async fn remove_named(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> Result<Envelope<SuppressionView>, ApiError> {
    let contact = q
        .contact
        .ok_or_else(|| ApiError::field("contact", "is required: ?contact=<address or number>"))?;
    removed(&st, &caller, &contact).await
}

/// Removes `contact` (as given: normalised here) from the caller's tenant's list.
async fn removed(
    st: &NotifyState,
    caller: &RequireRole<roles::Admin>,
    contact: &str,
) -> Result<Envelope<SuppressionView>, ApiError> {
    let contact = suppressions::normalise(contact, "contact")?;
    let removed = suppressions::remove(st.store(), &caller.tenant(), &contact)
        .await?
        .ok_or(NotifyError::NotFound)?;
    Ok(Envelope::ok(removed.into()))
}

/// Contacts to look up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckBody {
    /// 1-100 email addresses or E.164 numbers.
    #[schema(example = json!(["ann@example.com", "+14155550100"]))]
    pub contacts: Vec<String>,
}

/// Whether one contact is suppressed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The contact, normalised.
    pub contact: String,
    pub suppressed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

#[utoipa::path(
    post,
    path = "/notify/v1/suppressions/check",
    operation_id = "check_suppressions",
    tag = "admin",
    summary = "Which of these contacts are suppressed, and why",
    description = "One result per contact, in the order asked (normalised: lowercase emails, \
        compact E.164). Needs the `organizer` role.",
    security(("bearerAuth" = [])),
    request_body(content = CheckBody, example = json!({"contacts": ["ann@example.com", "+14155550100"]})),
    responses(
        (status = 200, description = "One result per contact", body = Data<Vec<CheckResult>>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CONTACT`: `contacts[i]` is neither an \
            email address nor an E.164 number; `ERR_NOTIFY_VALIDATION`: `contacts` is empty or has \
            more than 100"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `organizer` role"),
    )
)]
pub async fn check(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<Envelope<Vec<CheckResult>>, ApiError> {
    if body.contacts.is_empty() || body.contacts.len() > MAX_CHECK {
        return Err(ApiError::field("contacts", "must hold 1 to 100 contacts"));
    }
    let contacts = body
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| suppressions::normalise(c, &format!("contacts[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let found = suppressions::find_many(st.store(), &caller.tenant(), &contacts).await?;
    let results = contacts
        .into_iter()
        .zip(found)
        .map(|(contact, s)| CheckResult {
            contact,
            suppressed: s.is_some(),
            reason: s.map(|s| Reason::of(&s.reason)),
        })
        .collect();
    Ok(Envelope::ok(results))
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(list, add, remove, remove_named, check))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
