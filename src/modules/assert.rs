//! The `assert` module: evaluates each condition of `that` on the controller (as `when:`
//! does) and fails with `fail_msg`/`msg` on the first false one, returning `assertion`
//! and `evaluated_to` as Ansible does.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;
use serde_json::Value;

/// The conditions of `that`: a list, or one string.
fn conditions(args: &Args) -> Result<Vec<String>, ModuleError> {
    match args.get("that") {
        None => Err(ModuleError::failed(
            "conditional required in \"that\" string",
        )),
        Some(Value::Array(a)) => Ok(a
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => super::args::value_to_string(other),
            })
            .collect()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(other) => Ok(vec![super::args::value_to_string(other)]),
    }
}

pub struct Assert;

#[async_trait]
impl Module for Assert {
    fn name(&self) -> &'static str {
        "assert"
    }
    fn on_controller(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["that", "fail_msg", "msg", "success_msg", "quiet"])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let quiet = args.bool_or("quiet", false)?;
        for cond in conditions(args)? {
            let ok = match ctx.templar.eval_condition(&cond, ctx.vars) {
                Ok(b) => b,
                Err(e) => {
                    return Ok(Outcome::failed(format!(
                        "The conditional check '{cond}' failed. The error was: {}",
                        e.message
                    ))
                    .with("assertion", cond.clone()));
                }
            };
            if !ok {
                let msg = args
                    .get("fail_msg")
                    .or_else(|| args.get("msg"))
                    .cloned()
                    .unwrap_or_else(|| Value::String("Assertion failed".into()));
                let text = super::debug::display(&msg);
                return Ok(Outcome::failed(text)
                    .with("msg", msg)
                    .with("assertion", cond)
                    .with("evaluated_to", false));
            }
        }
        let msg = args
            .get("success_msg")
            .cloned()
            .unwrap_or_else(|| Value::String("All assertions passed".into()));
        let mut o = Outcome::ok().with("msg", msg.clone());
        if quiet {
            o.data
                .insert("_ansible_verbose_always".into(), Value::Bool(false));
        } else {
            if let Value::String(m) = &msg {
                o.msg = Some(m.clone());
            }
        }
        Ok(o)
    }
}
