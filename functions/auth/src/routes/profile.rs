//! `GET /profile`, `PATCH /profile`: the caller's own record. PATCH takes name,
//! username, locale and timezone only — roles, tenant, email and verification are not
//! fields here, so a body naming them is refused (400, the field named).

use axum::extract::State;
use serde::{Deserialize, Deserializer};
use shared::{
    ApiError, Envelope, FieldError,
    auth::Claims,
    extract::ApiJson,
    openapi::Data,
    store::{CancelReason, Condition, Delete, Item, Put, StoreError, TransactOp, Update},
};
use utoipa::ToSchema;

use crate::{
    deletion::UserDeleted,
    domain::{DisplayName, LocaleTag, TimeZoneName, User, Username, user::UserView},
    error::{AuthError, AuthResult},
    repo::{self, tenants, users},
    state::{AuthState, LiveCaller},
};

#[utoipa::path(
    get,
    path = "/auth/v1/profile",
    operation_id = "get_profile",
    tag = "session",
    summary = "The caller's user record",
    description = "The signed-in user as stored, without secrets, with the tenant's plan.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's record", body = Data<UserView>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the caller's tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
    )
)]
pub async fn get(
    State(st): State<AuthState>,
    claims: Claims,
) -> Result<Envelope<UserView>, ApiError> {
    // Session, user and tenant in one batch read.
    let home = claims.home_tenant();
    let wanted = [repo::user(&home, &claims.sub), repo::tenant(&home)];
    let (_, [user, tenant]) = LiveCaller::check_with(claims, &st, wanted).await?;
    let user = users::found(user.as_ref())?;
    let plan = tenants::plan_in_item(tenant.as_ref())?;
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

/// The fields to change, as a JSON merge patch (RFC 7396): an absent field stays as it
/// is, `null` clears an optional one (username, locale, timezone; a name is required).
/// No other field is accepted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1-100 characters, not all blank (trimmed), no control, line-break or bidirectional
    /// formatting characters. Not nullable.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        value_type = Option<String>,
        min_length = 1,
        max_length = 100,
        pattern = r"\S",
        example = "Partner Account"
    )]
    pub name: Option<Option<String>>,
    /// 3-32 letters, digits, `.`, `_` or `-`, stored lowercased; unique across the
    /// platform (it can sign in in place of the email). `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        value_type = Option<String>,
        nullable,
        pattern = "^[A-Za-z0-9._-]{3,32}$",
        example = "partner.eventzr"
    )]
    pub username: Option<Option<String>>,
    /// A BCP 47 language tag (at most 64 characters), stored in canonical case
    /// (`en-gb` -> `en-GB`). `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 64, example = "en-GB")]
    pub locale: Option<Option<String>>,
    /// An IANA time zone name, stored in the database's spelling (`europe/london` ->
    /// `Europe/London`). `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, example = "Europe/London")]
    pub timezone: Option<Option<String>>,
}

/// `Some(None)` for an explicit `null`; an absent field stays `None` (`serde(default)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What a merge patch does to one optional field.
enum Change<T> {
    Keep,
    Clear,
    Set(T),
}

impl<T: AsRef<str>> Change<T> {
    fn parse(
        raw: Option<Option<String>>,
        parse: fn(&str) -> Result<T, FieldError>,
        errors: &mut Vec<FieldError>,
    ) -> Self {
        match raw {
            None => Change::Keep,
            Some(None) => Change::Clear,
            Some(Some(v)) => parse(&v).map_or_else(
                |e| {
                    errors.push(e);
                    Change::Keep
                },
                Change::Set,
            ),
        }
    }

    fn write(self, upd: Update, attr: &str) -> Update {
        match self {
            Change::Keep => upd,
            Change::Clear => upd.remove(attr),
            Change::Set(v) => upd.set(attr, v.as_ref()),
        }
    }
}

/// A profile patch past validation: every field checked, every refusal named at once,
/// before anything is written.
struct ProfileChange {
    name: Option<DisplayName>,
    username: Change<Username>,
    locale: Change<LocaleTag>,
    timezone: Change<TimeZoneName>,
}

