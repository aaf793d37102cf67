//! The `replace` module: replaces every match of a (multi-line) regular expression in a
//! file, optionally only between `after` and `before`.
//!
//! Read in one exchange, substituted on the controller by [`substitute`] (Python's
//! `re.subn` semantics: `\1` / `\g<name>` back-references, `$` literal), written back
//! only when the content differs ([`util::apply_edit`]).

use super::util::{self, Attrs, Edit};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;

/// Replaces every match of `regexp` in `text[section]` with the Python template `repl`.
/// Returns the new text and the number of replacements, or `None` when `after`/`before`
/// did not match.
pub fn substitute(
    text: &[u8],
    regexp: &str,
    repl: &[u8],
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Option<(Vec<u8>, usize)>, ModuleError> {
    let pattern = match (
        after.filter(|a| !a.is_empty()),
        before.filter(|b| !b.is_empty()),
    ) {
        (Some(a), Some(b)) => Some(format!("(?s){a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("(?s){a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?s)(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &pattern {
        Some(p) => {
            let re = util::py_regex(p, false)?;
            match re
                .captures(text)
                .and_then(|c| c.name("subsection").map(|m| (m.start(), m.end())))
            {
                Some(span) => span,
                None => return Ok(None),
            }
        }
        None => (0, text.len()),
    };
    let section = &text[start..end];
    let re = util::py_regex(regexp, true)?;
    let mut out = Vec::with_capacity(text.len());
    out.extend_from_slice(&text[..start]);
    let mut last = 0;
    let mut count = 0;
    for caps in re.captures_iter(section) {
        let m = caps.get(0).unwrap();
        out.extend_from_slice(&section[last..m.start()]);
        out.extend_from_slice(&util::py_expand(&caps, repl));
        last = m.end();
        count += 1;
    }
    out.extend_from_slice(&section[last..]);
    out.extend_from_slice(&text[end..]);
    Ok(Some((out, count)))
}

pub struct Replace;

#[async_trait]
impl Module for Replace {
    fn name(&self) -> &'static str {
        "replace"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path",
            "dest",
            "destfile",
            "name",
            "regexp",
            "replace",
            "after",
            "before",
            "backup",
            "validate",
            "encoding",
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
        let regexp = args.req_str("regexp")?;
        let repl = args.str("replace").unwrap_or_default();
        let attrs = Attrs::from_args(args)?;
        let target = util::read_for_edit(ctx, &path, true, false, &attrs).await?;
        let Some(text) = target.content.as_deref() else {
            return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257));
        };
        let after_s = args.str("after");
        let before_s = args.str("before");
        let (after, msg) = match substitute(
            text,
            &regexp,
            repl.as_bytes(),
            after_s.as_deref(),
            before_s.as_deref(),
        )? {
            None => {
                let msg =
                    "Pattern for before/after params did not match the given file".to_string();
                return Ok(Outcome::changed(false)
                    .with("msg", msg.clone())
                    .with("rc", 0)
                    .with_msg(msg));
            }
            Some((new, n)) if n > 0 && new != text => (new, format!("{n} replacements made")),
            Some(_) => (text.to_vec(), String::new()),
        };
        let o = util::apply_edit(
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
        Ok(o.with("rc", 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(
        text: &str,
        re: &str,
        repl: &str,
        after: Option<&str>,
        before: Option<&str>,
    ) -> Option<(String, usize)> {
        substitute(text.as_bytes(), re, repl.as_bytes(), after, before)
            .unwrap()
            .map(|(t, n)| (String::from_utf8(t).unwrap(), n))
    }

    #[test]
    fn multiline_with_backrefs() {
        let t = "ListenAddress 1.2.3.4\nPort 22\nListenAddress ::\n";
        assert_eq!(
            sub(
                t,
                r"^(ListenAddress[ ]+)[^\n]+$",
                r"\g<1>0.0.0.0",
                None,
                None
            ),
            Some((
                "ListenAddress 0.0.0.0\nPort 22\nListenAddress 0.0.0.0\n".into(),
                2
            ))
        );
        assert_eq!(
            sub("a=1\n", r"^(a)=(\d)$", r"\2=\1 $1", None, None),
            Some(("1=a $1\n".into(), 1))
        );
    }

    #[test]
    fn sections() {
        let t = "x\n[a]\nx\n[b]\nx\n";
        assert_eq!(
            sub(t, "^x$", "y", Some(r"\[a\]"), Some(r"\[b\]")),
            Some(("x\n[a]\ny\n[b]\nx\n".into(), 1))
        );
        assert_eq!(
            sub(t, "^x$", "y", Some(r"\[a\]"), None),
            Some(("x\n[a]\ny\n[b]\ny\n".into(), 2))
        );
        assert_eq!(
            sub(t, "^x$", "y", None, Some(r"\[a\]")),
            Some(("y\n[a]\nx\n[b]\nx\n".into(), 1))
        );
        assert_eq!(sub(t, "^x$", "y", Some("nomatch"), None), None);
    }

    #[test]
    fn no_match_means_no_change() {
        assert_eq!(
            sub("abc\n", "zzz", "y", None, None),
            Some(("abc\n".into(), 0))
        );
    }
}
