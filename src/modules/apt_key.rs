//! The `apt_key` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct AptKey;

#[async_trait]
impl Module for AptKey {
    fn name(&self) -> &'static str {
        "apt_key"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("apt_key: not implemented yet"))
    }
}
