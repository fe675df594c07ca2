//! Route group `admin`: tenant administration (users: list, read, roles/status, unlock, invite) and tenants (system role).
//! (One Lambda function in template.yaml.)

use axum::Router;

use crate::AuthState;

pub const ROUTES: &[(&str, &str)] = &[];

pub fn router() -> Router<AuthState> {
    Router::new()
}
