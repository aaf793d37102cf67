//! The `service` module (also `systemd`, `systemd_service`, `sysvinit`): starts, stops,
//! restarts, reloads and enables services, in ONE exchange.
//!
//! The script picks the service manager on the host: systemd when it is running
//! (`/run/systemd/system`), else OpenRC when it is running, else the SysV init script
//! `/etc/init.d/NAME` (through `service` when present), whose `status` exit code decides
//! whether the service runs (with `pattern:`, a substring of a process's command line
//! does). Boot-time enablement uses `systemctl enable`, `rc-update`, or `update-rc.d`
//! (`chkconfig`). Containers without systemd are the normal case, not an error. The
//! result says which manager was used (`manager`) and what was run (`msg`).

use super::util::sections;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Service;

const PARAMS: &[&str] = &[
    "name",
    "service",
    "unit",
    "state",
    "enabled",
    "daemon_reload",
    "daemon-reload",
    "daemon_reexec",
    "daemon-reexec",
    "masked",
    "scope",
    "no_block",
    "force",
    "use",
    "pattern",
    "sleep",
    "arguments",
    "args",
    "runlevel",
    "runlevels",
    "user",
];

/// The manager-independent logic. Inputs are shell variables set before it:
/// rd_name rd_state rd_enabled rd_use rd_check rd_sleep rd_reload rd_masked rd_sc (systemctl
/// scope flag) rd_noblock; rd_pattern is read from stdin (so that it appears in no
/// process's command line and cannot match the script itself).
const BODY: &str = r#"
rd_did() { echo "@@RD did $*"; }
rd_fail() { echo "$*" >&2; exit 95; }
rd_proc_has() { # rd_proc_has SUBSTRING: a process (not this script) whose command line holds it
  for rd_p in /proc/[0-9]*; do
    [ "${rd_p#/proc/}" = "$$" ] && continue
    rd_c=$(tr '\0' ' ' < "$rd_p/cmdline" 2>/dev/null) || continue
    case "$rd_c" in *"$1"*) return 0;; esac
  done
  return 1
}
rd_proc_named() { # a live (not zombie) process whose name is exactly $1
  for rd_p in /proc/[0-9]*; do
    [ "$(cat "$rd_p/comm" 2>/dev/null)" = "$1" ] || continue
    grep -q '^State:[[:space:]]*Z' "$rd_p/status" 2>/dev/null || return 0
  done
  return 1
}
rd_mgr=
case "$rd_use" in
  systemd|openrc|sysvinit) rd_mgr=$rd_use;;
  service) rd_mgr=sysvinit;;
  *)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then rd_mgr=systemd
    elif [ -n "$rd_name" ] && command -v rc-service >/dev/null 2>&1 && [ -d /run/openrc ]; then rd_mgr=openrc
    elif [ -z "$rd_name" ]; then rd_mgr=none
    elif [ -x "/etc/init.d/$rd_name" ]; then rd_mgr=sysvinit
    elif command -v systemctl >/dev/null 2>&1 && [ -n "$(systemctl list-unit-files --no-legend "$rd_name" "$rd_name.service" 2>/dev/null)" ]; then
      echo "service $rd_name: it has a systemd unit but systemd is not running on this host (no /run/systemd/system) and there is no /etc/init.d/$rd_name init script to fall back to" >&2; exit 94
    else
      echo "Could not find the requested service $rd_name: no systemd running on this host and no /etc/init.d/$rd_name init script" >&2; exit 94
    fi;;
esac
echo "@@RD manager $rd_mgr"

