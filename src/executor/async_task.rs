//! `async: N` / `poll: P` on a task, as ansible-core runs them (executor/task_executor.py,
//! plugins/action/async_status.py).
//!
//! - `poll > 0`: the module's work runs in the background on the host; the controller
//!   sleeps `poll` seconds, reads the job, and again until it is finished or `N` seconds
//!   of polling are spent, then the task fails with "async task did not complete within
//!   the requested time - Ns" (the host's watchdog kills the job at `N` seconds too). A
//!   finished job's file is removed and its result is the task's.
//! - `poll: 0`: fire and forget; the result is `ansible_job_id`, `started`,
//!   `finished: false`, `results_file`, read later with `async_status`.
//!
//! `command` and `shell` run as jobs of their own on the host
//! ([`Module::launch_async`]). Other modules rdeploy drives from the controller in
//! several exchanges: they run in the foreground, bounded by `N` seconds, and their
//! result is written as a finished job, so that `poll: 0` + `async_status` content works
//! unchanged (the work is done before the next task instead of overlapping it). In
//! check mode the module answers in check mode in the foreground, as the module inside
//! ansible-core's job would. The actions ansible-core refuses async for fail with its
//! message.

use crate::modules::async_status::{self, Launch, Started};
use crate::modules::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::playbook::Task;
use crate::template::Templar;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// ansible-core's default `poll` (DEFAULT_POLL_INTERVAL).
const DEFAULT_POLL: u64 = 15;

/// Actions ansible-core's action plugins refuse `async` for (those without
/// `_supports_async`): "This action (NAME) does not support async."
const NO_ASYNC: &[&str] = &[
    "add_host",
    "assemble",
    "assert",
    "async_status",
    "copy",
    "debug",
    "fail",
    "fetch",
    "group_by",
    "include_vars",
    "pause",
    "raw",
    "reboot",
    "script",
    "set_fact",
    "set_stats",
    "template",
    "unarchive",
    "validate_argument_spec",
    "wait_for_connection",
];

/// A task's `async` and `poll`, rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncSpec {
    pub limit: u64,
    pub poll: u64,
}

fn seconds(
    templar: &Templar,
    v: &minijinja::Value,
    ctx: &minijinja::Value,
    what: &str,
) -> Result<i64, ModuleError> {
    let r = templar
        .render_value(v, ctx)
        .map_err(|e| ModuleError::failed(format!("{what}: {}", e.message)))?;
    r.as_i64()
        .or_else(|| r.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| ModuleError::failed(format!("{what} must be a number of seconds, got {r}")))
}

impl AsyncSpec {
    /// `None` when the task is not async (`async` absent or 0).
    pub fn of(
        templar: &Templar,
        t: &Task,
        ctx: &minijinja::Value,
    ) -> Result<Option<AsyncSpec>, ModuleError> {
        let Some(a) = &t.async_ else { return Ok(None) };
        let limit = seconds(templar, a, ctx, "async")?;
        if limit <= 0 {
            return Ok(None);
        }
        let poll = match &t.poll {
            Some(p) => seconds(templar, p, ctx, "poll")?.max(0) as u64,
            None => DEFAULT_POLL,
        };
        Ok(Some(AsyncSpec {
            limit: limit as u64,
            poll,
        }))
    }
}

/// The message ansible-core fails an action with when it has no async support.
pub fn refusal(action: &str) -> Option<String> {
    let short = action.rsplit('.').next().unwrap_or(action);
    NO_ASYNC
        .contains(&short)
        .then(|| format!("This action ({action}) does not support async."))
}

