//! `GET /tenants`, `POST /tenants`, `GET /tenants/{tenantId}`, `PATCH /tenants/{tenantId}`
//! (the platform tenant's system role only: tenants are the platform's business, not a
//! tenant admin's).

use axum::extract::{FromRequestParts, Path, State};
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use shared::query::QueryParams;
use shared::{
    ApiError, Envelope, FieldError,
    auth::Claims,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey, Paged},
    paging::{CursorScope, PageParams},
    tenant::TenantId,
};
use utoipa::{IntoParams, ToSchema};

use super::SystemCaller;
use crate::{
    domain::admin::{plan_tier, tenant_name, tenant_status},
    error::AuthError,
    repo::{
        self,
        admin::{self, TenantChange},
        audit,
        tenants::{self, Tenant},
    },
    state::AuthState,
};

/// `?status=` of `GET /tenants`: `active` or `suspended`.
#[derive(Debug, Default, PartialEq)]
pub struct TenantFilter {
    status: Option<&'static str>,
}

impl TenantFilter {
    fn keeps(&self, t: &Tenant) -> bool {
        self.status.is_none_or(|s| t.status == s)
    }
    /// The query a cursor is bound to: the route and the filter.
    fn scope(&self) -> String {
        format!(
            "GET /auth/v1/tenants?status={}",
            self.status.unwrap_or_default()
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantFilter {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let status = QueryParams::from_uri(&parts.uri)
            .get("status")?
            .map(tenant_status)
            .transpose()
            .map_err(|e| ApiError::validation(vec![e]))?;
        Ok(TenantFilter { status })
    }
}

/// The filter of `GET /tenants` as documented (parsed by `TenantFilter`; paging:
/// `PageQuery`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema only
pub struct TenantListQuery {
    /// Only tenants with this status.
    #[param(inline)]
    status: Option<crate::domain::UserStatus>,
}

#[utoipa::path(
    get,
    path = "/auth/v1/tenants",
    operation_id = "list_tenants",
    tag = "admin",
    summary = "List the tenants",
    description = "Needs the `system` role. Every tenant, one cursor page at a time, in \
        ascending id order: for tenants created by `POST /auth/v1/tenants`, a signup or an \
        OAuth sign-in (UUIDv7 ids) that is creation order, to the millisecond. Optionally \
        filtered by `status` (a filtered page reads at most 1,000 tenants: it may hold fewer \
        than `limit` while `page.has_more` is true). Read from an index: a tenant created or \
        changed a moment ago may show the change a moment later.",
    params(shared::openapi::PageQuery, TenantListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of tenants", body = Paged<Tenant>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: `limit` or `status` is invalid \
            (`details.fields` names it); `ERR_AUTH_INVALID_CURSOR`: the cursor is tampered, \
            expired or was issued for another query or caller"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `system` role \
            of the platform tenant"),
    )
)]
pub async fn list(
    State(st): State<AuthState>,
    claims: Claims,
    page: Result<PageParams, ApiError>,
    filter: Result<TenantFilter, ApiError>,
) -> Result<Envelope<Vec<Tenant>>, ApiError> {
    // 401/403 before 400.
    let (caller, []) = SystemCaller::check_with(claims, &st, []).await?;
    let (page, filter) = (page?, filter?);
    let scope = CursorScope::new(&caller.claims, filter.scope());
    let (found, page) = super::cursor_page(&st, &scope, &page, |start| {
        admin::list_tenants(
            st.store(),
            page.limit,
            start,
            filter.status.is_some(),
            |t| filter.keeps(t),
        )
    })
    .await?;
    Ok(Envelope::ok(found).with_page(page))
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTenantBody {
    /// 1-100 characters.
    #[schema(example = "Acme Events")]
    pub name: String,
    /// BASE, STUDENT, STARTUP, PRO, PROMAX or ENTERPRISE (case-insensitive; `professional`
    /// and `pro_max` are accepted aliases).
    #[schema(example = "STARTUP")]
    pub plan_tier: String,
}

#[utoipa::path(
    post,
    path = "/auth/v1/tenants",
    operation_id = "create_tenant",
    tag = "admin",
    summary = "Create a tenant",
    description = "Needs the `system` role. The tenant starts `active` and without users: invite \
        its first admin with `POST /auth/v1/users/invite` naming it in `x-tenant-id`.",
    params(IdempotencyKey),
    security(("bearerAuth" = [])),
    request_body(content = NewTenantBody, example = json!({"name": "Acme Events", "planTier": "STARTUP"})),
    responses(
        (status = 201, description = "Created", body = Data<Tenant>,
            headers(("Location" = String, description = "`/auth/v1/tenants/{tenantId}`"))),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `system` role \
            of the platform tenant"),
    )
)]
pub async fn create(
    State(st): State<AuthState>,
    caller: SystemCaller,
    ApiJson(body): ApiJson<NewTenantBody>,
) -> Result<Envelope<Tenant>, ApiError> {
    let (name, plan) = match (tenant_name(&body.name), plan_tier(&body.plan_tier)) {
        (Ok(n), Ok(p)) => (n, p),
        (n, p) => return Err(ApiError::validation(errors([n.err(), p.err()]))),
    };
    let tenant = Tenant {
        id: shared::ids::new_id().to_string(),
        name,
        plan_tier: plan.as_str().to_owned(),
        status: "active".into(),
        strict_sessions: false,
    };
    if !tenants::create(st.store(), &tenant).await? {
        return Err(AuthError::Internal("a new tenant id already exists".into()).into());
    }
    record(&st, &caller, "tenant.created", &tenant, json!({})).await;
    let location = format!("/auth/v1/tenants/{}", tenant.id);
    Ok(Envelope::created(tenant).at(location))
}

