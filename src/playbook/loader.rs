//! Loads playbooks, task files and roles from YAML and validates them: every keyword is
//! known, every action resolves to a module, and errors point at file:line:col.
//!
//! Problems that leave the structure intact (`loop` with `with_*` on one task, a static
//! `vars_files` entry that does not exist, a role dependency cycle) are collected and
//! reported together when the public entry point returns; problems that make the rest
//! unreadable (bad YAML, an unknown keyword) stop at once.

use super::kv::parse_kv;
use super::*;
use crate::error::{Error, Result, SourceError, Span};
use crate::modules::Registry;
use crate::yaml::{self, Node, NodeKind};
use std::path::{Path, PathBuf};

const TASK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "loop",
    "loop_control",
    "register",
    "notify",
    "listen",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "tags",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "remote_user",
    "vars",
    "environment",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "until",
    "retries",
    "delay",
    "no_log",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "connection",
    "timeout",
    "args",
    "action",
    "local_action",
    "block",
    "rescue",
    "always",
    "debugger",
    "throttle",
    "async",
    "poll",
    "collections",
    "module_defaults",
    "port",
    "sudo",
    "sudo_user",
];

const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "vars_prompt",
    "roles",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "remote_user",
    "user",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "strategy",
    "tags",
    "environment",
    "connection",
    "check_mode",
    "diff",
    "force_handlers",
    "ignore_errors",
    "ignore_unreachable",
    "order",
    "collections",
    "module_defaults",
    "no_log",
    "timeout",
    "throttle",
    "port",
    "run_once",
    "debugger",
    "fact_path",
];

/// What the loader needs besides the files, and the problems found so far.
pub struct Loader<'a> {
    pub registry: &'a Registry,
    pub roles_path: Vec<PathBuf>,
    problems: std::sync::Mutex<Vec<SourceError>>,
    /// Handlers of roles brought in by `import_role` tasks, for the play being loaded.
    imported_handlers: std::sync::Mutex<Vec<Task>>,
    /// Every role loaded statically for the play being loaded (`roles:`, their meta
    /// dependencies, `import_role`), with the parameters it was written with: their
    /// defaults and vars are the play's (as in Ansible, where roles' variables are not
    /// private by default), and a role already there with the same parameters does not
    /// run again (unless its meta says `allow_duplicates`).
    play_roles: std::sync::Mutex<Vec<(RawVars, Arc<Role>)>>,
}

fn str_of(n: &Node, what: &str) -> Result<String> {
    n.scalar_string()
        .ok_or_else(|| n.error(format!("{what} must be a string, not a {}", n.type_name())))
}

pub(super) fn bool_of(n: &Node, what: &str) -> Result<bool> {
    match &n.kind {
        NodeKind::Bool(b) => Ok(*b),
        NodeKind::Str(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" => Ok(true),
            "no" | "false" | "off" | "0" | "n" => Ok(false),
            _ => Err(n.error(format!("{what} must be a boolean"))),
        },
        NodeKind::Int(i) => Ok(*i != 0),
        _ => Err(n.error(format!("{what} must be a boolean, not a {}", n.type_name()))),
    }
}

fn string_list(n: &Node, what: &str) -> Result<Vec<String>> {
    match &n.kind {
        NodeKind::Null => Ok(vec![]),
        NodeKind::Seq(items) => items.iter().map(|i| str_of(i, what)).collect(),
        _ => Ok(vec![str_of(n, what)?]),
    }
}

fn tags_of(n: &Node) -> Result<Vec<String>> {
    Ok(string_list(n, "tags")?
        .into_iter()
        .flat_map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect())
}

fn conditions(n: &Node) -> Result<Vec<String>> {
    match &n.kind {
        NodeKind::Bool(b) => Ok(vec![if *b { "True".into() } else { "False".into() }]),
        NodeKind::Seq(items) => items
            .iter()
            .map(|i| match &i.kind {
                NodeKind::Bool(b) => Ok(if *b { "True".into() } else { "False".into() }),
                _ => str_of(i, "condition"),
            })
            .collect(),
        _ => Ok(vec![str_of(n, "condition")?]),
    }
}

fn vars_of(n: &Node) -> Result<RawVars> {
    let mut out = RawVars::new();
    match &n.kind {
        NodeKind::Null => {}
        NodeKind::Map(m) => {
            for (k, v) in m {
                let key = k
                    .key_string()
                    .ok_or_else(|| k.error("variable names must be strings"))?;
                out.insert(key, v.to_value());
            }
        }
        NodeKind::Seq(items) => {
            // Old style: a list of single-key mappings.
            for i in items {
                out.extend(vars_of(i)?);
            }
        }
        _ => return Err(n.error(format!("vars must be a mapping, not a {}", n.type_name()))),
    }
    Ok(out)
}

