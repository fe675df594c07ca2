//! The interactive API reference: Scalar's `@scalar/api-reference` page over a service's
//! OpenAPI document. The bundle is vendored (shared/assets/scalar, pinned by
//! scripts/scalar-update.sh) and compiled in, so `/docs` works with no internet — a
//! content security policy keeps the page from loading anything from elsewhere.

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{error::ApiError, service::Service};

/// `@scalar/api-reference`'s `dist/browser/standalone.js`, gzipped.
const SCALAR_JS_GZ: &[u8] = include_bytes!("../assets/scalar/standalone.js.gz");

/// The page. Both URLs are relative, so the same page works at `/<svc>/v1/docs` (next to
/// `/<svc>/v1/openapi.json`) and at the local gateway's `/docs` (next to `/openapi.json`).
const PAGE: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>EventZR API reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="docs/scalar.js"></script>
    <script>
      Scalar.createApiReference('#app', {
        url: 'openapi.json',
        // The document's first server is relative ("/"): resolve it against this page.
        baseServerURL: window.location.origin,
        // Fonts would come from Scalar's CDN: use the system's.
        withDefaultFonts: false,
        // Paste a token from POST /auth/v1/login; kept in this browser only.
        persistAuth: true,
        authentication: { preferredSecurityScheme: 'bearerAuth' },
      })
    </script>
  </body>
</html>
"#;

/// Same-origin only, but for "Try it" requests to the servers the document lists.
const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src *; frame-ancestors 'none'";

/// `GET /<svc>/v1/docs` and `GET /<svc>/v1/docs/scalar.js`.
pub fn router(service: Service) -> Router {
    let base = service.base_path();
    routes(&format!("{base}/docs"))
}

/// The page at `at` and its script at `<at>/scalar.js` (the gateway uses `/docs`).
pub fn routes(at: &str) -> Router {
    Router::new()
        .route(at, get(page))
        .route(&format!("{at}/scalar.js"), get(script))
}

async fn page() -> Response {
    let mut resp = PAGE.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

/// The bundle as stored, gzip-encoded: every browser accepts it; a client that refuses
/// gzip gets 406 rather than 5 MB it did not ask for.
async fn script(headers: HeaderMap) -> Result<Response, ApiError> {
    if !accepts_gzip(&headers) {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            "the script is served gzip-encoded: send Accept-Encoding: gzip",
        ));
    }
    let mut resp = SCALAR_JS_GZ.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(resp)
}

/// No `Accept-Encoding` means any coding is acceptable (RFC 9110 §12.5.3).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(header::ACCEPT_ENCODING) else {
        return true;
    };
    v.to_str().unwrap_or("").split(',').any(|c| {
        let mut parts = c.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn gzip_is_acceptable_when_listed_wildcarded_or_unspecified() {
        assert!(accepts_gzip(&HeaderMap::new()));
        assert!(accepts_gzip(&with("gzip, deflate, br, zstd")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("identity")));
        assert!(!accepts_gzip(&with("gzip;q=0, identity")));
    }

    #[test]
    fn the_vendored_bundle_is_a_gzip_stream() {
        assert_eq!(&SCALAR_JS_GZ[..2], &[0x1f, 0x8b]);
        assert!(SCALAR_JS_GZ.len() > 500_000, "the whole bundle, not a stub");
    }
}
