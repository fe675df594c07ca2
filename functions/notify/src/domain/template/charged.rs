//! Handlebars' built-in helpers whose cost grows with their arguments, charged by it.
//!
//! `{{#if (eq @root @root)}}` compares every variable; `(lookup @root "rows")` and
//! `{{#with (lookup …) as |x|}}` copy what they return. Each costs up to the size of the
//! variables (256 KiB), and a template can hold thousands of them, so each call is
//! charged what it compares or copies (`budget.rs`) before it runs. The crate does not
//! export its helpers, so these are them again on its public API, held to the same
//! output by `renders_as_handlebars_own_helpers`. Number comparisons differ only past
//! 2^53 between an integer and a float (Handlebars compares those exactly).

use std::cmp::Ordering;

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy,
    JsonValue, Output, RenderContext, RenderError, RenderErrorReason, Renderable, ScopedJson,
};
use serde_json::Number;

use super::budget::WorkBudget;

/// Registers the charged helpers over Handlebars' own.
pub fn register(registry: &mut Handlebars<'_>, budget: &WorkBudget) {
    for (name, op) in COMPARISONS {
        registry.register_helper(
            name,
            Box::new(Compare {
                name,
                op,
                budget: budget.clone(),
            }),
        );
    }
    registry.register_helper("lookup", Box::new(Lookup(budget.clone())));
    registry.register_helper("with", Box::new(With(budget.clone())));
}

type Op = fn(&JsonValue, &JsonValue) -> bool;

const COMPARISONS: [(&str, Op); 6] = [
    ("eq", |x, y| x == y),
    ("ne", |x, y| x != y),
    ("gt", |x, y| compare(x, y) == Some(Ordering::Greater)),
    ("gte", |x, y| compare(x, y).is_some_and(Ordering::is_ge)),
    ("lt", |x, y| compare(x, y) == Some(Ordering::Less)),
    ("lte", |x, y| compare(x, y).is_some_and(Ordering::is_le)),
];

/// Handlebars' ordering: numbers, strings, booleans, and a number against a numeric
/// string; anything else is unordered.
fn compare(x: &JsonValue, y: &JsonValue) -> Option<Ordering> {
    let number = |s: &str| s.parse::<Number>().ok();
    match (x, y) {
        (JsonValue::Number(a), JsonValue::Number(b)) => compare_numbers(a, b),
        (JsonValue::String(a), JsonValue::String(b)) => Some(a.cmp(b)),
        (JsonValue::Bool(a), JsonValue::Bool(b)) => Some(a.cmp(b)),
        (JsonValue::Number(a), JsonValue::String(b)) => compare_numbers(a, &number(b)?),
        (JsonValue::String(a), JsonValue::Number(b)) => compare_numbers(&number(a)?, b),
        _ => None,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// `eq`, `ne`, `gt`, `gte`, `lt`, `lte`: a boolean, or a block rendered when it is true.
struct Compare {
    name: &'static str,
    op: Op,
    budget: WorkBudget,
}

impl Compare {
    fn decide<'rc>(&self, h: &Helper<'rc>, r: &Handlebars<'_>) -> Result<bool, RenderError> {
        let param = |i: usize| {
            h.param(i)
                .filter(|p| !(r.strict_mode() && p.is_value_missing()))
                .map(|p| p.value())
                .ok_or(RenderErrorReason::ParamNotFoundForIndex(self.name, i))
        };
        let (x, y) = (param(0)?, param(1)?);
        self.budget.charge_values(&[x, y])?;
        Ok((self.op)(x, y))
    }
}

impl HelperDef for Compare {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Ok(ScopedJson::Derived(JsonValue::Bool(self.decide(h, r)?)))
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = self.decide(h, r)?;
        if !h.is_block() {
            return out
                .write(&value.to_string())
                .map_err(|e| RenderErrorReason::Other(e.to_string()).into());
        }
        match if value { h.template() } else { h.inverse() } {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

/// `lookup list index` / `lookup map key`: the value, copied.
struct Lookup(WorkBudget);

impl HelperDef for Lookup {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let collection = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("lookup", 0))?;
        let index = h
            .param(1)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("lookup", 1))?;
        let value = match collection.value() {
            JsonValue::Array(list) => index
                .value()
                .as_u64()
                .and_then(|i| list.get(usize::try_from(i).ok()?)),
            JsonValue::Object(map) => index.value().as_str().and_then(|k| map.get(k)),
            _ => None,
        };
        match value {
            None if r.strict_mode() => Err(RenderError::strict_error(None)),
            None => Ok(ScopedJson::Derived(JsonValue::Null)),
            Some(v) => {
                self.0.charge_values(&[v])?;
                Ok(ScopedJson::Derived(v.clone()))
            }
        }
    }
}

/// `{{#with value as |name|}}`: the block over the value, which is copied when it is
/// not a variable's path (a subexpression's result).
struct With(WorkBudget);

