//! Ansible's Jinja tests (`is failed`, `is version(...)`, `is match(...)` ...).
//!
//! Task-result tests (`failed`, `changed`, `skipped`, `succeeded` ...) read the registered
//! result dict the way Ansible's `test/core.py` does. Version tests follow
//! `LooseVersion` (default), `StrictVersion` (`strict=true`) and Ansible's
//! `SemanticVersion` (`version_type='semver'`). File tests run on the controller.
//! minijinja's builtin `sequence` test is replaced by Jinja2's (strings and mappings are
//! sequences too); the other builtins (`defined`, `none`, `string`, `number`, `mapping`,
//! `in`, `sameas` ...) already match Jinja2.

use super::filters::{self, compile_py_regex, defined, is_list, map_items, py_str, to_vec, Params};
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind};
use std::cmp::Ordering;

pub fn register(env: &mut Environment<'static>) {
    macro_rules! test {
        ($name:literal, $f:expr) => {{
            env.add_test($name, $f);
            env.add_test(concat!("ansible.builtin.", $name), $f);
        }};
    }
    // Task results.
    test!("failed", failed);
    test!("failure", failed);
    test!("succeeded", succeeded);
    test!("success", succeeded);
    test!("successful", succeeded);
    test!("changed", changed);
    test!("change", changed);
    test!("skipped", skipped);
    test!("skip", skipped);
    test!("unreachable", unreachable);
    test!("reachable", reachable);
    test!("finished", finished);
    test!("started", started);
    // Regular expressions.
    test!("match", is_match);
    test!("search", is_search);
    test!("regex", is_regex);
    // Versions.
    test!("version", version);
    test!("version_compare", version);
    // Sets and lists.
    test!("subset", subset);
    test!("issubset", subset);
    test!("superset", superset);
    test!("issuperset", superset);
    test!("contains", contains);
    test!("any", any);
    test!("all", all);
    // Truthiness and numbers.
    test!("truthy", truthy);
    test!("falsy", falsy);
    test!("nan", is_nan);
    test!("isnan", is_nan);
    test!("vault_encrypted", never);
    test!("vaulted_file", never);
    // Paths on the controller.
    test!("abs", is_abs);
    test!("is_abs", is_abs);
    test!("file", is_file);
    test!("is_file", is_file);
    test!("directory", is_dir);
    test!("is_dir", is_dir);
    test!("link", is_link);
    test!("is_link", is_link);
    test!("exists", exists);
    test!("link_exists", link_exists);
    test!("same_file", same_file);
    test!("is_same_file", same_file);
    test!("mount", is_mount);
    test!("is_mount", is_mount);
    // URIs.
    test!("uri", is_uri);
    test!("url", is_url);
    test!("urn", is_urn);
    // Jinja2's `sequence`: anything with a length and items, strings and mappings too.
    env.add_test("sequence", is_sequence);
}

