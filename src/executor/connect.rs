//! The connection of a task: the host's own (opened on first use, settings from its
//! inventory variables, ssh_config and the CLI), or a delegated host's.

use super::task::synthetic_task;
use super::vars::Scope;
use super::{Executor, Inherit};
use crate::playbook::Task;
use crate::ssh::{self, ConnectSpec, Connection, TransportError};
use minijinja::Value;
use std::sync::Arc;

impl Executor {
    /// The host's connection, opened on first use.
    pub(super) async fn connection(
        &self,
        host: &str,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
    ) -> Result<Arc<dyn Connection>, TransportError> {
        let rt = self.host_rt(host).ok_or_else(|| TransportError::Connect {
            addr: host.into(),
            msg: "unknown host".into(),
        })?;
        let mut guard = rt.conn.lock().await;
        match guard.as_ref() {
            Some(c) if !c.is_closed() => return Ok(c.clone()),
            // Ended between tasks (sshd restarted, the session killed, an idle timeout):
            // nothing was running on it, so opening it again loses nothing. A connection
            // lost during a task made that task unreachable already.
            _ => *guard = None,
        }
        let conn_type = t
            .connection
            .clone()
            .or_else(|| inherit.play.ctx.connection.clone())
            .or_else(|| self.var_str(scope, &["ansible_connection"]))
            .unwrap_or_else(|| "ssh".into());
        let c: Arc<dyn Connection> = if conn_type == "local" {
            Arc::new(ssh::local::LocalConnection)
        } else {
            let mut spec = self.connect_spec(host, t, inherit, scope);
            match &self.opts.connector {
                Some(c) => c.connect(&spec).await?,
                None => {
                    self.read_trusted_keys(&mut spec, scope).await;
                    ssh::russh_conn::connect(&spec).await?
                }
            }
        };
        *guard = Some(c.clone());
        Ok(c)
    }

    pub(super) async fn delegate_connection(
        &self,
        target: &str,
        play: &Arc<super::PlayRun>,
    ) -> Result<Arc<dyn Connection>, TransportError> {
        let play_ctx = Inherit::of_play(play);
        let known = self.host_rt(target).is_some();
        if !known && matches!(target, "localhost" | "127.0.0.1" | "::1") {
            return Ok(Arc::new(ssh::local::LocalConnection));
        }
        let mut cache = self.delegated.lock().await;
        if let Some(c) = cache.get(target) {
            return Ok(c.clone());
        }
        let t = synthetic_task("delegate", "command");
        let scope = if known {
            self.scope_for(&t, target, &play_ctx, None)
        } else {
            Scope::new(vec![], self.templar.clone())
        };
        let local = self.var_str(&scope, &["ansible_connection"]).as_deref() == Some("local");
        let c: Arc<dyn Connection> = if local {
            Arc::new(ssh::local::LocalConnection)
        } else {
            let mut spec = self.connect_spec(target, &t, &play_ctx, &scope);
            if !known {
                spec.address = target.to_string();
            }
            match &self.opts.connector {
                Some(c) => c.connect(&spec).await?,
                None => {
                    self.read_trusted_keys(&mut spec, &scope).await;
                    ssh::russh_conn::connect(&spec).await?
                }
            }
        };
        cache.insert(target.to_string(), c.clone());
        Ok(c)
    }

    /// The host keys the inventory vouches for, read now when the inventory only said
    /// where (the EC2 console output: one call, at the first connection to the host).
    async fn read_trusted_keys(&self, spec: &mut ConnectSpec, scope: &Arc<Scope>) {
        if spec.trusted_keys.is_some() || spec.host_key_policy == ssh::HostKeyPolicy::Off {
            return;
        }
        if let Some(v) = self.trusted_keys_var(scope) {
            spec.trusted_keys = crate::inventory::ec2_host_keys::resolve(&v)
                .await
                .map(Arc::new);
        }
    }

    fn trusted_keys_var(&self, scope: &Arc<Scope>) -> Option<serde_json::Value> {
        scope
            .get(ssh::trusted_keys::VAR)
            .filter(|v| !v.is_undefined() && !v.is_none())
            .and_then(|v| serde_json::to_value(&v).ok())
    }

