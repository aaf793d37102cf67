//! Ansible's filters on top of minijinja's builtins (see COMPAT.md).
//!
//! Filters whose minijinja builtin already behaves like Ansible's are left alone (`length`,
//! `lower`, `trim`, `unique`, `map`, `select`, `sort`, `min`, `max`, `sum`, `first`, `last`,
//! `list`, `zip`, `default` ...). Filters where Jinja2/Ansible and minijinja differ are
//! replaced: `bool` (Ansible's yes/no/on/off strings), `int`/`float` (Python parsing, the
//! default on failure), `string`/`join` (Python's `str()`: `True`, `None`, `['a']`) and
//! `indent` (keeps a trailing newline like Jinja2).
//!
//! Everything Ansible registers is also reachable by its `ansible.builtin.` name.
//! `to_yaml`/`to_nice_yaml` port libyaml's emitter (what Ansible's dumper uses), so their
//! output is byte-for-byte Ansible's. Dates are rendered in UTC.
//!
//! The Python-compatible helpers the tests and lookups share live here too: `str()`/`repr()`
//! of values ([`py_str`]), Python `re` patterns and replacement templates
//! ([`compile_py_regex`]), Python's seeded `random.Random` ([`PyRandom`]); and two pieces
//! of Ansible's rendering for the [`Templar`](super::Templar): printing values like Python
//! ([`format_value`]) and the backslash pre-escaping of templates from YAML
//! ([`escape_backslashes`]).

use indexmap::IndexMap;
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, Output, State};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Registers Ansible's filters (and their `ansible.builtin.*` names), the `omit` fallback
/// global and a Python-compatible `dict()` global.
pub fn register(env: &mut Environment<'static>) {
    macro_rules! filter {
        ($name:literal, $f:expr) => {{
            env.add_filter($name, $f);
            env.add_filter(concat!("ansible.builtin.", $name), $f);
        }};
    }

    // Types.
    filter!("bool", to_bool);
    filter!("int", to_int);
    filter!("float", to_float);
    filter!("string", to_string);
    filter!("type_debug", type_debug);
    // Strings.
    filter!("join", join);
    filter!("indent", indent);
    filter!("ternary", ternary);
    filter!("comment", comment);
    filter!("mandatory", mandatory);
    filter!("to_uuid", to_uuid);
    filter!("urlsplit", urlsplit);
    filter!("urldecode", urldecode);
    // Regular expressions.
    filter!("regex_search", regex_search);
    filter!("regex_findall", regex_findall);
    filter!("regex_escape", regex_escape);
    // Serialisation.
    filter!("to_json", to_json);
    filter!("to_nice_json", to_nice_json);
    filter!("from_json", from_json);
    filter!("to_yaml", to_yaml);
    filter!("to_nice_yaml", to_nice_yaml);
    filter!("from_yaml", from_yaml);
    filter!("from_yaml_all", from_yaml_all);
    // Paths (on the controller).
    filter!("basename", basename);
    filter!("dirname", dirname);
    filter!("expanduser", expanduser);
    filter!("expandvars", expandvars);
    filter!("realpath", realpath);
    filter!("relpath", relpath);
    filter!("splitext", splitext);
    filter!("normpath", normpath);
    filter!("path_join", path_join);
    filter!("commonpath", commonpath);
    filter!("win_basename", win_basename);
    filter!("win_dirname", win_dirname);
    filter!("win_splitdrive", win_splitdrive);
    filter!("fileglob", fileglob);
    // Hashes.
    // Lists and dictionaries.
    filter!("union", union);
    filter!("intersect", intersect);
    filter!("difference", difference);
    filter!("symmetric_difference", symmetric_difference);
    filter!("flatten", flatten);
    filter!("combine", combine);
    filter!("dict2items", dict2items);
    filter!("items2dict", items2dict);
    filter!("zip_longest", zip_longest);
    filter!("product", product);
    filter!("permutations", permutations);
    filter!("combinations", combinations);
    filter!("extract", extract);
    filter!("subelements", subelements);
    filter!("random", random);
    filter!("shuffle", shuffle);
    filter!("rekey_on_member", rekey_on_member);
    // Numbers.
    filter!("log", log);
    filter!("pow", pow);
    filter!("root", root);
    filter!("human_readable", human_readable);
    filter!("human_to_bytes", human_to_bytes);
    // Dates.
    filter!("strftime", strftime);
    // Version comparison as a filter (Ansible 1.x spelling, still found in old roles).
    filter!(
        "version_compare",
        crate::template::tests::version_compare_filter
    );
    filter!("version", crate::template::tests::version_compare_filter);

    // Filters that transform a string, registering what they derive from a vault
    // secret so that it is masked too.
    super::taint::register(env);

    // Jinja builtins Ansible also exposes under its own namespace.
    use minijinja::filters as b;
    env.add_filter("ansible.builtin.default", b::default);
    env.add_filter("ansible.builtin.d", b::default);
    env.add_filter("ansible.builtin.map", b::map);
    env.add_filter("ansible.builtin.select", b::select);
    env.add_filter("ansible.builtin.selectattr", b::selectattr);
    env.add_filter("ansible.builtin.reject", b::reject);
    env.add_filter("ansible.builtin.rejectattr", b::rejectattr);
    env.add_filter("ansible.builtin.unique", b::unique);
    env.add_filter("ansible.builtin.groupby", b::groupby);
    env.add_filter("ansible.builtin.split", b::split);
    env.add_filter("ansible.builtin.zip", b::zip);

    env.add_function("dict", dict_function);
    env.add_function("now", now);
    // `omit` is a play variable set by the executor; this fallback makes `default(omit)`
    // give the placeholder even where no play context exists (ad-hoc expressions).
    env.add_global("omit", Value::from(crate::template::OMIT));
}

// ---------------------------------------------------------------------------------------
// Argument handling: Python-style binding of positional and keyword arguments.

fn fail(msg: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

pub(crate) fn undefined_error(what: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedError,
        format!("{what}: the value is undefined"),
    )
}

/// Fails on an undefined value (Ansible renders with strict undefined).
pub(crate) fn defined(v: &Value, what: &str) -> Result<(), Error> {
    if v.is_undefined() {
        Err(undefined_error(what))
    } else {
        Ok(())
    }
}

/// Positional and keyword arguments of a filter, test or function, bound like Python does.
pub(crate) struct Params {
    name: &'static str,
    pos: std::collections::VecDeque<Value>,
    kw: IndexMap<String, Value>,
}

impl Params {
    pub(crate) fn new(name: &'static str, args: Rest<ValueOrKwargs>) -> Params {
        Params::from_values(
            name,
            args.0.into_iter().map(ValueOrKwargs::into_value).collect(),
        )
    }

    pub(crate) fn from_values(name: &'static str, values: Vec<Value>) -> Params {
        let mut pos = std::collections::VecDeque::new();
        let mut kw = IndexMap::new();
        for v in values {
            if v.is_kwargs() {
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let val = v.get_item(&k).unwrap_or_default();
                        kw.insert(k.as_str().unwrap_or_default().to_string(), val);
                    }
                }
            } else {
                pos.push_back(v);
            }
        }
        Params { name, pos, kw }
    }

    /// The next parameter: the next positional argument, else the keyword argument.
    pub(crate) fn take(&mut self, param: &str) -> Option<Value> {
        if let Some(v) = self.pos.pop_front() {
            return Some(v);
        }
        self.kw.shift_remove(param)
    }

    /// A keyword-only parameter.
    pub(crate) fn kw(&mut self, param: &str) -> Option<Value> {
        self.kw.shift_remove(param)
    }

    /// Every remaining positional argument.
    pub(crate) fn rest(&mut self) -> Vec<Value> {
        self.pos.drain(..).collect()
    }

    /// Every remaining keyword argument.
    pub(crate) fn rest_kw(&mut self) -> IndexMap<String, Value> {
        std::mem::take(&mut self.kw)
    }

    pub(crate) fn finish(self) -> Result<(), Error> {
        if !self.pos.is_empty() {
            return Err(Error::new(
                ErrorKind::TooManyArguments,
                format!("{}: too many positional arguments", self.name),
            ));
        }
        if let Some(k) = self.kw.keys().next() {
            return Err(Error::new(
                ErrorKind::TooManyArguments,
                format!("{}: unexpected keyword argument '{k}'", self.name),
            ));
        }
        Ok(())
    }
}

pub(crate) fn opt_bool(v: Option<Value>, default: bool) -> bool {
    match v {
        Some(v) if !v.is_none() && !v.is_undefined() => v.is_true(),
        _ => default,
    }
}

pub(crate) fn opt_string(v: Option<Value>) -> Option<String> {
    match v {
        Some(v) if !v.is_none() && !v.is_undefined() => Some(py_str(&v)),
        _ => None,
    }
}

pub(crate) fn opt_int(v: Option<Value>, what: &str) -> Result<Option<i64>, Error> {
    match v {
        Some(v) if !v.is_none() && !v.is_undefined() => {
            if let Some(i) = v.as_i64() {
                return Ok(Some(i));
            }
            if let Some(s) = v.as_str() {
                if let Some(i) = parse_py_int(s, 10) {
                    return Ok(Some(i as i64));
                }
            }
            if v.kind() == ValueKind::Bool {
                return Ok(Some(v.is_true() as i64));
            }
            Err(fail(format!(
                "{what} must be an integer, got {}",
                py_repr(&v)
            )))
        }
        _ => Ok(None),
    }
}

/// The items of a list-like value (lists, tuples, iterables; not strings or mappings).
pub(crate) fn is_list(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

pub(crate) fn to_vec(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

/// The key/value pairs of a mapping, in order.
pub(crate) fn map_items(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        out.push((k, val));
    }
    Ok(out)
}

pub(crate) fn new_map(pairs: impl IntoIterator<Item = (Value, Value)>) -> Value {
    Value::from_pairs(pairs)
}

fn as_f64(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(v.is_true() as i64 as f64),
        _ => None,
    }
}

fn as_i128(v: &Value) -> Option<i128> {
    if v.is_integer() {
        i128::try_from(v.clone()).ok()
    } else if v.kind() == ValueKind::Bool {
        Some(v.is_true() as i128)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Python's str() and repr() of values.

/// Python's `str()` of a value: strings as they are, everything else as `repr()`.
pub fn py_str(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => py_repr(v),
    }
}

/// Python's `repr()` of a value (`True`, `None`, `'a'`, `[1, 'b']`, `{'k': 2.0}`).
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

fn write_repr(out: &mut String, v: &Value) {
    match v.kind() {
        ValueKind::Undefined => out.push_str("AnsibleUndefined"),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                out.push_str(&py_float_repr(as_f64(v).unwrap_or(f64::NAN)));
            }
        }
        ValueKind::String => out.push_str(&py_str_repr(v.as_str().unwrap_or_default())),
        ValueKind::Bytes => {
            out.push_str("b'");
            for b in v.as_bytes().unwrap_or_default() {
                match b {
                    b'\\' => out.push_str("\\\\"),
                    b'\'' => out.push_str("\\'"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    0x20..=0x7e => out.push(*b as char),
                    _ => {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
            out.push('\'');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(items) = map_items(v) {
                for (i, (k, val)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, k);
                    out.push_str(": ");
                    write_repr(out, val);
                }
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = v.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let items = to_vec(v).unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            if tuple && items.len() == 1 {
                out.push(',');
            }
            out.push(if tuple { ')' } else { ']' });
        }
        _ => out.push_str(&v.to_string()),
    }
}

/// Python's `repr()` of a string.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a float (`1.0`, `0.1`, `1e+16`, `1e-05`, `inf`, `nan`).
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-tripping digits, like Python's repr.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = exp as usize + 1;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

/// Renders a value the way Ansible prints `{{ expr }}` into a template: `None` as an empty
/// string, everything else as Python's `str()` (`True`, `['a', 'b']`, `{'k': 1}`).
///
/// To be installed with `env.set_formatter(filters::format_value)`.
pub fn format_value(out: &mut Output, _state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_none() {
        return Ok(());
    }
    let text = match value.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(py_str(value)),
    };
    out.write_str(&text)
        .map_err(|_| fail("cannot write output"))
}

/// Ansible's pre-processing of templates that come from YAML (playbooks, vars, module
/// arguments; not template files, not `when:` conditions): backslashes inside string
/// literals of `{{ }}` blocks are doubled, so that `regex_replace('(\\d+)', '\\1')` written
/// in YAML reaches the filter as `(\d+)` and `\1` instead of being read as Jinja escapes.
pub fn escape_backslashes(template: &str) -> Cow<'_, str> {
    if !template.contains('\\') || !template.contains("{{") {
        return Cow::Borrowed(template);
    }
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len() + 8);
    let mut i = 0;
    let mut in_var = false;
    while i < template.len() {
        let rest = &template[i..];
        if !in_var && rest.starts_with("{{") {
            in_var = true;
            out.push_str("{{");
            i += 2;
            continue;
        }
        if in_var && rest.starts_with("}}") {
            in_var = false;
            out.push_str("}}");
            i += 2;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        if in_var && (c == '\'' || c == '"') {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != c as u8 {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            if j >= bytes.len() {
                out.push_str(rest);
                break;
            }
            out.push_str(&template[i..=j].replace('\\', "\\\\"));
            i = j + 1;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------
// Types.

/// Ansible's `bool`: `yes`/`on`/`true`/`1` (any case) and `1` are true, everything else false.
fn to_bool(value: &Value) -> Result<bool, Error> {
    defined(value, "bool")?;
    Ok(match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().to_lowercase();
            matches!(s.as_str(), "yes" | "on" | "true" | "1")
        }
        ValueKind::Number => as_f64(value) == Some(1.0),
        _ => false,
    })
}

/// Parses an integer like Python's `int(s, base)` (whitespace, sign, `_` separators,
/// `0x`/`0o`/`0b` prefixes for their base, base 0 guessing from the prefix).
pub(crate) fn parse_py_int(s: &str, base: u32) -> Option<i128> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = t.to_ascii_lowercase();
    let (base, digits) = match base {
        0 => {
            if let Some(r) = lower.strip_prefix("0x") {
                (16, r.to_string())
            } else if let Some(r) = lower.strip_prefix("0o") {
                (8, r.to_string())
            } else if let Some(r) = lower.strip_prefix("0b") {
                (2, r.to_string())
            } else {
                if lower.len() > 1
                    && lower.starts_with('0')
                    && !lower.trim_start_matches(['0', '_']).is_empty()
                {
                    return None;
                }
                (10, lower.clone())
            }
        }
        16 => (16, lower.strip_prefix("0x").unwrap_or(&lower).to_string()),
        8 => (8, lower.strip_prefix("0o").unwrap_or(&lower).to_string()),
        2 => (2, lower.strip_prefix("0b").unwrap_or(&lower).to_string()),
        3..=36 => (base, lower.clone()),
        _ => return None,
    };
    let digits = digits.strip_prefix('_').unwrap_or(&digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(&clean, base).ok()?;
    Some(if neg { -v } else { v })
}

/// Parses a float like Python's `float(s)`.
pub(crate) fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if !matches!(body, "inf" | "infinity" | "nan")
        && !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        return None;
    }
    clean.parse::<f64>().ok()
}

/// Jinja2's `int(default=0, base=10)`: Python parsing, `"42.7"` gives 42, anything that
/// cannot be converted gives the default.
fn to_int(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("int", args);
    let default = p.take("default").unwrap_or(Value::from(0));
    let base = opt_int(p.take("base"), "int base")?.unwrap_or(10);
    p.finish()?;
    defined(value, "int")?;
    let parsed = match value.kind() {
        ValueKind::Bool => Some(value.is_true() as i128),
        ValueKind::Number => match as_i128(value) {
            Some(i) => Some(i),
            None => as_f64(value)
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i128),
        },
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            parse_py_int(s, base as u32).or_else(|| {
                parse_py_float(s)
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i128)
            })
        }
        _ => None,
    };
    Ok(match parsed {
        Some(i) => Value::from(i),
        None => default,
    })
}

