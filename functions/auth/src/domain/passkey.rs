//! WebAuthn plumbing that needs no store: the relying party built from config, the
//! user handle, and the decoy request options shown when an email has no passkey.

use shared::ids;
use webauthn_rs::{
    fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator},
    prelude::{RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder},
};
use webauthn_rs_proto::{AllowCredentials, PublicKeyCredentialRequestOptions};

use crate::{
    config::AuthConfig,
    domain::{Email, User},
    error::{AuthError, AuthResult},
};

/// The relying party, from config. Building it is a URL parse and a few allocations,
/// so it is not worth a field on the shared state.
pub fn relying_party(cfg: &AuthConfig) -> AuthResult<Webauthn> {
    let origin = Url::parse(&cfg.webauthn_origin)
        .map_err(|e| AuthError::Internal(format!("WEBAUTHN_ORIGIN: {e}")))?;
    WebauthnBuilder::new(&cfg.webauthn_rp_id, &origin)
        .and_then(|b| b.rp_name("EventZR").build())
        .map_err(|e| AuthError::Internal(format!("webauthn relying party: {e}")))
}

/// The WebAuthn user handle: the user id when it is a UUID (ours are), else a UUID
/// derived from it. Stable per user, and no personal data.
pub fn user_handle(user: &User) -> Uuid {
    Uuid::parse_str(&user.id).unwrap_or_else(|_| {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, user.id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_ref()[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    })
}

/// Request options for no real credential: a fresh random challenge, the policy and
/// timeout of real ones, and credential ids derived from the email under `hmac_key` by
/// webauthn-rs's fake generator (realistic lengths and counts, stable per email).
pub fn decoy_request(
    cfg: &AuthConfig,
    hmac_key: &[u8],
    email: &Email,
) -> AuthResult<RequestChallengeResponse> {
    let ids = WebauthnFakeCredentialGenerator::<FakePasskeyDistribution>::new(hmac_key)
        .and_then(|g| g.generate(email.as_ref().as_bytes()))
        .map_err(|e| AuthError::Internal(format!("webauthn decoy: {e}")))?;
    let timeout = u32::try_from(webauthn_rs::DEFAULT_AUTHENTICATOR_TIMEOUT.as_millis()).ok();
    Ok(RequestChallengeResponse {
        public_key: PublicKeyCredentialRequestOptions {
            challenge: ids::random_bytes::<32>().to_vec(),
            timeout,
            rp_id: cfg.webauthn_rp_id.clone(),
            allow_credentials: ids
                .into_iter()
                .map(|id| AllowCredentials {
                    type_: "public-key".into(),
                    id,
                    transports: None,
                })
                .collect(),
            user_verification: Default::default(),
            hints: None,
            extensions: None,
        },
        mediation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoy_ids_are_stable_per_email_and_differ_between_emails() {
        let cfg = AuthConfig::local();
        let key = [7u8; 32];
        let a = Email::parse("nobody@eventzr.com").unwrap();
        let ids = |e: &Email| {
            let r = decoy_request(&cfg, &key, e).unwrap();
            serde_json::to_value(&r.public_key.allow_credentials).unwrap()
        };

        assert_eq!(ids(&a), ids(&a));
        let others: Vec<_> = (0..8)
            .map(|i| ids(&Email::parse(&format!("n{i}@eventzr.com")).unwrap()))
            .collect();
        assert!(others.iter().any(|o| *o != ids(&a)));
    }

    #[test]
    fn the_local_relying_party_builds_and_user_handles_are_stable() {
        assert!(relying_party(&AuthConfig::local()).is_ok());
        let mut user: User = serde_json::from_value(serde_json::json!({
            "id": "not-a-uuid", "tenant_id": "t", "email": "a@b.co", "name": "A",
            "roles": [], "status": "active", "email_verified": true,
            "created_at": "", "updated_at": ""
        }))
        .unwrap();
        assert_eq!(user_handle(&user), user_handle(&user));
        user.id = "b0000001-0000-4000-8000-000000000001".into();
        assert_eq!(user_handle(&user).to_string(), user.id);
    }
}
