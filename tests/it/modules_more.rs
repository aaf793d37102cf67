//! More system modules (authorized_key, sysctl, hostname, tempfile, cron, timezone)
//! against a real fleet container through `docker exec` ([`DockerConn`]); every result
//! is checked on the host independently with `docker exec`.
//!
//! These tests use only node9 (prefix names and paths with `rdmore`), so they do not
//! meet the other module tests.

use crate::harness::{docker_out, docker_sh, fleet, DockerConn};
use rdeploy::modules::{registry, Args, ModuleCtx, ModuleError, Outcome, SearchPaths};
use rdeploy::template::Templar;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A fleet host reached with `docker exec`.
struct Node {
    name: String,
    container: String,
    conn: Arc<DockerConn>,
}

fn node9() -> Node {
    let h = fleet().host("node9").clone();
    Node {
        name: h.name.clone(),
        container: h.container.clone(),
        conn: Arc::new(DockerConn {
            container: h.container,
        }),
    }
}

impl Node {
    async fn run_mode(
        &self,
        module: &str,
        args: Value,
        check_mode: bool,
    ) -> Result<Outcome, ModuleError> {
        let m = registry()
            .get(module)
            .unwrap_or_else(|| panic!("module {module} is registered"));
        let templar = Templar::new();
        let vars = minijinja::context! {};
        let search = SearchPaths::default();
        let ctx = ModuleCtx {
            host: &self.name,
            conn: self.conn.clone(),
            become_: None,
            environment: &[],
            check_mode,
            diff_mode: true,
            templar: &templar,
            vars: &vars,
            search: &search,
            timeout: Some(Duration::from_secs(300)),
            output: None,
        };
        m.run(
            &ctx,
            &Args::new(args.as_object().expect("args object").clone()),
        )
        .await
    }
    /// Runs the module (check mode when `check`); the task must succeed.
    async fn ok_mode(&self, module: &str, args: Value, check: bool) -> Outcome {
        let o = self
            .run_mode(module, args.clone(), check)
            .await
            .unwrap_or_else(|e| panic!("{module} {args} (check={check}): {e}"));
        assert!(
            !o.failed,
            "{module} {args} (check={check}) failed: {:?} {:?}",
            o.msg, o.data
        );
        o
    }
    async fn ok(&self, module: &str, args: Value) -> Outcome {
        self.ok_mode(module, args, false).await
    }
    async fn ok_check(&self, module: &str, args: Value) -> Outcome {
        self.ok_mode(module, args, true).await
    }
    fn sh(&self, script: &str) -> String {
        docker_out(&self.container, script)
    }
    fn succeeds(&self, script: &str) -> bool {
        docker_sh(&self.container, script).status.success()
    }
}

#[test]
fn fqcns_resolve() {
    let r = registry();
    for (fqcn, short) in [
        ("ansible.posix.authorized_key", "authorized_key"),
        ("ansible.posix.sysctl", "sysctl"),
        ("ansible.builtin.hostname", "hostname"),
        ("ansible.builtin.tempfile", "tempfile"),
        ("ansible.builtin.cron", "cron"),
        ("community.general.timezone", "timezone"),
    ] {
        assert_eq!(r.get(fqcn).map(|m| m.name()), Some(short), "{fqcn}");
    }
}

// ---------------------------------------------------------------- authorized_key

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrdmoreAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@rdmore";
const KEY_B: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABrdmoreBBBB bob@rdmore";

