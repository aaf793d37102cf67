//! INI inventories, read as Ansible's `ini` inventory plugin reads them:
//!
//! ```ini
//! lone.example.com            # before any section: ungrouped
//! [web]
//! web[01:03].example.com ansible_user=deploy http_port=8080
//! db.example.com:2222
//! [web:vars]
//! proxy="http://proxy:3128"
//! [prod:children]
//! web
//! ```
//!
//! Host lines are split like a POSIX shell (quotes, `#` comments); variable values are
//! Python literals when they parse as one (`8080` → int, `True` → bool, `[1, 2]` →
//! list, `'x'` → "x") and strings otherwise (`yes` and `0644` stay strings). A
//! `[g:vars]` section needs `g` declared in the file (`[g]` or `[g:children]`), and a
//! child listed in `[p:children]` must be a group. Errors point at file:line:col.

use super::{pattern, Inventory};
use crate::error::{Error, Result, Span};
use indexmap::IndexMap;
use serde_json::{Map, Number, Value};
use std::path::Path;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A reference to a group not declared (yet): checked at the end of the file.
struct Pending {
    line: usize,
    col: usize,
    /// A `[g:vars]` section (true) or a child of `[p:children]` (false).
    vars: bool,
    parents: Vec<String>,
}

/// Parses an INI inventory into `inv`.
pub fn parse(text: &str, path: &Path, inv: &mut Inventory) -> Result<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file = Arc::new(path.to_path_buf());
    let err =
        |line: usize, col: usize, msg: String| Error::source_at(&Span::new(&file, line, col), msg);
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    let mut pending: IndexMap<String, Pending> = IndexMap::new();

    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let col = raw.chars().take_while(|c| c.is_whitespace()).count() + 1;

        if line.starts_with('[') {
            if let Some((name, kind)) = parse_section(line) {
                state = match kind {
                    None | Some("hosts") => State::Hosts,
                    Some("vars") => State::Vars,
                    Some("children") => State::Children,
                    Some(other) => {
                        return Err(err(
                            lineno,
                            col,
                            format!("section [{name}:{other}] has unknown type `{other}` (expected hosts, vars or children)"),
                        ));
                    }
                };
                group = name.to_string();
                if !inv.groups.contains_key(&group) {
                    if state == State::Vars && !pending.contains_key(&group) {
                        pending.insert(
                            group.clone(),
                            Pending {
                                line: lineno,
                                col,
                                vars: true,
                                parents: vec![],
                            },
                        );
                    }
                    inv.add_group(&group);
                }
                if state != State::Vars {
                    if let Some(p) = pending.shift_remove(&group) {
                        for parent in &p.parents {
                            inv.add_child(parent, &group)
                                .map_err(|e| err(p.line, p.col, e.to_string()))?;
                        }
                    }
                }
                continue;
            }
            if line.ends_with(']') {
                return Err(err(
                    lineno,
                    col,
                    format!("invalid section `{line}`: expected [group], [group:vars] or [group:children], without spaces"),
                ));
            }
        }

        match state {
            State::Hosts => parse_host_line(raw, lineno, &group, inv, &err)?,
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(
                        lineno,
                        col,
                        format!("expected key=value, got `{line}`"),
                    ));
                };
                let k = k.trim();
                if k.is_empty() {
                    return Err(err(
                        lineno,
                        col,
                        format!("missing variable name in `{line}`"),
                    ));
                }
                inv.set_group_var(&group, k, parse_value(v.trim()));
            }
            State::Children => {
                let child = line.split('#').next().unwrap_or("").trim();
                if child.is_empty() || child.contains([':', ']', ' ', '\t']) {
                    return Err(err(
                        lineno,
                        col,
                        format!("expected a group name, got `{line}`"),
                    ));
                }
                if inv.groups.contains_key(child) {
                    inv.add_child(&group, child)
                        .map_err(|e| err(lineno, col, e.to_string()))?;
                } else {
                    pending
                        .entry(child.to_string())
                        .or_insert(Pending {
                            line: lineno,
                            col,
                            vars: false,
                            parents: vec![],
                        })
                        .parents
                        .push(group.clone());
                }
            }
        }
    }
    if let Some((name, p)) = pending.first() {
        let msg = if p.vars {
            format!("section [{name}:vars] is for group `{name}`, which this file never declares (add [{name}] or [{name}:children])")
        } else {
            let parent = p.parents.first().map(String::as_str).unwrap_or("?");
            format!("section [{parent}:children] includes undefined group `{name}`")
        };
        return Err(err(p.line, p.col, msg));
    }
    Ok(())
}

