//! The operator commands behind the `auth-admin` binary (src/bin/auth-admin.rs is only
//! their clap wrapper): the signing key sets in Secrets Manager and the staging seed.
//! Plain async fns over the ports, so tests run them on the local backends and against
//! the emulator alike.
//!
//! Secret formats: shared::auth::keys. The template creates both key secrets holding the
//! placeholder `{"keys":[]}`; `keys init` fills them, `keys rotate` replaces them.

use std::{fmt, str::FromStr};

use async_trait::async_trait;
use shared::{
    auth::keys::{KeyError, PrivateKeySet},
    secrets::{LocalSecrets, Secrets, SecretsError, SecretsManager},
    store::Store,
};

use crate::{
    domain::PasswordHasher,
    error::AuthError,
    seed::{self, Seeded},
};

/// Keys kept by `keys rotate` unless told otherwise: the active one and two previous.
pub const DEFAULT_KEEP: usize = 3;

/// A deployment stage: template.yaml's `Stage` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Dev,
    Staging,
    Prod,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dev => "dev",
            Stage::Staging => "staging",
            Stage::Prod => "prod",
        }
    }

    /// The stage's auth table (template.yaml `AuthTable`).
    pub fn auth_table(self) -> String {
        format!("{self}-auth")
    }
}

impl FromStr for Stage {
    type Err = OpsError;

    fn from_str(s: &str) -> Result<Self, OpsError> {
        match s {
            "dev" => Ok(Stage::Dev),
            "staging" => Ok(Stage::Staging),
            "prod" => Ok(Stage::Prod),
            other => Err(OpsError::UnknownStage(other.to_owned())),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two key secrets of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySecretIds {
    pub private: String,
    pub public: String,
}

impl KeySecretIds {
    /// The names template.yaml gives them (`JwtPrivateKeysSecret`, `JwtPublicKeysSecret`).
    pub fn for_stage(stage: Stage) -> Self {
        KeySecretIds {
            private: format!("{stage}/eventzr/jwt-private-keys"),
            public: format!("{stage}/eventzr/jwt-public-keys"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("unknown stage {0:?} (dev, staging or prod)")]
    UnknownStage(String),
    #[error(
        "{0} already holds keys; --force replaces them, and every token in circulation then stops verifying"
    )]
    KeysExist(String),
    #[error("{0} holds no key set; run `keys init` first")]
    NoKeys(String),
    #[error(
        "--keep must be at least 2: the previous key stays published until tokens signed with it expire"
    )]
    KeepTooSmall,
    #[error("seeding prod is refused: the staging accounts' passwords are published")]
    ProdSeed,
    #[error("--confirm-stage {confirm:?} does not repeat --stage {stage}")]
    StageNotConfirmed { stage: Stage, confirm: String },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("seed: {0}")]
    Seed(#[from] AuthError),
}

/// Secrets read and written whole: Secrets Manager, or the local map in tests.
#[async_trait]
pub trait SecretStore: Secrets {
    /// Creates the secret if it is missing.
    async fn put(&self, id: &str, value: &str) -> Result<(), SecretsError>;
}

#[async_trait]
impl SecretStore for SecretsManager {
    async fn put(&self, id: &str, value: &str) -> Result<(), SecretsError> {
        SecretsManager::put(self, id, value).await
    }
}

#[async_trait]
impl SecretStore for LocalSecrets {
    async fn put(&self, id: &str, value: &str) -> Result<(), SecretsError> {
        self.set(id, value);
        Ok(())
    }
}

/// What a key command left in the secrets (kids only: never key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReport {
    pub active: String,
    /// Newest first.
    pub kids: Vec<String>,
}

impl KeyReport {
    fn of(set: &PrivateKeySet) -> Self {
        KeyReport {
            active: set.active.clone(),
            kids: set.keys.iter().map(|k| k.kid().to_owned()).collect(),
        }
    }
}

/// `keys init`: a fresh set of one key in both secrets. Refuses a secret that already
/// holds keys unless `force`: replacing them invalidates every token in circulation.
pub async fn keys_init(
    secrets: &dyn SecretStore,
    ids: &KeySecretIds,
    force: bool,
) -> Result<KeyReport, OpsError> {
    if !force {
        for id in [&ids.private, &ids.public] {
            if read(secrets, id)
                .await?
                .is_some_and(|json| holds_keys(&json))
            {
                return Err(OpsError::KeysExist(id.clone()));
            }
        }
    }
    let set = PrivateKeySet::generate()?;
    publish(secrets, ids, &set).await?;
    Ok(KeyReport::of(&set))
}

