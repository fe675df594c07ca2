//! Token attacks against auth-svc and cross-service verification.
