//! Cross-service tests (ARCHITECTURE.md, "Testing layers" 4 and 5), one test binary:
//! event replay through lambda_http, route drift between template.yaml, the routers and
//! events/, and the local gateway over real HTTP (memory store, DynamoDB, the binary).

mod drift;
mod gateway;
mod helpers;
mod openapi;
mod replay;
