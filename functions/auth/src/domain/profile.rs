//! What a user says about themselves: display name (signup and profile), locale and
//! timezone (profile). Each is parsed once here and refused naming its field.

use shared::FieldError;

/// 1-100 characters after trimming, none of them a control character (C0, DEL, C1), a
/// line or paragraph separator, or a bidirectional formatting character. The name is
/// shown to other people (member lists, invites, mails): an RLO (U+202E) would make it
/// read backwards there, a newline would forge lines in a mail or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        if name.chars().any(|c| c.is_control() || is_layout_control(c)) {
            return Err(FieldError::new(
                "name",
                "must not contain control, line-break or bidirectional formatting characters",
            ));
        }
        if name.is_empty() || name.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "name",
                "must be 1-100 characters, not all blank",
            ));
        }
        Ok(DisplayName(name.to_owned()))
    }
}

/// Line/paragraph separators and the bidi embedding, override, isolate and mark
/// characters (Unicode UAX #9). Zero-width joiners stay allowed: scripts and emoji need them.
fn is_layout_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<DisplayName> for String {
    fn from(n: DisplayName) -> String {
        n.0
    }
}

/// A BCP 47 language tag (RFC 5646 §2.1, without the grandfathered tags): a 2-3 letter
/// language (up to three 3-letter extlangs), then optionally a 4-letter script, a region
/// (2 letters or 3 digits), variants, extensions and a private-use part. Stored in the
/// RFC's canonical case (`en-gb` -> `en-GB`, `zh-hant-tw` -> `zh-Hant-TW`). Syntax only:
/// whether a subtag is registered is left to the client's locale data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocaleTag(String);

impl LocaleTag {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let tag = raw.trim();
        let bad = || {
            FieldError::new(
                "locale",
                "must be a BCP 47 language tag such as 'en', 'en-GB' or 'zh-Hant-TW'",
            )
        };
        if tag.len() > Self::MAX_LEN || !well_formed(tag) {
            return Err(bad());
        }
        let mut out: Vec<String> = Vec::new();
        let mut after_singleton = false;
        for (i, sub) in tag.split('-').enumerate() {
            let canonical = match sub.len() {
                _ if i == 0 || after_singleton => sub.to_ascii_lowercase(),
                4 if sub.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    let lower = sub.to_ascii_lowercase();
                    lower[..1].to_ascii_uppercase() + &lower[1..]
                }
                2 => sub.to_ascii_uppercase(),
                _ => sub.to_ascii_lowercase(),
            };
            after_singleton |= sub.len() == 1;
            out.push(canonical);
        }
        Ok(LocaleTag(out.join("-")))
    }
}

/// RFC 5646 `langtag` / `privateuse` syntax, subtag by subtag.
fn well_formed(tag: &str) -> bool {
    let subs: Vec<&str> = tag.split('-').collect();
    let alpha = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
    };
    let alnum = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let mut rest = subs.iter().copied().peekable();
    if !rest.next().is_some_and(|l| alpha(l, 2..=3)) {
        return false;
    }
    for _ in 0..3 {
        if rest.next_if(|s| alpha(s, 3..=3)).is_none() {
            break;
        }
    }
    rest.next_if(|s| alpha(s, 4..=4));
    rest.next_if(|s| alpha(s, 2..=2) || (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())));
    while rest
        .next_if(|s| {
            alnum(s, 5..=8) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit() && alnum(s, 4..=4))
        })
        .is_some()
    {}
    // Extensions: a singleton other than x, then one or more 2-8 character subtags.
    while rest
        .next_if(|s| alnum(s, 1..=1) && !s.eq_ignore_ascii_case("x"))
        .is_some()
    {
        if rest.next_if(|s| alnum(s, 2..=8)).is_none() {
            return false;
        }
        while rest.next_if(|s| alnum(s, 2..=8)).is_some() {}
    }
    // Private use: x, then one or more 1-8 character subtags.
    if rest.next_if(|s| s.eq_ignore_ascii_case("x")).is_some() {
        if rest.next_if(|s| alnum(s, 1..=8)).is_none() {
            return false;
        }
        while rest.next_if(|s| alnum(s, 1..=8)).is_some() {}
    }
    rest.next().is_none()
}

