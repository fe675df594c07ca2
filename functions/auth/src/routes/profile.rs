//! `GET /profile`, `PATCH /profile`: the caller's own record. PATCH takes name,
//! username, locale and timezone only — roles, tenant, email and verification are not
//! fields here, so a body naming them is refused (400, the field named).

use axum::extract::State;
use serde::Deserialize;
use shared::{
    ApiError, Envelope, FieldError,
    extract::ApiJson,
    store::{Condition, Delete, Item, Put, TransactOp, Update},
};

use crate::{
    domain::{Username, user::UserView},
    error::AuthError,
    repo::{self, tenants, users},
    state::{AuthState, LiveCaller},
};

pub async fn get(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<UserView>, ApiError> {
    let user = users::get(st.store(), &caller.tenant(), &caller.claims.sub)
        .await?
        .ok_or(AuthError::NotFound)?;
    let plan = tenants::plan_of(st.store(), &caller.tenant()).await?;
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub username: Option<String>,
    pub locale: Option<String>,
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

pub async fn patch(
    State(st): State<AuthState>,
    caller: LiveCaller,
    ApiJson(body): ApiJson<ProfilePatch>,
) -> Result<Envelope<UserView>, ApiError> {
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
    let user = users::get(st.store(), &caller.tenant(), &caller.claims.sub)
        .await?
        .ok_or(AuthError::NotFound)?;
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
        }
        None => {
            users::update(st.store(), upd).await?;
        }
    }
    get(State(st), caller).await
}
