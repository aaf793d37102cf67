//! The transport: how rdeploy runs commands on a host. The engine only sees the
//! [`Connection`] trait; [`russh_conn`] implements it over one long-lived SSH connection
//! per host (russh), [`local`] runs on the controller (`connection: local`,
//! `delegate_to: localhost`). Over SSH, requests run in a [`persistent`] shell per
//! host and become identity ([`shell_pool`]) unless that is turned off
//! (`RDEPLOY_PERSISTENT_SHELL=0`) or impossible on the host.
//!
//! A request is one shell script plus optional stdin bytes and the identity to run it
//! as. Privilege escalation (become) is applied by the transports in one place,
//! [`wrap_become`], so that modules never build sudo command lines themselves and a sudo
//! password only ever travels on stdin.

pub mod known_hosts;
pub mod local;
pub mod persistent;
pub mod russh_conn;
pub mod settings;
pub mod shell_pool;
pub mod ssh_config;
pub mod stream;
pub mod trusted_keys;

use crate::shell;
use async_trait::async_trait;
use std::time::Duration;

/// What to run: a POSIX `sh` script, the bytes to feed its stdin, and as whom.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// Run by `/bin/sh` (as the become user when `become_` is set).
    pub script: String,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    /// Privilege escalation; the transport applies it with [`wrap_become`].
    pub become_: Option<Become>,
    /// Whose script it is: how a persistent shell may run it.
    pub kind: ScriptKind,
}

/// Whose script a request runs, which decides how a persistent shell runs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScriptKind {
    /// Any script (user commands, services, package managers: anything that may leave a
    /// process behind, kill its process group or call `exec`): a process and session of
    /// its own, output spooled to files and sent once it has exited, so a background
    /// process that keeps stdout open cannot hold or garble the answer.
    #[default]
    Any,
    /// One of rdeploy's own module scripts, which starts no process that outlives it:
    /// run in a subshell of the driver (a fork, no exec) with its output straight to
    /// the channel (no spool files, no `cat`). With a timeout it runs as `Any` does, so
    /// that the timeout can kill its process group.
    Own,
}

/// Whether SSH connections use persistent shells: on unless `RDEPLOY_PERSISTENT_SHELL`
/// is `0`, `false`, `no` or `off`.
pub fn persistent_shell_default() -> bool {
    match std::env::var("RDEPLOY_PERSISTENT_SHELL") {
        Ok(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        ),
        Err(_) => true,
    }
}

/// The result of one script run.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a host could not be reached or talked to. Any of these marks the host unreachable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("connect to {addr} failed: {msg}")]
    Connect { addr: String, msg: String },
    #[error("host key verification failed for {host}: {msg}")]
    HostKey { host: String, msg: String },
    #[error("authentication failed for {user}@{host}: {msg}")]
    Auth {
        user: String,
        host: String,
        msg: String,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection lost: {0}")]
    Lost(String),
}

/// How host keys are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse unknown and changed keys (default).
    #[default]
    Strict,
    /// Accept and record unknown keys, refuse changed ones.
    AcceptNew,
    /// No checking (only when the user asks).
    Off,
}

/// Everything needed to open a connection to one host.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    /// Inventory name of the host (for messages).
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub private_keys: Vec<std::path::PathBuf>,
    pub password: Option<String>,
    pub known_hosts: Vec<std::path::PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    /// Host keys the inventory vouches for (the EC2 console output's), checked next to
    /// the known_hosts files ([`trusted_keys`]).
    pub trusted_keys: Option<std::sync::Arc<trusted_keys::TrustedKeys>>,
    pub connect_timeout: Duration,
    /// A bastion to jump through (ProxyJump), itself fully described.
    pub jump: Option<Box<ConnectSpec>>,
    /// Run requests in persistent shells ([`persistent`]); else one channel each.
    pub persistent_shell: bool,
}

/// Opens the connection to a host that is not `connection: local`: the SSH transport
/// ([`russh_conn::connect`]) unless the run was given another (tests give a scripted one
/// through `RunOptions::connector`).
#[async_trait::async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    async fn connect(
        &self,
        spec: &ConnectSpec,
    ) -> Result<std::sync::Arc<dyn Connection>, TransportError>;
}

