//! auth-svc's handlers, by resource; each route group (one module with `ROUTES` and
//! `router()`) is one Lambda function in template.yaml.

pub mod account;
pub mod admin;
pub mod jwks;
pub mod login;
pub mod mfa;
pub mod oauth;
pub mod profile;
pub mod refresh;
pub mod session;
pub mod sessions;
pub mod tenants;
pub mod webauthn;
