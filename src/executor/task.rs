//! Running one task on one host: conditionals, loops, templated arguments, the module
//! call (with retries), `changed_when`/`failed_when`, `register`, `notify`, and the
//! result event. The engine's own actions are in engine_actions.rs, includes in include.rs.

use super::host::Learned;
use super::vars::{Layer, Scope};
use super::{Executor, Inherit};
use crate::modules::{Args, ModuleCtx, ModuleError, Outcome, SearchPaths};
use crate::output::{Event, HostResult, Status};
use crate::playbook::{Action, Flag, LoopControl, LoopSpec, Task, TaskKind};
use crate::ssh::{self, Connection};
use crate::template::{self, Templar, OMIT};
use indexmap::IndexMap;
use minijinja::Value;
use serde_json::{json, Map};
use std::sync::Arc;
use std::time::Duration;

const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// What a task leaves in the host's variables (for run_once propagation).
pub struct Registered {
    /// The variables the task registered (`register: name`, or each name of the
    /// mapping form) with their values.
    pub vars: Vec<(String, Value)>,
    pub value: Value,
    pub learned: Learned,
}

/// A task made by the engine (fact gathering).
pub fn synthetic_task(name: &str, module: &str) -> Task {
    let mut t = Task::new(
        crate::error::Span::file_start(std::path::Path::new("<internal>")),
        std::path::PathBuf::from("."),
        TaskKind::Action {
            action: Action::Module(module.to_string()),
            args: Value::from_pairs(IndexMap::<String, Value>::new()),
        },
    );
    t.name = Some(name.to_string());
    t.tags = vec!["always".into()];
    t.check_mode = Some(Flag::Const(false));
    t
}

/// One item's result.
struct ItemResult {
    status: Status,
    ignored: bool,
    result: Map<String, serde_json::Value>,
    changed: bool,
    failed: bool,
    unreachable: bool,
    diff: Vec<crate::output::FileDiff>,
    learned: Learned,
    msg: Option<String>,
}

impl Executor {
    fn magic(
        &self,
        run: &Arc<super::PlayRun>,
        host: &str,
        t: Option<&Task>,
    ) -> IndexMap<String, Value> {
        let play = &run.ctx;
        let live = run.live();
        let inv = self.inv.read();
        let mut m = IndexMap::new();
        m.insert("inventory_hostname".into(), Value::from(host));
        m.insert(
            "inventory_hostname_short".into(),
            Value::from(host.split('.').next().unwrap_or(host)),
        );
        let cached = self.inv_cache.read().group_names.get(host).cloned();
        let group_names = cached.unwrap_or_else(|| {
            let v = Value::from(inv.group_names(host));
            let mut c = self.inv_cache.write();
            c.group_names.insert(host.to_string(), v.clone());
            v
        });
        m.insert("group_names".into(), group_names);
        let cached = self.inv_cache.read().groups.clone();
        let groups = cached.unwrap_or_else(|| {
            let g: IndexMap<String, Vec<String>> = inv.groups_map();
            let v = Value::from_pairs(g.into_iter().map(|(k, v)| (k, Value::from(v))));
            self.inv_cache.write().groups = Some(v.clone());
            v
        });
        m.insert("groups".into(), groups);
        m.insert("play_hosts".into(), live.play_batch.clone());
        m.insert("ansible_play_hosts".into(), live.play_hosts.clone());
        m.insert("ansible_play_batch".into(), live.play_batch);
        m.insert("ansible_play_hosts_all".into(), live.play_hosts_all);
        m.insert(
            "ansible_play_name".into(),
            Value::from(play.play_name.clone()),
        );
        m.insert("playbook_dir".into(), Value::from(abs(&play.playbook_dir)));
        m.insert("omit".into(), Value::from(OMIT));
        m.insert("ansible_check_mode".into(), Value::from(self.opts.check));
        m.insert("ansible_diff_mode".into(), Value::from(self.opts.diff));
        m.insert("ansible_forks".into(), Value::from(self.opts.forks));
        m.insert("ansible_verbosity".into(), Value::from(self.opts.verbosity));
        m.insert(
            "ansible_run_tags".into(),
            Value::from(if self.opts.tags.is_empty() {
                vec!["all".to_string()]
            } else {
                self.opts.tags.clone()
            }),
        );
        m.insert(
            "ansible_skip_tags".into(),
            Value::from(self.opts.skip_tags.clone()),
        );
        m.insert(
            "ansible_version".into(),
            Value::from_pairs([
                ("full", Value::from("2.16.0")),
                ("major", Value::from(2)),
                ("minor", Value::from(16)),
                ("revision", Value::from(0)),
                ("string", Value::from("2.16.0")),
            ]),
        );
        if let Some(r) = t.and_then(|t| t.role.as_ref()) {
            m.insert("role_path".into(), Value::from(abs(&r.path)));
            m.insert("role_name".into(), Value::from(r.name.clone()));
        }
        let this = self.self_arc();
        let cached = self.inv_cache.read().host_names.clone();
        let names = cached.unwrap_or_else(|| {
            let n: Arc<Vec<String>> = Arc::new(inv.hosts.keys().cloned().collect());
            self.inv_cache.write().host_names = Some(n.clone());
            n
        });
        let run = run.clone();
        m.insert(
            "hostvars".into(),
            Value::from_object(super::vars::HostVars {
                lookup: Arc::new(move |h: &str| {
                    this.upgrade()
                        .and_then(|ex| ex.host_base_scope(&run, h))
                        .map(|s| s.value())
                }),
                names,
            }),
        );
        m
    }

