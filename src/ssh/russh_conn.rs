//! The SSH transport over russh: one long-lived, authenticated, host-key-checked
//! connection per host. An [`exec`](Connection::exec) runs in a persistent shell of the
//! request's identity ([`shell_pool`](super::shell_pool)) when the spec allows it and
//! the host has one; otherwise it opens a session channel of its own. Several scripts
//! may run at once on one host either way.
//!
//! Invariants:
//! - Nagle is off (`nodelay`): with it on, every exec round trip costs ~40 ms more.
//! - No more than [`MAX_CHANNELS`] channels are open at once on a connection
//!   (OpenSSH's default `MaxSessions`); further execs wait for a free one.
//! - On a channel of its own, the script is sent as the SSH `exec` command line, as
//!   [`wrap_become`](super::wrap_become) returns it (`/bin/sh -c '...'` or `sudo ...`),
//!   which any login shell runs the same way. Stdin bytes (a sudo password first, then
//!   file contents) are streamed on the channel, never put on a command line.
//! - A request whose persistent shell dies is not run again (it may have done its
//!   work): it reports rc -1 and the connection goes on with one channel per request.
//! - Host keys are checked by [`known_hosts::verify_with`] before authentication, against
//!   the known_hosts files and the keys the inventory vouches for (`spec.trusted_keys`).

use super::known_hosts;
use super::persistent::Shell;
use super::shell_pool::{Identity, ShellPool};
use super::{wrap_become, ConnectSpec, Connection, ExecOutput, ExecRequest, TransportError};
use async_trait::async_trait;
use russh::client;
use russh::keys::agent::client::AgentClient;
use russh::keys::{Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, Sig};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

/// Channels open at once on one connection (OpenSSH's default `MaxSessions` is 10).
pub const MAX_CHANNELS: usize = 10;

/// Seconds of silence from the server before a keepalive is sent; after 3 unanswered
/// keepalives the connection is considered lost.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// One SSH connection to a host.
pub struct RusshConnection {
    handle: client::Handle<Client>,
    /// `user@name (address:port)`, for messages.
    label: String,
    channels: Arc<Semaphore>,
    shells: Arc<ShellPool>,
    /// The bastion this connection is tunnelled through; kept alive with it.
    jump: Option<Arc<RusshConnection>>,
    /// Set by [`Connection::close`].
    closed: AtomicBool,
    /// What it was opened with, to open it again ([`Connection::reopen`]).
    spec: ConnectSpec,
}

/// Opens one SSH connection to a host, authenticated and host-key checked.
pub async fn connect(spec: &ConnectSpec) -> Result<Arc<dyn Connection>, TransportError> {
    let conn: Arc<dyn Connection> = connect_russh(spec).await?;
    Ok(conn)
}

