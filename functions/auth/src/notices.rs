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

    /// "… on <time>": what happened, in a sentence the time completes.
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
                 account"
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

    /// The mail to `to` for a change made at `at`.
    pub fn mail(self, to: &str, at: DateTime<Utc>) -> Mail {
        let when = at.format("%Y-%m-%d at %H:%M UTC");
        let what = self.what();
        let not_you = "If this was not you, reset your password now from the EventZR sign-in \
                       page (\"Forgot password\"): that ends every session. Then check your \
                       second factors, and tell your organisation's admin.";
        Mail {
            to: vec![to.to_owned()],
            subject: self.subject().to_owned(),
            text: format!(
                "Hello,\n\n{what} on {when}.\n\nIf this was you, there is nothing to do.\n\n\
                 {not_you}\n\n— EventZR\n"
            ),
            html: Some(format!(
                "<p>Hello,</p><p>{what} on {when}.</p><p>If this was you, there is nothing \
                 to do.</p><p>{}</p><p>— EventZR</p>",
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
                .contains("was changed on 2026-12-05 at 09:07 UTC.")
        );
        assert!(mail.text.contains("Forgot password"));
        for body in [&mail.text, mail.html.as_ref().unwrap()] {
            assert!(!body.contains("http"), "{body}");
        }
    }
}
