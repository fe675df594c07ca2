//! Tests of route group `account` (see src/routes/account.rs).
