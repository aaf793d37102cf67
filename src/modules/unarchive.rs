//! The `unarchive` module: unpacks a `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`, `.tar.bz2` or
//! `.zip` archive into an existing directory `dest`. `src` is a file on the controller
//! (streamed on stdin) or, with `remote_src: true`, a file on the host.
//!
//! One exchange: the archive is unpacked into a temporary directory on the host and
//! compared with `dest` (every member: type, content with `cmp`, permission bits,
//! symlink targets); only when something differs is it copied over `dest` (`cp -a`), so
//! a second run reports `changed: false`. `creates` skips everything when that path
//! exists. `owner`, `group` and `mode` apply to every member (directories too, as in
//! Ansible; symlinks are left alone). tar archives use the
//! host's `tar` (compression detected by tar itself); zip archives need `unzip` on the
//! host and fail clearly without it. Check mode unpacks into the temporary directory
//! only, to predict the change.

use super::util::{self, Attrs};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{json, Value};

const PARAMS: &[&str] = &[
    "src",
    "dest",
    "remote_src",
    "copy",
    "creates",
    "list_files",
    "owner",
    "group",
    "mode",
    "exclude",
    "extra_opts",
    "decrypt",
    "validate_certs",
    "unsafe_writes",
];

/// Exit status of the script for a failure it explains on stderr.
const EXPLAINED: i32 = 4;

/// Ansible's handler name for an archive, from its file name (tar detects the
/// compression itself; this is only reported).
fn handler_for(name: &str, is_zip: bool) -> &'static str {
    let n = name.to_ascii_lowercase();
    if is_zip {
        "ZipArchive"
    } else if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
        "TgzArchive"
    } else if n.ends_with(".tar.xz") || n.ends_with(".txz") {
        "TarXzArchive"
    } else if n.ends_with(".tar.bz2") || n.ends_with(".tbz2") {
        "TarBzipArchive"
    } else if n.ends_with(".tar.zst") {
        "TarZstdArchive"
    } else {
        "TarArchive"
    }
}

/// What the task asks for.
struct Plan {
    /// Path of the archive on the host, or `None` when it comes on stdin.
    remote_src: Option<String>,
    /// Size of the archive sent on stdin (when `remote_src` is `None`).
    stdin_len: usize,
    dest: String,
    creates: Option<String>,
    list_files: bool,
    attrs: Attrs,
    excludes: Vec<String>,
    extra_opts: Vec<String>,
    check: bool,
}

/// Shell code comparing the members unpacked in the current directory with `$1` (the
/// destination): prints `RD_DIFF` for each one that is missing or differs.
fn compare_code(compare_mode: bool) -> String {
    let mode = if compare_mode {
        " && [ \"$(stat -c %a -- \"$f\")\" = \"$(stat -c %a -- \"$d\")\" ]"
    } else {
        ""
    };
    format!(
        "D=$1; shift; for f do d=\"$D/$f\"; \
         if [ -L \"$f\" ]; then {{ [ -L \"$d\" ] && [ \"$(readlink -- \"$f\")\" = \"$(readlink -- \"$d\")\" ]; }} || echo \"RD_DIFF $f\"; \
         elif [ -d \"$f\" ]; then {{ [ -d \"$d\" ] && [ ! -L \"$d\" ]; }} || echo \"RD_DIFF $f\"; \
         else {{ [ -f \"$d\" ] && [ ! -L \"$d\" ] && cmp -s -- \"$f\" \"$d\"{mode}; }} || echo \"RD_DIFF $f\"; fi; done"
    )
}

