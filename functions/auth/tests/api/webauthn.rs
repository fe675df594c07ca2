//! Tests of route group `webauthn` (see src/routes/webauthn.rs).
