//! Templates: Handlebars sources for a subject, an HTML and a text body, declared
//! required variables and locale variants; every save is a new immutable version.
//!
//! Sources are checked when saved (INVALID_TEMPLATE with the 1-based line and column)
//! and compiled again at each render on a registry built for that call: nothing of a
//! tenant's templates outlives the request, and tenants can register neither partials
//! nor helpers (only Handlebars' built-in helpers exist; nothing reads files). A save is
//! checked for size and depth, and a render is bounded in output (256 KiB) and in work
//! (`budget.rs`): `each` and the helpers that compare or copy values (`charged.rs`) are
//! the built-in ones again, charging what they cost before they run.
//!
//! Undeclared variables: the registry runs in strict mode, so `{{frist_name}}` or a
//! variable the caller forgot fails the render (422 TEMPLATE_RENDERING_FAILED, naming
//! the variable and its position) instead of rendering empty. A sent message cannot be
//! recalled; a blank greeting sent to a whole list is worse than a refused send that
//! preview shows first. Optional parts stay expressible: `{{#if nickname}}…{{/if}}`
//! does not fail on a missing value.

use std::collections::BTreeMap;

use handlebars::{
    Context, Handlebars, RenderContext, RenderError, RenderErrorReason, Renderable, Template,
    TemplateErrorReason, no_escape,
    template::{Parameter, TemplateElement},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::{ApiError, FieldError};
use utoipa::ToSchema;

use super::{Channel, delivery::Rendered};
use crate::error::{NotifyError, NotifyResult, RenderFailure};

mod budget;
mod charged;
mod each;
use budget::{MAX_COMPILE_COST, MAX_RENDER_STEPS, WorkBudget, compile_cost_exceeded};
use each::BudgetedEach;

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// RFC 5322's line limit (notify-svc.md "Validation").
pub const MAX_SUBJECT_CHARS: usize = 998;
/// Per body source, and for a whole rendered message (which a delivery stores).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const MAX_REQUIRED_VARIABLES: usize = 100;
pub const MAX_VARIABLE_CHARS: usize = 100;
pub const MAX_LOCALES: usize = 50;
/// Rendering recurses per nested block (an `else if` chain nests too) and a thread's
/// stack is small: a deeper template is refused when saved rather than overflowing the
/// stack (which aborts the process) when rendered.
const MAX_BLOCK_DEPTH: usize = 64;
const MAX_SUBEXPRESSION_DEPTH: usize = 16;

/// One immutable version of a template, as stored, answered and used by sends.
/// `archived` and `createdAt` are the template's; `updatedAt`/`updatedBy` this version's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVersion {
    #[schema(example = "0195f3a2-7c1e-7d4a-9b2e-3f4a5b6c7d8e")]
    pub id: String,
    #[schema(example = "Order confirmation")]
    pub name: String,
    pub channel: Channel,
    /// 1 for the first save, +1 per update.
    #[schema(example = 1)]
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Your order {{order.number}}")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "<p>Hello {{user.firstName}}</p>")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Hello {{user.firstName}}")]
    pub text: Option<String>,
    #[serde(default)]
    #[schema(example = json!(["user.firstName", "order.number"]))]
    pub required_variables: Vec<String>,
    /// Locale tag -> the parts that locale overrides.
    #[serde(default)]
    pub locales: BTreeMap<String, Rendered>,
    /// Archived templates stay readable (deliveries point at them) but cannot be sent.
    #[serde(default)]
    pub archived: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub archived_at: Option<String>,
    /// When the template's first version was saved.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When this version was saved.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Who saved this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// A template as listed: its latest version's name and metadata, without the sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSummary {
    #[schema(example = "0195f3a2-7c1e-7d4a-9b2e-3f4a5b6c7d8e")]
    pub id: String,
    #[schema(example = "Order confirmation")]
    pub name: String,
    pub channel: Channel,
    /// The latest version.
    #[schema(example = 3)]
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The locale tags the latest version has variants for.
    #[serde(default)]
    #[schema(example = json!(["fr", "pt-BR"]))]
    pub locales: Vec<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub archived_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the latest version was saved.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl TemplateSummary {
    /// The summary of `v` (a template's latest version).
    pub fn of(v: &TemplateVersion) -> Self {
        TemplateSummary {
            id: v.id.clone(),
            name: v.name.clone(),
            channel: v.channel,
            version: v.version,
            description: v.description.clone(),
            locales: v.locales.keys().cloned().collect(),
            archived: v.archived,
            archived_at: v.archived_at.clone(),
            created_at: v.created_at.clone(),
            updated_at: v.updated_at.clone(),
        }
    }
}

/// What a create or an update saves, validated by [`Draft::validated`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub name: String,
    pub channel: Channel,
    pub description: Option<String>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub required_variables: Vec<String>,
    pub locales: BTreeMap<String, Rendered>,
}

impl Draft {
    /// The draft trimmed and checked: 400 VALIDATION naming every bad field, then 400
    /// INVALID_TEMPLATE for the first source Handlebars cannot compile.
    pub fn validated(mut self) -> NotifyResult<Draft> {
        let mut errors = Vec::new();
        let channel = self.channel;
        self.name = self.name.trim().to_owned();
        let name_chars = self.name.chars().count();
        if name_chars == 0 || name_chars > MAX_NAME_CHARS || self.name.chars().any(char::is_control)
        {
            errors.push(FieldError::new(
                "name",
                "must be 1-100 characters without control characters",
            ));
        }
        self.description = self.description.map(|d| d.trim().to_owned());
        self.description = self.description.filter(|d| !d.is_empty());
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 500 characters",
            ));
        }
        let mut parts = Rendered {
            subject: self.subject.take(),
            html: self.html.take(),
            text: self.text.take(),
        };
        check_parts(channel, "", &mut parts, false, &mut errors);
        (self.subject, self.html, self.text) = (parts.subject, parts.html, parts.text);
        check_variables(&self.required_variables, &mut errors);
        // One version is one table item (DynamoDB: 400 KB), whatever the body limit.
        let total: usize = self.locales.values().map(size).sum::<usize>()
            + size_of_parts([&self.subject, &self.html, &self.text]);
        if total > MAX_BODY_BYTES {
            errors.push(FieldError::new(
                "body",
                "the template's sources add up to more than 256 KiB",
            ));
        }
        self.locales = check_locales(channel, std::mem::take(&mut self.locales), &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        for (field, source) in self.sources() {
            compile(&field, source)?;
        }
        Ok(self)
    }

    /// Version `version` of template `id` made of this draft.
    pub fn into_version(
        self,
        id: &str,
        version: i64,
        created_at: &str,
        updated_at: &str,
        by: &str,
    ) -> TemplateVersion {
        TemplateVersion {
            id: id.to_owned(),
            name: self.name,
            channel: self.channel,
            version,
            description: self.description,
            subject: self.subject,
            html: self.html,
            text: self.text,
            required_variables: self.required_variables,
            locales: self.locales,
            archived: false,
            archived_at: None,
            created_at: created_at.to_owned(),
            updated_at: updated_at.to_owned(),
            updated_by: Some(by.to_owned()),
        }
    }

    /// Every Handlebars source with the field that names it in errors.
    fn sources(&self) -> Vec<(String, &str)> {
        let mut out = named_parts("", &self.subject, &self.html, &self.text);
        for (tag, v) in &self.locales {
            out.extend(named_parts(
                &format!("locales.{tag}."),
                &v.subject,
                &v.html,
                &v.text,
            ));
        }
        out
    }
}

