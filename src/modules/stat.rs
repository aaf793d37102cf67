//! The `stat` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Stat;

#[async_trait]
impl Module for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("stat: not implemented yet"))
    }
}
