//! The `debug` module: shows a message (`msg`) or a variable (`var`) on the controller.
//! `verbosity: N` skips it unless the run is at least that verbose (`ansible_verbosity`).

use super::{Args, Module, ModuleCtx, ModuleResult, Outcome};
use crate::template;
use async_trait::async_trait;
use serde_json::Value;

/// The run's verbosity, as the executor exposes it (`ansible_verbosity`, default 0).
pub(super) fn run_verbosity(ctx: &ModuleCtx<'_>) -> i64 {
    ctx.vars
        .get_attr("ansible_verbosity")
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0)
}

/// Renders a value as Ansible prints `msg`: strings as they are, the rest as JSON.
pub(super) fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

pub struct Debug;

#[async_trait]
impl Module for Debug {
    fn name(&self) -> &'static str {
        "debug"
    }
    fn on_controller(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["msg", "var", "verbosity"])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        if args.has("msg") && args.has("var") {
            return Ok(Outcome::failed(
                "parameters are mutually exclusive: msg|var",
            ));
        }
        let verbosity = args.int("verbosity")?.unwrap_or(0);
        if verbosity > run_verbosity(ctx) {
            let mut o = Outcome {
                skipped: true,
                ..Default::default()
            };
            o.msg = Some("Verbosity threshold not met.".into());
            o.data.insert(
                "skipped_reason".into(),
                Value::String("Verbosity threshold not met.".into()),
            );
            return Ok(o);
        }
        if let Some(var) = args.get("var") {
            let (key, value) = match var {
                Value::String(name) => {
                    let value = match ctx.templar.eval_expr(name, ctx.vars) {
                        Ok(v) if !v.is_undefined() => {
                            // A string holding a template is rendered once more, as Ansible does.
                            match v.as_str() {
                                Some(s) if template::Templar::is_template(s) => ctx
                                    .templar
                                    .render_str(s, ctx.vars)
                                    .map(|r| template::to_json(&r))
                                    .unwrap_or_else(|_| Value::String(s.to_string())),
                                _ => template::to_json(&v),
                            }
                        }
                        _ => Value::String("VARIABLE IS NOT DEFINED!".into()),
                    };
                    (name.clone(), value)
                }
                other => (super::args::value_to_string(other), other.clone()),
            };
            // No `msg`: the result is `{ "<var>": value }`, as in Ansible.
            return Ok(Outcome::ok().with(&key, value));
        }
        let msg = args
            .get("msg")
            .cloned()
            .unwrap_or_else(|| Value::String("Hello world!".into()));
        let mut o = Outcome::ok().with("msg", msg.clone());
        // The executor copies `Outcome::msg` over `data["msg"]`: only set it for strings,
        // so a list or mapping stays native in the registered result.
        if let Value::String(m) = &msg {
            o.msg = Some(m.clone());
        }
        Ok(o)
    }
}
