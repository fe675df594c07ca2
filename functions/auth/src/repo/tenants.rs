//! Tenants: `T#<tenant>#TENANT` / `META`, each also in gsi1 under [`INDEX`] (sorted by id),
//! which lists them all (`GET /tenants`).

use serde::{Deserialize, Serialize};
use shared::{
    store::{Condition, Index, Item, Put, Query, Store, attr},
    tenant::TenantId,
};

use crate::error::{AuthError, AuthResult};

/// A tenant (an organisation): its name, plan and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    #[schema(format = "uuid", example = "a0000001-0000-0000-0000-000000000001")]
    pub id: String,
    #[schema(example = "EventZR")]
    pub name: String,
    /// BASE, STUDENT, STARTUP, PRO, PROMAX or ENTERPRISE.
    #[schema(example = "ENTERPRISE")]
    pub plan_tier: String,
    /// `active` or `suspended` (a suspended tenant's users get no tokens).
    #[schema(example = "active")]
    pub status: String,
    /// Refuse new sessions past the limit (429) instead of evicting the oldest.
    #[serde(default)]
    #[schema(required = true)]
    pub strict_sessions: bool,
}

pub async fn get(store: &dyn Store, id: &TenantId) -> AuthResult<Option<Tenant>> {
    store
        .get(&super::tenant(id))
        .await?
        .as_ref()
        .map(from_item)
        .transpose()
}

/// The tenant of an item read in a batch read; NotFound when there is none.
pub fn found(item: Option<&Item>) -> AuthResult<Tenant> {
    item.map(from_item).transpose()?.ok_or(AuthError::NotFound)
}

pub fn from_item(item: &Item) -> AuthResult<Tenant> {
    item.to_record()
        .map_err(|e| AuthError::Internal(format!("tenant record: {e}")))
}

impl Tenant {
    pub fn is_suspended(&self) -> bool {
        self.status == shared::tenant_status::SUSPENDED
    }
}

/// The plan to put in tokens of a tenant's user (BASE when the record is missing);
/// a suspended tenant's users get no tokens at all (403 ACCOUNT_SUSPENDED).
pub async fn plan_of(store: &dyn Store, id: &TenantId) -> AuthResult<String> {
    plan_in(get(store, id).await?)
}

/// [`plan_of`] for a tenant item already read (in a batch read).
pub fn plan_in_item(item: Option<&Item>) -> AuthResult<String> {
    plan_in(item.map(from_item).transpose()?)
}

fn plan_in(tenant: Option<Tenant>) -> AuthResult<String> {
    match tenant {
        Some(t) if t.is_suspended() => Err(AuthError::TenantSuspended),
        Some(t) => Ok(t.plan_tier),
        None => Ok("BASE".into()),
    }
}

/// gsi1 partition holding every tenant record, sorted by tenant id. Not tenant-first,
/// unlike every other partition: it lists the tenants themselves, for the platform's
/// system role. Cannot meet another index partition: those are all `T#<tenant>#…`.
pub const INDEX: &str = "TENANTS";

/// The query of every tenant, in id order (a created tenant's id is a UUIDv7: creation
/// order).
pub fn all() -> Query {
    Query::partition(INDEX).on(Index::Gsi1)
}

/// The attributes placing tenant `id`'s record in [`INDEX`]. Every write that creates a
/// tenant record goes through [`create`]; `admin::update_tenant` sets them again, so a
/// record written before the index existed joins it at its first change.
pub fn index_attrs(id: &TenantId) -> [(&'static str, String); 2] {
    [
        (attr::GSI1PK, INDEX.to_owned()),
        (attr::GSI1SK, id.to_string()),
    ]
}

/// Creates a tenant; false if it already exists.
pub async fn create(store: &dyn Store, tenant: &Tenant) -> AuthResult<bool> {
    let id = TenantId::parse(&tenant.id).map_err(|e| AuthError::Internal(e.to_string()))?;
    let mut item = Item::from_record(&super::tenant(&id), tenant)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    for (name, value) in index_attrs(&id) {
        item.set(name, value);
    }
    match store
        .put(Put::new(item).when(Condition::item_absent()))
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}
