//! One test per engine feature, without Docker (hosts with `connection: local`, effects
//! written to the project directory), through the fluent harness in scenario.rs. Each
//! asserts what ansible-core does, as a user would check it.

use super::scenario::Scenario;

const HOSTS: &[&str] = &["h1", "h2", "h3"];

/// A shell line appending `<host> <what>` to log.txt in the project directory.
fn log(what: &str) -> String {
    format!(
        "    - shell: echo \"{{{{ inventory_hostname }}}} {what}\" >> log.txt\n      args: {{chdir: \"{{{{ playbook_dir }}}}\"}}\n"
    )
}

fn play(extra: &str, tasks: &str) -> String {
    format!("- hosts: app\n  gather_facts: no\n{extra}  tasks:\n{tasks}")
}

#[test]
fn no_log_hides_values_in_human_and_json_output_but_keeps_them_usable() {
    let book = play(
        "  vars:\n    token: s3cr3t-t0ken-991\n",
        "    - shell: echo {{ token }}\n      register: out\n      no_log: true\n    - debug: {msg: \"{{ token | length }} chars\"}\n    - shell: echo {{ token }}; exit 3\n      no_log: true\n      ignore_errors: true\n",
    );
    for output in ["human", "json"] {
        let r = Scenario::new()
            .hosts(&["h1"])
            .playbook(&book)
            .args(&["--output", output])
            .run();
        r.code(0).nowhere("s3cr3t-t0ken-991");
        if output == "human" {
            r.stdout_has("'no_log: true' was specified")
                .stdout_has("16 chars")
                .recap("h1")
                // an ignored failure that changed something counts as ok, changed and
                // ignored, as in ansible-core
                .ok(3)
                .changed(2)
                .ignored(1);
        } else {
            r.stdout_has("\"censored\"");
        }
    }
}

#[test]
fn serial_runs_each_batch_through_all_tasks_before_the_next() {
    let r = Scenario::new()
        .hosts(HOSTS)
        .playbook(&play("  serial: 2\n", &(log("t1") + &log("t2"))))
        .run();
    r.code(0);
    let lines = r.lines("log.txt");
    assert_eq!(lines.len(), 6, "{lines:?}");
    // the first batch (h1, h2) finishes both tasks before h3 starts
    assert!(lines[..4].iter().all(|l| !l.starts_with("h3")), "{lines:?}");
    assert_eq!(lines[4..], ["h3 t1", "h3 t2"], "{lines:?}");
    for h in HOSTS {
        r.recap(h).changed(2).failed(0);
    }
}

#[test]
fn run_once_runs_on_the_first_host_and_registers_on_all() {
    let tasks = log("once").replace(
        "      args:",
        "      run_once: true\n      register: o\n      args:",
    ) + "    - debug: {msg: \"{{ inventory_hostname }} sees rc={{ o.rc }}\"}\n";
    let r = Scenario::new()
        .hosts(HOSTS)
        .playbook(&play("", &tasks))
        .run();
    r.code(0);
    assert_eq!(r.lines("log.txt"), ["h1 once"]);
    r.stdout_has("h2 sees rc=0").stdout_has("h3 sees rc=0");
}

#[test]
fn delegate_to_runs_for_the_host_with_the_delegates_connection() {
    // h2's connection variables point at a port where nothing listens: a task of h1
    // delegated to h2 is unreachable, proving the delegate's connection is used.
    let inv = "[app]\nh1 ansible_connection=local\nh2 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1\n";
    let tasks = "    - command: echo from-{{ inventory_hostname }}\n      delegate_to: localhost\n      register: d\n      when: inventory_hostname == 'h1'\n    - debug: {msg: \"{{ d.stdout }}\"}\n      when: inventory_hostname == 'h1'\n    - command: 'true'\n      delegate_to: h2\n      when: inventory_hostname == 'h1'\n";
    let r = Scenario::new()
        .inventory(inv)
        .playbook(&play("", tasks))
        .args(&["-l", "h1"])
        .run();
    r.stdout_has("[h1 -> localhost]")
        .stdout_has("from-h1")
        .stdout_has("[h1 -> h2]");
    r.recap("h1").unreachable(1);
}

