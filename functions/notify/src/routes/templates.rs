//! Route group `templates`: versioned Handlebars templates and their preview.
//!
//! Keys are built from the caller's tenant, so another tenant's template id — like an
//! unknown or malformed one — is 404 TEMPLATE_NOT_FOUND. Every save is a new immutable
//! version; archiving keeps every version readable for the deliveries that used them.

use std::collections::BTreeMap;

use axum::{
    Router,
    extract::{FromRequestParts, Path, State},
    routing::{get, post},
};
use http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::query::QueryParams;
use shared::{
    ApiError, Envelope, FieldError,
    access::{RequireRole, roles},
    auth::Claims,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey, Paged},
    paging::{CursorScope, PageParams},
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{
        Channel,
        delivery::Rendered,
        template::{self, Draft, TemplateSummary, TemplateVersion},
    },
    error::NotifyError,
    repo::templates as repo,
    state::NotifyState,
};

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notify/v1/templates"),
    ("POST", "/notify/v1/templates"),
    ("GET", "/notify/v1/templates/{templateId}"),
    ("PUT", "/notify/v1/templates/{templateId}"),
    ("DELETE", "/notify/v1/templates/{templateId}"),
    ("POST", "/notify/v1/templates/{templateId}/preview"),
];

/// The writes honour Idempotency-Key; preview writes nothing, and a stored answer would
/// keep its rendering (personal data) for 24 hours.
pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new()
            .route("/notify/v1/templates", get(list).post(create))
            .route(
                "/notify/v1/templates/{templateId}",
                get(read).put(update).delete(archive),
            ),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
    .route("/notify/v1/templates/{templateId}/preview", post(preview))
}

/// This module's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    #[derive(OpenApi)]
    #[openapi(paths(list, create, read, update, archive, preview))]
    struct Doc;
    Doc::openapi()
}

/// A locale's variant: the parts it overrides (the others come from the template).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocaleVariant {
    #[serde(default)]
    #[schema(example = "Votre commande {{order.number}}")]
    pub subject: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

impl From<LocaleVariant> for Rendered {
    fn from(v: LocaleVariant) -> Self {
        Rendered {
            subject: v.subject,
            html: v.html,
            text: v.text,
        }
    }
}

/// A new template (its version 1).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewTemplate {
    /// 1-100 characters (trimmed).
    #[schema(example = "Order confirmation")]
    pub name: String,
    /// `email`, `sms`, `push` or `in_app`.
    #[schema(example = "email")]
    pub channel: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Handlebars; required for email (one line, <= 998 characters); the title of push
    /// and in-app messages; SMS has none.
    #[serde(default)]
    #[schema(example = "Your order {{order.number}}")]
    pub subject: Option<String>,
    /// Handlebars, email only, <= 256 KiB; variables are HTML-escaped (`{{{raw}}}` is not).
    #[serde(default)]
    #[schema(example = "<p>Hello {{user.firstName}}</p>")]
    pub html: Option<String>,
    /// Handlebars, <= 256 KiB; required for sms, push and in_app; email needs html or text.
    #[serde(default)]
    #[schema(example = "Hello {{user.firstName}}")]
    pub text: Option<String>,
    /// Variables a render must be given (dotted paths allowed), checked before rendering.
    #[serde(default)]
    #[schema(example = json!(["user.firstName", "order.number"]))]
    pub required_variables: Vec<String>,
    /// Locale tag (`fr`, `pt-BR`) -> the parts that locale overrides.
    #[serde(default)]
    pub locales: BTreeMap<String, LocaleVariant>,
}

/// A new version: the whole template again, plus the version it was read at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateUpdate {
    /// The version the caller read; another one is 409 (someone saved in between).
    #[schema(example = 1)]
    pub version: i64,
    #[schema(example = "Order confirmation")]
    pub name: String,
    /// May be repeated, but a template's channel never changes.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub required_variables: Vec<String>,
    #[serde(default)]
    pub locales: BTreeMap<String, LocaleVariant>,
}

fn locales(raw: BTreeMap<String, LocaleVariant>) -> BTreeMap<String, Rendered> {
    raw.into_iter().map(|(k, v)| (k, v.into())).collect()
}

