//! The `template` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Template;

#[async_trait]
impl Module for Template {
    fn name(&self) -> &'static str {
        "template"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("template: not implemented yet"))
    }
}
