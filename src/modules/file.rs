//! The `file` module: makes a path be a file, directory, symlink or hard link with the
//! given owner/group/mode, touches it, or removes it (`state: absent`).
//!
//! One exchange per task: the script finds what is at the path (`RD_PREV ...`), does
//! what the wanted state needs (nothing in check mode), applies the attributes
//! ([`util::attrs_script`]) and prints the final attributes (`RD_FINAL ...`). Changes
//! are reported by marker lines (`RD_CHANGED`, `RD_ATTRS_CHANGED`); failures by exit
//! status 4 with Ansible's message on stderr.

use super::util::{self, Attrs};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    File,
    Directory,
    Link,
    Hard,
    Touch,
    Absent,
}

impl State {
    fn parse(s: &str) -> Result<Self, ModuleError> {
        Ok(match s {
            "file" => State::File,
            "directory" => State::Directory,
            "link" => State::Link,
            "hard" => State::Hard,
            "touch" => State::Touch,
            "absent" => State::Absent,
            other => {
                return Err(ModuleError::failed(format!(
                    "value of state must be one of: absent, directory, file, hard, link, touch, got: {other}"
                )))
            }
        })
    }
}

/// `modification_time` / `access_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Time {
    Preserve,
    Now,
    /// `YYYY-MM-DD HH:MM:SS` (the host's local time), as `date -d` takes it.
    At(String),
}

impl Time {
    fn parse(v: Option<String>, default: Time) -> Result<Self, ModuleError> {
        let Some(v) = v else { return Ok(default) };
        match v.as_str() {
            "preserve" => Ok(Time::Preserve),
            "now" => Ok(Time::Now),
            s => {
                // Ansible's default format: %Y%m%d%H%M.%S
                let b = s.as_bytes();
                let ok = b.len() == 15
                    && b[12] == b'.'
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| i == 12 || c.is_ascii_digit());
                if !ok {
                    return Err(ModuleError::failed(format!(
                        "Error while obtaining timestamp for time {s} using format %Y%m%d%H%M.%S"
                    )));
                }
                Ok(Time::At(format!(
                    "{}-{}-{} {}:{}:{}",
                    &s[0..4],
                    &s[4..6],
                    &s[6..8],
                    &s[8..10],
                    &s[10..12],
                    &s[13..15]
                )))
            }
        }
    }
}

/// Everything the task asks for.
#[derive(Debug, Clone)]
struct Spec {
    path: String,
    state: Option<State>,
    src: Option<String>,
    attrs: Attrs,
    recurse: bool,
    force: bool,
    follow: bool,
    mtime: Time,
    atime: Time,
}

/// Appends the code that sets `mtime`/`atime` on `$rd_p` (or predicts it in check mode).
fn times_script(s: &mut Script, spec: &Spec, check: bool) {
    let h = if spec.follow { "" } else { "-h " };
    for (t, flag, fmt) in [(&spec.mtime, "-m", "%Y"), (&spec.atime, "-a", "%X")] {
        match t {
            Time::Preserve => {}
            Time::Now => {
                s.raw("echo RD_CHANGED\n");
                if !check {
                    s.raw(&format!("touch {h}{flag} -- \"$rd_p\" || exit 3\n"));
                }
            }
            Time::At(when) => {
                s.raw("rd_want=$(date -d ")
                    .arg(when)
                    .raw(" +%s) || exit 3\n");
                s.raw(&format!("if [ \"$(stat -L -c {fmt} \"$rd_p\")\" != \"$rd_want\" ]; then echo RD_CHANGED; "));
                if !check {
                    s.raw(&format!(
                        "touch {h}{flag} -d \"@$rd_want\" -- \"$rd_p\" || exit 3; "
                    ));
                }
                s.raw("fi\n");
            }
        }
    }
}

/// Appends the attribute code for `$rd_p` (owner, group, mode; symbolic modes are
/// predicted in check mode too), recursively with `recurse`.
fn attrs(s: &mut Script, spec: &Spec, check: bool, follow: bool) {
    util::attrs_script_known(s, "rd_p", &spec.attrs, check, follow, Some("rd_b"));
    if check {
        if let Some(m) = &spec.attrs.mode {
            util::symbolic_mode_check_script(s, "rd_p", m, follow);
        }
    }
}

