//! The `copy` module: puts `content`, a local file, or a local directory tree (`src`)
//! on the host, or copies on the host itself (`remote_src`).
//!
//! - One file: [`util::put_file`] (one exchange: the host compares SHA-256 and only then
//!   reads the bytes into a temporary file that is renamed over `dest`). A `dest` that
//!   ends in `/` or is an existing directory gets `dest/basename(src)`.
//! - A directory: one exchange sends the manifest (paths and SHA-256 of every file) and
//!   learns what differs; when something does, a second exchange streams only the
//!   changed files (`F <size> <mode> <path>` then the bytes, read with `head -c`) and
//!   applies attributes to the rest. `src/` copies the contents, `src` the directory.
//! - `remote_src`: one script compares and copies on the host.
//!
//! A vault-encrypted local file is decrypted on the controller and written decrypted
//! (as Ansible's `decrypt: yes` default).
//! Returns `dest`, `src`, `checksum` (SHA-1, as Ansible), `md5sum`, `size`, `backup_file`.

use super::util::{self, Attrs, PutFile};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

const PARAMS: &[&str] = &[
    "src",
    "content",
    "dest",
    "backup",
    "force",
    "mode",
    "owner",
    "group",
    "directory_mode",
    "remote_src",
    "validate",
    "follow",
    "local_follow",
    "checksum",
    "decrypt",
    "unsafe_writes",
    "attributes",
    "seuser",
    "serole",
    "setype",
    "selevel",
    "_original_basename",
];

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The octal mode of a local file (`mode: preserve`).
fn local_mode(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| format!("0{:o}", m.permissions().mode() & 0o7777))
}

/// Writes one file with `put_file`, retrying into `dest/basename` when `dest` is a directory.
async fn copy_one(
    ctx: &ModuleCtx<'_>,
    args: &Args,
    dest: &str,
    content: &[u8],
    src_name: Option<&str>,
    attrs: Attrs,
) -> ModuleResult {
    let validate = args.str("validate");
    if let Some(v) = &validate {
        if !v.contains("%s") {
            return Err(ModuleError::failed(format!(
                "validate must contain %s: {v}"
            )));
        }
    }
    let force = args.bool_or("force", true)?;
    let backup = args.bool_or("backup", false)?;
    let mut dest = match src_name {
        Some(n) if dest.ends_with('/') => join(dest, n),
        _ => dest.to_string(),
    };
    let mut attempt = 0;
    let r = loop {
        let p = PutFile {
            dest: &dest,
            content,
            attrs: attrs.clone(),
            backup,
            validate: validate.clone(),
            only_if_missing: !force,
        };
        match util::put_file(ctx, &p).await {
            Ok(r) => break r,
            Err(ModuleError::Failed(m)) if m == "destination is a directory" && attempt == 0 => {
                match src_name {
                    Some(n) => {
                        dest = join(&dest, n);
                        attempt += 1;
                    }
                    None => return Ok(Outcome::failed("can not use content with a dir as dest")),
                }
            }
            Err(ModuleError::Failed(m)) => return Ok(Outcome::failed(m).with("dest", dest)),
            Err(e) => return Err(e),
        }
    };
    let mut o = Outcome::changed(r.changed)
        .with("dest", dest.clone())
        .with("checksum", util::sha1_hex(content))
        .with("md5sum", format!("{:x}", md5::compute(content)))
        .with("size", content.len() as u64);
    if let Some(m) = &attrs.mode {
        o = o.with("mode", m.clone());
    }
    if let Some(b) = &r.backup_file {
        o = o.with("backup_file", b.clone());
    }
    if ctx.diff_mode && r.content_changed {
        o = o.with_diff(
            &dest,
            r.before.clone().unwrap_or_default(),
            String::from_utf8_lossy(content).into_owned(),
        );
    }
    Ok(o)
}

/// One entry of a local tree to copy.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Dir(String),
    File {
        rel: String,
        local: PathBuf,
        mode: Option<String>,
    },
}

