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
        Ok(Attrs { owner: args.str("owner"), group: args.str("group"), mode: args.mode("mode")? })
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
    if attrs.is_empty() {
        return;
    }
    let h = if follow { "" } else { "-h " };
    let statf = if follow { "stat -L" } else { "stat" };
    s.raw(&format!("rd_before=$({statf} -c '%a %U %G' \"${var}\" 2>/dev/null)\n"));
    if let Some(owner) = &attrs.owner {
        s.raw("rd_o=").arg(owner).raw("\n");
        s.raw(&format!(
            "case \"$rd_o\" in *[!0-9]*) rd_cur=$({statf} -c %U \"${var}\");; *) rd_cur=$({statf} -c %u \"${var}\");; esac\n"
        ));
        if check {
            s.raw("[ \"$rd_cur\" = \"$rd_o\" ] || echo RD_ATTRS_CHANGED\n");
        } else {
            s.raw(&format!("[ \"$rd_cur\" = \"$rd_o\" ] || chown {h}\"$rd_o\" \"${var}\" || exit 3\n"));
        }
    }
    if let Some(group) = &attrs.group {
        s.raw("rd_g=").arg(group).raw("\n");
        s.raw(&format!(
            "case \"$rd_g\" in *[!0-9]*) rd_cur=$({statf} -c %G \"${var}\");; *) rd_cur=$({statf} -c %g \"${var}\");; esac\n"
        ));
        if check {
            s.raw("[ \"$rd_cur\" = \"$rd_g\" ] || echo RD_ATTRS_CHANGED\n");
        } else {
            s.raw(&format!("[ \"$rd_cur\" = \"$rd_g\" ] || chgrp {h}\"$rd_g\" \"${var}\" || exit 3\n"));
        }
    }
    if let Some(mode) = &attrs.mode {
        if mode != "preserve" {
            let numeric = mode.bytes().all(|b| b.is_ascii_digit());
            if numeric {
                let want = format!("{:o}", u32::from_str_radix(mode, 8).unwrap_or(0));
                s.raw("rd_m=").arg(&want).raw("\n");
                s.raw(&format!("rd_cur=$({statf} -c %a \"${var}\")\n"));
                if check {
                    s.raw("[ \"$rd_cur\" = \"$rd_m\" ] || echo RD_ATTRS_CHANGED\n");
                } else {
                    s.raw("[ \"$rd_cur\" = \"$rd_m\" ] || chmod ").arg(mode).raw(&format!(" \"${var}\" || exit 3\n"));
                }
            } else if !check {
                s.raw("chmod ").arg(mode).raw(&format!(" \"${var}\" || exit 3\n"));
            }
        }
    }
    if !check {
        s.raw(&format!(
            "rd_after=$({statf} -c '%a %U %G' \"${var}\" 2>/dev/null)\n[ \"$rd_before\" = \"$rd_after\" ] || echo RD_ATTRS_CHANGED\n"
        ));
    }
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
        s.raw("[ -f ").arg(p.dest).raw(" ] && cat ").arg(p.dest).raw(" || true");
        let out = ctx.run(s.as_str()).await?;
        before = Some(out.stdout_str());
    }
    let check = ctx.check_mode;
    let mut s = Script::new();
    s.raw("rd_dest=").arg(p.dest).raw("\nrd_want=").arg(&want).raw("\n");
    s.raw("if [ -d \"$rd_dest\" ]; then echo \"destination is a directory\" >&2; exit 4; fi\n");
    s.raw("rd_cur=; if [ -e \"$rd_dest\" ]; then echo RD_EXISTS; rd_cur=$(sha256sum \"$rd_dest\" | cut -d' ' -f1); fi\n");
    if p.only_if_missing {
        s.raw("if [ -e \"$rd_dest\" ]; then rd_cur=$rd_want; fi\n");
    }
    s.raw("if [ \"$rd_cur\" != \"$rd_want\" ]; then\n  echo RD_CONTENT\n");
    if !check {
        s.raw("  rd_dir=$(dirname \"$rd_dest\")\n");
        s.raw("  [ -d \"$rd_dir\" ] || { echo \"Destination directory $rd_dir does not exist\" >&2; exit 4; }\n");
        s.raw("  rd_tmp=$(mktemp \"$rd_dir/.rdeploy.XXXXXXXX\") || exit 3\n");
        s.raw("  trap 'rm -f \"$rd_tmp\"' EXIT\n");
        s.raw("  cat > \"$rd_tmp\" || exit 3\n");
        s.raw("  if [ -e \"$rd_dest\" ]; then chmod --reference=\"$rd_dest\" \"$rd_tmp\"; chown --reference=\"$rd_dest\" \"$rd_tmp\" 2>/dev/null; ");
        s.raw("else chmod $(printf '%o' $(( 0666 & ~$(umask) ))) \"$rd_tmp\"; fi\n");
        let mut inner = Script::new();
        attrs_script(&mut inner, "rd_tmp", &p.attrs, false, true);
        // Attribute changes on the temporary file are part of the content change.
        s.raw(&inner.into_string().replace("echo RD_ATTRS_CHANGED", ":"));
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
    s.raw("else\n");
    let mut attrs = Script::new();
    attrs_script(&mut attrs, "rd_dest", &p.attrs, check, true);
    s.raw(attrs.as_str());
    if check && !p.attrs.is_empty() {
        // In check mode a missing file is a content change already.
    }
    s.raw("fi\n");
    let stdin = if check { None } else { Some(p.content.to_vec()) };
    let out = ctx.run_stdin(s.as_str(), stdin).await?;
    let stdout = out.stdout_str();
    if out.rc != 0 {
        let err = out.stderr_str();
        return Err(ModuleError::failed(match out.rc {
            4 | 5 => err.trim().to_string(),
            _ => format!("could not write {} (rc={}): {}", p.dest, out.rc, err.trim()),
        }));
    }
    let mut r = PutResult { before, ..Default::default() };
    for line in stdout.lines() {
        match line {
            "RD_EXISTS" => r.existed = true,
            "RD_CONTENT" => r.content_changed = true,
            "RD_ATTRS_CHANGED" => r.changed = true,
            l if l.starts_with("RD_BACKUP ") => r.backup_file = Some(l["RD_BACKUP ".len()..].to_string()),
            _ => {}
        }
    }
    r.changed |= r.content_changed;
    Ok(r)
}

