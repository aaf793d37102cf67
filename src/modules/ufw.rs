//! The `ufw` module (`community.general.ufw`): Ubuntu's/Debian's firewall front end,
//! driven through its own CLI (ufw itself is a Python program: a host without Python
//! has no ufw; this module adds nothing to the host beyond it).
//!
//! As ansible-core's module: the commands run in the order state, default, rule,
//! logging, all in ONE exchange that also reads `ufw status verbose` and the rule
//! tuples (`### tuple` lines of user.rules/user6.rules) before and after; the task
//! changed when they differ (`reloaded`/`reset` always change). Check mode runs the
//! rule, default and logging commands with `--dry-run` and compares what they would
//! write with what is there; the state is compared with `status`. A rule is built in
//! ufw's long form: `[route] [delete | insert N] ACTION [DIR] [on IFACE] [log] from IP
//! [port P] to IP [port P] [proto P] [app NAME] [comment C]`, each word quoted.
//! Result keys: `commands` (what ran), `msg` (the status after).

use super::util;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Ufw;

const PARAMS: &[&str] = &[
    "state",
    "policy",
    "default",
    "direction",
    "logging",
    "insert",
    "insert_relative_to",
    "rule",
    "log",
    "from_ip",
    "from",
    "src",
    "from_port",
    "to_ip",
    "to",
    "dest",
    "to_port",
    "port",
    "proto",
    "protocol",
    "name",
    "app",
    "delete",
    "interface",
    "if",
    "interface_in",
    "if_in",
    "interface_out",
    "if_out",
    "route",
    "comment",
];
const SPEC: &[Param] = &[
    Param::new("state").choices(&["enabled", "disabled", "reloaded", "reset"]),
    Param::new("default").choices(&["allow", "deny", "reject"]),
    Param::new("rule").choices(&["allow", "deny", "limit", "reject"]),
    Param::new("logging").choices(&["on", "off", "low", "medium", "high", "full"]),
    Param::new("direction").choices(&["in", "incoming", "out", "outgoing", "routed"]),
    Param::new("proto").choices(&["any", "tcp", "udp", "ipv6", "esp", "ah", "gre", "igmp"]),
    Param::new("from_ip").default("any"),
    Param::new("to_ip").default("any"),
    Param::new("delete").default("false"),
    Param::new("route").default("false"),
    Param::new("log").default("false"),
];

/// One ufw invocation: its words, and what kind of command it is.
struct Cmd {
    kind: &'static str,
    words: Vec<String>,
}

fn choice(args: &Args, keys: &[&str], allowed: &[&str]) -> Result<Option<String>, ModuleError> {
    let Some(v) = args.str_any(keys) else {
        return Ok(None);
    };
    if !allowed.contains(&v.as_str()) {
        return Err(ModuleError::failed(format!(
            "value of {} must be one of: {}, got: {v}",
            keys[0],
            allowed.join(", ")
        )));
    }
    Ok(Some(v))
}

fn commands(args: &Args) -> Result<Vec<Cmd>, ModuleError> {
    let state = choice(
        args,
        &["state"],
        &["enabled", "disabled", "reloaded", "reset"],
    )?;
    let default = choice(args, &["default", "policy"], &["allow", "deny", "reject"])?;
    let rule = choice(args, &["rule"], &["allow", "deny", "limit", "reject"])?;
    let logging = choice(
        args,
        &["logging"],
        &["on", "off", "low", "medium", "high", "full"],
    )?;
    let direction = choice(
        args,
        &["direction"],
        &["in", "incoming", "out", "outgoing", "routed"],
    )?;
    if state.is_none() && default.is_none() && rule.is_none() && logging.is_none() {
        return Err(ModuleError::failed(
            "one of the following is required: state, default, rule, logging",
        ));
    }
    let mut out = Vec::new();
    if let Some(s) = state {
        let w = match s.as_str() {
            "enabled" => "enable",
            "disabled" => "disable",
            "reloaded" => "reload",
            _ => "reset",
        };
        out.push(Cmd {
            kind: "state",
            words: vec!["-f".into(), w.into()],
        });
    }
    if let Some(d) = default {
        let dir = direction.clone().unwrap_or_else(|| "incoming".into());
        out.push(Cmd {
            kind: "default",
            words: vec!["default".into(), d, dir],
        });
    }
    if let Some(r) = rule {
        let mut w: Vec<String> = Vec::new();
        if args.bool_or("route", false)? {
            w.push("route".into());
        }
        if args.bool_or("delete", false)? {
            w.push("delete".into());
        }
        if let Some(n) = args.int("insert")? {
            w.push("insert".into());
            w.push(n.to_string());
        }
        w.push(r);
        if let Some(d) = &direction {
            w.push(d.clone());
        }
        if let Some(i) = args.str_any(&["interface", "if"]) {
            w.extend(["on".into(), i]);
        }
        if let Some(i) = args.str_any(&["interface_in", "if_in"]) {
            w.extend(["in".into(), "on".into(), i]);
        }
        if let Some(i) = args.str_any(&["interface_out", "if_out"]) {
            w.extend(["out".into(), "on".into(), i]);
        }
        if args.bool_or("log", false)? {
            w.push("log".into());
        }
        w.extend([
            "from".into(),
            args.str_any(&["from_ip", "from", "src"])
                .unwrap_or_else(|| "any".into()),
        ]);
        if let Some(p) = args.str("from_port") {
            w.extend(["port".into(), p]);
        }
        w.extend([
            "to".into(),
            args.str_any(&["to_ip", "to", "dest"])
                .unwrap_or_else(|| "any".into()),
        ]);
        if let Some(p) = args.str_any(&["to_port", "port"]) {
            w.extend(["port".into(), p]);
        }
        if let Some(p) = choice(
            args,
            &["proto", "protocol"],
            &["any", "tcp", "udp", "ipv6", "esp", "ah", "gre", "igmp"],
        )? {
            w.extend(["proto".into(), p]);
        }
        if let Some(a) = args.str_any(&["name", "app"]) {
            w.extend(["app".into(), a]);
        }
        if let Some(c) = args.str("comment") {
            w.extend(["comment".into(), c]);
        }
        out.push(Cmd {
            kind: "rule",
            words: w,
        });
    }
    if let Some(l) = logging {
        out.push(Cmd {
            kind: "logging",
            words: vec!["logging".into(), l],
        });
    }
    Ok(out)
}

