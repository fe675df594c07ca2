//! `/users…` (admin): the acting tenant's users. Keys are built from the caller's
//! tenant, so another tenant's user id is a 404 (never 403: nothing leaks).

use std::collections::BTreeSet;

use axum::extract::{FromRequestParts, Path, State};
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use shared::query::QueryParams;
use shared::{
    ApiError, Envelope, FieldError,
    access::Role,
    auth::Claims,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey, Paged},
    paging::{CursorScope, PageParams},
    store::{Update, Value},
    tenant::TenantId,
    tenant_status::Inactive,
};
use utoipa::{IntoParams, ToSchema};

use super::AdminCaller;
use crate::{
    deletion::UserDeleted,
    domain::{
        User, UserStatus,
        admin::{GrantedRoles, user_status, user_status_name},
        user::UserView,
    },
    error::{AuthError, AuthResult},
    repo::{self, admin, audit, credentials, invites, sessions, tenants, users},
    state::AuthState,
};

/// `?role=&status=` of `GET /users`.
#[derive(Debug, Default, PartialEq)]
pub struct ListFilter {
    role: Option<Role>,
    status: Option<UserStatus>,
}

impl ListFilter {
    fn keeps(&self, u: &User) -> bool {
        self.role.is_none_or(|r| u.has_role(r.as_str()))
            && self.status.is_none_or(|s| u.status == s)
    }
    fn is_set(&self) -> bool {
        self.role.is_some() || self.status.is_some()
    }
    /// The query a cursor is bound to: the route and every filter.
    fn scope(&self) -> String {
        format!(
            "GET /auth/v1/users?role={}&status={}",
            self.role.map_or("", Role::as_str),
            self.status.map_or("", user_status_name)
        )
    }
}

/// The filters of `GET /users` as documented (parsed by `ListFilter`; paging: `PageQuery`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema only
pub struct ListQuery {
    /// Only users holding this role.
    #[param(inline)]
    role: Option<RoleName>,
    /// Only users with this status.
    #[param(inline)]
    status: Option<UserStatus>,
}

/// A role name of the `role` filter.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only
pub enum RoleName {
    User,
    Partner,
    Organizer,
    Admin,
    System,
}

impl<S: Send + Sync> FromRequestParts<S> for ListFilter {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_uri(&parts.uri);
        let mut errors = Vec::new();
        let role = q.gathered("role", &mut errors).and_then(|r| {
            Role::parse(r.trim()).or_else(|| {
                errors.push(FieldError::new(
                    "role",
                    "must be user, partner, organizer, admin or system",
                ));
                None
            })
        });
        let status = q
            .gathered("status", &mut errors)
            .and_then(|s| user_status("status", s).map_err(|e| errors.push(e)).ok());
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(ListFilter { role, status })
    }
}

#[utoipa::path(
    get,
    path = "/auth/v1/users",
    operation_id = "list_users",
    tag = "admin",
    summary = "List the tenant's users",
    description = "The acting tenant's users in creation order, one cursor page at a time, \
        optionally filtered by `role` and `status` (a filtered page reads at most 1,000 users: \
        it may hold fewer than `limit` while `page.has_more` is true). Needs the `admin` role. A `system` caller may act on another tenant's users by naming it in `x-tenant-id`.",
    params(shared::openapi::PageQuery, ListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of users", body = Paged<UserView>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: `limit`, `role` or `status` is invalid \
            (`details.fields` names it); `ERR_AUTH_INVALID_CURSOR`: the cursor is tampered, expired \
            or was issued for another query, caller or tenant"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no tenant has the id a `system` caller \
            named in `x-tenant-id`"),
    )
)]
pub async fn list(
    State(st): State<AuthState>,
    claims: Claims,
    page: Result<PageParams, ApiError>,
    filter: Result<ListFilter, ApiError>,
) -> Result<Envelope<Vec<UserView>>, ApiError> {
    // The session and the tenant (for planTier) in one batch read; 401/403 before 400.
    let tenant = claims.tenant();
    let (caller, [tenant_item]) =
        AdminCaller::check_with(claims, &st, [repo::tenant(&tenant)]).await?;
    let (page, filter) = (page?, filter?);
    // A tenant with no record (a system caller may name any id) has no users: 404, as
    // on the routes that read the tenant itself, not an empty list.
    if tenant_item.is_none() && !tenant.is_system() {
        return Err(AuthError::NotFound.into());
    }
    let scope = CursorScope::new(&caller.claims, filter.scope());
    let (found, page) = super::cursor_page(&st, &scope, &page, |start| {
        admin::list_users(
            st.store(),
            &tenant,
            page.limit,
            start,
            filter.is_set(),
            |u| filter.keeps(u),
        )
    })
    .await?;
    let plan = tenants::plan_in_item(tenant_item.as_ref())?;
    let views = found.iter().map(|u| UserView::of(u, &plan)).collect();
    Ok(Envelope::ok(views).with_page(page))
}