fn recurse_script(s: &mut Script, spec: &Spec, check: bool) {
    let a = &spec.attrs;
    if a.is_empty() {
        return;
    }
    if check {
        let mut conds: Vec<String> = Vec::new();
        if let Some(o) = &a.owner {
            conds.push(format!("! -user {}", crate::shell::quote(o)));
        }
        if let Some(g) = &a.group {
            conds.push(format!("! -group {}", crate::shell::quote(g)));
        }
        if let Some(m) = a
            .mode
            .as_ref()
            .filter(|m| m.bytes().all(|b| b.is_ascii_digit()))
        {
            conds.push(format!(
                "\\( ! -type l ! -perm {} \\)",
                crate::shell::quote(m)
            ));
        }
        if !conds.is_empty() {
            s.raw("[ -n \"$(find \"$rd_p\" -mindepth 1 \\( ")
                .raw(&conds.join(" -o "))
                .raw(" \\) -print -quit 2>/dev/null)\" ] && echo RD_ATTRS_CHANGED\n");
        }
        return;
    }
    s.raw("rd_rb=$(ls -lnRA -- \"$rd_p\" | cksum)\n");
    if let Some(o) = &a.owner {
        s.raw("chown -R -h ")
            .arg(o)
            .raw(" -- \"$rd_p\" || exit 3\n");
    }
    if let Some(g) = &a.group {
        s.raw("chgrp -R -h ")
            .arg(g)
            .raw(" -- \"$rd_p\" || exit 3\n");
    }
    if let Some(m) = a.mode.as_ref().filter(|m| *m != "preserve") {
        s.raw("chmod -R ").arg(m).raw(" -- \"$rd_p\" || exit 3\n");
    }
    s.raw("[ \"$rd_rb\" = \"$(ls -lnRA -- \"$rd_p\" | cksum)\" ] || echo RD_ATTRS_CHANGED\n");
}

/// Sets `rd_prev` to what `$1` is (no subshell: a builtin-only function).
const PREV: &str = "rd_state() { if [ -L \"$1\" ]; then rd_prev=link; elif [ -d \"$1\" ]; then rd_prev=directory; elif [ -e \"$1\" ]; then rd_prev=file; else rd_prev=absent; fi; }\n";

fn fail(s: &mut Script, msg_shell: &str) {
    // `msg_shell` is rdeploy's own text around "$rd_p"; printed with printf %s.
    s.raw("{ printf '%s\\n' ")
        .raw(msg_shell)
        .raw(" >&2; exit 4; }");
}

