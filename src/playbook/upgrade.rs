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
            }
        }
    }
    if t.key_spans.contains_key("include") {
        note(
            "include",
            "ansible-core 2.16 removed `include`: use include_tasks (dynamic) or import_tasks (static)".into(),
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
