//! The executor: runs plays over hosts. Linear strategy by default (each task runs on
//! every host of the batch, `forks` at a time, before the next task starts); `free` lets
//! each host run ahead. One SSH connection per host, opened on first use and reused.
//! A failing or unreachable host is recorded and leaves the play; the others go on; the
//! exit status is decided at the end.

mod async_task;
mod connect;
mod engine_actions;
use host::Learned;
pub mod host;
mod include;
mod stream;

pub mod task;
pub mod vars;

use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::modules::Registry;
use crate::output::{Event, HostStats, Reporter};
use crate::playbook::{
    Action, Become, EngineAction, Flag, Meta, Play, Playbook, RawVars, Serial, Task, TaskKind,
};
use crate::ssh::HostKeyPolicy;
use crate::template::Templar;
use futures::StreamExt;
use host::HostRt;
use indexmap::IndexMap;
use minijinja::Value;
use parking_lot::RwLock;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vars::{HostList, Layer};

/// Settings of a run, validated from the command line and config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub start_at_task: Option<String>,
    pub limit: Option<String>,
    pub extra_vars: IndexMap<String, Value>,
    pub become_: Become,
    pub become_password: Option<String>,
    pub remote_user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub task_timeout: Option<Duration>,
    pub retry_file: Option<PathBuf>,
    pub verbosity: u8,
    pub roles_path: Vec<PathBuf>,
    /// Command output is sent as it arrives, one event per line (`rdeploy exec`).
    pub stream_output: bool,
    /// Opens non-local connections instead of the SSH transport (engine tests).
    pub connector: Option<Arc<dyn crate::ssh::Connector>>,
}

/// What a run ends with.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub stats: IndexMap<String, HostStats>,
    pub exit_code: i32,
}

/// Keywords inherited from enclosing blocks (and roles, and includes).
#[derive(Clone, Default)]
pub struct Inherit {
    pub when: Vec<String>,
    pub become_: Become,
    pub vars: IndexMap<String, Value>,
    pub include_params: IndexMap<String, Value>,
    pub environment: Vec<Value>,
    pub tags: Vec<String>,
    pub ignore_errors: Option<Value>,
    pub check_mode: Option<Flag>,
    pub notify: Vec<String>,
    pub remote_user: Option<String>,
    /// Every enclosing `no_log` (any true one censors).
    pub no_log: Vec<Flag>,
    pub any_errors_fatal: bool,
    pub delegate_to: Option<String>,
    pub run_once: bool,
    /// The play this task runs in (passed down from the play, never global state).
    pub play: Arc<PlayRun>,
}

impl Inherit {
    /// The context of a play's own task lists and handlers.
    fn of_play(play: &Arc<PlayRun>) -> Inherit {
        Inherit {
            play: play.clone(),
            ..Default::default()
        }
    }

    fn child(&self, t: &Task) -> Inherit {
        let mut c = self.clone();
        c.when.extend(t.when.iter().cloned());
        c.become_ = t.become_.over(&self.become_);
        for (k, v) in &t.vars {
            c.vars.insert(k.clone(), v.clone());
        }
        if let Some(e) = &t.environment {
            c.environment.push(e.clone());
        }
        c.tags.extend(t.tags.iter().cloned());
        if t.ignore_errors.is_some() {
            c.ignore_errors = t.ignore_errors.clone();
        }
        if t.check_mode.is_some() {
            c.check_mode = t.check_mode.clone();
        }
        c.notify.extend(t.notify.iter().cloned());
        if t.remote_user.is_some() {
            c.remote_user = t.remote_user.clone();
        }
        if t.no_log != Flag::Const(false) {
            c.no_log.push(t.no_log.clone());
        }
        c.any_errors_fatal |= t.any_errors_fatal;
        if t.delegate_to.is_some() {
            c.delegate_to = t.delegate_to.clone();
        }
        c.run_once |= t.run_once;
        c
    }

    /// What the tasks of a dynamic include inherit from it: its keywords as for a block,
    /// except `when`, `tags`, `delegate_to` and `run_once`, which apply to the include
    /// itself (its `apply:` passes tags on), plus its parameters as variables.
    fn include_child(
        &self,
        t: &Task,
        params: IndexMap<String, Value>,
        apply_tags: Vec<String>,
    ) -> Inherit {
        let mut c = self.child(t);
        c.when = self.when.clone();
        c.tags = self.tags.clone();
        c.tags.extend(apply_tags);
        c.delegate_to = self.delegate_to.clone();
        c.run_once = self.run_once;
        c.include_params.extend(params);
        c
    }
}

/// What a play fixes when it starts: its variable layers and keywords.
#[derive(Clone, Default)]
pub struct PlayCtx {
    pub play_vars: Layer,
    pub role_defaults_all: Layer,
    pub role_vars_all: Layer,
    pub play_hosts: Vec<String>,
    pub become_: Become,
    pub remote_user: Option<String>,
    pub connection: Option<String>,
    pub environment: Option<Value>,
    pub check_mode: Option<bool>,
    pub ignore_errors: bool,
    pub any_errors_fatal: bool,
    pub max_fail_percentage: Option<f64>,
    /// `force_handlers`: notified handlers also run on hosts that failed.
    pub force_handlers: bool,
    pub playbook_dir: PathBuf,
    pub play_name: String,
}

