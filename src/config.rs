//! Project configuration from `ansible.cfg`, so that projects keep working with the
//! settings they already have. The first file found is read (as Ansible does, files
//! are not merged): `--config`/`$ANSIBLE_CONFIG` (a file, or a directory holding
//! `ansible.cfg`), `./ansible.cfg` (ignored when the current directory is
//! world-writable), `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`. Then the `ANSIBLE_*`
//! environment variables of the same settings override it.
//!
//! Read: `[defaults]` inventory, roles_path, remote_user, private_key_file,
//! host_key_checking, forks, timeout; `[privilege_escalation]` become, become_user,
//! become_method; `[defaults]` vault_password_file, vault_identity_list (relative file
//! sources resolved). Everything else is kept as raw text ([`ProjectConfig::get`]).
//! Relative paths are resolved against the directory of the file.

use crate::error::{Error, Result, Span};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings from ansible.cfg (and `ANSIBLE_*` variables); None: not set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectConfig {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Inventory sources (`inventory`, comma-separated; paths resolved).
    pub inventory: Vec<String>,
    /// Role search path (`roles_path`, colon-separated; paths resolved).
    pub roles_path: Vec<PathBuf>,
    pub remote_user: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub host_key_checking: Option<bool>,
    pub forks: Option<usize>,
    /// Connection timeout in seconds.
    pub timeout: Option<u64>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    /// `vault_password_file` (a file or an executable; path resolved).
    pub vault_password_file: Option<PathBuf>,
    /// `vault_identity_list`: `label@source` entries (comma-separated).
    pub vault_identity_list: Vec<String>,
    /// Every `[section] key = value` of the file (keys lower-cased), as text.
    pub sections: IndexMap<String, IndexMap<String, String>>,
}

impl ProjectConfig {
    /// Finds and reads the configuration. `explicit` (`--config`) must exist.
    pub fn load(explicit: Option<&Path>) -> Result<ProjectConfig> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let env = |k: &str| std::env::var(k).ok();
        load_with(
            explicit,
            &env,
            &cwd,
            home.as_deref(),
            Some(Path::new("/etc/ansible/ansible.cfg")),
        )
    }

    /// A raw value: `get("defaults", "interpreter_python")`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)?
            .get(&key.to_lowercase())
            .map(String::as_str)
    }
}

/// Finds and reads the configuration (same as [`ProjectConfig::load`]).
pub fn load(explicit: Option<&Path>) -> Result<ProjectConfig> {
    ProjectConfig::load(explicit)
}

/// The search and the reading, with every input explicit (for tests).
pub fn load_with(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
    home: Option<&Path>,
    system: Option<&Path>,
) -> Result<ProjectConfig> {
    let path = match explicit {
        Some(p) => {
            let p = if p.is_dir() {
                p.join("ansible.cfg")
            } else {
                p.to_path_buf()
            };
            if !p.is_file() {
                return Err(Error::usage(format!(
                    "config file {} does not exist",
                    p.display()
                )));
            }
            Some(p)
        }
        None => find(env, cwd, home, system),
    };
    let mut cfg = match &path {
        Some(p) => {
            let text = crate::yaml::read_input(p)?;
            parse(&text, p)?
        }
        None => ProjectConfig::default(),
    };
    apply_env(&mut cfg, env, cwd)?;
    Ok(cfg)
}

fn find(
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
    home: Option<&Path>,
    system: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(p) = env("ANSIBLE_CONFIG").filter(|s| !s.is_empty()) {
        let p = expand_path(&p, cwd);
        let p = if p.is_dir() { p.join("ansible.cfg") } else { p };
        if p.is_file() {
            return Some(p);
        }
    }
    let local = cwd.join("ansible.cfg");
    if local.is_file() {
        if world_writable(cwd) {
            tracing::warn!(
                "ignoring {} because {} is world-writable",
                local.display(),
                cwd.display()
            );
        } else {
            return Some(local);
        }
    }
    if let Some(home) = home {
        let p = home.join(".ansible.cfg");
        if p.is_file() {
            return Some(p);
        }
    }
    system.filter(|p| p.is_file()).map(Path::to_path_buf)
}

