//! The `pip` module: Python packages with the host's pip (it needs python and pip on
//! the host, unlike the rest of rdeploy; it fails clearly when they are missing).
//!
//! Exchange 1 finds pip (`virtualenv`'s, `executable`, `pip3`, `pip`, `python3 -m
//! pip`), creates the virtualenv when missing, and lists installed packages
//! (`pip list --format=freeze`). For plain `present`/`absent` requirements Rust decides
//! from that list (PEP 440-style comparisons); otherwise (latest, requirements files,
//! URLs) exchange 2 runs pip and `changed` compares the package list before and after.

use super::util::{section, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use std::cmp::Ordering;

pub struct Pip;

const PARAMS: &[&str] = &[
    "name",
    "version",
    "requirements",
    "virtualenv",
    "virtualenv_command",
    "virtualenv_python",
    "virtualenv_site_packages",
    "state",
    "executable",
    "extra_args",
    "editable",
    "chdir",
    "umask",
    "break_system_packages",
];

/// Re-joins version specifiers that a comma-separated `name` string split apart
/// (`"django>1.11,<2"` → `["django>1.11", "<2"]` → `["django>1.11,<2"]`), as Ansible does.
pub fn recover_names(parts: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        let is_spec = p.trim_start().starts_with(['<', '>', '=', '!', '~']);
        match out.last_mut() {
            Some(last) if is_spec => {
                last.push(',');
                last.push_str(p.trim());
            }
            _ => out.push(p),
        }
    }
    out
}

/// PEP 503 normalized project name.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut last_sep = false;
    for c in name.trim().chars() {
        if c == '-' || c == '_' || c == '.' {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

/// `name==version` lines of `pip freeze` → (normalized name, version).
pub fn parse_freeze(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.split_once("==")
                .map(|(n, v)| (normalize(n), v.trim().to_string()))
        })
        .collect()
}

/// Compares versions the PEP 440 way for the common cases (numeric release segments,
/// then pre/post/dev suffixes compared as text).
pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (Vec<u64>, String) {
        let v = v.trim().trim_start_matches(['v', 'V']);
        let mut nums = Vec::new();
        let mut rest = String::new();
        for (i, part) in v.split('.').enumerate() {
            let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() || !rest.is_empty() {
                rest = v.split('.').skip(i).collect::<Vec<_>>().join(".");
                break;
            }
            nums.push(digits.parse().unwrap_or(0));
            if digits.len() < part.len() {
                rest = part[digits.len()..].to_string();
                let tail: Vec<&str> = v.split('.').skip(i + 1).collect();
                if !tail.is_empty() {
                    rest = format!("{rest}.{}", tail.join("."));
                }
                break;
            }
        }
        while nums.last() == Some(&0) && nums.len() > 1 {
            nums.pop();
        }
        (nums, rest)
    };
    let (na, ra) = split(a);
    let (nb, rb) = split(b);
    match na.cmp(&nb) {
        Ordering::Equal => {}
        o => return o,
    }
    // a release without suffix sorts after its pre-releases, before its post-releases
    let rank = |r: &str| -> i32 {
        let r = r.trim_start_matches(['.', '-', '_']).to_lowercase();
        if r.is_empty() {
            0
        } else if r.starts_with("post")
            || r.starts_with("rev")
            || (r.starts_with('r') && !r.starts_with("rc"))
        {
            1
        } else {
            -1
        }
    };
    rank(&ra).cmp(&rank(&rb)).then_with(|| ra.cmp(&rb))
}

