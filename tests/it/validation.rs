//! Load-time validation, stage order and exit statuses, through the binary. No fleet:
//! the inventories point at a closed port on 127.0.0.1 and every case must stop before
//! any host would be contacted.

use super::harness::{rdeploy, rdeploy_env, tempdir, write_file as write, Run};
use std::path::Path;
use std::time::{Duration, Instant};

/// An inventory whose only host is a closed port (nothing is ever contacted).
fn closed_inventory(dir: &Path) -> String {
    let p = dir.join("hosts.ini");
    std::fs::write(
        &p,
        "[web]\nw1 ansible_host=127.0.0.1 ansible_port=1\n[db]\nd1 ansible_host=127.0.0.1 ansible_port=1\n",
    )
    .unwrap();
    p.display().to_string()
}

fn run_book(dir: &Path, book: &str, extra: &[&str]) -> Run {
    let inv = closed_inventory(dir);
    let mut args = vec!["run", book, "-i", inv.as_str()];
    args.extend_from_slice(extra);
    rdeploy(dir, &args)
}

/// Exit 1, no task ran, and the stderr holds every wanted text.
fn assert_refused(r: &Run, want: &[&str]) {
    r.assert_code(1);
    for w in want {
        assert!(r.stderr.contains(w), "expected {w:?} in:\n{}", r.stderr);
    }
    assert!(
        !r.stdout.contains("TASK ["),
        "no task may run:\n{}",
        r.stdout
    );
    assert_eq!(
        r.stderr.matches("ERROR").count(),
        1,
        "one error:\n{}",
        r.stderr
    );
}

#[test]
fn notify_must_name_a_handler_of_the_playbook() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "\
- hosts: web
  tasks:
    - name: a
      command: /bin/true
      notify: [restart nginx, web changed, \"{{ dynamic_handler }}\"]
    - name: b
      command: /bin/true
      notify: restart ngnix
  handlers:
    - name: restart nginx
      command: /bin/true
    - name: reload
      listen: web changed
      command: /bin/true
- hosts: db
  tasks:
    - name: c
      command: /bin/true
      notify: reload
    - name: d
      command: /bin/true
      notify: nope
",
    );
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &[
            "site.yml:8:7: `notify` names the handler `restart ngnix`, which no play of this playbook defines",
            "(did you mean `restart nginx`?)",
            "site.yml:22:7: `notify` names the handler `nope`",
            "2 problems found",
        ],
    );
    assert!(!r.stderr.contains("dynamic_handler"), "{}", r.stderr);
    assert!(!r.stderr.contains("`reload`"), "{}", r.stderr);
}

#[test]
fn notify_of_a_role_handler_and_dynamic_includes_are_accepted() {
    let dir = tempdir();
    write(
        dir.path(),
        "roles/nginx/handlers/main.yml",
        "- name: restart\n  command: /bin/true\n",
    );
    write(
        dir.path(),
        "roles/nginx/tasks/main.yml",
        "- command: /bin/true\n  notify: \"nginx : restart\"\n",
    );
    write(
        dir.path(),
        "site.yml",
        "- hosts: web\n  roles: [nginx]\n  tasks:\n    - command: /bin/true\n      notify: restart\n",
    );
    run_book(dir.path(), "site.yml", &["--syntax-check"]).assert_code(0);
    // import_role brings the role's handlers into the play too.
    write(
        dir.path(),
        "imp.yml",
        "- hosts: web\n  tasks:\n    - import_role: {name: nginx}\n    - command: /bin/true\n      notify: restart\n",
    );
    run_book(dir.path(), "imp.yml", &["--syntax-check"]).assert_code(0);
    // include_role may bring handlers at run time: no load-time verdict.
    write(
        dir.path(),
        "dyn.yml",
        "- hosts: web\n  tasks:\n    - include_role: {name: \"{{ r }}\"}\n    - command: /bin/true\n      notify: from the role\n",
    );
    run_book(dir.path(), "dyn.yml", &["--syntax-check"]).assert_code(0);
}

#[test]
fn one_loop_per_task() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "\
- hosts: web
  tasks:
    - debug: {msg: x}
      loop: [1, 2]
      with_items: [3]
    - debug: {msg: y}
      with_items: [1]
      with_dict: {a: 1}
