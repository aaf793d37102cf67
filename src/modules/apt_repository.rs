//! The `apt_repository` module: one-line APT sources (`deb [opts] URI suite comps`) in
//! `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`.
//!
//! Exchange 1 reads every sources file (and the release codename, for `ppa:`). As in
//! Ansible, a source already present anywhere counts (a commented-out copy is
//! re-enabled); a new one goes to `sources.list.d/<filename>.list`, `filename`
//! defaulting to a name made from the URI. `state: absent` removes every enabled copy
//! (and a file left empty). Exchange 2 writes only the files that change (atomic
//! rename) and runs `apt-get update` when `update_cache` (default yes).

use super::util::sections;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use base64::Engine as _;

pub struct AptRepository;

const PARAMS: &[&str] = &[
    "repo",
    "state",
    "mode",
    "update_cache",
    "update-cache",
    "update_cache_retries",
    "update_cache_retry_max_delay",
    "filename",
    "codename",
    "validate_certs",
    "install_python_apt",
];

const SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// A sources line, Ansible's way: `(valid, enabled, normalized source, comment)`.
pub fn parse_source(line: &str) -> (bool, bool, String, String) {
    let mut line = line.trim().to_string();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest.to_string();
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#') {
        if i > 0 {
            comment = line[i + 1..].trim().to_string();
            line.truncate(i);
        }
    }
    let source = line.trim().to_string();
    let chunks: Vec<&str> = source.split_whitespace().collect();
    if matches!(chunks.first().copied(), Some("deb") | Some("deb-src")) {
        return (true, enabled, chunks.join(" "), comment);
    }
    (false, enabled, source, comment)
}

/// The file name Ansible suggests for a source: its URI host/path made of `[A-Za-z0-9_]`.
pub fn suggest_filename(source: &str) -> String {
    let no_opts = regex::Regex::new(r"\[[^\]]+\]")
        .unwrap()
        .replace_all(source, "");
    let no_proto = regex::Regex::new(r"\w+://")
        .unwrap()
        .replace_all(&no_opts, "");
    let parts: Vec<&str> = no_proto
        .split_whitespace()
        .filter(|p| *p != "deb" && *p != "deb-src")
        .collect();
    let first = parts.first().copied().unwrap_or("");
    let first = first.rsplit_once('@').map(|(_, h)| h).unwrap_or(first);
    let cleaned: String = first
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join("_")
}

