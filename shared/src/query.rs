//! Query parameters with the platform's rules, for every route that reads any:
//! - each name at most once: a repeated one is 400 VALIDATION naming it. (axum's `Query`
//!   keeps the last value, so `?status=sent&status=failed` listed only failed deliveries,
//!   and `?limit=5&limit=100` answered 100);
//! - a query string that does not decode is 400 naming `query`;
//! - names a route does not read are ignored, as before.
//!
//! [`QueryParams`] for the routes that read their parameters one by one (a list's
//! filters and paging), [`ApiQuery`] for a route's typed parameters.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query};
use http::{Uri, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The longest parameter name an error repeats back; a longer one (or one with control
/// characters) is reported as `query`.
const MAX_NAME_SHOWN: usize = 64;

/// A request's query parameters by name, each given once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams(BTreeMap<String, String>);

impl QueryParams {
    pub fn from_uri(uri: &Uri) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut params = BTreeMap::new();
        for (name, value) in pairs {
            if params.contains_key(&name) {
                return Err(ApiError::field(
                    shown(&name),
                    "is given more than once (give one value)",
                ));
            }
            params.insert(name, value);
        }
        Ok(QueryParams(params))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        QueryParams::from_uri(&parts.uri)
    }
}

/// axum's `Query<T>` with the rules above. `T`'s own refusals (a field of the wrong
/// type) are 400 naming `query`.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        QueryParams::from_uri(&parts.uri)?;
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(t)| ApiQuery(t))
            .map_err(|_| ApiError::field("query", "is not a valid query string"))
    }
}

fn shown(name: &str) -> String {
    if name.is_empty() || name.len() > MAX_NAME_SHOWN || name.chars().any(char::is_control) {
        "query".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn params(query: &str) -> Result<QueryParams, ApiError> {
        QueryParams::from_uri(&format!("/x?{query}").parse().unwrap())
    }

    /// (field, issue) of a validation error.
    fn field_of(e: ApiError) -> (String, String) {
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        let details = e.details.expect("a validation error names its field");
        let f = &details["fields"][0];
        (
            f["field"].as_str().unwrap().to_owned(),
            f["issue"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn each_name_is_read_once_and_decoded() {
        let p = params("status=sent&limit=5&to=ann%40example.com&q=a+b").unwrap();
        assert_eq!(p.get("status"), Some("sent"));
        assert_eq!(p.get("limit"), Some("5"));
        assert_eq!(p.get("to"), Some("ann@example.com"));
        assert_eq!(p.get("q"), Some("a b"));
        assert_eq!(p.get("cursor"), None);
        assert_eq!(params("").unwrap(), QueryParams::default());
        let no_query = QueryParams::from_uri(&"/x".parse().unwrap()).unwrap();
        assert_eq!(no_query, QueryParams::default());
    }

    #[test]
    fn a_repeated_name_is_refused_naming_it() {
        for q in [
            "status=sent&status=failed",
            "limit=5&status=sent&limit=100",
            "status=sent&status=sent",
            "status=&status=sent",
        ] {
            let (field, issue) = field_of(params(q).unwrap_err());
            let name = q.split('=').next().unwrap();
            assert_eq!(field, name, "{q}");
            assert!(issue.contains("more than once"), "{q}: {issue}");
        }
        // Names are compared decoded: `%73tatus` is `status`.
        assert_eq!(
            field_of(params("status=a&%73tatus=b").unwrap_err()).0,
            "status"
        );
    }

    #[test]
    fn a_name_unfit_to_repeat_back_is_reported_as_query() {
        let long = "n".repeat(MAX_NAME_SHOWN + 1);
        for q in [
            format!("{long}=1&{long}=2"),
            "%0A=1&%0A=2".into(),
            "=1&=2".into(),
        ] {
            assert_eq!(field_of(params(&q).unwrap_err()).0, "query", "{q}");
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        redirect_uri: Option<String>,
        count: Option<u32>,
    }

    async fn typed(query: &str) -> Result<Typed, ApiError> {
        let req = http::Request::get(format!("/x?{query}")).body(()).unwrap();
        let (mut parts, ()) = req.into_parts();
        ApiQuery::<Typed>::from_request_parts(&mut parts, &())
            .await
            .map(|ApiQuery(t)| t)
    }

    #[tokio::test]
    async fn typed_parameters_follow_the_same_rules() {
        assert_eq!(
            typed("redirectUri=https%3A%2F%2Fapp.example%2Fcb&other=1")
                .await
                .unwrap(),
            Typed {
                redirect_uri: Some("https://app.example/cb".into()),
                count: None
            }
        );
        let repeated = typed("redirectUri=a&redirectUri=b").await.unwrap_err();
        assert_eq!(field_of(repeated).0, "redirectUri");
        let wrong_type = typed("count=many").await.unwrap_err();
        assert_eq!(field_of(wrong_type).0, "query");
    }
}
