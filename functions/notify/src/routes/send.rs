//! Route group `send`: `POST /send` (the send use case, sending.rs) and `POST /send/test`
//! (a template rendered with sample variables, mailed to the caller only).
//! (One Lambda function in template.yaml.)

use std::collections::BTreeMap;

use axum::{Router, extract::State, routing::post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::{
    ApiError, Envelope, FieldError,
    access::{RequireRole, roles},
    contact::{Email, Phone},
    extract::ApiJson,
    mail::Mail,
    openapi::Data,
};
use utoipa::{OpenApi, ToSchema};

use crate::{
    domain::{
        Category, Channel, Priority, Recipient, delivery::Rendered, quota::plan_caps, template,
    },
    error::NotifyError,
    repo::{counters, templates},
    sending::{self, Principal, SendCommand, SendOutcome},
    state::NotifyState,
};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/notify/v1/send"),
    ("POST", "/notify/v1/send/test"),
];

/// A test mail's subject taken from a message's first line: RFC 5322's recommended line.
const MAX_TEST_SUBJECT_CHARS: usize = 78;

/// At most this many recipients per send.
pub const MAX_RECIPIENTS: usize = 100;
/// SNS Publish's limit for one SMS (sent as several parts of 140 bytes).
const MAX_SMS_BYTES: usize = 1600;
/// RFC 5322's line limit, which SES enforces on the subject.
pub const MAX_SUBJECT: usize = 998;
/// How far ahead a send may be scheduled.
pub const MAX_SCHEDULE_DAYS: i64 = 30;

/// Both routes honour `Idempotency-Key` (a retried send must not message people twice).
pub fn router(st: &NotifyState) -> Router<NotifyState> {
    shared::idempotency::honour(
        Router::new()
            .route("/notify/v1/send", post(send))
            .route("/notify/v1/send/test", post(send_test)),
        &st.platform,
        crate::SERVICE,
        st.store.clone(),
    )
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(send, send_test))]
    struct Doc;
    Doc::openapi()
}

/// Inline content of a send (Handlebars, like a template's).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentBody {
    #[schema(example = "Your ticket for {{event}}")]
    pub subject: Option<String>,
    #[schema(example = "<p>Hello {{name}}, see you at <b>{{event}}</b>.</p>")]
    pub html: Option<String>,
    #[schema(example = "Hello {{name}}, see you at {{event}}.")]
    pub text: Option<String>,
}

/// `POST /send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendBody {
    /// `email`, `sms`, `push`, `in_app` (at least one; an unknown name answers
    /// `ERR_NOTIFY_INVALID_CHANNEL`).
    #[schema(value_type = Vec<Channel>, min_items = 1, example = json!(["email"]))]
    pub channels: Vec<String>,
    /// 1 to 100 people; each needs the address of every channel (email, phone, userId
    /// for push and in_app).
    #[schema(min_items = 1, max_items = 100)]
    #[serde(deserialize_with = "strict_recipients")]
    pub recipients: Vec<Recipient>,
    /// A template of this tenant (its latest version)…
    #[schema(format = "uuid")]
    pub template_id: Option<String>,
    /// …or inline content (exactly one of the two).
    pub content: Option<ContentBody>,
    /// Values for the template's `{{variables}}`.
    #[schema(value_type = Object, example = json!({"name": "Ada", "event": "RustConf"}))]
    pub variables: Option<Value>,
    /// Decides which preferences and caps apply: `marketing` and `reminder` respect
    /// opt-outs and daily caps, `transactional` and `system` do not.
    pub category: Category,
    /// `critical` bypasses quiet hours. Default `normal`.
    #[serde(default)]
    pub priority: Priority,
    /// Send later (RFC 3339; not in the past, at most 30 days ahead).
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    /// The template's locale variant to use, e.g. `fr` or `pt-BR`.
    pub locale: Option<String>,
}

