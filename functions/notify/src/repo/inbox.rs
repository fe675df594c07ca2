//! TODO(helper P): in-app inbox items and the unread counter.

use shared::{store::Store, tenant::TenantId};

use crate::{domain::Delivery, error::NotifyResult};

/// Puts an in_app delivery into its recipient's inbox (unread).
pub async fn deliver(_store: &dyn Store, _t: &TenantId, _d: &Delivery) -> NotifyResult<()> {
    Ok(())
}
