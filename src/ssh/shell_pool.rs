//! The persistent shells of one connection, by become identity: idle shells are reused,
//! a busy host gets up to [`MAX_SHELLS`] of them, and whatever cannot use one (the
//! feature is off, the shell could not start or died, every shell is busy) runs on a
//! channel of its own instead. Decisions to stop using shells are logged (tracing).

use super::persistent::{Shell, StartError};
use super::Become;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Persistent shells open at once on one connection (all identities together); each
/// holds one of the connection's channels.
pub const MAX_SHELLS: usize = 4;

/// A become identity (`None`: the login user).
pub type Identity = Option<Become>;

/// The shells of one connection.
pub struct ShellPool {
    state: Mutex<State>,
    enabled: AtomicBool,
    /// `user@name (address:port)`, for messages.
    label: String,
}

#[derive(Default)]
struct State {
    idle: HashMap<Identity, Vec<Shell>>,
    /// Shells alive (idle, busy or starting).
    open: usize,
    /// Lowered when the server refuses more channels.
    max: usize,
    /// Identities whose shell could not start: they use one channel per request.
    broken: HashSet<Identity>,
}

enum Step {
    Use(Shell),
    Channel,
    Wait,
    /// Start a shell (after closing the evicted one, counted as the new one).
    Start(Option<Shell>),
}

/// How long a starting shell may take to answer.
const START_WAIT: Duration = Duration::from_secs(20);

impl ShellPool {
    pub fn new(enabled: bool, label: &str) -> Arc<ShellPool> {
        Arc::new(ShellPool {
            state: Mutex::new(State {
                max: MAX_SHELLS,
                ..State::default()
            }),
            enabled: AtomicBool::new(enabled),
            label: label.to_string(),
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Stops using persistent shells on this connection (the idle ones are closed).
    pub fn disable(&self, why: &str) {
        if self.enabled.swap(false, Ordering::Relaxed) {
            tracing::info!(
                "{}: {why}; using one channel per request from now on",
                self.label
            );
        }
        let idle: Vec<Shell> = {
            let mut st = self.state.lock().unwrap();
            let all: Vec<Shell> = st.idle.drain().flat_map(|(_, v)| v).collect();
            st.open -= all.len();
            all
        };
        drop(idle);
    }

    /// A shell for `who`, idle or newly started; `None` means: use a channel.
    pub async fn lease(
        &self,
        handle: &russh::client::Handle<super::russh_conn::Client>,
        channels: &Arc<Semaphore>,
        who: &Identity,
    ) -> Option<Shell> {
        // Bounded: each round either returns, or waits for a shell given back.
        for _ in 0..2000 {
            let evicted = match self.step(who) {
                Step::Use(s) => return Some(s),
                Step::Channel => return None,
                Step::Wait => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Step::Start(evicted) => evicted,
            };
            if let Some(s) = evicted {
                s.close().await;
            }
            let Ok(permit) = channels.clone().try_acquire_owned() else {
                self.state.lock().unwrap().open -= 1;
                return None;
            };
            match Shell::start(handle, permit, who.as_ref(), START_WAIT).await {
                Ok(s) => return Some(s),
                Err(StartError::Refused(msg)) => {
                    let mut st = self.state.lock().unwrap();
                    st.open -= 1;
                    if st.open == 0 {
                        drop(st);
                        self.disable(&format!("no persistent shell ({msg})"));
                        return None;
                    }
                    tracing::info!(
                        "{}: the server refused another channel ({msg}); keeping {} shells",
                        self.label,
                        st.open
                    );
                    st.max = st.open;
                }
                Err(StartError::NoShell(msg)) => {
                    let mut st = self.state.lock().unwrap();
                    st.open -= 1;
                    st.broken.insert(who.clone());
                    tracing::info!(
                        "{}: no persistent shell{} ({msg}); using one channel per request",
                        self.label,
                        who.as_ref()
                            .map(|b| format!(" as {}", b.user))
                            .unwrap_or_default()
                    );
                    return None;
                }
            }
        }
        None
    }

    /// The server refused a channel: no more shells than are open now, and requests
    /// wait for one of them. False when there is none (or the pool is off).
    pub fn hold_size(&self) -> bool {
        let mut st = self.state.lock().unwrap();
        if !self.enabled() || st.open == 0 {
            return false;
        }
        st.max = st.open.min(st.max);
        true
    }

    /// What `lease` does next (decided under the lock, done outside it).
    fn step(&self, who: &Identity) -> Step {
        let mut st = self.state.lock().unwrap();
        if !self.enabled() || st.broken.contains(who) {
            return Step::Channel;
        }
        while let Some(mut s) = st.idle.get_mut(who).and_then(|v| v.pop()) {
            if s.is_alive() {
                return Step::Use(s);
            }
            st.open -= 1;
        }
        if st.open < st.max {
            st.open += 1;
            return Step::Start(None);
        }
        // Full: an idle shell of another identity makes room; else wait for one (the
        // server refused more channels) or use a channel.
        match st.idle.values_mut().find_map(|v| v.pop()) {
            Some(s) => Step::Start(Some(s)),
            None if st.max < MAX_SHELLS => Step::Wait,
            None => Step::Channel,
        }
    }

    /// A shell whose request ended normally goes back to the idle list.
    pub fn give_back(&self, who: Identity, shell: Shell) {
        let mut st = self.state.lock().unwrap();
        if self.enabled() {
            st.idle.entry(who).or_default().push(shell);
        } else {
            st.open -= 1;
            drop(st);
            drop(shell);
        }
    }

    /// A shell that is not given back (it died or was given up).
    pub fn forget(&self, shell: Shell) {
        self.state.lock().unwrap().open -= 1;
        drop(shell);
    }

    /// Closes the idle shells (their drivers remove their temp dirs and exit).
    pub async fn close_all(&self) {
        let idle: Vec<Shell> = {
            let mut st = self.state.lock().unwrap();
            let all: Vec<Shell> = st.idle.drain().flat_map(|(_, v)| v).collect();
            st.open -= all.len();
            all
        };
        for s in idle {
            s.close().await;
        }
    }
}
