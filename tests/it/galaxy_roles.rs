//! Roles written in the styles of popular Galaxy roles (tests/roles/galaxy_style/,
//! written for this suite, not copied): a geerlingguy-style role (defaults,
//! `vars/{{ ansible_os_family }}.yml` through include_vars with_first_found, templated
//! handler names and `listen`, both fact spellings, `when: ansible_service_mgr`, apt
//! with cache_valid_time, user, lineinfile, template, service), template inheritance
//! across a role's templates, meta dependencies (inherited and deduplicated) with
//! argument specs, per-OS include_tasks with a RedHat import under a false `when` and
//! block/rescue/always, and registered results read through their module keys.
//!
//! For each role, on a fresh container of the test's own without Python (like node1)
//! and on the fleet's node1: `--check` on the fresh host predicts changes and makes
//! none; converge; rerun changed=0; `--check` predicts nothing; the end state read with
//! `docker exec` is the expected text — and it is also what ansible-core 2.21 leaves
//! on a third container of its own (with Python, from /opt/rdeploy-peers).

use super::harness::{
    ansible_playbook, docker_out, fleet, rdeploy, recap, repo_root, tempdir, OwnHost, Run,
};
use std::path::Path;
use std::process::Command;

/// One role of the suite and what it leaves on a host.
struct Case {
    /// playbook under tests/roles/galaxy_style/
    book: &'static str,
    /// paths the converge creates: none of them may exist after `--check`
    made: &'static [&'static str],
    /// shell run on the host after converging; its output must be `expected`
    probe: &'static str,
    /// `{host}` stands for the host's inventory name
    expected: &'static str,
    /// tasks changed on the fresh host by `--check`, then by the converge: they differ
    /// only by what check mode cannot do (commands and shell handlers are skipped, a
    /// service whose init script an earlier task installs cannot be started)
    changes: (u32, u32),
}

fn prefix() -> String {
    std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into())
}

