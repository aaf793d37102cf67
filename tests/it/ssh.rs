//! The russh transport against real OpenSSH hosts of the fleet: exec, stdin, speed of
//! a reused connection, concurrency, host key checking (strict, hashed, unknown,
//! changed, accept-new), authentication (key, password, failures), become with sudo,
//! unreachable hosts, ProxyJump, lost connections and timeouts.

use crate::harness::{fleet, FleetHost};
use rdeploy::ssh::russh_conn::connect;
use rdeploy::ssh::{
    wrap_become, Become, BecomeMethod, ConnectSpec, Connection, ExecRequest, HostKeyPolicy,
    TransportError,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn host(i: usize) -> &'static FleetHost {
    let f = fleet();
    &f.hosts[i % f.hosts.len()]
}

/// Root on a fleet host with the fleet key and strict checking of the fleet's known_hosts.
pub(crate) fn spec(h: &FleetHost, user: &str) -> ConnectSpec {
    let f = fleet();
    ConnectSpec {
        name: h.name.clone(),
        address: "127.0.0.1".into(),
        port: h.port,
        user: user.into(),
        private_keys: vec![f.key()],
        password: None,
        known_hosts: vec![f.known_hosts()],
        host_key_policy: HostKeyPolicy::Strict,
        trusted_keys: None,
        connect_timeout: Duration::from_secs(10),
        jump: None,
        persistent_shell: true,
    }
}

/// Like [`spec`], with one channel per request (no persistent shell).
pub(crate) fn spec_channels(h: &FleetHost, user: &str) -> ConnectSpec {
    ConnectSpec {
        persistent_shell: false,
        ..spec(h, user)
    }
}

pub(crate) fn req(script: &str) -> ExecRequest {
    ExecRequest {
        script: script.into(),
        stdin: None,
        timeout: Some(Duration::from_secs(30)),
        become_: None,
        kind: Default::default(),
    }
}

/// A request with this stdin.
pub(crate) fn req_stdin(script: &str, stdin: Vec<u8>) -> ExecRequest {
    ExecRequest {
        stdin: Some(stdin),
        ..req(script)
    }
}

pub(crate) async fn connect_ok(spec: &ConnectSpec) -> Arc<dyn Connection> {
    match connect(spec).await {
        Ok(c) => c,
        Err(e) => panic!(
            "connect to {}:{} as {}: {e}",
            spec.address, spec.port, spec.user
        ),
    }
}

async fn connect_err(spec: &ConnectSpec) -> TransportError {
    match connect(spec).await {
        Ok(_) => panic!(
            "connect to {}:{} as {} should have failed",
            spec.address, spec.port, spec.user
        ),
        Err(e) => e,
    }
}

/// The fleet's known_hosts lines for one host (`[127.0.0.1]:PORT type key`).
pub(crate) fn fleet_lines(h: &FleetHost) -> Vec<String> {
    let text = std::fs::read_to_string(fleet().known_hosts()).unwrap();
    let prefix = format!("[127.0.0.1]:{} ", h.port);
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "no known_hosts line for {}", h.name);
    lines
}

/// The OpenSSH fingerprint (`ssh-keygen -lf`) of a known_hosts line.
fn openssh_fingerprint(line: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("kh");
    std::fs::write(&f, format!("{line}\n")).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&f)
        .output()
        .expect("ssh-keygen");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap_or_else(|| panic!("no fingerprint in {text:?}"))
        .to_string()
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Deterministic pseudo-random bytes.
pub(crate) fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn exec_returns_stdout_stderr_and_rc() {
    let c = connect_ok(&spec(host(0), "root")).await;
    let out = c.exec(req("echo out; echo err >&2; exit 3")).await.unwrap();
    assert_eq!(out.stdout_str(), "out\n");
    assert_eq!(out.stderr_str(), "err\n");
    assert_eq!(out.rc, 3);
    let out = c.exec(req("id -un")).await.unwrap();
    assert_eq!((out.rc, out.stdout_str().as_str()), (0, "root\n"));
    // Death by signal: 128 + signal number, like a shell.
    let out = c.exec(req("kill -TERM $$")).await.unwrap();
    assert_eq!(out.rc, 143);
    c.close().await;
}