/// Like [`connect`], returning the concrete type.
pub fn connect_russh(
    spec: &ConnectSpec,
) -> Pin<Box<dyn Future<Output = Result<Arc<RusshConnection>, TransportError>> + Send + '_>> {
    Box::pin(async move {
        let jump = match &spec.jump {
            Some(j) => Some(connect_russh(j).await?),
            None => None,
        };
        let addr = format!("{}:{}", spec.address, spec.port);
        let deadline = Instant::now() + spec.connect_timeout;
        let timed_out = |what: &str| TransportError::Connect {
            addr: addr.clone(),
            msg: format!("{what} timed out after {:?}", spec.connect_timeout),
        };

        let files = if spec.known_hosts.is_empty() {
            known_hosts::default_files()
        } else {
            spec.known_hosts.iter().map(|p| expand_home(p)).collect()
        };
        let host_id = known_hosts::host_id(&spec.address, spec.port);
        let mut known_algs = known_hosts::KnownHosts::load(&files)
            .map(|k| k.known_algorithms(&host_id))
            .unwrap_or_default();
        if let Some(t) = &spec.trusted_keys {
            known_algs.extend(t.algorithms());
        }
        let config = client_config(&known_algs);
        let handler = Client {
            host_id,
            files,
            policy: spec.host_key_policy,
            trusted: spec.trusted_keys.clone(),
        };

        let handshake = match &jump {
            None => {
                let tcp = timeout_at(
                    deadline,
                    tokio::net::TcpStream::connect((spec.address.as_str(), spec.port)),
                )
                .await
                .map_err(|_| timed_out("TCP connect"))?
                .map_err(|e| TransportError::Connect {
                    addr: addr.clone(),
                    msg: e.to_string(),
                })?;
                let _ = tcp.set_nodelay(true);
                timeout_at(deadline, client::connect_stream(config, tcp, handler)).await
            }
            Some(j) => {
                let ch = timeout_at(
                    deadline,
                    j.handle.channel_open_direct_tcpip(
                        &spec.address,
                        spec.port as u32,
                        "127.0.0.1",
                        0,
                    ),
                )
                .await
                .map_err(|_| timed_out("opening the tunnel"))?
                .map_err(|e| TransportError::Connect {
                    addr: addr.clone(),
                    msg: format!(
                        "{} could not open a tunnel (direct-tcpip) to {addr}: {e}",
                        j.label
                    ),
                })?;
                timeout_at(
                    deadline,
                    client::connect_stream(config, ch.into_stream(), handler),
                )
                .await
            }
        };
        let mut handle = handshake
            .map_err(|_| timed_out("SSH handshake (no SSH answer)"))?
            .map_err(|e| match e {
                ClientError::HostKey(msg) => TransportError::HostKey {
                    host: spec.name.clone(),
                    msg,
                },
                ClientError::Ssh(e) => TransportError::Connect {
                    addr: addr.clone(),
                    msg: format!("SSH handshake: {e}"),
                },
            })?;

        timeout_at(deadline, authenticate(&mut handle, spec))
            .await
            .map_err(|_| timed_out("authentication"))??;

        let label = format!("{}@{} ({addr})", spec.user, spec.name);
        Ok(Arc::new(RusshConnection {
            handle,
            shells: ShellPool::new(spec.persistent_shell, &label),
            label,
            channels: Arc::new(Semaphore::new(MAX_CHANNELS)),
            jump,
            closed: AtomicBool::new(false),
            spec: spec.clone(),
        }))
    })
}

fn client_config(known_algs: &[Algorithm]) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    if !known_algs.is_empty() {
        // Ask first for the key types known_hosts holds for this host (as OpenSSH does).
        let mut keys = preferred.key.to_vec();
        keys.sort_by_key(|a| !known_algs.iter().any(|k| known_hosts::same_key_type(k, a)));
        preferred.key = keys.into();
    }
    Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(KEEPALIVE),
        keepalive_max: 3,
        inactivity_timeout: None,
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 32 * 1024,
        channel_buffer_size: 128,
        preferred,
        ..Default::default()
    })
}

/// The russh event handler of a connection: checks the server key.
pub struct Client {
    host_id: String,
    files: Vec<PathBuf>,
    policy: super::HostKeyPolicy,
    trusted: Option<Arc<super::trusted_keys::TrustedKeys>>,
}

#[derive(Debug)]
pub enum ClientError {
    Ssh(russh::Error),
    HostKey(String),
}

impl From<russh::Error> for ClientError {
    fn from(e: russh::Error) -> Self {
        ClientError::Ssh(e)
    }
}

impl client::Handler for Client {
    type Error = ClientError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Host certificates are never asked for (no `host_key_certificates`), so a
        // certificate here is checked by its plain key.
        let key = server_key.public_key();
        known_hosts::verify_with(
            &self.host_id,
            &self.files,
            self.policy,
            &key,
            self.trusted.as_deref(),
        )
        .map_err(|e| ClientError::HostKey(e.to_string()))?;
        Ok(true)
    }
}

/// `~/x` → `$HOME/x` (paths from inventories are often written that way).
fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// Private keys when none are configured: the OpenSSH defaults that exist.
fn default_key_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
    else {
        return vec![];
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| home.join(".ssh").join(n))
        .filter(|p| p.is_file())
        .collect()
}