#[utoipa::path(
    get,
    path = "/auth/v1/users/{userId}",
    operation_id = "get_user",
    tag = "admin",
    summary = "Read one of the tenant's users",
    description = "Needs the `admin` role. A user of another tenant is not found (404, never 403). A `system` caller may act on another tenant's users by naming it in `x-tenant-id`.",
    params(("userId" = String, Path, format = "uuid", description = "The user's id (a UUID)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user", body = Data<UserView>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such user in the acting tenant"),
    )
)]
pub async fn get(
    State(st): State<AuthState>,
    claims: Claims,
    Path(user_id): Path<String>,
) -> Result<Envelope<UserView>, ApiError> {
    let (_, user, plan) = caller_user_and_plan(&st, claims, &user_id).await?;
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

/// The admin's session, the user `raw_id` of the acting tenant and that tenant's plan (for
/// planTier) in one batch read. 401/403 first, then 404 (a malformed id names no user,
/// and is not read).
async fn caller_user_and_plan(
    st: &AuthState,
    claims: Claims,
    raw_id: &str,
) -> Result<(AdminCaller, User, String), ApiError> {
    let tenant = claims.tenant();
    let id = match user_id_of(raw_id) {
        Ok(id) => id,
        Err(e) => {
            AdminCaller::check_with(claims, st, []).await?;
            return Err(e);
        }
    };
    let wanted = [repo::user(&tenant, &id), repo::tenant(&tenant)];
    let (caller, [user, tenant_item]) = AdminCaller::check_with(claims, st, wanted).await?;
    let user = users::found(user.as_ref())?;
    let plan = tenants::plan_in_item(tenant_item.as_ref())?;
    Ok((caller, user, plan))
}

/// New roles, a new status, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// 1-10 of `user`, `partner`, `organizer`, `admin` (replaces the current set; `system`
    /// cannot be granted).
    #[serde(default)]
    #[schema(example = json!(["organizer"]))]
    pub roles: Option<Vec<String>>,
    /// `active` or `suspended`.
    #[serde(default)]
    #[schema(example = "active")]
    pub status: Option<String>,
}

/// A parsed `UserPatch`: at least one of the two.
struct Change {
    roles: Option<GrantedRoles>,
    status: Option<UserStatus>,
}

impl TryFrom<UserPatch> for Change {
    type Error = ApiError;
    fn try_from(body: UserPatch) -> Result<Self, ApiError> {
        if body.roles.is_none() && body.status.is_none() {
            return Err(ApiError::field("body", "give roles, status or both"));
        }
        let roles = body.roles.as_deref().map(GrantedRoles::parse).transpose()?;
        let status = body
            .status
            .as_deref()
            .map(|s| user_status("status", s))
            .transpose()
            .map_err(|e| ApiError::validation(vec![e]))?;
        Ok(Change { roles, status })
    }
}

