//! `async` / `poll` and `async_status` through the binary and SSH, on a container of the
//! test's own without Python (as node1): a job that finishes within its time, one that
//! does not (the task fails with ansible-core's message and the job is killed on the
//! host), fire and forget then `async_status` with `until`, loops of jobs, a module
//! rdeploy runs in the foreground, check mode, and an action ansible-core refuses async
//! for. The host is read with `docker exec`. Then the registered keys of `poll: 0`,
//! `async_status` (running, finished, cleanup) and `poll > 0` are compared with what
//! ansible-core 2.21 registers for the same playbook on a container with Python.

use super::harness::{
    ansible_playbook, docker_out, docker_sh, rdeploy, tempdir, wait_until, write_file, OwnHost,
};
use std::path::Path;

fn prefix() -> String {
    std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into())
}

fn inventory(dir: &Path, own: &OwnHost) -> String {
    own.inventory_checked(dir, "t", "h").display().to_string()
}

const BOOK: &str = r#"
- hosts: h
  gather_facts: false
  vars:
    d: /tmp/rd-async
  tasks:
    - file: {path: "{{ d }}", state: directory}
    - name: a job that ends within its time
      shell: sleep 3; echo three > {{ d }}/three; echo out; echo err >&2
      async: 10
      poll: 1
      register: a
    - assert:
        that:
          - a is changed and a is not failed
          - a.finished and a.started
          - a.rc == 0 and a.stdout == 'out' and a.stderr == 'err'
          - a.stdout_lines == ['out']
          - a.delta >= '0:00:03'
          - a.ansible_job_id is match('j[0-9]+[.][0-9]+$')
    - name: a job that does not
      shell: sleep 10; echo late > {{ d }}/late
      async: 2
      poll: 1
      register: b
      ignore_errors: true
    - assert:
        that:
          - b is failed
          - b.msg == 'async task did not complete within the requested time - 2s'
    - name: fire and forget
      shell: sleep 2; echo bg > {{ d }}/bg
      async: 30
      poll: 0
      register: c
    - assert:
        that:
          - c is changed
          - c.started and not c.finished
          - c.results_file.endswith('/.ansible_async/' ~ c.ansible_job_id)
    - async_status:
        jid: "{{ c.ansible_job_id }}"
      register: job
      until: job.finished
      retries: 20
      delay: 1
    - assert:
        that:
          - job.rc == 0 and job is changed
          - job.attempts > 1
          - job.cmd == 'sleep 2; echo bg > ' ~ d ~ '/bg'
    - async_status:
        jid: "{{ c.ansible_job_id }}"
        mode: cleanup
      register: gone
    - assert:
        that:
          - gone.erased == c.results_file
    - async_status:
        jid: "{{ c.ansible_job_id }}"
      register: missing
      ignore_errors: true
    - assert:
        that:
          - missing is failed and missing.msg == 'could not find job'
    - name: a loop of jobs
      command: echo {{ item }}
      loop: [x, y]
      async: 10
      poll: 0
      register: many
    - async_status:
        jid: "{{ item.ansible_job_id }}"
      loop: "{{ many.results }}"
      register: done
      until: done.finished
      retries: 10
      delay: 1
    - assert:
        that:
          - done.results | map(attribute='stdout') | list == ['x', 'y']
    - name: a module rdeploy drives from the controller
      lineinfile: {path: "{{ d }}/conf", line: "k=v", create: true}
      async: 10
      poll: 0
      register: li
    - async_status:
        jid: "{{ li.ansible_job_id }}"
      register: li_job
      until: li_job.finished
      retries: 5
      delay: 1
    - assert:
        that:
          - li_job is changed
    - name: check mode
      shell: touch {{ d }}/never
      async: 5
      poll: 1
      check_mode: true
      register: ck
    - assert:
        that:
          - ck is skipped
    - copy: {content: x, dest: "{{ d }}/x"}
      async: 5
      poll: 1
      register: cp
      ignore_errors: true
    - assert:
        that:
          - cp.msg == 'This action (copy) does not support async.'
    - name: a job that outlives the run
      shell: sleep 4; echo survived > {{ d }}/survived
      async: 30
      poll: 0
"#;

