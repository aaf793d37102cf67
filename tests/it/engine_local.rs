//! Engine behaviour that needs no fleet: plays on `localhost` with `connection: local`.

use super::harness::{rdeploy, tempdir, write_file as write};
use std::time::{Duration, Instant};

#[test]
fn task_names_are_rendered_with_role_parameters() {
    let dir = tempdir();
    write(
        dir.path(),
        "roles/app/tasks/main.yml",
        "- name: \"{{ app_name }}: configure\"\n  debug: {msg: hi}\n- name: \"{{ nope }} stays as written\"\n  debug: {msg: hi}\n",
    );
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  roles:\n    - {role: app, app_name: api}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("TASK [app : api: configure]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("TASK [app : {{ nope }} stays as written]"),
        "{}",
        r.stdout
    );
}

#[test]
fn until_does_not_retry_a_module_that_skipped_itself_in_check_mode() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - uri: {url: \"http://127.0.0.1:1/\"}\n      register: r\n      until: r.status == 200\n      retries: 5\n      delay: 2\n",
    );
    let t0 = Instant::now();
    let r = rdeploy(dir.path(), &["run", "site.yml", "--check"]);
    r.assert_code(0);
    assert!(r.stdout.contains("skipping: [localhost]"), "{}", r.stdout);
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "retried: {:?}",
        t0.elapsed()
    );
}

/// Three local hosts; `site.yml` from `book`; returns the run.
fn three_hosts(book: &str) -> super::harness::Run {
    let dir = tempdir();
    write(
        dir.path(),
        "hosts.ini",
        "[all:vars]\nansible_connection=local\n[app]\nh1\nh2\nh3\n",
    );
    write(dir.path(), "site.yml", book);
    rdeploy(dir.path(), &["run", "site.yml", "-i", "hosts.ini"])
}

const LATER_PLAY: &str =
    "- hosts: app\n  gather_facts: no\n  tasks:\n    - debug: {msg: later play ran}\n";

#[test]
fn max_fail_percentage_is_checked_after_each_task_and_stops_the_playbook() {
    let r = three_hosts(&format!(
        "- hosts: app\n  gather_facts: no\n  max_fail_percentage: 30\n  tasks:\n    - fail: {{msg: boom}}\n      when: inventory_hostname == 'h1'\n    - debug: {{msg: next task ran}}\n{LATER_PLAY}"
    ));
    r.assert_code(2);
    assert!(!r.stdout.contains("next task ran"), "{}", r.stdout);
    assert!(!r.stdout.contains("later play ran"), "{}", r.stdout);
    assert!(r.stdout.contains("max_fail_percentage") || r.stderr.contains("max_fail_percentage"));
}

#[test]
fn any_errors_fatal_stops_the_playbook() {
    let r = three_hosts(&format!(
        "- hosts: app\n  gather_facts: no\n  any_errors_fatal: true\n  tasks:\n    - fail: {{msg: boom}}\n      when: inventory_hostname == 'h2'\n    - debug: {{msg: next task ran}}\n{LATER_PLAY}"
    ));
    r.assert_code(2);
    assert!(!r.stdout.contains("next task ran"), "{}", r.stdout);
    assert!(!r.stdout.contains("later play ran"), "{}", r.stdout);
}

#[test]
fn a_serial_batch_that_fails_entirely_stops_the_playbook() {
    let r = three_hosts(&format!(
        "- hosts: app\n  gather_facts: no\n  serial: 1\n  tasks:\n    - fail: {{msg: boom}}\n      when: inventory_hostname == 'h1'\n    - debug: {{msg: 'ran on {{{{ inventory_hostname }}}}'}}\n{LATER_PLAY}"
    ));
    r.assert_code(2);
    assert!(
        !r.stdout.contains("ran on h2"),
        "no later batch: {}",
        r.stdout
    );
    assert!(!r.stdout.contains("later play ran"), "{}", r.stdout);
}

#[test]
fn without_a_stop_condition_later_plays_run_for_the_hosts_that_did_not_fail() {
    let r = three_hosts(&format!(
        "- hosts: app\n  gather_facts: no\n  tasks:\n    - fail: {{msg: boom}}\n      when: inventory_hostname == 'h1'\n{LATER_PLAY}"
    ));
    r.assert_code(2);
    assert_eq!(
        r.stdout.matches("later play ran").count(),
        2,
        "{}",
        r.stdout
    );
}

