//! The `reboot` module: reboots the host and waits until it is back, as ansible-core's
//! action does: reads the boot id (`boot_time_command`, default
//! `cat /proc/sys/kernel/random/boot_id`), runs `shutdown -r DELAY_MIN "MSG"` (found in
//! `search_paths`, or `reboot_command`), waits `post_reboot_delay`, then opens the
//! connection again ([`crate::ssh::Connection::reopen`]) until the boot id differs and
//! `test_command` succeeds, within `reboot_timeout`. Result keys: `rebooted`, `elapsed`.
//! Check mode reports the reboot without doing it (`changed`, `rebooted`, elapsed 0),
//! as ansible-core; with `connection: local` it refuses (it would reboot the controller).
//!
//! Tested here: validation, check mode, the local refusal and a host without a
//! `shutdown` command; a real reboot is not (a container cannot be rebooted).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use crate::shell::Script;
use async_trait::async_trait;
use std::time::{Duration, Instant};

pub struct Reboot;

const PARAMS: &[&str] = &[
    "boot_time_command",
    "connect_timeout",
    "connect_timeout_sec",
    "msg",
    "post_reboot_delay",
    "post_reboot_delay_sec",
    "pre_reboot_delay",
    "pre_reboot_delay_sec",
    "reboot_command",
    "reboot_timeout",
    "reboot_timeout_sec",
    "search_paths",
    "test_command",
];
const SPEC: &[Param] = &[
    Param::new("reboot_timeout").default("600"),
    Param::new("pre_reboot_delay").default("0"),
    Param::new("post_reboot_delay").default("0"),
    Param::new("test_command").default("whoami"),
    Param::new("msg").default("Reboot initiated by Ansible"),
    Param::new("boot_time_command").default("cat /proc/sys/kernel/random/boot_id"),
    Param::new("search_paths")
        .default("['/sbin', '/bin', '/usr/sbin', '/usr/bin', '/usr/local/sbin']"),
];

fn secs(args: &Args, key: &str, default: i64) -> Result<u64, ModuleError> {
    let v = match args.int(key) {
        Ok(Some(v)) => v,
        Ok(None) => match args.int(&format!("{key}_sec")) {
            Ok(Some(v)) => v,
            Ok(None) => default,
            Err(_) => {
                return Err(ModuleError::failed(format!(
                    "reboot: {key}_sec must be a number of seconds"
                )))
            }
        },
        Err(_) => {
            return Err(ModuleError::failed(format!(
                "reboot: {key} must be a number of seconds"
            )))
        }
    };
    Ok(v.max(0) as u64)
}

#[async_trait]
impl Module for Reboot {
    fn name(&self) -> &'static str {
        "reboot"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["rebooted", "elapsed"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("reboot", PARAMS)?;
        let reboot_timeout = secs(args, "reboot_timeout", 600)?;
        let pre = secs(args, "pre_reboot_delay", 0)?;
        let post = secs(args, "post_reboot_delay", 0)?;
        let connect_timeout = secs(args, "connect_timeout", 10)?.max(1);
        if reboot_timeout == 0 {
            return Err(ModuleError::failed(
                "reboot: reboot_timeout must be more than 0",
            ));
        }
        let msg = args
            .str("msg")
            .unwrap_or_else(|| "Reboot initiated by Ansible".into());
        let test_command = args.str("test_command").unwrap_or_else(|| "whoami".into());
        let boot_cmd = args
            .str("boot_time_command")
            .unwrap_or_else(|| "cat /proc/sys/kernel/random/boot_id".into());
        let paths = args.list("search_paths").unwrap_or_else(|| {
            ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"]
                .map(String::from)
                .to_vec()
        });
        if ctx.conn.is_local() {
            return Err(ModuleError::failed(
                "Running reboot with local connection would reboot the control node.",
            ));
        }
        if ctx.check_mode {
            return Ok(Outcome::changed(true)
                .with("rebooted", true)
                .with("elapsed", 0));
        }
        let start = Instant::now();
        let before = ctx.run(&boot_cmd).await?;
        if before.rc != 0 {
            return Err(ModuleError::failed(format!(
                "reboot: {boot_cmd} failed (rc={}): {}",
                before.rc,
                before.stderr_str().trim()
            )));
        }
        let boot_id = before.stdout_str().trim().to_string();
        // the command: reboot_command as given, else shutdown from the search paths
        let mut s = Script::new();
        match args.str("reboot_command") {
            Some(c) => {
                s.raw("sleep ")
                    .arg(&pre.to_string())
                    .raw("; ")
                    .raw(&c)
                    .raw("\n");
            }
            None => {
                s.raw("rd_b=; for rd_d in");
                for p in &paths {
                    s.raw(" ").arg(p);
                }
                s.raw("; do [ -x \"$rd_d/shutdown\" ] && { rd_b=$rd_d/shutdown; break; }; done\n");
                s.raw(&format!(
                    "[ -n \"$rd_b\" ] || {{ echo 'Unable to find command \"shutdown\" in search paths: {}' >&2; exit 4; }}\n",
                    paths.join(", ").replace('\'', "")
                ));
                s.raw("\"$rd_b\" -r ")
                    .arg(&(pre / 60).to_string())
                    .raw(" ")
                    .arg(&msg)
                    .raw("\n");
            }
        }
        match ctx.run(s.as_str()).await {
            Ok(out) if out.rc != 0 => {
                return Err(ModuleError::failed(format!(
                    "Reboot command failed (rc={}): {}",
                    out.rc,
                    out.stderr_str().trim()
                )))
            }
            // a connection that drops while the command runs is the reboot starting
            Ok(_) | Err(ModuleError::Unreachable(_)) => {}
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_secs(post)).await;
        let deadline = start + Duration::from_secs(reboot_timeout);
        let mut conn = ctx.conn.clone();
        let mut last = String::from("the host did not come back");
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if conn.is_closed() {
                match tokio::time::timeout(Duration::from_secs(connect_timeout), conn.reopen())
                    .await
                {
                    Ok(Ok(c)) => conn = c,
                    Ok(Err(e)) => {
                        last = e.to_string();
                        continue;
                    }
                    Err(_) => continue,
                }
            }
            let probe = ModuleCtx {
                host: ctx.host,
                conn: conn.clone(),
                become_: ctx.become_,
                environment: ctx.environment,
                check_mode: false,
                diff_mode: false,
                templar: ctx.templar,
                vars: ctx.vars,
                search: ctx.search,
                timeout: Some(Duration::from_secs(connect_timeout)),
                output: None,
            };
            match probe.run(&boot_cmd).await {
                Ok(o) if o.rc == 0 && o.stdout_str().trim() != boot_id => {
                    match probe.run(&test_command).await {
                        Ok(t) if t.rc == 0 => {
                            return Ok(Outcome::changed(true)
                                .with("rebooted", true)
                                .with("elapsed", start.elapsed().as_secs()))
                        }
                        Ok(t) => last = format!("{test_command}: rc={}", t.rc),
                        Err(e) => last = e.to_string(),
                    }
                }
                Ok(_) => last = "the boot id has not changed yet".into(),
                Err(e) => last = e.to_string(),
            }
        }
        Err(ModuleError::failed(format!(
            "Timed out waiting for the host to come back after {reboot_timeout} seconds: {last}"
        )))
    }
}