/// Unknown, malformed and other tenants' ids alike.
fn not_found() -> ApiError {
    NotifyError::TemplateNotFound.into()
}

#[utoipa::path(
    get,
    path = "/notify/v1/templates",
    operation_id = "list_templates",
    tag = "templates",
    summary = "List the tenant's templates",
    description = "The tenant's templates by name (their latest version's summary, without \
        the sources), one cursor page at a time. Archived templates are left out unless \
        `includeArchived=true` (both kinds) or `archived=true` (archived ones only; \
        `archived=false`: active ones only, the default). A filtered page reads at most 1,000 \
        templates: it may hold fewer than `limit` while `page.has_more` is true. Any role of \
        the tenant may list.",
    params(shared::openapi::PageQuery, ListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of templates", body = Paged<TemplateSummary>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CHANNEL`: `channel` is not email, sms, \
            push or in_app; `ERR_NOTIFY_VALIDATION`: `limit`, `name`, `includeArchived` or \
            `archived` is invalid, or `archived=false` is given with `includeArchived=true` \
            (`details.fields` names it); `ERR_NOTIFY_INVALID_CURSOR`: the cursor is tampered, \
            expired or was issued for another query"),
    )
)]
pub async fn list(
    State(st): State<NotifyState>,
    caller: Claims,
    page: PageParams,
    filter: ListFilter,
) -> Result<Envelope<Vec<TemplateSummary>>, ApiError> {
    let tenant = caller.tenant();
    let scope = CursorScope::new(&caller, filter.scope());
    let start = st.platform.cursors.resume(&scope, &page).await?;
    let (found, next) = repo::list(st.store(), &tenant, &filter.name, page.limit, start, |s| {
        filter.keeps(s)
    })
    .await?;
    let page = st
        .platform
        .cursors
        .page(&scope, page.limit, next.as_ref())
        .await?;
    Ok(Envelope::ok(found).with_page(page))
}

#[utoipa::path(
    post,
    path = "/notify/v1/templates",
    operation_id = "create_template",
    tag = "templates",
    summary = "Create a template",
    description = "Saves version 1 of a new template after compiling every Handlebars source. \
        Needs the `organizer` role. Only Handlebars' built-in helpers exist (`log` excepted): a \
        call to any other helper, a partial (`{{> name}}`) or a decorator (`{{#*inline}}`) is \
        refused with its position.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(
        content = NewTemplate,
        example = json!({
            "name": "Order confirmation",
            "channel": "email",
            "subject": "Your order {{order.number}}",
            "html": "<p>Hello {{user.firstName}}, thanks for your order.</p>",
            "text": "Hello {{user.firstName}}, thanks for your order.",
            "requiredVariables": ["user.firstName", "order.number"],
            "locales": {"fr": {"subject": "Votre commande {{order.number}}"}}
        })
    ),
    responses(
        (status = 201, description = "The template's version 1", body = Data<TemplateVersion>,
            headers(("Location" = String, description = "`/notify/v1/templates/{templateId}`"))),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: a field breaks the rules \
            (`details.fields` names it, e.g. `subject` missing on an email template); \
            `ERR_NOTIFY_INVALID_CHANNEL`: unknown `channel`; `ERR_NOTIFY_INVALID_TEMPLATE`: a \
            source is not valid Handlebars, or is one we refuse (a partial, an unknown helper, \
            nesting too deep, too many tags for its length); `details` gives `field`, `line`, \
            `column`"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `organizer` role"),
    )
)]
pub async fn create(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    ApiJson(body): ApiJson<NewTemplate>,
) -> Result<Envelope<TemplateVersion>, ApiError> {
    let draft = Draft {
        channel: Channel::parse_field("channel", &body.channel)?,
        name: body.name,
        description: body.description,
        subject: body.subject,
        html: body.html,
        text: body.text,
        required_variables: body.required_variables,
        locales: locales(body.locales),
    }
    .validated()?;
    let now = shared::clock::rfc3339_millis(st.now());
    let id = shared::ids::new_id().to_string();
    let v = draft.into_version(&id, 1, &now, &now, &caller.sub);
    repo::create(st.store(), &caller.tenant(), &v).await?;
    Ok(Envelope::created(v).at(format!("/notify/v1/templates/{id}")))
}

