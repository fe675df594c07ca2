//! SNS message signatures, per AWS's "Verifying the signatures of Amazon SNS messages":
//! the string to sign is fixed fields in a fixed order (`Name\nValue\n`), signed with
//! SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2) by the key of the certificate at
//! `SigningCertURL` — which is fetched only from `https://sns.<region>.amazonaws.com/…pem`
//! and cached per URL. The topic must be on the allow-list and the timestamp fresh.
//! Every refusal is INVALID_SIGNATURE (its reason is logged) and happens before any state
//! changes; a bad certificate URL is refused before anything is fetched.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, RsaParameters,
    UnparsedPublicKey,
};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use url::Url;

use super::fetch::{FetchError, Fetcher};
use crate::error::{NotifyError, NotifyResult};

/// A message older than this is refused (SNS retries within its delivery policy; an hour
/// covers the default and common custom ones).
pub const MAX_AGE: Duration = Duration::hours(1);
/// Clock skew allowed for a timestamp in the future.
pub const MAX_SKEW: Duration = Duration::minutes(5);
/// Certificates kept at once (SNS rotates a handful; the allow-list bounds the rest).
const MAX_CACHED_CERTS: usize = 32;
/// An RSA-8192 signature is 1 KiB.
const MAX_SIGNATURE_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Kind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Notification => "Notification",
            Kind::SubscriptionConfirmation => "SubscriptionConfirmation",
            Kind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// An SNS HTTP(S) message (other fields, e.g. `MessageAttributes`, are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    #[serde(rename = "Type")]
    pub kind: Kind,
    pub message_id: String,
    pub topic_arn: String,
    #[serde(default)]
    pub subject: Option<String>,
    /// The payload: for SES, its notification as a JSON string.
    pub message: String,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(default, rename = "SubscribeURL")]
    pub subscribe_url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

/// What AWS signs: `Name\nValue\n` for each field in this order. A Notification signs
/// `Subject` only when it has one; the confirmations sign `SubscribeURL` and `Token`.
pub fn string_to_sign(m: &Message) -> Option<String> {
    let mut fields: Vec<(&str, &str)> = vec![("Message", &m.message), ("MessageId", &m.message_id)];
    if m.kind == Kind::Notification {
        if let Some(subject) = &m.subject {
            fields.push(("Subject", subject));
        }
        fields.push(("Timestamp", &m.timestamp));
    } else {
        fields.push(("SubscribeURL", m.subscribe_url.as_deref()?));
        fields.push(("Timestamp", &m.timestamp));
        fields.push(("Token", m.token.as_deref()?));
    }
    fields.push(("TopicArn", &m.topic_arn));
    fields.push(("Type", m.kind.as_str()));
    Some(fields.iter().fold(String::new(), |mut s, (name, value)| {
        s.push_str(name);
        s.push('\n');
        s.push_str(value);
        s.push('\n');
        s
    }))
}

/// `https://sns.<region>.amazonaws.com[.cn]/…`, with nothing that could lead elsewhere:
/// no userinfo, no port, no fragment. Checked on the parsed URL, which is what is fetched.
fn sns_url(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    let ok = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.fragment().is_none()
        && url.host_str().is_some_and(is_sns_host);
    ok.then_some(url)
}

/// A `SigningCertURL` we may fetch: an SNS host, a `.pem` path, no query.
pub fn signing_cert_url(raw: &str) -> Option<Url> {
    sns_url(raw).filter(|u| u.query().is_none() && u.path().ends_with(".pem"))
}

/// A `SubscribeURL` we may call: an SNS host, `Action=ConfirmSubscription` (nothing else).
pub fn subscribe_url(raw: &str) -> Option<Url> {
    sns_url(raw).filter(|u| {
        u.query_pairs()
            .any(|(k, v)| k == "Action" && v == "ConfirmSubscription")
            && !u
                .query_pairs()
                .any(|(k, v)| k == "Action" && v != "ConfirmSubscription")
    })
}

fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    rest.strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))
        .is_some_and(is_region)
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`: lowercase words, then a number.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// A signing certificate's RSA key and validity (epoch seconds).
struct Cert {
    /// RSAPublicKey (PKCS#1) DER: what `UnparsedPublicKey` takes for RSA.
    public_key: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

fn parse_cert(pem: &[u8]) -> Option<Cert> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    let spki = cert.public_key();
    if !matches!(
        spki.parsed(),
        Ok(x509_parser::public_key::PublicKey::RSA(_))
    ) {
        return None;
    }
    Some(Cert {
        public_key: spki.subject_public_key.data.to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn refuse(reason: &str) -> NotifyError {
    tracing::info!(reason, "SNS message refused");
    NotifyError::InvalidSignature
}

pub struct Verifier {
    fetcher: Arc<dyn Fetcher>,
    topics: Vec<String>,
    certs: Mutex<HashMap<String, Arc<Cert>>>,
}

impl Verifier {
    pub fn new(fetcher: Arc<dyn Fetcher>, topics: Vec<String>) -> Self {
        Verifier {
            fetcher,
            topics,
            certs: Mutex::default(),
        }
    }

    /// Every check that needs no network first, then the certificate and the signature.
    pub async fn verify(&self, body: &[u8], now: DateTime<Utc>) -> NotifyResult<Message> {
        let msg: Message =
            serde_json::from_slice(body).map_err(|_| refuse("not an SNS message"))?;
        if !self.topics.contains(&msg.topic_arn) {
            return Err(refuse("topic not on the allow-list"));
        }
        let at = DateTime::parse_from_rfc3339(&msg.timestamp)
            .map_err(|_| refuse("timestamp unreadable"))?
            .with_timezone(&Utc);
        if at < now - MAX_AGE || at > now + MAX_SKEW {
            return Err(refuse("timestamp stale or in the future"));
        }
        let alg: &RsaParameters = match msg.signature_version.as_str() {
            "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(refuse("unknown signature version")),
        };
        let cert_url = signing_cert_url(&msg.signing_cert_url)
            .ok_or_else(|| refuse("certificate URL not an SNS one"))?;
        if msg.kind == Kind::SubscriptionConfirmation
            && msg
                .subscribe_url
                .as_deref()
                .and_then(subscribe_url)
                .is_none()
        {
            return Err(refuse("SubscribeURL not an SNS one"));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&msg.signature)
            .ok()
            .filter(|s| s.len() <= MAX_SIGNATURE_LEN)
            .ok_or_else(|| refuse("signature unreadable"))?;
        let text = string_to_sign(&msg).ok_or_else(|| refuse("a signed field is missing"))?;
        let cert = self.cert(&cert_url, now).await?;
        UnparsedPublicKey::new(alg, &cert.public_key)
            .verify(text.as_bytes(), &signature)
            .map_err(|_| refuse("signature does not verify"))?;
        Ok(msg)
    }

    /// The certificate at `url` (cached per URL), valid at `now`.
    async fn cert(&self, url: &Url, now: DateTime<Utc>) -> NotifyResult<Arc<Cert>> {
        let cached = self.lock().get(url.as_str()).cloned();
        let cert = match cached {
            Some(c) => c,
            None => {
                let pem = self.fetcher.get(url.as_str()).await.map_err(|e| match e {
                    FetchError::Refused(_) => refuse("certificate URL answered no certificate"),
                    FetchError::Unavailable(d) => {
                        NotifyError::ProviderUnavailable(format!("SNS signing certificate: {d}"))
                    }
                })?;
                let cert =
                    Arc::new(parse_cert(&pem).ok_or_else(|| refuse("not an RSA certificate"))?);
                let mut certs = self.lock();
                if certs.len() >= MAX_CACHED_CERTS {
                    certs.clear();
                }
                certs.insert(url.as_str().to_owned(), cert.clone());
                cert
            }
        };
        let now = now.timestamp();
        if now < cert.not_before || now > cert.not_after {
            return Err(refuse("certificate not valid now"));
        }
        Ok(cert)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Cert>>> {
        self.certs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// GETs the SubscribeURL of a verified SubscriptionConfirmation.
    pub async fn confirm(&self, msg: &Message) -> NotifyResult<()> {
        let url = msg
            .subscribe_url
            .as_deref()
            .and_then(subscribe_url)
            .ok_or_else(|| refuse("SubscribeURL not an SNS one"))?;
        self.fetcher.get(url.as_str()).await.map_err(|e| {
            NotifyError::ProviderUnavailable(format!("SNS subscription confirmation: {e}"))
        })?;
        tracing::info!(topic = %msg.topic_arn, "SNS subscription confirmed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_serve_certificates() {
        for ok in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://SNS.EU-WEST-1.AMAZONAWS.COM/x.pem",
            "https://sns.eu-west-1.amazonaws.com:443/x.pem",
        ] {
            assert!(signing_cert_url(ok).is_some(), "{ok}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
            "https://sns.amazonaws.com.evil.com/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
            "https://evil.com@sns.us-east-1.amazonaws.com/x.pem",
            "https://user:pw@sns.us-east-1.amazonaws.com/x.pem",
            "https://evil.com\\@sns.us-east-1.amazonaws.com/x.pem",
            "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sns.us-east-1.amazonaws.com./x.pem",
            "https://sns.amazonaws.com/x.pem",
            "https://sns.evil-east-1.com/x.pem",
            "https://sqs.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem?redirect=evil",
            "https://sns.us-east-1.amazonaws.com/x.pem#frag",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://sns.a.b-c-1.amazonaws.com/x.pem",
            "https://1.2.3.4/x.pem",
            "file:///etc/passwd.pem",
            "not a url",
        ] {
            assert!(signing_cert_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn subscribe_urls_may_only_confirm() {
        assert!(subscribe_url("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn&Token=t").is_some());
        for bad in [
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Action=Publish",
            "https://sns.us-east-1.amazonaws.com/",
            "https://evil.com/?Action=ConfirmSubscription",
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        ] {
            assert!(subscribe_url(bad).is_none(), "{bad}");
        }
    }

    fn message(kind: Kind) -> Message {
        Message {
            kind,
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:1:t".into(),
            subject: None,
            message: "hello\nworld".into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            signature_version: "2".into(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: Some("https://sns/?Action=ConfirmSubscription".into()),
            token: Some("tok".into()),
        }
    }

    #[test]
    fn the_string_to_sign_follows_aws_field_order() {
        let mut n = message(Kind::Notification);
        assert_eq!(
            string_to_sign(&n).unwrap(),
            "Message\nhello\nworld\nMessageId\nm-1\nTimestamp\n2026-01-01T00:00:00.000Z\n\
             TopicArn\narn:aws:sns:us-east-1:1:t\nType\nNotification\n"
        );
        n.subject = Some("S".into());
        assert!(
            string_to_sign(&n)
                .unwrap()
                .contains("MessageId\nm-1\nSubject\nS\nTimestamp\n")
        );
        let c = message(Kind::SubscriptionConfirmation);
        assert_eq!(
            string_to_sign(&c).unwrap(),
            "Message\nhello\nworld\nMessageId\nm-1\nSubscribeURL\nhttps://sns/?Action=ConfirmSubscription\n\
             Timestamp\n2026-01-01T00:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-1:1:t\n\
             Type\nSubscriptionConfirmation\n"
        );
        let mut u = message(Kind::UnsubscribeConfirmation);
        u.token = None;
        assert_eq!(string_to_sign(&u), None);
    }
}