/// Walks a local directory (following symlinks, as `local_follow: yes` does), sorted.
fn walk(root: &Path, rel: &str, preserve: bool, out: &mut Vec<Entry>) -> Result<(), ModuleError> {
    let mut names: Vec<_> = std::fs::read_dir(root)
        .map_err(|e| ModuleError::failed(format!("cannot read {}: {e}", root.display())))?
        .filter_map(|e| e.ok())
        .collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains('\n') {
            return Err(ModuleError::failed(format!(
                "file names with newlines are not supported: {name:?}"
            )));
        }
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let p = e.path();
        if p.is_dir() {
            out.push(Entry::Dir(r.clone()));
            walk(&p, &r, preserve, out)?;
        } else if p.is_file() {
            let mode = if preserve { local_mode(&p) } else { None };
            out.push(Entry::File {
                rel: r,
                local: p,
                mode,
            });
        }
    }
    Ok(())
}

/// The shell functions applying file (`rd_fattrs`) and directory (`rd_dattrs`)
/// attributes to `$rd_p`.
fn attr_functions(s: &mut Script, attrs: &Attrs, check: bool) {
    let file_attrs = Attrs {
        mode: attrs.mode.clone().filter(|m| m != "preserve"),
        ..attrs.clone()
    };
    let dir_attrs = Attrs {
        mode: None,
        ..attrs.clone()
    };
    s.raw("rd_fattrs() {\n:\n");
    util::attrs_script(s, "rd_p", &file_attrs, check, true);
    s.raw("}\nrd_dattrs() {\n:\n");
    util::attrs_script(s, "rd_p", &dir_attrs, check, true);
    s.raw("}\n");
    // Per-file modes (`mode: preserve`) come in the manifest as $rd_pm.
    // (`rd_pm`, not `rd_m`: attrs_script uses `rd_m` itself.)
    s.raw("rd_pmode() { [ \"$rd_pm\" = - ] && return 0; rd_w=$(printf '%o' \"$rd_pm\"); [ \"$(stat -L -c %a \"$rd_p\")\" = \"$rd_w\" ] && return 0; echo RD_ATTRS_CHANGED; ");
    if !check {
        s.raw("chmod \"$rd_pm\" \"$rd_p\" || exit 3; ");
    }
    s.raw("}\n");
}

