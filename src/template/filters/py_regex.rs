//! Regular expressions with Python `re` syntax.

use super::*;

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
pub(crate) fn regex_lite_quantifier(s: &str) -> Option<(usize, String)> {
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

pub(crate) enum ReplPart {
    Lit(String),
    Group(usize),
    Named(String),
}

/// Parses a Python `re.sub` replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\\`).
pub(crate) fn parse_py_replacement(repl: &str, re: &regex::Regex) -> Result<Vec<ReplPart>, Error> {
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

pub(crate) fn expand_replacement(parts: &[ReplPart], caps: &regex::Captures<'_>, out: &mut String) {
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
pub(crate) fn regex_replace(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
pub(crate) fn regex_search(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
pub(crate) fn regex_findall(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
pub(crate) fn regex_escape(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
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