fn size(r: &Rendered) -> usize {
    size_of_parts([&r.subject, &r.html, &r.text])
}

fn size_of_parts(parts: [&Option<String>; 3]) -> usize {
    parts
        .into_iter()
        .map(|p| p.as_ref().map_or(0, String::len))
        .sum()
}

fn named_parts<'a>(
    prefix: &str,
    subject: &'a Option<String>,
    html: &'a Option<String>,
    text: &'a Option<String>,
) -> Vec<(String, &'a str)> {
    [("subject", subject), ("html", html), ("text", text)]
        .into_iter()
        .filter_map(|(name, s)| Some((format!("{prefix}{name}"), s.as_deref()?)))
        .collect()
}

/// The channel's rules for a set of parts (a template's own, or a locale variant's, which
/// may leave out any part it does not override). Blank parts count as absent.
fn check_parts(
    channel: Channel,
    prefix: &str,
    parts: &mut Rendered,
    variant: bool,
    errors: &mut Vec<FieldError>,
) {
    for p in [&mut parts.subject, &mut parts.html, &mut parts.text] {
        *p = p.take().filter(|s| !s.trim().is_empty());
    }
    let mut err =
        |field: &str, issue: &str| errors.push(FieldError::new(format!("{prefix}{field}"), issue));
    let email = channel == Channel::Email;
    if email && !variant && parts.subject.is_none() {
        err("subject", "is required for email templates");
    }
    if email && !variant && parts.html.is_none() && parts.text.is_none() {
        err(
            "text",
            "an email template needs an html or a text body (or both)",
        );
    }
    if channel == Channel::Sms && parts.subject.is_some() {
        err("subject", "SMS messages have no subject");
    }
    if !email && parts.html.is_some() {
        err("html", "only email templates have an HTML body");
    }
    if !email && !variant && parts.text.is_none() {
        err("text", "is required for sms, push and in_app templates");
    }
    if let Some(s) = &parts.subject
        && !is_subject_line(s)
    {
        err("subject", SUBJECT_RULE);
    }
    for (field, body) in [("html", &parts.html), ("text", &parts.text)] {
        if body.as_ref().is_some_and(|b| b.len() > MAX_BODY_BYTES) {
            err(field, "must be at most 256 KiB");
        }
    }
}

fn check_variables(names: &[String], errors: &mut Vec<FieldError>) {
    if names.len() > MAX_REQUIRED_VARIABLES {
        errors.push(FieldError::new("requiredVariables", "at most 100 names"));
        return;
    }
    for (i, name) in names.iter().enumerate() {
        let field = format!("requiredVariables[{i}]");
        if !is_variable_name(name) {
            errors.push(FieldError::new(
                field,
                "must be a variable path like firstName or user.firstName",
            ));
        } else if names[..i].contains(name) {
            errors.push(FieldError::new(field, "is listed twice"));
        }
    }
}

/// `user.firstName`, `items.0.sku`: dot-separated segments of letters, digits, `_` and
/// `-`, the first one starting with a letter or `_`.
pub fn is_variable_name(name: &str) -> bool {
    let seg_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    name.len() <= MAX_VARIABLE_CHARS
        && name.split('.').all(seg_ok)
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
}