/// Copies a local directory tree to `base` on the host.
async fn copy_tree(
    ctx: &ModuleCtx<'_>,
    args: &Args,
    src_dir: &Path,
    src: &str,
    base: &str,
    attrs: Attrs,
) -> ModuleResult {
    let force = args.bool_or("force", true)?;
    let preserve = attrs.mode.as_deref() == Some("preserve");
    let dir_mode = args.mode("directory_mode")?;
    let mut entries = vec![Entry::Dir(".".into())];
    walk(src_dir, "", preserve, &mut entries)?;
    let mut contents: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
    let mut manifest = Vec::new();
    for e in &entries {
        match e {
            Entry::Dir(r) => {
                manifest.extend_from_slice(format!("D {r}\n").as_bytes());
                contents.push(None);
            }
            Entry::File { rel, local, mode } => {
                let (data, _) = crate::vault::read_file(local)
                    .map_err(|e| ModuleError::failed(e.to_string()))?;
                let m = mode.clone().unwrap_or_else(|| "-".into());
                manifest.extend_from_slice(
                    format!("F {} {m} {rel}\n", util::sha256_hex(&data)).as_bytes(),
                );
                contents.push(Some(data));
            }
        }
    }

    // Exchange 1: what differs (and, in check mode, the whole prediction).
    let mut s = Script::new();
    s.raw("rd_base=").arg(base).raw("\n");
    s.raw("if [ -e \"$rd_base\" ] && [ ! -d \"$rd_base\" ]; then echo \"Destination $rd_base is not a directory\" >&2; exit 4; fi\n");
    attr_functions(&mut s, &attrs, true);
    s.raw("while IFS= read -r rd_l; do\n  rd_k=${rd_l%% *}; rd_r=${rd_l#* }\n  case $rd_k in\n");
    s.raw("  D) rd_p=\"$rd_base/$rd_r\"; if [ -d \"$rd_p\" ]; then rd_dattrs; elif [ -e \"$rd_p\" ]; then echo \"$rd_p exists and is not a directory\" >&2; exit 4; else echo \"RD_NEWDIR $rd_r\"; fi ;;\n");
    s.raw("  F) rd_h=${rd_r%% *}; rd_r=${rd_r#* }; rd_pm=${rd_r%% *}; rd_r=${rd_r#* }; rd_p=\"$rd_base/$rd_r\"\n");
    s.raw("     if [ -d \"$rd_p\" ]; then echo \"$rd_p is a directory\" >&2; exit 4; fi\n");
    s.raw("     if [ ! -e \"$rd_p\" ]; then echo \"RD_DIFF $rd_r\"; ");
    if force {
        s.raw("elif [ \"$(sha256sum < \"$rd_p\" | cut -d' ' -f1)\" != \"$rd_h\" ]; then echo \"RD_DIFF $rd_r\"; ");
    }
    s.raw("else rd_fattrs; rd_pmode; fi ;;\n  esac\ndone\n");
    let out = ctx.run_own_stdin(s.as_str(), Some(manifest)).await?;
    if out.rc != 0 {
        let e = out.stderr_str();
        return Ok(Outcome::failed(if out.rc == 4 {
            e.trim().to_string()
        } else {
            format!("copy to {base} failed (rc={}): {}", out.rc, e.trim())
        }));
    }
    let stdout = out.stdout_str();
    let mut differ = std::collections::HashSet::new();
    let mut changed = false;
    for line in stdout.lines() {
        if let Some(r) = line.strip_prefix("RD_DIFF ") {
            differ.insert(r.to_string());
            changed = true;
        } else if line.starts_with("RD_NEWDIR ") || line == "RD_ATTRS_CHANGED" {
            changed = true;
        }
    }
    let base_out = Outcome::changed(changed)
        .with("dest", base)
        .with("src", src);
    if !changed || ctx.check_mode {
        return Ok(base_out);
    }

    // Exchange 2: create directories, stream the changed files, fix attributes.
    let mut s = Script::new();
    s.raw("rd_base=").arg(base).raw("\n");
    attr_functions(&mut s, &attrs, false);
    s.raw("rd_umode=$(printf '%o' $(( 0666 & ~$(umask) )))\n");
    s.raw("while IFS= read -r rd_l; do\n  rd_k=${rd_l%% *}; rd_r=${rd_l#* }\n  case $rd_k in\n");
    s.raw("  D) rd_p=\"$rd_base/$rd_r\"; if [ ! -d \"$rd_p\" ]; then mkdir -p -- \"$rd_p\" || exit 3; echo RD_ATTRS_CHANGED; ");
    if let Some(dm) = &dir_mode {
        s.raw("chmod ").arg(dm).raw(" \"$rd_p\" || exit 3; ");
    }
    s.raw("fi; rd_dattrs ;;\n");
    s.raw("  F) rd_n=${rd_r%% *}; rd_r=${rd_r#* }; rd_pm=${rd_r%% *}; rd_r=${rd_r#* }; rd_p=\"$rd_base/$rd_r\"\n");
    s.raw("     rd_tmp=$(mktemp \"$(dirname -- \"$rd_p\")/.rdeploy.XXXXXXXX\") || exit 3\n");
    s.raw("     head -c \"$rd_n\" > \"$rd_tmp\" || { rm -f \"$rd_tmp\"; exit 3; }\n");
    s.raw("     [ \"$(stat -c %s \"$rd_tmp\")\" = \"$rd_n\" ] || { rm -f \"$rd_tmp\"; echo \"short read for $rd_r\" >&2; exit 3; }\n");
    s.raw("     if [ -e \"$rd_p\" ]; then chmod --reference=\"$rd_p\" \"$rd_tmp\"; chown --reference=\"$rd_p\" \"$rd_tmp\" 2>/dev/null; else chmod \"$rd_umode\" \"$rd_tmp\"; fi\n");
    s.raw("     rd_q=$rd_p; rd_p=$rd_tmp; rd_fattrs >/dev/null; rd_pmode >/dev/null; rd_p=$rd_q\n");
    s.raw("     mv -f -- \"$rd_tmp\" \"$rd_p\" || { rm -f \"$rd_tmp\"; exit 3; }\n     echo RD_ATTRS_CHANGED ;;\n");
    s.raw("  A) rd_pm=${rd_r%% *}; rd_r=${rd_r#* }; rd_p=\"$rd_base/$rd_r\"; rd_fattrs; rd_pmode ;;\n  esac\ndone\n");
    let mut stream = Vec::new();
    for (e, data) in entries.iter().zip(&contents) {
        match e {
            Entry::Dir(r) => stream.extend_from_slice(format!("D {r}\n").as_bytes()),
            Entry::File { rel, mode, .. } => {
                let m = mode.clone().unwrap_or_else(|| "-".into());
                let data = data.as_deref().unwrap_or_default();
                if differ.contains(rel) {
                    stream.extend_from_slice(format!("F {} {m} {rel}\n", data.len()).as_bytes());
                    stream.extend_from_slice(data);
                } else {
                    stream.extend_from_slice(format!("A {m} {rel}\n").as_bytes());
                }
            }
        }
    }
    let out = ctx.run_own_stdin(s.as_str(), Some(stream)).await?;
    if out.rc != 0 {
        return Ok(Outcome::failed(format!(
            "copy to {base} failed (rc={}): {}",
            out.rc,
            out.stderr_str().trim()
        )));
    }
    let mut o = base_out;
    o.changed = true;
    let mut files: Vec<String> = differ.into_iter().collect();
    files.sort();
    Ok(o.with("changed_files", files))
}

