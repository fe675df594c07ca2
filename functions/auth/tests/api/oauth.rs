//! Tests of route group `oauth` (see src/routes/oauth.rs).
