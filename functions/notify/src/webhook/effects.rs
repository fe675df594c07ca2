//! What a verified provider event does: the delivery it names moves to its final status,
//! and a permanent bounce or a complaint suppresses the affected addresses in THAT
//! delivery's tenant (the only tenant the event can reach).

use chrono::{DateTime, Utc};
use shared::{clock::rfc3339_millis, store::Store, tenant::TenantId};

use crate::{
    domain::{Delivery, Status},
    error::{NotifyError, NotifyResult},
    repo::{
        deliveries,
        suppressions::{self, Kind, Suppression},
    },
};

/// A provider's report about one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// For the delivery's timeline (short, provider words).
    pub detail: String,
    /// Why the recipients are to be suppressed (permanent bounces, complaints).
    pub suppress: Option<Kind>,
    /// The addresses the provider names; empty: the delivery's own.
    pub recipients: Vec<String>,
}

/// The delivery `provider`'s report about `provider_message_id` may move. None when no
/// delivery has that id (an old or foreign message, or one whose send has not recorded
/// it yet), or when another provider sent it: one provider's secret must not move (and
/// suppress the address of) a message it never carried, and SES message ids are visible
/// to every recipient.
pub async fn find(
    store: &dyn Store,
    provider: &str,
    provider_message_id: &str,
) -> NotifyResult<Option<Delivery>> {
    let Some(delivery) = deliveries::find_by_message_id(store, provider_message_id).await? else {
        tracing::info!(provider, "provider event for an unknown message id ignored");
        return Ok(None);
    };
    if delivery.channel.provider() != provider {
        tracing::warn!(
            provider,
            sender = delivery.channel.provider(),
            "provider event for another provider's message ignored"
        );
        return Ok(None);
    }
    Ok(Some(delivery))
}

/// Suppresses first (the effect that protects the sender's reputation), then moves the
/// delivery, re-reading it once if it changed since it was read. False: the delivery's
/// status does not take the outcome (it did not move).
pub async fn apply_to(
    store: &dyn Store,
    now: DateTime<Utc>,
    delivery: &Delivery,
    outcome: &Outcome,
) -> NotifyResult<bool> {
    let tenant = TenantId::parse(&delivery.tenant_id)
        .map_err(|_| NotifyError::Internal("delivery with an invalid tenant id".into()))?;
    if let Some(kind) = outcome.suppress {
        for contact in contacts(delivery, &outcome.recipients) {
            let mut s = Suppression::new(contact, kind, rfc3339_millis(now));
            s.delivery_id = Some(delivery.id.clone());
            suppressions::add(store, &tenant, &s).await?;
        }
    }
    let detail = Some(outcome.detail.clone());
    let mut current = delivery.clone();
    for _ in 0..2 {
        if deliveries::transition(store, now, &current, outcome.status, detail.clone())
            .await?
            .is_some()
        {
            return Ok(true);
        }
        match deliveries::get(store, &tenant, &delivery.id).await? {
            Some(d) if d.status != current.status => current = d,
            _ => break,
        }
    }
    tracing::info!(
        delivery = %delivery.id,
        from = current.status.as_str(),
        to = outcome.status.as_str(),
        "provider outcome not applicable to the delivery's status"
    );
    Ok(false)
}

/// The normalised address to suppress: the delivery's own email or phone — and only it.
/// A provider's report names the recipients it bounced; one that names anyone else (a
/// confused or compromised provider) must not suppress contacts the delivery never went to.
fn contacts(delivery: &Delivery, reported: &[String]) -> Vec<String> {
    let Some(own) = delivery
        .contact()
        .and_then(|a| suppressions::normalise(a, "recipient").ok())
    else {
        return Vec::new();
    };
    let named = |raw: &String| {
        // `"Name" <a@b.io>`: the address between the angle brackets.
        let addr = match (raw.rfind('<'), raw.rfind('>')) {
            (Some(i), Some(j)) if i < j => &raw[i + 1..j],
            _ => raw.as_str(),
        };
        suppressions::normalise(addr, "recipient").ok().as_ref() == Some(&own)
    };
    if reported.is_empty() || reported.iter().any(named) {
        vec![own]
    } else {
        tracing::info!(delivery = %delivery.id, "provider report names none of the delivery's addresses: nothing suppressed");
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use shared::store::memory::MemoryStore;

    use super::*;
    use crate::domain::Channel;

    const T1: &str = "a0000001-0000-0000-0000-000000000001";

    /// From JSON, so fields the model gains with defaults need no change here.
    fn delivery(channel: Channel) -> Delivery {
        serde_json::from_value(serde_json::json!({
            "id": "d-1", "tenantId": T1, "sendId": "s-1", "channel": channel,
            "category": "marketing", "priority": "normal", "status": "sent",
            "recipient": {"email": "Own@Example.com", "phone": "+14155550100"},
            "createdBy": "u", "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "attempts": 1,
            "providerMessageId": "m-1", "timeline": []
        }))
        .unwrap()
    }

    fn outcome(suppress: Option<Kind>, recipients: &[&str]) -> Outcome {
        Outcome {
            status: Status::Bounced,
            detail: "Permanent bounce (General)".into(),
            suppress,
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn a_hard_bounce_suppresses_only_the_delivery_own_address_in_its_tenant() {
        let t1 = TenantId::parse(T1).unwrap();
        // The provider names the delivery's address (as SES does, with a display name).
        let store = MemoryStore::new();
        let o = outcome(
            Some(Kind::HardBounce),
            &["\"Own\" <OWN@example.com>", "bob@x.io"],
        );
        apply_to(&store, Utc::now(), &delivery(Channel::Email), &o)
            .await
            .unwrap();
        let own = suppressions::find(&store, &t1, "own@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(own.reason, "hard_bounce");
        assert_eq!(own.delivery_id.as_deref(), Some("d-1"));
        // Addresses the delivery never went to are not suppressed.
        assert!(
            suppressions::find(&store, &t1, "bob@x.io")
                .await
                .unwrap()
                .is_none()
        );
        let other = TenantId::parse("a0000003-0000-0000-0000-000000000003").unwrap();
        assert!(
            suppressions::find(&store, &other, "own@example.com")
                .await
                .unwrap()
                .is_none()
        );
        // A report naming only strangers suppresses nothing.
        let store = MemoryStore::new();
        let o = outcome(Some(Kind::HardBounce), &["victim@x.io"]);
        apply_to(&store, Utc::now(), &delivery(Channel::Email), &o)
            .await
            .unwrap();
        for c in ["victim@x.io", "own@example.com"] {
            assert!(
                suppressions::find(&store, &t1, c).await.unwrap().is_none(),
                "{c}"
            );
        }
    }

    #[tokio::test]
    async fn without_reported_addresses_the_delivery_own_is_suppressed() {
        let store = MemoryStore::new();
        let t1 = TenantId::parse(T1).unwrap();
        let o = outcome(Some(Kind::Complaint), &[]);
        apply_to(&store, Utc::now(), &delivery(Channel::Sms), &o)
            .await
            .unwrap();
        let s = suppressions::find(&store, &t1, "+14155550100")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.reason, "complaint");
    }

    #[tokio::test]
    async fn a_soft_bounce_suppresses_nothing() {
        let store = MemoryStore::new();
        let t1 = TenantId::parse(T1).unwrap();
        apply_to(
            &store,
            Utc::now(),
            &delivery(Channel::Email),
            &outcome(None, &["a@x.io"]),
        )
        .await
        .unwrap();
        let (all, _) = suppressions::list(&store, &t1, 10, None).await.unwrap();
        assert!(all.is_empty());
    }
}
