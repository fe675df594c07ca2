//! `{{#each}}` with a work budget.
//!
//! The output cap (`Capped`) bounds what a render writes, not what it does: nested loops
//! that write nothing (`{{#each @root.a}}{{#each @root.a}}{{#each @root.a}}{{/each}}…`)
//! over a variable of a few thousand items would run for hours inside a 256 KiB body, and
//! any organizer can save such a template. So this `each` charges every loop before it
//! starts: its item count times the cost of its body (`budget.rs`), against a budget
//! shared by the message's parts. Handlebars' own `each` cannot be wrapped (the
//! crate does not export it), so this is it again on the crate's public block API;
//! `renders_as_handlebars_own_each` holds the two to the same output.

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, JsonValue,
    Output, PathAndJson, RenderContext, RenderError, RenderErrorReason, Renderable, to_json,
};

use super::budget::WorkBudget;

/// The `each` helper, charging `items x body size` to `budget` before it loops.
pub struct BudgetedEach(pub WorkBudget);

impl HelperDef for BudgetedEach {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("each", 0))?;
        let Some(body) = h.template() else {
            return Ok(());
        };
        // (path segment, @key, item): @key only for objects, as in Handlebars.
        let items: Vec<(String, Option<&String>, &JsonValue)> = match value.value() {
            JsonValue::Array(list) if !list.is_empty() || h.inverse().is_none() => list
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), None, v))
                .collect(),
            JsonValue::Object(map) if !map.is_empty() || h.inverse().is_none() => {
                map.iter().map(|(k, v)| (k.clone(), Some(k), v)).collect()
            }
            _ => {
                return match h.inverse() {
                    Some(otherwise) => otherwise.render(r, ctx, rc, out),
                    None if r.strict_mode() => {
                        Err(RenderError::strict_error(value.relative_path()))
                    }
                    None => Ok(()),
                };
            }
        };
        // Each pass: the body's steps, and a copy of its item per partial block that
        // copies the value in scope.
        let cost = self.0.body_cost(body);
        self.0.charge(items.len().saturating_mul(cost.steps))?;
        if cost.scope_copies > 0 {
            let each: Vec<&JsonValue> = items.iter().map(|(_, _, v)| *v).collect();
            for _ in 0..cost.scope_copies {
                self.0.charge_values(&each)?;
            }
        }
        if value.context_path().is_none() {
            // A subexpression's result is copied into the block, and each item again
            // when it is a block param.
            self.0.charge_values(&[value.value(), value.value()])?;
        }

        rc.push_block(block_over(value));
        let base_path = value.context_path();
        let last = items.len().saturating_sub(1);
        for (i, (segment, key, item)) in items.into_iter().enumerate() {
            if let Some(block) = rc.block_mut() {
                block.set_local_var("first", to_json(i == 0));
                block.set_local_var("last", to_json(i == last));
                block.set_local_var("index", to_json(i));
                if let Some(k) = key {
                    block.set_local_var("key", to_json(k));
                }
                match base_path {
                    Some(_) if i > 0 => {
                        if let Some(tail) = block.base_path_mut().last_mut() {
                            *tail = segment;
                        }
                    }
                    Some(p) => *block.base_path_mut() = [p.as_slice(), &[segment]].concat(),
                    None => block.set_base_value(item.clone()),
                }
                let key_json = match key {
                    Some(k) => to_json(k),
                    None => to_json(i),
                };
                set_block_params(block, h, base_path.is_some(), &key_json, item)?;
            }
            body.render(r, ctx, rc, out)?;
        }
        rc.pop_block();
        Ok(())
    }
}

/// The block a loop runs in: the collection's path when it has one (so `../` and
/// `@root` resolve as usual), else its value.
fn block_over<'rc>(value: &PathAndJson<'rc>) -> BlockContext<'rc> {
    let mut block = BlockContext::new();
    match value.context_path() {
        Some(path) => block.base_path_mut().clone_from(path),
        None => block.set_base_value(value.value().clone()),
    }
    block
}

