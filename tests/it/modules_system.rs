//! System modules (setup, user, group, getent, apt, package, apt_repository, apt_key,
//! service, get_url, uri, wait_for, git, pip, docker_*) against real fleet containers,
//! through `docker exec` ([`DockerConn`]). Every result is checked on the host
//! independently with `docker exec`.
//!
//! These tests use only rdeploy-node5 (package installs: apt, curl, git) and
//! rdeploy-node6 (everything else), with names and paths prefixed `rdsys` so that
//! tests running in parallel do not meet. Tests that run apt on node5, or add apt sources
//! there, hold [`APT`].

use crate::harness::{docker_out, docker_sh, fleet, DockerConn};
use rdeploy::modules::{registry, Args, ModuleCtx, ModuleError, Outcome, SearchPaths};
use rdeploy::template::Templar;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Serializes the tests that install packages on node5.
static APT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A fleet host reached with `docker exec`.
struct Node {
    name: String,
    container: String,
    conn: Arc<DockerConn>,
}

fn node(name: &str) -> Node {
    let h = fleet().host(name).clone();
    Node {
        name: h.name.clone(),
        container: h.container.clone(),
        conn: Arc::new(DockerConn {
            container: h.container,
        }),
    }
}

impl Node {
    /// Runs module `module` with `args` (a JSON object), as a task would.
    async fn run(&self, module: &str, args: Value) -> Result<Outcome, ModuleError> {
        self.run_mode(module, args, false).await
    }
    async fn check(&self, module: &str, args: Value) -> Result<Outcome, ModuleError> {
        self.run_mode(module, args, true).await
    }
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
            diff_mode: false,
            templar: &templar,
            vars: &vars,
            search: &search,
            timeout: Some(Duration::from_secs(900)),
            output: None,
        };
        m.run(
            &ctx,
            &Args::new(args.as_object().expect("args object").clone()),
        )
        .await
    }
    /// Like [`Node::run`] but the task must succeed (not failed, no error).
    async fn ok(&self, module: &str, args: Value) -> Outcome {
        let o = self
            .run(module, args.clone())
            .await
            .unwrap_or_else(|e| panic!("{module} {args}: {e}"));
        assert!(
            !o.failed,
            "{module} {args} failed: {:?} {:?}",
            o.msg, o.data
        );
        o
    }
    async fn ok_check(&self, module: &str, args: Value) -> Outcome {
        let o = self
            .check(module, args.clone())
            .await
            .unwrap_or_else(|e| panic!("{module} {args} (check): {e}"));
        assert!(
            !o.failed,
            "{module} {args} (check) failed: {:?} {:?}",
            o.msg, o.data
        );
        o
    }
    fn sh(&self, script: &str) -> String {
        docker_out(&self.container, script)
    }
    fn succeeds(&self, script: &str) -> bool {
        docker_sh(&self.container, script).status.success()
    }
}

/// Installs Debian packages on node5 with the apt module (caller holds [`APT`]).
async fn ensure_pkgs(n: &Node, pkgs: &[&str]) {
    let o = n.ok("apt", json!({"name": pkgs, "state": "present", "update_cache": true, "cache_valid_time": 3600})).await;
    for p in pkgs {
        assert!(
            n.succeeds(&format!(
                "dpkg-query -W -f='${{Status}}' {p} | grep -q 'install ok installed'"
            )),
            "{p} installed: {o:?}"
        );
    }
}

// ---------------------------------------------------------------- setup