#[test]
fn include_tasks_and_include_role_with_loop_run_once_per_item() {
    let dir = tempdir();
    write(
        dir.path(),
        "inc.yml",
        "- debug: {msg: \"file {{ svc }} at {{ i }}\"}\n",
    );
    write(
        dir.path(),
        "roles/r/tasks/main.yml",
        "- debug: {msg: \"role {{ item }}\"}\n",
    );
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - include_tasks: inc.yml\n      loop: [api, web]\n      loop_control: {loop_var: svc, index_var: i}\n    - include_role: {name: r}\n      with_items: [x, y]\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    for want in ["file api at 0", "file web at 1", "role x", "role y"] {
        assert!(r.stdout.contains(want), "{want}: {}", r.stdout);
    }
}

#[test]
fn extended_loop_variables() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - debug: {msg: \"{{ ansible_loop.previtem | default('-') }}<{{ item }}>{{ ansible_loop.nextitem | default('-') }} of {{ ansible_loop.allitems | join(',') }}\"}\n      loop: [a, b, c]\n      loop_control: {extended: true}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    for want in ["-<a>b of a,b,c", "a<b>c of a,b,c", "b<c>- of a,b,c"] {
        assert!(r.stdout.contains(want), "{want}: {}", r.stdout);
    }
}

#[test]
fn rescue_sees_the_failed_task_and_its_result() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - block:\n        - name: the step that breaks\n          command: sh -c 'echo broken >&2; exit 3'\n      rescue:\n        - debug: {msg: \"rescued {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("rescued the step that breaks rc=3"),
        "{}",
        r.stdout
    );
}