/// The candidate closest to `word` (edit distance at most 2), for "did you mean".
pub(crate) fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    fn dist(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + usize::from(ca != *cb))
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .iter()
        .map(|c| (dist(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c.to_string())
}

impl<'a> Loader<'a> {
    pub fn new(registry: &'a Registry, roles_path: Vec<PathBuf>) -> Loader<'a> {
        Loader {
            registry,
            roles_path,
            problems: Default::default(),
            imported_handlers: Default::default(),
            play_roles: Default::default(),
        }
    }

    /// Records a problem that does not stop loading.
    fn problem(&self, e: SourceError) {
        self.problems.lock().unwrap().push(e);
    }

    /// The problems recorded since the last call (see [`Loader::parse_playbook`]).
    pub fn take_problems(&self) -> Vec<SourceError> {
        std::mem::take(&mut *self.problems.lock().unwrap())
    }

    /// `r`, unless problems were recorded: then all of them (and `r`'s error) together.
    fn checked<T>(&self, r: Result<T>) -> Result<T> {
        let mut problems = self.take_problems();
        match r {
            Ok(v) => Error::from_problems(problems).map(|()| v),
            Err(e) if problems.is_empty() => Err(e),
            Err(e) => match e.into_problems() {
                Ok(more) => {
                    problems.extend(more);
                    Err(Error::many(problems))
                }
                // A fatal error without a position (a missing file) is reported alone.
                Err(fatal) => Err(fatal),
            },
        }
    }

    /// Loads a playbook file (with its imported playbooks); every problem found is in
    /// the error.
    pub fn load_playbook(&self, path: &Path) -> Result<Playbook> {
        let r = self.parse_playbook(path);
        self.checked(r)
    }

    /// Loads a playbook like [`Loader::load_playbook`] but leaves the problems that do
    /// not stop loading in [`Loader::take_problems`], so that a caller can add those of
    /// its own checks and report everything at once.
    pub fn parse_playbook(&self, path: &Path) -> Result<Playbook> {
        let mut plays = Vec::new();
        self.load_playbook_into(path, &mut plays, 0)?;
        Ok(Playbook {
            path: path.to_path_buf(),
            plays,
        })
    }

    fn load_playbook_into(&self, path: &Path, plays: &mut Vec<Play>, depth: usize) -> Result<()> {
        if depth > 20 {
            return Err(Error::usage(format!(
                "{}: import_playbook nested too deep",
                path.display()
            )));
        }
        if !path.exists() {
            return Err(Error::usage(format!(
                "the playbook {} could not be found",
                path.display()
            )));
        }
        let doc = yaml::load_file(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let items = match &doc.kind {
            NodeKind::Seq(items) => items,
            NodeKind::Null => return Err(doc.error("empty playbook: expected a list of plays")),
            _ => {
                return Err(doc.error(format!(
                    "a playbook must be a list of plays, not a {}",
                    doc.type_name()
                )))
            }
        };
        for item in items {
            if item.as_map().is_none() {
                return Err(item.error(format!(
                    "a play must be a mapping, not a {}",
                    item.type_name()
                )));
            }
            if let Some(imp) = item.get("import_playbook").or_else(|| item.get("include")) {
                let file = str_of(imp, "import_playbook")?;
                let start = plays.len();
                self.load_playbook_into(&dir.join(&file), plays, depth + 1)?;
                let tags = match item.get("tags") {
                    Some(t) => tags_of(t)?,
                    None => vec![],
                };
                let vars = match item.get("vars") {
                    Some(v) => vars_of(v)?,
                    None => RawVars::new(),
                };
                for p in &mut plays[start..] {
                    p.tags.extend(tags.iter().cloned());
                    for (k, v) in &vars {
                        p.vars.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                continue;
            }
            plays.push(self.parse_play(item, &dir)?);
        }
        Ok(())
    }

    fn parse_play(&self, node: &Node, dir: &Path) -> Result<Play> {
        let map = node.as_map().unwrap();
        self.play_roles.lock().unwrap().clear();
        let mut play = Play {
            name: String::new(),
            span: node.span.clone(),
            hosts: String::new(),
            dir: dir.to_path_buf(),
            vars: RawVars::new(),
            vars_files: vec![],
            pre_tasks: vec![],
            tasks: vec![],
            post_tasks: vec![],
            handlers: vec![],
            roles: vec![],
            become_: Become::default(),
            remote_user: None,
            connection: None,
            gather_facts: true,
            serial: vec![],
            max_fail_percentage: None,
            any_errors_fatal: false,
            strategy_free: false,
            tags: vec![],
            environment: None,
            check_mode: None,
            force_handlers: false,
            ignore_errors: false,
            ignore_unreachable: false,
            key_spans: Default::default(),
        };
        let mut has_hosts = false;
        let mut role_tasks = Vec::new();
        let mut tasks = Vec::new();
        for (k, v) in map {
            let key = k.key_string().unwrap_or_default();
            play.key_spans.insert(key.clone(), k.span.clone());
            match key.as_str() {
                "name" => play.name = str_of(v, "name")?,
                "hosts" => {
                    has_hosts = true;
                    play.hosts = string_list(v, "hosts")?.join(":");
                }
                "vars" => play.vars = vars_of(v)?,
                "vars_files" => {
                    play.vars_files = match &v.kind {
                        NodeKind::Seq(items) => items
                            .iter()
                            .map(|i| match &i.kind {
                                // A list inside vars_files: first file found wins.
                                NodeKind::Seq(alts) => Ok(alts
                                    .iter()
                                    .filter_map(|a| a.scalar_string())
                                    .collect::<Vec<_>>()
                                    .join("\u{0}")),
                                _ => str_of(i, "vars_files entry"),
                            })
                            .collect::<Result<_>>()?,
                        _ => vec![str_of(v, "vars_files")?],
                    };
                    self.check_vars_files(v, dir, node);
                }
                "vars_prompt" => {
                    // Without a terminal, prompts take their defaults (CI-friendly).
                    if let NodeKind::Seq(items) = &v.kind {
                        for i in items {
                            let name = i
                                .get("name")
                                .and_then(|n| n.scalar_string())
                                .ok_or_else(|| i.error("vars_prompt entries need a name"))?;
                            let default = i
                                .get("default")
                                .map(|d| d.to_value())
                                .unwrap_or_else(|| minijinja::Value::from(""));
                            play.vars.insert(name, default);
                        }
                    }
                }
                "roles" => {
                    let entries = v.as_seq().ok_or_else(|| v.error("roles must be a list"))?;
                    for e in entries {
                        let (t, h) = self.load_role_entry(e, dir)?;
                        role_tasks.extend(t);
                        play.handlers.extend(h);
                    }
                }
                "pre_tasks" => play.pre_tasks = self.parse_tasks(v, dir, None)?,
                "tasks" => tasks = self.parse_tasks(v, dir, None)?,
                "post_tasks" => play.post_tasks = self.parse_tasks(v, dir, None)?,
                "handlers" => {
                    let h = self.parse_tasks(v, dir, None)?;
                    play.handlers.extend(h);
                }
                "become" => play.become_.become_ = Some(Flag::from_node(v, "become")?),
                "become_user" => play.become_.user = Some(str_of(v, "become_user")?),
                "become_method" => play.become_.method = Some(str_of(v, "become_method")?),
                "become_flags" => play.become_.flags = Some(str_of(v, "become_flags")?),
                "remote_user" | "user" => play.remote_user = Some(str_of(v, "remote_user")?),
                "connection" => play.connection = Some(str_of(v, "connection")?),
                "gather_facts" => play.gather_facts = bool_of(v, "gather_facts")?,
                "serial" => {
                    let items = match &v.kind {
                        NodeKind::Seq(items) => items.clone(),
                        _ => vec![v.clone()],
                    };
                    for i in items {
                        play.serial.push(match &i.kind {
                            NodeKind::Int(n) if *n > 0 => Serial::Count(*n as usize),
                            NodeKind::Str(s) if s.trim().ends_with('%') => Serial::Percent(
                                s.trim()
                                    .trim_end_matches('%')
                                    .trim()
                                    .parse::<f64>()
                                    .map_err(|_| i.error("serial percentage must be a number"))?,
                            ),
                            NodeKind::Str(s) => {
                                Serial::Count(s.trim().parse::<usize>().map_err(|_| {
                                    i.error("serial must be a number, a percentage or a list")
                                })?)
                            }
                            _ => return Err(i.error(
                                "serial must be a positive number, a percentage or a list of them",
                            )),
                        });
                    }
                }
                "max_fail_percentage" => {
                    play.max_fail_percentage = Some(match &v.kind {
                        NodeKind::Int(i) => *i as f64,
                        NodeKind::Float(f) => *f,
                        NodeKind::Str(s) => s
                            .trim_end_matches('%')
                            .parse()
                            .map_err(|_| v.error("max_fail_percentage must be a number"))?,
                        _ => return Err(v.error("max_fail_percentage must be a number")),
                    })
                }
                "any_errors_fatal" => play.any_errors_fatal = bool_of(v, "any_errors_fatal")?,
                "strategy" => {
                    let s = str_of(v, "strategy")?;
                    play.strategy_free = match s.as_str() {
                        "linear" | "ansible.builtin.linear" => false,
                        "free" | "ansible.builtin.free" => true,
                        _ => {
                            return Err(v.error(format!("unknown strategy `{s}` (linear or free)")))
                        }
                    }
                }
                "tags" => play.tags = tags_of(v)?,
                "environment" => play.environment = Some(v.to_value()),
                "check_mode" => play.check_mode = Some(bool_of(v, "check_mode")?),
                "force_handlers" => play.force_handlers = bool_of(v, "force_handlers")?,
                "ignore_errors" => play.ignore_errors = bool_of(v, "ignore_errors")?,
                "ignore_unreachable" => play.ignore_unreachable = bool_of(v, "ignore_unreachable")?,
                k if PLAY_KEYWORDS.contains(&k) => {}
                other => {
                    let hint = suggest(other, PLAY_KEYWORDS)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(k.error(format!(
                        "`{other}` is not a valid attribute for a play{hint}"
                    )));
                }
            }
        }
        if !has_hosts {
            return Err(node.error("this play has no `hosts:`"));
        }
        if play.name.is_empty() {
            play.name = play.hosts.clone();
        }
        // Handlers of `import_role` tasks join the play, as those of `roles:` do.
        play.handlers
            .append(&mut self.imported_handlers.lock().unwrap());
        play.roles = std::mem::take(&mut *self.play_roles.lock().unwrap())
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        play.tasks = role_tasks;
        play.tasks.extend(tasks);
        Ok(play)
    }

    /// Static `vars_files` entries (no `{{ }}`) must exist now: a missing one is a problem
    /// at the entry, so is a vault-encrypted one that cannot be decrypted. A nested list is a choice: one of its files must exist. Templated
    /// entries depend on variables and are resolved when the play runs.
    fn check_vars_files(&self, v: &Node, dir: &Path, play: &Node) {
        let entries = match &v.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![v],
        };
        for e in entries {
            let alts: Vec<&Node> = match &e.kind {
                NodeKind::Seq(alts) => alts.iter().collect(),
                _ => vec![e],
            };
            let names: Vec<String> = alts
                .iter()
                .filter_map(|a| a.scalar_string())
                .filter(|n| !n.is_empty())
                .collect();
            if names.is_empty()
                || names
                    .iter()
                    .any(|n| crate::template::Templar::is_template(n))
            {
                continue;
            }
            if let Some(found) = names.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
                // A vaulted file must decrypt now, before any host is contacted (the
                // result is cached for when the play loads it).
                if let Err(err) = crate::vault::read_text(&found) {
                    self.problem(SourceError::new(&e.span, err.to_string()));
                }
                continue;
            }
            let tried: Vec<String> = names
                .iter()
                .map(|n| dir.join(n).display().to_string())
                .collect();
            self.problem(SourceError::new(
                &e.span,
                format!(
                    "vars file not found: {} (vars_files of the play at {})",
                    tried.join(" or "),
                    play.span
                ),
            ));
        }
    }

    /// Parses a list of tasks.
    pub fn parse_tasks(
        &self,
        node: &Node,
        dir: &Path,
        role: Option<&Arc<Role>>,
    ) -> Result<Vec<Task>> {
        let items = match &node.kind {
            NodeKind::Null => return Ok(vec![]),
            NodeKind::Seq(items) => items,
            _ => {
                return Err(node.error(format!(
                    "expected a list of tasks, not a {}",
                    node.type_name()
                )))
            }
        };
        let mut out = Vec::new();
        for item in items {
            if item.as_map().is_none() {
                return Err(item.error(format!(
                    "a task must be a mapping, not a {}",
                    item.type_name()
                )));
            }
            out.extend(self.parse_task(item, dir, role)?);
        }
        Ok(out)
    }

    /// Loads a task file (for include_tasks at run time); every problem found is in the
    /// error.
    pub fn load_task_file(&self, path: &Path, role: Option<&Arc<Role>>) -> Result<Vec<Task>> {
        let r = self.task_file(path, role);
        self.checked(r)
    }

    fn task_file(&self, path: &Path, role: Option<&Arc<Role>>) -> Result<Vec<Task>> {
        let doc = yaml::load_file(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.parse_tasks(&doc, &dir, role)
    }

    /// A task loops once: `loop` with a `with_*`, or two `with_*`, is a problem at the
    /// second key.
    fn check_one_loop<'n>(&self, first: &mut Option<&'n Node>, key: &'n Node) {
        let Some(prev) = first else {
            *first = Some(key);
            return;
        };
        let name = |n: &Node| n.key_string().unwrap_or_default();
        self.problem(SourceError::new(
            &key.span,
            format!(
                "`{}` and `{}` (at {}:{}) on one task: a task has one loop; use `loop` alone",
                name(key),
                name(prev),
                prev.span.line,
                prev.span.col
            ),
        ));
    }

    fn parse_task(&self, node: &Node, dir: &Path, role: Option<&Arc<Role>>) -> Result<Vec<Task>> {
        let map = node.as_map().unwrap();
        let mut t = Task::new(
            node.span.clone(),
            dir.to_path_buf(),
            TaskKind::Action {
                action: Action::Engine(EngineAction::Meta(Meta::Noop)),
                args: minijinja::Value::from(()),
            },
        );
        t.role = role.cloned();
        let mut action: Option<(String, &Node, &Node)> = None; // (module, key node, value node)
        let mut extra_args: Option<&Node> = None;
        let mut block: Option<(&Node, Option<&Node>, Option<&Node>)> = None;
        let mut loop_key: Option<&Node> = None;
        for (k, v) in map {
            let key = k.key_string().unwrap_or_default();
            t.key_spans.insert(key.clone(), k.span.clone());
            if key == "loop" || key.starts_with("with_") {
                self.check_one_loop(&mut loop_key, k);
            }
            match key.as_str() {
                "name" => t.name = v.scalar_string(),
                "when" => t.when = conditions(v)?,
                "loop" => t.loop_ = Some(LoopSpec::Loop(v.to_value())),
                "loop_control" => {
                    let m = v
                        .as_map()
                        .ok_or_else(|| v.error("loop_control must be a mapping"))?;
                    for (lk, lv) in m {
                        match lk.key_string().unwrap_or_default().as_str() {
                            "loop_var" => t.loop_control.loop_var = Some(str_of(lv, "loop_var")?),
                            "index_var" => {
                                t.loop_control.index_var = Some(str_of(lv, "index_var")?)
                            }
                            "label" => t.loop_control.label = Some(str_of(lv, "label")?),
                            "pause" => {
                                t.loop_control.pause =
                                    lv.scalar_string().and_then(|s| s.parse().ok())
                            }
                            "extended" => t.loop_control.extended = bool_of(lv, "extended")?,
                            "extended_allitems" | "break_when" => {}
                            other => {
                                return Err(lk.error(format!(
                                    "`{other}` is not a valid loop_control option"
                                )))
                            }
                        }
                    }
                }
                "register" => match v.as_map() {
                    Some(m) => t.register_exprs = register_exprs(m)?,
                    None => t.register = Some(str_of(v, "register")?),
                },
                "notify" => t.notify = string_list(v, "notify")?,
                "listen" => t.listen = string_list(v, "listen")?,
                "changed_when" => t.changed_when = Some(conditions(v)?),
                "failed_when" => t.failed_when = Some(conditions(v)?),
                "until" => t.until = Some(conditions(v)?),
                "ignore_errors" => t.ignore_errors = Some(v.to_value()),
                "ignore_unreachable" => t.ignore_unreachable = bool_of(v, "ignore_unreachable")?,
                "tags" => t.tags = tags_of(v)?,
                "become" => t.become_.become_ = Some(Flag::from_node(v, "become")?),
                "sudo" => t.become_.become_ = Some(Flag::from_node(v, "sudo")?),
                "become_user" | "sudo_user" => t.become_.user = Some(str_of(v, "become_user")?),
                "become_method" => t.become_.method = Some(str_of(v, "become_method")?),
                "become_flags" => t.become_.flags = Some(str_of(v, "become_flags")?),
                "remote_user" => t.remote_user = Some(str_of(v, "remote_user")?),
                "vars" => t.vars = vars_of(v)?,
                "environment" => t.environment = Some(v.to_value()),
                "delegate_to" => t.delegate_to = Some(str_of(v, "delegate_to")?),
                "delegate_facts" => t.delegate_facts = bool_of(v, "delegate_facts")?,
                "run_once" => t.run_once = bool_of(v, "run_once")?,
                "retries" => t.retries = Some(v.to_value()),
                "delay" => t.delay = Some(v.to_value()),
                "async" => t.async_ = Some(v.to_value()),
                "poll" => t.poll = Some(v.to_value()),
                "no_log" => t.no_log = Flag::from_node(v, "no_log")?,
                "check_mode" => t.check_mode = Some(Flag::from_node(v, "check_mode")?),
                "diff" => t.diff = Some(Flag::from_node(v, "diff")?),
                "any_errors_fatal" => t.any_errors_fatal = bool_of(v, "any_errors_fatal")?,
                "connection" => t.connection = Some(str_of(v, "connection")?),
                "timeout" => t.timeout = v.scalar_string().and_then(|s| s.parse().ok()),
                "args" => extra_args = Some(v),
                "block" => block = Some((v, block.and_then(|b| b.1), block.and_then(|b| b.2))),
                "rescue" => {
                    let b = block.unwrap_or((v, None, None));
                    block = Some((b.0, Some(v), b.2));
                    if map
                        .iter()
                        .all(|(kk, _)| kk.key_string().as_deref() != Some("block"))
                    {
                        return Err(k.error("`rescue` needs a `block`"));
                    }
                }
                "always" => {
                    let b = block.unwrap_or((v, None, None));
                    block = Some((b.0, b.1, Some(v)));
                    if map
                        .iter()
                        .all(|(kk, _)| kk.key_string().as_deref() != Some("block"))
                    {
                        return Err(k.error("`always` needs a `block`"));
                    }
                }
                "action" | "local_action" => {
                    if action.is_some() {
                        return Err(k.error("a task can have only one action"));
                    }
                    let module = match &v.kind {
                        NodeKind::Map(_) => v
                            .get("module")
                            .and_then(|m| m.scalar_string())
                            .ok_or_else(|| v.error("action needs a module"))?,
                        _ => str_of(v, "action")?
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    };
                    if key == "local_action" {
                        t.delegate_to = Some("localhost".into());
                    }
                    action = Some((module, k, v));
                }
                k2 if TASK_KEYWORDS.contains(&k2) => {}
                k2 if k2.starts_with("with_") => {
                    t.loop_ = Some(LoopSpec::With(
                        k2["with_".len()..].to_string(),
                        v.to_value(),
                    ));
                }
                other => {
                    let short = crate::modules::short_name(other);
                    let known = Action::resolve(other, &self.registry).is_some()
                        || crate::modules::known::collection_of(other).is_some()
                        || action::INCLUDE_ACTIONS.contains(&short);
                    if !known {
                        let mut cands: Vec<&str> = TASK_KEYWORDS.to_vec();
                        let names = self.registry.names();
                        cands.extend(names.iter().copied());
                        let hint = suggest(other, &cands)
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        return Err(k.error(format!("couldn't resolve module/action `{other}`: not a task keyword nor a known module{hint}")));
                    }
                    if let Some((prev, _, _)) = &action {
                        return Err(k.error(format!(
                            "conflicting actions in one task: `{prev}` and `{other}`"
                        )));
                    }
                    action = Some((other.to_string(), k, v));
                }
            }
        }
        if let Some((b, r, a)) = block {
            if action.is_some() {
                return Err(node.error("a block cannot also have an action"));
            }
            let block = self.parse_tasks(b, dir, role)?;
            let rescue = match r {
                Some(r) => self.parse_tasks(r, dir, role)?,
                None => vec![],
            };
            let always = match a {
                Some(a) => self.parse_tasks(a, dir, role)?,
                None => vec![],
            };
            t.kind = TaskKind::Block {
                block,
                rescue,
                always,
            };
            return Ok(vec![t]);
        }
        let (module, knode, vnode) =
            action.ok_or_else(|| node.error("this task has no action (no module name)"))?;
        let module_short = crate::modules::short_name(&module).to_string();
        let resolved = Action::resolve(&module_short, &self.registry);
        let free_form = action::INCLUDE_ACTIONS.contains(&module_short.as_str())
            || match &resolved {
                Some(Action::Engine(e)) => e.free_form(),
                Some(Action::Module(m)) => self.registry.get(m).is_some_and(|m| m.free_form()),
                None => false,
            };
        let mut args = self.parse_args(
            &module_short,
            vnode,
            free_form,
            knode.key_string().as_deref() == Some("action")
                || knode.key_string().as_deref() == Some("local_action"),
        )?;
        if let Some(extra) = extra_args {
            let m = extra
                .as_map()
                .ok_or_else(|| extra.error("args must be a mapping"))?;
            for (k, v) in m {
                args.insert(k.key_string().unwrap_or_default(), v.to_value());
            }
        }
        match module_short.as_str() {
            "import_tasks" | "include" | "include_tasks" => {
                let file = args
                    .get("_raw_params")
                    .or_else(|| args.get("file"))
                    .and_then(|v| v.as_str().map(str::to_string))
                    .ok_or_else(|| vnode.error("include_tasks/import_tasks needs a file name"))?;
                let static_ = module_short == "import_tasks"
                    || (module_short == "include" && !crate::template::Templar::is_template(&file));
                if static_ {
                    let path = self.resolve_task_file(&file, dir, role);
                    if !path.exists() {
                        return Err(vnode.error(format!("task file {} not found", path.display())));
                    }
                    let inner = self.task_file(&path, role)?;
                    return Ok(vec![self.wrap_static(t, inner)]);
                }
                args.shift_remove("_raw_params");
                args.shift_remove("file");
                t.kind = TaskKind::IncludeTasks {
                    file,
                    dir: dir.to_path_buf(),
                    args: minijinja::Value::from_pairs(args),
                };
            }
            "import_role" | "include_role" => {
                let name = args
                    .get("name")
                    .or_else(|| args.get("role"))
                    .and_then(|v| v.as_str().map(str::to_string))
                    .ok_or_else(|| vnode.error("include_role/import_role needs `name`"))?;
                let tasks_from = args
                    .get("tasks_from")
                    .and_then(|v| v.as_str().map(str::to_string));
                if module_short == "import_role" {
                    let params = args.get("vars").map(|v| value_map(v)).unwrap_or_default();
                    let (_role, tasks, handlers) =
                        self.role(&name, tasks_from.as_deref(), params, dir, &vnode.span)?;
                    self.imported_handlers.lock().unwrap().extend(handlers);
                    return Ok(vec![self.wrap_static(t, tasks)]);
                }
                t.kind = TaskKind::IncludeRole {
                    name,
                    tasks_from,
                    args: minijinja::Value::from_pairs(args),
                };
            }
            _ => {
                if let Some(m) = self.registry.get(&module_short) {
                    if let Some(params) = m.params() {
                        for k in args.keys() {
                            if !k.starts_with('_') && !params.contains(&k.as_str()) {
                                let hint = suggest(k, params)
                                    .map(|s| format!(" (did you mean `{s}`?)"))
                                    .unwrap_or_default();
                                return Err(vnode.error(format!(
                                    "unsupported parameter `{k}` for module `{module_short}`{hint}"
                                )));
                            }
                        }
                    }
                    {
                        let literal: Vec<(String, Option<String>)> = args
                            .iter()
                            .map(|(k, v)| {
                                let lit = match v.kind() {
                                    minijinja::value::ValueKind::String
                                    | minijinja::value::ValueKind::Bool
                                    | minijinja::value::ValueKind::Number => Some(
                                        v.as_str()
                                            .map(str::to_string)
                                            .unwrap_or_else(|| v.to_string()),
                                    ),
                                    _ => None,
                                };
                                (k.clone(), lit)
                            })
                            .collect();
                        crate::modules::check_static_args(&*m, &literal)
                            .map_err(|e| vnode.error(e))?;
                    }
                }
                let action = match resolved {
                    Some(Action::Engine(EngineAction::Meta(_))) => {
                        let what = args
                            .get("_raw_params")
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        let m = Meta::parse(&what).ok_or_else(|| {
                            let names: Vec<&str> = Meta::ALL.iter().map(|(n, _)| *n).collect();
                            let hint = suggest(what.trim(), &names)
                                .map(|s| format!(" (did you mean `{s}`?)"))
                                .unwrap_or_default();
                            vnode.error(format!(
                                "invalid meta action `{}`: one of {}{hint}",
                                what.trim(),
                                names.join(", ")
                            ))
                        })?;
                        Action::Engine(EngineAction::Meta(m))
                    }
                    Some(a) => a,
                    // a module Ansible has and rdeploy does not: fails only if it runs
                    None if crate::modules::known::collection_of(&module_short).is_some() => {
                        Action::Module(module_short.clone())
                    }
                    // unreachable: unknown names were refused above
                    None => return Err(knode.error(format!("unknown action `{module_short}`"))),
                };
                t.kind = TaskKind::Action {
                    action,
                    args: minijinja::Value::from_pairs(args),
                };
            }
        }
        Ok(vec![t])
    }

    /// A static import keeps the importing task's keywords by becoming a block.
    fn wrap_static(&self, mut t: Task, inner: Vec<Task>) -> Task {
        t.kind = TaskKind::Block {
            block: inner,
            rescue: vec![],
            always: vec![],
        };
        if t.name.is_none() {
            t.name = Some("import".into());
        }
        t
    }

    fn parse_args(
        &self,
        module: &str,
        v: &Node,
        free_form: bool,
        from_action: bool,
    ) -> Result<IndexMap<String, minijinja::Value>> {
        let mut out = IndexMap::new();
        match &v.kind {
            NodeKind::Null => {}
            NodeKind::Map(m) => {
                for (k, val) in m {
                    let key = k.key_string().unwrap_or_default();
                    if from_action && key == "module" {
                        continue;
                    }
                    out.insert(key, val.to_value());
                }
            }
            NodeKind::Seq(_) => {
                return Err(v.error(format!(
                    "arguments of `{module}` must be a mapping or a string, not a list"
                )))
            }
            _ => {
                let mut s = v.scalar_string().unwrap_or_default();
                if from_action {
                    s = s
                        .trim_start()
                        .splitn(2, char::is_whitespace)
                        .nth(1)
                        .unwrap_or("")
                        .to_string();
                }
                if matches!(module, "command" | "shell" | "raw" | "script") {
                    // Free-form commands keep their text as written (multi-line scripts);
                    // the module itself takes out `creates=`/`chdir=` words.
                    out.insert("_raw_params".to_string(), minijinja::Value::from(s));
                    return Ok(out);
                }
                for (k, val) in parse_kv(&s, free_form) {
                    if k == "_raw_params" && !free_form && module != "set_fact" {
                        return Err(v.error(format!(
                            "`{module}` takes `key=value` arguments; could not parse `{val}`"
                        )));
                    }
                    out.insert(k, minijinja::Value::from(val));
                }
            }
        }
        Ok(out)
    }

    fn resolve_task_file(&self, file: &str, dir: &Path, role: Option<&Arc<Role>>) -> PathBuf {
        let p = Path::new(file);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        let mut candidates = vec![dir.join(p)];
        if let Some(r) = role {
            candidates.push(r.path.join("tasks").join(p));
            candidates.push(r.path.join(p));
        }
        candidates
            .iter()
            .find(|c| c.exists())
            .cloned()
            .unwrap_or_else(|| candidates[0].clone())
    }

    /// Finds a role directory by name.
    pub fn find_role(&self, name: &str, play_dir: &Path) -> Option<PathBuf> {
        let p = Path::new(name);
        if p.is_absolute() || name.contains('/') {
            let cand = if p.is_absolute() {
                p.to_path_buf()
            } else {
                play_dir.join(p)
            };
            return cand.is_dir().then_some(cand);
        }
        let short = name.rsplit('.').next().unwrap_or(name);
        let mut dirs = vec![play_dir.join("roles")];
        dirs.extend(self.roles_path.iter().cloned());
        dirs.push(play_dir.to_path_buf());
        for d in dirs {
            for n in [name, short] {
                let c = d.join(n);
                if c.join("tasks").is_dir()
                    || c.join("meta").is_dir()
                    || c.join("handlers").is_dir()
                {
                    return Some(c);
                }
            }
        }
        None
    }

    fn load_role_entry(&self, e: &Node, dir: &Path) -> Result<(Vec<Task>, Vec<Task>)> {
        let (name, params, when, tags, become_) = match &e.kind {
            NodeKind::Map(m) => {
                let mut name = None;
                let mut params = RawVars::new();
                let mut when = vec![];
                let mut tags = vec![];
                let mut b = Become::default();
                for (k, v) in m {
                    match k.key_string().unwrap_or_default().as_str() {
                        "role" | "name" => name = Some(str_of(v, "role")?),
                        "vars" => params.extend(vars_of(v)?),
                        "when" => when = conditions(v)?,
                        "tags" => tags = tags_of(v)?,
                        "become" => b.become_ = Some(Flag::from_node(v, "become")?),
                        "become_user" => b.user = Some(str_of(v, "become_user")?),
                        "become_method" => b.method = Some(str_of(v, "become_method")?),
                        other => {
                            params.insert(other.to_string(), v.to_value());
                        }
                    }
                }
                (
                    name.ok_or_else(|| e.error("a role entry needs `role:`"))?,
                    params,
                    when,
                    tags,
                    b,
                )
            }
            _ => (
                str_of(e, "role")?,
                RawVars::new(),
                vec![],
                vec![],
                Become::default(),
            ),
        };
        // A role runs once per play unless its parameters differ.
        let path = self.role_path(&name, dir, &e.span)?;
        if self.already_in_play(&path, &params) {
            return Ok((vec![], vec![]));
        }
        let (role, tasks, handlers) = self.role(&name, None, params, dir, &e.span)?;
        let mut out_tasks = Vec::new();
        if !when.is_empty()
            || !tags.is_empty()
            || become_.become_.is_some()
            || become_.user.is_some()
        {
            let mut wrapper = self.empty_task(e, dir, Some(&role));
            wrapper.name = Some(format!("role {name}"));
            wrapper.when = when;
            wrapper.tags = tags;
            wrapper.become_ = become_;
            wrapper.kind = TaskKind::Block {
                block: tasks,
                rescue: vec![],
                always: vec![],
            };
            out_tasks.push(wrapper);
        } else {
            out_tasks = tasks;
        }
        Ok((out_tasks, handlers))
    }

    /// Whether the play already has the role at `path` with these parameters (and
    /// the role does not allow duplicates).
    fn already_in_play(&self, path: &Path, params: &RawVars) -> bool {
        let seen = self
            .play_roles
            .lock()
            .unwrap()
            .iter()
            .any(|(p, r)| r.path == path && p == params);
        seen && !allow_duplicates(path)
    }

    fn empty_task(&self, node: &Node, dir: &Path, role: Option<&Arc<Role>>) -> Task {
        let mut t = self.parse_task_stub(node, dir);
        t.role = role.cloned();
        t
    }

    fn parse_task_stub(&self, node: &Node, dir: &Path) -> Task {
        Task::new(
            node.span.clone(),
            dir.to_path_buf(),
            TaskKind::Block {
                block: vec![],
                rescue: vec![],
                always: vec![],
            },
        )
    }

    /// Loads a role: defaults, vars, tasks (main or `tasks_from`), handlers, and its
    /// meta dependencies (whose tasks come first).
    /// Every problem found is in the error (for include_role at run time).
    pub fn load_role(
        &self,
        name: &str,
        tasks_from: Option<&str>,
        params: RawVars,
        play_dir: &Path,
        at: &Span,
    ) -> Result<(Arc<Role>, Vec<Task>, Vec<Task>)> {
        let r = self.role(name, tasks_from, params, play_dir, at);
        self.checked(r)
    }

    fn role(
        &self,
        name: &str,
        tasks_from: Option<&str>,
        params: RawVars,
        play_dir: &Path,
        at: &Span,
    ) -> Result<(Arc<Role>, Vec<Task>, Vec<Task>)> {
        self.load_role_depth(name, tasks_from, params, play_dir, at, &mut Vec::new())
    }

    fn role_path(&self, name: &str, play_dir: &Path, at: &Span) -> Result<PathBuf> {
        self.find_role(name, play_dir).ok_or_else(|| {
            let mut searched = vec![play_dir.join("roles").display().to_string()];
            searched.extend(self.roles_path.iter().map(|p| p.display().to_string()));
            at.error(format!(
                "the role `{name}` was not found in {}",
                searched.join(":")
            ))
        })
    }

    /// A dependency on a role already being loaded closes a cycle: a problem at the
    /// closing dependency naming each edge with where it is written (the dependency is
    /// then left out so that loading goes on).
    fn dependency_cycle(&self, chain: &[RoleLink], name: &str, path: &Path, at: &Span) -> bool {
        let Some(start) = chain.iter().position(|l| l.path == path) else {
            return false;
        };
        let links = &chain[start..];
        let mut text = links[0].name.clone();
        for l in &links[1..] {
            text.push_str(&format!(" -> {} ({})", l.name, l.at));
        }
        text.push_str(&format!(" -> {name} ({})", *at));
        self.problem(SourceError::new(
            &*at,
            format!("role dependency cycle: {text}"),
        ));
        true
    }

    fn load_role_depth(
        &self,
        name: &str,
        tasks_from: Option<&str>,
        params: RawVars,
        play_dir: &Path,
        at: &Span,
        chain: &mut Vec<RoleLink>,
    ) -> Result<(Arc<Role>, Vec<Task>, Vec<Task>)> {
        let own = params.clone();
        self.load_role_depth_own(name, tasks_from, params, own, play_dir, at, chain)
    }

    /// Loads a role with `params` (its own and the inherited ones) and records it in
    /// the play with `own` (the parameters written where it is used).
    #[allow(clippy::too_many_arguments)]
    fn load_role_depth_own(
        &self,
        name: &str,
        tasks_from: Option<&str>,
        params: RawVars,
        own: RawVars,
        play_dir: &Path,
        at: &Span,
        chain: &mut Vec<RoleLink>,
    ) -> Result<(Arc<Role>, Vec<Task>, Vec<Task>)> {
        if chain.len() > 20 {
            return Err(at.error(format!("role dependencies nested too deep at `{name}`")));
        }
        let path = self.role_path(name, play_dir, at)?;
        chain.push(RoleLink {
            name: name.to_string(),
            path: path.clone(),
            at: at.clone(),
            params: params.clone(),
        });
        let r = self.load_role_at(&path, name, tasks_from, params, play_dir, at, chain);
        chain.pop();
        if let Ok((role, _, _)) = &r {
            self.play_roles.lock().unwrap().push((own, role.clone()));
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn load_role_at(
        &self,
        path: &Path,
        name: &str,
        tasks_from: Option<&str>,
        params: RawVars,
        play_dir: &Path,
        at: &Span,
        chain: &mut Vec<RoleLink>,
    ) -> Result<(Arc<Role>, Vec<Task>, Vec<Task>)> {
        let path = path.to_path_buf();
        let load_vars = |sub: &str| -> Result<RawVars> {
            for f in ["main.yml", "main.yaml", "main"] {
                let p = path.join(sub).join(f);
                if p.is_file() {
                    let n = yaml::load_file(&p)?;
                    return vars_of(&n);
                }
            }
            Ok(RawVars::new())
        };
        let role = Arc::new(Role {
            name: path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| name.to_string()),
            path: path.clone(),
            defaults: load_vars("defaults")?,
            vars: load_vars("vars")?,
            params,
        });
        let mut tasks = Vec::new();
        let mut handlers = Vec::new();
        // meta/main.yml dependencies
        for f in ["main.yml", "main.yaml"] {
            let p = path.join("meta").join(f);
            if p.is_file() {
                let meta = yaml::load_file(&p)?;
                if let Some(deps) = meta.get("dependencies").and_then(|d| d.as_seq()) {
                    for d in deps {
                        let (dname, dparams) = match &d.kind {
                            NodeKind::Map(_) => {
                                let n = d
                                    .get("role")
                                    .or_else(|| d.get("name"))
                                    .and_then(|n| n.scalar_string())
                                    .ok_or_else(|| d.error("dependency needs `role:`"))?;
                                let mut ps = RawVars::new();
                                for (k, v) in d.as_map().unwrap() {
                                    let key = k.key_string().unwrap_or_default();
                                    if key != "role" && key != "name" {
                                        if key == "vars" {
                                            ps.extend(vars_of(v)?);
                                        } else {
                                            ps.insert(key, v.to_value());
                                        }
                                    }
                                }
                                (n, ps)
                            }
                            _ => (str_of(d, "dependency")?, RawVars::new()),
                        };
                        let dpath = self.role_path(&dname, play_dir, &d.span)?;
                        if self.dependency_cycle(chain, &dname, &dpath, &d.span) {
                            continue;
                        }
                        // A dependency already in the play with the same parameters
                        // ran there; it inherits its parents' parameters (Ansible's
                        // `get_role_params` over the dependency chain).
                        if self.already_in_play(&dpath, &dparams) {
                            continue;
                        }
                        let mut inherited =
                            chain.last().map(|l| l.params.clone()).unwrap_or_default();
                        inherited.extend(dparams.clone());
                        let (_r, t, h) = self.load_role_depth_own(
                            &dname, None, inherited, dparams, play_dir, &d.span, chain,
                        )?;
                        tasks.extend(t);
                        handlers.extend(h);
                    }
                }
                break;
            }
        }
        let tf = tasks_from.unwrap_or("main");
        // ansible-core's argument validation task starts the role's own tasks
        let entry = tf.trim_end_matches(".yml").trim_end_matches(".yaml");
        if let Some(vt) = super::argspec::validation_task(&role, entry, &path.join("tasks"))? {
            tasks.push(vt);
        }
        let mut found = false;
        for cand in [tf.to_string(), format!("{tf}.yml"), format!("{tf}.yaml")] {
            let p = path.join("tasks").join(&cand);
            if p.is_file() {
                tasks.extend(self.task_file(&p, Some(&role))?);
                found = true;
                break;
            }
        }
        if !found && tasks_from.is_some() {
            return Err(at.error(format!("tasks_from `{tf}` not found in role {}", role.name)));
        }
        for cand in ["main.yml", "main.yaml", "main"] {
            let p = path.join("handlers").join(cand);
            if p.is_file() {
                handlers.extend(self.task_file(&p, Some(&role))?);
                break;
            }
        }
        Ok((role, tasks, handlers))
    }
}

/// A role being loaded: its name, directory, and where it was required from.
struct RoleLink {
    name: String,
    path: PathBuf,
    at: Span,
    /// The role's parameters, its parents' included: a dependency inherits them.
    params: RawVars,
}

/// `allow_duplicates: true` in a role's meta/main.yml.
fn allow_duplicates(path: &Path) -> bool {
    ["main.yml", "main.yaml"].iter().any(|f| {
        let p = path.join("meta").join(f);
        p.is_file()
            && yaml::load_file(&p)
                .ok()
                .and_then(|m| {
                    m.get("allow_duplicates")
                        .map(|v| bool_of(v, "allow_duplicates"))
                })
                .and_then(|b| b.ok())
                .unwrap_or(false)
    })
}

fn value_map(v: &minijinja::Value) -> RawVars {
    let mut out = RawVars::new();
    if let Ok(iter) = v.try_iter() {
        for k in iter {
            if let (Some(ks), Ok(val)) = (k.as_str(), v.get_item(&k)) {
                out.insert(ks.to_string(), val);
            }
        }
    }
    out
}
/// `register:` in its mapping form (ansible-core 2.21, playbook/task.py
/// `_validate_register`): each key a variable name, each value a Jinja expression
/// (without `{{ }}`, which ansible-core refuses: "Template delimiters are not supported
/// in expressions").
fn register_exprs(m: &[(Node, Node)]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in m {
        let name = k.key_string().unwrap_or_default();
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(k.error(format!(
                "Invalid 'register' specified: `{name}` is not a valid variable name"
            )));
        }
        let expr = v
            .scalar_string()
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| {
                v.error(format!(
                    "the register expression of `{name}` must be a string"
                ))
            })?;
        if expr.contains("{{") || expr.contains("{%") {
            return Err(v.error(format!(
                "Register projection '{name}': template delimiters are not supported in expressions (write `{}`)",
                expr.trim().trim_start_matches("{{").trim_end_matches("}}").trim()
            )));
        }
        out.push((name, expr));
    }
    Ok(out)
}