/// Keys from files, then the ssh-agent, then the password; the first success wins.
async fn authenticate(
    handle: &mut client::Handle<Client>,
    spec: &ConnectSpec,
) -> Result<(), TransportError> {
    let user = spec.user.as_str();
    let auth_err = |msg: String| TransportError::Auth {
        user: spec.user.clone(),
        host: spec.name.clone(),
        msg,
    };
    let mut tried: Vec<String> = Vec::new();

    let keys = if spec.private_keys.is_empty() {
        default_key_files()
    } else {
        spec.private_keys.iter().map(|p| expand_home(p)).collect()
    };
    for path in &keys {
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(e) => {
                tried.push(format!("key {} could not be loaded ({e})", path.display()));
                continue;
            }
        };
        let hash = rsa_hash(handle, &key.algorithm()).await;
        let res = handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| auth_err(format!("{}; then: {e}", tried_text(&tried))))?;
        if res.success() {
            return Ok(());
        }
        tried.push(format!("key {} was refused", path.display()));
    }

    match AgentClient::connect_env().await {
        Ok(mut agent) => match agent.request_identities().await {
            Ok(ids) if ids.is_empty() => tried.push("the ssh-agent holds no key".into()),
            Ok(ids) => {
                for id in ids {
                    let key = id.public_key().into_owned();
                    let hash = rsa_hash(handle, &key.algorithm()).await;
                    match handle
                        .authenticate_publickey_with(user, key.clone(), hash, &mut agent)
                        .await
                    {
                        Ok(r) if r.success() => return Ok(()),
                        Ok(_) => tried.push(format!(
                            "agent key {} was refused",
                            known_hosts::fingerprint(&key)
                        )),
                        Err(e) => tried.push(format!(
                            "agent key {} could not sign ({e})",
                            known_hosts::fingerprint(&key)
                        )),
                    }
                }
            }
            Err(e) => tried.push(format!("the ssh-agent did not list its keys ({e})")),
        },
        Err(_) if std::env::var_os("SSH_AUTH_SOCK").is_none() => {}
        Err(e) => tried.push(format!("no ssh-agent ({e})")),
    }

    if let Some(pw) = &spec.password {
        let res = handle
            .authenticate_password(user, pw.as_str())
            .await
            .map_err(|e| auth_err(format!("{}; then: {e}", tried_text(&tried))))?;
        if res.success() {
            return Ok(());
        }
        tried.push("the password was refused".into());
    }
    if tried.is_empty() {
        tried.push("no private key, ssh-agent or password to try".into());
    }
    Err(auth_err(tried_text(&tried)))
}

fn tried_text(tried: &[String]) -> String {
    tried.join("; ")
}

/// The signature hash for an RSA key (what the server accepts best); `None` otherwise.
async fn rsa_hash(handle: &client::Handle<Client>, alg: &Algorithm) -> Option<HashAlg> {
    if !matches!(alg, Algorithm::Rsa { .. }) {
        return None;
    }
    handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
}

/// The exit code a POSIX shell reports for a death by signal: 128 + its number.
fn signal_rc(sig: &Sig) -> i32 {
    let n = match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(name) => match name.as_str() {
            "BUS" => 7,
            "USR2" => 12,
            "CHLD" => 17,
            "CONT" => 18,
            "STOP" => 19,
            "TSTP" => 20,
            "TTIN" => 21,
            "TTOU" => 22,
            "XCPU" => 24,
            "XFSZ" => 25,
            "SYS" => 31,
            _ => return -1,
        },
    };
    128 + n
}