#[tokio::test]
async fn stdin_bytes_arrive_intact() {
    let c = connect_ok(&spec(host(1), "root")).await;
    let data = noise(1 << 20);
    let want = hex::encode(Sha256::digest(&data));
    let out = c
        .exec(req_stdin("sha256sum | cut -d' ' -f1", data.clone()))
        .await
        .unwrap();
    assert_eq!(out.stdout_str().trim(), want);
    // Echoed back while still being sent: reading and writing at once, 4 MiB each way.
    let big = noise(4 << 20);
    let out = c.exec(req_stdin("cat", big.clone())).await.unwrap();
    assert_eq!(out.rc, 0);
    assert!(
        out.stdout == big,
        "cat echoed {} bytes of {}",
        out.stdout.len(),
        big.len()
    );
    // A command that never reads its stdin still finishes.
    let out = c.exec(req_stdin("echo done", big)).await.unwrap();
    assert_eq!(out.stdout_str(), "done\n");
}

#[tokio::test]
async fn reused_connection_is_fast() {
    let s = spec(host(2), "root");
    let mut connects = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let c = connect_ok(&s).await;
        connects.push(t.elapsed());
        c.close().await;
    }
    let c = connect_ok(&s).await;
    let t = Instant::now();
    for i in 0..50 {
        let out = c.exec(req(&format!("echo {i}"))).await.unwrap();
        assert_eq!(out.stdout_str(), format!("{i}\n"));
    }
    let seq = t.elapsed();
    println!(
        "connect+auth: {connects:?}; 50 sequential execs on one connection: {seq:?} ({:?}/exec)",
        seq / 50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_execs_share_one_connection() {
    let c = connect_ok(&spec(host(3), "root")).await;
    let t = Instant::now();
    let runs = (0..20).map(|i| {
        let c = c.clone();
        async move { c.exec(req(&format!("sleep 0.5; echo {i}"))).await }
    });
    let outs = futures::future::join_all(runs).await;
    let took = t.elapsed();
    for (i, o) in outs.into_iter().enumerate() {
        assert_eq!(o.unwrap().stdout_str(), format!("{i}\n"));
    }
    println!("20 concurrent 0.5 s execs on one connection: {took:?}");
    assert!(
        took < Duration::from_secs(6),
        "execs did not overlap: {took:?}"
    );
}

#[tokio::test]
async fn strict_checking_accepts_known_and_hashed_keys() {
    let h = host(4);
    connect_ok(&spec(h, "root")).await;
    // The same lines hashed by ssh-keygen -H.
    let dir = tempfile::tempdir().unwrap();
    let kh = write(
        dir.path(),
        "known_hosts",
        &(fleet_lines(h).join("\n") + "\n"),
    );
    let st = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .output()
        .expect("ssh-keygen -H");
    assert!(st.status.success());
    let text = std::fs::read_to_string(&kh).unwrap();
    assert!(text.starts_with("|1|"), "{text}");
    let mut s = spec(h, "root");
    s.known_hosts = vec![dir.path().join("missing"), kh];
    let c = connect_ok(&s).await;
    assert_eq!(c.exec(req("echo ok")).await.unwrap().stdout_str(), "ok\n");
}

#[tokio::test]
async fn unknown_host_key_is_refused_with_its_fingerprint() {
    let h = host(5);
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(h, "root");
    s.known_hosts = vec![write(dir.path(), "known_hosts", "")];
    let e = connect_err(&s).await;
    let msg = e.to_string();
    assert!(matches!(e, TransportError::HostKey { .. }), "{msg}");
    let ed = fleet_lines(h)
        .into_iter()
        .find(|l| l.contains(" ssh-ed25519 "))
        .unwrap();
    assert!(
        msg.contains("SHA256:") && msg.contains("ssh-ed25519"),
        "{msg}"
    );
    assert!(msg.contains(&openssh_fingerprint(&ed)), "{msg}");
    println!("{msg}");
    // A file with other hosts only: refused too.
    let other = fleet_lines(host(0)).join("\n");
    s.known_hosts = vec![write(dir.path(), "others", &other)];
    assert!(matches!(
        connect_err(&s).await,
        TransportError::HostKey { .. }
    ));
}

/// The host's known_hosts lines with its ed25519 key replaced by another ed25519 key,
/// and the fingerprint of the real one.
fn changed_lines(h: &FleetHost) -> (String, String) {
    let other = std::fs::read_to_string(fleet().key().with_extension("pub")).unwrap();
    let other_blob = other.split_whitespace().nth(1).unwrap();
    let mut old_fp = String::new();
    let lines: Vec<String> = fleet_lines(h)
        .into_iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f[1] == "ssh-ed25519" {
                old_fp = openssh_fingerprint(&l);
                format!("{} ssh-ed25519 {other_blob}", f[0])
            } else {
                l
            }
        })
        .collect();
    (lines.join("\n") + "\n", old_fp)
}

