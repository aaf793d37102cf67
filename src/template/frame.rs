//! The debug frame of a template error: the template lines around the failing one, a
//! caret under the failing expression, and the names of the variables it uses. Values
//! are left out on purpose: they may be secrets (a vault value, a password).

/// Builds the frame from minijinja's debug information (the template source and the
/// failing span). `None` when minijinja has no source for the error.
pub fn frame(e: &minijinja::Error) -> Option<String> {
    let src = e.template_source()?;
    let line = e.line()?;
    let lines: Vec<&str> = src.lines().collect();
    if line == 0 || line > lines.len() {
        return None;
    }
    let mut out = String::new();
    let first = line.saturating_sub(2).max(1);
    let width = line.to_string().len();
    for n in first..=line {
        out.push_str(&format!("  {n:>width$} | {}\n", lines[n - 1]));
    }
    let mut used = Vec::new();
    if let Some(r) = e.range() {
        // the span's columns on its line (spans may cross lines: underline to its end)
        let line_start: usize = lines[..line - 1].iter().map(|l| l.len() + 1).sum();
        let text = lines[line - 1];
        let start = r.start.saturating_sub(line_start).min(text.len());
        let end = r
            .end
            .saturating_sub(line_start)
            .clamp(start + 1, text.len().max(start + 1));
        let pad: String = text[..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        out.push_str(&format!(
            "  {:>width$} | {pad}{}\n",
            "",
            "^".repeat(end - start)
        ));
        if let Some(span) = src.get(r.start..r.end) {
            used = variables_in(span);
        }
    }
    if used.is_empty() {
        used = variables_in(lines[line - 1]);
    }
    if !used.is_empty() {
        out.push_str(&format!("  variables used: {}\n", used.join(", ")));
    }
    Some(out.trim_end().to_string())
}

/// Top-level variable names an expression reads: identifiers outside string literals,
/// not attribute names (`.x`), not filter or test names (`| x`, `is x`), not keywords.
pub fn variables_in(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "elif",
        "endif",
        "for",
        "endfor",
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "set",
        "endset",
        "block",
        "endblock",
        "extends",
        "include",
        "import",
        "from",
        "as",
        "with",
        "without",
        "context",
        "macro",
        "endmacro",
        "call",
        "endcall",
        "filter",
        "endfilter",
        "raw",
        "endraw",
        "loop",
        "recursive",
    ];
    let b = expr.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let mut prev_sig = b' '; // last non-space byte before the current token
    let mut prev_word = String::new();
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            let q = c;
            i += 1;
            while i < b.len() && b[i] != q {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            prev_sig = q;
            prev_word.clear();
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &expr[s..i];
            let is_attr = prev_sig == b'.';
            let is_filter = prev_sig == b'|' || prev_word == "is";
            let is_kwarg = expr[i..].trim_start().starts_with('=')
                && !expr[i..].trim_start().starts_with("==");
            let is_call = expr[i..].trim_start().starts_with('(');
            if !is_attr
                && !is_filter
                && !is_kwarg
                && !is_call
                && !KEYWORDS.contains(&word)
                && !out.iter().any(|w| w == word)
            {
                out.push(word.to_string());
            }
            prev_word = word.to_string();
            prev_sig = b'a';
            continue;
        }
        if !c.is_ascii_whitespace() {
            prev_sig = c;
            if c != b'.' {
                prev_word.clear();
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_variables_not_attributes_filters_or_strings() {
        assert_eq!(
            variables_in("{{ upstream.host | default(fallback, true) ~ 'x.y' }}"),
            ["upstream", "fallback"]
        );
        assert_eq!(
            variables_in("port is defined and port > limit"),
            ["port", "limit"]
        );
        assert_eq!(variables_in("lookup('env', 'HOME') ~ d['k']"), ["d"]);
    }

    #[test]
    fn frame_shows_the_line_a_caret_and_names_without_values() {
        let mut env = minijinja::Environment::new();
        env.set_debug(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template("t", "a {{ ok }}\nb\nport {{ server.port + secret_base }}\n")
            .unwrap();
        let ctx = minijinja::context! { ok => 1, secret_base => "hunter2", server => minijinja::context!{} };
        let e = env.get_template("t").unwrap().render(ctx).unwrap_err();
        let f = frame(&e).expect("a frame");
        assert!(
            f.contains("3 | port {{ server.port + secret_base }}"),
            "{f}"
        );
        assert!(f.contains('^'), "{f}");
        assert!(f.contains("variables used: server"), "{f}");
        assert!(!f.contains("hunter2"), "{f}");
    }
}
