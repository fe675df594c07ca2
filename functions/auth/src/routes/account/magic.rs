//! `POST /passwordless/magic-link`, `/passwordless/verify`: sign-in by a mailed,
//! single-use, 15-minute link. It works while the account is locked (the owner's way
//! in; the lock guards the password, which a link does not use) and never skips MFA.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{ApiError, Envelope, FieldError, extract::ApiJson};

use super::{Accepted, LinkMail, SignIn, TokenBody};
use crate::{
    domain::UserStatus,
    repo::one_time::{self, Kind},
    signin,
    state::{AuthState, ClientMeta},
};

pub const MAGIC_LINK_TTL_SECS: i64 = 15 * 60;

const MAGIC_MAIL: LinkMail = LinkMail {
    subject: "Your EventZR sign-in link",
    action: "sign in to EventZR",
    page: "magic-link",
    valid_for: "15 minutes",
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagicLinkBody {
    pub email: String,
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// Open-redirect guard: the front end's own base URL and below only.
fn redirect_uri(raw: &str, base: &str) -> Result<String, FieldError> {
    crate::domain::redirect::check(raw, [base])
}

/// `POST /passwordless/magic-link`: 202 always; the link only for an active, verified
/// account. `redirectUri` is bound to the token, not to the link, so nobody can swap it.
pub async fn magic_link(
    State(st): State<AuthState>,
    ApiJson(body): ApiJson<MagicLinkBody>,
) -> Result<Envelope<Accepted>, ApiError> {
    let email = super::parse_email(&body.email)?;
    let redirect = body
        .redirect_uri
        .map(|r| redirect_uri(&r, &st.cfg.link_base_url))
        .transpose()
        .map_err(|f| ApiError::validation(vec![f]))?;
    let st = &st;
    super::for_account(st, &email, |user| async move {
        if user.status != UserStatus::Active || !user.email_verified {
            return Ok(());
        }
        let token = one_time::issue(
            st.store(),
            Kind::MagicLink,
            Some(&signin::tenant_of(&user)?),
            Some(&user.id),
            json!({ "redirectUri": redirect }),
            st.epoch(),
            MAGIC_LINK_TTL_SECS,
        )
        .await?;
        super::send_link(st, &user.email, &MAGIC_MAIL, &token).await;
        Ok(())
    })
    .await?;
    Ok(Envelope::accepted(Accepted::YES))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MagicSignIn {
    #[serde(flatten)]
    pub sign_in: SignIn,
    /// Where the front end goes next, as asked for when the link was requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// `POST /passwordless/verify`: tokens, or the MFA challenge for MFA accounts.
pub async fn verify(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Envelope<MagicSignIn>, ApiError> {
    let redeemed = one_time::redeem(st.store(), Kind::MagicLink, &body.token, st.epoch()).await?;
    let user = super::user_of(&st, &redeemed).await?;
    let sign_in = super::sign_in(&st, &user, &meta, "magic_link").await?;
    Ok(Envelope::ok(MagicSignIn {
        sign_in,
        redirect_uri: redeemed.data["redirectUri"].as_str().map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://app.eventzr.com";

    #[test]
    fn redirects_stay_under_the_link_base_url() {
        for ok in [
            BASE,
            "https://app.eventzr.com/",
            "https://app.eventzr.com/events?x=1",
        ] {
            assert!(redirect_uri(ok, BASE).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.eventzr.com.evil.io/",
            "https://app.eventzr.comx",
            "https://evil.io/?https://app.eventzr.com",
            "https://app.eventzr.com//evil.io",
            "https://app.eventzr.com/a b",
            "/relative",
        ] {
            assert_eq!(
                redirect_uri(bad, BASE).unwrap_err().field,
                "redirectUri",
                "{bad}"
            );
        }
    }
}
