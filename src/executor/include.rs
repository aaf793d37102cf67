//! Dynamic includes (`include_tasks`, `include_role`): loaded per host when they run,
//! with `loop`, `apply:` and the include's variables, hosts that resolve to the same
//! file (and item) running it together.

use super::task::loop_vars;
use super::{Executor, Inherit};
use crate::output::{Event, HostResult, Status};
use crate::playbook::{Task, TaskKind};
use indexmap::IndexMap;
use minijinja::Value;
use serde_json::json;
use std::sync::Arc;

impl Executor {
    /// Runs a dynamic include (tasks or role) for the hosts whose `when` holds, grouped
    /// by the file each host resolves to.
    pub async fn run_include(
        self: &Arc<Self>,
        t: &Task,
        hosts: &[String],
        inherit: &Inherit,
        handler: bool,
    ) {
        let eff_tags: Vec<String> = inherit.tags.iter().chain(t.tags.iter()).cloned().collect();
        if !self.tags_match(&eff_tags, false) || hosts.is_empty() {
            return;
        }
        self.emit(Event::TaskStart {
            name: self.shown_name(t, &hosts[0], inherit),
            action: t.action().to_string(),
            hosts: hosts.len(),
            handler,
        });
        let loader = crate::playbook::loader::Loader::new(&self.registry, self.roles_path.clone());
        let mut groups: IndexMap<String, (Vec<String>, Vec<Task>, IndexMap<String, Value>)> =
            IndexMap::new();
        for h in hosts {
            let base = self.scope_for(t, h, inherit, None);
            // `loop` on an include: the file is included once per item, with the item's
            // variables; hosts with the same file and item run it together.
            let items: Option<Vec<Value>> = match &t.loop_ {
                None => None,
                Some(spec) => match self.loop_items(spec, &base) {
                    Ok(v) => Some(v),
                    Err(msg) => {
                        if let Some(rt) = self.host_rt(h) {
                            self.report_fail(
                                &rt,
                                &t.display_name(),
                                h,
                                msg,
                                t,
                                inherit,
                                &base,
                                false,
                            );
                        }
                        continue;
                    }
                },
            };
            let n = items.as_ref().map_or(1, Vec::len);
            for idx in 0..n {
                let item_vars = items.as_ref().map(|it| loop_vars(&t.loop_control, it, idx));
                let scope = match &item_vars {
                    Some(top) => base.with_top(top.clone()),
                    None => base.clone(),
                };
                let item_key = match &items {
                    Some(it) => format!("\u{0}{idx}\u{0}{}", it[idx]),
                    None => String::new(),
                };
                let ctx = scope.value();
                let conds: Vec<&String> = inherit.when.iter().chain(t.when.iter()).collect();
                if !conds
                    .iter()
                    .all(|c| self.templar.eval_condition(c, &ctx).unwrap_or(false))
                {
                    if let Some(rt) = self.host_rt(h) {
                        self.report_skip(&rt, &t.display_name(), h, t.action());
                    }
                    continue;
                }
                let (key, load): (String, Result<Vec<Task>, String>) = match &t.kind {
                    TaskKind::IncludeTasks { file, dir, .. } => {
                        match self.templar.render_string(file, &ctx) {
                            Ok(f) => {
                                let mut cands = vec![dir.join(&f)];
                                if let Some(r) = &t.role {
                                    cands.push(r.path.join("tasks").join(&f));
                                }
                                let p = cands
                                    .iter()
                                    .find(|p| p.exists())
                                    .cloned()
                                    .unwrap_or_else(|| cands[0].clone());
                                let key = format!("{}{item_key}", p.display());
                                if let Some(g) = groups.get_mut(&key) {
                                    g.0.push(h.clone());
                                    continue;
                                }
                                (
                                    key,
                                    loader
                                        .load_task_file(&p, t.role.as_ref())
                                        .map_err(|e| e.to_string()),
                                )
                            }
                            Err(e) => (String::new(), Err(e.message)),
                        }
                    }
                    TaskKind::IncludeRole {
                        name, tasks_from, ..
                    } => {
                        let name = self
                            .templar
                            .render_string(name, &ctx)
                            .unwrap_or_else(|_| name.clone());
                        let key = format!(
                            "role:{name}:{}{item_key}",
                            tasks_from.clone().unwrap_or_default()
                        );
                        if let Some(g) = groups.get_mut(&key) {
                            g.0.push(h.clone());
                            continue;
                        }
                        let dir = inherit.play.ctx.playbook_dir.clone();
                        let r = loader
                            .load_role(
                                &name,
                                tasks_from.as_deref(),
                                Default::default(),
                                &dir,
                                &t.span,
                            )
                            .map(|(role, tasks, handlers)| {
                                // The role's handlers become available to the play.
                                inherit.play.add_handlers(handlers);
                                let _ = role;
                                tasks
                            });
                        (key, r.map_err(|e| e.to_string()))
                    }
                    _ => return,
                };
                match load {
                    Ok(tasks) => {
                        let params = match &t.kind {
                            TaskKind::IncludeTasks { args, .. }
                            | TaskKind::IncludeRole { args, .. } => {
                                let mut m = IndexMap::new();
                                if let Ok(keys) = args.try_iter() {
                                    for k in keys {
                                        let ks = k.to_string();
                                        if matches!(
                                            ks.as_str(),
                                            "name"
                                                | "tasks_from"
                                                | "apply"
                                                | "public"
                                                | "role"
                                                | "allow_duplicates"
                                                | "handlers_from"
                                                | "defaults_from"
                                                | "vars_from"
                                        ) {
                                            continue;
                                        }
                                        if let Ok(v) = args.get_item(&k) {
                                            if ks == "vars" {
                                                if let Ok(vk) = v.try_iter() {
                                                    for k2 in vk {
                                                        m.insert(
                                                            k2.to_string(),
                                                            v.get_item(&k2).unwrap_or_default(),
                                                        );
                                                    }
                                                }
                                            } else {
                                                m.insert(ks, v);
                                            }
                                        }
                                    }
                                }
                                m
                            }
                            _ => IndexMap::new(),
                        };
                        let mut params = params;
                        params.extend(item_vars.clone().unwrap_or_default());
                        groups.insert(key, (vec![h.clone()], tasks, params));
                    }
                    Err(msg) => {
                        if let Some(rt) = self.host_rt(h) {
                            let scope = self.scope_for(t, h, inherit, None);
                            self.report_fail(
                                &rt,
                                &t.display_name(),
                                h,
                                msg,
                                t,
                                inherit,
                                &scope,
                                false,
                            );
                        }
                    }
                }
            }
        }
        for (key, (hs, tasks, params)) in groups {
            // Each host that includes a file counts it as ok (ansible-core's "included").
            let what = key.split('\u{0}').next().unwrap_or("").to_string();
            // an included file by its absolute path, as ansible-playbook shows it
            let what = match what.strip_prefix("role:") {
                Some(_) => what,
                None => std::fs::canonicalize(&what)
                    .map(|p| p.display().to_string())
                    .unwrap_or(what),
            };
            for h in &hs {
                if let Some(rt) = self.host_rt(h) {
                    rt.count_ok();
                    self.emit(Event::HostResult(HostResult {
                        host: h.clone(),
                        task: t.display_name(),
                        action: t.action().to_string(),
                        status: Status::Ok,
                        ignored: false,
                        item: None,
                        delegated_to: None,
                        msg: Some(format!("included: {what}")),
                        result: json!({"changed": false, "include": what}),
                        diff: vec![],
                    }));
                }
            }
            // `apply:` keywords reach the included tasks (tags so far)
            let child = inherit.include_child(t, params, apply_tags(t));
            self.run_list(&tasks, &hs, &child, handler).await;
        }
    }
}

/// The tags of an include's `apply:` (a string, a comma list or a list).
fn apply_tags(t: &Task) -> Vec<String> {
    let args = match &t.kind {
        TaskKind::IncludeTasks { args, .. } | TaskKind::IncludeRole { args, .. } => args,
        _ => return vec![],
    };
    let Ok(apply) = args.get_attr("apply") else {
        return vec![];
    };
    let Ok(tags) = apply.get_attr("tags") else {
        return vec![];
    };
    if let Some(s) = tags.as_str() {
        return s
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
    }
    tags.try_iter()
        .map(|it| it.map(|v| v.to_string()).collect())
        .unwrap_or_default()
}
