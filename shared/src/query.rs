//! Query parameters with the platform's rules, for every route that reads any:
//! - a parameter the route reads is given at most once: a repeated one is 400 VALIDATION
//!   naming it (axum's `Query` kept the last value for a map, so
//!   `?status=sent&status=failed` listed only failed deliveries and `?limit=5&limit=100`
//!   answered 100; most typed queries answered "request is invalid" naming nothing);
//! - names a route does not read are ignored, repeated or not, as on routes that read none;
//! - a typed parameter that does not parse (a word for a number) is 400 naming `query`.
//!
//! Values are never repeated back (a query can carry a one-time token). [`QueryParams`]
//! for the routes that read their parameters one by one (a list's filters and paging),
//! [`ApiQuery`] for a route's typed parameters.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{FromRequestParts, Query, rejection::QueryRejection};
use http::{Uri, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// The longest parameter name an error repeats back; a longer one, or one with anything
/// but printable ASCII, is reported as `query`.
const MAX_NAME_SHOWN: usize = 64;

/// A request's query parameters by name (decoded: `%40` is `@`, `+` a space).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    first: BTreeMap<String, String>,
    repeated: BTreeSet<String>,
}

impl QueryParams {
    pub fn from_uri(uri: &Uri) -> Self {
        let mut params = QueryParams::default();
        let query = uri.query().unwrap_or("");
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if params.first.contains_key(name.as_ref()) {
                params.repeated.insert(name.into_owned());
            } else {
                params.first.insert(name.into_owned(), value.into_owned());
            }
        }
        params
    }

    /// The value of `name`, if given; 400 naming it if it was given more than once.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        self.field(name).map_err(|e| ApiError::validation(vec![e]))
    }

    /// As [`get`](Self::get), with the repeat as a field error.
    pub fn field(&self, name: &str) -> Result<Option<&str>, FieldError> {
        if self.repeated.contains(name) {
            return Err(given_twice(name));
        }
        Ok(self.first.get(name).map(String::as_str))
    }

    /// As [`get`](Self::get), for a caller that answers every bad field at once: a repeat
    /// joins `errors` and reads as absent.
    pub fn gathered(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<&str> {
        self.field(name).unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams::from_uri(&parts.uri))
    }
}

/// axum's `Query<T>` with the rules above. serde's derive already refuses a field of `T`
/// given twice and ignores names `T` has no field for; this names the field.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> ApiQuery<T> {
    pub fn from_uri(uri: &Uri) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(uri)
            .map(|Query(t)| ApiQuery(t))
            .map_err(|rejection| {
                let repeated = QueryParams::from_uri(uri).repeated;
                match repeated_field(&rejection, &repeated) {
                    Some(name) => ApiError::validation(vec![given_twice(name)]),
                    None => ApiError::field("query", "is not a valid query string"),
                }
            })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        ApiQuery::from_uri(&parts.uri)
    }
}

/// Which of the repeated names made `T` refuse the query: serde's words for it are
/// "duplicate field `<name>`" (matched against names we know were repeated, never
/// taken from the message).
fn repeated_field<'a>(
    rejection: &QueryRejection,
    repeated: &'a BTreeSet<String>,
) -> Option<&'a str> {
    let text = rejection.body_text();
    repeated
        .iter()
        .find(|name| text.ends_with(&format!("duplicate field `{name}`")))
        .map(String::as_str)
}