fn fail(msg: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

// ---------------------------------------------------------------------------------------
// Task results.

fn result_dict(v: &Value, test: &str) -> Result<(), Error> {
    defined(v, test)?;
    if v.kind() != ValueKind::Map {
        return Err(fail(format!("The '{test}' test expects a dictionary")));
    }
    Ok(())
}

fn field_true(v: &Value, key: &str) -> bool {
    v.get_item(&Value::from(key))
        .map(|x| x.is_true())
        .unwrap_or(false)
}

fn failed(v: &Value) -> Result<bool, Error> {
    result_dict(v, "failed")?;
    Ok(field_true(v, "failed"))
}

fn succeeded(v: &Value) -> Result<bool, Error> {
    result_dict(v, "succeeded")?;
    Ok(!field_true(v, "failed"))
}

fn unreachable(v: &Value) -> Result<bool, Error> {
    result_dict(v, "unreachable")?;
    Ok(field_true(v, "unreachable"))
}

fn reachable(v: &Value) -> Result<bool, Error> {
    Ok(!unreachable(v)?)
}

/// `changed`, or for a looped result without it, whether any item changed.
fn changed(v: &Value) -> Result<bool, Error> {
    result_dict(v, "changed")?;
    let c = v.get_item(&Value::from("changed"))?;
    if !c.is_undefined() {
        return Ok(c.is_true());
    }
    let results = v.get_item(&Value::from("results"))?;
    if results.kind() == ValueKind::Seq {
        let items = to_vec(&results)?;
        if items
            .first()
            .map(|r| r.kind() == ValueKind::Map)
            .unwrap_or(false)
        {
            return Ok(items.iter().any(|r| field_true(r, "changed")));
        }
    }
    Ok(false)
}

fn skipped(v: &Value) -> Result<bool, Error> {
    result_dict(v, "skipped")?;
    Ok(field_true(v, "skipped"))
}

fn async_flag(v: &Value, key: &str) -> Result<bool, Error> {
    result_dict(v, key)?;
    let f = v.get_item(&Value::from(key))?;
    if f.is_undefined() {
        // Not an async result: Ansible warns and treats it as done.
        return Ok(true);
    }
    Ok(f.as_i64() == Some(1) || (f.kind() == ValueKind::Bool && f.is_true()))
}

fn finished(v: &Value) -> Result<bool, Error> {
    async_flag(v, "finished")
}

fn started(v: &Value) -> Result<bool, Error> {
    async_flag(v, "started")
}

// ---------------------------------------------------------------------------------------
// Regular expressions.

fn regex_test(
    value: &Value,
    args: Rest<ValueOrKwargs>,
    name: &'static str,
    default_type: &str,
) -> Result<bool, Error> {
    let mut p = Params::new(name, args);
    let pattern = filters::opt_string(p.take("pattern")).unwrap_or_default();
    let ignorecase = filters::opt_bool(p.take("ignorecase"), false);
    let multiline = filters::opt_bool(p.take("multiline"), false);
    let match_type = if name == "regex" {
        filters::opt_string(p.take("match_type"))
    } else {
        None
    };
    p.finish()?;
    defined(value, name)?;
    let text = py_str(value);
    let match_type = match_type.unwrap_or_else(|| default_type.to_string());
    let pattern = if match_type == "fullmatch" {
        format!("(?:{pattern})\\Z")
    } else {
        pattern
    };
    let re = compile_py_regex(&pattern, ignorecase, multiline)?;
    Ok(match re.find(&text) {
        None => false,
        Some(m) => match match_type.as_str() {
            "match" | "fullmatch" => m.start() == 0,
            _ => true,
        },
    })
}

/// `match(pattern)`: Python's `re.match`, anchored at the start.
fn is_match(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    regex_test(value, args, "match", "match")
}

/// `search(pattern)`: Python's `re.search`, anywhere.
fn is_search(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    regex_test(value, args, "search", "search")
}

/// `regex(pattern, ignorecase=False, multiline=False, match_type='search')`.
fn is_regex(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    regex_test(value, args, "regex", "search")
}

// ---------------------------------------------------------------------------------------
// Versions.

#[derive(Debug, Clone, PartialEq, Eq)]
enum LoosePart {
    Num(String),
    Text(String),
}

/// Compares decimal digit strings as numbers (any length).
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for LoosePart {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LoosePart::Num(a), LoosePart::Num(b)) => cmp_digits(a, b),
            (LoosePart::Text(a), LoosePart::Text(b)) => a.cmp(b),
            // Python 3 refuses to compare these; Python 2's LooseVersion put numbers first.
            (LoosePart::Num(_), LoosePart::Text(_)) => Ordering::Less,
            (LoosePart::Text(_), LoosePart::Num(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for LoosePart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `LooseVersion`: runs of digits, runs of lowercase letters, and anything else between
/// them; dots separate and are dropped.
fn loose_parts(v: &str) -> Vec<LoosePart> {
    #[derive(PartialEq, Clone, Copy)]
    enum K {
        Digit,
        Lower,
        Dot,
        Other,
    }
    let kind = |c: char| {
        if c.is_ascii_digit() {
            K::Digit
        } else if c.is_ascii_lowercase() {
            K::Lower
        } else if c == '.' {
            K::Dot
        } else {
            K::Other
        }
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut cur_kind = K::Other;
    let flush = |cur: &mut String, k: K, parts: &mut Vec<LoosePart>| {
        if cur.is_empty() {
            return;
        }
        let text = std::mem::take(cur);
        match k {
            K::Digit => parts.push(LoosePart::Num(text)),
            K::Dot => {}
            _ => parts.push(LoosePart::Text(text)),
        }
    };
    for c in v.chars() {
        let k = kind(c);
        // Dots are single tokens; other kinds extend runs of their own kind.
        if k != cur_kind || k == K::Dot {
            flush(&mut cur, cur_kind, &mut parts);
            cur_kind = k;
        }
        cur.push(c);
    }
    flush(&mut cur, cur_kind, &mut parts);
    parts
}

/// `StrictVersion`: the numbers, and the pre-release tag (`a1`, `b2`) if any.
type Strict = (Vec<u64>, Option<(char, u64)>);

fn strict_version(v: &str) -> Result<Strict, Error> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$").expect("valid regex")
    });
    let c = re
        .captures(v)
        .ok_or_else(|| fail(format!("invalid version number '{v}'")))?;
    let num = |i: usize| {
        c.get(i)
            .map(|m| m.as_str().parse::<u64>().unwrap_or(u64::MAX))
            .unwrap_or(0)
    };
    let pre = c
        .get(4)
        .map(|m| (m.as_str().chars().next().unwrap_or('a'), num(5)));
    Ok((vec![num(1), num(2), num(3)], pre))
}

fn cmp_strict(a: &str, b: &str) -> Result<Ordering, Error> {
    let (va, pa) = strict_version(a)?;
    let (vb, pb) = strict_version(b)?;
    Ok(va.cmp(&vb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y),
    }))
}

