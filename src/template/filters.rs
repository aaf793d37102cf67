//! Ansible's filters on top of minijinja's builtins (see COMPAT.md).

use minijinja::Environment;

pub fn register(_env: &mut Environment<'static>) {}