/// Builds the one script for the task.
fn build(spec: &Spec, check: bool) -> String {
    let mut s = Script::new();
    s.raw(PREV);
    s.raw("rd_p=").arg(&spec.path).raw("\n");
    s.raw("rd_state \"$rd_p\"\necho \"RD_PREV $rd_prev\"\n");
    // `rd_b`: one `stat` of a path that is not a link (so with or without -L), reused
    // for the attribute checks and the final report while nothing changes it (every
    // change below clears it: see `invalidating`).
    s.raw("rd_b=\ncase $rd_prev in\n  absent) ;;\n  link) echo \"RD_BEFORE $(stat -c '%a|%U|%G' -- \"$rd_p\")\" ;;\n");
    s.raw("  *) rd_b=$(stat -c '%F|%a|%U|%G|%u|%g|%s' -- \"$rd_p\" 2>/dev/null); rd_t=${rd_b#*|}; echo \"RD_BEFORE ${rd_t%|*|*|*}\" ;;\nesac\n");
    let follow_link = |s: &mut Script| {
        s.raw("if [ \"$rd_prev\" = link ]; then rd_r=$(readlink -f -- \"$rd_p\") && [ -n \"$rd_r\" ] && rd_p=$rd_r && rd_b= && rd_state \"$rd_p\"; fi\n");
    };
    let mut final_follow = spec.follow;
    match spec.state {
        Some(State::Absent) => {
            s.raw("if [ \"$rd_prev\" != absent ]; then echo RD_CHANGED; ");
            if !check {
                s.raw("rm -rf -- \"$rd_p\" || exit 3; ");
            }
            s.raw("fi\nexit 0\n");
            return invalidating(s.into_string());
        }
        None | Some(State::File) => {
            if spec.follow {
                follow_link(&mut s);
            }
            s.raw("case $rd_prev in absent) ");
            fail(&mut s, "\"file ($rd_p) is absent, cannot continue\"");
            s.raw(";; ");
            if spec.state == Some(State::File) {
                s.raw("directory|link) ");
                fail(&mut s, "\"file ($rd_p) is $rd_prev, cannot continue\"");
                s.raw(";; ");
            }
            s.raw("esac\n");
            attrs(&mut s, spec, check, spec.follow);
            if spec.recurse {
                s.raw("if [ -d \"$rd_p\" ]; then\n");
                recurse_script(&mut s, spec, check);
                s.raw("fi\n");
            }
            times_script(&mut s, spec, check);
        }
        Some(State::Directory) => {
            if spec.follow {
                follow_link(&mut s);
            }
            s.raw("if [ \"$rd_prev\" = absent ]; then\n  echo RD_CHANGED\n");
            if check {
                s.raw("  exit 0\n");
            } else {
                s.raw("  rd_todo=; rd_c=$rd_p\n");
                s.raw("  while [ ! -e \"$rd_c\" ] && [ ! -L \"$rd_c\" ]; do rd_todo=\"$rd_c\n$rd_todo\"; case $rd_c in */*) rd_n=${rd_c%/*}; rd_n=${rd_n:-/};; *) rd_n=.;; esac; [ \"$rd_n\" = \"$rd_c\" ] && break; rd_c=$rd_n; done\n");
                s.raw("  mkdir -p -- \"$rd_p\" || exit 3\n");
                if !spec.attrs.is_empty() {
                    // Directories it just made: the attributes are applied, not compared
                    // (the task changed already), so no `stat`.
                    let mut inner = Script::new();
                    util::set_attrs_script(&mut inner, "rd_p", &spec.attrs);
                    s.raw("  rd_top=$rd_p\n  rd_rest=$rd_todo\n  while [ -n \"$rd_rest\" ]; do rd_p=${rd_rest%%\n*}; rd_rest=${rd_rest#*\n}; [ -n \"$rd_p\" ] || continue\n");
                    s.raw(inner.as_str());
                    s.raw("  done\n  rd_p=$rd_top\n");
                }
                s.raw("elif [ \"$rd_prev\" != directory ]; then ");
                fail(&mut s, "\"$rd_p already exists as a $rd_prev\"");
                // `:` keeps the branch valid when there are no attributes to check
                s.raw("\nelse\n  :\n");
                attrs(&mut s, spec, check, true);
            }
            if check {
                s.raw("elif [ \"$rd_prev\" != directory ]; then ");
                fail(&mut s, "\"$rd_p already exists as a $rd_prev\"");
                // `:` keeps the branch valid when there are no attributes to check
                s.raw("\nelse\n  :\n");
                attrs(&mut s, spec, check, true);
            }
            s.raw("fi\n");
            if spec.recurse {
                recurse_script(&mut s, spec, check);
            }
            times_script(&mut s, spec, check);
        }
        Some(State::Touch) => {
            s.raw("if [ \"$rd_prev\" = absent ]; then echo RD_CHANGED; ");
            if check {
                s.raw("exit 0; ");
            } else {
                s.raw(": >> \"$rd_p\" || exit 3; ");
            }
            s.raw("fi\n");
            if spec.follow {
                follow_link(&mut s);
            }
            attrs(&mut s, spec, check, spec.follow);
            times_script(&mut s, spec, check);
        }
        Some(State::Link) => {
            final_follow = false;
            match &spec.src {
                Some(src) => {
                    s.raw("rd_src=").arg(src).raw("\n");
                }
                None => {
                    s.raw(
                        "if [ \"$rd_prev\" = link ]; then rd_src=$(readlink -- \"$rd_p\"); else ",
                    );
                    fail(&mut s, "\"src is required for creating new symlinks\"");
                    s.raw("; fi\n");
                }
            }
            s.raw("case $rd_src in /*) rd_abs=$rd_src;; *) rd_abs=\"$(dirname -- \"$rd_p\")/$rd_src\";; esac\n");
            if !spec.force {
                s.raw("[ -e \"$rd_abs\" ] || ");
                fail(&mut s, "\"src file does not exist, use \\\"force=yes\\\" if you really want to create the link: $rd_abs\"");
                s.raw("\n");
            }
            let replace = if check {
                "echo RD_CHANGED"
            } else {
                "echo RD_CHANGED; rd_tmp=\"$(dirname -- \"$rd_p\")/.rdeploy.$$.lnk\"; rm -f -- \"$rd_tmp\"; ln -s -- \"$rd_src\" \"$rd_tmp\" && mv -Tf -- \"$rd_tmp\" \"$rd_p\" || exit 3"
            };
            s.raw("case $rd_prev in\n");
            s.raw(&format!(
                "  absent) echo RD_CHANGED; {} ;;\n",
                if check {
                    ":"
                } else {
                    "ln -s -- \"$rd_src\" \"$rd_p\" || exit 3"
                }
            ));
            s.raw(&format!(
                "  link) [ \"$(readlink -- \"$rd_p\")\" = \"$rd_src\" ] || {{ {replace}; }} ;;\n"
            ));
            if spec.force {
                s.raw(&format!("  file) {replace} ;;\n"));
                s.raw("  directory) if [ -n \"$(ls -A -- \"$rd_p\")\" ]; then ");
                fail(
                    &mut s,
                    "\"the directory $rd_p is not empty, refusing to convert it\"",
                );
                s.raw(&format!(
                    "; fi; echo RD_CHANGED; {} ;;\n",
                    if check {
                        ":"
                    } else {
                        "rmdir -- \"$rd_p\" && ln -s -- \"$rd_src\" \"$rd_p\" || exit 3"
                    }
                ));
            } else {
                s.raw("  file|directory) ");
                fail(
                    &mut s,
                    "\"refusing to convert from $rd_prev to symlink for $rd_p\"",
                );
                s.raw(" ;;\n");
            }
            s.raw("esac\n");
            if check {
                s.raw("[ \"$rd_prev\" = link ] || exit 0\n");
            }
            let link_attrs = Attrs {
                mode: if spec.follow {
                    spec.attrs.mode.clone()
                } else {
                    None
                },
                ..spec.attrs.clone()
            };
            util::attrs_script(
                &mut s,
                "rd_p",
                &Attrs {
                    mode: None,
                    ..link_attrs.clone()
                },
                check,
                false,
            );
            if let Some(m) = &link_attrs.mode {
                let only_mode = Attrs {
                    mode: Some(m.clone()),
                    ..Default::default()
                };
                s.raw("if [ -e \"$rd_p\" ]; then\n");
                util::attrs_script(&mut s, "rd_p", &only_mode, check, true);
                s.raw("fi\n");
            }
        }
        Some(State::Hard) => {
            let Some(src) = &spec.src else {
                let mut f = Script::new();
                fail(&mut f, "\"src is required for creating new hardlinks\"");
                return f.into_string();
            };
            s.raw("rd_src=").arg(src).raw("\n");
            s.raw("case $rd_src in /*) rd_abs=$rd_src;; *) rd_abs=\"$(dirname -- \"$rd_p\")/$rd_src\";; esac\n");
            s.raw("[ -e \"$rd_abs\" ] || ");
            fail(&mut s, "\"src does not exist: $rd_abs\"");
            s.raw("\n");
            let replace = if check {
                "echo RD_CHANGED"
            } else {
                "echo RD_CHANGED; rd_tmp=\"$(dirname -- \"$rd_p\")/.rdeploy.$$.lnk\"; rm -f -- \"$rd_tmp\"; ln -- \"$rd_abs\" \"$rd_tmp\" && mv -Tf -- \"$rd_tmp\" \"$rd_p\" || exit 3"
            };
            s.raw("case $rd_prev in\n");
            s.raw(&format!(
                "  absent) echo RD_CHANGED; {} ;;\n",
                if check {
                    "exit 0"
                } else {
                    "ln -- \"$rd_abs\" \"$rd_p\" || exit 3"
                }
            ));
            s.raw(&format!(
                "  file|link) [ \"$rd_p\" -ef \"$rd_abs\" ] && [ ! -L \"$rd_p\" ] || {} ;;\n",
                if spec.force {
                    format!("{{ {replace}; }}")
                } else {
                    let mut f = Script::new();
                    fail(
                        &mut f,
                        "\"refusing to convert from $rd_prev to hard link for $rd_p\"",
                    );
                    f.into_string()
                }
            ));
            s.raw("  directory) ");
            fail(
                &mut s,
                "\"refusing to convert from directory to hard link for $rd_p\"",
            );
            s.raw(" ;;\nesac\n");
            attrs(&mut s, spec, check, true);
        }
    }
    let st = if final_follow { "stat -L" } else { "stat" };
    s.raw(&format!(
        "[ -n \"$rd_b\" ] || rd_b=$({st} -c '%F|%a|%U|%G|%u|%g|%s' -- \"$rd_p\" 2>/dev/null)\necho \"RD_FINAL $rd_b\"\n"
    ));
    s.raw("echo \"RD_PATH $rd_p\"\n");
    invalidating(s.into_string())
}