#[tokio::test]
async fn setup_gathers_debian_facts_in_one_exchange() {
    let n = node("node6");
    let o = n.ok("setup", json!({})).await;
    let f = &o.facts;
    assert!(!o.changed);
    assert_eq!(f["ansible_os_family"], "Debian");
    assert_eq!(f["ansible_distribution"], "Debian");
    assert_eq!(f["ansible_distribution_release"], "bookworm");
    assert_eq!(f["ansible_distribution_major_version"], "12");
    assert_eq!(f["ansible_system"], "Linux");
    assert_eq!(f["ansible_architecture"], n.sh("uname -m").as_str());
    assert_eq!(f["ansible_hostname"], n.sh("hostname").as_str());
    assert!(f["ansible_memtotal_mb"].as_i64().unwrap() > 0);
    assert!(f["ansible_processor_vcpus"].as_i64().unwrap() >= 1);
    let ip = n.sh("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1");
    assert_eq!(f["ansible_default_ipv4"]["address"], ip.as_str());
    assert_eq!(f["ansible_default_ipv4"]["interface"], "eth0");
    assert!(f["ansible_all_ipv4_addresses"]
        .as_array()
        .unwrap()
        .contains(&json!(ip)));
    assert_eq!(f["ansible_user_id"], "root");
    assert_eq!(f["ansible_user_uid"], 0);
    assert_eq!(f["ansible_user_dir"], "/root");
    assert_eq!(f["ansible_env"]["HOME"], "/root");
    assert_eq!(f["ansible_pkg_mgr"], "apt");
    assert_eq!(
        f["ansible_service_mgr"], "sshd",
        "no systemd runs in the fleet containers: PID 1 (sshd) is trusted, as ansible-core does"
    );
    assert_eq!(f["ansible_virtualization_type"], "docker");
    assert_eq!(f["ansible_lsb"]["codename"], "bookworm");
    let epoch: i64 = f["ansible_date_time"]["epoch"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now: i64 = n.sh("date +%s").parse().unwrap();
    assert!((now - epoch).abs() < 60);

    // filter keeps only matching facts
    let o = n
        .ok("setup", json!({"filter": "ansible_distribution*"}))
        .await;
    assert!(o.facts.contains_key("ansible_distribution_release"));
    assert!(!o.facts.contains_key("ansible_os_family"));
}

// ---------------------------------------------------------------- user / group / getent

#[tokio::test]
async fn group_create_idempotent_modify_remove() {
    let n = node("node6");
    let _ = n
        .run("group", json!({"name": "rdsys_g1", "state": "absent"}))
        .await;
    let o = n
        .ok("group", json!({"name": "rdsys_g1", "gid": 4301}))
        .await;
    assert!(o.changed);
    assert_eq!(n.sh("getent group rdsys_g1 | cut -d: -f3"), "4301");
    assert!(
        !n.ok("group", json!({"name": "rdsys_g1", "gid": 4301}))
            .await
            .changed
    );
    // check mode predicts, changes nothing
    assert!(
        n.ok_check("group", json!({"name": "rdsys_g1", "gid": 4290}))
            .await
            .changed
    );
    assert_eq!(n.sh("getent group rdsys_g1 | cut -d: -f3"), "4301");
    assert!(
        n.ok("group", json!({"name": "rdsys_g1", "gid": 4290}))
            .await
            .changed
    );
    assert_eq!(n.sh("getent group rdsys_g1 | cut -d: -f3"), "4290");
    assert!(
        n.ok("group", json!({"name": "rdsys_g1", "state": "absent"}))
            .await
            .changed
    );
    assert!(!n.succeeds("getent group rdsys_g1"));
    assert!(
        !n.ok("group", json!({"name": "rdsys_g1", "state": "absent"}))
            .await
            .changed
    );
}

#[tokio::test]
async fn user_create_idempotent_modify_password_remove() {
    let n = node("node6");
    let _ = n
        .run(
            "user",
            json!({"name": "rdsys_u1", "state": "absent", "remove": true}),
        )
        .await;
    n.ok("group", json!({"name": "rdsys_ug"})).await;
    let args = json!({"name": "rdsys_u1", "uid": 4201, "groups": ["rdsys_ug"], "shell": "/bin/sh", "comment": "Sys Test"});
    let o = n.ok("user", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["uid"], 4201);
    assert_eq!(
        n.sh("getent passwd rdsys_u1"),
        "rdsys_u1:x:4201:4201:Sys Test:/home/rdsys_u1:/bin/sh"
    );
    assert!(n
        .sh("id -Gn rdsys_u1")
        .split_whitespace()
        .any(|g| g == "rdsys_ug"));
    assert!(n.succeeds("test -d /home/rdsys_u1"));
    assert!(
        !n.ok("user", args.clone()).await.changed,
        "second run changes nothing"
    );

    // modify the shell; check mode first
    let bash = json!({"name": "rdsys_u1", "shell": "/bin/bash"});
    assert!(n.ok_check("user", bash.clone()).await.changed);
    assert_eq!(n.sh("getent passwd rdsys_u1 | cut -d: -f7"), "/bin/sh");
    assert!(n.ok("user", bash.clone()).await.changed);
    assert_eq!(n.sh("getent passwd rdsys_u1 | cut -d: -f7"), "/bin/bash");

    // groups without append replaces the list; with append only adds
    assert!(
        n.ok(
            "user",
            json!({"name": "rdsys_u1", "groups": "", "append": false})
        )
        .await
        .changed
    );
    assert_eq!(n.sh("id -Gn rdsys_u1"), "rdsys_u1");
    assert!(
        n.ok(
            "user",
            json!({"name": "rdsys_u1", "groups": ["rdsys_ug"], "append": true})
        )
        .await
        .changed
    );
    assert!(
        !n.ok(
            "user",
            json!({"name": "rdsys_u1", "groups": ["rdsys_ug"], "append": true})
        )
        .await
        .changed
    );

    // a password hash goes to /etc/shadow, is never returned, and is idempotent
    let hash = "$6$rdsyssalt$0oVw9yNRzLgSh3NIWtOoMAu4eQWk4vwfYpq0pTKqjh3ZyXzTzv3K8C3b2XGq0Pj1/9A2tWNe0F0l9uJ/8yYk0.";
    let o = n
        .ok("user", json!({"name": "rdsys_u1", "password": hash}))
        .await;
    assert!(o.changed);
    assert!(
        !format!("{:?}", o).contains("rdsyssalt"),
        "the hash is never in the result"
    );
    assert_eq!(n.sh("getent shadow rdsys_u1 | cut -d: -f2"), hash);
    assert!(
        !n.ok("user", json!({"name": "rdsys_u1", "password": hash}))
            .await
            .changed
    );
    assert!(
        !n.ok(
            "user",
            json!({"name": "rdsys_u1", "password": "$6$other$x", "update_password": "on_create"})
        )
        .await
        .changed
    );

    // an ssh key is generated once, owned by the user
    let key = json!({"name": "rdsys_u1", "generate_ssh_key": true, "ssh_key_type": "ed25519"});
    let o = n.ok("user", key.clone()).await;
    assert!(o.changed);
    assert!(
        o.data["ssh_public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 "),
        "{o:?}"
    );
    assert_eq!(
        n.sh("stat -c '%U %a' /home/rdsys_u1/.ssh/id_rsa"),
        "rdsys_u1 600"
    );
    assert!(!n.ok("user", key).await.changed);
    // a missing home directory is made again, as Ansible does
    n.sh("rm -rf /home/rdsys_u1");
    assert!(n.ok("user", json!({"name": "rdsys_u1"})).await.changed);
    assert_eq!(n.sh("stat -c %U /home/rdsys_u1"), "rdsys_u1");
    assert!(!n.ok("user", json!({"name": "rdsys_u1"})).await.changed);

    // a missing group is an error, before anything is changed
    let e = n
        .run(
            "user",
            json!({"name": "rdsys_u1", "groups": ["rdsys_nope"]}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("rdsys_nope does not exist"), "{e}");

    assert!(
        n.ok(
            "user",
            json!({"name": "rdsys_u1", "state": "absent", "remove": true})
        )
        .await
        .changed
    );
    assert!(!n.succeeds("getent passwd rdsys_u1"));
    assert!(!n.succeeds("test -d /home/rdsys_u1"));
    assert!(
        !n.ok("user", json!({"name": "rdsys_u1", "state": "absent"}))
            .await
            .changed
    );
    n.ok("group", json!({"name": "rdsys_ug", "state": "absent"}))
        .await;
}

#[tokio::test]
async fn getent_sets_facts_like_ansible() {
    let n = node("node6");
    let o = n
        .ok("getent", json!({"database": "passwd", "key": "root"}))
        .await;
    assert_eq!(
        o.facts["getent_passwd"]["root"],
        json!(["x", "0", "0", "root", "/root", "/bin/bash"])
    );
    let e = n
        .run(
            "getent",
            json!({"database": "passwd", "key": "rdsys_nobody"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("could not be found"), "{e}");
    let o = n
        .ok(
            "getent",
            json!({"database": "passwd", "key": "rdsys_nobody", "fail_key": false}),
        )
        .await;
    assert_eq!(o.facts["getent_passwd"], json!({}));
    let o = n.ok("getent", json!({"database": "group"})).await;
    assert!(o.facts["getent_group"]["root"].is_array());
}

// ---------------------------------------------------------------- apt / package

#[tokio::test]
async fn apt_install_idempotent_check_mode_and_remove() {
    let _lock = APT.lock().await;
    let n = node("node5");
    let _ = n
        .run(
            "apt",
            json!({"name": ["tree", "bc"], "state": "absent", "purge": true}),
        )
        .await;
    assert!(!n.succeeds("command -v tree"));

    let o = n
        .ok("apt", json!({"name": "tree", "update_cache": true}))
        .await;
    assert!(o.changed, "{o:?}");
    assert!(n.succeeds("command -v tree"));
    assert!(n.succeeds("test -n \"$(ls /var/lib/apt/lists/)\""));

    // second run: nothing to do (one exchange, no apt-get)
    let o = n
        .ok("apt", json!({"name": "tree", "state": "present"}))
        .await;
    assert!(!o.changed, "{o:?}");
    // the generic package module dispatches to apt
    assert!(
        !n.ok("package", json!({"name": "tree", "state": "present"}))
            .await
            .changed
    );
    // latest: already the candidate
    assert!(
        !n.ok("apt", json!({"name": "tree", "state": "latest"}))
            .await
            .changed
    );
    // cache_valid_time: a fresh cache is not updated again
    let o = n
        .ok(
            "apt",
            json!({"update_cache": true, "cache_valid_time": 3600}),
        )
        .await;
    assert!(
        !o.changed && o.data["cache_updated"] == json!(false),
        "{o:?}"
    );

    // check mode on an absent package: predicts changed, installs nothing
    let o = n
        .ok_check("apt", json!({"name": "bc", "state": "present"}))
        .await;
    assert!(o.changed, "{o:?}");
    assert!(!n.succeeds("command -v bc"));
    // a package that does not exist fails clearly
    let o = n
        .run("apt", json!({"name": "rdsys-no-such-package"}))
        .await
        .unwrap();
    assert!(
        o.failed
            && o.msg
                .as_deref()
                .unwrap_or("")
                .contains("rdsys-no-such-package"),
        "{o:?}"
    );

    // deb: a local .deb file, installed once (its dependencies through apt-get)
    let deb = n.sh(
        "cd /tmp && rm -f bc_*.deb && apt-get download -q bc >/dev/null 2>&1; ls /tmp/bc_*.deb",
    );
    let o = n.ok("apt", json!({"deb": deb})).await;
    assert!(o.changed, "{o:?}");
    assert!(n.succeeds("command -v bc"));
    assert!(!n.ok("apt", json!({"deb": deb})).await.changed);
    assert!(
        n.ok("apt", json!({"name": "bc", "state": "absent"}))
            .await
            .changed
    );

    // absent removes, then nothing to do
    let o = n
        .ok("apt", json!({"name": "tree", "state": "absent"}))
        .await;
    assert!(o.changed);
    assert!(!n.succeeds("command -v tree"));
    assert!(
        !n.ok("apt", json!({"name": "tree", "state": "absent"}))
            .await
            .changed
    );
    assert!(
        !n.ok_check("apt", json!({"name": "tree", "state": "absent"}))
            .await
            .changed
    );
}

#[tokio::test]
async fn apt_repository_and_apt_key_without_gpg() {
    // holds APT throughout: the unreachable source it adds breaks other tests' apt update
    let _lock = APT.lock().await;
    let n = node("node5");
    n.sh("rm -f /etc/apt/sources.list.d/rdsys.list /etc/apt/keyrings/rdsys.gpg");
    let repo =
        "deb [signed-by=/etc/apt/keyrings/rdsys.gpg] http://rdsys.invalid/debian bookworm main";
    let args = json!({"repo": repo, "filename": "rdsys", "update_cache": false});
    assert!(n.ok_check("apt_repository", args.clone()).await.changed);
    assert!(!n.succeeds("test -e /etc/apt/sources.list.d/rdsys.list"));
    assert!(n.ok("apt_repository", args.clone()).await.changed);
    assert_eq!(n.sh("cat /etc/apt/sources.list.d/rdsys.list"), repo);
    assert_eq!(n.sh("stat -c %a /etc/apt/sources.list.d/rdsys.list"), "644");
    assert!(!n.ok("apt_repository", args.clone()).await.changed);
    // a commented-out copy is re-enabled rather than duplicated
    n.sh("sed -i 's/^deb/# deb/' /etc/apt/sources.list.d/rdsys.list");
    assert!(n.ok("apt_repository", args.clone()).await.changed);
    assert_eq!(n.sh("cat /etc/apt/sources.list.d/rdsys.list"), repo);
    let absent = json!({"repo": repo, "state": "absent", "update_cache": false});
    assert!(n.ok("apt_repository", absent.clone()).await.changed);
    assert!(
        !n.succeeds("test -e /etc/apt/sources.list.d/rdsys.list"),
        "an emptied file is removed"
    );
    assert!(!n.ok("apt_repository", absent).await.changed);

    // a cache update that fails puts the sources back (as Ansible does)
    // (APT is held since the start)
    let o = n
        .run(
            "apt_repository",
            json!({"repo": "deb http://127.0.0.1:9/debian bookworm main", "filename": "rdsys"}),
        )
        .await
        .unwrap();
    assert!(o.failed && !o.changed, "{o:?}");
    assert!(!n.succeeds("test -e /etc/apt/sources.list.d/rdsys.list"));
    drop(_lock);

    // apt_key: the Debian archive key is already trusted (found without gpg)
    let key = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg";
    assert!(n.succeeds(&format!("test -f {key}")));
    assert!(!n.succeeds("command -v gpg"), "the fleet image has no gpg");
    let o = n.ok("apt_key", json!({"file": key})).await;
    assert!(
        !o.changed,
        "already trusted through /etc/apt/trusted.gpg.d: {o:?}"
    );
    // into a keyring of its own
    let args = json!({"file": key, "keyring": "/etc/apt/keyrings/rdsys.gpg"});
    let o = n.ok("apt_key", args.clone()).await;
    assert!(o.changed);
    assert_eq!(n.sh("cmp /etc/apt/keyrings/rdsys.gpg /usr/share/keyrings/debian-archive-bookworm-stable.gpg && echo same"), "same");
    assert!(!n.ok("apt_key", args).await.changed);
    let id = o.data["key_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16);
    let absent = json!({"id": id, "keyring": "/etc/apt/keyrings/rdsys.gpg", "state": "absent"});
    assert!(n.ok("apt_key", absent.clone()).await.changed);
    assert!(!n.succeeds("test -e /etc/apt/keyrings/rdsys.gpg"));
    assert!(!n.ok("apt_key", absent).await.changed);
}

#[tokio::test]
async fn deb822_repository_with_a_downloaded_key() {
    if registry().get("deb822_repository").is_none() {
        eprintln!("deb822_repository is not registered in src/modules/mod.rs yet: skipped");
        return;
    }
    let n = node("node5");
    // holds APT throughout: the unreachable source it adds breaks other tests' apt update
    let _lock = APT.lock().await;
    ensure_pkgs(&n, &["curl"]).await;
    n.sh("rm -f /etc/apt/sources.list.d/rdsys-repo.sources /etc/apt/keyrings/rdsys-repo.*");
    let args = json!({
        "name": "rdsys repo", "uris": "http://rdsys.invalid/debian", "suites": ["bookworm"],
        "components": ["main", "contrib"], "signed_by": "file:///usr/share/keyrings/debian-archive-bookworm-stable.gpg",
    });
    assert!(n.ok_check("deb822_repository", args.clone()).await.changed);
    assert!(!n.succeeds("test -e /etc/apt/sources.list.d/rdsys-repo.sources"));
    let o = n.ok("deb822_repository", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["key_filename"], "/etc/apt/keyrings/rdsys-repo.gpg");
    assert_eq!(
        n.sh("cat /etc/apt/sources.list.d/rdsys-repo.sources"),
        "Components: main contrib\nX-Repolib-Name: rdsys repo\nSigned-By: /etc/apt/keyrings/rdsys-repo.gpg\n\
         Suites: bookworm\nTypes: deb\nURIs: http://rdsys.invalid/debian"
    );
    assert!(n.succeeds("cmp /etc/apt/keyrings/rdsys-repo.gpg /usr/share/keyrings/debian-archive-bookworm-stable.gpg"));
    assert_eq!(n.sh("stat -c %a /etc/apt/sources.list.d/rdsys-repo.sources /etc/apt/keyrings/rdsys-repo.gpg"), "644\n644");
    assert!(!n.ok("deb822_repository", args.clone()).await.changed);
    let absent = json!({"name": "rdsys repo", "state": "absent"});
    assert!(n.ok("deb822_repository", absent.clone()).await.changed);
    assert!(!n.succeeds(
        "ls /etc/apt/sources.list.d/rdsys-repo.sources /etc/apt/keyrings/rdsys-repo.gpg"
    ));
    assert!(!n.ok("deb822_repository", absent).await.changed);
}

// ---------------------------------------------------------------- service (no systemd)

const FAKE_INIT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          rdsys-fake
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: rdeploy test daemon
### END INIT INFO
PIDF=/run/rdsys-fake.pid
running() { [ -f $PIDF ] && kill -0 "$(cat $PIDF)" 2>/dev/null; }
case "$1" in
  start) running && exit 0; /usr/local/bin/rdsys-faked 100000 >/dev/null 2>&1 & echo $! > $PIDF ;;
  stop) running && kill "$(cat $PIDF)"; rm -f $PIDF ;;
  restart) "$0" stop; "$0" start ;;
  reload) running || exit 7; echo reloaded >> /tmp/rdsys-fake.reloads ;;
  status) running && { echo running; exit 0; }; echo stopped; exit 3 ;;
  *) echo "Usage: $0 {start|stop|restart|reload|status}"; exit 2 ;;
