//! Lookup plugins: `lookup('env', ...)`, `file`, `template`, `first_found`, `items`, `pipe` ...
//!
//! `lookup(name, *terms, wantlist=False, errors='strict', **options)` and
//! `query(name, ...)` / `q(name, ...)` (always a list) are template functions. The
//! executor's `with_<name>:` loops call [`query`] directly with the loop's terms.
//!
//! Lookups run on the controller. Relative file names are searched the way Ansible does:
//! in each directory of `ansible_search_path` (or `role_path`, then `playbook_dir`), first
//! under the plugin's subdirectory (`files/` for `file` and `fileglob`, `templates/` for
//! `template`), then in the directory itself. `first_found` looks under `files/`,
//! `templates/`, `vars/` and `tasks/` unless the context variable `_lookup_subdir` names
//! the one the running task uses (Ansible derives it from the action).

use super::filters::{self, defined, is_list, map_items, new_map, py_str, to_vec, Params};
use indexmap::IndexMap;
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State};
use std::path::{Path, PathBuf};

pub fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", lookup_function);
    env.add_function("query", query_function);
    env.add_function("q", query_function);
}

fn fail(msg: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

/// Where a lookup reads variables from: the running template, or a plain context value.
pub trait Vars {
    fn get(&self, name: &str) -> Option<Value>;
    /// Every variable, for rendering a template with the current context.
    fn all(&self) -> IndexMap<String, Value>;
}

impl Vars for State<'_, '_> {
    fn get(&self, name: &str) -> Option<Value> {
        self.lookup(name).filter(|v| !v.is_undefined())
    }
    /// The template's variables, without the environment's globals (functions, `omit`)
    /// unless the context overrides them.
    fn all(&self) -> IndexMap<String, Value> {
        let globals: IndexMap<&str, Value> = self.env().globals().collect();
        let mut out = IndexMap::new();
        for name in self.known_variables() {
            if let Some(v) = self.lookup(&name) {
                if globals.get(name.as_ref()) == Some(&v) {
                    continue;
                }
                out.insert(name.to_string(), v);
            }
        }
        out
    }
}

impl Vars for Value {
    fn get(&self, name: &str) -> Option<Value> {
        self.get_attr(name).ok().filter(|v| !v.is_undefined())
    }
    fn all(&self) -> IndexMap<String, Value> {
        map_items(self)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (py_str(&k), v))
            .collect()
    }
}

/// What a lookup needs: the environment (to render templates) and the variables.
pub struct LookupContext<'a> {
    pub env: &'a Environment<'a>,
    pub vars: &'a dyn Vars,
}

/// Runs a lookup plugin and returns its list, as `query(name, *terms, **options)` does.
///
/// `options` are the plugin's keyword options (`wantlist` and `errors` are handled by the
/// template functions, not here).
pub fn query(
    cx: &LookupContext<'_>,
    name: &str,
    terms: Vec<Value>,
    options: IndexMap<String, Value>,
) -> Result<Vec<Value>, Error> {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let mut opts = Options {
        plugin: short.to_string(),
        map: options,
    };
    let out = match short {
        "env" => env_lookup(&terms, &mut opts)?,
        "file" => file_lookup(cx, &terms, &mut opts)?,
        "template" => template_lookup(cx, &terms, &mut opts)?,
        "first_found" => first_found(cx, &terms, &mut opts)?,
        "fileglob" => fileglob(cx, &terms)?,
        "items" => flatten_once(terms)?,
        "list" => terms,
        "dict" => dict_lookup(&terms)?,
        "indexed_items" => flatten_once(terms)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| Value::from(vec![Value::from(i), v]))
            .collect(),
        "nested" => nested(terms)?,
        "together" => together(terms)?,
        "subelements" => subelements(&terms, &mut opts)?,
        "sequence" => sequence(cx, &terms, &mut opts)?,
        "random_choice" => random_choice(terms),
        "pipe" => pipe(cx, &terms, false)?,
        "lines" => pipe(cx, &terms, true)?,
        "vars" => vars_lookup(cx, &terms, &mut opts)?,
        "varnames" => varnames(cx, &terms)?,
        "password" => password(cx, &terms, &mut opts)?,
        "inventory_hostnames" => inventory_hostnames(cx, &terms)?,
        other => {
            return Err(fail(format!(
                "lookup plugin '{other}' is not supported by rdeploy"
            )))
        }
    };
    opts.finish()?;
    Ok(out)
}

/// A plugin's keyword options, consumed as they are read; left-overs are an error.
struct Options {
    plugin: String,
    map: IndexMap<String, Value>,
}

impl Options {
    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.shift_remove(name).filter(|v| !v.is_undefined())
    }
    fn finish(self) -> Result<(), Error> {
        match self.map.keys().next() {
            Some(k) => Err(fail(format!(
                "lookup plugin '{}' has no option '{k}'",
                self.plugin
            ))),
            None => Ok(()),
        }
    }
}

enum ErrorMode {
    Strict,
    Warn,
    Ignore,
}