/// Runs module `m` for one item as an async task.
pub async fn run(
    m: &dyn Module,
    ctx: &ModuleCtx<'_>,
    args: &Args,
    spec: AsyncSpec,
) -> ModuleResult {
    let launched = if ctx.check_mode {
        None
    } else {
        m.launch_async(ctx, args, spec.limit).await
    };
    let launch = match launched {
        Some(r) => r?,
        None => Launch::Done(foreground(m, ctx, args, spec.limit).await?),
    };
    match launch {
        Launch::Started(job) if spec.poll == 0 => Ok(started(&job)),
        Launch::Started(job) => poll(ctx, &job, spec).await,
        Launch::Done(o) => {
            let map = result_map(&o);
            let job = async_status::write_finished(ctx, &map).await?;
            if spec.poll == 0 {
                return Ok(started(&job));
            }
            let mut r = async_status::status_outcome(
                &job.jid,
                &job.results_file,
                Some(&Value::Object(map).to_string()),
            );
            async_status::cleanup(ctx, &job.jid).await?;
            r.diff = o.diff;
            r.facts = o.facts;
            Ok(r)
        }
    }
}

/// A module without a background form, bounded by the async time.
async fn foreground(m: &dyn Module, ctx: &ModuleCtx<'_>, args: &Args, limit: u64) -> ModuleResult {
    match tokio::time::timeout(Duration::from_secs(limit), m.run(ctx, args)).await {
        Ok(r) => r,
        Err(_) => Ok(Outcome::failed(timeout_msg(limit))),
    }
}

fn timeout_msg(limit: u64) -> String {
    format!("async task did not complete within the requested time - {limit}s")
}

/// The result of `poll: 0` (ansible-core's async_wrapper answer; `changed` as ansible-core
/// reports it).
fn started(job: &Started) -> Outcome {
    Outcome::changed(true)
        .with("started", true)
        .with("finished", false)
        .with("ansible_job_id", job.jid.clone())
        .with("results_file", job.results_file.clone())
}

/// Polls the job every `poll` seconds until it is finished or `limit` seconds of polling
/// are spent (ansible-core's `_poll_async_result`); a finished job's file is removed.
async fn poll(ctx: &ModuleCtx<'_>, job: &Started, spec: AsyncSpec) -> ModuleResult {
    let mut left = spec.limit as i64;
    let mut last: Option<Outcome> = None;
    while left > 0 {
        tokio::time::sleep(Duration::from_secs(spec.poll)).await;
        let o = async_status::status(ctx, &job.jid).await?;
        let done = finished(&o) || o.failed || o.skipped;
        last = Some(o);
        if done {
            break;
        }
        left -= spec.poll as i64;
    }
    match last {
        Some(o) if finished(&o) => {
            async_status::cleanup(ctx, &job.jid).await?;
            Ok(o)
        }
        other => {
            let mut o = Outcome::failed(timeout_msg(spec.limit));
            if let Some(last) = other {
                o.data
                    .insert("async_result".into(), Value::Object(result_map(&last)));
            }
            Ok(o)
        }
    }
}

fn finished(o: &Outcome) -> bool {
    o.data.get("finished") == Some(&json!(true))
}

/// An outcome as a result map (what a job file holds).
fn result_map(o: &Outcome) -> Map<String, Value> {
    let mut m = o.data.clone();
    m.insert("changed".into(), json!(o.changed));
    if o.failed {
        m.insert("failed".into(), json!(true));
    }
    if o.skipped {
        m.insert("skipped".into(), json!(true));
    }
    if let Some(msg) = &o.msg {
        m.entry("msg").or_insert_with(|| json!(msg));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_without_async_are_refused_with_ansible_cores_message() {
        assert_eq!(
            refusal("ansible.builtin.copy").as_deref(),
            Some("This action (ansible.builtin.copy) does not support async.")
        );
        assert!(refusal("command").is_none() && refusal("apt").is_none());
    }

    #[test]
    fn a_timed_out_foreground_result_is_a_finished_failed_job() {
        let o = Outcome::failed(timeout_msg(2));
        let m = result_map(&o);
        let s = async_status::status_outcome("j1.1", "/p", Some(&Value::Object(m).to_string()));
        assert!(s.failed && finished(&s));
        assert_eq!(
            s.msg.as_deref(),
            Some("async task did not complete within the requested time - 2s")
        );
    }
}