/// A file's content with `source` removed (enabled copies) or enabled; `None` when unchanged.
fn edit_file(content: &str, target: &str, remove: bool) -> Option<String> {
    let mut changed = false;
    let mut out = String::new();
    for line in content.split_inclusive('\n') {
        let (valid, enabled, src, comment) = parse_source(line);
        if valid && src == target {
            if remove && enabled {
                changed = true;
                continue;
            }
            if !remove && !enabled {
                changed = true;
                out.push_str(&src);
                if !comment.is_empty() {
                    out.push_str(" # ");
                    out.push_str(&comment);
                }
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

#[async_trait]
impl Module for AptRepository {
    fn name(&self) -> &'static str {
        "apt_repository"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("apt_repository", PARAMS)?;
        let repo = args.req_str("repo")?;
        let state = args.str("state").unwrap_or_else(|| "present".into());
        if state != "present" && state != "absent" {
            return Err(ModuleError::failed(format!(
                "apt_repository: state must be present or absent, got {state}"
            )));
        }
        let update_cache = match args.bool("update_cache")? {
            Some(b) => b,
            None => args.bool_or("update-cache", true)?,
        };
        let mode = args.mode("mode")?;
        let filename_arg = args.str("filename");
        if let Some(f) = &filename_arg {
            if f.contains('/') || f.is_empty() {
                return Err(ModuleError::failed(format!(
                    "apt_repository: filename {f:?} must be a plain name (without .list)"
                )));
            }
        }

        // ---- exchange 1
        let mut s = Script::new();
        s.raw("for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f \"$f\" ] && { echo \"@@RD file $f\"; base64 -w0 < \"$f\"; echo; }; done\n");
        s.raw("echo '@@RD codename'; . /etc/os-release 2>/dev/null; echo \"${VERSION_CODENAME:-${UBUNTU_CODENAME:-}}\"\n");
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "apt_repository: reading sources failed: {}",
                out.stderr_str().trim()
            )));
        }
        let stdout = out.stdout_str();
        let secs = sections(&stdout);
        let mut files: Vec<(String, String)> = Vec::new();
        for (n, t) in &secs {
            if let Some(p) = n.strip_prefix("file ") {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(t.trim().as_bytes())
                    .unwrap_or_default();
                files.push((p.to_string(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        let codename = args
            .str("codename")
            .or_else(|| {
                super::util::section(&secs, "codename")
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
            })
            .unwrap_or_default();

        // ppa:owner/name -> a Launchpad source line
        let (line, default_file) = if let Some(ppa) = repo.strip_prefix("ppa:") {
            if codename.is_empty() {
                return Err(ModuleError::failed(
                    "apt_repository: cannot expand a ppa: without a codename (set codename)",
                ));
            }
            let (owner, name) = ppa.split_once('/').unwrap_or((ppa, "ppa"));
            (
                format!("deb http://ppa.launchpad.net/{owner}/{name}/ubuntu {codename} main"),
                format!("{owner}-ubuntu-{name}-{codename}"),
            )
        } else {
            let l = repo.clone();
            let f = suggest_filename(&parse_source(&l).2);
            (l, f)
        };
        let (valid, enabled, target, _) = parse_source(&line);
        if !valid || !enabled {
            return Err(ModuleError::failed(format!(
                "apt_repository: invalid repository string: {repo}"
            )));
        }
        let dest_file = format!(
            "{SOURCES_DIR}/{}.list",
            filename_arg.clone().unwrap_or(default_file)
        );

        // ---- decide
        let mut writes: Vec<(String, String)> = Vec::new();
        let mut removes: Vec<String> = Vec::new();
        if state == "present" {
            let mut found_enabled = false;
            for (path, content) in &files {
                let mut has = false;
                for l in content.lines() {
                    let (v, e, src, _) = parse_source(l);
                    if v && src == target {
                        has = true;
                        found_enabled |= e;
                    }
                }
                if has {
                    if let Some(new) = edit_file(content, &target, false) {
                        writes.push((path.clone(), new));
                    }
                }
            }
            let found = found_enabled || !writes.is_empty();
            if !found {
                let mut content = files
                    .iter()
                    .find(|(p, _)| *p == dest_file)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default();
                if !content.is_empty() && !content.ends_with('\n') {
                    content.push('\n');
                }
                content.push_str(&target);
                content.push('\n');
                writes.push((dest_file.clone(), content));
            }
        } else {
            for (path, content) in &files {
                if let Some(new) = edit_file(content, &target, true) {
                    if new.trim().is_empty() && path.starts_with(SOURCES_DIR) {
                        removes.push(path.clone());
                    } else {
                        writes.push((path.clone(), new));
                    }
                }
            }
        }
        let changed = !writes.is_empty() || !removes.is_empty();
        let mut o = Outcome::changed(changed)
            .with("repo", line.clone())
            .with("state", state.clone())
            .with("sources_added", serde_json::json!([]))
            .with("sources_removed", serde_json::json!([]));
        if state == "present" {
            o = o.with(
                "sources_added",
                serde_json::json!(writes.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()),
            );
        } else {
            let mut all: Vec<String> = writes.iter().map(|(p, _)| p.clone()).collect();
            all.extend(removes.iter().cloned());
            o = o.with("sources_removed", serde_json::json!(all));
        }
        if ctx.diff_mode {
            for (p, new) in &writes {
                let before = files
                    .iter()
                    .find(|(f, _)| f == p)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default();
                o = o.with_diff(p, before, new.clone());
            }
            for p in &removes {
                let before = files
                    .iter()
                    .find(|(f, _)| f == p)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default();
                o = o.with_diff(p, before, "");
            }
        }
        if !changed || ctx.check_mode {
            return Ok(o.with("cache_updated", false));
        }

        // ---- exchange 2
        let mut s = Script::new();
        s.raw("LC_ALL=C; DEBIAN_FRONTEND=noninteractive; export LC_ALL DEBIAN_FRONTEND\nmkdir -p /etc/apt/sources.list.d || exit 3\n");
        // Keep the old files: a failed cache update puts them back, as Ansible does.
        s.raw("rd_bk=$(mktemp -d) || exit 3\ntrap 'rm -rf \"$rd_bk\"' EXIT\n");
        let touched: Vec<&String> = writes
            .iter()
            .map(|(p, _)| p)
            .chain(removes.iter())
            .collect();
        for (i, p) in touched.iter().enumerate() {
            if files.iter().any(|(f, _)| &f == p) {
                s.raw("cp -p ")
                    .arg(p)
                    .raw(&format!(" \"$rd_bk/{i}\" || exit 3\n"));
            }
        }
        s.raw("rd_revert() {\n");
        for (i, p) in touched.iter().enumerate() {
            s.raw(&format!(
                "  if [ -e \"$rd_bk/{i}\" ]; then cp -p \"$rd_bk/{i}\" "
            ))
            .arg(p)
            .raw("; else rm -f ")
            .arg(p)
            .raw("; fi\n");
        }
        s.raw("  :\n}\n");
        for (p, content) in &writes {
            let existed = files.iter().any(|(f, _)| f == p);
            s.raw("rd_dest=").arg(p).raw(
                "\nrd_tmp=$(mktemp \"$(dirname \"$rd_dest\")/.rdeploy.XXXXXXXX\") || exit 3\n",
            );
            s.raw("printf '%s' ")
                .arg(content)
                .raw(" > \"$rd_tmp\" || { rm -f \"$rd_tmp\"; exit 3; }\n");
            match (&mode, existed) {
                (Some(m), _) => {
                    s.raw("chmod ").arg(m).raw(" \"$rd_tmp\"\n");
                }
                (None, true) => {
                    s.raw("chmod --reference=\"$rd_dest\" \"$rd_tmp\"\n");
                }
                (None, false) => {
                    s.raw("chmod 0644 \"$rd_tmp\"\n");
                }
            }
            s.raw("mv -f \"$rd_tmp\" \"$rd_dest\" || { rm -f \"$rd_tmp\"; exit 3; }\n");
        }
        if !removes.is_empty() {
            s.raw("rm -f -- ").args(&removes).raw("\n");
        }
        if update_cache {
            // apt-get update exits 0 when a source cannot be fetched; Ansible fails then.
            s.raw("echo '@@RD update'\nrd_uerr=$(mktemp) || exit 3\n");
            s.raw("if ! apt-get -o DPkg::Lock::Timeout=60 -q update >&2 2>\"$rd_uerr\" || grep -qE '^(W: Failed to fetch|E: )|Some index files failed to download' \"$rd_uerr\"; then\n");
            s.raw("  rd_revert; echo \"Failed to update apt cache: $(grep -E '^(W|E): ' \"$rd_uerr\" | head -3) (the sources were put back as they were)\" >&2; rm -f \"$rd_uerr\"; exit 91\nfi\nrm -f \"$rd_uerr\"\n");
        }
        let r = ctx.run(s.as_str()).await?;
        if r.rc != 0 {
            let mut f = Outcome::failed(format!(
                "apt_repository: {}",
                r.stderr_str().trim().lines().last().unwrap_or("failed")
            ));
            f.changed = false;
            return Ok(f.with("stderr", r.stderr_str()));
        }
        Ok(o.with("cache_updated", update_cache))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        let (v, e, s, c) = parse_source("# deb  [arch=amd64]   https://download.docker.com/linux/debian bookworm stable # docker");
        assert!(v && !e);
        assert_eq!(
            s,
            "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable"
        );
        assert_eq!(c, "docker");
        let (v, _, _, _) = parse_source("# just a comment");
        assert!(!v);
    }

    #[test]
    fn filenames() {
        assert_eq!(
            suggest_filename("deb [arch=amd64 signed-by=/x.gpg] https://download.docker.com/linux/debian bookworm stable"),
            "download_docker_com_linux_debian"
        );
        assert_eq!(
            suggest_filename("deb http://user:pw@example.org/repo ./"),
            "example_org_repo"
        );
    }

    #[test]
    fn editing() {
        let f = "deb http://a/ x main\n# deb http://b/ y main\n";
        assert_eq!(
            edit_file(f, "deb http://b/ y main", false).unwrap(),
            "deb http://a/ x main\ndeb http://b/ y main\n"
        );
        assert_eq!(
            edit_file(f, "deb http://a/ x main", true).unwrap(),
            "# deb http://b/ y main\n"
        );
        assert_eq!(edit_file(f, "deb http://a/ x main", false), None);
    }
}