/// One run of a play, owned by `run_play` and passed down to every task in
/// [`Inherit::play`]: the fixed [`PlayCtx`], and the play's state that changes as it
/// runs (the current batch, the hosts still in it, handlers added by `include_role`).
#[derive(Default)]
pub struct PlayRun {
    pub ctx: PlayCtx,
    live: RwLock<LiveHosts>,
    handlers: RwLock<Arc<Vec<Task>>>,
}

/// The current batch and the hosts that have not failed, kept as template values too
/// (`ansible_play_hosts`, `ansible_play_batch`, `play_hosts`): built once per task, not
/// once per task and host.
#[derive(Default, Clone)]
pub struct LiveHosts {
    pub batch: HostList,
    pub play_hosts: Value,
    pub play_batch: Value,
    pub play_hosts_all: Value,
}

impl PlayRun {
    fn new(ctx: PlayCtx, handlers: Vec<Task>) -> PlayRun {
        let all = Value::from(ctx.play_hosts.clone());
        PlayRun {
            live: RwLock::new(LiveHosts {
                batch: ctx.play_hosts.clone().into(),
                play_hosts: all.clone(),
                play_batch: all.clone(),
                play_hosts_all: all,
            }),
            handlers: RwLock::new(Arc::new(handlers)),
            ctx,
        }
    }

    pub fn live(&self) -> LiveHosts {
        self.live.read().clone()
    }

    /// The serial batch now running.
    fn set_batch(&self, batch: &[String]) {
        self.live.write().batch = batch.to_vec().into();
    }

    /// The play's and the batch's hosts that have not failed.
    fn set_live(&self, play_hosts: Vec<String>, batch: Vec<String>) {
        let mut live = self.live.write();
        live.play_hosts = Value::from(play_hosts);
        live.play_batch = Value::from(batch);
    }

    pub fn handlers(&self) -> Arc<Vec<Task>> {
        self.handlers.read().clone()
    }

    /// Handlers of a role included at run time become the play's.
    pub fn add_handlers(&self, more: Vec<Task>) {
        if more.is_empty() {
            return;
        }
        let mut h = self.handlers.write();
        let mut all = (**h).clone();
        all.extend(more);
        *h = Arc::new(all);
    }
}

/// Runs playbooks.
pub struct Executor {
    pub inv: RwLock<Inventory>,
    pub templar: Templar,
    pub registry: Registry,
    pub opts: RunOptions,
    pub reporter: Arc<dyn Reporter>,
    pub hosts: RwLock<IndexMap<String, Arc<HostRt>>>,
    pub extra_layer: Layer,
    pub started: Instant,
    pub roles_path: Vec<PathBuf>,
    pub(crate) start_at_reached: std::sync::atomic::AtomicBool,
    pub(crate) delegated: tokio::sync::Mutex<IndexMap<String, Arc<dyn crate::ssh::Connection>>>,
    pub(crate) abort_play: std::sync::atomic::AtomicBool,
    /// Set when the playbook must stop after the current play, as ansible-core does:
    /// any_errors_fatal fired, max_fail_percentage exceeded, or a whole batch failed.
    pub(crate) stop_playbook: std::sync::atomic::AtomicBool,
    /// A weak handle on itself (for `hostvars`, which outlives a borrow).
    pub(crate) me: std::sync::Weak<Executor>,
    /// What every task on every host would otherwise rebuild from the inventory: the
    /// `groups` map and each host's inventory variables. Only `add_host` and `group_by`
    /// change the inventory during a run; they clear it.
    pub(crate) inv_cache: RwLock<InvCache>,
}

/// See [`Executor::inv_cache`].
#[derive(Default)]
pub(crate) struct InvCache {
    pub groups: Option<Value>,
    /// Each host's `group_names` (finding a host's groups scans every group).
    pub group_names: std::collections::HashMap<String, Value>,
    /// The inventory's host names, for `hostvars`.
    pub host_names: Option<Arc<Vec<String>>>,
    pub host_layers: std::collections::HashMap<String, Layer>,
}

impl Executor {
    pub fn new(inv: Inventory, opts: RunOptions, reporter: Arc<dyn Reporter>) -> Arc<Executor> {
        let templar = Templar::new();
        let mut hosts = IndexMap::new();
        for name in inv.hosts.keys() {
            hosts.insert(name.clone(), Arc::new(HostRt::new(name)));
        }
        let extra_layer: Layer = Arc::new(opts.extra_vars.clone());
        let start_reached = opts.start_at_task.is_none();
        Arc::new_cyclic(|me| Executor {
            me: me.clone(),
            inv: RwLock::new(inv),
            templar,
            registry: crate::modules::registry(),
            roles_path: opts.roles_path.clone(),
            opts,
            reporter,
            hosts: RwLock::new(hosts),
            extra_layer,
            started: Instant::now(),
            start_at_reached: std::sync::atomic::AtomicBool::new(start_reached),
            delegated: tokio::sync::Mutex::new(IndexMap::new()),
            abort_play: std::sync::atomic::AtomicBool::new(false),
            stop_playbook: std::sync::atomic::AtomicBool::new(false),
            inv_cache: RwLock::new(InvCache::default()),
        })
    }

