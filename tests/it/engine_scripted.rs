//! Engine tests over a scripted `Connection` (no Docker, no sshd): the run is given a
//! `Connector` whose connections record every script with the host it was sent to and
//! answer it (exit 0, or a scripted failure), and which refuses the hosts a test makes
//! unreachable. So a test sees which host ran what, in which order.

use rdeploy::executor::{Executor, RunOptions};
use rdeploy::output::{Event, Reporter, Status};
use rdeploy::ssh::{ConnectSpec, Connection, Connector, ExecOutput, ExecRequest, TransportError};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<(String, String)>>>;

#[derive(Debug, Default)]
struct Scripted {
    log: Log,
    unreachable: HashSet<String>,
    /// A script containing this text exits 1.
    fail_on: Option<String>,
}

struct ScriptedConn {
    host: String,
    log: Log,
    fail_on: Option<String>,
}

#[async_trait::async_trait]
impl Connector for Scripted {
    async fn connect(&self, spec: &ConnectSpec) -> Result<Arc<dyn Connection>, TransportError> {
        if self.unreachable.contains(&spec.name) {
            return Err(TransportError::Connect {
                addr: spec.address.clone(),
                msg: "scripted: refused".into(),
            });
        }
        Ok(Arc::new(ScriptedConn {
            host: spec.name.clone(),
            log: self.log.clone(),
            fail_on: self.fail_on.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl Connection for ScriptedConn {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, TransportError> {
        self.log
            .lock()
            .unwrap()
            .push((self.host.clone(), req.script.clone()));
        let fail = self
            .fail_on
            .as_deref()
            .is_some_and(|f| req.script.contains(f));
        Ok(ExecOutput {
            rc: if fail { 1 } else { 0 },
            stdout: b"scripted\n".to_vec(),
            stderr: vec![],
        })
    }
}

#[derive(Default)]
struct Collect(Mutex<Vec<Event>>);

impl Reporter for Collect {
    fn event(&self, ev: &Event) {
        self.0.lock().unwrap().push(ev.clone());
    }
}

/// Runs `book` on hosts h1..hN (plain SSH hosts as far as the inventory says) over the
/// scripted connector; returns the scripts each host was sent, in order, and the events.
async fn run(book: &str, n: usize, c: Scripted) -> (Vec<(String, String)>, Vec<Event>, i32) {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("[app]\n");
    for i in 1..=n {
        inv.push_str(&format!("h{i} ansible_host=10.9.9.{i}\n"));
    }
    std::fs::write(dir.path().join("hosts.ini"), inv).unwrap();
    std::fs::write(dir.path().join("site.yml"), book).unwrap();
    let inventory =
        rdeploy::inventory::Inventory::load(&[dir.path().join("hosts.ini")], Some(dir.path()))
            .await
            .unwrap();
    let registry = rdeploy::modules::registry();
    let loader = rdeploy::playbook::loader::Loader::new(&registry, vec![]);
    let book = loader
        .load_playbook(&dir.path().join("site.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let log = c.log.clone();
    let opts = RunOptions {
        forks: 10,
        connector: Some(Arc::new(c)),
        ..Default::default()
    };
    let collect = Arc::new(Collect::default());
    let ex = Executor::new(inventory, opts, collect.clone());
    let summary = ex.run_playbook(&book).await.unwrap();
    let events = collect.0.lock().unwrap().clone();
    let sent = log.lock().unwrap().clone();
    (sent, events, summary.exit_code)
}

fn ran<'a>(sent: &'a [(String, String)], what: &str) -> Vec<&'a str> {
    sent.iter()
        .filter(|(_, s)| s.contains(what))
        .map(|(h, _)| h.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_and_delegate_to_send_the_script_to_the_right_host() {
    let book = "- hosts: app\n  gather_facts: no\n  tasks:\n    - raw: echo ONCE\n      run_once: true\n    - raw: echo DELEGATED-{{ inventory_hostname }}\n      delegate_to: h3\n      when: inventory_hostname == 'h1'\n    - raw: echo EVERYONE\n";
    let (sent, _, code) = run(book, 3, Scripted::default()).await;
    assert_eq!(code, 0);
    assert_eq!(ran(&sent, "ONCE"), ["h1"], "run_once: the first host only");
    // h1's task ran on h3's connection, with h1's variables
    assert_eq!(ran(&sent, "DELEGATED-h1"), ["h3"]);
    let mut all = ran(&sent, "EVERYONE");
    all.sort();
    assert_eq!(all, ["h1", "h2", "h3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_leaves_the_play_and_the_others_finish() {
    let c = Scripted {
        unreachable: ["h2".to_string()].into(),
        ..Default::default()
    };
    let book = "- hosts: app\n  gather_facts: no\n  tasks:\n    - raw: echo FIRST\n    - raw: echo SECOND\n";
    let (sent, events, code) = run(book, 3, c).await;
    assert_eq!(code, 4, "some host was unreachable");
    assert_eq!(ran(&sent, "SECOND").len(), 2);
    assert!(!ran(&sent, "SECOND").contains(&"h2"));
    let unreachable: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult(r) if r.status == Status::Unreachable => Some(r.host.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(unreachable, ["h2"], "reported once, on the first task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_batches_reach_the_hosts_in_order_and_a_failure_stops_its_host_only() {
    let c = Scripted {
        fail_on: Some("BREAK-h2".into()),
        ..Default::default()
    };
    let book = "- hosts: app\n  gather_facts: no\n  serial: 2\n  tasks:\n    - raw: echo A-{{ inventory_hostname }}; echo BREAK-{{ inventory_hostname }}\n    - raw: echo B-{{ inventory_hostname }}\n";
    let (sent, _, code) = run(book, 4, c).await;
    assert_eq!(code, 2, "a task failed on some host");
    let order: Vec<String> = sent
        .iter()
        .filter_map(|(h, s)| s.split_whitespace().nth(1).map(|w| format!("{h}:{w}")))
        .collect();
    let pos = |s: &str| order.iter().position(|o| o.starts_with(s));
    // the second batch (h3, h4) starts only after the first batch's last task
    assert!(
        pos("h1:B-h1").unwrap() < pos("h3:A-h3;").unwrap(),
        "{order:?}"
    );
    // h2 failed its first task: no second task for it, the others go on
    assert_eq!(pos("h2:B-h2"), None, "{order:?}");
    assert!(pos("h4:B-h4").is_some(), "{order:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_keeps_the_secret_out_of_every_event_but_sends_it_to_the_host() {
    let book = "- hosts: app\n  gather_facts: no\n  vars: {token: tok-SECRET-4477}\n  tasks:\n    - raw: echo {{ token }}\n      no_log: true\n";
    let (sent, events, code) = run(book, 1, Scripted::default()).await;
    assert_eq!(code, 0);
    assert_eq!(ran(&sent, "tok-SECRET-4477"), ["h1"], "the host got it");
    for e in &events {
        let text = format!("{e:?}");
        assert!(!text.contains("tok-SECRET-4477"), "leaked in {text}");
    }
}
