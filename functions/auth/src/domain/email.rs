//! Email addresses (shared::contact) and usernames, normalised for lookups.

use shared::FieldError;

pub use shared::contact::Email;

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

/// Names a person could mistake for the platform or its staff (an invite from
/// `security`, a comment by `admin`): nobody claims them.
const RESERVED_USERNAMES: &[&str] = &[
    "abuse",
    "account",
    "accounts",
    "admin",
    "administrator",
    "api",
    "billing",
    "help",
    "helpdesk",
    "hostmaster",
    "info",
    "mailerdaemon",
    "moderator",
    "noreply",
    "official",
    "operator",
    "platform",
    "postmaster",
    "root",
    "security",
    "securityteam",
    "service",
    "staff",
    "support",
    "supportteam",
    "sysadmin",
    "system",
    "team",
    "trustandsafety",
    "verification",
    "verify",
    "webmaster",
];

impl Username {
    /// [`Username::parse`], for a name being claimed (signup, profile): the reserved
    /// names are refused. Finding a stored name (login) uses `parse`.
    pub fn claim(raw: &str) -> Result<Self, FieldError> {
        let u = Username::parse(raw)?;
        // `no_reply`, `eventzr-support`, `admin.` read as the reserved ones do.
        let bare: String = u.0.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let reserved = RESERVED_USERNAMES.iter().any(|r| {
            r.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .eq(bare.chars())
        });
        if reserved || bare.contains("eventzr") {
            return Err(FieldError::new("username", "is reserved; choose another"));
        }
        Ok(u)
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
    fn usernames_are_3_to_32_safe_characters() {
        assert_eq!(Username::parse("Dev_User").unwrap().as_ref(), "dev_user");
        for bad in ["ab", "a b c", "x@y", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_usernames_cannot_be_claimed_in_any_case() {
        for name in [
            "admin",
            "Support",
            " SECURITY ",
            "no-reply",
            "no_reply",
            "admin_",
            "eventzr-support",
            "team.eventzr",
            "help.desk",
        ] {
            let e = Username::claim(name).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.issue.as_str()),
                ("username", "is reserved; choose another")
            );
            assert!(
                Username::parse(name).is_ok(),
                "still found at login: {name}"
            );
        }
        assert_eq!(Username::claim("admin.ada").unwrap().as_ref(), "admin.ada");
    }
}