esac
"#;

#[tokio::test]
async fn service_sysvinit_without_systemd() {
    let n = node("node6");
    n.sh("cp /bin/sleep /usr/local/bin/rdsys-faked; /etc/init.d/rdsys-fake stop >/dev/null 2>&1; rm -f /etc/rc?.d/[SK]??rdsys-fake /tmp/rdsys-fake.reloads; true");
    let o = docker_sh(&n.container, &format!("cat > /etc/init.d/rdsys-fake <<'EOF'\n{FAKE_INIT}EOF\nchmod 0755 /etc/init.d/rdsys-fake"));
    assert!(o.status.success());
    // (zombies do not count: a container's PID 1 may not reap them)
    let daemon_up = |n: &Node| {
        n.succeeds("for p in $(pgrep -x rdsys-faked); do grep -q '^State:.*Z' /proc/$p/status || exit 0; done; exit 1")
    };

    let start = json!({"name": "rdsys-fake", "state": "started"});
    let o = n.ok_check("service", start.clone()).await;
    assert!(o.changed);
    assert!(!daemon_up(&n), "check mode starts nothing");
    let o = n.ok("service", start.clone()).await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.data["manager"], "sysvinit");
    assert!(
        o.msg.as_deref().unwrap().contains("sysvinit"),
        "{:?}",
        o.msg
    );
    assert!(daemon_up(&n));
    let o = n.ok("systemd", start.clone()).await; // the systemd alias falls back too
    assert!(!o.changed, "already running: {o:?}");

    // pattern: a process command line stands in for the status command
    let o = n
        .ok(
            "service",
            json!({"name": "rdsys-fake", "state": "started", "pattern": "rdsys-faked 100000"}),
        )
        .await;
    assert!(!o.changed, "{o:?}");

    let pid1 = n.sh("cat /run/rdsys-fake.pid");
    assert!(
        n.ok(
            "service",
            json!({"name": "rdsys-fake", "state": "restarted"})
        )
        .await
        .changed
    );
    let pid2 = n.sh("cat /run/rdsys-fake.pid");
    assert_ne!(pid1, pid2);
    assert!(daemon_up(&n));
    assert!(
        n.ok(
            "service",
            json!({"name": "rdsys-fake", "state": "reloaded"})
        )
        .await
        .changed
    );
    assert_eq!(n.sh("cat /tmp/rdsys-fake.reloads"), "reloaded");

    // enabled: update-rc.d links, idempotent
    let en = json!({"name": "rdsys-fake", "enabled": true});
    assert!(n.ok("service", en.clone()).await.changed);
    assert!(n.succeeds("ls /etc/rc2.d/S??rdsys-fake"));
    assert!(!n.ok("service", en).await.changed);
    assert!(
        n.ok("service", json!({"name": "rdsys-fake", "enabled": false}))
            .await
            .changed
    );
    assert!(!n.succeeds("ls /etc/rc2.d/S??rdsys-fake"));

    let stop = json!({"name": "rdsys-fake", "state": "stopped"});
    assert!(n.ok("service", stop.clone()).await.changed);
    assert!(!daemon_up(&n));
    assert!(!n.ok("service", stop).await.changed);

    // an unknown service fails clearly
    let o = n
        .run(
            "service",
            json!({"name": "rdsys-nothing", "state": "started"}),
        )
        .await
        .unwrap();
    assert!(o.failed);
    let msg = o.msg.unwrap_or_default();
    assert!(
        msg.contains("rdsys-nothing") && msg.contains("systemd"),
        "{msg}"
    );
}

