//! The `script` module: runs a script kept next to the playbook (found like `copy`'s
//! `src`, in the role's or playbook's `files/`) on the host.
//!
//! One exchange: the script's bytes travel on stdin into a private temporary file
//! (removed on exit), the `chdir`/`creates`/`removes` prelude of [`super::command`]
//! runs, then the file runs under its `#!` interpreter (parsed on the controller, so a
//! `noexec` /tmp does not matter), `executable` when given, or `/bin/sh`.

use super::command::{gate_outcome, parse_gate, prelude, ran_outcome, CmdSpec};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::{self, Script as Sh};
use async_trait::async_trait;
use serde_json::Value;
use std::time::SystemTime;

/// The interpreter named by a `#!` line: program and optional single argument.
fn shebang(content: &[u8]) -> Option<Vec<String>> {
    let rest = content.strip_prefix(b"#!")?;
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = String::from_utf8_lossy(&rest[..end]).trim().to_string();
    if line.is_empty() {
        return None;
    }
    let mut parts = line.splitn(2, [' ', '\t']);
    let prog = parts.next()?.to_string();
    let mut v = vec![prog];
    if let Some(arg) = parts.next().map(str::trim).filter(|a| !a.is_empty()) {
        v.push(arg.to_string());
    }
    Some(v)
}

pub struct Script;

#[async_trait]
impl Module for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn free_form(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "_raw_params",
            "cmd",
            "chdir",
            "creates",
            "removes",
            "executable",
            "decrypt",
            "free_form",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let spec = CmdSpec::from_args(args, true)?;
        let line = spec
            .raw
            .clone()
            .ok_or_else(|| ModuleError::failed("script: no script given"))?;
        let words = shell::split(&line)
            .map_err(|e| ModuleError::failed(format!("cannot parse script line: {e}")))?;
        let (name, script_args) = words
            .split_first()
            .ok_or_else(|| ModuleError::failed("script: no script given"))?;
        let path = ctx
            .search
            .find(name, "files")
            .ok_or_else(|| ModuleError::failed(format!("Could not find or access '{name}'")))?;
        let content = std::fs::read(&path)
            .map_err(|e| ModuleError::failed(format!("Could not read {}: {e}", path.display())))?;

        if ctx.check_mode && spec.creates.is_none() && spec.removes.is_none() {
            let mut o = Outcome {
                skipped: true,
                ..Default::default()
            };
            o.msg = Some("Check mode not supported for this module".into());
            return Ok(o);
        }

        let interpreter: Vec<String> = match &spec.executable {
            Some(exe) => vec![exe.clone()],
            None => shebang(&content).unwrap_or_else(|| vec!["/bin/sh".to_string()]),
        };
        let mut s = Sh::new();
        if !ctx.check_mode {
            s.raw("rd_tmp=$(mktemp \"${TMPDIR:-/tmp}/.rdeploy-script.XXXXXXXX\") || exit 3\n");
            // A lost connection kills the shell with SIGPIPE at its next write: end
            // through `exit` so that the EXIT trap still removes the script.
            s.raw("trap 'rm -f \"$rd_tmp\"' EXIT\ntrap 'exit 3' HUP INT TERM PIPE\n");
            // Never run a script cut short by a lost connection.
            s.raw(&super::util::receive_stdin("\"$rd_tmp\"", content.len()));
            s.raw("chmod 700 \"$rd_tmp\"\n");
        }
        prelude(&mut s, &spec, ctx.check_mode);
        s.args(&interpreter).raw(" \"$rd_tmp\"");
        if !script_args.is_empty() {
            s.raw(" ").args(script_args);
        }
        s.raw(" </dev/null\n");
        let cmd = Value::String(line.clone());
        let start = SystemTime::now();
        let out = ctx
            .run_stdin(
                s.as_str(),
                if ctx.check_mode { None } else { Some(content) },
            )
            .await?;
        let end = SystemTime::now();
        let (gate, stdout) = parse_gate(&out.stdout);
        if let Some(g) = gate {
            if let Some(o) = gate_outcome(g, &spec, ctx.check_mode, cmd.clone()) {
                return Ok(o);
            }
        }
        let mut o = ran_outcome(cmd, out.rc, stdout, &out.stderr, false, start, end);
        for k in ["cmd", "start", "end", "delta"] {
            o.data.shift_remove(k);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines() {
        assert_eq!(
            shebang(b"#!/bin/bash -e\necho"),
            Some(vec!["/bin/bash".into(), "-e".into()])
        );
        assert_eq!(
            shebang(b"#! /usr/bin/env python3\n"),
            Some(vec!["/usr/bin/env".into(), "python3".into()])
        );
        assert_eq!(shebang(b"echo hi\n"), None);
    }
}
