//! Building blocks shared by the file-writing modules (copy, template, lineinfile,
//! blockinfile, replace, ini_file, get_url ...): one-exchange "make this file have this
//! content and these attributes" with atomic replacement, and attribute handling.

use super::{ModuleCtx, ModuleError, Outcome};
use crate::shell::Script;
use sha2::{Digest, Sha256};

/// Owner, group and mode wanted for a path (`None`: leave as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub owner: Option<String>,
    pub group: Option<String>,
    /// As `chmod` takes it: octal (`0644`) or symbolic (`u=rw,g=r`).
    pub mode: Option<String>,
}

impl Attrs {
    /// Reads `owner`, `group`, `mode` from module arguments.
    pub fn from_args(args: &super::Args) -> Result<Self, ModuleError> {
        Ok(Attrs {
            owner: args.str("owner"),
            group: args.str("group"),
            mode: args.mode("mode")?,
        })
    }
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.group.is_none() && self.mode.is_none()
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Appends shell code that applies `attrs` to the path held in shell variable `var`,
/// and prints `RD_ATTRS_CHANGED` when anything changed (`check`: only compare).
/// Numeric modes and names are compared before acting, so an unchanged file is not touched.
pub fn attrs_script(s: &mut Script, var: &str, attrs: &Attrs, check: bool, follow: bool) {
    attrs_script_known(s, var, attrs, check, follow, None)
}

/// [`attrs_script`], where the shell variable `known`, when not empty, already holds
/// `stat -c '%F|%a|%U|%G|%u|%g|%s'` of the path as `follow` would see it: then no
/// `stat` runs (the values are cut out with parameter expansions, builtins only).
pub fn attrs_script_known(
    s: &mut Script,
    var: &str,
    attrs: &Attrs,
    check: bool,
    follow: bool,
    known: Option<&str>,
) {
    if attrs.is_empty() {
        return;
    }
    let h = if follow { "" } else { "-h " };
    let statf = if follow { "stat -L" } else { "stat" };
    // One `stat` for everything; act (or, in check mode, report) only on what differs.
    let stat = format!(
        "read -r rd_am rd_au rd_ag rd_aui rd_agi <<RD_STAT\n$({statf} -c '%a %U %G %u %g' \"${var}\" 2>/dev/null)\nRD_STAT\n"
    );
    s.raw("rd_ch=\n");
    match known {
        None => {
            s.raw(&stat);
        }
        Some(k) => {
            s.raw(&format!(
                "if [ -n \"${k}\" ]; then rd_t=${{{k}#*|}}; rd_am=${{rd_t%%|*}}; rd_t=${{rd_t#*|}}; \
                 rd_au=${{rd_t%%|*}}; rd_t=${{rd_t#*|}}; rd_ag=${{rd_t%%|*}}; rd_t=${{rd_t#*|}}; \
                 rd_aui=${{rd_t%%|*}}; rd_t=${{rd_t#*|}}; rd_agi=${{rd_t%%|*}}\nelse\n{stat}fi\n"
            ));
        }
    }
    if let Some(owner) = &attrs.owner {
        s.raw("rd_o=").arg(owner).raw("\n");
        s.raw("case \"$rd_o\" in *[!0-9]*) rd_cur=$rd_au;; *) rd_cur=$rd_aui;; esac\n");
        if check {
            s.raw("[ \"$rd_cur\" = \"$rd_o\" ] || rd_ch=1\n");
        } else {
            s.raw(&format!("[ \"$rd_cur\" = \"$rd_o\" ] || {{ chown {h}\"$rd_o\" \"${var}\" || exit 3; rd_ch=1; }}\n"));
        }
    }
    if let Some(group) = &attrs.group {
        s.raw("rd_g=").arg(group).raw("\n");
        s.raw("case \"$rd_g\" in *[!0-9]*) rd_cur=$rd_ag;; *) rd_cur=$rd_agi;; esac\n");
        if check {
            s.raw("[ \"$rd_cur\" = \"$rd_g\" ] || rd_ch=1\n");
        } else {
            s.raw(&format!("[ \"$rd_cur\" = \"$rd_g\" ] || {{ chgrp {h}\"$rd_g\" \"${var}\" || exit 3; rd_ch=1; }}\n"));
        }
    }
    if let Some(mode) = &attrs.mode {
        if mode != "preserve" {
            let numeric = mode.bytes().all(|b| b.is_ascii_digit());
            if numeric {
                let want = format!("{:o}", u32::from_str_radix(mode, 8).unwrap_or(0));
                s.raw("rd_m=").arg(&want).raw("\n");
                if check {
                    s.raw("[ \"$rd_am\" = \"$rd_m\" ] || rd_ch=1\n");
                } else {
                    s.raw("[ \"$rd_am\" = \"$rd_m\" ] || { chmod ")
                        .arg(mode)
                        .raw(&format!(" \"${var}\" || exit 3; rd_ch=1; }}\n"));
                }
            } else if !check {
                // Symbolic modes: apply, then compare with what was there.
                s.raw("chmod ").arg(mode).raw(&format!(
                    " \"${var}\" || exit 3\n[ \"$({statf} -c %a \"${var}\")\" = \"$rd_am\" ] || rd_ch=1\n"
                ));
            }
        }
    }
    s.raw("[ -z \"$rd_ch\" ] || echo RD_ATTRS_CHANGED\n");
}

/// Appends shell code that sets `attrs` on the path in shell variable `var` without
/// comparing first (a path the script has just made): no `stat`, a command per
/// attribute asked. A `preserve` mode is left alone.
pub fn set_attrs_script(s: &mut Script, var: &str, attrs: &Attrs) {
    if let Some(o) = &attrs.owner {
        s.raw("chown ")
            .arg(o)
            .raw(&format!(" -- \"${var}\" || exit 3\n"));
    }
    if let Some(g) = &attrs.group {
        s.raw("chgrp ")
            .arg(g)
            .raw(&format!(" -- \"${var}\" || exit 3\n"));
    }
    if let Some(m) = attrs.mode.as_ref().filter(|m| *m != "preserve") {
        s.raw("chmod ")
            .arg(m)
            .raw(&format!(" -- \"${var}\" || exit 3\n"));
    }
}

/// Shell code that stores the exchange's stdin in the file `target` (a shell word, e.g.
/// `"$rd_tmp"`) and refuses anything but exactly `len` bytes: it removes the file and
/// exits 3. A lost connection (controller killed or interrupted) ends stdin early and
/// `cat` still succeeds, so without this check a short file would be renamed into place
/// (or a short script run, a short archive unpacked).
pub fn receive_stdin(target: &str, len: usize) -> String {
    format!(
        "cat > {target} || exit 3\nrd_got=$(stat -c %s {target}) || exit 3\n\
         [ \"$rd_got\" = {len} ] || {{ rm -f {target}; echo \"incomplete content: received $rd_got of {len} bytes\" >&2; exit 3; }}\n"
    )
}

/// Options for [`put_file`].
#[derive(Debug, Clone, Default)]
pub struct PutFile<'a> {
    pub dest: &'a str,
    pub content: &'a [u8],
    pub attrs: Attrs,
    /// Keep a timestamped copy of the old file when it changes.
    pub backup: bool,
    /// A command to validate the new file with, `%s` standing for its path.
    pub validate: Option<String>,
    /// Only create the file when it does not exist (`force: no`).
    pub only_if_missing: bool,
}

