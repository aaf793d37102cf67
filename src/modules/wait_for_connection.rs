//! The `wait_for_connection` module: waits until the host answers again (after a
//! reboot, a network change), by running `true` in its shell every `sleep` seconds,
//! each attempt bounded by `connect_timeout`, for at most `timeout` seconds after
//! `delay`. A connection that ended is opened again ([`crate::ssh::Connection::reopen`])
//! for the next attempt (the engine's own then reopens before the next task). As in
//! ansible-core the result has `elapsed` (seconds); it never changes anything, and in
//! check mode it is skipped (ansible-core does not run it in check mode either).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use async_trait::async_trait;
use std::time::{Duration, Instant};

pub struct WaitForConnection;

const PARAMS: &[&str] = &["delay", "sleep", "timeout", "connect_timeout"];
const SPEC: &[Param] = &[
    Param::new("delay").default("0"),
    Param::new("sleep").default("1"),
    Param::new("timeout").default("600"),
    Param::new("connect_timeout").default("5"),
];

#[async_trait]
impl Module for WaitForConnection {
    fn name(&self) -> &'static str {
        "wait_for_connection"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["elapsed"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("wait_for_connection", PARAMS)?;
        let secs = |k: &str, d: f64| -> Result<f64, ModuleError> {
            let v = args.float(k)?.unwrap_or(d);
            if v < 0.0 || !v.is_finite() {
                return Err(ModuleError::failed(format!(
                    "wait_for_connection: {k} must be a number of seconds >= 0, got {v}"
                )));
            }
            Ok(v)
        };
        let delay = secs("delay", 0.0)?;
        let sleep = secs("sleep", 1.0)?.max(0.05);
        let timeout = secs("timeout", 600.0)?;
        let connect_timeout = secs("connect_timeout", 5.0)?.max(0.1);
        if ctx.check_mode {
            return Ok(Outcome {
                skipped: true,
                msg: Some("wait_for_connection is not run in check mode".into()),
                ..Default::default()
            });
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(delay)).await;
        let deadline = Instant::now() + Duration::from_secs_f64(timeout);
        let mut conn = ctx.conn.clone();
        let mut last: String;
        loop {
            let probe = ModuleCtx {
                host: ctx.host,
                conn: conn.clone(),
                become_: None,
                environment: &[],
                check_mode: false,
                diff_mode: false,
                templar: ctx.templar,
                vars: ctx.vars,
                search: ctx.search,
                timeout: Some(Duration::from_secs_f64(connect_timeout)),
                output: None,
            };
            match probe.run("echo RD_UP\n").await {
                Ok(out) if out.rc == 0 && out.stdout_str().contains("RD_UP") => {
                    let elapsed = start.elapsed().as_secs();
                    return Ok(Outcome::ok().with("elapsed", elapsed));
                }
                Ok(out) => last = format!("rc={}: {}", out.rc, out.stderr_str().trim()),
                Err(e) => last = e.to_string(),
            }
            // a lost or ended connection is opened again for the next attempt
            if conn.is_closed() || !last.starts_with("rc=") {
                let reopen =
                    tokio::time::timeout(Duration::from_secs_f64(connect_timeout), conn.reopen());
                match reopen.await {
                    Ok(Ok(c)) => conn = c,
                    Ok(Err(e)) => last = e.to_string(),
                    Err(_) => last = format!("no answer within {connect_timeout} s"),
                }
            }
            if Instant::now() + Duration::from_secs_f64(sleep) > deadline {
                return Err(ModuleError::failed(format!(
                    "timed out waiting for connection to {} after {} seconds: {last}",
                    ctx.host,
                    start.elapsed().as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_secs_f64(sleep)).await;
        }
    }
}
