//! The `authorized_key` module (`ansible.posix.authorized_key`): SSH public keys in a
//! user's `authorized_keys`.
//!
//! One exchange looks the user up (`getent passwd`), resolves the key file (default
//! `~/.ssh/authorized_keys`), creates its directory when `manage_dir` asks (0700, owned by
//! the user; not in check mode) and prints the file. The new content is computed on the
//! controller ([`edit`]: keys matched by their base64 blob, as Ansible does) and written
//! with [`util::put_file`] (atomic, owner and 0600) only when it differs.

use super::util::{self, Attrs, PutFile};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;

pub struct AuthorizedKey;

const PARAMS: &[&str] = &[
    "user",
    "key",
    "state",
    "exclusive",
    "path",
    "manage_dir",
    "key_options",
    "comment",
    "validate_certs",
    "follow",
];

/// One parsed key line: `[options] type blob [comment]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    pub options: Option<String>,
    pub kind: String,
    pub blob: String,
    pub comment: Option<String>,
}

impl KeyLine {
    pub fn render(&self) -> String {
        let mut v: Vec<&str> = Vec::new();
        if let Some(o) = &self.options {
            v.push(o);
        }
        v.push(&self.kind);
        v.push(&self.blob);
        if let Some(c) = &self.comment {
            v.push(c);
        }
        v.join(" ")
    }
}

fn is_key_type(t: &str) -> bool {
    t.starts_with("ssh-")
        || t.starts_with("ecdsa-")
        || t.starts_with("sk-")
        || t.starts_with("ssh-ed")
        || t.contains("@openssh.com")
}

/// Splits off the options field (may hold double-quoted spaces) from the rest.
fn split_options(line: &str) -> (&str, &str) {
    let mut in_q = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_q = !in_q,
            c if c.is_whitespace() && !in_q => return (&line[..i], line[i..].trim_start()),
            _ => {}
        }
    }
    (line, "")
}

/// Parses one `authorized_keys` line; `None` for blank lines, comments and garbage.
pub fn parse_key(line: &str) -> Option<KeyLine> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let first = line.split_whitespace().next()?;
    let (options, rest) = if is_key_type(first) {
        (None, line)
    } else {
        let (o, r) = split_options(line);
        (Some(o.to_string()), r)
    };
    let mut it = rest.splitn(3, char::is_whitespace);
    let kind = it.next()?.to_string();
    let blob = it.next()?.trim().to_string();
    if !is_key_type(&kind) || blob.is_empty() {
        return None;
    }
    let comment = it
        .next()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    Some(KeyLine {
        options,
        kind,
        blob,
        comment,
    })
}

/// The wanted keys from the `key` argument, with `key_options` and `comment` applied.
pub fn wanted_keys(
    key: &str,
    key_options: Option<&str>,
    comment: Option<&str>,
) -> Result<Vec<KeyLine>, ModuleError> {
    let mut v = Vec::new();
    for l in key.lines() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut k = parse_key(t).ok_or_else(|| {
            ModuleError::failed(format!("authorized_key: invalid key specified: {t}"))
        })?;
        if let Some(o) = key_options {
            k.options = Some(o.to_string()).filter(|o| !o.is_empty());
        }
        if let Some(c) = comment {
            k.comment = Some(c.to_string()).filter(|c| !c.is_empty());
        }
        v.push(k);
    }
    Ok(v)
}