#[tokio::test]
async fn authorized_key_converges_with_modes_and_removes() {
    let n = node9();
    n.sh("userdel -r rdmoreak 2>/dev/null; useradd -m -s /bin/sh rdmoreak");
    let file = "/home/rdmoreak/.ssh/authorized_keys";
    let args = json!({"user": "rdmoreak", "key": KEY_A});

    let c = n.ok_check("authorized_key", args.clone()).await;
    assert!(c.changed, "check predicts a change");
    assert!(
        !n.succeeds("test -e /home/rdmoreak/.ssh"),
        "check mode created nothing"
    );

    let o = n.ok("authorized_key", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["keyfile"], file);
    assert_eq!(n.sh(&format!("cat {file}")), KEY_A);
    assert_eq!(
        n.sh("stat -c '%a %U %G' /home/rdmoreak/.ssh /home/rdmoreak/.ssh/authorized_keys"),
        "700 rdmoreak rdmoreak\n600 rdmoreak rdmoreak"
    );
    assert!(
        !n.ok("authorized_key", args.clone()).await.changed,
        "rerun unchanged"
    );
    assert!(!n.ok_check("authorized_key", args.clone()).await.changed);

    // Several keys, options and comment; the existing key is rewritten in place.
    let both = format!("{KEY_A}\n{KEY_B}\n");
    let o = n
        .ok(
            "authorized_key",
            json!({"user": "rdmoreak", "key": both, "key_options": "no-pty"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(
        n.sh(&format!("cat {file}")),
        format!("no-pty {KEY_A}\nno-pty {KEY_B}")
    );
    // exclusive keeps only the given key.
    let ex = json!({"user": "rdmoreak", "key": KEY_B, "exclusive": true, "comment": "b2"});
    assert!(n.ok_check("authorized_key", ex.clone()).await.changed);
    assert_eq!(
        n.sh(&format!("wc -l < {file}")),
        "2",
        "check changed nothing"
    );
    assert!(n.ok("authorized_key", ex.clone()).await.changed);
    assert_eq!(
        n.sh(&format!("cat {file}")),
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABrdmoreBBBB b2"
    );
    assert!(!n.ok("authorized_key", ex).await.changed);

    // absent
    let ab = json!({"user": "rdmoreak", "key": KEY_B, "state": "absent"});
    assert!(n.ok_check("authorized_key", ab.clone()).await.changed);
    assert_eq!(n.sh(&format!("wc -l < {file}")), "1");
    assert!(n.ok("authorized_key", ab.clone()).await.changed);
    assert_eq!(n.sh(&format!("cat {file}")), "");
    assert!(!n.ok("authorized_key", ab).await.changed);

    // A bad mode on the file is repaired; an unknown user fails clearly.
    n.sh(&format!("chmod 0644 {file}"));
    assert!(n.ok("authorized_key", args.clone()).await.changed);
    assert_eq!(n.sh(&format!("stat -c %a {file}")), "600");
    let e = n
        .run_mode(
            "authorized_key",
            json!({"user": "rdmorenobody", "key": KEY_A}),
            false,
        )
        .await;
    assert!(matches!(e, Err(ModuleError::Failed(m)) if m.contains("rdmorenobody")));
    n.sh("userdel -r rdmoreak");
}

// ---------------------------------------------------------------- sysctl

/// The fleet containers' /proc/sys is read-only (`sysctl -w` is refused for every key),
/// so the file is tested with `reload: false`, and reloading is checked to fail clearly.
#[tokio::test]
async fn sysctl_file_entry_converges_and_is_removed() {
    let n = node9();
    let file = "/etc/sysctl.d/90-rdmore.conf";
    n.sh(&format!(
        "printf '# rdmore\\nvm.swappiness = 10\\n' > {file}"
    ));
    let args =
        json!({"name": "vm.swappiness", "value": "10", "sysctl_file": file, "reload": false});
    assert!(
        !n.ok("sysctl", args.clone()).await.changed,
        "`k = v` already matches"
    );

    let args = json!({"name": "net.ipv4.ip_local_port_range", "value": "32768   60999",
                      "sysctl_file": file, "reload": false});
    let c = n.ok_check("sysctl", args.clone()).await;
    assert!(c.changed);
    assert_eq!(c.diff.len(), 1, "diff of the file");
    assert_eq!(
        n.sh(&format!("wc -l < {file}")),
        "2",
        "check mode wrote nothing"
    );
    assert!(n.ok("sysctl", args.clone()).await.changed);
    assert_eq!(
        n.sh(&format!("cat {file}")),
        "# rdmore\nvm.swappiness = 10\nnet.ipv4.ip_local_port_range=32768 60999"
    );
    assert!(
        !n.ok("sysctl", args.clone()).await.changed,
        "rerun unchanged"
    );
    assert!(!n.ok_check("sysctl", args.clone()).await.changed);

    let v = json!({"name": "vm.swappiness", "value": 60, "sysctl_file": file, "reload": false});
    assert!(n.ok("sysctl", v).await.changed);
    assert!(n.succeeds(&format!("grep -qx 'vm.swappiness=60' {file}")));

    // Reloading on a host whose /proc/sys is read-only fails with sysctl's message.
    let r = json!({"name": "vm.swappiness", "value": 61, "sysctl_file": file});
    let o = n.run_mode("sysctl", r, false).await.unwrap();
    assert!(o.failed, "reload in a container fails: {o:?}");
    assert!(
        o.msg.as_deref().unwrap_or("").contains("Failed to reload"),
        "{o:?}"
    );

    let ab =
        json!({"name": "vm.swappiness", "state": "absent", "sysctl_file": file, "reload": false});
    assert!(n.ok_check("sysctl", ab.clone()).await.changed);
    assert!(n.succeeds(&format!("grep -q swappiness {file}")));
    assert!(n.ok("sysctl", ab.clone()).await.changed);
    assert!(!n.succeeds(&format!("grep -q swappiness {file}")));
    assert!(!n.ok("sysctl", ab).await.changed);
    let bad = json!({"name": "rdmore.nokey", "value": 1, "sysctl_file": file});
    assert!(
        n.run_mode("sysctl", bad, false).await.is_err(),
        "unknown key fails"
    );
    n.sh(&format!("rm -f {file}"));
}

// ---------------------------------------------------------------- hostname

/// The containers refuse `hostname NAME` (no CAP_SYS_ADMIN), so the converge test keeps
/// the running name (node9) and repairs /etc/hostname; a new name fails clearly.
#[tokio::test]
async fn hostname_file_converges_and_container_refusal_is_reported() {
    let n = node9();
    let saved = n.sh("cat /etc/hostname");
    let running = n.sh("hostname");
    n.sh("echo rdmore-stale > /etc/hostname");
    let args = json!({"name": running});
    let c = n.ok_check("hostname", args.clone()).await;
    assert!(c.changed);
    assert_eq!(
        n.sh("cat /etc/hostname"),
        "rdmore-stale",
        "check changed nothing"
    );
    let o = n.ok("hostname", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.facts["ansible_hostname"], running.as_str());
    assert_eq!(n.sh("cat /etc/hostname"), running);
    assert!(
        !n.ok("hostname", args.clone()).await.changed,
        "rerun unchanged"
    );
    assert!(!n.ok_check("hostname", args).await.changed);

    let o = n
        .run_mode("hostname", json!({"name": "rdmore-new"}), false)
        .await
        .unwrap();
    assert!(o.failed, "the container refuses a new running name: {o:?}");
    assert!(o
        .msg
        .as_deref()
        .unwrap()
        .contains("cannot set the running host name"));
    assert_eq!(n.sh("hostname"), running);
    n.sh(&format!("printf '%s\\n' {} > /etc/hostname", saved));
    assert!(n
        .run_mode("hostname", json!({"name": "bad name"}), false)
        .await
        .is_err());
}

// ---------------------------------------------------------------- tempfile

#[tokio::test]
async fn tempfile_creates_files_and_directories() {
    let n = node9();
    let o = n.ok("tempfile", json!({})).await;
    assert!(o.changed);
    let p = o.data["path"].as_str().unwrap().to_string();
    assert!(p.starts_with("/tmp/ansible."), "{p}");
    assert_eq!(
        n.sh(&format!("stat -c '%F %a' {p}")),
        "regular empty file 600"
    );

    n.sh("rm -rf /tmp/rdmore-tf && mkdir /tmp/rdmore-tf");
    let args = json!({"state": "directory", "path": "/tmp/rdmore-tf", "prefix": "it's ", "suffix": ".build"});
    let o = n.ok("tempfile", args.clone()).await;
    let d = o.data["path"].as_str().unwrap().to_string();
    assert!(
        d.starts_with("/tmp/rdmore-tf/it's ") && d.ends_with(".build"),
        "{d}"
    );
    assert_eq!(o.data["mode"], "0700");
    assert!(n.succeeds(&format!("test -d {}", rdeploy::shell::quote(&d))));
    let o2 = n.ok("tempfile", args.clone()).await;
    assert_ne!(o2.data["path"], o.data["path"], "a new one every run");

    let c = n.ok_check("tempfile", args).await;
    assert!(c.skipped && !c.changed);
    assert_eq!(
        n.sh("ls /tmp/rdmore-tf | wc -l"),
        "2",
        "check mode created nothing"
    );
    assert!(n
        .run_mode("tempfile", json!({"path": "/tmp/rdmore-missing"}), false)
        .await
        .is_err());
    n.sh(&format!("rm -rf /tmp/rdmore-tf {p}"));
}

// ---------------------------------------------------------------- cron

fn node10() -> Node {
    let h = fleet().host("node10").clone();
    Node {
        name: h.name.clone(),
        container: h.container.clone(),
        conn: Arc::new(DockerConn {
            container: h.container,
        }),
    }
}

/// Installs Debian's cron package on node9 (for `crontab`); node10 stays without it.
fn ensure_crontab(n: &Node) {
    if !n.succeeds("command -v crontab") {
        n.sh("apt-get update >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cron >/dev/null 2>&1");
    }
    assert!(n.succeeds("command -v crontab"), "cron installed on node9");
}

#[tokio::test]
async fn cron_user_crontab_jobs_and_env() {
    let n = node9();
    ensure_crontab(&n);
    n.sh("userdel -r rdmorecron 2>/dev/null; useradd -m rdmorecron; crontab -r -u rdmorecron 2>/dev/null; true");
    let args = json!({"name": "rdmore backup", "minute": "5", "hour": "2", "job": "/usr/bin/backup --all 'x y'", "user": "rdmorecron"});
    let c = n.ok_check("cron", args.clone()).await;
    assert!(c.changed);
    assert!(
        !n.succeeds("crontab -l -u rdmorecron"),
        "check mode wrote nothing"
    );
    let o = n.ok("cron", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["jobs"], json!(["rdmore backup"]));
    assert_eq!(
        n.sh("crontab -l -u rdmorecron"),
        "#Ansible: rdmore backup\n5 2 * * * /usr/bin/backup --all 'x y'"
    );
    assert!(!n.ok("cron", args.clone()).await.changed, "rerun unchanged");
    assert!(!n.ok_check("cron", args.clone()).await.changed);

    // Changed schedule, disabled, special_time, an env line.
    let d = json!({"name": "rdmore backup", "special_time": "daily", "disabled": true, "job": "/usr/bin/backup", "user": "rdmorecron"});
    assert!(n.ok("cron", d.clone()).await.changed);
    let e = json!({"name": "MAILTO", "env": true, "job": "ops@example.com", "user": "rdmorecron"});
    assert!(n.ok("cron", e.clone()).await.changed);
    assert!(!n.ok("cron", e.clone()).await.changed);
    assert_eq!(
        n.sh("crontab -l -u rdmorecron"),
        "MAILTO=ops@example.com\n#Ansible: rdmore backup\n#@daily /usr/bin/backup"
    );

    let ab = json!({"name": "rdmore backup", "state": "absent", "user": "rdmorecron"});
    assert!(n.ok_check("cron", ab.clone()).await.changed);
    assert!(n.succeeds("crontab -l -u rdmorecron | grep -q backup"));
    let o = n.ok("cron", ab.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["envs"], json!(["MAILTO"]));
    assert_eq!(n.sh("crontab -l -u rdmorecron"), "MAILTO=ops@example.com");
    assert!(!n.ok("cron", ab).await.changed);
    let eab = json!({"name": "MAILTO", "env": true, "state": "absent", "user": "rdmorecron"});
    assert!(n.ok("cron", eab).await.changed);
    assert_eq!(n.sh("crontab -l -u rdmorecron"), "");
    n.sh("crontab -r -u rdmorecron; userdel -r rdmorecron");
}

#[tokio::test]
async fn cron_file_in_cron_d_and_missing_crontab() {
    let n = node10();
    let f = "/etc/cron.d/rdmore";
    n.sh(&format!("rm -f {f}"));
    let args = json!({"name": "rdmore clean", "minute": "*/10", "job": "find /tmp -mtime +1 -delete", "cron_file": "rdmore", "user": "nobody"});
    assert!(n.ok_check("cron", args.clone()).await.changed);
    assert!(
        !n.succeeds(&format!("test -e {f}")),
        "check mode wrote nothing"
    );
    assert!(n.ok("cron", args.clone()).await.changed);
    assert_eq!(
        n.sh(&format!("cat {f}; stat -c %a {f}")),
        "#Ansible: rdmore clean\n*/10 * * * * nobody find /tmp -mtime +1 -delete\n644"
    );
    assert!(!n.ok("cron", args.clone()).await.changed, "rerun unchanged");
    let ab = json!({"name": "rdmore clean", "state": "absent", "cron_file": "rdmore"});
    assert!(n.ok_check("cron", ab.clone()).await.changed);
    assert!(n.succeeds(&format!("test -e {f}")));
    assert!(n.ok("cron", ab.clone()).await.changed);
    assert!(
        !n.succeeds(&format!("test -e {f}")),
        "an empty cron_file is removed"
    );
    assert!(!n.ok("cron", ab).await.changed);

    // node10 has no crontab: a user crontab fails clearly.
    assert!(!n.succeeds("command -v crontab"));
    let e = n
        .run_mode("cron", json!({"name": "x", "job": "true"}), false)
        .await;
    assert!(matches!(e, Err(ModuleError::Failed(m)) if m.contains("crontab is not installed")));
}

// ---------------------------------------------------------------- timezone

#[tokio::test]
async fn timezone_link_and_debian_file() {
    let n = node9();
    n.sh("ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime; echo Etc/UTC > /etc/timezone");
    let saved = "Etc/UTC".to_string();
    let args = json!({"name": "Europe/Paris"});
    let c = n.ok_check("timezone", args.clone()).await;
    assert!(c.changed);
    assert_eq!(n.sh("cat /etc/timezone"), saved, "check changed nothing");
    let o = n.ok("timezone", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["diff"]["before"]["name"], saved.as_str());
    assert_eq!(
        n.sh("readlink /etc/localtime; cat /etc/timezone; unset TZ; date -d @0 +%Z"),
        "/usr/share/zoneinfo/Europe/Paris\nEurope/Paris\nCET"
    );
    assert!(
        !n.ok("timezone", args.clone()).await.changed,
        "rerun unchanged"
    );
    assert!(!n.ok_check("timezone", args).await.changed);
    // Only /etc/timezone out of date: repaired.
    n.sh("echo Etc/UTC > /etc/timezone");
    assert!(
        n.ok("timezone", json!({"name": "Europe/Paris"}))
            .await
            .changed
    );
    assert_eq!(n.sh("cat /etc/timezone"), "Europe/Paris");
    let e = n
        .run_mode("timezone", json!({"name": "Mars/Olympus"}), false)
        .await;
    assert!(matches!(e, Err(ModuleError::Failed(m)) if m.contains("not available")));
    assert!(n.ok("timezone", json!({"name": saved})).await.changed);
    assert_eq!(n.sh("cat /etc/timezone"), saved);
}

// ---------------------------------------------------------------- through a playbook

/// The modules by their FQCNs in a playbook run by the binary over SSH on node10:
/// converges, then a second run changes only the temporary file (created and removed).
#[test]
fn playbook_with_fqcns_converges_over_ssh() {
    use crate::harness::{fleet_flags, rdeploy, recap, tempdir, write_inventory};
    let n = node10();
    n.sh("userdel -r rdmorepb 2>/dev/null; useradd -m rdmorepb; rm -f /etc/cron.d/rdmorepb /etc/sysctl.d/91-rdmorepb.conf; ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime; echo Etc/UTC > /etc/timezone");
    let dir = tempdir();
    let inv = write_inventory(dir.path(), &["node10"], "root");
    std::fs::write(
        dir.path().join("site.yml"),
        format!(
            r#"- hosts: node10
  gather_facts: false
  tasks:
    - ansible.posix.authorized_key:
        user: rdmorepb
        key: "{KEY_A}"
    - ansible.posix.sysctl:
        name: vm.swappiness
        value: "15"
        sysctl_file: /etc/sysctl.d/91-rdmorepb.conf
        reload: false
    - ansible.builtin.cron:
        name: rdmorepb job
        hour: "3"
        job: /bin/true
        cron_file: rdmorepb
    - community.general.timezone:
        name: Europe/Berlin
    - ansible.builtin.tempfile:
        suffix: .pb
      register: tmp
    - ansible.builtin.file:
        path: "{{{{ tmp.path }}}}"
        state: absent
"#
        ),
    )
    .unwrap();
    let mut args: Vec<String> = vec![
        "run".into(),
        "site.yml".into(),
        "-i".into(),
        inv.display().to_string(),
    ];
    args.extend(fleet_flags());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = rdeploy(dir.path(), &refs);
    first.assert_code(0);
    assert_eq!(recap(&first.stdout)["node10"][1], 6, "{}", first.stdout);
    let second = rdeploy(dir.path(), &refs);
    second.assert_code(0);
    assert_eq!(recap(&second.stdout)["node10"][1], 2, "{}", second.stdout);
    assert_eq!(n.sh("cat /home/rdmorepb/.ssh/authorized_keys"), KEY_A);
    assert_eq!(
        n.sh("cat /etc/sysctl.d/91-rdmorepb.conf"),
        "vm.swappiness=15"
    );
    assert!(n.succeeds("grep -qx '#Ansible: rdmorepb job' /etc/cron.d/rdmorepb"));
    assert_eq!(n.sh("cat /etc/timezone"), "Europe/Berlin");
    assert_eq!(n.sh("ls /tmp | grep -c '\\.pb$' || true"), "0");
    n.sh("userdel -r rdmorepb; rm -f /etc/cron.d/rdmorepb /etc/sysctl.d/91-rdmorepb.conf; ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime; echo Etc/UTC > /etc/timezone");
}
