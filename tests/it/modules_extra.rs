//! The modules real roles reach for beyond the basics: assemble, dpkg_selections,
//! debconf, known_hosts, package_facts, service_facts, mount, modprobe,
//! wait_for_connection. Each test works on a container of its own without Python
//! (`<prefix>-mx-<module>`), through the binary and SSH: `--check` first predicts and
//! changes nothing, the converge changes, the rerun does not, `--check --diff` after a
//! change shows it; the host is read with `docker exec`. Arguments that can be checked
//! without a host (required ones, choices) are refused at load with file:line:col.

use super::harness::{
    docker_out, docker_sh, fleet, rdeploy, recap, tempdir, write_file, OwnHost, Run,
};
use std::path::Path;

/// A container of the test's own, without Python, and a playbook directory.
struct Host {
    own: OwnHost,
    dir: tempfile::TempDir,
}

impl Host {
    fn new(what: &str, docker_args: &[&str]) -> Host {
        let h = Host::with_python(what, docker_args);
        docker_out(&h.own.name, "rm -rf /usr/bin/python3* /usr/lib/python3*");
        h
    }

    /// A host that keeps its Python (for a tool that needs it, such as ufw).
    fn with_python(what: &str, docker_args: &[&str]) -> Host {
        let prefix = std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into());
        let dir = tempdir();
        let own = OwnHost::start(&format!("{prefix}-mx-{what}"), docker_args, dir.path());
        let f = fleet();
        std::fs::write(
            dir.path().join("hosts.ini"),
            format!(
                "[fleet]\nh ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={}\n",
                own.port,
                f.key().display()
            ),
        )
        .unwrap();
        Host { own, dir }
    }

    fn sh(&self, script: &str) -> String {
        docker_out(&self.own.name, script)
    }

    /// Writes `book` as play.yml and runs it with `extra` flags.
    fn play(&self, book: &str, extra: &[&str]) -> Run {
        let d = self.dir.path();
        write_file(d, "play.yml", book);
        let mut args = vec![
            "run",
            "play.yml",
            "-i",
            "hosts.ini",
            "--known-hosts",
            self.own.known_hosts.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        rdeploy(d, &args)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn changed(r: &Run) -> u32 {
    recap(&r.stdout)
        .get("h")
        .unwrap_or_else(|| panic!("no recap:\n{}\n{}", r.stdout, r.stderr))[1]
}

/// Check predicts `n` changes, converge makes them, rerun makes none.
fn converge(h: &Host, book: &str, n: u32, before_check: impl Fn(&Host)) -> Run {
    let c = h.play(book, &["--check"]);
    c.assert_code(0);
    assert_eq!(changed(&c), n, "--check predicted:\n{}", c.stdout);
    before_check(h);
    let r = h.play(book, &[]);
    r.assert_code(0);
    assert_eq!(changed(&r), n, "converge:\n{}", r.stdout);
    let again = h.play(book, &["--check", "--diff"]);
    again.assert_code(0);
    assert_eq!(
        changed(&again),
        0,
        "--check after converge:\n{}",
        again.stdout
    );
    let again = h.play(book, &[]);
    again.assert_code(0);
    assert_eq!(changed(&again), 0, "rerun:\n{}", again.stdout);
    r
}

#[test]
fn assemble_joins_fragments_from_the_host_and_the_controller() {
    let h = Host::new("assemble", &[]);
    h.sh("mkdir -p /etc/frag.d && printf 'a=1\\n' > /etc/frag.d/10-a && printf 'b=2' > /etc/frag.d/20-b \
          && printf 'skip\\n' > /etc/frag.d/README && printf 'h\\n' > /etc/frag.d/.30-hidden");
    write_file(h.path(), "files/parts/01-head", "# head\n");
    write_file(h.path(), "files/parts/02-body", "body\n");
    let book = r####"
- hosts: fleet
  gather_facts: false
  tasks:
    - assemble:
        src: /etc/frag.d
        dest: /etc/joined.conf
        delimiter: "### --"
        regexp: '^[0-9]'
        ignore_hidden: true
        mode: "0640"
      register: joined
    - assemble:
        src: parts
        remote_src: false
        dest: /etc/local.conf
"####;
    converge(&h, book, 2, |h| {
        assert_eq!(
            h.sh("ls /etc/joined.conf /etc/local.conf 2>/dev/null | wc -l"),
            "0"
        );
    });
    assert_eq!(
        h.sh("cat /etc/joined.conf; echo; stat -c %a /etc/joined.conf"),
        "a=1\n### --\nb=2\n640"
    );
    assert_eq!(h.sh("cat /etc/local.conf"), "# head\nbody");
    // a changed fragment: --check --diff shows the new file and leaves the old one
    h.sh("printf 'b=3\\n' > /etc/frag.d/20-b");
    let d = h.play(book, &["--check", "--diff"]);
    d.assert_code(0);
    assert_eq!(changed(&d), 1);
    assert!(
        d.stdout.contains("+b=3") && d.stdout.contains("-b=2"),
        "{}",
        d.stdout
    );
    assert_eq!(h.sh("grep ^b= /etc/joined.conf"), "b=2");
    let r = h.play(book, &[]);
    assert_eq!(changed(&r), 1);
    assert_eq!(h.sh("grep ^b= /etc/joined.conf"), "b=3");
}

#[test]
fn dpkg_selections_holds_and_releases_a_package() {
    let h = Host::new("dpkgsel", &[]);
    let book = |sel: &str| {
        format!("- hosts: fleet\n  gather_facts: false\n  tasks:\n    - dpkg_selections: {{name: procps, selection: {sel}}}\n")
    };
    converge(&h, &book("hold"), 1, |h| {
        assert_eq!(
            h.sh("dpkg --get-selections procps | awk '{print $2}'"),
            "install"
        );
    });
    assert_eq!(
        h.sh("dpkg --get-selections procps | awk '{print $2}'"),
        "hold"
    );
    // the result keys, as ansible-core's
    let keys = "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - dpkg_selections: {name: procps, selection: hold}\n      register: r\n    - assert: {that: [\"r.before == 'hold'\", \"r.after == 'hold'\", \"not r.changed\"]}\n";
    h.play(keys, &[]).assert_code(0);
    let d = h.play(&book("install"), &["--check", "--diff"]);
    assert!(
        d.stdout.contains("-procps hold") && d.stdout.contains("+procps install"),
        "{}",
        d.stdout
    );
    h.play(&book("install"), &[]).assert_code(0);
    assert_eq!(
        h.sh("dpkg --get-selections procps | awk '{print $2}'"),
        "install"
    );
    // an unknown package is a clear failure
    let bad = h.play(
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - dpkg_selections: {name: no-such-pkg-x, selection: hold}\n",
        &[],
    );
    bad.assert_code(2);
    assert!(
        bad.stdout
            .contains("Failed to find package 'no-such-pkg-x'"),
        "{}",
        bad.stdout
    );
}

#[test]
fn debconf_sets_an_answer_once() {
    let h = Host::new("debconf", &[]);
    let book = r#"
- hosts: fleet
  gather_facts: false
  tasks:
    - debconf:
        name: tzdata
        question: tzdata/Areas
        vtype: select
        value: Europe
      register: dc
"#;
    converge(&h, book, 1, |h| {
        assert_eq!(
            h.sh("debconf-show tzdata | grep 'tzdata/Areas:'"),
            "* tzdata/Areas: Etc"
        );
    });
    assert_eq!(
        h.sh("debconf-show tzdata | grep 'tzdata/Areas:'"),
        "* tzdata/Areas: Europe"
    );
    // result keys: the change reports current and previous, the rerun current only
    let keys = format!(
        "{}    - assert: {{that: [\"dc.current == {{'tzdata/Areas': 'Europe'}}\", \"dc.previous is undefined\"]}}\n",
        book.trim_start_matches('\n')
    );
    h.play(&keys, &[]).assert_code(0);
    let change = format!(
        "{}    - assert: {{that: [\"dc.current == {{'tzdata/Areas': 'Asia'}}\", \"dc.previous == {{'tzdata/Areas': 'Europe'}}\"]}}\n",
        book.replace("Europe", "Asia").trim_start_matches('\n')
    );
    h.play(&change, &["--check"]).assert_code(0);
    assert_eq!(
        h.sh("debconf-show tzdata | grep 'tzdata/Areas:'"),
        "* tzdata/Areas: Europe"
    );
    let d = h.play(&book.replace("Europe", "Asia"), &["--check", "--diff"]);
    assert!(
        d.stdout.contains("-tzdata/Areas: Europe") && d.stdout.contains("+tzdata/Areas: Asia"),
        "{}",
        d.stdout
    );
    let no_vtype = h.play(
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - debconf: {name: tzdata, question: tzdata/Areas, value: Asia}\n",
        &[],
    );
    no_vtype.assert_code(2);
    assert!(no_vtype
        .stdout
        .contains("must supply a valid vtype and value"));
}

#[test]
fn known_hosts_adds_hashes_replaces_and_removes_keys() {
    let h = Host::new("knownhosts", &[]);
    let pubkey = std::fs::read_to_string(fleet().key().with_extension("pub")).unwrap();
    let blob: Vec<&str> = pubkey.split_whitespace().take(2).collect();
    let key = format!("git.example.com {} {}", blob[0], blob[1]);
    let book = format!(
        r#"
- hosts: fleet
  gather_facts: false
  tasks:
    - known_hosts:
        path: /tmp/kh/sub/known_hosts
        name: git.example.com
        key: "{key}"
    - known_hosts:
        path: /tmp/kh/sub/known_hosts
        name: "[git.example.org]:2222"
        key: "[git.example.org]:2222 {} {}"
        hash_host: true
"#,
        blob[0], blob[1]
    );
    converge(&h, &book, 2, |h| {
        assert_eq!(h.sh("test -e /tmp/kh || echo none"), "none");
    });
    // OpenSSH finds both, the second only hashed
    let f = h.sh("ssh-keygen -F git.example.com -f /tmp/kh/sub/known_hosts | grep -v '^#'");
    assert_eq!(f, key);
    let f =
        h.sh("ssh-keygen -F '[git.example.org]:2222' -f /tmp/kh/sub/known_hosts | grep -v '^#'");
    assert!(f.starts_with("|1|") && f.ends_with(blob[1]), "{f}");
    assert_eq!(h.sh("stat -c %a /tmp/kh/sub"), "700");
    // another key of the same type replaces the line
    let other = "AAAAC3NzaC1lZDI1NTE5AAAAIGZha2VrZXlmYWtla2V5ZmFrZWtleWZha2VrZXlmYWs=";
    let replaced = book.replace(&key, &format!("git.example.com ssh-ed25519 {other}"));
    let r = h.play(&replaced, &["--diff"]);
    r.assert_code(0);
    assert_eq!(changed(&r), 1);
    assert!(
        r.stdout
            .contains(&format!("+git.example.com ssh-ed25519 {other}")),
        "{}",
        r.stdout
    );
    assert_eq!(
        h.sh("grep -c '^git.example.com ' /tmp/kh/sub/known_hosts"),
        "1"
    );
    let gone = "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - known_hosts: {path: /tmp/kh/sub/known_hosts, name: git.example.com, state: absent}\n";
    let r = h.play(gone, &[]);
    assert_eq!(changed(&r), 1);
    assert_eq!(
        h.sh("ssh-keygen -F git.example.com -f /tmp/kh/sub/known_hosts | wc -l"),
        "0"
    );
    assert_eq!(changed(&h.play(gone, &[])), 0);
    // a key for another host is refused
    let bad = h.play(
        &format!("- hosts: fleet\n  gather_facts: false\n  tasks:\n    - known_hosts: {{path: /tmp/kh/x, name: a.example, key: \"{key}\"}}\n"),
        &[],
    );
    bad.assert_code(2);
    assert!(bad.stdout.contains("does not match"), "{}", bad.stdout);
}

#[test]
fn package_and_service_facts_describe_the_host() {
    let h = Host::new("facts", &[]);
    // Debian's `service --status-all` wants a word from a running service's status
    h.sh("printf '#!/bin/sh\\ncase \"$1\" in status) echo rdup is running; exit 0;; esac\\n' > /etc/init.d/rdup && chmod 755 /etc/init.d/rdup \
          && printf '#!/bin/sh\\ncase \"$1\" in status) exit 3;; esac\\n' > /etc/init.d/rddown && chmod 755 /etc/init.d/rddown");
    let dpkg = h.sh("dpkg-query -W -f '${Version}' dpkg");
    let book = r#"
- hosts: fleet
  gather_facts: false
  tasks:
    - package_facts:
    - service_facts:
    - copy:
        dest: /tmp/facts.txt
        content: |
          dpkg {{ ansible_facts.packages['dpkg'][0].version }} {{ ansible_facts.packages['dpkg'][0].source }}
          python {{ 'python3' in ansible_facts.packages }}
          rdup {{ ansible_facts.services['rdup'].state }} {{ ansible_facts.services['rdup'].source }}
          rddown {{ ansible_facts.services['rddown'].state }}
"#;
    let r = h.play(book, &[]);
    r.assert_code(0);
    assert_eq!(
        changed(&r),
        1,
        "the facts modules change nothing:\n{}",
        r.stdout
    );
    assert_eq!(
        h.sh("cat /tmp/facts.txt"),
        format!("dpkg {dpkg} apt\npython True\nrdup running sysv\nrddown stopped")
    );
    let c = h.play(book, &["--check"]);
    c.assert_code(0);
    assert_eq!(changed(&c), 0);
}

#[test]
fn mount_manages_fstab_and_the_mount() {
    // CAP_SYS_ADMIN (and no AppArmor profile) lets this container mount a tmpfs
    let h = Host::new(
        "mount",
        &[
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "apparmor=unconfined",
        ],
    );
    let book = |state: &str, opts: &str| {
        format!(
            "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - mount: {{path: /mnt/rd data, src: tmpfs, fstype: tmpfs, opts: \"{opts}\", state: {state}}}\n"
        )
    };
    converge(&h, &book("present", "size=1m"), 1, |h| {
        assert_eq!(h.sh("grep -c rd /etc/fstab || true"), "0");
    });
    assert_eq!(
        h.sh("tail -n 1 /etc/fstab"),
        "tmpfs /mnt/rd\\040data tmpfs size=1m 0 0"
    );
    assert_eq!(
        h.sh("grep -c '/mnt/rd' /proc/mounts || true"),
        "0",
        "present does not mount"
    );
    converge(&h, &book("mounted", "size=1m"), 1, |h| {
        assert_eq!(h.sh("grep -c '/mnt/rd' /proc/mounts || true"), "0");
    });
    assert_eq!(
        h.sh("grep '/mnt/rd' /proc/mounts | cut -d' ' -f1-3"),
        "tmpfs /mnt/rd\\040data tmpfs"
    );
    // new options: the line changes and the mount is remounted
    let d = h.play(&book("mounted", "size=2m"), &["--check", "--diff"]);
    assert!(
        d.stdout
            .contains("+tmpfs /mnt/rd\\040data tmpfs size=2m 0 0"),
        "{}",
        d.stdout
    );
    assert_eq!(changed(&h.play(&book("mounted", "size=2m"), &[])), 1);
    assert!(h.sh("grep '/mnt/rd' /proc/mounts").contains("size=2048k"));
    converge(&h, &book("unmounted", "size=2m"), 1, |_| {});
    assert_eq!(h.sh("grep -c '/mnt/rd' /proc/mounts || true"), "0");
    assert_eq!(
        h.sh("grep -c '/mnt/rd' /etc/fstab"),
        "1",
        "unmounted keeps the entry"
    );
    converge(&h, &book("absent", "size=2m"), 1, |_| {});
    assert_eq!(h.sh("grep -c '/mnt/rd' /etc/fstab || true"), "0");
}

#[test]
fn mount_without_the_capability_fails_with_mounts_message() {
    let h = Host::new("mountdenied", &[]);
    let r = h.play(
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - mount: {path: /mnt/x, src: tmpfs, fstype: tmpfs, state: mounted}\n",
        &[],
    );
    r.assert_code(2);
    assert!(
        r.stdout.contains("Error mounting /mnt/x") && r.stdout.contains("permission denied"),
        "{}",
        r.stdout
    );
}

#[test]
fn modprobe_persists_a_module_and_says_when_the_kernel_cannot_load() {
    let h = Host::new("modprobe", &[]);
    let book = "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - modprobe: {name: dummy, state: absent, params: numdummies=2, persistent: present}\n";
    // two files to write (the module is not loaded: `absent` needs nothing)
    converge(&h, book, 1, |h| {
        assert_eq!(
            h.sh("ls /etc/modules-load.d/dummy.conf 2>/dev/null | wc -l"),
            "0"
        );
    });
    assert_eq!(h.sh("cat /etc/modules-load.d/dummy.conf"), "dummy");
    assert_eq!(
        h.sh("cat /etc/modprobe.d/dummy.conf"),
        "options dummy numdummies=2"
    );
    let off = book.replace("persistent: present", "persistent: absent");
    let d = h.play(&off, &["--check", "--diff"]);
    assert_eq!(changed(&d), 1);
    assert!(
        d.stdout.contains("-options dummy numdummies=2"),
        "{}",
        d.stdout
    );
    let r = h.play(&off, &[]);
    assert_eq!(changed(&r), 1);
    assert_eq!(changed(&h.play(&off, &[])), 0);
    assert_eq!(
        h.sh("ls /etc/modules-load.d/dummy.conf /etc/modprobe.d/dummy.conf 2>/dev/null | wc -l"),
        "0"
    );
    // loading: this machine's kernel has no module support (checked: no /proc/modules)
    if docker_sh(&h.own.name, "test -r /proc/modules")
        .status
        .success()
    {
        return;
    }
    let r = h.play(&book.replace("state: absent", "state: present"), &[]);
    r.assert_code(2);
    assert!(
        r.stdout.contains("Error loading kernel module dummy"),
        "{}",
        r.stdout
    );
}

#[test]
fn wait_for_connection_returns_once_the_host_answers() {
    let h = Host::new("wfc", &[]);
    let book = r#"
- hosts: fleet
  gather_facts: false
  tasks:
    - wait_for_connection: {delay: 1, timeout: 30}
      register: w
    - copy: {content: "{{ w.elapsed }}\n", dest: /tmp/elapsed}
      when: w is not skipped
"#;
    let r = h.play(book, &[]);
    r.assert_code(0);
    let e: u64 = h.sh("cat /tmp/elapsed").parse().unwrap();
    assert!((1..10).contains(&e), "elapsed {e}");
    let c = h.play(book, &["--check"]);
    c.assert_code(0);
    assert!(c.stdout.contains("skipping: [h]"), "{}", c.stdout);
    // the connection dies while it waits: it is opened again
    let cut = r#"
- hosts: fleet
  gather_facts: false
  tasks:
    - shell: "nohup sh -c 'sleep 2; pkill -f sshd.*root@' >/dev/null 2>&1 &"
    - wait_for_connection: {delay: 4, timeout: 20, connect_timeout: 5}
      register: w
    - copy: {content: "{{ w.elapsed }}\n", dest: /tmp/elapsed2}
"#;
    let r = h.play(cut, &[]);
    r.assert_code(0);
    let e: u64 = h.sh("cat /tmp/elapsed2").parse().unwrap();
    assert!((4..20).contains(&e), "elapsed {e}");
}

#[test]
fn bad_arguments_are_refused_at_load_with_their_position() {
    let dir = tempdir();
    let d = dir.path();
    let cases = [
        (
            "dpkg_selections: {name: tree, selection: frozen}",
            "must be one of: install, hold, deinstall, purge; got: frozen",
        ),
        (
            "dpkg_selections: {name: tree}",
            "missing required parameter `selection`",
        ),
        (
            "assemble: {dest: /etc/x}",
            "missing required parameter `src`",
        ),
        (
            "known_hosts: {name: x, key: y, state: gone}",
            "must be one of: present, absent; got: gone",
        ),
        (
            "mount: {path: /mnt/x, src: tmpfs}",
            "missing required parameter `state`",
        ),
        (
            "modprobe: {name: dummy, persistent: yes}",
            "must be one of: disabled, present, absent",
        ),
        (
            "debconf: {name: tzdata, question: q, vtype: choice, value: v}",
            "`vtype` for module `debconf` must be one of",
        ),
        (
            "wait_for_connection: {delay: 1, tiemout: 3}",
            "unsupported parameter `tiemout`",
        ),
    ];
    for (task, want) in cases {
        write_file(
            d,
            "bad.yml",
            &format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: bad\n      {task}\n"),
        );
        let r = rdeploy(d, &["run", "bad.yml", "-i", "localhost,", "--syntax-check"]);
        assert_eq!(r.code, 1, "{task}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("bad.yml:5:"),
            "{task}: position:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(want),
            "{task}: wanted {want:?}:\n{}",
            r.stderr
        );
    }
    // templated values are checked when they run, not at load
    write_file(
        d,
        "ok.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - dpkg_selections: {name: tree, selection: \"{{ sel }}\"}\n",
    );
    rdeploy(d, &["run", "ok.yml", "-i", "localhost,", "--syntax-check"]).assert_code(0);
}

#[test]
fn ufw_enables_the_firewall_and_manages_rules() {
    // ufw is a Python program (so this host keeps Python); NET_ADMIN lets it load rules
    let h = Host::with_python("ufw", &["--cap-add", "NET_ADMIN"]);
    h.sh("apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ufw >/dev/null 2>&1; command -v ufw");
    let book = r#"
- hosts: fleet
  gather_facts: false
  tasks:
    - ufw: {state: enabled}
    - ufw: {default: deny, direction: incoming}
    - ufw: {rule: allow, port: "22", proto: tcp, comment: ssh}
    - ufw: {rule: limit, port: "2222", proto: tcp, from_ip: 10.0.0.0/8}
    - ufw: {logging: medium}
"#;
    // default incoming is deny already on a fresh ufw: 4 changes
    converge(&h, book, 4, |h| {
        assert_eq!(h.sh("ufw status | head -1"), "Status: inactive");
        assert_eq!(
            h.sh("grep -c '^### tuple' /etc/ufw/user.rules || true"),
            "0"
        );
        assert_eq!(h.sh("grep ^LOGLEVEL /etc/ufw/ufw.conf"), "LOGLEVEL=low");
    });
    let st = h.sh("ufw status verbose");
    assert!(st.contains("Status: active"), "{st}");
    assert!(st.contains("Logging: on (medium)"), "{st}");
    assert!(st.contains("Default: deny (incoming)"), "{st}");
    assert!(
        st.contains("22/tcp                     ALLOW IN    Anywhere                   # ssh"),
        "{st}"
    );
    assert!(
        st.contains("2222/tcp                   LIMIT IN    10.0.0.0/8"),
        "{st}"
    );
    let gone = "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - ufw: {rule: limit, port: \"2222\", proto: tcp, from_ip: 10.0.0.0/8, delete: true}\n";
    let c = h.play(gone, &["--check"]);
    assert_eq!(changed(&c), 1, "{}", c.stdout);
    assert!(h.sh("ufw status").contains("2222/tcp"));
    assert_eq!(changed(&h.play(gone, &[])), 1);
    assert!(!h.sh("ufw status").contains("2222/tcp"));
    assert_eq!(changed(&h.play(gone, &["--check"])), 0);
    assert_eq!(changed(&h.play(gone, &[])), 0);
}

/// A container cannot be rebooted: validation, check mode, the refusal on the
/// controller and a host without `shutdown` are what is tested of `reboot`.
#[test]
fn reboot_is_predicted_in_check_mode_and_refused_where_it_cannot_run() {
    let h = Host::new("reboot", &[]);
    let boot_id = h.sh("cat /proc/sys/kernel/random/boot_id");
    let book = "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - reboot: {msg: maintenance, reboot_timeout: 30}\n      register: r\n    - assert: {that: [r.rebooted, r.changed, \"r.elapsed == 0\"]}\n";
    let c = h.play(book, &["--check"]);
    c.assert_code(0);
    assert_eq!(changed(&c), 1, "{}", c.stdout);
    assert_eq!(h.sh("cat /proc/sys/kernel/random/boot_id"), boot_id);
    // no shutdown command on this host (Debian minbase without systemd-sysv)
    let r = h.play(book, &[]);
    r.assert_code(2);
    // (the message is JSON-escaped in the human output's result)
    assert!(
        r.stdout
            .contains(r#"Unable to find command \"shutdown\" in search paths"#),
        "{}",
        r.stdout
    );
    let bad = h.play(
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - reboot: {reboot_timeout: soon}\n",
        &[],
    );
    bad.assert_code(2);
    assert!(
        bad.stdout
            .contains("reboot_timeout must be a number of seconds"),
        "{}",
        bad.stdout
    );
    // on the controller: refused (run in check mode, so that nothing could happen anyway)
    let dir = tempdir();
    write_file(
        dir.path(),
        "local.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - reboot:\n",
    );
    let l = rdeploy(
        dir.path(),
        &["run", "local.yml", "-i", "localhost,", "--check"],
    );
    l.assert_code(2);
    assert!(
        l.stdout.contains("would reboot the control node"),
        "{}",
        l.stdout
    );
}
