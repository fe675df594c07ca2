//! Route group `webauthn`: passkeys: WebAuthn registration and authentication.
//! (One Lambda function in template.yaml.)

use axum::Router;

use crate::AuthState;

pub const ROUTES: &[(&str, &str)] = &[];

pub fn router() -> Router<AuthState> {
    Router::new()
}