impl AsRef<str> for LocaleTag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A timezone of the IANA database (`Europe/London`, `UTC`, links such as `US/Eastern`),
/// case-insensitive, stored in the database's spelling. Resolved as notify-svc resolves
/// quiet-hours zones (`functions/notify/src/domain/zone.rs`): jiff's bundled database,
/// nothing from the host, no POSIX TZ strings or bare offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        jiff::tz::TimeZone::get(raw.trim())
            .ok()
            .and_then(|tz| tz.iana_name().map(str::to_owned))
            .map(TimeZoneName)
            .ok_or_else(|| {
                FieldError::new(
                    "timezone",
                    "must be an IANA time zone name such as 'Europe/London' or 'UTC'",
                )
            })
    }
}

impl AsRef<str> for TimeZoneName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(r: Result<impl std::fmt::Debug, FieldError>) -> String {
        r.unwrap_err().issue
    }

    #[test]
    fn a_display_name_is_trimmed_and_1_to_100_characters() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_ref(),
            "Ada Lovelace"
        );
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        for bad in ["", "   ", &"a".repeat(101)] {
            assert!(issue(DisplayName::parse(bad)).contains("1-100"), "{bad:?}");
        }
    }

    #[test]
    fn a_display_name_refuses_control_and_bidi_characters_but_not_joiners() {
        for bad in [
            "Ada\u{0}",
            "Ada\nLovelace",
            "Ada\u{7f}",
            "Ada\u{85}L",
            "evil\u{202E}gpj.exe",
            "a\u{2066}b",
            "a\u{200F}b",
            "a\u{2028}b",
            "a\u{061C}b",
        ] {
            let e = DisplayName::parse(bad).unwrap_err();
            assert_eq!(e.field, "name");
            assert!(e.issue.contains("control"), "{bad:?}: {}", e.issue);
        }
        // ZWJ emoji sequence and a Persian ZWNJ.
        assert!(DisplayName::parse("Ada 👩\u{200D}💻").is_ok());
        assert!(DisplayName::parse("می\u{200C}خواهم").is_ok());
    }

    #[test]
    fn locales_are_bcp47_tags_in_canonical_case() {
        for (raw, canonical) in [
            ("en", "en"),
            ("en-gb", "en-GB"),
            (" EN-GB ", "en-GB"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("sl-rozaj-biske", "sl-rozaj-biske"),
            ("de-CH-1901", "de-CH-1901"),
            ("zh-yue-HK", "zh-yue-HK"),
            ("en-US-u-ca-gregory", "en-US-u-ca-gregory"),
            ("de-DE-x-phonebk", "de-DE-x-phonebk"),
        ] {
            assert_eq!(LocaleTag::parse(raw).unwrap().as_ref(), canonical, "{raw}");
        }
        for bad in [
            "",
            "e",
            "english",
            "en_GB",
            "en-",
            "-en",
            "en--GB",
            "en-\nGB",
            "en GB",
            "1234",
            "en-u",
            "en-x",
            "en-GB-abcdefghi",
            "x-private",
            "fr-\u{202E}",
            &format!("en-{}", "x".repeat(70)),
        ] {
            let e = LocaleTag::parse(bad).unwrap_err();
            assert_eq!((e.field.as_str(), bad), ("locale", bad));
        }
    }

    #[test]
    fn timezones_are_iana_names_in_the_databases_spelling() {
        assert_eq!(
            TimeZoneName::parse("Europe/London").unwrap().as_ref(),
            "Europe/London"
        );
        assert_eq!(
            TimeZoneName::parse("europe/paris").unwrap().as_ref(),
            "Europe/Paris"
        );
        assert_eq!(TimeZoneName::parse("UTC").unwrap().as_ref(), "UTC");
        for bad in [
            "",
            "Mars/Olympus",
            "+05:00",
            "EST5EDT,M3.2.0,M11.1.0",
            "/etc/passwd",
            "Europe/London\u{0}",
        ] {
            let e = TimeZoneName::parse(bad).unwrap_err();
            assert_eq!((e.field.as_str(), bad), ("timezone", bad));
        }
    }
}
