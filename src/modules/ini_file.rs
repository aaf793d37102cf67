//! The `ini_file` module (not implemented yet).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct IniFile;

#[async_trait]
impl Module for IniFile {
    fn name(&self) -> &'static str {
        "ini_file"
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        Err(ModuleError::failed("ini_file: not implemented yet"))
    }
}