impl RusshConnection {
    /// `user@name (address:port)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the connection has ended (closed by either side or lost).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed) || self.handle.is_closed()
    }

    fn lost(&self, what: &str, e: impl std::fmt::Display) -> TransportError {
        if self.handle.is_closed() {
            TransportError::Lost(format!(
                "connection to {} was closed ({what}: {e})",
                self.label
            ))
        } else {
            TransportError::Lost(format!("{}: {what}: {e}", self.label))
        }
    }

    /// Runs a request on a channel of its own; with a sink, streamed ([`super::stream`]):
    /// the output goes to the sink as it arrives, stdin stays open while the command
    /// runs and its end (the channel closed) stops the command on the host.
    async fn run(
        &self,
        req: &ExecRequest,
        sink: Option<&super::stream::OutputSink>,
    ) -> Result<ExecOutput, ChannelError> {
        let _permit = self
            .channels
            .acquire()
            .await
            .map_err(|e| self.lost("waiting for a channel", e))?;
        if self.closed.load(Ordering::Relaxed) || self.handle.is_closed() {
            return Err(
                TransportError::Lost(format!("connection to {} is closed", self.label)).into(),
            );
        }
        let channel = match self.handle.channel_open_session().await {
            Ok(c) => c,
            Err(e) => {
                if matches!(e, russh::Error::ChannelOpenFailure(_)) && !self.handle.is_closed() {
                    return Err(ChannelError::Refused(self.lost("opening a channel", e)));
                }
                return Err(self.lost("opening a channel", e).into());
            }
        };
        let script = match sink {
            Some(_) => std::borrow::Cow::Owned(super::stream::watchdog_script(&req.script)),
            None => std::borrow::Cow::Borrowed(req.script.as_str()),
        };
        let (command, mut stdin) = wrap_become(&script, req.become_.as_ref());
        if let Some(data) = &req.stdin {
            stdin.extend_from_slice(data);
        }
        channel
            .exec(true, command.as_bytes())
            .await
            .map_err(|e| self.lost("sending the command", e))?;
        let (mut reader, writer) = channel.split();

        let feed = async {
            if !stdin.is_empty() {
                // Errors here mean the command stopped reading (exited): its exit
                // status tells the rest.
                let _ = writer.data(&stdin[..]).await;
            }
            // A streamed command's watchdog reads stdin until the channel closes.
            if sink.is_none() {
                let _ = writer.eof().await;
            }
        };
        let collect = async {
            let mut out = ExecOutput::default();
            let mut status: Option<i32> = None;
            let mut closed = false;
            while let Some(msg) = reader.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        if let Some(s) = sink {
                            let _ = s.send(super::stream::OutputChunk {
                                stderr: false,
                                data: data.to_vec(),
                            });
                        }
                        out.stdout.extend_from_slice(&data)
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        if let Some(s) = sink {
                            let _ = s.send(super::stream::OutputChunk {
                                stderr: true,
                                data: data.to_vec(),
                            });
                        }
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        status = Some(signal_rc(&signal_name))
                    }
                    ChannelMsg::Failure => {
                        return Err(TransportError::Lost(format!(
                            "{}: the server refused to run the command",
                            self.label
                        )))
                    }
                    ChannelMsg::Close => {
                        closed = true;
                        break;
                    }
                    _ => {}
                }
            }
            match (status, closed) {
                (Some(rc), _) => out.rc = rc,
                // Closed by the server without a status (rare): unknown outcome.
                (None, true) => out.rc = -1,
                (None, false) => {
                    return Err(TransportError::Lost(format!(
                        "connection to {} ended while a command was running",
                        self.label
                    )))
                }
            }
            Ok(out)
        };

        let both = async {
            tokio::pin!(feed);
            tokio::pin!(collect);
            let mut fed = false;
            loop {
                tokio::select! {
                    _ = &mut feed, if !fed => fed = true,
                    r = &mut collect => break r,
                }
            }
        };
        match req.timeout {
            None => Ok(both.await?),
            Some(t) => match tokio::time::timeout(t, both).await {
                Ok(r) => Ok(r?),
                Err(_) => {
                    // Ask the server to stop the command and free the channel.
                    let _ = writer.signal(Sig::KILL).await;
                    let _ = writer.close().await;
                    Err(TransportError::Timeout(t).into())
                }
            },
        }
    }

    /// Runs a request on a persistent shell. The run goes on in a task of its own, so
    /// that a request past its timeout is still waited for (its watchdog on the host
    /// kills it) before the shell is used again; a shell that does not answer by then
    /// is closed.
    async fn run_on_shell(
        &self,
        mut shell: Shell,
        who: Identity,
        req: ExecRequest,
    ) -> Result<ExecOutput, TransportError> {
        let pool = self.shells.clone();
        let ExecRequest {
            script,
            stdin,
            timeout,
            kind,
            ..
        } = req;
        let task = tokio::spawn(async move {
            let stdin = stdin.unwrap_or_default();
            let run = shell.run(&script, &stdin, timeout, kind);
            let r = match timeout {
                None => run.await,
                Some(t) => match tokio::time::timeout(t + SHELL_GRACE, run).await {
                    Ok(r) => r,
                    Err(_) => {
                        pool.forget(shell);
                        return Err(None);
                    }
                },
            };
            match r {
                Ok(a) => {
                    pool.give_back(who, shell);
                    Ok(a)
                }
                Err(e) => {
                    pool.forget(shell);
                    Err(Some(e))
                }
            }
        });
        let joined = match timeout {
            None => task.await,
            Some(t) => match tokio::time::timeout(t, task).await {
                Ok(j) => j,
                Err(_) => return Err(TransportError::Timeout(t)),
            },
        };
        match joined {
            Ok(Ok(a)) if a.timed_out => Err(TransportError::Timeout(timeout.unwrap_or_default())),
            Ok(Ok(a)) => Ok(a.out),
            Ok(Err(None)) => Err(TransportError::Timeout(timeout.unwrap_or_default())),
            Ok(Err(Some(e))) if self.is_closed() => Err(self.lost("running a command", e)),
            Ok(Err(Some(e))) => {
                self.shells.disable(&e.to_string());
                Ok(ExecOutput {
                    rc: -1,
                    stdout: vec![],
                    stderr: format!(
                        "rdeploy: the persistent shell on {} ended while this command ran ({e}); \
                         its outcome is unknown\n",
                        self.label
                    )
                    .into_bytes(),
                })
            }
            Err(e) => Err(self.lost("running a command", e)),
        }
    }
}

