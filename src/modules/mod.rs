//! Modules: what a task does. Each module lives in its own file and implements
//! [`Module`]; adding one touches that file and one line of [`registry`].
//!
//! A module runs on the controller and talks to the host only through
//! [`ModuleCtx::run`] (a shell script, optionally with stdin). It first queries the
//! host, decides, and acts only when needed: it reports `changed` truthfully, and in
//! check mode it predicts the change without acting. Every user value that goes into a
//! script is quoted with [`crate::shell`].

pub mod args;
pub mod known;
pub mod util;

pub mod apt;
pub mod apt_key;
pub mod apt_repository;
pub mod assemble;
pub mod assert;
pub mod async_status;
pub mod authorized_key;
pub mod blockinfile;
pub mod command;
pub mod copy;
pub mod cron;
pub mod deb822_repository;
pub mod debconf;
pub mod debug;
pub mod docker_compose;
pub mod docker_login;
pub mod dpkg_selections;
pub mod fail;
pub mod fetch;
pub mod file;
pub mod find;
pub mod get_url;
pub mod getent;
pub mod git;
pub mod group;
pub mod hostname;
pub mod ini_file;
pub mod known_hosts;
pub mod lineinfile;
pub mod modprobe;
pub mod mount;
pub mod package;
pub mod package_facts;
pub mod pause;
pub mod ping;
pub mod pip;
pub mod reboot;
pub mod replace;
pub mod script;
pub mod service;
pub mod service_facts;
pub mod setup;
pub mod slurp;
pub mod stat;
pub mod sysctl;
pub mod tempfile;
pub mod template;
pub mod timezone;
pub mod ufw;
pub mod unarchive;
pub mod uri;
pub mod user;
pub mod validate_argument_spec;
pub mod wait_for;
pub mod wait_for_connection;

pub use args::Args;

use crate::output::FileDiff;
use crate::ssh::{Become, Connection, ExecOutput, ExecRequest, ScriptKind, TransportError};
use crate::template::Templar;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What a module reports.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub changed: bool,
    pub failed: bool,
    pub skipped: bool,
    pub msg: Option<String>,
    /// Return values, as Ansible modules return them (`rc`, `stdout`, `path`, ...).
    pub data: Map<String, Value>,
    /// Per-file diffs, shown with `--diff`.
    pub diff: Vec<FileDiff>,
    /// Facts to set on the host (`ansible_facts`), e.g. from setup or set_fact.
    pub facts: Map<String, Value>,
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome::default()
    }
    pub fn changed(changed: bool) -> Self {
        Outcome {
            changed,
            ..Default::default()
        }
    }
    pub fn failed(msg: impl Into<String>) -> Self {
        Outcome {
            failed: true,
            msg: Some(msg.into()),
            ..Default::default()
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }
    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }
    pub fn with_diff(
        mut self,
        path: &str,
        before: impl Into<String>,
        after: impl Into<String>,
    ) -> Self {
        self.diff.push(FileDiff {
            path: path.to_string(),
            before: before.into(),
            after: after.into(),
        });
        self
    }
}

/// Why a module could not produce an [`Outcome`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModuleError {
    /// The host cannot be talked to: it is marked unreachable.
    #[error(transparent)]
    Unreachable(#[from] TransportError),
    /// The task fails on this host with this message (bad arguments, a failing command).
    #[error("{0}")]
    Failed(String),
}

impl ModuleError {
    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleError::Failed(msg.into())
    }
}

pub type ModuleResult = Result<Outcome, ModuleError>;

/// Where a module looks for local files: `files/`, `templates/` of the current role,
/// then the playbook's directory, as Ansible does.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// Role directory, if the task comes from a role.
    pub role_dir: Option<PathBuf>,
    /// Directory of the playbook (or of the included task file's playbook).
    pub playbook_dir: PathBuf,
}

