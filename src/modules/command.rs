//! The `command` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Command;

#[async_trait]
impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("command: not implemented yet"))
    }
}

pub struct Shell;

#[async_trait]
impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("shell: not implemented yet"))
    }
}

pub struct Raw;

#[async_trait]
impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("raw: not implemented yet"))
    }
}
