//! notify-svc's OpenAPI document: each route module's `#[utoipa::path]` handlers,
//! completed by `shared::openapi::document` with what the pipeline adds. Served at
//! `GET /notify/v1/openapi.json`; the drift test holds it equal to `ROUTE_GROUPS`.

use utoipa::openapi::{OpenApi, tag::TagBuilder};

use crate::routes::*;

/// The whole document (built on demand: nothing at cold start).
pub fn document() -> OpenApi {
    let mut doc = OpenApi::default();
    for part in [
        send::openapi(),
        deliveries::openapi(),
        templates::openapi(),
        people::openapi(),
        admin::openapi(),
        webhooks::openapi(),
        jobs::openapi(),
    ] {
        doc.merge(part);
    }
    doc.tags = Some(
        [
            (
                "send",
                "Send a message to people over email, SMS, push and the in-app inbox",
            ),
            (
                "deliveries",
                "Every delivery, its timeline, and the metrics over them",
            ),
            ("templates", "Versioned Handlebars templates, preview"),
            (
                "people",
                "A person's preferences, push devices and in-app inbox",
            ),
            (
                "admin",
                "Suppression list, quotas and providers (admin role)",
            ),
            (
                "webhooks",
                "Provider callbacks: SES over SNS, HMAC-signed providers",
            ),
            ("jobs", "The dispatcher (internal API key)"),
            ("health", "Liveness and this document"),
        ]
        .into_iter()
        .map(|(name, description)| {
            TagBuilder::new()
                .name(name)
                .description(Some(description))
                .build()
        })
        .collect(),
    );
    shared::openapi::document(crate::SERVICE, doc)
}
