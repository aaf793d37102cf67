//! The persistent shell (src/ssh/persistent.rs) against real OpenSSH hosts: exact
//! framing over many requests, binary stdin, stdout/stderr kept apart, requests that
//! try to break the shell (exit, exec, cd, variables, stdin to EOF, background
//! processes, fake frames), timeouts, become with and without a password, and the
//! fallbacks to one channel per request (dead shell, no tools, MaxSessions).

use crate::harness::docker_sh;
use crate::ssh::{
    connect_ok, host, noise, own_container_with, req, req_stdin, spec, spec_channels, OwnContainer,
};
use rdeploy::ssh::{
    Become, BecomeMethod, ConnectSpec, Connection, ExecRequest, ScriptKind, TransportError,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn run(c: &Arc<dyn Connection>, script: &str) -> (i32, String, String) {
    let out = c.exec(req(script)).await.unwrap();
    (out.rc, out.stdout_str(), out.stderr_str())
}

/// `PID NAME` of the process that runs requests: the shell's driver (`sh`) when
/// persistent, sshd (the same for every channel of a connection) otherwise.
async fn runner(c: &Arc<dyn Connection>) -> String {
    run(c, "echo $PPID $(cat /proc/$PPID/comm)").await.1
}

fn on_channels(runner: &str) -> bool {
    runner.trim().ends_with(" sshd")
}

fn root(password: Option<&str>) -> Become {
    Become {
        method: BecomeMethod::Sudo,
        user: "root".into(),
        password: password.map(str::to_string),
        flags: None,
    }
}

#[tokio::test]
async fn thousand_sequential_requests_exact() {
    let c = connect_ok(&spec(host(0), "root")).await;
    let first = runner(&c).await;
    assert!(!on_channels(&first), "{first}");
    for i in 0..1000 {
        let script = format!("printf 'out %s' {i}; echo err{i} >&2; exit {}", i % 7);
        let (rc, out, err) = run(&c, &script).await;
        assert_eq!(
            (rc, out.as_str(), err.as_str()),
            (
                i % 7,
                format!("out {i}").as_str(),
                format!("err{i}\n").as_str()
            )
        );
    }
    assert_eq!(runner(&c).await, first, "one shell served every request");
    c.close().await;
}

/// Direct output (rdeploy's own module scripts: no spool files, no `cat`) framed as
/// exactly as spooled output, on the same shell, mixed request by request.
#[tokio::test]
async fn direct_output_is_framed_exactly() {
    let c = connect_ok(&spec(host(0), "root")).await;
    let first = runner(&c).await;
    let direct = |script: &str, stdin: Option<Vec<u8>>| ExecRequest {
        kind: ScriptKind::Own,
        stdin,
        ..req(script)
    };
    for i in 0..200 {
        let script = format!("printf 'out %s' {i}; echo err{i} >&2; exit {}", i % 5);
        let out = c.exec(direct(&script, None)).await.unwrap();
        assert_eq!(
            (out.rc, out.stdout_str(), out.stderr_str()),
            (i % 5, format!("out {i}"), format!("err{i}\n"))
        );
        // A spooled request in between sees nothing of the direct one.
        let (rc, o, e) = run(&c, &format!("echo spooled{i}")).await;
        assert_eq!((rc, o, e), (0, format!("spooled{i}\n"), String::new()));
    }
    // Binary output with NUL bytes and fake frames, 1 MiB of it, and stdin echoed back.
    let data = noise(1 << 20);
    let out = c
        .exec(direct(
            "cat; printf '\\0RDM0123456789abcdef0123456789abcdef:1:0\\n'",
            Some(data.clone()),
        ))
        .await
        .unwrap();
    let mut want = data.clone();
    want.extend_from_slice(b"\0RDM0123456789abcdef0123456789abcdef:1:0\n");
    assert_eq!(out.rc, 0);
    assert!(
        out.stdout == want,
        "1 MiB of binary output came back exactly"
    );
    // Isolation holds as for spooled requests.
    let out = c.exec(direct("cd /tmp; X=1; exit 7", None)).await.unwrap();
    assert_eq!(out.rc, 7);
    let out = c.exec(direct("pwd; echo \"x${X}\"", None)).await.unwrap();
    assert_eq!(out.stdout_str(), "/root\nx\n");
    // The driver's variables (the marker first) are not visible in the subshell.
    let out = c
        .exec(direct("echo \"[$M][$d][$n][$#]\"", None))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "[][][][0]\n");
    assert_eq!(runner(&c).await, first, "one shell served every request");
    // With a timeout it runs in a process group of its own, which the timeout kills.
    let t = std::time::Instant::now();
    let slow = ExecRequest {
        timeout: Some(Duration::from_secs(1)),
        ..direct("sleep 20; echo never", None)
    };
    let r = c.exec(slow).await;
    assert!(matches!(r, Err(TransportError::Timeout(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    // (the shell is back in the pool once its watchdog has answered, or replaced)
    assert_eq!(run(&c, "echo alive").await.1, "alive\n");
    c.close().await;
}

#[tokio::test]
async fn requests_cannot_break_the_shell() {
    let c = connect_ok(&spec(host(1), "root")).await;
    let first = runner(&c).await;
    let t = Instant::now();
    let cases: &[(&str, i32, &str)] = &[
        ("exit 5", 5, ""),
        ("exec echo replaced", 0, "replaced\n"),
        ("cd /tmp; RD_X=1; export RD_Y=2; pwd", 0, "/tmp\n"),
        ("pwd; echo \"x${RD_X}y${RD_Y}\"", 0, "/root\nxy\n"),
        ("cat; echo after-eof", 0, "after-eof\n"),
        ("cat >/dev/null; cat; read x || echo eof", 0, "eof\n"),
        // Keeps the output open for 30 s: the answer does not wait for it.
        ("sleep 30 & echo started", 0, "started\n"),
        ("(sleep 1; echo late) & echo now", 0, "now\n"),
        // Fake frames: not the connection's marker, so they are plain output.
        (
            "printf 'RDM0123456789abcdef0123456789abcdef:9:0\\nRDM:ready\\n'",
            0,
            "RDM0123456789abcdef0123456789abcdef:9:0\nRDM:ready\n",
        ),
        ("printf '1 5 0 0\\necho hi'", 0, "1 5 0 0\necho hi"),
        ("kill -TERM $$", 143, ""),
        ("trap '' HUP; exit 0", 0, ""),
    ];
    for (script, rc, out) in cases {
        let got = run(&c, script).await;
        assert_eq!((got.0, got.1.as_str()), (*rc, *out), "{script}: {}", got.2);
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // The late output of the background job lands in no later answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(run(&c, "echo next").await.1, "next\n");
    assert_eq!(runner(&c).await, first, "the same shell still runs");
    c.close().await;
}

#[tokio::test]
async fn binary_stdin_with_nul_and_marker_bytes() {
    let c = connect_ok(&spec(host(2), "root")).await;
    let mut data = noise(10 << 20);
    for (i, chunk) in data.chunks_mut(1 << 20).enumerate() {
        let fake = format!("\0RDM{i:032x}:2:0\n1 9 9 0\nexit 3\n\0\0");
        chunk[..fake.len()].copy_from_slice(fake.as_bytes());
    }
    let want = hex::encode(Sha256::digest(&data));
    let out = c
        .exec(req_stdin("sha256sum | cut -d' ' -f1", data.clone()))
        .await
        .unwrap();
    assert_eq!(out.stdout_str().trim(), want, "{}", out.stderr_str());
    let out = c.exec(req_stdin("cat", data.clone())).await.unwrap();
    assert!(out.stdout == data, "echoed back exactly");
    // A request that reads only part of its stdin leaves nothing for the next one.
    let out = c
        .exec(req_stdin("head -c 10 >/dev/null; echo part", data.clone()))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "part\n");
    assert_eq!(run(&c, "cat; echo empty").await.1, "empty\n");
    // Over 16 MiB the request streams on a channel of its own (no spool in /tmp), exact
    // too, and the persistent shell is still there for the next request.
    let big = noise(20 << 20);
    let out = c
        .exec(req_stdin(
            "echo $(cat /proc/$PPID/comm); sha256sum | cut -d' ' -f1",
            big.clone(),
        ))
        .await
        .unwrap();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "sshd", "own channel: {:?}", lines);
    assert_eq!(lines[1], hex::encode(Sha256::digest(&big)));
    assert!(
        !on_channels(&runner(&c).await),
        "the shell serves the next request"
    );
    c.close().await;
}

#[tokio::test]
async fn stdout_and_stderr_interleaved_stay_apart() {
    let c = connect_ok(&spec(host(3), "root")).await;
    let script = "i=0; while [ $i -lt 500 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done";
    let (rc, out, err) = run(&c, script).await;
    let want = |p: &str| (0..500).map(|i| format!("{p}{i}\n")).collect::<String>();
    assert_eq!(rc, 0);
    assert_eq!(out, want("o"));
    assert_eq!(err, want("e"));
    c.close().await;
}

#[tokio::test]
async fn timeout_kills_the_group_while_others_go_on() {
    let h = host(4);
    let c = connect_ok(&spec(h, "root")).await;
    let first = runner(&c).await;
    let slow = c.exec(ExecRequest {
        timeout: Some(Duration::from_millis(500)),
        ..req("sh -c 'sleep 47' & sleep 48")
    });
    let others = async {
        let mut outs = vec![];
        for i in 0..20 {
            outs.push(run(&c, &format!("echo {i}")).await.1);
        }
        outs
    };
    let t = Instant::now();
    let (slow, outs) = tokio::join!(slow, others);
    assert!(matches!(slow, Err(TransportError::Timeout(_))), "{slow:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(outs, (0..20).map(|i| format!("{i}\n")).collect::<Vec<_>>());
    // The whole process group is gone, and the shells are still used.
    let mut gone = false;
    for _ in 0..30 {
        let ps = docker_sh(&h.container, "pgrep -f 'sleep 4[78]' || true");
        if String::from_utf8_lossy(&ps.stdout).trim().is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the timed-out request still runs");
    // The shell that ran the timed-out request survived it.
    let pid = first.split_whitespace().next().unwrap();
    let alive = docker_sh(&h.container, &format!("kill -0 {pid}"));
    assert!(alive.status.success(), "shell {first} is gone");
    assert_eq!(run(&c, "echo after").await.1, "after\n");
    c.close().await;
}

#[tokio::test]
async fn become_through_one_shell_without_password() {
    let c = connect_ok(&spec(host(5), "deploy")).await;
    let r = |script: &str| ExecRequest {
        become_: Some(root(None)),
        ..req(script)
    };
    let out = c
        .exec(r("id -un; echo \"$HOME\"; echo $PPID"))
        .await
        .unwrap();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..2], &["root", "/root"], "{}", out.stderr_str());
    for _ in 0..20 {
        let again = c.exec(r("echo $PPID")).await.unwrap().stdout_str();
        assert_eq!(
            again.trim(),
            lines[2],
            "one sudo shell serves every request"
        );
    }
    // The login user's own shell is another one.
    assert_eq!(run(&c, "id -un").await.1, "deploy\n");
    c.close().await;
}

#[tokio::test]
async fn become_with_password_sent_once_and_never_shown() {
    let h = host(5); // not node7: engine.rs kills that container mid-run
    let c = connect_ok(&spec(h, "deploypw")).await;
    let secret = "deploypw-secret";
    let r = |script: &str, stdin: &[u8]| ExecRequest {
        become_: Some(root(Some(secret))),
        stdin: Some(stdin.to_vec()),
        ..req(script)
    };
    let out = c.exec(r("id -un; cat", b"data\n")).await.unwrap();
    assert_eq!(
        (out.rc, out.stdout_str().as_str()),
        (0, "root\ndata\n"),
        "{}",
        out.stderr_str()
    );
    let ppid = c.exec(r("echo $PPID", b"")).await.unwrap().stdout_str();
    // While the sudo shell runs: the password is on no command line of the host.
    let ps = docker_sh(&h.container, "ps -eo args; cat /proc/[0-9]*/cmdline");
    let ps = String::from_utf8_lossy(&ps.stdout).to_string();
    assert!(ps.contains("sudo"), "{ps}");
    assert!(!ps.contains(secret), "{ps}");
    for i in 0..20 {
        let out = c.exec(r("echo $PPID; env; set", b"x")).await.unwrap();
        assert!(
            out.stdout_str().starts_with(&ppid),
            "request {i}: {}",
            out.stdout_str()
        );
        assert!(!out.stdout_str().contains(secret) && !out.stderr_str().contains(secret));
    }
    // A wrong password: no shell (sudo refuses); each request fails on its own channel.
    let c2 = connect_ok(&spec(h, "deploypw")).await;
    let t = Instant::now();
    let out = c2
        .exec(ExecRequest {
            become_: Some(root(Some("wrong"))),
            ..req("id -un")
        })
        .await
        .unwrap();
    assert_ne!(out.rc, 0);
    assert!(!out.stdout_str().contains("root"));
    assert!(t.elapsed() < Duration::from_secs(30));
    c.close().await;
    c2.close().await;
}

#[tokio::test]
async fn dead_shell_falls_back_to_channels() {
    let c = connect_ok(&spec(host(7), "root")).await;
    let first = runner(&c).await;
    assert_eq!(runner(&c).await, first);
    let out = c.exec(req("kill -9 $PPID; sleep 1")).await.unwrap();
    assert_eq!(out.rc, -1);
    assert!(
        out.stderr_str().contains("persistent shell"),
        "{}",
        out.stderr_str()
    );
    // From now on one channel per request.
    assert!(!on_channels(&first), "{first}");
    let a = runner(&c).await;
    assert!(on_channels(&a), "{a}");
    assert_eq!(run(&c, "echo ok").await.1, "ok\n");
    c.close().await;
}

fn own_spec(own: &OwnContainer, dir: &std::path::Path) -> ConnectSpec {
    let mut s = spec(host(0), "root");
    s.name = own.name.clone();
    s.port = own.port;
    s.known_hosts = vec![dir.join("known_hosts")];
    s.host_key_policy = rdeploy::ssh::HostKeyPolicy::AcceptNew;
    s
}

/// Our own container accepts the fleet key for root.
fn authorize(own: &OwnContainer) {
    let key = std::fs::read_to_string(crate::harness::fleet().key().with_extension("pub"))
        .expect("fleet public key");
    let out = docker_sh(
        &own.name,
        &format!(
            "mkdir -p /root/.ssh && printf '%s\\n' {} >> /root/.ssh/authorized_keys",
            rdeploy::shell::quote(key.trim())
        ),
    );
    assert!(out.status.success());
}

#[tokio::test]
async fn no_tools_or_one_session_still_work() {
    let dir = tempfile::tempdir().unwrap();
    // No setsid on the host: no persistent shell, one channel per request.
    let own = own_container_with("nosetsid", "rm -f /usr/bin/setsid").await;
    authorize(&own);
    let c = connect_ok(&own_spec(&own, dir.path())).await;
    let a = runner(&c).await;
    assert!(on_channels(&a), "{a}");
    assert_eq!(run(&c, "echo fine").await.1, "fine\n");
    c.close().await;

    // MaxSessions 1: the one shell serves every request, concurrent ones wait.
    let own = own_container_with(
        "onesession",
        "echo 'MaxSessions 1' > /etc/ssh/sshd_config.d/00-one.conf",
    )
    .await;
    authorize(&own);
    let c = connect_ok(&own_spec(&own, dir.path())).await;
    let jobs: Vec<_> = (0..6)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { run(&c, &format!("sleep 0.2; echo {i}")).await })
        })
        .collect();
    for (i, j) in jobs.into_iter().enumerate() {
        assert_eq!(j.await.unwrap().1, format!("{i}\n"));
    }
    let a = runner(&c).await;
    assert!(!on_channels(&a), "{a}");
    c.close().await;
}

