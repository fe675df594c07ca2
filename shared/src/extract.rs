//! `ApiJson<T>`: axum's `Json` with the platform's own rejections — 415 for a non-JSON
//! content type, 413 over the body limit, 400 VALIDATION naming the field that failed.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + utoipa::PartialSchema> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json_or_absent(req.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "body is too large",
                )
            } else {
                ApiError::field("body", "could not be read")
            }
        })?;
        parse_json_naming(&bytes, required_of::<T>).map(ApiJson)
    }
}

/// The fields the body's OpenAPI schema requires, in declaration order (serde's too).
fn required_of<T: utoipa::PartialSchema>() -> Vec<String> {
    use utoipa::openapi::{RefOr, schema::Schema};
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.required,
        _ => Vec::new(),
    }
}

/// API-CONVENTIONS.md: parse as JSON whatever the header says, but a content type that
/// is present and not JSON gets 415. So does JSON we cannot read as it comes: in a
/// charset other than UTF-8 (RFC 8259 8.1), or compressed (`Content-Encoding`), which
/// would otherwise fail as "not valid JSON", as if the client's JSON were wrong.
pub fn is_json_or_absent(headers: &http::HeaderMap) -> bool {
    // Every value counts: API Gateway joins repeated headers with commas, so reading only
    // the first would answer differently here and in AWS.
    let identity = headers.get_all(header::CONTENT_ENCODING).iter().all(|e| {
        e.as_bytes()
            .split(|b| *b == b',')
            .all(|c| c.trim_ascii().eq_ignore_ascii_case(b"identity"))
    });
    if !identity {
        return false;
    }
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(ct), None) = (types.next(), types.next()) else {
        // None: absent (parsed as JSON); two: which one is meant is anyone's guess.
        return headers.get(header::CONTENT_TYPE).is_none();
    };
    let Ok(ct) = ct.to_str() else { return false };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let utf8 = parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            let v = v.trim().trim_matches('"');
            // US-ASCII is UTF-8's subset: its bodies read the same.
            ["utf-8", "utf8", "us-ascii"]
                .iter()
                .any(|c| v.eq_ignore_ascii_case(c))
        }
        _ => true,
    });
    utf8 && (essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json")))
}

/// Parses a JSON body; errors name the field (`user.email`, `items[2].qty`) or `body`.
///
/// Every body is a JSON object. serde's derived structs also take an array as their
/// fields in order, so `[["email"], …]` would be a send and `[]` a preferences document
/// with every field at its default: anything but an object is refused first.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json_naming(bytes, Vec::new)
}

/// [`parse_json`]; when a field of the body itself is missing, every field `required`
/// names that the body lacks is named with it (serde stops at the first, and a form
/// wants them all at once).
fn parse_json_naming<T: DeserializeOwned>(
    bytes: &[u8],
    required: impl FnOnce() -> Vec<String>,
) -> Result<T, ApiError> {
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(ApiError::field("body", "a JSON body is required"));
    };
    if *first != b'{' {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(not_json(&e));
        }
        let kind = match first {
            b'[' => "an array",
            b'"' => "a string",
            b'n' => "null",
            b't' | b'f' => "a boolean",
            _ => "a number",
        };
        return Err(ApiError::field(
            "body",
            format!("must be a JSON object, not {kind}"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return not_json(&inner);
        }
        let message = strip_position(&inner.to_string());
        // serde reports a missing or unknown field at its parent's path: name the field.
        let (name, issue) = match (missing_field(&message), unknown_field(&message)) {
            (Some(name), _) => (Some(name), "is required".to_owned()),
            (None, Some(name)) => (Some(name), "is not allowed here".to_owned()),
            (None, None) => (None, plain_types(&message)),
        };
        if let (Some(name), true) = (missing_field(&message), path == ".") {
            return all_missing(name, bytes, required());
        }
        let field = match name {
            Some(name) if path == "." => name.to_owned(),
            // An unknown field's path already ends with it.
            Some(name) if path == name || path.ends_with(&format!(".{name}")) => path,
            Some(name) => format!("{path}.{name}"),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        ApiError::field(field, issue)
    })?;
    de.end()
        .map_err(|_| ApiError::field("body", "has trailing characters after the JSON value"))?;
    Ok(value)
}

/// 400 naming `first` (serde's) and every other field of `required` absent from the
/// body's top level, in `required`'s order.
fn all_missing(first: &str, bytes: &[u8], required: Vec<String>) -> ApiError {
    let present: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).unwrap_or_default();
    let mut missing: Vec<String> = required
        .into_iter()
        .filter(|f| !present.contains_key(f))
        .collect();
    if !missing.iter().any(|f| f == first) {
        missing.insert(0, first.to_owned());
    }
    ApiError::validation(
        missing
            .into_iter()
            .map(|f| crate::FieldError::new(f, "is required"))
            .collect(),
    )
}

