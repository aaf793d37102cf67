//! Events and reporters. The engine emits [`Event`]s and never prints; a [`Reporter`]
//! renders them: [`human`] (Ansible-like lines, progress bars on a terminal) or [`json`]
//! (one JSON object per line, for CI). Values marked `no_log` are censored before an
//! event is built, so no reporter can leak them; values decrypted from a vault are masked
//! by the wrapper every reporter gets ([`crate::vault::censor::Censoring`]).

pub mod human;
pub mod json;

use indexmap::IndexMap;
use serde::Serialize;

/// The status of one task on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// A unified diff of one file (or attribute set) for `--diff`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileDiff {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// Per-host counters for the PLAY RECAP.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// The result of a task on a host (or of one loop item).
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    pub host: String,
    pub task: String,
    /// The module (or action) the task ran.
    pub action: String,
    pub status: Status,
    /// Set when the failure was ignored (`ignore_errors`).
    pub ignored: bool,
    /// The loop item label, for loop results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// For delegated tasks: the host it ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// The module's return values (already censored for `no_log`).
    pub result: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FileDiff>,
}

/// Everything the engine and the provisioner report.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    PlaybookStart {
        path: String,
        check: bool,
    },
    PlayStart {
        name: String,
        hosts: Vec<String>,
    },
    TaskStart {
        name: String,
        action: String,
        hosts: usize,
        handler: bool,
    },
    HostResult(HostResult),
    Warning {
        msg: String,
    },
    /// One line of a command's output, as it arrived (`rdeploy exec`).
    HostOutput {
        host: String,
        stderr: bool,
        line: String,
    },
    /// Free-form progress lines (for example provisioning steps).
    Message {
        msg: String,
    },
    Recap {
        stats: IndexMap<String, HostStats>,
        elapsed_secs: f64,
    },
    /// `rdeploy env list --output json`: the project's environments (provision::envs).
    Environments {
        project: String,
        environments: Vec<serde_json::Value>,
    },
    /// `rdeploy env show --output json`: one environment's resources and outputs.
    Environment {
        environment: serde_json::Value,
    },
    /// A provisioning plan as data (`--output json`): `{"event": "plan", "plan": {...}}`.
    Plan {
        plan: serde_json::Value,
    },
    /// The rendered outputs of a provisioning run as data (`--output json`).
    Outputs {
        outputs: IndexMap<String, serde_json::Value>,
    },
}

/// Renders events. Implementations must be cheap: they are called from the engine.
pub trait Reporter: Send + Sync {
    fn event(&self, ev: &Event);
    /// Called once at the end so progress bars can be cleared.
    fn finish(&self) {}
}

/// Output format chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

/// Builds the reporter for a format and verbosity.
pub fn reporter(format: Format, verbosity: u8, diff: bool) -> Box<dyn Reporter> {
    let inner: Box<dyn Reporter> = match format {
        Format::Human => Box::new(human::Human::new(verbosity, diff)),
        Format::Json => Box::new(json::Json::new()),
    };
    // Decrypted vault values never reach a reporter.
    Box::new(crate::vault::censor::Censoring(inner))
}

/// A reporter that collects events (used by tests and by the library API).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl Reporter for Collect {
    fn event(&self, ev: &Event) {
        self.0.lock().unwrap().push(ev.clone());
    }
}