fn semver(v: &str) -> Result<(Vec<String>, Vec<String>), Error> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
        )
        .expect("valid regex")
    });
    let c = re
        .captures(v)
        .ok_or_else(|| fail(format!("invalid semantic version '{v}'")))?;
    let core = (1..=3).map(|i| c[i].to_string()).collect();
    let pre = c
        .get(4)
        .map(|m| m.as_str().split('.').map(str::to_string).collect())
        .unwrap_or_default();
    Ok((core, pre))
}

fn cmp_semver(a: &str, b: &str) -> Result<Ordering, Error> {
    let (ca, pa) = semver(a)?;
    let (cb, pb) = semver(b)?;
    for (x, y) in ca.iter().zip(&cb) {
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(match (pa.is_empty(), pb.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, false) => {
            let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit());
            for (x, y) in pa.iter().zip(&pb) {
                let o = match (numeric(x), numeric(y)) {
                    (true, true) => cmp_digits(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            pa.len().cmp(&pb.len())
        }
    })
}

/// Compares two versions with one of Ansible's operators (`<`, `lt`, `==`, `eq`, `<>` ...).
pub fn compare_versions(
    value: &str,
    version: &str,
    operator: &str,
    version_type: &str,
) -> Result<bool, Error> {
    if value.is_empty() {
        return Err(fail("Input version value cannot be empty"));
    }
    if version.is_empty() {
        return Err(fail("Version parameter to compare against cannot be empty"));
    }
    let ord = match version_type {
        "loose" => loose_parts(value).cmp(&loose_parts(version)),
        "strict" => cmp_strict(value, version)?,
        "semver" | "semantic" => cmp_semver(value, version)?,
        other => {
            return Err(fail(format!(
                "Invalid version type ({other}). Must be one of loose, strict, semver, semantic"
            )))
        }
    };
    Ok(match operator {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        other => {
            return Err(fail(format!(
                "Invalid operator type ({other}). Must be one of ==, =, eq, <, lt, <=, le, >, gt, >=, ge, !=, <>, ne"
            )))
        }
    })
}

fn version_impl(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    let mut p = Params::new("version", args);
    let version = p.take("version");
    let operator = filters::opt_string(p.take("operator")).unwrap_or_else(|| "eq".into());
    let strict = p.take("strict").filter(|s| !s.is_none());
    let version_type = filters::opt_string(p.take("version_type"));
    p.finish()?;
    defined(value, "version")?;
    let version = version.ok_or_else(|| fail("version: missing the version to compare against"))?;
    defined(&version, "version")?;
    if strict.is_some() && version_type.is_some() {
        return Err(fail("Cannot specify both 'strict' and 'version_type'"));
    }
    let kind = match (strict, version_type) {
        (Some(s), _) if s.is_true() => "strict".to_string(),
        (_, Some(t)) => t,
        _ => "loose".to_string(),
    };
    let text = |v: &Value| {
        if v.is_none() {
            String::new()
        } else {
            py_str(v)
        }
    };
    compare_versions(&text(value), &text(&version), &operator, &kind)
}

/// `value is version('1.2', '>=', strict=False, version_type=None)`.
fn version(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    version_impl(value, args)
}

/// The same comparison as a filter (`{{ v | version_compare('1.2', '>=') }}`).
pub fn version_compare_filter(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    version_impl(value, args)
}

// ---------------------------------------------------------------------------------------
// Sets, lists, truthiness.

fn items_of(v: &Value, test: &str) -> Result<Vec<Value>, Error> {
    defined(v, test)?;
    if v.kind() == ValueKind::Map {
        return Ok(map_items(v)?.into_iter().map(|(k, _)| k).collect());
    }
    to_vec(v).map_err(|_| fail(format!("the '{test}' test expects a list")))
}

fn subset(a: &Value, b: &Value) -> Result<bool, Error> {
    let b = items_of(b, "subset")?;
    Ok(items_of(a, "subset")?.iter().all(|x| b.contains(x)))
}

fn superset(a: &Value, b: &Value) -> Result<bool, Error> {
    subset(b, a)
}

/// `seq is contains(value)`: `value in seq`.
fn contains(seq: &Value, value: &Value) -> Result<bool, Error> {
    defined(seq, "contains")?;
    if let Some(s) = seq.as_str() {
        return Ok(s.contains(&py_str(value)));
    }
    Ok(items_of(seq, "contains")?.contains(value))
}

fn any(v: &Value) -> Result<bool, Error> {
    Ok(items_of(v, "any")?.iter().any(Value::is_true))
}

fn all(v: &Value) -> Result<bool, Error> {
    Ok(items_of(v, "all")?.iter().all(Value::is_true))
}

/// `truthy(convert_bool=False)`: Python truthiness, or Ansible's boolean strings first.
fn truthy(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    let mut p = Params::new("truthy", args);
    let convert = filters::opt_bool(p.take("convert_bool"), false);
    p.finish()?;
    defined(value, "truthy")?;
    if convert {
        let lowered = match value.kind() {
            ValueKind::String => Some(value.as_str().unwrap_or_default().trim().to_lowercase()),
            ValueKind::Number => value.as_i64().map(|i| i.to_string()),
            _ => None,
        };
        match lowered.as_deref() {
            Some("y" | "yes" | "on" | "1" | "true" | "t" | "1.0") => return Ok(true),
            Some("n" | "no" | "off" | "0" | "false" | "f" | "0.0") => return Ok(false),
            _ => {}
        }
    }
    Ok(value.is_true())
}

fn falsy(value: &Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    Ok(!truthy(value, args)?)
}

fn is_nan(value: &Value) -> bool {
    value.kind() == ValueKind::Number
        && f64::try_from(value.clone())
            .map(f64::is_nan)
            .unwrap_or(false)
}

fn never(_value: &Value) -> bool {
    false
}

fn is_sequence(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::String | ValueKind::Bytes
    ) || is_list(value)
}

// ---------------------------------------------------------------------------------------
// Paths on the controller (`~` and `$VAR` expanded first, as Ansible does).

fn path_of(v: &Value, test: &str) -> Result<std::path::PathBuf, Error> {
    defined(v, test)?;
    let s = py_str(v);
    Ok(std::path::PathBuf::from(filters::py_expanduser(
        &filters::py_expandvars(&s),
    )))
}

fn is_abs(v: &Value) -> Result<bool, Error> {
    Ok(path_of(v, "abs")?.is_absolute())
}

fn is_file(v: &Value) -> Result<bool, Error> {
    Ok(path_of(v, "file")?.is_file())
}

fn is_dir(v: &Value) -> Result<bool, Error> {
    Ok(path_of(v, "directory")?.is_dir())
}

fn is_link(v: &Value) -> Result<bool, Error> {
    Ok(path_of(v, "link")?
        .symlink_metadata()
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false))
}

