//! Engine behaviour that needs no fleet: plays on `localhost` with `connection: local`.

use super::harness::{rdeploy, tempdir};
use std::time::{Duration, Instant};

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

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
