//! Faults against the fleet, checked on the hosts themselves (`docker exec`, not
//! rdeploy's word): a host that stops answering mid-task is unreachable, named in the
//! retry file, and the others finish (exit 4); an interrupted controller (SIGINT: exit
//! 130; SIGKILL during a 50 MB copy or while a 40 MB script streams) leaves every managed
//! file old or new, never partial, never runs a script cut short, and leaves no rdeploy
//! temporary file; a full disk fails the copy with a clear message and keeps the old
//! file; an sshd session killed between tasks is opened again (the next task really
//! runs) and one killed during a task makes the host unreachable, never a wrong "ok".
//!
//! Each test works under its own `/tmp/rdfault-<test>` directory on hosts of its own:
//! node11/node12 (no other test uses them), node3..node6, and for the full disk and the
//! killed sshd sessions containers of their own (`<prefix>-fault-disk` with a 1 MiB
//! tmpfs, since mounting inside a fleet container is not permitted, and
//! `<prefix>-fault-sshd`), so they may run in parallel with each other and the rest.

use super::harness::{
    docker_out, docker_sh, fleet, fleet_flags, recap, tempdir, wait_until, OwnHost as Extra, Run,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A work directory on some fleet hosts, emptied at the start of a test.
struct Work {
    dir: String,
    containers: Vec<String>,
}

impl Work {
    fn new(test: &str, hosts: &[&str]) -> Work {
        let containers: Vec<String> = hosts
            .iter()
            .map(|h| fleet().host(h).container.clone())
            .collect();
        Work::on(test, containers)
    }
    /// The work directory on containers of the test's own.
    fn on(test: &str, containers: Vec<String>) -> Work {
        let dir = format!("/tmp/rdfault-{test}");
        for c in &containers {
            docker_out(c, &format!("rm -rf {dir} && mkdir -p {dir}"));
        }
        Work { dir, containers }
    }
    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.dir)
    }
    /// Names of the rdeploy temporary files left anywhere under the work directory or /tmp.
    fn temp_files(&self, container: &str) -> String {
        docker_out(
            container,
            &format!(
                "find {} /tmp -xdev \\( -name '.rdeploy*' -o -name 'rdeploy-*' \\) -print 2>/dev/null | sort -u",
                self.dir
            ),
        )
    }
    /// SHA-256 of a file on a host, or `absent`.
    fn sum(&self, container: &str, rel: &str) -> String {
        docker_out(
            container,
            &format!(
                "f={}; if [ -e \"$f\" ]; then sha256sum < \"$f\" | cut -d' ' -f1; else echo absent; fi",
                self.path(rel)
            ),
        )
    }
    fn exists(&self, container: &str, rel: &str) -> bool {
        docker_sh(container, &format!("test -e {}", self.path(rel)))
            .status
            .success()
    }
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Writes an INI inventory of fleet hosts (user root) into `dir`.
fn inventory(dir: &Path, hosts: &[&str]) -> PathBuf {
    super::harness::write_inventory(dir, hosts, "root")
}

/// rdeploy running in the background, its output going to files (no pipe to fill).
struct Spawned {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Spawned {
    fn start(cwd: &Path, args: &[&str]) -> Spawned {
        let out = cwd.join("rdeploy.out");
        let err = cwd.join("rdeploy.err");
        let child = Command::new(super::harness::rdeploy_bin())
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("start rdeploy");
        Spawned { child, out, err }
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success(), "kill {sig} rdeploy");
    }

    /// Waits for the exit (bounded: killed after `limit`), returns status and output.
    fn wait(mut self, limit: Duration) -> (Option<i32>, Run) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let code = status.and_then(|s| s.code());
        let run = Run {
            code: code.unwrap_or(-1),
            stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
        };
        (status.map(|_| code.unwrap_or(-1)), run)
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

/// `rdeploy run BOOK -i INV` plus the fleet flags and `extra`.
fn run_args(book: &Path, inv: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "run".to_string(),
        book.display().to_string(),
        "-i".to_string(),
        inv.display().to_string(),
    ];
    a.extend(fleet_flags());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Unpauses a container when dropped (also when the test panics).
struct Paused(String);

impl Paused {
    fn pause(container: &str) -> Paused {
        let st = Command::new("docker")
            .args(["pause", container])
            .stdout(Stdio::null())
            .status()
            .expect("docker pause");
        assert!(st.success(), "docker pause {container}");
        Paused(container.to_string())
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["unpause", &self.0])
            .stdout(Stdio::null())
            .status();
    }
}

