//! notify-svc's own settings (beyond shared::config), read once at cold start.

use std::{collections::BTreeMap, env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Secret holding the key `POST /jobs/dispatch` must present (`x-internal-api-key`).
    pub internal_api_key_secret_id: String,
    /// Secret holding the HMAC webhook secrets: JSON `{"<provider>": ["<secret>", …]}`
    /// (several per provider during a rotation).
    pub webhook_secrets_secret_id: String,
    /// SNS topics whose SES notifications `POST /webhooks/ses` accepts.
    pub sns_topic_arns: Vec<String>,
    /// SMS through SNS Publish is set up in this account (sandbox exit, origination).
    pub sms_enabled: bool,
    /// SNS platform application ARN per push platform (`ios`, `android`, `web`).
    pub push_apps: BTreeMap<String, String>,
    /// Provider attempts before a delivery ends `failed`.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt (no jitter: the dispatcher runs once a minute).
    pub retry_base_secs: i64,
    /// How long a send may wait on providers inside a request before the rest is left
    /// `queued` for the dispatcher.
    pub send_budget_ms: u64,
}

impl NotifyConfig {
    /// Local gateway and tests: every channel set up (SES → the outbox, SMS and push →
    /// the local recorder), secrets under `local/eventzr/…`.
    pub fn local() -> Self {
        NotifyConfig {
            internal_api_key_secret_id: "local/eventzr/internal-api-key".into(),
            webhook_secrets_secret_id: "local/eventzr/webhook-secrets".into(),
            sns_topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:eventzr-local-ses".into()],
            sms_enabled: true,
            push_apps: ["ios", "android", "web"]
                .into_iter()
                .map(|p| {
                    (
                        p.to_owned(),
                        format!("arn:aws:sns:us-east-1:123456789012:app/LOCAL/eventzr-{p}"),
                    )
                })
                .collect(),
            max_attempts: 5,
            retry_base_secs: 60,
            send_budget_ms: 5_000,
        }
    }

    /// In AWS: channels are set up only when the stage says so (template.yaml parameters).
    pub fn from_env() -> Result<Self, String> {
        let local = Self::local();
        let list = |name: &str| -> Vec<String> {
            env::var(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let push_apps = ["ios", "android", "web"]
            .into_iter()
            .filter_map(|p| {
                let arn = env::var(format!("PUSH_APP_ARN_{}", p.to_uppercase())).ok()?;
                (!arn.trim().is_empty()).then(|| (p.to_owned(), arn.trim().to_owned()))
            })
            .collect();
        Ok(NotifyConfig {
            internal_api_key_secret_id: env::var("INTERNAL_API_KEY_SECRET_ID").unwrap_or_default(),
            webhook_secrets_secret_id: env::var("WEBHOOK_SECRETS_SECRET_ID").unwrap_or_default(),
            sns_topic_arns: list("SES_NOTIFICATION_TOPIC_ARNS"),
            sms_enabled: env::var("SMS_ENABLED").is_ok_and(|v| v == "true"),
            push_apps,
            ..local
        })
    }
}