/// The result of [`put_file`].
#[derive(Debug, Clone, Default)]
pub struct PutResult {
    pub changed: bool,
    pub content_changed: bool,
    pub existed: bool,
    pub backup_file: Option<String>,
    /// Old content, fetched only in diff mode.
    pub before: Option<String>,
}

/// Makes `dest` hold `content` with `attrs`, in one exchange: the host compares the
/// SHA-256 of the current file with the wanted one and only then reads the new content
/// from stdin into a temporary file in the same directory, applies mode/owner,
/// validates, and renames it over `dest` (atomic: readers see the old or the new file).
pub async fn put_file(ctx: &ModuleCtx<'_>, p: &PutFile<'_>) -> Result<PutResult, ModuleError> {
    let want = sha256_hex(p.content);
    let mut before = None;
    if ctx.diff_mode {
        let mut s = Script::new();
        s.raw("[ -f ")
            .arg(p.dest)
            .raw(" ] && cat ")
            .arg(p.dest)
            .raw(" || true");
        let out = ctx.run_own(s.as_str()).await?;
        before = Some(out.stdout_str());
    }
    let check = ctx.check_mode;
    let mut s = Script::new();
    s.raw("rd_dest=")
        .arg(p.dest)
        .raw("\nrd_want=")
        .arg(&want)
        .raw("\n");
    s.raw("if [ -d \"$rd_dest\" ]; then echo \"destination is a directory\" >&2; exit 4; fi\n");
    s.raw("rd_cur=; if [ -e \"$rd_dest\" ]; then echo RD_EXISTS; rd_cur=$(sha256sum < \"$rd_dest\") && rd_cur=${rd_cur%% *}; fi\n");
    if p.only_if_missing {
        s.raw("if [ -e \"$rd_dest\" ]; then rd_cur=$rd_want; fi\n");
    }
    s.raw("if [ \"$rd_cur\" != \"$rd_want\" ]; then\n  echo RD_CONTENT\n");
    if !check {
        // The directory by parameter expansion and the temporary file created with
        // noclobber (O_EXCL; `$$` differs between concurrent writers): no `dirname`, and
        // `mktemp` only if that name is taken.
        s.raw("  case $rd_dest in */*) rd_dir=${rd_dest%/*}; rd_dir=${rd_dir:-/};; *) rd_dir=.;; esac\n");
        s.raw("  [ -d \"$rd_dir\" ] || { echo \"Destination directory $rd_dir does not exist\" >&2; exit 4; }\n");
        s.raw("  rd_tmp=\"$rd_dir/.rdeploy.$$.tmp\"\n");
        s.raw("  if ! (umask 077; set -C; : >\"$rd_tmp\") 2>/dev/null; then rd_tmp=$(mktemp \"$rd_dir/.rdeploy.XXXXXXXX\") || exit 3; fi\n");
        // A lost connection closes stdout/stderr: the first write then kills the shell
        // with SIGPIPE, which skips the EXIT trap unless signals end it through `exit`.
        s.raw("  trap 'rm -f \"$rd_tmp\"' EXIT\n  trap 'exit 3' HUP INT TERM PIPE\n");
        s.raw(&receive_stdin("\"$rd_tmp\"", p.content.len()));
        // The new file's attributes: the old file's (or the umask's), then the wanted
        // ones, applied without comparing (part of the content change); whatever the
        // wanted attributes fix anyway is not copied first.
        let a = &p.attrs;
        let mode = a.mode.as_deref().filter(|m| *m != "preserve");
        let numeric = mode.is_some_and(|m| m.bytes().all(|b| b.is_ascii_digit()));
        let (keep_mode, keep_owner) = (!numeric, a.owner.is_none() || a.group.is_none());
        if keep_mode || keep_owner {
            s.raw("  if [ -e \"$rd_dest\" ]; then :");
            if keep_mode {
                s.raw("; chmod --reference=\"$rd_dest\" \"$rd_tmp\"");
            }
            if keep_owner {
                s.raw("; chown --reference=\"$rd_dest\" \"$rd_tmp\" 2>/dev/null");
            }
            s.raw("\n");
            if keep_mode {
                s.raw("  else chmod $(printf '%o' $(( 0666 & ~$(umask) ))) \"$rd_tmp\"\n");
            }
            s.raw("  fi\n");
        }
        set_attrs_script(&mut s, "rd_tmp", a);
        if let Some(v) = &p.validate {
            let mut parts = v.splitn(2, "%s");
            let head = parts.next().unwrap_or("");
            let tail = parts.next();
            s.raw("  ");
            match tail {
                Some(tail) => {
                    s.raw(head).raw("\"$rd_tmp\"").raw(tail);
                }
                None => {
                    s.raw(head);
                }
            }
            s.raw(" >&2 || { echo \"failed to validate\" >&2; exit 5; }\n");
        }
        if p.backup {
            s.raw("  if [ -f \"$rd_dest\" ]; then rd_bk=\"$rd_dest.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p \"$rd_dest\" \"$rd_bk\" && echo \"RD_BACKUP $rd_bk\"; fi\n");
        }
        s.raw("  mv -f \"$rd_tmp\" \"$rd_dest\" || exit 3\n  trap - EXIT\n");
    }
    // `:` keeps the branch valid shell when there are no attributes to apply.
    s.raw("else\n  :\n");
    let mut attrs = Script::new();
    attrs_script(&mut attrs, "rd_dest", &p.attrs, check, true);
    s.raw(attrs.as_str());
    if check && !p.attrs.is_empty() {
        // In check mode a missing file is a content change already.
    }
    s.raw("fi\n");
    let stdin = if check {
        None
    } else {
        Some(p.content.to_vec())
    };
    // A `validate` command is the user's: its output is spooled like any command's.
    let out = if p.validate.is_some() {
        ctx.run_stdin(s.as_str(), stdin).await?
    } else {
        ctx.run_own_stdin(s.as_str(), stdin).await?
    };
    let stdout = out.stdout_str();
    if out.rc != 0 {
        let err = out.stderr_str();
        return Err(ModuleError::failed(match out.rc {
            4 | 5 => err.trim().to_string(),
            _ => format!("could not write {} (rc={}): {}", p.dest, out.rc, err.trim()),
        }));
    }
    let mut r = PutResult {
        before,
        ..Default::default()
    };
    for line in stdout.lines() {
        match line {
            "RD_EXISTS" => r.existed = true,
            "RD_CONTENT" => r.content_changed = true,
            "RD_ATTRS_CHANGED" => r.changed = true,
            l if l.starts_with("RD_BACKUP ") => {
                r.backup_file = Some(l["RD_BACKUP ".len()..].to_string())
            }
            _ => {}
        }
    }
    r.changed |= r.content_changed;
    Ok(r)
}

