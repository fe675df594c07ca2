//! TODO(helper P): the caller's registered push devices.

use shared::{store::Store, tenant::TenantId};

use crate::error::NotifyResult;

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    pub platform: String,
    /// Where push messages go (an SNS endpoint ARN).
    pub endpoint: String,
}

/// Every device `user_id` registered.
pub async fn list(_store: &dyn Store, _t: &TenantId, _user_id: &str) -> NotifyResult<Vec<Device>> {
    Ok(Vec::new())
}