/// `fr`, `pt-BR`, `zh-Hant-TW`: a 2-3 letter language and 1-8 character subtags.
pub fn is_locale_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let lang = parts.next().unwrap_or("");
    tag.len() <= 35
        && (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn check_locales(
    channel: Channel,
    locales: BTreeMap<String, Rendered>,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, Rendered> {
    if locales.len() > MAX_LOCALES {
        errors.push(FieldError::new("locales", "at most 50 locales"));
        return locales;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = BTreeMap::new();
    for (tag, mut parts) in locales {
        let prefix = format!("locales.{tag}.");
        if !is_locale_tag(&tag) {
            errors.push(FieldError::new(
                format!("locales.{tag}"),
                "is not a locale tag like fr or pt-BR",
            ));
        } else if seen.contains(&tag.to_ascii_lowercase()) {
            errors.push(FieldError::new(format!("locales.{tag}"), "is listed twice"));
        }
        seen.push(tag.to_ascii_lowercase());
        check_parts(channel, &prefix, &mut parts, true, errors);
        if parts == Rendered::default() {
            errors.push(FieldError::new(
                format!("locales.{tag}"),
                "give at least one of subject, html, text",
            ));
        }
        out.insert(tag, parts);
    }
    out
}

/// Compiles one source, refusing what the renderer must never meet: decorators (they
/// define partials, which could then include each other forever), nesting deeper than
/// the stack allows, and more tags than compiling its length affords (`budget.rs`).
fn compile(field: &str, source: &str) -> NotifyResult<Template> {
    if let Some((line, column)) = compile_cost_exceeded(source, MAX_COMPILE_COST) {
        return Err(NotifyError::InvalidTemplate {
            field: field.to_owned(),
            message: "too many {{…}} tags for its length: each tag costs the characters \
                      before it to compile; use fewer tags (a loop instead of repeats) or a \
                      shorter source"
                .to_owned(),
            line: Some(line),
            column: Some(column),
        });
    }
    let t = Template::compile(source).map_err(|e| {
        let message = match e.reason() {
            TemplateErrorReason::InvalidSyntax(s) if s.contains("limit reached") => {
                "the template is nested too deeply".to_owned()
            }
            TemplateErrorReason::InvalidParam(_) => "invalid parameter".to_owned(),
            reason => cut(&reason.to_string()),
        };
        let (line, column) = e.pos().unzip();
        NotifyError::InvalidTemplate {
            field: field.to_owned(),
            message,
            line,
            column,
        }
    })?;
    check_structure(field, &t)?;
    Ok(t)
}

fn check_structure(field: &str, root: &Template) -> NotifyResult<()> {
    let refuse = |t: &Template, i: usize, message: &str| {
        let pos = t.mapping.get(i);
        NotifyError::InvalidTemplate {
            field: field.to_owned(),
            message: message.to_owned(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
        }
    };
    let mut stack = vec![(root, 0usize)];
    while let Some((t, depth)) = stack.pop() {
        for (i, el) in t.elements.iter().enumerate() {
            let (inner, params): (Vec<&Template>, Vec<&Parameter>) = match el {
                TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                    return Err(refuse(
                        t,
                        i,
                        "decorators such as {{#*inline}} are not supported",
                    ));
                }
                TemplateElement::HelperBlock(h)
                | TemplateElement::Expression(h)
                | TemplateElement::HtmlExpression(h) => {
                    // A block, or a name with arguments, calls a helper; a bare
                    // `{{name}}` reads a variable.
                    let calls = h.block || !h.params.is_empty() || !h.hash.is_empty();
                    if let Some(name) = h.name.as_name().filter(|n| calls && !is_helper(n)) {
                        return Err(refuse(t, i, &not_a_helper(name)));
                    }
                    (
                        h.template.iter().chain(h.inverse.iter()).collect(),
                        h.params.iter().chain(h.hash.values()).collect(),
                    )
                }
                // No partial exists: `{{> name}}` can never render, while a partial
                // block renders its fallback (`{{#> name}}fallback{{/name}}`).
                TemplateElement::PartialExpression(_) => {
                    return Err(refuse(
                        t,
                        i,
                        "partials such as {{> name}} are not supported",
                    ));
                }
                TemplateElement::PartialBlock(d) => (
                    d.template.iter().collect(),
                    d.params.iter().chain(d.hash.values()).collect(),
                ),
                _ => (Vec::new(), Vec::new()),
            };
            if !inner.is_empty() && depth + 1 > MAX_BLOCK_DEPTH {
                return Err(refuse(
                    t,
                    i,
                    "blocks (else-if chains included) nest more than 64 deep",
                ));
            }
            if params
                .iter()
                .any(|p| subexpression_depth(p) > MAX_SUBEXPRESSION_DEPTH)
            {
                return Err(refuse(t, i, "subexpressions nest more than 16 deep"));
            }
            if let Some(name) = params.iter().find_map(|p| unknown_helper(p)) {
                return Err(refuse(t, i, &not_a_helper(name)));
            }
            stack.extend(inner.into_iter().map(|t| (t, depth + 1)));
        }
    }
    Ok(())
}

/// Handlebars' built-in helpers, less `log` (tenant text must not reach our logs): all a
/// template can call, since tenants register none.
const HELPERS: [&str; 16] = [
    "if", "unless", "each", "with", "lookup", "raw", "eq", "ne", "gt", "gte", "lt", "lte", "and",
    "or", "not", "len",
];

fn is_helper(name: &str) -> bool {
    HELPERS.contains(&name)
}

fn not_a_helper(name: &str) -> String {
    cut(&format!(
        "`{name}` is not a helper (there are: {})",
        HELPERS.join(", ")
    ))
}

/// The first unknown helper a `(helper …)` parameter calls, at any depth (bounded by
/// the subexpression depth, checked first).
fn unknown_helper(p: &Parameter) -> Option<&str> {
    let Parameter::Subexpression(s) = p else {
        return None;
    };
    let TemplateElement::Expression(h) = s.as_element() else {
        return None;
    };
    match h.name.as_name() {
        Some(name) if !is_helper(name) => Some(name),
        _ => h
            .params
            .iter()
            .chain(h.hash.values())
            .find_map(unknown_helper),
    }
}

/// How deep `(helper (helper …))` goes in a parameter (bounded by the parser's own stack
/// guard, so the recursion here is too).
fn subexpression_depth(p: &Parameter) -> usize {
    let Parameter::Subexpression(s) = p else {
        return 0;
    };
    let inner = match s.as_element() {
        TemplateElement::Expression(h) => h
            .params
            .iter()
            .chain(h.hash.values())
            .map(subexpression_depth)
            .max()
            .unwrap_or(0),
        _ => 0,
    };
    1 + inner
}

/// Renders `t` for `locale` (its variant when it has one) with `vars`: required
/// variables first (400 listing every missing one), then each part.
pub fn render(t: &TemplateVersion, locale: Option<&str>, vars: &Value) -> NotifyResult<Rendered> {
    let missing = missing_variables(&t.required_variables, vars);
    if !missing.is_empty() {
        return Err(NotifyError::MissingTemplateVariables(missing));
    }
    let variant = variant_for(&t.locales, locale);
    let prefix = variant
        .map(|(tag, _)| format!("locales.{tag}."))
        .unwrap_or_default();
    let pick = |own: &Option<String>, over: Option<&Option<String>>, name: &str| match over
        .and_then(|o| o.as_deref())
    {
        Some(s) => Some((format!("{prefix}{name}"), s.to_owned())),
        None => own.clone().map(|s| (name.to_owned(), s)),
    };
    let v = variant.map(|(_, v)| v);
    render_parts(
        pick(&t.subject, v.map(|v| &v.subject), "subject"),
        pick(&t.html, v.map(|v| &v.html), "html"),
        pick(&t.text, v.map(|v| &v.text), "text"),
        vars,
    )
}

/// Renders the inline `content{subject,html,text}` of a send with `vars`: the same
/// rules as a stored template, with errors naming `content.<part>`.
pub fn render_inline(content: &Rendered, vars: &Value) -> NotifyResult<Rendered> {
    let named = |s: &Option<String>, name: &str| s.clone().map(|s| (format!("content.{name}"), s));
    render_parts(
        named(&content.subject, "subject"),
        named(&content.html, "html"),
        named(&content.text, "text"),
        vars,
    )
}

/// The locale variant `locale` selects: the exact tag, else its language (`fr-CA` ->
/// `fr`), both ignoring case; None means the template's default parts.
pub fn variant_for<'a>(
    locales: &'a BTreeMap<String, Rendered>,
    locale: Option<&str>,
) -> Option<(&'a str, &'a Rendered)> {
    let wanted = locale?.trim().replace('_', "-");
    let language = wanted.split('-').next().unwrap_or("");
    let find = |tag: &str| {
        locales
            .iter()
            .find(|(k, _)| !tag.is_empty() && k.eq_ignore_ascii_case(tag))
            .map(|(k, v)| (k.as_str(), v))
    };
    find(&wanted).or_else(|| find(language))
}

/// The declared names that `vars` lacks or holds as null, in declaration order.
pub fn missing_variables(required: &[String], vars: &Value) -> Vec<String> {
    required
        .iter()
        .filter(|name| lookup(vars, name).is_none_or(Value::is_null))
        .cloned()
        .collect()
}

fn lookup<'a>(vars: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(vars, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Renders each (field, source) present. HTML escaping applies to the html body only:
/// the subject and the text body are not HTML, and `&amp;` in an SMS is a bug.
fn render_parts(
    subject: Option<(String, String)>,
    html: Option<(String, String)>,
    text: Option<(String, String)>,
    vars: &Value,
) -> NotifyResult<Rendered> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    // Tenant text must not reach our logs.
    registry.unregister_helper("log");
    let data = match vars {
        Value::Null => Value::Object(Default::default()),
        v => v.clone(),
    };
    let work = WorkBudget::new(MAX_RENDER_STEPS, &data);
    registry.register_helper("each", Box::new(BudgetedEach(work.clone())));
    charged::register(&mut registry, &work);
    let ctx = Context::from(data);
    let mut budget = MAX_BODY_BYTES;
    let mut one = |part: Option<(String, String)>, escape: bool| -> NotifyResult<Option<String>> {
        let Some((field, source)) = part else {
            return Ok(None);
        };
        if escape {
            registry.register_escape_fn(escape_html_value);
        } else {
            registry.register_escape_fn(no_escape);
        }
        let t = compile(&field, &source)?;
        let mut out = Capped {
            buf: String::new(),
            budget: &mut budget,
            exceeded: false,
            object: false,
        };
        let mut rc = RenderContext::new(None);
        // Every element once (loops charge their repeats as they start).
        let rendered = work
            .charge(work.template_cost(&t))
            .and_then(|()| t.render(&registry, &ctx, &mut rc, &mut out));
        match rendered {
            Ok(()) => Ok(Some(out.buf)),
            // Mailing `[object]` to every recipient helps nobody: refused like a missing
            // variable, where it is.
            Err(e) if out.object => Err(NotifyError::from(failed(
                &field,
                Some(&e),
                cut(&format!(
                    "{field}{}: a variable holds an object, which has no text: name one of its \
                     fields (`{{{{event.name}}}}`) or loop over it with `{{{{#each}}}}`",
                    at(&e)
                )),
            ))),
            // The budget is the whole message's: `field` is where it ran out.
            Err(_) if out.exceeded => Err(NotifyError::from(failed(
                &field,
                None,
                "the rendered message is larger than 256 KiB".into(),
            ))),
            Err(_) if work.exhausted() => Err(NotifyError::from(failed(
                &field,
                None,
                format!(
                    "{field}: rendering it would take more than {MAX_RENDER_STEPS} steps (an \
                     element is one, each {{{{#each}}}} costs its items times its body and nested \
                     loops multiply; comparing or copying a variable costs its size)"
                ),
            ))),
            Err(e) => Err(render_failed(&field, &e)),
        }
    };
    let subject_field = subject.as_ref().map(|(f, _)| f.clone()).unwrap_or_default();
    let subject = one(subject, false)?.map(|s| {
        // A subject is one header line, whatever a variable holds.
        s.replace(char::is_control, " ").trim().to_owned()
    });
    if subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS)
    {
        return Err(failed(
            &subject_field,
            None,
            "the rendered subject is longer than 998 characters".into(),
        )
        .into());
    }
    Ok(Rendered {
        subject,
        html: one(html, true)?,
        text: one(text, false)?,
    })
}