#[tokio::test]
async fn changed_host_key_is_refused_as_changed() {
    let h = host(0);
    let (text, server_fp) = changed_lines(h);
    let other_fp = openssh_fingerprint(text.lines().find(|l| l.contains("ssh-ed25519")).unwrap());
    assert_ne!(server_fp, other_fp);
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(h, "root");
    s.known_hosts = vec![write(dir.path(), "known_hosts", &text)];
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        s.host_key_policy = policy;
        let e = connect_err(&s).await;
        let msg = e.to_string();
        assert!(matches!(e, TransportError::HostKey { .. }), "{msg}");
        assert!(
            msg.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
            "{msg}"
        );
        assert!(
            msg.contains(&other_fp),
            "the recorded key's fingerprint is named: {msg}"
        );
        assert!(
            msg.contains(&server_fp),
            "the offered key's fingerprint is named: {msg}"
        );
        // keyscan's line order varies: the line named is the ed25519 one, wherever it is.
        let line_no = text
            .lines()
            .position(|l| l.contains("ssh-ed25519"))
            .unwrap()
            + 1;
        assert!(
            msg.contains(&format!("known_hosts:{line_no}")),
            "the line is named: {msg}"
        );
    }
    println!("{}", connect_err(&s).await);
    // Off: accepted anyway.
    s.host_key_policy = HostKeyPolicy::Off;
    connect_ok(&s).await;
}

#[tokio::test]
async fn accept_new_records_the_key() {
    let h = host(1);
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("new/known_hosts");
    let mut s = spec(h, "root");
    s.known_hosts = vec![kh.clone()];
    s.host_key_policy = HostKeyPolicy::AcceptNew;
    connect_ok(&s).await;
    let text = std::fs::read_to_string(&kh).unwrap();
    let ed = fleet_lines(h)
        .into_iter()
        .find(|l| l.contains(" ssh-ed25519 "))
        .unwrap();
    assert_eq!(text, format!("{ed}\n"));
    // Now known: strict works, and accept-new does not add it twice.
    s.host_key_policy = HostKeyPolicy::Strict;
    connect_ok(&s).await;
    s.host_key_policy = HostKeyPolicy::AcceptNew;
    connect_ok(&s).await;
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), text);
}

#[tokio::test]
async fn wrong_user_or_key_is_an_auth_error() {
    let h = host(2);
    let mut s = spec(h, "nosuchuser");
    let e = connect_err(&s).await;
    let msg = e.to_string();
    assert!(matches!(e, TransportError::Auth { .. }), "{msg}");
    assert!(msg.contains(&format!("nosuchuser@{}", h.name)), "{msg}");
    println!("{msg}");

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_other");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    s.user = "root".into();
    s.private_keys = vec![key.clone()];
    let e = connect_err(&s).await;
    assert!(matches!(e, TransportError::Auth { .. }), "{e}");
    assert!(e.to_string().contains("id_other"), "{e}");
    // A key file that does not exist is named too.
    s.private_keys = vec![dir.path().join("nope")];
    let e = connect_err(&s).await;
    assert!(
        matches!(e, TransportError::Auth { .. }) && e.to_string().contains("nope"),
        "{e}"
    );

    // Password after a refused key.
    let mut s = spec(h, "deploypw");
    s.private_keys = vec![key];
    s.password = Some("deploypw-secret".into());
    let c = connect_ok(&s).await;
    assert_eq!(
        c.exec(req("id -un")).await.unwrap().stdout_str(),
        "deploypw\n"
    );
    s.password = Some("wrong".into());
    assert!(matches!(connect_err(&s).await, TransportError::Auth { .. }));
}

#[tokio::test]
async fn become_with_sudo() {
    let h = host(3);
    let root = |password: Option<&str>| Become {
        method: BecomeMethod::Sudo,
        user: "root".into(),
        password: password.map(str::to_string),
        flags: None,
    };

    // Passwordless sudo.
    let c = connect_ok(&spec(h, "deploy")).await;
    let (cmd, prefix) = wrap_become("id -un; echo \"$HOME\"", Some(&root(None)));
    assert!(prefix.is_empty());
    let out = c
        .exec(ExecRequest {
            script: cmd,
            ..req("")
        })
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_str().as_str()),
        (0, "root\n/root\n"),
        "{}",
        out.stderr_str()
    );

    // sudo with a password: on stdin, never on the command line; the script still
    // gets the rest of stdin.
    let c = connect_ok(&spec(h, "deploypw")).await;
    let b = root(Some("deploypw-secret"));
    let (cmd, mut stdin) = wrap_become("id -un; cat", Some(&b));
    assert!(!cmd.contains("deploypw-secret"), "{cmd}");
    stdin.extend_from_slice(b"data after the password\n");
    let out = c
        .exec(ExecRequest {
            script: cmd,
            stdin: Some(stdin),
            ..req("")
        })
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_str().as_str()),
        (0, "root\ndata after the password\n"),
        "stderr: {}",
        out.stderr_str()
    );
    // Without the password sudo refuses (and does not hang).
    let (cmd, _) = wrap_become("id -un", Some(&root(None)));
    let out = c
        .exec(ExecRequest {
            script: cmd,
            ..req("")
        })
        .await
        .unwrap();
    assert_ne!(out.rc, 0);
}