/// Jinja2's `float(default=0.0)`.
fn to_float(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("float", args);
    let default = p.take("default").unwrap_or(Value::from(0.0));
    p.finish()?;
    defined(value, "float")?;
    let parsed = match value.kind() {
        ValueKind::Bool | ValueKind::Number => as_f64(value),
        ValueKind::String => parse_py_float(value.as_str().unwrap_or_default()),
        _ => None,
    };
    Ok(match parsed {
        Some(f) => Value::from(f),
        None => default,
    })
}

/// Python's `str()`.
fn to_string(value: &Value) -> Result<Value, Error> {
    defined(value, "string")?;
    if value.kind() == ValueKind::String {
        return Ok(value.clone());
    }
    Ok(Value::from(py_str(value)))
}

/// The Python type name Ansible reports (`str`, `int`, `dict`, `list`, `NoneType` ...).
pub(crate) fn python_type_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Map => "dict",
        ValueKind::Seq if value.is_tuple() => "tuple",
        ValueKind::Seq => "list",
        ValueKind::Iterable => "generator",
        _ => "object",
    }
}

fn type_debug(value: &Value) -> String {
    python_type_name(value).to_string()
}

/// `dict(mapping_or_pairs, **kwargs)` as in Python (minijinja's takes no list of pairs).
fn dict_function(args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("dict", args);
    let first = p.take("__positional_only__");
    let extra = p.rest_kw();
    p.finish()?;
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    match first {
        None => {}
        Some(v) if v.is_undefined() || v.is_none() => {}
        Some(v) if v.kind() == ValueKind::Map => {
            for (k, val) in map_items(&v)? {
                out.insert(k, val);
            }
        }
        Some(v) => {
            for pair in v.try_iter()? {
                let items =
                    to_vec(&pair).map_err(|_| fail("dict(): each element must be a pair"))?;
                if items.len() != 2 {
                    return Err(fail(format!(
                        "dictionary update sequence element has length {}; 2 is required",
                        items.len()
                    )));
                }
                out.insert(items[0].clone(), items[1].clone());
            }
        }
    }
    for (k, v) in extra {
        out.insert(Value::from(k), v);
    }
    Ok(new_map(out))
}

// ---------------------------------------------------------------------------------------
// Strings.

/// Jinja2's `join(d='', attribute=None)`, with Python's `str()` of non-string items.
fn join(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("join", args);
    let sep = opt_string(p.take("d")).unwrap_or_default();
    let attribute = p.take("attribute");
    p.finish()?;
    defined(value, "join")?;
    let mut out = String::new();
    for (i, item) in value.try_iter()?.enumerate() {
        let item = match &attribute {
            Some(a) if !a.is_none() => get_path(&item, a)?,
            _ => item,
        };
        defined(&item, "join item")?;
        if i > 0 {
            out.push_str(&sep);
        }
        out.push_str(&py_str(&item));
    }
    Ok(out)
}

/// Looks up `attr` (a dotted path, integers index lists) like Jinja2's attribute getters.
fn get_path(item: &Value, attr: &Value) -> Result<Value, Error> {
    if let Some(path) = attr.as_str() {
        let mut cur = item.clone();
        for part in path.split('.') {
            cur = match part.parse::<i64>() {
                Ok(i) if cur.kind() == ValueKind::Seq => cur.get_item(&Value::from(i))?,
                _ => cur.get_item(&Value::from(part))?,
            };
        }
        Ok(cur)
    } else {
        item.get_item(attr)
    }
}

/// Jinja2's `indent(width=4, first=False, blank=False)`; unlike minijinja's it keeps a
/// trailing newline, which matters for `{{ x | to_nice_yaml | indent(2) }}`.
fn indent(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("indent", args);
    let width = p.take("width");
    let first = opt_bool(p.take("first"), false);
    let blank = opt_bool(p.take("blank"), false);
    // Jinja2 < 3 spelled `first` as `indentfirst`.
    let first = first || opt_bool(p.kw("indentfirst"), false);
    p.finish()?;
    defined(value, "indent")?;
    let indention = match width {
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or_default().to_string(),
        Some(w) => " ".repeat(opt_int(Some(w), "indent width")?.unwrap_or(4).max(0) as usize),
        None => "    ".to_string(),
    };
    let mut s = py_str(value);
    s.push('\n');
    let lines = py_splitlines(&s);
    let mut rv;
    if blank {
        rv = lines.join(&format!("\n{indention}"));
    } else {
        let mut it = lines.into_iter();
        rv = it.next().unwrap_or_default().to_string();
        let rest: Vec<String> = it
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{indention}{l}")
                }
            })
            .collect();
        if !rest.is_empty() {
            rv.push('\n');
            rv.push_str(&rest.join("\n"));
        }
    }
    if first {
        rv = format!("{indention}{rv}");
    }
    Ok(rv)
}

/// Python's `str.splitlines()` (without keepends).
pub(crate) fn py_splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' {
                if let Some(&(j, '\n')) = chars.peek() {
                    chars.next();
                    end = j + 1;
                }
            }
            start = end;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `value ? true_val : false_val`, with `none_val` for `None` (Python truthiness, so the
/// string `"no"` is true here, as in Ansible).
fn ternary(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("ternary", args);
    let true_val = p.take("true_val").unwrap_or(Value::from(true));
    let false_val = p.take("false_val").unwrap_or(Value::from(false));
    let none_val = p.take("none_val");
    p.finish()?;
    defined(value, "ternary")?;
    if value.is_none() {
        if let Some(n) = none_val.filter(|n| !n.is_none()) {
            return Ok(n);
        }
    }
    Ok(if value.is_true() { true_val } else { false_val })
}

/// Quotes for a POSIX shell (`crate::shell::quote`; `None` gives `''`).
pub(super) fn quote(value: &Value) -> Result<String, Error> {
    defined(value, "quote")?;
    if value.is_none() {
        return Ok(crate::shell::quote(""));
    }
    Ok(crate::shell::quote(&py_str(value)))
}

/// Ansible's `comment(style='plain', **decoration)`.
fn comment(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("comment", args);
    let style = opt_string(p.take("style")).unwrap_or_else(|| "plain".into());
    let kw = p.rest_kw();
    p.finish()?;
    defined(value, "comment")?;
    let text = py_str(value);
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(fail(format!(
                "Invalid style '{other}'. Available styles: plain, erlang, c, cblock, xml"
            )))
        }
    };
    let prepostfix = match kw.get("decoration") {
        Some(d) => py_str(d),
        None => decoration.to_string(),
    };
    let get = |k: &str, default: String| -> String { kw.get(k).map(py_str).unwrap_or(default) };
    let count = |k: &str| -> Result<usize, Error> {
        Ok(opt_int(kw.get(k).cloned(), k)?.unwrap_or(1).max(0) as usize)
    };
    let newline = get("newline", "\n".into());
    let beginning = get("beginning", beginning.into());
    let prefix = get("prefix", prepostfix.trim_end().to_string());
    let prefix_count = count("prefix_count")?;
    let decoration = get("decoration", decoration.into());
    let postfix = get("postfix", prepostfix.trim_end().to_string());
    let postfix_count = count("postfix_count")?;
    let end = get("end", end.into());

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let unit = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&unit.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    );
    let body = body.replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    );
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// Fails when the value is undefined.
fn mandatory(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("mandatory", args);
    let msg = opt_string(p.take("msg"));
    p.finish()?;
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            msg.unwrap_or_else(|| "Mandatory variable not defined.".into()),
        ));
    }
    Ok(value.clone())
}

fn encode_text(text: &str, encoding: &str) -> Result<Vec<u8>, Error> {
    let enc = encoding.to_ascii_lowercase().replace('_', "-");
    Ok(match enc.as_str() {
        "utf-8" | "utf8" => text.as_bytes().to_vec(),
        "utf-16-le" | "utf-16le" => text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        "utf-16-be" | "utf-16be" => text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        "utf-16" => {
            let mut out = vec![0xff, 0xfe];
            out.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
            out
        }
        "latin-1" | "latin1" | "iso-8859-1" | "ascii" => {
            let limit = if enc == "ascii" { 0x80 } else { 0x100 };
            text.chars()
                .map(|c| {
                    if (c as u32) < limit {
                        Ok(c as u32 as u8)
                    } else {
                        Err(fail(format!(
                            "'{encoding}' codec can't encode character {c:?}"
                        )))
                    }
                })
                .collect::<Result<_, _>>()?
        }
        _ => return Err(fail(format!("unknown encoding: {encoding}"))),
    })
}

fn decode_text(bytes: &[u8], encoding: &str) -> Result<String, Error> {
    let enc = encoding.to_ascii_lowercase().replace('_', "-");
    let utf16 = |le: bool, b: &[u8]| -> String {
        let units: Vec<u16> = b
            .chunks(2)
            .map(|c| {
                let pair = [c[0], *c.get(1).unwrap_or(&0)];
                if le {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    Ok(match enc.as_str() {
        "utf-8" | "utf8" => String::from_utf8_lossy(bytes).into_owned(),
        "utf-16-le" | "utf-16le" => utf16(true, bytes),
        "utf-16-be" | "utf-16be" => utf16(false, bytes),
        "utf-16" => match bytes {
            [0xfe, 0xff, rest @ ..] => utf16(false, rest),
            [0xff, 0xfe, rest @ ..] => utf16(true, rest),
            _ => utf16(true, bytes),
        },
        "latin-1" | "latin1" | "iso-8859-1" | "ascii" => bytes.iter().map(|b| *b as char).collect(),
        _ => return Err(fail(format!("unknown encoding: {encoding}"))),
    })
}

pub(super) fn b64encode(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    use base64::Engine;
    let mut p = Params::new("b64encode", args);
    let encoding = opt_string(p.take("encoding")).unwrap_or_else(|| "utf-8".into());
    let urlsafe = opt_bool(p.take("urlsafe"), false);
    p.finish()?;
    defined(value, "b64encode")?;
    let bytes = match value.as_bytes() {
        Some(b) if value.kind() == ValueKind::Bytes => b.to_vec(),
        _ => encode_text(&py_str(value), &encoding)?,
    };
    Ok(if urlsafe {
        base64::engine::general_purpose::URL_SAFE.encode(bytes)
    } else {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    })
}

pub(super) fn b64decode(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    let mut p = Params::new("b64decode", args);
    let encoding = opt_string(p.take("encoding")).unwrap_or_else(|| "utf-8".into());
    let urlsafe = opt_bool(p.take("urlsafe"), false);
    p.finish()?;
    defined(value, "b64decode")?;
    let text = py_str(value);
    // Like Python's b64decode: characters outside the alphabet are discarded.
    let clean: String = text
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric()
                || *c == '='
                || if urlsafe {
                    matches!(c, '-' | '_')
                } else {
                    matches!(c, '+' | '/')
                }
        })
        .collect();
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if urlsafe {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    let engine = GeneralPurpose::new(alphabet, config);
    let bytes = engine
        .decode(clean.trim_end_matches('='))
        .or_else(|_| engine.decode(&clean))
        .map_err(|e| fail(format!("b64decode: {e}")))?;
    decode_text(&bytes, &encoding)
}

/// A name-based UUID (version 5) in Ansible's namespace, or the given one.
fn to_uuid(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    use sha1::Digest;
    let mut p = Params::new("to_uuid", args);
    let namespace = opt_string(p.take("namespace"))
        .unwrap_or_else(|| "361E6D51-FAEC-444A-9079-341386DA8E2E".into());
    p.finish()?;
    defined(value, "to_uuid")?;
    let ns_hex: String = namespace.chars().filter(|c| *c != '-').collect();
    let ns_hex = ns_hex
        .trim_start_matches("urn:uuid:")
        .trim_matches(['{', '}']);
    let ns = hex::decode(ns_hex)
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| fail(format!("Invalid value '{namespace}' for 'namespace'")))?;
    let mut h = sha1::Sha1::new();
    h.update(&ns);
    h.update(py_str(value).as_bytes());
    let mut b: Vec<u8> = h.finalize()[..16].to_vec();
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hx = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hx[0..8],
        &hx[8..12],
        &hx[12..16],
        &hx[16..20],
        &hx[20..32]
    ))
}

/// Python's `urllib.parse.urlsplit` as a dict (or one of its fields).
fn urlsplit(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("urlsplit", args);
    let query = opt_string(p.take("query")).unwrap_or_default();
    p.finish()?;
    defined(value, "urlsplit")?;
    let url = py_str(value);
    let mut rest = url.as_str();
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if i > 0
            && cand.starts_with(|c: char| c.is_ascii_alphabetic())
            && cand
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            scheme = cand.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = "";
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find(['/', '?', '#']).unwrap_or(r.len());
        netloc = &r[..end];
        rest = &r[end..];
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    };
    let (path, q) = match rest.split_once('?') {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    };
    let (userinfo, hostinfo) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(r) = hostinfo.strip_prefix('[') {
        let (h, after) = r.split_once(']').unwrap_or((r, ""));
        (h.to_string(), after.strip_prefix(':').unwrap_or(""))
    } else {
        match hostinfo.split_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostinfo.to_string(), ""),
        }
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_lowercase())
    };
    let port = if port.is_empty() {
        Value::from(())
    } else {
        match port.parse::<u32>() {
            Ok(n) if n <= 65535 => Value::from(n),
            _ => {
                return Err(fail(format!(
                    "Port could not be cast to integer value as '{port}'"
                )))
            }
        }
    };
    let fields = [
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(q)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    if !query.is_empty() {
        return fields
            .iter()
            .find(|(k, _)| *k == query)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| fail(format!("urlsplit: unknown URL component: {query}")));
    }
    Ok(new_map(
        fields.into_iter().map(|(k, v)| (Value::from(k), v)),
    ))
}

