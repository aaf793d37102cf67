//! How roles are put together, without a fleet (plays on localhost, `connection:
//! local`): `meta/argument_specs.yml` (checked at load; validated at role start with
//! ansible-core's task and messages), meta dependencies (run once per play with the
//! same parameters, inheriting their parents' parameters, their defaults visible to
//! the play), modules Ansible has and rdeploy does not (they load, and fail only when
//! they run).

use super::harness::{rdeploy, tempdir, write_file as write};
use std::path::Path;

const SPEC: &str = r#"argument_specs:
  main:
    short_description: The app role.
    options:
      app_name: {type: str, required: true}
      app_port: {type: int, default: 80}
      app_mode: {type: str, choices: [prod, dev], default: prod}
      app_tags: {type: list, elements: str}
      app_tuning:
        type: dict
        options:
          threads: {type: int}
  setup:
    options:
      app_dir: {type: path, required: true}
"#;

fn project(d: &Path, play_vars: &str) {
    write(d, "roles/app/meta/argument_specs.yml", SPEC);
    write(
        d,
        "roles/app/defaults/main.yml",
        "app_port: 80\napp_mode: prod\n",
    );
    write(
        d,
        "roles/app/tasks/main.yml",
        "- debug: {msg: \"{{ app_name }}:{{ app_port }}\"}\n",
    );
    write(
        d,
        "roles/app/tasks/setup.yml",
        "- debug: {msg: \"setup {{ app_dir }}\"}\n",
    );
    write(
        d,
        "site.yml",
        &format!("- hosts: localhost\n  connection: local\n  gather_facts: no\n  roles:\n    - role: app\n{play_vars}"),
    );
}

#[test]
fn argument_specs_pass_with_good_values_and_show_ansibles_task() {
    let dir = tempdir();
    project(dir.path(), "      app_name: shop\n      app_port: \"8080\"\n      app_tags: [a, b]\n      app_tuning: {threads: 4}\n");
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(
        r.stdout
            .contains("TASK [app : Validating arguments against arg spec 'main' - The app role.]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ok=2"), "{}", r.stdout);
    // tagged `always`: it runs with --tags of the role's tasks too
    let l = rdeploy(dir.path(), &["run", "site.yml", "--list-tasks"]);
    assert!(l.stdout.contains("TAGS: [always]"), "{}", l.stdout);
}

