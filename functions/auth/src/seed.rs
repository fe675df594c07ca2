//! The staging tenants of API-CONVENTIONS.md ("Staging accounts"). Written by the local
//! gateway at start and by the explicit seed command for a dev stage — never implicitly
//! by a deployed function. (The staging accounts join them once auth-svc has users.)

use shared::{
    store::{Condition, Item, Key, Put, Store, StoreError},
    tenant::TenantId,
};

pub struct StagingTenant {
    pub id: &'static str,
    pub name: &'static str,
    pub plan: &'static str,
}

pub const STAGING_TENANTS: [StagingTenant; 3] = [
    StagingTenant {
        id: "a0000001-0000-0000-0000-000000000001",
        name: "EventZR",
        plan: "ENTERPRISE",
    },
    StagingTenant {
        id: "a0000003-0000-0000-0000-000000000003",
        name: "StartupCo",
        plan: "STARTUP",
    },
    StagingTenant {
        id: "00000000-0000-0000-0000-000000000000",
        name: "EventZR Platform",
        plan: "ENTERPRISE",
    },
];

/// The tenant record's key: `T#<tenant>#TENANT` / `META`.
pub fn tenant_key(tenant: &TenantId) -> Key {
    Key::tenant(tenant, &["TENANT"], "META")
}

/// Creates the staging tenants that are missing; leaves existing ones as they are, so
/// re-seeding never undoes a change made through the API. Returns how many it created.
pub async fn staging_tenants(store: &dyn Store) -> Result<usize, StoreError> {
    let mut created = 0;
    for t in &STAGING_TENANTS {
        let id = TenantId::parse(t.id).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let item = Item::new(&tenant_key(&id))
            .with("id", t.id)
            .with("name", t.name)
            .with("planTier", t.plan)
            .with("status", "active");
        match store
            .put(Put::new(item).when(Condition::item_absent()))
            .await
        {
            Ok(()) => created += 1,
            Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}
