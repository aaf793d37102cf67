//! The playbook language: plays, tasks, blocks, roles and handlers, loaded from YAML
//! with positions ([`loader`]) and validated before anything runs. Static imports
//! (`import_tasks`, `import_role`, `roles:`, `import_playbook`) are expanded at load
//! time; dynamic includes are kept as tasks and loaded by the executor.

pub mod action;
pub mod argspec;
pub use action::{Action, EngineAction, Meta};
pub mod kv;
pub mod loader;
pub mod upgrade;
pub mod validate;

use crate::error::Span;
use indexmap::IndexMap;
use minijinja::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Raw (untemplated) variables in definition order.
pub type RawVars = IndexMap<String, Value>;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

/// A boolean keyword that Ansible templates (`no_log: "{{ hide }}"`, `check_mode`,
/// `diff`, `become`): a literal, or a template evaluated on each host when the task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    Const(bool),
    Template(String),
}

impl Default for Flag {
    fn default() -> Self {
        Flag::Const(false)
    }
}

impl Flag {
    /// A YAML boolean (`yes`, `true`, `1` ...), or a string with template syntax.
    pub fn from_node(n: &crate::yaml::Node, what: &str) -> crate::error::Result<Flag> {
        match &n.kind {
            crate::yaml::NodeKind::Str(s) if crate::template::Templar::is_template(s) => {
                Ok(Flag::Template(s.clone()))
            }
            _ => Ok(Flag::Const(loader::bool_of(n, what)?)),
        }
    }

    /// The value on one host; a template is evaluated like a condition (`"yes"`,
    /// `"False"` and other string booleans count as Ansible counts them).
    pub fn eval(
        &self,
        templar: &crate::template::Templar,
        ctx: &Value,
    ) -> Result<bool, crate::template::TemplateError> {
        match self {
            Flag::Const(b) => Ok(*b),
            Flag::Template(t) => templar.eval_condition(t, ctx),
        }
    }
}

/// `serial:` batch sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum Serial {
    Count(usize),
    Percent(f64),
}

#[derive(Debug, Clone, Default)]
pub struct Become {
    pub become_: Option<Flag>,
    pub user: Option<String>,
    pub method: Option<String>,
    pub flags: Option<String>,
}