case "$rd_mgr" in
systemd)
  rd_sctl() { systemctl $rd_sc "$@"; }
  if [ "$rd_reload" = 1 ]; then
    if [ "$rd_check" = 0 ]; then rd_sctl daemon-reload || rd_fail "systemctl daemon-reload failed"; fi
    echo "@@RD daemon_reloaded"
  fi
  [ -n "$rd_name" ] || exit 0
  rd_load=$(rd_sctl show -p LoadState "$rd_name" 2>/dev/null); rd_load=${rd_load#LoadState=}
  rd_ufs=$(rd_sctl show -p UnitFileState "$rd_name" 2>/dev/null); rd_ufs=${rd_ufs#UnitFileState=}
  if [ "$rd_load" = not-found ] && [ "$rd_masked" != no ]; then echo "Could not find the requested service $rd_name: host" >&2; exit 94; fi
  if [ "$rd_masked" = yes ] && [ "$rd_ufs" != masked ]; then rd_did mask; [ "$rd_check" = 1 ] || rd_sctl mask "$rd_name" >&2 || rd_fail "systemctl mask $rd_name failed"; fi
  if [ "$rd_masked" = no ] && [ "$rd_ufs" = masked ]; then rd_did unmask; [ "$rd_check" = 1 ] || rd_sctl unmask "$rd_name" >&2 || rd_fail "systemctl unmask $rd_name failed"; fi
  rd_active=$(rd_sctl is-active "$rd_name" 2>/dev/null)
  case "$rd_active" in active|activating|reloading) rd_run=1;; *) rd_run=0;; esac
  echo "@@RD was_running $rd_run"
  rd_ens=$(rd_sctl is-enabled "$rd_name" 2>/dev/null); rd_enrc=$?
  # static, indirect, generated... units cannot be enabled or disabled: leave them be.
  case "$rd_ens" in enabled|enabled-runtime|alias) rd_en=1;; static|indirect|generated|transient) rd_en=fixed;; *) [ $rd_enrc = 0 ] && rd_en=1 || rd_en=0;; esac
  [ "$rd_en" = fixed ] && echo "@@RD was_enabled 1" || echo "@@RD was_enabled $rd_en"
  if [ "$rd_enabled" = yes ] && [ "$rd_en" = 0 ]; then rd_did "systemctl enable $rd_name"; [ "$rd_check" = 1 ] || rd_sctl enable "$rd_name" >&2 || rd_fail "systemctl enable $rd_name failed"; fi
  if [ "$rd_enabled" = no ] && [ "$rd_en" = 1 ]; then rd_did "systemctl disable $rd_name"; [ "$rd_check" = 1 ] || rd_sctl disable "$rd_name" >&2 || rd_fail "systemctl disable $rd_name failed"; fi
  rd_act=
  case "$rd_state" in
    started) [ $rd_run = 1 ] || rd_act=start;;
    stopped) [ $rd_run = 0 ] || rd_act=stop;;
    restarted) rd_act=restart;;
    reloaded) if [ $rd_run = 1 ]; then rd_act=reload; else rd_act=start; fi;;
  esac
  if [ -n "$rd_act" ]; then
    rd_did "systemctl $rd_act $rd_name"
    if [ "$rd_check" = 0 ]; then
      rd_sctl $rd_noblock "$rd_act" "$rd_name" >&2 || rd_fail "Unable to $rd_act service $rd_name: systemctl $rd_act failed (see: systemctl status $rd_name)"
    fi
  fi
  ;;
openrc)
  rd_status() { rc-service "$rd_name" status >/dev/null 2>&1; }
  if rd_status; then rd_run=1; else rd_run=0; fi
  echo "@@RD was_running $rd_run"
  rd_rl=${rd_runlevel:-default}
  if rc-update show "$rd_rl" 2>/dev/null | awk '{print $1}' | grep -qx "$rd_name"; then rd_en=1; else rd_en=0; fi
  echo "@@RD was_enabled $rd_en"
  if [ "$rd_enabled" = yes ] && [ $rd_en = 0 ]; then rd_did "rc-update add $rd_name $rd_rl"; [ "$rd_check" = 1 ] || rc-update add "$rd_name" "$rd_rl" >&2 || rd_fail "rc-update add $rd_name failed"; fi
  if [ "$rd_enabled" = no ] && [ $rd_en = 1 ]; then rd_did "rc-update del $rd_name $rd_rl"; [ "$rd_check" = 1 ] || rc-update del "$rd_name" "$rd_rl" >&2 || rd_fail "rc-update del $rd_name failed"; fi
  rd_act=
  case "$rd_state" in
    started) [ $rd_run = 1 ] || rd_act=start;;
    stopped) [ $rd_run = 0 ] || rd_act=stop;;
    restarted) rd_act=restart;;
    reloaded) if [ $rd_run = 1 ]; then rd_act=reload; else rd_act=start; fi;;
  esac
  if [ -n "$rd_act" ]; then
    rd_did "rc-service $rd_name $rd_act"
    [ "$rd_check" = 1 ] || rc-service "$rd_name" "$rd_act" >&2 || rd_fail "Unable to $rd_act service $rd_name: rc-service $rd_name $rd_act failed"
  fi
  ;;
