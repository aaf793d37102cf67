//! How to reach a host, from what the inventory says: the `ansible_*` connection
//! variables ([`ConnVars`]), the run's defaults (CLI, ansible.cfg, environment:
//! [`Defaults`]) and `~/.ssh/config` for the address, resolved into a [`ConnectSpec`].
//! Pure: the caller reads the variables and gives the ssh_config lookup; nothing here
//! touches a file, the environment or the network.

use super::ssh_config::SshHostConfig;
use super::trusted_keys::TrustedKeys;
use super::{ConnectSpec, HostKeyPolicy};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A host's connection variables as the inventory (and play vars) give them, each the
/// first defined of its Ansible names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnVars {
    /// `ansible_host`, `ansible_ssh_host`.
    pub host: Option<String>,
    /// `ansible_port`, `ansible_ssh_port` (a port that is not a number is ignored).
    pub port: Option<String>,
    /// `ansible_user`, `ansible_ssh_user`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`, `ansible_private_key_file`.
    pub private_key_file: Option<String>,
    /// `ansible_password`, `ansible_ssh_pass`, `ansible_ssh_password`.
    pub password: Option<String>,
    /// `ansible_ssh_known_hosts_file`.
    pub known_hosts_file: Option<String>,
    /// `ansible_ssh_common_args`, then `ansible_ssh_extra_args` (`-o Key=value`, `-J`).
    pub ssh_args: Vec<String>,
    /// `ansible_host_key_checking`, `ansible_ssh_host_key_checking`.
    pub host_key_checking: Option<String>,
    /// `rdeploy_ssh_host_keys` (the keys an inventory vouches for), as JSON.
    pub trusted_keys: Option<serde_json::Value>,
}

impl ConnVars {
    /// Reads the variables through `get`, which returns the first defined of the names
    /// it is given, as a string.
    pub fn read(get: impl Fn(&[&str]) -> Option<String>) -> Self {
        ConnVars {
            host: get(&["ansible_host", "ansible_ssh_host"]),
            port: get(&["ansible_port", "ansible_ssh_port"]),
            user: get(&["ansible_user", "ansible_ssh_user"]),
            private_key_file: get(&["ansible_ssh_private_key_file", "ansible_private_key_file"]),
            password: get(&[
                "ansible_password",
                "ansible_ssh_pass",
                "ansible_ssh_password",
            ]),
            known_hosts_file: get(&["ansible_ssh_known_hosts_file"]),
            ssh_args: ["ansible_ssh_common_args", "ansible_ssh_extra_args"]
                .iter()
                .filter_map(|v| get(&[*v]))
                .collect(),
            host_key_checking: get(&["ansible_host_key_checking", "ansible_ssh_host_key_checking"]),
            trusted_keys: None,
        }
    }
}

/// The run's settings that apply to every host unless its variables say otherwise.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// `--user` / ansible.cfg `remote_user`.
    pub remote_user: Option<String>,
    /// `--private-key` / ansible.cfg `private_key_file`.
    pub private_key: Option<PathBuf>,
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub persistent_shell: bool,
    /// The controller's user (`$USER`), the last choice before `root`.
    pub login_user: Option<String>,
    /// `$HOME`, for `~/` in key and known_hosts paths.
    pub home: Option<PathBuf>,
}

/// The login user chosen by keywords, in Ansible's order around the `ansible_user`
/// variable: the task's or its block's/role's `remote_user` win over the variable, the
/// play's loses to it.
#[derive(Debug, Clone, Default)]
pub struct UserKeywords {
    pub task: Option<String>,
    pub play: Option<String>,
}

