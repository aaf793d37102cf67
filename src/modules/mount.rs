//! The `mount` module (`ansible.posix.mount`): a filesystem's entry in fstab and,
//! for `mounted`/`unmounted`/`remounted`/`absent`, its mount state.
//!
//! The fstab and `/proc/mounts` are read in one exchange; the new fstab is computed on
//! the controller as ansible-core's `set_mount`/`unset_mount` do (the line for `path`
//! gets `src fstype opts dump passno`, spaces escaped as `\040`; a missing line is
//! appended; `absent` drops it) and written with [`util::apply_edit`] (atomic, only when
//! it differs). Mounting runs `mount`/`umount` on the host (a container without
//! CAP_SYS_ADMIN refuses: the task then fails with mount's own message). Check mode
//! predicts; diff mode shows the fstab.

use super::util::{self, Attrs, Edit};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Param};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Mount;

const PARAMS: &[&str] = &[
    "path", "name", "src", "fstype", "opts", "dump", "passno", "state", "fstab", "boot", "backup",
];
const STATES: &[&str] = &[
    "present",
    "absent",
    "absent_from_fstab",
    "mounted",
    "unmounted",
    "remounted",
];
const SPEC: &[Param] = &[
    Param::new("state").required().choices(STATES),
    Param::new("opts").default("defaults"),
    Param::new("dump").default("0"),
    Param::new("passno").default("0"),
    Param::new("fstab").default("/etc/fstab"),
    Param::new("boot").default("true"),
];

/// Escapes a field as fstab wants it.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012")
}

/// The fields of the wanted entry (escaped).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub src: String,
    pub path: String,
    pub fstype: String,
    pub opts: String,
    pub dump: String,
    pub passno: String,
}

/// The new fstab: `Some(entry)` sets the line for its path, `None` removes the lines
/// for `path`.
pub fn edit(content: &str, path: &str, want: Option<&Entry>) -> String {
    let mut out = String::new();
    let mut found = false;
    for line in content.split_inclusive('\n') {
        let f: Vec<&str> = line.split_whitespace().collect();
        if line.trim_start().starts_with('#') || f.len() < 4 || f[1] != path {
            out.push_str(line);
            continue;
        }
        let Some(w) = want else {
            continue; // absent: dropped
        };
        if found {
            out.push_str(line);
            continue;
        }
        found = true;
        let cur = [
            f[0],
            f[2],
            f[3],
            f.get(4).copied().unwrap_or("0"),
            f.get(5).copied().unwrap_or("0"),
        ];
        let new = [w.src.as_str(), &w.fstype, &w.opts, &w.dump, &w.passno];
        if cur == new {
            out.push_str(line);
        } else {
            out.push_str(&format!(
                "{} {} {} {} {} {}\n",
                w.src, w.path, w.fstype, w.opts, w.dump, w.passno
            ));
        }
    }
    if let (Some(w), false) = (want, found) {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "{} {} {} {} {} {}\n",
            w.src, w.path, w.fstype, w.opts, w.dump, w.passno
        ));
    }
    out
}

/// Whether `/proc/mounts` text has `path` mounted.
fn is_mounted(mounts: &str, path: &str) -> bool {
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(path))
}