fn not_json(e: &serde_json::Error) -> ApiError {
    ApiError::field(
        "body",
        format!(
            "is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    )
}

/// serde speaks Rust: `expected i64`, `a sequence`, `struct SendBody`. A client reads
/// JSON's words instead; and a number too large for an integer field is said to be one
/// (serde reads it as floating point and calls it that).
fn plain_types(msg: &str) -> String {
    // The last one: the part before may quote the client's own text.
    let Some((head, expected)) = msg.rsplit_once(", expected ") else {
        return msg.to_owned();
    };
    let (expected, integer) = match expected {
        "u8" => ("a whole number from 0 to 255", true),
        "u16" => ("a whole number from 0 to 65535", true),
        "u32" => ("a whole number from 0 to 4294967295", true),
        // 64-bit bounds tell a client nothing (a route checks its own range after).
        "u64" | "usize" => ("a whole number, 0 or more", true),
        "i8" => ("a whole number from -128 to 127", true),
        "i16" => ("a whole number from -32768 to 32767", true),
        "i32" => ("a whole number from -2147483648 to 2147483647", true),
        "i64" | "isize" => ("a whole number", true),
        "f32" | "f64" => ("a number", false),
        "a sequence" => ("an array", false),
        "a map" => ("an object", false),
        e if e.starts_with("struct ") => ("an object", false),
        e => (e, false),
    };
    // serde_json reads a number with a fraction or an exponent, or one past 64 bits, as
    // floating point: say which it is.
    let head = match head.split_once("floating point `") {
        Some((_, rest)) if integer => {
            let number = rest.trim_end_matches('`');
            match number.parse::<f64>() {
                Ok(n) if n.fract() != 0.0 => {
                    format!("invalid type: number `{number}` (has a fraction)")
                }
                Ok(n) if n.abs() >= 9.2e18 => {
                    format!("invalid value: number `{number}` (too large)")
                }
                _ => format!(
                    "invalid type: number `{number}` (written with a decimal point or an exponent)"
                ),
            }
        }
        // serde takes an array for a struct's fields in order; a wrong count is the only
        // way it says so.
        _ if head.starts_with("invalid length") && expected == "an object" => {
            "invalid type: an array".to_owned()
        }
        _ => found_in_json_words(head),
    };
    format!("{head}, expected {expected}")
}

/// "invalid type: map" -> "invalid type: an object", and so on for what serde found;
/// an enum's "unknown variant `x`" is an unknown value.
fn found_in_json_words(head: &str) -> String {
    if let Some(value) = head.strip_prefix("unknown variant ") {
        return format!("unknown value {value}");
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(found) = head.strip_prefix(prefix) {
            let found = match found {
                "map" => "an object".to_owned(),
                "sequence" => "an array".to_owned(),
                "unit value" => "null".to_owned(),
                f => match f
                    .strip_prefix("integer ")
                    .or_else(|| f.strip_prefix("floating point "))
                {
                    Some(number) => format!("number {number}"),
                    None => f.to_owned(),
                },
            };
            return format!("{prefix}{found}");
        }
    }
    head.to_owned()
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn missing_field(msg: &str) -> Option<&str> {
    msg.strip_prefix("missing field `")?.strip_suffix('`')
}

fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(&rest[..rest.find('`')?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    struct Signup {
        email: String,
        profile: Profile,
    }
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    struct Profile {
        age: u8,
    }

    fn fields(e: ApiError) -> serde_json::Value {
        assert_eq!(e.name, "VALIDATION");
        e.details.unwrap()["fields"].clone()
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = parse_json::<Signup>(br#"{"profile":{"age":3}}"#).unwrap_err();
        assert_eq!(
            fields(e),
            json!([{"field": "email", "issue": "is required"}])
        );
        let e = parse_json::<Signup>(br#"{"email":"a","profile":{}}"#).unwrap_err();
        assert_eq!(fields(e)[0]["field"], "profile.age");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Patch {
        name: Option<String>,
    }

    #[test]
    fn an_unknown_field_is_named() {
        let e = parse_json::<Patch>(br#"{"name":"a","roles":["admin"]}"#).unwrap_err();
        assert_eq!(
            fields(e),
            json!([{"field": "roles", "issue": "is not allowed here"}])
        );
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let e = parse_json::<Signup>(br#"{"email":"a","profile":{"age":"x"}}"#).unwrap_err();
        let f = fields(e);
        assert_eq!(f[0]["field"], "profile.age");
        assert!(f[0]["issue"].as_str().unwrap().starts_with("invalid type"));
    }

    #[test]
    fn malformed_json_and_empty_bodies_blame_the_body() {
        assert_eq!(
            fields(parse_json::<Signup>(b"{\"email\": ").unwrap_err())[0]["field"],
            "body"
        );
        assert_eq!(
            fields(parse_json::<Signup>(b"  ").unwrap_err())[0]["field"],
            "body"
        );
        let trailing = br#"{"email":"a","profile":{"age":1}} x"#;
        assert_eq!(
            fields(parse_json::<Signup>(trailing).unwrap_err())[0]["field"],
            "body"
        );
    }

    #[test]
    fn only_an_object_is_a_body() {
        // serde would read the array as Signup's fields in order.
        let positional = br#"["a@b.c", {"age": 3}]"#;
        assert!(serde_json::from_slice::<Signup>(positional).is_ok());
        for (body, kind) in [
            (&positional[..], "an array"),
            (b" []", "an array"),
            (b"\"x\"", "a string"),
            (b"null", "null"),
            (b"true", "a boolean"),
            (b"-1.5", "a number"),
        ] {
            assert_eq!(
                fields(parse_json::<Signup>(body).unwrap_err()),
                json!([{"field": "body", "issue": format!("must be a JSON object, not {kind}")}])
            );
        }
        // Malformed JSON is still reported as such, with its position.
        let issue = &fields(parse_json::<Signup>(b"[1,").unwrap_err())[0]["issue"];
        assert!(
            issue.as_str().unwrap().starts_with("is not valid JSON"),
            "{issue}"
        );
    }

    #[test]
    fn type_errors_speak_json_not_rust() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            daily: Option<i64>,
            hour: Option<u8>,
            tags: Option<Vec<String>>,
            inner: Option<Inner>,
            kind: Option<Kind>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Kind {
            Marketing,
            Reminder,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            a: u32,
        }
        let issue = |body: &str| {
            let f = fields(parse_json::<Body>(body.as_bytes()).unwrap_err());
            let (field, issue) = (f[0]["field"].as_str(), f[0]["issue"].as_str());
            format!("{}: {}", field.unwrap(), issue.unwrap())
        };
        for (body, said) in [
            (
                r#"{"daily": 123456789012345678901234567890}"#,
                "daily: invalid value: number `1.2345678901234568e+29` (too large), expected \
                 a whole number",
            ),
            (
                r#"{"daily": 1.5}"#,
                "daily: invalid type: number `1.5` (has a fraction), expected a whole number",
            ),
            (
                r#"{"daily": 1e3}"#,
                "daily: invalid type: number `1000.0` (written with a decimal point or an \
                 exponent), expected a whole number",
            ),
            (
                r#"{"hour": 300}"#,
                "hour: invalid value: number `300`, expected a whole number from 0 to 255",
            ),
            (
                r#"{"tags": "x"}"#,
                "tags: invalid type: string \"x\", expected an array",
            ),
            (
                r#"{"inner": 1}"#,
                "inner: invalid type: number `1`, expected an object",
            ),
            (
                r#"{"tags": {}}"#,
                "tags: invalid type: an object, expected an array",
            ),
            (
                r#"{"inner": []}"#,
                "inner: invalid type: an array, expected an object",
            ),
            (
                r#"{"kind": "promo"}"#,
                "kind: unknown value `promo`, expected `marketing` or `reminder`",
            ),
        ] {
            assert_eq!(issue(body), said, "{body}");
        }
    }

    #[test]
    fn content_types_other_than_json_are_refused() {
        let mut h = http::HeaderMap::new();
        assert!(is_json_or_absent(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json_or_absent(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json_or_absent(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json_or_absent(&h));

        // JSON, but not in a form we read: another charset, or compressed.
        for (ct, ok) in [
            ("application/json; charset=UTF-8", true),
            ("application/json;charset=\"utf-8\"", true),
            ("application/json; version=2", true),
            ("application/json; charset=US-ASCII", true),
            ("application/json; charset=iso-8859-1", false),
            ("application/json; charset=utf-16", false),
        ] {
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json_or_absent(&h), ok, "{ct}");
        }
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        h.insert(header::CONTENT_ENCODING, "identity".parse().unwrap());
        assert!(is_json_or_absent(&h));
        h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert!(!is_json_or_absent(&h));
        h.remove(header::CONTENT_TYPE);
        assert!(!is_json_or_absent(&h), "compressed, whatever the type");

        // Repeated headers count whole, as API Gateway joins them.
        let mut h = http::HeaderMap::new();
        h.append(header::CONTENT_ENCODING, "identity".parse().unwrap());
        h.append(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert!(!is_json_or_absent(&h));
        h.insert(header::CONTENT_ENCODING, "identity, gzip".parse().unwrap());
        assert!(!is_json_or_absent(&h));
        let mut h = http::HeaderMap::new();
        h.append(header::CONTENT_TYPE, "application/json".parse().unwrap());
        h.append(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json_or_absent(&h));
    }
}