/// Why a request on a channel of its own failed.
enum ChannelError {
    /// The server refused to open the channel.
    Refused(TransportError),
    Other(TransportError),
}

impl From<TransportError> for ChannelError {
    fn from(e: TransportError) -> Self {
        ChannelError::Other(e)
    }
}

/// How long past its timeout a request's answer is waited for (the host's watchdog
/// kills it at the timeout) before its shell is given up.
const SHELL_GRACE: Duration = Duration::from_secs(10);

#[async_trait]
impl Connection for RusshConnection {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, TransportError> {
        // A request with a large stdin (a big copy) streams on a channel of its own: the
        // persistent shell would first spool it whole into the host's /tmp.
        let big = req
            .stdin
            .as_ref()
            .is_some_and(|s| s.len() > STREAM_ON_OWN_CHANNEL_OVER);
        if self.shells.enabled() && !self.is_closed() && !big {
            let who: Identity = req.become_.clone();
            if let Some(shell) = self.shells.lease(&self.handle, &self.channels, &who).await {
                return self.run_on_shell(shell, who, req).await;
            }
        }
        match self.run(&req, None).await {
            Ok(out) => Ok(out),
            // Every shell busy and no channel left (the server's MaxSessions): wait for
            // a shell instead.
            Err(ChannelError::Refused(e)) if self.shells.hold_size() => {
                let who: Identity = req.become_.clone();
                match self.shells.lease(&self.handle, &self.channels, &who).await {
                    Some(shell) => self.run_on_shell(shell, who, req).await,
                    None => Err(e),
                }
            }
            Err(ChannelError::Refused(e) | ChannelError::Other(e)) => Err(e),
        }
    }

    async fn exec_streamed(
        &self,
        req: ExecRequest,
        sink: super::stream::OutputSink,
    ) -> Result<ExecOutput, TransportError> {
        match self.run(&req, Some(&sink)).await {
            Ok(out) => Ok(out),
            Err(ChannelError::Refused(e) | ChannelError::Other(e)) => Err(e),
        }
    }

    fn is_closed(&self) -> bool {
        RusshConnection::is_closed(self)
    }

    async fn reopen(&self) -> Result<Arc<dyn Connection>, TransportError> {
        connect(&self.spec).await
    }

    async fn close(&self) {
        self.shells.close_all().await;
        self.closed.store(true, Ordering::Relaxed);
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        // Wait (briefly) until the session has really ended.
        for _ in 0..100 {
            if self.handle.is_closed() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(j) = &self.jump {
            j.close().await;
        }
    }
}

/// Requests whose stdin is larger than this get a channel of their own (see `exec`).
const STREAM_ON_OWN_CHANNEL_OVER: usize = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_expanded() {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(expand_home(Path::new("~/.ssh/k")), home.join(".ssh/k"));
        assert_eq!(expand_home(Path::new("/a/~/b")), PathBuf::from("/a/~/b"));
    }

    #[test]
    fn signals_map_to_shell_codes() {
        assert_eq!(signal_rc(&Sig::TERM), 143);
        assert_eq!(signal_rc(&Sig::KILL), 137);
        assert_eq!(signal_rc(&Sig::Custom("USR2".into())), 140);
        assert_eq!(signal_rc(&Sig::Custom("WEIRD".into())), -1);
    }

    #[test]
    fn known_key_types_are_asked_first() {
        let c = client_config(&[Algorithm::Rsa { hash: None }]);
        assert!(matches!(c.preferred.key[0], Algorithm::Rsa { .. }));
        assert!(c.nodelay);
        let c = client_config(&[]);
        assert_eq!(c.preferred.key[0], Algorithm::Ed25519);
    }
}