/// The whole exchange (see the module docs); markers on stdout: `RD_CREATES`,
/// `RD_KIND tar|zip`, `RD_FILE <member>` (list_files), `RD_DIFF <member>`,
/// `RD_ATTRS_CHANGED`, `RD_DEST <stat>`.
fn script(p: &Plan) -> String {
    let mut s = Script::new();
    s.raw("rd_dest=").arg(&p.dest).raw("\n");
    if let Some(c) = &p.creates {
        s.raw("rd_creates=").arg(c).raw("\n");
        s.raw("if [ -e \"$rd_creates\" ]; then echo RD_CREATES; exit 0; fi\n");
    }
    s.raw(&format!(
        "[ -d \"$rd_dest\" ] || {{ echo \"Destination directory '$rd_dest' does not exist\" >&2; exit {EXPLAINED}; }}\n"
    ));
    s.raw("rd_t=$(mktemp -d \"${TMPDIR:-/tmp}/rdeploy-unarchive.XXXXXX\") || exit 3\n");
    s.raw("trap 'rm -rf \"$rd_t\"' EXIT\n");
    match &p.remote_src {
        Some(src) => {
            s.raw("rd_src=").arg(src).raw("\n");
            s.raw(&format!(
                "[ -f \"$rd_src\" ] && [ -r \"$rd_src\" ] || {{ echo \"Source '$rd_src' does not exist or is not readable\" >&2; exit {EXPLAINED}; }}\n"
            ));
        }
        None => {
            // Never unpack an archive cut short by a lost connection.
            s.raw("rd_src=\"$rd_t/archive\"\n");
            s.raw(&super::util::receive_stdin("\"$rd_src\"", p.stdin_len));
        }
    }
    // zip archives start with `PK`; anything else goes to tar.
    s.raw("rd_kind=tar\ncase \"$(head -c 2 -- \"$rd_src\")\" in PK) rd_kind=zip;; esac\necho \"RD_KIND $rd_kind\"\n");
    s.raw(&format!(
        "if [ $rd_kind = zip ] && ! command -v unzip >/dev/null 2>&1; then echo \"Unable to find required 'unzip' binary in the path: install unzip on the host to unpack zip archives\" >&2; exit {EXPLAINED}; fi\n"
    ));
    s.raw("mkdir \"$rd_t/x\" || exit 3\n");
    let mut tar_opts = Script::new();
    for e in &p.excludes {
        tar_opts.raw(" ").arg(&format!("--exclude={e}"));
    }
    for o in &p.extra_opts {
        tar_opts.raw(" ").arg(o);
    }
    let mut zip_opts = Script::new();
    for o in &p.extra_opts {
        zip_opts.raw(" ").arg(o);
    }
    if !p.excludes.is_empty() {
        zip_opts.raw(" -x ").args(&p.excludes);
    }
    s.raw(&format!(
        "if [ $rd_kind = zip ]; then unzip -q -o{} \"$rd_src\" -d \"$rd_t/x\" >\"$rd_t/err\" 2>&1; \
         else tar -x -C \"$rd_t/x\" -f \"$rd_src\"{} >\"$rd_t/err\" 2>&1; fi || \
         {{ echo \"failed to unpack $rd_src: $(cat \"$rd_t/err\")\" >&2; exit {EXPLAINED}; }}\n",
        zip_opts.as_str(),
        tar_opts.as_str()
    ));
    s.raw("cd \"$rd_t/x\" || exit 3\n");
    if p.list_files {
        s.raw("find . -mindepth 1 | sed 's|^|RD_FILE |'\n");
    }
    s.raw("find . -mindepth 1 -exec sh -c ")
        .arg(&compare_code(p.attrs.mode.is_none()))
        .raw(" sh \"$rd_dest\" {} + > \"$rd_t/diff\" || exit 3\n");
    s.raw("cat \"$rd_t/diff\"\n");
    if !p.check {
        s.raw(&format!(
            "if [ -s \"$rd_t/diff\" ]; then cp -a -- \"$rd_t/x/.\" \"$rd_dest/\" 2>\"$rd_t/err\" || {{ echo \"failed to copy into $rd_dest: $(cat \"$rd_t/err\")\" >&2; exit {EXPLAINED}; }}; fi\n"
        ));
    }
    if !p.attrs.is_empty() {
        // Owner, group, mode of every member but symlinks (only compared in check mode).
        let mut inner = Script::new();
        inner.raw("D=$1; shift; for f do rd_f=\"$D/$f\"; [ -e \"$rd_f\" ] && [ ! -L \"$rd_f\" ] || continue\n");
        util::attrs_script(&mut inner, "rd_f", &p.attrs, p.check, false);
        inner.raw("done");
        s.raw("find . -mindepth 1 -exec sh -c ")
            .arg(inner.as_str())
            .raw(" sh \"$rd_dest\" {} + | sort -u || exit 3\n");
    }
    s.raw("echo \"RD_DEST $(stat -c '%u %g %a %s %U %G' -- \"$rd_dest\")\"\nexit 0\n");
    s.into_string()
}

/// What the script reported.
#[derive(Debug, Default, PartialEq)]
struct Report {
    skipped_creates: bool,
    zip: bool,
    files: Vec<String>,
    differing: Vec<String>,
    attrs_changed: bool,
    /// uid, gid, mode, size, owner, group of `dest`.
    dest_stat: Vec<String>,
}

