//! auth-svc's domain types: parsed at the edge, nothing past it takes a raw `String`.

pub mod admin;
pub mod email;
pub mod passkey;
pub mod password;
pub mod profile;
pub mod redirect;
pub mod totp;
pub mod user;

pub use email::{Email, Username};
pub use password::{Password, PasswordHasher};
pub use profile::{DisplayName, LocaleTag, TimeZoneName};
pub use user::{User, UserStatus};
