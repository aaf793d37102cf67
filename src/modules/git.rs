//! The `git` module: a checkout of a repository at a version, with the host's git.
//!
//! Exchange 1 reads the checkout (HEAD commit, remote URL, local modifications) and
//! asks the remote which commit `version` names (`git ls-remote`, no fetch). When they
//! already agree nothing else runs. Otherwise exchange 2 clones, or fetches and
//! switches (branch: reset to the remote branch; tag/commit: detached checkout),
//! refusing to discard local modifications unless `force`. Returns `before`/`after`.

use super::util::{section, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::{join, Script};
use async_trait::async_trait;

pub struct Git;

const PARAMS: &[&str] = &[
    "repo",
    "name",
    "dest",
    "version",
    "force",
    "update",
    "depth",
    "clone",
    "bare",
    "remote",
    "refspec",
    "accept_hostkey",
    "accept_newhostkey",
    "key_file",
    "ssh_opts",
    "single_branch",
    "recursive",
    "track_submodules",
    "umask",
    "executable",
    "verify_commit",
    "gpg_whitelist",
    "gpg_allowlist",
    "separate_git_dir",
    "archive",
    "archive_prefix",
    "reference",
];

/// What `version` names on the remote, from `git ls-remote --symref REPO` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A branch (`HEAD` resolved to the default branch) and its commit.
    Branch(String, String),
    /// A tag and the commit it points to.
    Tag(String, String),
    /// A commit given by its (possibly abbreviated) hash.
    Commit(String),
}

impl Target {
    pub fn commit(&self) -> &str {
        match self {
            Target::Branch(_, c) | Target::Tag(_, c) | Target::Commit(c) => c,
        }
    }
}

pub fn resolve_version(ls_remote: &str, version: &str) -> Option<Target> {
    let mut refs: Vec<(String, String)> = Vec::new();
    let mut head_branch = None;
    for line in ls_remote.lines() {
        if let Some(rest) = line.strip_prefix("ref: ") {
            // "ref: refs/heads/main\tHEAD"
            let (r, name) = rest.split_once('\t').unwrap_or((rest, ""));
            if name.trim() == "HEAD" {
                head_branch = r.strip_prefix("refs/heads/").map(String::from);
            }
            continue;
        }
        if let Some((sha, name)) = line.split_once('\t') {
            refs.push((name.trim().to_string(), sha.trim().to_string()));
        }
    }
    let get = |n: &str| refs.iter().find(|(r, _)| r == n).map(|(_, s)| s.clone());
    if version == "HEAD" {
        let sha = get("HEAD")?;
        let b = head_branch.unwrap_or_else(|| "HEAD".into());
        return Some(Target::Branch(b, sha));
    }
    if let Some(sha) = get(&format!("refs/heads/{version}")) {
        return Some(Target::Branch(version.to_string(), sha));
    }
    if let Some(sha) =
        get(&format!("refs/tags/{version}^{{}}")).or_else(|| get(&format!("refs/tags/{version}")))
    {
        return Some(Target::Tag(version.to_string(), sha));
    }
    if version.len() >= 4 && version.len() <= 64 && version.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(Target::Commit(version.to_lowercase()));
    }
    None
}

#[async_trait]
impl Module for Git {
    fn name(&self) -> &'static str {
        "git"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("git", PARAMS)?;
        let repo = args.req_str_any(&["repo", "name"])?;
        let dest = args.req_str("dest")?;
        let version = args.str("version").unwrap_or_else(|| "HEAD".into());
        let force = args.bool_or("force", false)?;
        let update = args.bool_or("update", true)?;
        let clone = args.bool_or("clone", true)?;
        let bare = args.bool_or("bare", false)?;
        let depth = args.int("depth")?.filter(|d| *d > 0);
        let remote = args.str("remote").unwrap_or_else(|| "origin".into());
        let recursive = args.bool_or("recursive", true)?;
        if args.has("archive") {
            return Err(ModuleError::failed(
                "git: archive is not supported by rdeploy yet",
            ));
        }
        if version.starts_with('-') || remote.starts_with('-') {
            return Err(ModuleError::failed(
                "git: version and remote cannot start with '-'",
            ));
        }