    pub fn host_rt(&self, name: &str) -> Option<Arc<HostRt>> {
        self.hosts.read().get(name).cloned()
    }

    pub fn emit(&self, ev: Event) {
        self.reporter.event(&ev);
    }

    /// Selects the hosts of a play: its pattern, then `--limit`.
    pub fn select_hosts(&self, pattern: &str) -> Result<Vec<String>> {
        let inv = self.inv.read();
        let mut hosts = inv.select(pattern)?;
        if let Some(limit) = &self.opts.limit {
            let allowed: HashSet<String> = inv.select(limit)?.into_iter().collect();
            hosts.retain(|h| allowed.contains(h));
        }
        Ok(hosts)
    }

    /// Runs every play of a playbook; returns the summary (recap is emitted).
    pub async fn run_playbook(self: &Arc<Self>, pb: &Playbook) -> Result<RunSummary> {
        self.emit(Event::PlaybookStart {
            path: pb.path.display().to_string(),
            check: self.opts.check,
        });
        for play in &pb.plays {
            if !self.tags_match(&play.tags, true) && play_has_no_tagged_tasks(play, self) {
                continue;
            }
            self.run_play(play).await?;
            if self.stop_playbook.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
        }
        Ok(self.finish(Some(&pb.path)))
    }

    /// Emits the recap, writes the retry file, and computes the exit status.
    pub fn finish(&self, playbook: Option<&std::path::Path>) -> RunSummary {
        let mut stats = IndexMap::new();
        let mut failed = Vec::new();
        let mut any_unreachable = false;
        let mut any_failed = false;
        for (name, h) in self.hosts.read().iter() {
            let st = h.st.lock();
            if st.touched {
                stats.insert(name.clone(), st.stats.clone());
            }
            if st.stats.unreachable > 0 {
                any_unreachable = true;
            }
            if st.stats.failed > st.failed_cleared {
                any_failed = true;
            }
            if st.stats.unreachable > 0 || st.stats.failed > 0 {
                failed.push(name.clone());
            }
        }
        self.emit(Event::Recap {
            stats: stats.clone(),
            elapsed_secs: self.started.elapsed().as_secs_f64(),
        });
        if !failed.is_empty() {
            let path = self
                .opts
                .retry_file
                .clone()
                .or_else(|| playbook.map(|p| p.with_extension("retry")));
            if let Some(path) = path {
                let mut text = failed.join("\n");
                text.push('\n');
                if let Err(e) = host::write_atomic(&path, text.as_bytes()) {
                    self.emit(Event::Warning {
                        msg: format!("could not write retry file {}: {e}", path.display()),
                    });
                }
            }
        }
        let exit_code = if any_unreachable {
            crate::app::EXIT_UNREACHABLE
        } else if any_failed {
            crate::app::EXIT_TASK_FAILED
        } else {
            crate::app::EXIT_OK
        };
        RunSummary { stats, exit_code }
    }

    /// Whether a task (or play) with these tags runs under --tags/--skip-tags.
    pub fn tags_match(&self, tags: &[String], for_play: bool) -> bool {
        let has = |t: &str| tags.iter().any(|x| x == t);
        if self
            .opts
            .skip_tags
            .iter()
            .any(|s| has(s) || (s == "all" && !has("always")))
        {
            return false;
        }
        if has("always") {
            return true;
        }
        if self.opts.tags.is_empty() || self.opts.tags.iter().any(|t| t == "all") {
            return !has("never") || for_play;
        }
        if self.opts.tags.iter().any(|t| t == "tagged") && !tags.is_empty() {
            return true;
        }
        if self.opts.tags.iter().any(|t| t == "untagged") && tags.is_empty() {
            return true;
        }
        self.opts.tags.iter().any(|t| has(t))
    }

