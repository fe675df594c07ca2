//! The work one message's render may do, in steps shared by its parts.
//!
//! A template's size bounds how many elements it has, not what they cost: a loop repeats
//! its body (`each.rs` charges items x body before it runs), and some elements cost the
//! size of the values they touch — comparing two variables, copying one into a block
//! (`charged.rs`), or a partial block, which copies its context. With 256 KiB of
//! variables, one such element can cost a millisecond, so both are charged here: a step
//! is one template element evaluated, or about 256 bytes of a value compared or copied.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use handlebars::{JsonValue, RenderError, RenderErrorReason, Template, template::TemplateElement};

/// Steps a message may take in all: far above a receipt or a digest (200 rows of a
/// 50-element body is 10,000), far below a CPU-second in release.
pub const MAX_RENDER_STEPS: usize = 100_000;

/// Bytes of a string that cost one step to compare or copy (a node costs one too).
const BYTES_PER_STEP: usize = 256;

/// What is left of one message's budget; clones share it.
#[derive(Clone)]
pub struct WorkBudget {
    left: Arc<AtomicUsize>,
    spent: Arc<AtomicBool>,
    /// What copying the render's whole context costs: a partial block's price.
    context_weight: usize,
}

impl WorkBudget {
    /// A budget of `steps` for a render over `context`.
    pub fn new(steps: usize, context: &JsonValue) -> Self {
        Self {
            left: Arc::new(AtomicUsize::new(steps)),
            spent: Arc::new(AtomicBool::new(false)),
            context_weight: weight(context, steps.saturating_add(1)),
        }
    }

    /// Whether a render failed because it would have gone over the budget.
    pub fn exhausted(&self) -> bool {
        self.spent.load(Ordering::Relaxed)
    }

    pub fn charge(&self, steps: usize) -> Result<(), RenderError> {
        let charged = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(steps)
            });
        if charged.is_err() {
            self.spent.store(true, Ordering::Relaxed);
            return Err(RenderErrorReason::Other("the template does too much work".into()).into());
        }
        Ok(())
    }

    /// Charges what comparing or copying `values` costs. The walk stops once it has
    /// counted more than is left, so it never costs more than the budget it charges.
    pub fn charge_values(&self, values: &[&JsonValue]) -> Result<(), RenderError> {
        let cap = self.left.load(Ordering::Relaxed).saturating_add(1);
        let steps = values
            .iter()
            .fold(1usize, |n, v| n.saturating_add(weight(v, cap)));
        self.charge(steps)
    }

    /// What one pass over `body` costs before anything in it runs (see [`BodyCost`]).
    pub fn body_cost(&self, body: &Template) -> BodyCost {
        let mut cost = BodyCost::default();
        let mut stack = vec![body];
        while let Some(t) = stack.pop() {
            cost.steps = cost.steps.saturating_add(t.elements.len());
            for el in &t.elements {
                match el {
                    TemplateElement::HelperBlock(h) => {
                        stack.extend(h.template.iter().chain(h.inverse.iter()));
                    }
                    TemplateElement::PartialBlock(d) => {
                        // Handlebars copies each hash value twice and each parameter's
                        // value once (any variable: up to the whole context), and without
                        // a parameter the value in scope.
                        let copies = 2 * d.hash.len() + d.params.len();
                        cost.steps = cost
                            .steps
                            .saturating_add(copies.saturating_mul(self.context_weight));
                        if d.params.is_empty() {
                            cost.scope_copies += 1;
                        }
                        stack.extend(d.template.iter());
                    }
                    _ => {}
                }
            }
        }
        cost.steps = cost.steps.max(1);
        cost
    }

    /// What rendering `t` once at the top costs: its body, where the value in scope is
    /// the whole context.
    pub fn template_cost(&self, t: &Template) -> usize {
        let cost = self.body_cost(t);
        cost.steps
            .saturating_add(cost.scope_copies.saturating_mul(self.context_weight))
    }
}

/// One pass over a body: `steps` (its elements, and the copies its partial blocks make
/// of variables they name), plus `scope_copies` copies of the value in scope (partial
/// blocks without a parameter): the context at the top, each item in a loop.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BodyCost {
    pub steps: usize,
    pub scope_copies: usize,
}

/// The bound on [`compile_cost_exceeded`] for one source: 65-250 ms of compiling on
/// this project's 2-core machines in release, and room for a 100 KB email with ~900 tags
/// or 256 KiB with ~380 (evenly spread; tags near the start cost less).
pub const MAX_COMPILE_COST: usize = 50_000_000;