fn run_from_template(
    state: &State,
    args: Rest<ValueOrKwargs>,
    always_list: bool,
) -> Result<Value, Error> {
    let mut p = Params::new(if always_list { "query" } else { "lookup" }, args);
    let name = p
        .take("name")
        .and_then(|n| n.as_str().map(str::to_string))
        .ok_or_else(|| fail("lookup requires the plugin name as its first argument"))?;
    let terms = p.rest();
    let mut kw = p.rest_kw();
    let wantlist = always_list || filters::opt_bool(kw.shift_remove("wantlist"), false);
    let errors = match filters::opt_string(kw.shift_remove("errors")).as_deref() {
        None | Some("strict") => ErrorMode::Strict,
        Some("warn") => ErrorMode::Warn,
        Some("ignore") => ErrorMode::Ignore,
        Some(other) => {
            return Err(fail(format!(
                "lookup: 'errors' must be strict, warn or ignore, not '{other}'"
            )))
        }
    };
    for t in &terms {
        defined(t, &format!("lookup('{name}')"))?;
    }
    let cx = LookupContext {
        env: state.env(),
        vars: state,
    };
    let items = match query(&cx, &name, terms, kw) {
        Ok(items) => items,
        Err(e) => {
            return match errors {
                ErrorMode::Strict => Err(e),
                ErrorMode::Warn | ErrorMode::Ignore => {
                    if matches!(errors, ErrorMode::Warn) {
                        tracing::warn!("lookup('{name}') failed: {e}");
                    }
                    Ok(if wantlist {
                        Value::from(Vec::<Value>::new())
                    } else {
                        Value::from(())
                    })
                }
            };
        }
    };
    if wantlist {
        return Ok(Value::from(items));
    }
    Ok(lookup_result(items))
}

/// What `lookup()` gives without `wantlist` (ansible-core 2.19): an empty list as it is,
/// a single item as itself, several strings joined with commas, otherwise the list.
pub fn lookup_result(items: Vec<Value>) -> Value {
    match items.len() {
        0 => Value::from(items),
        1 => items.into_iter().next().unwrap_or_default(),
        _ if items.iter().all(|v| v.kind() == ValueKind::String) => {
            let strings: Vec<&str> = items
                .iter()
                .map(|v| v.as_str().unwrap_or_default())
                .collect();
            Value::from(strings.join(","))
        }
        _ => Value::from(items),
    }
}

fn lookup_function(state: &State, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    run_from_template(state, args, false)
}

fn query_function(state: &State, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    run_from_template(state, args, true)
}

// ---------------------------------------------------------------------------------------
// Finding files on the controller.

fn var_path(cx: &LookupContext<'_>, name: &str) -> Option<PathBuf> {
    cx.vars
        .get(name)
        .filter(|v| !v.is_none())
        .map(|v| PathBuf::from(py_str(&v)))
        .filter(|p| !p.as_os_str().is_empty())
}

