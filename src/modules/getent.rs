//! The `getent` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Getent;

#[async_trait]
impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("getent: not implemented yet"))
    }
}
