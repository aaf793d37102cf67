//! The `fail` module: fails the task with a message, on the controller.

use super::{Args, Module, ModuleCtx, ModuleResult, Outcome};
use async_trait::async_trait;
use serde_json::Value;

pub struct Fail;

#[async_trait]
impl Module for Fail {
    fn name(&self) -> &'static str {
        "fail"
    }
    fn on_controller(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["msg"])
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let msg = args
            .get("msg")
            .cloned()
            .unwrap_or_else(|| Value::String("Failed as requested from task".into()));
        let text = super::debug::display(&msg);
        Ok(Outcome::failed(text).with("msg", msg))
    }
}
