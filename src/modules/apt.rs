//! The `apt` module: Debian packages through `apt-get`, `apt-cache` and `dpkg-query`.
//!
//! Exchange 1 (always): update the package lists when asked (`update_cache`,
//! `cache_valid_time`), then query what is installed (`dpkg-query`) and, for
//! `state: latest`, the candidate versions (`apt-cache policy`). Rust decides what is
//! missing. Exchange 2 (only when something may change): `apt-get install/remove/...`
//! (`apt-get -s ...` in check mode). `changed` comes from apt-get's own summary line
//! (`N upgraded, N newly installed, N to remove`), so virtual packages and
//! already-satisfied requests are reported truthfully. Lock contention is waited for,
//! bounded by `lock_timeout` (default 60 s). `deb:` installs a local or downloaded
//! `.deb` in one exchange, comparing its version with the installed one.

use super::util::{fetch_fn, section, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::json;

pub struct Apt;

const PARAMS: &[&str] = &[
    "name",
    "pkg",
    "package",
    "state",
    "update_cache",
    "update-cache",
    "update_cache_retries",
    "update_cache_retry_max_delay",
    "cache_valid_time",
    "deb",
    "purge",
    "autoremove",
    "autoclean",
    "clean",
    "install_recommends",
    "install-recommends",
    "force",
    "force_apt_get",
    "allow_unauthenticated",
    "allow-unauthenticated",
    "allow_downgrade",
    "allow-downgrade",
    "allow_downgrades",
    "allow-downgrades",
    "allow_change_held_packages",
    "dpkg_options",
    "default_release",
    "default-release",
    "upgrade",
    "only_upgrade",
    "fail_on_autoremove",
    "lock_timeout",
    "policy_rc_d",
];

/// One requested package: `name`, `name=1.2*`, `name:arch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgSpec {
    pub name: String,
    pub arch: Option<String>,
    pub version: Option<String>,
}

impl PkgSpec {
    pub fn parse(s: &str) -> Result<PkgSpec, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty package name".into());
        }
        if s.contains(['<', '>']) {
            return Err(format!(
                "package {s:?}: version comparisons (<, >) are not supported; use name=version"
            ));
        }
        let (nm, version) = match s.split_once('=') {
            Some((n, v)) => (
                n.trim(),
                Some(v.trim().to_string()).filter(|v| !v.is_empty()),
            ),
            None => (s, None),
        };
        let (name, arch) = match nm.split_once(':') {
            Some((n, a)) => (n.to_string(), Some(a.to_string())),
            None => (nm.to_string(), None),
        };
        if name.is_empty() || name.starts_with('-') {
            return Err(format!("invalid package name {s:?}"));
        }
        Ok(PkgSpec {
            name,
            arch,
            version,
        })
    }
    /// The name as apt-get and dpkg-query take it (`name` or `name:arch`).
    pub fn qualified(&self) -> String {
        match &self.arch {
            Some(a) => format!("{}:{}", self.name, a),
            None => self.name.clone(),
        }
    }
    /// The argument for `apt-get install` (`name[:arch][=version]`).
    pub fn install_arg(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={}", self.qualified(), v),
            None => self.qualified(),
        }
    }
    pub fn is_glob(&self) -> bool {
        self.name.contains(['*', '?', '['])
    }
}

/// One line of `dpkg-query -W -f='${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\n'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub arch: String,
    pub version: String,
    /// `ii `, `rc `, `un `...
    pub status: String,
}

impl Installed {
    /// Fully installed (second status letter `i`).
    pub fn is_installed(&self) -> bool {
        self.status.as_bytes().get(1) == Some(&b'i')
    }
    /// Anything but "not installed" (`n`) and, unless purging, "config files" (`c`).
    pub fn present_for_removal(&self, purge: bool) -> bool {
        match self.status.as_bytes().get(1) {
            Some(b'n') | None => false,
            Some(b'c') => purge,
            _ => true,
        }
    }
}

pub fn parse_dpkg(text: &str) -> Vec<Installed> {
    text.lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split('\t').collect();
            (t.len() >= 4 && !t[0].is_empty()).then(|| Installed {
                name: t[0].to_string(),
                arch: t[1].to_string(),
                version: t[2].to_string(),
                status: t[3].to_string(),
            })
        })
        .collect()
}

