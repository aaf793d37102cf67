//! The `docker_login` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct DockerLogin;

#[async_trait]
impl Module for DockerLogin {
    fn name(&self) -> &'static str {
        "docker_login"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("docker_login: not implemented yet"))
    }
}