/// `remote_src: yes`: copies a file (or a directory) that is already on the host.
async fn copy_remote(
    ctx: &ModuleCtx<'_>,
    args: &Args,
    src: &str,
    dest: &str,
    attrs: Attrs,
) -> ModuleResult {
    let force = args.bool_or("force", true)?;
    let backup = args.bool_or("backup", false)?;
    let check = ctx.check_mode;
    let mut s = Script::new();
    s.raw("rd_src=")
        .arg(src)
        .raw("\nrd_dest=")
        .arg(dest)
        .raw("\n");
    s.raw("[ -e \"$rd_src\" ] || { echo \"Source $rd_src not found\" >&2; exit 4; }\n");
    s.raw("if [ -d \"$rd_src\" ]; then\n");
    // Directory: mirror the tree (files compared by content).
    s.raw("  case $rd_src in */) rd_base=$rd_dest;; *) rd_base=\"${rd_dest%/}/$(basename -- \"$rd_src\")\";; esac\n");
    s.raw("  rd_list=$(cd \"$rd_src\" && find . -mindepth 1 \\( -type d -printf 'D %p\\n' \\) -o \\( -type f -printf 'F %p\\n' \\)) || exit 3\n");
    s.raw("  [ -d \"$rd_base\" ] || { echo RD_CHANGED; ");
    if !check {
        s.raw("mkdir -p -- \"$rd_base\" || exit 3; ");
    }
    s.raw("}\n");
    let mut fattrs = Script::new();
    util::attrs_script(&mut fattrs, "rd_p", &attrs, check, true);
    s.raw("  printf '%s\\n' \"$rd_list\" | while IFS= read -r rd_l; do\n    [ -n \"$rd_l\" ] || continue\n    rd_k=${rd_l%% *}; rd_r=${rd_l#* ./}; rd_p=\"$rd_base/$rd_r\"\n");
    s.raw("    if [ \"$rd_k\" = D ]; then [ -d \"$rd_p\" ] || { echo RD_CHANGED; ");
    if !check {
        s.raw("mkdir -p -- \"$rd_p\" || exit 3; ");
    }
    s.raw("}; continue; fi\n");
    s.raw("    if [ ! -e \"$rd_p\" ]");
    if force {
        s.raw(" || [ \"$(sha256sum < \"$rd_src/$rd_r\" | cut -d' ' -f1)\" != \"$(sha256sum < \"$rd_p\" | cut -d' ' -f1)\" ]");
    }
    s.raw("; then echo RD_CHANGED; ");
    if !check {
        s.raw("cp -p -- \"$rd_src/$rd_r\" \"$rd_p\" || exit 3; ");
    }
    s.raw("fi\n    [ -e \"$rd_p\" ] || continue\n");
    s.raw(fattrs.as_str());
    s.raw("  done || exit 3\n  exit 0\nfi\n");
    // A single file.
    s.raw("case $rd_dest in */) rd_dest=\"$rd_dest$(basename -- \"$rd_src\")\";; esac\n");
    s.raw("[ -d \"$rd_dest\" ] && rd_dest=\"$rd_dest/$(basename -- \"$rd_src\")\"\n");
    s.raw(
        "echo \"RD_DEST $rd_dest\"\nrd_want=$(sha256sum < \"$rd_src\" | cut -d' ' -f1) || exit 3\n",
    );
    s.raw(
        "echo \"RD_SUM $(sha1sum < \"$rd_src\" | cut -d' ' -f1) $(stat -L -c %s \"$rd_src\")\"\n",
    );
    s.raw("if [ ! -e \"$rd_dest\" ]");
    if force {
        s.raw(" || [ \"$(sha256sum < \"$rd_dest\" | cut -d' ' -f1)\" != \"$rd_want\" ]");
    }
    s.raw("; then\n  echo RD_CHANGED\n");
    if !check {
        s.raw("  rd_dir=$(dirname -- \"$rd_dest\")\n  [ -d \"$rd_dir\" ] || { echo \"Destination directory $rd_dir does not exist\" >&2; exit 4; }\n");
        s.raw("  rd_tmp=$(mktemp \"$rd_dir/.rdeploy.XXXXXXXX\") || exit 3\n  trap 'rm -f \"$rd_tmp\"' EXIT\n");
        s.raw("  cp -- \"$rd_src\" \"$rd_tmp\" || exit 3\n");
        s.raw("  if [ -e \"$rd_dest\" ]; then chmod --reference=\"$rd_dest\" \"$rd_tmp\"; chown --reference=\"$rd_dest\" \"$rd_tmp\" 2>/dev/null; fi\n");
        let mut inner = Script::new();
        util::attrs_script(&mut inner, "rd_tmp", &attrs, false, true);
        s.raw(&inner.into_string().replace("echo RD_ATTRS_CHANGED", ":"));
        if let Some(v) = args.str("validate") {
            if !v.contains("%s") {
                return Err(ModuleError::failed(format!(
                    "validate must contain %s: {v}"
                )));
            }
            let (head, tail) = v.split_once("%s").unwrap_or((&v, ""));
            // `validate` is a command line the user wrote for the host, like `shell:`.
            s.raw("  ")
                .raw(head)
                .raw("\"$rd_tmp\"")
                .raw(tail)
                .raw(" >&2 || { echo \"failed to validate\" >&2; exit 4; }\n");
        }
        if backup {
            s.raw("  if [ -f \"$rd_dest\" ]; then rd_bk=\"$rd_dest.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$rd_dest\" \"$rd_bk\" && echo \"RD_BACKUP $rd_bk\"; fi\n");
        }
        s.raw("  mv -f -- \"$rd_tmp\" \"$rd_dest\" || exit 3\n  trap - EXIT\n");
    }
    s.raw("else\n");
    let mut a = Script::new();
    util::attrs_script(&mut a, "rd_dest", &attrs, check, true);
    s.raw(a.as_str());
    s.raw("fi\n");
    // A `validate` command is the user's: its output is spooled like any command's.
    let out = if args.has("validate") {
        ctx.run(s.as_str()).await?
    } else {
        ctx.run_own(s.as_str()).await?
    };
    if out.rc != 0 {
        let e = out.stderr_str();
        return Ok(Outcome::failed(if out.rc == 4 {
            e.trim().to_string()
        } else {
            format!("copy failed (rc={}): {}", out.rc, e.trim())
        }));
    }
    let mut o = Outcome::ok().with("src", src);
    let mut final_dest = dest.to_string();
    for line in out.stdout_str().lines() {
        if line == "RD_CHANGED" || line == "RD_ATTRS_CHANGED" {
            o.changed = true;
        } else if let Some(d) = line.strip_prefix("RD_DEST ") {
            final_dest = d.to_string();
        } else if let Some(rest) = line.strip_prefix("RD_SUM ") {
            let mut it = rest.split(' ');
            o = o.with("checksum", it.next().unwrap_or_default().to_string());
            if let Some(size) = it.next().and_then(|s| s.parse::<u64>().ok()) {
                o = o.with("size", size);
            }
        } else if let Some(b) = line.strip_prefix("RD_BACKUP ") {
            o = o.with("backup_file", b.to_string());
        }
    }
    Ok(o.with("dest", final_dest))
}

