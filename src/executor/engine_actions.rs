//! The engine's own actions (`set_fact`, `include_vars`, `add_host`, `group_by`,
//! `set_stats`): they run on the controller and change the run's state — a host's
//! variables, the inventory — rather than a host. Their results say what a host learned
//! in typed fields ([`Learned`]); `meta` is handled by the play loop (executor/mod.rs).

use super::host::Learned;
use super::Executor;
use crate::modules::{Args, ModuleError, Outcome};
use crate::playbook::{EngineAction, Task};
use crate::template;
use serde_json::{json, Map};
use std::sync::Arc;

impl Executor {
    /// Runs one engine action for one host (and item).
    pub(super) fn engine_action(
        &self,
        action: EngineAction,
        t: &Task,
        host: &str,
        inherit: &super::Inherit,
        args: &Args,
    ) -> Result<(Outcome, Learned), ModuleError> {
        match action {
            EngineAction::SetFact => set_fact(args),
            EngineAction::IncludeVars => self.include_vars(t, &inherit.play, args),
            EngineAction::SetStats => Ok((set_stats(args)?, Learned::default())),
            EngineAction::AddHost => Ok((self.add_host(args)?, Learned::default())),
            EngineAction::GroupBy => Ok((self.group_by(host, args)?, Learned::default())),
            // meta runs at the level of the task list; as an item it has nothing to do
            EngineAction::Meta(_) => Ok((Outcome::ok(), Learned::default())),
        }
    }

    fn add_host(&self, args: &Args) -> Result<Outcome, ModuleError> {
        let name = args.req_str_any(&["name", "host", "hostname"])?;
        let groups = args
            .list("groups")
            .or_else(|| args.list("group"))
            .unwrap_or_default();
        let mut vars = crate::inventory::Vars::new();
        for (k, v) in &args.map {
            if !matches!(
                k.as_str(),
                "name" | "host" | "hostname" | "groups" | "group"
            ) {
                vars.insert(k.clone(), v.clone());
            }
        }
        self.inv
            .write()
            .add_runtime_host(&name, &groups, vars)
            .map_err(|e| ModuleError::failed(e.to_string()))?;
        // after the change: a task reading meanwhile may have cached the old one
        *self.inv_cache.write() = Default::default();
        self.hosts
            .write()
            .entry(name.clone())
            .or_insert_with(|| Arc::new(super::host::HostRt::new(&name)));
        Ok(Outcome::changed(true).with("add_host", json!({"host_name": name, "groups": groups})))
    }

    fn group_by(&self, host: &str, args: &Args) -> Result<Outcome, ModuleError> {
        let key = args.req_str("key")?;
        let key: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut groups = vec![key.clone()];
        let parents = args.list("parents").unwrap_or_else(|| vec!["all".into()]);
        groups.extend(parents.iter().filter(|p| *p != "all").cloned());
        self.inv
            .write()
            .add_runtime_host(host, &groups, Default::default())
            .map_err(|e| ModuleError::failed(e.to_string()))?;
        // after the change: a task reading meanwhile may have cached the old one
        *self.inv_cache.write() = Default::default();
        // ansible-core reports group_by as changed, with these keys
        Ok(Outcome::changed(true)
            .with("add_group", json!(key))
            .with("parent_groups", json!(parents)))
    }

    /// `include_vars`: a file or a directory of YAML/JSON files, relative to the role's
    /// `vars/`, the task's directory, or the playbook's.
    fn include_vars(
        &self,
        t: &Task,
        play: &super::PlayRun,
        args: &Args,
    ) -> Result<(Outcome, Learned), ModuleError> {
        let file = args
            .str_any(&["_raw_params", "file", "dir"])
            .ok_or_else(|| ModuleError::failed("include_vars needs a file"))?;
        let mut candidates = Vec::new();
        if let Some(r) = &t.role {
            candidates.push(r.path.join("vars").join(&file));
        }
        candidates.push(t.dir.join(&file));
        candidates.push(t.dir.join("vars").join(&file));
        candidates.push(play.ctx.playbook_dir.join(&file));
        let path = candidates
            .into_iter()
            .find(|p| p.exists())
            .ok_or_else(|| ModuleError::failed(format!("Could not find or access '{file}'")))?;
        let mut files = Vec::new();
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&path)
                .map_err(|e| ModuleError::failed(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            files.extend(entries.into_iter().filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yml" | "yaml" | "json")
                )
            }));
        } else {
            files.push(path.clone());
        }
        let mut vars = Map::new();
        for f in files {
            let node =
                crate::yaml::load_file(&f).map_err(|e| ModuleError::failed(e.to_string()))?;
            if let serde_json::Value::Object(m) = node.to_json() {
                vars.extend(m);
            }
        }
        let mut o = Outcome::ok();
        match args.str("name") {
            Some(n) => {
                o.facts.insert(n, serde_json::Value::Object(vars));
            }
            None => o.facts = vars,
        }
        o.data.insert(
            "ansible_included_var_files".into(),
            json!([path.display().to_string()]),
        );
        let learned = Learned {
            included: o
                .facts
                .iter()
                .map(|(k, v)| (k.clone(), template::from_json(v)))
                .collect(),
            ..Default::default()
        };
        Ok((o, learned))
    }
}

/// `set_fact`: variables of the host (precedence 19); with `cacheable`, also host facts
/// (`ansible_facts.<name>`). The result shows them under `ansible_facts`, as Ansible's does.
fn set_fact(args: &Args) -> Result<(Outcome, Learned), ModuleError> {
    let mut o = Outcome::ok();
    let mut learned = Learned::default();
    let cacheable = args.bool_or("cacheable", false)?;
    for (k, v) in &args.map {
        if k == "cacheable" {
            continue;
        }
        if k == "_raw_params" {
            return Err(ModuleError::failed("set_fact takes key=value arguments"));
        }
        o.facts.insert(k.clone(), v.clone());
        let value = template::from_json(v);
        if cacheable {
            learned.facts.insert(k.clone(), value.clone());
        }
        learned.vars.insert(k.clone(), value);
    }
    Ok((o, learned))
}

/// `set_stats`: custom stats gathered for the run; nothing runs on the host.
fn set_stats(args: &Args) -> Result<Outcome, ModuleError> {
    let data = args.get("data").cloned().unwrap_or(serde_json::Value::Null);
    if !data.is_object() {
        return Err(ModuleError::failed("set_stats: data must be a mapping"));
    }
    Ok(Outcome::ok().with(
        "ansible_stats",
        json!({
            "data": data,
            "per_host": args.bool_or("per_host", false)?,
            "aggregate": args.bool_or("aggregate", true)?,
        }),
    ))
}