#[test]
fn include_tasks_and_include_role_pass_vars_and_tasks_from() {
    let r = Scenario::new()
        .hosts(&["h1"])
        .file("inc.yml", "- debug: {msg: \"included with {{ colour }}\"}\n")
        .file("roles/r/tasks/main.yml", "- debug: {msg: \"role main\"}\n")
        .file("roles/r/tasks/other.yml", "- debug: {msg: \"role other {{ size }}\"}\n")
        .file("roles/r/defaults/main.yml", "size: small\n")
        .playbook(&play(
            "",
            "    - include_tasks: inc.yml\n      vars: {colour: red}\n    - include_role: {name: r, tasks_from: other}\n      vars: {size: big}\n",
        ))
        .run();
    r.code(0)
        .stdout_has("included with red")
        .stdout_has("role other big")
        .stdout_lacks("role main");
}

#[test]
fn strategy_free_lets_fast_hosts_run_ahead() {
    let tasks = "    - shell: sleep 2\n      when: inventory_hostname == 'h1'\n".to_string()
        + &log("t1")
        + &log("t2");
    let r = Scenario::new()
        .hosts(&["h1", "h2"])
        .playbook(&play("  strategy: free\n", &tasks))
        .run();
    r.code(0);
    let lines = r.lines("log.txt");
    let pos = |s: &str| lines.iter().position(|l| l == s).expect(s);
    assert!(pos("h2 t2") < pos("h1 t1"), "{lines:?}");
    // and the linear strategy does not
    let r = Scenario::new()
        .hosts(&["h1", "h2"])
        .playbook(&play("", &tasks))
        .run();
    let lines = r.lines("log.txt");
    let pos = |s: &str| lines.iter().position(|l| l == s).expect(s);
    assert!(pos("h1 t1") < pos("h2 t2"), "{lines:?}");
}

#[test]
fn handlers_run_once_per_topic_in_definition_order_and_listen() {
    let book = "- hosts: app\n  gather_facts: no\n  tasks:\n    - command: 'true'\n      notify: restart web\n    - command: 'true'\n      notify: [restart web, reload db]\n  handlers:\n    - name: reload db\n      shell: echo \"{{ inventory_hostname }} db\" >> {{ playbook_dir }}/log.txt\n    - name: web a\n      shell: echo \"{{ inventory_hostname }} web-a\" >> {{ playbook_dir }}/log.txt\n      listen: restart web\n    - name: web b\n      shell: echo \"{{ inventory_hostname }} web-b\" >> {{ playbook_dir }}/log.txt\n      listen: restart web\n    - name: never\n      shell: echo never >> {{ playbook_dir }}/log.txt\n";
    let r = Scenario::new().hosts(&["h1"]).playbook(book).run();
    r.code(0);
    assert_eq!(r.lines("log.txt"), ["h1 db", "h1 web-a", "h1 web-b"]);
}

#[test]
fn add_host_and_group_by_make_groups_later_plays_target() {
    let book = "- hosts: app\n  gather_facts: no\n  tasks:\n    - group_by: {key: \"kind_{{ 'even' if inventory_hostname in ['h2'] else 'odd' }}\"}\n    - add_host: {name: extra1, groups: added, ansible_connection: local, colour: blue}\n      run_once: true\n- hosts: kind_odd\n  gather_facts: no\n  tasks:\n    - debug: {msg: \"odd {{ inventory_hostname }}\"}\n- hosts: added\n  gather_facts: no\n  tasks:\n    - debug: {msg: \"added {{ inventory_hostname }} {{ colour }}\"}\n";
    let r = Scenario::new().hosts(HOSTS).playbook(book).run();
    r.code(0)
        .stdout_has("odd h1")
        .stdout_has("odd h3")
        .stdout_lacks("odd h2")
        .stdout_has("added extra1 blue");
    r.recap("extra1").ok(1);
}