#[tokio::test]
async fn opt_out_uses_one_channel_per_request() {
    let c = connect_ok(&spec_channels(host(0), "root")).await;
    let a = runner(&c).await;
    assert!(on_channels(&a), "{a}");
    c.close().await;
}

#[tokio::test]
async fn inline_and_spooled_stdin_are_exact() {
    let c = connect_ok(&spec(host(3), "root")).await;
    // Every byte but NUL, shell syntax included: travels inside the request's command
    // line (single-quoted), read back exactly.
    let mut text: Vec<u8> = (1u8..=255).collect();
    text.extend_from_slice(b"'\\''\"$(exit 9)`exit 8`${x?}\r\n'\nRDM:1:0\nrd_r 9 0 - 'exit 7'\n");
    for stdin in [
        text.clone(),
        b"no newline at the end".to_vec(),
        b"\n\n".to_vec(),
        vec![b'\''; 1000],
        // The largest inline stdin, and one byte more (sent after the driver's go line).
        noise(256 << 10).into_iter().map(|b| b.max(1)).collect(),
        noise((256 << 10) + 1)
            .into_iter()
            .map(|b| b.max(1))
            .collect(),
    ] {
        let out = c
            .exec(req_stdin("cat; echo \"rc=$?\" >&2", stdin.clone()))
            .await
            .unwrap();
        assert_eq!(out.rc, 0);
        assert!(out.stdout == stdin, "{} bytes echoed exactly", stdin.len());
        assert_eq!(out.stderr_str(), "rc=0\n");
    }
    // A request that reads only part of its inline stdin leaves nothing behind.
    let out = c
        .exec(req_stdin(
            "read -r a; echo \"$a\"",
            b"line1\nline2\n".to_vec(),
        ))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "line1\n");
    assert_eq!(run(&c, "cat; echo none").await.1, "none\n");
    c.close().await;
}

