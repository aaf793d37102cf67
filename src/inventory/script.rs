//! Executable inventory scripts: run with `--list`, they print
//! `ansible-inventory --list` JSON:
//!
//! ```json
//! {"web": {"hosts": ["w1"], "vars": {"x": 1}, "children": ["db"]},
//!  "db": ["d1"],
//!  "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}}}}
//! ```
//!
//! A group is a mapping with `hosts`/`vars`/`children`, a plain list of hosts, or (old
//! style) a mapping of variables for a host named like the group. Without
//! `_meta.hostvars` the script is asked `--host NAME` for each host.

use super::Inventory;
use crate::error::{Error, Result};
use indexmap::IndexSet;
use serde_json::Value;
use std::path::Path;

/// Runs the script and loads its output into `inv`.
pub async fn load(path: &Path, inv: &mut Inventory) -> Result<()> {
    let out = run(path, &["--list"]).await?;
    let data: Value = serde_json::from_str(&out).map_err(|e| {
        Error::usage(format!(
            "inventory script {}: output of --list is not JSON (line {}, column {}): {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(groups) = data else {
        return Err(Error::usage(format!(
            "inventory script {}: --list must print a JSON object",
            path.display()
        )));
    };
    let bad = |msg: String| Error::usage(format!("inventory script {}: {msg}", path.display()));
    let mut hosts_seen: IndexSet<String> = IndexSet::new();
    for (name, gdata) in &groups {
        if name == "_meta" {
            continue;
        }
        inv.add_group(name);
        const KEYS: [&str; 3] = ["hosts", "vars", "children"];
        let old_style =
            matches!(gdata, Value::Object(m) if !KEYS.iter().any(|k| m.contains_key(*k)));
        let (hosts, vars, children) = match gdata {
            // Old style: the value holds the variables of a host named like the group.
            Value::Object(_) if old_style => (None, Some(gdata), None),
            Value::Object(m) => (m.get("hosts"), m.get("vars"), m.get("children")),
            other => (Some(other), None, None),
        };
        if old_style {
            inv.add_host(name, Some(name));
            hosts_seen.insert(name.clone());
        }
        match hosts {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for h in list {
                    let h = scalar_name(h).ok_or_else(|| {
                        bad(format!("group `{name}` has a host that is not a name: {h}"))
                    })?;
                    inv.add_host(&h, Some(name));
                    hosts_seen.insert(h);
                }
            }
            Some(other) => {
                return Err(bad(format!(
                    "group `{name}`: hosts must be a list, found {other}"
                )))
            }
        }
        match vars {
            None | Some(Value::Null) => {}
            Some(Value::Object(vars)) => {
                for (k, v) in vars {
                    inv.set_group_var(name, k, v.clone());
                }
            }
            Some(other) => {
                return Err(bad(format!(
                    "group `{name}`: vars must be an object, found {other}"
                )))
            }
        }
        match children {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for c in list {
                    let c = scalar_name(c).ok_or_else(|| {
                        bad(format!(
                            "group `{name}` has a child that is not a name: {c}"
                        ))
                    })?;
                    inv.add_child(name, &c).map_err(|e| bad(e.to_string()))?;
                }
            }
            Some(other) => {
                return Err(bad(format!(
                    "group `{name}`: children must be a list, found {other}"
                )))
            }
        }
    }
    let meta = groups.get("_meta").and_then(|m| m.get("hostvars"));
    match meta {
        Some(Value::Object(hostvars)) => {
            for h in &hosts_seen {
                match hostvars.get(h) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(vars)) => set_vars(inv, h, vars),
                    Some(other) => {
                        return Err(bad(format!(
                            "_meta.hostvars of `{h}` must be an object, found {other}"
                        )))
                    }
                }
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "_meta.hostvars must be an object, found {other}"
            )))
        }
        None => {
            for h in &hosts_seen {
                let out = run(path, &["--host", h]).await?;
                let vars: Value =
                    serde_json::from_str(if out.trim().is_empty() { "{}" } else { &out })
                        .map_err(|e| bad(format!("output of --host {h} is not JSON: {e}")))?;
                match vars {
                    Value::Object(vars) => set_vars(inv, h, &vars),
                    other => {
                        return Err(bad(format!(
                            "--host {h} must print a JSON object, found {other}"
                        )))
                    }
                }
            }
        }
    }
    Ok(())
}