/// Reads a remote file (None when it does not exist). One exchange.
pub async fn read_file(ctx: &ModuleCtx<'_>, path: &str) -> Result<Option<Vec<u8>>, ModuleError> {
    let mut s = Script::new();
    s.raw("if [ -f ").arg(path).raw(" ]; then printf 'Y'; cat ").arg(path).raw("; elif [ -e ").arg(path).raw(" ]; then echo 'not a regular file' >&2; exit 4; else printf 'N'; fi");
    let out = ctx.run(s.as_str()).await?;
    if out.rc != 0 {
        return Err(ModuleError::failed(format!("cannot read {path}: {}", out.stderr_str().trim())));
    }
    match out.stdout.first() {
        Some(b'Y') => Ok(Some(out.stdout[1..].to_vec())),
        _ => Ok(None),
    }
}

/// Builds the usual outcome of a file write.
pub fn file_outcome(dest: &str, r: &PutResult, after: &[u8], ctx: &ModuleCtx<'_>) -> Outcome {
    let mut o = Outcome::changed(r.changed).with("dest", dest).with("checksum", sha256_hex(after));
    if let Some(b) = &r.backup_file {
        o = o.with("backup_file", b.clone());
    }
    if ctx.diff_mode && r.content_changed {
        o = o.with_diff(dest, r.before.clone().unwrap_or_default(), String::from_utf8_lossy(after).into_owned());
    }
    o
}