/// `as |item|` and `as |item key|`.
fn set_block_params<'rc>(
    block: &mut BlockContext<'rc>,
    h: &Helper<'rc>,
    by_path: bool,
    key: &JsonValue,
    item: &JsonValue,
) -> Result<(), RenderError> {
    let (name, key_name) = match (h.block_param(), h.block_param_pair()) {
        (Some(name), _) => (name, None),
        (None, Some((name, key_name))) => (name, Some(key_name)),
        (None, None) => return Ok(()),
    };
    let mut params = BlockParams::new();
    if by_path {
        params.add_path(name, Vec::new())?;
    } else {
        params.add_value(name, item.clone())?;
    }
    if let Some(key_name) = key_name {
        params.add_value(key_name, key.clone())?;
    }
    block.set_block_params(params);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::budget::{MAX_RENDER_STEPS, assert_renders_as_handlebars};
    use super::*;

    fn with(budget: &WorkBudget) -> Handlebars<'static> {
        let mut r = Handlebars::new();
        r.set_strict_mode(true);
        r.register_helper("each", Box::new(BudgetedEach(budget.clone())));
        r
    }

    #[test]
    fn renders_as_handlebars_own_each() {
        let data = json!({
            "title": "T",
            "rows": [{"n": 1, "tags": ["a", "b"]}, {"n": 2, "tags": []}],
            "map": {"x": 1, "y": {"z": 2}},
            "empty": [],
            "none": {},
            "scalar": 3,
        });
        let sources = [
            "{{#each rows}}{{@index}}{{@first}}{{@last}}{{n}}{{../title}}{{@root.title}};{{/each}}",
            "{{#each rows}}{{#each tags}}{{this}}{{@index}}{{../n}}{{/each}}{{else}}none{{/each}}",
            "{{#each map}}{{@key}}={{@index}}{{@first}}{{@last}}:{{this}};{{/each}}",
            "{{#each map.y}}{{@key}}{{this}}{{/each}}",
            "{{#each rows as |row|}}{{row.n}}{{#each row.tags as |t i|}}{{t}}{{i}}{{/each}}{{/each}}",
            "{{#each map as |v k|}}{{k}}{{/each}}",
            "{{#each empty}}x{{else}}empty{{/each}}|{{#each none}}x{{else}}no keys{{/each}}",
            "{{#each empty}}x{{/each}}|{{#each scalar}}x{{else}}not a list{{/each}}",
            "{{#each (lookup rows 0)}}{{@key}}{{/each}}",
            "{{#each rows}}{{#if @last}}last{{else}}{{n}},{{/if}}{{/each}}",
            "{{#each rows}}{{#with this}}{{n}}{{/with}}{{lookup ../rows @index}}{{/each}}",
            "{{#each scalar}}x{{/each}}",
            "{{#each missing}}x{{/each}}",
        ];
        let budget = WorkBudget::new(MAX_RENDER_STEPS, &data);
        assert_renders_as_handlebars(&with(&budget), &data, &sources);
        assert!(!budget.exhausted());
    }

    #[test]
    fn a_loop_is_charged_its_items_times_its_body_before_it_runs() {
        // Three elements in the body ("<", the expression, ">"), two items: 6 steps.
        let data = json!({"a": [1, 2]});
        let budget = WorkBudget::new(6, &data);
        let r = with(&budget);
        assert_eq!(
            r.render_template("{{#each a}}<{{this}}>{{/each}}", &data)
                .unwrap(),
            "<1><2>"
        );
        assert!(!budget.exhausted());
        // Nothing left: the next loop is refused before it writes anything.
        assert!(
            r.render_template("{{#each a}}{{this}}{{/each}}", &data)
                .is_err()
        );
        assert!(budget.exhausted());
    }

    #[test]
    fn nested_loops_that_write_nothing_stop_at_the_budget() {
        let data = json!({"a": vec![0; 1000]});
        let budget = WorkBudget::new(MAX_RENDER_STEPS, &data);
        let r = with(&budget);
        let source =
            "{{#each @root.a}}{{#each @root.a}}{{#each @root.a}}{{/each}}{{/each}}{{/each}}";
        // 10^9 passes unbudgeted; refused after at most MAX_RENDER_STEPS.
        assert!(r.render_template(source, &data).is_err());
        assert!(budget.exhausted());
    }
}