fn set_vars(inv: &mut Inventory, host: &str, vars: &serde_json::Map<String, Value>) {
    for (k, v) in vars {
        inv.set_host_var(host, k, v.clone());
    }
}

fn scalar_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Runs the script with `args`; its stdout, or an error with its stderr. Output over
/// [`crate::yaml::MAX_INPUT_BYTES`] is refused (the script is not waited for).
async fn run(path: &Path, args: &[&str]) -> Result<String> {
    use std::process::Stdio;
    let cannot = |e| Error::io(format!("cannot run inventory script {}", path.display()), e);
    let mut child = tokio::process::Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(cannot)?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::usage(format!(
            "inventory script {}: no output pipes",
            path.display()
        )));
    };
    let (out, err) = tokio::join!(
        read_capped(stdout, crate::yaml::MAX_INPUT_BYTES, true),
        read_capped(stderr, 64 * 1024, false)
    );
    let (out, too_much) = out.map_err(cannot)?;
    if too_much {
        let _ = child.kill().await;
        return Err(crate::yaml::too_large(format_args!(
            "inventory script {} {}: output",
            path.display(),
            args.join(" ")
        )));
    }
    let (err, _) = err.map_err(cannot)?;
    let status = child.wait().await.map_err(cannot)?;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&err);
        return Err(Error::usage(format!(
            "inventory script {} {} failed ({}): {}",
            path.display(),
            args.join(" "),
            status,
            stderr.trim()
        )));
    }
    String::from_utf8(out).map_err(|_| {
        Error::usage(format!(
            "inventory script {}: output is not UTF-8",
            path.display()
        ))
    })
}

/// Reads `r` to its end keeping the first `cap` bytes; says whether more came. With
/// `stop`, returns as soon as the cap is passed (dropping the pipe).
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(
    mut r: R,
    cap: usize,
    stop: bool,
) -> std::io::Result<(Vec<u8>, bool)> {
    use tokio::io::AsyncReadExt;
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut over = false;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok((kept, over));
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        if n > room {
            over = true;
            if stop {
                return Ok((kept, over));
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        let p = dir.join("inv.sh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[tokio::test]
    async fn list_with_meta() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            r#"cat <<'EOF'
{"web": {"hosts": ["w1", "w2"], "vars": {"x": 1}, "children": ["db"]},
 "db": ["d1"],
 "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}}}}
EOF
"#,
        );
        let mut inv = Inventory::new();
        load(&p, &mut inv).await.unwrap();
        inv.reconcile().unwrap();
        assert_eq!(inv.group_hosts("web"), ["w1", "w2", "d1"]);
        assert_eq!(inv.hosts["w1"].vars["ansible_host"], json!("10.0.0.1"));
        assert_eq!(inv.groups["web"].vars["x"], json!(1));
    }

    #[tokio::test]
    async fn host_fallback_without_meta() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            r#"if [ "$1" = "--list" ]; then echo '{"web": ["w1"]}'; else echo "{\"who\": \"$2\"}"; fi
"#,
        );
        let mut inv = Inventory::new();
        load(&p, &mut inv).await.unwrap();
        assert_eq!(inv.hosts["w1"].vars["who"], json!("w1"));
    }

    #[tokio::test]
    async fn failures_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "echo boom >&2; exit 3\n");
        let e = load(&p, &mut Inventory::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("failed") && e.contains("boom"), "{e}");
        let p = script(dir.path(), "echo '{not json'\n");
        let e = load(&p, &mut Inventory::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("not JSON (line 1, column 2)"), "{e}");
    }

    #[tokio::test]
    async fn hosts_keep_the_order_of_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            "echo '{\"api\": [\"api-10\", \"api-2\", \"api-1\"], \"_meta\": {\"hostvars\": {}}}'\n",
        );
        let mut inv = Inventory::new();
        load(&p, &mut inv).await.unwrap();
        inv.reconcile().unwrap();
        assert_eq!(inv.group_hosts("api"), ["api-10", "api-2", "api-1"]);
        assert_eq!(inv.group_hosts("all"), ["api-10", "api-2", "api-1"]);
    }

    #[tokio::test]
    async fn huge_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "head -c 70000000 /dev/zero\n");
        let e = load(&p, &mut Inventory::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--list: output: input larger than 64 MiB"),
            "{e}"
        );
    }
}
