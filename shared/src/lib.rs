//! EventZR's shared library: the request pipeline every service runs behind, and the
//! ports (store, secrets, mail, clock) with their AWS and local backends.
//! See ../design (ARCHITECTURE.md, API-CONVENTIONS.md) for the rules these implement.

pub mod access;
pub mod auth;
pub mod clock;
pub mod config;
pub mod contact;
pub mod context;
pub mod docs;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod lambda;
pub mod mail;
pub mod openapi;
pub mod outbound;
pub mod paging;
pub mod platform;
pub mod query;
pub mod route_groups;
pub mod secrets;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod tenant_status;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use envelope::{Envelope, Page};
pub use error::{ApiError, FieldError};
