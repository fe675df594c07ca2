//! Route group `oauth`: sign-in with google, github, microsoft and apple (authorization code + PKCE, state, nonce).
//! (One Lambda function in template.yaml.)

use axum::Router;

use crate::AuthState;

pub const ROUTES: &[(&str, &str)] = &[];

pub fn router() -> Router<AuthState> {
    Router::new()
}