/// `(package, installed, candidate)` from `LC_ALL=C apt-cache policy ...`
/// (`None` for `(none)`).
pub fn parse_policy(text: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let mut v: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            v.push((line.trim_end_matches(':').to_string(), None, None));
        } else if let Some(last) = v.last_mut() {
            let t = line.trim();
            let val = |p: &str| {
                t.strip_prefix(p)
                    .map(|x| x.trim())
                    .filter(|x| *x != "(none)")
                    .map(String::from)
            };
            if let Some(i) = val("Installed:") {
                last.1 = Some(i);
            } else if let Some(c) = val("Candidate:") {
                last.2 = Some(c);
            }
        }
    }
    v
}

/// Whether an installed version satisfies a wanted version (exact, or a glob such as `1.2*`).
pub fn version_matches(installed: &str, wanted: &str) -> bool {
    if installed == wanted {
        return true;
    }
    if wanted.contains(['*', '?', '[']) {
        return glob::Pattern::new(wanted)
            .map(|p| p.matches(installed))
            .unwrap_or(false);
    }
    false
}

/// What apt-get says it did (or would do): the counts of its summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub upgraded: u64,
    pub installed: u64,
    pub downgraded: u64,
    pub removed: u64,
    pub reinstalled: u64,
    pub found: bool,
}

impl Summary {
    pub fn changed(&self) -> bool {
        self.upgraded + self.installed + self.downgraded + self.removed + self.reinstalled > 0
    }
}

pub fn parse_summary(out: &str) -> Summary {
    let mut s = Summary::default();
    for line in out.lines() {
        if !(line.contains(" upgraded, ") && line.contains(" newly installed")) {
            continue;
        }
        s.found = true;
        for part in line.trim_end_matches('.').split(", ") {
            let part = part.trim();
            let (n, rest) = part.split_once(' ').unwrap_or((part, ""));
            let n: u64 = n.parse().unwrap_or(0);
            match rest {
                "upgraded" => s.upgraded += n,
                "newly installed" => s.installed += n,
                "downgraded" => s.downgraded += n,
                "reinstalled" => s.reinstalled += n,
                r if r.starts_with("to remove") => s.removed += n,
                _ => {}
            }
        }
    }
    s
}

/// Settings shared by every apt-get call of a task.
struct AptOpts {
    lock_timeout: i64,
    common: Vec<String>,
}

fn env_prelude(lock_timeout: i64) -> String {
    // rd_apt retries apt-get while another apt/dpkg holds a lock, bounded by lock_timeout.
    format!(
        "LC_ALL=C; DEBIAN_FRONTEND=noninteractive; NEEDRESTART_MODE=a; export LC_ALL DEBIAN_FRONTEND NEEDRESTART_MODE\n\
         command -v apt-get >/dev/null 2>&1 || {{ echo 'apt-get was not found: the apt module needs a Debian-family host' >&2; exit 90; }}\n\
         rd_err=$(mktemp) || exit 3\n\
         trap 'rm -f \"$rd_err\"' EXIT\n\
         rd_apt() {{\n\
         \x20 rd_waited=0\n\
         \x20 while :; do\n\
         \x20   apt-get -o DPkg::Lock::Timeout={lock_timeout} \"$@\" 2>\"$rd_err\"; rd_rc=$?\n\
         \x20   if [ $rd_rc -ne 0 ] && [ $rd_waited -lt {lock_timeout} ] && grep -qE 'Could not get lock|Unable to lock|Unable to acquire|is another process using it' \"$rd_err\"; then\n\
         \x20     sleep 2; rd_waited=$((rd_waited + 2)); continue\n\
         \x20   fi\n\
         \x20   cat \"$rd_err\" >&2; return $rd_rc\n\
         \x20 done\n\
         }}\n\
         rd_mtime() {{ rd_m=0; for rd_f in /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists/*_Packages*; do if [ -e \"$rd_f\" ]; then rd_t=$(stat -c %Y \"$rd_f\"); [ \"$rd_t\" -gt \"$rd_m\" ] && rd_m=$rd_t; fi; done; echo $rd_m; }}\n"
    )
}

#[async_trait]
impl Module for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["apt_get"]
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("apt", PARAMS)?;
        run_apt(ctx, args).await
    }
}