#[utoipa::path(
    get,
    path = "/auth/v1/tenants/{tenantId}",
    operation_id = "get_tenant",
    tag = "admin",
    summary = "Read a tenant",
    description = "Needs the `system` role. The tenant as stored: name, plan, status and \
        session mode (what `POST /auth/v1/tenants` answered and its `Location` names, with \
        every change since). A malformed id names no tenant (404).",
    params(("tenantId" = String, Path, format = "uuid", description = "The tenant's id (a UUID)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The tenant", body = Data<Tenant>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `system` role \
            of the platform tenant"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such tenant"),
    )
)]
pub async fn get(
    State(st): State<AuthState>,
    claims: Claims,
    Path(tenant_id): Path<String>,
) -> Result<Envelope<Tenant>, ApiError> {
    // The caller's session and the tenant in one batch read: 401/403 first, then 404 (a
    // malformed id is not read).
    let id = match tenant_id_of(&tenant_id) {
        Ok(id) => id,
        Err(e) => {
            SystemCaller::check_with(claims, &st, []).await?;
            return Err(e);
        }
    };
    let (_, [tenant]) = SystemCaller::check_with(claims, &st, [repo::tenant(&id)]).await?;
    Ok(Envelope::ok(tenants::found(tenant.as_ref())?))
}

/// What to change: at least one of the four.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantPatch {
    /// 1-100 characters.
    #[serde(default)]
    #[schema(example = "Acme Events")]
    pub name: Option<String>,
    /// BASE, STUDENT, STARTUP, PRO, PROMAX or ENTERPRISE.
    #[serde(default)]
    #[schema(example = "PRO")]
    pub plan_tier: Option<String>,
    /// `active` or `suspended`.
    #[serde(default)]
    #[schema(example = "active")]
    pub status: Option<String>,
    /// At the session limit (10 a user), refuse a new sign-in with 429
    /// `ERR_AUTH_MAX_SESSIONS_REACHED` (true) instead of ending the user's oldest session
    /// (false, the default).
    #[serde(default)]
    #[schema(example = true)]
    pub strict_sessions: Option<bool>,
}

impl TryFrom<TenantPatch> for TenantChange {
    type Error = ApiError;
    fn try_from(body: TenantPatch) -> Result<Self, ApiError> {
        if body.name.is_none()
            && body.plan_tier.is_none()
            && body.status.is_none()
            && body.strict_sessions.is_none()
        {
            return Err(ApiError::field(
                "body",
                "give name, planTier, status, strictSessions or several",
            ));
        }
        let name = body.name.as_deref().map(tenant_name).transpose();
        let plan = body.plan_tier.as_deref().map(plan_tier).transpose();
        let status = body.status.as_deref().map(tenant_status).transpose();
        match (name, plan, status) {
            (Ok(name), Ok(plan), Ok(status)) => Ok(TenantChange {
                name,
                plan_tier: plan.map(|p| p.as_str()),
                status,
                strict_sessions: body.strict_sessions,
            }),
            (n, p, s) => Err(ApiError::validation(errors([n.err(), p.err(), s.err()]))),
        }
    }
}

#[utoipa::path(
    patch,
    path = "/auth/v1/tenants/{tenantId}",
    operation_id = "update_tenant",
    tag = "admin",
    summary = "Change a tenant's name, plan, status or session mode",
    description = "Needs the `system` role. A suspended tenant's users can no longer sign in or \
        refresh (403 `ERR_AUTH_ACCOUNT_SUSPENDED`); a plan change reaches tokens issued from then on. \
        `strictSessions: true` makes a sign-in past a user's 10 sessions fail with 429 \
        `ERR_AUTH_MAX_SESSIONS_REACHED` instead of ending their oldest session.",
    params(
        ("tenantId" = String, Path, format = "uuid", description = "The tenant's id (a UUID)"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    request_body(
        content = TenantPatch,
        example = json!({"planTier": "PRO"})
    ),
    responses(
        (status = 200, description = "The tenant as changed", body = Data<Tenant>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `system` role \
            of the platform tenant"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such tenant"),
    )
)]
pub async fn patch(
    State(st): State<AuthState>,
    caller: SystemCaller,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<TenantPatch>,
) -> Result<Envelope<Tenant>, ApiError> {
    let id = tenant_id_of(&tenant_id)?;
    let change = TenantChange::try_from(body)?;
    // The platform's own tenant holds the system role: suspended, nobody could sign in
    // to lift the suspension.
    if id == TenantId::SYSTEM && change.status == Some("suspended") {
        return Err(ApiError::field(
            "status",
            "the platform tenant cannot be suspended",
        ));
    }
    let tenant = admin::update_tenant(st.store(), &id, &change).await?;
    let details = json!({
        "name": change.name,
        "planTier": change.plan_tier,
        "status": change.status,
        "strictSessions": change.strict_sessions,
    });
    record(&st, &caller, "tenant.updated", &tenant, details).await;
    Ok(Envelope::ok(tenant))
}

/// A `tenantId` path segment. Anything but a UUID names no tenant: 404, as on every route
/// with an id in its path (API-CONVENTIONS: "route or resource absent").
fn tenant_id_of(raw_id: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(raw_id).map_err(|_| ApiError::not_found())
}

fn errors<const N: usize>(all: [Option<FieldError>; N]) -> Vec<FieldError> {
    all.into_iter().flatten().collect()
}

async fn record(
    st: &AuthState,
    caller: &SystemCaller,
    kind: &'static str,
    t: &Tenant,
    details: Json,
) {
    let Ok(tenant) = TenantId::parse(&t.id) else {
        return;
    };
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &tenant,
            kind,
            actor: Some(caller.id()),
            subject: Some(&t.id),
            details,
        },
    )
    .await;
}