    fn self_arc(&self) -> std::sync::Weak<Executor> {
        self.me.clone()
    }

    /// The variables of a host outside any task (for `hostvars[...]`).
    pub fn host_base_scope(&self, run: &super::PlayRun, host: &str) -> Option<Arc<Scope>> {
        let rt = self.host_rt(host)?;
        let inv_vars = self.inventory_layer(host)?;
        let play = &run.ctx;
        let d = rt.dynv.read();
        let mut magic = IndexMap::new();
        magic.insert("inventory_hostname".to_string(), Value::from(host));
        magic.insert(
            "ansible_facts".to_string(),
            Value::from_pairs(strip_facts(&d.facts)),
        );
        let layers: Vec<Layer> = vec![
            Arc::new(magic),
            self.extra_layer.clone(),
            Arc::new(d.set_facts.clone()),
            Arc::new(d.include_vars.clone()),
            play.role_vars_all.clone(),
            Arc::new(d.play_vars_files.clone()),
            play.play_vars.clone(),
            Arc::new(d.facts.clone()),
            inv_vars,
            play.role_defaults_all.clone(),
        ];
        Some(Scope::new(layers, self.templar.clone()))
    }

    /// The magic variables of a host outside any task (for per-host vars_files).
    pub(crate) fn magic_vars(
        &self,
        run: &Arc<super::PlayRun>,
        host: &str,
    ) -> IndexMap<String, Value> {
        self.magic(run, host, None)
    }

    /// The host's inventory variables as a layer (cached).
    pub(crate) fn inventory_vars(&self, host: &str) -> Option<Layer> {
        self.inventory_layer(host)
    }

    fn inventory_layer(&self, host: &str) -> Option<Layer> {
        if let Some(l) = self.inv_cache.read().host_layers.get(host) {
            return Some(l.clone());
        }
        let layer = self.build_inventory_layer(host)?;
        self.inv_cache
            .write()
            .host_layers
            .insert(host.to_string(), layer.clone());
        Some(layer)
    }

    fn build_inventory_layer(&self, host: &str) -> Option<Layer> {
        let inv = self.inv.read();
        if !inv.hosts.contains_key(host) {
            return None;
        }
        let mut m: IndexMap<String, Value> = inv
            .extra_vars_all
            .iter()
            .map(|(k, v)| (k.clone(), template::from_json(v)))
            .collect();
        for (k, v) in inv.host_vars(host) {
            m.insert(k, template::from_json(&v));
        }
        Some(Arc::new(m))
    }

    /// Builds the variable scope of a task on a host (Ansible's precedence, highest first).
    pub fn scope_for(
        &self,
        t: &Task,
        host: &str,
        inherit: &Inherit,
        top: Option<IndexMap<String, Value>>,
    ) -> Arc<Scope> {
        let play = &inherit.play.ctx;
        let rt = self.host_rt(host);
        let (facts, set_facts, include_vars, rescue_vars, host_vars_files) = match &rt {
            Some(rt) => {
                let d = rt.dynv.read();
                (
                    d.facts.clone(),
                    d.set_facts.clone(),
                    d.include_vars.clone(),
                    d.rescue_vars.clone(),
                    d.play_vars_files.clone(),
                )
            }
            None => Default::default(),
        };
        let mut magic = self.magic(&inherit.play, host, Some(t));
        magic.insert(
            "ansible_facts".into(),
            Value::from_pairs(strip_facts(&facts)),
        );
        let mut layers: Vec<Layer> = Vec::with_capacity(16);
        if let Some(top) = top {
            layers.push(Arc::new(top));
        }
        layers.push(Arc::new(magic));
        if !rescue_vars.is_empty() {
            layers.push(Arc::new(rescue_vars));
        }
        layers.push(self.extra_layer.clone());
        if !inherit.include_params.is_empty() {
            layers.push(Arc::new(inherit.include_params.clone()));
        }
        if let Some(r) = &t.role {
            if !r.params.is_empty() {
                layers.push(Arc::new(r.params.clone()));
            }
        }
        layers.push(Arc::new(set_facts));
        layers.push(Arc::new(include_vars));
        if !t.vars.is_empty() {
            layers.push(Arc::new(t.vars.clone()));
        }
        if !inherit.vars.is_empty() {
            layers.push(Arc::new(inherit.vars.clone()));
        }
        if let Some(r) = &t.role {
            layers.push(Arc::new(r.vars.clone()));
        }
        layers.push(play.role_vars_all.clone());
        if !host_vars_files.is_empty() {
            layers.push(Arc::new(host_vars_files));
        }
        layers.push(play.play_vars.clone());
        layers.push(Arc::new(facts));
        if let Some(l) = self.inventory_layer(host) {
            layers.push(l);
        }
        if let Some(r) = &t.role {
            layers.push(Arc::new(r.defaults.clone()));
        }
        layers.push(play.role_defaults_all.clone());
        let mut base = IndexMap::new();
        base.insert(
            "ansible_managed".to_string(),
            Value::from("Ansible managed"),
        );
        layers.push(Arc::new(base));
        Scope::new(layers, self.templar.clone())
    }

    /// Evaluates inherited and own `when:` for a host (no loop item).
    pub fn when_ok_for(&self, t: &Task, inherit: &Inherit, host: &str) -> bool {
        let scope = self.scope_for(t, host, inherit, None);
        let conds: Vec<&String> = inherit.when.iter().chain(t.when.iter()).collect();
        conds.iter().all(|c| {
            self.templar
                .eval_condition(c, &scope.value())
                .unwrap_or(false)
        })
    }