impl HelperDef for With {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("with", 0))?;
        if !param.value().is_truthy(false) {
            return match h.inverse() {
                Some(t) => t.render(r, ctx, rc, out),
                None if r.strict_mode() => Err(RenderError::strict_error(param.relative_path())),
                None => Ok(()),
            };
        }
        let mut block = BlockContext::new();
        let path = param.context_path();
        match path {
            Some(p) => block.base_path_mut().clone_from(p),
            None => {
                // Copied once as the block's value and once more as its block param.
                self.0.charge_values(&[param.value(), param.value()])?;
                block.set_base_value(param.value().clone());
            }
        }
        // @index, @key and the like stay readable inside, as in Handlebars.js.
        if let Some(parent) = rc.block() {
            block
                .local_variables_mut()
                .clone_from(parent.local_variables());
        }
        if let Some(name) = h.block_param() {
            let mut params = BlockParams::new();
            match path {
                Some(_) => params.add_path(name, Vec::new())?,
                None => params.add_value(name, param.value().clone())?,
            }
            block.set_block_params(params);
        }
        rc.push_block(block);
        if let Some(t) = h.template() {
            t.render(r, ctx, rc, out)?;
        }
        rc.pop_block();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::budget::{MAX_RENDER_STEPS, assert_renders_as_handlebars};
    use super::*;

    fn ours(budget: &WorkBudget) -> Handlebars<'static> {
        let mut r = Handlebars::new();
        r.set_strict_mode(true);
        register(&mut r, budget);
        r
    }

    #[test]
    fn renders_as_handlebars_own_helpers() {
        let data = json!({
            "n": 3, "m": 3.0, "big": 10, "s": "10", "t": "abc", "u": "abd", "yes": true,
            "no": false, "nil": null, "rows": [{"a": 1}, {"a": 2}], "map": {"k": {"v": 1}},
            "neg": -2, "huge": 18_446_744_073_709_551_615_u64,
        });
        let sources = [
            "{{eq n 3}}{{eq n m}}{{ne n 4}}{{eq rows rows}}{{eq map.k map.k}}{{ne t u}}",
            "{{gt big n}}{{gt s n}}{{gt n s}}{{gte n 3}}{{lt t u}}{{lte u t}}{{lt yes no}}",
            "{{gt neg huge}}{{lt neg huge}}{{gt huge 1.5}}{{gt m 2}}{{lt rows 1}}{{gt nil 0}}",
            "{{#eq n 3}}three{{else}}other{{/eq}}{{#gt n 5}}big{{else}}small{{/gt}}",
            "{{#if (eq (lookup rows 1) (lookup rows 1))}}same{{/if}}{{#if (lt n 4)}}lt{{/if}}",
            "{{lookup rows 1}}{{lookup map \"k\"}}{{#with (lookup rows 0)}}{{a}}{{/with}}",
            "{{#each rows}}{{lookup ../rows @index}}{{#with this}}{{a}}{{@index}}{{/with}};{{/each}}",
            "{{#with map.k as |k|}}{{k.v}}{{v}}{{/with}}{{#with (lookup map \"k\") as |k|}}{{k.v}}{{/with}}",
            "{{#with nil}}x{{else}}none{{/with}}{{#with map}}{{k.v}}{{/with}}",
            "{{#with nil}}x{{/with}}",
            "{{lookup rows 5}}",
            "{{lookup map \"nope\"}}",
            "{{eq missing 1}}",
            "{{#with missing}}x{{/with}}",
            "{{gt}}",
        ];
        let budget = WorkBudget::new(MAX_RENDER_STEPS, &data);
        assert_renders_as_handlebars(&ours(&budget), &data, &sources);
        assert!(!budget.exhausted());
    }

    #[test]
    fn a_comparison_is_charged_the_size_of_what_it_compares() {
        let data = json!({"rows": vec![0; 20], "a": 1});
        // Scalars: one step for the call and one per value.
        let budget = WorkBudget::new(3, &data);
        assert_eq!(
            ours(&budget).render_template("{{eq a 1}}", &data).unwrap(),
            "true"
        );
        // Two 21-node lists: 43 steps, more than a budget of 40 holds.
        let budget = WorkBudget::new(40, &data);
        assert!(
            ours(&budget)
                .render_template("{{#if (eq rows rows)}}x{{/if}}", &data)
                .is_err()
        );
        assert!(budget.exhausted());
    }

    #[test]
    fn comparing_large_variables_in_a_loop_stops_at_the_budget() {
        // 50,000 comparisons of a 95,000-item list: 0.38 ms each in release, 19 s in all
        // unbudgeted (measured 2026-12-04).
        let data = json!({"rows": vec![0; 50_000], "big": {"pad": vec![0; 95_000]}});
        let budget = WorkBudget::new(MAX_RENDER_STEPS, &data);
        let source = "{{#each rows}}{{#if (eq @root.big.pad @root.big.pad)}}x{{/if}}{{/each}}";
        let mut r = ours(&budget);
        r.register_helper(
            "each",
            Box::new(super::super::each::BudgetedEach(budget.clone())),
        );
        assert!(r.render_template(source, &data).is_err());
        assert!(budget.exhausted());
    }

    #[test]
    fn copies_are_charged_but_paths_are_not() {
        let data = json!({"rows": vec![0; 100]});
        // A path is not copied: a small budget suffices.
        let budget = WorkBudget::new(5, &data);
        assert_eq!(
            ours(&budget)
                .render_template("{{#with rows}}ok{{/with}}", &data)
                .unwrap(),
            "ok"
        );
        // A lookup's result is (101 nodes).
        let budget = WorkBudget::new(100, &data);
        assert!(
            ours(&budget)
                .render_template("{{#with (lookup this \"rows\")}}ok{{/with}}", &data)
                .is_err()
        );
        assert!(budget.exhausted());
    }
}
