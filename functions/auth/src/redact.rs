//! `Debug` for types that carry secrets (passwords, tokens, codes, TOTP seeds): a derived
//! `Debug` would put them into any log line or panic message that formats the value.
//! Like `Password`'s, these print the secret fields as `[redacted]`.

/// `redacted_debug!(Type { shown, … } secret { hidden, … })`: `Debug` printing the
/// `shown` fields and `[redacted]` for the `hidden` ones. Every field must be named in
/// one list or the other (the impl destructures `Type`), so a new field cannot slip into
/// the output unreviewed.
macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* $(,)? } secret { $($hidden:ident),+ $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let $ty { $($shown,)* $($hidden: _,)+ } = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), $shown))*
                    $(.field(stringify!($hidden), &format_args!("[redacted]")))+
                    .finish()
            }
        }
    };
}

pub(crate) use redacted_debug;

#[cfg(test)]
mod tests {
    use crate::{
        domain::User,
        routes::{account, login, mfa, oauth, refresh},
        signin::MfaChallenge,
        tokens::{RefreshToken, TokenPair},
    };

    const S: &str = "s3cr3t-marker";

    fn s() -> String {
        S.to_owned()
    }

    #[test]
    fn secret_bearing_types_print_their_secrets_redacted() {
        let printed = [
            format!(
                "{:?}",
                login::LoginBody {
                    email: Some("a@eventzr.com".into()),
                    username: None,
                    password: s(),
                }
            ),
            format!("{:?}", refresh::RefreshBody { refresh_token: s() }),
            format!("{:?}", account::TokenBody { token: s() }),
            format!(
                "{:?}",
                account::password::ResetBody {
                    token: s(),
                    new_password: s(),
                }
            ),
            format!(
                "{:?}",
                account::password::ChangeBody {
                    current_password: s(),
                    new_password: s(),
                }
            ),
            format!(
                "{:?}",
                account::signup::SignupBody {
                    email: "a@eventzr.com".into(),
                    password: s(),
                    name: "A".into(),
                    username: None,
                    tenant_name: None,
                    invite_token: Some(s()),
                }
            ),
            format!("{:?}", mfa::CodeBody { code: s() }),
            format!(
                "{:?}",
                mfa::verify::VerifyBody {
                    mfa_token: s(),
                    code: s(),
                }
            ),
            format!(
                "{:?}",
                mfa::Enrollment {
                    secret: s(),
                    otpauth_uri: format!("otpauth://totp/x?secret={S}"),
                }
            ),
            format!(
                "{:?}",
                mfa::Enabled {
                    mfa_enabled: true,
                    recovery_codes: vec![s()],
                    revoked_sessions: Some(1),
                }
            ),
            format!(
                "{:?}",
                oauth::CallbackBody {
                    code: s(),
                    state: s(),
                }
            ),
            format!(
                "{:?}",
                oauth::AuthorizeView {
                    authorization_url: format!("https://idp.example/auth?state={S}"),
                    state: s(),
                }
            ),
            format!(
                "{:?}",
                MfaChallenge {
                    mfa_required: true,
                    mfa_token: s(),
                    available_methods: vec!["totp"],
                }
            ),
            format!(
                "{:?}",
                TokenPair {
                    access_token: s(),
                    refresh_token: s(),
                    expires_in: 900,
                    token_type: "Bearer".into(),
                }
            ),
            format!(
                "{:?}",
                RefreshToken {
                    secret: s(),
                    ..RefreshToken::new(shared::testing::t1(), "u1", "s1")
                }
            ),
            format!(
                "{:?}",
                User {
                    password_hash: Some(s()),
                    totp_secret: Some(s()),
                    totp_pending_secret: Some(s()),
                    recovery_codes: vec![s()],
                    ..User::new(
                        "u1".into(),
                        "t1".into(),
                        "a@b.c".into(),
                        "A".into(),
                        vec![],
                        "now"
                    )
                }
            ),
        ];
        for p in printed {
            assert!(!p.contains(S), "{p}");
            assert!(p.contains("[redacted]"), "{p}");
        }
    }

    #[test]
    fn the_other_fields_still_print() {
        let body = login::LoginBody {
            email: Some("a@eventzr.com".into()),
            username: None,
            password: s(),
        };
        assert_eq!(
            format!("{body:?}"),
            r#"LoginBody { email: Some("a@eventzr.com"), username: None, password: [redacted] }"#
        );
    }
}
