//! auth-svc's OpenAPI document: every handler's `#[utoipa::path]`, completed by
//! `shared::openapi::document` with what the pipeline adds. Served at
//! `GET /auth/v1/openapi.json`; the drift test holds it equal to `ROUTE_GROUPS`.

use utoipa::OpenApi;

use crate::routes::login;
use crate::routes::{account, admin, oauth};
use crate::routes::{jwks, mfa, profile, refresh, sessions, tenants, webauthn};

#[derive(OpenApi)]
#[openapi(
    paths(
        login::login,
        jwks::jwks,
        refresh::refresh,
        refresh::logout,
        refresh::logout_all,
        profile::get,
        profile::patch,
        profile::delete,
        sessions::list,
        sessions::revoke,
        tenants::current,
        mfa::enroll,
        mfa::confirm,
        mfa::verify::verify,
        mfa::disable,
        mfa::recovery::left,
        mfa::recovery::regenerate,
        webauthn::register_options,
        webauthn::register,
        webauthn::authenticate_options,
        webauthn::authenticate,
        webauthn::passkeys::list,
        webauthn::passkeys::remove,
        account::signup::signup,
        account::signup::verify,
        account::signup::resend,
        account::password::forgot,
        account::password::reset,
        account::password::change,
        account::magic::magic_link,
        account::magic::verify,
        admin::users::list,
        admin::invite::invite,
        admin::invite::list,
        admin::invite::revoke,
        admin::users::get,
        admin::users::patch,
        admin::users::unlock,
        admin::users::reset_mfa,
        admin::users::delete,
        admin::tenants::list,
        admin::tenants::create,
        admin::tenants::get,
        admin::tenants::patch,
        oauth::authorize,
        oauth::callback,
    ),
    // Schemas only path parameters refer to (utoipa collects body schemas itself).
    components(schemas(crate::oauth::Provider)),
    tags(
        (name = "session", description = "Sign in, tokens, sessions, profile, keys"),
        (name = "mfa", description = "TOTP second factor: enroll, confirm, verify at login, disable"),
        (name = "webauthn", description = "Passkeys: register one, sign in with one"),
        (name = "account", description = "Accounts by email: signup and verification, password forgot/reset/change, magic links"),
        (name = "admin", description = "Tenant administration: users (admin role) and tenants (system role)"),
        (name = "oauth", description = "Sign-in with Google, GitHub, Microsoft or Apple (authorization code + PKCE)"),
        (name = "health", description = "Liveness and this document"),
    )
)]
struct AuthApi;

/// The whole document (built on demand: nothing at cold start).
pub fn document() -> utoipa::openapi::OpenApi {
    shared::openapi::document(crate::SERVICE, AuthApi::openapi())
}
