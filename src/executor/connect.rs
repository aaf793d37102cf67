//! The connection of a task: the host's own (opened on first use, settings from its
//! inventory variables, ssh_config and the CLI, resolved by `ssh::settings`), or a
//! delegated host's.

use super::task::synthetic_task;
use super::vars::Scope;
use super::{Executor, Inherit};
use crate::playbook::Task;
use crate::ssh::settings::{ConnVars, Defaults, UserKeywords};
use crate::ssh::{self, ConnectSpec, Connection, TransportError};
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

    /// The host's connection settings ([`ssh::settings::resolve`]) from its variables,
    /// the task's and play's `remote_user` and the run's defaults.
    pub(super) fn connect_spec(
        &self,
        host: &str,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
    ) -> ConnectSpec {
        let mut vars = ConnVars::read(|names| self.var_str(scope, names));
        vars.trusted_keys = self.trusted_keys_var(scope);
        let keywords = UserKeywords {
            task: t
                .remote_user
                .clone()
                .or_else(|| inherit.remote_user.clone()),
            play: inherit.play.ctx.remote_user.clone(),
        };
        let defaults = Defaults {
            remote_user: self.opts.remote_user.clone(),
            private_key: self.opts.private_key.clone(),
            known_hosts: self.opts.known_hosts.clone(),
            host_key_policy: self.opts.host_key_policy,
            connect_timeout: self.opts.connect_timeout,
            persistent_shell: ssh::persistent_shell_default(),
            login_user: std::env::var("USER").ok(),
            home: std::env::var_os("HOME").map(std::path::PathBuf::from),
        };
        ssh::settings::resolve(
            host,
            &vars,
            &keywords,
            &defaults,
            ssh::ssh_config::lookup_user,
        )
    }
}