#[cfg(unix)]
fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir)
        .map(|m| m.permissions().mode() & 0o002 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn world_writable(_dir: &Path) -> bool {
    false
}

/// Reads ansible.cfg text (Python configparser rules: `key = value` or `key: value`,
/// `#`/`;` comment lines, indented continuation lines, no inline comments).
pub fn parse(text: &str, path: &Path) -> Result<ProjectConfig> {
    let file = Arc::new(path.to_path_buf());
    let err =
        |line: usize, col: usize, msg: String| Error::source_at(&Span::new(&file, line, col), msg);
    let mut sections: IndexMap<String, IndexMap<String, String>> = IndexMap::new();
    let mut positions: IndexMap<(String, String), (usize, usize)> = IndexMap::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim();
        let col = raw.chars().take_while(|c| c.is_whitespace()).count() + 1;
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            if trimmed.is_empty() {
                last_key = None;
            }
            continue;
        }
        if col > 1 {
            if let (Some(s), Some(k)) = (&section, &last_key) {
                let v = sections
                    .get_mut(s)
                    .and_then(|m| m.get_mut(k))
                    .expect("key was inserted");
                if !v.is_empty() {
                    v.push('\n');
                }
                v.push_str(trimmed);
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(err(
                    lineno,
                    col,
                    format!("invalid section header `{trimmed}`"),
                ));
            };
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            section = Some(name);
            last_key = None;
            continue;
        }
        let Some(s) = &section else {
            return Err(err(
                lineno,
                col,
                "a setting before any [section] header".into(),
            ));
        };
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(err(
                lineno,
                col,
                format!("expected `key = value`, got `{trimmed}`"),
            ));
        };
        let key = trimmed[..split].trim().to_lowercase();
        let value = trimmed[split + 1..].trim().to_string();
        if key.is_empty() {
            return Err(err(lineno, col, format!("missing key in `{trimmed}`")));
        }
        sections
            .entry(s.clone())
            .or_default()
            .insert(key.clone(), value);
        let delim = raw.find(['=', ':']).map_or(0, |i| i + 1);
        let vstart = delim + raw[delim..].len() - raw[delim..].trim_start().len();
        let vcol = raw[..vstart].chars().count() + 1;
        positions.insert((s.clone(), key.clone()), (lineno, vcol));
        last_key = Some(key);
    }

    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let get = |s: &str, k: &str| sections.get(s).and_then(|m| m.get(k)).map(|v| unquote(v));
    let at = |s: &str, k: &str| {
        positions
            .get(&(s.to_string(), k.to_string()))
            .copied()
            .unwrap_or((1, 1))
    };
    let mut cfg = ProjectConfig {
        path: Some(path.to_path_buf()),
        ..Default::default()
    };
    if let Some(v) = get("defaults", "inventory") {
        cfg.inventory = split_list(&v, ',')
            .map(|p| resolve_source(p, base))
            .collect();
    }
    if let Some(v) = get("defaults", "roles_path") {
        cfg.roles_path = split_list(&v, ':').map(|p| expand_path(p, base)).collect();
    }
    cfg.remote_user = get("defaults", "remote_user").filter(|v| !v.is_empty());
    cfg.private_key_file = get("defaults", "private_key_file")
        .filter(|v| !v.is_empty())
        .map(|v| expand_path(&v, base));
    if let Some(v) = get("defaults", "host_key_checking") {
        let (l, c) = at("defaults", "host_key_checking");
        cfg.host_key_checking = Some(
            parse_bool(&v)
                .ok_or_else(|| err(l, c, format!("host_key_checking: `{v}` is not a boolean")))?,
        );
    }
    if let Some(v) = get("defaults", "forks") {
        let (l, c) = at("defaults", "forks");
        let n: usize = v
            .parse()
            .map_err(|_| err(l, c, format!("forks: `{v}` is not a number")))?;
        if n == 0 {
            return Err(err(l, c, "forks must be at least 1".into()));
        }
        cfg.forks = Some(n);
    }
    if let Some(v) = get("defaults", "timeout") {
        let (l, c) = at("defaults", "timeout");
        cfg.timeout = Some(
            v.parse()
                .map_err(|_| err(l, c, format!("timeout: `{v}` is not a number of seconds")))?,
        );
    }
    if let Some(v) = get("privilege_escalation", "become") {
        let (l, c) = at("privilege_escalation", "become");
        cfg.become_ = Some(
            parse_bool(&v).ok_or_else(|| err(l, c, format!("become: `{v}` is not a boolean")))?,
        );
    }
    cfg.become_user = get("privilege_escalation", "become_user").filter(|v| !v.is_empty());
    cfg.become_method = get("privilege_escalation", "become_method").filter(|v| !v.is_empty());
    cfg.vault_password_file = get("defaults", "vault_password_file")
        .filter(|v| !v.is_empty())
        .map(|v| expand_path(&v, base));
    if let Some(v) = get("defaults", "vault_identity_list") {
        cfg.vault_identity_list = split_list(&v, ',')
            .map(|id| resolve_vault_id(id, base))
            .collect();
    }
    cfg.sections = sections;
    Ok(cfg)
}

