//! Email addresses and usernames, normalised for lookups.

use shared::FieldError;

/// A syntactically valid email, trimmed and lowercased (lookups are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let e = raw.trim().to_lowercase();
        let bad = || FieldError::new("email", "must be a valid email address");
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Email(e))
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// 3-32 of `[a-z0-9._-]`, lowercased; unique across the platform (login by username).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let u = raw.trim().to_lowercase();
        let ok = (3..=32).contains(&u.len())
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok && !u.contains('@') {
            Ok(Username(u))
        } else {
            Err(FieldError::new(
                "username",
                "must be 3-32 letters, digits, '.', '_' or '-'",
            ))
        }
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Partner@EventZR.com ").unwrap().as_ref(),
            "partner@eventzr.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused_naming_the_field() {
        for bad in [
            "", "a", "a@", "@b.io", "a@b", "a b@c.io", "a@b..io", "a@.b.io", "a@-b.io",
        ] {
            assert_eq!(Email::parse(bad).unwrap_err().field, "email", "{bad}");
        }
    }

    #[test]
    fn usernames_are_3_to_32_safe_characters() {
        assert_eq!(Username::parse("Dev_User").unwrap().as_ref(), "dev_user");
        for bad in ["ab", "a b c", "x@y", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }
}
