//! Contact addresses every service validates alike: email (auth's accounts, notify's
//! recipients) and E.164 phone numbers (notify's SMS).

use crate::error::FieldError;

/// A deliverable email address, trimmed and lowercased (lookups are case-insensitive),
/// its domain in ASCII: an internationalised domain becomes its punycode (`bücher.de` ->
/// `xn--bcher-kva.de`, after Unicode's mapping, so fullwidth letters are the letters
/// they show), so one mailbox is one address for uniqueness and suppression lookups.
/// The local part is RFC 5321's dot-string of ASCII characters: SES (and most mail
/// systems) cannot deliver to a non-ASCII local part (SMTPUTF8), and an invisible
/// character (U+200B) would make a second spelling of someone else's address.
///
/// [`Email::parse`] is for addresses that enter the platform (sign-ups, invites,
/// recipients, suppressions); [`Email::lookup`] for finding what is already stored, which
/// may have been stored by the earlier, laxer rules (trimmed and lowercased, any
/// characters but blanks and controls): those addresses stay reachable.
#[derive(Debug, Clone)]
pub struct Email {
    canonical: String,
    /// How the earlier rules stored the same input, when that differs (an
    /// internationalised domain): a lookup that misses under `canonical` tries it.
    legacy: Option<String>,
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for Email {}
impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}

impl Email {
    /// Parses `raw`; a refusal names the field `email`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_as(raw, "email")
    }

    /// An address to look up: [`parse`](Self::parse)'s form when it passes, else the
    /// form the earlier rules stored (trimmed, lowercased) if those rules took it; a
    /// refusal names `email`.
    pub fn lookup(raw: &str) -> Result<Self, FieldError> {
        Self::parse(raw).or_else(|refused| {
            let legacy = legacy_form(raw).ok_or(refused)?;
            Ok(Email {
                canonical: legacy,
                legacy: None,
            })
        })
    }

    /// The earlier rules' form of the same address, when it differs from this one, as an
    /// address of its own (to look a stored one up).
    pub fn legacy_email(&self) -> Option<Email> {
        self.legacy.as_ref().map(|l| Email {
            canonical: l.clone(),
            legacy: None,
        })
    }

    /// Parses `raw`; a refusal names `field` (e.g. `recipients[3].email`).
    pub fn parse_as(raw: &str, field: &str) -> Result<Self, FieldError> {
        let e = raw.trim();
        let bad = || FieldError::new(field, "must be a valid email address");
        if e.len() > 254 {
            return Err(bad());
        }
        let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
        let local = local.to_ascii_lowercase();
        let domain = ascii_domain(domain).ok_or_else(bad)?;
        let address = format!("{local}@{domain}");
        if !is_dot_string(&local) || local.len() > 64 || address.len() > 254 {
            return Err(bad());
        }
        // What the earlier rules stored for this mailbox: the domain in Unicode, as typed.
        let legacy = domain
            .split('.')
            .any(|l| l.starts_with("xn--"))
            .then(|| format!("{local}@{}", idna::domain_to_unicode(&domain).0))
            .filter(|l| *l != address);
        Ok(Email {
            canonical: address,
            legacy,
        })
    }
}

/// The form the rules before 2026-12-04 stored (trimmed, lowercased; no blank or control
/// character, a dotted domain, a 1-64 byte local part), if they took `raw`.
fn legacy_form(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = e.rsplit_once('@')?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    (!local.is_empty() && local.len() <= 64 && !local.contains('@') && domain_ok).then_some(e)
}

/// RFC 5321's dot-string: atoms of letters, digits and ``!#$%&'*+-/=?^_`{|}~``,
/// joined by single dots.
fn is_dot_string(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
    })
}

/// A mail domain as DNS names it: Unicode mapped and made punycode (IDNA), then two or
/// more labels of letters, digits and inner hyphens, the last not all digits (an IP
/// address, or a literal `[…]`, is no mailbox a platform mails).
fn ascii_domain(raw: &str) -> Option<String> {
    let ascii = match url::Host::parse(raw).ok()? {
        url::Host::Domain(d) => d,
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => return None,
    };
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_digit()));
    (labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok).then_some(ascii)
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.canonical
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical)
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
    fn a_domain_is_kept_in_ascii_so_one_mailbox_is_one_address() {
        for (raw, kept) in [
            ("user@Bücher.de", "user@xn--bcher-kva.de"),
            ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
            ("ann@ＥＸＡＭＰＬＥ.com", "ann@example.com"),
            (
                "o'brien+events@example.co.uk",
                "o'brien+events@example.co.uk",
            ),
            ("ann/sales?#100%@example.com", "ann/sales?#100%@example.com"),
        ] {
            assert_eq!(Email::parse(raw).unwrap().as_ref(), kept, "{raw}");
        }
    }

    fn legacy(e: &Email) -> Option<String> {
        e.legacy_email().map(|l| l.to_string())
    }

    #[test]
    fn a_lookup_reaches_addresses_stored_by_the_earlier_rules() {
        // Refused as new addresses, still found as stored ones.
        for stored in ["josé@x.com", "a..b@docomo.ne.jp", "a@ex_ample.com"] {
            assert!(Email::parse(stored).is_err(), "{stored}");
            assert_eq!(
                Email::lookup(&format!(" {} ", stored.to_uppercase()))
                    .unwrap()
                    .as_ref(),
                stored
            );
        }
        // An internationalised domain: the punycode form, and the form stored before.
        let idn = Email::lookup("Ann@Bücher.de").unwrap();
        assert_eq!(idn.as_ref(), "ann@xn--bcher-kva.de");
        assert_eq!(legacy(&idn).as_deref(), Some("ann@bücher.de"));
        assert_eq!(legacy(&Email::parse("ann@example.com").unwrap()), None);
        let typed_in_punycode = Email::parse("ann@xn--bcher-kva.de").unwrap();
        assert_eq!(legacy(&typed_in_punycode).as_deref(), Some("ann@bücher.de"));
        // What the earlier rules refused stays refused.
        for bad in ["a b@c.io", "a@b", "", "a@-b.io"] {
            assert_eq!(Email::lookup(bad).unwrap_err().field, "email", "{bad}");
        }
    }

    #[test]
    fn malformed_emails_are_refused_naming_the_field() {
        for bad in [
            "",
            "a",
            "a@",
            "@b.io",
            "a@b",
            "a b@c.io",
            "a@b..io",
            "a@.b.io",
            "a@-b.io",
            // Dot-string: no empty atom.
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            // ASCII local parts only: invisible or lookalike characters make a second
            // spelling of an address.
            "a\u{200b}@example.com",
            "ａlice@example.com",
            "用户@例子.广告",
            // Literals, IPs, underscores, quoted local parts.
            "a@[127.0.0.1]",
            "a@127.0.0.1",
            "a@ex_ample.com",
            "\"a b\"@example.com",
            "a@example.com\u{0}",
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