#[utoipa::path(
    post,
    path = "/notify/v1/send",
    operation_id = "send",
    tag = "send",
    summary = "Send a message to people",
    description = "For each recipient and channel, in order: the suppression list \
        (`suppressed`), their preference for the category (`skipped`; transactional and system \
        cannot be opted out of), their daily cap (`skipped`), their quiet hours (`scheduled` \
        for the end of the window; `critical` bypasses); then the tenant's daily and monthly \
        quota for every channel, for the whole request (402, nothing sent); then each delivery \
        is sent now, or left `queued` (provider busy) / `scheduled` for the dispatcher. \
        Answers 202 with every delivery's outcome.",
    security(("bearerAuth" = [])),
    params(shared::openapi::IdempotencyKey),
    request_body = SendBody,
    responses(
        (status = 202, description = "One delivery per recipient x channel, with its outcome (one \
            per channel and destination: entries naming the same address, number or user make one)", body = Data<SendOutcome>),
        (status = 400, description = "`ERR_NOTIFY_INVALID_CHANNEL`, `ERR_NOTIFY_INVALID_CONTACT` (naming \
            `recipients[i].email` / `.phone` / `.userId`), `ERR_NOTIFY_CHANNEL_NOT_CONFIGURED`, \
            `ERR_NOTIFY_MISSING_TEMPLATE_VARIABLES`, `ERR_NOTIFY_INVALID_TEMPLATE` (inline content), \
            `ERR_NOTIFY_VALIDATION`"),
        (status = 402, description = "`ERR_NOTIFY_QUOTA_EXCEEDED`: the send would take a channel over the \
            tenant's daily or monthly quota; nothing was sent. `retry-after` gives the seconds until that \
            period's count starts afresh (absent when the send alone is over the whole limit); with \
            an Idempotency-Key the refusal is not stored, so the same key runs again then"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: organizer role required; \
            `ERR_NOTIFY_TENANT_SUSPENDED`: the platform suspended the tenant, which sends nothing; \
            `ERR_NOTIFY_SUBSCRIPTION_REQUIRED`: SMS needs the STARTUP plan or above \
            (`details.feature`: `sms`)"),
        (status = 404, description = "`ERR_NOTIFY_TEMPLATE_NOT_FOUND`: no such template in the \
            caller's tenant"),
        (status = 409, description = "`ERR_NOTIFY_CONFLICT`: `templateId` names an archived template \
            (`details`: `field`, `templateId`, `archived: true`); send with an active one"),
        (status = 422, description = "`ERR_NOTIFY_TEMPLATE_RENDERING_FAILED`: `details` names the \
            `field`, `part`, `line` and `column` (and the missing `variable`), as on preview"),
    )
)]
pub async fn send(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Envelope<SendOutcome>, ApiError> {
    let now = st.now();
    let channels = parse_channels(&body.channels)?;
    let recipients = parse_recipients(&body.recipients, &channels)?;
    let scheduled_at = parse_schedule(body.scheduled_at.as_deref(), now)?;
    let locale = parse_locale(body.locale.as_deref())?;
    let vars = sending::variables_object(body.variables)?;
    let tenant = caller.tenant();
    let (content, template) = render_content(
        &st,
        &tenant,
        body.template_id.as_deref(),
        body.content.as_ref(),
        locale.as_deref(),
        &vars,
        Some(&channels),
    )
    .await?;
    check_rendered(&content, &channels)?;
    let outcome = sending::send(
        &st,
        &Principal {
            tenant,
            sub: caller.sub.clone(),
            plan: caller.plan,
        },
        SendCommand {
            channels,
            recipients,
            content,
            template,
            locale,
            category: body.category,
            priority: body.priority,
            scheduled_at,
        },
    )
    .await?;
    Ok(Envelope::accepted(outcome))
}

/// `POST /send/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestSendBody {
    #[schema(format = "uuid")]
    pub template_id: Option<String>,
    pub content: Option<ContentBody>,
    #[schema(value_type = Object, example = json!({"name": "Ada", "event": "RustConf"}))]
    pub variables: Option<Value>,
    pub locale: Option<String>,
}

/// What a test send mailed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSent {
    /// The caller's own address (from the token): test sends go nowhere else.
    #[schema(example = "partner@eventzr.com")]
    pub sent_to: String,
    pub subject: String,
    pub provider_message_id: String,
}