sysvinit)
  rd_script="/etc/init.d/$rd_name"
  [ -x "$rd_script" ] || { echo "Could not find the requested service $rd_name: no init script $rd_script" >&2; exit 94; }
  if command -v service >/dev/null 2>&1; then rd_how=service; else rd_how=$rd_script; fi
  rd_svc() { # rd_svc ACTION: runs the init script through service(8) when present
    # rd_args holds words without blanks (checked by rdeploy); no globbing on them.
    ( set -f; if [ "$rd_how" = service ]; then exec service "$rd_name" "$@" $rd_args; else exec "$rd_script" "$@" $rd_args; fi )
  }
  rd_status() {
    if [ -n "$rd_pattern" ]; then rd_proc_has "$rd_pattern"; return; fi
    rd_so=$(rd_svc status 2>&1); rd_sr=$?
    case "$rd_so" in
      *[Uu]sage:*) rd_proc_named "$rd_name"; return;;
    esac
    return $rd_sr
  }
  if rd_status; then rd_run=1; else rd_run=0; fi
  echo "@@RD was_running $rd_run"
  rd_en=0
  for rd_l in /etc/rc[2345].d/S*; do
    case "${rd_l##*/}" in S[0-9][0-9]"$rd_name") rd_en=1; break;; esac
  done
  echo "@@RD was_enabled $rd_en"
  if [ -n "$rd_enabled" ]; then
    if command -v update-rc.d >/dev/null 2>&1; then
      if [ "$rd_enabled" = yes ] && [ $rd_en = 0 ]; then
        rd_did "update-rc.d $rd_name defaults/enable"
        if [ "$rd_check" = 0 ]; then
          update-rc.d "$rd_name" defaults >&2 && update-rc.d "$rd_name" enable >&2 || rd_fail "update-rc.d $rd_name enable failed"
        fi
      fi
      if [ "$rd_enabled" = no ] && [ $rd_en = 1 ]; then
        rd_did "update-rc.d $rd_name disable"
        [ "$rd_check" = 1 ] || update-rc.d "$rd_name" disable >&2 || rd_fail "update-rc.d $rd_name disable failed"
      fi
    elif command -v chkconfig >/dev/null 2>&1; then
      if [ "$rd_enabled" = yes ] && [ $rd_en = 0 ]; then rd_did "chkconfig $rd_name on"; [ "$rd_check" = 1 ] || chkconfig "$rd_name" on >&2 || rd_fail "chkconfig $rd_name on failed"; fi
      if [ "$rd_enabled" = no ] && [ $rd_en = 1 ]; then rd_did "chkconfig $rd_name off"; [ "$rd_check" = 1 ] || chkconfig "$rd_name" off >&2 || rd_fail "chkconfig $rd_name off failed"; fi
    elif { [ "$rd_enabled" = yes ] && [ $rd_en = 0 ]; } || { [ "$rd_enabled" = no ] && [ $rd_en = 1 ]; }; then
      rd_fail "cannot change boot-time enablement of $rd_name: neither update-rc.d nor chkconfig is installed"
    fi
  fi
  rd_do() { # rd_do ACTION
    rd_did "$rd_how $rd_name $1"
    [ "$rd_check" = 1 ] && return 0
    # Output goes to a file, not to this exchange's pipes: a daemon that keeps the
    # descriptors it inherited open would otherwise hold the exchange open.
    rd_log=$(mktemp) || rd_fail "mktemp failed"
    rd_svc "$1" >"$rd_log" 2>&1 </dev/null; rd_r=$?
    cat "$rd_log" >&2; rm -f "$rd_log"
    [ $rd_r = 0 ] || rd_fail "Unable to $1 service $rd_name: $rd_how $rd_name $1 failed (rc=$rd_r)"
  }
  case "$rd_state" in
    started) [ $rd_run = 1 ] || rd_do start;;
    stopped) [ $rd_run = 0 ] || rd_do stop;;
    restarted)
      if [ "$rd_sleep" -gt 0 ] 2>/dev/null; then
        [ $rd_run = 0 ] || rd_do stop
        [ "$rd_check" = 1 ] || sleep "$rd_sleep"
        rd_do start
      else
        rd_do restart
      fi;;
    reloaded) if [ $rd_run = 1 ]; then rd_do reload; else rd_do start; fi;;
  esac
  if [ "$rd_check" = 0 ] && [ -n "$rd_state" ]; then
    sleep 0.2 2>/dev/null || true
    if rd_status; then echo "@@RD running_after 1"; else echo "@@RD running_after 0"; fi
  fi
  ;;