/// A variable's value in the html body: HTML-escaped (Handlebars' escaping), and made
/// inert if it is a script URL. Escaping keeps a value inside its attribute, but
/// `<a href="{{profileUrl}}">` with `javascript:…` stays a script link; a value is not
/// known to be a URL, so it keeps its text behind `unsafe:` (as Angular's sanitizer does)
/// rather than being dropped.
fn escape_html_value(value: &str) -> String {
    let escaped = handlebars::html_escape(value);
    if is_script_url(value) {
        format!("unsafe:{escaped}")
    } else {
        escaped
    }
}

/// A URL a browser or mail client would run or render as a document: `javascript:`,
/// `vbscript:`, `data:` (but images), read as browsers read a URL (leading spaces and
/// controls dropped, tabs and newlines ignored, any case).
fn is_script_url(value: &str) -> bool {
    let head: String = value
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take(128)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("javascript:") || head.starts_with("vbscript:") {
        return true;
    }
    // A data URL has a media type without spaces (or none) before its `,` or `;`: "Data:
    // your export is ready" is text. Images are let through (no script runs in an img).
    let Some(rest) = head.strip_prefix("data:") else {
        return false;
    };
    let media = rest.split([',', ';']).next().unwrap_or(rest);
    let data_url = media.len() < rest.len() && !media.contains(' ');
    let image = ["image/png", "image/gif", "image/jpeg", "image/webp"].contains(&media);
    data_url && !image
}

/// A render failure in `field`, at `e`'s position when there is one.
fn failed(field: &str, e: Option<&RenderError>, message: String) -> RenderFailure {
    RenderFailure {
        message,
        field: Some(field.to_owned()),
        line: e.and_then(|e| e.line_no),
        column: e.and_then(|e| e.column_no),
        variable: None,
    }
}

