//! The shared pipeline, end to end through an axum router: envelope and rejections,
//! token verification, guards, idempotency, store faults — on the memory store, and
//! over the wire against the DynamoDB emulator where a test says so.

mod envelope;
mod faults;
mod guards;
mod helpers;
mod idempotency;
mod logs;
mod tokens;
mod wire;
