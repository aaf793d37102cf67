//! The human reporter: Ansible-like `PLAY`/`TASK` headers, one line per host result,
//! and the PLAY RECAP. On a terminal, a progress bar shows how many hosts finished the
//! running task; without one (CI, pipes) only plain lines are printed.

use super::{Event, HostResult, Reporter, Status};
use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

pub struct Human {
    verbosity: u8,
    diff: bool,
    tty: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
}

impl Human {
    pub fn new(verbosity: u8, diff: bool) -> Self {
        Human {
            verbosity,
            diff,
            tty: std::io::stdout().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    fn println(&self, st: &State, line: String) {
        match &st.bar {
            Some(b) => b.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        }
    }

    fn header(kind: &str, name: &str) -> String {
        let head = format!("{kind} [{name}] ");
        let width = 79usize.saturating_sub(head.chars().count()).max(3);
        format!("\n{head}{}", "*".repeat(width))
    }

    fn result_line(&self, r: &HostResult) -> String {
        // a dynamic include, as ansible-playbook shows it
        if r.status == Status::Ok {
            if let Some(what) = r.result.get("include").and_then(|v| v.as_str()) {
                return format!("included: {what} for {}", r.host);
            }
        }
        let host = match &r.delegated_to {
            Some(d) => format!("{} -> {}", r.host, d),
            None => r.host.clone(),
        };
        let item = r
            .item
            .as_ref()
            .map(|i| format!(" => (item={i})"))
            .unwrap_or_default();
        let (word, paint): (&str, fn(String) -> String) = match r.status {
            Status::Ok => ("ok", |s| style(s).green().to_string()),
            Status::Changed => ("changed", |s| style(s).yellow().to_string()),
            Status::Skipped => ("skipping", |s| style(s).cyan().to_string()),
            Status::Failed => ("fatal", |s| style(s).red().to_string()),
            Status::Unreachable => ("fatal", |s| style(s).red().to_string()),
        };
        // A multi-line failure message (a template error's frame) is shown below the
        // result line as written, not as one escaped JSON string.
        let (result, below) = split_msg(&r.result);
        let mut line = match r.status {
            Status::Failed if r.item.is_some() => {
                format!("failed: [{host}]{item} => {}", compact(&result))
            }
            Status::Failed => format!("fatal: [{host}]: FAILED! => {}", compact(&result)),
            Status::Unreachable => {
                format!("fatal: [{host}]: UNREACHABLE! => {}", compact(&r.result))
            }
            _ => {
                let mut l = format!("{word}: [{host}]{item}");
                let show_msg = r.action == "debug";
                if self.verbosity > 0 {
                    l.push_str(&format!(" => {}", compact(&r.result)));
                } else if show_msg {
                    let mut shown = r.result.clone();
                    if let Some(m) = shown.as_object_mut() {
                        m.remove("changed");
                    }
                    l.push_str(&format!(" => {}", compact(&shown)));
                }
                l
            }
        };
        if let Some(b) = below.filter(|_| r.status == Status::Failed) {
            line.push('\n');
            line.push_str(&b);
        }
        if r.ignored {
            line.push_str("\n...ignoring");
        }
        paint(line)
    }
}

/// The result with only the first line of a multi-line `msg`, and the other lines.
fn split_msg(result: &serde_json::Value) -> (serde_json::Value, Option<String>) {
    let mut v = result.clone();
    let Some(msg) = v.get("msg").and_then(|m| m.as_str()).map(str::to_string) else {
        return (v, None);
    };
    match msg.split_once('\n') {
        Some((first, rest)) => {
            v["msg"] = serde_json::Value::String(first.to_string());
            (v, Some(rest.to_string()))
        }
        None => (v, None),
    }
}

fn compact(v: &serde_json::Value) -> String {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("_debug");
        m.remove("stdout_lines");
        m.remove("stderr_lines");
    }
    serde_json::to_string(&v).unwrap_or_default()
}

impl Reporter for Human {
    fn event(&self, ev: &Event) {
        let mut st = self.state.lock().unwrap();
        match ev {
            Event::PlaybookStart { .. } => {}
            Event::PlayStart { name, .. } => {
                if let Some(b) = st.bar.take() {
                    b.finish_and_clear();
                }
                self.println(&st, Self::header("PLAY", name));
            }
            Event::TaskStart {
                name,
                hosts,
                handler,
                ..
            } => {
                if let Some(b) = st.bar.take() {
                    b.finish_and_clear();
                }
                self.println(
                    &st,
                    Self::header(if *handler { "RUNNING HANDLER" } else { "TASK" }, name),
                );
                if self.tty {
                    let b = ProgressBar::new(*hosts as u64);
                    b.set_style(
                        ProgressStyle::with_template("{spinner} {pos}/{len} hosts {wide_msg}")
                            .unwrap(),
                    );
                    b.enable_steady_tick(std::time::Duration::from_millis(120));
                    st.bar = Some(b);
                }
            }
            Event::HostResult(r) => {
                if r.status == Status::Skipped && self.verbosity == 0 && r.item.is_none() {
                    // Ansible prints skipped hosts too; keep them, they are short.
                }
                let line = self.result_line(r);
                self.println(&st, line);
                if self.diff {
                    for d in &r.diff {
                        let text = similar::TextDiff::from_lines(&d.before, &d.after)
                            .unified_diff()
                            .header(
                                &format!("before: {}", d.path),
                                &format!("after: {}", d.path),
                            )
                            .to_string();
                        self.println(&st, text);
                    }
                }
                if let Some(b) = &st.bar {
                    if r.item.is_none() {
                        b.inc(1);
                    }
                }
            }
            Event::Warning { msg } => self.println(
                &st,
                style(format!("[WARNING]: {msg}")).magenta().to_string(),
            ),
            Event::Message { msg } => self.println(&st, msg.clone()),
            Event::HostOutput { host, line, .. } => self.println(&st, format!("{host} | {line}")),
            // Sent for JSON output only; the human form comes as messages.
            Event::Environments { .. } | Event::Environment { .. } => {}
            Event::Plan { plan } => {
                self.println(&st, serde_json::to_string_pretty(plan).unwrap_or_default())
            }
            Event::Outputs { outputs } => self.println(
                &st,
                serde_json::to_string_pretty(outputs).unwrap_or_default(),
            ),
            Event::Recap {
                stats,
                elapsed_secs,
            } => {
                if let Some(b) = st.bar.take() {
                    b.finish_and_clear();
                }
                self.println(&st, Self::header("PLAY RECAP", "").replace("[] ", ""));
                let width = stats.keys().map(|k| k.len()).max().unwrap_or(0).max(26);
                for (host, s) in stats {
                    let line = format!(
                        "{:<width$} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={}",
                        host, s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
                    );
                    let line = if s.failed > 0 || s.unreachable > 0 {
                        style(line).red().to_string()
                    } else if s.changed > 0 {
                        style(line).yellow().to_string()
                    } else {
                        style(line).green().to_string()
                    };
                    self.println(&st, line);
                }
                if self.verbosity > 0 || self.tty {
                    self.println(&st, format!("\nelapsed: {elapsed_secs:.2}s"));
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = self.state.lock().unwrap().bar.take() {
            b.finish_and_clear();
        }
    }
}
