//! RS256 key material: the public set (JWKS, RFC 7517) every verifier loads, and the
//! private signing keys only auth-svc (and the local gateway, and tests) hold.
//!
//! Secret formats (Secrets Manager, or local files):
//! - public set: a JWKS document `{"keys":[{"kty":"RSA","kid","use":"sig","alg":"RS256","n","e"}]}`
//! - private set: `{"active":"<kid>","keys":[{"kid","pem"}]}` with PKCS#8 PEM keys.

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// One public key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    pub n: String,
    pub e: String,
}

/// A JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    pub fn parse(json: &str) -> Result<Self, KeyError> {
        serde_json::from_str(json).map_err(|e| KeyError(format!("public key set: {e}")))
    }
    /// RSA signing keys as decoding keys by kid (other key types are skipped).
    pub fn decoding_keys(&self) -> Vec<(String, DecodingKey)> {
        self.keys
            .iter()
            .filter(|k| k.kty == "RSA" && k.alg.as_deref().is_none_or(|a| a == "RS256"))
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                let key = DecodingKey::from_rsa_components(&k.n, &k.e).ok()?;
                Some((k.kid.clone(), key))
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key material: {0}")]
pub struct KeyError(pub String);

/// One RS256 signing key with its kid.
pub struct SigningKey {
    kid: String,
    pkcs8_der: Vec<u8>,
    encoding: EncodingKey,
    public: PublicJwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new 2048-bit key (aws-lc: fast even in debug builds).
    pub fn generate(kid: impl Into<String>) -> Result<Self, KeyError> {
        let pair =
            KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError("rsa keygen".into()))?;
        let der = pair
            .as_der()
            .map_err(|_| KeyError("pkcs8 encoding".into()))?
            .as_ref()
            .to_vec();
        Self::from_pkcs8_der(kid, der)
    }

    pub fn from_pkcs8_der(kid: impl Into<String>, der: Vec<u8>) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pkcs8(&der).map_err(|e| KeyError(format!("pkcs8 key: {e}")))?;
        let public = pair.public_key();
        let kid = kid.into();
        let jwk = PublicJwk {
            kty: "RSA".into(),
            kid: kid.clone(),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            n: B64URL.encode(public.modulus().big_endian_without_leading_zero()),
            e: B64URL.encode(public.exponent().big_endian_without_leading_zero()),
        };
        let pem = pem_wrap(&der);
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| KeyError(format!("signing key: {e}")))?;
        Ok(SigningKey {
            kid,
            pkcs8_der: der,
            encoding,
            public: jwk,
        })
    }

    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, KeyError> {
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| KeyError("pem is not base64".into()))?;
        Self::from_pkcs8_der(kid, der)
    }

    pub fn to_pkcs8_pem(&self) -> String {
        pem_wrap(&self.pkcs8_der)
    }
    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// Signs claims as an access token: RS256, `typ: at+jwt`, this key's kid.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError(e.to_string()))
    }
}

fn pem_wrap(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// The private set: the active key signs, all keys' public halves stay published so
/// tokens signed before a rotation still verify.
pub struct PrivateKeySet {
    pub active: String,
    pub keys: Vec<SigningKey>,
}

#[derive(Serialize, Deserialize)]
struct PrivateKeySetDoc {
    active: String,
    keys: Vec<PrivateKeyDoc>,
}

#[derive(Serialize, Deserialize)]
struct PrivateKeyDoc {
    kid: String,
    pem: String,
}

impl PrivateKeySet {
    /// A set holding one freshly generated key.
    pub fn generate() -> Result<Self, KeyError> {
        let kid = new_kid();
        Ok(PrivateKeySet {
            active: kid.clone(),
            keys: vec![SigningKey::generate(kid)?],
        })
    }
    /// The set in `json`. Its errors never hold any of `json`'s text: serde's messages
    /// quote the value they met ("invalid type: string \"-----BEGIN…\"" when a PEM sits
    /// where the list belongs), and the error ends in an ERROR log or a terminal.
    pub fn parse(json: &str) -> Result<Self, KeyError> {
        let doc: PrivateKeySetDoc = serde_json::from_str(json).map_err(|e| {
            use serde_json::error::Category;
            let kind = match e.classify() {
                Category::Syntax | Category::Io => "invalid JSON",
                Category::Eof => "JSON cut short",
                Category::Data => "wrong shape",
            };
            KeyError(format!(
                "private key set: {kind} at line {}, column {}; expected \
                 {{\"active\": \"<kid>\", \"keys\": [{{\"kid\": \"<kid>\", \"pem\": \"<PKCS#8 PEM>\"}}]}}",
                e.line(),
                e.column()
            ))
        })?;
        let keys = doc
            .keys
            .iter()
            .map(|k| SigningKey::from_pkcs8_pem(k.kid.clone(), &k.pem))
            .collect::<Result<Vec<_>, _>>()?;
        if !keys.iter().any(|k| k.kid == doc.active) {
            return Err(KeyError("active kid is not in the set".into()));
        }
        Ok(PrivateKeySet {
            active: doc.active,
            keys,
        })
    }
    pub fn to_json(&self) -> String {
        let doc = PrivateKeySetDoc {
            active: self.active.clone(),
            keys: self
                .keys
                .iter()
                .map(|k| PrivateKeyDoc {
                    kid: k.kid.clone(),
                    pem: k.to_pkcs8_pem(),
                })
                .collect(),
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }
    pub fn active_key(&self) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.kid == self.active)
            .unwrap_or(&self.keys[0])
    }
    /// Adds a new active key; keeps the newest `keep` keys (rotation).
    pub fn rotate(&mut self, keep: usize) -> Result<(), KeyError> {
        let kid = new_kid();
        self.keys.insert(0, SigningKey::generate(kid.clone())?);
        self.keys.truncate(keep.max(1));
        self.active = kid;
        Ok(())
    }
    pub fn public_set(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(|k| k.public.clone()).collect(),
        }
    }
}