/// `rdeploy run BOOK -i INV --known-hosts KH.. extra..` in `dir`.
fn run(dir: &Path, book: &str, inv: &Path, known: &[&Path], extra: &[&str]) -> Run {
    let mut args = vec![
        "run".to_string(),
        book.to_string(),
        "-i".to_string(),
        inv.display().to_string(),
    ];
    for k in known {
        args.push("--known-hosts".into());
        args.push(k.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    rdeploy(dir, &a)
}

fn changed(r: &Run, host: &str) -> u32 {
    recap(&r.stdout)
        .get(host)
        .unwrap_or_else(|| panic!("no recap line for {host}:\n{}\n{}", r.stdout, r.stderr))[1]
}

fn failed(r: &Run, host: &str) -> u32 {
    recap(&r.stdout).get(host).map(|c| c[3]).unwrap_or(99)
}

fn converge_and_compare(c: &Case) {
    let f = fleet();
    let dir = tempdir();
    let d = dir.path();
    let src = repo_root().join("tests/roles/galaxy_style");
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(d)
        .status()
        .unwrap();
    assert!(st.success());
    let stem = c.book.trim_end_matches(".yml").replace('_', "-");

    // a fresh host without Python (like node1), and the fleet's node1
    let fresh = OwnHost::start(&format!("{}-{stem}", prefix()), &[], d);
    docker_out(
        &fresh.name,
        "rm -rf /usr/bin/python3* /usr/lib/python3* /usr/local/lib/python3*",
    );
    let kh_fresh = d.join("known_hosts.fresh");
    std::fs::rename(&fresh.known_hosts, &kh_fresh).unwrap();
    let node1 = f.host("node1");
    let inv = d.join("hosts.ini");
    std::fs::write(
        &inv,
        format!(
            "[fleet]\nfresh ansible_host=127.0.0.1 ansible_port={}\nnode1 ansible_host=127.0.0.1 ansible_port={}\n\n[fleet:vars]\nansible_user=root\nansible_ssh_private_key_file={}\n",
            fresh.port,
            node1.port,
            f.key().display()
        ),
    )
    .unwrap();
    let kh_fleet = f.known_hosts();
    let known = [kh_fresh.as_path(), kh_fleet.as_path()];
    let probe = |container: &str, host: &str| {
        let out = docker_out(container, c.probe);
        assert_eq!(
            out,
            c.expected.replace("{host}", host).trim_end(),
            "end state of {} on {host}",
            c.book
        );
    };
    let none_made = |container: &str| {
        for p in c.made {
            let o = super::harness::docker_sh(container, &format!("test -e {p}"));
            assert!(!o.status.success(), "--check made {p} on {container}");
        }
    };

    // --check on the fresh host predicts changes and makes nothing
    let check = run(d, c.book, &inv, &known, &["--check", "-l", "fresh"]);
    check.assert_code(0);
    let predicted = changed(&check, "fresh");
    none_made(&fresh.name);

    // converge both
    let first = run(d, c.book, &inv, &known, &[]);
    first.assert_code(0);
    assert_eq!(failed(&first, "fresh") + failed(&first, "node1"), 0);
    let made = changed(&first, "fresh");
    assert_eq!(
        (predicted, made),
        c.changes,
        "changes predicted by --check, then made by the converge:\n{}\n{}",
        check.stdout,
        first.stdout
    );
    // rerun: nothing to do; --check (and --diff) predicts nothing
    let again = run(d, c.book, &inv, &known, &[]);
    again.assert_code(0);
    assert_eq!(
        (changed(&again, "fresh"), changed(&again, "node1")),
        (0, 0),
        "rerun changed something:\n{}",
        again.stdout
    );
    let after = run(d, c.book, &inv, &known, &["--check", "--diff"]);
    after.assert_code(0);
    assert_eq!(
        (changed(&after, "fresh"), changed(&after, "node1")),
        (0, 0),
        "--check after converge predicted changes:\n{}",
        after.stdout
    );
    probe(&fresh.name, "fresh");
    probe(&node1.container, "node1");

    // what ansible-core leaves on a fresh host of its own is the same
    let ans = OwnHost::start(&format!("{}-{stem}-ansible", prefix()), &[], d);
    let ainv = d.join("ansible.ini");
    std::fs::write(
        &ainv,
        format!(
            "[fleet]\nfresh ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={} ansible_ssh_common_args='-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes'\n",
            ans.port,
            f.key().display(),
            ans.known_hosts.display()
        ),
    )
    .unwrap();
    ansible_playbook(d, &["-i", ainv.to_str().unwrap(), c.book], &[]);
    probe(&ans.name, "fresh");
}

#[test]
fn a_geerlingguy_style_role_converges_like_ansible() {
    converge_and_compare(&Case {
        book: "gs_webserver.yml",
        made: &["/etc/gsweb", "/etc/init.d/gsweb", "/var/lib/gsweb", "/usr/bin/tree"],
        probe: "cat /etc/gsweb/gsweb.conf; echo --; cat /etc/gsweb/env; echo --; \
                stat -c '%n %a %U %G' /etc/gsweb /etc/gsweb/gsweb.conf /etc/gsweb/env /etc/init.d/gsweb; \
                getent passwd gsweb | cut -d: -f1,6,7; \
                /etc/init.d/gsweb status && echo running; \
                echo starts $(wc -l < /var/lib/gsweb/starts); \
                echo config changes $(cat /var/lib/gsweb/config-changes); \
                test -e /etc/systemd/system/gsweb.service || echo no unit; \
                dpkg-query -W -f '${Status}\\n' tree",
        expected: "\
# Ansible managed
listen 0.0.0.0:8181
workers 2
user gsweb
family Debian / Debian (debian family)
release bookworm = bookworm
pkg_mgr apt
--
LOG_LEVEL=info
CACHE=on
--
/etc/gsweb 750 root gsweb
/etc/gsweb/gsweb.conf 640 root gsweb
/etc/gsweb/env 644 root root
/etc/init.d/gsweb 755 root root
gsweb:/var/lib/gsweb:/usr/sbin/nologin
running
starts 2
config changes {host}
no unit
install ok installed",
        changes: (6, 9),
    });
}

#[test]
fn template_inheritance_across_a_roles_templates_renders_like_jinja2() {
    converge_and_compare(&Case {
        book: "gs_site.yml",
        made: &["/etc/gssite", "/srv/gssite"],
        probe: "cat /etc/gssite/site.conf; echo --; cat /etc/gssite/admin.conf; echo --; \
                cat /srv/gssite/index.txt; echo --; \
                stat -c '%n %a' /srv/gssite /etc/gssite /etc/gssite/site.conf /etc/gssite/admin.conf /srv/gssite/index.txt; \
                echo reloads $(wc -l < /etc/gssite/reloads)",
        // the include's own trailing newline is dropped and trim_blocks eats the one
        // after its tag: Jinja2 joins the header and `server {` (ansible-core does too)
        expected: "\
# example.test: site
# host {host} (Debian 12)server {
    listen 80;
    server_name example.test;
    root /srv/gssite;
location / {
        proxy_pass http://app;
    }
location /static {
        proxy_pass http://files;
        expires 3600s;
    }
}
# end of site
--
# example.test: admin
# host {host} (Debian 12)server {
    listen 8443;
    allow 10.0.0.1;
    allow 10.0.0.2;
}
# end of admin (admins: 2)
--
# host {host} (Debian 12)
--
/srv/gssite 755
/etc/gssite 755
/etc/gssite/site.conf 644
/etc/gssite/admin.conf 644
/srv/gssite/index.txt 644
reloads 1",
        changes: (3, 4),
    });
}