    /// The task's name as shown: a name with `{{ }}` is rendered with the host's
    /// variables (role parameters included), as Ansible shows it; if it cannot be
    /// rendered it is shown as written.
    pub fn shown_name(&self, t: &Task, host: &str, inherit: &Inherit) -> String {
        let name = t.display_name();
        if !name.contains("{{") {
            return name;
        }
        let scope = self.scope_for(t, host, inherit, None);
        self.templar
            .render_string(&name, &scope.value())
            .unwrap_or(name)
    }

    /// Runs a task on one host; emits its result; returns what it registered.
    pub async fn run_task_host(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        inherit: &Inherit,
        handler: bool,
    ) -> Option<Registered> {
        let rt = self.host_rt(host)?;
        let name = self.shown_name(t, host, inherit);
        let scope = self.scope_for(t, host, inherit, None);
        let no_log = self.no_log(t, inherit, &scope);
        let action = match &t.kind {
            TaskKind::Action { action, .. } => action.clone(),
            _ => return None,
        };
        // Inherited conditions (blocks, roles, includes) apply before the loop.
        for c in &inherit.when {
            match self.templar.eval_condition(c, &scope.value()) {
                Ok(true) => {}
                Ok(false) => {
                    self.report_skip(&rt, &name, host, t.action());
                    return None;
                }
                Err(e) => {
                    self.report_fail(
                        &rt,
                        &name,
                        host,
                        format!("The conditional check '{c}' failed: {}", e.message),
                        t,
                        inherit,
                        &scope,
                        no_log,
                    );
                    return None;
                }
            }
        }
        let items: Option<Vec<Value>> = match &t.loop_ {
            None => None,
            Some(spec) => match self.loop_items(spec, &scope) {
                Ok(items) => Some(items),
                Err(msg) => {
                    // A loop over an undefined variable skipped by `when` is not an error.
                    if !t.when.is_empty()
                        && !t.when.iter().all(|c| {
                            self.templar
                                .eval_condition(c, &scope.value())
                                .unwrap_or(true)
                        })
                    {
                        self.report_skip(&rt, &name, host, t.action());
                        return None;
                    }
                    self.report_fail(&rt, &name, host, msg, t, inherit, &scope, no_log);
                    return None;
                }
            },
        };
        let mut results: Vec<(Option<String>, ItemResult)> = Vec::new();
        match &items {
            None => {
                let r = self.run_item(t, host, inherit, &scope, &action, None).await;
                results.push((None, r));
            }
            Some(items) => {
                let lc = &t.loop_control;
                let loop_var = lc.loop_var.clone().unwrap_or_else(|| "item".into());
                for (i, item) in items.iter().enumerate() {
                    let iscope = scope.with_top(loop_vars(lc, items, i));
                    let label = match &lc.label {
                        Some(l) => self
                            .templar
                            .render_string(l, &iscope.value())
                            .unwrap_or_else(|_| l.clone()),
                        None => label_of(item),
                    };
                    let mut r = self
                        .run_item(t, host, inherit, &iscope, &action, Some(&loop_var))
                        .await;
                    r.result.insert(loop_var.clone(), template::to_json(item));
                    r.result.insert("ansible_loop_var".into(), json!(loop_var));
                    if let Some(iv) = &lc.index_var {
                        r.result.insert(iv.clone(), json!(i));
                        r.result.insert("ansible_index_var".into(), json!(iv));
                    }
                    let unreachable = r.unreachable;
                    let label = if no_log { "None".to_string() } else { label };
                    results.push((Some(label), r));
                    if unreachable {
                        break;
                    }
                    if let Some(p) = lc.pause {
                        tokio::time::sleep(Duration::from_secs_f64(p.min(3600.0))).await;
                    }
                }
            }
        }
        self.finish_task(
            t,
            &rt,
            host,
            &name,
            inherit,
            handler,
            no_log,
            items.is_some(),
            results,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_task(
        &self,
        t: &Task,
        rt: &Arc<super::host::HostRt>,
        host: &str,
        name: &str,
        inherit: &Inherit,
        handler: bool,
        no_log: bool,
        looped: bool,
        results: Vec<(Option<String>, ItemResult)>,
    ) -> Option<Registered> {
        let _ = handler;
        let delegated_to = t
            .delegate_to
            .clone()
            .or_else(|| inherit.delegate_to.clone());
        let any_changed = results.iter().any(|(_, r)| r.changed);
        let any_failed = results.iter().any(|(_, r)| r.failed && !r.ignored);
        let any_ignored = results.iter().any(|(_, r)| r.failed && r.ignored);
        let unreachable = results.iter().any(|(_, r)| r.unreachable);
        let all_skipped =
            !results.is_empty() && results.iter().all(|(_, r)| r.status == Status::Skipped);
        let mut learned = Learned::default();
        for (_, r) in &results {
            learned.extend(&r.learned);
        }
        // Events: one per item (or one).
        for (label, r) in &results {
            let result = if no_log {
                json!({"censored": CENSORED, "changed": r.changed})
            } else {
                serde_json::Value::Object(r.result.clone())
            };
            self.emit(Event::HostResult(HostResult {
                host: host.to_string(),
                task: name.to_string(),
                action: t.action().to_string(),
                status: r.status,
                ignored: r.ignored,
                item: label.clone(),
                delegated_to: delegated_to.clone(),
                msg: if no_log { None } else { r.msg.clone() },
                result,
                diff: if no_log { vec![] } else { r.diff.clone() },
            }));
        }
        if looped && results.is_empty() {
            self.emit(Event::HostResult(HostResult {
                host: host.to_string(),
                task: name.to_string(),
                action: t.action().to_string(),
                status: Status::Skipped,
                ignored: false,
                item: None,
                delegated_to: None,
                msg: Some("No items in the list".into()),
                result: json!({"skipped": true, "skipped_reason": "No items in the list"}),
                diff: vec![],
            }));
        }
        // Register value: as ansible-core, every registered result says whether it
        // failed (the events leave `failed: false` out, as ansible-playbook's display does)
        let registered_result = |r: &ItemResult| {
            let mut m = r.result.clone();
            m.entry("failed").or_insert(json!(false));
            serde_json::Value::Object(m)
        };
        let reg_value: serde_json::Value = if looped {
            // as ansible-core: `skipped` only when every item was skipped
            let mut v = json!({
                "changed": any_changed,
                "failed": any_failed,
                "msg": if any_failed { "One or more items failed" } else if all_skipped || results.is_empty() { "All items skipped" } else { "All items completed" },
                "results": results.iter().map(|(_, r)| registered_result(r)).collect::<Vec<_>>(),
            });
            if all_skipped || results.is_empty() {
                v["skipped"] = json!(true);
            }
            v
        } else {
            results
                .first()
                .map(|(_, r)| registered_result(r))
                .unwrap_or(json!({}))
        };
        let reg_value = template::from_json(&reg_value);
        let mut registered: Vec<(String, Value)> = Vec::new();
        if let Some(reg) = &t.register {
            registered.push((reg.clone(), reg_value.clone()));
        }
        if !t.register_exprs.is_empty() {
            let last = results
                .last()
                .map(|(_, r)| template::from_json(&registered_result(r)))
                .unwrap_or_else(|| template::from_json(&json!({})));
            let cur = current_task(&last, looped.then_some(&reg_value));
            let mut top = IndexMap::new();
            top.insert("_task".to_string(), cur);
            let scope = self.scope_for(t, host, inherit, None).with_top(top);
            registered.extend(projections(&self.templar, t, &scope.value()));
        }
        {
            let mut dv = rt.dynv.write();
            for (name, v) in &registered {
                dv.set_facts.insert(name.clone(), v.clone());
            }
        }
        {
            // delegate_facts: the facts go to the delegated host (register stays here)
            let owner = match (&delegated_to, t.delegate_facts) {
                (Some(d), true) => {
                    let scope = self.scope_for(t, host, inherit, None);
                    self.templar
                        .render_string(d, &scope.value())
                        .ok()
                        .and_then(|name| self.host_rt(&name))
                        .unwrap_or_else(|| rt.clone())
                }
                _ => rt.clone(),
            };
            owner.learn(&learned);
        }
        // Stats.
        let mut failure = None;
        {
            let mut st = rt.st.lock();
            if unreachable {
                if t.ignore_unreachable {
                    st.stats.skipped += 1;
                } else {
                    st.stats.unreachable += 1;
                    st.unreachable = true;
                }
            } else if any_failed {
                st.stats.failed += 1;
                st.failed_in_play = true;
                failure = Some((failed_task_value(t, name), reg_value.clone()));
            } else if all_skipped || (looped && results.is_empty()) {
                st.stats.skipped += 1;
            } else {
                if any_ignored {
                    st.stats.ignored += 1;
                }
                st.stats.ok += 1;
                if any_changed {
                    st.stats.changed += 1;
                }
            }
            if any_changed && !any_failed && !unreachable {
                for n in t.notify.iter().chain(inherit.notify.iter()) {
                    st.notified.insert(n.clone());
                }
            }
        }
        if failure.is_some() {
            // (taken after the state lock is released: never both at once)
            rt.dynv.write().last_failure = failure;
        }
        Some(Registered {
            vars: registered,
            value: reg_value,
            learned,
        })
    }

    pub(super) fn report_skip(
        &self,
        rt: &Arc<super::host::HostRt>,
        name: &str,
        host: &str,
        action: &str,
    ) {
        rt.count_skipped();
        self.emit(Event::HostResult(HostResult {
            host: host.to_string(),
            task: name.to_string(),
                action: action.to_string(),
            status: Status::Skipped,
            ignored: false,
            item: None,
            delegated_to: None,
            msg: None,
            result: json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}),
            diff: vec![],
        }));
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn report_fail(
        &self,
        rt: &Arc<super::host::HostRt>,
        name: &str,
        host: &str,
        msg: String,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
        no_log: bool,
    ) {
        let ignored = self.ignore_errors(t, inherit, scope);
        {
            let mut st = rt.st.lock();
            if ignored {
                st.stats.ignored += 1;
                st.stats.ok += 1;
            } else {
                st.stats.failed += 1;
                st.failed_in_play = true;
            }
        }
        if !ignored {
            let result = if no_log {
                json!({"failed": true, "censored": CENSORED})
            } else {
                json!({"failed": true, "msg": msg})
            };
            rt.dynv.write().last_failure =
                Some((failed_task_value(t, name), template::from_json(&result)));
        }
        self.emit(Event::HostResult(HostResult {
            host: host.to_string(),
            task: name.to_string(),
            action: t.action().to_string(),
            status: Status::Failed,
            ignored,
            item: None,
            delegated_to: None,
            msg: if no_log { None } else { Some(msg.clone()) },
            result: if no_log {
                json!({"censored": CENSORED})
            } else {
                json!({"failed": true, "msg": msg})
            },
            diff: vec![],
        }));
    }

    /// Whether the task's results are censored on this host: its own or an enclosing
    /// `no_log` is true. A `no_log` template that cannot be evaluated censors.
    fn no_log(&self, t: &Task, inherit: &Inherit, scope: &Arc<Scope>) -> bool {
        let ctx = scope.value();
        std::iter::once(&t.no_log)
            .chain(&inherit.no_log)
            .any(|f| f.eval(&self.templar, &ctx).unwrap_or(true))
    }

    fn ignore_errors(&self, t: &Task, inherit: &Inherit, scope: &Arc<Scope>) -> bool {
        let v = t
            .ignore_errors
            .clone()
            .or_else(|| inherit.ignore_errors.clone());
        match v {
            None => inherit.play.ctx.ignore_errors,
            Some(v) => match v.as_str() {
                Some(s) => self
                    .templar
                    .eval_condition(s, &scope.value())
                    .unwrap_or(false),
                None => v.is_true(),
            },
        }
    }

    pub(super) fn loop_items(
        &self,
        spec: &LoopSpec,
        scope: &Arc<Scope>,
    ) -> Result<Vec<Value>, String> {
        let ctx = scope.value();
        let render = |v: &Value| -> Result<Value, String> {
            self.templar.render_value(v, &ctx).map_err(|e| e.message)
        };
        let as_list = |v: Value| -> Result<Vec<Value>, String> {
            if v.is_undefined() || v.is_none() {
                return Err("Invalid data passed to 'loop', it requires a list".into());
            }
            if let Some(s) = v.as_str() {
                return Ok(vec![Value::from(s)]);
            }
            match v.try_iter() {
                Ok(it) if v.kind() == minijinja::value::ValueKind::Seq => Ok(it.collect()),
                _ => Err(format!(
                    "Invalid data passed to 'loop', it requires a list, got this instead: {v}"
                )),
            }
        };
        match spec {
            LoopSpec::Loop(v) => as_list(render(v)?),
            LoopSpec::With(kind, terms) => {
                let terms = render(terms)?;
                match kind.as_str() {
                    "items" => {
                        let list = if terms.kind() == minijinja::value::ValueKind::Seq {
                            terms.try_iter().map_err(|e| e.to_string())?.collect()
                        } else {
                            vec![terms]
                        };
                        let mut out = Vec::new();
                        for i in list {
                            if i.kind() == minijinja::value::ValueKind::Seq {
                                out.extend(i.try_iter().map_err(|e| e.to_string())?);
                            } else {
                                out.push(i);
                            }
                        }
                        Ok(out)
                    }
                    "list" => as_list(terms),
                    "dict" => {
                        let mut out = Vec::new();
                        for k in terms.try_iter().map_err(|e| e.to_string())? {
                            let v = terms.get_item(&k).map_err(|e| e.to_string())?;
                            out.push(Value::from_pairs([("key", k), ("value", v)]));
                        }
                        Ok(out)
                    }
                    "indexed_items" => Ok(as_list(terms)?
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| Value::from(vec![Value::from(i), v]))
                        .collect()),
                    other => {
                        let mut top = IndexMap::new();
                        let args = if terms.kind() == minijinja::value::ValueKind::Seq {
                            terms
                        } else {
                            Value::from(vec![terms])
                        };
                        top.insert("__rd_terms".to_string(), args);
                        let s2 = scope.with_top(top);
                        let v = self
                            .templar
                            .eval_expr(&format!("query('{other}', *__rd_terms)"), &s2.value())
                            .map_err(|e| format!("with_{other}: {}", e.message))?;
                        as_list(v)
                    }
                }
            }
        }
    }

