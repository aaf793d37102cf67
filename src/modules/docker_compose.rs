//! The `docker_compose` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct DockerCompose;

#[async_trait]
impl Module for DockerCompose {
    fn name(&self) -> &'static str {
        "docker_compose"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("docker_compose: not implemented yet"))
    }
}
