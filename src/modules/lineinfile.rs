//! The `lineinfile` module: makes sure one line is in a file (or is not).
//!
//! The file is read in one exchange ([`util::read_for_edit`]), the new content is
//! computed on the controller by [`present`] / [`absent`] (a port of Ansible's algorithm,
//! including `insertafter`/`insertbefore`, `backrefs` and `firstmatch`), and written
//! back only when it differs ([`util::apply_edit`]: atomic, with attributes, backup and
//! validation).

use super::util::{self, Attrs, Edit};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;
use regex::bytes::Regex;

/// Where to insert a line that is not there yet.
#[derive(Debug, Clone)]
pub enum Insert {
    Bof,
    Eof,
    Re(Regex),
}

/// What `state: present` looks for and inserts.
#[derive(Debug, Clone)]
pub struct Present<'a> {
    pub regexp: Option<Regex>,
    pub search_string: Option<&'a [u8]>,
    pub line: &'a [u8],
    pub insertafter: Option<Insert>,
    pub insertbefore: Option<Insert>,
    pub backrefs: bool,
    pub firstmatch: bool,
}

fn rstrip_crlf(l: &[u8]) -> &[u8] {
    let mut end = l.len();
    while end > 0 && (l[end - 1] == b'\n' || l[end - 1] == b'\r') {
        end -= 1;
    }
    &l[..end]
}

fn no_nl(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}