/// The connection to host `name`. `ssh_config` looks up `~/.ssh/config` for an address.
pub fn resolve(
    name: &str,
    vars: &ConnVars,
    keywords: &UserKeywords,
    defaults: &Defaults,
    ssh_config: impl Fn(&str) -> SshHostConfig,
) -> ConnectSpec {
    let home = defaults.home.as_deref();
    let address = vars.host.clone().unwrap_or_else(|| name.to_string());
    // ~/.ssh/config applies to the address, as with OpenSSH; inventory settings win.
    let sshcfg = ssh_config(&address);
    let address = sshcfg.hostname.clone().unwrap_or(address);
    let port = vars
        .port
        .as_deref()
        .and_then(|p| p.parse().ok())
        .or(sshcfg.port)
        .unwrap_or(22);
    let user = keywords
        .task
        .clone()
        .or_else(|| vars.user.clone())
        .or_else(|| keywords.play.clone())
        .or_else(|| defaults.remote_user.clone())
        .or_else(|| sshcfg.user.clone())
        .or_else(|| defaults.login_user.clone())
        .unwrap_or_else(|| "root".into());
    let jump_keys = own_keys(vars, defaults);
    let mut keys = jump_keys.clone();
    if keys.is_empty() {
        keys.extend(sshcfg.identity_files.iter().cloned());
    }
    let mut known_hosts = defaults.known_hosts.clone();
    if let Some(k) = &vars.known_hosts_file {
        known_hosts.push(expand_home(k, home));
    }
    known_hosts.extend(sshcfg.user_known_hosts_files.iter().cloned());
    let mut policy = sshcfg
        .strict_host_key_checking
        .filter(|_| defaults.host_key_policy == HostKeyPolicy::Strict)
        .unwrap_or(defaults.host_key_policy);
    let mut jump = sshcfg.proxy_jump.clone();
    for a in &vars.ssh_args {
        let args = SshArgs::parse(a);
        for k in args.known_hosts {
            known_hosts.push(expand_home(&k, home));
        }
        if let Some(p) = args.host_key_policy {
            policy = p;
        }
        if let Some(j) = args.jump {
            jump = Some(j);
        }
    }
    if vars.host_key_checking.as_deref().is_some_and(is_false) {
        policy = HostKeyPolicy::Off;
    }
    let trusted_keys = vars
        .trusted_keys
        .as_ref()
        .and_then(TrustedKeys::from_var)
        .map(Arc::new);
    ConnectSpec {
        name: name.to_string(),
        address,
        port,
        user,
        private_keys: keys,
        password: vars.password.clone(),
        known_hosts,
        host_key_policy: policy,
        trusted_keys,
        connect_timeout: defaults.connect_timeout,
        jump: jump
            .filter(|j| j != "none")
            .map(|j| Box::new(jump_spec(&j, &jump_keys, defaults))),
        persistent_shell: defaults.persistent_shell,
    }
}

/// The keys given for the host itself (the CLI's, then the variable's), without
/// ssh_config's identity files.
fn own_keys(vars: &ConnVars, defaults: &Defaults) -> Vec<PathBuf> {
    let mut keys: Vec<PathBuf> = defaults.private_key.iter().cloned().collect();
    if let Some(k) = &vars.private_key_file {
        keys.push(expand_home(k, defaults.home.as_deref()));
    }
    keys
}

/// The ssh options users keep in `ansible_ssh_common_args` / `ansible_ssh_extra_args`
/// that change how the host is reached (others are ignored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshArgs {
    /// `-o UserKnownHostsFile=...` (space separated files, as given).
    pub known_hosts: Vec<String>,
    /// `-o StrictHostKeyChecking=...`.
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `-J` or `-o ProxyJump=...` (the last one given).
    pub jump: Option<String>,
}

impl SshArgs {
    pub fn parse(args: &str) -> Self {
        let mut out = SshArgs::default();
        let words = crate::shell::split(args).unwrap_or_default();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let (flag, val) = if (w == "-o" || w == "-J") && i + 1 < words.len() {
                i += 1;
                (w.as_str(), words[i].clone())
            } else if let Some(v) = w.strip_prefix("-o") {
                ("-o", v.to_string())
            } else if let Some(v) = w.strip_prefix("-J") {
                ("-J", v.to_string())
            } else {
                i += 1;
                continue;
            };
            i += 1;
            if flag == "-J" {
                out.jump = Some(val);
                continue;
            }
            let Some((k, v)) = val.split_once('=').or_else(|| val.split_once(' ')) else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            match k.as_str() {
                "userknownhostsfile" => out
                    .known_hosts
                    .extend(v.split_whitespace().map(String::from)),
                "stricthostkeychecking" => {
                    out.host_key_policy = Some(match v.to_ascii_lowercase().as_str() {
                        "no" | "off" => HostKeyPolicy::Off,
                        "accept-new" => HostKeyPolicy::AcceptNew,
                        _ => HostKeyPolicy::Strict,
                    })
                }
                "proxyjump" => out.jump = Some(v),
                _ => {}
            }
        }
        out
    }
}

