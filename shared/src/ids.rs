//! Identifiers and random secrets.

use base64::Engine as _;
use uuid::Uuid;

/// Time-ordered id for new records (sorts by creation time in keys).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// A UUIDv7 for `at` (the injectable clock's time), so ids of records created under a
/// test clock sort, and can be range-queried, by that time.
pub fn id_at(at: chrono::DateTime<chrono::Utc>) -> Uuid {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, secs, at.timestamp_subsec_nanos());
    Uuid::new_v7(ts)
}

/// Random id where ordering would leak timing (request ids).
/// From aws-lc's per-thread DRBG, like tokens: `Uuid::new_v4` asks the kernel
/// (`getrandom`) for every id, a system call per request.
pub fn random_id() -> Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// `n` bytes from the OS CSPRNG (aws-lc), for tokens and keys.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    aws_lc_rs::rand::fill(&mut buf).expect("the system CSPRNG is available");
    buf
}

/// A 256-bit random token, base64url without padding (one-time tokens, refresh tokens).
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Constant-time equality for secrets (API keys, token hashes, HMACs).
pub fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    // Hash both sides first so the comparison's time depends on neither length nor content.
    let ha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, a);
    let hb = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    aws_lc_rs::constant_time::verify_slices_are_equal(ha.as_ref(), hb.as_ref()).is_ok()
}

/// SHA-256, hex: how one-time tokens and refresh tokens are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_random_version_4_uuids_and_differ() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn secure_eq_compares_content() {
        assert!(secure_eq(b"key", b"key"));
        assert!(!secure_eq(b"key", b"kez"));
        assert!(!secure_eq(b"key", b"key2"));
    }

    #[test]
    fn sha256_hex_matches_the_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