#[test]
fn async_jobs_run_in_the_background_on_a_host_without_python() {
    let dir = tempdir();
    let d = dir.path();
    let own = OwnHost::start(&format!("{}-async", prefix()), &[], d);
    docker_out(&own.name, "rm -rf /usr/bin/python3* /usr/lib/python3*");
    let inv = inventory(d, &own);
    write_file(d, "play.yml", BOOK);
    let t = std::time::Instant::now();
    let r = rdeploy(d, &["run", "play.yml", "-i", &inv]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("ignored=3"),
        "three failures ignored (timeout, missing job, copy):\n{}",
        r.stdout
    );
    // the job's effects on the host; the timed-out job was killed, not left running
    assert_eq!(
        docker_out(
            &own.name,
            "cat /tmp/rd-async/three /tmp/rd-async/bg /tmp/rd-async/conf"
        ),
        "three\nbg\nk=v"
    );
    assert!(!docker_sh(&own.name, "test -e /tmp/rd-async/never")
        .status
        .success());
    // the last job was still running when rdeploy exited: it goes on without it
    assert!(!docker_sh(&own.name, "test -e /tmp/rd-async/survived")
        .status
        .success());
    assert!(
        wait_until(std::time::Duration::from_secs(10), || {
            docker_sh(&own.name, "test -e /tmp/rd-async/survived")
                .status
                .success()
        }),
        "the job did not outlive the run"
    );
    std::thread::sleep(std::time::Duration::from_secs(12).saturating_sub(t.elapsed()));
    assert!(
        !docker_sh(&own.name, "test -e /tmp/rd-async/late")
            .status
            .success(),
        "the killed job went on"
    );
    assert_eq!(docker_out(&own.name, "pgrep -f 'sleep 1[0]' | wc -l"), "0");
    // what is left in ~/.ansible_async: the timed-out job's record (as ansible-core
    // leaves it) and the jobs nobody cleaned up; no temporary files
    // (the last job removes its files a moment after writing `survived`)
    let left = || {
        docker_out(
            &own.name,
            "ls -a /root/.ansible_async | grep -v '^[.]*$' | grep -v '^j[0-9]*[.][0-9]*$' | wc -l",
        )
    };
    assert!(
        wait_until(std::time::Duration::from_secs(5), || left() == "0"),
        "{}",
        left()
    );
}

/// The keys ansible-core registers, written as JSON on the controller.
const KEYS_BOOK: &str = r#"
- hosts: h
  gather_facts: false
  tasks:
    - shell: sleep 2; echo hi
      async: 20
      poll: 0
      register: fired
    - async_status: {jid: "{{ fired.ansible_job_id }}"}
      register: running
    - async_status: {jid: "{{ fired.ansible_job_id }}"}
      register: finished
      until: finished.finished
      retries: 10
      delay: 1
    - async_status: {jid: "{{ fired.ansible_job_id }}", mode: cleanup}
      register: cleaned
    - shell: echo polled
      async: 10
      poll: 1
      register: polled
    - copy:
        dest: "{{ out }}"
        content: |
          {{ {'fired': fired.keys() | reject('eq', 'ansible_facts') | sort,
              'running': running.keys() | sort,
              'finished': finished.keys() | sort,
              'cleaned': cleaned.keys() | sort,
              'polled': polled.keys() | sort,
              'values': [fired.changed, fired.started, fired.finished, running.started, running.finished,
                         finished.finished, finished.changed, cleaned.started, cleaned.finished, polled.finished]} | to_json }}
      delegate_to: localhost
"#;

#[test]
fn async_results_carry_ansible_cores_keys() {
    let dir = tempdir();
    let d = dir.path();
    let own = OwnHost::start(&format!("{}-async-keys", prefix()), &[], d);
    let inv = inventory(d, &own);
    write_file(d, "keys.yml", KEYS_BOOK);
    let ours = d.join("ours.json");
    let theirs = d.join("theirs.json");
    let r = rdeploy(
        d,
        &[
            "run",
            "keys.yml",
            "-i",
            &inv,
            "-e",
            &format!("out={}", ours.display()),
        ],
    );
    r.assert_code(0);
    ansible_playbook(
        d,
        &[
            "-i",
            &inv,
            "keys.yml",
            "-e",
            &format!("out={}", theirs.display()),
        ],
        &[("ANSIBLE_HOST_KEY_CHECKING", "True")],
    );
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(&ours), read(&theirs));
    for k in [
        "fired", "running", "finished", "cleaned", "polled", "values",
    ] {
        assert_eq!(a[k], b[k], "{k}: rdeploy vs ansible-core");
    }
}