#[async_trait]
impl Module for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &[
            "name",
            "src",
            "fstype",
            "opts",
            "dump",
            "passno",
            "fstab",
            "boot",
            "backup_file",
        ]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("mount", PARAMS)?;
        let path = args.req_str_any(&["path", "name"])?;
        let path = if path.len() > 1 {
            path.trim_end_matches('/').to_string()
        } else {
            path
        };
        let state = args.req_str("state")?;
        if !STATES.contains(&state.as_str()) {
            return Err(ModuleError::failed(format!(
                "value of state must be one of: {}, got: {state}",
                STATES.join(", ")
            )));
        }
        let fstab = args.str("fstab").unwrap_or_else(|| "/etc/fstab".into());
        let boot = args.bool_or("boot", true)?;
        let mut opts = args.str("opts").unwrap_or_else(|| "defaults".into());
        if !boot && !opts.split(',').any(|o| o == "noauto") {
            opts.push_str(",noauto");
        }
        let sets_entry = matches!(state.as_str(), "present" | "mounted");
        let want = if sets_entry {
            let (Some(src), Some(fstype)) = (args.str("src"), args.str("fstype")) else {
                return Err(ModuleError::failed(format!(
                    "state is {state} but all of the following are missing: {}",
                    [("src", args.has("src")), ("fstype", args.has("fstype"))]
                        .iter()
                        .filter(|(_, h)| !h)
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            Some(Entry {
                src: escape(&src),
                path: escape(&path),
                fstype: escape(&fstype),
                opts: escape(&opts),
                dump: args.str("dump").unwrap_or_else(|| "0".into()),
                passno: args.str("passno").unwrap_or_else(|| "0".into()),
            })
        } else {
            None
        };
        let target = util::read_for_edit(ctx, &fstab, true, false, &Attrs::default()).await?;
        let mounts = ctx.run("cat /proc/mounts 2>/dev/null").await?.stdout_str();
        let mounted = is_mounted(&mounts, &escape(&path));
        let before =
            String::from_utf8_lossy(target.content.as_deref().unwrap_or_default()).into_owned();
        let after = match state.as_str() {
            "present" | "mounted" => edit(&before, &escape(&path), want.as_ref()),
            "absent" | "absent_from_fstab" => edit(&before, &escape(&path), None),
            _ => before.clone(),
        };
        let fstab_changed = after != before;
        let mut o = if fstab_changed {
            util::apply_edit(
                ctx,
                &Edit {
                    path: &fstab,
                    target: &target,
                    after: after.as_bytes(),
                    attrs: Attrs::default(),
                    backup: args.bool_or("backup", false)?,
                    validate: None,
                    msg: String::new(),
                },
            )
            .await?
        } else {
            super::Outcome::ok()
        };
        o.data.remove("msg");
        o.data.remove("path");
        o.msg = None;
        // the mount state
        let action: Option<&str> = match state.as_str() {
            "mounted" if !mounted => Some("mount"),
            "mounted" if fstab_changed => Some("remount"),
            "remounted" if mounted => Some("remount"),
            "remounted" => Some("mount"),
            "unmounted" | "absent" if mounted => Some("umount"),
            _ => None,
        };
        if let Some(a) = action {
            o.changed = true;
            if !ctx.check_mode {
                let mut s = Script::new();
                match a {
                    "mount" => {
                        s.raw("mkdir -p -- ").arg(&path).raw(" && mount ");
                        if fstab != "/etc/fstab" {
                            s.raw("-T ").arg(&fstab).raw(" ");
                        }
                        s.raw("-- ").arg(&path);
                    }
                    "remount" => {
                        s.raw("mount -o remount -- ").arg(&path);
                    }
                    _ => {
                        s.raw("umount -- ").arg(&path);
                    }
                }
                let out = ctx.run(s.as_str()).await?;
                if out.rc != 0 {
                    return Err(ModuleError::failed(format!(
                        "Error {a}ing {path}: {}",
                        out.stderr_str().trim()
                    )));
                }
            }
        }
        if state == "absent" && mounted && !ctx.check_mode {
            let mut s = Script::new();
            s.raw("rmdir -- ").arg(&path).raw(" 2>/dev/null; true");
            ctx.run(s.as_str()).await?;
        }
        let e = want.clone();
        Ok(o.with("name", path)
            .with(
                "src",
                e.as_ref()
                    .map(|e| e.src.clone())
                    .or_else(|| args.str("src"))
                    .unwrap_or_default(),
            )
            .with(
                "fstype",
                e.as_ref()
                    .map(|e| e.fstype.clone())
                    .or_else(|| args.str("fstype"))
                    .unwrap_or_default(),
            )
            .with("opts", opts)
            .with(
                "dump",
                e.as_ref()
                    .map(|e| e.dump.clone())
                    .unwrap_or_else(|| "0".into()),
            )
            .with(
                "passno",
                e.as_ref()
                    .map(|e| e.passno.clone())
                    .unwrap_or_else(|| "0".into()),
            )
            .with("fstab", fstab)
            .with("boot", boot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(src: &str, path: &str, opts: &str) -> Entry {
        Entry {
            src: src.into(),
            path: path.into(),
            fstype: "ext4".into(),
            opts: opts.into(),
            dump: "0".into(),
            passno: "2".into(),
        }
    }

    #[test]
    fn sets_and_removes_lines() {
        let base = "# fstab\nproc /proc proc defaults 0 0\n";
        let e = entry("/dev/sdb1", "/data", "defaults");
        let a = edit(base, "/data", Some(&e));
        assert_eq!(a, format!("{base}/dev/sdb1 /data ext4 defaults 0 2\n"));
        assert_eq!(edit(&a, "/data", Some(&e)), a, "unchanged");
        let e2 = entry("/dev/sdb1", "/data", "noatime");
        assert_eq!(
            edit(&a, "/data", Some(&e2)),
            format!("{base}/dev/sdb1 /data ext4 noatime 0 2\n")
        );
        assert_eq!(edit(&a, "/data", None), base);
        assert_eq!(escape("/mnt/my disk"), "/mnt/my\\040disk");
        // a line written without dump/passno equals one with 0 0
        let short = "/dev/sdc /x ext4 defaults\n";
        let mut e3 = entry("/dev/sdc", "/x", "defaults");
        e3.passno = "0".into();
        assert_eq!(edit(short, "/x", Some(&e3)), short);
    }
}