/// Reads a remote file (None when it does not exist). One exchange.
pub async fn read_file(ctx: &ModuleCtx<'_>, path: &str) -> Result<Option<Vec<u8>>, ModuleError> {
    let mut s = Script::new();
    s.raw("if [ -f ")
        .arg(path)
        .raw(" ]; then printf 'Y'; cat ")
        .arg(path)
        .raw("; elif [ -e ")
        .arg(path)
        .raw(" ]; then echo 'not a regular file' >&2; exit 4; else printf 'N'; fi");
    let out = ctx.run_own(s.as_str()).await?;
    if out.rc != 0 {
        return Err(ModuleError::failed(format!(
            "cannot read {path}: {}",
            out.stderr_str().trim()
        )));
    }
    match out.stdout.first() {
        Some(b'Y') => Ok(Some(out.stdout[1..].to_vec())),
        _ => Ok(None),
    }
}

/// Builds the usual outcome of a file write.
pub fn file_outcome(dest: &str, r: &PutResult, after: &[u8], ctx: &ModuleCtx<'_>) -> Outcome {
    let mut o = Outcome::changed(r.changed)
        .with("dest", dest)
        .with("checksum", sha256_hex(after));
    if let Some(b) = &r.backup_file {
        o = o.with("backup_file", b.clone());
    }
    if ctx.diff_mode && r.content_changed {
        o = o.with_diff(
            dest,
            r.before.clone().unwrap_or_default(),
            String::from_utf8_lossy(after).into_owned(),
        );
    }
    o
}

