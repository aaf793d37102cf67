//! The `user` module: local accounts through `useradd`, `usermod`, `userdel`.
//!
//! Exchange 1 queries `getent passwd`, `id -Gn`, the wanted groups, and a SHA-256 of
//! the current password hash (the hash itself never leaves the host). Rust compares
//! and builds only the commands needed; exchange 2 runs them. A password hash travels
//! on stdin to `chpasswd -e`, never in a command line, and is never returned.

use super::util::{section, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::json;

pub struct User;

const PARAMS: &[&str] = &[
    "name",
    "user",
    "state",
    "uid",
    "group",
    "groups",
    "append",
    "shell",
    "home",
    "create_home",
    "createhome",
    "move_home",
    "system",
    "password",
    "update_password",
    "comment",
    "remove",
    "force",
    "non_unique",
    "expires",
    "password_lock",
    "generate_ssh_key",
    "ssh_key_bits",
    "ssh_key_type",
    "ssh_key_file",
    "ssh_key_comment",
    "ssh_key_passphrase",
    "skeleton",
    "umask",
    "local",
    "seuser",
    "password_expire_max",
    "password_expire_min",
    "hidden",
    "login_class",
    "profile",
    "role",
    "authorization",
];

/// A `getent passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Passwd {
    pub name: String,
    pub uid: String,
    pub gid: String,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

pub fn parse_passwd(line: &str) -> Option<Passwd> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() < 7 || f[0].is_empty() {
        return None;
    }
    Some(Passwd {
        name: f[0].into(),
        uid: f[2].into(),
        gid: f[3].into(),
        gecos: f[4].into(),
        home: f[5].into(),
        shell: f[6].into(),
    })
}

/// `(name, gid)` of a `getent group` line.
pub fn parse_group_line(line: &str) -> Option<(String, String)> {
    let f: Vec<&str> = line.split(':').collect();
    (f.len() >= 3 && !f[0].is_empty()).then(|| (f[0].to_string(), f[2].to_string()))
}

fn validate_name(kind: &str, n: &str) -> Result<(), ModuleError> {
    if n.is_empty()
        || n.starts_with('-')
        || n.contains([':', '\n', '/', ','])
        || n.contains(char::is_whitespace)
    {
        return Err(ModuleError::failed(format!("{kind}: invalid name {n:?}")));
    }
    Ok(())
}

