//! notify-svc's routes by route group (one Lambda function each in template.yaml). Each
//! group module holds its handlers (or submodules), its `ROUTES` (the drift test's list)
//! and its part of the OpenAPI document (`openapi()`).

pub mod admin;
pub mod deliveries;
pub mod jobs;
pub mod people;
pub mod send;
pub mod templates;
pub mod webhooks;