fn exists(v: &Value) -> Result<bool, Error> {
    Ok(path_of(v, "exists")?.exists())
}

fn link_exists(v: &Value) -> Result<bool, Error> {
    Ok(path_of(v, "link_exists")?.symlink_metadata().is_ok())
}

fn same_file(a: &Value, b: &Value) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (path_of(a, "same_file")?, path_of(b, "same_file")?);
    Ok(match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    })
}

fn is_mount(v: &Value) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let p = path_of(v, "mount")?;
    let Ok(meta) = p.symlink_metadata() else {
        return Ok(false);
    };
    if meta.file_type().is_symlink() {
        return Ok(false);
    }
    let Ok(parent) = std::fs::metadata(p.join("..")) else {
        return Ok(false);
    };
    Ok(meta.dev() != parent.dev() || meta.ino() == parent.ino())
}

// ---------------------------------------------------------------------------------------
// URIs.

fn uri_scheme(s: &str) -> Option<&str> {
    let i = s.find(':')?;
    let scheme = &s[..i];
    (i > 0
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn schemes_arg(schemes: Option<Value>) -> Result<Option<Vec<String>>, Error> {
    match schemes {
        Some(s) if !s.is_none() => Ok(Some(to_vec(&s)?.iter().map(py_str).collect())),
        _ => Ok(None),
    }
}

fn is_uri(value: &Value, schemes: Option<Value>) -> Result<bool, Error> {
    defined(value, "uri")?;
    let s = py_str(value);
    let scheme = uri_scheme(&s).unwrap_or("").to_ascii_lowercase();
    Ok(match schemes_arg(schemes)? {
        Some(list) if !list.is_empty() => list.contains(&scheme),
        _ => true,
    })
}

fn is_url(value: &Value, schemes: Option<Value>) -> Result<bool, Error> {
    if !is_uri(value, schemes)? {
        return Ok(false);
    }
    let s = py_str(value);
    let scheme = uri_scheme(&s).unwrap_or("").to_ascii_lowercase();
    let rest = if scheme.is_empty() {
        s.as_str()
    } else {
        &s[scheme.len() + 1..]
    };
    let netloc = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    Ok(!netloc.is_empty() || scheme == "file")
}

fn is_urn(value: &Value) -> Result<bool, Error> {
    is_uri(value, Some(Value::from(vec!["urn"])))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn loose_version_tokens() {
        let p = loose_parts("1.10.0-rc1");
        assert_eq!(
            p,
            vec![
                LoosePart::Num("1".into()),
                LoosePart::Num("10".into()),
                LoosePart::Num("0".into()),
                LoosePart::Text("-".into()),
                LoosePart::Text("rc".into()),
                LoosePart::Num("1".into()),
            ]
        );
        let p = loose_parts("2.6.32-5-AMD64");
        assert_eq!(p[5], LoosePart::Text("-AMD".into()));
        assert_eq!(p[6], LoosePart::Num("64".into()));
    }

    #[test]
    fn version_operators() {
        assert!(compare_versions("1.10", "1.9", ">", "loose").unwrap());
        assert!(compare_versions("1.10", "1.9", "gt", "loose").unwrap());
        assert!(compare_versions("2.0", "2.0.0", "<", "loose").unwrap());
        assert!(compare_versions("1.0.0", "1.0.0", "==", "loose").unwrap());
        assert!(compare_versions("1.0.0", "1.0.1", "<>", "loose").unwrap());
        assert!(compare_versions("18.04", "16.04", ">=", "loose").unwrap());
        assert!(compare_versions("1.2a1", "1.2", "<", "strict").unwrap());
        assert!(compare_versions("1.0.0-alpha", "1.0.0", "<", "semver").unwrap());
        assert!(compare_versions("1.0.0-alpha.1", "1.0.0-alpha.beta", "<", "semver").unwrap());
        assert!(compare_versions("1.0.0-2", "1.0.0-11", "<", "semver").unwrap());
        assert!(compare_versions("1", "1", "bogus", "loose").is_err());
        assert!(compare_versions("", "1", "eq", "loose").is_err());
        assert!(compare_versions("1.2.3.4", "1.2", "eq", "strict").is_err());
    }

    #[test]
    fn big_numbers_compare_numerically() {
        assert!(
            compare_versions("20240101123456789012", "20240101123456789011", ">", "loose").unwrap()
        );
    }
}