    pub(super) fn connect_spec(
        &self,
        host: &str,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
    ) -> ConnectSpec {
        let address = self
            .var_str(scope, &["ansible_host", "ansible_ssh_host"])
            .unwrap_or_else(|| host.to_string());
        // ~/.ssh/config applies to the address, as with OpenSSH; inventory settings win.
        let sshcfg = ssh::ssh_config::lookup_user(&address);
        let address = sshcfg.hostname.clone().unwrap_or(address);
        let port = self
            .var_str(scope, &["ansible_port", "ansible_ssh_port"])
            .and_then(|p| p.parse().ok())
            .or(sshcfg.port)
            .unwrap_or(22);
        let user = t
            .remote_user
            .clone()
            .or_else(|| inherit.remote_user.clone())
            .or_else(|| self.var_str(scope, &["ansible_user", "ansible_ssh_user"]))
            .or_else(|| inherit.play.ctx.remote_user.clone())
            .or_else(|| self.opts.remote_user.clone())
            .or_else(|| sshcfg.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let mut keys = Vec::new();
        if let Some(k) = &self.opts.private_key {
            keys.push(k.clone());
        }
        if let Some(k) = self.var_str(
            scope,
            &["ansible_ssh_private_key_file", "ansible_private_key_file"],
        ) {
            keys.push(expand_home(&k));
        }
        if keys.is_empty() {
            keys.extend(sshcfg.identity_files.iter().cloned());
        }
        let password = self.var_str(
            scope,
            &[
                "ansible_password",
                "ansible_ssh_pass",
                "ansible_ssh_password",
            ],
        );
        let mut known_hosts = self.opts.known_hosts.clone();
        if let Some(k) = self.var_str(scope, &["ansible_ssh_known_hosts_file"]) {
            known_hosts.push(expand_home(&k));
        }
        known_hosts.extend(sshcfg.user_known_hosts_files.iter().cloned());
        let mut policy = sshcfg
            .strict_host_key_checking
            .filter(|_| self.opts.host_key_policy == ssh::HostKeyPolicy::Strict)
            .unwrap_or(self.opts.host_key_policy);
        // ssh options users keep in ansible_ssh_common_args / ansible_ssh_extra_args.
        let mut jump = sshcfg.proxy_jump.clone();
        for var in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
            if let Some(a) = self.var_str(scope, &[var]) {
                let words = crate::shell::split(&a).unwrap_or_default();
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
                        jump = Some(val);
                        continue;
                    }
                    let (k, v) = match val.split_once('=') {
                        Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
                        None => match val.split_once(' ') {
                            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
                            None => continue,
                        },
                    };
                    match k.as_str() {
                        "userknownhostsfile" => {
                            known_hosts.extend(v.split_whitespace().map(expand_home))
                        }
                        "stricthostkeychecking" => {
                            policy = match v.to_ascii_lowercase().as_str() {
                                "no" | "off" => ssh::HostKeyPolicy::Off,
                                "accept-new" => ssh::HostKeyPolicy::AcceptNew,
                                _ => ssh::HostKeyPolicy::Strict,
                            }
                        }
                        "proxyjump" => jump = Some(v),
                        _ => {}
                    }
                }
            }
        }
        if let Some(v) = self.var_str(
            scope,
            &["ansible_host_key_checking", "ansible_ssh_host_key_checking"],
        ) {
            if !crate::template::truthy(&Value::from(v)) {
                policy = ssh::HostKeyPolicy::Off;
            }
        }
        let trusted_keys = self
            .trusted_keys_var(scope)
            .and_then(|v| ssh::trusted_keys::TrustedKeys::from_var(&v))
            .map(Arc::new);
        ConnectSpec {
            name: host.to_string(),
            address,
            port,
            user,
            private_keys: keys,
            password,
            known_hosts,
            host_key_policy: policy,
            trusted_keys,
            connect_timeout: self.opts.connect_timeout,
            jump: jump.filter(|j| j != "none").map(|j| {
                Box::new(self.jump_spec(&j, &keys_for_jump(&self.opts.private_key, scope, self)))
            }),
            persistent_shell: ssh::persistent_shell_default(),
        }
    }

    /// A bastion given as `[user@]host[:port]`.
    fn jump_spec(&self, j: &str, keys: &[std::path::PathBuf]) -> ConnectSpec {
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
                .or_else(|| self.opts.remote_user.clone())
                .unwrap_or_else(|| "root".into()),
            private_keys: keys.to_vec(),
            password: None,
            known_hosts: self.opts.known_hosts.clone(),
            host_key_policy: self.opts.host_key_policy,
            trusted_keys: None,
            connect_timeout: self.opts.connect_timeout,
            jump: None,
            persistent_shell: false,
        }
    }
}

fn keys_for_jump(
    cli: &Option<std::path::PathBuf>,
    scope: &Arc<Scope>,
    ex: &Executor,
) -> Vec<std::path::PathBuf> {
    let mut keys: Vec<std::path::PathBuf> = cli.iter().cloned().collect();
    if let Some(k) = ex.var_str(
        scope,
        &["ansible_ssh_private_key_file", "ansible_private_key_file"],
    ) {
        keys.push(expand_home(&k));
    }
    keys
}

fn expand_home(p: &str) -> std::path::PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Ok(h) = std::env::var("HOME") {
            return std::path::PathBuf::from(h).join(rest);
        }
    }
    std::path::PathBuf::from(p)
}