/// Every place that reports a change (or a change it would make) also forgets the
/// `stat` kept in `rd_b`: after it, the path must be looked at again.
fn invalidating(script: String) -> String {
    script
        .replace("echo RD_CHANGED", "{ rd_b=; echo RD_CHANGED; }")
        .replace("echo RD_ATTRS_CHANGED", "{ rd_b=; echo RD_ATTRS_CHANGED; }")
}

/// What the script reported.
#[derive(Debug, Default)]
struct Report {
    prev: String,
    before: Option<String>,
    final_: Option<Vec<String>>,
    real_path: Option<String>,
    changed: bool,
}

fn parse(stdout: &str) -> Report {
    let mut r = Report::default();
    for line in stdout.lines() {
        if let Some(p) = line.strip_prefix("RD_PREV ") {
            r.prev = p.to_string();
        } else if let Some(b) = line.strip_prefix("RD_BEFORE ") {
            r.before = Some(b.to_string());
        } else if let Some(f) = line.strip_prefix("RD_FINAL ") {
            if !f.is_empty() {
                r.final_ = Some(f.split('|').map(str::to_string).collect());
            }
        } else if let Some(p) = line.strip_prefix("RD_PATH ") {
            r.real_path = Some(p.to_string());
        } else if line == "RD_CHANGED" || line == "RD_ATTRS_CHANGED" {
            r.changed = true;
        }
    }
    r
}