fn parse(out: &str) -> Report {
    let mut r = Report::default();
    for line in out.lines() {
        if line == "RD_CREATES" {
            r.skipped_creates = true;
        } else if let Some(k) = line.strip_prefix("RD_KIND ") {
            r.zip = k == "zip";
        } else if let Some(f) = line.strip_prefix("RD_FILE ") {
            r.files.push(f.trim_start_matches("./").to_string());
        } else if let Some(f) = line.strip_prefix("RD_DIFF ") {
            r.differing.push(f.trim_start_matches("./").to_string());
        } else if line == "RD_ATTRS_CHANGED" {
            r.attrs_changed = true;
        } else if let Some(st) = line.strip_prefix("RD_DEST ") {
            r.dest_stat = st.split(' ').map(str::to_string).collect();
        }
    }
    r
}

pub struct Unarchive;

#[async_trait]
impl Module for Unarchive {
    fn name(&self) -> &'static str {
        "unarchive"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let src = args.req_str("src")?;
        let dest = util::expand_user(ctx, &args.req_str("dest")?).await?;
        if src.contains("://") {
            return Err(ModuleError::failed(
                "unarchive: URLs as src are not supported by rdeploy; download with get_url first",
            ));
        }
        let remote = args.bool_or("remote_src", false)? || !args.bool_or("copy", true)?;
        let (remote_src, stdin) = if remote {
            (Some(util::expand_user(ctx, &src).await?), None)
        } else {
            let path = ctx
                .search
                .find(&src, "files")
                .filter(|p| p.is_file())
                .ok_or_else(|| ModuleError::failed(format!("Could not find or access '{src}'")))?;
            let data = std::fs::read(&path)
                .map_err(|e| ModuleError::failed(format!("cannot read {}: {e}", path.display())))?;
            (None, Some(data))
        };
        let plan = Plan {
            stdin_len: stdin.as_ref().map_or(0, Vec::len),
            remote_src,
            dest: dest.clone(),
            creates: args.str("creates"),
            list_files: args.bool_or("list_files", false)?,
            attrs: Attrs::from_args(args)?,
            excludes: args.list("exclude").unwrap_or_default(),
            extra_opts: args.list("extra_opts").unwrap_or_default(),
            check: ctx.check_mode,
        };
        let out = ctx.run_stdin(&script(&plan), stdin).await?;
        if out.rc != 0 {
            let err = out.stderr_str();
            return Ok(Outcome::failed(if out.rc == EXPLAINED {
                err.trim().to_string()
            } else {
                format!(
                    "unarchive of {src} into {dest} failed (rc={}): {}",
                    out.rc,
                    err.trim()
                )
            })
            .with("src", src)
            .with("dest", dest));
        }
        let r = parse(&out.stdout_str());
        if r.skipped_creates {
            let creates = plan.creates.unwrap_or_default();
            return Ok(Outcome::ok()
                .with_msg(format!("skipped, since {creates} exists"))
                .with("src", src)
                .with("dest", dest));
        }
        let changed = !r.differing.is_empty() || r.attrs_changed;
        let mut o = Outcome::changed(changed)
            .with("src", src.clone())
            .with("dest", dest)
            .with("handler", handler_for(&src, r.zip))
            .with("state", "directory");
        if let [uid, gid, mode, size, owner, group, ..] = r.dest_stat.as_slice() {
            o = o
                .with("uid", json!(uid.parse::<u64>().unwrap_or(0)))
                .with("gid", json!(gid.parse::<u64>().unwrap_or(0)))
                .with("mode", format!("{:0>4}", mode))
                .with("size", json!(size.parse::<u64>().unwrap_or(0)))
                .with("owner", owner.clone())
                .with("group", group.clone());
        }
        if plan.list_files {
            let mut files = r.files;
            files.sort();
            o = o.with("files", Value::from(files));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::run_local_with;
    use std::path::Path;
    use std::process::Command;

    #[test]
    fn handlers_by_name() {
        assert_eq!(handler_for("a.tar.gz", false), "TgzArchive");
        assert_eq!(handler_for("a.TGZ", false), "TgzArchive");
        assert_eq!(handler_for("a.tar.xz", false), "TarXzArchive");
        assert_eq!(handler_for("a.tar", false), "TarArchive");
        assert_eq!(handler_for("a.bin", true), "ZipArchive");
    }

    #[test]
    fn parses_the_report() {
        let r = parse("RD_KIND zip\nRD_FILE ./a\nRD_DIFF ./a\nRD_DEST 0 0 755 4096 root root\n");
        assert!(r.zip && !r.skipped_creates && !r.attrs_changed);
        assert_eq!(r.differing, ["a"]);
        assert_eq!(r.dest_stat.len(), 6);
    }

    /// A source tree `src/` (top.txt, sub/inner.txt, link -> top.txt) packed as
    /// `files/<name>` with `tar <flags>`; returns the temp dir.
    fn archive(name: &str, tar_flags: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src/sub")).unwrap();
        std::fs::write(d.join("src/top.txt"), "top\n").unwrap();
        std::fs::write(d.join("src/sub/inner.txt"), "inner\n").unwrap();
        std::os::unix::fs::symlink("top.txt", d.join("src/link")).unwrap();
        std::fs::create_dir_all(d.join("files")).unwrap();
        std::fs::create_dir_all(d.join("dest")).unwrap();
        let st = Command::new("tar")
            .arg(tar_flags)
            .arg(d.join("files").join(name))
            .arg("-C")
            .arg(d.join("src"))
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        dir
    }

    async fn unarchive(d: &Path, args: Value, check: bool) -> Outcome {
        let mut a = json!({"dest": d.join("dest").display().to_string()});
        a.as_object_mut()
            .unwrap()
            .extend(args.as_object().unwrap().clone());
        let o = run_local_with(&Unarchive, a, json!({}), check, d)
            .await
            .unwrap();
        assert!(!o.failed, "{:?}", o.msg);
        o
    }

    #[tokio::test]
    async fn unpacks_tar_gz_idempotently() {
        let t = archive("app.tar.gz", "-czf");
        let d = t.path();
        // Check mode predicts without writing.
        let o = unarchive(d, json!({"src": "app.tar.gz"}), true).await;
        assert!(o.changed);
        assert!(!d.join("dest/top.txt").exists());
        let o = unarchive(d, json!({"src": "app.tar.gz", "list_files": true}), false).await;
        assert!(o.changed);
        assert_eq!(o.data["handler"], json!("TgzArchive"));
        assert_eq!(
            std::fs::read_to_string(d.join("dest/sub/inner.txt")).unwrap(),
            "inner\n"
        );
        assert_eq!(
            std::fs::read_link(d.join("dest/link")).unwrap(),
            Path::new("top.txt")
        );
        assert_eq!(
            o.data["files"],
            json!(["link", "sub", "sub/inner.txt", "top.txt"])
        );
        // Same content: unchanged, in check mode too.
        assert!(
            !unarchive(d, json!({"src": "app.tar.gz"}), false)
                .await
                .changed
        );
        assert!(
            !unarchive(d, json!({"src": "app.tar.gz"}), true)
                .await
                .changed
        );
        // A changed member is restored.
        std::fs::write(d.join("dest/top.txt"), "edited\n").unwrap();
        assert!(
            unarchive(d, json!({"src": "app.tar.gz"}), false)
                .await
                .changed
        );
        assert_eq!(
            std::fs::read_to_string(d.join("dest/top.txt")).unwrap(),
            "top\n"
        );
        // creates: skipped.
        std::fs::write(d.join("dest/top.txt"), "edited again\n").unwrap();
        let creates = d.join("dest/sub").display().to_string();
        let o = unarchive(d, json!({"src": "app.tar.gz", "creates": creates}), false).await;
        assert!(!o.changed);
        assert_eq!(o.msg.unwrap(), format!("skipped, since {creates} exists"));
    }

    #[tokio::test]
    async fn remote_src_tar_xz_and_mode() {
        let t = archive("app.tar.xz", "-cJf");
        let d = t.path();
        let src = d.join("files/app.tar.xz").display().to_string();
        let args = json!({"src": src, "remote_src": true, "mode": "0750"});
        let o = unarchive(d, args.clone(), false).await;
        assert!(o.changed);
        assert_eq!(o.data["handler"], json!("TarXzArchive"));
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(d.join("dest/sub/inner.txt")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o750);
        assert!(!unarchive(d, args, false).await.changed);
    }

    #[tokio::test]
    async fn plain_tar_and_errors() {
        let t = archive("app.tar", "-cf");
        let d = t.path();
        let o = unarchive(d, json!({"src": "app.tar"}), false).await;
        assert!(o.changed);
        assert_eq!(o.data["handler"], json!("TarArchive"));
        let e = run_local_with(
            &Unarchive,
            json!({"src": "app.tar", "dest": d.join("nope").display().to_string()}),
            json!({}),
            false,
            d,
        )
        .await
        .unwrap();
        assert!(e.failed);
        assert!(e.msg.unwrap().contains("does not exist"));
        let e = run_local_with(
            &Unarchive,
            json!({"src": "missing.tgz", "dest": d.join("dest").display().to_string()}),
            json!({}),
            false,
            d,
        )
        .await;
        assert!(matches!(e, Err(ModuleError::Failed(m)) if m.contains("missing.tgz")));
    }

    #[tokio::test]
    async fn zip_needs_unzip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("dest")).unwrap();
        std::fs::create_dir_all(d.join("files")).unwrap();
        // A tiny zip with one stored file `a.txt` ("hi\n"), written by hand.
        std::fs::write(d.join("files/a.zip"), tiny_zip()).unwrap();
        let has_unzip = Command::new("sh")
            .args(["-c", "command -v unzip"])
            .output()
            .unwrap()
            .status
            .success();
        let o = run_local_with(
            &Unarchive,
            json!({"src": "a.zip", "dest": d.join("dest").display().to_string()}),
            json!({}),
            false,
            d,
        )
        .await
        .unwrap();
        if has_unzip {
            assert!(o.changed && !o.failed, "{:?}", o.msg);
            assert_eq!(o.data["handler"], json!("ZipArchive"));
            assert_eq!(
                std::fs::read_to_string(d.join("dest/a.txt")).unwrap(),
                "hi\n"
            );
            let again = run_local_with(
                &Unarchive,
                json!({"src": "a.zip", "dest": d.join("dest").display().to_string()}),
                json!({}),
                false,
                d,
            )
            .await
            .unwrap();
            assert!(!again.changed && !again.failed, "{:?}", again.msg);
        } else {
            assert!(o.failed);
            assert!(o.msg.unwrap().contains("'unzip'"));
        }
    }

    #[tokio::test]
    async fn zip_without_unzip_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("dest")).unwrap();
        std::fs::create_dir_all(d.join("files")).unwrap();
        std::fs::write(d.join("files/a.zip"), tiny_zip()).unwrap();
        // A PATH with what the script needs before the check, and no unzip.
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in ["mktemp", "cat", "stat", "head", "rm"] {
            let out = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap();
            let path = String::from_utf8(out.stdout).unwrap();
            std::os::unix::fs::symlink(path.trim(), bin.join(tool)).unwrap();
        }
        let env = [("PATH".to_string(), bin.display().to_string())];
        let args = json!({"src": "a.zip", "dest": d.join("dest").display().to_string()});
        let o = crate::modules::testing::run_local_env(&Unarchive, args, json!({}), &env, false, d)
            .await
            .unwrap();
        assert!(o.failed);
        assert!(o.msg.unwrap().contains("Unable to find required 'unzip'"));
        assert!(!d.join("dest/a.txt").exists());
    }

    /// A zip archive holding `a.txt` = "hi\n" (stored, no compression).
    fn tiny_zip() -> Vec<u8> {
        let name = b"a.txt";
        let data = b"hi\n";
        let crc = crc32(data);
        let mut z = Vec::new();
        let le16 = |v: u16| v.to_le_bytes();
        let le32 = |v: u32| v.to_le_bytes();
        // Local file header.
        z.extend_from_slice(&le32(0x04034b50));
        z.extend_from_slice(&le16(10));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0x21));
        z.extend_from_slice(&le32(crc));
        z.extend_from_slice(&le32(data.len() as u32));
        z.extend_from_slice(&le32(data.len() as u32));
        z.extend_from_slice(&le16(name.len() as u16));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(name);
        z.extend_from_slice(data);
        let cd_start = z.len() as u32;
        // Central directory entry.
        z.extend_from_slice(&le32(0x02014b50));
        z.extend_from_slice(&le16(0x031e));
        z.extend_from_slice(&le16(10));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0x21));
        z.extend_from_slice(&le32(crc));
        z.extend_from_slice(&le32(data.len() as u32));
        z.extend_from_slice(&le32(data.len() as u32));
        z.extend_from_slice(&le16(name.len() as u16));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le32(0o100644 << 16));
        z.extend_from_slice(&le32(0));
        z.extend_from_slice(name);
        let cd_len = z.len() as u32 - cd_start;
        // End of central directory.
        z.extend_from_slice(&le32(0x06054b50));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(0));
        z.extend_from_slice(&le16(1));
        z.extend_from_slice(&le16(1));
        z.extend_from_slice(&le32(cd_len));
        z.extend_from_slice(&le32(cd_start));
        z.extend_from_slice(&le16(0));
        z
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
