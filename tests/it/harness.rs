//! Test harness: starts the container fleet once (tests/fleet/fleet.sh up N) and gives
//! tests what they need to reach it: inventory, key, known_hosts, `docker exec` checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Number of fleet hosts the tests use. node9 and node10 are modules_more.rs's;
/// node11 and node12 are for tests that make a host stop answering (faults.rs): no
/// other test uses them.
pub const FLEET_SIZE: usize = 12;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One host of the fleet.
#[derive(Debug, Clone)]
pub struct FleetHost {
    pub name: String,
    pub port: u16,
    pub container: String,
}

/// The running fleet.
#[derive(Debug)]
pub struct Fleet {
    pub hosts: Vec<FleetHost>,
    pub dir: PathBuf,
}

impl Fleet {
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.ini")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
    pub fn host(&self, name: &str) -> &FleetHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .expect("fleet host")
    }
}

static FLEET: OnceLock<Fleet> = OnceLock::new();

/// Starts (or reuses) the fleet. Panics with the script's output when it cannot.
pub fn fleet() -> &'static Fleet {
    FLEET.get_or_init(|| {
        let root = repo_root();
        let out = Command::new("bash")
            .arg(root.join("tests/fleet/fleet.sh"))
            .arg("up")
            .arg(FLEET_SIZE.to_string())
            .current_dir(&root)
            .output()
            .expect("run tests/fleet/fleet.sh");
        assert!(
            out.status.success(),
            "fleet.sh up failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = root.join("target/fleet");
        let hosts_json = std::fs::read_to_string(dir.join("hosts.json")).expect("hosts.json");
        let v: serde_json::Value = serde_json::from_str(&hosts_json).expect("hosts.json is JSON");
        let hosts = v
            .as_array()
            .expect("list")
            .iter()
            .map(|h| FleetHost {
                name: h["name"].as_str().unwrap().to_string(),
                port: h["port"].as_u64().unwrap() as u16,
                container: h["container"].as_str().unwrap().to_string(),
            })
            .collect();
        Fleet { hosts, dir }
    })
}

/// Runs a shell command inside a fleet container (independent of rdeploy).
pub fn docker_sh(container: &str, script: &str) -> Output {
    Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("docker exec")
}