impl Become {
    /// Inner settings override outer ones.
    pub fn over(&self, outer: &Become) -> Become {
        Become {
            become_: self.become_.clone().or_else(|| outer.become_.clone()),
            user: self.user.clone().or_else(|| outer.user.clone()),
            method: self.method.clone().or_else(|| outer.method.clone()),
            flags: self.flags.clone().or_else(|| outer.flags.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub span: Span,
    /// Host pattern (a YAML list is joined with `:`).
    pub hosts: String,
    pub dir: PathBuf,
    pub vars: RawVars,
    pub vars_files: Vec<String>,
    pub pre_tasks: Vec<Task>,
    /// Role tasks, then the play's tasks.
    pub tasks: Vec<Task>,
    pub post_tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub roles: Vec<Arc<Role>>,
    pub become_: Become,
    pub remote_user: Option<String>,
    pub connection: Option<String>,
    pub gather_facts: bool,
    pub serial: Vec<Serial>,
    pub max_fail_percentage: Option<f64>,
    pub any_errors_fatal: bool,
    pub strategy_free: bool,
    pub tags: Vec<String>,
    pub environment: Option<Value>,
    pub check_mode: Option<bool>,
    pub force_handlers: bool,
    pub ignore_errors: bool,
    pub ignore_unreachable: bool,
    /// Where each keyword of the play was written (the key), for errors found after
    /// loading (`hosts`, `vars_files` ...).
    pub key_spans: KeySpans,
}

/// Keyword name -> the position of the key, in the order written.
pub type KeySpans = IndexMap<String, Span>;

/// A role as loaded from its directory.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    pub defaults: RawVars,
    pub vars: RawVars,
    /// Parameters given where the role is used (`- role: x` + keys, include_role vars).
    pub params: RawVars,
}

#[derive(Debug, Clone)]
pub enum LoopSpec {
    /// `loop:` (a list or an expression giving one).
    Loop(Value),
    /// `with_<lookup>:` with its terms.
    With(String, Value),
}

#[derive(Debug, Clone, Default)]
pub struct LoopControl {
    pub loop_var: Option<String>,
    pub index_var: Option<String>,
    pub label: Option<String>,
    pub pause: Option<f64>,
    pub extended: bool,
}

#[derive(Debug, Clone)]
pub enum TaskKind {
    /// A module call or an engine action. `args` is the raw argument mapping (templated
    /// per host).
    Action { action: Action, args: Value },
    Block {
        block: Vec<Task>,
        rescue: Vec<Task>,
        always: Vec<Task>,
    },
    /// `include_tasks` (dynamic). `file` may be templated.
    IncludeTasks {
        file: String,
        dir: PathBuf,
        args: Value,
    },
    /// `include_role` (dynamic).
    IncludeRole {
        name: String,
        tasks_from: Option<String>,
        args: Value,
    },
}

/// One task (or block, or handler).
#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    pub span: Span,
    pub kind: TaskKind,
    pub when: Vec<String>,
    pub loop_: Option<LoopSpec>,
    pub loop_control: LoopControl,
    pub register: Option<String>,
    /// `register:` in its mapping form (ansible-core 2.21): variable name -> expression
    /// evaluated over the task's result (`_task.result`, `_task.loop_result`,
    /// `_task.polymorphic_result`).
    pub register_exprs: Vec<(String, String)>,
    pub notify: Vec<String>,
    pub listen: Vec<String>,
    pub changed_when: Option<Vec<String>>,
    pub failed_when: Option<Vec<String>>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: bool,
    pub tags: Vec<String>,
    pub become_: Become,
    pub remote_user: Option<String>,
    pub vars: RawVars,
    pub environment: Option<Value>,
    pub delegate_to: Option<String>,
    /// `delegate_facts`: the facts the task gathers or sets belong to the delegated host.
    pub delegate_facts: bool,
    pub run_once: bool,
    pub until: Option<Vec<String>>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    /// `async`: the most seconds the module may run in the background on the host.
    pub async_: Option<Value>,
    /// `poll`: seconds between checks of an async job (0: fire and forget).
    pub poll: Option<Value>,
    pub no_log: Flag,
    pub check_mode: Option<Flag>,
    pub diff: Option<Flag>,
    pub any_errors_fatal: bool,
    pub connection: Option<String>,
    pub timeout: Option<u64>,
    /// The role this task comes from.
    pub role: Option<Arc<Role>>,
    /// Directory relative file lookups start from (playbook dir or included file's dir).
    pub dir: PathBuf,
    /// Where each keyword of the task was written (the key), so that errors found after
    /// loading (a bad `when`, an unknown handler in `notify`) point at it.
    pub key_spans: KeySpans,
}

impl Task {
    /// A task with every keyword at its default.
    pub fn new(span: Span, dir: PathBuf, kind: TaskKind) -> Task {
        Task {
            name: None,
            span,
            kind,
            when: vec![],
            loop_: None,
            loop_control: LoopControl::default(),
            register: None,
            register_exprs: vec![],
            notify: vec![],
            listen: vec![],
            changed_when: None,
            failed_when: None,
            ignore_errors: None,
            ignore_unreachable: false,
            tags: vec![],
            become_: Become::default(),
            remote_user: None,
            vars: RawVars::new(),
            environment: None,
            delegate_to: None,
            delegate_facts: false,
            run_once: false,
            until: None,
            retries: None,
            delay: None,
            async_: None,
            poll: None,
            no_log: Flag::Const(false),
            check_mode: None,
            diff: None,
            any_errors_fatal: false,
            connection: None,
            timeout: None,
            role: None,
            dir,
            key_spans: KeySpans::new(),
        }
    }

    /// The position of a keyword of this task, or of the task when it was not written.
    pub fn span_of(&self, key: &str) -> &Span {
        self.key_spans.get(key).unwrap_or(&self.span)
    }

    /// The task's conditional keywords with their expressions (absent ones: `None`).
    pub fn conditions(&self) -> [(&'static str, Option<&Vec<String>>); 4] {
        [
            ("when", Some(&self.when)),
            ("changed_when", self.changed_when.as_ref()),
            ("failed_when", self.failed_when.as_ref()),
            ("until", self.until.as_ref()),
        ]
    }

    /// The name shown in output: `role : name`, or the action when unnamed.
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.kind) {
            (Some(n), _) if !n.is_empty() => n.clone(),
            (_, TaskKind::Action { action, .. }) => action.name().to_string(),
            (_, TaskKind::Block { .. }) => "block".into(),
            // as ansible-playbook shows unnamed includes
            (_, TaskKind::IncludeTasks { .. }) => "include_tasks".into(),
            (_, TaskKind::IncludeRole { name, .. }) => format!("include_role : {name}"),
        };
        match &self.role {
            Some(r) => format!("{} : {}", r.name, base),
            None => base,
        }
    }
    pub fn action(&self) -> &str {
        match &self.kind {
            TaskKind::Action { action, .. } => action.name(),
            TaskKind::Block { .. } => "block",
            TaskKind::IncludeTasks { .. } => "include_tasks",
            TaskKind::IncludeRole { .. } => "include_role",
        }
    }
}
