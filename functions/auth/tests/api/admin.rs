//! Tests of route group `admin` (see src/routes/admin.rs).
