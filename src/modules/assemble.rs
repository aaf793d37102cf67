//! The `assemble` module: a file made of the fragments in a directory, concatenated in
//! name order (as ansible-core: a newline after a fragment that lacks one, `delimiter`
//! between fragments, `regexp` to select names, `ignore_hidden`).
//!
//! With `remote_src: true` (the default) the fragments are read on the host in one
//! exchange (every regular file of `src`, framed by name and size); with `remote_src:
//! false` they come from the controller (`src` looked up in the role's `files/`). The
//! result is written with [`util::put_file`]: compared by hash, atomic, with
//! owner/group/mode, `backup` and `validate`. Check mode predicts without writing (the
//! fragments are still read); diff mode shows the old and new file.

use super::util::{self, Attrs, PutFile};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Param};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Assemble;

const PARAMS: &[&str] = &[
    "src",
    "dest",
    "delimiter",
    "remote_src",
    "regexp",
    "ignore_hidden",
    "backup",
    "validate",
    "decrypt",
    "owner",
    "group",
    "mode",
    "seuser",
    "serole",
    "setype",
    "selevel",
    "unsafe_writes",
    "attributes",
];

const SPEC: &[Param] = &[
    Param::new("src").required(),
    Param::new("dest").required(),
    Param::new("remote_src").default("true"),
    Param::new("ignore_hidden").default("false"),
    Param::new("backup").default("false"),
];

/// One fragment: its file name and content.
pub type Fragment = (Vec<u8>, Vec<u8>);

