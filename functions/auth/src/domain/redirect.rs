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
/// protocol-relative path (`…com//evil.io`), and it stays below `base` as a browser
/// resolves it ([`resolves_under`]).
fn is_under(uri: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    !base.is_empty()
        && uri.strip_prefix(base).is_some_and(|rest| {
            (rest.is_empty() || rest.starts_with(['/', '?', '#'])) && !rest.starts_with("//")
        })
        && resolves_under(uri, base)
}

/// The checks of [`is_under`] again on `uri` as a browser reads it (WHATWG URL: dot
/// segments removed): the same origin as `base`, no credentials, a path at or below
/// base's, and not protocol-relative. `https://app/.//evil.io/x` passes the text check
/// but its path is `//evil.io/x`, which a front end navigating by path sends to
/// evil.io (security review, 2026-12-05).
fn resolves_under(uri: &str, base: &str) -> bool {
    let (Ok(u), Ok(b)) = (url::Url::parse(uri), url::Url::parse(base)) else {
        return false;
    };
    let base_path = b.path().trim_end_matches('/');
    let path = u.path();
    // An app's own scheme (`com.eventzr.app:/oauth`, OAUTH_REDIRECT_ALLOWLIST) has an
    // opaque origin, equal to nothing but itself: compare what names it instead.
    let same_origin = if b.origin().is_tuple() {
        u.origin() == b.origin()
    } else {
        u.scheme() == b.scheme() && u.host_str() == b.host_str() && u.port() == b.port()
    };
    same_origin
        && u.username().is_empty()
        && u.password().is_none()
        && !path.starts_with("//")
        && (path == base_path
            || path == "/" && base_path.is_empty()
            || path.starts_with(&format!("{base_path}/")))
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
            // Dot segments a browser removes: the path becomes `//evil.io/x`.
            "https://app.eventzr.com/.//evil.io/x",
            "https://app.eventzr.com/a/..//evil.io/x",
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
    fn a_base_with_a_path_keeps_redirects_below_that_path() {
        let base = "https://partner.example/app";
        for ok in [
            base,
            "https://partner.example/app/cb",
            "https://partner.example/app/./cb",
        ] {
            assert!(check(ok, [base]).is_ok(), "{ok}");
        }
        for bad in [
            "https://partner.example/app/../admin",
            "https://partner.example/apple",
        ] {
            assert!(check(bad, [base]).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_app_s_own_scheme_is_a_base_too() {
        let base = "com.eventzr.app:/oauth";
        for ok in ["com.eventzr.app:/oauth", "com.eventzr.app:/oauth/cb?x=1"] {
            assert!(check(ok, [base]).is_ok(), "{ok}");
        }
        for bad in ["com.eventzr.app:/oauth/../x", "com.evil.app:/oauth/cb"] {
            assert!(check(bad, [base]).is_err(), "{bad}");
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
