//! TODO(helper P): preferences and tenant defaults.

use shared::{store::Store, tenant::TenantId};

use crate::{domain::preferences::Preferences, error::NotifyResult};

/// What applies to a person: their own preferences, else the tenant's defaults, else
/// the built-in defaults. `user_id` None (an address-only recipient): the defaults.
pub async fn effective(
    _store: &dyn Store,
    _t: &TenantId,
    _user_id: Option<&str>,
) -> NotifyResult<Preferences> {
    Ok(Preferences::default())
}
