//! The `service` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Service;

#[async_trait]
impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("service: not implemented yet"))
    }
}
