//! The `git` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Git;

#[async_trait]
impl Module for Git {
    fn name(&self) -> &'static str {
        "git"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("git: not implemented yet"))
    }
}
