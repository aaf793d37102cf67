//! The `service_facts` module: the host's services as `ansible_facts.services`, in one
//! exchange: with systemd running, its service units (`{name: "x.service", state,
//! status, source: systemd}`); otherwise the SysV init scripts, as ansible-core reads
//! `service --status-all` (`[ + ]` running, `[ - ]` stopped, `[ ? ]` left out:
//! `{name, state, source: sysv}`), or each `/etc/init.d` script's `status` when the
//! `service` command is missing; OpenRC through `rc-status`. Never changes anything.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct ServiceFacts;

const SCRIPT: &str = r#"if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo '@@RD units'; systemctl list-units --no-pager --type service --all --plain --no-legend 2>/dev/null
  echo '@@RD files'; systemctl list-unit-files --no-pager --type service --no-legend 2>/dev/null
elif command -v rc-status >/dev/null 2>&1; then
  echo '@@RD openrc'; rc-status --all 2>/dev/null
elif command -v service >/dev/null 2>&1; then
  echo '@@RD sysv'; LC_ALL=C service --status-all 2>/dev/null </dev/null
elif [ -d /etc/init.d ]; then
  echo '@@RD sysv'
  for rd_s in /etc/init.d/*; do
    [ -x "$rd_s" ] || continue
    case "${rd_s##*/}" in README|rc|rcS|skeleton) continue;; esac
    if "$rd_s" status >/dev/null 2>&1 </dev/null; then echo " [ + ]  ${rd_s##*/}"; else echo " [ - ]  ${rd_s##*/}"; fi
  done
fi
echo '@@RD end'
"#;

/// Parses the script's output into `services`.
pub fn parse(text: &str) -> Map<String, Value> {
    let mut sv = Map::new();
    let secs = super::util::sections(text);
    let files: Map<String, Value> = super::util::section(&secs, "files")
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), json!(f.next()?)))
        })
        .collect();
    for (sec, body) in &secs {
        for l in body.lines() {
            match sec.as_str() {
                "units" => {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if f.len() < 4 || !f[0].ends_with(".service") {
                        continue;
                    }
                    let state = match f[3] {
                        "running" => "running",
                        "exited" | "dead" => "stopped",
                        "failed" => "failed",
                        _ => "unknown",
                    };
                    let status = files.get(f[0]).cloned().unwrap_or(json!("unknown"));
                    sv.insert(
                        f[0].to_string(),
                        json!({"name": f[0], "state": state, "status": status, "source": "systemd"}),
                    );
                }
                "sysv" => {
                    let t = l.trim_start();
                    let (state, rest) = if let Some(r) = t.strip_prefix("[ + ]") {
                        ("running", r)
                    } else if let Some(r) = t.strip_prefix("[ - ]") {
                        ("stopped", r)
                    } else {
                        continue;
                    };
                    let name = rest.trim();
                    if !name.is_empty() {
                        sv.insert(
                            name.to_string(),
                            json!({"name": name, "state": state, "source": "sysv"}),
                        );
                    }
                }
                "openrc" => {
                    // `name [ started ]`
                    let Some((name, st)) = l.trim().split_once(' ') else {
                        continue;
                    };
                    let state = if st.contains("started") {
                        "running"
                    } else {
                        "stopped"
                    };
                    sv.insert(
                        name.to_string(),
                        json!({"name": name, "state": state, "source": "openrc"}),
                    );
                }
                _ => {}
            }
        }
    }
    sv
}

#[async_trait]
impl Module for ServiceFacts {
    fn name(&self) -> &'static str {
        "service_facts"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
    fn returns(&self) -> &'static [&'static str] {
        &["ansible_facts.services"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, _args: &Args) -> ModuleResult {
        let out = ctx.run(SCRIPT).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "service_facts failed (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        let mut o = Outcome::ok();
        o.facts
            .insert("services".into(), Value::Object(parse(&out.stdout_str())));
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysv_and_systemd() {
        let p = parse("@@RD sysv\n [ + ]  cron\n [ - ]  gsweb\n [ ? ]  hwclock.sh\n@@RD end\n");
        assert_eq!(p["cron"]["state"], "running");
        assert_eq!(p["gsweb"]["state"], "stopped");
        assert_eq!(p["gsweb"]["source"], "sysv");
        assert!(p.get("hwclock.sh").is_none());
        let p = parse("@@RD units\nssh.service loaded active running OpenBSD Secure Shell server\ncron.service loaded inactive dead Cron\n@@RD files\nssh.service enabled enabled\ncron.service disabled enabled\n@@RD end\n");
        assert_eq!(p["ssh.service"]["state"], "running");
        assert_eq!(p["ssh.service"]["status"], "enabled");
        assert_eq!(p["cron.service"]["state"], "stopped");
    }
}
