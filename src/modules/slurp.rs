//! The `slurp` module: returns a remote file's content, base64-encoded (`content`,
//! `encoding: base64`, `source`). The file travels raw over the channel and is encoded
//! on the controller; one exchange.

use super::{Args, Module, ModuleCtx, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use base64::Engine as _;

pub struct Slurp;

#[async_trait]
impl Module for Slurp {
    fn name(&self) -> &'static str {
        "slurp"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["src", "path"])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let src = super::util::expand_user(ctx, &args.req_str_any(&["src", "path"])?).await?;
        let mut s = Script::new();
        s.raw("rd_p=").arg(&src).raw("\n");
        s.raw("if [ -d \"$rd_p\" ]; then echo \"source is a directory and must be a file\" >&2; exit 4; fi\n");
        s.raw("if [ ! -e \"$rd_p\" ]; then echo \"file not found: $rd_p\" >&2; exit 4; fi\n");
        s.raw("if [ ! -r \"$rd_p\" ]; then echo \"file is not readable: $rd_p\" >&2; exit 4; fi\n");
        s.raw("exec cat -- \"$rd_p\"\n");
        let out = ctx.run_own(s.as_str()).await?;
        if out.rc != 0 {
            let err = out.stderr_str();
            return Ok(Outcome::failed(if out.rc == 4 {
                err.trim().to_string()
            } else {
                format!("cannot read {src}: {}", err.trim())
            }));
        }
        let content = base64::engine::general_purpose::STANDARD.encode(&out.stdout);
        Ok(Outcome::ok()
            .with("content", content)
            .with("encoding", "base64")
            .with("source", src))
    }
}