/// Python's `unquote_plus`.
fn urldecode(value: &Value) -> Result<String, Error> {
    defined(value, "urldecode")?;
    let s = py_str(value);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hexpair = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hexpair.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

// ---------------------------------------------------------------------------------------
// Regular expressions with Python `re` syntax.

/// Translates a Python `re` pattern to the `regex` crate's syntax: `\Z`, `\0`, Python's
/// literal `{`, `\<`, `[` inside classes, `(?#...)` comments. Lookarounds and
/// backreferences have no equivalent and are reported as errors by the regex crate.
pub(crate) fn translate_py_regex(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                out.push_str("\\\\");
                break;
            };
            i += 2;
            match n {
                'Z' if !in_class => out.push_str("\\z"),
                '0' => {
                    // Octal escape: \0, \0o, \0oo.
                    let mut v = 0u32;
                    let mut k = 0;
                    while k < 2 && i < chars.len() && chars[i].is_digit(8) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        k += 1;
                    }
                    let _ = write!(out, "\\x{{{v:x}}}");
                }
                c if c.is_ascii_alphanumeric() => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push_str(&regex::escape(&c.to_string())),
            }
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' => out.push_str("\\["),
                '&' | '~' | '-' if chars.get(i + 1) == Some(&c) => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` right after `[` or `[^` is a literal.
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '{' => {
                // Python treats `{` literally unless it starts a valid quantifier.
                let rest: String = chars[i..].iter().take(24).collect();
                let re = regex_lite_quantifier(&rest);
                match re {
                    Some((len, text)) if i > 0 => {
                        out.push_str(&text);
                        i += len;
                    }
                    _ => {
                        out.push_str("\\{");
                        i += 1;
                    }
                }
                continue;
            }
            '}' => out.push_str("\\}"),
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'#') => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// If `s` starts with a Python quantifier `{m}`, `{m,}`, `{,n}`, `{m,n}`, returns its length
/// and the `regex` crate spelling.
fn regex_lite_quantifier(s: &str) -> Option<(usize, String)> {
    let end = s.find('}')?;
    let inner = &s[1..end];
    let (a, b) = match inner.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (inner, None),
    };
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    if !digits(a)
        || !b.map(digits).unwrap_or(true)
        || (a.is_empty() && b.map(str::is_empty).unwrap_or(true))
    {
        return None;
    }
    let text = match b {
        None => format!("{{{a}}}"),
        Some(b) => format!("{{{},{b}}}", if a.is_empty() { "0" } else { a }),
    };
    Some((end + 1, text))
}

/// Compiles a Python `re` pattern with Ansible's `ignorecase`/`multiline` flags.
pub(crate) fn compile_py_regex(
    pattern: &str,
    ignorecase: bool,
    multiline: bool,
) -> Result<regex::Regex, Error> {
    let translated = translate_py_regex(pattern);
    regex::RegexBuilder::new(&translated)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| {
            fail(format!(
                "invalid regular expression {}: {e}",
                py_str_repr(pattern)
            ))
        })
}

enum ReplPart {
    Lit(String),
    Group(usize),
    Named(String),
}

/// Parses a Python `re.sub` replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\\`).
fn parse_py_replacement(repl: &str, re: &regex::Regex) -> Result<Vec<ReplPart>, Error> {
    let chars: Vec<char> = repl.chars().collect();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let group_count = re.captures_len();
    let check_group = |n: usize| -> Result<(), Error> {
        if n >= group_count {
            Err(fail(format!(
                "invalid group reference {n} in replacement {}",
                py_str_repr(repl)
            )))
        } else {
            Ok(())
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            lit.push(c);
            i += 1;
            continue;
        }
        let Some(&n) = chars.get(i + 1) else {
            return Err(fail("bad escape (end of pattern) in replacement"));
        };
        i += 2;
        match n {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(fail("missing < in \\g group reference"));
                }
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == '>')
                    .ok_or_else(|| fail("missing > in \\g group reference"))?;
                let name: String = chars[i + 1..i + close].iter().collect();
                i += close + 1;
                parts.push(ReplPart::Lit(std::mem::take(&mut lit)));
                if let Ok(num) = name.parse::<usize>() {
                    check_group(num)?;
                    parts.push(ReplPart::Group(num));
                } else {
                    if !re.capture_names().any(|n| n == Some(name.as_str())) {
                        return Err(fail(format!("unknown group name '{name}' in replacement")));
                    }
                    parts.push(ReplPart::Named(name));
                }
            }
            '0' => {
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && i < chars.len() && chars[i].is_digit(8) {
                    v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                lit.push(char::from_u32(v & 0xff).unwrap_or('\0'));
            }
            d if d.is_ascii_digit() => {
                let mut text = String::from(d);
                if let Some(&d2) = chars.get(i).filter(|c| c.is_ascii_digit()) {
                    text.push(d2);
                    i += 1;
                    if d.is_digit(8)
                        && d2.is_digit(8)
                        && chars.get(i).map(|c| c.is_digit(8)).unwrap_or(false)
                    {
                        text.push(chars[i]);
                        i += 1;
                        let v = u32::from_str_radix(&text, 8).unwrap_or(0);
                        if v > 0o377 {
                            return Err(fail(format!(
                                "octal escape value \\{text} outside of range 0-0o377"
                            )));
                        }
                        lit.push(char::from_u32(v).unwrap_or('\0'));
                        continue;
                    }
                }
                let num: usize = text.parse().unwrap_or(0);
                check_group(num)?;
                parts.push(ReplPart::Lit(std::mem::take(&mut lit)));
                parts.push(ReplPart::Group(num));
            }
            'a' => lit.push('\u{07}'),
            'b' => lit.push('\u{08}'),
            'f' => lit.push('\u{0c}'),
            'n' => lit.push('\n'),
            'r' => lit.push('\r'),
            't' => lit.push('\t'),
            'v' => lit.push('\u{0b}'),
            '\\' => lit.push('\\'),
            c if c.is_ascii_alphabetic() => {
                return Err(fail(format!(
                    "bad escape \\{c} in replacement {}",
                    py_str_repr(repl)
                )));
            }
            c => {
                lit.push('\\');
                lit.push(c);
            }
        }
    }
    parts.push(ReplPart::Lit(lit));
    Ok(parts)
}

fn expand_replacement(parts: &[ReplPart], caps: &regex::Captures<'_>, out: &mut String) {
    for part in parts {
        match part {
            ReplPart::Lit(s) => out.push_str(s),
            ReplPart::Group(n) => out.push_str(caps.get(*n).map(|m| m.as_str()).unwrap_or("")),
            ReplPart::Named(n) => out.push_str(caps.name(n).map(|m| m.as_str()).unwrap_or("")),
        }
    }
}

/// Python's `re.finditer`: like `captures_iter`, but an empty match right after a
/// non-empty one counts (`re.sub('a*', '-', 'aaa')` is `'--'`).
pub(crate) fn py_captures<'t>(re: &regex::Regex, text: &'t str) -> Vec<regex::Captures<'t>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut last_empty_at: Option<usize> = None;
    while pos <= text.len() {
        let Some(caps) = re.captures_at(text, pos) else {
            break;
        };
        let m = caps.get(0).expect("group 0");
        if m.start() == m.end() && last_empty_at == Some(m.start()) {
            // The same empty match again: step over one character.
            match text[m.start()..].chars().next() {
                Some(c) => pos = m.start() + c.len_utf8(),
                None => break,
            }
            last_empty_at = None;
            continue;
        }
        let (start, end) = (m.start(), m.end());
        out.push(caps);
        last_empty_at = (start == end).then_some(end);
        pos = end;
    }
    out
}

/// Python's `re.subn`: the result and the number of replacements.
pub(crate) fn py_regex_sub(
    re: &regex::Regex,
    repl: &str,
    text: &str,
    count: usize,
) -> Result<(String, usize), Error> {
    let parts = parse_py_replacement(repl, re)?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in py_captures(re, text) {
        if count > 0 && n >= count {
            break;
        }
        let m = caps.get(0).expect("group 0");
        out.push_str(&text[last..m.start()]);
        expand_replacement(&parts, &caps, &mut out);
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

/// `regex_replace(pattern, replacement, ignorecase=False, multiline=False, count=0,
/// mandatory_count=0)` with Python's `\1` / `\g<name>` backreferences.
pub(super) fn regex_replace(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("regex_replace", args);
    let pattern = opt_string(p.take("pattern")).unwrap_or_default();
    let replacement = opt_string(p.take("replacement")).unwrap_or_default();
    let ignorecase = opt_bool(p.take("ignorecase"), false);
    let multiline = opt_bool(p.take("multiline"), false);
    let count = opt_int(p.take("count"), "count")?.unwrap_or(0).max(0) as usize;
    let mandatory_count = opt_int(p.take("mandatory_count"), "mandatory_count")?.unwrap_or(0);
    p.finish()?;
    defined(value, "regex_replace")?;
    let text = py_str(value);
    let re = compile_py_regex(&pattern, ignorecase, multiline)?;
    let (out, subs) = py_regex_sub(&re, &replacement, &text, count)?;
    if mandatory_count != 0 && mandatory_count != subs as i64 {
        return Err(fail(format!(
            "'{pattern}' should match {mandatory_count} times, but matches {subs} times in '{text}'"
        )));
    }
    Ok(out)
}

/// `regex_search(regex, '\\1', '\\g<name>', ignorecase=, multiline=)`: the match, the
/// listed groups, or `None`.
fn regex_search(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("regex_search", args);
    let pattern = opt_string(p.take("regex")).unwrap_or_default();
    let groups = p.rest();
    let ignorecase = opt_bool(p.kw("ignorecase"), false);
    let multiline = opt_bool(p.kw("multiline"), false);
    p.finish()?;
    defined(value, "regex_search")?;
    let text = py_str(value);
    let re = compile_py_regex(&pattern, ignorecase, multiline)?;
    let Some(caps) = re.captures(&text) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map(|m| m.as_str()).unwrap_or("")));
    }
    let group_value = |m: Option<regex::Match<'_>>| {
        m.map(|m| Value::from(m.as_str()))
            .unwrap_or(Value::from(()))
    };
    let mut items = Vec::new();
    for g in groups {
        let arg = py_str(&g);
        if let Some(rest) = arg.strip_prefix("\\g<") {
            let name = rest.strip_suffix('>').unwrap_or(rest);
            match name.parse::<usize>() {
                Ok(n) => items.push(group_value(caps.get(n))),
                Err(_) => {
                    if !re.capture_names().any(|n| n == Some(name)) {
                        return Err(fail(format!("no such group: {name}")));
                    }
                    items.push(group_value(caps.name(name)));
                }
            }
        } else if let Some(num) = arg.strip_prefix('\\') {
            let digits: String = num.chars().take_while(|c| c.is_ascii_digit()).collect();
            let n: usize = digits.parse().map_err(|_| fail("Unknown argument"))?;
            if n >= re.captures_len() {
                return Err(fail(format!("no such group: {n}")));
            }
            items.push(group_value(caps.get(n)));
        } else {
            return Err(fail("Unknown argument"));
        }
    }
    Ok(Value::from(items))
}

/// Python's `re.findall`: whole matches, the single group, or lists of groups.
fn regex_findall(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("regex_findall", args);
    let pattern = opt_string(p.take("regex")).unwrap_or_default();
    let multiline = opt_bool(p.take("multiline"), false);
    let ignorecase = opt_bool(p.take("ignorecase"), false);
    p.finish()?;
    defined(value, "regex_findall")?;
    let text = py_str(value);
    let re = compile_py_regex(&pattern, ignorecase, multiline)?;
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in py_captures(&re, &text) {
        let g = |i: usize| Value::from(caps.get(i).map(|m| m.as_str()).unwrap_or(""));
        out.push(match groups {
            0 => g(0),
            1 => g(1),
            n => Value::from((1..=n).map(g).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// `regex_escape(re_type='python')`: Python's `re.escape`, or POSIX basic/extended.
fn regex_escape(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("regex_escape", args);
    let re_type = opt_string(p.take("re_type")).unwrap_or_else(|| "python".into());
    p.finish()?;
    defined(value, "regex_escape")?;
    let text = py_str(value);
    let special: &str = match re_type.as_str() {
        "python" => "()[]{}?*+-|^$\\.&~# \t\n\r\u{0b}\u{0c}",
        "posix_basic" => "].[^$*\\",
        "posix_extended" => "^$.*+?[]|(){}\\",
        other => return Err(fail(format!("Invalid regex type ({other})"))),
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// JSON, written like Python's `json.dumps`.

/// Options of Python's `json.dumps`.
pub(crate) struct JsonStyle {
    pub indent: Option<String>,
    pub sort_keys: bool,
    pub item_sep: String,
    pub key_sep: String,
    pub ensure_ascii: bool,
}

impl JsonStyle {
    fn from_kwargs(
        mut kw: IndexMap<String, Value>,
        indent: Option<Value>,
        sort_keys: bool,
        nice: bool,
    ) -> Result<JsonStyle, Error> {
        let indent = kw.shift_remove("indent").or(indent);
        let indent = match indent {
            None => None,
            Some(v) if v.is_none() => None,
            Some(v) if v.kind() == ValueKind::String => {
                Some(v.as_str().unwrap_or_default().to_string())
            }
            Some(v) => Some(" ".repeat(opt_int(Some(v), "indent")?.unwrap_or(0).max(0) as usize)),
        };
        let sort_keys = opt_bool(kw.shift_remove("sort_keys"), sort_keys);
        let ensure_ascii = opt_bool(kw.shift_remove("ensure_ascii"), true);
        let separators = kw.shift_remove("separators");
        let (mut item_sep, mut key_sep) = if indent.is_some() {
            (",".to_string(), ": ".to_string())
        } else {
            (", ".to_string(), ": ".to_string())
        };
        if let Some(sep) = separators.filter(|s| !s.is_none() && !nice) {
            let parts = to_vec(&sep)?;
            if parts.len() != 2 {
                return Err(fail("separators must be a pair of strings"));
            }
            item_sep = py_str(&parts[0]);
            key_sep = py_str(&parts[1]);
        }
        // Options of Ansible's encoder and of json.dumps that change nothing here.
        for ignored in [
            "profile",
            "vault_to_text",
            "preprocess_unsafe",
            "skipkeys",
            "allow_nan",
            "check_circular",
        ] {
            kw.shift_remove(ignored);
        }
        if let Some(k) = kw.keys().next() {
            return Err(fail(format!("to_json: unexpected keyword argument '{k}'")));
        }
        Ok(JsonStyle {
            indent,
            sort_keys,
            item_sep,
            key_sep,
            ensure_ascii,
        })
    }
}

pub(crate) fn json_dumps(v: &Value, style: &JsonStyle) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, v, style, 0)?;
    Ok(out)
}

fn json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_key(k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::String => k.as_str().unwrap_or_default().to_string(),
        ValueKind::Bool => if k.is_true() { "true" } else { "false" }.to_string(),
        ValueKind::None => "null".to_string(),
        ValueKind::Number if k.is_integer() => k.to_string(),
        ValueKind::Number => py_float_repr(as_f64(k).unwrap_or(f64::NAN)),
        _ => {
            return Err(fail(format!(
                "keys must be str, int, float, bool or None, not {}",
                python_type_name(k)
            )))
        }
    })
}

fn write_json(out: &mut String, v: &Value, style: &JsonStyle, level: usize) -> Result<(), Error> {
    let newline = |out: &mut String, level: usize| {
        if let Some(ind) = &style.indent {
            out.push('\n');
            for _ in 0..level {
                out.push_str(ind);
            }
        }
    };
    match v.kind() {
        ValueKind::Undefined => return Err(undefined_error("to_json")),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                let f = as_f64(v).unwrap_or(f64::NAN);
                out.push_str(&if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                } else {
                    py_float_repr(f)
                });
            }
        }
        ValueKind::String => json_str(out, v.as_str().unwrap_or_default(), style.ensure_ascii),
        ValueKind::Bytes => json_str(
            out,
            &String::from_utf8_lossy(v.as_bytes().unwrap_or_default()),
            style.ensure_ascii,
        ),
        ValueKind::Map => {
            let mut items = Vec::new();
            for (k, val) in map_items(v)? {
                items.push((json_key(&k)?, k, val));
            }
            if items.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if style.sort_keys {
                items.sort_by(|a, b| a.1.cmp(&b.1));
            }
            out.push('{');
            newline(out, level + 1);
            for (i, (k, _, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                    newline(out, level + 1);
                }
                json_str(out, k, style.ensure_ascii);
                out.push_str(&style.key_sep);
                write_json(out, val, style, level + 1)?;
            }
            newline(out, level);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items = to_vec(v)?;
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            newline(out, level + 1);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                    newline(out, level + 1);
                }
                write_json(out, item, style, level + 1)?;
            }
            newline(out, level);
            out.push(']');
        }
        _ => json_str(out, &v.to_string(), style.ensure_ascii),
    }
    Ok(())
}

/// `to_json(**json.dumps options)`: Python's separators, `ensure_ascii` on by default.
fn to_json(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_json", args);
    let kw = p.rest_kw();
    p.finish()?;
    let style = JsonStyle::from_kwargs(kw, None, false, false)?;
    json_dumps(value, &style)
}

