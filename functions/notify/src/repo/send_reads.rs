//! What a send's checks read, in one batch read of known keys (BatchGetItem; past 100
//! keys, several sent together): the quota settings, the tenant's preference defaults,
//! each person's own preferences, the suppression of each contact the send would reach,
//! and, for a category that can be capped, each person's count of it today; in the same
//! request, from auth's table, the tenant's status and plan and the status of the
//! accounts its push and in-app messages would go to.
//!
//! The caps are read for every person before their preferences say whether a cap
//! applies: one more key in the same request costs a read unit, a second round trip
//! costs a user-visible wait. Essential categories are never capped and read none.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use shared::{
    store::{Item, Store},
    tenant::TenantId,
    tenant_status::{Standing, TenantRecords},
};

use super::{
    counters::{self, QuotaSettings},
    preferences::{self, Saved},
    suppressions::{self, Suppression},
};
use crate::{
    domain::{Category, Channel, delivery::Recipient, preferences::Preferences},
    error::NotifyResult,
};

/// Everything the checks of one send need, read before any of it is decided.
pub struct SendReads {
    pub quota: QuotaSettings,
    defaults: Preferences,
    own: HashMap<String, Preferences>,
    suppressed: HashMap<String, Suppression>,
    sent_today: HashMap<String, i64>,
}

/// The person a frequency cap counts for: the user, else the address, else the number.
pub fn person(r: &Recipient) -> Option<&str> {
    r.user_id
        .as_deref()
        .or(r.email.as_deref())
        .or(r.phone.as_deref())
}

impl SendReads {
    /// The reads, and beside them in auth's table (`records`; one request naming both
    /// tables) the standing of tenant `t` and of the accounts push and in-app messages
    /// would go to.
    pub async fn read(
        store: &dyn Store,
        records: &TenantRecords,
        t: &TenantId,
        recipients: &[Recipient],
        channels: &[Channel],
        category: Category,
        // The day whose caps apply: the send's, or the day it is scheduled for.
        cap_day: DateTime<Utc>,
    ) -> NotifyResult<(Self, Standing)> {
        let accounts: Vec<(TenantId, &str)> = recipients
            .iter()
            .flat_map(|r| channels.iter().filter_map(|&ch| r.account(ch)))
            .map(|u| (*t, u))
            .collect();
        let users: Vec<&str> = recipients
            .iter()
            .filter_map(|r| r.user_id.as_deref())
            .collect();
        let contacts: Vec<&str> = recipients
            .iter()
            .flat_map(|r| channels.iter().filter_map(|&ch| r.contact(ch)))
            .collect();
        let people: Vec<&str> = if category.is_essential() {
            Vec::new()
        } else {
            recipients.iter().filter_map(person).collect()
        };

        let mut keys = vec![counters::settings_key(t), preferences::defaults_key(t)];
        keys.extend(users.iter().map(|u| preferences::own_key(t, u)));
        keys.extend(contacts.iter().map(|c| super::suppression(t, c)));
        keys.extend(
            people
                .iter()
                .map(|p| counters::cap_key(t, p, category, cap_day)),
        );
        let (items, standing) = records
            .standing_beside(store, &keys, std::slice::from_ref(t), &accounts)
            .await?;

        let (head, rest) = items.split_at(2);
        let (own, rest) = rest.split_at(users.len());
        let (supp, caps) = rest.split_at(contacts.len());
        let saved = |i: &Option<Item>| -> NotifyResult<Option<Saved>> {
            i.as_ref().map(preferences::parse).transpose()
        };
        let mut out = SendReads {
            quota: counters::parse_settings(head[0].as_ref())?,
            defaults: saved(&head[1])?.map(|d| d.preferences).unwrap_or_default(),
            own: HashMap::new(),
            suppressed: HashMap::new(),
            sent_today: HashMap::new(),
        };
        for (u, i) in users.iter().zip(own) {
            if let Some(s) = saved(i)? {
                out.own.insert((*u).to_owned(), s.preferences);
            }
        }
        for (c, i) in contacts.iter().zip(supp) {
            if let Some(i) = i {
                out.suppressed
                    .insert((*c).to_owned(), suppressions::parse(i)?);
            }
        }
        for (p, i) in people.iter().zip(caps) {
            out.sent_today
                .insert((*p).to_owned(), counters::cap_sent(i.as_ref()));
        }
        Ok((out, standing))
    }

    /// What applies to `r`: their own preferences, else the tenant's defaults, else the
    /// built-in ones.
    pub fn preferences(&self, r: &Recipient) -> &Preferences {
        r.user_id
            .as_deref()
            .and_then(|u| self.own.get(u))
            .unwrap_or(&self.defaults)
    }

    /// The suppression of `contact`, if it is on the list.
    pub fn suppression(&self, contact: &str) -> Option<&Suppression> {
        self.suppressed.get(contact)
    }

    /// How many messages of the send's category `person` was sent today.
    pub fn sent_today(&self, person: &str) -> i64 {
        self.sent_today.get(person).copied().unwrap_or(0)
    }
}
