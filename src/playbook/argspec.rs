//! Roles' `meta/argument_specs.yml`: the file is checked when the role is loaded (an
//! unknown `type`, `elements` or a malformed option is an error at its position), and
//! the role's tasks then start with the task ansible-core puts there, "Validating
//! arguments against arg spec 'ENTRY' - SHORT_DESCRIPTION" (tag `always`), which runs
//! `validate_argument_spec` against the host's variables when the role starts
//! (`modules::validate_argument_spec` does the checking).

use super::{Role, Task, TaskKind};
use crate::error::Result;
use crate::yaml::{self, Node, NodeKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The types an option may have (ansible-core's `type:` values).
pub const TYPES: &[&str] = &[
    "str", "int", "float", "bool", "list", "dict", "path", "raw", "bytes", "bits", "json",
    "jsonarg",
];

const OPTION_KEYS: &[&str] = &[
    "type",
    "required",
    "default",
    "choices",
    "elements",
    "options",
    "description",
    "version_added",
    "aliases",
    "no_log",
    "mutually_exclusive",
    "required_together",
    "required_one_of",
    "required_if",
    "required_by",
    "apply_defaults",
    "deprecated_aliases",
    "removed_in_version",
    "removed_at_date",
    "removed_from_collection",
];

/// The spec file of a role, if it has one.
pub fn spec_file(role_dir: &Path) -> Option<PathBuf> {
    ["argument_specs.yml", "argument_specs.yaml"]
        .iter()
        .map(|f| role_dir.join("meta").join(f))
        .find(|p| p.is_file())
}

/// Checks one `options:` mapping (recursively).
fn check_options(options: &Node) -> Result<()> {
    let Some(map) = options.as_map() else {
        return Err(
            options.error("`options` of an argument spec must be a mapping of option names")
        );
    };
    for (name, opt) in map {
        let oname = name.key_string().unwrap_or_default();
        let Some(keys) = opt.as_map() else {
            if opt.is_null() {
                continue;
            }
            return Err(opt.error(format!("option `{oname}` must be a mapping")));
        };
        for (k, v) in keys {
            let key = k.key_string().unwrap_or_default();
            if !OPTION_KEYS.contains(&key.as_str()) {
                return Err(k.error(format!(
                    "option `{oname}`: unknown key `{key}` in an argument spec"
                )));
            }
            match key.as_str() {
                "type" | "elements" => {
                    let t = v.scalar_string().unwrap_or_default();
                    if !TYPES.contains(&t.as_str()) {
                        return Err(v.error(format!(
                            "option `{oname}`: {key} `{t}` is not one of {}",
                            TYPES.join(", ")
                        )));
                    }
                }
                "required" => {
                    super::loader::bool_of(v, "required")?;
                }
                "choices" => {
                    if v.as_seq().is_none() {
                        return Err(v.error(format!("option `{oname}`: choices must be a list")));
                    }
                }
                "options" => check_options(v)?,
                _ => {}
            }
        }
    }
    Ok(())
}

/// The validation task for `role` started at entry point `entry` (`main` or the
/// `tasks_from` name), when the role's spec file describes that entry point.
pub fn validation_task(role: &Arc<Role>, entry: &str, dir: &Path) -> Result<Option<Task>> {
    let Some(path) = spec_file(&role.path) else {
        return Ok(None);
    };
    let doc = yaml::load_file(&path)?;
    let Some(specs) = doc.get("argument_specs") else {
        return Err(
            doc.error("meta/argument_specs.yml needs a top-level `argument_specs:` mapping")
        );
    };
    let Some(entries) = specs.as_map() else {
        return Err(
            specs.error("`argument_specs` must map entry points (main, ...) to their specs")
        );
    };
    let mut found = None;
    for (k, v) in entries {
        let name = k.key_string().unwrap_or_default();
        if let Some(opts) = v.get("options") {
            check_options(opts)?;
        } else if !matches!(v.kind, NodeKind::Map(_)) {
            return Err(v.error(format!("entry point `{name}` must be a mapping")));
        }
        if name == entry {
            found = Some((k, v));
        }
    }
    let Some((k, v)) = found else {
        return Ok(None);
    };
    let mut name = format!("Validating arguments against arg spec '{entry}'");
    if let Some(d) = v.get("short_description").and_then(|d| d.scalar_string()) {
        name.push_str(&format!(" - {d}"));
    }
    let args = minijinja::Value::from_pairs(vec![
        (
            "_spec_file",
            minijinja::Value::from(path.display().to_string()),
        ),
        ("_entry_point", minijinja::Value::from(entry)),
        ("_role", minijinja::Value::from(role.name.as_str())),
    ]);
    let mut t = Task::new(
        k.span.clone(),
        dir.to_path_buf(),
        TaskKind::Action {
            action: super::Action::Module("validate_argument_spec".into()),
            args,
        },
    );
    t.name = Some(name);
    t.tags = vec!["always".into()];
    t.role = Some(role.clone());
    Ok(Some(t))
}