/// `to_nice_json(indent=4, sort_keys=True)`.
fn to_nice_json(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_nice_json", args);
    let indent = p.take("indent").unwrap_or(Value::from(4));
    let sort_keys = opt_bool(p.take("sort_keys"), true);
    let kw = p.rest_kw();
    p.finish()?;
    let style = JsonStyle::from_kwargs(kw, Some(indent), sort_keys, true)?;
    json_dumps(value, &style)
}

fn from_json(value: &Value) -> Result<Value, Error> {
    defined(value, "from_json")?;
    let text = py_str(value);
    let parsed: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("from_json: {e}")))?;
    Ok(crate::template::from_json(&parsed))
}

// ---------------------------------------------------------------------------------------
// YAML, written like PyYAML's `yaml.dump` with Ansible's dumper.

fn yaml_options(
    p: &mut Params,
    indent: Option<Value>,
    flow: Option<bool>,
) -> Result<yaml_dump::Options, Error> {
    let mut o = yaml_dump::Options::default();
    if let Some(i) = opt_int(p.kw("indent").or(indent), "indent")? {
        if i > 1 && i < 10 {
            o.indent = i as usize;
        }
    }
    if let Some(w) = opt_int(p.kw("width"), "width")? {
        if w > (o.indent * 2) as i64 {
            o.width = w as usize;
        }
    }
    o.sort_keys = opt_bool(p.kw("sort_keys"), true);
    o.flow = match p.kw("default_flow_style") {
        Some(v) if v.is_none() => None,
        Some(v) => Some(v.is_true()),
        None => flow,
    };
    o.explicit_start = opt_bool(p.kw("explicit_start"), false);
    o.explicit_end = opt_bool(p.kw("explicit_end"), false);
    o.allow_unicode = opt_bool(p.kw("allow_unicode"), true);
    p.kw("vault_behavior");
    p.kw("Dumper");
    Ok(o)
}

/// `to_yaml`: PyYAML's default style (collections of scalars in flow style).
fn to_yaml(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_yaml", args);
    let o = yaml_options(&mut p, None, None)?;
    p.rest();
    p.finish()?;
    yaml_dump::dump(value, &o)
}

/// `to_nice_yaml(indent=4)`: block style everywhere.
fn to_nice_yaml(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_nice_yaml", args);
    let indent = p.take("indent").unwrap_or(Value::from(4));
    let o = yaml_options(&mut p, Some(indent), Some(false))?;
    p.rest();
    p.finish()?;
    yaml_dump::dump(value, &o)
}

fn yaml_error(e: crate::error::Error) -> Error {
    fail(format!("from_yaml: {e}"))
}

fn from_yaml(value: &Value) -> Result<Value, Error> {
    defined(value, "from_yaml")?;
    match value.as_str() {
        Some(text) => Ok(
            crate::yaml::load_str(text, std::path::Path::new("<from_yaml>"))
                .map_err(yaml_error)?
                .to_value(),
        ),
        None => Ok(value.clone()),
    }
}

fn from_yaml_all(value: &Value) -> Result<Value, Error> {
    defined(value, "from_yaml_all")?;
    if value.is_none() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    match value.as_str() {
        Some(text) => {
            let docs = crate::yaml::load_all_str(text, std::path::Path::new("<from_yaml_all>"))
                .map_err(yaml_error)?;
            Ok(Value::from(
                docs.iter().map(|d| d.to_value()).collect::<Vec<_>>(),
            ))
        }
        None => Ok(value.clone()),
    }
}

/// A port of PyYAML's emitter (`yaml/emitter.py`) and safe representer, for the subset
/// Ansible's dumper produces: block and flow collections, plain, single- and double-quoted
/// scalars, line folding at `width`. (libyaml, which Ansible uses when present, does not
/// write PyYAML's `...` after a lone root scalar; neither does this.)
pub(crate) mod yaml_dump {
    use super::*;

    pub struct Options {
        pub indent: usize,
        pub width: usize,
        pub sort_keys: bool,
        /// `default_flow_style`: `None` = flow for collections of scalars only.
        pub flow: Option<bool>,
        pub explicit_start: bool,
        pub explicit_end: bool,
        pub allow_unicode: bool,
    }

    impl Default for Options {
        fn default() -> Self {
            Options {
                indent: 2,
                width: 80,
                sort_keys: true,
                flow: None,
                explicit_start: false,
                explicit_end: false,
                allow_unicode: true,
            }
        }
    }

    enum Node {
        /// `plain_implicit`: reading the text back as a plain scalar gives the same type.
        Scalar {
            text: Vec<char>,
            plain_implicit: bool,
        },
        Seq {
            items: Vec<Node>,
            flow: bool,
        },
        Map {
            pairs: Vec<(Node, Node)>,
            flow: bool,
        },
    }

    impl Node {
        fn is_scalar(&self) -> bool {
            matches!(self, Node::Scalar { .. })
        }
    }

    fn resolves_to_non_str(s: &str) -> bool {
        use std::sync::OnceLock;
        static RE: OnceLock<regex::Regex> = OnceLock::new();
        let re = RE.get_or_init(|| {
            let bool_ = r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF";
            let float = r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)";
            let int = r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+";
            let null = r"~|null|Null|NULL|";
            let ts = r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?";
            regex::Regex::new(&format!(r"^(?:{bool_}|{float}|{int}|{null}|{ts}|<<|=)$")).expect("valid resolver regex")
        });
        re.is_match(s)
    }

    fn represent(v: &Value, o: &Options) -> Result<Node, Error> {
        let scalar = |text: String, plain_implicit: bool| Node::Scalar {
            text: text.chars().collect(),
            plain_implicit,
        };
        Ok(match v.kind() {
            ValueKind::Undefined => return Err(undefined_error("to_yaml")),
            ValueKind::None => scalar("null".into(), true),
            ValueKind::Bool => scalar(if v.is_true() { "true" } else { "false" }.into(), true),
            ValueKind::Number if v.is_integer() => scalar(v.to_string(), true),
            ValueKind::Number => {
                let f = as_f64(v).unwrap_or(f64::NAN);
                let text = if f.is_nan() {
                    ".nan".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
                } else {
                    let r = py_float_repr(f).to_lowercase();
                    if !r.contains('.') && r.contains('e') {
                        r.replacen('e', ".0e", 1)
                    } else {
                        r
                    }
                };
                scalar(text, true)
            }
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                scalar(s.to_string(), !resolves_to_non_str(s))
            }
            ValueKind::Bytes => {
                let s = String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned();
                let plain = !resolves_to_non_str(&s);
                scalar(s, plain)
            }
            ValueKind::Map => {
                let mut items = map_items(v)?;
                if o.sort_keys {
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                }
                let mut pairs = Vec::new();
                for (k, val) in items {
                    pairs.push((represent(&k, o)?, represent(&val, o)?));
                }
                let best = pairs.iter().all(|(k, v)| k.is_scalar() && v.is_scalar());
                Node::Map {
                    flow: o.flow.unwrap_or(best),
                    pairs,
                }
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let mut items = Vec::new();
                for item in v.try_iter()? {
                    items.push(represent(&item, o)?);
                }
                let best = items.iter().all(Node::is_scalar);
                Node::Seq {
                    flow: o.flow.unwrap_or(best),
                    items,
                }
            }
            _ => scalar(v.to_string(), !resolves_to_non_str(&v.to_string())),
        })
    }

    pub fn dump(v: &Value, o: &Options) -> Result<String, Error> {
        let node = represent(v, o)?;
        let mut e = Emitter {
            out: String::new(),
            indent: None,
            indents: Vec::new(),
            flow_level: 0,
            mapping_context: false,
            simple_key_context: false,
            column: 0,
            whitespace: true,
            indention: true,
            best_indent: o.indent,
            best_width: o.width,
            allow_unicode: o.allow_unicode,
        };
        if o.explicit_start {
            e.write_indent();
            e.write_indicator("---", true, false, false);
        }
        e.node(&node, false, false);
        e.write_indent();
        if o.explicit_end {
            e.write_indicator("...", true, false, false);
            e.write_indent();
        }
        Ok(e.out)
    }

    struct Analysis {
        empty: bool,
        multiline: bool,
        allow_flow_plain: bool,
        allow_block_plain: bool,
        allow_single_quoted: bool,
    }

    fn is_break(c: char) -> bool {
        matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
    }

    fn is_blankz(c: Option<char>) -> bool {
        match c {
            None | Some('\0') | Some(' ') | Some('\t') => true,
            Some(c) => is_break(c),
        }
    }

    /// libyaml's `IS_PRINTABLE`.
    fn is_printable(c: char) -> bool {
        c == '\n'
            || ('\x20'..='\x7e').contains(&c)
            || ('\u{a0}'..='\u{d7ff}').contains(&c)
            || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
    }

    /// libyaml's `yaml_emitter_analyze_scalar`.
    fn analyze(s: &[char], allow_unicode: bool) -> Analysis {
        if s.is_empty() {
            return Analysis {
                empty: true,
                multiline: false,
                allow_flow_plain: false,
                allow_block_plain: true,
                allow_single_quoted: true,
            };
        }
        let mut block_indicators = false;
        let mut flow_indicators = false;
        let mut line_breaks = false;
        let mut special_characters = false;
        let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
            (false, false, false, false);
        let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
            (false, false, false, false);
        let starts = |p: &str| s.iter().take(3).collect::<String>() == p;
        if starts("---") || starts("...") {
            block_indicators = true;
            flow_indicators = true;
        }
        let mut preceded_by_whitespace = true;
        let mut followed_by_whitespace = is_blankz(s.get(1).copied());
        for (index, &ch) in s.iter().enumerate() {
            if index == 0 {
                if "#,[]{}&*!|>'\"%@`".contains(ch) {
                    flow_indicators = true;
                    block_indicators = true;
                }
                if ch == '?' || ch == ':' {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                if ch == '-' && followed_by_whitespace {
                    flow_indicators = true;
                    block_indicators = true;
                }
            } else {
                if ",?[]{}".contains(ch) {
                    flow_indicators = true;
                }
                if ch == ':' {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                if ch == '#' && preceded_by_whitespace {
                    flow_indicators = true;
                    block_indicators = true;
                }
            }
            if !is_printable(ch) || (!ch.is_ascii() && !allow_unicode) {
                special_characters = true;
            }
            if is_break(ch) {
                line_breaks = true;
            }
            let last = index == s.len() - 1;
            if ch == ' ' {
                leading_space |= index == 0;
                trailing_space |= last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(ch) {
                leading_break |= index == 0;
                trailing_break |= last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = is_blankz(Some(ch));
            if index + 1 < s.len() {
                followed_by_whitespace = is_blankz(s.get(index + 2).copied());
            }
        }
        let mut a = Analysis {
            empty: false,
            multiline: line_breaks,
            allow_flow_plain: true,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
        if leading_space || leading_break || trailing_space || trailing_break {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
        }
        if break_space {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
            a.allow_single_quoted = false;
        }
        if space_break || special_characters {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
            a.allow_single_quoted = false;
        }
        if line_breaks {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
        }
        if flow_indicators {
            a.allow_flow_plain = false;
        }
        if block_indicators {
            a.allow_block_plain = false;
        }
        a
    }

    struct Emitter {
        out: String,
        indent: Option<usize>,
        indents: Vec<Option<usize>>,
        flow_level: usize,
        mapping_context: bool,
        simple_key_context: bool,
        column: usize,
        whitespace: bool,
        indention: bool,
        best_indent: usize,
        best_width: usize,
        allow_unicode: bool,
    }

    impl Emitter {
        fn increase_indent(&mut self, flow: bool, indentless: bool) {
            self.indents.push(self.indent);
            self.indent = match self.indent {
                None => Some(if flow { self.best_indent } else { 0 }),
                Some(i) if !indentless => Some(i + self.best_indent),
                Some(i) => Some(i),
            };
        }

        fn pop_indent(&mut self) {
            self.indent = self.indents.pop().unwrap_or(None);
        }

        fn write(&mut self, s: &str) {
            self.column += s.chars().count();
            self.out.push_str(s);
        }

        fn write_indicator(
            &mut self,
            indicator: &str,
            need_whitespace: bool,
            whitespace: bool,
            indention: bool,
        ) {
            let data = if self.whitespace || !need_whitespace {
                indicator.to_string()
            } else {
                format!(" {indicator}")
            };
            self.whitespace = whitespace;
            self.indention = self.indention && indention;
            self.write(&data);
        }

        fn write_indent(&mut self) {
            let indent = self.indent.unwrap_or(0);
            if !self.indention
                || self.column > indent
                || (self.column == indent && !self.whitespace)
            {
                self.write_line_break(None);
            }
            if self.column < indent {
                self.whitespace = true;
                let pad = " ".repeat(indent - self.column);
                self.write(&pad);
            }
        }

        fn write_line_break(&mut self, data: Option<char>) {
            self.whitespace = true;
            self.indention = true;
            self.column = 0;
            self.out.push(data.unwrap_or('\n'));
        }

        /// libyaml's `yaml_emitter_check_simple_key`: one line, at most 128 bytes.
        fn check_simple_key(&self, node: &Node) -> bool {
            match node {
                Node::Scalar { text, .. } => {
                    let a = analyze(text, self.allow_unicode);
                    let bytes: usize = text.iter().map(|c| c.len_utf8()).sum();
                    !a.multiline && bytes <= 128
                }
                Node::Seq { items, .. } => items.is_empty(),
                Node::Map { pairs, .. } => pairs.is_empty(),
            }
        }

        fn node(&mut self, node: &Node, mapping: bool, simple_key: bool) {
            self.mapping_context = mapping;
            self.simple_key_context = simple_key;
            match node {
                Node::Scalar {
                    text,
                    plain_implicit,
                } => {
                    self.increase_indent(true, false);
                    self.scalar(text, *plain_implicit);
                    self.pop_indent();
                }
                Node::Seq { items, flow } => {
                    if self.flow_level > 0 || *flow || items.is_empty() {
                        self.flow_sequence(items);
                    } else {
                        self.block_sequence(items);
                    }
                }
                Node::Map { pairs, flow } => {
                    if self.flow_level > 0 || *flow || pairs.is_empty() {
                        self.flow_mapping(pairs);
                    } else {
                        self.block_mapping(pairs);
                    }
                }
            }
        }

        fn flow_sequence(&mut self, items: &[Node]) {
            self.write_indicator("[", true, true, false);
            self.flow_level += 1;
            self.increase_indent(true, false);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.write_indicator(",", false, false, false);
                }
                if self.column > self.best_width {
                    self.write_indent();
                }
                self.node(item, false, false);
            }
            self.pop_indent();
            self.flow_level -= 1;
            self.write_indicator("]", false, false, false);
        }

        fn flow_mapping(&mut self, pairs: &[(Node, Node)]) {
            self.write_indicator("{", true, true, false);
            self.flow_level += 1;
            self.increase_indent(true, false);
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    self.write_indicator(",", false, false, false);
                }
                if self.column > self.best_width {
                    self.write_indent();
                }
                if self.check_simple_key(k) {
                    self.node(k, true, true);
                    self.write_indicator(":", false, false, false);
                } else {
                    self.write_indicator("?", true, false, false);
                    self.node(k, true, false);
                    if self.column > self.best_width {
                        self.write_indent();
                    }
                    self.write_indicator(":", true, false, false);
                }
                self.node(v, true, false);
            }
            self.pop_indent();
            self.flow_level -= 1;
            self.write_indicator("}", false, false, false);
        }

        fn block_sequence(&mut self, items: &[Node]) {
            let indentless = self.mapping_context && !self.indention;
            self.increase_indent(false, indentless);
            for item in items {
                self.write_indent();
                self.write_indicator("-", true, false, true);
                self.node(item, false, false);
            }
            self.pop_indent();
        }

        fn block_mapping(&mut self, pairs: &[(Node, Node)]) {
            self.increase_indent(false, false);
            for (k, v) in pairs {
                self.write_indent();
                if self.check_simple_key(k) {
                    self.node(k, true, true);
                    self.write_indicator(":", false, false, false);
                } else {
                    self.write_indicator("?", true, false, true);
                    self.node(k, true, false);
                    self.write_indent();
                    self.write_indicator(":", true, false, true);
                }
                self.node(v, true, false);
            }
            self.pop_indent();
        }

        /// libyaml's `yaml_emitter_select_scalar_style` and writers.
        fn scalar(&mut self, text: &[char], plain_implicit: bool) {
            let a = analyze(text, self.allow_unicode);
            let flow = self.flow_level > 0;
            let mut style = 'p';
            if (flow && !a.allow_flow_plain) || (!flow && !a.allow_block_plain) {
                style = '\'';
            }
            if a.empty && (flow || self.simple_key_context) {
                style = '\'';
            }
            if !plain_implicit {
                style = '\'';
            }
            if style == '\'' && !a.allow_single_quoted {
                style = '"';
            }
            let allow_breaks = !self.simple_key_context;
            match style {
                'p' => self.write_plain(text, allow_breaks),
                '\'' => self.write_single_quoted(text, allow_breaks),
                _ => self.write_double_quoted(text, allow_breaks),
            }
        }

        fn put(&mut self, c: char) {
            self.out.push(c);
            self.column += 1;
        }

        fn put_break(&mut self) {
            self.out.push('\n');
            self.column = 0;
        }

        /// libyaml's `WRITE_BREAK`: a line break as itself (`\n` for `\r\n`-less input).
        fn write_break(&mut self, c: char) {
            if c == '\n' {
                self.put_break();
            } else {
                self.out.push(c);
                self.column = 0;
            }
        }

        fn write_plain(&mut self, text: &[char], allow_breaks: bool) {
            if !self.whitespace && (!text.is_empty() || self.flow_level > 0) {
                self.put(' ');
            }
            let (mut spaces, mut breaks) = (false, false);
            let mut i = 0;
            while i < text.len() {
                let c = text[i];
                if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && self.column > self.best_width
                        && text.get(i + 1) != Some(&' ')
                    {
                        self.write_indent_libyaml();
                    } else {
                        self.put(c);
                    }
                    spaces = true;
                } else if is_break(c) {
                    if !breaks && c == '\n' {
                        self.put_break();
                    }
                    self.write_break(c);
                    self.indention = true;
                    breaks = true;
                } else {
                    if breaks {
                        self.write_indent_libyaml();
                    }
                    self.put(c);
                    self.indention = false;
                    spaces = false;
                    breaks = false;
                }
                i += 1;
            }
            self.whitespace = false;
            self.indention = false;
        }

        fn write_single_quoted(&mut self, text: &[char], allow_breaks: bool) {
            self.write_indicator("'", true, false, false);
            let (mut spaces, mut breaks) = (false, false);
            let mut i = 0;
            while i < text.len() {
                let c = text[i];
                if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && self.column > self.best_width
                        && i != 0
                        && i != text.len() - 1
                        && text.get(i + 1) != Some(&' ')
                    {
                        self.write_indent_libyaml();
                    } else {
                        self.put(c);
                    }
                    spaces = true;
                } else if is_break(c) {
                    if !breaks && c == '\n' {
                        self.put_break();
                    }
                    self.write_break(c);
                    self.indention = true;
                    breaks = true;
                } else {
                    if breaks {
                        self.write_indent_libyaml();
                    }
                    if c == '\'' {
                        self.put('\'');
                    }
                    self.put(c);
                    self.indention = false;
                    spaces = false;
                    breaks = false;
                }
                i += 1;
            }
            if breaks {
                self.write_indent_libyaml();
            }
            self.write_indicator("'", false, false, false);
            self.whitespace = false;
            self.indention = false;
        }

        fn write_double_quoted(&mut self, text: &[char], allow_breaks: bool) {
            self.write_indicator("\"", true, false, false);
            let mut spaces = false;
            let mut i = 0;
            while i < text.len() {
                let c = text[i];
                if !is_printable(c)
                    || (!self.allow_unicode && !c.is_ascii())
                    || c == '\u{feff}'
                    || is_break(c)
                    || c == '"'
                    || c == '\\'
                {
                    let esc = match c {
                        '\0' => "\\0".to_string(),
                        '\u{07}' => "\\a".to_string(),
                        '\u{08}' => "\\b".to_string(),
                        '\t' => "\\t".to_string(),
                        '\n' => "\\n".to_string(),
                        '\u{0b}' => "\\v".to_string(),
                        '\u{0c}' => "\\f".to_string(),
                        '\r' => "\\r".to_string(),
                        '\u{1b}' => "\\e".to_string(),
                        '"' => "\\\"".to_string(),
                        '\\' => "\\\\".to_string(),
                        '\u{85}' => "\\N".to_string(),
                        '\u{a0}' => "\\_".to_string(),
                        '\u{2028}' => "\\L".to_string(),
                        '\u{2029}' => "\\P".to_string(),
                        c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&esc);
                    spaces = false;
                } else if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && self.column > self.best_width
                        && i != 0
                        && i != text.len() - 1
                    {
                        self.write_indent_libyaml();
                        if text.get(i + 1) == Some(&' ') {
                            self.put('\\');
                        }
                    } else {
                        self.put(c);
                    }
                    spaces = true;
                } else {
                    self.put(c);
                    spaces = false;
                }
                i += 1;
            }
            self.write_indicator("\"", false, false, false);
            self.whitespace = false;
            self.indention = false;
        }

        /// libyaml's `yaml_emitter_write_indent` (it always leaves `whitespace` and
        /// `indention` set).
        fn write_indent_libyaml(&mut self) {
            self.write_indent();
            self.whitespace = true;
            self.indention = true;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Paths, with Python's posixpath semantics (evaluated on the controller).

fn path_arg(value: &Value, what: &str) -> Result<String, Error> {
    defined(value, what)?;
    Ok(if value.is_none() {
        String::new()
    } else {
        py_str(value)
    })
}

pub(crate) fn py_basename(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

pub(crate) fn py_dirname(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let head = &p[..i];
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

pub(crate) fn py_normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(comp);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let out = format!("{}{}", "/".repeat(initial), comps.join("/"));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

/// `os.path.join`.
pub(crate) fn py_path_join(parts: &[String]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if part.starts_with('/') || i == 0 {
            out = part.clone();
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(part);
        } else {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        py_normpath(p)
    } else {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "/".into());
        py_normpath(&py_path_join(&[cwd, p.to_string()]))
    }
}

fn home_of(user: Option<&str>) -> Option<String> {
    match user {
        None => std::env::var("HOME").ok().or_else(|| {
            let uid = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Uid:"))
                        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
                })?;
            passwd_home(|fields| fields.get(2) == Some(&uid.as_str()))
        }),
        Some(name) => passwd_home(|fields| fields.first() == Some(&name)),
    }
}