impl SearchPaths {
    /// Finds `src` for a module; `kind` is `"files"` or `"templates"`.
    pub fn find(&self, src: &str, kind: &str) -> Option<PathBuf> {
        let p = Path::new(src);
        if p.is_absolute() {
            return p.exists().then(|| p.to_path_buf());
        }
        let mut candidates = Vec::new();
        if let Some(role) = &self.role_dir {
            candidates.push(role.join(kind).join(p));
            candidates.push(role.join(p));
            candidates.push(role.join("tasks").join(p));
        }
        candidates.push(self.playbook_dir.join(kind).join(p));
        candidates.push(self.playbook_dir.join(p));
        candidates.into_iter().find(|c| c.exists())
    }
}

/// What a module gets to work with on one host.
pub struct ModuleCtx<'a> {
    /// Inventory name of the host.
    pub host: &'a str,
    pub conn: Arc<dyn Connection>,
    pub become_: Option<&'a Become>,
    /// Task `environment:` (exported before every script).
    pub environment: &'a [(String, String)],
    pub check_mode: bool,
    pub diff_mode: bool,
    pub templar: &'a Templar,
    /// All variables of the host for this task (for the template module).
    pub vars: &'a minijinja::Value,
    pub search: &'a SearchPaths,
    pub timeout: Option<Duration>,
    /// Set when the run streams command output as it arrives (`rdeploy exec`): the
    /// command modules send their command's output there ([`ModuleCtx::run_streamed`]).
    pub output: Option<crate::ssh::stream::OutputSink>,
}

impl ModuleCtx<'_> {
    /// Runs a script on the host (with become and environment applied).
    pub async fn run(&self, script: &str) -> Result<ExecOutput, ModuleError> {
        self.run_stdin(script, None).await
    }

    /// Runs a script with bytes on its stdin (file contents are streamed this way).
    pub async fn run_stdin(
        &self,
        script: &str,
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, ModuleError> {
        self.exec_with(script, stdin, None, ScriptKind::Any).await
    }

    /// [`run`](Self::run) for a module's own script that starts no process outliving it
    /// (no user command, no service, no package manager): its output comes straight back
    /// over the persistent shell ([`ScriptKind::Own`]), a `cat` less on the host.
    pub async fn run_own(&self, script: &str) -> Result<ExecOutput, ModuleError> {
        self.exec_with(script, None, None, ScriptKind::Own).await
    }

    /// [`run_own`](Self::run_own) with bytes on the script's stdin.
    pub async fn run_own_stdin(
        &self,
        script: &str,
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, ModuleError> {
        self.exec_with(script, stdin, None, ScriptKind::Own).await
    }

    /// Runs a script whose output goes to `sink` as it arrives (see [`crate::ssh::stream`]).
    pub async fn run_streamed(
        &self,
        script: &str,
        sink: crate::ssh::stream::OutputSink,
    ) -> Result<ExecOutput, ModuleError> {
        self.exec_with(script, None, Some(sink), ScriptKind::Any)
            .await
    }

    async fn exec_with(
        &self,
        script: &str,
        stdin: Option<Vec<u8>>,
        sink: Option<crate::ssh::stream::OutputSink>,
        kind: ScriptKind,
    ) -> Result<ExecOutput, ModuleError> {
        let mut full = String::new();
        for (k, v) in self.environment {
            if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !k.is_empty() {
                let mut s = crate::shell::Script::new();
                s.raw("export ").assign(k, v).raw("\n");
                full.push_str(s.as_str());
            }
        }
        full.push_str(script);
        let req = ExecRequest {
            script: full,
            stdin,
            timeout: self.timeout,
            become_: self.become_.cloned(),
            kind,
        };
        Ok(match sink {
            Some(sink) => self.conn.exec_streamed(req, sink).await?,
            None => self.conn.exec(req).await?,
        })
    }

    /// Runs a script and fails the task when it exits non-zero.
    pub async fn run_ok(&self, script: &str) -> Result<ExecOutput, ModuleError> {
        let out = self.run(script).await?;
        if out.rc != 0 {
            return Err(ModuleError::Failed(format!(
                "command failed (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        Ok(out)
    }
}

/// A module. Implementations are stateless; one instance serves every host.
#[async_trait]
pub trait Module: Send + Sync {
    /// The short name (`copy`); `ansible.builtin.copy` and other FQCNs resolve to it.
    fn name(&self) -> &'static str;
    /// Other names for the same module (e.g. `systemd` for service).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Files on the controller the module reads, named by its (untemplated) arguments,
    /// so they can be checked before any host is touched. Arguments that are templates
    /// are resolved at run time and left out.
    fn controller_files(&self, _args: &minijinja::Value) -> Vec<ControllerFile> {
        vec![]
    }
    /// Whether the module runs on the controller only (debug, assert, fail, pause): it
    /// gets a local connection and never opens one to the host.
    fn on_controller(&self) -> bool {
        false
    }
    /// Whether the module takes a free-form string (`command: ls -l`), passed as
    /// the `_raw_params` argument.
    fn free_form(&self) -> bool {
        false
    }
    /// Argument names the module accepts (for `--syntax-check` and clear errors);
    /// `None` accepts anything.
    fn params(&self) -> Option<&'static [&'static str]> {
        None
    }
    /// Parameters with a default, choices or `required` (shown by `rdeploy doc`;
    /// literal values are checked at load by [`check_static_args`]).
    fn spec(&self) -> &'static [Param] {
        &[]
    }
    /// The keys of the result besides `changed`/`failed`/`msg` (for `rdeploy doc`).
    fn returns(&self) -> &'static [&'static str] {
        &[]
    }
    /// Does the work on one host.
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult;
    /// `async`: starts the work in the background on the host, to end within `limit`
    /// seconds (see [`async_status`]). `None`: the module has no background form and
    /// the executor runs it in the foreground, bounded by `limit`.
    async fn launch_async(
        &self,
        _ctx: &ModuleCtx<'_>,
        _args: &Args,
        _limit: u64,
    ) -> Option<Result<async_status::Launch, ModuleError>> {
        None
    }
}

/// A controller file a task will read (see [`Module::controller_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerFile {
    /// The path as written in the task.
    pub path: String,
    /// The directory of a role (or next to the playbook) it is searched in.
    pub search_dir: &'static str,
    /// A Jinja template: it must also compile.
    pub template: bool,
}

/// A parameter's default, choices and whether it is required, as a module's
/// documentation gives them.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub choices: &'static [&'static str],
    pub required: bool,
}

