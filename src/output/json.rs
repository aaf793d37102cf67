//! JSON-lines reporter: one event per line on stdout, for CI.

use super::{Event, Reporter};
use std::io::Write;

pub struct Json {
    out: std::sync::Mutex<std::io::Stdout>,
}

impl Json {
    pub fn new() -> Self {
        Json {
            out: std::sync::Mutex::new(std::io::stdout()),
        }
    }
}

impl Default for Json {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Json {
    fn event(&self, ev: &Event) {
        if let Ok(line) = serde_json::to_string(ev) {
            let mut out = self.out.lock().unwrap();
            let _ = writeln!(out, "{line}");
        }
    }
}