fn given_twice(name: &str) -> FieldError {
    let shown = if !name.is_empty()
        && name.len() <= MAX_NAME_SHOWN
        && name.bytes().all(|b| b.is_ascii_graphic())
    {
        name
    } else {
        "query"
    };
    FieldError::new(shown, "is given more than once (give one value)")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn params(query: &str) -> QueryParams {
        QueryParams::from_uri(&format!("/x?{query}").parse().unwrap())
    }

    /// (field, issue) of a validation error, and that its text holds no `secret`.
    fn field_of(e: ApiError) -> (String, String) {
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        let details = e.details.expect("a validation error names its field");
        let text = format!("{} {details}", e.message);
        assert!(!text.contains("secret"), "a value repeated back: {text}");
        let f = &details["fields"][0];
        (
            f["field"].as_str().unwrap().to_owned(),
            f["issue"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn each_name_is_read_decoded() {
        let p = params("status=sent&limit=5&to=ann%40example.com&q=a+b");
        assert_eq!(p.get("status").unwrap(), Some("sent"));
        assert_eq!(p.get("limit").unwrap(), Some("5"));
        assert_eq!(p.get("to").unwrap(), Some("ann@example.com"));
        assert_eq!(p.get("q").unwrap(), Some("a b"));
        assert_eq!(p.get("cursor").unwrap(), None);
        assert_eq!(params(""), QueryParams::default());
        let no_query = QueryParams::from_uri(&"/x".parse().unwrap());
        assert_eq!(no_query, QueryParams::default());
    }

    #[test]
    fn a_repeated_name_is_refused_where_it_is_read_naming_it() {
        for q in [
            "status=secret1&status=secret2",
            "limit=5&status=sent&limit=100",
            "status=secret&status=secret",
            "status=&status=secret",
        ] {
            let p = params(q);
            let name = q.split('=').next().unwrap();
            let (field, issue) = field_of(p.get(name).unwrap_err());
            assert_eq!(field, name, "{q}");
            assert_eq!(issue, "is given more than once (give one value)", "{q}");
        }
        // Names are compared decoded: `%73tatus` is `status`.
        let p = params("status=a&%73tatus=b");
        assert_eq!(field_of(p.get("status").unwrap_err()).0, "status");
        // A name that is not read may be repeated; the others read as usual.
        let p = params("utm=a&utm=b&status=sent&_=1&_=2");
        assert_eq!(p.get("status").unwrap(), Some("sent"));
    }

    #[test]
    fn a_name_unfit_to_repeat_back_is_reported_as_query() {
        let longest = "n".repeat(MAX_NAME_SHOWN);
        let p = params(&format!("{longest}=1&{longest}=2"));
        assert_eq!(field_of(p.get(&longest).unwrap_err()).0, longest);
        let long = "n".repeat(MAX_NAME_SHOWN + 1);
        let bidi = "a\u{202e}b";
        for (q, name) in [
            (format!("{long}=1&{long}=2"), long.as_str()),
            ("%0A=1&%0A=2".into(), "\n"),
            ("a%E2%80%AEb=1&a%E2%80%AEb=2".into(), bidi),
            ("a+b=1&a+b=2".into(), "a b"),
            ("=1&=2".into(), ""),
        ] {
            assert_eq!(
                field_of(params(&q).get(name).unwrap_err()).0,
                "query",
                "{q}"
            );
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        redirect_uri: Option<String>,
        count: Option<u32>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Plain,
    }

    fn typed(query: &str) -> Result<Typed, ApiError> {
        ApiQuery::<Typed>::from_uri(&format!("/x?{query}").parse().unwrap()).map(|ApiQuery(t)| t)
    }

    #[test]
    fn typed_parameters_follow_the_same_rules() {
        assert_eq!(
            typed("redirectUri=https%3A%2F%2Fapp.example%2Fcb&other=1&other=2").unwrap(),
            Typed {
                redirect_uri: Some("https://app.example/cb".into()),
                count: None,
                kind: None,
            }
        );
        let repeated = typed("other=1&other=2&redirectUri=secret&redirectUri=secret");
        let (field, issue) = field_of(repeated.unwrap_err());
        assert_eq!(field, "redirectUri");
        assert!(issue.contains("more than once"));
        assert_eq!(field_of(typed("count=1&count=2").unwrap_err()).0, "count");
        // serde's own words would repeat the value ("unknown variant `secret`").
        for wrong in ["count=secret", "kind=secret"] {
            assert_eq!(field_of(typed(wrong).unwrap_err()).0, "query", "{wrong}");
        }
        assert_eq!(typed("kind=plain").unwrap().kind, Some(Kind::Plain));
    }
}
