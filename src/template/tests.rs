//! Ansible's Jinja tests (`is failed`, `is version(...)`, `is match(...)` ...).

use minijinja::Environment;

pub fn register(_env: &mut Environment<'static>) {}
