//! Passwords (ASVS 5.0 6.2.x): 8-128 characters of any Unicode, never truncated or
//! case-folded, no composition rules, not the email, not among the 3,000 most common;
//! stored as an argon2id PHC string (OWASP: m=19 MiB, t=2, p=1) and rehashed on login
//! when the parameters grow.

use std::{
    collections::HashSet,
    fmt,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{
        PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng,
    },
};

use shared::FieldError;

use crate::{domain::Email, error::AuthError};

const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 128;
/// A typed-in password to check is refused past this: the longest password the policy
/// lets anyone set is 128 four-byte characters (512 bytes), so a longer one can never be
/// right and is refused before any lookup, hashing or lockout count.
const MAX_CANDIDATE_BYTES: usize = 1024;

/// A password as typed. No `Display`; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Input to check against a stored hash (login, re-auth): non-empty and at most
    /// 1024 bytes, else a validation error naming `field`.
    pub fn candidate(raw: String, field: &'static str) -> Result<Self, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        if raw.len() > MAX_CANDIDATE_BYTES {
            return Err(FieldError::new(field, "must be at most 1024 bytes"));
        }
        Ok(Password(raw))
    }

    /// A new password that must satisfy the policy.
    pub fn new_for(raw: String, email: &Email) -> Result<Self, AuthError> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(AuthError::WeakPassword("must be at least 8 characters"));
        }
        if chars > MAX_CHARS {
            return Err(AuthError::WeakPassword("must be at most 128 characters"));
        }
        if raw.to_lowercase() == email.as_ref() {
            return Err(AuthError::WeakPassword("must not be your email address"));
        }
        if common_passwords().contains(raw.to_lowercase().as_str()) {
            return Err(AuthError::WeakPassword("is too common; choose another"));
        }
        Ok(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// argon2id hashing with the platform's parameters.
pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// Verified against when the account does not exist, so unknown emails take as long
    /// as wrong passwords (no user enumeration by timing).
    dummy: OnceLock<String>,
    /// argon2 verifications so far, real and dummy: how tests see that every way a
    /// sign-in fails does the same hashing work.
    verifications: AtomicU64,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::owasp()
    }
}

impl PasswordHasher {
    /// OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    pub fn owasp() -> Self {
        let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
        PasswordHasher {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: OnceLock::new(),
            verifications: AtomicU64::new(0),
        }
    }

    pub fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Internal(format!("argon2: {e}")))
    }

    /// Checks `password` against a stored PHC string (any argon2 parameters).
    pub fn verify(&self, password: &Password, phc: &str) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon
                .verify_password(password.0.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Burns the same time as a real verification (unknown account).
    pub fn verify_dummy(&self, password: &Password) {
        let dummy = self.dummy.get_or_init(|| {
            self.hash(&Password("dummy-password-for-timing".into()))
                .unwrap_or_default()
        });
        let _ = self.verify(password, dummy);
    }

    /// How many verifications (real and dummy) this hasher has run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Whether a stored hash uses weaker parameters than today's (rehash on login).
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let want = self.argon.params();
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() < want.m_cost()
            || params.t_cost() < want.t_cost()
            || params.p_cost() < want.p_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("user@eventzr.com").unwrap()
    }

    #[test]
    fn the_policy_counts_characters_not_bytes_and_allows_any_unicode() {
        assert!(Password::new_for("пароль-日本語-🔐🔐".into(), &email()).is_ok());
        assert!(
            Password::new_for("ab🔐cdef".into(), &email()).is_err(),
            "7 characters"
        );
        assert!(Password::new_for("x".repeat(128), &email()).is_ok());
        assert!(Password::new_for("x".repeat(129), &email()).is_err());
    }

    #[test]
    fn a_password_to_check_must_be_present_and_at_most_1024_bytes() {
        assert!(Password::candidate("é".repeat(512), "password").is_ok());
        let long = Password::candidate(format!("{}x", "é".repeat(512)), "currentPassword");
        assert_eq!(
            long.err(),
            Some(FieldError::new(
                "currentPassword",
                "must be at most 1024 bytes"
            ))
        );
        assert_eq!(
            Password::candidate(String::new(), "password").err(),
            Some(FieldError::new("password", "is required"))
        );
    }

    #[test]
    fn common_passwords_and_the_email_itself_are_refused() {
        for weak in ["password1", "PASSWORD1", "qwertyuiop", "user@eventzr.com"] {
            assert!(
                matches!(
                    Password::new_for(weak.into(), &email()),
                    Err(AuthError::WeakPassword(_))
                ),
                "{weak}"
            );
        }
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify_only_the_exact_password() {
        let h = PasswordHasher::owasp();
        let long = format!("{}Z", "é".repeat(63)); // 64 characters, 127 bytes: never truncated
        let phc = h
            .hash(&Password::candidate(long.clone(), "password").unwrap())
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(
            &Password::candidate(long.clone(), "password").unwrap(),
            &phc
        ));
        assert!(!h.verify(
            &Password::candidate(format!("{}Y", "é".repeat(63)), "password").unwrap(),
            &phc
        ));
        assert!(
            !h.verify(
                &Password::candidate(long.to_uppercase(), "password").unwrap(),
                &phc
            ),
            "not case-folded"
        );
        assert!(!h.needs_rehash(&phc));
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let old = weak
            .hash_password(b"x", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(h.needs_rehash(&old));
    }

    #[test]
    fn the_dummy_check_is_one_verification_at_todays_parameters() {
        let h = PasswordHasher::owasp();
        h.verify_dummy(&Password::candidate("anything".into(), "password").unwrap());
        assert_eq!(h.verifications(), 1);
        let dummy = h.dummy.get().expect("the dummy hash, made on first use");
        assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        h.verify_dummy(&Password::candidate("anything".into(), "password").unwrap());
        assert_eq!(
            h.verifications(),
            2,
            "one verification each time, same hash"
        );
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        assert_eq!(
            format!(
                "{:?}",
                Password::candidate("secret".into(), "password").unwrap()
            ),
            "Password(***)"
        );
    }
}
