//! The `apt` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Apt;

#[async_trait]
impl Module for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("apt: not implemented yet"))
    }
}