    async fn run_play(self: &Arc<Self>, play: &Play) -> Result<()> {
        let hosts = self.select_hosts(&play.hosts)?;
        self.emit(Event::PlayStart {
            name: play.name.clone(),
            hosts: hosts.clone(),
        });
        if hosts.is_empty() {
            self.emit(Event::Warning {
                msg: format!("no hosts matched `{}`: skipping play", play.hosts),
            });
            return Ok(());
        }
        self.abort_play
            .store(false, std::sync::atomic::Ordering::SeqCst);
        // Play-level variable layers.
        let mut role_defaults = IndexMap::new();
        let mut role_vars = IndexMap::new();
        for r in &play.roles {
            for (k, v) in &r.defaults {
                role_defaults.insert(k.clone(), v.clone());
            }
            for (k, v) in &r.vars {
                role_vars.insert(k.clone(), v.clone());
            }
        }
        let mut play_vars: IndexMap<String, Value> = play.vars.clone();
        let mut ctx = PlayCtx {
            play_vars: Arc::new(play_vars.clone()),
            role_defaults_all: Arc::new(role_defaults),
            role_vars_all: Arc::new(role_vars),
            play_hosts: hosts.clone(),
            become_: play.become_.over(&self.opts.become_),
            remote_user: play.remote_user.clone(),
            connection: play.connection.clone(),
            environment: play.environment.clone(),
            check_mode: play.check_mode,
            ignore_errors: play.ignore_errors,
            any_errors_fatal: play.any_errors_fatal,
            max_fail_percentage: play.max_fail_percentage,
            force_handlers: play.force_handlers,
            playbook_dir: play.dir.clone(),
            play_name: play.name.clone(),
        };
        // vars_files: templated with play vars and extra vars; relative to the playbook.
        // An entry that needs host variables (`vars/{{ inventory_hostname }}.yml`) is
        // loaded per host below, as Ansible does.
        let mut per_host_files: Vec<&String> = Vec::new();
        for vf in &play.vars_files {
            let scope = vars::Scope::new(
                vec![self.extra_layer.clone(), Arc::new(play_vars.clone())],
                self.templar.clone(),
            );
            let ctx = scope.value();
            if vf
                .split('\u{0}')
                .any(|alt| self.templar.render_string(alt, &ctx).is_err())
            {
                per_host_files.push(vf);
                continue;
            }
            load_vars_file(&self.templar, &play.dir, vf, &ctx, &mut play_vars)?;
        }
        ctx.play_vars = Arc::new(play_vars.clone());
        let run = Arc::new(PlayRun::new(ctx, play.handlers.clone()));
        for h in &hosts {
            let Some(rt) = self.host_rt(h) else { continue };
            let mut mine = IndexMap::new();
            if !per_host_files.is_empty() {
                let mut layers = vec![
                    Arc::new(self.magic_vars(&run, h)),
                    self.extra_layer.clone(),
                    Arc::new(play_vars.clone()),
                ];
                if let Some(l) = self.inventory_vars(h) {
                    layers.push(l);
                }
                let ctx = vars::Scope::new(layers, self.templar.clone()).value();
                for vf in &per_host_files {
                    load_vars_file(&self.templar, &play.dir, vf, &ctx, &mut mine)
                        .map_err(|e| Error::usage(format!("host {h}: {e}")))?;
                }
            }
            rt.set_play_vars_files(mine);
        }
        for h in &hosts {
            if let Some(rt) = self.host_rt(h) {
                // Failed and unreachable hosts stay out of later plays (as in Ansible).
                rt.start_play();
            }
        }
        for batch in batches(&hosts, &play.serial) {
            // Hosts that failed in an earlier play are not part of this one's batches.
            let batch = self.alive(&batch);
            if batch.is_empty() {
                continue;
            }
            run.set_batch(&batch);
            self.refresh_live_hosts(&run);
            let base = Inherit::of_play(&run);
            let mut active: Vec<String> = self.alive(&batch);
            if play.gather_facts && self.opts.tags.iter().all(|t| t != "never") {
                self.gather_facts(&run, &active).await;
                active = self.alive(&active);
            }
            for (section, tasks) in [
                ("pre_tasks", &play.pre_tasks),
                ("tasks", &play.tasks),
                ("post_tasks", &play.post_tasks),
            ] {
                let _ = section;
                if tasks.is_empty() {
                    continue;
                }
                let play_inherit = Inherit {
                    tags: play.tags.clone(),
                    ..base.clone()
                };
                if play.strategy_free {
                    // Each host runs through the list at its own pace.
                    let forks = self.opts.forks.max(1);
                    let pi = &play_inherit;
                    futures::stream::iter(active.iter().cloned())
                        .map(|h| async move {
                            let one = [h];
                            self.run_list(tasks, &one, pi, false).await;
                        })
                        .buffer_unordered(forks)
                        .collect::<Vec<_>>()
                        .await;
                } else {
                    self.run_list(tasks, &active, &play_inherit, false).await;
                }
                active = self.alive(&active);
                self.run_handlers(&run, &batch).await;
                active = self.alive(&active);
                if self.abort_play.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
            }
            if self.max_fail_exceeded(&run, &batch) {
                self.stop_playbook
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            let failed = self.failed_in(&batch);
            if !batch.is_empty() && failed == batch.len() {
                self.emit(Event::Warning {
                    msg: "every host of the batch failed: stopping the playbook".into(),
                });
                self.stop_playbook
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            if self.abort_play.load(std::sync::atomic::Ordering::SeqCst)
                || self.stop_playbook.load(std::sync::atomic::Ordering::SeqCst)
            {
                break;
            }
        }
        Ok(())
    }

    /// Recomputes the play's and the batch's hosts that have not failed.
    fn refresh_live_hosts(&self, run: &PlayRun) {
        let (all, batch) = (run.ctx.play_hosts.clone(), run.live().batch.to_vec());
        let ok = |h: &String| {
            self.host_rt(h)
                .is_some_and(|rt| !rt.failed_or_unreachable())
        };
        let live_all: Vec<String> = all.into_iter().filter(ok).collect();
        let live_batch: Vec<String> = batch.into_iter().filter(ok).collect();
        run.set_live(live_all, live_batch);
    }

    /// How many hosts of `batch` failed or became unreachable in this play.
    fn failed_in(&self, batch: &[String]) -> usize {
        batch
            .iter()
            .filter(|h| self.host_rt(h).is_some_and(|rt| rt.failed_or_unreachable()))
            .count()
    }

    /// Whether the failed share of the current batch exceeds the play's
    /// max_fail_percentage (checked after every task, as ansible-core's linear
    /// strategy does); says so once when it does.
    fn max_fail_exceeded(&self, run: &PlayRun, batch: &[String]) -> bool {
        let Some(pct) = run.ctx.max_fail_percentage else {
            return false;
        };
        if batch.is_empty() || self.failed_in(batch) as f64 * 100.0 / batch.len() as f64 <= pct {
            return false;
        }
        if !self
            .stop_playbook
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            self.emit(Event::Warning {
                msg: format!("max_fail_percentage {pct}% exceeded: stopping the playbook"),
            });
        }
        true
    }

    /// Hosts of `hosts` that are still running in this play.
    pub fn alive(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| self.host_rt(h).map(|rt| rt.is_active()).unwrap_or(false))
            .cloned()
            .collect()
    }

