//! The one place where values become shell text. Every user value sent to a host goes
//! through [`quote`] (or the [`Script`] builder, which calls it); no module formats user
//! data into a shell string by hand.

use std::fmt::Write as _;

/// Quotes a value for a POSIX shell: `abc` stays as is when it is made of safe
/// characters, anything else is wrapped in single quotes with `'` written as `'\''`.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b':' | b'@' | b'%' | b'+' | b',' | b'='
                )
        })
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quotes every word and joins them with spaces: a command line from typed argv.
pub fn join<I, S>(argv: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    argv.into_iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds a shell script from fixed fragments (written by rdeploy's code) and values
/// (from users), which are always quoted.
///
/// ```
/// use rdeploy::shell::Script;
/// let mut s = Script::new();
/// s.raw("test -f ").arg("/tmp/a b").raw(" && echo yes");
/// assert_eq!(s.as_str(), "test -f '/tmp/a b' && echo yes");
/// ```
#[derive(Debug, Default, Clone)]
pub struct Script {
    text: String,
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }
    /// Appends code written by rdeploy itself (never user data).
    pub fn raw(&mut self, code: &str) -> &mut Self {
        self.text.push_str(code);
        self
    }
    /// Appends one quoted value.
    pub fn arg(&mut self, value: &str) -> &mut Self {
        self.text.push_str(&quote(value));
        self
    }
    /// Appends several quoted values separated by spaces.
    pub fn args<I, S>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut first = true;
        for v in values {
            if !first {
                self.text.push(' ');
            }
            first = false;
            self.text.push_str(&quote(v.as_ref()));
        }
        self
    }
    /// Appends `NAME=quoted-value` (an assignment; the name must be a shell identifier).
    pub fn assign(&mut self, name: &str, value: &str) -> &mut Self {
        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        let _ = write!(self.text, "{}={}", name, quote(value));
        self
    }
    pub fn line(&mut self) -> &mut Self {
        self.text.push('\n');
        self
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }
    pub fn into_string(self) -> String {
        self.text
    }
}

/// Splits a command line the way Python's `shlex.split` does (for `command:` free form).
pub fn split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c)
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn splitting() {
        assert_eq!(
            split("echo 'a b' \"c d\" e\\ f").unwrap(),
            vec!["echo", "a b", "c d", "e f"]
        );
    }
}
