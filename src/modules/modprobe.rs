//! The `modprobe` module (`community.general.modprobe`): a kernel module loaded or
//! unloaded, and with `persistent` its files under `/etc/modules-load.d/NAME.conf`
//! (load at boot) and `/etc/modprobe.d/NAME.conf` (`options NAME PARAMS`).
//!
//! One exchange reads whether the module is loaded (`/sys/module/NAME` or
//! `/proc/modules`, `-` and `_` being the same name) and the two files; `modprobe`
//! (or `modprobe -r`) runs only when the state differs, the files are written
//! atomically with [`util::put_file`] only when they differ. Check mode predicts, diff
//! mode shows the files. A host whose kernel has no module support (no
//! `/proc/modules`, as in some containers and VMs) fails a load with that said.

use super::util::{self, PutFile};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Modprobe;

const PARAMS: &[&str] = &["name", "state", "params", "persistent"];
const SPEC: &[Param] = &[
    Param::new("name").required(),
    Param::new("state")
        .default("present")
        .choices(&["present", "absent"]),
    Param::new("params").default(""),
    Param::new("persistent")
        .default("disabled")
        .choices(&["disabled", "present", "absent"]),
];

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[async_trait]
impl Module for Modprobe {
    fn name(&self) -> &'static str {
        "modprobe"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["name", "params", "state"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("modprobe", PARAMS)?;
        let name = args.req_str("name")?;
        if !valid_name(&name) {
            return Err(ModuleError::failed(format!(
                "modprobe: invalid module name {name:?}"
            )));
        }
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let persistent = args.str("persistent").unwrap_or_else(|| "disabled".into());
        for (k, v, ok) in [
            ("state", &state, &["present", "absent"][..]),
            (
                "persistent",
                &persistent,
                &["disabled", "present", "absent"][..],
            ),
        ] {
            if !ok.contains(&v.as_str()) {
                return Err(ModuleError::failed(format!(
                    "value of {k} must be one of: {}, got: {v}",
                    ok.join(", ")
                )));
            }
        }
        let params = args.str("params").unwrap_or_default();
        let sys = name.replace('-', "_");
        let load_file = format!("/etc/modules-load.d/{name}.conf");
        let opt_file = format!("/etc/modprobe.d/{name}.conf");
        let mut s = Script::new();
        s.raw("rd_n=").arg(&sys).raw("\n");
        s.raw("if [ -d \"/sys/module/$rd_n\" ] || { [ -r /proc/modules ] && grep -q \"^$rd_n \" /proc/modules; }; then echo '@@RD loaded'; fi\n");
        s.raw("[ -r /proc/modules ] || echo '@@RD nomodules'\n");
        s.raw("echo '@@RD load'; cat -- ")
            .arg(&load_file)
            .raw(" 2>/dev/null\n");
        s.raw("echo '@@RD options'; cat -- ")
            .arg(&opt_file)
            .raw(" 2>/dev/null\n");
        s.raw("echo '@@RD end'\n");
        let out = ctx.run(s.as_str()).await?;
        let text = out.stdout_str();
        let secs = util::sections(&text);
        let loaded = util::section(&secs, "loaded").is_some();
        let no_modules = util::section(&secs, "nomodules").is_some();
        let mut o = Outcome::ok()
            .with("name", name.clone())
            .with("params", params.clone())
            .with("state", state.clone());
        // the module's state
        let act = match (state.as_str(), loaded) {
            ("present", false) => Some("load"),
            ("absent", true) => Some("unload"),
            _ => None,
        };
        if let Some(a) = act {
            o.changed = true;
            if !ctx.check_mode {
                let mut s = Script::new();
                s.raw("command -v modprobe >/dev/null 2>&1 || PATH=$PATH:/sbin:/usr/sbin; ");
                s.raw("command -v modprobe >/dev/null 2>&1 || { echo 'modprobe is not installed on this host (package kmod)' >&2; exit 4; }\n");
                if a == "load" {
                    s.raw("modprobe -- ").arg(&name);
                    for p in params.split_whitespace() {
                        s.raw(" ").arg(p);
                    }
                } else {
                    s.raw("modprobe -r -- ").arg(&name);
                }
                s.raw("\n");
                let r = ctx.run(s.as_str()).await?;
                if r.rc != 0 {
                    let why = if no_modules {
                        " (this kernel has no loadable module support: no /proc/modules)"
                    } else {
                        ""
                    };
                    return Err(ModuleError::failed(format!(
                        "Error {a}ing kernel module {name}{why}: {}",
                        r.stderr_str().trim()
                    )));
                }
            }
        }
        // persistence
        if persistent != "disabled" {
            let cur_load = util::section(&secs, "load").unwrap_or("");
            let cur_opts = util::section(&secs, "options").unwrap_or("");
            let want_load = if persistent == "present" {
                format!("{name}\n")
            } else {
                String::new()
            };
            let want_opts = if persistent == "present" && !params.is_empty() {
                format!("options {name} {params}\n")
            } else {
                String::new()
            };
            for (file, cur, want) in [
                (&load_file, cur_load, want_load),
                (&opt_file, cur_opts, want_opts),
            ] {
                let cur_n = if cur.is_empty() {
                    String::new()
                } else {
                    format!("{cur}\n")
                };
                if cur_n == want {
                    continue;
                }
                o.changed = true;
                if ctx.diff_mode {
                    o = o.with_diff(file, cur_n.clone(), want.clone());
                }
                if ctx.check_mode {
                    continue;
                }
                if want.is_empty() {
                    let mut s = Script::new();
                    s.raw("rm -f -- ").arg(file);
                    ctx.run_ok(s.as_str()).await?;
                } else {
                    let mut s = Script::new();
                    s.raw("mkdir -p -- \"$(dirname -- ").arg(file).raw(")\"");
                    ctx.run_ok(s.as_str()).await?;
                    util::put_file(
                        &util::without_diff(ctx),
                        &PutFile {
                            dest: file,
                            content: want.as_bytes(),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(o)
    }
}