/// Like [`docker_sh`] but returns trimmed stdout and asserts success.
pub fn docker_out(container: &str, script: &str) -> String {
    let o = docker_sh(container, script);
    assert!(
        o.status.success(),
        "docker exec {container} {script:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The rdeploy binary built by cargo for these tests.
pub fn rdeploy_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rdeploy"))
}

/// The result of running the rdeploy binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs rdeploy with arguments, in `cwd`.
pub fn rdeploy(cwd: &Path, args: &[&str]) -> Run {
    rdeploy_env(cwd, args, &[])
}

pub fn rdeploy_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(rdeploy_bin());
    c.args(args).current_dir(cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run rdeploy");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `text` to `dir/rel`, creating the parent directories.
pub fn write_file(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A scratch directory removed at drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A [`rdeploy::ssh::Connection`] that runs scripts in a fleet container with
/// `docker exec` — for module-level tests only; end-to-end tests go through SSH.
pub struct DockerConn {
    pub container: String,
}

#[async_trait::async_trait]
impl rdeploy::ssh::Connection for DockerConn {
    async fn exec(
        &self,
        req: rdeploy::ssh::ExecRequest,
    ) -> Result<rdeploy::ssh::ExecOutput, rdeploy::ssh::TransportError> {
        use tokio::io::AsyncWriteExt;
        let (command, mut data) = rdeploy::ssh::wrap_become(&req.script, req.become_.as_ref());
        let mut child = tokio::process::Command::new("docker")
            .args(["exec", "-i", &self.container, "/bin/sh", "-c", &command])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| rdeploy::ssh::TransportError::Lost(e.to_string()))?;
        let mut stdin = child.stdin.take().unwrap();
        data.extend_from_slice(&req.stdin.unwrap_or_default());
        let w = async move {
            let _ = stdin.write_all(&data).await;
            let _ = stdin.shutdown().await;
        };
        let (_, out) = tokio::join!(w, child.wait_with_output());
        let out = out.map_err(|e| rdeploy::ssh::TransportError::Lost(e.to_string()))?;
        Ok(rdeploy::ssh::ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// Copies a fixture directory (tests/fixtures/NAME) into a fresh temporary directory.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let src = repo_root().join("tests/fixtures").join(name);
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(st.success(), "copy fixture {name}");
    dir
}

/// Writes an INI inventory with the given fleet hosts in group `fleet` into `dir`.
/// Host keys are checked against the fleet's known_hosts (strict, the default).
pub fn write_inventory(dir: &Path, hosts: &[&str], user: &str) -> PathBuf {
    let f = fleet();
    let mut text = String::from("[fleet]\n");
    for h in hosts {
        let fh = f.host(h);
        text.push_str(&format!(
            "{} ansible_host=127.0.0.1 ansible_port={} ansible_user={}\n",
            fh.name, fh.port, user
        ));
    }
    text.push_str(&format!(
        "\n[fleet:vars]\nansible_ssh_private_key_file={}\n",
        f.key().display()
    ));
    let path = dir.join("hosts.ini");
    std::fs::write(&path, text).expect("write inventory");
    path
}

/// Standard flags to reach the fleet with strict host key checking.
pub fn fleet_flags() -> Vec<String> {
    let f = fleet();
    vec![
        "--known-hosts".into(),
        f.known_hosts().display().to_string(),
    ]
}

/// The PLAY RECAP as host -> [ok, changed, unreachable, failed, skipped] (older tests;
/// new ones use [`recap_full`] through tests/it/scenario.rs).
pub fn recap(stdout: &str) -> std::collections::HashMap<String, [u32; 5]> {
    recap_full(stdout)
        .into_iter()
        .map(|(h, r)| (h, [r.ok, r.changed, r.unreachable, r.failed, r.skipped]))
        .collect()
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One PLAY RECAP line, by field name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recap {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// Parses the PLAY RECAP lines of human output: host -> every counter by name.
pub fn recap_full(stdout: &str) -> std::collections::HashMap<String, Recap> {
    let mut out = std::collections::HashMap::new();
    let mut in_recap = false;
    for line in stdout.lines() {
        let plain = strip_ansi(line);
        if plain.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        if !in_recap || !plain.contains(" : ok=") {
            continue;
        }
        let (host, rest) = plain.split_once(" : ").unwrap();
        let get = |k: &str| -> u32 {
            rest.split_whitespace()
                .find_map(|kv| {
                    kv.strip_prefix(&format!("{k}="))
                        .and_then(|v| v.parse().ok())
                })
                .unwrap_or(0)
        };
        out.insert(
            host.trim().to_string(),
            Recap {
                ok: get("ok"),
                changed: get("changed"),
                unreachable: get("unreachable"),
                failed: get("failed"),
                skipped: get("skipped"),
                rescued: get("rescued"),
                ignored: get("ignored"),
            },
        );
    }
    out
}

/// Polls `cond` every 50 ms until it holds (true) or `limit` passes (false).
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// ansible-core's ansible-playbook from the peers venv (`tests/fleet/fleet.sh peers`).
pub const ANSIBLE_PLAYBOOK: &str = "/opt/rdeploy-peers/bin/ansible-playbook";

/// Runs the real ansible-playbook in `dir` with `args` (and `env`), for the tests that
/// compare rdeploy with it; fails the test, with its output, unless it succeeds.
pub fn ansible_playbook(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    assert!(
        Path::new(ANSIBLE_PLAYBOOK).is_file(),
        "{ANSIBLE_PLAYBOOK} is missing: run `tests/fleet/fleet.sh peers` (tests/run.sh does)"
    );
    let out = Command::new(ANSIBLE_PLAYBOOK)
        .args(args)
        .current_dir(dir)
        .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
        .envs(env.iter().copied())
        .output()
        .expect("ansible-playbook");
    assert!(
        out.status.success(),
        "ansible-playbook failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A container of the fleet image started for one test, removed when dropped.
pub struct OwnHost {
    pub name: String,
    pub port: u16,
    pub known_hosts: PathBuf,
}

impl OwnHost {
    /// Starts `name` with `docker_args` added, installs the fleet key for root and
    /// scans its host key into `dir/known_hosts` (every wait bounded).
    pub fn start(name: &str, docker_args: &[&str], dir: &Path) -> OwnHost {
        let prefix = std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into());
        assert!(
            name.starts_with(&format!("{prefix}-")),
            "only our own containers"
        );
        let root = repo_root();
        let _ = Command::new("docker").args(["rm", "-f", name]).output();
        let tag = Command::new("bash")
            .arg(root.join("tests/fleet/fleet.sh"))
            .arg("image-tag")
            .output()
            .expect("fleet.sh image-tag");
        let image = String::from_utf8_lossy(&tag.stdout).trim().to_string();
        let out = Command::new("docker")
            .args(["run", "-d", "--name", name, "--label", "rdeploy-fleet=1"])
            .args(["-p", "127.0.0.1::22"])
            .args(docker_args)
            .arg(&image)
            .args([
                "sh",
                "-c",
                "mkdir -p /run/sshd && ssh-keygen -A && exec /usr/sbin/sshd -D -e",
            ])
            .output()
            .expect("docker run");
        assert!(
            out.status.success(),
            "docker run {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut extra = OwnHost {
            name: name.to_string(),
            port: 0,
            known_hosts: dir.join("known_hosts"),
        };
        let key = std::fs::read(fleet().key().with_extension("pub")).expect("fleet key");
        let mut c = Command::new("docker")
            .args(["exec", "-i", name, "sh", "-c"])
            .arg("mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys")
            .stdin(Stdio::piped())
            .spawn()
            .expect("docker exec");
        use std::io::Write;
        c.stdin.take().unwrap().write_all(&key).unwrap();
        assert!(c.wait().unwrap().success(), "install the key on {name}");
        let port = docker_port(name);
        extra.port = port;
        let mut scanned = String::new();
        let found = wait_until(Duration::from_secs(30), || {
            let o = Command::new("ssh-keyscan")
                .args(["-T", "3", "-p", &port.to_string(), "127.0.0.1"])
                .output()
                .expect("ssh-keyscan");
            scanned = String::from_utf8_lossy(&o.stdout).into_owned();
            !scanned.trim().is_empty()
        });
        assert!(found, "sshd of {name} never answered");
        std::fs::write(&extra.known_hosts, &scanned).unwrap();
        extra
    }

    /// `dir/hosts.ini`: this container as host `name` in group `group`, its host key
    /// checked against the scanned known_hosts (for rdeploy and ansible-playbook alike).
    pub fn inventory_checked(&self, dir: &Path, group: &str, name: &str) -> PathBuf {
        let p = dir.join("hosts.ini");
        std::fs::write(
            &p,
            format!(
                "[{group}]\n{name} ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={} ansible_ssh_common_args='-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes'\n",
                self.port,
                fleet().key().display(),
                self.known_hosts.display()
            ),
        )
        .unwrap();
        p
    }

    /// An inventory with this container as host `name` in group `fleet`.
    pub fn inventory(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join("extra.ini");
        std::fs::write(
            &p,
            format!(
                "[fleet]\n{name} ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={}\n",
                self.port,
                fleet().key().display()
            ),
        )
        .unwrap();
        p
    }
}

impl Drop for OwnHost {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// The 127.0.0.1 port published for a container's port 22.
pub fn docker_port(name: &str) -> u16 {
    let mut port = None;
    wait_until(Duration::from_secs(10), || {
        let o = Command::new("docker")
            .args(["port", name, "22/tcp"])
            .output()
            .expect("docker port");
        port = String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:").and_then(|p| p.parse().ok()));
        port.is_some()
    });
    port.unwrap_or_else(|| panic!("no 127.0.0.1 port published for {name}"))
}