#[utoipa::path(
    patch,
    path = "/auth/v1/users/{userId}",
    operation_id = "update_user",
    tag = "admin",
    summary = "Change a user's roles or status",
    description = "Needs the `admin` role. `roles` replaces the user's set; `system` can be \
        neither granted nor taken away here, and the tenant's last active admin can be neither \
        demoted nor suspended. Suspending the user or changing their roles ends all their \
        sessions (their tokens carry the old roles). A `system` caller may act on another tenant's users by naming it in `x-tenant-id`.",
    params(
        ("userId" = String, Path, format = "uuid", description = "The user's id (a UUID)"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    request_body(content = UserPatch, example = json!({"roles": ["organizer"], "status": "active"})),
    responses(
        (status = 200, description = "The user as changed", body = Data<UserView>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role, asks \
            for the `system` role, or the user holds it; `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting \
            tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such user in the acting tenant"),
        (status = 409, description = "`ERR_AUTH_LAST_ADMIN`: the change would leave the tenant \
            without an active admin; `ERR_AUTH_CONFLICT`: the tenant's users kept changing \
            meanwhile (retry)"),
    )
)]
pub async fn patch(
    State(st): State<AuthState>,
    claims: Claims,
    Path(user_id): Path<String>,
    body: Result<ApiJson<UserPatch>, ApiError>,
) -> Result<Envelope<UserView>, ApiError> {
    // The session and the acting tenant in one batch read, before anything is written:
    // a suspended tenant (403) changes nothing. 401/403 before 400.
    let tenant = claims.tenant();
    let (caller, [tenant_item]) =
        AdminCaller::check_with(claims, &st, [repo::tenant(&tenant)]).await?;
    let ApiJson(body) = body?;
    let change = Change::try_from(body)?;
    let plan = tenants::plan_in_item(tenant_item.as_ref())?;
    let (before, after) = apply(&st, &tenant, &user_id, &change).await?;
    // The same roles in another order are no change: nothing is revoked or audited.
    let roles_changed = {
        let set = |roles: &[String]| roles.iter().cloned().collect::<BTreeSet<_>>();
        set(&before.roles) != set(&after.roles)
    };
    if after.status == UserStatus::Suspended || roles_changed {
        // ASVS 7.4.2: a suspended account keeps no session. A role change ends them too:
        // tokens carry roles, so a demoted admin's token must not keep admin rights on
        // auth's routes (which check that the session is live). A retry re-revokes, harmlessly.
        sessions::revoke_live(st.store(), &tenant, &after.id, None, st.epoch()).await?;
    }
    if admin::is_active_admin(&before) && !admin::is_active_admin(&after) {
        // Their pending invites would be refused at acceptance: revoked, so the pending
        // list shows only invites that work.
        invites::revoke_sent_by(st.store(), &tenant, &after.id, st.epoch()).await?;
    }
    if roles_changed {
        let details = json!({ "from": before.roles, "to": after.roles });
        record(&st, &caller, "role.changed", &after.id, details).await;
    }
    if before.status != after.status {
        let kind = match after.status {
            UserStatus::Suspended => "user.suspended",
            UserStatus::Active => "user.reactivated",
        };
        record(&st, &caller, kind, &after.id, json!({})).await;
    }
    Ok(Envelope::ok(UserView::of(&after, &plan)))
}

/// Reads, checks the last-admin rule and commits under the tenant's roster guard
/// (repo::admin), re-deciding when another change committed in between.
async fn apply(
    st: &AuthState,
    tenant: &TenantId,
    user_id: &str,
    change: &Change,
) -> AuthResult<(User, User)> {
    for _ in 0..3 {
        let seen = admin::roster_version(st.store(), tenant).await?;
        let before = find(st, tenant, user_id).await?;
        if before.has_role("system") {
            // The platform role is never granted here, so it must not be taken away here
            // either: that could leave the platform without a system account.
            return Err(ApiError::forbidden("the system role is managed by the platform").into());
        }
        let roles = change
            .roles
            .as_ref()
            .map_or_else(|| before.roles.clone(), GrantedRoles::names);
        let status = change.status.unwrap_or(before.status);
        let stays_admin = status == UserStatus::Active && roles.iter().any(|r| r == "admin");
        if admin::is_active_admin(&before)
            && !stays_admin
            && !admin::has_other_active_admin(st.store(), tenant, &before.id).await?
        {
            return Err(AuthError::LastAdmin);
        }
        let updated_at = shared::clock::rfc3339_millis(st.now());
        let update = Update::new(users::key_of(&before)?)
            .set(
                "roles",
                Value::L(roles.iter().cloned().map(Value::S).collect()),
            )
            .set("status", user_status_name(status))
            .set("updated_at", updated_at.as_str());
        let standing = match (before.status, status) {
            (_, UserStatus::Suspended) => Some(Some(Inactive::Suspended)),
            (UserStatus::Suspended, UserStatus::Active) => Some(None),
            (UserStatus::Active, UserStatus::Active) => None,
        }
        .map(|inactive| repo::account_standing(tenant, &before.id, inactive));
        if admin::change_user(st.store(), tenant, update, standing, seen).await? {
            // A transaction returns no item: the answer is the user as read with the
            // change applied, not a second read.
            let after = User {
                roles,
                status,
                updated_at,
                ..before.clone()
            };
            return Ok((before, after));
        }
    }
    Err(ApiError::conflict("the tenant's users changed meanwhile; retry").into())
}

#[utoipa::path(
    post,
    path = "/auth/v1/users/{userId}/unlock",
    operation_id = "unlock_user",
    tag = "admin",
    summary = "Clear a user's lockout",
    description = "Needs the `admin` role. Clears the failed-login count and the lock, so the \
        user may log in again at once. A `system` caller may act on another tenant's users by naming it in `x-tenant-id`.",
    params(
        ("userId" = String, Path, format = "uuid", description = "The user's id (a UUID)"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user, unlocked", body = Data<UserView>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: the `Idempotency-Key` is malformed"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such user in the acting tenant"),
    )
)]
pub async fn unlock(
    State(st): State<AuthState>,
    claims: Claims,
    Path(user_id): Path<String>,
) -> Result<Envelope<UserView>, ApiError> {
    let (caller, user, plan) = caller_user_and_plan(&st, claims, &user_id).await?;
    let user = users::clear_failures(st.store(), &user).await?;
    record(&st, &caller, "user.unlocked", &user.id, json!({})).await;
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

#[utoipa::path(
    delete,
    path = "/auth/v1/users/{userId}/mfa",
    operation_id = "reset_user_mfa",
    tag = "admin",
    summary = "Turn off a user's two-step sign-in",
    description = "Needs the `admin` role and a sign-in within the last 10 minutes. For a \
        person who lost their authenticator and their recovery codes, or a device with a \
        passkey: their TOTP secret, recovery codes and passkeys are removed, so their password \
        alone signs them in until they enroll again. Audited (`mfa.reset`, with what was \
        removed). Their sessions are kept. A `system` caller may act on \
        another tenant's users by naming it in `x-tenant-id`.",
    params(
        ("userId" = String, Path, format = "uuid", description = "The user's id (a UUID)"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user, without two-step sign-in", body = Data<UserView>),
        (status = 400, description = "`ERR_AUTH_MFA_NOT_ENABLED`: the user has neither TOTP nor a \
            passkey"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role, or \
            the user holds the `system` role; `ERR_AUTH_REAUTHENTICATION_REQUIRED`: sign in \
            again first; `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such user in the acting tenant"),
    )
)]
pub async fn reset_mfa(
    State(st): State<AuthState>,
    claims: Claims,
    Path(user_id): Path<String>,
) -> Result<Envelope<UserView>, ApiError> {
    let (caller, user, plan) = caller_user_and_plan(&st, claims, &user_id).await?;
    // Removing a second factor is what a thief holding an admin's token would do first:
    // the admin must have signed in lately, as for adding one.
    caller.require_recent_sign_in(st.epoch())?;
    if user.has_role("system") {
        return Err(ApiError::forbidden(
            "the system role is managed by the platform",
        ));
    }
    // Every second factor: TOTP and its recovery codes, and the passkeys (a lost device
    // that still signs in is the case this route exists for).
    let tenant = crate::signin::tenant_of(&user)?;
    let passkeys = credentials::list(st.store(), &tenant, &user.id).await?;
    // One write per factor (each passkey with its id's lock, then TOTP): what was removed
    // is audited even when a later write fails, and a retry finishes the rest.
    let mut removed = 0;
    let reset = async {
        for p in &passkeys {
            removed += usize::from(credentials::remove(st.store(), p).await?);
        }
        crate::repo::mfa::reset(st.store(), &user).await
    }
    .await;
    let totp = matches!(reset, Ok(Some(_)));
    if totp || removed > 0 {
        let details = json!({ "totp": totp, "passkeysRemoved": removed });
        record(&st, &caller, "mfa.reset", &user.id, details).await;
        crate::notices::send(&st, &user.email, crate::notices::Notice::SecondFactorsReset).await;
    }
    let reset = reset?;
    if reset.is_none() && removed == 0 {
        return Err(AuthError::MfaNotEnabled.into());
    }
    let user = reset.unwrap_or(user);
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

#[utoipa::path(
    delete,
    path = "/auth/v1/users/{userId}",
    operation_id = "delete_user",
    tag = "admin",
    summary = "Delete one of the tenant's users",
    description = "Needs the `admin` role and a sign-in within the last 10 minutes. The \
        account goes for good: its sessions end at once (its tokens are refused on auth's \
        routes), its record, passkeys, second factors and links stop working, and its email \
        and username can be registered again. Invites it sent can no longer be accepted. The \
        audit trail keeps its id (`user.deleted`), not its email. The tenant's last active \
        admin cannot be deleted while the tenant has other users (409 `ERR_AUTH_LAST_ADMIN`). A \
        `system` caller may act on another tenant's users by naming it in `x-tenant-id`. \
        Other services keep what they hold about the person (notify: see its erase routes).",
    params(
        ("userId" = String, Path, format = "uuid", description = "The user's id (a UUID)"),
        IdempotencyKey,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user was deleted", body = Data<UserDeleted>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: the `Idempotency-Key` is malformed"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the token's session has ended"),
        (status = 403, description = "`ERR_AUTH_FORBIDDEN`: the caller lacks the `admin` role, or \
            the user holds the `system` role; `ERR_AUTH_REAUTHENTICATION_REQUIRED`: sign in \
            again first; `ERR_AUTH_ACCOUNT_SUSPENDED`: the acting tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: no such user in the acting tenant"),
        (status = 409, description = "`ERR_AUTH_LAST_ADMIN`: the user is the tenant's last active \
            admin and the tenant has other users; `ERR_AUTH_CONFLICT`: the tenant's users kept \
            changing meanwhile (retry)"),
    )
)]
pub async fn delete(
    State(st): State<AuthState>,
    claims: Claims,
    Path(user_id): Path<String>,
) -> Result<Envelope<UserDeleted>, ApiError> {
    let tenant = claims.tenant();
    let (caller, []) = AdminCaller::check_with(claims, &st, []).await?;
    // Irreversible, and what a thief holding an admin's token might do: a recent sign-in.
    caller.require_recent_sign_in(st.epoch())?;
    let id = user_id_of(&user_id)?;
    crate::deletion::delete(&st, &tenant, &id, caller.id()).await
}

/// The user `raw_id` of `tenant`; a malformed id names none (404).
async fn find(st: &AuthState, tenant: &TenantId, raw_id: &str) -> AuthResult<User> {
    users::get(st.store(), tenant, &user_id_of(raw_id)?)
        .await?
        .ok_or(AuthError::NotFound)
}

/// A `userId` path segment as stored (a UUID, hyphenated lowercase). Anything else names
/// no user: 404, as on every route with an id in its path (API-CONVENTIONS: "route or
/// resource absent").
fn user_id_of(raw_id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw_id)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::not_found())
}

pub(super) async fn record(
    st: &AuthState,
    caller: &AdminCaller,
    kind: &'static str,
    subject: &str,
    details: Json,
) {
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &caller.tenant(),
            kind,
            actor: Some(caller.id()),
            subject: (!subject.is_empty()).then_some(subject),
            details,
        },
    )
    .await;
}