fn render_failed(field: &str, e: &RenderError) -> NotifyError {
    let reason = match e.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => format!("variable `{path}` is missing"),
        RenderErrorReason::MissingVariable(None) => "a variable is missing".to_owned(),
        RenderErrorReason::PartialNotFound(name) => {
            format!("partial `{name}` does not exist (templates cannot use partials)")
        }
        RenderErrorReason::HelperNotFound(name) => format!("helper `{name}` does not exist"),
        other => other.to_string(),
    };
    let variable = match e.reason() {
        RenderErrorReason::MissingVariable(path) => path.clone(),
        _ => None,
    };
    let message = cut(&format!("{field}{}: {reason}", at(e)));
    RenderFailure {
        variable,
        ..failed(field, Some(e), message)
    }
    .into()
}

/// ` (line L, column C)` of the element that failed, when Handlebars knows it.
fn at(e: &RenderError) -> String {
    match (e.line_no, e.column_no) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        _ => String::new(),
    }
}

/// What a subject source must be: one header line (line breaks would start new headers;
/// other control characters are refused by mail servers or shown as garbage).
pub const SUBJECT_RULE: &str =
    "must be one line of at most 998 characters, without control characters";

pub fn is_subject_line(s: &str) -> bool {
    s.chars().count() <= MAX_SUBJECT_CHARS && !s.chars().any(char::is_control)
}

/// Messages echo template text at most this long (an error must not mirror a body).
fn cut(s: &str) -> String {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Output that refuses to grow past the message budget, so a loop over a large variable
/// cannot build an unbounded string.
struct Capped<'a> {
    buf: String,
    budget: &'a mut usize,
    exceeded: bool,
    /// An expression named an object, which Handlebars writes as `[object]`.
    object: bool,
}

/// What Handlebars writes for an object (`{{event}}` where `event` is `{"name": …}`), in
/// an expression's one write.
const OBJECT_TEXT: &str = "[object]";

