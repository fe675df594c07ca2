//! Security notices: a mail to the account's own address when its password or second
//! factors change (ASVS 5.0 6.3.7), so that the owner learns of what a stolen password or
//! session did, and of what an admin did to their account. No link in it (a notice
//! teaches people to act from the sign-in page, not from a mail), and nothing secret:
//! what changed and when. Best effort: the change is done, so a mail that fails is logged
//! and the request still succeeds.

use chrono::{DateTime, Utc};
use shared::mail::Mail;

use crate::state::AuthState;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged,
    PasswordReset,
    TotpEnabled,
    TotpDisabled,
    RecoveryCodesRegenerated,
    PasskeyAdded,
    PasskeyRemoved,
    /// An admin removed the account's second factors (`DELETE /users/{id}/mfa`).
    SecondFactorsReset,
}

impl Notice {
    fn subject(self) -> &'static str {
        match self {
            Notice::PasswordChanged => "Your EventZR password was changed",
            Notice::PasswordReset => "Your EventZR password was reset",
            Notice::TotpEnabled => "Two-step sign-in is on for your EventZR account",
            Notice::TotpDisabled => "Two-step sign-in is off for your EventZR account",
            Notice::RecoveryCodesRegenerated => "New EventZR recovery codes were made",
            Notice::PasskeyAdded => "A passkey was added to your EventZR account",
            Notice::PasskeyRemoved => "A passkey was removed from your EventZR account",
            Notice::SecondFactorsReset => "Your EventZR second factors were removed",
        }
    }

    /// What happened, one sentence (the time follows on a line of its own).
    fn what(self) -> &'static str {
        match self {
            Notice::PasswordChanged => "The password of your EventZR account was changed",
            Notice::PasswordReset => {
                "The password of your EventZR account was reset from a link mailed to you"
            }
            Notice::TotpEnabled => {
                "Two-step sign-in with an authenticator app was turned on for your EventZR \
                 account (its other sessions were ended)"
            }
            Notice::TotpDisabled => {
                "Two-step sign-in with an authenticator app was turned off for your EventZR \
                 account (its other sessions were ended)"
            }
            Notice::RecoveryCodesRegenerated => {
                "A new set of recovery codes was made for your EventZR account; the earlier \
                 codes no longer work"
            }
            Notice::PasskeyAdded => "A passkey was added to your EventZR account",
            Notice::PasskeyRemoved => "A passkey was removed from your EventZR account",
            Notice::SecondFactorsReset => {
                "An admin of your organisation removed the second factors (authenticator app \
                 and passkeys) of your EventZR account"
            }
        }
    }

    /// Who the change is expected from, and what to do if it was not them.
    fn advice(self) -> (&'static str, &'static str) {
        match self {
            Notice::SecondFactorsReset => (
                "If you asked your admin for this, there is nothing to do: sign in with your \
                 password and set up two-step sign-in again.",
                "If you did not ask for it, tell your organisation's admin, and reset your \
                 password from the EventZR sign-in page (\"Forgot password\"): that ends every \
                 session.",
            ),
            _ => (
                "If this was you, there is nothing to do.",
                "If this was not you, reset your password now from the EventZR sign-in page \
                 (\"Forgot password\"): that ends every session. Then check your second \
                 factors, and tell your organisation's admin.",
            ),
        }
    }

    /// The mail to `to` for a change made at `at`.
    pub fn mail(self, to: &str, at: DateTime<Utc>) -> Mail {
        let when = at.format("%Y-%m-%d %H:%M UTC");
        let what = self.what();
        let (expected, not_you) = self.advice();
        Mail {
            to: vec![to.to_owned()],
            subject: self.subject().to_owned(),
            text: format!(
                "Hello,\n\n{what}.\nWhen: {when}.\n\n{expected}\n\n{not_you}\n\n— EventZR\n"
            ),
            html: Some(format!(
                "<p>Hello,</p><p>{what}.<br>When: {when}.</p><p>{expected}</p><p>{}</p>\
                 <p>— EventZR</p>",
                not_you.replace('"', "&quot;")
            )),
        }
    }
}

/// Mails `notice` to `to` (the account's address), now.
pub async fn send(st: &AuthState, to: &str, notice: Notice) {
    let mail = notice.mail(to, st.now());
    if let Err(e) = st.platform.mailer.send(&mail).await {
        tracing::warn!(error = %e, notice = ?notice, "could not send a security notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_says_what_and_when_and_carries_no_link() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T09:07:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mail = Notice::PasswordChanged.mail("ada@example.com", at);
        assert_eq!(mail.to, ["ada@example.com"]);
        assert_eq!(mail.subject, "Your EventZR password was changed");
        assert!(
            mail.text
                .contains("was changed.\nWhen: 2026-12-05 09:07 UTC.")
        );
        assert!(
            mail.text
                .contains("If this was you, there is nothing to do.")
        );
        assert!(mail.text.contains("Forgot password"));
        for body in [&mail.text, mail.html.as_ref().unwrap()] {
            assert!(!body.contains("http"), "{body}");
        }
        // An admin's reset is not the reader's doing.
        let reset = Notice::SecondFactorsReset.mail("ada@example.com", at);
        assert!(reset.text.contains("If you asked your admin for this"));
        assert!(!reset.text.contains("If this was you"));
    }
}
