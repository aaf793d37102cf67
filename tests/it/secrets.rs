//! Secrets never reach what a user or a CI log sees: values of `no_log` tasks, the
//! become password (user `deploypw`, sudo with a password) and a registry password given
//! as a variable to `docker_login` appear in no stdout or stderr line, no JSON event
//! (`--output json`), no retry file and no `-vvv` output — also when the tasks fail, loop,
//! gather facts with the caller's environment kept (`become_flags: -E`), or the registry
//! refuses the login. The host side is a fake `docker` client on node8 that records
//! what it was given, so the test also proves the password did reach the host.

use super::harness::{docker_out, fleet, fleet_flags, rdeploy, tempdir, Run};
use std::path::Path;

const NO_LOG_VALUE: &str = "n0-l0g-VALUE-7f3a";
const BECOME_PASSWORD: &str = "deploypw-secret";
const REGISTRY_PASSWORD: &str = "r3g1stry-PASS-91c2";

/// A fake docker client: `login` reads the password on stdin, keeps it in a file
/// only root can read, accepts it for registry.ok and refuses it elsewhere.
const FAKE_DOCKER: &str = r#"#!/bin/sh
[ "$1" = login ] || exit 0
pw=$(cat)
reg=$(for a in "$@"; do :; done; printf '%s' "$a")
printf '%s\n' "$pw" > /root/rdsecret-docker-got
[ "$reg" = registry.ok ] || { echo "Error response from daemon: unauthorized: incorrect username or password" >&2; exit 1; }
mkdir -p "$HOME/.docker"
echo "Login Succeeded" >&2
"#;

fn playbook(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("site.yml");
    std::fs::write(
        &p,
        format!(
            "\
- hosts: fleet
  gather_facts: false
  vars:
    hidden: {NO_LOG_VALUE}
    registry_password: {REGISTRY_PASSWORD}
  tasks:
    - name: no_log command
      command: echo {{{{ hidden }}}}
      no_log: true
    - name: no_log failure
      shell: echo {{{{ hidden }}}}; echo {{{{ hidden }}}} >&2; exit 3
      no_log: true
      ignore_errors: true
    - name: no_log loop
      debug:
        msg: \"{{{{ item }}}}\"
      loop: [\"{{{{ hidden }}}}\", other]
      no_log: true
    - name: become with a password
      command: id -un
      become: true
    - name: login accepted
      docker_login:
        registry_url: registry.ok
        username: ci
        password: \"{{{{ registry_password }}}}\"
      become: true
    - name: login refused
      docker_login:
        registry_url: registry.bad
        username: ci
        password: \"{{{{ registry_password }}}}\"
      become: true
      ignore_errors: true
- hosts: fleet
  gather_facts: true
  become: true
  become_flags: -E
  tasks:
    - name: fails at the end
      command: /bin/false
",
        ),
    )
    .unwrap();
    p
}

fn assert_clean(what: &str, text: &str) {
    let auth = base64_auth();
    for secret in [
        NO_LOG_VALUE,
        BECOME_PASSWORD,
        REGISTRY_PASSWORD,
        auth.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "{what} leaks {secret:?}:\n{}",
            text.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// `user:password` as docker keeps it (as good as the password).
fn base64_auth() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("ci:{REGISTRY_PASSWORD}"))
}

fn run(dir: &Path, extra: &[&str]) -> Run {
    let book = playbook(dir).display().to_string();
    let inv = dir.join("hosts.ini").display().to_string();
    let retry = dir.join("site.retry").display().to_string();
    let mut args = vec!["run", &book, "-i", &inv, "--retry-file", &retry];
    let flags = fleet_flags();
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    rdeploy(dir, &args)
}

#[test]
fn no_log_values_become_and_registry_passwords_never_reach_the_output() {
    let node = fleet().host("node8").clone();
    let put = std::process::Command::new("docker")
        .args(["exec", "-i", &node.container, "sh", "-c"])
        .arg("cat > /usr/local/bin/docker && chmod 755 /usr/local/bin/docker && rm -f /root/rdsecret-docker-got")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(FAKE_DOCKER.as_bytes())?;
            c.wait()
        })
        .expect("install the fake docker");
    assert!(put.success());
    let dir = tempdir();
    std::fs::write(
        dir.path().join("hosts.ini"),
        format!(
            "[fleet]\nnode8 ansible_host=127.0.0.1 ansible_port={} ansible_user=deploypw ansible_become_password={BECOME_PASSWORD}\n\n[fleet:vars]\nansible_ssh_private_key_file={}\n",
            node.port,
            fleet().key().display()
        ),
    )
    .unwrap();
    for (label, extra) in [
        ("human", vec![]),
        ("-vvv", vec!["-vvv"]),
        ("json", vec!["--output", "json"]),
        ("json -vvv", vec!["--output", "json", "-vvv"]),
    ] {
        let r = run(dir.path(), &extra);
        // The last play fails on purpose: a retry file is written.
        r.assert_code(2);
        assert_clean(&format!("{label} stdout"), &r.stdout);
        assert_clean(&format!("{label} stderr"), &r.stderr);
        let retry = std::fs::read_to_string(dir.path().join("site.retry")).expect("retry file");
        assert_eq!(retry, "node8\n");
        assert_clean(&format!("{label} retry file"), &retry);
        if label.starts_with("json") {
            for line in r.stdout.lines() {
                let _: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{label}: not a JSON event ({e}): {line}"));
            }
        }
    }
    // The secrets did their job on the host: sudo worked (the file is root's), docker
    // got the password.
    let got = docker_out(&node.container, "cat /root/rdsecret-docker-got");
    assert_eq!(got, REGISTRY_PASSWORD);
}
