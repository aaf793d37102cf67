//! ansible-core 2.19-2.21 syntax and the old forms, on `connection: local` (no fleet):
//! `register:` in its mapping form with `_task.result` / `_task.loop_result` /
//! `_task.polymorphic_result` (ansible-core 2.21's `_internal/_task.py`), `_task.result`
//! in `changed_when`/`failed_when`, a `{{ }}` in a register expression refused at load,
//! and the `--syntax-check` notes (printed again as one-line deprecation warnings when
//! the content runs) for non-boolean conditionals, removed keywords and top-level facts.

use super::harness::{rdeploy, tempdir, write_file};

#[test]
fn register_in_its_mapping_form_projects_the_result() {
    let dir = tempdir();
    let d = dir.path();
    write_file(
        d,
        "site.yml",
        r#"- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - shell: echo hi; echo there
      register:
        out: _task.result
        rc: _task.result.rc
        n: _task.result.stdout_lines | length
      changed_when: _task.result.rc == 5
      failed_when: out.stdout != 'hi\nthere'
    - shell: echo {{ item }}
      loop: [1, 2]
      register:
        last: _task.result
        whole: _task.loop_result
        poly: _task.polymorphic_result
    - assert:
        that:
          - out.stdout_lines == ['hi', 'there']
          - out is not changed
          - rc == 0 and n == 2
          - last.stdout == '2'
          - whole.results | length == 2
          - whole.keys() | list | sort == ['changed', 'failed', 'msg', 'results']
          - poly.results | map(attribute='stdout') | list == ['1', '2']
"#,
    );
    let r = rdeploy(d, &["run", "site.yml", "-i", "localhost,"]);
    r.assert_code(0);
    assert!(r.stdout.contains("failed=0"), "{}", r.stdout);
}

#[test]
fn a_template_in_a_register_expression_is_refused_at_load() {
    let dir = tempdir();
    let d = dir.path();
    write_file(
        d,
        "site.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - command: 'true'\n      register:\n        x: \"{{ 1 + 1 }}\"\n",
    );
    let r = rdeploy(d, &["run", "site.yml", "-i", "localhost,"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("site.yml:7:12")
            && r.stderr
                .contains("template delimiters are not supported in expressions"),
        "{}",
        r.stderr
    );
}

#[test]
fn syntax_check_notes_non_boolean_conditionals_removed_keywords_and_top_level_facts() {
    let dir = tempdir();
    let d = dir.path();
    write_file(
        d,
        "site.yml",
        r#"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    items_: [1]
  tasks:
    - debug: {msg: a}
      when: items_ | length
    - debug: {msg: b}
      when: items_ | length > 0
    - command: 'true'
      sudo_user: root
    - debug: {msg: "{{ ansible_os_family | default('x') }}"}
    - debug: {msg: "{{ ansible_distribution | default('x') }}"}
    - debug: {msg: "{{ ansible_facts['os_family'] | default('x') }}"}
"#,
    );
    let r = rdeploy(
        d,
        &["run", "site.yml", "-i", "localhost,", "--syntax-check"],
    );
    r.assert_code(0);
    let at = |line: usize, what: &str| {
        r.stderr
            .lines()
            .any(|l| l.contains(&format!("site.yml:{line}:")) && l.contains(what))
    };
    assert!(at(8, "not booleans"), "{}", r.stderr);
    assert!(
        !at(10, "not booleans"),
        "a comparison is a boolean:\n{}",
        r.stderr
    );
    assert!(at(12, "removed `sudo_user`"), "{}", r.stderr);
    assert!(at(13, "ansible_facts['os_family']"), "{}", r.stderr);
    // one note per file for top-level facts
    assert_eq!(
        r.stderr.matches("facts as top-level").count(),
        1,
        "{}",
        r.stderr
    );
    // running the same content works, with the same notes as one-line deprecations
    let run = rdeploy(d, &["run", "site.yml", "-i", "localhost,"]);
    run.assert_code(0);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("[DEPRECATION] ") && all.contains("removed `sudo_user`"),
        "{all}"
    );
    assert_eq!(all.matches("[DEPRECATION] ").count(), 3, "{all}");
}

/// The same projections through ansible-playbook 2.21 (`connection: local`, the peers'
/// venv) and rdeploy: the values written on the controller are equal.
#[test]
fn register_projections_match_ansible_playbook() {
    let ansible = std::path::Path::new("/opt/rdeploy-peers/bin/ansible-playbook");
    assert!(
        ansible.is_file(),
        "{} is missing: run `tests/fleet/fleet.sh peers`",
        ansible.display()
    );
    let dir = tempdir();
    let d = dir.path();
    write_file(
        d,
        "site.yml",
        r#"- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - shell: echo hi; echo there; exit 3
      register:
        rc: _task.result.rc
        lines: _task.result.stdout_lines
        n: _task.result.stdout_lines | length
      failed_when: rc not in [0, 3]
      changed_when: _task.result.rc == 0
    - command: echo {{ item }}
      loop: [a, b]
      register:
        last: _task.result.stdout
        outs: _task.loop_result.results | map(attribute='stdout') | list
        msg: _task.polymorphic_result.msg
    - copy:
        dest: "{{ out }}"
        content: "{{ {'rc': rc, 'lines': lines, 'n': n, 'last': last, 'outs': outs, 'msg': msg} | to_json }}"
"#,
    );
    let (ours, theirs) = (d.join("ours.json"), d.join("theirs.json"));
    rdeploy(
        d,
        &[
            "run",
            "site.yml",
            "-i",
            "localhost,",
            "-e",
            &format!("out={}", ours.display()),
        ],
    )
    .assert_code(0);
    let o = std::process::Command::new(ansible)
        .args([
            "-i",
            "localhost,",
            "site.yml",
            "-e",
            &format!("out={}", theirs.display()),
        ])
        .current_dir(d)
        .env(
            "ANSIBLE_PYTHON_INTERPRETER",
            "/opt/rdeploy-peers/bin/python3",
        )
        .output()
        .expect("ansible-playbook");
    assert!(
        o.status.success(),
        "ansible-playbook failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    assert_eq!(read(&ours), read(&theirs));
    assert_eq!(read(&ours)["outs"], serde_json::json!(["a", "b"]));
}

#[test]
fn old_forms_still_run_with_a_one_line_note() {
    let dir = tempdir();
    let d = dir.path();
    write_file(d, "more.yml", "- command: echo included\n  register: inc\n");
    write_file(
        d,
        "site.yml",
        r#"- hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - include: more.yml
    - command: echo warned
      args: {warn: false}
      register: w
    - assert:
        that:
          - inc.stdout == 'included'
          - w.stdout == 'warned'
          - ansible_os_family == ansible_facts['os_family']
"#,
    );
    let r = rdeploy(d, &["run", "site.yml", "-i", "localhost,"]);
    r.assert_code(0);
    let all = format!("{}{}", r.stdout, r.stderr);
    for (line, what) in [
        (5, "removed `include`"),
        (7, "`warn`"),
        (9, "facts as top-level"),
    ] {
        let hits: Vec<&str> = all
            .lines()
            .filter(|l| {
                l.contains("[DEPRECATION]")
                    && l.contains(&format!("site.yml:{line}:"))
                    && l.contains(what)
            })
            .collect();
        assert_eq!(hits.len(), 1, "one note for {what} at line {line}:\n{all}");
    }
}