fn kind_of(f: &str) -> &'static str {
    match f {
        "directory" => "directory",
        "symbolic link" => "link",
        "regular file" | "regular empty file" => "file",
        _ => "file",
    }
}

pub struct File;

#[async_trait]
impl Module for File {
    fn name(&self) -> &'static str {
        "file"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path",
            "dest",
            "name",
            "state",
            "src",
            "owner",
            "group",
            "mode",
            "recurse",
            "force",
            "follow",
            "modification_time",
            "modification_time_format",
            "access_time",
            "access_time_format",
            "unsafe_writes",
            "attributes",
            "attr",
            "seuser",
            "serole",
            "setype",
            "selevel",
            "_diff_peek",
            "_original_basename",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let path = util::expand_user(ctx, &args.req_str_any(&["path", "dest", "name"])?).await?;
        let mut state = args.str("state").map(|s| State::parse(&s)).transpose()?;
        let recurse = args.bool_or("recurse", false)?;
        if state.is_none() && recurse {
            state = Some(State::Directory);
        }
        if recurse && state != Some(State::Directory) && state.is_some() {
            return Err(ModuleError::failed(format!(
                "recurse option requires state to be 'directory', got {:?}",
                args.str("state").unwrap_or_default()
            )));
        }
        for k in ["modification_time_format", "access_time_format"] {
            if let Some(f) = args.str(k) {
                if f != "%Y%m%d%H%M.%S" {
                    return Err(ModuleError::failed(format!(
                        "{k}: only the default format %Y%m%d%H%M.%S is supported"
                    )));
                }
            }
        }
        let touch = state == Some(State::Touch);
        let spec = Spec {
            path: path.clone(),
            state,
            src: args.str("src"),
            attrs: Attrs::from_args(args)?,
            recurse,
            force: args.bool_or("force", false)?,
            follow: args.bool_or("follow", true)?,
            mtime: Time::parse(
                args.str("modification_time"),
                if touch { Time::Now } else { Time::Preserve },
            )?,
            atime: Time::parse(
                args.str("access_time"),
                if touch { Time::Now } else { Time::Preserve },
            )?,
        };
        let script = build(&spec, ctx.check_mode);
        let out = ctx.run_own(&script).await?;
        if out.rc != 0 {
            let err = out.stderr_str();
            let msg = if out.rc == 4 {
                err.trim().to_string()
            } else {
                format!("{} (rc={})", err.trim(), out.rc)
            };
            return Ok(Outcome::failed(msg).with("path", path));
        }
        let r = parse(&out.stdout_str());
        let final_state = match (spec.state, &r.final_) {
            (Some(State::Absent), _) => "absent".to_string(),
            (Some(State::Hard), _) => "hard".to_string(),
            (_, Some(f)) => kind_of(&f[0]).to_string(),
            (Some(State::Directory), None) => "directory".into(),
            (Some(State::Link), None) => "link".into(),
            _ => "file".into(),
        };
        let mut o = Outcome::changed(r.changed)
            .with("path", path.clone())
            .with("state", final_state.clone());
        if let Some(f) = &r.final_ {
            let mode = u32::from_str_radix(&f[1], 8)
                .map(|m| format!("{m:04o}"))
                .unwrap_or_else(|_| f[1].clone());
            o = o
                .with("mode", mode)
                .with("owner", f[2].clone())
                .with("group", f[3].clone())
                .with(
                    "uid",
                    f[4].parse::<u64>().map(Value::from).unwrap_or(Value::Null),
                )
                .with(
                    "gid",
                    f[5].parse::<u64>().map(Value::from).unwrap_or(Value::Null),
                )
                .with(
                    "size",
                    f[6].parse::<u64>().map(Value::from).unwrap_or(Value::Null),
                );
        }
        if matches!(spec.state, Some(State::Link) | Some(State::Hard)) {
            o = o.with("dest", path.clone());
            if let Some(src) = &spec.src {
                o = o.with("src", src.clone());
            }
        }
        if ctx.diff_mode && r.changed {
            let describe = |state: &str, attrs: Option<&str>| {
                let mut t = format!("path: {path}\nstate: {state}\n");
                if let Some(a) = attrs {
                    let p: Vec<&str> = a.split('|').collect();
                    if p.len() >= 3 {
                        t.push_str(&format!(
                            "mode: {}\nowner: {}\ngroup: {}\n",
                            p[0], p[1], p[2]
                        ));
                    }
                }
                t
            };
            let before = describe(&r.prev, r.before.as_deref());
            let after = match &r.final_ {
                Some(f) if !ctx.check_mode => {
                    describe(&final_state, Some(&format!("{}|{}|{}", f[1], f[2], f[3])))
                }
                _ => {
                    let mut t = format!("path: {path}\nstate: {final_state}\n");
                    if let Some(m) = &spec.attrs.mode {
                        t.push_str(&format!("mode: {m}\n"));
                    }
                    if let Some(u) = &spec.attrs.owner {
                        t.push_str(&format!("owner: {u}\n"));
                    }
                    if let Some(g) = &spec.attrs.group {
                        t.push_str(&format!("group: {g}\n"));
                    }
                    t
                }
            };
            o = o.with_diff(&path, before, after);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            Time::parse(Some("202401021530.45".into()), Time::Preserve).unwrap(),
            Time::At("2024-01-02 15:30:45".into())
        );
        assert_eq!(Time::parse(None, Time::Now).unwrap(), Time::Now);
        assert!(Time::parse(Some("2024-01-02".into()), Time::Now).is_err());
    }

    #[test]
    fn report() {
        let r = parse("RD_PREV file\nRD_BEFORE 644|root|root\nRD_ATTRS_CHANGED\nRD_FINAL regular file|600|root|root|0|0|3\nRD_PATH /x\n");
        assert_eq!(r.prev, "file");
        assert!(r.changed);
        assert_eq!(r.final_.unwrap()[1], "600");
    }

    #[test]
    fn user_values_are_quoted() {
        let spec = Spec {
            path: "/tmp/a b$(x)".into(),
            state: Some(State::Link),
            src: Some("/x'y".into()),
            attrs: Attrs {
                owner: Some("we ird".into()),
                ..Default::default()
            },
            recurse: false,
            force: true,
            follow: true,
            mtime: Time::Preserve,
            atime: Time::Preserve,
        };
        let s = build(&spec, false);
        assert!(s.contains("rd_p='/tmp/a b$(x)'"));
        assert!(s.contains("rd_src='/x'\\''y'"));
        assert!(s.contains("rd_o='we ird'"));
    }
}

#[cfg(test)]
mod script_syntax {
    /// Every state's script parses with `sh -n`, with and without attributes (a
    /// directory without mode/owner once gave an empty `else` branch).
    #[test]
    fn scripts_parse_with_and_without_attributes() {
        let states = [
            super::State::Directory,
            super::State::File,
            super::State::Touch,
            super::State::Absent,
            super::State::Link,
        ];
        for state in states {
            for check in [false, true] {
                let spec = super::Spec {
                    path: "/tmp/x".into(),
                    state: Some(state),
                    src: Some("/tmp/y".into()),
                    attrs: super::Attrs::default(),
                    recurse: false,
                    force: false,
                    follow: true,
                    mtime: super::Time::Preserve,
                    atime: super::Time::Preserve,
                };
                let script = super::build(&spec, check);
                let out = std::process::Command::new("sh")
                    .args(["-n", "-c", &script])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{state:?} check={check}: {}\n{script}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