/// The directories relative names are searched in, most specific first.
fn search_bases(cx: &LookupContext<'_>) -> Vec<PathBuf> {
    if let Some(list) = cx.vars.get("ansible_search_path").filter(is_list) {
        let bases: Vec<PathBuf> = to_vec(&list)
            .unwrap_or_default()
            .iter()
            .map(|v| PathBuf::from(py_str(v)))
            .collect();
        if !bases.is_empty() {
            return bases;
        }
    }
    let mut bases: Vec<PathBuf> = ["role_path", "playbook_dir"]
        .iter()
        .filter_map(|n| var_path(cx, n))
        .collect();
    if bases.is_empty() {
        bases.push(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
    }
    bases.dedup();
    bases
}

/// The directory commands and relative paths use: `playbook_dir`, else the current one.
fn basedir(cx: &LookupContext<'_>) -> PathBuf {
    var_path(cx, "playbook_dir")
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}

/// Ansible's `find_file_in_search_path`: absolute names as they are, relative ones in
/// `<base>/<subdir>/<name>` then `<base>/<name>` for each base.
fn find_file(cx: &LookupContext<'_>, subdirs: &[&str], name: &str) -> Option<PathBuf> {
    let name = filters::py_expanduser(name);
    let p = Path::new(&name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let first = name.split('/').next().unwrap_or("");
    let mut bases = search_bases(cx);
    bases.push(basedir(cx));
    for base in bases {
        for sub in subdirs {
            // `files/x` asked for in a role is not looked for in `files/files/x`.
            if *sub == first {
                continue;
            }
            let cand = base.join(sub).join(&name);
            if cand.exists() {
                return Some(cand);
            }
        }
        let cand = base.join(&name);
        if cand.exists() {
            return Some(cand);
        }
    }
    None
}

fn term_strings(terms: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for t in terms {
        if is_list(t) {
            out.extend(to_vec(t).unwrap_or_default().iter().map(py_str));
        } else {
            out.push(py_str(t));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The plugins.

/// `env`: environment variables of the controller (`default=''` when unset).
fn env_lookup(terms: &[Value], opts: &mut Options) -> Result<Vec<Value>, Error> {
    let default = opts.take("default").unwrap_or(Value::from(""));
    Ok(term_strings(terms)
        .into_iter()
        .map(|name| match std::env::var(&name) {
            Ok(v) => Value::from(v),
            Err(_) => default.clone(),
        })
        .collect())
}

/// `file`: a controller file's contents (`rstrip=True`, `lstrip=False`).
fn file_lookup(
    cx: &LookupContext<'_>,
    terms: &[Value],
    opts: &mut Options,
) -> Result<Vec<Value>, Error> {
    let rstrip = filters::opt_bool(opts.take("rstrip"), true);
    let lstrip = filters::opt_bool(opts.take("lstrip"), false);
    let mut out = Vec::new();
    for name in term_strings(terms) {
        let path = find_file(cx, &["files"], &name)
            .filter(|p| p.is_file())
            .ok_or_else(|| {
                fail(format!(
                    "The 'file' lookup had an issue accessing the file '{name}': file not found"
                ))
            })?;
        let bytes = std::fs::read(&path).map_err(|e| {
            fail(format!(
                "The 'file' lookup had an issue accessing the file '{name}': {e}"
            ))
        })?;
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if lstrip {
            text = text.trim_start().to_string();
        }
        if rstrip {
            text = text.trim_end().to_string();
        }
        out.push(Value::from(text));
    }
    Ok(out)
}

/// `template`: renders a controller template with the current variables (plus
/// `template_vars`), searched under `templates/`.
fn template_lookup(
    cx: &LookupContext<'_>,
    terms: &[Value],
    opts: &mut Options,
) -> Result<Vec<Value>, Error> {
    let template_vars = opts.take("template_vars");
    let convert_data = filters::opt_bool(opts.take("convert_data"), false);
    opts.take("jinja2_native");
    for custom in [
        "variable_start_string",
        "variable_end_string",
        "comment_start_string",
        "comment_end_string",
    ] {
        if opts.take(custom).is_some() {
            return Err(fail(format!(
                "the template lookup's '{custom}' option is not supported by rdeploy"
            )));
        }
    }
    let mut out = Vec::new();
    for name in term_strings(terms) {
        let path = find_file(cx, &["templates"], &name)
            .filter(|p| p.is_file())
            .ok_or_else(|| {
                fail(format!(
                    "the template file {name} could not be found for the lookup"
                ))
            })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let mut ctx = cx.vars.all();
        let full = path.canonicalize().unwrap_or_else(|_| path.clone());
        ctx.insert(
            "template_path".into(),
            Value::from(path.display().to_string()),
        );
        ctx.insert(
            "template_fullpath".into(),
            Value::from(full.display().to_string()),
        );
        ctx.insert(
            "template_basedir".into(),
            Value::from(
                full.parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
        );
        if let Some(tv) = template_vars
            .as_ref()
            .filter(|v| v.kind() == ValueKind::Map)
        {
            for (k, v) in map_items(tv)? {
                ctx.insert(py_str(&k), v);
            }
        }
        let ctx = Value::from_pairs(ctx);
        // As a template file: no kept trailing newline, then Ansible's count restored.
        let mut env = cx.env.clone();
        env.set_syntax(crate::template::syntax(false));
        let rendered = env.render_named_str(&path.display().to_string(), &text, ctx)?;
        let rendered = crate::template::restore_trailing_newlines(&text, rendered);
        let value = if convert_data {
            serde_json::from_str::<serde_json::Value>(&rendered)
                .map(|j| crate::template::from_json(&j))
                .unwrap_or(Value::from(rendered))
        } else {
            Value::from(rendered)
        };
        out.push(value);
    }
    Ok(out)
}

fn split_list(v: &Value, seps: &[char]) -> Result<Vec<String>, Error> {
    if let Some(s) = v.as_str() {
        return Ok(s
            .split(seps)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect());
    }
    if v.is_none() || v.is_undefined() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in to_vec(v)? {
        out.extend(split_list(&item, seps)?);
    }
    Ok(out)
}

/// The `files`/`paths`/`skip` options of `first_found`, updated by dict terms.
struct FirstFoundOptions {
    files: Vec<String>,
    paths: Vec<String>,
    skip: bool,
}

fn first_found_terms(
    terms: &[Value],
    o: &mut FirstFoundOptions,
    out: &mut Vec<String>,
) -> Result<(), Error> {
    for term in terms {
        let files = match term.kind() {
            ValueKind::Map => {
                let get = |k: &str| term.get_attr(k).ok().filter(|v| !v.is_undefined());
                if let Some(f) = get("files") {
                    o.files = split_list(&f, &[',', ';'])?;
                }
                if let Some(p) = get("paths") {
                    o.paths = split_list(&p, &[',', ';', ':'])?;
                }
                if let Some(s) = get("skip") {
                    o.skip = super::truthy(&s);
                }
                o.files.clone()
            }
            ValueKind::String => split_list(term, &[',', ';'])?,
            _ if is_list(term) => {
                first_found_terms(&to_vec(term)?, o, out)?;
                continue;
            }
            ValueKind::Undefined => continue,
            _ => {
                return Err(fail(format!(
                    "Invalid term supplied. A string, dict or list is required, not '{}'.",
                    filters::python_type_name(term)
                )))
            }
        };
        if o.paths.is_empty() {
            out.extend(files);
        } else {
            for p in &o.paths {
                for f in &files {
                    out.push(filters::py_path_join(&[p.clone(), f.clone()]));
                }
            }
        }
    }
    Ok(())
}

/// `first_found`: the first existing file of a list, or of `{files, paths, skip}`.
fn first_found(
    cx: &LookupContext<'_>,
    terms: &[Value],
    opts: &mut Options,
) -> Result<Vec<Value>, Error> {
    let mut o = FirstFoundOptions {
        files: opts
            .take("files")
            .map(|f| split_list(&f, &[',', ';']))
            .transpose()?
            .unwrap_or_default(),
        paths: opts
            .take("paths")
            .map(|p| split_list(&p, &[',', ';', ':']))
            .transpose()?
            .unwrap_or_default(),
        skip: filters::opt_bool(opts.take("skip"), false),
    };
    let terms: Vec<Value> = if terms.is_empty() {
        o.files.iter().map(|f| Value::from(f.as_str())).collect()
    } else {
        terms.to_vec()
    };
    let mut candidates = Vec::new();
    first_found_terms(&terms, &mut o, &mut candidates)?;
    let subdirs: Vec<String> = match cx.vars.get("_lookup_subdir") {
        Some(s) if !s.is_none() => vec![py_str(&s)],
        _ => ["files", "templates", "vars", "tasks"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let subdirs: Vec<&str> = subdirs.iter().map(String::as_str).collect();
    for name in candidates {
        if let Some(path) = find_file(cx, &subdirs, &name) {
            let path = if path.is_absolute() {
                path
            } else {
                std::env::current_dir()
                    .map(|d| d.join(&path))
                    .unwrap_or(path)
            };
            return Ok(vec![Value::from(filters::py_normpath(
                &path.display().to_string(),
            ))]);
        }
    }
    if o.skip {
        return Ok(Vec::new());
    }
    Err(fail("No file was found when using first_found."))
}

/// `fileglob`: regular files matching patterns (relative ones under `files/`).
fn fileglob(cx: &LookupContext<'_>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in term_strings(terms) {
        let file = filters::py_basename(&term).to_string();
        let dirs: Vec<PathBuf> = if Path::new(&term).is_absolute() {
            vec![PathBuf::from(filters::py_dirname(&term))]
        } else if file != term {
            let dir = filters::py_dirname(&term);
            find_file(cx, &["files"], &dir).into_iter().collect()
        } else {
            search_bases(cx)
                .into_iter()
                .flat_map(|b| [b.join("files"), b])
                .collect()
        };
        for dir in dirs {
            let pattern = dir.join(&file).display().to_string();
            let found = filters::glob_files(&pattern);
            if !found.is_empty() {
                out.extend(found.into_iter().map(Value::from));
                break;
            }
        }
    }
    Ok(out)
}

/// Flattens one level (the `items` lookup, `with_items`).
pub fn flatten_once(terms: Vec<Value>) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        if is_list(&t) {
            out.extend(to_vec(&t)?);
        } else {
            out.push(t);
        }
    }
    Ok(out)
}

/// `dict`: `{key, value}` items of mappings (`with_dict`).
fn dict_lookup(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        if t.kind() != ValueKind::Map {
            return Err(fail("with_dict expects a dict"));
        }
        for (k, v) in map_items(t)? {
            out.push(new_map([
                (Value::from("key"), k),
                (Value::from("value"), v),
            ]));
        }
    }
    Ok(out)
}

fn lists(terms: Vec<Value>, what: &str) -> Result<Vec<Vec<Value>>, Error> {
    terms
        .iter()
        .map(|t| {
            if is_list(t) {
                to_vec(t)
            } else {
                Err(fail(format!("with_{what} requires a list of lists")))
            }
        })
        .collect()
}

/// `nested`: every combination (`with_nested`).
fn nested(terms: Vec<Value>) -> Result<Vec<Value>, Error> {
    let lists = lists(terms, "nested")?;
    if lists.is_empty() {
        return Err(fail(
            "with_nested requires at least one element in the nested list",
        ));
    }
    let mut result: Vec<Vec<Value>> = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::new();
        for r in &result {
            for item in &list {
                let mut t = r.clone();
                t.push(item.clone());
                next.push(t);
            }
        }
        result = next;
    }
    result
        .into_iter()
        .map(|r| flatten_once(r).map(Value::from))
        .collect()
}

/// `together`: items side by side, `None` where a list is shorter (`with_together`).
fn together(terms: Vec<Value>) -> Result<Vec<Value>, Error> {
    let lists = lists(terms, "together")?;
    if lists.is_empty() {
        return Err(fail(
            "with_together requires at least one element in each list",
        ));
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            flatten_once(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                    .collect(),
            )
            .map(Value::from)
        })
        .collect()
}

/// `subelements`: `[list_or_dict, 'key.path', {skip_missing: true}]` (`with_subelements`).
/// As in Ansible, the sub-list is taken out of the item it came from, and skipped
/// registered results are left out.
fn subelements(terms: &[Value], opts: &mut Options) -> Result<Vec<Value>, Error> {
    let usage = || {
        fail("subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey")
    };
    if terms.len() < 2 || terms.len() > 3 {
        return Err(usage());
    }
    let mut skip_missing = filters::opt_bool(opts.take("skip_missing"), false);
    if let Some(flags) = terms.get(2) {
        if flags.kind() != ValueKind::Map {
            return Err(fail(
                "the optional third item must be a dict with flags skip_missing",
            ));
        }
        let flag = flags
            .get_attr("skip_missing")
            .ok()
            .filter(|v| !v.is_undefined());
        if let Some(f) = flag {
            skip_missing = super::truthy(&f);
        }
    }
    let path: Vec<String> = terms[1]
        .as_str()
        .ok_or_else(usage)?
        .split('.')
        .map(str::to_string)
        .collect();
    let skipped = |v: &Value| {
        v.get_attr("skipped")
            .map(|s| !s.is_undefined() && (s.kind() != ValueKind::Bool || s.is_true()))
            .unwrap_or(false)
    };
    let elements = match terms[0].kind() {
        ValueKind::Map if skipped(&terms[0]) => return Ok(Vec::new()),
        ValueKind::Map => map_items(&terms[0])?.into_iter().map(|(_, v)| v).collect(),
        ValueKind::Seq => to_vec(&terms[0])?,
        _ => return Err(usage()),
    };
    let mut out = Vec::new();
    for item in elements {
        if item.kind() != ValueKind::Map {
            return Err(fail(format!(
                "subelements lookup expects a dictionary, got '{}'",
                filters::py_repr(&item)
            )));
        }
        if skipped(&item) {
            continue;
        }
        match take_sublist(&item, &path, skip_missing)? {
            Some((rest, list)) => {
                out.extend(list.into_iter().map(|x| Value::from(vec![rest.clone(), x])))
            }
            None => continue,
        }
    }
    Ok(out)
}

/// Removes the list at `path` from a copy of `item`: `(item without it, the list)`.
fn take_sublist(
    item: &Value,
    path: &[String],
    skip_missing: bool,
) -> Result<Option<(Value, Vec<Value>)>, Error> {
    let key = Value::from(path[0].as_str());
    let child = item.get_item(&key)?;
    if child.is_undefined() {
        if skip_missing {
            return Ok(None);
        }
        return Err(fail(format!(
            "could not find '{}' key in iterated item '{}'",
            path[0],
            filters::py_repr(item)
        )));
    }
    let mut pairs = map_items(item)?;
    if path.len() == 1 {
        if child.kind() != ValueKind::Seq {
            return Err(fail(format!(
                "the key {} should point to a list, got '{}'",
                path[0],
                filters::py_repr(&child)
            )));
        }
        pairs.retain(|(k, _)| *k != key);
        return Ok(Some((new_map(pairs), to_vec(&child)?)));
    }
    if child.kind() != ValueKind::Map {
        if skip_missing {
            return Ok(None);
        }
        return Err(fail(format!(
            "the key {} should point to a dictionary, got '{}'",
            path[0],
            filters::py_repr(&child)
        )));
    }
    let Some((new_child, list)) = take_sublist(&child, &path[1..], skip_missing)? else {
        return Ok(None);
    };
    for (k, v) in pairs.iter_mut() {
        if *k == key {
            *v = new_child.clone();
        }
    }
    Ok(Some((new_map(pairs), list)))
}

/// `sequence`: `start=1 end=10 stride=1 format=%d`, `count=`, or `[start-]end[/stride][:format]`.
fn sequence(
    cx: &LookupContext<'_>,
    terms: &[Value],
    opts: &mut Options,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let opt_int = |v: Option<Value>| -> Result<Option<i64>, Error> {
        match v {
            None => Ok(None),
            Some(v) => parse_int0(&py_str(&v)).map(Some),
        }
    };
    let defaults = (
        opt_int(opts.take("start"))?,
        opt_int(opts.take("end"))?,
        opt_int(opts.take("count"))?,
        opt_int(opts.take("stride"))?,
        opts.take("format").map(|v| py_str(&v)),
    );
    let terms: Vec<String> = if terms.is_empty() {
        vec![String::new()]
    } else {
        term_strings(terms)
    };
    for term in terms {
        let (mut start, mut end, mut count, mut stride, mut format) = (
            defaults.0.unwrap_or(1),
            defaults.1,
            defaults.2,
            defaults.3.unwrap_or(1),
            defaults.4.clone().unwrap_or_else(|| "%d".into()),
        );
        let term = term.trim();
        if !term.is_empty() {
            if let Some(c) = shortcut(term) {
                if let Some(s) = c.0 {
                    start = s;
                }
                end = Some(c.1);
                if let Some(s) = c.2 {
                    stride = s;
                }
                if let Some(f) = c.3 {
                    format = f;
                }
            } else {
                for (k, v) in parse_kv(term)? {
                    match k.as_str() {
                        "start" => start = parse_int0(&v)?,
                        "end" => end = Some(parse_int0(&v)?),
                        "count" => count = Some(parse_int0(&v)?),
                        "stride" => stride = parse_int0(&v)?,
                        "format" => format = v,
                        other => {
                            return Err(fail(format!(
                                "unrecognized arguments to with_sequence: ['{other}']"
                            )))
                        }
                    }
                }
            }
        }
        match (count, end) {
            (None, None) => return Err(fail("must specify count or end in with_sequence")),
            (Some(_), Some(_)) => {
                return Err(fail("can't specify both count and end in with_sequence"))
            }
            (Some(0), None) => continue,
            (Some(c), None) => end = Some(start + c * stride - 1),
            _ => {}
        }
        let end = end.unwrap_or(start);
        if stride > 0 && end < start {
            return Err(fail("to count backwards make stride negative"));
        }
        if stride < 0 && end > start {
            return Err(fail("to count forward don't make stride negative"));
        }
        if format.matches('%').count() != 1 {
            return Err(fail(format!("bad formatting string: {format}")));
        }
        if stride == 0 {
            continue;
        }
        let mut state = cx.env.empty_state();
        let mut i = start;
        while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
            let s = state
                .apply_filter("format", &[Value::from(format.as_str()), Value::from(i)])
                .map_err(|e| fail(format!("problem formatting {i} with {format}: {e}")))?;
            out.push(Value::from(py_str(&s)));
            i += stride;
        }
    }
    Ok(out)
}

/// `int(x, 0)`: decimal, `0x`, `0o`, `0b`.
fn parse_int0(s: &str) -> Result<i64, Error> {
    filters::parse_py_int(s, 0)
        .map(|i| i as i64)
        .ok_or_else(|| fail(format!("can't parse arg as integer: {s}")))
}

type Shortcut = (Option<i64>, i64, Option<i64>, Option<String>);

fn shortcut(term: &str) -> Option<Shortcut> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"(?i)^(([0-9]+|0x[0-9a-f]+)-)?([0-9]+|0x[0-9a-f]+)(/([0-9]+|0x[0-9a-f]+))?(:(.+))?$",
        )
        .expect("valid regex")
    });
    let c = re.captures(term)?;
    let int = |m: Option<regex::Match<'_>>| m.and_then(|m| parse_int0(m.as_str()).ok());
    Some((
        int(c.get(2)),
        int(c.get(3))?,
        int(c.get(5)),
        c.get(7).map(|m| m.as_str().to_string()),
    ))
}

