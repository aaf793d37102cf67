//! Checks of a loaded playbook that need the template engine, the extra vars, or more
//! than one task at a time. They run after [`super::loader`] and before any inventory is
//! loaded or host contacted, and collect every problem instead of stopping at the first:
//!
//! - template strings and conditionals (`when`, `changed_when`, `failed_when`, `until`)
//!   compile; a bad condition points at its key;
//! - template files referenced by a literal `src` exist and compile;
//! - every `notify` names a handler (by name, `role : name` or `listen`) that some play
//!   of the playbook defines (templated names are resolved at run time and exempt);
//! - a templated `hosts:` renders with the extra vars and the play's `vars`; the
//!   rendered pattern replaces the template.

use super::loader::suggest;
use super::{Play, Playbook, Task, TaskKind};
use crate::error::{SourceError, Span};
use crate::template::{single_expression, Templar, TemplateError};
use indexmap::IndexMap;
use minijinja::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// Checks `book` (resolving templated `hosts:`); returns every problem found.
pub fn validate(
    book: &mut Playbook,
    templar: &Templar,
    extra_vars: &IndexMap<String, Value>,
) -> Vec<SourceError> {
    let mut out = Vec::new();
    let registry = crate::modules::registry();
    for play in &mut book.plays {
        resolve_hosts(play, templar, extra_vars, &mut out);
    }
    for play in &book.plays {
        for tasks in [
            &play.pre_tasks,
            &play.tasks,
            &play.post_tasks,
            &play.handlers,
        ] {
            check_tasks(tasks, templar, &registry, &mut out);
        }
    }
    check_notify(book, &mut out);
    out
}

/// `hosts: "{{ group }}"`: rendered with the extra vars over the play's `vars` (the
/// variables known before any host is chosen); undefined variables are an error.
fn resolve_hosts(
    play: &mut Play,
    templar: &Templar,
    extra_vars: &IndexMap<String, Value>,
    out: &mut Vec<SourceError>,
) {
    if !Templar::is_template(&play.hosts) {
        return;
    }
    let mut vars = play.vars.clone();
    vars.extend(extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let ctx = Value::from_pairs(vars);
    let span = play.key_spans.get("hosts").unwrap_or(&play.span).clone();
    let mut pattern = play.hosts.clone();
    // A play variable may itself be a template (`target: "{{ env }}_web"`).
    for _ in 0..8 {
        if !Templar::is_template(&pattern) {
            break;
        }
        match templar.render_string(&pattern, &ctx) {
            Ok(p) => pattern = p,
            Err(e) => {
                out.push(SourceError::new(
                    &span,
                    format!(
                        "cannot resolve the play's hosts `{}`: {} (hosts can use -e extra vars \
                         and the play's `vars`)",
                        play.hosts, e.message
                    ),
                ));
                return;
            }
        }
    }
    if pattern.trim().is_empty() {
        out.push(SourceError::new(
            &span,
            format!("the play's hosts `{}` renders to nothing", play.hosts),
        ));
        return;
    }
    if play.name == play.hosts {
        play.name = pattern.clone();
    }
    play.hosts = pattern;
}

fn check_tasks(
    tasks: &[Task],
    templar: &Templar,
    registry: &crate::modules::Registry,
    out: &mut Vec<SourceError>,
) {
    for t in tasks {
        check_conditions(t, templar, out);
        match &t.kind {
            TaskKind::Action { action, args } => {
                check_value(args, templar, &t.span, out);
                if let Some(m) = action.module().and_then(|m| registry.get(m)) {
                    for f in m.controller_files(args) {
                        check_controller_file(t, &f, templar, out);
                    }
                }
            }
            TaskKind::Block {
                block,
                rescue,
                always,
            } => {
                for inner in [block, rescue, always] {
                    check_tasks(inner, templar, registry, out);
                }
            }
            _ => {}
        }
    }
}

fn check_conditions(t: &Task, templar: &Templar, out: &mut Vec<SourceError>) {
    for (key, conds) in t.conditions() {
        for c in conds.into_iter().flatten() {
            if let Err(message) = compile_condition(c, templar) {
                out.push(SourceError::new(
                    t.span_of(key),
                    format!("invalid conditional in `{key}`: `{c}`: {message}"),
                ));
            }
        }
    }
}

/// Compiles a condition: a bare expression, `{{ expr }}`, or a template.
fn compile_condition(c: &str, templar: &Templar) -> Result<(), String> {
    let t = c.trim();
    let expr = single_expression(t).unwrap_or(t);
    if Templar::is_template(expr) {
        return compile_template(expr, templar);
    }
    templar
        .env()
        .compile_expression(expr)
        .map(|_| ())
        .map_err(|e| TemplateError::from(e).message)
}

fn compile_template(s: &str, templar: &Templar) -> Result<(), String> {
    templar
        .env()
        .template_from_str(s)
        .map(|_| ())
        .map_err(|e| TemplateError::from(e).message)
}

/// Compiles every template string inside a value (lists and mappings recursively).
fn check_value(v: &Value, templar: &Templar, span: &Span, out: &mut Vec<SourceError>) {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            if Templar::is_template(s) {
                if let Err(message) = compile_template(s, templar) {
                    out.push(SourceError::new(span, format!("template error: {message}")));
                }
            }
        }
        ValueKind::Seq | ValueKind::Map => {
            let Ok(it) = v.try_iter() else {
                return;
            };
            for k in it {
                let item = if v.kind() == ValueKind::Map {
                    v.get_item(&k).unwrap_or_default()
                } else {
                    k
                };
                check_value(&item, templar, span, out);
            }
        }
        _ => {}
    }
}