#[utoipa::path(
    post,
    path = "/notify/v1/send/test",
    operation_id = "send_test",
    tag = "send",
    summary = "Mail a rendered template to yourself",
    description = "Renders a template (or inline content) with sample variables and mails it to \
        the caller's own email address, and to no one else, whatever the template's channel (a \
        message without a subject is mailed under its first line). Counts against the email \
        quota; no delivery record is kept.",
    security(("bearerAuth" = [])),
    params(shared::openapi::IdempotencyKey),
    request_body = TestSendBody,
    responses(
        (status = 200, description = "Mailed", body = Data<TestSent>),
        (status = 400, description = "`ERR_NOTIFY_CHANNEL_NOT_CONFIGURED`, `ERR_NOTIFY_MISSING_TEMPLATE_VARIABLES`, \
            `ERR_NOTIFY_INVALID_TEMPLATE`, `ERR_NOTIFY_VALIDATION` (also: the token carries no email)"),
        (status = 402, description = "`ERR_NOTIFY_QUOTA_EXCEEDED` (with `retry-after`, as for `/send`)"),
        (status = 403, description = "`ERR_NOTIFY_FORBIDDEN`: organizer role required; \
            `ERR_NOTIFY_TENANT_SUSPENDED`: the platform suspended the tenant"),
        (status = 404, description = "`ERR_NOTIFY_TEMPLATE_NOT_FOUND`: no such template in the \
            caller's tenant"),
        (status = 409, description = "`ERR_NOTIFY_CONTACT_SUPPRESSED`: the caller's address is on \
            the tenant's suppression list (`details.reason`); an admin removes it first. \
            `ERR_NOTIFY_CONFLICT`: `templateId` names an archived template (as for `/send`)"),
        (status = 422, description = "`ERR_NOTIFY_TEMPLATE_RENDERING_FAILED` (`details` as for `/send`)"),
        (status = 503, description = "`ERR_NOTIFY_PROVIDER_UNAVAILABLE`"),
    )
)]
pub async fn send_test(
    State(st): State<NotifyState>,
    caller: RequireRole<roles::Organizer>,
    ApiJson(body): ApiJson<TestSendBody>,
) -> Result<Envelope<TestSent>, ApiError> {
    let mailer = st
        .channels
        .email
        .clone()
        .ok_or(NotifyError::ChannelNotConfigured(Channel::Email))?;
    let to = Email::lookup(&caller.email)
        .map_err(|_| ApiError::field("token", "the caller's token carries no email address"))?;
    let locale = parse_locale(body.locale.as_deref())?;
    let vars = sending::variables_object(body.variables)?;
    let tenant = caller.tenant();
    // A test send mails any template's rendering to its author, whatever its channel.
    let (mut content, _) = render_content(
        &st,
        &tenant,
        body.template_id.as_deref(),
        body.content.as_ref(),
        locale.as_deref(),
        &vars,
        None,
    )
    .await?;
    // An SMS, push or in-app message may have no subject: the mail takes its first line
    // (a bare CR ends a line too), as one header line, like a rendered subject.
    if content
        .subject
        .as_deref()
        .is_none_or(|s| s.trim().is_empty())
    {
        content.subject = content
            .text
            .as_deref()
            .and_then(|t| t.split(['\n', '\r']).map(str::trim).find(|l| !l.is_empty()))
            .map(|l| {
                l.replace(char::is_control, " ")
                    .chars()
                    .take(MAX_TEST_SUBJECT_CHARS)
                    .collect()
            });
    }
    check_rendered(&content, &[Channel::Email])?;
    let now = st.now();
    // The quota settings and the caller's suppression, in one batch read naming auth's
    // table too (the tenant's status and plan): a test send is a mail like any other,
    // and a suppressed address (a bounce, a complaint) gets none.
    let keys = [
        counters::settings_key(&tenant),
        crate::repo::suppression(&tenant, to.as_ref()),
    ];
    let (found, standing) = st
        .tenants
        .standing_beside(st.store(), &keys, std::slice::from_ref(&tenant), &[])
        .await?;
    if standing.tenant_suspended(&tenant) {
        return Err(NotifyError::TenantSuspended.into());
    }
    if let Some(item) = &found[1] {
        let s = crate::repo::suppressions::parse(item)?;
        return Err(NotifyError::ContactSuppressed { reason: s.reason }.into());
    }
    // The plan paid for now (auth's record), as for a send.
    let tier = standing.plan(&tenant).unwrap_or(caller.plan);
    let caps = counters::parse_settings(found[0].as_ref())?
        .effective(Channel::Email, plan_caps(tier, Channel::Email));
    counters::reserve(
        st.store(),
        &tenant,
        now,
        &BTreeMap::from([(Channel::Email, (1, caps))]),
    )
    .await?;
    let subject = format!("[TEST] {}", content.subject.clone().unwrap_or_default());
    let mail = Mail {
        to: vec![to.to_string()],
        subject: subject.clone(),
        text: content.plain(),
        html: content.html.clone(),
    };
    let id = match mailer.send(&mail).await {
        Ok(id) => id,
        Err(e) => {
            // Not sent: the reservation goes back.
            counters::release(st.store(), &tenant, Channel::Email, now, 1).await?;
            return Err(match e {
                shared::mail::MailError::Rejected(m) => ApiError::field("content", m),
                shared::mail::MailError::Unavailable(m) => {
                    NotifyError::ProviderUnavailable(m).into()
                }
            });
        }
    };
    Ok(Envelope::ok(TestSent {
        sent_to: to.to_string(),
        subject,
        provider_message_id: id,
    }))
}

