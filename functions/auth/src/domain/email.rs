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
}
