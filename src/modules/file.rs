//! The `file` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct File;

#[async_trait]
impl Module for File {
    fn name(&self) -> &'static str {
        "file"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("file: not implemented yet"))
    }
}
