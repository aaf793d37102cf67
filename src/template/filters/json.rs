//! JSON, written like Python's `json.dumps`.

use super::*;

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

pub(crate) fn json_str(out: &mut String, s: &str, ensure_ascii: bool) {
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

pub(crate) fn json_key(k: &Value) -> Result<String, Error> {
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

pub(crate) fn write_json(
    out: &mut String,
    v: &Value,
    style: &JsonStyle,
    level: usize,
) -> Result<(), Error> {
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
pub(crate) fn to_json(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_json", args);
    let kw = p.rest_kw();
    p.finish()?;
    let style = JsonStyle::from_kwargs(kw, None, false, false)?;
    json_dumps(value, &style)
}

/// `to_nice_json(indent=4, sort_keys=True)`.
pub(crate) fn to_nice_json(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_nice_json", args);
    let indent = p.take("indent").unwrap_or(Value::from(4));
    let sort_keys = opt_bool(p.take("sort_keys"), true);
    let kw = p.rest_kw();
    p.finish()?;
    let style = JsonStyle::from_kwargs(kw, Some(indent), sort_keys, true)?;
    json_dumps(value, &style)
}

pub(crate) fn from_json(value: &Value) -> Result<Value, Error> {
    defined(value, "from_json")?;
    let text = py_str(value);
    let parsed: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("from_json: {e}")))?;
    Ok(crate::template::from_json(&parsed))
}
