//! The `wait_for` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct WaitFor;

#[async_trait]
impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("wait_for: not implemented yet"))
    }
}