",
    );
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &[
            "site.yml:5:7: `with_items` and `loop` (at 4:7) on one task",
            "site.yml:8:7: `with_dict` and `with_items` (at 7:7) on one task",
            "2 problems found",
        ],
    );
}

#[test]
fn bad_conditions_point_at_their_key() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "\
- hosts: web
  tasks:
    - name: t
      command: /bin/true
      when: x ==
    - name: u
      command: /bin/true
      register: r
      changed_when: r.rc in
      until: \"{{ r.rc == }}\"
",
    );
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &[
            "site.yml:5:7: invalid conditional in `when`: `x ==`",
            "site.yml:9:7: invalid conditional in `changed_when`",
            "site.yml:10:7: invalid conditional in `until`",
            "3 problems found",
        ],
    );
}

#[test]
fn role_dependency_cycle_names_each_edge() {
    let dir = tempdir();
    write(
        dir.path(),
        "roles/a/meta/main.yml",
        "dependencies:\n  - role: b\n",
    );
    write(dir.path(), "roles/a/tasks/main.yml", "- debug: {msg: a}\n");
    write(
        dir.path(),
        "roles/b/meta/main.yml",
        "dependencies:\n  - a\n",
    );
    write(dir.path(), "roles/b/tasks/main.yml", "- debug: {msg: b}\n");
    write(dir.path(), "site.yml", "- hosts: web\n  roles: [a]\n");
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &["./roles/b/meta/main.yml:2:5: role dependency cycle: \
           a -> b (./roles/a/meta/main.yml:2:5) -> a (./roles/b/meta/main.yml:2:5)"],
    );
    assert!(!r.stderr.contains("too deep"), "{}", r.stderr);
}

#[test]
fn shared_role_dependencies_are_not_a_cycle() {
    let dir = tempdir();
    // a -> b, a -> c, b -> d, c -> d: d twice, no cycle.
    for (role, deps) in [("a", "[b, c]"), ("b", "[d]"), ("c", "[d]"), ("d", "[]")] {
        write(
            dir.path(),
            &format!("roles/{role}/meta/main.yml"),
            &format!("dependencies: {deps}\n"),
        );
        write(
            dir.path(),
            &format!("roles/{role}/tasks/main.yml"),
            &format!("- debug: {{msg: {role}}}\n"),
        );
    }
    write(dir.path(), "site.yml", "- hosts: web\n  roles: [a, d]\n");
    run_book(dir.path(), "site.yml", &["--syntax-check"]).assert_code(0);
    // A longer cycle: d -> a closes a -> b -> d -> a.
    write(dir.path(), "roles/d/meta/main.yml", "dependencies: [a]\n");
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &[
            "role dependency cycle: a -> b (./roles/a/meta/main.yml:1:16) -> d \
           (./roles/b/meta/main.yml:1:16) -> a (./roles/d/meta/main.yml:1:16)",
        ],
    );
}

#[test]
fn static_vars_files_must_exist_at_load_time() {
    let dir = tempdir();
    write(dir.path(), "vars/common.yml", "x: 1\n");
    write(
        dir.path(),
        "site.yml",
        "\
- name: web play
  hosts: web
  vars_files:
    - vars/common.yml
    - vars/missing.yml
    - [vars/nope.yml, vars/common.yml]
    - [vars/nope1.yml, vars/nope2.yml]
    - \"vars/{{ inventory_hostname }}.yml\"
  tasks: []
",
    );
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &[
            "site.yml:5:7: vars file not found: ",
            "vars/missing.yml (vars_files of the play at ",
            "site.yml:1:3)",
            "site.yml:7:7: vars file not found: ",
            "vars/nope1.yml or ",
            "2 problems found",
        ],
    );
    assert!(!r.stderr.contains("inventory_hostname"), "{}", r.stderr);
}

#[test]
fn templated_hosts_need_their_variable() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: \"{{ target_group }}\"\n  tasks:\n    - debug: {msg: hi}\n",
    );
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &["site.yml:1:3: cannot resolve the play's hosts `{{ target_group }}`"],
    );
    // Given by -e: the pattern is the variable's value.
    let r = run_book(
        dir.path(),
        "site.yml",
        &["-e", "target_group=db", "--list-hosts"],
    );
    r.assert_code(0);
    assert!(r.stdout.contains("hosts (1):\n      d1"), "{}", r.stdout);
    // Or by the play's vars (which may be templates of extra vars).
    write(
        dir.path(),
        "vars.yml",
        "- hosts: \"{{ target }}\"\n  vars:\n    target: \"{{ tier }}\"\n  tasks: []\n",
    );
    let r = run_book(dir.path(), "vars.yml", &["-e", "tier=web", "--list-hosts"]);
    r.assert_code(0);
    assert!(r.stdout.contains("hosts (1):\n      w1"), "{}", r.stdout);
}