#[test]
fn play_hosts_and_batch_leave_out_failed_hosts() {
    let r = three_hosts(
        "- hosts: app\n  gather_facts: no\n  serial: 2\n  tasks:\n    - fail: {msg: boom}\n      when: inventory_hostname == 'h1'\n    - debug: {msg: \"{{ inventory_hostname }} sees play={{ ansible_play_hosts | join(',') }} batch={{ ansible_play_batch | join(',') }}\"}\n",
    );
    r.assert_code(2);
    assert!(
        r.stdout.contains("h2 sees play=h2,h3 batch=h2"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("h3 sees play=h2,h3 batch=h3"),
        "{}",
        r.stdout
    );
}

#[test]
fn clear_host_errors_lets_failed_hosts_go_on_and_the_run_exit_0() {
    let r = three_hosts(
        "- hosts: app\n  gather_facts: no\n  tasks:\n    - fail: {msg: boom}\n      when: inventory_hostname == 'h1'\n    - meta: clear_host_errors\n    - debug: {msg: \"{{ inventory_hostname }} goes on\"}\n",
    );
    r.assert_code(0);
    assert!(r.stdout.contains("h1 goes on"), "{}", r.stdout);
    assert!(
        r.stdout.contains("failed=1"),
        "the recap keeps the failure: {}",
        r.stdout
    );
}

#[test]
fn recap_counts_includes_as_ok_and_group_by_as_changed() {
    let dir = tempdir();
    write(dir.path(), "inc.yml", "- debug: {msg: inside}\n");
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - include_tasks: inc.yml\n    - group_by: {key: \"os_{{ 'x' }}\"}\n    - debug: {msg: \"{{ groups['os_x'] | join(',') }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    // include (ok) + debug inside (ok) + group_by (ok, changed) + debug (ok)
    assert!(r.stdout.contains("ok=4    changed=1"), "{}", r.stdout);
    assert!(r.stdout.contains("\"localhost\""), "{}", r.stdout);
}

#[test]
fn registered_result_says_failed_false_when_failed_when_is_false() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - command: sh -c 'exit 1'\n      register: r\n      failed_when: false\n    - debug: {msg: \"failed={{ r.failed }} rc={{ r.rc }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(r.stdout.contains("failed=False rc=1"), "{}", r.stdout);
}

#[test]
fn set_fact_cacheable_reaches_ansible_facts() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - set_fact: {color: blue, cacheable: true}\n    - set_fact: {shade: dark}\n    - debug: {msg: \"{{ ansible_facts.color }} {{ color }} {{ ansible_facts.shade | default('not-a-fact') }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(r.stdout.contains("blue blue not-a-fact"), "{}", r.stdout);
}

#[test]
fn list_tasks_prints_ansible_playbooks_layout() {
    let dir = tempdir();
    write(
        dir.path(),
        "roles/app/tasks/main.yml",
        "- name: Configure\n  debug: {msg: c}\n- debug: {msg: unnamed}\n",
    );
    write(
        dir.path(),
        "site.yml",
        "- name: Web\n  hosts: web\n  tags: [web]\n  roles:\n    - {role: app, tags: [app]}\n  tasks:\n    - debug: {msg: x}\n      tags: [z, a, a]\n    - name: Named\n      command: 'true'\n- hosts: db\n  tasks:\n    - block:\n        - ping:\n      rescue:\n        - debug: {msg: r}\n",
    );
    write(dir.path(), "hosts.ini", "[web]\nw1\n[db]\nd1\n");
    let r = rdeploy(
        dir.path(),
        &["run", "site.yml", "-i", "hosts.ini", "--list-tasks"],
    );
    r.assert_code(0);
    let listed = &r.stdout[r.stdout.find("  play #1").expect("play line")..];
    let want = "  play #1 (web): Web\tTAGS: [web]
    tasks:
      app : Configure\tTAGS: [app, web]
      debug\tTAGS: [app, web]
      debug\tTAGS: [a, web, z]
      Named\tTAGS: [web]

  play #2 (db): db\tTAGS: []
    tasks:
      ping\tTAGS: []";
    assert_eq!(listed.trim_end(), want);
}

#[test]
fn vars_files_with_host_variables_resolve_per_host() {
    let dir = tempdir();
    write(
        dir.path(),
        "hosts.ini",
        "[all:vars]\nansible_connection=local\n[app]\nh1 color=red\nh2 color=blue\n",
    );
    write(dir.path(), "vars/h1.yml", "greeting: hello from h1\n");
    write(dir.path(), "vars/h2.yml", "greeting: hello from h2\n");
    write(dir.path(), "vars/red.yml", "shade: dark red\n");
    write(dir.path(), "vars/blue.yml", "shade: light blue\n");
    write(
        dir.path(),
        "site.yml",
        "- hosts: app\n  gather_facts: no\n  vars_files:\n    - \"vars/{{ inventory_hostname }}.yml\"\n    - [\"vars/{{ color }}.yml\", vars/default.yml]\n  tasks:\n    - debug: {msg: \"{{ inventory_hostname }}: {{ greeting }}, {{ shade }}, {{ hostvars['h2'].greeting }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml", "-i", "hosts.ini"]);
    r.assert_code(0);
    assert!(
        r.stdout
            .contains("h1: hello from h1, dark red, hello from h2"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("h2: hello from h2, light blue, hello from h2"),
        "{}",
        r.stdout
    );
}

#[test]
fn doc_lists_modules_and_shows_parameters() {
    let dir = tempdir();
    let r = rdeploy(dir.path(), &["doc"]);
    r.assert_code(0);
    for m in [
        "copy ",
        "ansible.builtin.template",
        "ping ",
        "set_fact ",
        "include_role ",
    ] {
        assert!(r.stdout.contains(m), "{m}: {}", r.stdout);
    }
    let r = rdeploy(dir.path(), &["doc", "ansible.builtin.copy"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("  dest\n") && r.stdout.contains("  content\n"),
        "{}",
        r.stdout
    );
    rdeploy(dir.path(), &["doc", "no_such_module"]).assert_code(1);
}

#[test]
fn set_stats_is_accepted_and_runs() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - set_stats: {data: {deployed: 3}}\n      register: s\n    - debug: {msg: \"stats {{ s.ansible_stats.data.deployed }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(r.stdout.contains("stats 3"), "{}", r.stdout);
}

#[test]
fn syntax_check_notes_what_newer_ansible_core_refuses() {
    let dir = tempdir();
    write(dir.path(), "more.yml", "- debug: {msg: hi}\n");
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - debug: {msg: x}\n      when: \"{{ flag }}\"\n    - include: more.yml\n    - command: echo hi\n      args: {warn: false}\n    - docker_compose: {project_src: /srv/app}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml", "--syntax-check"]);
    r.assert_code(0);
    for (line, what) in [
        (6, "templates in conditionals"),
        (7, "removed `include`"),
        (9, "`warn`"),
        (10, "removed docker_compose"),
    ] {
        let at = format!("site.yml:{line}:");
        assert!(
            r.stderr
                .lines()
                .any(|l| l.contains(&at) && l.contains(what)),
            "{at} {what}:\n{}",
            r.stderr
        );
    }
    // and rdeploy still runs such content
    assert!(r.stdout.contains("playbook: "), "{}", r.stdout);
}

#[test]
fn force_handlers_run_on_hosts_that_failed_after_notifying() {
    let book = |force: bool| {
        format!(
            "- hosts: app\n  gather_facts: no\n  force_handlers: {force}\n  tasks:\n    - command: 'true'\n      notify: bump\n    - fail: {{msg: boom}}\n      when: inventory_hostname == 'h1'\n  handlers:\n    - name: bump\n      debug: {{msg: \"handler on {{{{ inventory_hostname }}}}\"}}\n"
        )
    };
    let r = three_hosts(&book(true));
    r.assert_code(2);
    assert!(r.stdout.contains("handler on h1"), "{}", r.stdout);
    assert!(r.stdout.contains("handler on h2"), "{}", r.stdout);
    let r = three_hosts(&book(false));
    assert!(!r.stdout.contains("handler on h1"), "{}", r.stdout);
    assert!(r.stdout.contains("handler on h2"), "{}", r.stdout);
}

#[test]
fn include_apply_tags_reach_the_included_tasks() {
    let dir = tempdir();
    write(dir.path(), "inc.yml", "- debug: {msg: included ran}\n");
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - include_tasks:\n        file: inc.yml\n        apply: {tags: [deploy]}\n      tags: [always]\n    - debug: {msg: other ran}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml", "--tags", "deploy"]);
    r.assert_code(0);
    assert!(r.stdout.contains("included ran"), "{}", r.stdout);
    assert!(!r.stdout.contains("other ran"), "{}", r.stdout);
    let r = rdeploy(dir.path(), &["run", "site.yml", "--tags", "nothing"]);
    assert!(
        !r.stdout.contains("included ran"),
        "without the applied tag: {}",
        r.stdout
    );
}

#[test]
fn an_ignored_failure_that_changed_something_counts_as_changed() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - command: sh -c 'exit 1'\n      ignore_errors: true\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("ok=1    changed=1") && r.stdout.contains("ignored=1"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_open_files_soft_limit_is_raised_at_start() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - command: sh -c 'echo soft=$(ulimit -Sn) hard=$(ulimit -Hn)'\n      register: l\n    - debug: {msg: \"{{ l.stdout }}\"}\n",
    );
    // start rdeploy with a low soft limit; its children inherit what it set
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn 256 && exec {} run site.yml",
            super::harness::rdeploy_bin().display()
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("soft="))
        .expect("the limits line");
    let num = |k: &str| -> u64 {
        line.split(&format!("{k}="))
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(num("hard") > 256, "{line}");
    assert_eq!(num("soft"), num("hard"), "{line}");
}

#[test]
fn delegate_facts_gives_the_facts_to_the_delegated_host() {
    let r = three_hosts(
        "- hosts: app\n  gather_facts: no\n  tasks:\n    - set_fact: {seen_by: \"{{ inventory_hostname }}\"}\n      delegate_to: h2\n      delegate_facts: true\n      run_once: true\n    - debug: {msg: \"{{ inventory_hostname }} has {{ seen_by | default('none') }}\"}\n",
    );
    r.assert_code(0);
    assert!(r.stdout.contains("h2 has h1"), "{}", r.stdout);
    assert!(r.stdout.contains("h1 has none"), "{}", r.stdout);
    assert!(r.stdout.contains("h3 has none"), "{}", r.stdout);
}

#[test]
fn until_exhausted_reports_attempts_as_ansible_core_does() {
    // retries: 2 → three runs; ansible-core registers attempts = 2 and failed.
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - shell: echo x >> runs.txt; exit 1\n      args: {chdir: \"{{ playbook_dir }}\"}\n      register: r\n      until: r.rc == 0\n      retries: 2\n      delay: 0\n      ignore_errors: true\n    - debug: {msg: \"attempts={{ r.attempts }} failed={{ r.failed }}\"}\n    - shell: echo y >> runs.txt; test $(wc -l < runs.txt) -ge 5\n      args: {chdir: \"{{ playbook_dir }}\"}\n      register: c\n      until: c.rc == 0\n      retries: 5\n      delay: 0\n    - debug: {msg: \"second attempts={{ c.attempts }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(r.stdout.contains("attempts=2 failed=True"), "{}", r.stdout);
    // three runs of the first task; the second succeeds on its second attempt (5 lines)
    assert!(r.stdout.contains("second attempts=2"), "{}", r.stdout);
    let runs = std::fs::read_to_string(dir.path().join("runs.txt")).unwrap();
    assert_eq!(runs.lines().filter(|l| *l == "x").count(), 3, "{runs}");
}

#[test]
fn retries_without_until_retry_until_the_task_succeeds() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - shell: echo x >> n.txt; test $(wc -l < n.txt) -ge 3\n      args: {chdir: \"{{ playbook_dir }}\"}\n      register: r\n      retries: 4\n      delay: 0\n    - debug: {msg: \"attempts={{ r.attempts }}\"}\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(0);
    assert!(r.stdout.contains("attempts=3"), "{}", r.stdout);
}

#[test]
fn an_unknown_meta_action_is_refused_at_load() {
    let dir = tempdir();
    write(
        dir.path(),
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n    - debug: {msg: never}\n    - meta: flush_handler\n",
    );
    let r = rdeploy(dir.path(), &["run", "site.yml"]);
    r.assert_code(1);
    assert!(r.stderr.contains("site.yml:6:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean `flush_handlers`"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("never"), "{}", r.stdout);
}