/// Where a source's compile cost first exceeds `max`, as the 1-based line and column of
/// the tag that crosses it; `None` when the whole source is within it.
///
/// Handlebars records each element's line and column by counting the characters before
/// it from the start of the source (pest's `Position::line_col`), once per parsed pair,
/// so compiling is quadratic: 256 KiB of `{{a}}` took ~12 s in release, and a template is
/// compiled again at every send. So a tag costs the characters before it, times one plus
/// its length / 32 (a tag's parameters are pairs too). Measured 2026-12-04: 1.3-5 ns
/// per unit over tags, blocks, comments, raw blocks and long parameter lists.
pub fn compile_cost_exceeded(source: &str, max: usize) -> Option<(usize, usize)> {
    let bytes = source.as_bytes();
    let (mut chars, mut line, mut column, mut cost) = (0usize, 1usize, 1usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"{{") {
            // The tag's length, looked for within 4 KiB so that unclosed tags stay linear.
            let window = &bytes[i..bytes.len().min(i + 4096)];
            let len = window
                .windows(2)
                .position(|w| w == b"}}")
                .map_or(window.len(), |p| p + 2);
            cost = cost.saturating_add(chars.saturating_mul(1 + len / 32));
            if cost > max {
                return Some((line, column));
            }
        }
        let b = bytes[i];
        if b == b'\n' {
            (line, column) = (line + 1, 1);
        } else if b & 0xC0 != 0x80 {
            column += 1;
        }
        if b & 0xC0 != 0x80 {
            chars += 1;
        }
        i += 1;
    }
    None
}

/// The steps comparing or copying `v` costs (nodes, plus string bytes / 256), counted
/// up to `cap` at most.
pub fn weight(v: &JsonValue, cap: usize) -> usize {
    let bytes = |s: &str| s.len() / BYTES_PER_STEP;
    let mut n = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n = n.saturating_add(1);
        match v {
            JsonValue::String(s) => n = n.saturating_add(bytes(s)),
            JsonValue::Array(items) => stack.extend(items),
            JsonValue::Object(map) => {
                for (k, v) in map {
                    n = n.saturating_add(bytes(k));
                    stack.push(v);
                }
            }
            _ => {}
        }
        if n >= cap {
            return cap;
        }
    }
    n
}

/// Asserts that `ours` renders each source as Handlebars' own registry does (strict),
/// errors included: the helpers rebuilt here are held to the crate's.
#[cfg(test)]
pub fn assert_renders_as_handlebars(
    ours: &handlebars::Handlebars<'_>,
    data: &JsonValue,
    sources: &[&str],
) {
    let mut theirs = handlebars::Handlebars::new();
    theirs.set_strict_mode(true);
    for source in sources {
        let render = |r: &handlebars::Handlebars<'_>| {
            r.render_template(source, data).map_err(|e| e.to_string())
        };
        assert_eq!(render(&theirs), render(ours), "{source}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_value_weighs_its_nodes_and_its_long_strings() {
        assert_eq!(weight(&json!(1), 100), 1);
        assert_eq!(weight(&json!([1, 2, {"a": null}]), 100), 5);
        assert_eq!(weight(&json!("x".repeat(1024)), 100), 5);
        assert_eq!(weight(&json!({"k".repeat(512): 1}), 100), 4);
        // The walk stops at the cap.
        assert_eq!(weight(&json!(vec![0; 10_000]), 100), 100);
    }

    #[test]
    fn charges_come_out_of_one_budget_until_it_is_spent() {
        let budget = WorkBudget::new(10, &json!({}));
        budget.charge(4).unwrap();
        budget.charge_values(&[&json!([1, 2])]).unwrap(); // 1 + 3
        assert!(!budget.exhausted());
        assert!(budget.charge_values(&[&json!([1, 2])]).is_err());
        assert!(budget.exhausted());
    }

    #[test]
    fn a_tag_costs_the_characters_before_it() {
        // 0 + 5 + 10 (one unit per character before each tag).
        assert_eq!(compile_cost_exceeded("{{a}}{{b}}{{c}}", 15), None);
        assert_eq!(compile_cost_exceeded("{{a}}{{b}}{{c}}", 14), Some((1, 11)));
        // Characters, not bytes; lines and columns where the bound is crossed.
        assert_eq!(compile_cost_exceeded("é\n{{a}}", 1), Some((2, 1)));
        assert_eq!(compile_cost_exceeded("é\n{{a}}", 2), None);
        // A long tag costs more: 65 characters is 1 + 2.
        let long = format!("xx{{{{lookup {}}}}}", "a ".repeat(27));
        assert_eq!(compile_cost_exceeded(&long, 6), None);
        assert_eq!(compile_cost_exceeded(&long, 5), Some((1, 3)));
        // Unclosed tags are measured within a window, not to the end each time.
        let unclosed = "{{".repeat(100_000);
        assert!(compile_cost_exceeded(&unclosed, MAX_COMPILE_COST).is_some());
    }

    #[test]
    fn a_partial_block_costs_a_copy_of_the_context() {
        let context = json!({"rows": vec![0; 99]}); // 101 nodes
        let budget = WorkBudget::new(1000, &context);
        let plain = Template::compile("a{{b}}c").unwrap();
        assert_eq!(budget.template_cost(&plain), 3);
        let partial = Template::compile("a{{#> footer}}x{{/footer}}").unwrap();
        assert_eq!(budget.template_cost(&partial), 2 + 1 + 101);
        assert_eq!(
            budget.body_cost(&partial),
            BodyCost {
                steps: 3,
                scope_copies: 1
            }
        );
        // Hash values are copied twice, a parameter once, whatever is in scope.
        let hashed = Template::compile("{{#> footer a=rows b=rows}}x{{/footer}}").unwrap();
        assert_eq!(budget.template_cost(&hashed), 2 + 4 * 101 + 101);
        let param = Template::compile("{{#> footer rows}}x{{/footer}}").unwrap();
        assert_eq!(budget.template_cost(&param), 2 + 101);
    }
}