/// A `label@source` vault identity with a relative file source resolved against `base`.
fn resolve_vault_id(id: &str, base: &Path) -> String {
    let (label, source) = match id.split_once('@') {
        Some((l, s)) => (Some(l), s),
        None => (None, id),
    };
    let source = if source == "prompt" {
        source.to_string()
    } else {
        expand_path(source, base).display().to_string()
    };
    match label {
        Some(l) => format!("{l}@{source}"),
        None => source,
    }
}

/// `ANSIBLE_INVENTORY`, `ANSIBLE_ROLES_PATH`, `ANSIBLE_REMOTE_USER`,
/// `ANSIBLE_PRIVATE_KEY_FILE`, `ANSIBLE_HOST_KEY_CHECKING`, `ANSIBLE_FORKS`,
/// `ANSIBLE_TIMEOUT`, `ANSIBLE_BECOME`, `ANSIBLE_BECOME_USER`, `ANSIBLE_BECOME_METHOD`,
/// `ANSIBLE_VAULT_PASSWORD_FILE`, `ANSIBLE_VAULT_IDENTITY_LIST`
/// override the file (relative paths against the current directory).
pub fn apply_env(
    cfg: &mut ProjectConfig,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<()> {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let bad = |k: &str, v: &str, what: &str| {
        Error::bad_setting(
            k,
            v,
            format!("environment variable {k}=`{v}` is not {what}"),
        )
    };
    if let Some(v) = get("ANSIBLE_INVENTORY") {
        cfg.inventory = split_list(&v, ',')
            .map(|p| resolve_source(p, cwd))
            .collect();
    }
    if let Some(v) = get("ANSIBLE_ROLES_PATH") {
        cfg.roles_path = split_list(&v, ':').map(|p| expand_path(p, cwd)).collect();
    }
    if let Some(v) = get("ANSIBLE_VAULT_PASSWORD_FILE") {
        cfg.vault_password_file = Some(expand_path(&v, cwd));
    }
    if let Some(v) = get("ANSIBLE_VAULT_IDENTITY_LIST") {
        cfg.vault_identity_list = split_list(&v, ',')
            .map(|id| resolve_vault_id(id, cwd))
            .collect();
    }
    if let Some(v) = get("ANSIBLE_REMOTE_USER") {
        cfg.remote_user = Some(v);
    }
    if let Some(v) = get("ANSIBLE_PRIVATE_KEY_FILE") {
        cfg.private_key_file = Some(expand_path(&v, cwd));
    }
    if let Some(v) = get("ANSIBLE_HOST_KEY_CHECKING") {
        cfg.host_key_checking =
            Some(parse_bool(&v).ok_or_else(|| bad("ANSIBLE_HOST_KEY_CHECKING", &v, "a boolean"))?);
    }
    if let Some(v) = get("ANSIBLE_FORKS") {
        cfg.forks = Some(
            v.parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("ANSIBLE_FORKS", &v, "a positive number"))?,
        );
    }
    if let Some(v) = get("ANSIBLE_TIMEOUT") {
        cfg.timeout = Some(
            v.parse()
                .map_err(|_| bad("ANSIBLE_TIMEOUT", &v, "a number of seconds"))?,
        );
    }
    if let Some(v) = get("ANSIBLE_BECOME") {
        cfg.become_ = Some(parse_bool(&v).ok_or_else(|| bad("ANSIBLE_BECOME", &v, "a boolean"))?);
    }
    if let Some(v) = get("ANSIBLE_BECOME_USER") {
        cfg.become_user = Some(v);
    }
    if let Some(v) = get("ANSIBLE_BECOME_METHOD") {
        cfg.become_method = Some(v);
    }
    Ok(())
}