/// The message of a send: the tenant's template (its latest version; 409 when archived)
/// or the inline content, exactly one of the two, rendered with `vars`. With `channels`, a
/// template must be for every one of them.
async fn render_content(
    st: &NotifyState,
    tenant: &shared::tenant::TenantId,
    template_id: Option<&str>,
    content: Option<&ContentBody>,
    locale: Option<&str>,
    vars: &Value,
    channels: Option<&[Channel]>,
) -> Result<(Rendered, Option<(String, i64)>), ApiError> {
    match (template_id, content) {
        (Some(id), None) => {
            let tpl = templates::get_active(st.store(), tenant, id).await?;
            // A template is written for its channel (an SMS text, an email's HTML).
            if let Some(i) = channels.and_then(|chs| chs.iter().position(|c| *c != tpl.channel)) {
                let asked = channels.map_or("", |chs| chs[i].as_str());
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    "INVALID_CHANNEL",
                    format!(
                        "channels[{i}]: the template is for {}, not {asked}",
                        tpl.channel.as_str()
                    ),
                )
                .with_details(serde_json::json!({
                    "fields": [{
                        "field": format!("channels[{i}]"),
                        "issue": format!("the template is for {}", tpl.channel.as_str()),
                    }],
                    "field": format!("channels[{i}]"),
                    "templateChannel": tpl.channel.as_str(),
                })));
            }
            let r = template::render(&tpl, locale, vars)?;
            Ok((r, Some((tpl.id.clone(), tpl.version))))
        }
        (None, Some(c)) => Ok((template::render_inline(&inline(c)?, vars)?, None)),
        _ => Err(ApiError::field(
            "templateId",
            "give exactly one of templateId and content",
        )),
    }
}

fn inline(c: &ContentBody) -> Result<Rendered, ApiError> {
    if c.subject.is_none() && c.html.is_none() && c.text.is_none() {
        return Err(ApiError::field("content", "needs a subject, html or text"));
    }
    // The source itself over the limit is the caller's field error (400); a rendered
    // result over it (variables made it long) is a rendering failure (422).
    if c.subject
        .as_ref()
        .is_some_and(|s| !template::is_subject_line(s))
    {
        return Err(ApiError::field("content.subject", template::SUBJECT_RULE));
    }
    Ok(Rendered {
        subject: c.subject.clone(),
        html: c.html.clone(),
        text: c.text.clone(),
    })
}

/// Unknown names answer INVALID_CHANNEL naming `channels[i]`; duplicates collapse.
pub fn parse_channels(raw: &[String]) -> Result<Vec<Channel>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::field("channels", "name at least one channel"));
    }
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let ch = Channel::parse_field(&format!("channels[{i}]"), s)?;
        if !out.contains(&ch) {
            out.push(ch);
        }
    }
    Ok(out)
}

/// `recipients`, refusing fields they do not have: a misspelt `userId` or `priority`
/// would otherwise be dropped, and with it the person's preferences, quiet hours and
/// inbox. (`Recipient` is also the stored type, which must keep reading what a newer
/// version wrote, so the refusal is the request's.)
fn strict_recipients<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Recipient>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Strict {
        user_id: Option<String>,
        email: Option<String>,
        phone: Option<String>,
        priority: Option<Priority>,
    }
    let all = Vec::<Strict>::deserialize(d)?;
    Ok(all
        .into_iter()
        .map(|r| Recipient {
            user_id: r.user_id,
            email: r.email,
            phone: r.phone,
            priority: r.priority,
        })
        .collect())
}