        let mut pre = Script::new();
        pre.raw("LC_ALL=C; GIT_TERMINAL_PROMPT=0; export LC_ALL GIT_TERMINAL_PROMPT\n");
        if let Some(u) = args.mode("umask")? {
            pre.raw("umask ").arg(&u).raw("\n");
        }
        let git = args.str("executable").unwrap_or_else(|| "git".into());
        pre.raw("rd_git=").arg(&git).raw("\n");
        pre.raw("command -v \"$rd_git\" >/dev/null 2>&1 || { echo 'git is not installed on the host (the git module runs git there)' >&2; exit 99; }\n");
        // ssh settings for git over ssh, as one GIT_SSH_COMMAND (git runs it through a shell).
        let mut ssh: Vec<String> = vec!["ssh".into(), "-o".into(), "BatchMode=yes".into()];
        if let Some(k) = args.str("key_file") {
            ssh.extend(["-i".into(), k, "-o".into(), "IdentitiesOnly=yes".into()]);
        }
        if args.bool_or("accept_hostkey", false)? {
            ssh.extend(["-o".into(), "StrictHostKeyChecking=no".into()]);
        } else if args.bool_or("accept_newhostkey", false)? {
            ssh.extend(["-o".into(), "StrictHostKeyChecking=accept-new".into()]);
        }
        if let Some(o) = args.str("ssh_opts") {
            ssh.extend(
                crate::shell::split(&o)
                    .map_err(|e| ModuleError::failed(format!("git: ssh_opts: {e}")))?,
            );
        }
        pre.raw("GIT_SSH_COMMAND=")
            .arg(&join(&ssh))
            .raw("; export GIT_SSH_COMMAND\n");
        pre.raw("rd_dest=")
            .arg(&dest)
            .raw("\nrd_repo=")
            .arg(&repo)
            .raw("\nrd_remote=")
            .arg(&remote)
            .raw("\nrd_version=")
            .arg(&version)
            .raw("\n");
        pre.raw("g() { \"$rd_git\" -C \"$rd_dest\" \"$@\"; }\n");

        // ---- exchange 1
        let mut s = pre.clone();
        s.raw("if [ -d \"$rd_dest/.git\" ] || { [ -f \"$rd_dest/HEAD\" ] && [ -d \"$rd_dest/objects\" ]; }; then\n");
        s.raw("  echo '@@RD exists'\n  echo '@@RD before'; g rev-parse HEAD 2>/dev/null\n");
        s.raw("  echo '@@RD remote_url'; g config --get \"remote.$rd_remote.url\"\n");
        s.raw("  echo '@@RD local_mods'; [ -d \"$rd_dest/.git\" ] && g status --porcelain --untracked-files=no 2>/dev/null\n");
        s.raw("elif [ -e \"$rd_dest\" ] && [ -n \"$(ls -A \"$rd_dest\" 2>/dev/null)\" ]; then echo '@@RD not_empty'\nfi\n");
        s.raw("echo '@@RD ls_remote'\n\"$rd_git\" ls-remote --symref \"$rd_repo\" HEAD \"refs/heads/$rd_version\" \"refs/tags/$rd_version\" \"refs/tags/$rd_version^{}\" || echo '@@RD ls_remote_failed'\n");
        let out = ctx.run(s.as_str()).await?;
        if out.rc == 99 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let stdout = out.stdout_str();
        let secs = sections(&stdout);
        let has = |n: &str| secs.iter().any(|(k, _)| k == n);
        let exists = has("exists");
        let before = section(&secs, "before")
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        let local_mods = section(&secs, "local_mods")
            .map(|m| !m.trim().is_empty())
            .unwrap_or(false);
        let cur_url = section(&secs, "remote_url")
            .unwrap_or("")
            .trim()
            .to_string();
        if has("ls_remote_failed") {
            return Err(ModuleError::failed(format!(
                "git: cannot read the remote {repo}: {}",
                out.stderr_str().trim()
            )));
        }
        let target = resolve_version(section(&secs, "ls_remote").unwrap_or(""), &version)
            .ok_or_else(|| {
                ModuleError::failed(format!(
                    "git: version {version} is not a branch, tag or commit of {repo}"
                ))
            })?;