impl handlebars::Output for Capped<'_> {
    fn write(&mut self, seg: &str) -> std::io::Result<()> {
        // A list of objects is written `[[object], [object]]`, in one piece too.
        if seg.contains(OBJECT_TEXT) {
            self.object = true;
            return Err(std::io::Error::other("an object has no text"));
        }
        if seg.len() > *self.budget {
            self.exceeded = true;
            return Err(std::io::Error::other("rendered message too large"));
        }
        *self.budget -= seg.len();
        self.buf.push_str(seg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn email() -> TemplateVersion {
        TemplateVersion {
            id: "t1".into(),
            name: "Welcome".into(),
            channel: Channel::Email,
            version: 1,
            description: None,
            subject: Some("Hi {{user.firstName}}".into()),
            html: Some("<p>Hello {{user.firstName}}</p>".into()),
            text: Some("Hello {{user.firstName}}".into()),
            required_variables: vec!["user.firstName".into()],
            locales: BTreeMap::from([
                (
                    "fr".into(),
                    Rendered {
                        subject: Some("Salut {{user.firstName}}".into()),
                        html: None,
                        text: Some("Bonjour {{user.firstName}}".into()),
                    },
                ),
                (
                    "pt-BR".into(),
                    Rendered {
                        subject: Some("Olá {{user.firstName}}".into()),
                        ..Rendered::default()
                    },
                ),
            ]),
            archived: false,
            archived_at: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            updated_by: None,
        }
    }

    fn draft(channel: Channel) -> Draft {
        Draft {
            name: "  Welcome  ".into(),
            channel,
            description: None,
            subject: Some("Hi".into()),
            html: None,
            text: Some("Hello {{name}}".into()),
            required_variables: vec!["name".into()],
            locales: BTreeMap::new(),
        }
    }

    fn fields(e: NotifyError) -> Vec<String> {
        let e: ApiError = e.into();
        assert_eq!(e.name, "VALIDATION", "{e:?}");
        e.details.unwrap()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn html_is_escaped_in_the_html_body_only() {
        let r = render(
            &email(),
            None,
            &json!({"user": {"firstName": "<b>Ann</b> & co"}}),
        )
        .unwrap();
        assert_eq!(
            r.html.as_deref(),
            Some("<p>Hello &lt;b&gt;Ann&lt;/b&gt; &amp; co</p>")
        );
        assert_eq!(r.text.as_deref(), Some("Hello <b>Ann</b> & co"));
        assert_eq!(r.subject.as_deref(), Some("Hi <b>Ann</b> & co"));
    }

    #[test]
    fn a_script_url_in_a_variable_is_made_inert_in_the_html_body_only() {
        let mut t = email();
        t.html = Some("<a href=\"{{url}}\">{{url}}</a>".into());
        t.text = Some("{{url}}".into());
        t.subject = Some("Your link".into());
        t.required_variables = vec!["url".into()];
        for (url, inert) in [
            ("javascript:alert(1)", true),
            (" \u{1}JaVa\tScRiPt:alert(1)", true),
            ("vbscript:msgbox", true),
            ("data:text/html,<script>x</script>", true),
            ("data:,hello", true),
            ("Data: your export is ready", false),
            ("data:image/png;base64,AAAA", false),
            ("https://eventzr.com/e/1", false),
            ("mailto:ann@example.com", false),
        ] {
            let r = render(&t, None, &json!({ "url": url })).unwrap();
            let html = r.html.unwrap();
            assert_eq!(html.contains("\"unsafe:"), inert, "{url}: {html}");
            assert_eq!(r.text.as_deref(), Some(url), "the text body is not HTML");
        }
    }

    #[test]
    fn every_missing_or_null_required_variable_is_listed_before_rendering() {
        let mut t = email();
        t.required_variables = vec!["user.firstName".into(), "order.id".into(), "code".into()];
        // The html would fail strict rendering too; the missing list comes first.
        t.html = Some("{{undeclared}}".into());
        let err = render(&t, None, &json!({"user": {"firstName": null}, "code": ""})).unwrap_err();
        assert!(
            matches!(&err, NotifyError::MissingTemplateVariables(m) if m == &["user.firstName", "order.id"]),
            "{err:?}"
        );
    }

    #[test]
    fn the_exact_locale_then_its_language_then_the_default_is_chosen() {
        let vars = json!({"user": {"firstName": "Ann"}});
        let fr = render(&email(), Some("fr"), &vars).unwrap();
        assert_eq!(fr.subject.as_deref(), Some("Salut Ann"));
        assert_eq!(fr.text.as_deref(), Some("Bonjour Ann"));
        // The variant has no html: the default html stays.
        assert_eq!(fr.html.as_deref(), Some("<p>Hello Ann</p>"));
        assert_eq!(render(&email(), Some("fr-CA"), &vars).unwrap(), fr);
        assert_eq!(render(&email(), Some("FR_ca"), &vars).unwrap(), fr);
        let br = render(&email(), Some("pt-br"), &vars).unwrap();
        assert_eq!(br.subject.as_deref(), Some("Olá Ann"));
        assert_eq!(br.text.as_deref(), Some("Hello Ann"));
        // `pt` alone does not pick the pt-BR variant; unknown locales get the default.
        for other in [Some("pt"), Some("de-DE"), Some(""), None] {
            let r = render(&email(), other, &vars).unwrap();
            assert_eq!(r.subject.as_deref(), Some("Hi Ann"), "{other:?}");
        }
        assert_eq!(
            variant_for(&email().locales, Some("fr-CA")).unwrap().0,
            "fr"
        );
    }

    #[test]
    fn an_undeclared_missing_variable_fails_the_render_with_its_position() {
        let mut t = email();
        t.text = Some("Hello\n  {{user.lastName}}".into());
        let err = render(&t, None, &json!({"user": {"firstName": "Ann"}})).unwrap_err();
        let NotifyError::TemplateRenderingFailed(f) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            f,
            RenderFailure {
                message: "text (line 2, column 3): variable `user.lastName` is missing".into(),
                field: Some("text".into()),
                line: Some(2),
                column: Some(3),
                variable: Some("user.lastName".into()),
            }
        );
        // Optional parts behind `if` do not fail.
        t.text = Some("Hi{{#if nick}} {{nick}}{{/if}}!".into());
        let r = render(&t, None, &json!({"user": {"firstName": "Ann"}})).unwrap();
        assert_eq!(r.text.as_deref(), Some("Hi!"));
    }

    #[test]
    fn a_variable_holding_an_object_fails_the_render_where_it_is_shown() {
        let vars =
            json!({"user": {"firstName": "Ann"}, "event": {"name": "Gala", "tags": ["a", "b"]}});
        for (field, set) in [
            (
                "text",
                (|t: &mut TemplateVersion, s: &str| t.text = Some(s.into())) as fn(&mut _, &_),
            ),
            ("html", |t, s| t.html = Some(s.into())),
            ("subject", |t, s| t.subject = Some(s.into())),
        ] {
            for src in [
                "Hi\n {{event}}",
                "Hi\n {{{event}}}",
                "Hi\n {{lookup this \"event\"}}",
            ] {
                let mut t = email();
                set(&mut t, src);
                let err = render(&t, None, &vars).unwrap_err();
                let NotifyError::TemplateRenderingFailed(RenderFailure { message: m, .. }) = err
                else {
                    panic!("{err:?}")
                };
                assert!(
                    m.starts_with(&format!(
                        "{field} (line 2, column 2): a variable holds an object"
                    )),
                    "{field} {src}: {m}"
                );
            }
        }
        // A list of objects is no better.
        let mut t = email();
        t.text = Some("{{list}}".into());
        let list = json!({"user": {"firstName": "Ann"}, "list": [{"a": 1}, {"b": 2}]});
        assert!(render(&t, None, &list).is_err());
        // Its fields, a list and a loop over the object render.
        let mut t = email();
        t.text = Some("{{event.name}} {{event.tags}}{{#each event}} {{@key}}{{/each}}".into());
        let r = render(&t, None, &vars).unwrap();
        assert_eq!(r.text.as_deref(), Some("Gala [a, b] name tags"));
    }

    #[test]
    fn partials_and_unknown_helpers_are_refused_where_they_are() {
        for (src, want, column) in [
            (
                "{{> footer}}",
                "partials such as {{> name}} are not supported",
                1,
            ),
            ("Hi {{shout name}}", "`shout` is not a helper", 4),
            ("{{log name}}", "`log` is not a helper", 1),
            ("{{#user}}x{{/user}}", "`user` is not a helper", 1),
            (
                "{{#if (eq (upper a) b)}}x{{/if}}",
                "`upper` is not a helper",
                1,
            ),
            ("{{x (shout)}}", "`x` is not a helper", 1),
        ] {
            let err = render_inline(
                &Rendered {
                    text: Some(src.into()),
                    ..Default::default()
                },
                &json!({"name": "x"}),
            )
            .unwrap_err();
            let NotifyError::InvalidTemplate {
                field,
                message,
                line,
                column: at,
            } = err
            else {
                panic!("{src}: {err:?}")
            };
            assert_eq!(
                (field.as_str(), line, at),
                ("content.text", Some(1), Some(column)),
                "{src}"
            );
            assert!(message.contains(want), "{src}: {message}");
        }
        // A partial block renders its fallback: accepted.
        let out = render_inline(
            &Rendered {
                text: Some("{{#> footer}}Bye {{name}}{{/footer}}".into()),
                ..Default::default()
            },
            &json!({"name": "x"}),
        )
        .unwrap();
        assert_eq!(out.text.as_deref(), Some("Bye x"));
        // Variables, built-in helpers and their subexpressions are fine.
        let ok = "{{name}} {{{name}}} {{#if (and (eq name \"x\") (not (len name)))}}y{{else}}{{lookup this \"name\"}}{{/if}} {{#each list}}{{this}}{{/each}}";
        let out = render_inline(
            &Rendered {
                text: Some(ok.into()),
                ..Default::default()
            },
            &json!({"name": "x", "list": [1, 2]}),
        )
        .unwrap();
        assert_eq!(out.text.as_deref(), Some("x x x 12"));
    }

    #[test]
    fn invalid_handlebars_is_reported_with_field_line_and_column() {
        let mut d = draft(Channel::Email);
        d.html = Some("<p>\n  Hello {{name</p>".into());
        let err = d.validated().unwrap_err();
        let NotifyError::InvalidTemplate {
            field,
            line,
            column,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((field.as_str(), line, column), ("html", Some(2), Some(15)));

        let mut d = draft(Channel::Email);
        d.locales.insert(
            "fr".into(),
            Rendered {
                text: Some("{{#if a}}x{{/each}}".into()),
                ..Default::default()
            },
        );
        let err = d.validated().unwrap_err();
        let NotifyError::InvalidTemplate {
            field,
            message,
            line,
            column,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(field, "locales.fr.text");
        assert_eq!((line, column), (Some(1), Some(11)));
        assert!(
            message.contains("\"if\" was opened, but \"each\" is closing"),
            "{message}"
        );

        let err = render_inline(
            &Rendered {
                html: Some("{{/x}}".into()),
                ..Default::default()
            },
            &json!({}),
        )
        .unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidTemplate { ref field, .. } if field == "content.html")
        );
    }

    #[test]
    fn sources_too_costly_to_compile_are_refused_where_the_cost_is_crossed() {
        // 120 KiB of `{{a}}` (24,576 tags): ~3 s of compiling in release, at every send.
        let mut d = draft(Channel::Sms);
        d.subject = None;
        d.text = Some(format!("Hi\n{}", "{{a}}".repeat(24_576)));
        let err = d.validated().unwrap_err();
        let NotifyError::InvalidTemplate {
            field,
            message,
            line,
            column,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(field, "text");
        assert!(message.starts_with("too many {{…}} tags"), "{message}");
        // The tag past 50,000,000: the sum of 3 + 5k over tags k = 0, 1, … crosses it at 4472.
        assert_eq!((line, column), (Some(2), Some(5 * 4472 + 1)));
        // Inline content is held to the same bound when sent.
        let content = Rendered {
            text: Some("{{a}}".repeat(24_576)),
            ..Default::default()
        };
        assert!(matches!(
            render_inline(&content, &json!({"a": 1})),
            Err(NotifyError::InvalidTemplate { ref field, .. }) if field == "content.text"
        ));
        // A 105 KB email with 800 tags spread through it is within the bound.
        let paragraph = format!("<p>{}</p>\n", "x".repeat(120));
        let html = format!("{}\n", paragraph.repeat(800)).replace("\n<p>", "\n<p>{{a}}");
        let mut d = draft(Channel::Email);
        d.html = Some(html);
        assert!(d.validated().is_ok());
    }

    #[test]
    fn decorators_and_deep_nesting_are_refused_when_saved() {
        let with_text = |text: String| {
            let mut d = draft(Channel::Sms);
            d.subject = None;
            d.text = Some(text);
            d.validated()
        };
        let err = with_text("{{#*inline \"a\"}}{{> b}}{{/inline}}{{> a}}".into()).unwrap_err();
        assert!(
            matches!(
                err,
                NotifyError::InvalidTemplate {
                    line: Some(1),
                    column: Some(1),
                    ..
                }
            ),
            "{err:?}"
        );
        let nested = |n: usize| format!("{}x{}", "{{#if a}}".repeat(n), "{{/if}}".repeat(n));
        let err = with_text(nested(MAX_BLOCK_DEPTH + 1)).unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidTemplate { ref message, .. } if message.contains("64 deep"))
        );
        // An even number of `not`s of 1 is true.
        let sub = |n: usize| {
            format!(
                "{{{{#if {}1{}}}}}x{{{{/if}}}}",
                "(not ".repeat(n),
                ")".repeat(n)
            )
        };
        let err = with_text(sub(MAX_SUBEXPRESSION_DEPTH + 1)).unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidTemplate { ref message, .. } if message.contains("16 deep"))
        );
        // What is accepted renders on a small (2 MiB) thread stack, as in a worker thread.
        let deepest = nested(MAX_BLOCK_DEPTH - 1).replace('x', &sub(MAX_SUBEXPRESSION_DEPTH));
        assert!(with_text(deepest.clone()).is_ok());
        let out = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                render_inline(
                    &Rendered {
                        text: Some(deepest),
                        ..Default::default()
                    },
                    &json!({"a": true}),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(out.unwrap().text.as_deref(), Some("x"));
    }

    #[test]
    fn loops_that_would_do_too_much_work_fail_naming_the_part() {
        let rows = json!({"a": vec![0; 1000]});
        let nested =
            "{{#each @root.a}}{{#each @root.a}}{{#each @root.a}}{{/each}}{{/each}}{{/each}}";
        let err = render_inline(
            &Rendered {
                subject: Some("s".into()),
                html: Some(nested.into()),
                ..Default::default()
            },
            &rows,
        )
        .unwrap_err();
        assert!(
            matches!(err, NotifyError::TemplateRenderingFailed(ref f) if f.message.starts_with("content.html: rendering it would take more than")),
            "{err:?}"
        );
        // The budget is the message's: two parts of 60,000 steps each go over it together.
        let wide = json!({"a": vec![0; 60_000]});
        let half = "{{#each a}}{{/each}}".to_owned();
        let one = Rendered {
            text: Some(half.clone()),
            ..Default::default()
        };
        assert!(render_inline(&one, &wide).is_ok());
        let both = Rendered {
            html: Some(half.clone()),
            text: Some(half),
            ..Default::default()
        };
        assert!(
            matches!(render_inline(&both, &wide), Err(NotifyError::TemplateRenderingFailed(ref f)) if f.message.starts_with("content.text: rendering it would take more than"))
        );
    }

    #[test]
    fn elements_that_cost_their_variables_size_are_charged_for_it() {
        // ~200 KiB of variables (100,000 nodes): each element below compares or copies
        // most of it (0.4-0.9 ms in release), thousands of times, writing nothing.
        let vars = json!({"rows": vec![0; 5_000], "big": {"pad": vec![0; 95_000]}});
        let sources = [
            "{{#each rows}}{{#if (eq @root.big.pad @root.big.pad)}}x{{/if}}{{/each}}",
            "{{#each rows}}{{#if (gt (lookup @root.big \"pad\") 1)}}x{{/if}}{{/each}}",
            "{{#each rows}}{{#with (lookup ../big \"pad\")}}{{/with}}{{/each}}",
            &"{{#> footer}}{{/footer}}".repeat(100),
        ];
        for source in sources {
            let content = Rendered {
                text: Some(source.to_owned()),
                ..Default::default()
            };
            let err = render_inline(&content, &vars).unwrap_err();
            assert!(
                matches!(err, NotifyError::TemplateRenderingFailed(ref f) if f.message.starts_with("content.text: rendering it would take more than")),
                "{source:.60}: {err:?}"
            );
        }
        // A partial block's hash values are copied too (500 of them took 14 s in release
        // for one block over 4,500 rows).
        // One copy of a 30,000-item context fits the budget; six do not.
        let hashed = "{{#> p a=big.pad b=big.pad c=big.pad}}{{/p}}".to_owned();
        let content = Rendered {
            text: Some(hashed),
            ..Default::default()
        };
        assert!(matches!(
            render_inline(&content, &json!({"big": {"pad": vec![0; 30_000]}})),
            Err(NotifyError::TemplateRenderingFailed(_))
        ));
        // A partial block in a loop copies the row, not the whole context: 100 rows of 9
        // fields render (charging the context each time refused them).
        let rows: Vec<Value> = (0..100)
            .map(|i| json!({"name": format!("n{i}"), "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}))
            .collect();
        let content = Rendered {
            text: Some("{{#each rows}}{{#> row}}{{name}}{{/row}}{{/each}}".into()),
            ..Default::default()
        };
        let text = render_inline(&content, &json!({"rows": rows, "pad": vec![0; 20_000]}))
            .unwrap()
            .text
            .unwrap();
        assert!(text.starts_with("n0n1n2"), "{text:.20}");
        // The same shapes over small variables render.
        let small = json!({"rows": [1, 2], "big": {"pad": [0]}});
        let content = Rendered {
            text: Some(
                "{{#each rows}}{{#if (eq @root.big.pad @root.big.pad)}}={{/if}}{{#> footer}}{{this}}{{/footer}}{{/each}}"
                    .into(),
            ),
            ..Default::default()
        };
        assert_eq!(
            render_inline(&content, &small).unwrap().text.as_deref(),
            Some("=1=2")
        );
    }

    #[test]
    fn a_rendered_message_over_256_kib_fails() {
        let big = json!({"rows": vec!["0123456789"; 30_000]});
        let err = render_inline(
            &Rendered {
                text: Some("{{#each rows}}{{this}}{{/each}}".into()),
                ..Default::default()
            },
            &big,
        )
        .unwrap_err();
        assert!(
            matches!(err, NotifyError::TemplateRenderingFailed(ref f) if f.message.contains("256 KiB")),
            "{err:?}"
        );
    }

    #[test]
    fn a_rendered_subject_stays_on_one_line() {
        let r = render_inline(
            &Rendered {
                subject: Some("Re: {{s}}".into()),
                ..Default::default()
            },
            &json!({"s": "a\r\nBcc: x@evil.test\u{0}\u{7}"}),
        )
        .unwrap();
        assert_eq!(r.subject.as_deref(), Some("Re: a  Bcc: x@evil.test"));
        // A source is refused instead, naming the field.
        for subject in ["a\r\nBcc: x@evil.test", "nul\u{0}", "tab\t"] {
            let mut d = draft(Channel::Email);
            d.subject = Some(subject.into());
            assert_eq!(
                fields(d.validated().unwrap_err()),
                ["subject"],
                "{subject:?}"
            );
        }
    }

    #[test]
    fn drafts_follow_the_channel_rules_and_name_the_field() {
        let ok = draft(Channel::Email).validated().unwrap();
        assert_eq!(ok.name, "Welcome");

        let mut d = draft(Channel::Email);
        d.subject = Some("   ".into());
        d.text = None;
        assert_eq!(fields(d.validated().unwrap_err()), ["subject", "text"]);

        let mut d = draft(Channel::Sms);
        d.html = Some("<p>x</p>".into());
        assert_eq!(fields(d.validated().unwrap_err()), ["subject", "html"]);

        let mut d = draft(Channel::Push);
        d.text = None;
        d.name = " ".into();
        assert_eq!(fields(d.validated().unwrap_err()), ["name", "text"]);

        let mut d = draft(Channel::InApp);
        d.required_variables = vec![
            "user.first".into(),
            "1abc".into(),
            "a..b".into(),
            "user.first".into(),
        ];
        assert_eq!(
            fields(d.validated().unwrap_err()),
            [
                "requiredVariables[1]",
                "requiredVariables[2]",
                "requiredVariables[3]"
            ]
        );

        let mut d = draft(Channel::Sms);
        d.subject = None;
        d.locales.insert(
            "fr_FR".into(),
            Rendered {
                text: Some("x".into()),
                ..Default::default()
            },
        );
        d.locales.insert("de".into(), Rendered::default());
        d.locales.insert(
            "es".into(),
            Rendered {
                html: Some("<p>".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            fields(d.validated().unwrap_err()),
            ["locales.de", "locales.es.html", "locales.fr_FR"]
        );

        let mut d = draft(Channel::Email);
        d.subject = Some("x".repeat(MAX_SUBJECT_CHARS + 1));
        assert_eq!(fields(d.validated().unwrap_err()), ["subject"]);

        // Each part fits, all of them together do not.
        let mut d = draft(Channel::Email);
        d.html = Some("h".repeat(MAX_BODY_BYTES / 2));
        d.text = Some("t".repeat(MAX_BODY_BYTES / 2));
        d.locales.insert(
            "fr".into(),
            Rendered {
                text: Some("f".into()),
                ..Default::default()
            },
        );
        assert_eq!(fields(d.validated().unwrap_err()), ["body"]);
    }

    #[test]
    fn variable_names_and_locale_tags() {
        for ok in [
            "firstName",
            "user.firstName",
            "_x",
            "items.0.sku",
            "first-name",
        ] {
            assert!(is_variable_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1x",
            "user.",
            ".x",
            "a b",
            "a#b",
            "{{x}}",
            &"a".repeat(101),
        ] {
            assert!(!is_variable_name(bad), "{bad}");
        }
        for ok in ["fr", "pt-BR", "zh-Hant-TW", "es-419"] {
            assert!(is_locale_tag(ok), "{ok}");
        }
        for bad in ["", "f", "french", "fr_FR", "fr-", "fr-toolongsubtag"] {
            assert!(!is_locale_tag(bad), "{bad}");
        }
    }
}