#[test]
fn argument_specs_failures_name_the_role_the_option_and_the_type() {
    let dir = tempdir();
    project(
        dir.path(),
        "      app_port: eighty\n      app_mode: staging\n      app_tuning: {threads: many}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(2);
    let out = &r.stdout;
    for want in [
        "Validation of arguments failed (role app, entry point main",
        "missing required arguments: app_name",
        "argument 'app_port' is of type str and we were unable to convert to int",
        "value of app_mode must be one of: prod, dev, got: staging",
        "argument 'app_tuning.threads' is of type str and we were unable to convert to int",
    ] {
        assert!(out.contains(want), "wanted {want:?} in\n{out}");
    }
    assert!(
        !out.contains("TASK [app : debug]"),
        "the role's tasks did not run:\n{out}"
    );
}

#[test]
fn argument_specs_entry_point_follows_tasks_from() {
    let dir = tempdir();
    project(dir.path(), "      app_name: x\n");
    write(
        dir.path(),
        "setup.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - import_role: {name: app, tasks_from: setup}\n",
    );
    let r = rdeploy(dir.path(), &["run", "setup.yml"]);
    r.assert_code(2);
    assert!(
        r.stdout.contains("arg spec 'setup'")
            && r.stdout.contains("missing required arguments: app_dir"),
        "{}",
        r.stdout
    );
    let r = rdeploy(dir.path(), &["run", "setup.yml", "-e", "app_dir=/srv"]);
    r.assert_code(0);
}

#[test]
fn a_bad_argument_spec_file_is_refused_at_load_with_its_position() {
    let dir = tempdir();
    project(dir.path(), "      app_name: x\n");
    write(
        dir.path(),
        "roles/app/meta/argument_specs.yml",
        "argument_specs:\n  main:\n    options:\n      app_name: {type: string}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(1);
    assert!(r.stderr.contains("argument_specs.yml:4:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("type `string` is not one of str, int"),
        "{}",
        r.stderr
    );
}

#[test]
fn meta_dependencies_run_once_and_inherit_their_parents_parameters() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "roles/base/defaults/main.yml",
        "base_dir: /opt/base\nbase_who: nobody\n",
    );
    write(
        d,
        "roles/base/tasks/main.yml",
        "- debug: {msg: \"base for {{ base_who }}\"}\n",
    );
    write(
        d,
        "roles/app/meta/main.yml",
        "dependencies:\n  - {role: base, vars: {base_who: \"{{ app_name }}\"}}\n  - {role: base, vars: {base_who: \"{{ app_name }}\"}}\n",
    );
    write(
        d,
        "roles/app/tasks/main.yml",
        "- debug: {msg: \"app in {{ base_dir }}\"}\n",
    );
    write(
        d,
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  roles:\n    - {role: app, app_name: shop}\n    - {role: base, base_who: other}\n",
    );
    let r = rdeploy(d, &["run", "site.yml", "-v"]);
    r.assert_code(0);
    assert_eq!(r.stdout.matches("base for shop").count(), 1, "{}", r.stdout);
    assert_eq!(
        r.stdout.matches("base for other").count(),
        1,
        "other parameters: runs again\n{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("app in /opt/base"),
        "the dependency's defaults reach the play\n{}",
        r.stdout
    );
}

#[test]
fn a_module_ansible_has_but_rdeploy_lacks_loads_and_fails_only_if_it_runs() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "redhat.yml",
        "- dnf: {name: epel-release}\n- community.general.pacman: {name: vim}\n",
    );
    write(
        d,
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - import_tasks: redhat.yml\n      when: false\n    - debug: {msg: after}\n",
    );
    let r = rdeploy(d, &["run", "site.yml"]);
    r.assert_code(0);
    assert!(r.stdout.contains("skipping: [localhost]"), "{}", r.stdout);
    write(d, "site.yml", "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - ansible.builtin.yum: {name: x}\n");
    let r = rdeploy(d, &["run", "site.yml"]);
    r.assert_code(2);
    assert!(
        r.stdout.contains("module `ansible.builtin.yum` (ansible.builtin.yum) exists in Ansible but is not implemented by rdeploy")
            || r.stdout.contains("module `yum` (ansible.builtin.yum) exists in Ansible but is not implemented by rdeploy"),
        "{}",
        r.stdout
    );
    // a name Ansible does not have either is still refused at load
    write(d, "site.yml", "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - dnfx: {name: x}\n");
    let r = rdeploy(d, &["run", "site.yml"]);
    r.assert_code(1);
    assert!(r.stderr.contains("site.yml:5:"), "{}", r.stderr);
}

/// `--list-tags` / `--list-tasks` print what ansible-playbook prints, byte for byte
/// (the real one from /opt/rdeploy-peers, run on the same project).
#[test]
fn list_tags_and_list_tasks_are_ansible_playbooks_output() {
    let ansible = Path::new("/opt/rdeploy-peers/bin/ansible-playbook");
    assert!(
        ansible.is_file(),
        "{} is missing: run `tests/fleet/fleet.sh peers`",
        ansible.display()
    );
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "roles/web/tasks/main.yml",
        "- name: conf\n  debug: {msg: x}\n  tags: [conf]\n- debug: {msg: y}\n",
    );
    write(
        d,
        "site.yml",
        "- hosts: all\n  tags: [play1]\n  gather_facts: false\n  roles:\n    - {role: web, tags: [web]}\n  tasks:\n    - name: own\n      debug: {msg: x}\n      tags: [zeta, alpha]\n    - block:\n        - command: \"true\"\n          tags: [inner]\n      tags: [blk]\n- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: {msg: y}\n      tags: never\n    - debug: {msg: z}\n      tags: [always]\n",
    );
    for opts in [
        &["--list-tags"][..],
        &["--list-tasks"],
        &["--list-tags", "--list-tasks"],
        &["--list-tags", "--tags", "web"],
        &["--list-tasks", "--tags", "all"],
        &["--list-tags", "--skip-tags", "zeta"],
        &["--list-tasks", "--tags", "never,conf"],
    ] {
        let mut args = vec!["run", "site.yml", "-i", "localhost,"];
        args.extend_from_slice(opts);
        let ours = rdeploy(d, &args);
        ours.assert_code(0);
        let theirs = std::process::Command::new(ansible)
            .args(["site.yml", "-i", "localhost,"])
            .args(opts)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(theirs.status.success());
        assert_eq!(
            ours.stdout,
            String::from_utf8_lossy(&theirs.stdout),
            "{opts:?}"
        );
    }
}
