//! notify-svc's state, built once per cold start (Lambda), by the local gateway, or by tests.

use std::sync::Arc;

use shared::{
    platform::Platform, platform::ServiceState, secrets::CachedSecret, store::Store,
    tenant_status::TenantRecords,
};

use crate::{
    channels::{Channels, local::Recorder},
    config::NotifyConfig,
    webhook::Webhooks,
};

#[derive(Clone)]
pub struct NotifyState {
    pub platform: Platform,
    pub store: Arc<dyn Store>,
    pub cfg: Arc<NotifyConfig>,
    pub channels: Channels,
    pub webhooks: Arc<Webhooks>,
    /// The key `POST /jobs/dispatch` must present (re-read every 5 minutes).
    pub internal_key: Arc<CachedSecret>,
    /// auth's tenant records: a suspended tenant sends nothing.
    pub tenants: TenantRecords,
}

impl NotifyState {
    pub fn new(
        svc: ServiceState,
        cfg: NotifyConfig,
        channels: Channels,
        tenants: TenantRecords,
    ) -> Self {
        let webhooks = Arc::new(Webhooks::new(&svc.platform, &cfg));
        let internal_key = Arc::new(CachedSecret::new(
            svc.platform.secrets.clone(),
            cfg.internal_api_key_secret_id.clone(),
            std::time::Duration::from_secs(300),
        ));
        NotifyState {
            platform: svc.platform,
            store: svc.store,
            cfg: Arc::new(cfg),
            channels,
            webhooks,
            internal_key,
            tenants,
        }
    }

    /// Local gateway and tests: mail to the platform's mailer (the outbox), SMS and push
    /// to `recorder`; tenant status from `tenants` (auth's store).
    pub fn local(svc: ServiceState, recorder: &Recorder, tenants: TenantRecords) -> Self {
        let channels = Channels {
            email: Some(svc.platform.mailer.clone()),
            sms: Some(Arc::new(recorder.clone())),
            push: Some(Arc::new(recorder.clone())),
        };
        Self::new(svc, NotifyConfig::local(), channels, tenants)
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.platform.clock.now()
    }
    pub fn epoch(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}