/// Whether `version` satisfies a specifier list such as `>=1.2,<2,!=1.5`.
pub fn satisfies(version: &str, spec: &str) -> bool {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|s| {
            let (op, v) = ["===", "~=", "==", "!=", ">=", "<=", ">", "<"]
                .iter()
                .find_map(|op| s.strip_prefix(op).map(|v| (*op, v.trim())))
                .unwrap_or(("==", s));
            match op {
                "===" => version == v,
                "==" | "!=" => {
                    let eq = match v.strip_suffix(".*") {
                        Some(prefix) => {
                            version == prefix || version.starts_with(&format!("{prefix}."))
                        }
                        None => cmp_versions(version, v) == Ordering::Equal,
                    };
                    (op == "==") == eq
                }
                ">=" => cmp_versions(version, v) != Ordering::Less,
                "<=" => cmp_versions(version, v) != Ordering::Greater,
                ">" => cmp_versions(version, v) == Ordering::Greater,
                "<" => cmp_versions(version, v) == Ordering::Less,
                "~=" => {
                    let parts: Vec<&str> = v.split('.').collect();
                    let prefix = parts[..parts.len().saturating_sub(1).max(1)].join(".");
                    cmp_versions(version, v) != Ordering::Less
                        && (version == prefix || version.starts_with(&format!("{prefix}.")))
                }
                _ => false,
            }
        })
}

/// A requirement `name[extras]<spec>`; `None` for URLs, paths and other forms pip
/// alone can judge.
pub fn split_requirement(req: &str) -> Option<(String, String)> {
    let r = req.trim();
    if r.contains("://")
        || r.starts_with('.')
        || r.starts_with('/')
        || r.ends_with(".whl")
        || r.ends_with(".tar.gz")
        || r.contains(';')
        || r.contains('@')
    {
        return None;
    }
    let end = r
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(r.len());
    let name = &r[..end];
    if name.is_empty() {
        return None;
    }
    let mut rest = r[end..].trim();
    if rest.starts_with('[') {
        rest = rest.split_once(']').map(|(_, x)| x.trim()).unwrap_or("");
    }
    Some((normalize(name), rest.to_string()))
}

#[async_trait]
impl Module for Pip {
    fn name(&self) -> &'static str {
        "pip"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("pip", PARAMS)?;
        let mut names = recover_names(args.list("name").unwrap_or_default());
        let requirements = args.str("requirements");
        if names.is_empty() && requirements.is_none() {
            return Err(ModuleError::failed(
                "pip: one of the following is required: name, requirements",
            ));
        }
        if let Some(v) = args.str("version") {
            if names.len() != 1 {
                return Err(ModuleError::failed(
                    "pip: version is incompatible with several names",
                ));
            }
            if split_requirement(&names[0]).is_some_and(|(_, spec)| !spec.is_empty()) {
                return Err(ModuleError::failed(
                    "pip: version argument is ambiguous when the name has a version specifier",
                ));
            }
            let v = if v.starts_with(['=', '<', '>', '!', '~']) {
                v
            } else {
                format!("=={v}")
            };
            names[0] = format!("{}{}", names[0], v);
        }
        let state = args.str("state").unwrap_or_else(|| "present".into());
        if !matches!(
            state.as_str(),
            "present" | "absent" | "latest" | "forcereinstall"
        ) {
            return Err(ModuleError::failed(format!(
                "pip: state must be one of: absent, forcereinstall, latest, present; got {state}"
            )));
        }
        let venv = args.str("virtualenv");
        let editable = args.bool_or("editable", false)?;
        let extra = crate::shell::split(&args.str("extra_args").unwrap_or_default())
            .map_err(|e| ModuleError::failed(format!("pip: extra_args: {e}")))?;