        let mut o = Outcome::ok().with(
            "before",
            before
                .clone()
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::Value::Null),
        );
        if !exists {
            if has("not_empty") {
                return Err(ModuleError::failed(format!(
                    "git: destination path '{dest}' already exists and is not an empty directory"
                )));
            }
            if !clone {
                return Ok(o
                    .with("after", serde_json::Value::Null)
                    .with_msg("not cloning (clone=no)"));
            }
        } else if !update {
            return Ok(o
                .with("after", before.clone().unwrap_or_default())
                .with("remote_url_changed", false));
        }
        let url_changed = exists && !cur_url.is_empty() && cur_url != repo;
        let want = target.commit().to_string();
        let at_target = before
            .as_deref()
            .is_some_and(|b| b.starts_with(&want) || want.starts_with(b));
        if exists && at_target && !url_changed && !(local_mods && force) {
            return Ok(o
                .with("after", before.clone().unwrap_or_default())
                .with("remote_url_changed", false));
        }
        if exists && !at_target && local_mods && !force {
            return Err(ModuleError::failed(format!(
                "Local modifications exist in the destination: {dest} (force=no)."
            )));
        }
        o.changed = true;
        o = o.with("remote_url_changed", url_changed);
        if ctx.check_mode {
            return Ok(o.with("after", want));
        }

        // ---- exchange 2
        let mut s = pre;
        s.raw("set -e\n");
        let depth_args: Vec<String> = depth
            .map(|d| vec!["--depth".to_string(), d.to_string()])
            .unwrap_or_default();
        if !exists {
            let mut argv: Vec<String> = vec!["clone".into(), "--origin".into(), remote.clone()];
            argv.extend(depth_args.iter().cloned());
            if bare {
                argv.push("--bare".into());
            }
            if let (Some(_), Target::Branch(b, _) | Target::Tag(b, _)) = (depth, &target) {
                if b != "HEAD" {
                    argv.extend(["--branch".into(), b.clone()]);
                }
            }
            if args.bool_or("single_branch", false)? {
                argv.push("--single-branch".into());
            }
            if let Some(r) = args.str("reference") {
                argv.extend(["--reference".into(), r]);
            }
            s.raw("mkdir -p \"$(dirname \"$rd_dest\")\"\n\"$rd_git\" ")
                .args(&argv)
                .raw(" -- \"$rd_repo\" \"$rd_dest\" >&2\n");
            if !bare {
                match &target {
                    Target::Branch(b, _) if b != "HEAD" => {
                        s.raw("[ \"$(g rev-parse --abbrev-ref HEAD)\" = ")
                            .arg(b)
                            .raw(" ] || g checkout ")
                            .arg(b)
                            .raw(" >&2\n");
                    }
                    Target::Tag(t, _) => {
                        s.raw("g checkout --force ")
                            .arg(&format!("refs/tags/{t}"))
                            .raw(" >&2\n");
                    }
                    Target::Commit(c) => {
                        if depth.is_some() {
                            s.raw("g fetch ")
                                .args(&depth_args)
                                .raw(" \"$rd_remote\" ")
                                .arg(c)
                                .raw(" >&2\n");
                        }
                        s.raw("g checkout --force ").arg(c).raw(" >&2\n");
                    }
                    _ => {}
                }
            }
        } else {
            if url_changed {
                s.raw("g remote set-url \"$rd_remote\" \"$rd_repo\"\n");
            }
            let refspecs = match args.str("refspec") {
                Some(r) => vec![r],
                None if bare => vec![
                    "+refs/heads/*:refs/heads/*".into(),
                    "+refs/tags/*:refs/tags/*".into(),
                ],
                None => vec![
                    format!("+refs/heads/*:refs/remotes/{remote}/*"),
                    "+refs/tags/*:refs/tags/*".into(),
                ],
            };
            s.raw("g fetch ")
                .args(&depth_args)
                .raw(" \"$rd_remote\" ")
                .args(&refspecs)
                .raw(" >&2\n");
            if !bare {
                if local_mods && force {
                    s.raw("g reset --hard >&2\n");
                }
                match &target {
                    Target::Branch(b, _) => {
                        s.raw("rd_b=").arg(b).raw("\n");
                        s.raw("if g show-ref --verify --quiet \"refs/heads/$rd_b\"; then g checkout --force \"$rd_b\" >&2; g reset --hard \"$rd_remote/$rd_b\" >&2;\n");
                        s.raw(
                            "else g checkout --track -b \"$rd_b\" \"$rd_remote/$rd_b\" >&2; fi\n",
                        );
                    }
                    Target::Tag(t, _) => {
                        s.raw("g checkout --force ")
                            .arg(&format!("refs/tags/{t}"))
                            .raw(" >&2\n");
                    }
                    Target::Commit(c) => {
                        s.raw("g cat-file -e ")
                            .arg(&format!("{c}^{{commit}}"))
                            .raw(" 2>/dev/null || g fetch \"$rd_remote\" ")
                            .arg(c)
                            .raw(" >&2\n");
                        s.raw("g checkout --force ").arg(c).raw(" >&2\n");
                    }
                }
            }
        }
        if recursive && !bare {
            s.raw("if [ -f \"$rd_dest/.gitmodules\" ]; then g submodule update --init --recursive >&2; fi\n");
        }
        s.raw("echo '@@RD after'; g rev-parse HEAD\n");
        let r = ctx.run(s.as_str()).await?;
        let rout = r.stdout_str();
        let rsecs = sections(&rout);
        if r.rc != 0 {
            let mut f = Outcome::failed(format!(
                "git: {} failed: {}",
                if exists { "update" } else { "clone" },
                r.stderr_str().trim()
            ));
            f.changed = !exists;
            return Ok(f);
        }
        let after = section(&rsecs, "after").unwrap_or("").trim().to_string();
        o.changed =
            before.as_deref() != Some(after.as_str()) || url_changed || (local_mods && force);
        Ok(o.with("after", after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: &str = "ref: refs/heads/main\tHEAD\naaaa111\tHEAD\naaaa111\trefs/heads/main\nbbbb222\trefs/tags/v1\ncccc333\trefs/tags/v1^{}\n";

    #[test]
    fn versions() {
        assert_eq!(
            resolve_version(LS, "HEAD"),
            Some(Target::Branch("main".into(), "aaaa111".into()))
        );
        assert_eq!(
            resolve_version(LS, "main"),
            Some(Target::Branch("main".into(), "aaaa111".into()))
        );
        assert_eq!(
            resolve_version(LS, "v1"),
            Some(Target::Tag("v1".into(), "cccc333".into()))
        );
        assert_eq!(
            resolve_version(LS, "deadbeef"),
            Some(Target::Commit("deadbeef".into()))
        );
        assert_eq!(resolve_version(LS, "nope"), None);
    }
}