impl TryFrom<ProfilePatch> for ProfileChange {
    type Error = ApiError;
    fn try_from(body: ProfilePatch) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let name = match body.name {
            None => None,
            Some(None) => {
                errors.push(FieldError::new(
                    "name",
                    "must not be null: a name is required",
                ));
                None
            }
            Some(Some(n)) => DisplayName::parse(&n).map_err(|e| errors.push(e)).ok(),
        };
        let change = ProfileChange {
            name,
            username: Change::parse(body.username, Username::parse, &mut errors),
            locale: Change::parse(body.locale, LocaleTag::parse, &mut errors),
            timezone: Change::parse(body.timezone, TimeZoneName::parse, &mut errors),
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(change)
    }
}

#[utoipa::path(
    patch,
    path = "/auth/v1/profile",
    operation_id = "update_profile",
    tag = "session",
    summary = "Change the caller's name, username, locale or timezone",
    description = "Only `name`, `username`, `locale` and `timezone` can be changed here; a \
        body naming any other field (roles, tenant, email, verification) is refused with 400 \
        naming it. A JSON merge patch (RFC 7396): absent fields stay, `null` removes \
        `username`, `locale` or `timezone`. Every field is checked before anything is \
        written. Answers the updated record.",
    security(("bearerAuth" = [])),
    request_body(
        content = ProfilePatch,
        example = json!({"name": "Partner Account", "locale": "en-GB", "timezone": "Europe/London"})
    ),
    responses(
        (status = 200, description = "The updated record", body = Data<UserView>),
        (status = 400, description = "`ERR_AUTH_VALIDATION`: a field is malformed (a name with \
            control or bidirectional characters, a locale that is not a BCP 47 tag, a timezone \
            that is not an IANA name, `name: null`) or not changeable here; `details.fields` \
            names each"),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_ACCOUNT_SUSPENDED`: the caller's tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 409, description = "`ERR_AUTH_USERNAME_TAKEN`: another account has this username; \
            `ERR_AUTH_CONFLICT`: the username changed meanwhile (read the profile again and retry)"),
    )
)]
pub async fn patch(
    State(st): State<AuthState>,
    claims: Claims,
    body: Result<ApiJson<ProfilePatch>, ApiError>,
) -> Result<Envelope<UserView>, ApiError> {
    // Session, user (its current username) and tenant (its plan) in one batch read;
    // 401 before 400.
    let home = claims.home_tenant();
    let wanted = [repo::user(&home, &claims.sub), repo::tenant(&home)];
    let (caller, [user, tenant]) = LiveCaller::check_with(claims, &st, wanted).await?;
    let ApiJson(body) = body?;
    let change = ProfileChange::try_from(body)?;
    let user = users::found(user.as_ref())?;
    let plan = tenants::plan_in_item(tenant.as_ref())?;
    let user = apply(&st, &caller, &user, change).await?;
    Ok(Envelope::ok(UserView::of(&user, &plan)))
}

/// Writes `change` to the caller's record; a username set or cleared moves its lock in
/// the same transaction as the record.
async fn apply(
    st: &AuthState,
    caller: &LiveCaller,
    user: &User,
    change: ProfileChange,
) -> AuthResult<User> {
    let now = shared::clock::rfc3339_millis(st.now());
    let mut upd =
        Update::new(repo::user(&caller.tenant(), &caller.claims.sub)).set("updated_at", now);
    if let Some(name) = change.name {
        upd = upd.set("name", name.as_ref());
    }
    upd = change.locale.write(upd, "locale");
    upd = change.timezone.write(upd, "timezone");
    let old = user
        .username
        .as_deref()
        .and_then(|u| Username::parse(u).ok());
    let username = match change.username {
        Change::Set(new) if old.as_ref() == Some(&new) => Change::Keep,
        other => other,
    };
    if let Change::Set(new) = &username {
        // A name being taken must not be a reserved one; a user keeping theirs may (it
        // predates the list), so a full form sent back with it still saves.
        Username::claim(new.as_ref()).map_err(|e| ApiError::validation(vec![e]))?;
    }
    let taking = matches!(username, Change::Set(_));
    let mut locks = Vec::new();
    if let Change::Set(new) = &username {
        locks.push(TransactOp::Put(
            Put::new(
                Item::new(&repo::username_lock(new))
                    .with("tenant_id", user.tenant_id.as_str())
                    .with("user_id", user.id.as_str()),
            )
            .when(Condition::item_absent()),
        ));
    }
    if !matches!(username, Change::Keep)
        && let Some(old) = &old
    {
        // Only our own lock: another account may have taken the name since it was freed.
        locks.push(TransactOp::Delete(
            Delete::new(repo::username_lock(old)).when(Condition::eq("user_id", user.id.as_str())),
        ));
    }
    upd = username.write(upd, "username");
    if locks.is_empty() {
        return users::update(st.store(), upd).await;
    }
    // The username as read, so two changes at once cannot both free and take locks.
    let as_read = match &old {
        Some(u) => Condition::eq("username", u.as_ref()),
        None => Condition::not_exists("username"),
    };
    let mut ops = vec![TransactOp::Update(
        upd.when(Condition::item_present().and(as_read)),
    )];
    ops.extend(locks);
    st.store().transact(ops).await.map_err(|e| match e {
        // The new name's lock (second) is another account's.
        StoreError::TransactionCanceled { reasons }
            if taking && reasons.get(1) == Some(&CancelReason::ConditionFailed) =>
        {
            AuthError::UsernameTaken
        }
        StoreError::TransactionCanceled { .. } => AuthError::Api(ApiError::conflict(
            "the profile changed meanwhile; read it again and retry",
        )),
        e => e.into(),
    })?;
    // A transaction returns nothing: read the record as it now is.
    users::get(st.store(), &caller.tenant(), &caller.claims.sub)
        .await?
        .ok_or(AuthError::NotFound)
}

#[utoipa::path(
    delete,
    path = "/auth/v1/profile",
    operation_id = "delete_profile",
    tag = "session",
    summary = "Delete the caller's own account",
    description = "Needs a sign-in within the last 10 minutes. The account goes for good, as \
        `DELETE /users/{userId}` deletes it: every session ends (this token too), the record, \
        passkeys and second factors go, and the email and username can be registered again. \
        The tenant's last active admin cannot leave while the tenant has other users (409 \
        `ERR_AUTH_LAST_ADMIN`: make another user admin first); alone in the tenant, they can. Audited \
        (`user.deleted`).",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The account was deleted", body = Data<UserDeleted>),
        (status = 401, description = "`ERR_AUTH_TOKEN_REVOKED`: the session was logged out or revoked"),
        (status = 403, description = "`ERR_AUTH_REAUTHENTICATION_REQUIRED`: sign in again first; \
            `ERR_AUTH_FORBIDDEN`: a `system` account is managed by the platform; \
            `ERR_AUTH_ACCOUNT_SUSPENDED`: the caller's tenant is suspended"),
        (status = 404, description = "`ERR_AUTH_NOT_FOUND`: the user no longer exists"),
        (status = 409, description = "`ERR_AUTH_LAST_ADMIN`: the caller is the tenant's last active \
            admin and the tenant has other users; `ERR_AUTH_CONFLICT`: the tenant's users kept \
            changing meanwhile (retry)"),
    )
)]
pub async fn delete(
    State(st): State<AuthState>,
    caller: LiveCaller,
) -> Result<Envelope<UserDeleted>, ApiError> {
    // A stolen access token must not be enough to erase the account it belongs to.
    caller.require_recent_sign_in(st.epoch())?;
    crate::deletion::delete(
        &st,
        &caller.tenant(),
        &caller.claims.sub,
        &caller.claims.sub,
    )
    .await
}
