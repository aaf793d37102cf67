//! The `blockinfile` module: keeps a block of lines between two marker lines
//! (`# BEGIN ANSIBLE MANAGED BLOCK` / `# END ...`) in a file, or removes it.
//!
//! Read in one exchange, computed on the controller by [`edit_block`] (a port of
//! Ansible's algorithm), written back only when it differs ([`util::apply_edit`]).

use super::lineinfile::Insert;
use super::util::{self, Attrs, Edit};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;

/// What the block should look like.
#[derive(Debug, Clone)]
pub struct Block<'a> {
    /// The marker template, `{mark}` standing for `marker_begin` / `marker_end`.
    pub marker: &'a str,
    pub marker_begin: &'a str,
    pub marker_end: &'a str,
    pub block: &'a [u8],
    pub present: bool,
    pub insertafter: Option<Insert>,
    pub insertbefore: Option<Insert>,
    /// Whether the insert regex carries Python's `(?m)` flag (searched over the whole file).
    pub multiline: bool,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

/// Whether a Python pattern starts with inline flags including `m`.
pub fn has_multiline_flag(pattern: &str) -> bool {
    pattern
        .strip_prefix("(?")
        .and_then(|r| r.find([')', ':']).map(|e| &r[..e]))
        .map(|flags| flags.chars().all(|c| c.is_ascii_alphabetic()) && flags.contains('m'))
        .unwrap_or(false)
}