    /// Runs one (possibly looped) item: when, args, module (with until), changed/failed_when.
    async fn run_item(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        inherit: &Inherit,
        scope: &Arc<Scope>,
        action: &Action,
        _loop_var: Option<&String>,
    ) -> ItemResult {
        let mut r = ItemResult {
            status: Status::Ok,
            ignored: false,
            result: Map::new(),
            changed: false,
            failed: false,
            unreachable: false,
            diff: vec![],
            learned: Learned::default(),
            msg: None,
        };
        let ctx = scope.value();
        for c in &t.when {
            match self.templar.eval_condition(c, &ctx) {
                Ok(true) => {}
                Ok(false) => {
                    r.status = Status::Skipped;
                    r.result.insert("changed".into(), json!(false));
                    r.result.insert("skipped".into(), json!(true));
                    r.result
                        .insert("skip_reason".into(), json!("Conditional result was False"));
                    r.result.insert("false_condition".into(), json!(c));
                    return r;
                }
                Err(e) => {
                    return self.item_failed(
                        t,
                        inherit,
                        scope,
                        format!(
                            "The conditional check '{c}' failed. The error was: {}",
                            e.message
                        ),
                    )
                }
            }
        }
        let args = match &t.kind {
            TaskKind::Action { args, .. } => args.clone(),
            _ => Value::from(()),
        };
        let rendered = match self.templar.render_value(&args, &ctx) {
            Ok(v) => v,
            Err(e) => {
                return self.item_failed(t, inherit, scope, format!("{}: {}", t.span, e.detailed()))
            }
        };
        let mut amap = match template::to_json(&rendered) {
            serde_json::Value::Object(m) => m,
            _ => Map::new(),
        };
        strip_omit(&mut amap);
        let args = Args::new(amap);
        // As ansible-core: `retries` more attempts after the first (3 when `until` is
        // given without it); `retries` without `until` retries until the task succeeds.
        let retries = match (&t.until, &t.retries) {
            (_, Some(v)) => self
                .templar
                .render_value(v, &ctx)
                .ok()
                .and_then(|v| {
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                })
                .map(|n| n.max(0) as usize),
            (Some(_), None) => Some(3),
            (None, None) => None,
        }
        .filter(|n| *n > 0);
        let delay = t
            .delay
            .as_ref()
            .and_then(|v| self.templar.render_value(v, &ctx).ok())
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(5)
            .max(0) as u64;
        let mut attempt = 0usize;
        loop {
            let outcome = self
                .call_module(t, host, inherit, scope, action, &args)
                .await;
            let res = match outcome {
                Err(ModuleError::Unreachable(e)) => {
                    r.unreachable = true;
                    r.status = Status::Unreachable;
                    r.msg = Some(e.to_string());
                    r.result.insert("unreachable".into(), json!(true));
                    r.result.insert("msg".into(), json!(e.to_string()));
                    r.result.insert("changed".into(), json!(false));
                    return r;
                }
                Err(ModuleError::Failed(msg)) => (Outcome::failed(msg), Learned::default()),
                Ok(o) => o,
            };
            let (mut res, learned) = res;
            if res.skipped {
                r.status = Status::Skipped;
            }
            // Build the result map.
            let mut m = std::mem::take(&mut res.data);
            m.insert("changed".into(), json!(res.changed));
            if res.failed {
                m.insert("failed".into(), json!(true));
            }
            if res.skipped {
                m.insert("skipped".into(), json!(true));
            }
            if let Some(msg) = &res.msg {
                m.entry("msg").or_insert_with(|| json!(msg));
            }
            if !res.facts.is_empty() {
                m.insert(
                    "ansible_facts".into(),
                    serde_json::Value::Object(res.facts.clone()),
                );
            }
            let mut changed = res.changed;
            let mut failed = res.failed;
            if retries.is_some() {
                // available to changed_when/failed_when/until, as in ansible-core
                m.insert("attempts".into(), json!(attempt + 1));
            }
            // changed_when / failed_when / until see the result under the register name.
            let needs_eval =
                t.changed_when.is_some() || t.failed_when.is_some() || retries.is_some();
            if needs_eval {
                let mut top = IndexMap::new();
                let rv = template::from_json(&serde_json::Value::Object(m.clone()));
                if let Some(reg) = &t.register {
                    top.insert(reg.clone(), rv.clone());
                }
                // ansible-core 2.19+: `_task.result` in conditionals, and the names of
                // `register:`'s mapping form, projected from it
                let cur = current_task(&rv, None);
                top.insert("_task".into(), cur.clone());
                if !t.register_exprs.is_empty() {
                    let s1 = scope.with_top(top.clone());
                    for (name, v) in projections(&self.templar, t, &s1.value()) {
                        top.insert(name, v);
                    }
                }
                for (k, v) in m.iter() {
                    top.entry(k.clone())
                        .or_insert_with(|| template::from_json(v));
                }
                let s2 = scope.with_top(top);
                let c2 = s2.value();
                if let Some(conds) = &t.changed_when {
                    match all_true(&self.templar, conds, &c2) {
                        Ok(v) => changed = v,
                        Err(e) => return self.item_failed(t, inherit, scope, e),
                    }
                }
                if let Some(conds) = &t.failed_when {
                    match all_true(&self.templar, conds, &c2) {
                        Ok(v) => failed = v,
                        Err(e) => return self.item_failed(t, inherit, scope, e),
                    }
                    // as ansible-core: the registered result says `failed: false`
                    m.insert("failed".into(), json!(failed));
                }
                // A module that skipped itself (e.g. no check mode) is not retried:
                // waiting cannot change its answer.
                if let Some(max) = retries.filter(|_| !res.skipped) {
                    let done = match &t.until {
                        Some(conds) => match all_true(&self.templar, conds, &c2) {
                            Ok(v) => v,
                            Err(e) => {
                                let e = format!("An 'until' expression failed. {e}");
                                return self.item_failed(t, inherit, scope, e);
                            }
                        },
                        None => !failed,
                    };
                    if !done && attempt < max {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_secs(delay.min(3600))).await;
                        continue;
                    }
                    if !done {
                        // ran out of attempts: ansible-core reports `attempts` = retries
                        failed = true;
                        m.insert("attempts".into(), json!(max));
                        m.entry("msg").or_insert_with(|| {
                            json!(format!(
                                "Retried {max} times; the until condition was never met"
                            ))
                        });
                    }
                }
            }
            m.insert("changed".into(), json!(changed));
            if failed {
                m.insert("failed".into(), json!(true));
            }
            r.changed = changed && !failed;
            r.failed = failed;
            r.msg = m.get("msg").and_then(|v| v.as_str().map(str::to_string));
            r.diff = res.diff;
            r.learned = learned;
            r.result = m;
            r.status = if failed {
                Status::Failed
            } else if r.status == Status::Skipped {
                Status::Skipped
            } else if changed {
                Status::Changed
            } else {
                Status::Ok
            };
            if failed {
                r.ignored = self.ignore_errors(t, inherit, scope);
                // an ignored failure that changed something counts as changed (ansible-core)
                r.changed = changed && r.ignored;
            }
            return r;
        }
    }

    fn item_failed(
        &self,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
        msg: String,
    ) -> ItemResult {
        let mut result = Map::new();
        result.insert("failed".into(), json!(true));
        result.insert("changed".into(), json!(false));
        result.insert("msg".into(), json!(msg));
        ItemResult {
            status: Status::Failed,
            ignored: self.ignore_errors(t, inherit, scope),
            result,
            changed: false,
            failed: true,
            unreachable: false,
            diff: vec![],
            learned: Learned::default(),
            msg: Some(msg),
        }
    }

    /// Calls a module (or an executor action) for one item.
    async fn call_module(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        inherit: &Inherit,
        scope: &Arc<Scope>,
        action: &Action,
        args: &Args,
    ) -> Result<(Outcome, Learned), ModuleError> {
        let async_spec = super::async_task::AsyncSpec::of(&self.templar, t, &scope.value())?;
        if async_spec.is_some() {
            if let Some(msg) = super::async_task::refusal(action.name()) {
                return Err(ModuleError::failed(msg));
            }
        }
        let module = match action {
            Action::Engine(e) => return self.engine_action(*e, t, host, inherit, args),
            Action::Module(m) => m,
        };
        let m = self.registry.get(module).ok_or_else(|| {
            ModuleError::failed(crate::modules::known::unknown_module_message(module))
        })?;
        let flag = |f: &Flag, what: &str| {
            f.eval(&self.templar, &scope.value())
                .map_err(|e| ModuleError::failed(format!("{what}: {}", e.message)))
        };
        let check_mode = match t.check_mode.as_ref().or(inherit.check_mode.as_ref()) {
            Some(f) => flag(f, "check_mode")?,
            None => inherit.play.ctx.check_mode.unwrap_or(self.opts.check),
        };
        let diff_mode = match &t.diff {
            Some(f) => flag(f, "diff")?,
            None => self.opts.diff,
        };
        let environment = self.environment(t, inherit, scope)?;
        let become_ = self.become_for(t, inherit, scope)?;
        let conn: Arc<dyn Connection> = if m.on_controller() {
            Arc::new(ssh::local::LocalConnection)
        } else {
            let delegate = t
                .delegate_to
                .clone()
                .or_else(|| inherit.delegate_to.clone());
            match delegate {
                Some(d) => {
                    let d = self
                        .templar
                        .render_string(&d, &scope.value())
                        .map_err(|e| ModuleError::failed(e.message))?;
                    self.delegate_connection(&d, &inherit.play).await?
                }
                None => self.connection(host, t, inherit, scope).await?,
            }
        };
        let search = SearchPaths {
            role_dir: t.role.as_ref().map(|r| r.path.clone()),
            playbook_dir: t.dir.clone(),
        };
        let vars = scope.value();
        let timeout = t
            .timeout
            .map(Duration::from_secs)
            .or(self.opts.task_timeout);
        let ctx = ModuleCtx {
            host,
            conn,
            become_: become_.as_ref(),
            environment: &environment,
            check_mode,
            diff_mode,
            templar: &self.templar,
            vars: &vars,
            search: &search,
            timeout,
            output: None,
        };
        let outcome = if let Some(spec) = async_spec {
            super::async_task::run(m.as_ref(), &ctx, args, spec).await?
        } else if !self.opts.stream_output {
            m.run(&ctx, args).await?
        } else {
            let (sink, lines) = super::stream::start(self.reporter.clone(), host);
            let ctx = ModuleCtx {
                output: Some(sink),
                ..ctx
            };
            let r = m.run(&ctx, args).await;
            drop(ctx);
            // Every line is out before the task's result.
            let _ = lines.await;
            r?
        };
        let learned = Learned {
            facts: outcome
                .facts
                .iter()
                .map(|(k, v)| (k.clone(), template::from_json(v)))
                .collect(),
            ..Default::default()
        };
        Ok((outcome, learned))
    }

    fn environment(
        &self,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
    ) -> Result<Vec<(String, String)>, ModuleError> {
        let play_env = inherit.play.ctx.environment.clone();
        let mut out: IndexMap<String, String> = IndexMap::new();
        let all: Vec<Value> = play_env
            .into_iter()
            .chain(inherit.environment.iter().cloned())
            .chain(t.environment.iter().cloned())
            .collect();
        for e in all {
            let v = self
                .templar
                .render_value(&e, &scope.value())
                .map_err(|e| ModuleError::failed(format!("environment: {}", e.message)))?;
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let val = v.get_item(&k).unwrap_or_default();
                    let s = match val.as_str() {
                        Some(s) => s.to_string(),
                        None => val.to_string(),
                    };
                    if s != OMIT {
                        out.insert(k.to_string(), s);
                    }
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    pub(super) fn var_str(&self, scope: &Arc<Scope>, names: &[&str]) -> Option<String> {
        for n in names {
            if let Some(v) = scope.get(n) {
                if v.is_undefined() || v.is_none() {
                    continue;
                }
                return Some(match v.as_str() {
                    Some(s) => s.to_string(),
                    None => v.to_string(),
                });
            }
        }
        None
    }

    /// Privilege escalation for the task on this host; a `become:` template that cannot
    /// be evaluated fails the task rather than running it as the connecting user.
    fn become_for(
        &self,
        t: &Task,
        inherit: &Inherit,
        scope: &Arc<Scope>,
    ) -> Result<Option<ssh::Become>, ModuleError> {
        let play_become = inherit.play.ctx.become_.clone();
        let b = t.become_.over(&inherit.become_).over(&play_become);
        let on = match &b.become_ {
            Some(f) => f
                .eval(&self.templar, &scope.value())
                .map_err(|e| ModuleError::failed(format!("become: {}", e.message)))?,
            None => self
                .var_str(scope, &["ansible_become"])
                .is_some_and(|s| crate::template::truthy(&Value::from(s))),
        };
        if !on {
            return Ok(None);
        }
        let user = b
            .user
            .clone()
            .or_else(|| self.var_str(scope, &["ansible_become_user"]))
            .unwrap_or_else(|| "root".into());
        let user = self
            .templar
            .render_string(&user, &scope.value())
            .unwrap_or(user);
        let method = b
            .method
            .clone()
            .or_else(|| self.var_str(scope, &["ansible_become_method"]))
            .unwrap_or_else(|| "sudo".into());
        let password = self.opts.become_password.clone().or_else(|| {
            self.var_str(
                scope,
                &[
                    "ansible_become_password",
                    "ansible_become_pass",
                    "ansible_sudo_pass",
                ],
            )
        });
        Ok(Some(ssh::Become {
            method: if method == "su" {
                ssh::BecomeMethod::Su
            } else {
                ssh::BecomeMethod::Sudo
            },
            user,
            password,
            flags: b
                .flags
                .clone()
                .or_else(|| self.var_str(scope, &["ansible_become_flags"])),
        }))
    }
}

/// `ansible_failed_task`: the failed task's name and action (a subset of what Ansible
/// gives: `name`, `action`).
fn failed_task_value(t: &Task, shown: &str) -> Value {
    Value::from_pairs([
        (
            "name",
            Value::from(t.name.clone().unwrap_or_else(|| shown.to_string())),
        ),
        ("action", Value::from(t.action().to_string())),
    ])
}

/// The variables one loop item sees: the loop variable, `ansible_loop_var`, the index
/// variable, and `ansible_loop` (with `allitems`, `previtem`, `nextitem` when
/// `loop_control.extended` is set, as in Ansible).
pub(super) fn loop_vars(lc: &LoopControl, items: &[Value], i: usize) -> IndexMap<String, Value> {
    let loop_var = lc.loop_var.clone().unwrap_or_else(|| "item".into());
    let n = items.len();
    let mut top = IndexMap::new();
    top.insert(loop_var.clone(), items[i].clone());
    top.insert("ansible_loop_var".to_string(), Value::from(loop_var));
    if let Some(iv) = &lc.index_var {
        top.insert(iv.clone(), Value::from(i));
    }
    let mut info = vec![
        ("index", Value::from(i + 1)),
        ("index0", Value::from(i)),
        ("first", Value::from(i == 0)),
        ("last", Value::from(i + 1 == n)),
        ("length", Value::from(n)),
        ("revindex", Value::from(n - i)),
        ("revindex0", Value::from(n - i - 1)),
    ];
    if lc.extended {
        info.push(("allitems", Value::from(items.to_vec())));
        if i > 0 {
            info.push(("previtem", items[i - 1].clone()));
        }
        if i + 1 < n {
            info.push(("nextitem", items[i + 1].clone()));
        }
    }
    top.insert("ansible_loop".to_string(), Value::from_pairs(info));
    top
}

fn all_true(templar: &Templar, conds: &[String], ctx: &Value) -> Result<bool, String> {
    for c in conds {
        match templar.eval_condition(c, ctx) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => {
                return Err(format!(
                    "The conditional check '{c}' failed. The error was: {}",
                    e.message
                ))
            }
        }
    }
    Ok(true)
}

