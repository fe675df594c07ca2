//! Route group `mfa`: TOTP multi-factor authentication: enroll, confirm (recovery codes), verify at login, disable.
//! (One Lambda function in template.yaml.)

use axum::Router;

use crate::AuthState;

pub const ROUTES: &[(&str, &str)] = &[];

pub fn router() -> Router<AuthState> {
    Router::new()
}