fn split_list(v: &str, sep: char) -> impl Iterator<Item = &str> {
    v.split(sep).map(str::trim).filter(|s| !s.is_empty())
}

/// An inventory entry: a path resolved against `base`, kept as text (a
/// `host1,host2,` list cannot come from here since the list is split on commas).
fn resolve_source(p: &str, base: &Path) -> String {
    expand_path(p, base).to_string_lossy().into_owned()
}

/// `~`, `$VAR`/`${VAR}` expanded; relative paths joined to `base`.
pub fn expand_path(p: &str, base: &Path) -> PathBuf {
    let p = expand_vars(p);
    let p = match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match std::env::var_os("HOME") {
            Some(home) => format!("{}{rest}", home.to_string_lossy()),
            None => p.clone(),
        },
        _ => p,
    };
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        normalize(&base.join(path))
    }
}

/// Removes `.` components and folds `dir/..` (lexically, like Python's normpath).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn expand_vars(s: &str) -> String {
    let re = regex::Regex::new(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
        .expect("valid regex");
    re.replace_all(s, |c: &regex::Captures| {
        let name = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

/// Strips one pair of matching surrounding quotes (Ansible unquotes string settings).
fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Ansible's booleans: yes/no, true/false, on/off, 1/0, y/n, t/f (any case).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" | "1.0" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" | "0.0" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "\
# project settings
[defaults]
inventory = inventory/hosts.ini, ./extra
roles_path = roles:/opt/shared/roles
remote_user = deploy
private_key_file = keys/id_ed25519
host_key_checking = False
forks = 20
timeout = 30
retry_files_enabled: no
interpreter_python = auto_silent
vault_password_file = secrets/vault-pass
vault_identity_list = dev@secrets/dev-pass, prod@prompt

[privilege_escalation]
become = yes
become_user = root
become_method = sudo

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto
  -o ControlPersist=60s
";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn reads_known_keys_and_resolves_paths() {
        let d = tempfile::tempdir().unwrap();
        let cfgp = d.path().join("ansible.cfg");
        std::fs::write(&cfgp, CFG).unwrap();
        let cfg = load_with(None, &no_env, d.path(), None, None).unwrap();
        assert_eq!(cfg.path.as_deref(), Some(cfgp.as_path()));
        let base = d.path();
        assert_eq!(
            cfg.inventory,
            [
                base.join("inventory/hosts.ini").display().to_string(),
                base.join("extra").display().to_string()
            ]
        );
        assert_eq!(
            cfg.roles_path,
            [base.join("roles"), PathBuf::from("/opt/shared/roles")]
        );
        assert_eq!(cfg.remote_user.as_deref(), Some("deploy"));
        assert_eq!(cfg.private_key_file, Some(base.join("keys/id_ed25519")));
        assert_eq!(cfg.host_key_checking, Some(false));
        assert_eq!(cfg.forks, Some(20));
        assert_eq!(cfg.timeout, Some(30));
        assert_eq!(cfg.become_, Some(true));
        assert_eq!(cfg.become_user.as_deref(), Some("root"));
        assert_eq!(cfg.become_method.as_deref(), Some("sudo"));
        assert_eq!(cfg.get("defaults", "retry_files_enabled"), Some("no"));
        assert_eq!(
            cfg.vault_password_file,
            Some(base.join("secrets/vault-pass"))
        );
        assert_eq!(
            cfg.vault_identity_list,
            [
                format!("dev@{}", base.join("secrets/dev-pass").display()),
                "prod@prompt".to_string()
            ]
        );
        assert_eq!(
            cfg.get("ssh_connection", "ssh_args"),
            Some("-o ControlMaster=auto\n-o ControlPersist=60s")
        );
    }

    #[test]
    fn search_order_and_explicit() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        let proj = d.path().join("proj");
        let other = d.path().join("other");
        for p in [&home, &proj, &other] {
            std::fs::create_dir_all(p).unwrap();
        }
        std::fs::write(home.join(".ansible.cfg"), "[defaults]\nforks = 3\n").unwrap();
        std::fs::write(proj.join("ansible.cfg"), "[defaults]\nforks = 4\n").unwrap();
        std::fs::write(other.join("ansible.cfg"), "[defaults]\nforks = 5\n").unwrap();
        let forks = |cwd: &Path, env: &dyn Fn(&str) -> Option<String>, explicit: Option<&Path>| {
            load_with(explicit, env, cwd, Some(&home), None)
                .unwrap()
                .forks
        };
        assert_eq!(forks(&proj, &no_env, None), Some(4));
        assert_eq!(
            forks(&other.join(".."), &no_env, None),
            Some(3),
            "falls back to ~/.ansible.cfg"
        );
        let other2 = other.clone();
        let env = move |k: &str| (k == "ANSIBLE_CONFIG").then(|| other2.display().to_string());
        assert_eq!(
            forks(&proj, &env, None),
            Some(5),
            "$ANSIBLE_CONFIG (a directory) first"
        );
        assert_eq!(
            forks(&proj, &no_env, Some(&home.join(".ansible.cfg"))),
            Some(3)
        );
        assert!(load_with(
            Some(Path::new("/nonexistent.cfg")),
            &no_env,
            &proj,
            None,
            None
        )
        .is_err());
        let nothing = load_with(None, &no_env, &other.join(".."), None, None).unwrap();
        assert_eq!(nothing, ProjectConfig::default());
    }

    #[test]
    fn env_overrides_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("ansible.cfg"),
            "[defaults]\nforks = 4\nremote_user = a\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "ANSIBLE_FORKS" => Some("9".to_string()),
            "ANSIBLE_INVENTORY" => Some("hosts,other".to_string()),
            "ANSIBLE_HOST_KEY_CHECKING" => Some("false".to_string()),
            _ => None,
        };
        let cfg = load_with(None, &env, d.path(), None, None).unwrap();
        assert_eq!(cfg.forks, Some(9));
        assert_eq!(cfg.remote_user.as_deref(), Some("a"));
        assert_eq!(cfg.host_key_checking, Some(false));
        assert_eq!(
            cfg.inventory,
            [
                d.path().join("hosts").display().to_string(),
                d.path().join("other").display().to_string()
            ]
        );
        let bad = |k: &str| (k == "ANSIBLE_FORKS").then(|| "many".to_string());
        match load_with(None, &bad, d.path(), None, None) {
            Err(Error::Usage(u)) => {
                assert_eq!(u.setting.as_deref(), Some("ANSIBLE_FORKS"));
                assert_eq!(u.value.as_deref(), Some("many"));
                assert_eq!(
                    u.to_string(),
                    "environment variable ANSIBLE_FORKS=`many` is not a positive number"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_point_at_the_file() {
        let e = parse("[defaults]\nforks = lots\n", Path::new("ansible.cfg"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ansible.cfg:2:9: forks: `lots` is not a number"),
            "{e}"
        );
        let e = parse("forks = 3\n", Path::new("ansible.cfg"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ansible.cfg:1:1: a setting before any [section]"),
            "{e}"
        );
        let e = parse("[defaults]\njunk\n", Path::new("ansible.cfg"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ansible.cfg:2:1: expected `key = value`"),
            "{e}"
        );
        let e = parse(
            "[privilege_escalation]\nbecome = maybe\n",
            Path::new("a.cfg"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("a.cfg:2:10: become: `maybe` is not a boolean"),
            "{e}"
        );
    }

    #[test]
    fn quoting_and_paths() {
        let cfg = parse(
            "[defaults]\nremote_user = \"ops\"\nroles_path = ~/roles:../shared\n",
            Path::new("/p/q/ansible.cfg"),
        )
        .unwrap();
        assert_eq!(cfg.remote_user.as_deref(), Some("ops"));
        assert_eq!(cfg.roles_path[1], PathBuf::from("/p/shared"));
        assert!(cfg.roles_path[0].is_absolute());
    }
}