/// Time-ordered kid, so operators can tell key ages apart.
fn new_kid() -> String {
    format!("k-{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_survives_a_pem_round_trip_and_publishes_its_public_half() {
        let key = SigningKey::generate("k1").unwrap();
        let back = SigningKey::from_pkcs8_pem("k1", &key.to_pkcs8_pem()).unwrap();
        assert_eq!(back.public_jwk(), key.public_jwk());
        assert_eq!(key.public_jwk().e, "AQAB");
        assert!(format!("{key:?}").contains("k1") && !format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn rotation_keeps_old_public_keys_and_activates_the_new_one() {
        let mut set = PrivateKeySet::generate().unwrap();
        let old = set.active.clone();
        set.rotate(3).unwrap();
        assert_ne!(set.active, old);
        let kids: Vec<_> = set.public_set().keys.into_iter().map(|k| k.kid).collect();
        assert!(kids.contains(&old) && kids.contains(&set.active));
        let reparsed = PrivateKeySet::parse(&set.to_json()).unwrap();
        assert_eq!(reparsed.active, set.active);
    }

    // ---- a mis-shaped private set is refused without quoting it

    const FAKE_PEM: &str = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----";

    fn refused(json: &str) -> String {
        let e = PrivateKeySet::parse(json).err().expect("refused");
        let text = e.to_string();
        assert!(!text.contains("MIIEvQ"), "{text}");
        assert!(!text.contains("BEGIN PRIVATE KEY"), "{text}");
        text
    }

    #[test]
    fn a_mis_shaped_set_is_refused_by_place_and_kind_never_by_its_text() {
        let pem_as_keys = format!(r#"{{"active": "k1", "keys": "{FAKE_PEM}"}}"#);
        assert!(refused(&pem_as_keys).contains("wrong shape at line 1, column"));
        let bare_pem = format!(r#""{FAKE_PEM}""#);
        assert!(refused(&bare_pem).contains("wrong shape"));
        let not_json = FAKE_PEM.replace("\\n", "\n");
        assert!(refused(&not_json).contains("invalid JSON"));
        let cut = format!(r#"{{"active": "k1", "keys": [{{"kid": "k1", "pem": "{FAKE_PEM}"#);
        assert!(refused(&cut).contains("JSON cut short"));
    }

    #[test]
    fn a_well_shaped_set_with_a_bad_key_names_what_is_wrong() {
        let bad_pem =
            format!(r#"{{"active": "k1", "keys": [{{"kid": "k1", "pem": "{FAKE_PEM}"}}]}}"#);
        let bad = refused(&bad_pem);
        assert!(bad.contains("pkcs8") || bad.contains("pem"), "{bad}");
        let set = PrivateKeySet::generate().unwrap();
        let stray_kid = set
            .to_json()
            .replace(&format!(r#""active":"{}""#, set.active), r#""active":"k2""#);
        assert_ne!(stray_kid, set.to_json());
        assert!(refused(&stray_kid).contains("active kid"));
    }

    #[test]
    fn a_good_set_parses() {
        let set = PrivateKeySet::generate().unwrap();
        let back = PrivateKeySet::parse(&set.to_json()).unwrap();
        assert_eq!(back.active, set.active);
    }
}
