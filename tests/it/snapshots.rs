//! Snapshots (insta) of what users read: the human output of a run, its JSON events,
//! and the caret errors of bad input. A change to any of them shows up as a diff in
//! review (`cargo insta review`, or INSTA_UPDATE=always and read the git diff).

use super::harness::{rdeploy, tempdir, write_file};
use super::scenario::Scenario;

const BOOK: &str = "- hosts: app\n  gather_facts: no\n  vars:\n    items: [a, b]\n  tasks:\n    - name: greet\n      debug: {msg: \"hello {{ item }}\"}\n      loop: \"{{ items }}\"\n    - name: a fact\n      set_fact: {colour: blue}\n    - name: skipped\n      debug: {msg: never}\n      when: colour == 'red'\n    - name: changed on purpose\n      command: \"true\"\n      notify: restart\n    - name: an ignored failure\n      fail: {msg: expected}\n      ignore_errors: true\n  handlers:\n    - name: restart\n      debug: {msg: restarted}\n";

/// Values that differ between runs (timestamps, durations) replaced by a marker.
fn redact(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "start" | "end" | "delta" | "elapsed_secs") {
                    *x = serde_json::Value::String("[redacted]".into());
                } else {
                    redact(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[test]
fn human_output_of_a_run() {
    // one fork: the hosts' lines in inventory order (with more, in completion order)
    let r = Scenario::new()
        .hosts(&["h1", "h2"])
        .playbook(BOOK)
        .args(&["-f", "1"])
        .run();
    r.code(0);
    insta::assert_snapshot!("human_run", r.run.stdout);
}

#[test]
fn json_events_of_a_run() {
    let r = Scenario::new()
        .hosts(&["h1"])
        .playbook(BOOK)
        .args(&["--output", "json"])
        .run();
    r.code(0);
    let events: Vec<serde_json::Value> = r
        .run
        .stdout
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON event per line");
            redact(&mut v);
            v
        })
        .collect();
    let text: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    insta::assert_snapshot!("json_events", text.join("\n"));
}

/// The error of `rdeploy run site.yml` on a bad playbook, with the temp dir's path
/// taken out.
fn caret_error(book: &str) -> String {
    let dir = tempdir();
    write_file(dir.path(), "site.yml", book);
    let r = rdeploy(dir.path(), &["run", "site.yml", "-i", "localhost,"]);
    r.assert_code(1);
    r.stderr.replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn caret_errors_of_bad_playbooks() {
    let cases = [
        (
            "unknown_module",
            "- hosts: all\n  tasks:\n    - name: x\n      copyy: {src: a, dest: b}\n",
        ),
        (
            "bad_yaml",
            "- hosts: all\n  tasks:\n    - name: x\n      debug: {msg: \"unclosed}\n",
        ),
        (
            "bad_template",
            "- hosts: all\n  tasks:\n    - debug: {msg: \"{{ foo | }}\"}\n",
        ),
        (
            "unknown_keyword",
            "- hosts: all\n  gather_fact: no\n  tasks: []\n",
        ),
    ];
    for (name, book) in cases {
        insta::assert_snapshot!(format!("caret_{name}"), caret_error(book));
    }
}

#[test]
fn a_template_error_at_run_time_shows_its_frame_without_values() {
    let r = Scenario::new()
        .hosts(&["h1"])
        .file("templates/t.j2", "a {{ ok }}\nb\nport {{ server.port + base }}\n")
        .playbook("- hosts: app\n  gather_facts: no\n  vars: {ok: 1, base: 7777, server: {}}\n  tasks:\n    - template: {src: t.j2, dest: \"{{ playbook_dir }}/out.txt\"}\n      ignore_errors: true\n    - debug: {msg: \"x {{ server.nope.deeper ~ base }}\"}\n")
        .run();
    r.code(2).nowhere("7777");
    let out = r.run.stdout.replace(&r.dir().display().to_string(), "DIR");
    insta::assert_snapshot!("template_error_frame", out);
}