/// Undoes the escapes ansible-core's `codecs.escape_decode` knows in a delimiter
/// (`\n`, `\t`, `\\`, `\r`, `\0`, `\xHH`).
fn unescape(d: &str) -> Vec<u8> {
    let b = d.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let c = b[i + 1];
            let simple = match c {
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'r' => Some(b'\r'),
                b'0' => Some(0),
                b'\\' => Some(b'\\'),
                b'\'' => Some(b'\''),
                b'"' => Some(b'"'),
                _ => None,
            };
            if let Some(x) = simple {
                out.push(x);
                i += 2;
                continue;
            }
            if c == b'x' && i + 4 <= b.len() {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("");
                if let Ok(v) = u8::from_str_radix(hex, 16) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Concatenates fragments as ansible-core's `assemble_from_fragments` does.
pub fn assemble(
    mut frags: Vec<Fragment>,
    delimiter: Option<&str>,
    regexp: Option<&regex::bytes::Regex>,
    ignore_hidden: bool,
) -> Vec<u8> {
    frags.sort_by(|a, b| a.0.cmp(&b.0));
    let delim = delimiter.map(unescape);
    let mut out = Vec::new();
    let mut delimit = false;
    let mut add_newline = false;
    for (name, content) in frags {
        if regexp.is_some_and(|r| !r.is_match(&name)) {
            continue;
        }
        if ignore_hidden && name.first() == Some(&b'.') {
            continue;
        }
        if add_newline {
            out.push(b'\n');
        }
        if delimit {
            if let Some(d) = delim.as_deref().filter(|d| !d.is_empty()) {
                out.extend_from_slice(d);
                if d.last() != Some(&b'\n') {
                    out.push(b'\n');
                }
            }
        }
        out.extend_from_slice(&content);
        delimit = true;
        add_newline = !content.ends_with(b"\n");
    }
    out
}

/// Parses `name\nsize\n<size bytes>` records.
fn parse_frames(mut data: &[u8]) -> Result<Vec<Fragment>, String> {
    let mut v = Vec::new();
    while !data.is_empty() {
        let nl = data.iter().position(|&b| b == b'\n').ok_or("bad frame")?;
        let name = data[..nl].to_vec();
        data = &data[nl + 1..];
        let nl = data.iter().position(|&b| b == b'\n').ok_or("bad frame")?;
        let size: usize = std::str::from_utf8(&data[..nl])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("bad frame size")?;
        data = &data[nl + 1..];
        if data.len() < size {
            return Err("short fragment".into());
        }
        v.push((name, data[..size].to_vec()));
        data = &data[size..];
    }
    Ok(v)
}

async fn remote_fragments(ctx: &ModuleCtx<'_>, src: &str) -> Result<Vec<Fragment>, ModuleError> {
    let mut s = Script::new();
    s.raw("rd_s=").arg(src).raw("\n");
    s.raw("[ -d \"$rd_s\" ] || { echo \"Source ($rd_s) is not a directory\" >&2; exit 4; }\n");
    s.raw("cd \"$rd_s\" || exit 4\n");
    s.raw("for rd_f in * .*; do [ -f \"$rd_f\" ] || continue; [ -L \"$rd_f\" ] && [ ! -e \"$rd_f\" ] && continue; ");
    s.raw("printf '%s\\n%s\\n' \"$rd_f\" \"$(wc -c < \"$rd_f\" | tr -d ' ')\"; cat -- \"$rd_f\" || exit 4; done\n");
    let out = ctx.run(s.as_str()).await?;
    if out.rc != 0 {
        return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
    }
    parse_frames(&out.stdout)
        .map_err(|e| ModuleError::failed(format!("assemble: reading {src}: {e}")))
}

fn local_fragments(ctx: &ModuleCtx<'_>, src: &str) -> Result<Vec<Fragment>, ModuleError> {
    let dir = ctx.search.find(src, "files").ok_or_else(|| {
        ModuleError::failed(format!("Source ({src}) not found on the controller"))
    })?;
    if !dir.is_dir() {
        return Err(ModuleError::failed(format!(
            "Source ({}) is not a directory",
            dir.display()
        )));
    }
    let mut v = Vec::new();
    let rd = std::fs::read_dir(&dir)
        .map_err(|e| ModuleError::failed(format!("{}: {e}", dir.display())))?;
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_file() {
            continue;
        }
        let (data, _) =
            crate::vault::read_file(&p).map_err(|e| ModuleError::failed(e.to_string()))?;
        use std::os::unix::ffi::OsStrExt;
        v.push((e.file_name().as_bytes().to_vec(), data));
    }
    Ok(v)
}

#[async_trait]
impl Module for Assemble {
    fn name(&self) -> &'static str {
        "assemble"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["dest", "src", "checksum", "size", "backup_file"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("assemble", PARAMS)?;
        let src = args.req_str("src")?;
        let dest = args.req_str("dest")?;
        let remote = args.bool_or("remote_src", true)?;
        let regexp = match args.str("regexp") {
            Some(r) => Some(util::py_regex(&r, false)?),
            None => None,
        };
        let frags = if remote {
            remote_fragments(ctx, &src).await?
        } else {
            local_fragments(ctx, &src)?
        };
        let content = assemble(
            frags,
            args.str("delimiter").as_deref(),
            regexp.as_ref(),
            args.bool_or("ignore_hidden", false)?,
        );
        let r = util::put_file(
            ctx,
            &PutFile {
                dest: &dest,
                content: &content,
                attrs: Attrs::from_args(args)?,
                backup: args.bool_or("backup", false)?,
                validate: args.str("validate"),
                only_if_missing: false,
            },
        )
        .await?;
        Ok(util::file_outcome(&dest, &r, &content, ctx)
            .with("src", src)
            .with("size", content.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &str, c: &str) -> Fragment {
        (n.as_bytes().to_vec(), c.as_bytes().to_vec())
    }

    #[test]
    fn joins_like_ansible() {
        let frags = vec![
            f("20-b", "b"),
            f("10-a", "a\n"),
            f(".hidden", "h\n"),
            f("30-c", "c\n"),
        ];
        assert_eq!(assemble(frags.clone(), None, None, false), b"h\na\nb\nc\n");
        assert_eq!(assemble(frags.clone(), None, None, true), b"a\nb\nc\n");
        assert_eq!(
            assemble(frags.clone(), Some("# --"), None, true),
            b"a\n# --\nb\n# --\nc\n"
        );
        assert_eq!(
            assemble(frags.clone(), Some("\\n;;\\n"), None, true),
            b"a\n\n;;\nb\n\n;;\nc\n"
        );
        let re = util::py_regex("^[0-9]+-[ac]$", false).unwrap();
        assert_eq!(assemble(frags, None, Some(&re), false), b"a\nc\n");
        assert_eq!(assemble(vec![], Some("x"), None, false), b"");
    }

    #[test]
    fn frames() {
        let v = parse_frames(b"a\n2\nx\nb\n0\n").unwrap();
        assert_eq!(v, vec![f("a", "x\n"), f("b", "")]);
        assert!(parse_frames(b"a\n5\nxy").is_err());
    }
}
