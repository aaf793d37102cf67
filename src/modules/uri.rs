//! The `uri` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Uri;

#[async_trait]
impl Module for Uri {
    fn name(&self) -> &'static str {
        "uri"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("uri: not implemented yet"))
    }
}
