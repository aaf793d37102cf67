//! The `debug` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Debug;

#[async_trait]
impl Module for Debug {
    fn name(&self) -> &'static str {
        "debug"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("debug: not implemented yet"))
    }
}