#[utoipa::path(
    get,
    path = "/notify/v1/templates/{templateId}",
    operation_id = "get_template",
    tag = "templates",
    summary = "Read a template",
    description = "The latest version, or the one `?version=` names; archived templates \
        stay readable. Any role of the tenant may read.",
    params(
        ("templateId" = String, Path, format = "uuid", description = "The template's id"),
        VersionQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The template version", body = Data<TemplateVersion>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION`: `version` is not a positive integer"),
        (status = 404, description = "`ERR_NOTIFY_TEMPLATE_NOT_FOUND`: no such template (or version) \
            in the caller's tenant"),
    )
)]
pub async fn read(
    State(st): State<NotifyState>,
    caller: Claims,
    Path(id): Path<String>,
    VersionParam(version): VersionParam,
) -> Result<Envelope<TemplateVersion>, ApiError> {
    let v = repo::get(st.store(), &caller.tenant(), &id, version)
        .await?
        .ok_or_else(not_found)?;
    Ok(Envelope::ok(v))
}

#[utoipa::path(
    put,
    path = "/notify/v1/templates/{templateId}",
    operation_id = "update_template",
    tag = "templates",
    summary = "Save a new version of a template",
    description = "Replaces the whole template as a new immutable version N+1; earlier versions \
        stay readable with `?version=`. `version` must be the latest version the caller read \
        (optimistic concurrency). The channel never changes. Needs the `organizer` role.",
    params(
        ("templateId" = String, Path, format = "uuid", description = "The template's id"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    request_body(
        content = TemplateUpdate,
        example = json!({
            "version": 1,
            "name": "Order confirmation",
            "subject": "Your order {{order.number}} is confirmed",
            "text": "Hello {{user.firstName}}, thanks for your order.",
            "requiredVariables": ["user.firstName", "order.number"]
        })
    ),
    responses(
        (status = 200, description = "The new version", body = Data<TemplateVersion>),
        (status = 400, description = "`ERR_NOTIFY_VALIDATION` (`details.fields` names the field, \
            e.g. `channel` when it differs); `ERR_NOTIFY_INVALID_TEMPLATE`: a source is not valid \
            Handlebars, or is one we refuse (a partial, an unknown helper, nesting too deep, too \
            many tags for its length); `details` gives `field`, `line`, `column`"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `organizer` role"),
        (status = 404, description = "`ERR_NOTIFY_TEMPLATE_NOT_FOUND`: no such template in the caller's tenant"),
        (status = 409, description = "`ERR_NOTIFY_CONFLICT`: `version` is not the latest \
            (`details.currentVersion` is), or the template is archived (`details.archived`)"),
    )
)]
pub async fn update(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TemplateUpdate>,
) -> Result<Envelope<TemplateVersion>, ApiError> {
    let tenant = caller.tenant();
    let current = repo::get(st.store(), &tenant, &id, None)
        .await?
        .ok_or_else(not_found)?;
    if current.archived {
        return Err(archived(&current.id));
    }
    if body.version != current.version {
        return Err(NotifyError::VersionConflict {
            current: current.version,
        }
        .into());
    }
    if let Some(raw) = &body.channel
        && Channel::parse_field("channel", raw)? != current.channel
    {
        return Err(ApiError::field(
            "channel",
            "a template's channel cannot change",
        ));
    }
    let draft = Draft {
        channel: current.channel,
        name: body.name,
        description: body.description,
        subject: body.subject,
        html: body.html,
        text: body.text,
        required_variables: body.required_variables,
        locales: locales(body.locales),
    }
    .validated()?;
    let now = shared::clock::rfc3339_millis(st.now());
    let next = draft.into_version(
        &current.id,
        current.version + 1,
        &current.created_at,
        &now,
        &caller.sub,
    );
    if !repo::save_version(st.store(), &tenant, &next).await? {
        return Err(archived(&current.id));
    }
    Ok(Envelope::ok(next))
}

/// The details a send of an archived template answers too (`TemplateArchived`).
fn archived(id: &str) -> ApiError {
    ApiError::conflict("the template is archived; create a new one")
        .with_details(serde_json::json!({ "templateId": id, "archived": true }))
}

#[utoipa::path(
    delete,
    path = "/notify/v1/templates/{templateId}",
    operation_id = "archive_template",
    tag = "templates",
    summary = "Archive a template",
    description = "Archives the template: sends can no longer use it (they answer 409 \
        `ERR_NOTIFY_CONFLICT`), but every version stays readable, and previewable, for the \
        deliveries that used it; `GET /notify/v1/templates?archived=true` lists archived \
        templates. Archiving again changes nothing. Needs the `admin` role.",
    params(
        ("templateId" = String, Path, format = "uuid", description = "The template's id"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The archived template's latest version", body = Data<TemplateVersion>),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `admin` role"),
        (status = 404, description = "`ERR_NOTIFY_TEMPLATE_NOT_FOUND`: no such template in the caller's tenant"),
    )
)]
pub async fn archive(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Admin>,
    Path(id): Path<String>,
) -> Result<Envelope<TemplateVersion>, ApiError> {
    let tenant = caller.tenant();
    let now = shared::clock::rfc3339_millis(st.now());
    let head = repo::archive(st.store(), &tenant, &id, &now)
        .await?
        .ok_or_else(not_found)?;
    let v = repo::version_of(st.store(), &tenant, &head, head.version)
        .await?
        .ok_or_else(not_found)?;
    Ok(Envelope::ok(v))
}