fn days_to_date(days: i64) -> String {
    // civil-from-days (Howard Hinnant's algorithm), UTC
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[async_trait]
impl Module for User {
    fn name(&self) -> &'static str {
        "user"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("user", PARAMS)?;
        let name = args.req_str_any(&["name", "user"])?;
        validate_name("user", &name)?;
        let state = args.str("state").unwrap_or_else(|| "present".into());
        if state != "present" && state != "absent" {
            return Err(ModuleError::failed(format!(
                "user: state must be present or absent, got {state}"
            )));
        }
        let group = args.str("group");
        let groups: Option<Vec<String>> = args
            .get("groups")
            .map(|_| args.list("groups").unwrap_or_default());
        if let Some(g) = &group {
            validate_name("user: group", g)?;
        }
        for g in groups.iter().flatten() {
            validate_name("user: groups", g)?;
        }
        let password = args.str("password");
        let gen_key = args.bool_or("generate_ssh_key", false)?;

        // ---- exchange 1: query
        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n")
            .assign("rd_name", &name)
            .raw("\n");
        // One `getent` each for passwd and shadow, one `id`; fields are cut out with
        // parameter expansions (builtins), `id -Gn` lists the primary group first.
        s.raw("rd_field() { rd_v=$1; rd_i=1; while [ \"$rd_i\" -lt \"$2\" ]; do case $rd_v in *:*) rd_v=${rd_v#*:};; *) rd_v=;; esac; rd_i=$((rd_i + 1)); done; rd_v=${rd_v%%:*}; }\n");
        s.raw("echo '@@RD passwd'; rd_pw=$(getent passwd \"$rd_name\") && printf '%s\\n' \"$rd_pw\"\n");
        s.raw("if [ -n \"$rd_pw\" ]; then\n");
        s.raw("  rd_gs=$(id -Gn \"$rd_name\" 2>/dev/null)\n");
        s.raw("  echo '@@RD groups'; [ -n \"$rd_gs\" ] && printf '%s\\n' \"$rd_gs\"\n");
        s.raw("  echo '@@RD primary'; [ -n \"$rd_gs\" ] && printf '%s\\n' \"${rd_gs%% *}\"\n");
        s.raw("  rd_field \"$rd_pw\" 6; [ -d \"$rd_v\" ] && echo '@@RD home_exists'\n");
        s.raw("  rd_sh=$(getent shadow \"$rd_name\" 2>/dev/null)\n");
        s.raw("  rd_field \"$rd_sh\" 2; rd_x=$(printf '%s' \"$rd_v\" | sha256sum); echo '@@RD shadow'; printf '%s\\n' \"${rd_x%% *}\"\n");
        s.raw("  case $rd_v in '!'*) echo locked;; *) echo unlocked;; esac\n");
        s.raw("  rd_field \"$rd_sh\" 8; printf '%s\\n' \"$rd_v\"\n");
        if gen_key {
            let kf = args
                .str("ssh_key_file")
                .unwrap_or_else(|| ".ssh/id_rsa".into());
            s.raw("  rd_home=$(getent passwd \"$rd_name\" | cut -d: -f6)\n");
            s.raw("  rd_kf=")
                .arg(&kf)
                .raw("; case \"$rd_kf\" in /*) ;; *) rd_kf=\"$rd_home/$rd_kf\";; esac\n");
            s.raw("  if [ -f \"$rd_kf\" ]; then echo '@@RD sshkey'; cat \"$rd_kf.pub\" 2>/dev/null; fi\n");
        }
        s.raw("fi\n");
        if let Some(h) = args.str("home") {
            s.raw("[ -d ")
                .arg(&h)
                .raw(" ] && echo '@@RD want_home_exists'\n");
        }
        if let Some(g) = &group {
            s.raw("echo '@@RD group'; getent group ").arg(g).raw("\n");
        }
        for g in groups.iter().flatten() {
            s.raw("echo '@@RD wgroup'; getent group ")
                .arg(g)
                .raw(" || printf '!%s\\n' ")
                .arg(g)
                .raw("\n");
        }
        let out = ctx.run_own(s.as_str()).await?;
        let stdout = out.stdout_str();
        let secs = sections(&stdout);
        let cur = section(&secs, "passwd")
            .and_then(|t| t.lines().next())
            .and_then(parse_passwd);

        if state == "absent" {
            let mut o = Outcome::ok()
                .with("name", name.clone())
                .with("state", "absent");
            let Some(_) = cur else { return Ok(o) };
            let mut argv = vec!["userdel".to_string()];
            if args.bool_or("force", false)? {
                argv.push("-f".into());
            }
            if args.bool_or("remove", false)? {
                argv.push("-r".into());
            }
            argv.push("--".into());
            argv.push(name.clone());
            o.changed = true;
            o = o
                .with("force", args.bool_or("force", false)?)
                .with("remove", args.bool_or("remove", false)?);
            if ctx.check_mode {
                return Ok(o);
            }
            let mut s = Script::new();
            s.args(&argv).raw(" 2>&1 || exit $?\n");
            let r = ctx.run_own(s.as_str()).await?;
            // userdel -r warns (rc 12) when the mail spool or home is missing: the user is gone.
            if r.rc != 0 && r.rc != 12 {
                return Ok(Outcome::failed(format!(
                    "userdel failed (rc={}): {}",
                    r.rc,
                    r.stdout_str().trim()
                ))
                .with("name", name));
            }
            return Ok(o);
        }

        // ---- present: decide
        let mut warnings: Vec<String> = Vec::new();
        let want_gid = match &group {
            Some(g) => {
                let line = section(&secs, "group").unwrap_or("");
                match line.lines().next().and_then(parse_group_line) {
                    Some((_, gid)) => Some(gid),
                    None => {
                        return Err(ModuleError::failed(format!(
                            "user: Group {g} does not exist"
                        )))
                    }
                }
            }
            None => None,
        };
        let mut want_groups: Vec<String> = Vec::new();
        for (n, t) in &secs {
            if n != "wgroup" {
                continue;
            }
            let l = t.lines().next().unwrap_or("");
            if let Some(missing) = l.strip_prefix('!') {
                return Err(ModuleError::failed(format!(
                    "user: Group {missing} does not exist"
                )));
            }
            if let Some((gname, _)) = parse_group_line(l) {
                if !want_groups.contains(&gname) {
                    want_groups.push(gname);
                }
            }
        }
        let append = args.bool_or("append", false)?;
        let uid = args.int("uid")?;
        let shell = args.str("shell");
        let home = args.str("home");
        let comment = args.str("comment");
        let create_home = match args.bool("create_home")? {
            Some(b) => b,
            None => args.bool_or("createhome", true)?,
        };
        let system = args.bool_or("system", false)?;
        let non_unique = args.bool_or("non_unique", false)?;
        let update_password = args
            .str("update_password")
            .unwrap_or_else(|| "always".into());
        let password_lock = args.bool("password_lock")?;
        let expires = args.float("expires")?;
        if let Some(p) = &password {
            if !(p.starts_with('$') || p.starts_with('!') || p.starts_with('*') || p.is_empty()) {
                warnings.push("The input password appears not to have been hashed. The 'password' argument must be encrypted for this module to work properly.".into());
            }
        }
        let want_expire_days: Option<String> = expires.map(|e| {
            if e < 0.0 {
                String::new()
            } else {
                ((e / 86400.0).floor() as i64).to_string()
            }
        });

        let mut cmds: Vec<Vec<String>> = Vec::new();
        let mut set_password = false;
        let mut lock: Option<bool> = None;
        let created = cur.is_none();
        match &cur {
            None => {
                let mut a = vec!["useradd".to_string()];
                if let Some(u) = uid {
                    a.extend(["-u".into(), u.to_string()]);
                    if non_unique {
                        a.push("-o".into());
                    }
                }
                if let Some(g) = &group {
                    a.extend(["-g".into(), g.clone()]);
                }
                if let Some(gs) = &groups {
                    if !gs.is_empty() {
                        a.extend(["-G".into(), want_groups.join(",")]);
                    }
                }
                if let Some(c) = &comment {
                    a.extend(["-c".into(), c.clone()]);
                }
                if let Some(h) = &home {
                    a.extend(["-d".into(), h.clone()]);
                }
                if let Some(sh) = &shell {
                    a.extend(["-s".into(), sh.clone()]);
                }
                if let Some(d) = &want_expire_days {
                    if !d.is_empty() {
                        a.extend(["-e".into(), days_to_date(d.parse().unwrap_or(0))]);
                    }
                }
                if system {
                    a.push("-r".into());
                }
                if create_home {
                    a.push("-m".into());
                    if let Some(k) = args.str("skeleton") {
                        a.extend(["-k".into(), k]);
                    }
                    if let Some(um) = args.str("umask") {
                        a.extend(["-K".into(), format!("UMASK={um}")]);
                    }
                } else {
                    a.push("-M".into());
                }
                a.push("--".into());
                a.push(name.clone());
                cmds.push(a);
                set_password = password.is_some();
                if password_lock == Some(true) {
                    lock = Some(true);
                }
            }
            Some(p) => {
                let mut a = vec!["usermod".to_string()];
                if let Some(u) = uid {
                    if p.uid != u.to_string() {
                        a.extend(["-u".into(), u.to_string()]);
                        if non_unique {
                            a.push("-o".into());
                        }
                    }
                }
                if let (Some(g), Some(gid)) = (&group, &want_gid) {
                    if &p.gid != gid {
                        a.extend(["-g".into(), g.clone()]);
                    }
                }
                if groups.is_some() {
                    let primary = section(&secs, "primary").unwrap_or("").trim().to_string();
                    let current: Vec<String> = section(&secs, "groups")
                        .unwrap_or("")
                        .split_whitespace()
                        .filter(|g| *g != primary)
                        .map(String::from)
                        .collect();
                    let wanted: Vec<String> = want_groups
                        .iter()
                        .filter(|g| **g != primary)
                        .cloned()
                        .collect();
                    if append {
                        let missing: Vec<String> = wanted
                            .iter()
                            .filter(|g| !current.contains(g))
                            .cloned()
                            .collect();
                        if !missing.is_empty() {
                            a.extend(["-a".into(), "-G".into(), missing.join(",")]);
                        }
                    } else {
                        let mut c = current.clone();
                        c.sort();
                        c.dedup();
                        let mut w = wanted.clone();
                        w.sort();
                        w.dedup();
                        if c != w {
                            a.extend(["-G".into(), wanted.join(",")]);
                        }
                    }
                }
                if let Some(c) = &comment {
                    if &p.gecos != c {
                        a.extend(["-c".into(), c.clone()]);
                    }
                }
                if let Some(h) = &home {
                    if &p.home != h {
                        a.extend(["-d".into(), h.clone()]);
                        if args.bool_or("move_home", false)? {
                            a.push("-m".into());
                        }
                    }
                }
                if let Some(sh) = &shell {
                    if &p.shell != sh {
                        a.extend(["-s".into(), sh.clone()]);
                    }
                }
                let shadow = section(&secs, "shadow").unwrap_or("");
                let sl: Vec<&str> = shadow.lines().collect();
                if let Some(d) = &want_expire_days {
                    let curd = sl.get(2).copied().unwrap_or("").trim();
                    if curd != d {
                        let date = if d.is_empty() {
                            String::new()
                        } else {
                            days_to_date(d.parse().unwrap_or(0))
                        };
                        a.extend(["-e".into(), date]);
                    }
                }
                if a.len() > 1 {
                    a.push("--".into());
                    a.push(name.clone());
                    cmds.push(a);
                }
                if let Some(pw) = &password {
                    let cur_hash = sl.first().copied().unwrap_or("").trim();
                    if update_password == "always"
                        && cur_hash != super::util::sha256_hex(pw.as_bytes())
                    {
                        set_password = true;
                    }
                }
                let locked = sl.get(1).copied() == Some("locked");
                match password_lock {
                    Some(true) if !locked => lock = Some(true),
                    Some(false) if locked => lock = Some(false),
                    _ => {}
                }
            }
        }
        let need_key = gen_key && section(&secs, "sshkey").is_none();
        // As Ansible: an existing user whose home directory is missing gets one
        // (skeleton copied, owned by the user) unless create_home is false.
        let mut make_home: Option<String> = None;
        if let Some(p) = &cur {
            let moved =
                home.as_ref().is_some_and(|h| h != &p.home) && args.bool_or("move_home", false)?;
            let (final_home, exists) = match &home {
                Some(h) if h != &p.home => (h.clone(), has_sec(&secs, "want_home_exists")),
                _ => (p.home.clone(), has_sec(&secs, "home_exists")),
            };
            if create_home
                && !moved
                && !exists
                && final_home.starts_with('/')
                && final_home != "/nonexistent"
            {
                make_home = Some(final_home);
            }
        }
        let changed =
            !cmds.is_empty() || set_password || lock.is_some() || need_key || make_home.is_some();

        let mut o = Outcome::changed(changed)
            .with("name", name.clone())
            .with("state", "present");
        if password.is_some() {
            o = o.with("password", "NOT_LOGGING_PASSWORD");
        }
        if !warnings.is_empty() {
            o = o.with("warnings", json!(warnings));
        }
        if !changed || ctx.check_mode {
            if let Some(p) = &cur {
                o = fill(o, p, section(&secs, "groups"), section(&secs, "primary"));
            }
            if let Some(k) = section(&secs, "sshkey") {
                o = o.with("ssh_public_key", k.trim());
            }
            return Ok(o);
        }

        // ---- exchange 2: act
        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n")
            .assign("rd_name", &name)
            .raw("\n");
        let mut stdin: Option<Vec<u8>> = None;
        if set_password {
            // The hash is read from stdin: it appears in no command line and no script text.
            s.raw("IFS= read -r rd_pw\n");
            stdin =
                Some(format!("{}:{}\n", name, password.clone().unwrap_or_default()).into_bytes());
        }
        for c in &cmds {
            s.args(c)
                .raw(" >&2 || { rd_rc=$?; echo ")
                .arg(&format!("{} failed", c[0]))
                .raw(" >&2; exit $rd_rc; }\n");
        }
        if set_password {
            s.raw("printf '%s\\n' \"$rd_pw\" | chpasswd -e >&2 || { echo 'setting the password failed' >&2; exit 7; }\n");
        }
        match lock {
            Some(true) => {
                s.raw("usermod -L -- \"$rd_name\" >&2 || exit 8\n");
            }
            Some(false) => {
                s.raw("usermod -U -- \"$rd_name\" >&2 || exit 8\n");
            }
            None => {}
        }
        if let Some(h) = &make_home {
            s.raw("rd_h=").arg(h).raw("\n");
            s.raw("mkdir -p \"$rd_h\" && { [ ! -d /etc/skel ] || cp -a /etc/skel/. \"$rd_h\"/; } && chown -R \"$rd_name:\" \"$rd_h\" || { echo 'creating the home directory failed' >&2; exit 10; }\n");
        }
        if need_key {
            let kf = args
                .str("ssh_key_file")
                .unwrap_or_else(|| ".ssh/id_rsa".into());
            let ktype = args.str("ssh_key_type").unwrap_or_else(|| "rsa".into());
            let bits = args.int("ssh_key_bits")?.unwrap_or(0);
            let comment = args
                .str("ssh_key_comment")
                .unwrap_or_else(|| format!("rdeploy-generated on {}", ctx.host));
            s.raw("rd_home=$(getent passwd \"$rd_name\" | cut -d: -f6)\n");
            s.raw("rd_kf=")
                .arg(&kf)
                .raw("; case \"$rd_kf\" in /*) ;; *) rd_kf=\"$rd_home/$rd_kf\";; esac\n");
            s.raw("if [ ! -f \"$rd_kf\" ]; then\n  rd_kd=$(dirname \"$rd_kf\"); rd_new=; [ -d \"$rd_kd\" ] || rd_new=1\n");
            s.raw("  mkdir -p \"$rd_kd\" && { [ -z \"$rd_new\" ] || chmod 0700 \"$rd_kd\"; } || exit 9\n");
            let mut kg = vec!["ssh-keygen".to_string(), "-q".into(), "-t".into(), ktype];
            if bits > 0 {
                kg.extend(["-b".into(), bits.to_string()]);
            }
            kg.extend(["-C".into(), comment]);
            s.raw("  ").args(&kg);
            if let Some(pp) = args.str("ssh_key_passphrase") {
                // read from stdin after the password line (if any)
                let mut buf = stdin.take().unwrap_or_default();
                buf.extend_from_slice(format!("{}\n", pp).as_bytes());
                stdin = Some(buf);
                s.raw(" -N \"$(IFS= read -r rd_pp; printf '%s' \"$rd_pp\")\"");
            } else {
                s.raw(" -N ''");
            }
            s.raw(" -f \"$rd_kf\" </dev/null >&2 || { echo 'ssh-keygen failed' >&2; exit 9; }\n");
            s.raw("  chown \"$rd_name:\" \"$rd_kf\" \"$rd_kf.pub\" && { [ -z \"$rd_new\" ] || chown \"$rd_name:\" \"$rd_kd\"; }\nfi\n");
            s.raw("echo '@@RD sshkey'; cat \"$rd_kf.pub\"\necho '@@RD sshfp'; ssh-keygen -lf \"$rd_kf.pub\"\necho '@@RD kf'; printf '%s\\n' \"$rd_kf\"\n");
        }
        s.raw("echo '@@RD passwd'; getent passwd \"$rd_name\"\necho '@@RD groups'; id -Gn \"$rd_name\"\necho '@@RD primary'; id -gn \"$rd_name\"\n");
        let r = ctx.run_own_stdin(s.as_str(), stdin).await?;
        let rout = r.stdout_str();
        let rsecs = sections(&rout);
        if r.rc != 0 {
            let mut o = Outcome::failed(format!("user {name}: {}", r.stderr_str().trim()))
                .with("name", name.clone());
            o.changed = true;
            return Ok(o);
        }
        if let Some(p) = section(&rsecs, "passwd")
            .and_then(|t| t.lines().next())
            .and_then(parse_passwd)
        {
            o = fill(o, &p, section(&rsecs, "groups"), section(&rsecs, "primary"));
        }
        if created {
            o = o.with("create_home", create_home).with("system", system);
        }
        if let Some(k) = section(&rsecs, "sshkey") {
            o = o.with("ssh_public_key", k.trim());
        }
        if let Some(k) = section(&rsecs, "sshfp") {
            o = o.with("ssh_fingerprint", k.trim());
        }
        if let Some(k) = section(&rsecs, "kf") {
            o = o.with("ssh_key_file", k.trim());
        }
        Ok(o)
    }
}

