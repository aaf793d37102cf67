//! The `fetch` module: copies a file from the host to the controller, into
//! `dest/<inventory_hostname>/<src path>` (or `dest` itself with `flat: yes`).
//!
//! One exchange: the host prints the file's SHA-1 and then its bytes; the controller
//! checks what it received against that checksum (`validate_checksum`), compares with
//! the local copy, and writes it atomically (temporary file in the same directory, then
//! rename). Relative `dest` is relative to the playbook's directory, as in Ansible.

use super::util::sha1_hex;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the fetched file goes on the controller.
fn local_dest(base: &Path, dest: &str, src: &str, host: &str, flat: bool) -> PathBuf {
    let d = if Path::new(dest).is_absolute() {
        PathBuf::from(dest)
    } else {
        base.join(dest)
    };
    if flat {
        if dest.ends_with('/') {
            let name = Path::new(src)
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            return d.join(name);
        }
        return d;
    }
    let rel = src.trim_start_matches('/');
    d.join(host).join(rel)
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".rdeploy.")
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub struct Fetch;

#[async_trait]
impl Module for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "src",
            "dest",
            "flat",
            "fail_on_missing",
            "validate_checksum",
            "validate_md5",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let src = super::util::expand_user(ctx, &args.req_str("src")?).await?;
        let dest = args.req_str("dest")?;
        let flat = args.bool_or("flat", false)?;
        let fail_on_missing = args.bool_or("fail_on_missing", true)?;
        let validate = args.bool_or("validate_checksum", args.bool_or("validate_md5", true)?)?;
        let local = local_dest(&ctx.search.playbook_dir, &dest, &src, ctx.host, flat);

        let mut s = Script::new();
        s.raw("rd_p=").arg(&src).raw("\n");
        s.raw("if [ -d \"$rd_p\" ]; then echo RD_DIR; exit 0; fi\n");
        s.raw("if [ ! -e \"$rd_p\" ]; then echo RD_MISSING; exit 0; fi\n");
        s.raw("if [ ! -r \"$rd_p\" ]; then echo RD_UNREADABLE; exit 0; fi\n");
        s.raw("rd_sum=$(sha1sum < \"$rd_p\") || exit 3\necho \"RD_SUM ${rd_sum%% *}\"\nexec cat -- \"$rd_p\"\n");
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Ok(Outcome::failed(format!(
                "cannot read {src}: {}",
                out.stderr_str().trim()
            )));
        }
        let nl = out
            .stdout
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(out.stdout.len());
        let head = String::from_utf8_lossy(&out.stdout[..nl]).into_owned();
        let missing = |msg: &str| -> ModuleResult {
            let o = Outcome::ok().with("msg", msg).with("file", src.clone());
            if fail_on_missing {
                let mut f = Outcome::failed(msg);
                f.data = o.data;
                Ok(f)
            } else {
                let mut o = o;
                o.msg = Some(msg.to_string());
                Ok(o)
            }
        };
        let remote_sum = match head.as_str() {
            "RD_DIR" => {
                return Ok(Outcome::failed(
                    "remote file is a directory, fetch cannot work on directories",
                )
                .with("file", src))
            }
            "RD_MISSING" => {
                return missing("the remote file does not exist, not transferring, ignored")
            }
            "RD_UNREADABLE" => return missing("file is not readable, not transferring, ignored"),
            h => h
                .strip_prefix("RD_SUM ")
                .ok_or_else(|| {
                    ModuleError::failed(format!("cannot read {src}: unexpected output"))
                })?
                .to_string(),
        };
        let data = out.stdout.get(nl + 1..).unwrap_or_default();
        let got = sha1_hex(data);
        if validate && got != remote_sum {
            return Ok(Outcome::failed("checksum mismatch")
                .with("checksum", got)
                .with("remote_checksum", remote_sum));
        }
        let local_old = std::fs::read(&local).ok();
        let local_sum = local_old.as_deref().map(sha1_hex);
        let changed = local_sum.as_deref() != Some(remote_sum.as_str());
        if changed && !ctx.check_mode {
            write_atomic(&local, data).map_err(|e| {
                ModuleError::failed(format!("cannot write {}: {e}", local.display()))
            })?;
        }
        let mut o = Outcome::changed(changed)
            .with("dest", local.display().to_string())
            .with("file", src)
            .with("checksum", got)
            .with("remote_checksum", remote_sum)
            .with("md5sum", format!("{:x}", md5::compute(data)));
        if ctx.diff_mode && changed {
            let before = local_old
                .as_deref()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .unwrap_or_default();
            o = o.with_diff(
                &local.display().to_string(),
                before,
                String::from_utf8_lossy(data).into_owned(),
            );
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let b = Path::new("/pb");
        assert_eq!(
            local_dest(b, "out", "/etc/hosts", "web1", false),
            PathBuf::from("/pb/out/web1/etc/hosts")
        );
        assert_eq!(
            local_dest(b, "/abs/", "/etc/hosts", "web1", true),
            PathBuf::from("/abs/hosts")
        );
        assert_eq!(
            local_dest(b, "/abs/h.txt", "/etc/hosts", "web1", true),
            PathBuf::from("/abs/h.txt")
        );
    }
}