/// Normalises each recipient and checks it has the address every channel needs.
pub fn parse_recipients(
    raw: &[Recipient],
    channels: &[Channel],
) -> Result<Vec<Recipient>, ApiError> {
    if raw.is_empty() || raw.len() > MAX_RECIPIENTS {
        return Err(ApiError::field(
            "recipients",
            format!("give 1 to {MAX_RECIPIENTS} recipients"),
        ));
    }
    let contact = |f: FieldError| ApiError::from(NotifyError::InvalidContact(f));
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            let email = r
                .email
                .as_deref()
                .map(|e| {
                    Email::parse_as(e, &format!("recipients[{i}].email")).map(|e| e.to_string())
                })
                .transpose()
                .map_err(contact)?;
            let phone = r
                .phone
                .as_deref()
                .map(|p| {
                    Phone::parse_as(p, &format!("recipients[{i}].phone")).map(|p| p.to_string())
                })
                .transpose()
                .map_err(contact)?;
            let user_id = r.user_id.as_deref().map(str::trim).map(str::to_owned);
            if let Some(u) = &user_id
                && !crate::domain::is_recipient_user_id(u)
            {
                return Err(contact(FieldError::new(
                    format!("recipients[{i}].userId"),
                    "must be 1-128 letters, digits or -_.@:",
                )));
            }
            for ch in channels {
                let (has, field) = match ch {
                    Channel::Email => (email.is_some(), "email"),
                    Channel::Sms => (phone.is_some(), "phone"),
                    Channel::Push | Channel::InApp => (user_id.is_some(), "userId"),
                };
                if !has {
                    return Err(contact(FieldError::new(
                        format!("recipients[{i}].{field}"),
                        format!("is required for the {} channel", ch.as_str()),
                    )));
                }
            }
            Ok(Recipient {
                user_id,
                email,
                phone,
                priority: r.priority,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()
        .map(|mut all| {
            // The same person twice gets one message.
            let mut seen = std::collections::HashSet::new();
            all.retain(|r| seen.insert((r.user_id.clone(), r.email.clone(), r.phone.clone())));
            all
        })
}

/// Not in the past (a minute of clock skew allowed), at most 30 days ahead.
pub fn parse_schedule(
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map_err(|_| ApiError::field("scheduledAt", "must be an RFC 3339 date-time"))?
        .with_timezone(&Utc);
    if at < now - chrono::Duration::minutes(1) {
        return Err(ApiError::field("scheduledAt", "is in the past"));
    }
    if at > now + chrono::Duration::days(MAX_SCHEDULE_DAYS) {
        return Err(ApiError::field(
            "scheduledAt",
            format!("is more than {MAX_SCHEDULE_DAYS} days ahead"),
        ));
    }
    Ok(Some(at))
}

/// A BCP 47-ish tag: letters, digits and `-`, at most 35 characters.
pub fn parse_locale(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(None);
    };
    let ok = !raw.is_empty()
        && raw.len() <= 35
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ApiError::field(
            "locale",
            "must be a language tag such as fr or pt-BR",
        ));
    }
    Ok(Some(raw.replace('_', "-")))
}

/// What every channel needs of the rendered message (after rendering: the limits apply
/// to what is sent).
fn check_rendered(c: &Rendered, channels: &[Channel]) -> Result<(), ApiError> {
    if c.subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT)
    {
        return Err(ApiError::field(
            "subject",
            format!("is longer than {MAX_SUBJECT} characters"),
        ));
    }
    let body_limit = shared::config::DEFAULT_BODY_LIMIT;
    for (name, part) in [("html", &c.html), ("text", &c.text)] {
        if part.as_ref().is_some_and(|p| p.len() > body_limit) {
            return Err(ApiError::field(
                name,
                format!("is larger than {body_limit} bytes"),
            ));
        }
    }
    for ch in channels {
        let ok = match ch {
            Channel::Email => {
                c.subject.as_ref().is_some_and(|s| !s.trim().is_empty())
                    && (c.html.is_some() || c.text.is_some())
            }
            _ => c
                .text
                .as_ref()
                .or(c.subject.as_ref())
                .is_some_and(|s| !s.trim().is_empty()),
        };
        if !ok {
            return Err(if *ch == Channel::Email {
                ApiError::field("subject", "the email channel needs a subject and a body")
            } else {
                ApiError::field(
                    "text",
                    format!("the {} channel needs a text (or a subject)", ch.as_str()),
                )
            });
        }
        if *ch == Channel::Sms && c.short().len() > MAX_SMS_BYTES {
            return Err(ApiError::field(
                "text",
                format!(
                    "an SMS is at most {MAX_SMS_BYTES} bytes (SNS's limit for one message); this one renders to {}",
                    c.short().len()
                ),
            ));
        }
    }
    Ok(())
}