#[cfg(unix)]
#[test]
fn playbooks_are_validated_before_inventory_scripts_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let marker = dir.path().join("script-ran");
    let script = dir.path().join("inv.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"web\": [\"w1\"]}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(
        dir.path(),
        "site.yml",
        "- hosts: web\n  tasks:\n    - name: [unclosed\n",
    );
    let r = rdeploy(
        dir.path(),
        &["run", "site.yml", "-i", script.to_str().unwrap()],
    );
    assert_refused(&r, &["site.yml:"]);
    assert!(
        !marker.exists(),
        "the inventory script ran before the playbook was checked"
    );
    // The script is run once the playbooks are fine.
    write(dir.path(), "ok.yml", "- hosts: web\n  tasks: []\n");
    let r = rdeploy(
        dir.path(),
        &[
            "run",
            "ok.yml",
            "-i",
            script.to_str().unwrap(),
            "--list-hosts",
        ],
    );
    r.assert_code(0);
    assert!(marker.exists());
}

#[test]
fn every_problem_of_a_run_is_reported_at_once() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "\
- hosts: web
  vars_files: [missing.yml]
  tasks:
    - command: /bin/true
      when: a b
      notify: nobody
    - debug: {msg: x}
      loop: [1]
      with_items: [2]
",
    );
    let r = run_book(dir.path(), "site.yml", &[]);
    assert_refused(
        &r,
        &[
            "site.yml:2:16: vars file not found",
            "site.yml:9:7: `with_items` and `loop`",
            "site.yml:5:7: invalid conditional in `when`",
            "site.yml:6:7: `notify` names the handler `nobody`",
            "4 problems found",
        ],
    );
}

/// The environment of a run against a closed AWS endpoint with dummy credentials.
const CLOSED_AWS: &[(&str, &str)] = &[
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent/config"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
];

#[test]
fn provision_and_destroy_exit_3_when_the_endpoint_is_unreachable() {
    let dir = tempdir();
    write(
        dir.path(),
        "infra.yml",
        "project: shop\nenv: dev\nregion: us-east-1\n",
    );
    for cmd in ["provision", "destroy"] {
        let start = Instant::now();
        let r = rdeploy_env(dir.path(), &[cmd, "--plan", "infra.yml"], CLOSED_AWS);
        r.assert_code(3);
        assert!(
            r.stderr.contains("cannot reach the API endpoint")
                && r.stderr.contains("(endpoint: http://127.0.0.1:1)"),
            "{cmd}: {}",
            r.stderr
        );
        assert!(start.elapsed() < Duration::from_secs(8), "{cmd}");
    }
}

#[test]
fn unreachable_cloud_endpoint_exits_3_quickly() {
    let dir = tempdir();
    write(
        dir.path(),
        "aws_ec2.yml",
        "plugin: aws_ec2\nregions: [us-east-1]\n",
    );
    let start = Instant::now();
    let r = rdeploy_env(
        dir.path(),
        &["inventory", "-i", "aws_ec2.yml", "list"],
        CLOSED_AWS,
    );
    let took = start.elapsed();
    r.assert_code(3);
    for want in [
        "us-east-1: DescribeInstances: cannot reach the API endpoint",
        "(endpoint: http://127.0.0.1:1)",
    ] {
        assert!(
            r.stderr.contains(want),
            "expected {want:?} in:\n{}",
            r.stderr
        );
    }
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

#[test]
fn help_documents_the_exit_statuses() {
    let dir = tempdir();
    let r = rdeploy(dir.path(), &["--help"]);
    r.assert_code(0);
    for want in [
        "Exit status:",
        "  3    a cloud API call failed",
        "  130  interrupted",
    ] {
        assert!(
            r.stdout.contains(want),
            "expected {want:?} in:\n{}",
            r.stdout
        );
    }
}
