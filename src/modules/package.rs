//! The `package` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Package;

#[async_trait]
impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("package: not implemented yet"))
    }
}
