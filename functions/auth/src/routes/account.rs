//! Route group `account`: accounts by email: signup and verification, password forgot/reset/change, magic links.
//! (One Lambda function in template.yaml.)

use axum::Router;

use crate::AuthState;

pub const ROUTES: &[(&str, &str)] = &[];

pub fn router() -> Router<AuthState> {
    Router::new()
}
