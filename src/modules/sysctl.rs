//! The `sysctl` module (`ansible.posix.sysctl`): a kernel parameter's entry in
//! `sysctl_file` (default `/etc/sysctl.conf`) and, with `sysctl_set`, its running value.
//!
//! One exchange prints the file and the running value (`sysctl -n`); the new file is
//! computed on the controller ([`edit`]: the last `name = value` entry is rewritten, the
//! others are dropped, a missing one is appended) and written with [`util::put_file`]
//! only when it differs. Then, when something changed: `sysctl -w name=value`
//! (`sysctl_set`) and `sysctl -p FILE` (`reload`, `-e` with `ignoreerrors`).

use super::util::{self, PutFile};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Sysctl;

const PARAMS: &[&str] = &[
    "name",
    "key",
    "value",
    "val",
    "state",
    "sysctl_file",
    "reload",
    "sysctl_set",
    "ignoreerrors",
];

/// The value as sysctl prints it: booleans as 1/0, whitespace runs as one space.
pub fn normalize(v: &str) -> String {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => "1".into(),
        "false" | "no" | "off" => "0".into(),
        _ => v.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// `(key, value)` of a `key = value` line; `None` for comments and blank lines.
fn parse_line(line: &str) -> Option<(String, String)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    let (k, v) = t.split_once('=')?;
    Some((k.trim().to_string(), normalize(v)))
}

/// The value the file sets for `name` (the last entry wins, as with `sysctl -p`).
pub fn file_value(content: &str, name: &str) -> Option<String> {
    content
        .lines()
        .rev()
        .filter_map(parse_line)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The new file: `value` `Some` sets `name=value` (in place of the first entry, other
/// entries for `name` removed; appended when missing), `None` removes every entry.
pub fn edit(content: &str, name: &str, value: Option<&str>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut done = false;
    for l in content.lines() {
        if parse_line(l).is_some_and(|(k, _)| k == name) {
            if let (Some(v), false) = (value, done) {
                out.push(format!("{name}={v}"));
                done = true;
            }
            continue;
        }
        out.push(l.to_string());
    }
    if let (Some(v), false) = (value, done) {
        out.push(format!("{name}={v}"));
    }
    let mut s = out.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && !n.starts_with(['-', '.', '/'])
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b'*'))
}

/// What the query exchange found.
struct Current {
    content: Option<String>,
    running: Option<String>,
}

async fn query(ctx: &ModuleCtx<'_>, name: &str, file: &str) -> Result<Current, ModuleError> {
    let mut s = Script::new();
    s.raw("rd_f=").arg(file).raw("\n");
    s.raw("if [ -d \"$rd_f\" ]; then echo \"$rd_f is a directory\" >&2; exit 4; fi\n");
    s.raw("printf '@@RD running\\n'; sysctl -n ")
        .arg(name)
        .raw(" 2>/dev/null && echo '@@RD ok'\n");
    s.raw("if [ -f \"$rd_f\" ]; then echo '@@RD content'; cat -- \"$rd_f\"; fi\n");
    let out = ctx.run(s.as_str()).await?;
    if out.rc != 0 {
        return Err(ModuleError::failed(format!(
            "sysctl: {}",
            out.stderr_str().trim()
        )));
    }
    let text = out.stdout_str();
    let secs = util::sections(&text);
    let running = util::section(&secs, "ok")
        .map(|_| normalize(util::section(&secs, "running").unwrap_or("")));
    let content = text
        .find("@@RD content\n")
        .map(|i| text[i + "@@RD content\n".len()..].to_string());
    Ok(Current { content, running })
}

#[async_trait]
impl Module for Sysctl {
    fn name(&self) -> &'static str {
        "sysctl"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("sysctl", PARAMS)?;
        let name = args.req_str_any(&["name", "key"])?;
        if !valid_name(&name) {
            return Err(ModuleError::failed(format!(
                "sysctl: invalid name {name:?}"
            )));
        }
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let present = match state.as_str() {
            "present" => true,
            "absent" => false,
            o => {
                return Err(ModuleError::failed(format!(
                    "sysctl: state must be present or absent, got {o}"
                )))
            }
        };
        let value = args.str_any(&["value", "val"]).map(|v| normalize(&v));
        if present && value.as_deref().unwrap_or("").is_empty() {
            return Err(ModuleError::failed(format!(
                "sysctl: value is required with state=present (name {name})"
            )));
        }
        let file = args
            .str("sysctl_file")
            .unwrap_or_else(|| "/etc/sysctl.conf".into());
        let reload = args.bool_or("reload", true)?;
        let sysctl_set = args.bool_or("sysctl_set", false)?;
        let ignoreerrors = args.bool_or("ignoreerrors", false)?;

        let cur = query(ctx, &name, &file).await?;
        if cur.running.is_none() && !ignoreerrors && present && (sysctl_set || reload) {
            return Err(ModuleError::failed(format!(
                "sysctl: setting {name} failed: no such key on the host (ignoreerrors skips this check)"
            )));
        }
        let before = cur.content.clone().unwrap_or_default();
        let after = if present && file_value(&before, &name) == value {
            // Already set (perhaps written `name = value`): the file is left as it is.
            before.clone()
        } else {
            edit(
                &before,
                &name,
                if present { value.as_deref() } else { None },
            )
        };
        let file_changed = after != before && !(cur.content.is_none() && after.is_empty());
        let set_needed = present && sysctl_set && cur.running.as_deref() != value.as_deref();

        let mut o = Outcome::changed(file_changed || set_needed);
        if ctx.diff_mode && file_changed {
            o = o.with_diff(&file, before, after.clone());
        }
        if ctx.check_mode || !o.changed {
            return Ok(o);
        }
        if file_changed {
            util::put_file(
                &util::without_diff(ctx),
                &PutFile {
                    dest: &file,
                    content: after.as_bytes(),
                    ..Default::default()
                },
            )
            .await?;
        }
        let mut s = Script::new();
        if set_needed {
            s.raw("sysctl -w ")
                .arg(&format!("{name}={}", value.as_deref().unwrap_or("")))
                .raw(" >/dev/null || exit $?\n");
        }
        if reload && (file_changed || set_needed) && present {
            s.raw("sysctl ");
            if ignoreerrors {
                s.raw("-e ");
            }
            s.raw("-p ").arg(&file).raw(" >/dev/null || exit $?\n");
        }
        if !s.as_str().is_empty() {
            let r = ctx.run(s.as_str()).await?;
            if r.rc != 0 {
                let mut f = Outcome::failed(format!(
                    "Failed to reload sysctl: {}",
                    r.stderr_str().trim()
                ));
                f.changed = file_changed;
                f.diff = o.diff;
                return Ok(f);
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_entries() {
        let f = "# c\nnet.a = 1\nx=2\nnet.a=3\n";
        assert_eq!(file_value(f, "net.a").as_deref(), Some("3"));
        assert_eq!(edit(f, "net.a", Some("5")), "# c\nnet.a=5\nx=2\n");
        assert_eq!(edit(f, "net.a", None), "# c\nx=2\n");
        assert_eq!(edit("", "y", Some("1")), "y=1\n");
        assert_eq!(normalize(" 1024   65000 "), "1024 65000");
        assert_eq!(normalize("yes"), "1");
    }
}