#[tokio::test]
async fn scripts_of_any_text_and_size_run_as_sent() {
    let c = connect_ok(&spec(host(3), "root")).await;
    let first = runner(&c).await;
    let cases: &[(&str, &str)] = &[
        ("echo ''; echo \"'\"; echo '\\'", "\n'\n\\\n"),
        (
            "cat <<'EOF'\nrd_r 1 0 - 'exit 3'\nEOF\n",
            "rd_r 1 0 - 'exit 3'\n",
        ),
        ("# unbalanced ' \" ` in a comment\necho fine", "fine\n"),
        ("printf '%s\\n' \"$0\" | grep -c '^/'", "1\n"),
    ];
    for (script, want) in cases {
        assert_eq!(run(&c, script).await.1, *want, "{script}");
    }
    // A syntax error fails the request, not the shell.
    let (rc, _, err) = run(&c, "if then fi (").await;
    assert_ne!(rc, 0);
    assert!(!err.is_empty());
    // Bigger than one exec argument may be (128 KiB): the driver writes it with a builtin.
    let big = format!("x='{}'\necho ${{#x}}", "y".repeat(300 << 10));
    assert_eq!(run(&c, &big).await.1, format!("{}\n", 300 << 10));
    assert_eq!(runner(&c).await, first, "the same shell ran everything");
    c.close().await;
}

#[tokio::test]
async fn kill_0_and_signals_stay_in_the_request() {
    let c = connect_ok(&spec(host(3), "root")).await;
    let first = runner(&c).await;
    // `kill 0` signals the request's process group only: it has one of its own.
    let (rc, out, _) = run(
        &c,
        "sleep 20 & echo started; kill 0; sleep 5; echo survived",
    )
    .await;
    assert_eq!((rc, out.as_str()), (143, "started\n"));
    // The common cleanup idiom: kill the script's own jobs when it exits.
    let (rc, out, _) = run(&c, "trap 'kill 0' EXIT; sleep 20 & echo bye").await;
    assert_eq!(out, "bye\n");
    assert_eq!(rc, 143);
    assert_eq!(runner(&c).await, first, "the driver was not signalled");
    assert_eq!(run(&c, "echo after").await.1, "after\n");
    c.close().await;
}