fn has_sec(secs: &[(String, String)], name: &str) -> bool {
    secs.iter().any(|(n, _)| n == name)
}

fn fill(o: Outcome, p: &Passwd, groups: Option<&str>, primary: Option<&str>) -> Outcome {
    let primary = primary.unwrap_or("").trim();
    let gs: Vec<&str> = groups
        .unwrap_or("")
        .split_whitespace()
        .filter(|g| *g != primary)
        .collect();
    o.with("uid", p.uid.parse::<i64>().unwrap_or(-1))
        .with("group", p.gid.parse::<i64>().unwrap_or(-1))
        .with("groups", gs.join(","))
        .with("home", p.home.clone())
        .with("shell", p.shell.clone())
        .with("comment", p.gecos.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let p = parse_passwd("deploy:x:1000:1000:Deploy User,,,:/home/deploy:/bin/bash").unwrap();
        assert_eq!(p.uid, "1000");
        assert_eq!(p.gecos, "Deploy User,,,");
        assert_eq!(p.shell, "/bin/bash");
        assert!(parse_passwd("").is_none());
        assert_eq!(
            parse_group_line("sudo:x:27:deploy"),
            Some(("sudo".into(), "27".into()))
        );
    }

    #[test]
    fn dates() {
        assert_eq!(days_to_date(0), "1970-01-01");
        assert_eq!(days_to_date(19723), "2024-01-01");
    }
}
