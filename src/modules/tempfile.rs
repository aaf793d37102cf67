//! The `tempfile` module: creates a temporary file or directory with `mktemp` (readable
//! only by its owner) and returns its `path`, in one exchange. Like Ansible's, it does
//! not run in check mode (the task is skipped: there is no path to predict).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;

pub struct TempFile;

const PARAMS: &[&str] = &["state", "path", "prefix", "suffix"];

fn script(dir: Option<&str>, prefix: &str, suffix: &str, directory: bool) -> String {
    let mut s = Script::new();
    match dir {
        Some(d) => s.raw("rd_dir=").arg(d).raw("\n"),
        None => s.raw("rd_dir=${TMPDIR:-/tmp}\n"),
    };
    s.raw("[ -d \"$rd_dir\" ] || { echo \"$rd_dir is not a directory\" >&2; exit 4; }\n");
    s.raw("rd_t=$(mktemp ");
    if directory {
        s.raw("-d ");
    }
    s.raw("-p \"$rd_dir\" --suffix=")
        .arg(suffix)
        .raw(" -- ")
        .arg(&format!("{prefix}XXXXXXXX"))
        .raw(") || exit 4\n");
    s.raw("stat -c '%s %u %g %U %G %a' -- \"$rd_t\"; printf '%s' \"$rd_t\"\n");
    s.into_string()
}

#[async_trait]
impl Module for TempFile {
    fn name(&self) -> &'static str {
        "tempfile"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("tempfile", PARAMS)?;
        let state = args.str("state").unwrap_or_else(|| "file".into());
        let directory = match state.as_str() {
            "file" => false,
            "directory" => true,
            o => {
                return Err(ModuleError::failed(format!(
                    "tempfile: state must be file or directory, got {o}"
                )))
            }
        };
        let prefix = args.str("prefix").unwrap_or_else(|| "ansible.".into());
        let suffix = args.str("suffix").unwrap_or_default();
        if prefix.contains('/') || suffix.contains('/') {
            return Err(ModuleError::failed(
                "tempfile: prefix and suffix must not contain /",
            ));
        }
        if ctx.check_mode {
            let mut o =
                Outcome::ok().with_msg("remote module (tempfile) does not support check mode");
            o.skipped = true;
            return Ok(o);
        }
        let dir = match args.str("path") {
            Some(p) => Some(super::util::expand_user(ctx, &p).await?),
            None => None,
        };
        let out = ctx
            .run(&script(dir.as_deref(), &prefix, &suffix, directory))
            .await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "tempfile: failed to create the temporary {state}: {}",
                out.stderr_str().trim()
            )));
        }
        let text = out.stdout_str();
        let (st, path) = text.split_once('\n').unwrap_or(("", &text));
        let f: Vec<&str> = st.split(' ').collect();
        let mut o = Outcome::changed(true)
            .with("path", path)
            .with("state", state);
        if f.len() == 6 {
            o = o
                .with("size", f[0].parse::<i64>().unwrap_or(0))
                .with("uid", f[1].parse::<i64>().unwrap_or(-1))
                .with("gid", f[2].parse::<i64>().unwrap_or(-1))
                .with("owner", f[3])
                .with("group", f[4])
                .with("mode", format!("{:0>4}", f[5]));
        }
        Ok(o)
    }
}