#[test]
fn meta_dependencies_run_once_with_their_parents_parameters() {
    converge_and_compare(&Case {
        book: "gs_app.yml",
        made: &["/opt/gs"],
        probe: "cat /opt/gs/dependencies; echo --; cat /opt/gs/shop/app.ini; echo --; \
                stat -c '%n %a %U %G' /opt/gs /opt/gs/shop /opt/gs/shop/app.ini /opt/gs/dependencies; \
                id -nG gsapp; echo restarts $(wc -l < /opt/gs/shop/restarts)",
        // the dependency, written twice with the same vars, ran once; its vars were
        // templated with gs_app's role parameters; its defaults reached gs_app
        expected: "\
for shop
--
[shop]
port = 9100
replicas = 2
mode = production
features = metrics,tracing
threads = 4
--
/opt/gs 775 root gsusers
/opt/gs/shop 750 gsapp gsusers
/opt/gs/shop/app.ini 640 gsapp root
/opt/gs/dependencies 644 root root
gsapp gsusers
restarts 1",
        changes: (5, 7),
    });
}

#[test]
fn per_os_includes_a_false_import_and_rescue_converge_like_ansible() {
    converge_and_compare(&Case {
        book: "gs_multios.yml",
        made: &["/etc/gsmulti"],
        probe: "cat /etc/gsmulti/os /etc/gsmulti/rescued /etc/gsmulti/probe.log; \
                stat -c '%n %a' /etc/gsmulti /etc/gsmulti/os /etc/gsmulti/rescued /etc/gsmulti/probe.log /etc/gsmulti/handled; \
                test -e /etc/gsmulti/unreachable || echo never reached",
        // service_mgr is PID 1's name (sshd in these containers), as ansible-core says
        expected: "\
family=Debian release=bookworm service_mgr=sshd
failed: A step that fails on these hosts rc=1
probe done on a named host
/etc/gsmulti 755
/etc/gsmulti/os 644
/etc/gsmulti/rescued 600
/etc/gsmulti/probe.log 644
/etc/gsmulti/handled 644
never reached",
        changes: (4, 5),
    });
}

#[test]
fn registered_results_are_read_through_their_module_keys() {
    converge_and_compare(&Case {
        book: "gs_registers.yml",
        made: &["/srv/gsreg"],
        probe: "cat /srv/gsreg/summary; echo --; cat /srv/gsreg/settings; echo --; \
                for f in /srv/gsreg/*.key; do stat -c '%n %a' $f; cat $f; done; \
                getent passwd gsalice gsbob | cut -d: -f1,7; ls /srv/gsreg/conf.d",
        expected: "\
listing: a.conf b.conf c.txt
listing lines: 3 rc=0
grep rc: 1 failed=False
b.conf exists: True mode=0644 size=7
found: 2 a.conf,b.conf
cached fact: a.conf,b.conf
seeded results: 3 items a.conf,b.conf,c.txt
users: 0=gsalice:gsalice:/bin/bash 1=gsbob:gsbob:/bin/sh 

--
color: blue
size: large
--
/srv/gsreg/gsalice-alpha.key 600
alpha for gsalice
/srv/gsreg/gsalice-beta.key 600
beta for gsalice
/srv/gsreg/gsbob-gamma.key 600
gamma for gsbob
gsalice:/bin/bash
gsbob:/bin/sh
a.conf
b.conf
c.txt",
        changes: (6, 6),
    });
}
