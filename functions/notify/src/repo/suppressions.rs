//! TODO(helper W): the tenant's suppression list.

use shared::{store::Store, tenant::TenantId};

use crate::error::NotifyResult;

/// One suppressed contact (an email address or an E.164 number, normalised).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub contact: String,
    /// `hard_bounce`, `complaint` or `manual`.
    pub reason: String,
    pub created_at: String,
}

/// The suppression of `contact` in tenant `t`, if any.
pub async fn find(
    _store: &dyn Store,
    _t: &TenantId,
    _contact: &str,
) -> NotifyResult<Option<Suppression>> {
    Ok(None)
}