/// A connection to one host. Cheap to share; every task of a run on that host uses it.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Runs a script with `/bin/sh`; returns its exit status and output.
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, TransportError>;
    /// Like [`exec`](Connection::exec), sending the output to `sink` as it arrives
    /// ([`stream`]). By default the output is sent whole at the end.
    async fn exec_streamed(
        &self,
        req: ExecRequest,
        sink: stream::OutputSink,
    ) -> Result<ExecOutput, TransportError> {
        let out = self.exec(req).await?;
        for (stderr, data) in [(false, &out.stdout), (true, &out.stderr)] {
            if !data.is_empty() {
                let _ = sink.send(stream::OutputChunk {
                    stderr,
                    data: data.clone(),
                });
            }
        }
        Ok(out)
    }
    /// Closes the connection (best effort).
    async fn close(&self) {}
    /// Whether the connection has ended (closed by either side or lost). The engine
    /// opens a closed connection again before the next task: nothing runs on it then.
    fn is_closed(&self) -> bool {
        false
    }
    /// A new connection to the same host with the same settings (for a module that
    /// waits for a host to come back, as reboot and wait_for_connection do; the engine
    /// itself opens an ended connection again between tasks). The default: this
    /// transport cannot.
    async fn reopen(&self) -> Result<std::sync::Arc<dyn Connection>, TransportError> {
        Err(TransportError::Lost(
            "this connection cannot be opened again".into(),
        ))
    }
    /// Whether commands run on the controller itself (`connection: local`).
    fn is_local(&self) -> bool {
        false
    }
}

/// How to become another user on the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Become {
    pub method: BecomeMethod,
    pub user: String,
    /// Password for sudo/su; sent on stdin only, never on a command line.
    pub password: Option<String>,
    pub flags: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BecomeMethod {
    Sudo,
    Su,
}

/// Builds the command line sent to the SSH server for a script, with privilege
/// escalation applied, and the stdin prefix (the become password) to send first.
///
/// sudo reads the password from stdin byte by byte up to the newline (`-S`), so the
/// bytes that follow stay for the script itself.
pub fn wrap_become(script: &str, become_: Option<&Become>) -> (String, Vec<u8>) {
    let inner = format!("/bin/sh -c {}", shell::quote(script));
    match become_ {
        None => (inner, vec![]),
        Some(b) => match b.method {
            BecomeMethod::Sudo => {
                let flags = b.flags.clone().unwrap_or_else(|| "-H".to_string());
                let flags: Vec<String> = shell::split(&flags).unwrap_or_default();
                match &b.password {
                    None => (
                        format!(
                            "sudo {} -n -u {} {}",
                            shell::join(&flags),
                            shell::quote(&b.user),
                            inner
                        ),
                        vec![],
                    ),
                    Some(pw) => {
                        // The password is the first line of stdin. A small shell reads it
                        // (byte by byte, so the rest of stdin stays for the script) and
                        // hands it to sudo through SUDO_ASKPASS: sudo only asks when it
                        // needs a password, so the password can never reach the script's
                        // stdin (root, NOPASSWD, cached credentials). It is never on a
                        // command line nor written to disk.
                        //
                        // The script itself starts by dropping RD_PW: with flags that keep
                        // the caller's environment (`-E`, `--preserve-env`) it would reach
                        // every command the task runs (and `ansible_env` facts).
                        let mut prefix = pw.clone().into_bytes();
                        prefix.push(b'\n');
                        let inner = format!(
                            "/bin/sh -c {}",
                            shell::quote(&format!("unset RD_PW SUDO_ASKPASS\n{script}"))
                        );
                        let outer = format!(
                            "IFS= read -r RD_PW || exit 1\nexport RD_PW\nrd_ap=$(mktemp) || exit 1\n\
                             cat > \"$rd_ap\" <<'RD_ASKPASS'\n#!/bin/sh\nprintf '%s\\n' \"$RD_PW\"\nRD_ASKPASS\n\
                             chmod 700 \"$rd_ap\"\n\
                             SUDO_ASKPASS=\"$rd_ap\" sudo {} -A -p '' -u {} {}\nrd_rc=$?\nrm -f \"$rd_ap\"\nexit $rd_rc\n",
                            shell::join(&flags),
                            shell::quote(&b.user),
                            inner
                        );
                        (format!("/bin/sh -c {}", shell::quote(&outer)), prefix)
                    }
                }
            }
            BecomeMethod::Su => {
                // su reads the password from the terminal only; without a password we
                // can only use su when already root.
                (
                    format!(
                        "su -s /bin/sh {} -c {}",
                        shell::quote(&b.user),
                        shell::quote(&inner)
                    ),
                    vec![],
                )
            }
        },
    }
}
