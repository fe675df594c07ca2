//! `POST /login`: email or username + password -> tokens, or the MFA challenge.
//! No enumeration: an unknown account and a wrong password give the same 401 after the
//! same argon2 work. Lockout: 5 failures in 15 minutes -> 423 for 15 minutes, for a
//! sign-in name without an account too (counted on its stand-in, `repo::lockout`).
//! Spraying: 100 refused sign-ins from one client in a clock hour -> 429 for the rest of
//! it, whatever the account (`repo::signin_limit`).

use axum::{extract::State, response::IntoResponse, response::Response};
use serde::Deserialize;
use serde_json::json;
use shared::{
    ApiError, Envelope, FieldError,
    extract::ApiJson,
    openapi::Data,
    store::{StoreError, Update},
};
use utoipa::ToSchema;

use crate::{
    domain::{Email, Password, User, UserStatus, Username},
    error::{AuthError, AuthResult},
    repo::{
        audit, credentials,
        lockout::{self, Counted},
        signin_limit, users,
    },
    signin::{self, SignInAnswer},
    state::{AuthState, ClientMeta},
};

/// An email (or a username) and its password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The account's email; a value without `@` is taken as a username.
    #[serde(default)]
    #[schema(example = "partner@eventzr.com")]
    pub email: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[schema(example = "Password123!", format = Password)]
    pub password: String,
}

crate::redact::redacted_debug!(LoginBody { email, username } secret { password });