const RULES: &str = "grep -h '^### tuple' /lib/ufw/user.rules /lib/ufw/user6.rules /etc/ufw/user.rules /etc/ufw/user6.rules 2>/dev/null";

/// The `### tuple` lines of a text; `family` 4 or 6 keeps the IPv4 or IPv6 ones
/// (ufw's dry run of a rule for one address family shows only that family's file).
fn tuples(text: &str, family: Option<u8>) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("### tuple"))
        .filter(|l| match family {
            Some(4) => !l.contains(':'),
            Some(6) => l.contains(':'),
            _ => true,
        })
        .collect()
}

/// The address family a rule's addresses pin it to.
fn family(args: &Args) -> Option<u8> {
    let ips = [
        args.str_any(&["from_ip", "from", "src"]),
        args.str_any(&["to_ip", "to", "dest"]),
    ];
    ips.iter()
        .flatten()
        .filter(|ip| *ip != "any")
        .find_map(|ip| {
            if ip.contains(':') {
                Some(6)
            } else if ip.contains('.') {
                Some(4)
            } else {
                None
            }
        })
}

/// `KEY` of a shell-style `KEY="value"` file (/etc/default/ufw, /etc/ufw/ufw.conf).
fn conf_value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('"'))
        .next_back()
}

/// Whether a default policy already is what `ufw default POLICY DIR` sets: from
/// `status verbose`, or (an inactive ufw shows none) from /etc/default/ufw.
fn default_is(status: &str, conf: &str, policy: &str, dir: &str) -> bool {
    let (dir, key) = match dir {
        "in" | "incoming" => ("incoming", "DEFAULT_INPUT_POLICY"),
        "out" | "outgoing" => ("outgoing", "DEFAULT_OUTPUT_POLICY"),
        _ => ("routed", "DEFAULT_FORWARD_POLICY"),
    };
    if let Some(d) = status.lines().find_map(|l| l.strip_prefix("Default: ")) {
        return d.contains(&format!("{policy} ({dir})"));
    }
    let want = match policy {
        "allow" => "ACCEPT",
        "deny" => "DROP",
        _ => "REJECT",
    };
    conf_value(conf, key) == Some(want)
}

/// Whether logging already is at `level`: from `status verbose`, or from ufw.conf's
/// LOGLEVEL when ufw is inactive.
fn logging_is(status: &str, conf: &str, level: &str) -> bool {
    let from_conf;
    let l = match status.lines().find_map(|l| l.strip_prefix("Logging: ")) {
        Some(l) => l,
        None => {
            from_conf = match conf_value(conf, "LOGLEVEL") {
                Some("off") | None => "off".to_string(),
                Some(lvl) => format!("on ({lvl})"),
            };
            &from_conf
        }
    };
    match level {
        "on" => l.starts_with("on"),
        "off" => l.starts_with("off"),
        lvl => l == format!("on ({lvl})"),
    }
}

