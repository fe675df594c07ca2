//! Tenants: `T#<tenant>#TENANT` / `META`.

use serde::{Deserialize, Serialize};
use shared::{
    store::{Condition, Item, Put, Store},
    tenant::TenantId,
};

use crate::error::{AuthError, AuthResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub plan_tier: String,
    pub status: String,
    /// Refuse new sessions past the limit (429) instead of evicting the oldest.
    #[serde(default)]
    pub strict_sessions: bool,
}

pub async fn get(store: &dyn Store, id: &TenantId) -> AuthResult<Option<Tenant>> {
    match store.get(&super::tenant(id)).await? {
        Some(item) => item
            .to_record()
            .map(Some)
            .map_err(|e| AuthError::Internal(format!("tenant record: {e}"))),
        None => Ok(None),
    }
}

/// The tenant's plan for tokens (BASE when the record is missing).
pub async fn plan_of(store: &dyn Store, id: &TenantId) -> AuthResult<String> {
    Ok(get(store, id)
        .await?
        .map(|t| t.plan_tier)
        .unwrap_or_else(|| "BASE".into()))
}

/// Creates a tenant; false if it already exists.
pub async fn create(store: &dyn Store, tenant: &Tenant) -> AuthResult<bool> {
    let id = TenantId::parse(&tenant.id).map_err(|e| AuthError::Internal(e.to_string()))?;
    let item = Item::from_record(&super::tenant(&id), tenant)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    match store
        .put(Put::new(item).when(Condition::item_absent()))
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}
