//! The `pause` module: waits `seconds`/`minutes` on the controller. rdeploy never reads
//! the terminal from the engine, so a `prompt` without a duration does not block: it
//! returns at once with an empty `user_input`. Waits are capped at [`MAX_PAUSE`].

use super::{Args, Module, ModuleCtx, ModuleResult, Outcome};
use async_trait::async_trait;
use std::time::{Duration, SystemTime};

/// The longest wait a task can ask for.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);

pub struct Pause;

#[async_trait]
impl Module for Pause {
    fn name(&self) -> &'static str {
        "pause"
    }
    fn on_controller(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["seconds", "minutes", "prompt", "echo"])
    }
    async fn run(&self, _ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let secs = args.float("seconds")?;
        let mins = args.float("minutes")?;
        let wait = match (secs, mins) {
            (Some(s), _) => Some(s),
            (None, Some(m)) => Some(m * 60.0),
            (None, None) => None,
        };
        let start = SystemTime::now();
        let mut msg = String::new();
        if let Some(w) = wait {
            if w.is_finite() && w > 0.0 {
                let d = Duration::from_secs_f64(w).min(MAX_PAUSE);
                if d < Duration::from_secs_f64(w) {
                    msg = format!("pause capped at {} seconds", MAX_PAUSE.as_secs());
                }
                tokio::time::sleep(d).await;
            }
        } else if args.has("prompt") {
            msg = "no terminal to prompt on: continuing".into();
        }
        let stop = SystemTime::now();
        let delta = stop.duration_since(start).unwrap_or_default();
        let mut o = Outcome::ok()
            .with("start", super::command::fmt_time(start))
            .with("stop", super::command::fmt_time(stop))
            .with("delta", delta.as_secs())
            .with("user_input", "")
            .with("echo", args.bool_or("echo", true)?);
        if !msg.is_empty() {
            o.msg = Some(msg.clone());
        }
        o.data.insert(
            "stdout".into(),
            format!("Paused for {:.2} seconds", delta.as_secs_f64()).into(),
        );
        Ok(o)
    }
}