none)
  if [ "$rd_reload" = 1 ]; then echo "@@RD daemon_reload_skipped"; fi
  ;;
esac
exit 0
"#;

#[async_trait]
impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["systemd", "systemd_service", "sysvinit"]
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("service", PARAMS)?;
        let name = args
            .str_any(&["name", "service", "unit"])
            .unwrap_or_default();
        if name.contains('/') || name.starts_with('-') {
            return Err(ModuleError::failed(format!(
                "service: invalid service name {name:?}"
            )));
        }
        let state = match args.str("state").map(|s| s.to_lowercase()).as_deref() {
            None | Some("") => String::new(),
            Some("running") | Some("started") => "started".into(),
            Some(s @ ("stopped" | "restarted" | "reloaded")) => s.to_string(),
            Some(other) => {
                return Err(ModuleError::failed(format!(
                    "service: value of state must be one of: reloaded, restarted, started, stopped, got: {other}"
                )))
            }
        };
        let enabled = args.bool("enabled")?;
        let daemon_reload =
            args.bool_or("daemon_reload", false)? || args.bool_or("daemon-reload", false)?;
        let masked = args.bool("masked")?;
        if name.is_empty() && !daemon_reload {
            return Err(ModuleError::failed(
                "service: missing required argument: name",
            ));
        }
        if !name.is_empty()
            && state.is_empty()
            && enabled.is_none()
            && masked.is_none()
            && !daemon_reload
        {
            return Err(ModuleError::failed(
                "service: one of the following is required: state, enabled",
            ));
        }
        let use_ = args
            .str("use")
            .unwrap_or_else(|| "auto".into())
            .to_lowercase();
        let sleep = args.int("sleep")?.unwrap_or(0);
        let arguments = args.str_any(&["arguments", "args"]).unwrap_or_default();
        let scope = args.str("scope").unwrap_or_else(|| "system".into());
        let sc = match scope.as_str() {
            "system" => "",
            "user" => "--user",
            "global" => "--global",
            other => {
                return Err(ModuleError::failed(format!(
                    "service: scope must be system, user or global, got {other}"
                )))
            }
        };
        let yn = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n");
        s.assign("rd_name", &name).raw("\n");
        s.assign("rd_state", &state).raw("\n");
        s.assign("rd_enabled", yn(enabled)).raw("\n");
        s.assign("rd_masked", yn(masked)).raw("\n");
        s.assign("rd_use", &use_).raw("\n");
        s.assign("rd_check", if ctx.check_mode { "1" } else { "0" })
            .raw("\n");
        s.assign("rd_reload", if daemon_reload { "1" } else { "0" })
            .raw("\n");
        s.assign("rd_sleep", &sleep.to_string()).raw("\n");
        s.assign("rd_runlevel", &args.str("runlevel").unwrap_or_default())
            .raw("\n");
        s.raw(&format!("rd_sc='{sc}'\n"));
        s.raw(if args.bool_or("no_block", false)? {
            "rd_noblock=--no-block\n"
        } else {
            "rd_noblock=\n"
        });
        // Extra init-script arguments are split like a command line, each word quoted.
        let words = crate::shell::split(&arguments)
            .map_err(|e| ModuleError::failed(format!("service: arguments: {e}")))?;
        s.raw("set -- ").args(&words).raw("\nrd_args=\"$*\"\n");
        if words.iter().any(|w| w.contains(char::is_whitespace)) {
            return Err(ModuleError::failed(
                "service: arguments with embedded spaces are not supported",
            ));
        }
        let pattern = args.str("pattern").unwrap_or_default();
        s.raw("rd_pattern=\n");
        let stdin = if pattern.is_empty() {
            None
        } else {
            s.raw("IFS= read -r rd_pattern\n");
            Some(format!("{}\n", pattern.replace('\n', " ")).into_bytes())
        };
        s.raw(BODY);
        let out = ctx.run_stdin(s.as_str(), stdin).await?;
        let stdout = out.stdout_str();
        let stderr = out.stderr_str();
        let secs = sections(&stdout);
        let mut manager = String::new();
        let mut did: Vec<String> = Vec::new();
        let mut was_running = None;
        let mut was_enabled = None;
        let mut running_after = None;
        let mut daemon_reloaded = false;
        for (n, _) in &secs {
            if let Some(m) = n.strip_prefix("manager ") {
                manager = m.to_string();
            } else if let Some(d) = n.strip_prefix("did ") {
                did.push(d.to_string());
            } else if let Some(v) = n.strip_prefix("was_running ") {
                was_running = Some(v == "1");
            } else if let Some(v) = n.strip_prefix("was_enabled ") {
                was_enabled = Some(v == "1");
            } else if let Some(v) = n.strip_prefix("running_after ") {
                running_after = Some(v == "1");
            } else if n == "daemon_reloaded" {
                daemon_reloaded = true;
            }
        }
        let how = match manager.as_str() {
            "systemd" => "systemd".to_string(),
            "openrc" => "openrc".to_string(),
            "sysvinit" => format!("sysvinit (/etc/init.d/{name})"),
            "" => "unknown".to_string(),
            other => other.to_string(),
        };
        if out.rc != 0 {
            let mut o = Outcome::failed(format!("{} [manager: {how}]", stderr.trim()));
            o.changed = !did.is_empty() && !ctx.check_mode;
            o = o
                .with("name", name.clone())
                .with("manager", manager.clone());
            if out.rc == 94 {
                o.msg = Some(stderr.trim().to_string());
            }
            return Ok(o);
        }
        let mut o = Outcome::changed(!did.is_empty())
            .with("name", name.clone())
            .with("manager", manager.clone());
        if !state.is_empty() {
            o = o.with("state", state.clone());
        }
        if let Some(e) = enabled.or(was_enabled) {
            o = o.with("enabled", e);
        }
        if let Some(r) = was_running {
            o = o.with("was_running", r);
        }
        if daemon_reloaded {
            o = o.with("daemon_reloaded", true);
        }
        let mut msg = if did.is_empty() {
            format!("{name}: nothing to do (manager: {how})")
        } else {
            format!(
                "{}{} (manager: {how})",
                if ctx.check_mode {
                    "would run: "
                } else {
                    "ran: "
                },
                did.join("; ")
            )
        };
        if manager == "none" && daemon_reload {
            msg = "daemon_reload skipped: systemd is not running on this host".into();
        }
        if let Some(false) = running_after {
            if state == "started" || state == "restarted" || state == "reloaded" {
                msg.push_str(&format!(
                    "; warning: {name} does not report running after the action"
                ));
                o = o.with(
                    "warnings",
                    serde_json::json!([format!("{name} does not report running after {state}")]),
                );
            }
        }
        Ok(o.with_msg(msg))
    }
}
