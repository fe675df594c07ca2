//! Templates: Handlebars sources, declared variables, locale variants, versions.
//! TODO(helper T): parse/validate (INVALID_TEMPLATE with position), render (HTML escaped
//! in HTML bodies only), required-variable check.

use serde_json::Value;

use super::delivery::Rendered;
use crate::error::NotifyResult;

/// One immutable version of a template, as the send path uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    pub id: String,
    pub name: String,
    pub channel: super::Channel,
    pub version: i64,
}

/// Renders `t` (its `locale` variant when it has one) with `vars`.
pub fn render(
    _t: &TemplateVersion,
    _locale: Option<&str>,
    _vars: &Value,
) -> NotifyResult<Rendered> {
    Err(crate::error::NotifyError::Internal(
        "templates are not built yet".into(),
    ))
}

/// Renders inline `content{subject,html,text}` of a send with `vars` (same rules).
pub fn render_inline(_content: &Rendered, _vars: &Value) -> NotifyResult<Rendered> {
    Err(crate::error::NotifyError::Internal(
        "templates are not built yet".into(),
    ))
}
