//! notify-svc through its router: every route's happy path and named errors, on the
//! memory store, and over the wire against the emulator (DynamoDB, SES, SNS) where a
//! test says so (scripts/test.sh runs the whole suite again with
//! `EVENTZR_TEST_STORE=dynamodb`).

mod channels;
mod checks;
mod deliveries;
mod helpers;
mod people;
mod quotas;
mod requests;
mod send;
mod suppressions;
mod templates;
mod webhooks;
mod wire;