/// `keys rotate`: a new active key; the newest `keep` keys stay (so tokens signed
/// with the previous ones keep verifying until they expire).
pub async fn keys_rotate(
    secrets: &dyn SecretStore,
    ids: &KeySecretIds,
    keep: usize,
) -> Result<KeyReport, OpsError> {
    if keep < 2 {
        return Err(OpsError::KeepTooSmall);
    }
    let json = read(secrets, &ids.private)
        .await?
        .filter(|json| holds_keys(json))
        .ok_or_else(|| OpsError::NoKeys(ids.private.clone()))?;
    let mut set = PrivateKeySet::parse(&json)?;
    set.rotate(keep)?;
    publish(secrets, ids, &set).await?;
    Ok(KeyReport::of(&set))
}

/// Writes the PUBLIC set first, then the private one. A token signed with the new key
/// exists only once auth reads the new private set; a verifier meeting its unknown kid
/// re-reads the public secret (shared::auth::KeyCache), which by then already holds it.
/// The other order leaves a window in which fresh tokens fail as `unknown kid`, for up
/// to a minute per verifier (KeyCache refreshes at most once per MIN_REFRESH). If the
/// second write fails, the public set merely lists a key nobody signs with yet, and
/// running the command again repairs it.
async fn publish(
    secrets: &dyn SecretStore,
    ids: &KeySecretIds,
    set: &PrivateKeySet,
) -> Result<(), OpsError> {
    let public = serde_json::to_string(&set.public_set()).map_err(|e| KeyError(e.to_string()))?;
    secrets.put(&ids.public, &public).await?;
    secrets.put(&ids.private, &set.to_json()).await?;
    Ok(())
}

async fn read(secrets: &dyn SecretStore, id: &str) -> Result<Option<String>, OpsError> {
    match secrets.get(id).await {
        Ok(json) => Ok(Some(json)),
        Err(SecretsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether a key secret holds keys. The template's placeholder `{"keys":[]}` does not;
/// anything unreadable counts as holding keys, so that only `--force` overwrites it.
fn holds_keys(json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|doc| doc["keys"].as_array().map(|keys| !keys.is_empty()))
        .unwrap_or(true)
}

/// `seed`: the staging tenants and accounts (crate::seed) into `store`, for a non-prod
/// stage named twice. Never implicit: their passwords are published in the docs.
pub async fn seed(
    store: &dyn Store,
    stage: Stage,
    confirm_stage: &str,
    now: &str,
) -> Result<Seeded, OpsError> {
    check_seed_stage(stage, confirm_stage)?;
    Ok(seed::staging(store, &PasswordHasher::owasp(), now).await?)
}

/// Prod is refused whatever else is given; any other stage must be repeated exactly.
pub fn check_seed_stage(stage: Stage, confirm_stage: &str) -> Result<(), OpsError> {
    if stage == Stage::Prod {
        return Err(OpsError::ProdSeed);
    }
    if confirm_stage != stage.as_str() {
        return Err(OpsError::StageNotConfirmed {
            stage,
            confirm: confirm_stage.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_placeholder_holds_no_keys_and_garbage_counts_as_keys() {
        assert!(!holds_keys(r#"{"keys":[]}"#));
        assert!(holds_keys(r#"{"keys":[{"kid":"k"}]}"#));
        assert!(holds_keys("not json"));
    }

    #[test]
    fn stages_parse_only_as_the_template_spells_them() {
        assert_eq!("staging".parse::<Stage>().unwrap(), Stage::Staging);
        assert!("Prod".parse::<Stage>().is_err());
        assert_eq!(Stage::Dev.auth_table(), "dev-auth");
        assert_eq!(
            KeySecretIds::for_stage(Stage::Prod).public,
            "prod/eventzr/jwt-public-keys"
        );
    }

    #[test]
    fn seeding_needs_a_non_prod_stage_named_twice() {
        assert!(matches!(
            check_seed_stage(Stage::Prod, "prod"),
            Err(OpsError::ProdSeed)
        ));
        assert!(matches!(
            check_seed_stage(Stage::Dev, "staging"),
            Err(OpsError::StageNotConfirmed { .. })
        ));
        assert!(check_seed_stage(Stage::Staging, "staging").is_ok());
    }
}
