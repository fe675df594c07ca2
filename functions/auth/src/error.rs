//! auth-svc's outcomes, mapped once to statuses and `ERR_AUTH_*` names.

use http::StatusCode;
use shared::{ApiError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("account locked")]
    AccountLocked { retry_after: u64 },
    #[error("account suspended")]
    AccountSuspended,
    /// The account's tenant is suspended (the same code, ACCOUNT_SUSPENDED, as the spec
    /// names; `details.scope` tells a client which to show).
    #[error("tenant suspended")]
    TenantSuspended,
    #[error("email not verified")]
    AccountNotVerified,
    #[error("email already registered")]
    EmailTaken,
    #[error("username already taken")]
    UsernameTaken,
    #[error("weak password: {0}")]
    WeakPassword(&'static str),
    #[error("refresh token expired")]
    RefreshTokenExpired,
    #[error("token revoked")]
    TokenRevoked,
    #[error("session not found")]
    SessionNotFound,
    #[error("too many sessions")]
    MaxSessionsReached,
    #[error("invalid MFA code")]
    MfaInvalidCode,
    #[error("MFA not enabled")]
    MfaNotEnabled,
    #[error("MFA already enabled")]
    MfaAlreadyEnabled,
    #[error("invalid or expired token")]
    OneTimeTokenInvalid,
    #[error("not found")]
    NotFound,
    #[error("last admin")]
    LastAdmin,
    #[error("webauthn verification failed")]
    WebauthnFailed,
    #[error("oauth state invalid")]
    OAuthStateInvalid,
    /// The provider failed (non-2xx, unreachable, bad id_token); the detail is logged only.
    #[error("oauth provider error: {0}")]
    OAuthProviderError(String),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        let (status, name, message) = match e {
            AuthError::InvalidCredentials => (
                S::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                "invalid email or password",
            ),
            AuthError::AccountLocked { retry_after } => {
                return ApiError::new(
                    S::LOCKED,
                    "ACCOUNT_LOCKED",
                    "too many failed attempts; try again later",
                )
                .with_retry_after(retry_after);
            }
            AuthError::AccountSuspended => {
                return ApiError::new(S::FORBIDDEN, "ACCOUNT_SUSPENDED", "account is suspended")
                    .with_details(serde_json::json!({"scope": "account"}));
            }
            // Not "account is suspended": the operator acting on a suspended tenant, and
            // its members, must be told what is suspended (a billing matter, not theirs).
            AuthError::TenantSuspended => {
                return ApiError::new(S::FORBIDDEN, "ACCOUNT_SUSPENDED", "the tenant is suspended")
                    .with_details(serde_json::json!({"scope": "tenant"}));
            }
            AuthError::AccountNotVerified => (
                S::FORBIDDEN,
                "ACCOUNT_NOT_VERIFIED",
                "verify your email first",
            ),
            // The way in for the address's owner is a reset, never a verification: that
            // would keep the password whoever registered it chose.
            AuthError::EmailTaken => (
                S::CONFLICT,
                "EMAIL_TAKEN",
                "email is already registered; if it is yours, reset its password \
                 (POST /auth/v1/password/forgot)",
            ),
            AuthError::UsernameTaken => (S::CONFLICT, "USERNAME_TAKEN", "username is taken"),
            AuthError::WeakPassword(why) => {
                return ApiError::new(S::BAD_REQUEST, "WEAK_PASSWORD", why).with_details(
                    serde_json::json!({"fields": [{"field": "password", "issue": why}]}),
                );
            }
            AuthError::RefreshTokenExpired => (
                S::UNAUTHORIZED,
                "REFRESH_TOKEN_EXPIRED",
                "refresh token expired; log in again",
            ),
            AuthError::TokenRevoked => return ApiError::token_revoked(),
            AuthError::SessionNotFound => (S::NOT_FOUND, "SESSION_NOT_FOUND", "session not found"),
            // No Retry-After: sessions last days, so no wait would help. The way out is
            // in the message.
            AuthError::MaxSessionsReached => (
                S::TOO_MANY_REQUESTS,
                "MAX_SESSIONS_REACHED",
                "session limit reached: sign out of a session (DELETE /auth/v1/sessions/{id} \
                 from a signed-in device), or reset the password, which ends them all",
            ),
            AuthError::MfaInvalidCode => (S::UNAUTHORIZED, "MFA_INVALID_CODE", "invalid code"),
            AuthError::MfaNotEnabled => (S::BAD_REQUEST, "MFA_NOT_ENABLED", "MFA is not enabled"),
            AuthError::MfaAlreadyEnabled => {
                (S::CONFLICT, "MFA_ALREADY_ENABLED", "MFA is already enabled")
            }
            AuthError::OneTimeTokenInvalid => (
                S::BAD_REQUEST,
                "TOKEN_INVALID",
                "token is invalid or expired",
            ),
            AuthError::NotFound => return ApiError::not_found(),
            AuthError::LastAdmin => (
                S::CONFLICT,
                "LAST_ADMIN",
                "the tenant needs at least one active admin",
            ),
            AuthError::OAuthStateInvalid => (
                S::BAD_REQUEST,
                "OAUTH_STATE_INVALID",
                "sign-in state is invalid or expired; start again",
            ),
            AuthError::OAuthProviderError(detail) => {
                return ApiError::new(
                    S::BAD_GATEWAY,
                    "OAUTH_PROVIDER_ERROR",
                    "the sign-in provider failed; try again",
                )
                .with_source(detail);
            }
            AuthError::WebauthnFailed => (
                S::UNAUTHORIZED,
                "WEBAUTHN_FAILED",
                "passkey verification failed",
            ),
            AuthError::Api(e) => return e,
            AuthError::Store(e) => return e.into(),
            AuthError::Internal(e) => return ApiError::internal(e),
        };
        ApiError::new(status, name, message)
    }
}

pub type AuthResult<T> = Result<T, AuthError>;
