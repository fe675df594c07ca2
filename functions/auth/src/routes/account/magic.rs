//! `POST /passwordless/magic-link`, `/passwordless/verify`: sign-in by a mailed,
//! single-use, 15-minute link. It works while the account is locked (the owner's way
//! in; the lock guards the password, which a link does not use) and never skips MFA.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{
    ApiError, Envelope, FieldError,
    extract::ApiJson,
    openapi::{Data, IdempotencyKey},
};
use utoipa::ToSchema;

use super::{Accepted, LinkMail, SignIn, TokenBody};
use crate::{
    domain::UserStatus,
    repo::one_time::{self, Kind},
    signin::SignInAnswer,
    state::{AuthState, ClientMeta},
};

pub const MAGIC_LINK_TTL_SECS: i64 = 15 * 60;

const MAGIC_MAIL: LinkMail = LinkMail {
    subject: "Your EventZR sign-in link",
    action: "sign in to EventZR",
    page: "magic-link",
    valid_for: "15 minutes",
};

/// Who asks for a sign-in link, and where the front end goes once signed in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagicLinkBody {
    #[schema(example = "partner@eventzr.com")]
    pub email: String,
    /// Under the front end's base URL; answered back by `POST /auth/v1/passwordless/verify`.
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// Open-redirect guard: the front end's own base URL and below only.
fn redirect_uri(raw: &str, base: &str) -> Result<String, FieldError> {
    crate::domain::redirect::check(raw, [base])
}

/// `POST /passwordless/magic-link`: 202 always; the link only for an active, verified
/// account. `redirectUri` is bound to the token, not to the link, so nobody can swap it.
#[utoipa::path(
    post,
    path = "/auth/v1/passwordless/magic-link",
    operation_id = "magic_link",
    tag = "account",
    summary = "Mail a sign-in link",
    description = "Always 202, whether or not the account exists (no enumeration); an active, \
        verified account is mailed a single-use sign-in link valid for 15 minutes (to use with \
        `POST /auth/v1/passwordless/verify`). Works while the account is locked. `redirectUri`, \
        when given, must lie under the front end's base URL (else 400 `ERR_AUTH_VALIDATION` \
        on `redirectUri`).",
    params(IdempotencyKey),
    request_body(content = MagicLinkBody, example = json!({"email": "partner@eventzr.com"})),
    responses(
        (status = 202, description = "Accepted (the same answer in every case)", body = Data<Accepted>),
    )
)]
pub async fn magic_link(
    State(st): State<AuthState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<MagicLinkBody>,
) -> Result<Envelope<Accepted>, ApiError> {
    let email = super::parse_email(&body.email)?;
    let redirect = body
        .redirect_uri
        .map(|r| redirect_uri(&r, &st.cfg.link_base_url))
        .transpose()
        .map_err(|f| ApiError::validation(vec![f]))?;
    let (st, client) = (&st, &client);
    super::for_account(st, &email, |user| async move {
        if user.status != UserStatus::Active || !user.email_verified {
            return Ok(());
        }
        let link = (Kind::MagicLink, MAGIC_LINK_TTL_SECS);
        let data = json!({ "redirectUri": redirect });
        super::mail_link(st, &user, link, data, &MAGIC_MAIL, client).await
    })
    .await?;
    Ok(Envelope::accepted(Accepted::YES))
}

/// Tokens (or the MFA challenge), and where to go next.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MagicSignIn {
    #[serde(flatten)]
    #[schema(value_type = SignInAnswer)]
    pub sign_in: SignIn,
    /// Where the front end goes next, as asked for when the link was requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// `POST /passwordless/verify`: tokens, or the MFA challenge for MFA accounts.
#[utoipa::path(
    post,
    path = "/auth/v1/passwordless/verify",
    operation_id = "magic_link_verify",
    tag = "account",
    summary = "Sign in with a mailed link",
    description = "Redeems the single-use token of the sign-in mail (15 minutes): tokens, or — \
        for an account with MFA — the challenge to complete with `POST /auth/v1/mfa/totp/verify` \
        (a link never skips the second factor); plus `redirectUri` when the link was asked for \
        with one. Not idempotent by key: a retry with the same token is refused (the token is spent).",
    request_body(content = TokenBody, example = json!({"token": "<the token of the mailed link>"})),
    responses(
        (status = 200, description = "Signed in, or the MFA challenge", body = Data<MagicSignIn>),
        (status = 400, description = "`ERR_AUTH_TOKEN_INVALID`: the token is unknown, expired or already used, \
            or the password was reset or changed since it was mailed"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the account or its tenant is suspended"),
        (status = 429, description = "`ERR_AUTH_MAX_SESSIONS_REACHED`: the session limit is reached \
            and the tenant refuses new sessions"),
    )
)]
pub async fn verify(
    State(st): State<AuthState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Envelope<MagicSignIn>, ApiError> {
    // Every check before the link is spent: a refused sign-in leaves it usable.
    let pending = one_time::peek(st.store(), Kind::MagicLink, &body.token, st.epoch()).await?;
    let user = super::user_of(&st, &pending).await?;
    let next = super::admit(&st, &user).await?;
    let redeemed = one_time::redeem(st.store(), Kind::MagicLink, &body.token, st.epoch()).await?;
    let sign_in = super::sign_in(&st, &user, next, &meta, "magic_link").await?;
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