/// The new file content for `state` (`present`/`absent`) and `exclusive`.
pub fn edit(current: &str, want: &[KeyLine], present: bool, exclusive: bool) -> String {
    let mut lines: Vec<String> = current.lines().map(str::to_string).collect();
    if present {
        if exclusive {
            lines = want.iter().map(KeyLine::render).collect();
            lines.dedup();
        } else {
            for k in want {
                let r = k.render();
                let pos = lines
                    .iter()
                    .position(|l| parse_key(l).is_some_and(|p| p.blob == k.blob));
                match pos {
                    Some(i) => lines[i] = r,
                    None => lines.push(r),
                }
            }
        }
    } else {
        lines.retain(|l| match parse_key(l) {
            Some(p) => !want.iter().any(|k| k.blob == p.blob),
            None => true,
        });
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// What the query exchange found.
struct Target {
    path: String,
    uid: String,
    gid: String,
    content: Option<String>,
    dir_changed: bool,
}

async fn query(
    ctx: &ModuleCtx<'_>,
    user: &str,
    path: Option<&str>,
    manage_dir: bool,
) -> Result<Target, ModuleError> {
    let mut s = Script::new();
    s.raw("rd_u=").arg(user).raw("\n");
    s.raw("rd_pw=$(getent passwd \"$rd_u\") || { echo \"Failed to lookup user $rd_u\" >&2; exit 4; }\n");
    s.raw("rd_uid=$(printf '%s' \"$rd_pw\" | cut -d: -f3); rd_gid=$(printf '%s' \"$rd_pw\" | cut -d: -f4); rd_home=$(printf '%s' \"$rd_pw\" | cut -d: -f6)\n");
    match path {
        Some(p) if p.starts_with("~/") => {
            s.raw("rd_p=\"$rd_home\"/").arg(&p[2..]).raw("\n");
        }
        Some(p) => {
            s.raw("rd_p=").arg(p).raw("\n");
        }
        None => {
            s.raw("rd_p=\"$rd_home/.ssh/authorized_keys\"\n");
        }
    }
    s.raw("rd_d=$(dirname -- \"$rd_p\")\n");
    if manage_dir {
        if ctx.check_mode {
            s.raw("[ -d \"$rd_d\" ] || echo RD_DIR_CHANGED\n");
        } else {
            s.raw(
                "[ -d \"$rd_d\" ] || { mkdir -p -- \"$rd_d\" && echo RD_DIR_CHANGED; } || exit 4\n",
            );
            s.raw("rd_ds=$(stat -c '%a %u %g' \"$rd_d\")\n");
            s.raw("[ \"$rd_ds\" = \"700 $rd_uid $rd_gid\" ] || { chown \"$rd_uid:$rd_gid\" \"$rd_d\" && chmod 0700 \"$rd_d\" && echo RD_DIR_CHANGED; } || exit 4\n");
        }
    }
    s.raw("printf '@@RD meta\\n%s\\n%s\\n%s\\n' \"$rd_p\" \"$rd_uid\" \"$rd_gid\"\n");
    s.raw("if [ -f \"$rd_p\" ]; then echo '@@RD content'; cat -- \"$rd_p\"; fi\n");
    let out = ctx.run(s.as_str()).await?;
    if out.rc != 0 {
        return Err(ModuleError::failed(format!(
            "authorized_key: {}",
            out.stderr_str().trim()
        )));
    }
    let text = out.stdout_str();
    let dir_changed = text
        .lines()
        .take_while(|l| !l.starts_with("@@RD"))
        .any(|l| l == "RD_DIR_CHANGED");
    let secs = util::sections(&text);
    let meta: Vec<&str> = util::section(&secs, "meta").unwrap_or("").lines().collect();
    if meta.len() < 3 {
        return Err(ModuleError::failed(
            "authorized_key: unexpected output from the host",
        ));
    }
    // sections() drops the final newline; the content is compared line by line anyway.
    let content = text
        .find("@@RD content\n")
        .map(|i| text[i + "@@RD content\n".len()..].to_string());
    Ok(Target {
        path: meta[0].to_string(),
        uid: meta[1].to_string(),
        gid: meta[2].to_string(),
        content,
        dir_changed,
    })
}

#[async_trait]
impl Module for AuthorizedKey {
    fn name(&self) -> &'static str {
        "authorized_key"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("authorized_key", PARAMS)?;
        let user = args.req_str("user")?;
        let key = args.req_str("key")?;
        if key.starts_with("http://") || key.starts_with("https://") {
            return Err(ModuleError::failed(
                "authorized_key: keys from a URL are not supported; give the key text (e.g. with lookup('url', ...))",
            ));
        }
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let present = match state.as_str() {
            "present" => true,
            "absent" => false,
            o => {
                return Err(ModuleError::failed(format!(
                    "authorized_key: state must be present or absent, got {o}"
                )))
            }
        };
        let exclusive = args.bool_or("exclusive", false)?;
        let manage_dir = args.bool_or("manage_dir", true)?;
        let key_options = args.str("key_options");
        let comment = args.str("comment");
        let want = wanted_keys(&key, key_options.as_deref(), comment.as_deref())?;
        let path = args.str("path");

        let t = query(ctx, &user, path.as_deref(), manage_dir && present).await?;
        let before = t.content.clone().unwrap_or_default();
        let after = edit(&before, &want, present, exclusive);
        let content_changed = after != before && !(t.content.is_none() && after.is_empty());
        let mut changed = t.dir_changed;
        if content_changed || t.content.is_some() {
            let r = util::put_file(
                &util::without_diff(ctx),
                &PutFile {
                    dest: &t.path,
                    content: after.as_bytes(),
                    attrs: Attrs {
                        owner: Some(t.uid.clone()),
                        group: Some(t.gid.clone()),
                        mode: Some("0600".into()),
                    },
                    ..Default::default()
                },
            )
            .await?;
            changed |= r.changed;
        }
        let mut o = Outcome::changed(changed)
            .with("user", user)
            .with("key", key)
            .with("keyfile", t.path.clone())
            .with(
                "path",
                path.map(Into::into).unwrap_or(serde_json::Value::Null),
            )
            .with("state", state)
            .with("exclusive", exclusive)
            .with("manage_dir", manage_dir)
            .with(
                "key_options",
                key_options
                    .map(Into::into)
                    .unwrap_or(serde_json::Value::Null),
            )
            .with(
                "comment",
                comment.map(Into::into).unwrap_or(serde_json::Value::Null),
            )
            .with("validate_certs", true)
            .with("follow", false);
        if ctx.diff_mode && content_changed {
            o = o.with_diff(&t.path, before, after);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 alice@a";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB bob@b";

    #[test]
    fn parses_options_and_comments() {
        let k = parse_key("no-pty,command=\"echo a b\" ssh-rsa AAAA c d").unwrap();
        assert_eq!(k.options.as_deref(), Some("no-pty,command=\"echo a b\""));
        assert_eq!(k.kind, "ssh-rsa");
        assert_eq!(k.blob, "AAAA");
        assert_eq!(k.comment.as_deref(), Some("c d"));
        assert!(parse_key("# comment").is_none());
    }

    #[test]
    fn present_absent_exclusive() {
        let want = wanted_keys(K1, None, None).unwrap();
        let a = edit("", &want, true, false);
        assert_eq!(a, format!("{K1}\n"));
        assert_eq!(edit(&a, &want, true, false), a);
        let both = format!("# keep\n{K2}\n");
        let b = edit(&both, &want, true, false);
        assert_eq!(b, format!("# keep\n{K2}\n{K1}\n"));
        assert_eq!(edit(&b, &want, true, true), format!("{K1}\n"));
        assert_eq!(edit(&b, &want, false, false), both);
        let opt = wanted_keys(K1, Some("no-pty"), Some("x")).unwrap();
        assert_eq!(
            edit(&a, &opt, true, false),
            "no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 x\n"
        );
    }
}
