//! The `user` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct User;

#[async_trait]
impl Module for User {
    fn name(&self) -> &'static str {
        "user"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("user: not implemented yet"))
    }
}
