//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps, ±1 step
//! of drift — the authenticator apps' defaults and the design's rule. Also the codes a
//! user types (`MfaCode`: a TOTP code or a recovery code) and the recovery codes.
//!
//! Written against aws-lc-rs (already our HMAC/CSPRNG provider) rather than totp-rs:
//! replay protection needs the *step* a code matched, which totp-rs's `check` (a bool)
//! does not give, so we would use only its 15-line `generate` and pull in RustCrypto's
//! hmac/sha1, base32, url and constant_time_eq for it.

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use shared::FieldError;

pub const STEP_SECS: i64 = 30;
pub const DIGITS: usize = 6;
/// Steps of clock drift accepted either side of the current one.
pub const SKEW: i64 = 1;
pub const ISSUER: &str = "EventZR";
pub const RECOVERY_CODES: usize = 10;

/// A TOTP key. No `Display`/`Debug` of the bytes: it is a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// 160 bits from the CSPRNG (RFC 4226 §4 recommends 160).
    pub fn generate() -> Self {
        TotpSecret(shared::ids::random_bytes::<20>().to_vec())
    }

    /// The stored/base32 form (RFC 4648, no padding, as authenticator apps take it).
    pub fn parse(base32: &str) -> Option<Self> {
        let clean: String = base32
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        BASE32_NOPAD
            .decode(clean.as_bytes())
            .ok()
            .filter(|b| !b.is_empty())
            .map(TotpSecret)
    }

    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The 6-digit code of time step `step` (HOTP with counter = step).
    pub fn code_at_step(&self, step: i64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mac = hmac::sign(&key, &step.to_be_bytes());
        let h = mac.as_ref();
        // RFC 4226 §5.3 dynamic truncation.
        let off = (h[h.len() - 1] & 0x0f) as usize;
        let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
        format!("{:0width$}", bin % 10u32.pow(DIGITS as u32), width = DIGITS)
    }

    pub fn code_at(&self, epoch_secs: i64) -> String {
        self.code_at_step(step_of(epoch_secs))
    }

    /// The step `code` belongs to among now-1..=now+1, skipping steps at or before
    /// `last_used` (a code accepted once is never accepted again). Compared in
    /// constant time.
    pub fn matching_step(&self, code: &str, now_epoch: i64, last_used: Option<i64>) -> Option<i64> {
        let now = step_of(now_epoch);
        (now - SKEW..=now + SKEW)
            .filter(|s| last_used.is_none_or(|last| *s > last))
            .find(|s| shared::ids::secure_eq(self.code_at_step(*s).as_bytes(), code.as_bytes()))
    }

    /// The Key URI authenticator apps scan (google-authenticator wiki "Key Uri Format").
    pub fn otpauth_uri(&self, account: &str) -> String {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            issuer = ISSUER,
            account = percent_encode(account),
            secret = self.to_base32(),
        )
    }
}

pub fn step_of(epoch_secs: i64) -> i64 {
    epoch_secs.div_euclid(STEP_SECS)
}

/// RFC 3986: everything but the unreserved characters is %-encoded.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A single-use recovery code: 80 random bits, shown as `XXXX-XXXX-XXXX-XXXX` (base32,
/// so no 0/1/8/9 to confuse with O/I/B/g), stored only as the SHA-256 of its 16
/// characters.
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn generate() -> Self {
        RecoveryCode(BASE32_NOPAD.encode(&shared::ids::random_bytes::<10>()))
    }
    /// What the user sees, once.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }
    pub fn hash(&self) -> String {
        shared::ids::sha256_hex(self.0.as_bytes())
    }
}

/// What a user typed to prove the second factor.
pub enum MfaCode {
    Totp(String),
    Recovery(RecoveryCode),
}

impl MfaCode {
    /// Six digits are a TOTP code; otherwise, ignoring case, spaces and dashes, 16
    /// base32 characters are a recovery code. Anything else is a 400 naming `code`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        if raw.len() == DIGITS && raw.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(MfaCode::Totp(raw.to_owned()));
        }
        let clean: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if clean.len() == 16 && BASE32_NOPAD.decode(clean.as_bytes()).is_ok() {
            return Ok(MfaCode::Recovery(RecoveryCode(clean)));
        }
        Err(FieldError::new(
            "code",
            if raw.is_empty() {
                "is required"
            } else {
                "must be a 6-digit code or a recovery code"
            },
        ))
    }

    /// A TOTP code only (confirming an enrollment proves the app holds the secret).
    pub fn parse_totp(raw: &str) -> Result<String, FieldError> {
        match Self::parse(raw)? {
            MfaCode::Totp(c) => Ok(c),
            MfaCode::Recovery(_) => Err(FieldError::new("code", "must be a 6-digit code")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 key "12345678901234567890"; 6-digit codes are the
    /// last six digits of the 8-digit vectors.
    #[test]
    fn codes_match_the_rfc_6238_sha1_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(secret.code_at(t), code, "t = {t}");
        }
    }

    #[test]
    fn the_documented_secret_decodes_from_base32() {
        let s = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(s.0, b"Hello!\xde\xad\xbe\xef");
        assert_eq!(s.to_base32(), "JBSWY3DPEHPK3PXP");
        assert_eq!(TotpSecret::parse("jbswy3dpehpk3pxp"), Some(s));
        assert!(TotpSecret::parse("not base32!").is_none());
    }

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let (a, b) = (TotpSecret::generate(), TotpSecret::generate());
        assert_eq!(a.to_base32().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn one_step_of_drift_passes_and_two_fail() {
        let s = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        let now = 1_700_000_015;
        let step = step_of(now);
        for d in [-1, 0, 1] {
            let code = s.code_at_step(step + d);
            assert_eq!(s.matching_step(&code, now, None), Some(step + d));
        }
        for d in [-2, 2] {
            assert_eq!(s.matching_step(&s.code_at_step(step + d), now, None), None);
        }
    }

    #[test]
    fn a_step_at_or_before_the_last_used_one_is_refused() {
        let s = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        let now = 1_700_000_015;
        let code = s.code_at(now);
        assert_eq!(s.matching_step(&code, now, Some(step_of(now))), None);
        assert_eq!(
            s.matching_step(&code, now, Some(step_of(now) - 1)),
            Some(step_of(now))
        );
    }

    #[test]
    fn the_otpauth_uri_names_issuer_and_encoded_account() {
        let s = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(
            s.otpauth_uri("dev+x@eventzr.com"),
            "otpauth://totp/EventZR:dev%2Bx%40eventzr.com?secret=JBSWY3DPEHPK3PXP&issuer=EventZR&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_parse_back_whatever_the_case_and_dashes() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        let MfaCode::Recovery(typed) = MfaCode::parse(&shown.to_lowercase()).unwrap() else {
            panic!("not a recovery code");
        };
        assert_eq!(typed.hash(), code.hash());
    }

    #[test]
    fn codes_that_are_neither_kind_name_the_field() {
        for bad in ["", "12345", "1234567", "abc", "ABCD-EFGH-IJKL-MNO"] {
            let e = MfaCode::parse(bad).err().expect(bad);
            assert_eq!(e.field, "code");
        }
        assert!(MfaCode::parse_totp("ABCD-EFGH-IJKL-MNOP").is_err());
        assert!(matches!(MfaCode::parse(" 123456 "), Ok(MfaCode::Totp(c)) if c == "123456"));
    }
}
