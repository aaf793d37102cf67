//! The `ping` module: proves that rdeploy can log in and run a shell script on the
//! host (Ansible's ping checks its Python; rdeploy needs only `sh`). Returns
//! `ping: <data>` (`pong` by default); `data: crash` fails, as in Ansible. One exchange,
//! the same in check mode.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;

pub struct Ping;

#[async_trait]
impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["data"])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let data = args.str("data").unwrap_or_else(|| "pong".into());
        if data == "crash" {
            return Err(ModuleError::failed("boom"));
        }
        let out = ctx.run("echo RD_PONG\n").await?;
        if out.rc != 0 || out.stdout_str().trim() != "RD_PONG" {
            return Err(ModuleError::failed(format!(
                "the host's shell did not answer (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        Ok(Outcome::ok().with("ping", data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::run_local_with;
    use serde_json::json;

    #[tokio::test]
    async fn pong() {
        let dir = std::env::temp_dir();
        let o = run_local_with(&Ping, json!({}), json!({}), true, &dir)
            .await
            .unwrap();
        assert!(!o.changed && !o.failed);
        assert_eq!(o.data["ping"], json!("pong"));
        let o = run_local_with(&Ping, json!({"data": "x"}), json!({}), false, &dir)
            .await
            .unwrap();
        assert_eq!(o.data["ping"], json!("x"));
        let e = run_local_with(&Ping, json!({"data": "crash"}), json!({}), false, &dir).await;
        assert!(matches!(e, Err(ModuleError::Failed(m)) if m == "boom"));
    }
}
