//! The secrets port: key material by id. Secrets Manager in AWS; an in-memory map
//! locally, filled by the local gateway, or from `EVENTZR_SECRET_<ID>` environment
//! variables, or from files. Callers cache what they load.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, RwLock},
};

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {0} not found")]
    NotFound(String),
    #[error("secrets store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Secrets: Send + Sync + 'static {
    async fn get(&self, id: &str) -> Result<String, SecretsError>;
}

/// AWS Secrets Manager (`GetSecretValue`, string secrets).
#[derive(Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManager { client }
    }
    /// Creates or replaces a secret's value (key commands and tests; not on request paths).
    pub async fn put(&self, id: &str, value: &str) -> Result<(), SecretsError> {
        use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
        let put = self
            .client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutSecretValueError::ResourceNotFoundException(_))
                ) =>
            {
                self.client
                    .create_secret()
                    .name(id)
                    .secret_string(value)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| SecretsError::Unavailable(error_code(&e)))
            }
            Err(e) => Err(SecretsError::Unavailable(error_code(&e))),
        }
    }
}

fn error_code<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("transport error").to_owned()
}

#[async_trait]
impl Secrets for SecretsManager {
    async fn get(&self, id: &str) -> Result<String, SecretsError> {
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
        match self.client.get_secret_value().secret_id(id).send().await {
            Ok(out) => out
                .secret_string
                .ok_or_else(|| SecretsError::NotFound(id.to_owned())),
            Err(e) => match e.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => {
                    Err(SecretsError::NotFound(id.to_owned()))
                }
                // Never include the error's full text: it may echo request details.
                _ => Err(SecretsError::Unavailable(error_code(&e))),
            },
        }
    }
}

/// Local secrets: values set in memory, else the environment variable
/// `EVENTZR_SECRET_<ID>` (id uppercased, other characters as `_`), else the file
/// `<dir>/<id with '/' as '_'>`.
#[derive(Clone, Default)]
pub struct LocalSecrets {
    values: Arc<RwLock<HashMap<String, String>>>,
    dir: Option<PathBuf>,
}

impl LocalSecrets {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        LocalSecrets {
            values: Default::default(),
            dir: Some(dir.into()),
        }
    }
    pub fn set(&self, id: &str, value: impl Into<String>) {
        self.values
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), value.into());
    }
}

#[async_trait]
impl Secrets for LocalSecrets {
    async fn get(&self, id: &str) -> Result<String, SecretsError> {
        if let Some(v) = self
            .values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return Ok(v.clone());
        }
        if let Ok(v) = std::env::var(env_name(id)) {
            return Ok(v);
        }
        let Some(dir) = &self.dir else {
            return Err(SecretsError::NotFound(id.to_owned()));
        };
        let file = dir.join(id.replace(['/', '\\'], "_"));
        tokio::fs::read_to_string(&file)
            .await
            .map_err(|_| SecretsError::NotFound(id.to_owned()))
    }
}

/// `dev/eventzr/cursor-key` -> `EVENTZR_SECRET_DEV_EVENTZR_CURSOR_KEY`.
pub fn env_name(id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("EVENTZR_SECRET_{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_uppercase_with_underscores() {
        assert_eq!(
            env_name("dev/eventzr/cursor-key"),
            "EVENTZR_SECRET_DEV_EVENTZR_CURSOR_KEY"
        );
    }

    #[tokio::test]
    async fn local_secrets_prefer_set_values_then_files() {
        let dir = std::env::temp_dir().join(format!("ezr-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dev_eventzr_cursor-key"), "from-file").unwrap();
        let s = LocalSecrets::from_dir(&dir);
        assert_eq!(s.get("dev/eventzr/cursor-key").await.unwrap(), "from-file");
        s.set("dev/eventzr/cursor-key", "in-memory");
        assert_eq!(s.get("dev/eventzr/cursor-key").await.unwrap(), "in-memory");
        assert_eq!(
            s.get("missing").await,
            Err(SecretsError::NotFound("missing".into()))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// One secret, re-read at most every `ttl` (a rotation is picked up within it) and
/// never more than once per `ttl` after a failure — so a caller hammering a route that
/// checks it cannot turn into a Secrets Manager request per call.
pub struct CachedSecret {
    secrets: Arc<dyn Secrets>,
    id: String,
    ttl: std::time::Duration,
    slot: tokio::sync::Mutex<Option<(std::time::Instant, Result<String, SecretsError>)>>,
}

impl CachedSecret {
    pub fn new(secrets: Arc<dyn Secrets>, id: impl Into<String>, ttl: std::time::Duration) -> Self {
        CachedSecret {
            secrets,
            id: id.into(),
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// The secret's value (from the cache while fresh).
    pub async fn get(&self) -> Result<String, SecretsError> {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return value.clone();
        }
        let value = if self.id.is_empty() {
            Err(SecretsError::NotFound("(no secret id configured)".into()))
        } else {
            self.secrets.get(&self.id).await
        };
        *slot = Some((std::time::Instant::now(), value.clone()));
        value
    }
}

#[cfg(test)]
mod cached_tests {
    use super::*;

    #[tokio::test]
    async fn a_cached_secret_is_read_once_per_ttl_even_when_missing() {
        let local = LocalSecrets::new();
        let cached = CachedSecret::new(
            Arc::new(local.clone()),
            "k",
            std::time::Duration::from_secs(60),
        );
        assert!(cached.get().await.is_err());
        local.set("k", "v1");
        // Still the remembered failure: no re-read inside the TTL.
        assert!(cached.get().await.is_err());
        let fresh = CachedSecret::new(Arc::new(local.clone()), "k", std::time::Duration::ZERO);
        assert_eq!(fresh.get().await.unwrap(), "v1");
        local.set("k", "v2");
        assert_eq!(fresh.get().await.unwrap(), "v2");
    }
}
