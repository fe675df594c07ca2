//! A person's preferences (`T#<t>#U#<userId>` / `PREFS`) and the tenant's defaults
//! (`T#<t>#SETTINGS` / `PREFS`). Both hold the validated document under `prefs`, so a
//! stored record always parses back.

use serde::{Deserialize, Serialize};
use shared::{
    store::{Delete, Item, Key, Put, Store, get_each},
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

/// What applies to a person, and where it comes from: their own preferences, else the
/// tenant's defaults, else the built-in ones (`user_id` None: an address-only
/// recipient, or the defaults alone). The person's own and the
/// tenant's defaults are read in one batch read: whether they saved any is not known
/// before.
pub async fn resolve(
    store: &dyn Store,
    t: &TenantId,
    user_id: Option<&str>,
) -> NotifyResult<Effective> {
    let Some(user) = user_id else {
        return resolve_defaults(store, t).await;
    };
    let found = get_each(store, &[own_key(t, user), defaults_key(t)]).await?;
    let [own, defaults] = [&found[0], &found[1]].map(|i| i.as_ref().map(parse).transpose());
    Ok(apply(own?, defaults?))
}

/// What applies, given what was read: the person's own, else the tenant's defaults, else
/// the built-in ones.
fn apply(own: Option<Saved>, defaults: Option<Saved>) -> Effective {
    match (own, defaults) {
        (Some(own), _) => Effective {
            preferences: own.preferences,
            source: PreferencesSource::Own,
            updated_at: Some(own.updated_at),
        },
        (None, Some(d)) => Effective {
            preferences: d.preferences,
            source: PreferencesSource::TenantDefaults,
            updated_at: Some(d.updated_at),
        },
        (None, None) => Effective {
            preferences: Preferences::default(),
            source: PreferencesSource::BuiltIn,
            updated_at: None,
        },
    }
}

/// The tenant's defaults, else the built-in ones.
pub async fn resolve_defaults(store: &dyn Store, t: &TenantId) -> NotifyResult<Effective> {
    Ok(apply(None, defaults(store, t).await?))
}

/// Where `user_id`'s own preferences are kept.
pub fn own_key(t: &TenantId, user_id: &str) -> Key {
    super::user_item(t, user_id, SK)
}

/// Where the tenant's defaults are kept.
pub fn defaults_key(t: &TenantId) -> Key {
    super::settings(t, SK)
}

/// The tenant's defaults, if an organizer saved any.
pub async fn defaults(store: &dyn Store, t: &TenantId) -> NotifyResult<Option<Saved>> {
    store
        .get(&defaults_key(t))
        .await?
        .map(|i| parse(&i))
        .transpose()
}

/// Replaces `user_id`'s own preferences.
pub async fn put_own(
    store: &dyn Store,
    t: &TenantId,
    user_id: &str,
    prefs: &Preferences,
    now: &str,
) -> NotifyResult<()> {
    write(store, &own_key(t, user_id), prefs, now, user_id).await
}

/// Deletes `user_id`'s own preferences (the tenant's defaults apply again); then what
/// applies, read after the delete.
pub async fn delete_own(store: &dyn Store, t: &TenantId, user_id: &str) -> NotifyResult<Effective> {
    store.delete(Delete::new(own_key(t, user_id))).await?;
    resolve_defaults(store, t).await
}

/// Deletes `user_id`'s own preferences (erasing the person); whether there were any.
pub async fn erase_own(store: &dyn Store, t: &TenantId, user_id: &str) -> NotifyResult<bool> {
    Ok(store
        .delete(Delete::new(own_key(t, user_id)))
        .await?
        .is_some())
}

/// Replaces the tenant's defaults (`by`: the organizer's id).
pub async fn put_defaults(
    store: &dyn Store,
    t: &TenantId,
    prefs: &Preferences,
    now: &str,
    by: &str,
) -> NotifyResult<()> {
    write(store, &defaults_key(t), prefs, now, by).await
}

/// A stored preferences record (a person's own or the tenant's defaults).
pub fn parse(item: &Item) -> NotifyResult<Saved> {
    let record: Record = super::record(item, "preferences")?;
    let preferences = Preferences::try_from(record.prefs)
        .map_err(|e| NotifyError::Internal(format!("stored preferences: {}", e.message)))?;
    Ok(Saved {
        preferences,
        updated_at: record.updated_at,
    })
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
