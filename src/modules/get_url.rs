//! The `get_url` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct GetUrl;

#[async_trait]
impl Module for GetUrl {
    fn name(&self) -> &'static str {
        "get_url"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("get_url: not implemented yet"))
    }
}
