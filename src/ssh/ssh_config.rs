//! A minimal reader of OpenSSH client configuration (`~/.ssh/config`): the options
//! rdeploy uses to reach a host (HostName, User, Port, IdentityFile, ProxyJump,
//! StrictHostKeyChecking, UserKnownHostsFile, ConnectTimeout).
//!
//! Semantics follow ssh_config(5): `Host` lines hold patterns with `*`, `?` and
//! `!negation`, matched against the name given (the alias); for each option the
//! first value obtained wins, except `IdentityFile`, whose values accumulate.
//! `Include` (with globs) is followed; `Match all` applies, `Match host`/`originalhost`
//! match the alias, any other `Match` criteria are treated as not matching.
//! `~` and the tokens `%%`, `%h`, `%n`, `%p`, `%r`, `%u`, `%d` are expanded in
//! IdentityFile and UserKnownHostsFile, `%h` in HostName.

use super::known_hosts::wildcard_match;
use super::HostKeyPolicy;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the configuration says about one host. `None`/empty: not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshHostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    /// The ProxyJump value as written (`[user@]host[:port]`, comma separated);
    /// `None` also for `ProxyJump none`. See [`parse_jump_list`].
    pub proxy_jump: Option<String>,
    /// `yes`/`ask` → Strict, `accept-new` → AcceptNew, `no`/`off` → Off.
    pub strict_host_key_checking: Option<HostKeyPolicy>,
    pub user_known_hosts_files: Vec<PathBuf>,
    pub connect_timeout: Option<Duration>,
}

/// One hop of a ProxyJump list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Options as read, before token expansion; `Some` once obtained.
#[derive(Default)]
struct Raw {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    proxy_jump: Option<String>,
    strict: Option<String>,
    known_hosts: Option<Vec<String>>,
    connect_timeout: Option<u64>,
}

/// Reads `path` (missing or unreadable: nothing set) for `host`, the name given by
/// the user (the alias).
pub fn lookup(path: &Path, host: &str) -> SshHostConfig {
    lookup_files(&[path.to_path_buf()], host)
}

/// Reads `~/.ssh/config` then `/etc/ssh/ssh_config` (first value wins across both).
pub fn lookup_user(host: &str) -> SshHostConfig {
    let mut files = Vec::new();
    if let Some(h) = home_dir() {
        files.push(h.join(".ssh/config"));
    }
    files.push(PathBuf::from("/etc/ssh/ssh_config"));
    lookup_files(&files, host)
}

/// Reads several files in order as if they were one.
pub fn lookup_files(files: &[PathBuf], host: &str) -> SshHostConfig {
    let mut raw = Raw::default();
    let alias = host.to_ascii_lowercase();
    for f in files {
        let base = f.parent().map(Path::to_path_buf).unwrap_or_default();
        read_file(f, &base, &alias, &mut raw, 0);
    }
    finish(raw, host)
}

/// Parses the text of a config file for `host` (Include paths resolve against `base`).
pub fn lookup_str(text: &str, base: &Path, host: &str) -> SshHostConfig {
    let mut raw = Raw::default();
    read_text(text, base, &host.to_ascii_lowercase(), &mut raw, 0);
    finish(raw, host)
}

fn read_file(path: &Path, base: &Path, alias: &str, raw: &mut Raw, depth: usize) {
    if let Ok(text) = std::fs::read_to_string(path) {
        read_text(&text, base, alias, raw, depth);
    }
}

fn read_text(text: &str, base: &Path, alias: &str, raw: &mut Raw, depth: usize) {
    // Lines before the first Host/Match apply to every host.
    let mut active = true;
    for line in text.lines() {
        let Some((keyword, args)) = split_line(line) else {
            continue;
        };
        match keyword.as_str() {
            "host" => active = host_patterns_match(&args, alias),
            "match" => active = match_applies(&args, alias),
            _ if !active => {}
            "include" if depth < 16 => {
                for pat in &args {
                    let p = expand_tilde(pat);
                    let p = if Path::new(&p).is_absolute() {
                        PathBuf::from(p)
                    } else {
                        base.join(p)
                    };
                    let mut found: Vec<PathBuf> = glob::glob(&p.to_string_lossy())
                        .map(|g| g.filter_map(Result::ok).collect())
                        .unwrap_or_default();
                    found.sort();
                    for f in found {
                        read_file(&f, base, alias, raw, depth + 1);
                    }
                }
            }
            kw => set_option(raw, kw, &args),
        }
    }
}

