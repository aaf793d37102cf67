//! What a newer ansible-core would refuse in a playbook that rdeploy still runs: notes
//! printed by `rdeploy run --syntax-check`, one per file:line:col, so a team can upgrade
//! its content knowingly (rdeploy itself keeps running the old forms).

use super::{Playbook, Task, TaskKind};
use crate::error::Span;

/// One note: where, and what ansible-core 2.19+ (or a removed collection) says.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub span: Span,
    pub msg: String,
}

/// Every note for the tasks and handlers of `book`, in file order.
pub fn notes(book: &Playbook) -> Vec<Note> {
    let mut out = Vec::new();
    for play in &book.plays {
        for tasks in [
            &play.pre_tasks,
            &play.tasks,
            &play.post_tasks,
            &play.handlers,
        ] {
            walk(tasks, &mut out);
        }
    }
    // the note on top-level facts once per file: one line is enough to know
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| !n.msg.contains("facts as top-level") || seen.insert(n.span.file.clone()));
    out
}

fn walk(tasks: &[Task], out: &mut Vec<Note>) {
    for t in tasks {
        task_notes(t, out);
        if let TaskKind::Block {
            block,
            rescue,
            always,
        } = &t.kind
        {
            for inner in [block, rescue, always] {
                walk(inner, out);
            }
        }
    }
}

fn task_notes(t: &Task, out: &mut Vec<Note>) {
    let mut note = |key: &str, msg: String| {
        out.push(Note {
            span: t.span_of(key).clone(),
            msg,
        })
    };
    for (key, list) in t.conditions() {
        for c in list.into_iter().flatten() {
            if c.contains("{{") || c.contains("{%") {
                note(
                    key,
                    format!("ansible-core 2.19+ rejects templates in conditionals (`{key}: {c}`): write the bare expression"),
                );
            } else if let Some(what) = non_boolean(c) {
                note(
                    key,
                    format!(
                        "ansible-core 2.19+ rejects conditionals that are not booleans (`{key}: {c}` gives {what}): compare it, e.g. `{c} {}`",
                        if what == "a number" { "> 0" } else { "!= ''" }
                    ),
                );
            }
        }
    }
    for old in ["sudo", "sudo_user"] {
        if t.key_spans.contains_key(old) {
            let new = old.replace("sudo", "become");
            note(
                old,
                format!("ansible-core removed `{old}` (2.9): use `{new}`"),
            );
        }
    }
    if t.key_spans.contains_key("include") {
        note(
            "include",
            "ansible-core 2.16 removed `include`: use include_tasks (dynamic) or import_tasks (static)".into(),
        );
    }
    let mut texts: Vec<String> = t.when.clone();
    if let TaskKind::Action { args, .. } = &t.kind {
        texts.push(args.to_string());
    }
    if let Some(fact) = texts.iter().find_map(|x| top_level_fact(x)) {
        note(
            "name",
            format!(
                "ansible-core 2.20 deprecates facts as top-level variables (`{fact}`; off by default in 2.24): write `ansible_facts['{}']`",
                &fact[8..]
            ),
        );
    }
    if let TaskKind::Action { action, args } = &t.kind {
        let module = action.name();
        if matches!(args.get_attr("warn"), Ok(v) if !v.is_undefined()) {
            note(
                "args",
                "ansible-core 2.14 removed the `warn` argument of command/shell".into(),
            );
        }
        if module == "docker_compose" && !t.key_spans.contains_key("docker_compose_v2") {
            note(
                "docker_compose",
                "community.docker 4.0 removed docker_compose (Compose v1): with ansible-core use docker_compose_v2".into(),
            );
        }
    }
}

/// What a conditional gives when it is plainly not a boolean (ansible-core 2.19+ refuses
/// "Conditional result was derived from value of type 'int'"): a literal number or
/// string, or an expression whose last filter returns a number or a string.
fn non_boolean(c: &str) -> Option<&'static str> {
    let c = c.trim();
    if c.parse::<f64>().is_ok() {
        return Some("a number");
    }
    if (c.starts_with('\'') && c.ends_with('\'')) || (c.starts_with('"') && c.ends_with('"')) {
        return Some("a string");
    }
    // a comparison, test or boolean operator anywhere makes it a boolean
    let ops = [
        "==", "!=", "<", ">", " in ", " is ", " and ", " or ", "not ", "(", "bool",
    ];
    if ops.iter().any(|o| c.contains(o)) {
        return None;
    }
    let last = c.rsplit('|').next().filter(|_| c.contains('|'))?.trim();
    match last {
        "length" | "count" | "int" | "float" | "abs" | "sum" => Some("a number"),
        "trim" | "string" | "lower" | "upper" | "join" | "to_json" | "to_yaml" => Some("a string"),
        _ => None,
    }
}

/// The facts rdeploy's setup gathers, for the note on top-level `ansible_*` names.
const FACTS: &[&str] = &[
    "all_ipv4_addresses",
    "all_ipv6_addresses",
    "apparmor",
    "architecture",
    "date_time",
    "default_ipv4",
    "default_ipv6",
    "distribution",
    "distribution_major_version",
    "distribution_minor_version",
    "distribution_release",
    "distribution_version",
    "dns",
    "domain",
    "env",
    "fqdn",
    "hostname",
    "interfaces",
    "kernel",
    "kernel_version",
    "lsb",
    "machine",
    "machine_id",
    "memfree_mb",
    "memtotal_mb",
    "mounts",
    "nodename",
    "os_family",
    "pkg_mgr",
    "processor",
    "processor_cores",
    "processor_count",
    "processor_vcpus",
    "python",
    "selinux",
    "service_mgr",
    "system",
    "system_vendor",
    "uptime_seconds",
    "user_dir",
    "user_gid",
    "user_id",
    "user_shell",
    "user_uid",
    "virtualization_role",
    "virtualization_type",
];

/// The first top-level fact name (`ansible_os_family`) in `text`, if any.
pub fn top_level_fact(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(i) = rest.find("ansible_") {
        let before_ok = i == 0
            || !rest.as_bytes()[i - 1].is_ascii_alphanumeric()
                && rest.as_bytes()[i - 1] != b'_'
                && rest.as_bytes()[i - 1] != b'.';
        let tail = &rest[i + 8..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        if before_ok && FACTS.contains(&name) {
            return Some(&rest[i..i + 8 + end]);
        }
        rest = &rest[i + 8..];
    }
    None
}
