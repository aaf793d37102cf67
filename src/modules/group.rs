//! The `group` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Group;

#[async_trait]
impl Module for Group {
    fn name(&self) -> &'static str {
        "group"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("group: not implemented yet"))
    }
}