/// Computes the new content; returns it with Ansible's message (empty: unchanged).
pub fn edit_block(original: Option<&[u8]>, b: &Block<'_>) -> (Vec<u8>, &'static str) {
    let mut lines = original.map(util::split_lines).unwrap_or_default();
    let marker0 = format!("{}\n", b.marker.replace("{mark}", b.marker_begin)).into_bytes();
    let marker1 = format!("{}\n", b.marker.replace("{mark}", b.marker_end)).into_bytes();
    let mut blocklines: Vec<Vec<u8>> = Vec::new();
    if b.present && !b.block.is_empty() {
        let mut block = b.block.to_vec();
        if !block.ends_with(b"\n") {
            block.push(b'\n');
        }
        blocklines.push(marker0.clone());
        blocklines.extend(util::split_lines(&block));
        blocklines.push(marker1.clone());
    }
    let (mut n0, mut n1) = (None, None);
    for (i, l) in lines.iter().enumerate() {
        if *l == marker0 {
            n0 = Some(i);
        }
        if *l == marker1 {
            n1 = Some(i);
        }
    }
    let insertafter = match (&b.insertafter, &b.insertbefore) {
        (None, None) => Some(Insert::Eof),
        (a, _) => a.clone(),
    };
    let ins_re = match (&insertafter, &b.insertbefore) {
        (Some(Insert::Re(r)), _) => Some(r),
        (None, Some(Insert::Re(r))) => Some(r),
        _ => None,
    };
    let mut at = match (n0, n1) {
        (Some(a), Some(z)) => {
            let (lo, hi) = if a < z { (a, z) } else { (z, a) };
            lines.drain(lo..=hi);
            lo
        }
        _ => {
            let mut found: Option<usize> = None;
            if let Some(re) = ins_re {
                if b.multiline {
                    let text = original.unwrap_or_default();
                    if let Some(m) = re.find(text) {
                        let upto = if insertafter.is_some() {
                            m.end()
                        } else {
                            m.start()
                        };
                        found = Some(text[..upto].iter().filter(|&&c| c == b'\n').count());
                    }
                } else {
                    for (i, l) in lines.iter().enumerate() {
                        if re.is_match(l.strip_suffix(b"\n").unwrap_or(l)) {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(i) if insertafter.is_some() => i + 1,
                    Some(i) => i,
                }
            } else if b.insertbefore.is_some() {
                0
            } else {
                lines.len()
            }
        }
    };
    let at_max = lines.len();
    if at > at_max {
        at = at_max;
    }
    if at > 0 && !lines[at - 1].ends_with(b"\n") {
        lines[at - 1].push(b'\n');
    }
    if b.prepend_newline && b.present && at != 0 && lines[at - 1] != b"\n" {
        lines.insert(at, b"\n".to_vec());
        at += 1;
    }
    let n_block = blocklines.len();
    lines.splice(at..at, blocklines);
    if b.append_newline && b.present {
        let after = at + n_block;
        if after < lines.len() && lines[after] != b"\n" {
            lines.insert(after, b"\n".to_vec());
        }
    }
    let result = lines.concat();
    let msg = if original == Some(result.as_slice()) {
        ""
    } else if original.is_none() {
        "File created"
    } else if n_block == 0 {
        "Block removed"
    } else {
        "Block inserted"
    };
    (result, msg)
}

pub struct BlockInFile;

#[async_trait]
impl Module for BlockInFile {
    fn name(&self) -> &'static str {
        "blockinfile"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path",
            "dest",
            "destfile",
            "name",
            "state",
            "marker",
            "block",
            "content",
            "insertafter",
            "insertbefore",
            "create",
            "backup",
            "validate",
            "marker_begin",
            "marker_end",
            "append_newline",
            "prepend_newline",
            "owner",
            "group",
            "mode",
            "unsafe_writes",
            "attributes",
            "seuser",
            "serole",
            "setype",
            "selevel",
            "follow",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let path = util::expand_user(
            ctx,
            &args.req_str_any(&["path", "dest", "destfile", "name"])?,
        )
        .await?;
        let present = match args.str("state").as_deref().unwrap_or("present") {
            "present" => true,
            "absent" => false,
            s => {
                return Err(ModuleError::failed(format!(
                    "value of state must be one of: absent, present, got: {s}"
                )))
            }
        };
        if args.has("insertafter") && args.has("insertbefore") {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: insertbefore|insertafter",
            ));
        }
        let create = args.bool_or("create", false)?;
        let marker = args
            .str("marker")
            .unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
        let marker_begin = args.str("marker_begin").unwrap_or_else(|| "BEGIN".into());
        let marker_end = args.str("marker_end").unwrap_or_else(|| "END".into());
        let block = args.str_any(&["block", "content"]).unwrap_or_default();
        let mut multiline = false;
        let mut insert = |key: &str| -> Result<Option<Insert>, ModuleError> {
            Ok(match args.str(key) {
                None => None,
                Some(s) if s == "EOF" && key == "insertafter" => Some(Insert::Eof),
                Some(s) if s == "BOF" && key == "insertbefore" => Some(Insert::Bof),
                Some(s) => {
                    multiline |= has_multiline_flag(&s);
                    Some(Insert::Re(util::py_regex(&s, false)?))
                }
            })
        };
        let insertafter = insert("insertafter")?;
        let insertbefore = insert("insertbefore")?;
        let attrs = Attrs::from_args(args)?;

        let target = util::read_for_edit(ctx, &path, true, create, &attrs).await?;
        if target.content.is_none() {
            if !present {
                return Ok(Outcome::changed(false)
                    .with("msg", format!("File {path} not present"))
                    .with_msg(format!("File {path} not present")));
            }
            if !create {
                return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257));
            }
        }
        let b = Block {
            marker: &marker,
            marker_begin: &marker_begin,
            marker_end: &marker_end,
            block: block.as_bytes(),
            present,
            insertafter,
            insertbefore,
            multiline,
            append_newline: args.bool_or("append_newline", false)?,
            prepend_newline: args.bool_or("prepend_newline", false)?,
        };
        let (after, msg) = edit_block(target.content.as_deref(), &b);
        util::apply_edit(
            ctx,
            &Edit {
                path: &path,
                target: &target,
                after: &after,
                attrs,
                backup: args.bool_or("backup", false)?,
                validate: args.str("validate"),
                msg: msg.to_string(),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<'a>(text: &'a [u8]) -> Block<'a> {
        Block {
            marker: "# {mark} ANSIBLE MANAGED BLOCK",
            marker_begin: "BEGIN",
            marker_end: "END",
            block: text,
            present: true,
            insertafter: None,
            insertbefore: None,
            multiline: false,
            append_newline: false,
            prepend_newline: false,
        }
    }

    const WITH_BLOCK: &str =
        "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\nb\n";

    #[test]
    fn inserts_at_eof_then_is_idempotent() {
        let (out, msg) = edit_block(Some(b"a\nb"), &block(b"x=1"));
        assert_eq!(msg, "Block inserted");
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\n"
        );
        let (out2, msg) = edit_block(Some(&out), &block(b"x=1"));
        assert_eq!((out2, msg), (out, ""));
    }

    #[test]
    fn replaces_in_place_and_removes() {
        let (out, msg) = edit_block(Some(WITH_BLOCK.as_bytes()), &block(b"x=2\ny=3\n"));
        assert_eq!(msg, "Block inserted");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=2\ny=3\n# END ANSIBLE MANAGED BLOCK\nb\n"
        );
        let mut b = block(b"");
        b.present = false;
        let (out, msg) = edit_block(Some(WITH_BLOCK.as_bytes()), &b);
        assert_eq!(
            (String::from_utf8(out).unwrap().as_str(), msg),
            ("a\nb\n", "Block removed")
        );
    }

    #[test]
    fn insert_positions() {
        let mut b = block(b"x");
        b.insertbefore = Some(Insert::Bof);
        let (out, _) = edit_block(Some(b"a\n"), &b);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\na\n"
        );
        let mut b = block(b"x");
        b.insertafter = Some(Insert::Re(util::py_regex("^a", false).unwrap()));
        let (out, _) = edit_block(Some(b"a\nc\n"), &b);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n"
        );
        let mut b = block(b"x");
        b.marker = "<!-- {mark} -->";
        let (out, msg) = edit_block(None, &b);
        assert_eq!(
            (String::from_utf8(out).unwrap().as_str(), msg),
            ("<!-- BEGIN -->\nx\n<!-- END -->\n", "File created")
        );
    }

    #[test]
    fn multiline_flag() {
        assert!(has_multiline_flag("(?m)^a\\n^b"));
        assert!(has_multiline_flag("(?im)x"));
        assert!(!has_multiline_flag("^a"));
    }
}