fn set_option(raw: &mut Raw, keyword: &str, args: &[String]) {
    let Some(first) = args.first() else { return };
    match keyword {
        "hostname" => {
            raw.hostname.get_or_insert_with(|| first.clone());
        }
        "user" => {
            raw.user.get_or_insert_with(|| first.clone());
        }
        "port" if raw.port.is_none() => raw.port = first.parse().ok(),
        "identityfile" if !raw.identity_files.contains(first) => {
            raw.identity_files.push(first.clone())
        }
        "proxyjump" => {
            raw.proxy_jump.get_or_insert_with(|| first.clone());
        }
        "stricthostkeychecking" => {
            raw.strict.get_or_insert_with(|| first.to_ascii_lowercase());
        }
        "userknownhostsfile" => {
            raw.known_hosts.get_or_insert_with(|| args.to_vec());
        }
        "connecttimeout" if raw.connect_timeout.is_none() => {
            raw.connect_timeout = first.parse().ok()
        }
        _ => {}
    }
}

fn finish(raw: Raw, alias: &str) -> SshHostConfig {
    let hostname = raw
        .hostname
        .as_ref()
        .map(|h| h.replace("%h", alias).replace("%%", "%"));
    let tokens = Tokens {
        host: hostname.clone().unwrap_or_else(|| alias.to_string()),
        alias: alias.to_string(),
        port: raw.port.unwrap_or(22),
        remote_user: raw.user.clone().unwrap_or_else(local_user),
    };
    let strict = raw.strict.as_deref().and_then(|v| match v {
        "yes" | "ask" => Some(HostKeyPolicy::Strict),
        "accept-new" => Some(HostKeyPolicy::AcceptNew),
        "no" | "off" => Some(HostKeyPolicy::Off),
        _ => None,
    });
    SshHostConfig {
        hostname,
        user: raw.user,
        port: raw.port,
        identity_files: raw
            .identity_files
            .iter()
            .filter(|f| !f.eq_ignore_ascii_case("none"))
            .map(|f| PathBuf::from(tokens.expand(f)))
            .collect(),
        proxy_jump: raw.proxy_jump.filter(|j| !j.eq_ignore_ascii_case("none")),
        strict_host_key_checking: strict,
        user_known_hosts_files: raw
            .known_hosts
            .unwrap_or_default()
            .iter()
            .filter(|f| !f.eq_ignore_ascii_case("none"))
            .map(|f| PathBuf::from(tokens.expand(f)))
            .collect(),
        connect_timeout: raw.connect_timeout.map(Duration::from_secs),
    }
}

struct Tokens {
    host: String,
    alias: String,
    port: u16,
    remote_user: String,
}

impl Tokens {
    /// `~` then `%` tokens; an unknown token is kept as written.
    fn expand(&self, s: &str) -> String {
        let s = expand_tilde(s);
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('h') => out.push_str(&self.host),
                Some('n') => out.push_str(&self.alias),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(&self.remote_user),
                Some('u') => out.push_str(&local_user()),
                Some('d') => out.push_str(
                    &home_dir()
                        .map(|h| h.display().to_string())
                        .unwrap_or_default(),
                ),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        }
        out
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_string())
}

fn expand_tilde(s: &str) -> String {
    match (s.strip_prefix("~/"), home_dir()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ if s == "~" => home_dir()
            .map(|h| h.display().to_string())
            .unwrap_or_else(|| s.to_string()),
        _ => s.to_string(),
    }
}

/// `Host` patterns: some positive pattern matches and no `!pattern` does.
fn host_patterns_match(patterns: &[String], alias: &str) -> bool {
    let mut positive = false;
    for p in patterns {
        let p = p.to_ascii_lowercase();
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, alias) {
                return false;
            }
        } else if wildcard_match(&p, alias) {
            positive = true;
        }
    }
    positive
}

fn match_applies(args: &[String], alias: &str) -> bool {
    let mut it = args.iter();
    let mut all = true;
    while let Some(crit) = it.next() {
        match crit.to_ascii_lowercase().as_str() {
            "all" => {}
            "host" | "originalhost" => {
                let Some(list) = it.next() else { return false };
                let pats: Vec<String> = list.split(',').map(str::to_string).collect();
                all &= host_patterns_match(&pats, alias);
            }
            _ => return false,
        }
    }
    all
}

/// `Keyword args...` or `Keyword=args`; double quotes group words. Lower-cases the
/// keyword. `None` for blank lines and comments.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut in_quote = false;
    for c in rest.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                in_word = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_quote && !in_word => break,
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    Some((keyword, args))
}

/// Splits a ProxyJump value: `[user@]host[:port]` hops separated by commas
/// (`[v6addr]:port` allowed). `none` gives no hop.
pub fn parse_jump_list(value: &str) -> Vec<JumpHost> {
    if value.trim().eq_ignore_ascii_case("none") {
        return vec![];
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|hop| {
            let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
            let (user, hostport) = match hop.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()), h),
                None => (None, hop),
            };
            let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
                match rest.split_once(']') {
                    Some((h, p)) => (
                        h.to_string(),
                        p.strip_prefix(':').and_then(|p| p.parse().ok()),
                    ),
                    None => (rest.to_string(), None),
                }
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse().ok()),
                    _ => (hostport.to_string(), None),
                }
            };
            JumpHost { user, host, port }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