impl Param {
    pub const fn new(name: &'static str) -> Param {
        Param {
            name,
            default: None,
            choices: &[],
            required: false,
        }
    }
    pub const fn default(self, d: &'static str) -> Param {
        Param {
            default: Some(d),
            ..self
        }
    }
    pub const fn choices(self, c: &'static [&'static str]) -> Param {
        Param { choices: c, ..self }
    }
    pub const fn required(self) -> Param {
        Param {
            required: true,
            ..self
        }
    }
}

/// Checks what can be checked before any host is contacted: required parameters are
/// there, and literal (untemplated) values are among the choices. `args` are the
/// task's arguments, each with its literal text when it is a plain scalar.
pub fn check_static_args(
    module: &dyn Module,
    args: &[(String, Option<String>)],
) -> Result<(), String> {
    for p in module.spec() {
        let given = args.iter().find(|(k, _)| k == p.name);
        match given {
            None if p.required => {
                return Err(format!(
                    "missing required parameter `{}` for module `{}`",
                    p.name,
                    module.name()
                ))
            }
            Some((_, Some(v)))
                if !p.choices.is_empty() && !crate::template::Templar::is_template(v) =>
            {
                if !p.choices.contains(&v.as_str()) {
                    return Err(format!(
                        "value of `{}` for module `{}` must be one of: {}; got: {v}",
                        p.name,
                        module.name(),
                        p.choices.join(", ")
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The registry: every module rdeploy knows, by every name it answers to.
pub struct Registry {
    modules: std::collections::HashMap<&'static str, Arc<dyn Module>>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<Arc<dyn Module>> {
        let short = short_name(name);
        self.modules.get(short).cloned()
    }
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.modules.keys().copied().collect();
        v.sort();
        v
    }
}

/// `ansible.builtin.copy` -> `copy`, `community.docker.docker_compose` -> `docker_compose`.
pub fn short_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Builds the registry of all modules.
pub fn registry() -> Registry {
    let all: Vec<Arc<dyn Module>> = vec![
        Arc::new(apt::Apt),
        Arc::new(apt_key::AptKey),
        Arc::new(apt_repository::AptRepository),
        Arc::new(assemble::Assemble),
        Arc::new(assert::Assert),
        Arc::new(async_status::AsyncStatus),
        Arc::new(authorized_key::AuthorizedKey),
        Arc::new(blockinfile::BlockInFile),
        Arc::new(command::Command),
        Arc::new(command::Shell),
        Arc::new(command::Raw),
        Arc::new(copy::Copy),
        Arc::new(cron::Cron),
        Arc::new(deb822_repository::Deb822Repository),
        Arc::new(debconf::Debconf),
        Arc::new(debug::Debug),
        Arc::new(docker_compose::DockerCompose),
        Arc::new(docker_login::DockerLogin),
        Arc::new(dpkg_selections::DpkgSelections),
        Arc::new(fail::Fail),
        Arc::new(fetch::Fetch),
        Arc::new(file::File),
        Arc::new(find::Find),
        Arc::new(get_url::GetUrl),
        Arc::new(getent::Getent),
        Arc::new(git::Git),
        Arc::new(group::Group),
        Arc::new(hostname::Hostname),
        Arc::new(ini_file::IniFile),
        Arc::new(known_hosts::KnownHosts),
        Arc::new(lineinfile::LineInFile),
        Arc::new(modprobe::Modprobe),
        Arc::new(mount::Mount),
        Arc::new(package::Package),
        Arc::new(package_facts::PackageFacts),
        Arc::new(pause::Pause),
        Arc::new(ping::Ping),
        Arc::new(pip::Pip),
        Arc::new(reboot::Reboot),
        Arc::new(replace::Replace),
        Arc::new(script::Script),
        Arc::new(service::Service),
        Arc::new(service_facts::ServiceFacts),
        Arc::new(setup::Setup),
        Arc::new(slurp::Slurp),
        Arc::new(stat::Stat),
        Arc::new(sysctl::Sysctl),
        Arc::new(template::Template),
        Arc::new(tempfile::TempFile),
        Arc::new(timezone::Timezone),
        Arc::new(ufw::Ufw),
        Arc::new(unarchive::Unarchive),
        Arc::new(uri::Uri),
        Arc::new(user::User),
        Arc::new(validate_argument_spec::ValidateArgumentSpec),
        Arc::new(wait_for::WaitFor),
        Arc::new(wait_for_connection::WaitForConnection),
    ];
    let mut modules = std::collections::HashMap::new();
    for m in all {
        modules.insert(m.name(), m.clone());
        for a in m.aliases() {
            modules.insert(*a, m.clone());
        }
    }
    Registry { modules }
}

/// Runs modules on the controller through the `connection: local` transport (unit tests).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs `module` with `args` and the host's `vars` locally; templates and files
    /// are looked for in `dir`.
    pub async fn run_local_with(
        module: &dyn Module,
        args: serde_json::Value,
        vars: serde_json::Value,
        check_mode: bool,
        dir: &Path,
    ) -> ModuleResult {
        run_local_env(module, args, vars, &[], check_mode, dir).await
    }

    /// [`run_local_with`] with a task `environment:`.
    pub async fn run_local_env(
        module: &dyn Module,
        args: serde_json::Value,
        vars: serde_json::Value,
        environment: &[(String, String)],
        check_mode: bool,
        dir: &Path,
    ) -> ModuleResult {
        let templar = Templar::new();
        let vars = crate::template::from_json(&vars);
        let search = SearchPaths {
            role_dir: None,
            playbook_dir: dir.to_path_buf(),
        };
        let ctx = ModuleCtx {
            host: "localhost",
            conn: Arc::new(crate::ssh::local::LocalConnection),
            become_: None,
            environment,
            check_mode,
            diff_mode: false,
            templar: &templar,
            vars: &vars,
            search: &search,
            timeout: Some(Duration::from_secs(60)),
            output: None,
        };
        let map = args.as_object().cloned().unwrap_or_default();
        module.run(&ctx, &Args::new(map)).await
    }
}