/// The template file of a `template` task with a literal `src`: found and compiling.
/// A file a module will read on the controller exists (and compiles, for a template).
fn check_controller_file(
    t: &Task,
    f: &crate::modules::ControllerFile,
    templar: &Templar,
    out: &mut Vec<SourceError>,
) {
    let src = &f.path;
    let search = crate::modules::SearchPaths {
        role_dir: t.role.as_ref().map(|r| r.path.clone()),
        playbook_dir: t.dir.clone(),
    };
    let Some(path) = search.find(src, f.search_dir) else {
        let what = if f.template { "template" } else { "file" };
        out.push(SourceError::new(
            &t.span,
            format!(
                "could not find {what} `{src}` (searched {}/ of the role and the playbook \
                 directory)",
                f.search_dir
            ),
        ));
        return;
    };
    if !f.template {
        return;
    }
    let text = match crate::yaml::read_input(&path) {
        Ok(text) => text,
        Err(e) => {
            out.push(SourceError::new(&t.span, e.to_string()));
            return;
        }
    };
    if let Err(e) = templar
        .env()
        .template_from_named_str(&path.display().to_string(), &text)
    {
        let span = Span {
            line: e.line().unwrap_or(1),
            col: column_of_error(&text, &e),
            file: Arc::new(path.clone()),
        };
        out.push(SourceError::new(
            &span,
            format!(
                "template syntax error: {}",
                e.detail().unwrap_or("invalid template")
            ),
        ));
    }
}

fn column_of_error(text: &str, e: &minijinja::Error) -> usize {
    match (e.range(), e.line()) {
        (Some(r), Some(line)) => {
            let line_start: usize = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            r.start.saturating_sub(line_start) + 1
        }
        _ => 1,
    }
}

/// The names handlers answer to, from every play; `None` when they cannot all be known
/// before running (a templated handler name, a dynamic include among the handlers, an
/// `include_role` whose handlers join the play at run time).
fn handler_names(book: &Playbook) -> Option<HashSet<String>> {
    fn handlers(tasks: &[Task], names: &mut HashSet<String>) -> bool {
        for h in tasks {
            match &h.kind {
                TaskKind::Block {
                    block,
                    rescue,
                    always,
                } => {
                    if ![block, rescue, always].iter().all(|l| handlers(l, names)) {
                        return false;
                    }
                }
                TaskKind::IncludeTasks { .. } | TaskKind::IncludeRole { .. } => return false,
                TaskKind::Action { .. } => {}
            }
            if let Some(n) = &h.name {
                if Templar::is_template(n) {
                    return false;
                }
                names.insert(n.clone());
                if let Some(r) = &h.role {
                    names.insert(format!("{} : {}", r.name, n));
                }
            }
            names.extend(h.listen.iter().cloned());
        }
        true
    }
    fn includes_role(tasks: &[Task]) -> bool {
        tasks.iter().any(|t| match &t.kind {
            TaskKind::IncludeRole { .. } => true,
            TaskKind::Block {
                block,
                rescue,
                always,
            } => includes_role(block) || includes_role(rescue) || includes_role(always),
            _ => false,
        })
    }
    let mut names = HashSet::new();
    for play in &book.plays {
        if !handlers(&play.handlers, &mut names)
            || [&play.pre_tasks, &play.tasks, &play.post_tasks]
                .iter()
                .any(|t| includes_role(t))
        {
            return None;
        }
    }
    Some(names)
}

/// Every literal `notify` entry names a handler some play defines.
fn check_notify(book: &Playbook, out: &mut Vec<SourceError>) {
    let Some(names) = handler_names(book) else {
        return;
    };
    let mut known: Vec<&str> = names.iter().map(String::as_str).collect();
    known.sort();
    fn walk(tasks: &[Task], names: &HashSet<String>, known: &[&str], out: &mut Vec<SourceError>) {
        for t in tasks {
            for n in &t.notify {
                if Templar::is_template(n) || names.contains(n) {
                    continue;
                }
                let hint = match suggest(n, known) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None if known.is_empty() => " (the playbook defines no handler)".into(),
                    None => String::new(),
                };
                out.push(SourceError::new(
                    t.span_of("notify"),
                    format!(
                        "`notify` names the handler `{n}`, which no play of this playbook \
                         defines (by name or `listen`){hint}"
                    ),
                ));
            }
            if let TaskKind::Block {
                block,
                rescue,
                always,
            } = &t.kind
            {
                for inner in [block, rescue, always] {
                    walk(inner, names, known, out);
                }
            }
        }
    }
    for play in &book.plays {
        for tasks in [
            &play.pre_tasks,
            &play.tasks,
            &play.post_tasks,
            &play.handlers,
        ] {
            walk(tasks, &names, &known, out);
        }
    }
}