        let mut pre = Script::new();
        pre.raw("LC_ALL=C; export LC_ALL; PIP_DISABLE_PIP_VERSION_CHECK=1; export PIP_DISABLE_PIP_VERSION_CHECK\n");
        if let Some(u) = args.mode("umask")? {
            pre.raw("umask ").arg(&u).raw(" || exit 3\n");
        }
        if let Some(d) = args.str("chdir") {
            pre.raw("cd ")
                .arg(&d)
                .raw(" || { echo 'cannot cd to chdir' >&2; exit 3; }\n");
        }
        let mut s = pre.clone();
        if let Some(v) = &venv {
            s.raw("rd_venv=").arg(v).raw("\n");
            s.raw("if [ ! -x \"$rd_venv/bin/pip\" ] && [ ! -x \"$rd_venv/bin/python\" ]; then\n");
            if ctx.check_mode {
                s.raw("  echo '@@RD venv_missing'; exit 0\n");
            } else {
                let cmd = args
                    .str("virtualenv_command")
                    .unwrap_or_else(|| "virtualenv".into());
                let mut words = crate::shell::split(&cmd)
                    .map_err(|e| ModuleError::failed(format!("pip: virtualenv_command: {e}")))?;
                if words.is_empty() {
                    words.push("virtualenv".into());
                }
                let is_venv_module = words.iter().any(|w| w == "venv" || w == "pyvenv");
                if args.bool_or("virtualenv_site_packages", false)? {
                    words.push("--system-site-packages".into());
                }
                if let (Some(py), false) = (args.str("virtualenv_python"), is_venv_module) {
                    words.push("-p".into());
                    words.push(py);
                }
                s.raw("  command -v ")
                    .arg(&words[0])
                    .raw(" >/dev/null 2>&1 || { echo ");
                s.arg(&format!("pip: cannot create the virtualenv: {} is not installed on the host (pip needs python on the host)", words[0]));
                s.raw(" >&2; exit 98; }\n  ").args(&words).raw(" \"$rd_venv\" >&2 || { echo 'pip: creating the virtualenv failed' >&2; exit 98; }\n  echo '@@RD venv_created'\n");
            }
            s.raw("fi\nif [ -x \"$rd_venv/bin/pip\" ]; then rd_pip=\"$rd_venv/bin/pip\"; else rd_pip=\"$rd_venv/bin/python -m pip\"; fi\n");
        } else if let Some(exe) = args.str("executable") {
            s.raw("rd_pip=$(command -v ")
                .arg(&exe)
                .raw(") || { echo ")
                .arg(&format!("pip: executable {exe} was not found on the host"))
                .raw(" >&2; exit 98; }\n");
        } else {
            s.raw(
                "if command -v pip3 >/dev/null 2>&1; then rd_pip=pip3\n\
                 elif command -v pip >/dev/null 2>&1; then rd_pip=pip\n\
                 elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then rd_pip='python3 -m pip'\n\
                 else echo 'pip: no pip found on the host (the pip module needs python and pip there; install python3-pip)' >&2; exit 98; fi\n",
            );
        }
        let freeze = "$rd_pip list --format=freeze 2>/dev/null || $rd_pip freeze 2>/dev/null";
        s.raw(&format!(
            "echo \"@@RD pip $rd_pip\"\necho '@@RD freeze'\n{freeze}\n"
        ));
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let stdout = out.stdout_str();
        let secs = sections(&stdout);
        let venv_created = secs.iter().any(|(n, _)| n == "venv_created");
        let venv_missing = secs.iter().any(|(n, _)| n == "venv_missing");
        let pip_cmd = secs
            .iter()
            .find_map(|(n, _)| n.strip_prefix("pip ").map(String::from))
            .unwrap_or_default();
        let before_txt = section(&secs, "freeze").unwrap_or("").to_string();
        let before = parse_freeze(&before_txt);
        let installed = |n: &str| before.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());

        let mut o = Outcome::ok()
            .with("state", state.clone())
            .with("name", serde_json::json!(names));
        if let Some(r) = &requirements {
            o = o.with("requirements", r.clone());
        }
        if let Some(v) = &venv {
            o = o.with("virtualenv", v.clone());
        }

        // Decide what pip must do.
        let simple = requirements.is_none()
            && !editable
            && extra.is_empty()
            && names.iter().all(|n| split_requirement(n).is_some());
        let mut todo: Vec<String> = Vec::new();
        let decided = match state.as_str() {
            "present" if simple => {
                for n in &names {
                    let (name, spec) = split_requirement(n).unwrap_or_default();
                    let ok =
                        installed(&name).is_some_and(|v| spec.is_empty() || satisfies(&v, &spec));
                    if !ok {
                        todo.push(n.clone());
                    }
                }
                true
            }
            "absent" => {
                for n in &names {
                    if let Some((name, _)) = split_requirement(n) {
                        if installed(&name).is_some() {
                            todo.push(name);
                        }
                    } else {
                        todo.push(n.clone());
                    }
                }
                true
            }
            _ => false,
        };
        if decided && todo.is_empty() && requirements.is_none() {
            o.changed = venv_created || venv_missing;
            return Ok(o);
        }
        if ctx.check_mode {
            o.changed = true;
            return Ok(o.with_msg("check mode: pip would run"));
        }

        // ---- exchange 2
        let mut argv: Vec<String> = Vec::new();
        if state == "absent" {
            argv.extend(["uninstall".into(), "-y".into()]);
            argv.extend(extra.iter().cloned());
            argv.extend(todo.iter().cloned());
            if let Some(r) = &requirements {
                argv.extend(["-r".into(), r.clone()]);
            }
        } else {
            argv.push("install".into());
            match state.as_str() {
                "latest" => argv.push("-U".into()),
                "forcereinstall" => argv.extend(["--force-reinstall".into()]),
                _ => {}
            }
            if args.bool_or("break_system_packages", false)? {
                argv.push("--break-system-packages".into());
            }
            argv.extend(extra.iter().cloned());
            if let Some(r) = &requirements {
                argv.extend(["-r".into(), r.clone()]);
            }
            let pkgs = if decided { todo.clone() } else { names.clone() };
            for p in pkgs {
                if editable {
                    argv.push("-e".into());
                }
                argv.push(p);
            }
        }
        let mut s = pre;
        s.raw("rd_pip=").arg(&pip_cmd).raw("\n");
        s.raw("$rd_pip ").args(&argv).raw("; rd_rc=$?\n");
        s.raw(&format!(
            "echo; echo '@@RD freeze'\n{freeze}\nexit $rd_rc\n"
        ));
        let r = ctx.run(s.as_str()).await?;
        let rout = r.stdout_str();
        let rsecs = sections(&rout);
        let after = parse_freeze(section(&rsecs, "freeze").unwrap_or(""));
        let pip_out: String = rout
            .split("\n@@RD freeze")
            .next()
            .unwrap_or("")
            .trim_end()
            .to_string();
        o = o
            .with("cmd", format!("{} {}", pip_cmd, crate::shell::join(&argv)))
            .with("stdout", pip_out)
            .with("stderr", r.stderr_str());
        if r.rc != 0 {
            o.failed = true;
            o.msg = Some(format!(
                "pip failed (rc={}): {}",
                r.rc,
                r.stderr_str().trim().lines().last().unwrap_or("")
            ));
            return Ok(o);
        }
        o.changed = venv_created || before != after || (state == "forcereinstall");
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(cmp_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(cmp_versions("2.0", "2"), Ordering::Equal);
        assert_eq!(cmp_versions("2.0rc1", "2.0"), Ordering::Less);
        assert_eq!(cmp_versions("2.0.post1", "2.0"), Ordering::Greater);
        assert!(satisfies("2.3.1", ">=2.0,<3"));
        assert!(!satisfies("3.0", ">=2.0,<3"));
        assert!(satisfies("1.4.5", "~=1.4.2"));
        assert!(!satisfies("1.5.0", "~=1.4.2"));
        assert!(satisfies("1.2.7", "==1.2.*"));
        assert!(satisfies("1.2", "!=1.3"));
    }

    #[test]
    fn names_with_commas() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            recover_names(v(&["django>1.11.1", "<1.11.3", "ipaddress"])),
            v(&["django>1.11.1,<1.11.3", "ipaddress"])
        );
    }

    #[test]
    fn requirements() {
        assert_eq!(
            split_requirement("Flask_SQLAlchemy[async]>=2.0"),
            Some(("flask-sqlalchemy".into(), ">=2.0".into()))
        );
        assert_eq!(
            split_requirement("requests"),
            Some(("requests".into(), "".into()))
        );
        assert_eq!(split_requirement("git+https://x/y.git"), None);
        assert_eq!(
            parse_freeze("Flask==2.3.2\npip==23.0\n")[0],
            ("flask".into(), "2.3.2".into())
        );
    }
}