/// Splits `k=v k2='v 2'` arguments.
fn parse_kv(s: &str) -> Result<Vec<(String, String)>, Error> {
    let words = crate::shell::split(s).map_err(|e| fail(format!("cannot parse '{s}': {e}")))?;
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(fail(format!("expected key=value, got '{w}'"))),
        })
        .collect()
}

fn random_choice(terms: Vec<Value>) -> Vec<Value> {
    if terms.is_empty() {
        return terms;
    }
    let i = filters::PyRandom::from_entropy().randbelow(terms.len() as u128) as usize;
    vec![terms[i].clone()]
}

/// `pipe` / `lines`: output of a shell command run on the controller, in `playbook_dir`.
fn pipe(cx: &LookupContext<'_>, terms: &[Value], lines: bool) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for cmd in term_strings(terms) {
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(basedir(cx))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| fail(format!("lookup_plugin.pipe({cmd}) could not run: {e}")))?;
        if !output.status.success() {
            let rc = output.status.code().unwrap_or(-1);
            return Err(fail(if lines {
                format!("lookup_plugin.lines({cmd}) returned {rc}")
            } else {
                format!("lookup_plugin.pipe({cmd}) returned {rc}")
            }));
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if lines {
            out.extend(filters::py_splitlines(&text).into_iter().map(Value::from));
        } else {
            out.push(Value::from(text.trim_end()));
        }
    }
    Ok(out)
}