/// `{variables, locale?, version?}` of a preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The variables to render with (an object).
    #[serde(default)]
    #[schema(example = json!({"user": {"firstName": "Ann"}, "order": {"number": "A-1001"}}))]
    pub variables: Option<Value>,
    /// Render this locale's variant (exact tag, else its language, else the default).
    #[serde(default)]
    #[schema(example = "fr-CA")]
    pub locale: Option<String>,
    /// Preview this version instead of the latest.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A rendered preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatePreview {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The text part as sent: a template without one gets its HTML's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The version rendered.
    pub version: i64,
    /// The locale variant used (null: the template's default parts).
    pub locale: Option<String>,
}

#[utoipa::path(
    post,
    path = "/notify/v1/templates/{templateId}/preview",
    operation_id = "preview_template",
    tag = "templates",
    summary = "Render a template with sample variables",
    description = "Renders the latest version (or `version`) as a send would, without sending: \
        required variables are checked first, then each part is rendered (HTML escaping in the \
        html body only; a variable that is missing fails the render). Needs the `organizer` role.",
    params(("templateId" = String, Path, format = "uuid", description = "The template's id")),
    security(("bearerAuth" = [])),
    request_body(
        content = PreviewRequest,
        example = json!({"variables": {"user": {"firstName": "Ann"}, "order": {"number": "A-1001"}}, "locale": "fr"})
    ),
    responses(
        (status = 200, description = "The rendered parts", body = Data<TemplatePreview>),
        (status = 400, description = "`ERR_NOTIFY_MISSING_TEMPLATE_VARIABLES`: required variables \
            are missing or null (`details.missing` lists them all); `ERR_NOTIFY_VALIDATION`: \
            `variables` is not an object or `locale` not a locale tag"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: the caller lacks the `organizer` role"),
        (status = 404, description = "`ERR_NOTIFY_TEMPLATE_NOT_FOUND`: no such template (or version) \
            in the caller's tenant"),
        (status = 422, description = "`ERR_NOTIFY_TEMPLATE_RENDERING_FAILED`: the render failed (an \
            undeclared variable is missing, the result is over 256 KiB, or rendering would take more \
            than 100,000 steps: an element is one, a loop its items times its body, comparing or \
            copying a variable its size); the message names the part, and the line and column \
            where there is one; so does `details`: `field` (e.g. `locales.fr.text`), `part` \
            (`subject`, `html` or `text`), `line`, `column` (null when unknown), and `variable` \
            when one is missing"),
    )
)]
pub async fn preview(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PreviewRequest>,
) -> Result<Envelope<TemplatePreview>, ApiError> {
    let vars = match body.variables {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(ApiError::field("variables", "must be an object")),
    };
    let locale = body.locale.as_deref().map(str::trim);
    if locale.is_some_and(|l| !template::is_locale_tag(&l.replace('_', "-"))) {
        return Err(ApiError::field(
            "locale",
            "must be a locale tag like fr or pt-BR",
        ));
    }
    let v = repo::get(st.store(), &caller.tenant(), &id, body.version)
        .await?
        .ok_or_else(not_found)?;
    let out = template::render(&v, locale, &vars)?;
    // The text part as it would be sent: without one of its own, the HTML's text.
    let text = match (&out.text, &out.html) {
        (None, Some(_)) => Some(out.plain()),
        _ => out.text.clone(),
    };
    Ok(Envelope::ok(TemplatePreview {
        subject: out.subject,
        html: out.html,
        text,
        version: v.version,
        locale: template::variant_for(&v.locales, locale).map(|(tag, _)| tag.to_owned()),
    }))
}

