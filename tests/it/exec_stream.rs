//! `rdeploy exec GROUP -- CMD` streams each host's output as it arrives, one line at a
//! time prefixed with the host (`node3 | line`); Ctrl-C ends every host's command.

use super::harness::{docker_out, fleet, rdeploy_bin, tempdir, write_inventory};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts `rdeploy exec` on node3 and node4 (strict host keys) and returns the child
/// and its stdout lines with their arrival times (relative to the start).
fn start(
    script: &str,
) -> (
    std::process::Child,
    mpsc::Receiver<(Duration, String)>,
    tempfile::TempDir,
) {
    let f = fleet();
    let dir = tempdir();
    let inv = write_inventory(dir.path(), &["node3", "node4"], "root");
    let mut child = Command::new(rdeploy_bin())
        .args([
            "exec",
            "fleet",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
        ])
        .arg(f.known_hosts())
        .args(["--", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rdeploy exec");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((t0.elapsed(), l)).is_err() {
                break;
            }
        }
    });
    (child, rx, dir)
}

/// Lines until `done` says so or `limit` passes.
fn collect_until(
    rx: &mpsc::Receiver<(Duration, String)>,
    limit: Duration,
    done: impl Fn(&[(Duration, String)]) -> bool,
) -> Vec<(Duration, String)> {
    let end = Instant::now() + limit;
    let mut got = vec![];
    while !done(&got) {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => got.push(l),
            Err(_) => break,
        }
    }
    got
}

#[test]
fn exec_streams_lines_prefixed_per_host_as_they_arrive() {
    // Four lines per host, 0.8 s apart: the command runs about 3 s.
    let (mut child, rx, _dir) =
        start("for i in 1 2 3 4; do echo \"tick $i on $(hostname)\"; sleep 0.8; done");
    let lines = collect_until(&rx, Duration::from_secs(30), |_| false);
    let status = child.wait().unwrap();
    assert!(status.success(), "{lines:#?}");
    let ticks: Vec<&(Duration, String)> = lines
        .iter()
        .filter(|(_, l)| l.contains(" | tick "))
        .collect();
    for host in ["node3", "node4"] {
        let hostname = docker_out(&fleet().host(host).container, "hostname");
        let mine: Vec<&&(Duration, String)> = ticks
            .iter()
            .filter(|(_, l)| l.starts_with(&format!("{host} | ")))
            .collect();
        let texts: Vec<String> = mine.iter().map(|(_, l)| l.clone()).collect();
        let want: Vec<String> = (1..=4)
            .map(|i| format!("{host} | tick {i} on {hostname}"))
            .collect();
        assert_eq!(texts, want, "{lines:#?}");
        // The first line was out well before the last one: streamed, not at the end.
        let spread = mine[3].0 - mine[0].0;
        assert!(
            spread >= Duration::from_millis(1800),
            "lines of {host} arrived together: {lines:#?}"
        );
    }
    // Interleaved: each host's first line comes before the other's last.
    let first = |h: &str| ticks.iter().position(|(_, l)| l.starts_with(h)).unwrap();
    let last = |h: &str| ticks.iter().rposition(|(_, l)| l.starts_with(h)).unwrap();
    assert!(
        first("node3 ") < last("node4 ") && first("node4 ") < last("node3 "),
        "{lines:#?}"
    );
    // The marker rdeploy's command script prints first never shows.
    assert!(!lines.iter().any(|(_, l)| l.contains("RDX:")), "{lines:#?}");
}

#[test]
fn ctrl_c_ends_a_follow_on_every_host() {
    // Like `journalctl -f` with nothing new to say: two lines, then silence. Nothing
    // it writes can fail after rdeploy has gone, so only the watchdog can end it.
    let secs = 3000 + std::process::id() % 997;
    let (mut child, rx, _dir) = start(&format!(
        "echo quiet 1; sleep 0.3; echo quiet 2; exec sleep {secs}"
    ));
    let got = collect_until(&rx, Duration::from_secs(20), |g| {
        ["node3 | quiet 2", "node4 | quiet 2"]
            .iter()
            .all(|h| g.iter().any(|(_, l)| l == h))
    });
    assert!(
        ["node3 | quiet 2", "node4 | quiet 2"]
            .iter()
            .all(|h| got.iter().any(|(_, l)| l == h)),
        "{got:#?}"
    );
    let running =
        |c: &str| docker_out(c, &format!("ps -eo args | grep -cx 'sleep {secs}' || true"));
    for h in ["node3", "node4"] {
        assert_eq!(
            running(&fleet().host(h).container),
            "1",
            "the follow runs on {h}"
        );
    }
    let t = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "rdeploy did not end on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    // The hosts' commands end too (their watchdog sees the channel close).
    let end = Instant::now() + Duration::from_secs(10);
    for h in ["node3", "node4"] {
        let c = &fleet().host(h).container;
        while running(c) != "0" {
            assert!(Instant::now() < end, "the follow still runs on {h}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
