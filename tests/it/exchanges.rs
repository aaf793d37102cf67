//! How many exchanges (requests to the host) a task costs: the speed design's budget,
//! checked without Docker over a connector that runs every request for real with the
//! local transport (`/bin/sh` on the controller, in a temporary directory) and counts it.
//! An unchanged file with the right attributes must cost one exchange; a change, two.

use rdeploy::executor::{Executor, RunOptions};
use rdeploy::output::{Event, Reporter};
use rdeploy::ssh::local::LocalConnection;
use rdeploy::ssh::{ConnectSpec, Connection, Connector, ExecOutput, ExecRequest, TransportError};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Counting {
    n: Arc<AtomicUsize>,
}

struct CountingConn {
    n: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Connector for Counting {
    async fn connect(&self, _spec: &ConnectSpec) -> Result<Arc<dyn Connection>, TransportError> {
        Ok(Arc::new(CountingConn { n: self.n.clone() }))
    }
}

#[async_trait::async_trait]
impl Connection for CountingConn {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, TransportError> {
        self.n.fetch_add(1, Ordering::SeqCst);
        LocalConnection.exec(req).await
    }
}

#[derive(Default)]
struct Changed(Mutex<usize>);

impl Reporter for Changed {
    fn event(&self, ev: &Event) {
        if let Event::HostResult(r) = ev {
            if r.status == rdeploy::output::Status::Changed {
                *self.0.lock().unwrap() += 1;
            }
        }
    }
}

/// Runs the one-task play `task` (YAML, indented for a task list) on one host through
/// the counting connector; returns (exchanges, changed tasks, exit code).
async fn run(dir: &Path, task: &str) -> (usize, usize, i32) {
    std::fs::write(dir.join("hosts.ini"), "[app]\nh1 ansible_host=10.9.9.1\n").unwrap();
    let book = format!("- hosts: app\n  gather_facts: no\n  tasks:\n{task}");
    std::fs::write(dir.join("site.yml"), book).unwrap();
    let inventory = rdeploy::inventory::Inventory::load(&[dir.join("hosts.ini")], Some(dir))
        .await
        .unwrap();
    let registry = rdeploy::modules::registry();
    let loader = rdeploy::playbook::loader::Loader::new(&registry, vec![]);
    let book = loader
        .load_playbook(&dir.join("site.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let c = Counting::default();
    let n = c.n.clone();
    let opts = RunOptions {
        connector: Some(Arc::new(c)),
        ..Default::default()
    };
    let changed = Arc::new(Changed::default());
    let ex = Executor::new(inventory, opts, changed.clone());
    let summary = ex.run_playbook(&book).await.unwrap();
    let c = *changed.0.lock().unwrap();
    (n.load(Ordering::SeqCst), c, summary.exit_code)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_edited_file_costs_one_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("env.conf");
    std::fs::write(&f, "workers = 2\nother = 1\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let task = format!(
        "    - lineinfile:\n        path: {}\n        regexp: '^workers ='\n        line: workers = 4\n        mode: '0640'\n",
        f.display()
    );
    // A change: read, then write (content and mode).
    let (n, changed, code) = run(dir.path(), &task).await;
    assert_eq!((code, changed), (0, 1));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "workers = 4\nother = 1\n"
    );
    assert_eq!(mode(&f), 0o640);
    assert_eq!(n, 2, "a changed file: one read, one write");
    // Nothing to do: the read compares the attributes too, and that is all.
    let (n, changed, code) = run(dir.path(), &task).await;
    assert_eq!(
        (code, changed, n),
        (0, 0, 1),
        "rerun: one exchange, no change"
    );
    // Only the mode differs: the read finds it, the second exchange mends it.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (n, changed, code) = run(dir.path(), &task).await;
    assert_eq!((code, changed, n), (0, 1, 2));
    assert_eq!(mode(&f), 0o640);
    // A symbolic mode can't be compared by the read: left to the write exchange, which
    // finds nothing to change.
    let sym = task.replace("'0640'", "'u=rw,g=r,o='");
    let (n, changed, code) = run(dir.path(), &sym).await;
    assert_eq!((code, changed, n), (0, 0, 2));
    assert_eq!(mode(&f), 0o640);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_file_cost_one_exchange_each() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.conf");
    let d = dir.path().join("data");
    let task = format!(
        "    - copy:\n        dest: {}\n        content: \"port = 8080\\n\"\n        mode: '0644'\n    - file:\n        path: {}\n        state: directory\n        mode: '0750'\n",
        f.display(),
        d.display()
    );
    for round in 0..2 {
        let (n, changed, code) = run(dir.path(), &task).await;
        assert_eq!(code, 0);
        assert_eq!(n, 2, "round {round}: one exchange per task");
        assert_eq!(changed, if round == 0 { 2 } else { 0 });
    }
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "port = 8080\n");
    assert_eq!(mode(&d), 0o750);
}