/// Renders strings that hold template syntax, inside lists and mappings too (variables
/// are templated lazily in Ansible; `lookup('vars', x)` sees the rendered value).
fn render_nested(
    cx: &LookupContext<'_>,
    v: &Value,
    ctx: &Value,
    depth: usize,
) -> Result<Value, Error> {
    if depth > 20 {
        return Err(fail("recursive loop detected in template string"));
    }
    Ok(match v.kind() {
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            if crate::template::Templar::is_template(s) {
                Value::from(cx.env.render_named_str("<vars lookup>", s, ctx.clone())?)
            } else {
                v.clone()
            }
        }
        ValueKind::Seq => Value::from(
            to_vec(v)?
                .iter()
                .map(|x| render_nested(cx, x, ctx, depth + 1))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        ValueKind::Map => new_map(
            map_items(v)?
                .into_iter()
                .map(|(k, x)| Ok((k, render_nested(cx, &x, ctx, depth + 1)?)))
                .collect::<Result<Vec<_>, Error>>()?,
        ),
        _ => v.clone(),
    })
}

/// `vars`: variables by (templated) name, then `hostvars[inventory_hostname]`.
fn vars_lookup(
    cx: &LookupContext<'_>,
    terms: &[Value],
    opts: &mut Options,
) -> Result<Vec<Value>, Error> {
    let default = opts.take("default");
    let ctx = Value::from_pairs(cx.vars.all());
    let mut out = Vec::new();
    for name in term_strings(terms) {
        let mut found = cx.vars.get(&name);
        if found.is_none() {
            if let (Some(hostvars), Some(host)) =
                (cx.vars.get("hostvars"), cx.vars.get("inventory_hostname"))
            {
                found = hostvars
                    .get_item(&host)
                    .ok()
                    .and_then(|h| h.get_item(&Value::from(name.as_str())).ok())
                    .filter(|v| !v.is_undefined());
            }
        }
        match found {
            Some(v) => out.push(render_nested(cx, &v, &ctx, 0)?),
            None => match &default {
                Some(d) => out.push(d.clone()),
                None => {
                    return Err(Error::new(
                        ErrorKind::UndefinedError,
                        format!("No variable named '{name}' was found"),
                    ));
                }
            },
        }
    }
    Ok(out)
}

