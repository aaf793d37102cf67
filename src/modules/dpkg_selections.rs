//! The `dpkg_selections` module: a package's dpkg selection (`install`, `hold`,
//! `deinstall`, `purge`), as `apt-mark hold` and friends set it. One exchange reads it
//! (`dpkg --get-selections NAME`); a second sets it (`dpkg --set-selections`, the line on
//! stdin) only when it differs and not in check mode. Result keys as ansible-core:
//! `before`, `after`; the diff shows the selection line.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use crate::shell::Script;
use async_trait::async_trait;

pub struct DpkgSelections;

const PARAMS: &[&str] = &["name", "selection"];
const SELECTIONS: &[&str] = &["install", "hold", "deinstall", "purge"];
const SPEC: &[Param] = &[
    Param::new("name").required(),
    Param::new("selection").required().choices(SELECTIONS),
];

/// The selection in `dpkg --get-selections` output (`not present` when empty).
fn current(out: &str, name: &str) -> String {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?))
        })
        .find(|(n, _)| *n == name || n.split(':').next() == Some(name))
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| "not present".into())
}

#[async_trait]
impl Module for DpkgSelections {
    fn name(&self) -> &'static str {
        "dpkg_selections"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["before", "after"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("dpkg_selections", PARAMS)?;
        let name = args.req_str("name")?;
        let selection = args.req_str("selection")?;
        if !SELECTIONS.contains(&selection.as_str()) {
            return Err(ModuleError::failed(format!(
                "value of selection must be one of: {}, got: {selection}",
                SELECTIONS.join(", ")
            )));
        }
        let mut s = Script::new();
        s.raw("command -v dpkg >/dev/null 2>&1 || { echo 'dpkg is not installed on this host' >&2; exit 4; }\n");
        s.raw("LC_ALL=C dpkg --get-selections ")
            .arg(&name)
            .raw("\n");
        let out = ctx.run(s.as_str()).await?;
        let err = out.stderr_str();
        if err.contains("no packages found matching") {
            return Err(ModuleError::failed(format!(
                "Failed to find package '{name}' to perform selection '{selection}'."
            )));
        }
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "dpkg --get-selections {name} failed (rc={}): {}",
                out.rc,
                err.trim()
            )));
        }
        let before = current(&out.stdout_str(), &name);
        let changed = before != selection;
        let mut o = Outcome::changed(changed)
            .with("before", before.clone())
            .with("after", selection.clone());
        if ctx.diff_mode && changed {
            o = o.with_diff(
                &format!("dpkg selection of {name}"),
                format!("{name} {before}\n"),
                format!("{name} {selection}\n"),
            );
        }
        if !changed || ctx.check_mode {
            return Ok(o);
        }
        let set = ctx
            .run_stdin(
                "LC_ALL=C dpkg --set-selections\n",
                Some(format!("{name} {selection}\n").into_bytes()),
            )
            .await?;
        if set.rc != 0 {
            return Err(ModuleError::failed(format!(
                "dpkg --set-selections failed (rc={}): {}",
                set.rc,
                set.stderr_str().trim()
            )));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_selection() {
        assert_eq!(current("tree\t\t\t\t\thold\n", "tree"), "hold");
        assert_eq!(current("libc6:amd64\t\tinstall\n", "libc6"), "install");
        assert_eq!(current("", "tree"), "not present");
    }
}
