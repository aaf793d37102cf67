//! The `deb822_repository` module: an APT source in deb822 format,
//! `/etc/apt/sources.list.d/<slug>.sources`, written byte for byte as Ansible writes it
//! (fields sorted by argument name, `X-Repolib-Name` for `name`), so that switching
//! between the two tools changes nothing. A `signed_by` URL is downloaded on the host
//! to `/etc/apt/keyrings/<slug>.asc` (or `.gpg`), in the same exchange that compares it.
//! Like Ansible's, it does not update the package lists (use `apt: update_cache`).

use super::util::{put_file, Attrs, PutFile};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::Value;

pub struct Deb822Repository;

const KEYRINGS_DIR: &str = "/etc/apt/keyrings";

/// deb822 fields, by argument name (Ansible's order is the sorted argument names).
const FIELDS: &[&str] = &[
    "allow_downgrade_to_insecure",
    "allow_insecure",
    "allow_weak",
    "architectures",
    "by_hash",
    "check_date",
    "check_valid_until",
    "components",
    "date_max_future",
    "enabled",
    "inrelease_path",
    "languages",
    "name",
    "pdiffs",
    "signed_by",
    "suites",
    "targets",
    "trusted",
    "types",
    "uris",
];

const BOOLS: &[&str] = &[
    "allow_downgrade_to_insecure",
    "allow_insecure",
    "allow_weak",
    "by_hash",
    "check_date",
    "check_valid_until",
    "enabled",
    "pdiffs",
    "trusted",
];
const LISTS: &[&str] = &[
    "architectures",
    "components",
    "languages",
    "suites",
    "targets",
    "types",
    "uris",
];

/// Ansible's file-name slug for a repository name.
pub fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let dashed = regex::Regex::new(r"[_\s]+")
        .unwrap()
        .replace_all(&lower, "-")
        .into_owned();
    regex::Regex::new(r"[^a-z0-9-]+")
        .unwrap()
        .replace_all(&dashed, "")
        .into_owned()
}

/// `allow_weak` -> `Allow-Weak`, `name` -> `X-Repolib-Name`, `uris` -> `URIs`.
pub fn field_name(arg: &str) -> String {
    match arg {
        "name" => "X-Repolib-Name".into(),
        "uris" => "URIs".into(),
        other => other
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// A multi-line value (an inline key): on its own lines, indented, blank lines as `.`.
fn multiline(v: &str) -> String {
    let body: Vec<String> = v
        .trim()
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                ".".to_string()
            } else {
                l.trim().to_string()
            }
        })
        .map(|l| format!("    {l}"))
        .collect();
    format!("\n{}", body.join("\n"))
}

/// The file content for these (already validated) field values.
pub fn render(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        let v = if v.contains('\n') {
            multiline(v)
        } else {
            v.clone()
        };
        if v.starts_with('\n') || v.is_empty() {
            out.push_str(&format!("{}:{}\n", field_name(k), v));
        } else {
            out.push_str(&format!("{}: {}\n", field_name(k), v));
        }
    }
    out
}

#[async_trait]
impl Module for Deb822Repository {
    fn name(&self) -> &'static str {
        "deb822_repository"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        None
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let mut known: Vec<&str> = FIELDS.to_vec();
        known.extend(["mode", "state", "install_python_debian"]);
        args.check_known("deb822_repository", &known)?;
        let name = args.req_str("name")?;
        let slug = slug(&name);
        if slug.is_empty() {
            return Err(ModuleError::failed(format!(
                "deb822_repository: name {name:?} makes an empty file name"
            )));
        }
        let dest = format!("/etc/apt/sources.list.d/{slug}.sources");
        let state = args.str("state").unwrap_or_else(|| "present".into());

        if state == "absent" {
            let files = [
                dest.clone(),
                format!("{KEYRINGS_DIR}/{slug}.asc"),
                format!("{KEYRINGS_DIR}/{slug}.gpg"),
            ];
            let mut s = Script::new();
            s.raw("for rd_f in ")
                .args(&files)
                .raw("; do if [ -e \"$rd_f\" ]; then echo \"$rd_f\"; ");
            if !ctx.check_mode {
                s.raw("rm -f \"$rd_f\" || exit 3; ");
            }
            s.raw("fi; done\n");
            let out = ctx.run(s.as_str()).await?;
            if out.rc != 0 {
                return Err(ModuleError::failed(format!(
                    "deb822_repository: removing failed: {}",
                    out.stderr_str().trim()
                )));
            }
            let removed: Vec<String> = out.stdout_str().lines().map(String::from).collect();
            return Ok(Outcome::changed(!removed.is_empty())
                .with("repo", Value::Null)
                .with("dest", dest)
                .with("key_filename", format!("{KEYRINGS_DIR}/{slug}.gpg"))
                .with("removed", serde_json::json!(removed)));
        }
        if state != "present" {
            return Err(ModuleError::failed(format!(
                "deb822_repository: state must be present or absent, got {state}"
            )));
        }
        for req in ["uris", "suites"] {
            if !args.has(req) {
                return Err(ModuleError::failed(format!(
                    "deb822_repository: missing required argument: {req}"
                )));
            }
        }
        if let Some(types) = args.list("types") {
            if let Some(t) = types.iter().find(|t| *t != "deb" && *t != "deb-src") {
                return Err(ModuleError::failed(format!(
                    "deb822_repository: types must be deb or deb-src, got {t}"
                )));
            }
        }

