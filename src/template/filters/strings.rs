//! Strings.

use super::*;

/// Jinja2's `join(d='', attribute=None)`, with Python's `str()` of non-string items.
pub(crate) fn join(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
pub(crate) fn get_path(item: &Value, attr: &Value) -> Result<Value, Error> {
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
pub(crate) fn indent(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
pub(crate) fn ternary(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
pub(crate) fn quote(value: &Value) -> Result<String, Error> {
    defined(value, "quote")?;
    if value.is_none() {
        return Ok(crate::shell::quote(""));
    }
    Ok(crate::shell::quote(&py_str(value)))
}

/// Ansible's `comment(style='plain', **decoration)`.
pub(crate) fn comment(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
pub(crate) fn mandatory(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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

pub(crate) fn encode_text(text: &str, encoding: &str) -> Result<Vec<u8>, Error> {
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

pub(crate) fn decode_text(bytes: &[u8], encoding: &str) -> Result<String, Error> {
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

pub(crate) fn b64encode(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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

pub(crate) fn b64decode(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
pub(crate) fn to_uuid(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
pub(crate) fn urlsplit(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
pub(crate) fn urldecode(value: &Value) -> Result<String, Error> {
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
