//! Old-style `key=value` argument strings (`apt: name=nginx state=present`), parsed the
//! way Ansible's `parse_kv` does: quotes group words, `{{ }}` is kept whole, words that
//! are not `k=v` form the free-form part.

/// Splits `s` into words, keeping quoted parts and Jinja blocks together (quotes kept).
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if quote.is_none() && (c == '{') && matches!(next, Some('{') | Some('%') | Some('#')) {
            depth += 1;
            cur.push(c);
            cur.push(next.unwrap());
            i += 2;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%' | '#') && next == Some('}') {
            depth -= 1;
            cur.push(c);
            cur.push('}');
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q && (i == 0 || chars[i - 1] != '\\') => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if (c == '"' || c == '\'') && depth == 0 => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner = &s[1..s.len() - 1];
        if b[0] == b'"' {
            return decode_escapes(inner);
        }
        return inner.replace("\\'", "'");
    }
    s.to_string()
}

/// Decodes the escapes Ansible decodes in double-quoted `k="v"` values.
fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Parses `k=v` words. With `free_form`, words that are not `k=v` (and any `k=v` whose
/// key is not in `special` when `free_form_only_special`) become `_raw_params`.
pub fn parse_kv(s: &str, free_form: bool) -> Vec<(String, String)> {
    const SPECIAL: &[&str] = &[
        "creates",
        "removes",
        "chdir",
        "executable",
        "warn",
        "stdin",
        "stdin_add_newline",
        "strip_empty_ends",
    ];
    let mut out = Vec::new();
    let mut raw: Vec<String> = Vec::new();
    for word in split_args(s) {
        let is_kv = match word.find('=') {
            Some(pos) => {
                let key = &word[..pos];
                !key.is_empty()
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && (!free_form || SPECIAL.contains(&key))
            }
            None => false,
        };
        if is_kv {
            let pos = word.find('=').unwrap();
            out.push((word[..pos].to_string(), unquote(&word[pos + 1..])));
        } else {
            raw.push(word);
        }
    }
    if !raw.is_empty() {
        out.push(("_raw_params".to_string(), raw.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_pairs() {
        let kv = parse_kv("name=nginx state=present msg='a b' x=\"{{ y }}\"", false);
        assert_eq!(kv[0], ("name".into(), "nginx".into()));
        assert_eq!(kv[2], ("msg".into(), "a b".into()));
        assert_eq!(kv[3], ("x".into(), "{{ y }}".into()));
    }

    #[test]
    fn free_form_with_specials() {
        let kv = parse_kv(
            "/usr/bin/make install creates=/opt/x chdir=/src FOO=bar",
            true,
        );
        assert!(kv.contains(&("creates".into(), "/opt/x".into())));
        assert!(kv.contains(&("chdir".into(), "/src".into())));
        assert!(kv.contains(&("_raw_params".into(), "/usr/bin/make install FOO=bar".into())));
    }

    #[test]
    fn jinja_kept_whole() {
        let w = split_args("msg={{ a | default('x y') }} other=1");
        assert_eq!(w, vec!["msg={{ a | default('x y') }}", "other=1"]);
    }
}

#[cfg(test)]
mod escape_tests {
    #[test]
    fn double_quoted_values_decode_escapes() {
        let kv = super::parse_kv(r#"content="hello\nworld" dest=/tmp/x"#, false);
        assert_eq!(kv[0].1, "hello\nworld");
    }
}
