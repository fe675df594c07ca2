//! auth-svc through its router: every route's happy path and named errors, on the
//! memory store, and over the wire against the DynamoDB emulator where a test says so.

mod account;
mod admin;
mod cli;
mod deletion;
mod helpers;
mod mfa;
mod oauth;
mod requests;
mod session;
mod tokens;
mod webauthn;
