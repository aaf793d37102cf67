//! The `timezone` module (`community.general.timezone`): the system time zone, as
//! `/etc/localtime` (a link into `/usr/share/zoneinfo`) and, on Debian (where the file
//! exists or `/etc/debian_version` does), `/etc/timezone`.
//!
//! One exchange checks the zone exists, compares both files and, unless in check mode,
//! fixes what differs: the link is replaced atomically (a new link renamed over the old),
//! `/etc/timezone` is rewritten in place. Under systemd, `timedatectl set-timezone` is
//! used instead.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::json;

pub struct Timezone;

const PARAMS: &[&str] = &["name", "hwclock"];

/// A zone name as found under /usr/share/zoneinfo (`Europe/Paris`, `UTC`, `Etc/GMT+2`).
pub fn valid_zone(z: &str) -> bool {
    !z.is_empty()
        && !z.starts_with('/')
        && !z.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && z.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
}

fn script(zone: &str, check: bool) -> String {
    let mut s = Script::new();
    s.raw("rd_z=")
        .arg(zone)
        .raw("\nrd_zf=\"/usr/share/zoneinfo/$rd_z\"\n");
    s.raw("[ -f \"$rd_zf\" ] || { echo \"given timezone \\\"$rd_z\\\" is not available\" >&2; exit 4; }\n");
    s.raw("rd_cur=$(readlink /etc/localtime 2>/dev/null); rd_cur=${rd_cur#/usr/share/zoneinfo/}; rd_cur=${rd_cur#../usr/share/zoneinfo/}\n");
    s.raw("rd_deb=; if [ -f /etc/timezone ] || [ -f /etc/debian_version ]; then rd_deb=1; fi\n");
    s.raw("rd_tz=$(cat /etc/timezone 2>/dev/null)\n");
    s.raw("printf 'RD_BEFORE %s\\n' \"${rd_tz:-$rd_cur}\"\n");
    s.raw("rd_l=; [ -L /etc/localtime ] && [ \"$rd_cur\" = \"$rd_z\" ] || rd_l=1\n");
    s.raw("rd_t=; [ -n \"$rd_deb\" ] && [ \"$rd_tz\" != \"$rd_z\" ] && rd_t=1\n");
    s.raw("[ -z \"$rd_l$rd_t\" ] || echo RD_CHANGED\n");
    if check {
        return s.into_string();
    }
    s.raw("[ -n \"$rd_l$rd_t\" ] || exit 0\n");
    s.raw("if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null; then timedatectl set-timezone \"$rd_z\" || exit 5; fi\n");
    s.raw("if [ -n \"$rd_l\" ]; then ln -sfn \"$rd_zf\" /etc/.localtime.rdeploy && mv -f /etc/.localtime.rdeploy /etc/localtime || exit 5; fi\n");
    s.raw("if [ -n \"$rd_deb\" ]; then [ \"$(cat /etc/timezone 2>/dev/null)\" = \"$rd_z\" ] || printf '%s\\n' \"$rd_z\" > /etc/timezone || exit 5; fi\n");
    s.into_string()
}

#[async_trait]
impl Module for Timezone {
    fn name(&self) -> &'static str {
        "timezone"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("timezone", PARAMS)?;
        if args.has("hwclock") {
            return Err(ModuleError::failed(
                "timezone: hwclock is not supported by rdeploy yet",
            ));
        }
        let zone = args.req_str("name")?;
        if !valid_zone(&zone) {
            return Err(ModuleError::failed(format!(
                "timezone: invalid time zone name {zone:?}"
            )));
        }
        let out = ctx.run(&script(&zone, ctx.check_mode)).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "timezone: {}",
                out.stderr_str().trim()
            )));
        }
        let text = out.stdout_str();
        let before = text
            .lines()
            .find_map(|l| l.strip_prefix("RD_BEFORE "))
            .unwrap_or("")
            .to_string();
        let changed = text.lines().any(|l| l == "RD_CHANGED");
        let mut o = Outcome::changed(changed).with(
            "diff",
            json!({"before": {"name": before}, "after": {"name": zone}}),
        );
        if ctx.diff_mode && changed {
            o = o.with_diff(
                "timezone",
                format!("name = {before}\n"),
                format!("name = {zone}\n"),
            );
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert!(valid_zone("Europe/Paris"));
        assert!(valid_zone("Etc/GMT+2"));
        assert!(!valid_zone("../etc/passwd"));
        assert!(!valid_zone("/UTC"));
        assert!(!valid_zone("a b"));
    }
}