        let mut changed = false;
        let mut key_filename: Option<String> = None;
        let mut fields: Vec<(String, String)> = Vec::new();
        for f in FIELDS {
            let value = match (*f, args.get(f)) {
                ("types", None) => "deb".to_string(),
                (_, None) => continue,
                (f, Some(_)) if BOOLS.contains(&f) => {
                    if args.bool(f)?.unwrap_or(false) {
                        "yes".into()
                    } else {
                        "no".into()
                    }
                }
                (f, Some(_)) if LISTS.contains(&f) => args.list(f).unwrap_or_default().join(" "),
                ("date_max_future", Some(_)) => {
                    args.int("date_max_future")?.unwrap_or(0).to_string()
                }
                ("signed_by", Some(v)) => {
                    let v = super::args::value_to_string(v);
                    if v.contains("://") && !v.contains('\n') {
                        let (file, key_changed) = fetch_key(ctx, &v, &slug).await?;
                        changed |= key_changed;
                        key_filename = Some(file.clone());
                        file
                    } else {
                        v
                    }
                }
                (_, Some(v)) => super::args::value_to_string(v),
            };
            fields.push((f.to_string(), value));
        }
        let content = render(&fields);
        let mode = args.mode("mode")?.unwrap_or_else(|| "0644".into());
        let r = put_file(
            ctx,
            &PutFile {
                dest: &dest,
                content: content.as_bytes(),
                attrs: Attrs {
                    mode: Some(mode),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await?;
        changed |= r.changed;
        let mut o = Outcome::changed(changed)
            .with("repo", content.clone())
            .with("dest", dest.clone());
        o = o.with(
            "key_filename",
            key_filename.map(Value::from).unwrap_or(Value::Null),
        );
        if ctx.diff_mode && r.content_changed {
            o = o.with_diff(&dest, r.before.unwrap_or_default(), content);
        }
        Ok(o)
    }
}

/// Downloads a `signed_by` key on the host and installs it as
/// `/etc/apt/keyrings/<slug>.{asc,gpg}` when it differs. Returns the file and whether
/// it changed (or would, in check mode).
async fn fetch_key(
    ctx: &ModuleCtx<'_>,
    url: &str,
    slug: &str,
) -> Result<(String, bool), ModuleError> {
    let mut s = Script::new();
    s.raw(&super::util::fetch_fn(30, true));
    s.raw("rd_k=$(mktemp) || exit 3\ntrap 'rm -f \"$rd_k\"' EXIT\n");
    s.raw("rd_fetch ").arg(url).raw(" \"$rd_k\" || exit 92\n");
    s.raw("if grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' \"$rd_k\"; then rd_ext=asc; else rd_ext=gpg; fi\n");
    s.raw("rd_dest=")
        .arg(&format!("{KEYRINGS_DIR}/{slug}"))
        .raw(".$rd_ext\necho \"$rd_dest\"\n");
    s.raw("rd_new=$(sha256sum < \"$rd_k\"); rd_old=; [ -f \"$rd_dest\" ] && rd_old=$(sha256sum < \"$rd_dest\")\n");
    s.raw("if [ \"$rd_new\" != \"$rd_old\" ]; then echo changed\n");
    if !ctx.check_mode {
        s.raw("  [ -d ")
            .arg(KEYRINGS_DIR)
            .raw(" ] || install -d -m 0755 ")
            .arg(KEYRINGS_DIR)
            .raw(" || exit 3\n");
        s.raw("  rd_tmp=$(mktemp \"$rd_dest.XXXXXXXX\") && cat \"$rd_k\" > \"$rd_tmp\" && chmod 0644 \"$rd_tmp\" && mv -f \"$rd_tmp\" \"$rd_dest\" || exit 3\n");
    }
    s.raw("elif [ \"$(stat -c %a \"$rd_dest\")\" != 644 ]; then echo changed\n");
    if !ctx.check_mode {
        s.raw("  chmod 0644 \"$rd_dest\"\n");
    }
    s.raw("fi\n");
    let out = ctx.run(s.as_str()).await?;
    if out.rc != 0 {
        return Err(ModuleError::failed(format!(
            "Could not fetch signed_by key: {}",
            out.stderr_str().trim()
        )));
    }
    let stdout = out.stdout_str();
    let mut lines = stdout.lines();
    let file = lines.next().unwrap_or("").to_string();
    let changed = lines.any(|l| l == "changed");
    Ok((file, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_fields() {
        assert_eq!(slug("Docker CE_repo!"), "docker-ce-repo");
        assert_eq!(
            field_name("allow_downgrade_to_insecure"),
            "Allow-Downgrade-To-Insecure"
        );
        assert_eq!(field_name("uris"), "URIs");
        assert_eq!(field_name("name"), "X-Repolib-Name");
        assert_eq!(field_name("signed_by"), "Signed-By");
    }

    #[test]
    fn renders_like_ansible() {
        let f = |k: &str, v: &str| (k.to_string(), v.to_string());
        let c = render(&[
            f("components", "stable"),
            f("name", "docker"),
            f(
                "signed_by",
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n",
            ),
            f("suites", "bookworm"),
            f("types", "deb"),
            f("uris", "https://download.docker.com/linux/debian"),
        ]);
        assert_eq!(
            c,
            "Components: stable\nX-Repolib-Name: docker\nSigned-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n    -----END PGP PUBLIC KEY BLOCK-----\nSuites: bookworm\nTypes: deb\nURIs: https://download.docker.com/linux/debian\n"
        );
    }
}
