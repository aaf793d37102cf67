//! The `script` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Script;

#[async_trait]
impl Module for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("script: not implemented yet"))
    }
}
