//! HMAC-signed provider callbacks: `x-eventzr-signature: t=<unix>,v1=<hex>[,v1=<hex>…]`,
//! where v1 is HMAC-SHA256 over `<t>.` + the raw body with one of the provider's secrets.
//! Several v1 entries and several secrets are accepted so a provider can rotate without
//! a gap; `t` must be within 300 s of our clock either way.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aws_lc_rs::hmac;
use shared::{
    ApiError,
    ids::secure_eq,
    secrets::{Secrets, SecretsError},
};

use crate::error::{NotifyError, NotifyResult};

pub const HEADER: &str = "x-eventzr-signature";
/// Seconds a signature's `t` may be off our clock, either way.
pub const TOLERANCE_SECS: i64 = 300;
/// How long secrets read from the secrets store are reused (a rotation shows within it).
pub const SECRETS_TTL_SECS: i64 = 60;
/// Bounds on what one request makes us compute.
const MAX_HEADER_LEN: usize = 1024;
const MAX_SIGNATURES: usize = 8;

fn refuse(reason: &str) -> NotifyError {
    tracing::info!(reason, "webhook signature refused");
    NotifyError::InvalidSignature
}

/// `t` and the v1 signatures of the header; other schemes (`v0=`…) are ignored.
pub fn parse_header(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    if header.len() > MAX_HEADER_LEN {
        return None;
    }
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "t" if t.is_none() => {
                let v = v.trim();
                if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                t = v.parse().ok();
            }
            "t" => return None,
            "v1" => v1.push(hex_decode(v.trim()).filter(|s| s.len() == 32)?),
            _ => {}
        }
    }
    (!v1.is_empty() && v1.len() <= MAX_SIGNATURES).then_some((t?, v1))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The hex v1 signature of `body` at `t` under `secret` (providers and tests sign alike).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    tag(secret, t, body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tag(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(format!("{t}.").as_bytes());
    ctx.update(body);
    ctx.sign().as_ref().to_vec()
}

/// Accepts when the header is well formed, `t` is within tolerance of `now`, and one of
/// its v1 signatures is the HMAC of `body` under one of `secrets`.
pub fn verify(secrets: &[String], header: Option<&str>, body: &[u8], now: i64) -> NotifyResult<()> {
    let header = header.ok_or_else(|| refuse("no signature header"))?;
    let (t, signatures) =
        parse_header(header).ok_or_else(|| refuse("malformed signature header"))?;
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(refuse("timestamp outside tolerance"));
    }
    let mut matched = false;
    for secret in secrets {
        let expected = tag(secret, t, body);
        for sig in &signatures {
            // Every pair is compared, so the time taken says nothing about which matched.
            matched |= secure_eq(&expected, sig);
        }
    }
    if matched {
        Ok(())
    } else {
        Err(refuse("no signature matches"))
    }
}

type Table = Arc<HashMap<String, Vec<String>>>;

/// One read of the secret, kept whatever its outcome: a failed read is cached as long as a
/// good one, so an outage or a mis-shaped value costs one Secrets Manager call a minute,
/// not one per anonymous request to a public route.
#[derive(Clone)]
enum Read {
    Table(Table),
    Unavailable(SecretsError),
    Malformed,
}

/// The secret `{"<provider>": ["<secret>", …]}`, re-read at most every
/// [`SECRETS_TTL_SECS`]. An absent secret means no provider is configured.
pub struct SecretCache {
    secrets: Arc<dyn Secrets>,
    id: String,
    cached: Mutex<Option<(i64, Read)>>,
}

impl SecretCache {
    pub fn new(secrets: Arc<dyn Secrets>, id: String) -> Self {
        SecretCache {
            secrets,
            id,
            cached: Mutex::new(None),
        }
    }

    /// The secrets of `provider`; NOT_FOUND when it has none.
    pub async fn of(&self, provider: &str, now: i64) -> NotifyResult<Vec<String>> {
        let table = self.table(now).await?;
        match table.get(provider) {
            Some(list) if !list.is_empty() => Ok(list.clone()),
            _ => Err(NotifyError::NotFound),
        }
    }

