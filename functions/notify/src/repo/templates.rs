//! TODO(helper T): versioned templates.

use shared::{store::Store, tenant::TenantId};

use crate::{domain::template::TemplateVersion, error::NotifyResult};

/// Version `version` of template `id` (the latest when None); None when the template
/// (or that version) does not exist in tenant `t`. Archived templates are still found
/// (deliveries keep pointing at them); `get_active` refuses them.
pub async fn get(
    _store: &dyn Store,
    _t: &TenantId,
    _id: &str,
    _version: Option<i64>,
) -> NotifyResult<Option<TemplateVersion>> {
    Ok(None)
}

/// The latest version of an active (not archived) template, else TEMPLATE_NOT_FOUND.
pub async fn get_active(
    store: &dyn Store,
    t: &TenantId,
    id: &str,
) -> NotifyResult<TemplateVersion> {
    get(store, t, id, None)
        .await?
        .ok_or(crate::error::NotifyError::TemplateNotFound)
}