pub struct Copy;

#[async_trait]
impl Module for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let dest = util::expand_user(ctx, &args.req_str("dest")?).await?;
        let mut attrs = Attrs::from_args(args)?;
        if args.has("content") && args.has("src") {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: content|src",
            ));
        }
        if let Some(content) = args.get("content") {
            if dest.ends_with('/') {
                return Ok(Outcome::failed("can not use content with a dir as dest"));
            }
            let text = match content {
                serde_json::Value::String(s) => s.clone(),
                // Ansible writes mappings and lists as JSON.
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            if attrs.mode.as_deref() == Some("preserve") {
                return Err(ModuleError::failed(
                    "mode=preserve is not valid with content",
                ));
            }
            return copy_one(ctx, args, &dest, text.as_bytes(), None, attrs).await;
        }
        let src = args
            .str("src")
            .ok_or_else(|| ModuleError::failed("src (or content) is required"))?;
        if args.bool_or("remote_src", false)? {
            if attrs.mode.as_deref() == Some("preserve") {
                attrs.mode = None;
            }
            return copy_remote(ctx, args, &src, &dest, attrs).await;
        }
        let local = ctx
            .search
            .find(&src, "files")
            .ok_or_else(|| ModuleError::failed(format!("Could not find or access '{src}'")))?;
        if local.is_dir() {
            let base = if src.ends_with('/') {
                dest.trim_end_matches('/').to_string()
            } else {
                join(&dest, basename(&src))
            };
            let base = if base.is_empty() {
                "/".to_string()
            } else {
                base
            };
            let mut o = copy_tree(ctx, args, &local, &src, &base, attrs).await?;
            o.data.insert("dest".into(), dest.clone().into());
            return Ok(o);
        }
        let (content, _) =
            crate::vault::read_file(&local).map_err(|e| ModuleError::failed(e.to_string()))?;
        if attrs.mode.as_deref() == Some("preserve") {
            attrs.mode = local_mode(&local);
        }
        let o = copy_one(ctx, args, &dest, &content, Some(basename(&src)), attrs).await?;
        Ok(o.with("src", local.display().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(basename("files/app.conf"), "app.conf");
        assert_eq!(basename("dir/"), "dir");
        assert_eq!(join("/etc/", "x"), "/etc/x");
        assert_eq!(join("/etc", "x"), "/etc/x");
    }

    #[test]
    fn walks_sorted_with_dirs_first_in_place() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        std::fs::write(d.path().join("a.txt"), "a").unwrap();
        std::fs::write(d.path().join("b/c/d.txt"), "d").unwrap();
        let mut out = Vec::new();
        walk(d.path(), "", false, &mut out).unwrap();
        let names: Vec<String> = out
            .iter()
            .map(|e| match e {
                Entry::Dir(r) => format!("D {r}"),
                Entry::File { rel, .. } => format!("F {rel}"),
            })
            .collect();
        assert_eq!(names, vec!["F a.txt", "D b", "D b/c", "F b/c/d.txt"]);
    }
}