/// Splits a script's output into sections marked by lines `@@RD NAME` (written by
/// rdeploy's own scripts): `(NAME, text up to the next marker)`. Text before the first
/// marker is dropped. A section's text keeps its lines, without the final newline.
pub fn sections(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut cur: Option<(String, Vec<&str>)> = None;
    for line in out.split('\n') {
        if let Some(name) = line.strip_prefix("@@RD ") {
            if let Some((n, lines)) = cur.take() {
                v.push((n, lines.join("\n")));
            }
            cur = Some((name.trim_end().to_string(), Vec::new()));
        } else if let Some((_, lines)) = cur.as_mut() {
            lines.push(line);
        }
    }
    if let Some((n, mut lines)) = cur.take() {
        if lines.last() == Some(&"") {
            lines.pop();
        }
        v.push((n, lines.join("\n")));
    }
    v
}

/// The text of the first section called `name` (see [`sections`]).
pub fn section<'a>(secs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    secs.iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.as_str())
}

/// Shell code defining `rd_fetch URL OUT`: downloads URL into the file OUT on the host
/// with curl or wget (whichever exists); returns 127 with a clear message when neither
/// is installed. `timeout` bounds connecting and stalls, in seconds.
pub fn fetch_fn(timeout: u64, validate_certs: bool) -> String {
    let k = if validate_certs { "" } else { " -k" };
    let nk = if validate_certs {
        ""
    } else {
        " --no-check-certificate"
    };
    format!(
        "rd_fetch() {{\n\
         \x20 if command -v curl >/dev/null 2>&1; then\n\
         \x20   curl -fsSL{k} --connect-timeout {timeout} --speed-time {timeout} --speed-limit 1 -o \"$2\" \"$1\"\n\
         \x20 elif command -v wget >/dev/null 2>&1; then\n\
         \x20   wget -q{nk} --timeout={timeout} -O \"$2\" \"$1\"\n\
         \x20 else\n\
         \x20   echo \"neither curl nor wget is installed on the host: cannot download $1\" >&2; return 127\n\
         \x20 fi\n\
         }}\n"
    )
}

