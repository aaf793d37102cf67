//! The `hostname` module: the host's name in `/etc/hostname` and the running name.
//!
//! One exchange reads both (`hostname`, `/etc/hostname`) and, unless in check mode,
//! acts on what differs: `/etc/hostname` is rewritten in place (containers bind-mount it,
//! so it cannot be replaced by a rename) and the running name is set with
//! `hostnamectl set-hostname` (`use: systemd`, or by default when systemd runs) or
//! `hostname NAME`. A host that refuses the running change (a container without
//! CAP_SYS_ADMIN) fails the task with that reason.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::json;

pub struct Hostname;

const PARAMS: &[&str] = &["name", "use"];

/// Strategies of Ansible's `use`: the ones rdeploy runs the same way (file + command).
const STRATEGIES: &[&str] = &[
    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc",
    "redhat", "sles", "solaris", "systemd",
];

/// A valid host name (RFC 1123 labels, or an FQDN of them).
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn script(name: &str, strategy: &str, check: bool) -> String {
    let mut s = Script::new();
    s.raw("rd_n=").arg(name).raw("\n");
    s.raw("rd_cur=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)\n");
    s.raw("rd_file=$(cat /etc/hostname 2>/dev/null)\n");
    s.raw("printf 'RD_CUR %s\\n' \"$rd_cur\"\n");
    s.raw("[ \"$rd_file\" = \"$rd_n\" ] || echo RD_FILE\n");
    s.raw("[ \"$rd_cur\" = \"$rd_n\" ] || echo RD_RUNNING\n");
    if check {
        return s.into_string();
    }
    let systemd = match strategy {
        "systemd" => "true",
        "auto" => "[ -d /run/systemd/system ] && command -v hostnamectl >/dev/null",
        _ => "false",
    };
    s.raw("if ").raw(systemd).raw("; then\n");
    s.raw("  if [ \"$rd_file\" != \"$rd_n\" ] || [ \"$rd_cur\" != \"$rd_n\" ]; then hostnamectl set-hostname \"$rd_n\" || exit 5; fi\n");
    s.raw("else\n");
    s.raw("  [ \"$rd_file\" = \"$rd_n\" ] || printf '%s\\n' \"$rd_n\" > /etc/hostname || exit 4\n");
    s.raw("  [ \"$rd_cur\" = \"$rd_n\" ] || hostname \"$rd_n\" || exit 5\n");
    s.raw("fi\n");
    s.into_string()
}

#[async_trait]
impl Module for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("hostname", PARAMS)?;
        let name = args.req_str("name")?;
        if !valid_name(&name) {
            return Err(ModuleError::failed(format!(
                "hostname: invalid host name {name:?}"
            )));
        }
        let strategy = args.str("use").unwrap_or_else(|| "auto".into());
        if strategy != "auto" && !STRATEGIES.contains(&strategy.as_str()) {
            return Err(ModuleError::failed(format!(
                "hostname: use must be one of {}, got {strategy}",
                STRATEGIES.join(", ")
            )));
        }
        let out = ctx.run(&script(&name, &strategy, ctx.check_mode)).await?;
        let text = out.stdout_str();
        let before = text
            .lines()
            .find_map(|l| l.strip_prefix("RD_CUR "))
            .unwrap_or("")
            .to_string();
        let file_changed = text.lines().any(|l| l == "RD_FILE");
        let running_changed = text.lines().any(|l| l == "RD_RUNNING");
        let changed = file_changed || running_changed;
        if out.rc != 0 {
            let why = out.stderr_str().trim().to_string();
            let mut f = Outcome::failed(if out.rc == 5 {
                format!("hostname: cannot set the running host name to {name} (the host refused it; containers without CAP_SYS_ADMIN do): {why}")
            } else {
                format!("hostname: cannot write /etc/hostname: {why}")
            });
            f.changed = file_changed && out.rc == 5;
            return Ok(f);
        }
        let short = name.split('.').next().unwrap_or(&name).to_string();
        let domain = name.split_once('.').map(|(_, d)| d).unwrap_or("");
        let mut o = Outcome::changed(changed).with("name", name.clone());
        o.facts.insert("ansible_hostname".into(), json!(short));
        o.facts.insert("ansible_nodename".into(), json!(name));
        o.facts.insert("ansible_fqdn".into(), json!(name));
        o.facts.insert("ansible_domain".into(), json!(domain));
        if ctx.diff_mode && changed {
            o = o.with_diff(
                "hostname",
                format!("hostname = {before}\n"),
                format!("hostname = {name}\n"),
            );
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web-1.example.com"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a..b"));
        assert!(!valid_name("$(x)"));
    }
}
