//! A person's preferences (`T#<t>#U#<userId>` / `PREFS`) and the tenant's defaults
//! (`T#<t>#SETTINGS` / `PREFS`). Both hold the validated document under `prefs`, so a
//! stored record always parses back.

use serde::{Deserialize, Serialize};
use shared::{
    store::{Key, Put, Store},
    tenant::TenantId,
};

use crate::{
    domain::preferences::{Preferences, PreferencesDoc, PreferencesSource},
    error::{NotifyError, NotifyResult},
};

const SK: &str = "PREFS";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    prefs: PreferencesDoc,
    updated_at: String,
    updated_by: String,
}

/// Preferences as saved, with when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub preferences: Preferences,
    pub updated_at: String,
}

/// The preferences that apply to someone, and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub preferences: Preferences,
    pub source: PreferencesSource,
    /// When the applying record was saved (None: built in).
    pub updated_at: Option<String>,
}

/// What applies to a person: their own preferences, else the tenant's defaults, else
/// the built-in defaults. `user_id` None (an address-only recipient): the defaults.
pub async fn effective(
    store: &dyn Store,
    t: &TenantId,
    user_id: Option<&str>,
) -> NotifyResult<Preferences> {
    Ok(resolve(store, t, user_id).await?.preferences)
}

/// What applies to someone without preferences of their own: the tenant's defaults,
/// else the built-in ones. A send reads it once for all its recipients.
pub async fn tenant_defaults(store: &dyn Store, t: &TenantId) -> NotifyResult<Preferences> {
    Ok(defaults(store, t)
        .await?
        .map(|d| d.preferences)
        .unwrap_or_default())
}

/// [`effective`] with the tenant's defaults already read: one read per person with a
/// `userId`, none for an address-only recipient.
pub async fn effective_over(
    store: &dyn Store,
    t: &TenantId,
    user_id: Option<&str>,
    defaults: &Preferences,
) -> NotifyResult<Preferences> {
    match user_id {
        Some(user) => Ok(own(store, t, user)
            .await?
            .map_or_else(|| defaults.clone(), |o| o.preferences)),
        None => Ok(defaults.clone()),
    }
}

/// [`effective`], saying where the preferences come from.
pub async fn resolve(
    store: &dyn Store,
    t: &TenantId,
    user_id: Option<&str>,
) -> NotifyResult<Effective> {
    if let Some(user) = user_id
        && let Some(own) = own(store, t, user).await?
    {
        return Ok(Effective {
            preferences: own.preferences,
            source: PreferencesSource::Own,
            updated_at: Some(own.updated_at),
        });
    }
    Ok(match defaults(store, t).await? {
        Some(d) => Effective {
            preferences: d.preferences,
            source: PreferencesSource::TenantDefaults,
            updated_at: Some(d.updated_at),
        },
        None => Effective {
            preferences: Preferences::default(),
            source: PreferencesSource::BuiltIn,
            updated_at: None,
        },
    })
}

/// The tenant's defaults, else the built-in ones.
pub async fn resolve_defaults(store: &dyn Store, t: &TenantId) -> NotifyResult<Effective> {
    resolve(store, t, None).await
}

/// `user_id`'s own preferences, if they saved any.
pub async fn own(store: &dyn Store, t: &TenantId, user_id: &str) -> NotifyResult<Option<Saved>> {
    read(store, &super::user_item(t, user_id, SK)).await
}

/// The tenant's defaults, if an organizer saved any.
pub async fn defaults(store: &dyn Store, t: &TenantId) -> NotifyResult<Option<Saved>> {
    read(store, &super::settings(t, SK)).await
}

/// Replaces `user_id`'s own preferences.
pub async fn put_own(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    prefs: &Preferences,
    now: &str,
) -> NotifyResult<()> {
    write(
        store,
        &super::user_item(t, user_id, SK),
        prefs,
        now,
        user_id,
    )
    .await
}

/// Replaces the tenant's defaults (`by`: the organizer's id).
pub async fn put_defaults(
    store: &dyn Store,
    t: &TenantId,
    prefs: &Preferences,
    now: &str,
    by: &str,
) -> NotifyResult<()> {
    write(store, &super::settings(t, SK), prefs, now, by).await
}

async fn read(store: &dyn Store, key: &Key) -> NotifyResult<Option<Saved>> {
    let Some(item) = store.get(key).await? else {
        return Ok(None);
    };
    let record: Record = super::record(&item, "preferences")?;
    let preferences = Preferences::try_from(record.prefs)
        .map_err(|e| NotifyError::Internal(format!("stored preferences: {}", e.message)))?;
    Ok(Some(Saved {
        preferences,
        updated_at: record.updated_at,
    }))
}

async fn write(
    store: &dyn Store,
    key: &Key,
    prefs: &Preferences,
    now: &str,
    by: &str,
) -> NotifyResult<()> {
    let record = Record {
        prefs: PreferencesDoc::from(prefs),
        updated_at: now.to_owned(),
        updated_by: by.to_owned(),
    };
    store
        .put(Put::new(super::item(key, &record, "preferences")?))
        .await?;
    Ok(())
}