    async fn gather_facts(self: &Arc<Self>, run: &Arc<PlayRun>, hosts: &[String]) {
        let task = task::synthetic_task("Gathering Facts", "setup");
        self.emit(Event::TaskStart {
            name: "Gathering Facts".into(),
            action: "setup".into(),
            hosts: hosts.len(),
            handler: false,
        });
        self.run_task_on_hosts(&task, hosts, &Inherit::of_play(run), false)
            .await;
    }

    /// Runs a list of tasks on hosts (linear). Returns the hosts that failed in it.
    pub fn run_list<'a>(
        self: &'a Arc<Self>,
        tasks: &'a [Task],
        hosts: &'a [String],
        inherit: &'a Inherit,
        handler: bool,
    ) -> futures::future::BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut failed = Vec::new();
            let mut active: Vec<String> = hosts.to_vec();
            let mut rejoin = false;
            for t in tasks {
                if active.is_empty() || self.abort_play.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let before: HashSet<String> = active.iter().cloned().collect();
                match &t.kind {
                    TaskKind::Block {
                        block,
                        rescue,
                        always,
                    } => {
                        let child = inherit.child(t);
                        let failed_before: std::collections::HashMap<String, u32> = active
                            .iter()
                            .filter_map(|h| {
                                self.host_rt(h).map(|rt| (h.clone(), rt.failed_count()))
                            })
                            .collect();
                        let block_failed = self.run_list(block, &active, &child, handler).await;
                        let mut rescued_ok = HashSet::new();
                        if !rescue.is_empty() && !block_failed.is_empty() {
                            for h in &block_failed {
                                if let Some(rt) = self.host_rt(h) {
                                    rt.enter_rescue();
                                }
                            }
                            let rescue_failed: HashSet<String> = self
                                .run_list(rescue, &block_failed, &child, handler)
                                .await
                                .into_iter()
                                .collect();
                            for h in &block_failed {
                                if let Some(rt) = self.host_rt(h) {
                                    rt.leave_rescue();
                                }
                            }
                            for h in &block_failed {
                                if !rescue_failed.contains(h) {
                                    rescued_ok.insert(h.clone());
                                    if let Some(rt) = self.host_rt(h) {
                                        rt.rescued(failed_before.get(h).copied().unwrap_or(0));
                                    }
                                }
                            }
                        }
                        if !always.is_empty() {
                            // always runs on every host that was in the block and is still reachable
                            let targets: Vec<String> = active
                                .iter()
                                .filter(|h| {
                                    self.host_rt(h)
                                        .map(|rt| !rt.is_unreachable())
                                        .unwrap_or(false)
                                })
                                .cloned()
                                .collect();
                            // Failed hosts (not rescued) still run `always`, then stay failed.
                            let still_failed: Vec<String> = targets
                                .iter()
                                .filter(|h| !self.host_rt(h).unwrap().is_active())
                                .cloned()
                                .collect();
                            for h in &still_failed {
                                self.host_rt(h).unwrap().set_in_always(true);
                            }
                            self.run_list(always, &targets, &child, handler).await;
                            for h in &still_failed {
                                self.host_rt(h).unwrap().set_in_always(false);
                            }
                        }
                    }
                    TaskKind::IncludeTasks { .. } | TaskKind::IncludeRole { .. } => {
                        self.run_include(t, &active, inherit, handler).await;
                    }
                    TaskKind::Action {
                        action: Action::Engine(EngineAction::Meta(meta)),
                        ..
                    } => {
                        let child = inherit.child(t);
                        match meta {
                            Meta::FlushHandlers => self.run_handlers(&inherit.play, &active).await,
                            Meta::EndPlay => {
                                self.abort_play
                                    .store(true, std::sync::atomic::Ordering::SeqCst);
                            }
                            Meta::EndHost | Meta::EndBatch => {
                                for h in &active {
                                    if self.when_ok_for(t, &child, h) {
                                        if let Some(rt) = self.host_rt(h) {
                                            rt.end_host();
                                        }
                                    }
                                }
                            }
                            Meta::ClearHostErrors => {
                                for h in hosts {
                                    if let Some(rt) = self.host_rt(h) {
                                        rt.clear_errors();
                                    }
                                }
                                // the hosts whose errors were cleared go on with the list
                                rejoin = true;
                            }
                            Meta::ResetConnection => {
                                for h in &active {
                                    if let Some(rt) = self.host_rt(h) {
                                        rt.reset_connection().await;
                                    }
                                }
                            }
                            Meta::ClearFacts => {
                                for h in &active {
                                    if let Some(rt) = self.host_rt(h) {
                                        rt.clear_facts();
                                    }
                                }
                            }
                            Meta::Noop => {}
                            Meta::RefreshInventory => {
                                self.emit(Event::Warning {
                                    msg: "meta: refresh_inventory: inventories are loaded once per run; ignored".into(),
                                });
                            }
                        }
                    }
                    TaskKind::Action { .. } => {
                        let eff_tags: Vec<String> =
                            inherit.tags.iter().chain(t.tags.iter()).cloned().collect();
                        if !self.tags_match(&eff_tags, false) {
                            continue;
                        }
                        if !self
                            .start_at_reached
                            .load(std::sync::atomic::Ordering::SeqCst)
                        {
                            let name = t.display_name();
                            let want = self.opts.start_at_task.clone().unwrap_or_default();
                            if name == want || t.name.as_deref() == Some(want.as_str()) {
                                self.start_at_reached
                                    .store(true, std::sync::atomic::Ordering::SeqCst);
                            } else {
                                continue;
                            }
                        }
                        let shown = match active.first() {
                            Some(h) => self.shown_name(t, h, inherit),
                            None => t.display_name(),
                        };
                        self.emit(Event::TaskStart {
                            name: shown,
                            action: t.action().to_string(),
                            hosts: active.len(),
                            handler,
                        });
                        self.run_task_on_hosts(t, &active, inherit, handler).await;
                        self.refresh_live_hosts(&inherit.play);
                        let fatal = t.any_errors_fatal
                            || inherit.any_errors_fatal
                            || inherit.play.ctx.any_errors_fatal;
                        let now = self.alive(&active);
                        if fatal && now.len() < active.len() {
                            let failed_now: Vec<&String> =
                                active.iter().filter(|h| !now.contains(h)).collect();
                            if failed_now.iter().any(|h| {
                                self.host_rt(h)
                                    .map(|rt| rt.failed_in_play())
                                    .unwrap_or(false)
                            }) {
                                self.emit(Event::Warning {
                                    msg: "any_errors_fatal: a host failed, stopping all hosts"
                                        .into(),
                                });
                                self.abort_play
                                    .store(true, std::sync::atomic::Ordering::SeqCst);
                                self.stop_playbook
                                    .store(true, std::sync::atomic::Ordering::SeqCst);
                            }
                        }
                        let batch = inherit.play.live().batch.to_vec();
                        if self.max_fail_exceeded(&inherit.play, &batch) {
                            self.abort_play
                                .store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                }
                let now = if std::mem::take(&mut rejoin) {
                    let back = self.alive(hosts);
                    failed.retain(|h| !back.contains(h));
                    back
                } else {
                    self.alive(&active)
                };
                for h in before.iter() {
                    if !now.contains(h) && !failed.contains(h) {
                        if self
                            .host_rt(h)
                            .map(|rt| rt.failed_in_play())
                            .unwrap_or(false)
                        {
                            failed.push(h.clone());
                        }
                    }
                }
                active = now;
            }
            failed
        })
    }

    /// Runs notified handlers (in the order they are defined) on the hosts that notified them.
    pub async fn run_handlers(self: &Arc<Self>, run: &Arc<PlayRun>, hosts: &[String]) {
        let (handlers, force) = (run.handlers(), run.ctx.force_handlers);
        for (i, h) in handlers.iter().enumerate() {
            let names = handler_names(h);
            let targets: Vec<String> = hosts
                .iter()
                .filter(|host| {
                    self.host_rt(host)
                        .is_some_and(|rt| rt.takes_handler(i, &names, force))
                })
                .cloned()
                .collect();
            if targets.is_empty() {
                continue;
            }
            let one = std::slice::from_ref(h);
            self.run_list(one, &targets, &Inherit::of_play(run), true)
                .await;
            // Handlers notified by handlers run later in this same flush (Ansible does too).
        }
        for host in hosts {
            if let Some(rt) = self.host_rt(host) {
                rt.clear_notified();
            }
        }
    }

    /// Runs one task on many hosts, `forks` at a time; `run_once` runs on the first.
    pub async fn run_task_on_hosts(
        self: &Arc<Self>,
        t: &Task,
        hosts: &[String],
        inherit: &Inherit,
        handler: bool,
    ) {
        let forks = self.opts.forks.max(1);
        let run_once = t.run_once || inherit.run_once;
        let targets: Vec<String> = if run_once {
            hosts.iter().take(1).cloned().collect()
        } else {
            hosts.to_vec()
        };
        let results: Vec<(String, Option<task::Registered>)> =
            futures::stream::iter(targets.iter().cloned())
                .map(|h| {
                    let this = self.clone();
                    async move {
                        let r = this.run_task_host(t, &h, inherit, handler).await;
                        (h, r)
                    }
                })
                .buffer_unordered(forks)
                .collect()
                .await;
        if run_once {
            // The result of a run_once task is registered on every host of the batch.
            if let Some((_, Some(reg))) = results.into_iter().next() {
                for h in hosts.iter().skip(1) {
                    if let Some(rt) = self.host_rt(h) {
                        let mut learned = Learned::default();
                        for (name, v) in &reg.vars {
                            learned.vars.insert(name.clone(), v.clone());
                        }
                        // delegate_facts: the facts went to the delegated host only
                        if !t.delegate_facts {
                            learned.extend(&reg.learned);
                        }
                        rt.learn(&learned);
                    }
                }
            }
        }
    }
}