fn passwd_home(pred: impl Fn(&[&str]) -> bool) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 5 && pred(f))
        .map(|f| f[5].to_string())
}

pub(crate) fn py_expanduser(p: &str) -> String {
    if !p.starts_with('~') {
        return p.to_string();
    }
    let i = p[1..].find('/').map(|i| i + 1).unwrap_or(p.len());
    let home = if i == 1 {
        home_of(None)
    } else {
        home_of(Some(&p[1..i]))
    };
    match home {
        Some(h) => {
            let out = format!("{}{}", h.trim_end_matches('/'), &p[i..]);
            if out.is_empty() {
                "/".into()
            } else {
                out
            }
        }
        None => p.to_string(),
    }
}

pub(crate) fn py_expandvars(p: &str) -> String {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    if !p.contains('$') {
        return p.to_string();
    }
    let re = RE.get_or_init(|| regex::Regex::new(r"\$(\w+|\{[^}]*\})").expect("valid regex"));
    re.replace_all(p, |c: &regex::Captures<'_>| {
        let name = c[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

fn py_realpath(p: &str) -> String {
    let abs = abspath(p);
    if let Ok(c) = std::fs::canonicalize(&abs) {
        return c.display().to_string();
    }
    // Resolve the longest existing prefix, keep the rest as it is.
    let comps: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
    for n in (0..comps.len()).rev() {
        let prefix = format!("/{}", comps[..n].join("/"));
        if let Ok(c) = std::fs::canonicalize(&prefix) {
            let mut parts = vec![c.display().to_string()];
            parts.extend(comps[n..].iter().map(|s| s.to_string()));
            return py_path_join(&parts);
        }
    }
    abs
}

fn basename(value: &Value) -> Result<String, Error> {
    Ok(py_basename(&path_arg(value, "basename")?).to_string())
}

fn dirname(value: &Value) -> Result<String, Error> {
    Ok(py_dirname(&path_arg(value, "dirname")?))
}

fn expanduser(value: &Value) -> Result<String, Error> {
    Ok(py_expanduser(&path_arg(value, "expanduser")?))
}

fn expandvars(value: &Value) -> Result<String, Error> {
    Ok(py_expandvars(&path_arg(value, "expandvars")?))
}

fn realpath(value: &Value) -> Result<String, Error> {
    Ok(py_realpath(&path_arg(value, "realpath")?))
}

fn normpath(value: &Value) -> Result<String, Error> {
    Ok(py_normpath(&path_arg(value, "normpath")?))
}

fn relpath(value: &Value, start: Option<Value>) -> Result<String, Error> {
    let path = path_arg(value, "relpath")?;
    if path.is_empty() {
        return Err(fail("no path specified"));
    }
    let start = start.map(|s| py_str(&s)).unwrap_or_else(|| ".".into());
    let s: Vec<String> = abspath(&start)
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let p: Vec<String> = abspath(&path)
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let common = s.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut rel: Vec<String> = vec!["..".to_string(); s.len() - common];
    rel.extend(p[common..].iter().cloned());
    if rel.is_empty() {
        return Ok(".".into());
    }
    Ok(py_path_join(&rel))
}

/// `os.path.splitext`: `[root, ext]`.
fn splitext(value: &Value) -> Result<Value, Error> {
    let p = path_arg(value, "splitext")?;
    let sep = p.rfind('/').map(|i| i as isize).unwrap_or(-1);
    if let Some(dot) = p.rfind('.') {
        if dot as isize > sep {
            let name_start = (sep + 1) as usize;
            if p[name_start..dot].chars().any(|c| c != '.') {
                return Ok(Value::from(vec![
                    Value::from(&p[..dot]),
                    Value::from(&p[dot..]),
                ]));
            }
        }
    }
    Ok(Value::from(vec![Value::from(p), Value::from("")]))
}

fn path_join(value: &Value) -> Result<String, Error> {
    defined(value, "path_join")?;
    if let Some(s) = value.as_str() {
        return Ok(s.to_string());
    }
    if !is_list(value) {
        return Err(fail(format!(
            "|path_join expects string or sequence, got {} instead.",
            python_type_name(value)
        )));
    }
    let parts: Vec<String> = to_vec(value)?.iter().map(py_str).collect();
    Ok(py_path_join(&parts))
}

fn commonpath(value: &Value) -> Result<String, Error> {
    defined(value, "commonpath")?;
    if !is_list(value) {
        return Err(fail(format!(
            "|commonpath expects sequence, got {} instead.",
            python_type_name(value)
        )));
    }
    let paths: Vec<String> = to_vec(value)?.iter().map(py_str).collect();
    if paths.is_empty() {
        return Err(fail("commonpath() arg is an empty sequence"));
    }
    let absolute = paths[0].starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(fail("Can't mix absolute and relative paths"));
    }
    let split: Vec<Vec<&str>> = paths
        .iter()
        .map(|p| {
            p.split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect()
        })
        .collect();
    let min = split.iter().min().cloned().unwrap_or_default();
    let max = split.iter().max().cloned().unwrap_or_default();
    let common = min.iter().zip(&max).take_while(|(a, b)| a == b).count();
    Ok(format!(
        "{}{}",
        if absolute { "/" } else { "" },
        min[..common].join("/")
    ))
}

fn nt_splitdrive(p: &str) -> (String, String) {
    let norm = p.replace('/', "\\");
    if norm.starts_with("\\\\") && !norm[2..].starts_with('\\') {
        // UNC: \\server\share
        let Some(index) = norm[2..].find('\\').map(|i| i + 2) else {
            return (String::new(), p.to_string());
        };
        let index2 = match norm[index + 1..].find('\\') {
            Some(0) => return (String::new(), p.to_string()),
            Some(j) => index + 1 + j,
            None => p.len(),
        };
        return (p[..index2].to_string(), p[index2..].to_string());
    }
    if p.len() >= 2 && p.as_bytes()[1] == b':' && p.is_char_boundary(2) {
        return (p[..2].to_string(), p[2..].to_string());
    }
    (String::new(), p.to_string())
}

fn nt_split(p: &str) -> (String, String) {
    let (d, rest) = nt_splitdrive(p);
    let i = rest.rfind(['\\', '/']).map(|i| i + 1).unwrap_or(0);
    let (head, tail) = rest.split_at(i);
    let trimmed = head.trim_end_matches(['\\', '/']);
    let head = if trimmed.is_empty() { head } else { trimmed };
    (format!("{d}{head}"), tail.to_string())
}

fn win_basename(value: &Value) -> Result<String, Error> {
    Ok(nt_split(&path_arg(value, "win_basename")?).1)
}

fn win_dirname(value: &Value) -> Result<String, Error> {
    Ok(nt_split(&path_arg(value, "win_dirname")?).0)
}

fn win_splitdrive(value: &Value) -> Result<Value, Error> {
    let (d, p) = nt_splitdrive(&path_arg(value, "win_splitdrive")?);
    Ok(Value::from(vec![Value::from(d), Value::from(p)]))
}

/// Regular files matching a glob on the controller (sorted).
pub(crate) fn glob_files(pattern: &str) -> Vec<String> {
    let mut out: Vec<String> = match glob::glob(pattern) {
        Ok(paths) => paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn fileglob(value: &Value) -> Result<Value, Error> {
    let pattern = path_arg(value, "fileglob")?;
    Ok(Value::from(
        glob_files(&pattern)
            .into_iter()
            .map(Value::from)
            .collect::<Vec<_>>(),
    ))
}

// ---------------------------------------------------------------------------------------
// Hashes.

pub(crate) fn hex_digest(data: &[u8], hashtype: &str) -> Result<String, Error> {
    use sha2::Digest;
    Ok(match hashtype.to_ascii_lowercase().as_str() {
        "md5" => format!("{:x}", ::md5::compute(data)),
        "sha1" => hex::encode(sha1::Sha1::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        other => return Err(fail(format!("unsupported hash type {other}"))),
    })
}

fn hash_input(value: &Value, what: &str) -> Result<Vec<u8>, Error> {
    defined(value, what)?;
    Ok(match value.kind() {
        ValueKind::Bytes => value.as_bytes().unwrap_or_default().to_vec(),
        _ => py_str(value).into_bytes(),
    })
}

pub(super) fn hash(value: &Value, hashtype: Option<String>) -> Result<String, Error> {
    hex_digest(
        &hash_input(value, "hash")?,
        hashtype.as_deref().unwrap_or("sha1"),
    )
}

pub(super) fn md5(value: &Value) -> Result<String, Error> {
    hex_digest(&hash_input(value, "md5")?, "md5")
}

pub(super) fn sha1(value: &Value) -> Result<String, Error> {
    hex_digest(&hash_input(value, "sha1")?, "sha1")
}

/// `password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None)`: the crypt(3)
/// strings passlib makes (`$6$rounds=656000$salt$...`, `$5$...`, `$1$...`).
pub(super) fn password_hash(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("password_hash", args);
    let hashtype = opt_string(p.take("hashtype")).unwrap_or_else(|| "sha512".into());
    let salt = opt_string(p.take("salt"));
    let salt_size = opt_int(p.take("salt_size"), "salt_size")?;
    let rounds = opt_int(p.take("rounds"), "rounds")?;
    p.take("ident");
    p.finish()?;
    defined(value, "password_hash")?;
    let password = py_str(value);
    let (scheme, default_salt, default_rounds) = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => ("6", 16, 656_000),
        "sha256" | "sha256_crypt" => ("5", 16, 535_000),
        "md5" | "md5_crypt" => ("1", 8, 1000),
        other => {
            return Err(fail(format!(
                "{other} is not in the list of supported algorithms: md5, sha256, sha512"
            )))
        }
    };
    let salt = match salt {
        Some(s) => {
            if !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/')
            {
                return Err(fail("invalid characters in salt"));
            }
            s
        }
        None => {
            let n = salt_size.unwrap_or(default_salt).clamp(1, 16) as usize;
            let mut rng = PyRandom::from_entropy();
            (0..n)
                .map(|_| crypt::ALPHABET[rng.randbelow(64) as usize] as char)
                .collect()
        }
    };
    Ok(match scheme {
        "1" => crypt::md5_crypt(password.as_bytes(), &salt),
        _ => {
            let rounds = rounds.unwrap_or(default_rounds).clamp(1000, 999_999_999) as u32;
            crypt::sha_crypt(password.as_bytes(), &salt, rounds, scheme == "6")
        }
    })
}

/// crypt(3) password hashes: SHA-crypt (`$5$`, `$6$`) and MD5-crypt (`$1$`).
mod crypt {
    use sha2::Digest;

    pub const ALPHABET: &[u8; 64] =
        b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    fn b64_from_24bit(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
        let mut w = ((b2 as u32) << 16) | ((b1 as u32) << 8) | b0 as u32;
        for _ in 0..n {
            out.push(ALPHABET[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    }

    fn digest(sha512: bool, parts: &[&[u8]]) -> Vec<u8> {
        if sha512 {
            let mut h = sha2::Sha512::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        } else {
            let mut h = sha2::Sha256::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        }
    }

    fn repeat_to(src: &[u8], len: usize) -> Vec<u8> {
        src.iter().cycle().take(len).copied().collect()
    }

    pub fn sha_crypt(pw: &[u8], salt: &str, rounds: u32, sha512: bool) -> String {
        let salt: Vec<u8> = salt.bytes().take(16).collect();
        let hlen = if sha512 { 64 } else { 32 };
        let b = digest(sha512, &[pw, &salt, pw]);
        let mut a_input: Vec<u8> = Vec::new();
        a_input.extend_from_slice(pw);
        a_input.extend_from_slice(&salt);
        a_input.extend(repeat_to(&b, pw.len()));
        let mut n = pw.len();
        while n > 0 {
            if n & 1 == 1 {
                a_input.extend_from_slice(&b);
            } else {
                a_input.extend_from_slice(pw);
            }
            n >>= 1;
        }
        let a = digest(sha512, &[&a_input]);
        let dp = digest(sha512, &[&pw.repeat(pw.len())]);
        let p = repeat_to(&dp, pw.len());
        let ds = digest(sha512, &[&salt.repeat(16 + a[0] as usize)]);
        let s = repeat_to(&ds, salt.len());
        let mut c = a;
        for i in 0..rounds {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
            parts.push(if i & 1 == 1 { &p } else { &c });
            if i % 3 != 0 {
                parts.push(&s);
            }
            if i % 7 != 0 {
                parts.push(&p);
            }
            parts.push(if i & 1 == 1 { &c } else { &p });
            c = digest(sha512, &parts);
        }
        debug_assert_eq!(c.len(), hlen);
        let mut out = String::from(if sha512 { "$6$" } else { "$5$" });
        if rounds != 5000 {
            out.push_str(&format!("rounds={rounds}$"));
        }
        out.push_str(&String::from_utf8_lossy(&salt));
        out.push('$');
        if sha512 {
            for i in 0..21 {
                let (x, y, z) = match i % 3 {
                    0 => (i, i + 21, i + 42),
                    1 => (i + 21, i + 42, i),
                    _ => (i + 42, i, i + 21),
                };
                b64_from_24bit(&mut out, c[x], c[y], c[z], 4);
            }
            b64_from_24bit(&mut out, 0, 0, c[63], 2);
        } else {
            for i in 0..10 {
                let (x, y, z) = match i % 3 {
                    0 => (i, i + 10, i + 20),
                    1 => (i + 20, i, i + 10),
                    _ => (i + 10, i + 20, i),
                };
                b64_from_24bit(&mut out, c[x], c[y], c[z], 4);
            }
            b64_from_24bit(&mut out, 0, c[31], c[30], 3);
        }
        out
    }

    pub fn md5_crypt(pw: &[u8], salt: &str) -> String {
        let salt: Vec<u8> = salt.bytes().take(8).collect();
        let md5 = |parts: &[&[u8]]| -> [u8; 16] {
            let mut ctx = ::md5::Context::new();
            for p in parts {
                ctx.consume(p);
            }
            ctx.compute().0
        };
        let fin = md5(&[pw, &salt, pw]);
        let mut ctx: Vec<u8> = Vec::new();
        ctx.extend_from_slice(pw);
        ctx.extend_from_slice(b"$1$");
        ctx.extend_from_slice(&salt);
        let mut i = pw.len() as isize;
        while i > 0 {
            ctx.extend_from_slice(&fin[..(i.min(16) as usize)]);
            i -= 16;
        }
        let mut n = pw.len();
        while n > 0 {
            if n & 1 == 1 {
                ctx.push(0);
            } else {
                ctx.push(*pw.first().unwrap_or(&0));
            }
            n >>= 1;
        }
        let mut fin = md5(&[&ctx]);
        for i in 0..1000 {
            let mut parts: Vec<&[u8]> = Vec::new();
            let f = fin;
            parts.push(if i & 1 == 1 { pw } else { &f });
            if i % 3 != 0 {
                parts.push(&salt);
            }
            if i % 7 != 0 {
                parts.push(pw);
            }
            parts.push(if i & 1 == 1 { &f } else { pw });
            fin = md5(&parts);
        }
        let mut out = format!("$1${}$", String::from_utf8_lossy(&salt));
        for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
            b64_from_24bit(&mut out, fin[a], fin[b], fin[c], 4);
        }
        b64_from_24bit(&mut out, 0, 0, fin[11], 2);
        out
    }
}

// ---------------------------------------------------------------------------------------
// Lists and dictionaries.

fn list_arg(v: &Value, what: &str) -> Result<Vec<Value>, Error> {
    defined(v, what)?;
    to_vec(v).map_err(|_| {
        fail(format!(
            "{what} expects a list, got {}",
            python_type_name(v)
        ))
    })
}

/// Order-preserving, case-sensitive unique.
fn unique_values(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn union(a: &Value, b: &Value) -> Result<Value, Error> {
    let mut items = list_arg(a, "union")?;
    items.extend(list_arg(b, "union")?);
    Ok(Value::from(unique_values(items)))
}

fn intersect(a: &Value, b: &Value) -> Result<Value, Error> {
    let b = list_arg(b, "intersect")?;
    let items = list_arg(a, "intersect")?
        .into_iter()
        .filter(|x| b.contains(x))
        .collect();
    Ok(Value::from(unique_values(items)))
}

fn difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let b = list_arg(b, "difference")?;
    let items = list_arg(a, "difference")?
        .into_iter()
        .filter(|x| !b.contains(x))
        .collect();
    Ok(Value::from(unique_values(items)))
}

fn symmetric_difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let isect = to_vec(&intersect(a, b)?)?;
    let all = to_vec(&union(a, b)?)?;
    Ok(Value::from(
        all.into_iter()
            .filter(|x| !isect.contains(x))
            .collect::<Vec<_>>(),
    ))
}

fn flatten_into(
    out: &mut Vec<Value>,
    items: Vec<Value>,
    levels: Option<i64>,
    skip_nulls: bool,
) -> Result<(), Error> {
    for item in items {
        let is_null = item.is_none() || matches!(item.as_str(), Some("None" | "null"));
        if skip_nulls && is_null {
            continue;
        }
        if is_list(&item) {
            match levels {
                None => flatten_into(out, to_vec(&item)?, None, skip_nulls)?,
                Some(l) if l >= 1 => flatten_into(out, to_vec(&item)?, Some(l - 1), skip_nulls)?,
                Some(_) => out.push(item),
            }
        } else {
            out.push(item);
        }
    }
    Ok(())
}

/// `flatten(levels=None, skip_nulls=True)`.
fn flatten(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("flatten", args);
    let levels = opt_int(p.take("levels"), "levels")?;
    let skip_nulls = opt_bool(p.take("skip_nulls"), true);
    p.finish()?;
    let mut out = Vec::new();
    flatten_into(&mut out, list_arg(value, "flatten")?, levels, skip_nulls)?;
    Ok(Value::from(out))
}

fn is_map(v: &Value) -> bool {
    v.kind() == ValueKind::Map
}

/// Ansible's `merge_hash(x, y, recursive, list_merge)`: `y` wins.
pub(crate) fn merge_hash(
    x: &Value,
    y: &Value,
    recursive: bool,
    list_merge: &str,
) -> Result<Value, Error> {
    if !matches!(
        list_merge,
        "replace" | "keep" | "append" | "prepend" | "append_rp" | "prepend_rp"
    ) {
        return Err(fail(
            "merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
        ));
    }
    if !is_map(x) || !is_map(y) {
        return Err(fail(format!(
            "failed to combine variables, expected dicts but got a '{}' and a '{}'",
            python_type_name(x),
            python_type_name(y)
        )));
    }
    let mut out: IndexMap<Value, Value> = map_items(x)?.into_iter().collect();
    for (key, y_value) in map_items(y)? {
        let Some(x_value) = out.get(&key).cloned() else {
            out.insert(key, y_value);
            continue;
        };
        if is_map(&x_value) && is_map(&y_value) {
            let merged = if recursive {
                merge_hash(&x_value, &y_value, recursive, list_merge)?
            } else {
                y_value
            };
            out.insert(key, merged);
            continue;
        }
        if x_value.kind() == ValueKind::Seq && y_value.kind() == ValueKind::Seq {
            let xs = to_vec(&x_value)?;
            let ys = to_vec(&y_value)?;
            let merged: Vec<Value> = match list_merge {
                "replace" => ys,
                "append" => xs.into_iter().chain(ys).collect(),
                "prepend" => ys.into_iter().chain(xs).collect(),
                "append_rp" => xs
                    .into_iter()
                    .filter(|z| !ys.contains(z))
                    .chain(ys.iter().cloned())
                    .collect(),
                "prepend_rp" => {
                    let kept: Vec<Value> = xs.into_iter().filter(|z| !ys.contains(z)).collect();
                    ys.into_iter().chain(kept).collect()
                }
                _ => xs,
            };
            out.insert(key, Value::from(merged));
            continue;
        }
        out.insert(key, y_value);
    }
    Ok(new_map(out))
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; lists of dicts are accepted.
fn combine(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("combine", args);
    let mut terms = vec![value.clone()];
    terms.extend(p.rest());
    let recursive = opt_bool(p.kw("recursive"), false);
    let list_merge = opt_string(p.kw("list_merge")).unwrap_or_else(|| "replace".into());
    if !p.kw.is_empty() {
        return Err(fail(
            "'recursive' and 'list_merge' are the only valid keyword arguments",
        ));
    }
    p.finish()?;
    for t in &terms {
        defined(t, "combine")?;
    }
    let mut dicts = Vec::new();
    flatten_into(&mut dicts, terms, Some(1), false)?;
    let Some(mut result) = dicts.pop() else {
        return Ok(new_map(Vec::new()));
    };
    if dicts.is_empty() && !is_map(&result) {
        return Err(fail(format!(
            "combine expects dictionaries, got {}",
            py_repr(&result)
        )));
    }
    while let Some(d) = dicts.pop() {
        result = merge_hash(&d, &result, recursive, &list_merge)?;
    }
    Ok(result)
}

/// `dict2items(key_name='key', value_name='value')`.
fn dict2items(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("dict2items", args);
    let key_name = opt_string(p.take("key_name")).unwrap_or_else(|| "key".into());
    let value_name = opt_string(p.take("value_name")).unwrap_or_else(|| "value".into());
    p.finish()?;
    defined(value, "dict2items")?;
    if !is_map(value) {
        return Err(fail(format!(
            "dict2items requires a dictionary, got {} instead.",
            python_type_name(value)
        )));
    }
    let items = map_items(value)?
        .into_iter()
        .map(|(k, v)| {
            new_map([
                (Value::from(key_name.as_str()), k),
                (Value::from(value_name.as_str()), v),
            ])
        })
        .collect::<Vec<_>>();
    Ok(Value::from(items))
}

/// `items2dict(key_name='key', value_name='value')`.
fn items2dict(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("items2dict", args);
    let key_name = Value::from(opt_string(p.take("key_name")).unwrap_or_else(|| "key".into()));
    let value_name =
        Value::from(opt_string(p.take("value_name")).unwrap_or_else(|| "value".into()));
    p.finish()?;
    defined(value, "items2dict")?;
    if !is_list(value) {
        return Err(fail(format!(
            "items2dict requires a list, got {} instead.",
            python_type_name(value)
        )));
    }
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    for item in to_vec(value)? {
        if !is_map(&item) {
            return Err(fail(format!(
                "items2dict requires a list of dictionaries, got {} instead.",
                py_repr(value)
            )));
        }
        let k = item.get_item(&key_name)?;
        let v = item.get_item(&value_name)?;
        if k.is_undefined() || v.is_undefined() {
            return Err(fail(format!(
                "items2dict requires each dictionary in the list to contain the keys '{}' and '{}', got {} instead.",
                py_str(&key_name),
                py_str(&value_name),
                py_repr(value)
            )));
        }
        out.insert(k, v);
    }
    Ok(new_map(out))
}

fn lists_of(value: &Value, others: Vec<Value>, what: &str) -> Result<Vec<Vec<Value>>, Error> {
    let mut lists = vec![list_arg(value, what)?];
    for o in others {
        lists.push(list_arg(&o, what)?);
    }
    Ok(lists)
}

/// `zip_longest(*others, fillvalue=None)`.
fn zip_longest(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("zip_longest", args);
    let others = p.rest();
    let fill = p.kw("fillvalue").unwrap_or(Value::from(()));
    p.finish()?;
    let lists = lists_of(value, others, "zip_longest")?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    let out: Vec<Value> = (0..n)
        .map(|i| {
            Value::from(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    Ok(Value::from(out))
}

/// `itertools.product(value, *others, repeat=1)`.
fn product(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("product", args);
    let others = p.rest();
    let repeat = opt_int(p.kw("repeat"), "repeat")?.unwrap_or(1).max(0) as usize;
    p.finish()?;
    let base = lists_of(value, others, "product")?;
    let mut pools = Vec::new();
    for _ in 0..repeat {
        pools.extend(base.iter().cloned());
    }
    let mut result: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in pools {
        let mut next = Vec::new();
        for r in &result {
            for item in &pool {
                let mut t = r.clone();
                t.push(item.clone());
                next.push(t);
            }
        }
        result = next;
    }
    Ok(Value::from(
        result.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

/// `itertools.permutations(value, r=None)`.
fn permutations(value: &Value, r: Option<Value>) -> Result<Value, Error> {
    let pool = list_arg(value, "permutations")?;
    let n = pool.len();
    let r = opt_int(r, "r")?.map(|r| r.max(0) as usize).unwrap_or(n);
    let mut out = Vec::new();
    if r <= n {
        let mut indices: Vec<usize> = Vec::new();
        fn rec(
            pool: &[Value],
            r: usize,
            used: &mut Vec<bool>,
            indices: &mut Vec<usize>,
            out: &mut Vec<Value>,
        ) {
            if indices.len() == r {
                out.push(Value::from(
                    indices.iter().map(|i| pool[*i].clone()).collect::<Vec<_>>(),
                ));
                return;
            }
            for i in 0..pool.len() {
                if !used[i] {
                    used[i] = true;
                    indices.push(i);
                    rec(pool, r, used, indices, out);
                    indices.pop();
                    used[i] = false;
                }
            }
        }
        rec(&pool, r, &mut vec![false; n], &mut indices, &mut out);
    }
    Ok(Value::from(out))
}

/// `itertools.combinations(value, r)`.
fn combinations(value: &Value, r: Value) -> Result<Value, Error> {
    let pool = list_arg(value, "combinations")?;
    let r = opt_int(Some(r), "r")?.unwrap_or(0).max(0) as usize;
    let mut out = Vec::new();
    fn rec(pool: &[Value], start: usize, r: usize, cur: &mut Vec<Value>, out: &mut Vec<Value>) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in start..pool.len() {
            cur.push(pool[i].clone());
            rec(pool, i + 1, r, cur, out);
            cur.pop();
        }
    }
    if r <= pool.len() {
        rec(&pool, 0, r, &mut Vec::new(), &mut out);
    }
    Ok(Value::from(out))
}

/// `extract(container, morekeys=None)`: `container[item][morekey]...`.
fn extract(item: &Value, container: &Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut keys = vec![item.clone()];
    match morekeys {
        None => {}
        Some(m) if m.kind() == ValueKind::Seq => keys.extend(to_vec(&m)?),
        Some(m) => keys.push(m),
    }
    let mut cur = container.clone();
    for k in keys {
        cur = cur.get_item(&k)?;
    }
    Ok(cur)
}

/// `subelements(subelements, skip_missing=False)`: `[item, subitem]` pairs.
fn subelements(value: &Value, path: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("subelements", args);
    let skip_missing = opt_bool(p.take("skip_missing"), false);
    p.finish()?;
    subelements_of(value, path, skip_missing)
}

pub(crate) fn subelements_of(
    value: &Value,
    path: &Value,
    skip_missing: bool,
) -> Result<Value, Error> {
    defined(value, "subelements")?;
    let elements = if is_map(value) {
        map_items(value)?.into_iter().map(|(_, v)| v).collect()
    } else if is_list(value) {
        to_vec(value)?
    } else {
        return Err(fail("obj must be a list of dicts or a nested dict"));
    };
    let keys: Vec<String> = if let Some(s) = path.as_str() {
        s.split('.').map(str::to_string).collect()
    } else if is_list(path) {
        to_vec(path)?.iter().map(py_str).collect()
    } else {
        return Err(fail(format!(
            "subelements must be a list or a string, got {}",
            python_type_name(path)
        )));
    };
    let mut results = Vec::new();
    for element in elements {
        let mut values = element.clone();
        let mut missing = false;
        for key in &keys {
            if !is_map(&values) {
                return Err(fail(format!(
                    "the key '{key}' should point to a dictionary, got {}",
                    py_repr(&values)
                )));
            }
            let next = values.get_item(&Value::from(key.as_str()))?;
            if next.is_undefined() {
                if skip_missing {
                    missing = true;
                    break;
                }
                return Err(fail(format!(
                    "could not find '{key}' key in iterated item {}",
                    py_repr(&values)
                )));
            }
            values = next;
        }
        if missing {
            continue;
        }
        if values.kind() != ValueKind::Seq {
            return Err(fail(format!(
                "the key '{}' should point to a list, got {}",
                keys.last().cloned().unwrap_or_default(),
                py_repr(&values)
            )));
        }
        for v in to_vec(&values)? {
            results.push(Value::from(vec![element.clone(), v]));
        }
    }
    Ok(Value::from(results))
}

/// `rekey_on_member(key, duplicates='error')`.
fn rekey_on_member(value: &Value, key: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("rekey_on_member", args);
    let duplicates = opt_string(p.take("duplicates")).unwrap_or_else(|| "error".into());
    p.finish()?;
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(fail(format!(
            "duplicates parameter to rekey_on_member has unknown value: {duplicates}"
        )));
    }
    defined(value, "rekey_on_member")?;
    let items: Vec<Value> = if is_map(value) {
        map_items(value)?.into_iter().map(|(_, v)| v).collect()
    } else if is_list(value) {
        to_vec(value)?
    } else {
        return Err(fail("Type is not a valid list, set, or dict"));
    };
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    for item in items {
        if !is_map(&item) {
            return Err(fail("List item is not a valid dict"));
        }
        let k = item.get_item(key)?;
        if k.is_undefined() {
            return Err(fail(format!("Key {} was not found", py_str(key))));
        }
        if out.contains_key(&k) && duplicates == "error" {
            return Err(fail(format!(
                "Key {} is not unique, cannot correctly turn into dict",
                py_str(&k)
            )));
        }
        out.insert(k, item);
    }
    Ok(new_map(out))
}

// ---------------------------------------------------------------------------------------
// Random numbers: Python's `random.Random` (Mersenne Twister, same seeding), so that
// `{{ 59 | random(seed=inventory_hostname) }}` gives the same minute as Ansible.

/// Python's `random.Random`.
pub struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    fn init_genrand(s: u32) -> PyRandom {
        let mut mt = [0u32; 624];
        mt[0] = s;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        PyRandom { mt, index: 624 }
    }

    fn init_by_array(key: &[u32]) -> PyRandom {
        let mut r = PyRandom::init_genrand(19_650_218);
        let mt = &mut r.mt;
        let n = 624usize;
        let (mut i, mut j) = (1usize, 0usize);
        let len = key.len().max(1);
        for _ in 0..n.max(len) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(*key.get(j).unwrap_or(&0))
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..n - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        r
    }

    /// Seeds from a big-endian magnitude, like `random.seed(int)`.
    fn from_be_bytes(bytes: &[u8]) -> PyRandom {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut key = Vec::new();
        let mut end = trimmed.len();
        while end > 0 {
            let start = end.saturating_sub(4);
            let mut w = 0u32;
            for b in &trimmed[start..end] {
                w = (w << 8) | *b as u32;
            }
            key.push(w);
            end = start;
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom::init_by_array(&key)
    }

    /// `random.Random(seed)` for a string or an integer seed.
    pub fn from_seed(seed: &Value) -> PyRandom {
        use sha2::Digest;
        if let Some(i) = as_i128(seed) {
            return PyRandom::from_be_bytes(&i.unsigned_abs().to_be_bytes());
        }
        if let Some(f) = as_f64(seed).filter(|f| f.fract() == 0.0 && f.abs() < 1e30) {
            return PyRandom::from_be_bytes(&(f.abs() as u128).to_be_bytes());
        }
        let mut bytes = py_str(seed).into_bytes();
        let digest = sha2::Sha512::digest(&bytes);
        bytes.extend_from_slice(&digest);
        PyRandom::from_be_bytes(&bytes)
    }

    /// Seeded from the operating system (`SystemRandom` in Ansible).
    pub fn from_entropy() -> PyRandom {
        let mut buf = [0u8; 32];
        let ok = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
            .is_ok();
        if !ok {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            buf[..16].copy_from_slice(&t.as_nanos().to_be_bytes());
            buf[16..24].copy_from_slice(&(std::process::id() as u64).to_be_bytes());
        }
        PyRandom::from_be_bytes(&buf)
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    fn getrandbits(&mut self, k: u32) -> u128 {
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return (self.next_u32() >> (32 - k)) as u128;
        }
        let mut out: u128 = 0;
        let mut left = k;
        let mut shift = 0;
        while left > 0 {
            let mut r = self.next_u32();
            if left < 32 {
                r >>= 32 - left;
            }
            out |= (r as u128) << shift;
            shift += 32;
            left = left.saturating_sub(32);
        }
        out
    }

    /// `_randbelow(n)`: uniform in `[0, n)`.
    pub fn randbelow(&mut self, n: u128) -> u128 {
        if n == 0 {
            return 0;
        }
        let k = 128 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop, step)`.
    pub fn randrange(&mut self, start: i128, stop: i128, step: i128) -> Result<i128, Error> {
        let width = stop - start;
        if step == 1 {
            if width > 0 {
                return Ok(start + self.randbelow(width as u128) as i128);
            }
            return Err(fail(format!("empty range in randrange({start}, {stop})")));
        }
        let n = if step > 0 {
            (width + step - 1).div_euclid(step)
        } else if step < 0 {
            (width + step + 1).div_euclid(step)
        } else {
            return Err(fail("zero step for randrange()"));
        };
        if n <= 0 {
            return Err(fail("empty range for randrange()"));
        }
        Ok(start + step * self.randbelow(n as u128) as i128)
    }

    /// `shuffle(list)`.
    pub fn shuffle(&mut self, items: &mut [Value]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i as u128 + 1) as usize;
            items.swap(i, j);
        }
    }
}

fn rng_for(seed: Option<Value>) -> PyRandom {
    match seed {
        Some(s) if !s.is_none() && !s.is_undefined() => PyRandom::from_seed(&s),
        _ => PyRandom::from_entropy(),
    }
}

/// `random(start=None, step=None, seed=None)`: a number below an integer, or an element.
fn random(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("random", args);
    let start = opt_int(p.take("start"), "start")?;
    let step = opt_int(p.take("step"), "step")?;
    let seed = p.take("seed");
    p.finish()?;
    defined(value, "random")?;
    let mut rng = rng_for(seed);
    if let Some(end) = as_i128(value).filter(|_| value.kind() == ValueKind::Number) {
        let start = start.filter(|s| *s != 0).unwrap_or(0) as i128;
        let step = step.filter(|s| *s != 0).unwrap_or(1) as i128;
        return Ok(Value::from(rng.randrange(start, end, step)?));
    }
    if value.kind() == ValueKind::Number || value.kind() == ValueKind::Bool || value.is_none() {
        return Err(fail("random can only be used on sequences and integers"));
    }
    if start.unwrap_or(0) != 0 || step.unwrap_or(0) != 0 {
        return Err(fail("start and step can only be used with integer values"));
    }
    let items = to_vec(value)?;
    if items.is_empty() {
        return Err(fail("Cannot choose from an empty sequence"));
    }
    let i = rng.randbelow(items.len() as u128) as usize;
    Ok(items[i].clone())
}

/// `shuffle(seed=None)`.
fn shuffle(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("shuffle", args);
    let seed = p.take("seed");
    p.finish()?;
    defined(value, "shuffle")?;
    let Ok(mut items) = to_vec(value) else {
        return Ok(value.clone());
    };
    let seed = seed.filter(|s| s.is_true());
    rng_for(seed).shuffle(&mut items);
    Ok(Value::from(items))
}

// ---------------------------------------------------------------------------------------
// Numbers.

fn number_arg(v: &Value, what: &str) -> Result<f64, Error> {
    defined(v, what)?;
    as_f64(v).ok_or_else(|| fail(format!("{what}() can only be used on numbers")))
}

fn log(value: &Value, base: Option<Value>) -> Result<f64, Error> {
    let x = number_arg(value, "log")?;
    match base {
        None => Ok(x.ln()),
        Some(b) => {
            let b = number_arg(&b, "log")?;
            Ok(if b == 10.0 {
                x.log10()
            } else {
                x.ln() / b.ln()
            })
        }
    }
}

fn pow(value: &Value, y: &Value) -> Result<f64, Error> {
    Ok(number_arg(value, "pow")?.powf(number_arg(y, "pow")?))
}

fn root(value: &Value, base: Option<Value>) -> Result<f64, Error> {
    let x = number_arg(value, "root")?;
    let b = match base {
        Some(b) => number_arg(&b, "root")?,
        None => 2.0,
    };
    if b == 2.0 {
        if x < 0.0 {
            return Err(fail(
                "root() can only be used on numbers: math domain error",
            ));
        }
        Ok(x.sqrt())
    } else {
        Ok(x.powf(1.0 / b))
    }
}

const SIZE_RANGES: [(char, u128); 9] = [
    ('Y', 1 << 80),
    ('Z', 1 << 70),
    ('E', 1 << 60),
    ('P', 1 << 50),
    ('T', 1 << 40),
    ('G', 1 << 30),
    ('M', 1 << 20),
    ('K', 1 << 10),
    ('B', 1),
];

/// `human_readable(isbits=False, unit=None)`: `"1.00 KB"`.
fn human_readable(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("human_readable", args);
    let isbits = opt_bool(p.take("isbits"), false);
    let unit = opt_string(p.take("unit"));
    p.finish()?;
    defined(value, "human_readable")?;
    let size = match value.as_str() {
        Some(s) => parse_py_float(s),
        None => as_f64(value),
    }
    .ok_or_else(|| {
        fail(format!(
            "human_readable() can't interpret following string: {}",
            py_str(value)
        ))
    })?;
    let base = if isbits { "bits" } else { "Bytes" };
    let mut chosen = SIZE_RANGES[SIZE_RANGES.len() - 1];
    for (suffix, limit) in SIZE_RANGES {
        chosen = (suffix, limit);
        let hit = match &unit {
            None => size >= limit as f64,
            Some(u) => u.to_uppercase().starts_with(suffix),
        };
        if hit {
            break;
        }
    }
    let (suffix, limit) = chosen;
    let suffix = if limit != 1 {
        format!("{suffix}{}", &base[..1])
    } else {
        base.to_string()
    };
    Ok(format!("{:.2} {suffix}", size / limit as f64))
}

/// `human_to_bytes(default_unit=None, isbits=False)`: `"1 KB"` -> 1024.
fn human_to_bytes(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let mut p = Params::new("human_to_bytes", args);
    let default_unit = opt_string(p.take("default_unit"));
    let isbits = opt_bool(p.take("isbits"), false);
    p.finish()?;
    defined(value, "human_to_bytes")?;
    let text = py_str(value);
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$").expect("valid regex")
    });
    let bad = || {
        fail(format!(
            "human_to_bytes() can't interpret following string: {text}"
        ))
    };
    let caps = re.captures(&text).ok_or_else(bad)?;
    let num: f64 = caps[1].parse().map_err(|_| bad())?;
    let unit = caps.get(2).map(|m| m.as_str().to_string()).or(default_unit);
    let Some(unit) = unit else {
        return Ok(Value::from(num.round_ties_even() as i64));
    };
    let range_key = unit.chars().next().unwrap_or('B').to_ascii_uppercase();
    let limit = SIZE_RANGES
        .iter()
        .find(|(s, _)| *s == range_key)
        .map(|(_, l)| *l)
        .ok_or_else(|| fail(format!("human_to_bytes() failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B")))?;
    if unit.chars().count() > 1 {
        let names = [
            "byte",
            "kilobyte",
            "megabyte",
            "gigabyte",
            "terabyte",
            "petabyte",
            "exabyte",
            "zetabyte",
            "yottabyte",
        ];
        let keys = ['B', 'K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
        let idx = keys.iter().position(|k| *k == range_key).unwrap_or(0);
        let (long, short) = if isbits {
            (
                names[idx].replace("byte", "bit"),
                if range_key == 'B' {
                    "b".to_string()
                } else {
                    format!("{range_key}b")
                },
            )
        } else {
            (
                names[idx].to_string(),
                if range_key == 'B' {
                    "B".to_string()
                } else {
                    format!("{range_key}B")
                },
            )
        };
        if unit.to_lowercase() != long && unit != short {
            let class = if isbits { 'b' } else { 'B' };
            let expect = if range_key == 'B' {
                format!("expect {class} or {}", if isbits { "bit" } else { "byte" })
            } else {
                format!("expect {range_key}{class} or {range_key}")
            };
            return Err(fail(format!(
                "human_to_bytes() failed to convert {text}. Value is not a valid string ({expect})"
            )));
        }
    }
    Ok(Value::from((num * limit as f64).round_ties_even() as i64))
}

// ---------------------------------------------------------------------------------------
// Dates.

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Python's `strftime` for a UTC timestamp (the common directives).
pub(crate) fn format_utc(format: &str, secs: f64) -> String {
    let total = secs.floor() as i64;
    let days = total.div_euclid(86_400);
    let rem = total.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let weekday = (days + 4).rem_euclid(7); // 0 = Sunday
    let is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d as i64 + if is_leap && m > 2 { 1 } else { 0 };
    let days_full = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        match spec {
            'Y' => {
                let _ = write!(out, "{y}");
            }
            'y' => {
                let _ = write!(out, "{:02}", y.rem_euclid(100));
            }
            'C' => {
                let _ = write!(out, "{:02}", y.div_euclid(100));
            }
            'm' => {
                let _ = write!(out, "{m:02}");
            }
            'd' => {
                let _ = write!(out, "{d:02}");
            }
            'e' => {
                let _ = write!(out, "{d:2}");
            }
            'H' => {
                let _ = write!(out, "{hh:02}");
            }
            'I' => {
                let _ = write!(out, "{:02}", if hh % 12 == 0 { 12 } else { hh % 12 });
            }
            'p' => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            'M' => {
                let _ = write!(out, "{mm:02}");
            }
            'S' => {
                let _ = write!(out, "{ss:02}");
            }
            // `time.strftime` (what ansible-core 2.19 calls) knows no `%f`.
            'f' => out.push_str("%f"),
            'j' => {
                let _ = write!(out, "{yday:03}");
            }
            'a' => out.push_str(&days_full[weekday as usize][..3]),
            'A' => out.push_str(days_full[weekday as usize]),
            'w' => {
                let _ = write!(out, "{weekday}");
            }
            'u' => {
                let _ = write!(out, "{}", if weekday == 0 { 7 } else { weekday });
            }
            'b' | 'h' => out.push_str(&months[(m - 1) as usize][..3]),
            'B' => out.push_str(months[(m - 1) as usize]),
            's' => {
                let _ = write!(out, "{total}");
            }
            'z' => out.push_str("+0000"),
            'Z' => out.push_str("GMT"),
            'F' => {
                let _ = write!(out, "{y}-{m:02}-{d:02}");
            }
            'T' => {
                let _ = write!(out, "{hh:02}:{mm:02}:{ss:02}");
            }
            'R' => {
                let _ = write!(out, "{hh:02}:{mm:02}");
            }
            'D' => {
                let _ = write!(out, "{m:02}/{d:02}/{:02}", y.rem_euclid(100));
            }
            'c' => {
                let _ = write!(
                    out,
                    "{} {} {d:2} {hh:02}:{mm:02}:{ss:02} {y}",
                    &days_full[weekday as usize][..3],
                    &months[(m - 1) as usize][..3]
                );
            }
            'x' => {
                let _ = write!(out, "{m:02}/{d:02}/{:02}", y.rem_euclid(100));
            }
            'X' => {
                let _ = write!(out, "{hh:02}:{mm:02}:{ss:02}");
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '%' => out.push('%'),
            other => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// Ansible's `now(utc=False, fmt=None)` global: the time as text (UTC, see `strftime`).
fn now(args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("now", args);
    let _utc = p.take("utc");
    let fmt = opt_string(p.take("fmt"));
    p.finish()?;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(match fmt {
        Some(f) => format_utc(&f, t.as_secs_f64()),
        None => format!(
            "{}.{:06}",
            format_utc("%Y-%m-%d %H:%M:%S", t.as_secs() as f64),
            t.subsec_micros()
        ),
    })
}

/// `strftime(second=None, utc=False)`; times are rendered in UTC (see the module notes).
fn strftime(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("strftime", args);
    let second = p.take("second");
    let _utc = p.take("utc");
    p.finish()?;
    defined(value, "strftime")?;
    let secs = match second {
        Some(s) if !s.is_none() => match s.as_str() {
            Some(t) => parse_py_float(t),
            None => as_f64(&s),
        }
        .ok_or_else(|| fail(format!("Invalid value for epoch value ({})", py_str(&s))))?,
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
    };
    Ok(format_utc(&py_str(value), secs))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn python_float_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789.123, "123456789.123"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn python_str_repr_picks_quotes() {
        assert_eq!(py_str_repr("a"), "'a'");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(py_str_repr("a\nb\t\\"), "'a\\nb\\t\\\\'");
        assert_eq!(py_str_repr("\u{1}é"), "'\\x01é'");
        assert_eq!(
            py_repr(&Value::from(vec![
                Value::from(true),
                Value::from(()),
                Value::from("x")
            ])),
            "[True, None, 'x']"
        );
    }

    #[test]
    fn python_int_and_float_parsing() {
        assert_eq!(parse_py_int(" 42 ", 10), Some(42));
        assert_eq!(parse_py_int("-0x1f", 16), Some(-31));
        assert_eq!(parse_py_int("0o17", 0), Some(15));
        assert_eq!(parse_py_int("1_000", 10), Some(1000));
        assert_eq!(parse_py_int("1__0", 10), None);
        assert_eq!(parse_py_int("017", 0), None);
        assert_eq!(parse_py_int("00", 0), Some(0));
        assert_eq!(parse_py_int("z", 36), Some(35));
        assert_eq!(parse_py_float(" 1e3 "), Some(1000.0));
        assert_eq!(parse_py_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_py_float("1_0.5"), Some(10.5));
        assert_eq!(parse_py_float("0x10"), None);
        assert_eq!(parse_py_float(""), None);
    }

    #[test]
    fn python_regex_translation() {
        assert_eq!(translate_py_regex(r"a\Z"), r"a\z");
        assert_eq!(translate_py_regex("{x}"), r"\{x\}");
        assert_eq!(translate_py_regex("a{2}b{,3}c{1,}"), "a{2}b{0,3}c{1,}");
        assert_eq!(translate_py_regex("[[]"), r"[\[]");
        assert_eq!(translate_py_regex("[]a]"), r"[\]a]");
        assert_eq!(translate_py_regex("a(?#comment)b"), "ab");
        assert_eq!(translate_py_regex(r"\<\/"), "</");
        assert_eq!(translate_py_regex(r"\0"), r"\x{0}");
        let re = compile_py_regex(r"(?P<word>\w+)\s*$", false, false).unwrap();
        assert!(re.is_match("hello  "));
        assert!(
            compile_py_regex("(?<=a)b", false, false).is_err(),
            "lookbehind has no equivalent"
        );
    }

    #[test]
    fn python_replacement_templates() {
        let re = compile_py_regex("(a)(?P<n>b)?", false, false).unwrap();
        let sub = |repl: &str, text: &str| py_regex_sub(&re, repl, text, 0).map(|r| r.0);
        assert_eq!(sub(r"[\1\g<n>\g<0>]", "ab a").unwrap(), "[abab] [aa]");
        assert_eq!(sub(r"\n\t\\", "a").unwrap(), "\n\t\\");
        assert_eq!(sub(r"\.", "a").unwrap(), r"\.");
        assert_eq!(sub(r"\101", "a").unwrap(), "A", "octal escape");
        assert!(
            sub(r"\q", "a").is_err(),
            "unknown letter escapes are errors, as in Python"
        );
        assert!(sub(r"\g<nope>", "a").is_err());
        assert!(sub(r"\3", "a").is_err());
        let empty = compile_py_regex("x*", false, false).unwrap();
        assert_eq!(
            py_regex_sub(&empty, "-", "axxb", 0).unwrap(),
            ("-a--b-".to_string(), 4)
        );
    }

    #[test]
    fn python_random_matches_cpython() {
        let mut r = PyRandom::from_seed(&Value::from(42));
        let words: Vec<u128> = (0..3).map(|_| r.getrandbits(32)).collect();
        assert_eq!(words, [2746317213, 478163327, 107420369]);
        assert_eq!(r.getrandbits(64), 5073395517033431291);
        assert_eq!(r.getrandbits(100), 882565121070403957190206503824);
        let mut r = PyRandom::from_seed(&Value::from("abc"));
        let picks: Vec<i128> = (0..5).map(|_| r.randrange(0, 1000, 1).unwrap()).collect();
        assert_eq!(picks, [790, 571, 471, 726, 939]);
        assert_eq!(
            PyRandom::from_seed(&Value::from(0)).getrandbits(32),
            3626764237
        );
        assert_eq!(
            PyRandom::from_seed(&Value::from(-7)).getrandbits(32),
            1390851128
        );
        assert_eq!(
            PyRandom::from_seed(&Value::from((1i128 << 70) + 5)).getrandbits(32),
            2004888747
        );
    }

    #[test]
    fn crypt_hashes_match_openssl() {
        assert_eq!(
            crypt::sha_crypt(b"Hello world!", "saltstring", 5000, true),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            crypt::sha_crypt(b"Hello world!", "saltstring", 5000, false),
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
        assert_eq!(
            crypt::sha_crypt(b"x", "toolongsaltstringXYZ", 5000, true),
            "$6$toolongsaltstrin$m5UCdGkMg16fnZB/afayhHcFYEQvnTRoKod8GIJKB0rGGl9IQGUPKeGHHw5xPOFVPjhTAcuzioT6ZcDqsMKJ80"
        );
        assert_eq!(
            crypt::md5_crypt(b"pw", "saltsalt"),
            "$1$saltsalt$6SNdNaZLKst2LlSm7oPPL1"
        );
    }

    fn yaml(v: serde_json::Value, flow: Option<bool>, indent: usize) -> String {
        let o = yaml_dump::Options {
            flow,
            indent,
            ..Default::default()
        };
        yaml_dump::dump(&crate::template::from_json(&v), &o).unwrap()
    }

    #[test]
    fn yaml_emitter_styles() {
        use serde_json::json;
        assert_eq!(
            yaml(json!({"a": [1, 2], "b": {"c": "d"}}), None, 2),
            "a: [1, 2]\nb: {c: d}\n"
        );
        assert_eq!(
            yaml(json!({"a": [{"b": 1, "c": 2}]}), Some(false), 4),
            "a:\n-   b: 1\n    c: 2\n"
        );
        assert_eq!(
            yaml(
                json!(["yes", "on", "1", "0.5", "~", "", "a: b", "x"]),
                Some(false),
                2
            ),
            "- 'yes'\n- 'on'\n- '1'\n- '0.5'\n- '~'\n- ''\n- 'a: b'\n- x\n"
        );
        assert_eq!(
            yaml(
                json!({"t": "a\tb", "e": "😀", "n": "a\u{85}b"}),
                Some(false),
                2
            ),
            "e: \"\\U0001F600\"\nn: \"a\\Nb\"\nt: \"a\\tb\"\n"
        );
        assert_eq!(
            yaml(json!({"m": "l1\nl2\n"}), Some(false), 2),
            "m: 'l1\n\n  l2\n\n  '\n"
        );
        assert_eq!(yaml(json!({}), None, 2), "{}\n");
        assert_eq!(yaml(json!([]), Some(false), 2), "[]\n");
        assert_eq!(yaml(json!(null), None, 2), "null\n");
    }

    #[test]
    fn json_like_python() {
        use serde_json::json;
        let v = crate::template::from_json(&json!({"b": [1, {"c": "é\u{1}"}], "a": 1.5}));
        let compact = JsonStyle {
            indent: None,
            sort_keys: false,
            item_sep: ", ".into(),
            key_sep: ": ".into(),
            ensure_ascii: true,
        };
        assert_eq!(
            json_dumps(&v, &compact).unwrap(),
            r#"{"b": [1, {"c": "\u00e9\u0001"}], "a": 1.5}"#
        );
        let nice = JsonStyle {
            indent: Some("  ".into()),
            sort_keys: true,
            item_sep: ",".into(),
            key_sep: ": ".into(),
            ensure_ascii: false,
        };
        assert_eq!(
            json_dumps(&v, &nice).unwrap(),
            "{\n  \"a\": 1.5,\n  \"b\": [\n    1,\n    {\n      \"c\": \"é\\u0001\"\n    }\n  ]\n}"
        );
    }

    #[test]
    fn posix_paths() {
        assert_eq!(py_dirname("/a/b/"), "/a/b");
        assert_eq!(py_dirname("//"), "//");
        assert_eq!(py_basename("a/b"), "b");
        assert_eq!(py_normpath("///a/./b/../c"), "/a/c");
        assert_eq!(py_normpath("../a/.."), "..");
        assert_eq!(
            py_path_join(&["a".into(), "b/".into(), "c".into()]),
            "a/b/c"
        );
        assert_eq!(
            nt_splitdrive("C:\\x"),
            ("C:".to_string(), "\\x".to_string())
        );
        assert_eq!(nt_split("C:\\a\\b"), ("C:\\a".to_string(), "b".to_string()));
        assert_eq!(py_splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
    }

    #[test]
    fn utc_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            format_utc("%Y-%m-%d %H:%M:%S %j", 1709251199.0),
            "2024-02-29 23:59:59 060"
        );
    }

    #[test]
    fn formatter_prints_python_values() {
        let mut env = Environment::new();
        env.set_formatter(format_value);
        let out = env
            .render_str(
                "{{ true }}|{{ none }}|{{ [1, 'a'] }}|{{ {'k': 1.0} }}|{{ 'x' }}",
                (),
            )
            .unwrap();
        assert_eq!(out, "True||[1, 'a']|{'k': 1.0}|x");
    }

    #[test]
    fn backslashes_doubled_only_in_expression_strings() {
        assert_eq!(
            escape_backslashes(r"{{ x | regex_replace('(\d+)', '\1') }}"),
            r"{{ x | regex_replace('(\\d+)', '\\1') }}"
        );
        assert_eq!(
            escape_backslashes(r"C:\dir {{ 'a\b' }} \n"),
            r"C:\dir {{ 'a\\b' }} \n"
        );
        // Ansible's quirk: an escaped quote is doubled too.
        assert_eq!(escape_backslashes(r#"{{ "q\"q" }}"#), r#"{{ "q\\"q" }}"#);
        assert!(matches!(
            escape_backslashes("no braces \\"),
            Cow::Borrowed(_)
        ));
        let t = crate::template::Templar::new();
        let yaml_text = r"{{ 'web01' | regex_replace('^web(\d+)$', 'db\1') }}";
        let out = t
            .render_string(&escape_backslashes(yaml_text), &Value::from(()))
            .unwrap();
        assert_eq!(out, "db01");
    }

    #[test]
    fn merge_hash_keeps_key_order() {
        use serde_json::json;
        let x = crate::template::from_json(&json!({"a": 1, "b": {"c": [1]}, "d": 4}));
        let y = crate::template::from_json(&json!({"b": {"c": [2], "e": 5}, "a": 9}));
        let m = merge_hash(&x, &y, true, "append").unwrap();
        assert_eq!(py_repr(&m), "{'a': 9, 'b': {'c': [1, 2], 'e': 5}, 'd': 4}");
        assert!(merge_hash(&x, &y, true, "bogus").is_err());
    }
}