#[async_trait]
impl Module for Ufw {
    fn name(&self) -> &'static str {
        "ufw"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["commands", "msg"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("ufw", PARAMS)?;
        let cmds = commands(args)?;
        let check = ctx.check_mode;
        let mut s = Script::new();
        s.raw("command -v ufw >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin\n");
        s.raw("command -v ufw >/dev/null 2>&1 || { echo 'ufw is not installed on this host' >&2; exit 4; }\n");
        s.raw("echo '@@RD pre_state'; LC_ALL=C ufw status verbose 2>&1\n");
        s.raw("echo '@@RD pre_rules'; ").raw(RULES).raw("\n");
        s.raw("echo '@@RD conf'; cat /etc/default/ufw /etc/ufw/ufw.conf 2>/dev/null\n");
        for (i, c) in cmds.iter().enumerate() {
            // check mode compares state, default and logging with what is there (ufw's
            // `--dry-run logging` writes ufw.conf all the same); rules run --dry-run
            if check && c.kind != "rule" {
                continue;
            }
            s.raw(&format!("echo '@@RD cmd {i}'; LC_ALL=C ufw "));
            if check {
                s.raw("--dry-run ");
            }
            for w in &c.words {
                s.arg(w).raw(" ");
            }
            s.raw(&format!("2>&1; echo \"@@RD rc {i} $?\"\n"));
        }
        if !check {
            s.raw("echo '@@RD post_state'; LC_ALL=C ufw status verbose 2>&1\n");
            s.raw("echo '@@RD post_rules'; ").raw(RULES).raw("\n");
        }
        s.raw("echo '@@RD end'\n");
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let text = out.stdout_str();
        let secs = util::sections(&text);
        let sec = |n: &str| util::section(&secs, n).unwrap_or("").to_string();
        let pre_state = sec("pre_state");
        let pre_rules = sec("pre_rules");
        let conf = sec("conf");
        let mut changed = false;
        let mut ran = Vec::new();
        for (i, c) in cmds.iter().enumerate() {
            let shown = format!(
                "ufw {}{}",
                if check { "--dry-run " } else { "" },
                c.words.join(" ")
            );
            ran.push(shown.clone());
            if c.kind == "state" {
                let w = c.words[1].as_str();
                let active = pre_state.contains("Status: active");
                changed |=
                    matches!(w, "reload" | "reset") || (check && ((w == "enable") != active));
            }
            if check && c.kind != "rule" {
                changed |= match c.kind {
                    "default" => !default_is(&pre_state, &conf, &c.words[1], &c.words[2]),
                    "logging" => !logging_is(&pre_state, &conf, &c.words[1]),
                    _ => false,
                };
                continue;
            }
            let res = sec(&format!("cmd {i}"));
            let rc = secs
                .iter()
                .find_map(|(n, _)| {
                    n.strip_prefix(&format!("rc {i} "))
                        .and_then(|r| r.trim().parse::<i32>().ok())
                })
                .unwrap_or(-1);
            if rc != 0 {
                return Err(ModuleError::failed(format!(
                    "{shown} failed (rc={rc}): {}",
                    res.trim()
                )));
            }
            if check {
                let lines: Vec<&str> = res.lines().filter(|l| !l.trim().is_empty()).collect();
                let all_skip = !lines.is_empty() && lines.iter().all(|l| l.contains("Skipping"));
                changed |= !all_skip
                    && !res.contains("Could not delete non-existent rule")
                    && tuples(&res, family(args)) != tuples(&pre_rules, family(args));
            }
        }
        let mut o = Outcome::ok().with("commands", ran);
        if check {
            o.changed = changed;
            return Ok(o);
        }
        let post_state = sec("post_state");
        o.changed = changed || post_state != pre_state || sec("post_rules") != pre_rules;
        if ctx.diff_mode && sec("post_rules") != pre_rules {
            o = o.with_diff(
                "ufw rules",
                format!("{pre_rules}\n"),
                format!("{}\n", sec("post_rules")),
            );
        }
        Ok(o.with("msg", post_state.trim_end().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(v: serde_json::Value) -> Vec<String> {
        let a = Args::new(v.as_object().unwrap().clone());
        commands(&a)
            .unwrap()
            .into_iter()
            .map(|c| c.words.join(" "))
            .collect()
    }

    #[test]
    fn builds_ufw_command_lines_as_ansible() {
        assert_eq!(
            words(json!({"rule": "allow", "port": "22", "proto": "tcp"})),
            vec!["allow from any to any port 22 proto tcp"]
        );
        assert_eq!(
            words(
                json!({"state": "enabled", "default": "deny", "direction": "outgoing", "logging": "low"})
            ),
            vec!["-f enable", "default deny outgoing", "logging low"]
        );
        assert_eq!(
            words(
                json!({"rule": "limit", "delete": true, "from_ip": "10.0.0.0/8", "interface": "eth0", "direction": "in", "name": "OpenSSH", "comment": "ssh"})
            ),
            vec!["delete limit in on eth0 from 10.0.0.0/8 to any app OpenSSH comment ssh"]
        );
        let a = Args::new(json!({"port": "22"}).as_object().unwrap().clone());
        assert!(commands(&a).is_err());
    }

    #[test]
    fn reads_status() {
        let st = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n";
        assert!(default_is(st, "", "deny", "incoming"));
        assert!(!default_is(st, "", "deny", "outgoing"));
        assert!(
            logging_is(st, "", "low") && logging_is(st, "", "on") && !logging_is(st, "", "high")
        );
        // inactive: the configuration files say
        let conf =
            "DEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nLOGLEVEL=low\n";
        assert!(default_is("Status: inactive", conf, "deny", "incoming"));
        assert!(!default_is("Status: inactive", conf, "deny", "outgoing"));
        assert!(
            logging_is("Status: inactive", conf, "low")
                && !logging_is("Status: inactive", conf, "medium")
        );
    }
}
