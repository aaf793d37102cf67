//! Per-host runtime state: the connection (opened once, reused), facts and registered
//! variables, counters for the recap, and notified handlers.

use crate::output::HostStats;
use crate::ssh::Connection;
use indexmap::IndexMap;
use minijinja::Value;
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Variables a host gains while running.
#[derive(Default)]
pub struct HostDyn {
    pub facts: IndexMap<String, Value>,
    /// set_fact and register (precedence 19).
    pub set_facts: IndexMap<String, Value>,
    /// include_vars (precedence 18).
    pub include_vars: IndexMap<String, Value>,
    /// The last task that failed on this host and its result (`ansible_failed_task`,
    /// `ansible_failed_result` inside a `rescue` section).
    pub last_failure: Option<(Value, Value)>,
    /// This play's `vars_files` entries that needed host variables, loaded for this host.
    pub play_vars_files: IndexMap<String, Value>,
    /// Variables of the `rescue` section the host is in.
    pub rescue_vars: IndexMap<String, Value>,
}

/// What one task result adds to a host's variables, by where each goes in the
/// precedence chain.
#[derive(Default, Clone, Debug)]
pub struct Learned {
    /// Host facts (`ansible_facts`: setup, `set_fact` with `cacheable`).
    pub facts: IndexMap<String, Value>,
    /// `set_fact` variables (precedence 19).
    pub vars: IndexMap<String, Value>,
    /// `include_vars` variables (precedence 18).
    pub included: IndexMap<String, Value>,
}

impl Learned {
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.vars.is_empty() && self.included.is_empty()
    }
    /// Later results win, key by key.
    pub fn extend(&mut self, other: &Learned) {
        self.facts
            .extend(other.facts.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.vars
            .extend(other.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.included
            .extend(other.included.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

impl HostDyn {
    /// Takes in what a task learned.
    pub fn learn(&mut self, l: &Learned) {
        self.facts
            .extend(l.facts.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.set_facts
            .extend(l.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.include_vars
            .extend(l.included.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

#[derive(Default)]
pub struct HostSt {
    pub stats: HostStats,
    /// Appeared in a play of this run (shown in the recap).
    pub touched: bool,
    pub unreachable: bool,
    /// Failed in the current play (leaves the play).
    pub failed_in_play: bool,
    /// `stats.failed` when `meta: clear_host_errors` last ran: failures up to then
    /// stay in the recap but no longer decide the exit status (as in ansible-core).
    pub failed_cleared: u32,
    /// Running an `always` section after a failure.
    pub in_always: bool,
    /// meta: end_host.
    pub ended: bool,
    pub notified: HashSet<String>,
    pub handlers_run: HashSet<usize>,
}

pub struct HostRt {
    pub name: String,
    pub conn: tokio::sync::Mutex<Option<Arc<dyn Connection>>>,
    pub dynv: RwLock<HostDyn>,
    pub st: Mutex<HostSt>,
}

impl HostRt {
    pub fn new(name: &str) -> Self {
        HostRt {
            name: name.to_string(),
            conn: tokio::sync::Mutex::new(None),
            dynv: RwLock::new(HostDyn::default()),
            st: Mutex::new(HostSt::default()),
        }
    }

    /// Still running tasks in this play.
    pub fn is_active(&self) -> bool {
        let st = self.st.lock();
        !st.unreachable && !st.ended && (!st.failed_in_play || st.in_always)
    }

    pub fn clear_failure_for_rescue(&self) {
        let mut st = self.st.lock();
        st.failed_in_play = false;
    }

    /// Entering a `rescue`: the failed task and its result become variables.
    pub fn enter_rescue(&self) {
        self.clear_failure_for_rescue();
        let mut d = self.dynv.write();
        if let Some((task, result)) = d.last_failure.clone() {
            d.rescue_vars.insert("ansible_failed_task".into(), task);
            d.rescue_vars.insert("ansible_failed_result".into(), result);
        }
    }

    pub fn leave_rescue(&self) {
        self.dynv.write().rescue_vars.clear();
    }

    /// The block's failure was rescued: counted as rescued, and the failures of the
    /// block no longer count (as in ansible-core).
    pub fn rescued(&self, failed_before: u32) {
        let mut st = self.st.lock();
        st.stats.rescued += 1;
        st.stats.failed = failed_before;
    }

    /// Failures counted so far.
    pub fn failed_count(&self) -> u32 {
        self.st.lock().stats.failed
    }

    pub fn is_unreachable(&self) -> bool {
        self.st.lock().unreachable
    }

    pub fn failed_in_play(&self) -> bool {
        self.st.lock().failed_in_play
    }

    /// Failed or unreachable in the current play.
    pub fn failed_or_unreachable(&self) -> bool {
        let st = self.st.lock();
        st.failed_in_play || st.unreachable
    }

    /// A play starts for this host: it shows in the recap, `end_host` and the
    /// notifications of an earlier play are forgotten.
    pub fn start_play(&self) {
        let mut st = self.st.lock();
        st.touched = true;
        st.ended = false;
        st.notified.clear();
    }

    /// The vars files of the play that name host variables, loaded for this host.
    pub fn set_play_vars_files(&self, vars: IndexMap<String, Value>) {
        self.dynv.write().play_vars_files = vars;
    }

    /// Whether handler number `i` (listening to `names`) runs on this host at a flush:
    /// notified, reachable, and not failed unless `force` (force_handlers). A notified
    /// handler is marked as run either way.
    pub fn takes_handler(&self, i: usize, names: &[String], force: bool) -> bool {
        let mut st = self.st.lock();
        let hit = names.iter().any(|n| st.notified.contains(n));
        if hit {
            st.handlers_run.insert(i);
        }
        hit && !st.unreachable && (force || !st.failed_in_play)
    }

    /// After a flush: no handler is pending any more.
    pub fn clear_notified(&self) {
        let mut st = self.st.lock();
        st.notified.clear();
        st.handlers_run.clear();
    }

    /// Running an `always` section after a failure (the host takes part again).
    pub fn set_in_always(&self, on: bool) {
        self.st.lock().in_always = on;
    }

    /// `meta: end_host`.
    pub fn end_host(&self) {
        self.st.lock().ended = true;
    }

    /// `meta: clear_host_errors`: failures up to now stay in the recap but no longer
    /// decide the exit status.
    pub fn clear_errors(&self) {
        self.clear_failure_for_rescue();
        let mut st = self.st.lock();
        st.failed_cleared = st.stats.failed;
    }

    /// `meta: clear_facts`.
    pub fn clear_facts(&self) {
        self.dynv.write().facts.clear();
    }

    /// Takes in what a task learned.
    pub fn learn(&self, l: &Learned) {
        self.dynv.write().learn(l);
    }

    /// Counts a result that is neither changed nor failed (an include).
    pub fn count_ok(&self) {
        self.st.lock().stats.ok += 1;
    }

    pub fn count_skipped(&self) {
        self.st.lock().stats.skipped += 1;
    }

    pub async fn reset_connection(&self) {
        let mut c = self.conn.lock().await;
        if let Some(conn) = c.take() {
            conn.close().await;
        }
    }
}

/// Writes a controller file atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.flush()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