// ---------------------------------------------------------------- wait_for

#[tokio::test]
async fn wait_for_port_and_path_on_the_host() {
    let n = node("node6");
    n.sh("pkill -f 'http.server 1808[6]' || true; rm -f /tmp/rdsys-wait /tmp/rdsys-wait-text");
    // A port that opens after ~1 s (python3 is in the image only as a test fixture).
    let o = std::process::Command::new("docker")
        .args([
            "exec",
            "-d",
            &n.container,
            "sh",
            "-c",
            "sleep 1; exec python3 -m http.server 18086 --bind 127.0.0.1 >/dev/null 2>&1",
        ])
        .status()
        .unwrap();
    assert!(o.success());
    let o = n
        .ok("wait_for", json!({"port": 18086, "timeout": 30}))
        .await;
    assert!(!o.changed);
    assert!(n.succeeds("pgrep -f 'http.server 1808[6]'"));

    // a closed port times out, with Ansible's message
    let o = n
        .run(
            "wait_for",
            json!({"port": 18099, "timeout": 2, "sleep": 0.5}),
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Timeout when waiting for 127.0.0.1:18099")
    );
    assert!(o.data["elapsed"].as_i64().unwrap() >= 2);
    // stopped: the closed port is fine at once
    assert!(
        !n.ok(
            "wait_for",
            json!({"port": 18099, "state": "stopped", "timeout": 5})
        )
        .await
        .failed
    );

    // a file that appears later, with a regex in it
    std::process::Command::new("docker")
        .args([
            "exec",
            "-d",
            &n.container,
            "sh",
            "-c",
            "sleep 1; echo 'server READY now' > /tmp/rdsys-wait-text",
        ])
        .status()
        .unwrap();
    let o = n
        .ok(
            "wait_for",
            json!({"path": "/tmp/rdsys-wait-text", "search_regex": "READY", "timeout": 30}),
        )
        .await;
    assert_eq!(o.data["path"], "/tmp/rdsys-wait-text");
    let o = n
        .run(
            "wait_for",
            json!({"path": "/tmp/rdsys-wait-text", "search_regex": "NEVER", "timeout": 1}),
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert!(
        n.ok(
            "wait_for",
            json!({"path": "/tmp/rdsys-wait", "state": "absent", "timeout": 5})
        )
        .await
        .data["elapsed"]
            .as_i64()
            .unwrap()
            < 5
    );
    n.sh("pkill -f 'http.server 1808[6]' || true");
}

// ---------------------------------------------------------------- get_url / uri (curl from apt)

#[tokio::test]
async fn get_url_and_uri_with_curl_on_the_host() {
    let n = node("node5");
    {
        let _lock = APT.lock().await;
        ensure_pkgs(&n, &["curl"]).await;
    }
    n.sh("pkill -f 'http.server 1808[5]' || true; rm -rf /tmp/rdsys-www /tmp/rdsys-dl; mkdir -p /tmp/rdsys-www /tmp/rdsys-dl && printf 'hello rdeploy\\n' > /tmp/rdsys-www/file.txt && printf '{\"ok\": true, \"n\": 3}' > /tmp/rdsys-www/data.json");
    let sha = n.sh("sha256sum /tmp/rdsys-www/file.txt | cut -d' ' -f1");
    std::process::Command::new("docker")
        .args([
            "exec",
            "-d",
            "-w",
            "/tmp/rdsys-www",
            &n.container,
            "python3",
            "-m",
            "http.server",
            "18085",
            "--bind",
            "127.0.0.1",
        ])
        .status()
        .unwrap();
    n.ok("wait_for", json!({"port": 18085, "timeout": 30}))
        .await;

    let args = json!({"url": "http://127.0.0.1:18085/file.txt", "dest": "/tmp/rdsys-dl/file.txt", "checksum": format!("sha256:{sha}"), "mode": "0640"});
    let o = n.ok_check("get_url", args.clone()).await;
    assert!(o.changed);
    assert!(!n.succeeds("test -e /tmp/rdsys-dl/file.txt"));
    let o = n.ok("get_url", args.clone()).await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.data["status_code"], 200);
    assert_eq!(n.sh("cat /tmp/rdsys-dl/file.txt"), "hello rdeploy");
    assert_eq!(n.sh("stat -c %a /tmp/rdsys-dl/file.txt"), "640");
    assert!(
        !n.ok("get_url", args.clone()).await.changed,
        "checksum matches: no download"
    );
    assert!(
        n.succeeds("test -z \"$(ls -A /tmp/rdsys-dl | grep rdeploy)\""),
        "no temp file left"
    );

    // a wrong checksum fails and leaves dest alone
    let bad = json!({"url": "http://127.0.0.1:18085/file.txt", "dest": "/tmp/rdsys-dl/other.txt", "checksum": "sha256:0000000000000000000000000000000000000000000000000000000000000000"});
    let o = n.run("get_url", bad).await.unwrap();
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("did not match"),
        "{o:?}"
    );
    assert!(!n.succeeds("test -e /tmp/rdsys-dl/other.txt"));
    // dest is a directory: the URL's file name is used; a 404 fails
    let o = n
        .ok(
            "get_url",
            json!({"url": "http://127.0.0.1:18085/data.json", "dest": "/tmp/rdsys-dl/"}),
        )
        .await;
    assert_eq!(o.data["dest"], "/tmp/rdsys-dl/data.json");
    assert!(n.succeeds("test -f /tmp/rdsys-dl/data.json"));
    let o = n
        .run(
            "get_url",
            json!({"url": "http://127.0.0.1:18085/missing", "dest": "/tmp/rdsys-dl/missing"}),
        )
        .await
        .unwrap();
    assert!(o.failed && o.data["status_code"] == json!(404), "{o:?}");
    // file:// URLs work through curl
    let o = n
        .ok(
            "get_url",
            json!({"url": "file:///tmp/rdsys-www/file.txt", "dest": "/tmp/rdsys-dl/local.txt"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(n.sh("cat /tmp/rdsys-dl/local.txt"), "hello rdeploy");

    // uri: JSON is decoded; unexpected status fails with Ansible's message
    let o = n
        .ok(
            "uri",
            json!({"url": "http://127.0.0.1:18085/data.json", "return_content": true}),
        )
        .await;
    assert_eq!(o.data["status"], 200);
    assert!(!o.changed);
    assert_eq!(o.data["content"], "{\"ok\": true, \"n\": 3}");
    assert_eq!(o.data["json"]["n"], 3, "{o:?}");
    let o = n
        .run("uri", json!({"url": "http://127.0.0.1:18085/nope"}))
        .await
        .unwrap();
    assert!(o.failed);
    assert_eq!(o.data["status"], 404);
    assert!(
        o.msg
            .as_deref()
            .unwrap()
            .starts_with("Status code was 404 and not [200]"),
        "{:?}",
        o.msg
    );
    let o = n
        .ok(
            "uri",
            json!({"url": "http://127.0.0.1:18085/nope", "status_code": [200, 404]}),
        )
        .await;
    assert_eq!(o.data["status"], 404);
    let o = n
        .run(
            "uri",
            json!({"url": "http://127.0.0.1:18097/", "timeout": 3}),
        )
        .await
        .unwrap();
    assert!(o.failed && o.data["status"] == json!(-1), "{o:?}");
    let o = n
        .check(
            "uri",
            json!({"url": "http://127.0.0.1:18085/data.json", "method": "POST"}),
        )
        .await
        .unwrap();
    assert!(o.skipped);
    n.sh("pkill -f 'http.server 1808[5]' || true");

    // POST with a JSON body, headers and basic auth: an echo server answers with what it got
    n.sh("pkill -f 'rdsys-echo[.]py' || true");
    let echo = r#"import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0))).decode()
        out = json.dumps({'body': body, 'auth': self.headers.get('Authorization'), 'x': self.headers.get('X-Rdsys'), 'ct': self.headers.get('Content-Type'), 'path': self.path}).encode()
        self.send_response(201); self.send_header('Content-Type', 'application/json'); self.send_header('Set-Cookie', 'sid=abc; Path=/'); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', 18087), H).serve_forever()
"#;
    let w = docker_sh(
        &n.container,
        &format!("cat > /tmp/rdsys-echo.py <<'EOF'\n{echo}EOF"),
    );
    assert!(w.status.success());
    std::process::Command::new("docker")
        .args(["exec", "-d", &n.container, "python3", "/tmp/rdsys-echo.py"])
        .status()
        .unwrap();
    n.ok("wait_for", json!({"port": 18087, "timeout": 30}))
        .await;
    let body = json!({"name": "it's \"quoted\" $(x)"});
    let o = n
        .ok(
            "uri",
            json!({"url": "http://127.0.0.1:18087/api?q=1", "method": "POST", "body_format": "json",
                   "body": body, "headers": {"X-Rdsys": "yes"},
                   "url_username": "alice", "url_password": "s3cr'et", "force_basic_auth": true, "status_code": 201}),
        )
        .await;
    assert_eq!(o.data["status"], 201);
    let j = &o.data["json"];
    assert_eq!(
        serde_json::from_str::<Value>(j["body"].as_str().unwrap()).unwrap(),
        body
    );
    assert_eq!(j["x"], "yes");
    assert_eq!(j["ct"], "application/json");
    assert_eq!(j["path"], "/api?q=1");
    use base64::Engine as _;
    assert_eq!(
        j["auth"],
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cr'et")
        )
    );
    assert_eq!(o.data["cookies"]["sid"], "abc");
    assert_eq!(o.data["content_type"], "application/json");
    n.sh("pkill -f 'rdsys-echo[.]py' || true");
}

// ---------------------------------------------------------------- git (git from apt)

#[tokio::test]
async fn git_clone_update_and_idempotence() {
    let n = node("node5");
    {
        let _lock = APT.lock().await;
        ensure_pkgs(&n, &["git"]).await;
    }
    n.sh(
        "rm -rf /tmp/rdsys-repo /tmp/rdsys-clone && git init -q -b main /tmp/rdsys-repo && cd /tmp/rdsys-repo && \
         git -c user.email=t@t -c user.name=t commit -q --allow-empty -m one && git tag v1",
    );
    let head1 = n.sh("git -C /tmp/rdsys-repo rev-parse HEAD");
    let args = json!({"repo": "/tmp/rdsys-repo", "dest": "/tmp/rdsys-clone"});
    assert!(n.ok_check("git", args.clone()).await.changed);
    assert!(!n.succeeds("test -e /tmp/rdsys-clone"));
    let o = n.ok("git", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["before"], Value::Null);
    assert_eq!(o.data["after"], head1.as_str());
    assert_eq!(n.sh("git -C /tmp/rdsys-clone rev-parse HEAD"), head1);
    let o = n.ok("git", args.clone()).await;
    assert!(!o.changed, "{o:?}");

    n.sh(
        "cd /tmp/rdsys-repo && git -c user.email=t@t -c user.name=t commit -q --allow-empty -m two",
    );
    let head2 = n.sh("git -C /tmp/rdsys-repo rev-parse HEAD");
    let o = n.ok_check("git", args.clone()).await;
    assert!(o.changed && o.data["after"] == json!(head2));
    let o = n.ok("git", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["before"], head1.as_str());
    assert_eq!(o.data["after"], head2.as_str());
    // a tag: detached checkout
    let o = n
        .ok(
            "git",
            json!({"repo": "/tmp/rdsys-repo", "dest": "/tmp/rdsys-clone", "version": "v1"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(n.sh("git -C /tmp/rdsys-clone rev-parse HEAD"), head1);
    // local modifications are kept unless force
    n.sh("cd /tmp/rdsys-clone && git checkout -q main && git reset -q --hard v1 && echo x > f && git add f");
    let e = n.run("git", args.clone()).await.unwrap_err();
    assert!(e.to_string().contains("Local modifications exist"), "{e}");
    let o = n
        .ok(
            "git",
            json!({"repo": "/tmp/rdsys-repo", "dest": "/tmp/rdsys-clone", "force": true}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(n.sh("git -C /tmp/rdsys-clone rev-parse HEAD"), head2);
    assert!(!n.succeeds("test -e /tmp/rdsys-clone/f"));
}

// ---------------------------------------------------------------- modules that need missing tools

#[tokio::test]
async fn pip_and_docker_modules_fail_clearly_without_their_tools() {
    let n = node("node6");
    let e = n.run("pip", json!({"name": "requests"})).await.unwrap_err();
    assert!(e.to_string().contains("no pip found on the host"), "{e}");
    let e = n
        .run(
            "docker_compose",
            json!({"project_src": "/tmp", "state": "present"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not installed on the host"), "{e}");
    let e = n
        .run(
            "docker_login",
            json!({"username": "u", "password": "p", "registry_url": "registry.local:5000"}),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("docker client is not installed"),
        "{e}"
    );
    assert!(!e.to_string().contains(": p"), "{e}");
}