#[utoipa::path(
    post,
    path = "/auth/v1/login",
    tag = "session",
    summary = "Sign in with a password",
    description = "Tokens, or — for an account with MFA — a challenge to complete with \
        `POST /auth/v1/mfa/totp/verify`. Unknown accounts and wrong passwords get the same \
        answer after the same work. 5 failures in 15 minutes lock the account for 15 minutes \
        (an email or username without an account locks the same way). A client address refused \
        100 sign-ins in a clock hour is refused every sign-in until the next (password spraying).",
    request_body(
        content = LoginBody,
        example = json!({"email": "partner@eventzr.com", "password": "Password123!"})
    ),
    responses(
        (status = 200, description = "Signed in, or the MFA challenge", body = Data<SignInAnswer>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: a field is missing or malformed, or \
            the password is longer than 1024 bytes (`details.fields` names it; nothing is counted)"),
        (status = 401, description = "`ERR_AUTH_INVALID_CREDENTIALS`: no such account or a wrong password"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_NOT_VERIFIED`: the email is not verified yet; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the account or its tenant is suspended"),
        (status = 423, description = "`ERR_AUTH_ACCOUNT_LOCKED`: too many failures; retry after `Retry-After` seconds"),
        (status = 429, description = "`ERR_AUTH_MAX_SESSIONS_REACHED`: the account has its maximum of live \
            sessions; `ERR_AUTH_RATE_LIMITED`: 100 sign-ins from this address (an IPv6 client: its /64) \
            were refused this hour, so every sign-in from it is refused until the hour ends (`Retry-After`)"),
    )
)]
pub async fn login(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    // Before any lookup, hashing or counting: a refusal here says nothing of the account.
    let password = Password::candidate(body.password, "password")
        .map_err(|f| ApiError::validation(vec![f]))?;
    let name = SignInName::of(body.email.as_deref(), body.username.as_deref())?;
    let (now, source) = (st.now(), meta.ip.as_deref());
    // The client's refused sign-ins are read beside the account: no time is added.
    let (allowed, user) = tokio::join!(
        signin_limit::check(st.store(), source, now),
        name.account(&st)
    );
    allowed?;
    let outcome = match user? {
        Some(user) => check_password(&st, Some(user), password).await,
        None => Err(refuse_unknown(&st, name.as_str(), password).await),
    };
    let outcome = match outcome {
        // Refused for its credentials (a wrong password, an unknown name, a lock): one
        // more of the client's refusals this hour.
        Err(e @ (AuthError::InvalidCredentials | AuthError::AccountLocked { .. })) => {
            signin_limit::count_failure(st.store(), source, now).await?;
            return Err(e.into());
        }
        other => other?,
    };
    if outcome.mfa_enabled() {
        return Ok(Envelope::ok(signin::mfa_challenge(&st, &outcome).await?).into_response());
    }
    Ok(Envelope::ok(signin::complete(&st, &outcome, &meta, "password").await?).into_response())
}

/// The sign-in name as looked up: what an unknown account's failures are counted on.
enum SignInName {
    Email(Email),
    Username(Username),
    /// Not a name any account can have: looked up nowhere, refused as unknown.
    Other(String),
}

impl SignInName {
    fn of(email: Option<&str>, username: Option<&str>) -> Result<Self, ApiError> {
        Ok(match (email, username) {
            (Some(e), _) if e.contains('@') => {
                SignInName::Email(Email::lookup(e).map_err(|f| ApiError::validation(vec![f]))?)
            }
            // An `email` without '@' is taken as a username (the guides' "Username/Password").
            (Some(u), _) | (None, Some(u)) => match Username::parse(u) {
                Ok(u) => SignInName::Username(u),
                Err(_) => SignInName::Other(u.trim().to_owned()),
            },
            (None, None) => {
                return Err(ApiError::validation(vec![FieldError::new(
                    "email",
                    "email or username is required",
                )]));
            }
        })
    }

    fn as_str(&self) -> &str {
        match self {
            SignInName::Email(e) => e.as_ref(),
            SignInName::Username(u) => u.as_ref(),
            SignInName::Other(s) => s,
        }
    }

    async fn account(&self, st: &AuthState) -> AuthResult<Option<User>> {
        match self {
            SignInName::Email(e) => users::by_email(st.store(), e).await,
            SignInName::Username(u) => users::by_username(st.store(), u).await,
            SignInName::Other(_) => Ok(None),
        }
    }
}

/// The same argon2 work as a real check, off the async runtime's threads.
async fn verify_dummy(st: &AuthState, password: Password) {
    let hasher = st.hasher.clone();
    let _ = tokio::task::spawn_blocking(move || hasher.verify_dummy(&password)).await;
}

/// A sign-in name no account has gets what a wrong password gets: a guess reserved on
/// the name's stand-in counter, the argon2 work, 401 — and 423 once five such guesses in
/// 15 minutes filled it, as an account would (else the lock tells which emails exist).
async fn refuse_unknown(st: &AuthState, name: &str, password: Password) -> AuthError {
    let now = st.epoch();
    let locked = |until: i64| AuthError::AccountLocked {
        retry_after: (until - now).max(1) as u64,
    };
    let refused = async {
        let on = Counted::stand_in(&credentials::decoy_hmac_key(st.store()).await?, name);
        let seen = on.current(st.store()).await?;
        let reservation = match lockout::reserve(st.store(), &on, seen, now).await? {
            Ok(r) => r,
            Err(until) => return Ok(locked(until)),
        };
        verify_dummy(st, password).await;
        Ok::<_, AuthError>(
            match lockout::fail(st.store(), &on, &reservation, now).await? {
                Some(until) => locked(until),
                None => AuthError::InvalidCredentials,
            },
        )
    };
    refused.await.unwrap_or_else(|e| e)
}

/// Verifies a password for a possibly unknown user, applying lockout, status and
/// rehashing. Shared by login and password change.
pub async fn check_password(
    st: &AuthState,
    user: Option<User>,
    password: Password,
) -> AuthResult<User> {
    let hasher = st.hasher.clone();
    let now = st.epoch();
    let Some(user) = user else {
        verify_dummy(st, password).await;
        return Err(AuthError::InvalidCredentials);
    };
    if user.locked_until > now {
        return Err(AuthError::AccountLocked {
            retry_after: (user.locked_until - now) as u64,
        });
    }
    // The guess is counted before it is evaluated (atomically on the user item), so a
    // burst of parallel requests gets no more guesses than the lockout allows.
    let reservation = match users::reserve_attempt(st.store(), &user, now).await? {
        Ok(r) => r,
        Err(until) => {
            return Err(AuthError::AccountLocked {
                retry_after: (until - now).max(1) as u64,
            });
        }
    };
    let phc = user.password_hash.clone();
    let (ok, password) = tokio::task::spawn_blocking(move || {
        let ok = match &phc {
            Some(phc) => hasher.verify(&password, phc),
            None => {
                hasher.verify_dummy(&password);
                false
            }
        };
        (ok, password)
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))?;
    let tenant = signin::tenant_of(&user)?;
    if !ok {
        let locked = users::fail_attempt(st.store(), &user, &reservation, now).await?;
        audit::record(
            st.store(),
            st.now(),
            audit::Event {
                tenant: &tenant,
                kind: if locked.is_some() {
                    "account.locked"
                } else {
                    "login.failed"
                },
                actor: None,
                subject: Some(&user.id),
                details: json!({}),
            },
        )
        .await;
        return Err(match locked {
            Some(until) => AuthError::AccountLocked {
                retry_after: (until - now) as u64,
            },
            None => AuthError::InvalidCredentials,
        });
    }
    if user.status == UserStatus::Suspended || !user.email_verified {
        users::release_attempt(st.store(), &user, &reservation).await?;
        return Err(if user.status == UserStatus::Suspended {
            AuthError::AccountSuspended
        } else {
            AuthError::AccountNotVerified
        });
    }
    // With MFA on, the password is only the first factor: the count (which wrong MFA
    // codes also feed) is cleared by the completed sign-in, not here — otherwise a fresh
    // login after each batch of wrong codes would allow unlimited code guessing. The
    // attempt reserved for this (right) password is given back, though, so correct
    // passwords alone never lock the owner out.
    // From here on, every write is conditional on the password and status as read
    // before the check: a reset or suspension that landed meanwhile refuses the sign-in
    // (otherwise the session it opens would outlive that reset's revocations).
    let mut user = if user.mfa_enabled() {
        users::release_attempt(st.store(), &user, &reservation).await?;
        user
    } else {
        users::clear_failures_for_sign_in(st.store(), &user, &reservation).await?
    };
    if user
        .password_hash
        .as_deref()
        .is_some_and(|h| st.hasher.needs_rehash(h))
    {
        let hasher = st.hasher.clone();
        let new_hash = tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))??;
        // A rehash must never write the old password over a new one.
        let rehash = Update::new(users::key_of(&user)?)
            .set("password_hash", new_hash)
            .when(users::credentials_as_read(&user));
        user = match st.store().update(rehash).await {
            Ok(item) => users::from_item(&item)?,
            Err(StoreError::ConditionFailed { .. }) => return Err(AuthError::InvalidCredentials),
            Err(e) => return Err(e.into()),
        };
    }
    Ok(user)
}