    async fn table(&self, now: i64) -> NotifyResult<Table> {
        let fresh = |at: i64| at <= now && now < at + SECRETS_TTL_SECS;
        let cached = match self.lock().as_ref() {
            Some((at, read)) if fresh(*at) => Some(read.clone()),
            _ => None,
        };
        let read = match cached {
            Some(read) => read,
            None => {
                let read = match self.secrets.get(&self.id).await {
                    Ok(raw) => {
                        parse_table(&raw).map_or(Read::Malformed, |t| Read::Table(Arc::new(t)))
                    }
                    Err(SecretsError::NotFound(_)) => Read::Table(Arc::default()),
                    Err(e @ SecretsError::Unavailable(_)) => Read::Unavailable(e),
                };
                *self.lock() = Some((now, read.clone()));
                read
            }
        };
        match read {
            Read::Table(table) => Ok(table),
            Read::Unavailable(e) => Err(NotifyError::Api(ApiError::unavailable(e))),
            Read::Malformed => Err(NotifyError::Internal(
                "webhook secrets: not {\"<provider>\": [\"<secret>\", …]}".into(),
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(i64, Read)>> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Empty secrets are dropped: an empty key would make anyone's signature valid.
fn parse_table(raw: &str) -> Result<HashMap<String, Vec<String>>, serde_json::Error> {
    let table: HashMap<String, Vec<String>> = serde_json::from_str(raw)?;
    Ok(table
        .into_iter()
        .map(|(p, list)| (p, list.into_iter().filter(|s| !s.is_empty()).collect()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use super::*;

    const BODY: &[u8] = br#"{"eventId":"e1"}"#;

    /// Answers `value` to every read, and counts them.
    struct Counting {
        value: Result<String, SecretsError>,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Secrets for Counting {
        async fn get(&self, _: &str) -> Result<String, SecretsError> {
            self.reads.fetch_add(1, SeqCst);
            self.value.clone()
        }
    }

    #[tokio::test]
    async fn a_failed_read_is_cached_as_long_as_a_good_one() {
        for (value, unavailable) in [
            (Err(SecretsError::Unavailable("throttled".into())), true),
            (Ok("[]".to_owned()), false),
        ] {
            let secrets = Arc::new(Counting {
                value,
                reads: AtomicUsize::new(0),
            });
            let cache = SecretCache::new(secrets.clone(), "hooks".into());
            for now in [1_000, 1_001, 1_000 + SECRETS_TTL_SECS - 1] {
                let err = cache.of("acme", now).await.unwrap_err();
                assert_eq!(matches!(err, NotifyError::Api(_)), unavailable, "{err:?}");
                assert_eq!(
                    matches!(err, NotifyError::Internal(_)),
                    !unavailable,
                    "{err:?}"
                );
            }
            assert_eq!(secrets.reads.load(SeqCst), 1, "one read a minute");
            assert!(cache.of("acme", 1_000 + SECRETS_TTL_SECS).await.is_err());
            assert_eq!(secrets.reads.load(SeqCst), 2);
        }
    }

    #[test]
    fn a_signature_of_one_of_the_secrets_within_tolerance_is_accepted() {
        let secrets = vec!["new".to_owned(), "old".to_owned()];
        let now = 1_700_000_000;
        let header = format!("t={now},v1={}", sign("old", now, BODY));
        assert!(verify(&secrets, Some(&header), BODY, now + 300).is_ok());
        assert!(verify(&secrets, Some(&header), BODY, now - 300).is_ok());
        assert!(verify(&secrets, Some(&header), BODY, now + 301).is_err());
        assert!(verify(&secrets, Some(&header), BODY, now - 301).is_err());
        assert!(verify(&secrets, Some(&header), b"{}", now).is_err());
        assert!(verify(&["other".into()], Some(&header), BODY, now).is_err());
        // Two v1 entries (the provider signs with both keys during its own rotation).
        let two = format!(
            "t={now}, v1={}, v1={}",
            sign("x", now, BODY),
            sign("new", now, BODY)
        );
        assert!(verify(&secrets, Some(&two), BODY, now).is_ok());
    }

    #[test]
    fn malformed_headers_are_refused() {
        let sig = sign("s", 10, BODY);
        for bad in [
            String::new(),
            "t=10".into(),
            format!("v1={sig}"),
            format!("t=,v1={sig}"),
            format!("t=-10,v1={sig}"),
            format!("t=10,t=10,v1={sig}"),
            format!("t=10,v1={}", &sig[..62]),
            format!("t=10,v1={}zz", &sig[..62]),
            format!("t=10;v1={sig}"),
            format!("t=10,v1={sig},junk"),
            format!("t=10{}", format!(",v1={sig}").repeat(9)),
        ] {
            assert!(parse_header(&bad).is_none(), "{bad}");
        }
        assert_eq!(
            parse_header(&format!("t=10,v0=ab,v1={sig}")).map(|(t, s)| (t, s.len())),
            Some((10, 1))
        );
    }

    #[test]
    fn empty_secrets_never_count() {
        let table = parse_table(r#"{"acme": ["", "s1"], "none": [""]}"#).unwrap();
        assert_eq!(table["acme"], vec!["s1".to_owned()]);
        assert!(table["none"].is_empty());
        assert!(parse_table("[]").is_err());
    }
}