#[test]
fn meta_end_host_end_play_and_flush_handlers() {
    let tasks = "    - command: 'true'\n      notify: h\n    - meta: flush_handlers\n".to_string()
        + &log("after-flush")
        + "    - meta: end_host\n      when: inventory_hostname == 'h2'\n"
        + &log("after-end-host")
        + "    - meta: end_play\n"
        + &log("after-end-play");
    let book = format!(
        "{}  handlers:\n    - name: h\n      shell: echo \"{{{{ inventory_hostname }}}} handler\" >> {{{{ playbook_dir }}}}/log.txt\n- hosts: app\n  gather_facts: no\n  tasks:\n{}",
        play("", &tasks),
        log("next-play")
    );
    let r = Scenario::new().hosts(&["h1", "h2"]).playbook(&book).run();
    r.code(0);
    let mut lines = r.lines("log.txt");
    lines.sort();
    assert_eq!(
        lines,
        [
            "h1 after-end-host",
            "h1 after-flush",
            "h1 handler",
            "h1 next-play",
            "h2 after-flush",
            "h2 handler",
            "h2 next-play"
        ]
    );
    // the handler ran at the flush, before the task after it
    let raw = r.lines("log.txt");
    let pos = |s: &str| raw.iter().position(|l| l == s).expect(s);
    assert!(pos("h1 handler") < pos("h1 after-flush"), "{raw:?}");
}

#[test]
fn start_at_task_skips_everything_before_it() {
    let tasks = log("one").replace("    - shell", "    - name: one\n      shell")
        + &log("two").replace("    - shell", "    - name: two\n      shell")
        + &log("three").replace("    - shell", "    - name: three\n      shell");
    let r = Scenario::new()
        .hosts(&["h1"])
        .playbook(&play("", &tasks))
        .args(&["--start-at-task", "two"])
        .run();
    r.code(0);
    assert_eq!(r.lines("log.txt"), ["h1 two", "h1 three"]);
    assert_eq!(r.task_headers(), ["two", "three"]);
}

#[test]
fn ignore_unreachable_lets_the_host_go_on() {
    let inv = "[app]\nh1 ansible_connection=local\ngone ansible_host=127.0.0.1 ansible_port=1\n";
    let tasks = "    - command: 'true'\n      ignore_unreachable: true\n    - debug: {msg: \"{{ inventory_hostname }} still here\"}\n    - command: 'true'\n    - debug: {msg: \"{{ inventory_hostname }} after\"}\n";
    let r = Scenario::new()
        .inventory(inv)
        .playbook(&play("", tasks))
        .run();
    r.code(4)
        .stdout_has("gone still here")
        .stdout_lacks("gone after")
        .stdout_has("h1 after");
    r.recap("gone").unreachable(1).skipped(1);
    r.recap("h1").changed(2).unreachable(0);
}

#[test]
fn a_dynamic_include_passes_its_keywords_but_not_its_tags() {
    let project = || {
        Scenario::new()
            .hosts(&["h1"])
            .file(
                "inc.yml",
                "- shell: echo \"env=$COLOUR secret=hush-4411\"\n  register: o\n- debug: {msg: \"{{ o.stdout }}\"}\n- shell: echo $COLOUR > colour.txt\n  args: {chdir: \"{{ playbook_dir }}\"}\n",
            )
            .playbook(&play(
                "",
                "    - include_tasks: inc.yml\n      environment: {COLOUR: green}\n      no_log: true\n      tags: [inc]\n",
            ))
    };
    // environment and no_log reach the included tasks: nothing of their output shows
    let r = project().run();
    r.code(0)
        .nowhere("hush-4411")
        .stdout_has("TASK [include_tasks]")
        .stdout_has("included: ")
        .recap("h1")
        .ok(4)
        .changed(2);
    assert_eq!(r.file("colour.txt").as_deref(), Some("green"));
    // its tags select the include only, not the tasks in it (ansible-core: use apply:)
    let r = project().args(&["--tags", "inc"]).run();
    r.code(0).recap("h1").ok(1).changed(0);
}
