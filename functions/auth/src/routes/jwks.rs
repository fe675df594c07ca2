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
use utoipa::ToSchema;

use crate::state::AuthState;

/// A JWK Set (RFC 7517 §5), served bare (no envelope).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: documents what `PrivateKeySet::public_set` serializes
pub struct JwkSet {
    /// The active signing key and the older ones still published for verification.
    keys: Vec<Jwk>,
}

/// One RSA public key (RFC 7517 §4, RFC 7518 §6.3.1).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Jwk {
    #[schema(example = "RSA")]
    kty: String,
    /// The `kid` of the tokens this key verifies.
    #[schema(example = "k-0195f3c2a1b27c3d8e4f5a6b7c8d9e0f")]
    kid: String,
    #[schema(rename = "use", example = "sig")]
    use_: String,
    #[schema(example = "RS256")]
    alg: String,
    /// The modulus, base64url.
    n: String,
    /// The exponent, base64url.
    #[schema(example = "AQAB")]
    e: String,
}

#[utoipa::path(
    get,
    path = "/auth/v1/.well-known/jwks.json",
    operation_id = "jwks",
    tag = "session",
    summary = "The public key set",
    description = "The RS256 public keys that verify access tokens (RFC 7517), served bare \
        (not in the envelope) as `application/jwk-set+json` so JWT libraries can fetch it as \
        is. It lists the active signing key and the older keys still published for \
        verification; select the key by the token's `kid`. Cacheable for 5 minutes.",
    responses(
        (
            status = 200,
            description = "The key set",
            body = JwkSet,
            content_type = "application/jwk-set+json",
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))
        ),
    )
)]
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
