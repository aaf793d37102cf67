//! The `package` module: the generic package module. It picks the host's package
//! manager from the `ansible_pkg_mgr` fact when facts were gathered (or from `use:`),
//! else asks the host which of apt-get/dnf/yum/apk/zypper/pacman exists (one short
//! exchange), and hands the task to that manager's module. Only apt is implemented;
//! other managers fail with a clear message.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult};
use async_trait::async_trait;

pub struct Package;

fn fact_pkg_mgr(vars: &minijinja::Value) -> Option<String> {
    let direct = vars
        .get_attr("ansible_pkg_mgr")
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none());
    let nested = || {
        vars.get_attr("ansible_facts")
            .ok()
            .and_then(|f| f.get_attr("pkg_mgr").ok())
            .filter(|v| !v.is_undefined() && !v.is_none())
    };
    direct
        .or_else(nested)
        .and_then(|v| v.as_str().map(String::from))
}

#[async_trait]
impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let use_ = args.str("use").filter(|u| u != "auto");
        let mgr = match use_
            .or_else(|| fact_pkg_mgr(ctx.vars))
            .filter(|m| m != "unknown")
        {
            Some(m) => m,
            None => {
                let out = ctx
                    .run("for c in apt-get dnf yum zypper apk pacman; do if command -v $c >/dev/null 2>&1; then echo $c; exit 0; fi; done; echo unknown")
                    .await?;
                match out.stdout_str().trim() {
                    "apt-get" => "apt".to_string(),
                    other => other.to_string(),
                }
            }
        };
        let mut inner = args.clone();
        inner.map.remove("use");
        match mgr.as_str() {
            "apt" => {
                // Only the arguments the generic module defines, plus apt's own if given.
                super::apt::Apt.run(ctx, &inner).await
            }
            "unknown" => Err(ModuleError::failed(
                "package: could not find a package manager on the host (looked for apt-get, dnf, yum, zypper, apk, pacman)",
            )),
            other => Err(ModuleError::failed(format!(
                "package: the host uses {other}, which rdeploy does not support yet (only apt is implemented)"
            ))),
        }
    }
}