fn bool_any(args: &Args, keys: &[&str], default: bool) -> Result<bool, ModuleError> {
    for k in keys {
        if let Some(b) = args.bool(k)? {
            return Ok(b);
        }
    }
    Ok(default)
}

pub(crate) async fn run_apt(ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
    let names: Vec<String> = ["name", "pkg", "package"]
        .iter()
        .find_map(|k| args.list(k))
        .unwrap_or_default();
    let deb = args.str("deb");
    let upgrade = args
        .str("upgrade")
        .map(|u| u.to_lowercase())
        .filter(|u| !matches!(u.as_str(), "no" | "false" | "0" | "off"));
    let mut state = args
        .str("state")
        .unwrap_or_else(|| "present".into())
        .to_lowercase();
    if state == "installed" {
        state = "present".into();
    }
    if state == "removed" {
        state = "absent".into();
    }
    if !matches!(
        state.as_str(),
        "present" | "absent" | "latest" | "build-dep" | "fixed"
    ) {
        return Err(ModuleError::failed(format!(
            "apt: value of state must be one of: absent, build-dep, fixed, latest, present, got: {state}"
        )));
    }
    let purge = args.bool_or("purge", false)?;
    let autoremove = args.bool_or("autoremove", false)?;
    let autoclean = args.bool_or("autoclean", false)?;
    let clean = args.bool_or("clean", false)?;
    let force = args.bool_or("force", false)?;
    let cache_valid_time = args.int("cache_valid_time")?.unwrap_or(0);
    let update_cache =
        bool_any(args, &["update_cache", "update-cache"], false)? || cache_valid_time > 0;
    let lock_timeout = args.int("lock_timeout")?.unwrap_or(60).max(0);
    if deb.is_some() && !names.is_empty() {
        return Err(ModuleError::failed(
            "apt: parameters are mutually exclusive: deb|package|pkg|name",
        ));
    }
    let specs = names
        .iter()
        .map(|n| PkgSpec::parse(n))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModuleError::failed(format!("apt: {e}")))?;
    if state == "latest" {
        if let Some(s) = specs.iter().find(|s| s.version.is_some()) {
            return Err(ModuleError::failed(format!(
                "apt: version number inconsistent with state=latest: {}",
                s.install_arg()
            )));
        }
    }

    // Options shared by every apt-get call.
    let mut common: Vec<String> = vec!["-y".into(), "-q".into()];
    for o in args
        .list("dpkg_options")
        .unwrap_or_else(|| vec!["force-confdef".into(), "force-confold".into()])
    {
        let o = o.trim().trim_start_matches('-').to_string();
        if !o.is_empty() {
            common.push("-o".into());
            common.push(format!("Dpkg::Options::=--{o}"));
        }
    }
    let recommends = match args.bool("install_recommends")? {
        Some(b) => Some(b),
        None => args.bool("install-recommends")?,
    };
    match recommends {
        Some(true) => common.extend(["-o".into(), "APT::Install-Recommends=yes".into()]),
        Some(false) => common.extend(["-o".into(), "APT::Install-Recommends=no".into()]),
        None => {}
    }
    if let Some(r) = args.str_any(&["default_release", "default-release"]) {
        common.push("-t".into());
        common.push(r);
    }
    if force
        || bool_any(
            args,
            &["allow_unauthenticated", "allow-unauthenticated"],
            false,
        )?
    {
        common.push("--allow-unauthenticated".into());
    }
    if force
        || bool_any(
            args,
            &[
                "allow_downgrade",
                "allow-downgrade",
                "allow_downgrades",
                "allow-downgrades",
            ],
            false,
        )?
    {
        common.push("--allow-downgrades".into());
    }
    if force || args.bool_or("allow_change_held_packages", false)? {
        common.push("--allow-change-held-packages".into());
    }
    if force {
        common.push("--allow-remove-essential".into());
    }
    let opts = AptOpts {
        lock_timeout,
        common,
    };
    let policy_rc_d = args.int("policy_rc_d")?;

    // ---- exchange 1: cache update + query
    let check = ctx.check_mode;
    let mut s = Script::new();
    s.raw(&env_prelude(opts.lock_timeout));
    s.raw("echo '@@RD cache_before'; rd_mtime; date +%s\n");
    if update_cache {
        s.raw("rd_now=$(date +%s); rd_before=$(rd_mtime)\n");
        s.raw(&format!("if [ {cache_valid_time} -gt 0 ] && [ $((rd_now - rd_before)) -lt {cache_valid_time} ]; then echo '@@RD cache_valid'; else\n"));
        if check {
            s.raw("  echo '@@RD cache_would_update'\n");
        } else {
            s.raw("  echo '@@RD update_output'\n");
            // apt-get update exits 0 when a source cannot be fetched; Ansible fails then.
            s.raw("  rd_apt -q update || { echo 'Failed to update apt cache' >&2; exit 91; }\n");
            s.raw("  if grep -qE '^(W: Failed to fetch|E: )|Some index files failed to download' \"$rd_err\"; then echo \"Failed to update apt cache: $(grep -E '^(W|E): ' \"$rd_err\" | head -3)\" >&2; exit 91; fi\n");
            s.raw("  mkdir -p /var/lib/apt/periodic && rd_after=$(rd_mtime) && touch /var/lib/apt/periodic/update-success-stamp\n");
            s.raw("  echo '@@RD cache_updated'; [ \"$rd_after\" != \"$rd_before\" ] && echo yes; date +%s\n");
        }
        s.raw("fi\n");
    }
    if !specs.is_empty() {
        let quals: Vec<String> = specs.iter().map(|p| p.qualified()).collect();
        s.raw("echo '@@RD dpkg'\n");
        s.raw("dpkg-query -W -f='${Package}\\t${Architecture}\\t${Version}\\t${db:Status-Abbrev}\\n' -- ").args(&quals).raw(" 2>/dev/null\n");
        if state == "latest" {
            s.raw("echo '@@RD policy'\napt-cache policy -- ")
                .args(&quals)
                .raw(" 2>/dev/null\n");
        }
    }
    if let Some(deb) = &deb {
        deb_script(&mut s, deb, args, &opts, check, policy_rc_d)?;
    }
    s.raw("echo '@@RD end'\n");
    let out = ctx.run(s.as_str()).await?;
    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    if out.rc == 90 || out.rc == 91 {
        return Err(ModuleError::failed(format!("apt: {}", stderr.trim())));
    }
    let secs = sections(&stdout);
    let update_out = section(&secs, "update_output").unwrap_or("").to_string();
    let mut cache_updated = false;
    let mut cache_time: i64 = section(&secs, "cache_before")
        .and_then(|t| t.lines().next())
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    if let Some(t) = section(&secs, "cache_updated") {
        let lines: Vec<&str> = t.lines().collect();
        cache_updated = lines.first() == Some(&"yes");
        cache_time = lines
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(cache_time);
    }
    let would_update = section(&secs, "cache_would_update").is_some();
    if would_update {
        cache_updated = true;
    }

    let base = |o: Outcome| {
        o.with("cache_updated", cache_updated)
            .with("cache_update_time", cache_time)
    };

    if deb.is_some() {
        let r = section(&secs, "deb_result")
            .unwrap_or("")
            .trim()
            .to_string();
        let o = Outcome::ok()
            .with("stdout", stdout.clone())
            .with("stderr", stderr.clone());
        if out.rc != 0 {
            let mut o = base(o);
            o.failed = true;
            o.msg = Some(format!(
                "apt: installing {} failed (rc={}): {}",
                deb.unwrap_or_default(),
                out.rc,
                last_error(&stderr)
            ));
            return Ok(o);
        }
        return Ok(match r.as_str() {
            "ok" => base(o),
            "would_install" => base(o).with_msg("check mode: the .deb would be installed"),
            _ => {
                let sum = parse_summary(section(&secs, "act").unwrap_or(&stdout));
                let mut o = base(o);
                o.changed = !sum.found || sum.changed();
                o
            }
        });
    }
    if out.rc != 0 {
        return Err(ModuleError::failed(format!(
            "apt: query failed (rc={}): {}",
            out.rc,
            stderr.trim()
        )));
    }

    // ---- decide
    let installed = parse_dpkg(section(&secs, "dpkg").unwrap_or(""));
    let policy = parse_policy(section(&secs, "policy").unwrap_or(""));
    let matches_spec = |i: &Installed, p: &PkgSpec| -> bool {
        let name_ok = if p.is_glob() {
            glob::Pattern::new(&p.name)
                .map(|g| g.matches(&i.name))
                .unwrap_or(false)
        } else {
            i.name == p.name
        };
        name_ok
            && p.arch
                .as_deref()
                .is_none_or(|a| a == i.arch || i.arch == "all")
    };
    let mut actions: Vec<(&str, Vec<String>)> = Vec::new();
    match state.as_str() {
        "present" => {
            let missing: Vec<String> = specs
                .iter()
                .filter(|p| {
                    p.is_glob()
                        || !installed.iter().any(|i| {
                            matches_spec(i, p)
                                && i.is_installed()
                                && p.version
                                    .as_deref()
                                    .is_none_or(|v| version_matches(&i.version, v))
                        })
                })
                .map(|p| p.install_arg())
                .collect();
            if !missing.is_empty() {
                actions.push(("install", missing));
            }
        }
        "latest" => {
            let mut todo = Vec::new();
            for p in &specs {
                let inst = installed
                    .iter()
                    .find(|i| matches_spec(i, p) && i.is_installed());
                let pol = policy
                    .iter()
                    .find(|(n, _, _)| n == &p.name || n == &p.qualified());
                let up_to_date = match (inst, pol) {
                    (Some(_), Some((_, Some(iv), Some(cv)))) => iv == cv,
                    (Some(_), Some((_, _, None))) => true, // installed, nothing to upgrade to
                    (Some(_), None) => true,
                    (None, Some((_, _, None))) | (None, None) if !p.is_glob() && !would_update => {
                        return Err(ModuleError::failed(format!(
                            "apt: No package matching '{}' is available",
                            p.name
                        )));
                    }
                    _ => false,
                };
                if !up_to_date || p.is_glob() {
                    todo.push(p.install_arg());
                }
            }
            if !todo.is_empty() {
                actions.push(("install", todo));
            }
        }
        "absent" => {
            let present: Vec<String> = specs
                .iter()
                .filter(|p| {
                    installed.iter().any(|i| {
                        matches_spec(i, p)
                            && i.present_for_removal(purge)
                            && p.version
                                .as_deref()
                                .is_none_or(|v| version_matches(&i.version, v))
                    })
                })
                .map(|p| p.qualified())
                .collect();
            if !present.is_empty() {
                actions.push(("remove", present));
            }
        }
        "build-dep" if !specs.is_empty() => {
            actions.push(("build-dep", specs.iter().map(|p| p.qualified()).collect()));
        }
        "fixed" => actions.push(("fixed", specs.iter().map(|p| p.install_arg()).collect())),
        _ => {}
    }
    if let Some(u) = &upgrade {
        let verb = match u.as_str() {
            "yes" | "true" | "safe" => "upgrade",
            "full" | "dist" => "dist-upgrade",
            other => {
                return Err(ModuleError::failed(format!(
                    "apt: upgrade must be one of: dist, full, no, safe, yes; got {other}"
                )))
            }
        };
        actions.push((verb, vec![]));
    }
    if autoremove && state != "absent" {
        actions.push(("autoremove", vec![]));
    }
    if autoclean {
        actions.push(("autoclean", vec![]));
    }
    if clean {
        actions.push(("clean", vec![]));
    }

    if actions.is_empty() {
        let mut o = base(Outcome::ok());
        if specs.is_empty() && update_cache {
            o.changed = cache_updated;
            o = o.with("stdout", update_out);
        }
        return Ok(o);
    }

    // ---- exchange 2: act (simulate in check mode)
    let mut s = Script::new();
    s.raw(&env_prelude(opts.lock_timeout));
    let sim: &[&str] = if check { &["-s"] } else { &[] };
    if let (Some(code), false) = (policy_rc_d, check) {
        s.raw("if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\\nexit %s\\n' ")
            .arg(&code.to_string());
        s.raw(" > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && trap 'rm -f \"$rd_err\" /usr/sbin/policy-rc.d' EXIT; fi\n");
    }
    s.raw("rd_fail=0\n");
    for (verb, pkgs) in &actions {
        s.raw("echo '@@RD act'\n");
        let mut argv: Vec<String> = opts.common.clone();
        argv.extend(sim.iter().map(|x| x.to_string()));
        match *verb {
            "install" => {
                if autoremove {
                    argv.push("--auto-remove".into());
                }
                if args.bool_or("fail_on_autoremove", false)? {
                    argv.push("--no-remove".into());
                }
                if args.bool_or("only_upgrade", false)? {
                    argv.push("--only-upgrade".into());
                }
                argv.push("install".into());
            }
            "remove" => {
                if purge {
                    argv.push("--purge".into());
                }
                if autoremove {
                    argv.push("--auto-remove".into());
                }
                argv.push("remove".into());
            }
            "fixed" => {
                argv.push("-f".into());
                argv.push("install".into());
            }
            "upgrade" => {
                argv.push("--with-new-pkgs".into());
                argv.push("upgrade".into());
            }
            "autoremove" => {
                if purge {
                    argv.push("--purge".into());
                }
                argv.push("autoremove".into());
            }
            other => argv.push(other.to_string()),
        }
        // Package names come after `--`, so none can be taken for an option.
        s.raw("rd_apt ").args(&argv);
        if !pkgs.is_empty() {
            s.raw(" -- ").args(pkgs);
        }
        s.raw(" || { rd_fail=$?; echo \"@@RD failed $rd_fail\"; exit $rd_fail; }\n");
    }
    s.raw("echo '@@RD done'\n");
    let out2 = ctx.run(s.as_str()).await?;
    let stdout2 = out2.stdout_str();
    let stderr2 = out2.stderr_str();
    let secs2 = sections(&stdout2);
    let mut summary = Summary::default();
    for (n, t) in &secs2 {
        if n == "act" {
            let x = parse_summary(t);
            summary.found |= x.found;
            summary.upgraded += x.upgraded;
            summary.installed += x.installed;
            summary.downgraded += x.downgraded;
            summary.removed += x.removed;
            summary.reinstalled += x.reinstalled;
        }
    }
    let mut o = base(Outcome::ok())
        .with("stdout", clean_markers(&stdout2))
        .with("stderr", stderr2.clone())
        .with("rc", out2.rc);
    if out2.rc != 0 {
        if check && would_update && stderr2.contains("Unable to locate package") {
            // The lists were not updated in check mode: assume the install would happen.
            o.changed = true;
            return Ok(o.with_msg("check mode: package lists not updated; the package(s) would be installed after the update"));
        }
        o.failed = true;
        let what = actions
            .iter()
            .map(|(v, p)| format!("{v} {}", p.join(" ")))
            .collect::<Vec<_>>()
            .join("; ");
        o.msg = Some(format!(
            "apt-get {} failed (rc={}): {}",
            what.trim(),
            out2.rc,
            last_error(&stderr2)
        ));
        return Ok(o);
    }
    o.changed = summary.changed();
    if check && o.changed {
        o.msg = Some("check mode: apt-get simulation reports changes".into());
    }
    Ok(o.with(
        "summary",
        json!({"upgraded": summary.upgraded, "newly_installed": summary.installed, "removed": summary.removed, "downgraded": summary.downgraded}),
    ))
}