fn ends_with_nl(l: &[u8]) -> bool {
    matches!(l.last(), Some(b'\n') | Some(b'\r'))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn with_nl(l: &[u8]) -> Vec<u8> {
    let mut v = l.to_vec();
    v.push(b'\n');
    v
}

/// `state: present` on the file's lines; returns the message (empty: nothing to do).
pub fn present(lines: &mut Vec<Vec<u8>>, p: &Present<'_>) -> &'static str {
    let ins_re = match (&p.insertafter, &p.insertbefore) {
        (Some(Insert::Re(r)), _) => Some(r),
        (None, Some(Insert::Re(r))) => Some(r),
        _ => None,
    };
    let mut index: [isize; 2] = [-1, -1];
    let mut matched: Option<Vec<u8>> = None; // the expanded line when backrefs matched
    let mut found = false;

    if let Some(re) = &p.regexp {
        for (n, l) in lines.iter().enumerate() {
            if let Some(caps) = re.captures(no_nl(l)) {
                index[0] = n as isize;
                found = true;
                matched = Some(if p.backrefs {
                    util::py_expand(&caps, p.line)
                } else {
                    p.line.to_vec()
                });
                if p.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(ss) = p.search_string {
        for (n, l) in lines.iter().enumerate() {
            if contains(l, ss) {
                index[0] = n as isize;
                found = true;
                if p.firstmatch {
                    break;
                }
            }
        }
    }
    if !found {
        for (n, l) in lines.iter().enumerate() {
            if rstrip_crlf(l) == p.line {
                index[0] = n as isize;
            } else if let Some(re) = ins_re {
                if re.is_match(no_nl(l)) {
                    if p.insertafter.is_some() {
                        index[1] = n as isize + 1;
                        if p.firstmatch {
                            break;
                        }
                    }
                    if p.insertbefore.is_some() {
                        index[1] = n as isize;
                        if p.firstmatch {
                            break;
                        }
                    }
                }
            }
        }
    }

    let is_after_eof = matches!(p.insertafter, Some(Insert::Eof));
    let is_bof =
        matches!(p.insertbefore, Some(Insert::Bof)) || matches!(p.insertafter, Some(Insert::Bof));
    if index[0] != -1 {
        let mut new_line = match (&matched, p.backrefs) {
            (Some(m), true) => m.clone(),
            _ => p.line.to_vec(),
        };
        if !new_line.ends_with(b"\n") {
            new_line.push(b'\n');
        }
        let i = index[0] as usize;
        if lines[i] != new_line {
            lines[i] = new_line;
            return "line replaced";
        }
        return "";
    }
    if p.backrefs {
        // Not safe to build the line without the regexp's groups.
        return "";
    }
    if is_bof {
        lines.insert(0, with_nl(p.line));
        return "line added";
    }
    if is_after_eof || index[1] == -1 {
        if let Some(last) = lines.last() {
            if !ends_with_nl(last) {
                lines.push(b"\n".to_vec());
            }
        }
        lines.push(with_nl(p.line));
        return "line added";
    }
    let at = index[1] as usize;
    if p.insertafter.is_some() {
        if lines.len() == at {
            if rstrip_crlf(&lines[at - 1]) != p.line {
                lines.push(with_nl(p.line));
                return "line added";
            }
            return "";
        }
        if p.line != rstrip_crlf(&lines[at]) {
            lines.insert(at, with_nl(p.line));
            return "line added";
        }
        return "";
    }
    lines.insert(at, with_nl(p.line));
    "line added"
}

/// `state: absent`: removes every line matching `regexp`, containing `search_string`,
/// or equal to `line`; returns how many were removed.
pub fn absent(
    lines: &mut Vec<Vec<u8>>,
    regexp: Option<&Regex>,
    search_string: Option<&[u8]>,
    line: Option<&[u8]>,
) -> usize {
    let before = lines.len();
    lines.retain(|l| {
        let m = if let Some(re) = regexp {
            re.is_match(no_nl(l))
        } else if let Some(ss) = search_string {
            contains(l, ss)
        } else {
            Some(rstrip_crlf(l)) == line
        };
        !m
    });
    before - lines.len()
}

fn insert_arg(args: &Args, key: &str) -> Result<Option<Insert>, ModuleError> {
    Ok(match args.str(key) {
        None => None,
        Some(s) if s == "EOF" => Some(Insert::Eof),
        Some(s) if s == "BOF" => Some(Insert::Bof),
        Some(s) => Some(Insert::Re(util::py_regex(&s, false)?)),
    })
}

pub struct LineInFile;

#[async_trait]
impl Module for LineInFile {
    fn name(&self) -> &'static str {
        "lineinfile"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path",
            "dest",
            "destfile",
            "name",
            "state",
            "regexp",
            "regex",
            "search_string",
            "line",
            "value",
            "insertafter",
            "insertbefore",
            "backrefs",
            "create",
            "backup",
            "firstmatch",
            "validate",
            "owner",
            "group",
            "mode",
            "unsafe_writes",
            "attributes",
            "seuser",
            "serole",
            "setype",
            "selevel",
            "others",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let path = util::expand_user(
            ctx,
            &args.req_str_any(&["path", "dest", "destfile", "name"])?,
        )
        .await?;
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let regexp_s = args.str_any(&["regexp", "regex"]);
        let search_string = args.str("search_string");
        let line = args.str_any(&["line", "value"]);
        let backrefs = args.bool_or("backrefs", false)?;
        let create = args.bool_or("create", false)?;
        if args.has("insertafter") && args.has("insertbefore") {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: insertbefore|insertafter",
            ));
        }
        if regexp_s.is_some() && search_string.is_some() {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: regexp|search_string",
            ));
        }
        if backrefs && search_string.is_some() {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: backrefs|search_string",
            ));
        }
        let regexp = regexp_s
            .as_deref()
            .map(|r| util::py_regex(r, false))
            .transpose()?;
        let attrs = Attrs::from_args(args)?;

        let present_state = match state.as_str() {
            "present" => true,
            "absent" => false,
            s => {
                return Err(ModuleError::failed(format!(
                    "value of state must be one of: absent, present, got: {s}"
                )))
            }
        };
        if present_state {
            if backrefs && regexp.is_none() {
                return Err(ModuleError::failed("regexp is required with backrefs=true"));
            }
            if line.is_none() {
                return Err(ModuleError::failed("line is required with state=present"));
            }
        } else if regexp.is_none() && search_string.is_none() && line.is_none() {
            return Err(ModuleError::failed(
                "one of line, search_string, or regexp is required with state=absent",
            ));
        }

        let target = util::read_for_edit(ctx, &path, true, present_state && create, &attrs).await?;
        let original = match &target.content {
            Some(c) => c.clone(),
            None if !present_state => {
                return Ok(Outcome::changed(false)
                    .with("msg", "file not present")
                    .with_msg("file not present"))
            }
            None if !create => {
                return Ok(
                    Outcome::failed(format!("Destination {path} does not exist !")).with("rc", 257),
                );
            }
            None => Vec::new(),
        };
        let mut lines = util::split_lines(&original);
        let (msg, found) = if present_state {
            let mut insertafter = insert_arg(args, "insertafter")?;
            let insertbefore = insert_arg(args, "insertbefore")?;
            if insertafter.is_none() && insertbefore.is_none() {
                insertafter = Some(Insert::Eof);
            }
            let line_b = line.as_deref().unwrap_or_default().as_bytes();
            let p = Present {
                regexp,
                search_string: search_string.as_deref().map(str::as_bytes),
                line: line_b,
                insertafter,
                insertbefore,
                backrefs,
                firstmatch: args.bool_or("firstmatch", false)?,
            };
            (present(&mut lines, &p).to_string(), None)
        } else {
            let n = absent(
                &mut lines,
                regexp.as_ref(),
                search_string.as_deref().map(str::as_bytes),
                line.as_deref().map(str::as_bytes),
            );
            (
                if n > 0 {
                    format!("{n} line(s) removed")
                } else {
                    String::new()
                },
                Some(n),
            )
        };
        if msg.is_empty() && target.content.is_none() {
            // Nothing to add (backrefs without a match): the file is not created.
            return Ok(Outcome::changed(false).with("msg", "").with("path", path));
        }
        let after: Vec<u8> = lines.concat();
        let mut o = util::apply_edit(
            ctx,
            &Edit {
                path: &path,
                target: &target,
                after: &after,
                attrs,
                backup: args.bool_or("backup", false)?,
                validate: args.str("validate"),
                msg,
            },
        )
        .await?;
        if let Some(n) = found {
            o = o.with("found", n);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_present(text: &str, f: impl FnOnce(&mut Present<'_>)) -> (String, &'static str) {
        let mut lines = util::split_lines(text.as_bytes());
        let line = b"X=1".to_vec();
        let mut p = Present {
            regexp: None,
            search_string: None,
            line: &line,
            insertafter: Some(Insert::Eof),
            insertbefore: None,
            backrefs: false,
            firstmatch: false,
        };
        f(&mut p);
        let msg = present(&mut lines, &p);
        (String::from_utf8(lines.concat()).unwrap(), msg)
    }

    fn re(s: &str) -> Regex {
        util::py_regex(s, false).unwrap()
    }

    #[test]
    fn appends_at_eof_once() {
        assert_eq!(
            run_present("a\nb\n", |_| {}),
            ("a\nb\nX=1\n".into(), "line added")
        );
        assert_eq!(
            run_present("a\nX=1\nb\n", |_| {}),
            ("a\nX=1\nb\n".into(), "")
        );
        assert_eq!(run_present("a", |_| {}), ("a\nX=1\n".into(), "line added"));
        assert_eq!(run_present("", |_| {}), ("X=1\n".into(), "line added"));
    }

    #[test]
    fn replaces_last_regexp_match() {
        let (t, m) = run_present("X=0\na\nX=2\n", |p| p.regexp = Some(re("^X=")));
        assert_eq!((t.as_str(), m), ("X=0\na\nX=1\n", "line replaced"));
        let (t, _) = run_present("X=0\na\nX=2\n", |p| {
            p.regexp = Some(re("^X="));
            p.firstmatch = true
        });
        assert_eq!(t, "X=1\na\nX=2\n");
        assert_eq!(run_present("X=1\n", |p| p.regexp = Some(re("^X="))).1, "");
    }

    #[test]
    fn insert_after_and_before() {
        let (t, _) = run_present("[a]\nk=v\n[b]\n", |p| {
            p.insertafter = Some(Insert::Re(re(r"^\[a\]")))
        });
        assert_eq!(t, "[a]\nX=1\nk=v\n[b]\n");
        let (t, _) = run_present("[a]\nk=v\n[b]\n", |p| {
            p.insertafter = None;
            p.insertbefore = Some(Insert::Re(re(r"^\[b\]")))
        });
        assert_eq!(t, "[a]\nk=v\nX=1\n[b]\n");
        let (t, _) = run_present("a\n", |p| {
            p.insertafter = None;
            p.insertbefore = Some(Insert::Bof)
        });
        assert_eq!(t, "X=1\na\n");
        // insertafter that matches nothing: EOF
        let (t, _) = run_present("a\n", |p| p.insertafter = Some(Insert::Re(re("^zzz"))));
        assert_eq!(t, "a\nX=1\n");
        // idempotent insertafter
        let (t, m) = run_present("[a]\nX=1\nk=v\n", |p| {
            p.insertafter = Some(Insert::Re(re(r"^\[a\]")))
        });
        assert_eq!((t.as_str(), m), ("[a]\nX=1\nk=v\n", ""));
    }

    #[test]
    fn backrefs() {
        let mut lines = util::split_lines(b"host=old\n");
        let p = Present {
            regexp: Some(re("^(host=).*$")),
            search_string: None,
            line: br"\g<1>new",
            insertafter: Some(Insert::Eof),
            insertbefore: None,
            backrefs: true,
            firstmatch: false,
        };
        assert_eq!(present(&mut lines, &p), "line replaced");
        assert_eq!(lines.concat(), b"host=new\n");
        // No match with backrefs: nothing is added.
        let mut lines = util::split_lines(b"other\n");
        assert_eq!(present(&mut lines, &p), "");
        assert_eq!(lines.concat(), b"other\n");
    }

    #[test]
    fn search_string() {
        let (t, m) = run_present("a\nfoo(x)\n", |p| p.search_string = Some(b"foo(x"));
        assert_eq!((t.as_str(), m), ("a\nX=1\n", "line replaced"));
    }

    #[test]
    fn removes_lines() {
        let mut lines = util::split_lines(b"a\nb\na\n");
        assert_eq!(absent(&mut lines, None, None, Some(b"a")), 2);
        assert_eq!(lines.concat(), b"b\n");
        let mut lines = util::split_lines(b"#x\ny\n");
        assert_eq!(absent(&mut lines, Some(&re("^#")), None, None), 1);
        assert_eq!(lines.concat(), b"y\n");
    }
}