fn handler_names(h: &Task) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(n) = &h.name {
        names.push(n.clone());
        if let Some(r) = &h.role {
            names.push(format!("{} : {}", r.name, n));
        }
    }
    names.extend(h.listen.iter().cloned());
    names
}

fn play_has_no_tagged_tasks(play: &Play, ex: &Executor) -> bool {
    fn any(tasks: &[Task], inherited: &[String], ex: &Executor) -> bool {
        tasks.iter().any(|t| {
            let tags: Vec<String> = inherited.iter().chain(t.tags.iter()).cloned().collect();
            match &t.kind {
                TaskKind::Block {
                    block,
                    rescue,
                    always,
                } => any(block, &tags, ex) || any(rescue, &tags, ex) || any(always, &tags, ex),
                _ => {
                    ex.tags_match(&tags, false)
                        || matches!(
                            t.kind,
                            TaskKind::IncludeTasks { .. } | TaskKind::IncludeRole { .. }
                        )
                }
            }
        })
    }
    !(any(&play.pre_tasks, &play.tags, ex)
        || any(&play.tasks, &play.tags, ex)
        || any(&play.post_tasks, &play.tags, ex))
}

/// Splits hosts into `serial` batches (the last size repeats).
pub fn batches(hosts: &[String], serial: &[Serial]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut i = 0;
    let mut si = 0;
    while i < hosts.len() {
        let s = &serial[si.min(serial.len() - 1)];
        let n = match s {
            Serial::Count(n) => *n,
            Serial::Percent(p) => ((hosts.len() as f64) * p / 100.0).floor() as usize,
        }
        .max(1);
        out.push(hosts[i..(i + n).min(hosts.len())].to_vec());
        i += n;
        si += 1;
    }
    out
}

