//! `GET /profile`, `PATCH /profile`: the caller's own record. PATCH takes name,
//! username, locale and timezone only — roles, tenant, email and verification are not
//! fields here, so a body naming them is refused (400, the field named).

use axum::extract::State;
use serde::Deserialize;
use shared::{
    ApiError, Envelope, FieldError,
    auth::Claims,
    extract::ApiJson,
    openapi::Data,
    store::{Condition, Delete, Item, Put, TransactOp, Update},
};
use utoipa::ToSchema;

use crate::{
    domain::{Username, user::UserView},
    error::AuthError,
    repo::{self, tenants, users},
    state::{AuthState, LiveCaller},
};

#[utoipa::path(
    get,
    path = "/auth/v1/profile",
    operation_id = "get_profile",
    tag = "session",
    summary = "The caller's user record",
    description = "The signed-in user as stored, without secrets, with the tenant's plan.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's record", body = Data<UserView>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the caller's tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
    )
)]
pub async fn get(
    State(st): State<AuthState>,
    claims: Claims,
) -> Result<Envelope<UserView>, ApiError> {
    // Session, user and tenant in one batch read.
    let home = claims.home_tenant();
    let wanted = [repo::user(&home, &claims.sub), repo::tenant(&home)];
    let (_, [user, tenant]) = LiveCaller::check_with(claims, &st, wanted).await?;
    let user = users::found(user.as_ref())?;
    let plan = tenants::plan_in_item(tenant.as_ref())?;
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

/// The fields to change; absent ones stay as they are. No other field is accepted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1-100 characters, not all blank (trimmed).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"\S",
        example = "Partner Account"
    )]
    pub name: Option<String>,
    /// 3-32 letters, digits, `.`, `_` or `-`, stored lowercased; unique across the
    /// platform (it can sign in in place of the email).
    #[schema(pattern = "^[A-Za-z0-9._-]{3,32}$", example = "partner.eventzr")]
    pub username: Option<String>,
    /// 1-35 characters, e.g. a BCP 47 tag.
    #[schema(min_length = 1, max_length = 35, pattern = r"\S", example = "en-GB")]
    pub locale: Option<String>,
    /// 1-64 characters, e.g. an IANA time zone.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"\S",
        example = "Europe/London"
    )]
    pub timezone: Option<String>,
}

fn bounded(field: &str, v: &str, max: usize) -> Result<String, FieldError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be 1-{max} characters"),
        ));
    }
    Ok(v.to_owned())
}

#[utoipa::path(
    patch,
    path = "/auth/v1/profile",
    operation_id = "update_profile",
    tag = "session",
    summary = "Change the caller's name, username, locale or timezone",
    description = "Only `name`, `username`, `locale` and `timezone` can be changed here; a \
        body naming any other field (roles, tenant, email, verification) is refused with 400 \
        naming it. Answers the updated record.",
    security(("bearerAuth" = [])),
    request_body(
        content = ProfilePatch,
        example = json!({"name": "Partner Account", "locale": "en-GB", "timezone": "Europe/London"})
    ),
    responses(
        (status = 200, description = "The updated record", body = Data<UserView>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the caller's tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 409, description = "`ERR_AUTH_USERNAME_TAKEN`: another account has this username"),
    )
)]
pub async fn patch(
    State(st): State<AuthState>,
    claims: Claims,
    body: Result<ApiJson<ProfilePatch>, ApiError>,
) -> Result<Envelope<UserView>, ApiError> {
    // Session, user (its current username) and tenant (its plan) in one batch read;
    // 401 before 400.
    let home = claims.home_tenant();
    let wanted = [repo::user(&home, &claims.sub), repo::tenant(&home)];
    let (caller, [user, tenant]) = LiveCaller::check_with(claims, &st, wanted).await?;
    let ApiJson(body) = body?;
    let mut errors = Vec::new();
    let mut upd = Update::new(repo::user(&caller.tenant(), &caller.claims.sub));
    let mut check = |r: Result<String, FieldError>| r.map_err(|e| errors.push(e)).ok();
    if let Some(v) = body
        .name
        .as_deref()
        .and_then(|v| check(bounded("name", v, 100)))
    {
        upd = upd.set("name", v);
    }
    if let Some(v) = body
        .locale
        .as_deref()
        .and_then(|v| check(bounded("locale", v, 35)))
    {
        upd = upd.set("locale", v);
    }
    if let Some(v) = body
        .timezone
        .as_deref()
        .and_then(|v| check(bounded("timezone", v, 64)))
    {
        upd = upd.set("timezone", v);
    }
    let username = match body.username.as_deref().map(Username::parse) {
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        Some(Ok(u)) => Some(u),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let user = users::found(user.as_ref())?;
    let plan = tenants::plan_in_item(tenant.as_ref())?;
    let now = shared::clock::rfc3339_millis(st.now());
    upd = upd.set("updated_at", now);
    match username.filter(|u| user.username.as_deref() != Some(u.as_ref())) {
        // A new username moves its lock in the same transaction as the record.
        Some(new) => {
            let mut ops = vec![
                TransactOp::Update(
                    upd.set("username", new.as_ref())
                        .when(Condition::item_present()),
                ),
                TransactOp::Put(
                    Put::new(
                        Item::new(&repo::username_lock(&new))
                            .with("tenant_id", user.tenant_id.as_str())
                            .with("user_id", user.id.as_str()),
                    )
                    .when(Condition::item_absent()),
                ),
            ];
            if let Some(old) = user
                .username
                .as_deref()
                .and_then(|u| Username::parse(u).ok())
            {
                ops.push(TransactOp::Delete(Delete::new(repo::username_lock(&old))));
            }
            st.store().transact(ops).await.map_err(|e| match e {
                shared::store::StoreError::TransactionCanceled { .. } => AuthError::UsernameTaken,
                e => e.into(),
            })?;
            // A transaction returns nothing: read the record as it now is.
            let user = users::get(st.store(), &caller.tenant(), &caller.claims.sub)
                .await?
                .ok_or(AuthError::NotFound)?;
            Ok(Envelope::ok(UserView::of(&user, &plan)))
        }
        None => {
            let user = users::update(st.store(), upd).await?;
            Ok(Envelope::ok(UserView::of(&user, &plan)))
        }
    }
}
