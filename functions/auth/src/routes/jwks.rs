//! `GET /.well-known/jwks.json`: the public key set, as RFC 7517 defines it — a bare
//! JWKS document rather than the envelope, because JWT libraries fetch this URL as is.
//! Served as `application/jwk-set+json` (RFC 7517 §8.5): what it is, and it keeps the
//! document apart from the enveloped `application/json` answers of every other route.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, header};
use shared::ApiError;

use crate::state::AuthState;

pub async fn jwks(State(st): State<AuthState>) -> Result<Response, ApiError> {
    // Derived from the private set, so it always holds the active key and the older
    // ones still published for verification.
    let keys = st.issuer.keys().await.map_err(ApiError::from)?;
    let body = serde_json::to_vec(&keys.public_set()).map_err(ApiError::internal)?;
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}
