//! The `assert` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Assert;

#[async_trait]
impl Module for Assert {
    fn name(&self) -> &'static str {
        "assert"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("assert: not implemented yet"))
    }
}
