//! The tenant's suppression list: one item per normalised contact (`T#<t>#SUPP` /
//! `<contact>`), so the send path's check is one strongly consistent read.
//!
//! The first reason recorded for a contact stays: a later bounce or complaint does not
//! replace a manual entry (or each other) — removing and re-adding is the admin's act.

use shared::{
    FieldError,
    contact::{Email, Phone},
    store::{Condition, Delete, Item, Key, Put, Query, ResumeKey, Store, get_each},
    tenant::TenantId,
};

use super::{item, record, suppression, suppressions_partition};
use crate::error::{NotifyError, NotifyResult};

/// Why a contact is suppressed (`Suppression::reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A provider reported a permanent bounce.
    HardBounce,
    /// The recipient marked a message as spam.
    Complaint,
    /// An admin added it (`POST /suppressions`).
    Manual,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HardBounce => "hard_bounce",
            Kind::Complaint => "complaint",
            Kind::Manual => "manual",
        }
    }
}

/// One suppressed contact (an email address or an E.164 number, normalised).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub contact: String,
    /// `hard_bounce`, `complaint` or `manual` ([`Kind`]).
    pub reason: String,
    pub created_at: String,
    /// The admin's note (manual entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The admin who added it (manual entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The delivery whose bounce or complaint caused it (provider entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

impl Suppression {
    pub fn new(contact: impl Into<String>, kind: Kind, created_at: impl Into<String>) -> Self {
        Suppression {
            contact: contact.into(),
            reason: kind.as_str().to_owned(),
            created_at: created_at.into(),
            note: None,
            created_by: None,
            delivery_id: None,
        }
    }
}

/// `raw` as the list keys it: an email (trimmed, lowercased) when it has an `@`, else an
/// E.164 number. Anything else is 400 INVALID_CONTACT naming `field`.
pub fn normalise(raw: &str, field: &str) -> NotifyResult<String> {
    if raw.contains('@') {
        return Email::parse_as(raw, field)
            .map(|e| e.as_ref().to_owned())
            .map_err(NotifyError::InvalidContact);
    }
    Phone::parse_as(raw, field)
        .map(|p| p.as_ref().to_owned())
        .map_err(|_| {
            NotifyError::InvalidContact(FieldError::new(
                field,
                "must be an email address or an E.164 phone number such as +14155550100",
            ))
        })
}

/// The suppression of `contact` (normalised) in tenant `t`, if any.
pub async fn find(
    store: &dyn Store,
    t: &TenantId,
    contact: &str,
) -> NotifyResult<Option<Suppression>> {
    store
        .get(&suppression(t, contact))
        .await?
        .as_ref()
        .map(parse)
        .transpose()
}

/// The suppressions of `contacts` (normalised), in their order: one batch read
/// (`POST /suppressions/check` asks up to 100; a contact named twice is read once).
pub async fn find_many(
    store: &dyn Store,
    t: &TenantId,
    contacts: &[String],
) -> NotifyResult<Vec<Option<Suppression>>> {
    let keys: Vec<Key> = contacts.iter().map(|c| suppression(t, c)).collect();
    get_each(store, &keys)
        .await?
        .iter()
        .map(|found| found.as_ref().map(parse).transpose())
        .collect()
}

/// A stored suppression.
pub fn parse(item: &Item) -> NotifyResult<Suppression> {
    record(item, "suppression")
}

/// Adds `s` unless its contact is already suppressed. Returns the entry now in force and
/// whether it is the one just added.
pub async fn add(
    store: &dyn Store,
    t: &TenantId,
    s: &Suppression,
) -> NotifyResult<(Suppression, bool)> {
    let key = suppression(t, &s.contact);
    let put = Put::new(item(&key, s, "suppression")?).when(Condition::item_absent());
    match store.put(put).await {
        Ok(()) => Ok((s.clone(), true)),
        Err(e) if e.is_condition_failed() => match find(store, t, &s.contact).await? {
            Some(existing) => Ok((existing, false)),
            // Removed between the two calls: the caller's retry will add it.
            None => Err(NotifyError::Store(e)),
        },
        Err(e) => Err(e.into()),
    }
}

/// Removes the suppression of `contact`; the removed entry, or None when there was none.
pub async fn remove(
    store: &dyn Store,
    t: &TenantId,
    contact: &str,
) -> NotifyResult<Option<Suppression>> {
    let delete = Delete::new(suppression(t, contact)).when(Condition::item_present());
    match store.delete(delete).await {
        Ok(Some(old)) => Ok(Some(record(&old, "suppression")?)),
        Ok(None) => Ok(None),
        Err(e) if e.is_condition_failed() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One page of the tenant's list, by contact.
pub async fn list(
    store: &dyn Store,
    t: &TenantId,
    limit: u32,
    start: Option<ResumeKey>,
) -> NotifyResult<(Vec<Suppression>, Option<ResumeKey>)> {
    let page = shared::store::query_page(
        store,
        Query::partition(suppressions_partition(t)).resume(start),
        limit,
    )
    .await?;
    let found = page
        .items
        .iter()
        .map(|it| record(it, "suppression"))
        .collect::<NotifyResult<_>>()?;
    Ok((found, page.next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_normalised_or_refused_naming_the_field() {
        assert_eq!(
            normalise(" Ann@Example.COM ", "contact").unwrap(),
            "ann@example.com"
        );
        assert_eq!(
            normalise("+1 (415) 555-0100", "contact").unwrap(),
            "+14155550100"
        );
        for bad in ["", "ann@", "not a contact", "4155550100", "a@b"] {
            match normalise(bad, "contacts[2]") {
                Err(NotifyError::InvalidContact(f)) => assert_eq!(f.field, "contacts[2]"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