/// A bastion given as `[user@]host[:port]` (the first of a comma-separated chain).
fn jump_spec(j: &str, keys: &[PathBuf], defaults: &Defaults) -> ConnectSpec {
    let first = j.split(',').next().unwrap_or(j);
    let (user, rest) = match first.split_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, first),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse().unwrap()),
        _ => (rest.to_string(), 22),
    };
    ConnectSpec {
        name: host.clone(),
        address: host,
        port,
        user: user
            .or_else(|| defaults.remote_user.clone())
            .unwrap_or_else(|| "root".into()),
        private_keys: keys.to_vec(),
        password: None,
        known_hosts: defaults.known_hosts.clone(),
        host_key_policy: defaults.host_key_policy,
        trusted_keys: None,
        connect_timeout: defaults.connect_timeout,
        jump: None,
        persistent_shell: false,
    }
}

/// Whether a variable's text is false the way Ansible reads a boolean-ish string.
fn is_false(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "" | "false" | "no" | "off" | "0" | "n" | "none"
    )
}

fn expand_home(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            remote_user: None,
            private_key: None,
            known_hosts: vec![PathBuf::from("/etc/ssh/known")],
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            persistent_shell: true,
            login_user: Some("me".into()),
            home: Some(PathBuf::from("/home/me")),
        }
    }

    fn none(_: &str) -> SshHostConfig {
        SshHostConfig::default()
    }

    fn vars(pairs: &[(&str, &str)]) -> ConnVars {
        ConnVars::read(|names| {
            names.iter().find_map(|n| {
                pairs
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.to_string())
            })
        })
    }

    #[test]
    fn inventory_variables_say_where_and_as_whom() {
        let v = vars(&[
            ("ansible_ssh_host", "10.0.0.5"),
            ("ansible_port", "2222"),
            ("ansible_ssh_user", "deploy"),
            ("ansible_private_key_file", "~/.ssh/id_deploy"),
            ("ansible_ssh_pass", "pw"),
        ]);
        let s = resolve("web1", &v, &UserKeywords::default(), &defaults(), none);
        assert_eq!(s.name, "web1");
        assert_eq!((s.address.as_str(), s.port), ("10.0.0.5", 2222));
        assert_eq!(s.user, "deploy");
        assert_eq!(s.private_keys, [PathBuf::from("/home/me/.ssh/id_deploy")]);
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert!(s.jump.is_none());
        assert!(s.persistent_shell);
    }

    #[test]
    fn without_variables_the_name_the_login_user_and_port_22() {
        let s = resolve(
            "db",
            &ConnVars::default(),
            &UserKeywords::default(),
            &defaults(),
            none,
        );
        assert_eq!(
            (s.address.as_str(), s.port, s.user.as_str()),
            ("db", 22, "me")
        );
        let mut d = defaults();
        d.login_user = None;
        let s = resolve(
            "db",
            &vars(&[("ansible_port", "x")]),
            &UserKeywords::default(),
            &d,
            none,
        );
        assert_eq!((s.port, s.user.as_str()), (22, "root"));
    }

    #[test]
    fn user_precedence_task_then_variable_then_play_then_cli_then_ssh_config() {
        let cfg = |_: &str| SshHostConfig {
            user: Some("cfg".into()),
            ..Default::default()
        };
        let mut d = defaults();
        d.remote_user = Some("cli".into());
        let kw = |t: Option<&str>, p: Option<&str>| UserKeywords {
            task: t.map(String::from),
            play: p.map(String::from),
        };
        let var = vars(&[("ansible_user", "var")]);
        let user = |v: &ConnVars, k: UserKeywords, d: &Defaults| resolve("h", v, &k, d, cfg).user;
        assert_eq!(user(&var, kw(Some("task"), Some("play")), &d), "task");
        assert_eq!(user(&var, kw(None, Some("play")), &d), "var");
        let nov = ConnVars::default();
        assert_eq!(user(&nov, kw(None, Some("play")), &d), "play");
        assert_eq!(user(&nov, kw(None, None), &d), "cli");
        assert_eq!(user(&nov, kw(None, None), &defaults()), "cfg");
    }

    #[test]
    fn ssh_config_applies_to_the_address_and_inventory_wins() {
        let cfg = |addr: &str| {
            assert_eq!(addr, "alias");
            SshHostConfig {
                hostname: Some("real.example".into()),
                port: Some(2200),
                identity_files: vec![PathBuf::from("/cfg/key")],
                user_known_hosts_files: vec![PathBuf::from("/cfg/known")],
                strict_host_key_checking: Some(HostKeyPolicy::AcceptNew),
                ..Default::default()
            }
        };
        let s = resolve(
            "h",
            &vars(&[("ansible_host", "alias")]),
            &UserKeywords::default(),
            &defaults(),
            cfg,
        );
        assert_eq!((s.address.as_str(), s.port), ("real.example", 2200));
        assert_eq!(s.private_keys, [PathBuf::from("/cfg/key")]);
        assert_eq!(
            s.known_hosts,
            [PathBuf::from("/etc/ssh/known"), PathBuf::from("/cfg/known")]
        );
        assert_eq!(s.host_key_policy, HostKeyPolicy::AcceptNew);
        let v = vars(&[
            ("ansible_host", "alias"),
            ("ansible_port", "22"),
            ("ansible_private_key_file", "/k"),
        ]);
        let s = resolve("h", &v, &UserKeywords::default(), &defaults(), cfg);
        assert_eq!(s.port, 22);
        assert_eq!(s.private_keys, [PathBuf::from("/k")]);
        // A policy the CLI chose (not the strict default) beats ssh_config's.
        let mut d = defaults();
        d.host_key_policy = HostKeyPolicy::Off;
        let s = resolve(
            "h",
            &vars(&[("ansible_host", "alias")]),
            &UserKeywords::default(),
            &d,
            cfg,
        );
        assert_eq!(s.host_key_policy, HostKeyPolicy::Off);
    }

    #[test]
    fn ssh_args_set_known_hosts_checking_and_the_bastion() {
        let v = vars(&[
            (
                "ansible_ssh_common_args",
                "-o UserKnownHostsFile='~/a /b' -oStrictHostKeyChecking=accept-new -o ServerAliveInterval=5",
            ),
            ("ansible_ssh_extra_args", "-J ops@bastion:2201"),
            ("ansible_ssh_private_key_file", "/k"),
        ]);
        let mut d = defaults();
        d.private_key = Some(PathBuf::from("/cli"));
        let s = resolve("h", &v, &UserKeywords::default(), &d, none);
        assert_eq!(
            s.known_hosts,
            [
                PathBuf::from("/etc/ssh/known"),
                PathBuf::from("/home/me/a"),
                PathBuf::from("/b")
            ]
        );
        assert_eq!(s.host_key_policy, HostKeyPolicy::AcceptNew);
        let j = s.jump.expect("a bastion");
        assert_eq!(
            (j.address.as_str(), j.port, j.user.as_str()),
            ("bastion", 2201, "ops")
        );
        assert_eq!(j.private_keys, [PathBuf::from("/cli"), PathBuf::from("/k")]);
        assert!(!j.persistent_shell && j.jump.is_none());
        let v = vars(&[("ansible_ssh_common_args", "-o ProxyJump=none")]);
        assert!(resolve("h", &v, &UserKeywords::default(), &d, none)
            .jump
            .is_none());
        let v = vars(&[("ansible_ssh_common_args", "-o 'StrictHostKeyChecking no'")]);
        assert_eq!(
            resolve("h", &v, &UserKeywords::default(), &d, none).host_key_policy,
            HostKeyPolicy::Off
        );
    }

    #[test]
    fn host_key_checking_false_turns_checking_off() {
        for (val, off) in [
            ("False", true),
            ("no", true),
            ("0", true),
            ("true", false),
            ("yes", false),
        ] {
            let v = vars(&[("ansible_host_key_checking", val)]);
            let s = resolve("h", &v, &UserKeywords::default(), &defaults(), none);
            assert_eq!(s.host_key_policy == HostKeyPolicy::Off, off, "{val}");
        }
    }
}