#[test]
fn a_host_that_stops_answering_mid_task_is_unreachable_and_the_others_finish() {
    // node11/node12: no other test uses them (one is paused here)
    let w = Work::new("drop", &["node11", "node12"]);
    let (c1, c2) = (w.containers[0].clone(), w.containers[1].clone());
    let dir = tempdir();
    let inv = inventory(dir.path(), &["node11", "node12"]);
    let book = dir.path().join("site.yml");
    std::fs::write(
        &book,
        format!(
            "\
- hosts: fleet
  gather_facts: false
  tasks:
    - name: long task
      shell: touch {d}/started; sleep 2; touch {d}/done
    - name: after
      copy:
        content: \"after\\n\"
        dest: {d}/after
",
            d = w.dir
        ),
    )
    .unwrap();
    let retry = dir.path().join("site.retry");
    let args = run_args(&book, &inv, &["--task-timeout", "6"]);
    let run = Spawned::start(dir.path(), &strs(&args));
    assert!(
        wait_until(Duration::from_secs(30), || w.exists(&c1, "started")),
        "the long task never started on node11"
    );
    let paused = Paused::pause(&c1);
    let (code, r) = run.wait(Duration::from_secs(60));
    drop(paused);
    assert_eq!(code, Some(4), "exit 4\n{}\n{}", r.stdout, r.stderr);
    let rc = recap(&r.stdout);
    assert_eq!(rc["node11"][2], 1, "node11 unreachable:\n{}", r.stdout);
    assert_eq!(
        rc["node12"][2] + rc["node12"][3],
        0,
        "node12 fine:\n{}",
        r.stdout
    );
    assert!(r.stdout.contains("UNREACHABLE"), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&retry).unwrap(), "node11\n");
    // On the hosts: node12 ran everything, node11 never got the second task.
    assert!(w.exists(&c2, "done") && w.exists(&c2, "after"));
    assert!(!w.exists(&c1, "after"), "node11 must not run the next task");
}

/// The old version of a managed file, seeded on the hosts before a run.
fn seed(w: &Work, rel: &str, content: &[u8]) {
    let local = tempdir();
    let f = local.path().join("seed");
    std::fs::write(&f, content).unwrap();
    for c in &w.containers {
        let st = Command::new("docker")
            .args([
                "cp",
                &f.display().to_string(),
                &format!("{c}:{}", w.path(rel)),
            ])
            .status()
            .expect("docker cp");
        assert!(st.success(), "seed {rel} on {c}");
    }
}

