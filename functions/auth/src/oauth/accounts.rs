//! Which user a provider identity signs in as: the existing account with that email when
//! both sides verified it, else a new account (admin of a new tenant on BASE, like
//! signup with `tenantName`).

use serde_json::json;
use shared::tenant::TenantId;

use super::{Provider, client::Identity};
use crate::{
    domain::{Email, User, UserStatus},
    error::{AuthError, AuthResult},
    repo::{
        audit, mail_limit,
        tenants::{self, Tenant},
        users,
    },
    state::AuthState,
};

/// The account `id` signs into: the verified account with its email, else a new one in
/// a new tenant, which counts as a founding from `source` (`repo::mail_limit`).
pub async fn user_for(
    st: &AuthState,
    provider: Provider,
    id: &Identity,
    source: Option<&str>,
) -> AuthResult<User> {
    // An email the provider did not verify proves nothing: never link or create with it.
    let email = match (&id.email, id.email_verified) {
        (Some(e), true) => {
            Email::parse(e).map_err(|_| AuthError::OAuthProviderError("malformed email".into()))?
        }
        _ => return Err(AuthError::AccountNotVerified),
    };
    if let Some(user) = users::by_email(st.store(), &email).await? {
        return linkable(user);
    }
    mail_limit::take_signup(st.store(), source, st.now()).await?;
    match create(st, provider, &email, id.name.as_deref()).await {
        // A concurrent sign-up took the email first: that account, if it qualifies.
        Err(AuthError::EmailTaken) => users::by_email(st.store(), &email)
            .await?
            .ok_or(AuthError::EmailTaken)
            .and_then(linkable),
        other => other,
    }
}

fn linkable(user: User) -> AuthResult<User> {
    if user.status == UserStatus::Suspended {
        return Err(AuthError::AccountSuspended);
    }
    // Pre-account-takeover guard: an unverified account may have been registered by
    // someone else with this email (and a password they know); its owner verifies it
    // (or resets the password) first.
    if !user.email_verified {
        return Err(AuthError::EmailTaken);
    }
    Ok(user)
}

async fn create(
    st: &AuthState,
    provider: Provider,
    email: &Email,
    name: Option<&str>,
) -> AuthResult<User> {
    let now = shared::clock::rfc3339_millis(st.now());
    let tenant = TenantId::from_uuid(shared::ids::new_id());
    let name: String = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.as_ref().split('@').next().unwrap_or_default())
        .chars()
        .take(100)
        .collect();
    let user = User {
        email_verified: true,
        ..User::new(
            shared::ids::new_id().to_string(),
            tenant.to_string(),
            email.as_ref().to_owned(),
            name.clone(),
            vec!["admin".into()],
            &now,
        )
    };
    // The user first: its email lock decides a race, and no tenant is left orphaned.
    users::create(st.store(), &user).await?;
    let new_tenant = Tenant {
        id: tenant.to_string(),
        name,
        plan_tier: "BASE".into(),
        status: "active".into(),
        strict_sessions: false,
    };
    tenants::create(st.store(), &new_tenant).await?;
    audit::record(
        st.store(),
        st.now(),
        audit::Event {
            tenant: &tenant,
            kind: "user.created",
            actor: Some(&user.id),
            subject: Some(&user.id),
            details: json!({ "method": format!("oauth:{}", provider.as_str()) }),
        },
    )
    .await;
    Ok(user)
}