#[cfg(test)]
mod sections_tests {
    use super::*;

    #[test]
    fn splits_sections() {
        let s = sections("junk\n@@RD a\nx\ny\n@@RD b 1\n\n@@RD c\nz\n");
        assert_eq!(
            s,
            vec![
                ("a".into(), "x\ny".into()),
                ("b 1".into(), "".into()),
                ("c".into(), "z".into())
            ]
        );
        assert_eq!(section(&s, "c"), Some("z"));
        assert_eq!(section(&s, "d"), None);
    }
}

// ---------------------------------------------------------------------------
// Additions for the file-editing modules (lineinfile, blockinfile, replace,
// ini_file, copy, template, file, command). Nothing above this line depends on them.
// ---------------------------------------------------------------------------

/// SHA-1 of some bytes, hex: the `checksum` Ansible's file modules return.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Sha1;
    hex::encode(Sha1::digest(data))
}

/// A copy of `ctx` with diff mode off, for calling [`put_file`] when the caller already
/// knows the old content (saves the extra exchange `put_file` makes in diff mode).
pub fn without_diff<'a>(ctx: &ModuleCtx<'a>) -> ModuleCtx<'a> {
    ModuleCtx {
        host: ctx.host,
        conn: ctx.conn.clone(),
        become_: ctx.become_,
        environment: ctx.environment,
        check_mode: ctx.check_mode,
        diff_mode: false,
        templar: ctx.templar,
        vars: ctx.vars,
        search: ctx.search,
        timeout: ctx.timeout,
        output: ctx.output.clone(),
    }
}