/// `varnames`: names of variables matching Python regular expressions.
fn varnames(cx: &LookupContext<'_>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let names: Vec<String> = cx.vars.all().into_keys().collect();
    let mut out = Vec::new();
    for term in term_strings(terms) {
        let re = filters::compile_py_regex(&term, false, false)?;
        out.extend(
            names
                .iter()
                .filter(|n| re.is_match(n))
                .map(|n| Value::from(n.as_str())),
        );
    }
    Ok(out)
}

/// `password`: a random password kept in a controller file (created on first use;
/// `/dev/null` gives a fresh one each time). Options: `length=20`, `chars=ascii_letters,digits`.
fn password(
    cx: &LookupContext<'_>,
    terms: &[Value],
    opts: &mut Options,
) -> Result<Vec<Value>, Error> {
    let mut length = opts
        .take("length")
        .map(|v| parse_int0(&py_str(&v)))
        .transpose()?;
    let mut chars = opts
        .take("chars")
        .map(|v| split_list(&v, &[',']).unwrap_or_default());
    opts.take("seed");
    if opts.take("encrypt").is_some() {
        return Err(fail(
            "the password lookup's 'encrypt' option is not supported by rdeploy",
        ));
    }
    let mut out = Vec::new();
    for term in term_strings(terms) {
        let mut words = term.split_whitespace();
        let rel = words
            .next()
            .ok_or_else(|| fail("password lookup needs a path"))?
            .to_string();
        for w in words {
            match w.split_once('=') {
                Some(("length", v)) => length = Some(parse_int0(v)?),
                Some(("chars", v)) => chars = Some(v.split(',').map(str::to_string).collect()),
                Some(("encrypt" | "ident" | "seed", _)) => {}
                _ => {
                    return Err(fail(format!(
                        "unrecognized password lookup parameter '{w}'"
                    )))
                }
            }
        }
        let path = {
            let p = PathBuf::from(filters::py_expanduser(&rel));
            if p.is_absolute() {
                p
            } else {
                basedir(cx).join(p)
            }
        };
        if path != Path::new("/dev/null") {
            if let Ok(content) = std::fs::read_to_string(&path) {
                let first = content.lines().next().unwrap_or("");
                let pw = first
                    .split(" salt=")
                    .next()
                    .unwrap_or("")
                    .split(" ident=")
                    .next()
                    .unwrap_or("");
                out.push(Value::from(pw));
                continue;
            }
        }
        let alphabet = password_alphabet(chars.as_deref().unwrap_or(&[
            "ascii_letters".into(),
            "digits".into(),
            ".,:-_".into(),
        ]));
        if alphabet.is_empty() {
            return Err(fail("password lookup: empty chars"));
        }
        let mut rng = filters::PyRandom::from_entropy();
        let n = length.unwrap_or(20).max(0) as usize;
        let pw: String = (0..n)
            .map(|_| alphabet[rng.randbelow(alphabet.len() as u128) as usize])
            .collect();
        if path != Path::new("/dev/null") {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
            }
            std::fs::write(&path, format!("{pw}\n"))
                .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        }
        out.push(Value::from(pw));
    }
    Ok(out)
}