/// The query of `GET /templates` as documented (parsed by `PageParams` and `ListFilter`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema only
pub struct ListQuery {
    /// Only templates of this channel.
    #[param(inline)]
    channel: Option<Channel>,
    /// Only templates whose name starts with this (any case).
    name: Option<String>,
    /// Include archived templates (default false).
    #[param(rename = "includeArchived")]
    include_archived: Option<bool>,
    /// `true`: only archived templates; `false`: only active ones (as when absent).
    archived: Option<bool>,
}

/// `?channel=&name=&includeArchived=&archived=` of `GET /templates`.
#[derive(Debug, Default, PartialEq)]
pub struct ListFilter {
    channel: Option<Channel>,
    name: String,
    include_archived: bool,
    /// Only archived (true) or only active (false) templates.
    archived: Option<bool>,
}

impl ListFilter {
    /// The archive flag lives on the head the list reads anyway: any filter on it is
    /// free (no further request).
    fn keeps(&self, s: &TemplateSummary) -> bool {
        let archive = match self.archived {
            Some(wanted) => s.archived == wanted,
            None => self.include_archived || !s.archived,
        };
        self.channel.is_none_or(|c| s.channel == c) && archive
    }
    /// The query a cursor is bound to: the route and every filter (`archived` only when
    /// given, so the cursors of the other queries stay as they were).
    fn scope(&self) -> String {
        let archived = self
            .archived
            .map_or(String::new(), |a| format!("&archived={a}"));
        format!(
            "GET /notify/v1/templates?channel={}&name={}&includeArchived={}{archived}",
            self.channel.map_or("", Channel::as_str),
            self.name.to_lowercase(),
            self.include_archived
        )
    }
}

/// `true` or `false` of flag `name`, None when absent.
fn flag(q: &QueryParams, name: &str) -> Result<Option<bool>, FieldError> {
    match q.field(name)?.map(|s| s.trim()) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(FieldError::new(name, "must be true or false")),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListFilter {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_uri(&parts.uri);
        let channel = match q
            .get("channel")?
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
        {
            Some(c) => Some(Channel::parse_field("channel", c)?),
            None => None,
        };
        let mut errors = Vec::new();
        let name = q
            .get("name")?
            .map(|n| n.trim().to_owned())
            .unwrap_or_default();
        if name.chars().count() > template::MAX_NAME_CHARS {
            errors.push(FieldError::new("name", "must be at most 100 characters"));
        }
        let mut read_flag = |name| {
            flag(&q, name).unwrap_or_else(|e| {
                errors.push(e);
                None
            })
        };
        let include_archived = read_flag("includeArchived").unwrap_or(false);
        let archived = read_flag("archived");
        if include_archived && archived == Some(false) {
            errors.push(FieldError::new(
                "archived",
                "false lists active templates only, which includeArchived=true contradicts",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(ListFilter {
            channel,
            name,
            include_archived,
            archived,
        })
    }
}

/// `?version=` of `GET /templates/{templateId}` as documented.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema only
pub struct VersionQuery {
    /// A version number (default: the latest).
    #[param(minimum = 1)]
    version: Option<i64>,
}

/// `?version=N`, parsed (400 VALIDATION naming `version` when not a positive integer).
pub struct VersionParam(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for VersionParam {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_uri(&parts.uri);
        match q.get("version")?.map(|v| v.trim()) {
            None | Some("") => Ok(VersionParam(None)),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| VersionParam(Some(n)))
                .ok_or_else(|| ApiError::field("version", "must be a positive integer")),
        }
    }
}