#[tokio::test]
async fn refused_port_fails_fast() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = spec(host(0), "root");
    s.port = port;
    s.connect_timeout = Duration::from_secs(3);
    let t = Instant::now();
    let e = connect_err(&s).await;
    assert!(matches!(e, TransportError::Connect { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

/// A container of our own (not one of the fleet's, so tests may stop it or change
/// its users' keys), from the fleet's image, running sshd; removed on drop.
pub(crate) struct OwnContainer {
    pub(crate) name: String,
    pub(crate) port: u16,
}

impl Drop for OwnContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

async fn own_container(tag: &str) -> OwnContainer {
    own_container_with(tag, "true").await
}

/// Like [`own_container`], running `setup` (a shell command) before sshd starts.
pub(crate) async fn own_container_with(tag: &str, setup: &str) -> OwnContainer {
    let image = String::from_utf8_lossy(
        &Command::new("docker")
            .args(["inspect", "-f", "{{.Config.Image}}", &host(0).container])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    let prefix = std::env::var("RDEPLOY_FLEET_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "rdeploy".into());
    let name = format!("{prefix}-sshtest-{tag}-{}", std::process::id());
    let network = format!("{prefix}-net");
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    let out = Command::new("docker")
        .args(["run", "-d", "--name", &name, "--network", &network])
        .args(["-p", "127.0.0.1::22", &image, "sh", "-c"])
        .arg(format!(
            "{setup} && mkdir -p /run/sshd && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = OwnContainer { name, port: 0 };
    let port_out = Command::new("docker")
        .args(["port", &c.name, "22/tcp"])
        .output()
        .unwrap();
    c.port = String::from_utf8_lossy(&port_out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("127.0.0.1:")
                .and_then(|p| p.trim().parse().ok())
        })
        .expect("published port");
    // Wait (bounded: at most ~10 s) until sshd answers with its banner.
    for _ in 0..100 {
        let conn = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(("127.0.0.1", c.port)),
        );
        if let Ok(Ok(mut s)) = conn.await {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 4];
            let read = tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut buf));
            if let Ok(Ok(4)) = read.await {
                if &buf == b"SSH-" {
                    return c;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sshd in {} did not answer", c.name);
}

#[tokio::test]
async fn stopped_host_fails_within_the_connect_timeout() {
    let own = own_container("stopped").await;
    let (name, port) = (own.name.clone(), own.port);
    // Freeze sshd (SIGSTOP): the kernel still accepts TCP, nothing answers.
    let st = Command::new("docker")
        .args(["kill", "--signal=STOP", &name])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );

    let mut s = spec(host(0), "root");
    s.name = name.clone();
    s.port = port;
    s.host_key_policy = HostKeyPolicy::Off;
    s.connect_timeout = Duration::from_secs(2);
    let t = Instant::now();
    let e = connect_err(&s).await;
    let took = t.elapsed();
    println!("stopped sshd: {e} after {took:?}");
    assert!(matches!(e, TransportError::Connect { .. }), "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );

    // The container stopped: its port is closed, the error comes at once.
    let st = Command::new("docker")
        .args(["stop", "-t", "1", &name])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let t = Instant::now();
    let e = connect_err(&s).await;
    println!("stopped container: {e} after {:?}", t.elapsed());
    assert!(matches!(e, TransportError::Connect { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
    drop(own);
}

#[tokio::test]
async fn proxy_jump_through_a_fleet_host() {
    let (bastion, target) = (host(0), host(1));
    // The target as the bastion sees it: its container hostname, port 22.
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("[127.0.0.1]:{} ", target.port);
    let lines: Vec<String> = fleet_lines(target)
        .iter()
        .map(|l| format!("{} {}", target.name, l.strip_prefix(&prefix).unwrap()))
        .collect();
    let kh = write(dir.path(), "known_hosts", &(lines.join("\n") + "\n"));
    let mut s = spec(target, "root");
    s.address = target.name.clone();
    s.port = 22;
    s.known_hosts = vec![kh];
    s.jump = Some(Box::new(spec(bastion, "root")));
    let c = connect_ok(&s).await;
    let out = c.exec(req("hostname")).await.unwrap();
    assert_eq!(out.stdout_str().trim(), target.name);
    let data = noise(256 * 1024);
    let out = c.exec(req_stdin("cat", data.clone())).await.unwrap();
    assert!(out.stdout == data);
    c.close().await;

    // The target's key is checked too (under the name the bastion connects to).
    let mut s2 = s.clone();
    s2.known_hosts = vec![write(dir.path(), "empty", "")];
    let e = connect_err(&s2).await;
    assert!(matches!(e, TransportError::HostKey { .. }), "{e}");
    assert!(e.to_string().contains(&target.name), "{e}");
}

#[tokio::test]
async fn timeout_and_lost_connection() {
    let c = connect_ok(&spec(host(4), "root")).await;
    let t = Instant::now();
    let e = c
        .exec(ExecRequest {
            timeout: Some(Duration::from_millis(300)),
            ..req("sleep 5")
        })
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Timeout(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
    // A timed-out command is sent SIGKILL. OpenSSH honours that for non-root logins
    // only ("session signalling requires privilege separation"): checked as deploy.
    let d = connect_ok(&spec(host(4), "deploy")).await;
    let e = d
        .exec(ExecRequest {
            timeout: Some(Duration::from_millis(300)),
            ..req("sleep 58")
        })
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Timeout(_)), "{e}");
    let mut gone = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ps = crate::harness::docker_sh(
            &host(4).container,
            "pgrep -u deploy -f 'sleep 5[8]' || true",
        );
        if String::from_utf8_lossy(&ps.stdout).trim().is_empty() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the timed-out command still runs");
    // The connection is still usable after a timed-out command.
    assert_eq!(
        c.exec(req("echo still")).await.unwrap().stdout_str(),
        "still\n"
    );

    // Kill our own session's sshd process: the connection drops. (On a channel of its
    // own: in a persistent shell, $PPID is the shell; see persistent_shell_death.)
    let c = connect_ok(&spec_channels(host(4), "root")).await;
    let r = c
        .exec(req("[ \"$PPID\" -gt 1 ] && kill -9 \"$PPID\""))
        .await;
    assert!(matches!(r, Err(TransportError::Lost(_))), "{r:?}");
    println!("{}", r.unwrap_err());
    let e = c.exec(req("true")).await.unwrap_err();
    assert!(matches!(e, TransportError::Lost(_)), "{e}");

    // close() ends a connection: later execs fail as lost.
    let c = connect_ok(&spec(host(4), "root")).await;
    c.close().await;
    let e = c.exec(req("true")).await.unwrap_err();
    assert!(matches!(e, TransportError::Lost(_)), "{e}");
}

#[tokio::test]
async fn rsa_user_key_and_rsa_host_key() {
    // Strict checking with only the host's RSA key known: the RSA host key is asked
    // for (OpenSSH's preference for known key types), not refused as unknown.
    let h = host(2);
    let dir = tempfile::tempdir().unwrap();
    let rsa_line = fleet_lines(h)
        .into_iter()
        .find(|l| l.contains(" ssh-rsa "))
        .expect("RSA host key");
    let mut s = spec(h, "root");
    s.known_hosts = vec![write(dir.path(), "known_hosts", &format!("{rsa_line}\n"))];
    let c = connect_ok(&s).await;
    assert_eq!(c.exec(req("echo rsa")).await.unwrap().stdout_str(), "rsa\n");

    // An RSA user key (rsa-sha2-* signatures), on a container of our own.
    let own = own_container("rsa").await;
    let key = dir.path().join("id_rsa");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read(key.with_extension("pub")).unwrap();
    let mut child = Command::new("docker")
        .args([
            "exec",
            "-i",
            &own.name,
            "sh",
            "-c",
            "cat > /root/.ssh/authorized_keys",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&pubkey).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let mut s = spec(h, "root");
    s.name = own.name.clone();
    s.port = own.port;
    s.private_keys = vec![key];
    s.known_hosts = vec![dir.path().join("own_known_hosts")];
    s.host_key_policy = HostKeyPolicy::AcceptNew;
    let c = connect_ok(&s).await;
    assert_eq!(c.exec(req("id -un")).await.unwrap().stdout_str(), "root\n");
    c.close().await;
}