fn password_alphabet(sets: &[String]) -> Vec<char> {
    let mut out = String::new();
    for s in sets {
        match s.as_str() {
            "ascii_letters" => out.push_str("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            "ascii_lowercase" => out.push_str("abcdefghijklmnopqrstuvwxyz"),
            "ascii_uppercase" => out.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            "digits" => out.push_str("0123456789"),
            "hexdigits" => out.push_str("0123456789abcdefABCDEF"),
            "octdigits" => out.push_str("01234567"),
            "punctuation" => out.push_str("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            other => out.push_str(other),
        }
    }
    let mut seen = Vec::new();
    for c in out.chars() {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen
}

/// `inventory_hostnames`: hosts matching patterns, from the `groups` variable (`all`,
/// group and host names, `*` wildcards, `a:b` union, `:&` intersection, `:!` exclusion).
fn inventory_hostnames(cx: &LookupContext<'_>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let groups = cx
        .vars
        .get("groups")
        .filter(|g| g.kind() == ValueKind::Map)
        .ok_or_else(|| fail("no inventory groups known"))?;
    let group_map: IndexMap<String, Vec<String>> = map_items(&groups)?
        .into_iter()
        .map(|(k, v)| {
            (
                py_str(&k),
                to_vec(&v).unwrap_or_default().iter().map(py_str).collect(),
            )
        })
        .collect();
    let all: Vec<String> = group_map.get("all").cloned().unwrap_or_else(|| {
        let mut hosts: Vec<String> = Vec::new();
        for h in group_map.values().flatten() {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        hosts
    });
    let matching = |pat: &str| -> Vec<String> {
        if pat == "all" || pat == "*" {
            return all.clone();
        }
        if let Some(hosts) = group_map.get(pat) {
            return hosts.clone();
        }
        if pat.contains('*') || pat.contains('?') {
            let re = format!(
                "^{}$",
                regex::escape(pat).replace("\\*", ".*").replace("\\?", ".")
            );
            let re = regex::Regex::new(&re).ok();
            let mut out = Vec::new();
            for (g, hosts) in &group_map {
                if re.as_ref().map(|r| r.is_match(g)).unwrap_or(false) {
                    out.extend(hosts.iter().cloned());
                }
            }
            out.extend(
                all.iter()
                    .filter(|h| re.as_ref().map(|r| r.is_match(h)).unwrap_or(false))
                    .cloned(),
            );
            return out;
        }
        all.iter().filter(|h| *h == pat).cloned().collect()
    };
    let mut out: Vec<String> = Vec::new();
    for term in term_strings(terms) {
        let mut selected: Vec<String> = Vec::new();
        for part in term.split([':', ',']).filter(|p| !p.is_empty()) {
            if let Some(p) = part.strip_prefix('!') {
                let ex = matching(p);
                selected.retain(|h| !ex.contains(h));
            } else if let Some(p) = part.strip_prefix('&') {
                let keep = matching(p);
                selected.retain(|h| keep.contains(h));
            } else {
                for h in matching(part) {
                    if !selected.contains(&h) {
                        selected.push(h);
                    }
                }
            }
        }
        for h in selected {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out.into_iter().map(Value::from).collect())
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    fn v(j: serde_json::Value) -> Value {
        crate::template::from_json(&j)
    }

    #[test]
    fn lookup_result_like_ansible_2_19() {
        assert_eq!(filters::py_repr(&lookup_result(vec![])), "[]");
        assert_eq!(filters::py_repr(&lookup_result(vec![Value::from(5)])), "5");
        assert_eq!(
            filters::py_repr(&lookup_result(vec![Value::from("a"), Value::from("b")])),
            "'a,b'"
        );
        assert_eq!(
            filters::py_repr(&lookup_result(vec![Value::from("a"), Value::from(1)])),
            "['a', 1]"
        );
    }

    #[test]
    fn sequence_shortcuts_and_kv() {
        assert_eq!(
            shortcut("4-8/2:web%d"),
            Some((Some(4), 8, Some(2), Some("web%d".to_string())))
        );
        assert_eq!(shortcut("0x10"), Some((None, 16, None, None)));
        assert_eq!(shortcut("start=1"), None);
        assert_eq!(
            parse_kv("start=1 format='host %d'").unwrap(),
            vec![
                ("start".to_string(), "1".to_string()),
                ("format".to_string(), "host %d".to_string())
            ]
        );
        assert!(parse_kv("nonsense").is_err());
    }

    #[test]
    fn query_with_a_plain_context() {
        let env = crate::template::Templar::new();
        let vars = v(json!({"x": [1, 2], "playbook_dir": "/tmp"}));
        let cx = LookupContext {
            env: env.env(),
            vars: &vars,
        };
        let items = query(
            &cx,
            "items",
            vec![v(json!([1, [2, 3]])), Value::from(4)],
            IndexMap::new(),
        )
        .unwrap();
        assert_eq!(filters::py_repr(&Value::from(items)), "[1, [2, 3], 4]");
        let dict = query(
            &cx,
            "ansible.builtin.dict",
            vec![v(json!({"a": 1}))],
            IndexMap::new(),
        )
        .unwrap();
        assert_eq!(
            filters::py_repr(&Value::from(dict)),
            "[{'key': 'a', 'value': 1}]"
        );
        let vars_out = query(&cx, "vars", vec![Value::from("x")], IndexMap::new()).unwrap();
        assert_eq!(filters::py_repr(&Value::from(vars_out)), "[[1, 2]]");
        assert!(query(&cx, "url", vec![], IndexMap::new()).is_err());
    }

    #[test]
    fn varnames_from_a_template_leave_out_globals() {
        let t = crate::template::Templar::new();
        let ctx = v(json!({"my_a": 1, "other": 2}));
        let names = t.eval_expr("query('varnames', '.')", &ctx).unwrap();
        assert_eq!(filters::py_repr(&names), "['my_a', 'other']");
    }

    #[test]
    fn subelements_take_the_list_out() {
        let item = v(json!({"n": "a", "x": {"l": [1, 2], "k": 1}}));
        let (rest, list) = take_sublist(&item, &["x".to_string(), "l".to_string()], false)
            .unwrap()
            .unwrap();
        assert_eq!(filters::py_repr(&rest), "{'n': 'a', 'x': {'k': 1}}");
        assert_eq!(list.len(), 2);
        assert!(take_sublist(&item, &["nope".to_string()], true)
            .unwrap()
            .is_none());
        assert!(
            take_sublist(&item, &["n".to_string()], false).is_err(),
            "not a list"
        );
    }
}
