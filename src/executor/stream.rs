//! Command output shown as it arrives (`rdeploy exec`): a task's output sink per host,
//! whose bytes become one [`Event::HostOutput`] per line, in arrival order, while the
//! command still runs. The reporters render them (`host | line`); the engine never prints.

use crate::output::{Event, Reporter};
use crate::ssh::stream::{Lines, OutputSink};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A sink for `host`'s output and the task turning it into events; the task ends (after
/// the last, unfinished line) once every clone of the sink is dropped.
pub(super) fn start(reporter: Arc<dyn Reporter>, host: &str) -> (OutputSink, JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<crate::ssh::stream::OutputChunk>();
    let host = host.to_string();
    let task = tokio::spawn(async move {
        let (mut out, mut err) = (Lines::default(), Lines::default());
        let emit = |stderr: bool, line: String| {
            reporter.event(&Event::HostOutput {
                host: host.clone(),
                stderr,
                line,
            })
        };
        while let Some(chunk) = rx.recv().await {
            let lines = if chunk.stderr { &mut err } else { &mut out };
            for l in lines.push(&chunk.data) {
                emit(chunk.stderr, l);
            }
        }
        for (stderr, lines) in [(false, &mut out), (true, &mut err)] {
            if let Some(l) = lines.finish() {
                emit(stderr, l);
            }
        }
    });
    (tx, task)
}