/// Pseudo-random bytes (not compressible, not all alike), deterministic per seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn sigint_during_a_long_task_exits_130_with_old_or_new_files_and_no_temp_file() {
    let w = Work::new("sigint", &["node3", "node4"]);
    let old_conf = b"v1\n".to_vec();
    let new_conf = b"v2\n".to_vec();
    let old_big = noise(8 << 20, 1);
    let new_big = noise(8 << 20, 2);
    seed(&w, "app.conf", &old_conf);
    seed(&w, "big.bin", &old_big);
    let dir = tempdir();
    std::fs::write(dir.path().join("big.bin"), &new_big).unwrap();
    let inv = inventory(dir.path(), &["node3", "node4"]);
    let book = dir.path().join("site.yml");
    std::fs::write(
        &book,
        format!(
            "\
- hosts: fleet
  gather_facts: false
  tasks:
    - copy: {{content: \"v2\\n\", dest: {d}/app.conf}}
    - copy: {{src: big.bin, dest: {d}/big.bin}}
    - name: long task
      shell: touch {d}/started; sleep 30
    - copy: {{content: \"never\\n\", dest: {d}/never}}
",
            d = w.dir
        ),
    )
    .unwrap();
    let args = run_args(&book, &inv, &[]);
    let mut run = Spawned::start(dir.path(), &strs(&args));
    assert!(
        wait_until(Duration::from_secs(60), || w
            .containers
            .iter()
            .all(|c| w.exists(c, "started"))),
        "the long task never started everywhere"
    );
    assert!(run.running(), "rdeploy still runs the long task");
    let t0 = Instant::now();
    run.signal("-INT");
    let (code, r) = run.wait(Duration::from_secs(20));
    assert_eq!(code, Some(130), "exit 130\n{}\n{}", r.stdout, r.stderr);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "Ctrl-C must not wait for the long task ({:?})",
        t0.elapsed()
    );
    assert!(r.stderr.contains("interrupted"), "{}", r.stderr);
    for c in &w.containers {
        let conf = w.sum(c, "app.conf");
        assert!(
            conf == sha256(&old_conf) || conf == sha256(&new_conf),
            "{c}: app.conf"
        );
        let big = w.sum(c, "big.bin");
        assert!(
            big == sha256(&old_big) || big == sha256(&new_big),
            "{c}: big.bin partial"
        );
        assert!(!w.exists(c, "never"), "{c}: a task after the interrupt ran");
        assert_eq!(w.temp_files(c), "", "{c}: rdeploy temporary files left");
    }
}

#[test]
fn sigkill_during_a_large_copy_leaves_the_old_file_or_nothing() {
    let w = Work::new("sigkill", &["node5"]);
    let c = w.containers[0].clone();
    let old = b"old content\n".to_vec();
    let new = noise(50 << 20, 3);
    let dir = tempdir();
    std::fs::write(dir.path().join("big.bin"), &new).unwrap();
    let inv = inventory(dir.path(), &["node5"]);
    let book = dir.path().join("site.yml");
    std::fs::write(
        &book,
        format!(
            "\
- hosts: fleet
  gather_facts: false
  tasks:
    - copy: {{src: big.bin, dest: {d}/replaced.bin}}
    - copy: {{src: big.bin, dest: {d}/created.bin}}
",
            d = w.dir
        ),
    )
    .unwrap();
    // Kill while the first copy streams (an old file exists), then while the second one
    // does (nothing there before: the first copy is then already up to date).
    for (rel, before) in [("replaced.bin", Some(&old)), ("created.bin", None)] {
        // the bytes stream into the copy's temp file, or (persistent shell) first into
        // the shell's spool of the request's stdin
        let growing = format!(
            "find {} /tmp -maxdepth 2 \\( -name '.rdeploy*' -o -path '/tmp/tmp.*/r.*.i' \\) -size +1024k | grep -q .",
            w.dir
        );
        let args = run_args(&book, &inv, &[]);
        let run = start_caught(dir.path(), &args, &c, &growing, rel, || {
            docker_out(&c, &format!("rm -f {d}/.rdeploy* {d}/*.bin", d = w.dir));
            seed(&w, "replaced.bin", before.unwrap_or(&new));
        });
        kill_and_expect_clean(run, &w, &c);
        let got = w.sum(&c, rel);
        let want_old = before.map_or_else(|| "absent".to_string(), |b| sha256(b));
        assert!(
            got == want_old || got == sha256(&new),
            "{rel} is partial after SIGKILL ({got})"
        );
    }
}

/// The name of a test's own container: `<fleet prefix>-fault-<what>`.
fn extra_name(what: &str) -> String {
    let prefix = std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into());
    format!("{prefix}-fault-{what}")
}

/// Starts rdeploy until it is caught while `growing` (a check on the host) holds, so a
/// signal lands mid-transfer. Catching it is a race with the machine's load: up to five
/// attempts, each after `reset` puts the hosts back in the starting state.
fn start_caught(
    dir: &Path,
    args: &[String],
    container: &str,
    growing: &str,
    what: &str,
    reset: impl Fn(),
) -> Spawned {
    for _ in 0..5 {
        reset();
        let mut run = Spawned::start(dir, &strs(args));
        let caught = wait_until(Duration::from_secs(60), || {
            !run.running() || docker_sh(container, growing).status.success()
        });
        if caught && run.running() {
            return run;
        }
        let _ = run.wait(Duration::from_secs(30));
    }
    panic!("{what} was never caught streaming in five attempts");
}

/// SIGKILLs a caught run, then waits (bounded) until the host has ended the abandoned
/// exchange: no rdeploy temp file and no big persistent-shell spool left (big only:
/// other tests' shells on the host spool small requests).
fn kill_and_expect_clean(run: Spawned, w: &Work, c: &str) {
    run.signal("-KILL");
    let (code, _) = run.wait(Duration::from_secs(10));
    assert_eq!(code, Some(-1), "rdeploy was killed by the signal");
    assert!(
        wait_until(Duration::from_secs(10), || w.temp_files(c).is_empty()),
        "temporary file left: {}",
        w.temp_files(c)
    );
    let spool = "find /tmp -path '/tmp/tmp.*/r.*' -size +1024k 2>/dev/null | wc -l";
    assert!(
        wait_until(Duration::from_secs(10), || docker_out(c, spool) == "0"),
        "the persistent shell's spool was not removed"
    );
}

#[test]
fn a_copy_to_a_full_disk_fails_clearly_and_keeps_the_old_file() {
    let dir = tempdir();
    let host = Extra::start(
        &extra_name("disk"),
        &["--tmpfs", "/mnt/small:size=1m"],
        dir.path(),
    );
    let old = noise(100 << 10, 4);
    let new = noise(2 << 20, 5);
    std::fs::write(dir.path().join("old.bin"), &old).unwrap();
    std::fs::write(dir.path().join("new.bin"), &new).unwrap();
    // `docker cp` writes under the tmpfs mount, not into it: stream the file in.
    let st = Command::new("docker")
        .args([
            "exec",
            "-i",
            &host.name,
            "sh",
            "-c",
            "cat > /mnt/small/app.bin",
        ])
        .stdin(std::fs::File::open(dir.path().join("old.bin")).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let inv = host.inventory(dir.path(), "disk");
    let book = dir.path().join("site.yml");
    std::fs::write(
        &book,
        "\
- hosts: fleet
  gather_facts: false
  tasks:
    - copy: {src: new.bin, dest: /mnt/small/app.bin}
    - copy: {content: \"never\\n\", dest: /tmp/never}
",
    )
    .unwrap();
    let kh = host.known_hosts.display().to_string();
    let r = super::harness::rdeploy(
        dir.path(),
        &[
            "run",
            &book.display().to_string(),
            "-i",
            &inv.display().to_string(),
            "--known-hosts",
            &kh,
        ],
    );
    r.assert_code(2);
    assert!(
        r.stdout.contains("No space left on device") && r.stdout.contains("/mnt/small/app.bin"),
        "a clear message:\n{}",
        r.stdout
    );
    let sum = docker_out(&host.name, "sha256sum < /mnt/small/app.bin | cut -d' ' -f1");
    assert_eq!(sum, sha256(&old), "the old file is intact");
    let left = docker_out(&host.name, "ls -A /mnt/small");
    assert_eq!(left, "app.bin", "no temporary file left");
    assert!(!docker_sh(&host.name, "test -e /tmp/never").status.success());
}

/// PIDs of the sshd processes serving connections (not the listener, PID 1).
fn session_pids(container: &str) -> Vec<String> {
    docker_out(
        container,
        "ps -eo pid=,args= | awk '$1 != 1 && $2 ~ /^sshd:/ {print $1}'",
    )
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

/// Kills the sshd processes serving rdeploy's connection to `container`.
fn kill_sessions(container: &str) {
    let pids = session_pids(container);
    assert!(!pids.is_empty(), "rdeploy's session is served by sshd");
    docker_out(container, &format!("kill {}", pids.join(" ")));
}

/// The JSON result events of a task.
fn results_of(stdout: &str, task: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["event"] == "host_result" && e["task"] == task)
        .collect()
}

#[test]
fn an_sshd_session_killed_between_tasks_reconnects_and_during_a_task_is_unreachable() {
    // A container of its own: engine.rs kills node7 mid-run, and killing sshd sessions
    // must not hit another test's connection.
    let dir = tempdir();
    let host = Extra::start(&extra_name("sshd"), &[], dir.path());
    let w = Work::on("sshd", vec![host.name.clone()]);
    let c = w.containers[0].clone();
    let inv = host.inventory(dir.path(), "sshd");
    let book = dir.path().join("site.yml");
    std::fs::write(
        &book,
        format!(
            "\
- hosts: fleet
  gather_facts: false
  tasks:
    - shell: touch {d}/first
    - pause: {{seconds: 3}}
    - name: second
      shell: touch {d}/second
    - name: third
      shell: touch {d}/third-started; sleep 5; touch {d}/third-done
    - name: fourth
      shell: touch {d}/fourth
",
            d = w.dir
        ),
    )
    .unwrap();
    let kh = host.known_hosts.display().to_string();
    let args = [
        "run".to_string(),
        book.display().to_string(),
        "-i".into(),
        inv.display().to_string(),
        "--known-hosts".into(),
        kh,
        "--output".into(),
        "json".into(),
    ];
    let run = Spawned::start(dir.path(), &strs(&args));
    // Between tasks: the next task opens a new connection and really runs.
    assert!(
        wait_until(Duration::from_secs(30), || w.exists(&c, "first")),
        "the first task never ran"
    );
    kill_sessions(&c);
    // During a task: its outcome is unknown, so the host is unreachable.
    assert!(
        wait_until(Duration::from_secs(30), || w.exists(&c, "third-started")),
        "the third task never started"
    );
    kill_sessions(&c);
    let (code, r) = run.wait(Duration::from_secs(60));
    let second = results_of(&r.stdout, "second");
    assert_eq!(
        second.len(),
        1,
        "one result for the second task:\n{}",
        r.stdout
    );
    assert_eq!(second[0]["status"], "changed", "reconnected:\n{}", r.stdout);
    assert!(w.exists(&c, "second"), "the second task really ran");
    let third = results_of(&r.stdout, "third");
    assert_eq!(
        third.len(),
        1,
        "one result for the third task:\n{}",
        r.stdout
    );
    assert_eq!(third[0]["status"], "unreachable", "never ok:\n{}", r.stdout);
    assert!(
        third[0]["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("connection"),
        "a clear message: {}",
        third[0]
    );
    assert_eq!(code, Some(4), "{}\n{}", r.stdout, r.stderr);
    assert!(results_of(&r.stdout, "fourth").is_empty(), "{}", r.stdout);
    assert!(
        !w.exists(&c, "fourth"),
        "an unreachable host leaves the play"
    );
}

#[test]
fn sigkill_while_a_large_script_streams_never_runs_part_of_it() {
    let w = Work::new("script", &["node6"]);
    let c = w.containers[0].clone();
    let dir = tempdir();
    // The first line marks that the script ran; the last one that it ran whole.
    let mut script = format!("#!/bin/sh\ntouch {}/began\n", w.dir);
    let pad = "# padding padding padding padding padding padding padding padding\n";
    while script.len() < 40 << 20 {
        script.push_str(pad);
    }
    script.push_str(&format!("touch {}/ended\n", w.dir));
    std::fs::write(dir.path().join("big.sh"), &script).unwrap();
    let inv = inventory(dir.path(), &["node6"]);
    let book = dir.path().join("site.yml");
    std::fs::write(
        &book,
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - script: big.sh\n",
    )
    .unwrap();
    // The script streams into its temp file, or (persistent shell) first into the
    // shell's spool of the request's stdin.
    let growing = "find /tmp -maxdepth 2 \\( -name '.rdeploy-script.*' -o -path '/tmp/tmp.*/r.*.i' \\) -size +1024k | grep -q .";
    let args = run_args(&book, &inv, &[]);
    let run = start_caught(dir.path(), &args, &c, growing, "the script", || {
        docker_out(&c, &format!("rm -f {d}/began {d}/ended", d = w.dir));
    });
    kill_and_expect_clean(run, &w, &c);
    // Let a (wrongly) started script finish before looking.
    std::thread::sleep(Duration::from_millis(500));
    let (began, ended) = (w.exists(&c, "began"), w.exists(&c, "ended"));
    assert!(
        !began || ended,
        "a script cut short ran (began without ending)"
    );
}