/// Drops arguments equal to `omit` (recursively in mappings).
fn strip_omit(m: &mut Map<String, serde_json::Value>) {
    m.retain(|_, v| v.as_str() != Some(OMIT));
    for v in m.values_mut() {
        if let serde_json::Value::Object(inner) = v {
            strip_omit(inner);
        }
    }
}

fn strip_facts(facts: &IndexMap<String, Value>) -> Vec<(String, Value)> {
    facts
        .iter()
        .map(|(k, v)| {
            (
                k.strip_prefix("ansible_").unwrap_or(k).to_string(),
                v.clone(),
            )
        })
        .collect()
}

fn label_of(item: &Value) -> String {
    match item.as_str() {
        Some(s) => s.to_string(),
        None => {
            serde_json::to_string(&template::to_json(item)).unwrap_or_else(|_| item.to_string())
        }
    }
}

fn abs(p: &std::path::Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// `_task` as ansible-core 2.21 exposes it (`_internal/_task.py` CurrentTask): `result`
/// (the latest result: the current attempt, or the last item), `loop_result` (the whole
/// loop's, once it ran) and `polymorphic_result` (the loop's for a loop, else the result).
fn current_task(result: &Value, loop_result: Option<&Value>) -> Value {
    let mut m: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    m.insert("result".to_string(), result.clone());
    if let Some(l) = loop_result {
        m.insert("loop_result".to_string(), l.clone());
    }
    m.insert(
        "polymorphic_result".to_string(),
        loop_result.unwrap_or(result).clone(),
    );
    Value::from(m)
}

/// The values of `register:`'s mapping form over `ctx` (which holds `_task`). An
/// expression that fails leaves its variable undefined, as in ansible-core.
fn projections(templar: &Templar, t: &Task, ctx: &Value) -> Vec<(String, Value)> {
    t.register_exprs
        .iter()
        .filter_map(|(name, expr)| templar.eval_expr(expr, ctx).ok().map(|v| (name.clone(), v)))
        .collect()
}