# global defaults
ConnectTimeout 7

Host web?  !web9
    HostName %h.internal.example.com
    User deploy
    Port 2201
    IdentityFile ~/.ssh/web_%r_%h

Host web*
    User nobody
    Port=2299
    IdentityFile "/keys/with space/%n"
    StrictHostKeyChecking accept-new

Host bastion
    HostName 203.0.113.10
    User jump

Host db-*
    ProxyJump jump@bastion:2222,other
    UserKnownHostsFile ~/.ssh/kh_db /etc/ssh/kh_%p
    StrictHostKeyChecking no

Host *
    User fallback
    IdentityFile ~/.ssh/id_ed25519
    ProxyJump none
"#;

    fn home() -> String {
        std::env::var("HOME").unwrap()
    }

    #[test]
    fn first_value_wins_identity_files_accumulate() {
        let c = lookup_str(CONF, Path::new("/nowhere"), "web1");
        assert_eq!(c.hostname.as_deref(), Some("web1.internal.example.com"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port, Some(2201));
        assert_eq!(
            c.identity_files,
            vec![
                PathBuf::from(format!(
                    "{}/.ssh/web_deploy_web1.internal.example.com",
                    home()
                )),
                PathBuf::from("/keys/with space/web1"),
                PathBuf::from(format!("{}/.ssh/id_ed25519", home())),
            ]
        );
        assert_eq!(c.strict_host_key_checking, Some(HostKeyPolicy::AcceptNew));
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(c.proxy_jump, None, "ProxyJump none");
    }

    #[test]
    fn negated_pattern_excludes() {
        let c = lookup_str(CONF, Path::new("/nowhere"), "web9");
        assert_eq!(c.hostname, None);
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!(c.port, Some(2299));
    }

    #[test]
    fn wildcard_host_and_known_hosts_tokens() {
        let c = lookup_str(CONF, Path::new("/nowhere"), "DB-1");
        assert_eq!(c.user.as_deref(), Some("fallback"));
        assert_eq!(c.proxy_jump.as_deref(), Some("jump@bastion:2222,other"));
        assert_eq!(c.strict_host_key_checking, Some(HostKeyPolicy::Off));
        assert_eq!(
            c.user_known_hosts_files,
            vec![
                PathBuf::from(format!("{}/.ssh/kh_db", home())),
                PathBuf::from("/etc/ssh/kh_22")
            ]
        );
        let jumps = parse_jump_list(c.proxy_jump.as_deref().unwrap());
        assert_eq!(
            jumps,
            vec![
                JumpHost {
                    user: Some("jump".into()),
                    host: "bastion".into(),
                    port: Some(2222)
                },
                JumpHost {
                    user: None,
                    host: "other".into(),
                    port: None
                },
            ]
        );
    }

    #[test]
    fn unmatched_host_gets_globals_only() {
        let c = lookup_str(CONF, Path::new("/nowhere"), "bastion");
        assert_eq!(c.hostname.as_deref(), Some("203.0.113.10"));
        assert_eq!(c.user.as_deref(), Some("jump"));
        assert_eq!(c.port, None);
    }

    #[test]
    fn include_and_match() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/10-app.conf"),
            "Host app\n  Port 2022\n",
        )
        .unwrap();
        let main = dir.path().join("config");
        std::fs::write(&main, "Include conf.d/*.conf\nMatch exec \"true\"\n  User never\nMatch all\n  User everyone\n").unwrap();
        let c = lookup(&main, "app");
        assert_eq!(c.port, Some(2022));
        assert_eq!(c.user.as_deref(), Some("everyone"));
        assert_eq!(
            lookup(Path::new("/does/not/exist"), "app"),
            SshHostConfig::default()
        );
    }

    #[test]
    fn line_splitting() {
        assert_eq!(split_line("  # c"), None);
        assert_eq!(
            split_line("Port=22").unwrap(),
            ("port".to_string(), vec!["22".to_string()])
        );
        assert_eq!(
            split_line("Port = 22").unwrap(),
            ("port".to_string(), vec!["22".to_string()])
        );
        assert_eq!(
            split_line("IdentityFile \"a b\" c # note").unwrap(),
            (
                "identityfile".to_string(),
                vec!["a b".to_string(), "c".to_string()]
            )
        );
    }

    #[test]
    fn jump_list_forms() {
        assert_eq!(parse_jump_list("none"), vec![]);
        assert_eq!(
            parse_jump_list("[2001:db8::1]:2200"),
            vec![JumpHost {
                user: None,
                host: "2001:db8::1".into(),
                port: Some(2200)
            }]
        );
        assert_eq!(
            parse_jump_list("u@h"),
            vec![JumpHost {
                user: Some("u".into()),
                host: "h".into(),
                port: None
            }]
        );
    }
}