/// `[name]`, `[name:kind]`, optionally followed by a `#` comment.
fn parse_section(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find(']')?;
    let inner = &rest[..close];
    let after = rest[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let (name, kind) = match inner.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (inner, None),
    };
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ']') {
        return None;
    }
    if let Some(k) = kind {
        if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
    }
    Some((name, kind))
}

fn parse_host_line(
    raw: &str,
    lineno: usize,
    group: &str,
    inv: &mut Inventory,
    err: &dyn Fn(usize, usize, String) -> Error,
) -> Result<()> {
    let tokens = shlex_split(raw)
        .map_err(|(col, msg)| err(lineno, col, format!("cannot parse host line: {msg}")))?;
    let Some((pcol, pat)) = tokens.first() else {
        return Ok(());
    };
    if pat.ends_with(':') {
        return Err(err(
            lineno,
            *pcol,
            format!("invalid host pattern `{pat}`: a host cannot end with `:`"),
        ));
    }
    let (hostpat, port) = pattern::parse_address(pat);
    let names =
        pattern::expand_hostname_range(&hostpat).map_err(|e| err(lineno, *pcol, e.to_string()))?;
    let mut vars = Vec::new();
    for (col, tok) in &tokens[1..] {
        let Some((k, v)) = tok.split_once('=') else {
            return Err(err(
                lineno,
                *col,
                format!("expected key=value host variable, got `{tok}`"),
            ));
        };
        vars.push((k.to_string(), parse_value(v)));
    }
    for name in names {
        inv.add_host(&name, Some(group));
        if let Some(port) = port {
            inv.set_host_var(&name, "ansible_port", Value::from(port));
        }
        for (k, v) in &vars {
            inv.set_host_var(&name, k, v.clone());
        }
    }
    Ok(())
}

