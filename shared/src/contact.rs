//! Contact addresses every service validates alike: email (auth's accounts, notify's
//! recipients) and E.164 phone numbers (notify's SMS).

use crate::error::FieldError;

/// A syntactically valid email, trimmed and lowercased (lookups are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses `raw`; a refusal names the field `email`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_as(raw, "email")
    }

    /// Parses `raw`; a refusal names `field` (e.g. `recipients[3].email`).
    pub fn parse_as(raw: &str, field: &str) -> Result<Self, FieldError> {
        let e = raw.trim().to_lowercase();
        let bad = || FieldError::new(field, "must be a valid email address");
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

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An E.164 phone number: `+`, a country code not starting with 0, at most 15 digits.
/// Spaces, dashes, dots and parentheses people type are dropped first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse_as(raw: &str, field: &str) -> Result<Self, FieldError> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Phone(compact))
        } else {
            Err(FieldError::new(
                field,
                "must be an E.164 phone number such as +14155550100",
            ))
        }
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
        assert_eq!(
            Email::parse_as("x", "recipients[2].email")
                .unwrap_err()
                .field,
            "recipients[2].email"
        );
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(
            Phone::parse_as("+1 (415) 555-0100", "phone")
                .unwrap()
                .as_ref(),
            "+14155550100"
        );
        for bad in [
            "",
            "4155550100",
            "+0123456789",
            "+1234",
            "+1415555010x",
            &format!("+{}", "1".repeat(16)),
        ] {
            assert!(Phone::parse_as(bad, "phone").is_err(), "{bad}");
        }
    }
}