/// The most useful part of apt's error output (the `E:` lines).
fn last_error(stderr: &str) -> String {
    let e: Vec<&str> = stderr.lines().filter(|l| l.starts_with("E:")).collect();
    if e.is_empty() {
        stderr.trim().to_string()
    } else {
        e.join(" ")
    }
}

fn clean_markers(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("@@RD "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `deb:` in one script: fetch when a URL, compare the .deb's version with the
/// installed one, install with apt-get (resolving dependencies) when different.
fn deb_script(
    s: &mut Script,
    deb: &str,
    args: &Args,
    opts: &AptOpts,
    check: bool,
    policy_rc_d: Option<i64>,
) -> Result<(), ModuleError> {
    let force = args.bool_or("force", false)?;
    let is_url = deb.contains("://");
    if is_url {
        s.raw(&fetch_fn(30, true));
        s.raw("rd_deb=$(mktemp /tmp/rdeploy-deb.XXXXXXXX) || exit 3\nmv \"$rd_deb\" \"$rd_deb.deb\"; rd_deb=\"$rd_deb.deb\"\n");
        s.raw("trap 'rm -f \"$rd_err\" \"$rd_deb\"' EXIT\n");
        s.raw("rd_fetch ").arg(deb).raw(" \"$rd_deb\" || exit 92\n");
    } else {
        let p = if deb.starts_with('/') {
            deb.to_string()
        } else {
            format!("./{deb}")
        };
        s.raw("rd_deb=").arg(&p).raw(
            "\n[ -f \"$rd_deb\" ] || { echo \"deb file $rd_deb does not exist\" >&2; exit 93; }\n",
        );
    }
    s.raw("rd_pkg=$(dpkg-deb -f \"$rd_deb\" Package) && rd_ver=$(dpkg-deb -f \"$rd_deb\" Version) || { echo 'not a valid .deb file' >&2; exit 93; }\n");
    s.raw("rd_cur=$(dpkg-query -W -f='${Version} ${db:Status-Abbrev}' \"$rd_pkg\" 2>/dev/null)\n");
    s.raw("echo '@@RD deb_result'\n");
    let forced = if force { "1" } else { "0" };
    s.raw(&format!("case \"$rd_cur\" in \"$rd_ver ii\"*|\"$rd_ver hi\"*) rd_same=1;; *) rd_same=0;; esac\nif [ $rd_same = 1 ] && [ {forced} = 0 ]; then echo ok\n"));
    if check {
        s.raw("else echo would_install\n");
    } else {
        s.raw("else echo install; echo '@@RD act'\n");
        if let Some(code) = policy_rc_d {
            s.raw("  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\\nexit %s\\n' ")
                .arg(&code.to_string());
            s.raw(" > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; rd_prc=1; }\n");
        }
        let mut argv = opts.common.clone();
        if force {
            argv.push("--reinstall".into());
        }
        argv.push("install".into());
        s.raw("  rd_apt ")
            .args(&argv)
            .raw(" \"$rd_deb\"; rd_rc=$?\n");
        s.raw("  [ -n \"${rd_prc:-}\" ] && rm -f /usr/sbin/policy-rc.d\n  [ $rd_rc = 0 ] || exit $rd_rc\n");
    }
    s.raw("fi\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            PkgSpec::parse("nginx").unwrap(),
            PkgSpec {
                name: "nginx".into(),
                arch: None,
                version: None
            }
        );
        let p = PkgSpec::parse("libc6:amd64=2.36*").unwrap();
        assert_eq!(p.qualified(), "libc6:amd64");
        assert_eq!(p.install_arg(), "libc6:amd64=2.36*");
        assert!(PkgSpec::parse("foo>=1").is_err());
        assert!(PkgSpec::parse("-oops").is_err());
    }

    #[test]
    fn dpkg_and_versions() {
        let i = parse_dpkg("tree\tamd64\t2.1.0-1\tii \nless\tamd64\t590-2\trc \nfoo\t\t\tun \n");
        assert_eq!(i.len(), 3);
        assert!(i[0].is_installed());
        assert!(!i[1].is_installed());
        assert!(!i[1].present_for_removal(false));
        assert!(i[1].present_for_removal(true));
        assert!(!i[2].present_for_removal(true));
        assert!(version_matches("2.1.0-1", "2.1*"));
        assert!(version_matches("2.1.0-1", "2.1.0-1"));
        assert!(!version_matches("2.1.0-1", "2.2*"));
    }

    #[test]
    fn policy() {
        let p = parse_policy(
            "tree:\n  Installed: (none)\n  Candidate: 2.1.0-1\n  Version table:\n     2.1.0-1 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\nless:\n  Installed: 590-2\n  Candidate: 590-2\n",
        );
        assert_eq!(
            p[0],
            ("tree".to_string(), None, Some("2.1.0-1".to_string()))
        );
        assert_eq!(
            p[1],
            (
                "less".to_string(),
                Some("590-2".to_string()),
                Some("590-2".to_string())
            )
        );
    }

    #[test]
    fn summaries() {
        let s = parse_summary("Reading package lists...\n1 upgraded, 2 newly installed, 0 to remove and 5 not upgraded.\n");
        assert!(s.found && s.changed());
        assert_eq!((s.upgraded, s.installed), (1, 2));
        let s = parse_summary("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n");
        assert!(s.found && !s.changed());
        let s = parse_summary(
            "0 upgraded, 0 newly installed, 1 downgraded, 0 to remove and 0 not upgraded.\n",
        );
        assert!(s.changed());
        let s = parse_summary("0 upgraded, 0 newly installed, 1 to remove and 0 not upgraded.\n");
        assert_eq!(s.removed, 1);
    }
}
