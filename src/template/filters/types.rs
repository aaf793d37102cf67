//! Types.

use super::*;

/// Ansible's `bool`: `yes`/`on`/`true`/`1` (any case) and `1` are true, everything else false.
pub(crate) fn to_bool(value: &Value) -> Result<bool, Error> {
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
pub(crate) fn to_int(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
pub(crate) fn to_float(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
pub(crate) fn to_string(value: &Value) -> Result<Value, Error> {
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

pub(crate) fn type_debug(value: &Value) -> String {
    python_type_name(value).to_string()
}

/// `dict(mapping_or_pairs, **kwargs)` as in Python (minijinja's takes no list of pairs).
pub(crate) fn dict_function(args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
