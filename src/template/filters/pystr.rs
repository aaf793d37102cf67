//! Python's str() and repr() of values.

use super::*;

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

pub(crate) fn write_repr(out: &mut String, v: &Value) {
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