/// POSIX shell-like splitting (Python's `shlex.split(line, comments=True)`): quotes,
/// backslash escapes, `#` comments. Each token comes with its 1-based column; an error
/// carries the column of the construct that is not closed.
pub fn shlex_split(line: &str) -> std::result::Result<Vec<(usize, String)>, (usize, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let start = i;
        let mut tok = String::new();
        while i < chars.len() && !chars[i].is_whitespace() {
            match chars[i] {
                '#' => {
                    out.push((start + 1, std::mem::take(&mut tok)));
                    return Ok(out);
                }
                '\\' => {
                    if i + 1 >= chars.len() {
                        return Err((i + 1, "no character after `\\`".into()));
                    }
                    tok.push(chars[i + 1]);
                    i += 2;
                }
                '\'' => {
                    let open = i;
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        tok.push(chars[i]);
                        i += 1;
                    }
                    if i >= chars.len() {
                        return Err((open + 1, "no closing quotation".into()));
                    }
                    i += 1;
                }
                '"' => {
                    let open = i;
                    i += 1;
                    loop {
                        if i >= chars.len() {
                            return Err((open + 1, "no closing quotation".into()));
                        }
                        match chars[i] {
                            '"' => {
                                i += 1;
                                break;
                            }
                            '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '"' | '\\') => {
                                tok.push(chars[i + 1]);
                                i += 2;
                            }
                            c => {
                                tok.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                c => {
                    tok.push(c);
                    i += 1;
                }
            }
        }
        out.push((start + 1, tok));
    }
    Ok(out)
}

/// An INI value: a Python literal when it is one (Ansible uses `ast.literal_eval`),
/// else the string itself.
pub fn parse_value(v: &str) -> Value {
    py_literal(v).unwrap_or_else(|| Value::String(v.to_string()))
}

/// Python literal syntax: numbers, strings (with prefixes, escapes, implicit
/// concatenation), True/False/None, lists, tuples, dicts, sets; `#` comments.
fn py_literal(s: &str) -> Option<Value> {
    let mut p = Py {
        c: s.chars().collect(),
        i: 0,
    };
    p.ws();
    let v = p.expr()?;
    p.ws();
    (p.i == p.c.len()).then_some(v)
}

struct Py {
    c: Vec<char>,
    i: usize,
}

impl Py {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn peek_at(&self, off: usize) -> Option<char> {
        self.c.get(self.i + off).copied()
    }
    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                self.i = self.c.len();
            } else if c.is_whitespace() {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Value> {
        match self.peek()? {
            '+' | '-' => {
                let neg = self.peek() == Some('-');
                self.i += 1;
                self.ws();
                let v = self.expr()?;
                let n = match v {
                    Value::Number(n) => n,
                    _ => return None,
                };
                if !neg {
                    return Some(Value::Number(n));
                }
                if let Some(i) = n.as_i64() {
                    return i.checked_neg().map(Value::from);
                }
                if let Some(u) = n.as_u64() {
                    return if u == 1u64 << 63 {
                        Some(Value::from(i64::MIN))
                    } else {
                        None
                    };
                }
                Number::from_f64(-n.as_f64()?).map(Value::Number)
            }
            '[' => {
                self.i += 1;
                Some(Value::Array(self.items(']')?))
            }
            '(' => {
                self.i += 1;
                self.ws();
                if self.eat(')') {
                    return Some(Value::Array(vec![]));
                }
                let first = self.expr()?;
                self.ws();
                if self.eat(')') {
                    return Some(first);
                }
                if !self.eat(',') {
                    return None;
                }
                let mut rest = self.items(')')?;
                rest.insert(0, first);
                Some(Value::Array(rest))
            }
            '{' => {
                self.i += 1;
                self.ws();
                if self.eat('}') {
                    return Some(Value::Object(Map::new()));
                }
                let first = self.expr()?;
                self.ws();
                if self.eat(':') {
                    let mut map = Map::new();
                    self.ws();
                    let v = self.expr()?;
                    map.insert(py_key(first)?, v);
                    loop {
                        self.ws();
                        if self.eat('}') {
                            return Some(Value::Object(map));
                        }
                        if !self.eat(',') {
                            return None;
                        }
                        self.ws();
                        if self.eat('}') {
                            return Some(Value::Object(map));
                        }
                        let k = self.expr()?;
                        self.ws();
                        if !self.eat(':') {
                            return None;
                        }
                        self.ws();
                        let v = self.expr()?;
                        map.insert(py_key(k)?, v);
                    }
                }
                // A set: a list in JSON.
                if self.eat('}') {
                    return Some(Value::Array(vec![first]));
                }
                if !self.eat(',') {
                    return None;
                }
                let mut rest = self.items('}')?;
                rest.insert(0, first);
                Some(Value::Array(rest))
            }
            c if c == '\'' || c == '"' || self.string_prefix_len().is_some() => self.strings(),
            c if c.is_ascii_digit()
                || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.number()
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                let word: String = self.c[start..self.i].iter().collect();
                match word.as_str() {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Comma-separated items up to `close` (trailing comma allowed); after the opener.
    fn items(&mut self, close: char) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.eat(close) {
                return Some(out);
            }
            out.push(self.expr()?);
            self.ws();
            if self.eat(close) {
                return Some(out);
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    /// Length of a string prefix (`r`, `u`, `b`, `br`, `rb`) directly before a quote.
    fn string_prefix_len(&self) -> Option<usize> {
        let mut n = 0;
        while n < 2 && self.peek_at(n).is_some_and(|c| "rRuUbB".contains(c)) {
            n += 1;
        }
        if n == 0 || !matches!(self.peek_at(n), Some('\'' | '"')) {
            return None;
        }
        let p: String = self.c[self.i..self.i + n]
            .iter()
            .collect::<String>()
            .to_lowercase();
        matches!(p.as_str(), "r" | "u" | "b" | "br" | "rb").then_some(n)
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        let mut kind: Option<bool> = None; // Some(true): bytes
        loop {
            let n = self.string_prefix_len().unwrap_or(0);
            if n == 0 && !matches!(self.peek(), Some('\'' | '"')) {
                break;
            }
            let prefix: String = self.c[self.i..self.i + n]
                .iter()
                .collect::<String>()
                .to_lowercase();
            self.i += n;
            let bytes = prefix.contains('b');
            if kind.is_some_and(|k| k != bytes) {
                return None;
            }
            kind = Some(bytes);
            out.push_str(&self.string_body(prefix.contains('r'), bytes)?);
            self.ws();
        }
        Some(Value::String(out))
    }

    fn string_body(&mut self, raw: bool, bytes: bool) -> Option<String> {
        let q = self.peek()?;
        let triple = self.peek_at(1) == Some(q) && self.peek_at(2) == Some(q);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == q && (!triple || (self.peek_at(1) == Some(q) && self.peek_at(2) == Some(q))) {
                self.i += if triple { 3 } else { 1 };
                return Some(out);
            }
            if c == '\n' && !triple {
                return None;
            }
            if c != '\\' {
                out.push(c);
                self.i += 1;
                continue;
            }
            let e = self.peek_at(1)?;
            self.i += 2;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(e),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\x0b'),
                '0'..='7' => {
                    let mut v = e.to_digit(8)?;
                    for _ in 0..2 {
                        match self.peek().and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                self.i += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(v)?);
                }
                'x' => out.push(self.hex_escape(2)?),
                'u' if !bytes => out.push(self.hex_escape(4)?),
                'U' if !bytes => out.push(self.hex_escape(8)?),
                'N' if !bytes => return None,
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, n: usize) -> Option<char> {
        let s: String = self.c.get(self.i..self.i + n)?.iter().collect();
        let v = u32::from_str_radix(&s, 16).ok()?;
        self.i += n;
        char::from_u32(v)
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let radix = match (self.peek(), self.peek_at(1).map(|c| c.to_ascii_lowercase())) {
            (Some('0'), Some('x')) => 16,
            (Some('0'), Some('o')) => 8,
            (Some('0'), Some('b')) => 2,
            _ => 10,
        };
        if radix != 10 {
            self.i += 2;
            let ds = self.i;
            while self.peek().is_some_and(|c| c.is_digit(radix) || c == '_') {
                self.i += 1;
            }
            let digits: String = self.c[ds..self.i].iter().collect();
            if !valid_underscores(&digits) || self.peek().is_some_and(|c| c.is_alphanumeric()) {
                return None;
            }
            return int_value(i128::from_str_radix(&digits.replace('_', ""), radix).ok()?);
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
            self.i += 1;
        }
        let mut is_float = false;
        if self.peek() == Some('.') {
            is_float = true;
            self.i += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.i;
            self.i += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.i += 1;
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
                    self.i += 1;
                }
            } else {
                self.i = save;
                return None;
            }
        }
        if self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            return None; // 1j (complex), 1abc, 1.2.3
        }
        let text: String = self.c[start..self.i].iter().collect();
        for part in text.split(['.', 'e', 'E', '+', '-']) {
            if !valid_underscores(part) {
                return None;
            }
        }
        let clean = text.replace('_', "");
        if is_float {
            return Number::from_f64(clean.parse().ok()?).map(Value::Number);
        }
        // Python 3 refuses leading zeros in non-zero decimal integers (`0644`).
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return None;
        }
        int_value(clean.parse().ok()?)
    }
}

fn valid_underscores(s: &str) -> bool {
    !s.starts_with('_') && !s.ends_with('_') && !s.contains("__")
}

fn int_value(i: i128) -> Option<Value> {
    if let Ok(v) = i64::try_from(i) {
        return Some(Value::from(v));
    }
    u64::try_from(i).ok().map(Value::from)
}

/// A Python dict key as a JSON key (Ansible renders non-string keys as text).
fn py_key(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if b { "True".into() } else { "False".into() }),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Inventory {
        let mut inv = Inventory::new();
        parse(text, Path::new("hosts.ini"), &mut inv).unwrap();
        inv.reconcile().unwrap();
        inv
    }

    fn load_err(text: &str) -> String {
        let mut inv = Inventory::new();
        parse(text, Path::new("hosts.ini"), &mut inv)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn python_literals() {
        assert_eq!(parse_value("22"), json!(22));
        assert_eq!(parse_value("-5"), json!(-5));
        assert_eq!(parse_value("1_000"), json!(1000));
        assert_eq!(parse_value("0x1f"), json!(31));
        assert_eq!(parse_value("0o644"), json!(420));
        assert_eq!(parse_value("0644"), json!("0644"));
        assert_eq!(parse_value("00"), json!(0));
        assert_eq!(parse_value("1.5"), json!(1.5));
        assert_eq!(parse_value("1e3"), json!(1000.0));
        assert_eq!(parse_value("True"), json!(true));
        assert_eq!(parse_value("true"), json!("true"));
        assert_eq!(parse_value("yes"), json!("yes"));
        assert_eq!(parse_value("None"), json!(null));
        assert_eq!(parse_value("'quoted'"), json!("quoted"));
        assert_eq!(parse_value(r#""a\tb""#), json!("a\tb"));
        assert_eq!(parse_value(r#"'a' "b""#), json!("ab"));
        assert_eq!(parse_value(r"r'\d+'"), json!(r"\d+"));
        assert_eq!(parse_value("[1, 'two', [3]]"), json!([1, "two", [3]]));
        assert_eq!(parse_value("(1,)"), json!([1]));
        assert_eq!(parse_value("(1)"), json!(1));
        assert_eq!(
            parse_value("{'a': 1, 2: [True]}"),
            json!({"a": 1, "2": [true]})
        );
        assert_eq!(parse_value("{1, 2}"), json!([1, 2]));
        assert_eq!(parse_value("5 # comment"), json!(5));
        assert_eq!(parse_value("hello world"), json!("hello world"));
        assert_eq!(parse_value("1.2.3.4"), json!("1.2.3.4"));
        assert_eq!(parse_value("1j"), json!("1j"));
        assert_eq!(parse_value("{{ foo }}"), json!("{{ foo }}"));
        assert_eq!(parse_value("'unterminated"), json!("'unterminated"));
        assert_eq!(parse_value("-True"), json!("-True"));
        assert_eq!(parse_value(""), json!(""));
        assert_eq!(parse_value("/usr/bin/python3"), json!("/usr/bin/python3"));
    }

    #[test]
    fn shlex() {
        let t = shlex_split(r#"  host a="b c" d='e f' g=h\ i # comment"#).unwrap();
        let toks: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(toks, ["host", "a=b c", "d=e f", "g=h i"]);
        assert_eq!(t[0].0, 3);
        assert_eq!(t[1].0, 8);
        assert_eq!(shlex_split(r#"a="x\"y\n""#).unwrap()[0].1, r#"a=x"y\n"#);
        assert_eq!(shlex_split("a b#c").unwrap().len(), 2);
        assert_eq!(shlex_split(r#"h a="open"#).unwrap_err().0, 5);
    }

    #[test]
    fn sections_hosts_vars_children() {
        let inv = load(
            "# comment\n; also\nlone\n\n[web]\nweb[1:2] http_port=8080 name=\"a b\"\ndb.example.com:2222 ansible_user=bob\n\
             [web:vars]\nproxy = http://p:3128\nflag=True\n[prod:children]\nweb\n[prod:vars]\nenv=prod # not a comment\n",
        );
        assert_eq!(inv.group_hosts("web"), ["web1", "web2", "db.example.com"]);
        assert_eq!(inv.group_hosts("prod"), ["web1", "web2", "db.example.com"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["lone"]);
        assert_eq!(inv.hosts["web1"].vars["http_port"], json!(8080));
        assert_eq!(inv.hosts["web2"].vars["name"], json!("a b"));
        assert_eq!(
            inv.hosts["db.example.com"].vars["ansible_port"],
            json!(2222)
        );
        assert_eq!(inv.groups["web"].vars["proxy"], json!("http://p:3128"));
        assert_eq!(inv.groups["web"].vars["flag"], json!(true));
        assert_eq!(
            inv.groups["prod"].vars["env"],
            json!("prod # not a comment")
        );
    }

    #[test]
    fn quoted_host_values_are_literals_too() {
        // shlex removes the quotes before literal_eval sees the value, as in Ansible.
        let inv = load("[g]\nh a='True' b=\"[1, 2]\" c=\"'s'\"\n");
        assert_eq!(inv.hosts["h"].vars["a"], json!(true));
        assert_eq!(inv.hosts["h"].vars["b"], json!([1, 2]));
        assert_eq!(inv.hosts["h"].vars["c"], json!("s"));
    }

    #[test]
    fn children_declared_before_group() {
        let inv = load("[prod:children]\nweb\n[web]\nw1\n");
        assert_eq!(inv.groups["prod"].children, ["web"]);
        assert_eq!(inv.group_names("w1"), ["prod", "web"]);
    }

    #[test]
    fn vars_before_group_is_fine_when_declared_later() {
        let inv = load("[web:vars]\nx=1\n[web]\nw1\n");
        assert_eq!(inv.groups["web"].vars["x"], json!(1));
    }

    #[test]
    fn errors_have_positions() {
        let e = load_err("[web]\nw1\n  w2 novalue\n");
        assert!(
            e.starts_with("hosts.ini:3:6: expected key=value host variable, got `novalue`"),
            "{e}"
        );
        let e = load_err("[web:vars]\nx=1\n");
        assert!(
            e.starts_with("hosts.ini:1:1: section [web:vars] is for group `web`"),
            "{e}"
        );
        let e = load_err("[prod:children]\nweb\n");
        assert!(
            e.starts_with("hosts.ini:2:1: section [prod:children] includes undefined group `web`"),
            "{e}"
        );
        let e = load_err("[web:hostz]\n");
        assert!(
            e.contains("hosts.ini:1:1: section [web:hostz] has unknown type"),
            "{e}"
        );
        let e = load_err("[web group]\n");
        assert!(e.contains("hosts.ini:1:1: invalid section"), "{e}");
        let e = load_err("[web]\nw[01:100]\n");
        assert!(
            e.starts_with("hosts.ini:2:1: host range must specify equal-length"),
            "{e}"
        );
        let e = load_err("[web]\nw1 a=\"x\n");
        assert!(
            e.starts_with("hosts.ini:2:6: cannot parse host line: no closing quotation"),
            "{e}"
        );
        let e = load_err("[a]\nh\n[b:children]\na\n[a:children]\nb\n");
        assert!(
            e.starts_with(
                "hosts.ini:6:1: adding group `b` as a child of `a` creates a dependency loop"
            ),
            "{e}"
        );
        let e = load_err("[web]\nhost:\n");
        assert!(
            e.contains("hosts.ini:2:1: invalid host pattern `host:`"),
            "{e}"
        );
    }

    #[test]
    fn crlf_and_comments_after_sections() {
        let inv = load("[web] # the web tier\r\nw1\r\n");
        assert_eq!(inv.group_hosts("web"), ["w1"]);
    }
}
