//! End-to-end runs of `rdeploy run` against the container fleet over real SSH,
//! checked independently with `docker exec`.

use crate::harness::*;

fn run_fixture(dir: &std::path::Path, inv: &std::path::Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec![
        "run".into(),
        "site.yml".into(),
        "-i".into(),
        inv.display().to_string(),
    ];
    args.extend(fleet_flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    rdeploy(dir, &refs)
}

fn reset_host(container: &str) {
    docker_sh(
        container,
        "rm -rf /opt/app /var/log/app /etc/rdeploy-converged /etc/rdeploy-common /etc/motd; userdel -r appsvc 2>/dev/null; groupdel appsvc 2>/dev/null; true",
    );
}

#[test]
fn fixture_project_converges_and_is_idempotent() {
    let f = fleet();
    let hosts = ["node1", "node2", "node3"];
    for h in hosts {
        reset_host(&f.host(h).container);
    }
    let dir = fixture_copy("project");
    let inv = write_inventory(dir.path(), &hosts, "root");

    let first = run_fixture(dir.path(), &inv, &[]);
    first.assert_code(0);
    let rc = recap(&first.stdout);
    for h in hosts {
        let r = rc
            .get(h)
            .unwrap_or_else(|| panic!("no recap for {h}:\n{}", first.stdout));
        assert!(
            r[1] >= 8,
            "first run should change things on {h}: {r:?}\n{}",
            first.stdout
        );
        assert_eq!(r[3], 0, "no failures");
    }
    // Checked on the hosts, independently of rdeploy.
    for h in hosts {
        let c = &f.host(h).container;
        let conf = docker_out(c, "cat /opt/app/app.conf");
        let port = if h == "node1" { "9090" } else { "8080" };
        assert!(conf.contains(&format!("port = {port}")), "{h}: {conf}");
        assert!(
            conf.contains(&format!("url = http://{h}:{port}")),
            "lazy group var templating: {conf}"
        );
        assert!(
            conf.contains("peer = node1:9090")
                && conf.contains("peer = node2:8080")
                && conf.contains("peer = node3:8080"),
            "{conf}"
        );
        assert!(conf.contains("workers = 2"));
        assert_eq!(
            docker_out(c, "stat -c '%a %U %G' /opt/app/app.conf"),
            "640 appsvc appsvc"
        );
        assert_eq!(
            docker_out(c, "stat -c '%a %U' /opt/app /opt/app/releases /var/log/app"),
            "750 appsvc\n750 appsvc\n750 appsvc"
        );
        assert_eq!(
            docker_out(c, "id -un appsvc && id -gn appsvc"),
            "appsvc\nappsvc"
        );
        let motd = docker_out(c, "cat /etc/motd");
        assert!(
            motd.starts_with(&format!("Welcome to {h} (Debian bookworm)")),
            "{motd}"
        );
        assert!(motd.contains("group: fleet"), "{motd}");
        assert_eq!(
            docker_out(c, "stat -c %a /etc/motd /etc/rdeploy-converged"),
            "644\n644"
        );
        assert_eq!(
            docker_out(c, "cat /etc/rdeploy-common"),
            format!("common role on {h}")
        );
        // Handlers ran once each.
        assert_eq!(docker_out(c, "wc -l < /var/log/app/motd-handler.log"), "1");
        assert_eq!(
            docker_out(c, "test -f /opt/app/restarted && echo yes"),
            "yes"
        );
        // No temporary files left behind by atomic writes.
        assert_eq!(
            docker_out(c, "ls -a /opt/app /etc | grep -c '^.rdeploy' || true"),
            "0"
        );
    }

    let second = run_fixture(dir.path(), &inv, &[]);
    second.assert_code(0);
    let rc = recap(&second.stdout);
    for h in hosts {
        assert_eq!(
            rc[h][1], 0,
            "second run must change nothing on {h}:\n{}",
            second.stdout
        );
        assert_eq!(
            docker_out(
                &f.host(h).container,
                "wc -l < /var/log/app/motd-handler.log"
            ),
            "1",
            "handler must not run again"
        );
    }
}

#[test]
fn check_mode_predicts_and_changes_nothing() {
    let f = fleet();
    let c = f.host("node4").container.clone();
    reset_host(&c);
    let dir = fixture_copy("project");
    let inv = write_inventory(dir.path(), &["node4"], "root");
    run_fixture(dir.path(), &inv, &[]).assert_code(0);
    // Drift: content, mode and a missing file.
    docker_out(
        &c,
        "echo tampered > /etc/motd && chmod 600 /opt/app/app.conf && rm /etc/rdeploy-converged",
    );
    let run = run_fixture(dir.path(), &inv, &["--check", "--diff"]);
    run.assert_code(0);
    let rc = recap(&run.stdout);
    assert!(
        rc["node4"][1] >= 3,
        "check mode predicts the 3 changes:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        docker_out(&c, "cat /etc/motd"),
        "tampered",
        "check mode must not write"
    );
    assert_eq!(docker_out(&c, "stat -c %a /opt/app/app.conf"), "600");
    assert_eq!(
        docker_out(
            &c,
            "test -e /etc/rdeploy-converged && echo present || echo absent"
        ),
        "absent"
    );
    assert!(
        run.stdout.contains("+converged by rdeploy"),
        "diff shows new content:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("-tampered"),
        "diff shows old content:\n{}",
        run.stdout
    );
    // The real run then repairs exactly that.
    let fix = run_fixture(dir.path(), &inv, &[]);
    fix.assert_code(0);
    assert_eq!(docker_out(&c, "stat -c %a /opt/app/app.conf"), "640");
    assert!(docker_out(&c, "cat /etc/motd").starts_with("Welcome to node4"));
}

#[test]
fn become_through_sudo_with_and_without_password() {
    let f = fleet();
    let dir = tempdir();
    std::fs::write(
        dir.path().join("whoami.yml"),
        "- hosts: fleet\n  gather_facts: no\n  tasks:\n    - command: id -un\n      register: who\n      changed_when: false\n    - copy:\n        content: \"{{ who.stdout }}\\n\"\n        dest: /root/become-{{ ansible_user }}\n",
    )
    .unwrap();
    // deploy has NOPASSWD sudo: a password given anyway must not leak into the script's stdin.
    for (user, extra) in [
        ("deploy", vec![]),
        (
            "deploy",
            vec!["-e", "ansible_become_password=deploypw-secret"],
        ),
        (
            "deploypw",
            vec!["-e", "ansible_become_password=deploypw-secret"],
        ),
    ] {
        let inv = write_inventory(dir.path(), &["node3"], user);
        let mut args = vec!["run", "whoami.yml", "-i", inv.to_str().unwrap(), "--become"];
        let flags = fleet_flags();
        args.extend(flags.iter().map(String::as_str));
        args.extend(extra.iter());
        let r = rdeploy(dir.path(), &args);
        r.assert_code(0);
        assert!(
            !r.stdout.contains("deploypw-secret") && !r.stderr.contains("deploypw-secret"),
            "password must never be printed"
        );
        assert_eq!(
            docker_out(
                &f.host("node3").container,
                &format!("cat /root/become-{user} && stat -c %U /root/become-{user}")
            ),
            "root\nroot"
        );
    }
    // Without the password, sudo refuses and the task fails (exit 2).
    let inv = write_inventory(dir.path(), &["node3"], "deploypw");
    let mut args = vec!["run", "whoami.yml", "-i", inv.to_str().unwrap(), "--become"];
    let flags = fleet_flags();
    args.extend(flags.iter().map(String::as_str));
    rdeploy(dir.path(), &args).assert_code(2);
}

#[test]
fn wrong_host_key_is_refused() {
    let f = fleet();
    let dir = tempdir();
    // known_hosts claims node5's port has node6's key.
    let kh = std::fs::read_to_string(f.known_hosts()).unwrap();
    let p5 = f.host("node5").port;
    let p6 = f.host("node6").port;
    let forged: String = kh
        .lines()
        .filter(|l| l.starts_with(&format!("[127.0.0.1]:{p6} ")))
        .map(|l| l.replace(&format!("[127.0.0.1]:{p6} "), &format!("[127.0.0.1]:{p5} ")) + "\n")
        .collect();
    assert!(!forged.is_empty());
    std::fs::write(dir.path().join("known_hosts"), forged).unwrap();
    std::fs::write(dir.path().join("p.yml"), "- hosts: all\n  gather_facts: no\n  tasks:\n    - command: touch /tmp/should-not-exist-hk\n").unwrap();
    let inv = write_inventory(dir.path(), &["node5"], "root");
    let kh_path = dir.path().join("known_hosts");
    let r = rdeploy(
        dir.path(),
        &[
            "run",
            "p.yml",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh_path.to_str().unwrap(),
        ],
    );
    r.assert_code(4);
    assert!(
        r.stdout.contains("SHA256:"),
        "the refusal names the fingerprint:\n{}",
        r.stdout
    );
    assert_eq!(
        docker_out(
            &f.host("node5").container,
            "test -e /tmp/should-not-exist-hk && echo yes || echo no"
        ),
        "no"
    );
}

#[test]
fn bad_inputs_give_positions_and_touch_no_host() {
    let dir = tempdir();
    let inv = write_inventory(dir.path(), &["node2"], "root");
    let cases = [
        ("typo.yml", "- hosts: all\n  tasks:\n    - name: t\n      copy:\n        content: x\n        dest: /tmp/rd-bad\n      whne: true\n", "typo.yml:7:7"),
        ("yaml.yml", "- hosts: all\n  tasks:\n    - name: [unclosed\n", "yaml.yml:"),
        ("tmpl.yml", "- hosts: all\n  tasks:\n    - debug:\n        msg: \"{{ foo | }}\"\n", "tmpl.yml:3:7"),
        ("mod.yml", "- hosts: all\n  tasks:\n    - coppy:\n        src: a\n", "mod.yml:3:7"),
    ];
    for (file, text, want) in cases {
        std::fs::write(dir.path().join(file), text).unwrap();
        let r = rdeploy(dir.path(), &["run", file, "-i", inv.to_str().unwrap()]);
        r.assert_code(1);
        assert!(
            r.stderr.contains(want),
            "{file}: expected {want} in:\n{}",
            r.stderr
        );
        assert_eq!(
            r.stderr.matches("ERROR").count(),
            1,
            "one clear error:\n{}",
            r.stderr
        );
        assert!(
            !r.stdout.contains("TASK ["),
            "no task may run:\n{}",
            r.stdout
        );
    }
}

#[test]
fn host_killed_mid_run_is_unreachable_and_others_finish() {
    let f = fleet();
    let victim = f.host("node7").container.clone();
    let survivor = f.host("node8").container.clone();
    docker_sh(&survivor, "rm -f /tmp/rd-after-kill");
    let dir = tempdir();
    std::fs::write(
        dir.path().join("slow.yml"),
        "- hosts: fleet\n  gather_facts: no\n  tasks:\n    - command: 'true'\n    - shell: sleep 4\n    - command: touch /tmp/rd-after-kill\n",
    )
    .unwrap();
    let inv = write_inventory(dir.path(), &["node7", "node8"], "root");
    let kh = f.known_hosts();
    let child = std::process::Command::new(rdeploy_bin())
        .args([
            "run",
            "slow.yml",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let k = std::process::Command::new("docker")
        .args(["kill", &victim])
        .output()
        .unwrap();
    assert!(k.status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    // Bring the victim back for later runs.
    let _ = std::process::Command::new("docker")
        .args(["start", &victim])
        .output();
    assert_eq!(
        out.status.code(),
        Some(4),
        "exit 4 when a host is unreachable:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rc = recap(&stdout);
    assert_eq!(rc["node7"][2], 1, "node7 unreachable:\n{stdout}");
    assert_eq!(rc["node8"][3], 0);
    assert_eq!(
        docker_out(&survivor, "test -f /tmp/rd-after-kill && echo yes"),
        "yes"
    );
    let retry = std::fs::read_to_string(dir.path().join("slow.retry")).unwrap();
    assert_eq!(retry.trim(), "node7");
}

#[test]
fn exec_json_output_tags_and_limit() {
    let f = fleet();
    let dir = tempdir();
    let inv = write_inventory(dir.path(), &["node1", "node2"], "root");
    let kh = f.known_hosts();
    // Ad hoc: rdeploy exec PATTERN -- COMMAND
    let r = rdeploy(
        dir.path(),
        &[
            "exec",
            "fleet",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
            "--",
            "hostname",
        ],
    );
    r.assert_code(0);
    assert!(
        r.stdout.contains("changed: [node1]") && r.stdout.contains("changed: [node2]"),
        "{}",
        r.stdout
    );

    std::fs::write(
        dir.path().join("t.yml"),
        "- hosts: fleet\n  gather_facts: no\n  tasks:\n    - command: hostname\n      register: h\n      changed_when: false\n      tags: [info]\n    - command: touch /tmp/rd-tagged-deploy\n      tags: [deploy]\n    - debug: msg=never\n      tags: [never]\n",
    )
    .unwrap();
    // --output json: one event per line; --tags; --limit.
    let r = rdeploy(
        dir.path(),
        &[
            "run",
            "t.yml",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
            "--output",
            "json",
            "-t",
            "info",
            "-l",
            "node2",
        ],
    );
    r.assert_code(0);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let results: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "host_result")
        .collect();
    assert_eq!(
        results.len(),
        1,
        "only the info task on node2: {}",
        r.stdout
    );
    assert_eq!(results[0]["host"], "node2");
    assert_eq!(results[0]["result"]["stdout"], "node2");
    let recap = events
        .iter()
        .find(|e| e["event"] == "recap")
        .expect("recap event");
    assert_eq!(recap["stats"]["node2"]["ok"], 1);
    assert!(recap["stats"].get("node1").is_none());

    // --list-hosts and --list-tasks touch no host.
    let r = rdeploy(
        dir.path(),
        &[
            "run",
            "t.yml",
            "-i",
            inv.to_str().unwrap(),
            "--list-hosts",
            "--list-tasks",
        ],
    );
    r.assert_code(0);
    assert!(
        r.stdout.contains("node1") && r.stdout.contains("hosts (2)"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("debug"),
        "`never` tasks are not listed: {}",
        r.stdout
    );
}

#[test]
fn blocks_rescue_always_loops_and_when() {
    let f = fleet();
    let dir = tempdir();
    let inv = write_inventory(dir.path(), &["node2"], "root");
    let kh = f.known_hosts();
    std::fs::write(
        dir.path().join("b.yml"),
        r#"- hosts: fleet
  gather_facts: yes
  vars:
    pkgs: [a, b, c]
  tasks:
    - block:
        - command: /bin/false
        - command: touch /tmp/rd-not-reached
      rescue:
        - set_fact:
            rescued_from: "{{ ansible_failed_task | default('x') }}"
        - copy:
            content: "rescued\n"
            dest: /tmp/rd-rescued
      always:
        - copy:
            content: "{% for p in pkgs %}{{ p }}-{{ loop.index }}\n{% endfor %}"
            dest: /tmp/rd-always
    - command: echo {{ item }}
      loop: "{{ pkgs }}"
      when: item != 'b'
      register: echoes
    - assert:
        that:
          - echoes.results | length == 3
          - echoes.results[1] is skipped
          - echoes.results[0].stdout == 'a'
          - ansible_os_family == 'Debian'
"#,
    )
    .unwrap();
    docker_sh(
        &f.host("node2").container,
        "rm -f /tmp/rd-not-reached /tmp/rd-rescued /tmp/rd-always",
    );
    let r = rdeploy(
        dir.path(),
        &[
            "run",
            "b.yml",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
        ],
    );
    r.assert_code(0);
    let c = &f.host("node2").container;
    assert_eq!(docker_out(c, "cat /tmp/rd-rescued"), "rescued");
    assert_eq!(docker_out(c, "cat /tmp/rd-always"), "a-1\nb-2\nc-3");
    assert_eq!(
        docker_out(c, "test -e /tmp/rd-not-reached && echo yes || echo no"),
        "no"
    );
    let rc = recap(&r.stdout);
    assert_eq!(
        rc["node2"][3], 0,
        "rescued failures don't count as failed: {}",
        r.stdout
    );
}

#[test]
fn bad_flags_exit_1() {
    let dir = tempdir();
    let r = rdeploy(dir.path(), &["run", "--no-such-flag", "x.yml"]);
    r.assert_code(1);
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);
    let r = rdeploy(dir.path(), &["run", "missing.yml", "-i", "nowhere.ini"]);
    r.assert_code(1);
    assert!(r.stderr.contains("nowhere.ini"), "{}", r.stderr);
    rdeploy(dir.path(), &["--version"]).assert_code(0);
}
