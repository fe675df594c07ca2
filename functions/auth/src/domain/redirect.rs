//! Open-redirect guard for URIs we send users back to (magic links, OAuth): the front
//! end's own base URL (or an allow-listed one) and what lies below it — never another
//! host dressed up as ours.

use shared::FieldError;

/// `raw` if it is one of `bases` or below one of them; else an error naming `redirectUri`.
pub fn check<'a>(
    raw: &str,
    bases: impl IntoIterator<Item = &'a str>,
) -> Result<String, FieldError> {
    let err = |issue: &str| FieldError::new("redirectUri", issue);
    let uri = raw.trim();
    if uri.is_empty() {
        return Err(err("is required"));
    }
    // `\` is read as `/` by browsers (`https://app/\evil.io` -> `//evil.io`).
    if uri.len() > 2048
        || uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(err("is not a valid URI"));
    }
    if bases.into_iter().any(|base| is_under(uri, base)) {
        Ok(uri.to_owned())
    } else {
        Err(err("must point to the application"))
    }
}

/// `uri` is `base` or below it; what follows the prefix cannot extend the host
/// (`https://app.eventzr.com.evil.io`, `…com@evil.io`, `…com:8443`) nor start a
/// protocol-relative path (`…com//evil.io`).
fn is_under(uri: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    !base.is_empty()
        && uri.strip_prefix(base).is_some_and(|rest| {
            (rest.is_empty() || rest.starts_with(['/', '?', '#'])) && !rest.starts_with("//")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://app.eventzr.com";

    #[test]
    fn redirects_must_stay_under_the_base() {
        for ok in [
            BASE,
            "https://app.eventzr.com/",
            "https://app.eventzr.com/oauth/cb?x=1",
            "https://app.eventzr.com#done",
        ] {
            assert!(check(ok, [BASE]).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.eventzr.com.evil.io/cb",
            "https://app.eventzr.com@evil.io/cb",
            "https://app.eventzr.com:8443/cb",
            "https://evil.io/?https://app.eventzr.com",
            "http://app.eventzr.com/cb",
            "https://app.eventzr.com/\\evil.io",
            "https://app.eventzr.com//evil.io",
            "https://app.eventzr.com/a b",
            "",
        ] {
            assert_eq!(
                check(bad, [BASE]).unwrap_err().field,
                "redirectUri",
                "{bad}"
            );
        }
    }

    #[test]
    fn an_allow_listed_base_is_accepted_too() {
        assert!(
            check(
                "https://partner.example/cb",
                [BASE, "https://partner.example"]
            )
            .is_ok()
        );
    }
}