/// Compiles a Python (`re` module) regular expression for byte strings. The syntax is
/// mostly shared; the differences real content uses are translated (`\Z` -> `\z`).
pub fn py_regex(pattern: &str, multiline: bool) -> Result<regex::bytes::Regex, ModuleError> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // `[]abc]` and `[^]abc]`: a leading `]` is literal in both dialects.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap());
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    regex::bytes::RegexBuilder::new(&out)
        .multi_line(multiline)
        .build()
        .map_err(|e| ModuleError::failed(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Expands a Python replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\\`)
/// with the captures of a match, as Python's `Match.expand` does. `$` is literal.
pub fn py_expand(caps: &regex::bytes::Captures<'_>, template: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(template.len());
    let mut i = 0;
    let group = |out: &mut Vec<u8>, name: &[u8]| {
        let s = String::from_utf8_lossy(name);
        let m = match s.parse::<usize>() {
            Ok(n) => caps.get(n),
            Err(_) => caps.name(&s),
        };
        if let Some(m) = m {
            out.extend_from_slice(m.as_bytes());
        }
    };
    while i < template.len() {
        let c = template[i];
        if c != b'\\' || i + 1 == template.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = template[i + 1];
        match n {
            b'0'..=b'9' => {
                let mut j = i + 1;
                while j < template.len() && j < i + 3 && template[j].is_ascii_digit() {
                    j += 1;
                }
                group(&mut out, &template[i + 1..j]);
                i = j;
            }
            b'g' if template.get(i + 2) == Some(&b'<') => {
                match template[i + 3..].iter().position(|&b| b == b'>') {
                    Some(end) => {
                        group(&mut out, &template[i + 3..i + 3 + end]);
                        i = i + 4 + end;
                    }
                    None => {
                        out.extend_from_slice(b"\\g");
                        i += 2;
                    }
                }
            }
            b'n' => {
                out.push(b'\n');
                i += 2;
            }
            b't' => {
                out.push(b'\t');
                i += 2;
            }
            b'r' => {
                out.push(b'\r');
                i += 2;
            }
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            _ => {
                out.push(b'\\');
                out.push(n);
                i += 2;
            }
        }
    }
    out
}

/// Splits bytes into lines that keep their `\n` (Python's `readlines()`).
pub fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    data.split_inclusive(|&b| b == b'\n')
        .map(|l| l.to_vec())
        .collect()
}

/// A line without its line ending (`\n` or `\r\n`).
pub fn chomp(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// A glob pattern as a shell word: the literal parts quoted, `*` and `?` (and simple
/// `[...]` classes) left active, so the shell expands the pattern and nothing else.
pub fn shell_glob(pattern: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    let flush = |out: &mut String, lit: &mut String| {
        if !lit.is_empty() {
            out.push_str(&crate::shell::quote(lit));
            lit.clear();
        }
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '*' || c == '?' {
            flush(&mut out, &mut lit);
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            if let Some(end) = chars[i + 1..].iter().position(|&x| x == ']') {
                let class: String = chars[i + 1..i + 1 + end].iter().collect();
                if !class.is_empty()
                    && class.chars().all(|x| {
                        x.is_ascii_alphanumeric() || matches!(x, '-' | '!' | '^' | '_' | '.')
                    })
                {
                    flush(&mut out, &mut lit);
                    out.push('[');
                    out.push_str(&class);
                    out.push(']');
                    i += end + 2;
                    continue;
                }
            }
        }
        lit.push(c);
        i += 1;
    }
    flush(&mut out, &mut lit);
    if out.is_empty() {
        out.push_str("''");
    }
    out
}

/// What [`read_for_edit`] found.
#[derive(Debug, Clone, Default)]
pub struct EditTarget {
    /// The path to write: symlinks resolved, as Ansible's editing modules do.
    pub real_path: String,
    /// The current content, `None` when the file does not exist.
    pub content: Option<Vec<u8>>,
    /// The attributes that the read found already as wanted (compared on the host in the
    /// same exchange); [`apply_edit`] then needs no exchange when the content is the same.
    pub attrs_same: Option<Attrs>,
}

/// Reads a file that a module is about to edit, in one exchange: resolves symlinks
/// (`follow`), fails on directories, and with `mkdir_parent` creates the missing parent
/// directory of an absent file (not in check mode), as lineinfile's `create` does.
/// The wanted `attrs` are compared (never changed) in the same exchange, so that an
/// unchanged file with the right owner, group and mode costs one exchange in all.
pub async fn read_for_edit(
    ctx: &ModuleCtx<'_>,
    path: &str,
    follow: bool,
    mkdir_parent: bool,
    attrs: &Attrs,
) -> Result<EditTarget, ModuleError> {
    // A symbolic mode can only be compared by applying it (see
    // `symbolic_mode_check_script`): left to the write exchange.
    let comparable = !attrs.is_empty()
        && attrs.mode.as_deref().map_or(true, |m| {
            m == "preserve" || m.bytes().all(|b| b.is_ascii_digit())
        });
    let mut s = Script::new();
    s.raw("rd_p=").arg(path).raw("\n");
    if follow {
        s.raw("if [ -L \"$rd_p\" ]; then rd_r=$(readlink -f -- \"$rd_p\") && [ -n \"$rd_r\" ] && rd_p=$rd_r; fi\n");
    }
    s.raw("if [ -d \"$rd_p\" ]; then echo \"Path $rd_p is a directory !\" >&2; exit 4; fi\n");
    s.raw("printf '%s\\n' \"$rd_p\"\n");
    s.raw("if [ -f \"$rd_p\" ]; then\n");
    if comparable {
        attrs_script(&mut s, "rd_p", attrs, true, follow);
    }
    s.raw("printf Y; exec cat -- \"$rd_p\"; fi\n");
    s.raw("if [ -e \"$rd_p\" ]; then echo \"$rd_p is not a regular file\" >&2; exit 4; fi\n");
    if mkdir_parent && !ctx.check_mode {
        s.raw(
            "rd_d=$(dirname -- \"$rd_p\"); [ -d \"$rd_d\" ] || mkdir -p -- \"$rd_d\" || exit 4\n",
        );
    }
    s.raw("printf N\n");
    let out = ctx.run_own(s.as_str()).await?;
    if out.rc != 0 {
        let err = out.stderr_str();
        return Err(ModuleError::failed(if out.rc == 4 {
            err.trim().to_string()
        } else {
            format!("cannot read {path} (rc={}): {}", out.rc, err.trim())
        }));
    }
    let nl = out
        .stdout
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| ModuleError::failed(format!("cannot read {path}: unexpected output")))?;
    let real_path = String::from_utf8_lossy(&out.stdout[..nl]).into_owned();
    let mut rest = &out.stdout[nl + 1..];
    let mut attrs_differ = false;
    if let Some(r) = rest.strip_prefix(b"RD_ATTRS_CHANGED\n".as_slice()) {
        rest = r;
        attrs_differ = true;
    }
    let content = match rest.first() {
        Some(b'Y') => Some(rest[1..].to_vec()),
        _ => None,
    };
    let attrs_same = (comparable && content.is_some() && !attrs_differ).then(|| attrs.clone());
    Ok(EditTarget {
        real_path,
        content,
        attrs_same,
    })
}

/// What an editing module (lineinfile, blockinfile, replace, ini_file) wants written.
#[derive(Debug, Clone)]
pub struct Edit<'a> {
    /// The path as the user gave it (for messages and diffs).
    pub path: &'a str,
    pub target: &'a EditTarget,
    pub after: &'a [u8],
    pub attrs: Attrs,
    pub backup: bool,
    pub validate: Option<String>,
    /// The module's message for a content change (`line added`, `Block inserted` ...).
    pub msg: String,
}

/// Writes an edited file when its content or attributes differ, with check and diff
/// mode handled: one exchange, none when nothing differs and no attributes are asked.
/// The message follows Ansible (`... and ownership, perms or SE linux context changed`).
pub async fn apply_edit(ctx: &ModuleCtx<'_>, e: &Edit<'_>) -> Result<Outcome, ModuleError> {
    if let Some(v) = &e.validate {
        if !v.contains("%s") {
            return Err(ModuleError::failed(format!(
                "validate must contain %s: {v}"
            )));
        }
    }
    let before = e.target.content.as_deref();
    let content_changed = before != Some(e.after);
    let exists = before.is_some();
    let mut changed = content_changed;
    let mut msg = if content_changed {
        e.msg.clone()
    } else {
        String::new()
    };
    let mut backup_file = None;
    let attrs_known_same = e.target.attrs_same.as_ref() == Some(&e.attrs);
    if content_changed || (exists && !e.attrs.is_empty() && !attrs_known_same) {
        if ctx.check_mode && !exists {
            // Nothing to ask the host: the file would be created.
        } else {
            let quiet = without_diff(ctx);
            let r = put_file(
                &quiet,
                &PutFile {
                    dest: &e.target.real_path,
                    content: e.after,
                    attrs: e.attrs.clone(),
                    backup: e.backup,
                    validate: e.validate.clone(),
                    only_if_missing: false,
                },
            )
            .await?;
            backup_file = r.backup_file;
            if r.changed && !r.content_changed && !content_changed {
                changed = true;
                msg = "ownership, perms or SE linux context changed".into();
            } else if r.changed && !content_changed {
                changed = true;
            }
            if content_changed && !r.content_changed && !ctx.check_mode {
                // The host already had the wanted content (changed meanwhile): report it truthfully.
                changed = r.changed;
            }
        }
    }
    let mut o = Outcome::changed(changed)
        .with("msg", msg.clone())
        .with("path", e.path);
    if !msg.is_empty() {
        o.msg = Some(msg);
    }
    if let Some(b) = backup_file {
        o = o.with("backup", b.clone()).with("backup_file", b);
    }
    if ctx.diff_mode && content_changed {
        o = o.with_diff(
            e.path,
            String::from_utf8_lossy(before.unwrap_or_default()).into_owned(),
            String::from_utf8_lossy(e.after).into_owned(),
        );
    }
    Ok(o)
}

/// Appends shell code that predicts (check mode) whether a symbolic `mode` would change
/// the permissions of the path in shell variable `var`, by applying it to a scratch copy
/// in a private temporary directory; prints `RD_ATTRS_CHANGED` when it would.
/// ([`attrs_script`] compares numeric modes only.)
pub fn symbolic_mode_check_script(s: &mut Script, var: &str, mode: &str, follow: bool) {
    if mode == "preserve" || mode.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let statf = if follow { "stat -L" } else { "stat" };
    s.raw(&format!(
        "if [ -e \"${var}\" ]; then rd_cur=$({statf} -c %a \"${var}\"); rd_t=$(mktemp -d) && {{ "
    ));
    s.raw(&format!("if [ -d \"${var}\" ]; then mkdir \"$rd_t/x\"; else : > \"$rd_t/x\"; fi; chmod \"$rd_cur\" \"$rd_t/x\"; chmod "));
    s.arg(mode);
    s.raw(" \"$rd_t/x\"; [ \"$(stat -c %a \"$rd_t/x\")\" = \"$rd_cur\" ] || echo RD_ATTRS_CHANGED; rm -rf \"$rd_t\"; }; fi\n");
}

#[cfg(test)]
mod edit_tests {
    use super::*;

    #[test]
    fn python_expand() {
        let re = py_regex(r"^(?P<k>\w+)=(.*)$", false).unwrap();
        let caps = re.captures(b"host=a").unwrap();
        assert_eq!(
            py_expand(&caps, br"\1: \2 \g<k> \g<2> $1\n"),
            b"host: a host a $1\n".to_vec()
        );
    }

    #[test]
    fn python_regex_dialect() {
        assert!(py_regex(r"abc\Z", false).unwrap().is_match(b"xabc"));
        assert!(py_regex(r"[]x]", false).unwrap().is_match(b"]"));
        assert!(py_regex(r"[[]", false).unwrap().is_match(b"["));
        assert!(py_regex(r"(?P<n>a)", false).is_ok());
    }

    #[test]
    fn globs_are_quoted() {
        assert_eq!(shell_glob("/tmp/a b/*.txt"), "'/tmp/a b/'*.txt");
        assert_eq!(shell_glob("/x/$(rm)"), "'/x/$(rm)'");
        assert_eq!(shell_glob("/x/[ab]c"), "/x/[ab]c");
        assert_eq!(shell_glob("/x/[$(x)]"), "'/x/[$(x)]'");
    }

    #[test]
    fn lines() {
        assert_eq!(split_lines(b"a\nb"), vec![b"a\n".to_vec(), b"b".to_vec()]);
        assert_eq!(chomp(b"a\r\n"), b"a");
    }
}

/// Expands a leading `~` or `~user` in a remote path the way Ansible does for `path`
/// arguments (the home directory on the host, of the user the task runs as). Paths
/// without a leading `~` are returned as they are, without an exchange.
pub async fn expand_user(ctx: &ModuleCtx<'_>, path: &str) -> Result<String, ModuleError> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut s = Script::new();
    if user.is_empty() {
        s.raw("printf '%s' \"$HOME\"");
    } else {
        s.raw("getent passwd ")
            .arg(user)
            .raw(" | cut -d: -f6 | tr -d '\\n'");
    }
    let out = ctx.run_own(s.as_str()).await?;
    let home = out.stdout_str();
    if out.rc != 0 || home.is_empty() {
        // As Python's expanduser: an unknown user leaves the path unchanged.
        return Ok(path.to_string());
    }
    Ok(format!("{}{tail}", home.trim_end_matches('/')))
}
