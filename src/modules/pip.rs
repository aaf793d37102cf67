//! The `pip` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Pip;

#[async_trait]
impl Module for Pip {
    fn name(&self) -> &'static str {
        "pip"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("pip: not implemented yet"))
    }
}
