//! Tests of route group `mfa` (see src/routes/mfa.rs).