/// Merges raw vars into a fresh map (helper for includes).
pub fn merge_vars(base: &IndexMap<String, Value>, over: &RawVars) -> IndexMap<String, Value> {
    let mut m = base.clone();
    for (k, v) in over {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// Runs playbooks on the controller through `connection: local` (unit tests).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::output::HostResult;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<HostResult>>);

    impl Reporter for Collect {
        fn event(&self, ev: &Event) {
            if let Event::HostResult(r) = ev {
                self.0.lock().push(r.clone());
            }
        }
    }

    /// Writes `files` (path, text) and `playbook` into a temp dir, runs the playbook on
    /// `localhost` with `ansible_connection=local`, and returns every host result.
    pub async fn run_local(playbook: &str, files: &[(&str, &str)]) -> Vec<HostResult> {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let inv_path = dir.path().join("inventory.ini");
        std::fs::write(&inv_path, "localhost ansible_connection=local\n").unwrap();
        let pb_path = dir.path().join("playbook.yml");
        std::fs::write(&pb_path, playbook).unwrap();
        let inv = Inventory::load(&[inv_path], Some(dir.path()))
            .await
            .unwrap();
        let registry = crate::modules::registry();
        let loader = crate::playbook::loader::Loader::new(&registry, vec![]);
        let book = loader
            .load_playbook(&pb_path)
            .unwrap_or_else(|e| panic!("{e}"));
        let collect = Arc::new(Collect::default());
        let ex = Executor::new(inv, RunOptions::default(), collect.clone());
        ex.run_playbook(&book).await.unwrap();
        let results = collect.0.lock().clone();
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_batches() {
        let hosts: Vec<String> = (1..=7).map(|i| format!("h{i}")).collect();
        let b = batches(&hosts, &[Serial::Count(1), Serial::Count(2)]);
        assert_eq!(
            b.iter().map(|x| x.len()).collect::<Vec<_>>(),
            vec![1, 2, 2, 2]
        );
        let b = batches(&hosts, &[Serial::Percent(50.0)]);
        assert_eq!(b.iter().map(|x| x.len()).collect::<Vec<_>>(), vec![3, 3, 1]);
    }

    #[tokio::test]
    async fn with_subelements_over_registered_find_files() {
        let pb = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: find per dir
      find:
        paths: "{{ playbook_dir }}/{{ item }}"
        patterns: "*.conf"
      loop: [a, b]
      register: found
    - name: each file
      debug:
        msg: "{{ item.0.item }}:{{ item.1.path | basename }}:{{ item.1.size }}"
      with_subelements:
        - "{{ found.results }}"
        - files
    - name: one find
      find:
        paths: "{{ playbook_dir }}/a"
      register: one
    - name: its files
      debug:
        msg: "{{ item.1.path | basename }}"
      with_subelements:
        - ["{{ one }}"]
        - files
"#;
        let files = [
            ("a/x.conf", "12"),
            ("a/y.conf", ""),
            ("a/skip.txt", ""),
            ("b/z.conf", "123"),
        ];
        let results = testing::run_local(pb, &files).await;
        let msgs = |task: &str| -> Vec<String> {
            let mut m: Vec<String> = results
                .iter()
                .filter(|r| r.task == task)
                .map(|r| r.result["msg"].as_str().unwrap_or("?").to_string())
                .collect();
            m.sort();
            m
        };
        assert_eq!(
            msgs("each file"),
            ["a:x.conf:2", "a:y.conf:0", "b:z.conf:3"]
        );
        assert_eq!(msgs("its files"), ["skip.txt", "x.conf", "y.conf"]);
    }

    #[tokio::test]
    async fn templated_boolean_keywords() {
        let pb = r#"
- hosts: localhost
  gather_facts: false
  vars:
    hide: true
    show: "no"
  tasks:
    - name: hidden
      command: echo secret-1
      no_log: "{{ hide }}"
    - name: shown
      command: echo visible-2
      no_log: "{{ show }}"
    - name: block hides
      no_log: "{{ hide | bool }}"
      block:
        - name: inner
          command: echo secret-3
    - name: checked
      command: echo not-run
      check_mode: "{{ hide }}"
    - name: diffed
      debug:
        msg: "diff={{ ansible_diff_mode }}"
      diff: "{{ show }}"
    - name: not become
      command: id -un
      become: "{{ show }}"
    - name: bad become
      command: id -un
      become: "{{ nope }}"
      ignore_errors: true
"#;
        let results = testing::run_local(pb, &[]).await;
        let get = |name: &str| {
            results
                .iter()
                .find(|r| r.task == name)
                .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
        };
        let text = |name: &str| get(name).result.to_string();
        assert!(!text("hidden").contains("secret-1"), "{}", text("hidden"));
        assert!(text("hidden").contains("censored"));
        assert!(text("shown").contains("visible-2"));
        assert!(!text("inner").contains("secret-3"), "{}", text("inner"));
        // check_mode: command is skipped in check mode.
        assert_eq!(get("checked").result["skipped"], serde_json::json!(true));
        assert!(get("checked").result.get("stdout").is_none());
        assert_eq!(get("diffed").status, crate::output::Status::Ok);
        assert_eq!(get("not become").status, crate::output::Status::Changed);
        let bad = get("bad become");
        assert_eq!(bad.status, crate::output::Status::Failed);
        assert!(
            bad.msg
                .as_deref()
                .unwrap_or("")
                .contains("become: 'nope' is undefined"),
            "{bad:?}"
        );
    }
}

/// Loads the first existing file of a `vars_files` entry (alternatives separated by NUL)
/// into `into`, its name templated with `ctx`; relative to the play's directory.
fn load_vars_file(
    templar: &crate::template::Templar,
    dir: &std::path::Path,
    vf: &str,
    ctx: &Value,
    into: &mut IndexMap<String, Value>,
) -> Result<()> {
    let mut tried = Vec::new();
    for alt in vf.split('\u{0}') {
        let name = templar
            .render_string(alt, ctx)
            .map_err(|e| Error::usage(format!("vars_files entry {alt:?}: {}", e.message)))?;
        let path = dir.join(&name);
        tried.push(path.display().to_string());
        if path.is_file() {
            let node = crate::yaml::load_file(&path)?;
            if let Some(m) = node.as_map() {
                for (k, v) in m {
                    into.insert(k.key_string().unwrap_or_default(), v.to_value());
                }
            } else if !node.is_null() {
                return Err(node.error("a vars file must be a mapping"));
            }
            return Ok(());
        }
    }
    Err(Error::usage(format!(
        "vars file not found: {}",
        tried.join(" or ")
    )))
}
