//! The `setup` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Setup;

#[async_trait]
impl Module for Setup {
    fn name(&self) -> &'static str {
        "setup"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("setup: not implemented yet"))
    }
}
