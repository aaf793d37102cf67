//! The `known_hosts` module: a host's key in an OpenSSH known_hosts file.
//!
//! Read in one exchange ([`util::read_for_edit`]), edited on the controller and
//! written with [`util::apply_edit`] (atomic, only when it differs) — no `ssh-keygen`
//! needed on the host. The entries for `name` (lower-cased; `[host]:port` for another
//! port) are found in plain host lists and in hashed ones (`|1|salt|HMAC-SHA1`), as
//! `ssh-keygen -F` finds them. As ansible-core: `state: present` keeps a line with the
//! same key, replaces the first line of the same key type with another key, or appends
//! the key; `state: absent` with a key removes that key type's line, without a key every
//! line of the host; `hash_host` writes the host field hashed. The parent directory is
//! made with mode 0700 when missing.

use super::util::{self, Attrs, Edit};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Param};
use async_trait::async_trait;
use base64::Engine as _;

pub struct KnownHosts;

const PARAMS: &[&str] = &["name", "host", "key", "path", "hash_host", "state"];
const SPEC: &[Param] = &[
    Param::new("name").required(),
    Param::new("path").default("~/.ssh/known_hosts"),
    Param::new("hash_host").default("false"),
    Param::new("state")
        .default("present")
        .choices(&["present", "absent"]),
];

/// HMAC-SHA1 (RFC 2104) as OpenSSH hashes known_hosts names. (The `hmac` crate in
/// the tree is for digest 0.11, `sha1` is digest 0.10: the construction is short.)
fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha1::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha1::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A known_hosts line split into its parts: `(hosts field, key type, key blob)`.
fn fields(line: &str) -> Option<(&str, &str, &str)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let mut it = t.split_whitespace();
    let mut hosts = it.next()?;
    if hosts.starts_with('@') {
        hosts = it.next()?;
    }
    Some((hosts, it.next()?, it.next()?))
}

/// Whether a hosts field names `host` (a plain entry or a hashed one).
pub fn names_host(hosts: &str, host: &str) -> bool {
    if let Some(rest) = hosts.strip_prefix("|1|") {
        let Some((salt, hash)) = rest.split_once('|') else {
            return false;
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, host.as_bytes())[..] == hash[..];
    }
    hosts.split(',').any(|h| h.eq_ignore_ascii_case(host))
}

/// `|1|salt|hash` for `host` with a random salt.
fn hashed(host: &str) -> String {
    let mut salt = [0u8; 20];
    getrandom::fill(&mut salt).expect("the system's random source");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "|1|{}|{}",
        b64.encode(salt),
        b64.encode(hmac_sha1(&salt, host.as_bytes()))
    )
}

/// The new file content for the request (`key` already checked to name `host`).
pub fn edit(content: &str, host: &str, key: Option<&str>, present: bool) -> String {
    let lines: Vec<&str> = content.split_inclusive('\n').collect();
    let new = key.and_then(fields);
    // the first line of the host with the new key's type, and whether its key is equal
    let mut same_type: Option<(usize, bool)> = None;
    let mut any = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some((hs, t, b)) = fields(l) {
            if names_host(hs, host) {
                any.push(i);
                if let Some((_, nt, nb)) = new {
                    if same_type.is_none() && t == nt {
                        same_type = Some((i, b == nb));
                    }
                }
            }
        }
    }
    let mut out = String::with_capacity(content.len() + 128);
    let drop: Vec<usize> = match (present, key, same_type) {
        (true, _, Some((_, true))) => return content.to_string(),
        (true, _, Some((i, false))) => vec![i],
        (true, _, None) => vec![],
        (false, Some(_), Some((i, _))) => vec![i],
        (false, Some(_), None) => return content.to_string(),
        (false, None, _) => any,
    };
    for (i, l) in lines.iter().enumerate() {
        if !drop.contains(&i) {
            out.push_str(l);
        }
    }
    if present {
        if let Some(k) = key {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(k.trim_end_matches('\n'));
            out.push('\n');
        }
    }
    out
}

#[async_trait]
impl Module for KnownHosts {
    fn name(&self) -> &'static str {
        "known_hosts"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["name", "key", "path", "hash_host", "state"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("known_hosts", PARAMS)?;
        let host = args.req_str_any(&["name", "host"])?.to_lowercase();
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let present = match state.as_str() {
            "present" => true,
            "absent" => false,
            o => {
                return Err(ModuleError::failed(format!(
                    "value of state must be one of: present, absent, got: {o}"
                )))
            }
        };
        let hash_host = args.bool_or("hash_host", false)?;
        let mut key = args.str("key").filter(|k| !k.trim().is_empty());
        if present && key.is_none() {
            return Err(ModuleError::failed("No key specified when adding a host"));
        }
        if let Some(k) = &key {
            if k.trim().lines().count() != 1 {
                return Err(ModuleError::failed("known_hosts: key must be one line"));
            }
            let Some((hs, _, _)) = fields(k) else {
                return Err(ModuleError::failed(format!(
                    "known_hosts: invalid key specified: {k}"
                )));
            };
            if !names_host(hs, &host) {
                return Err(ModuleError::failed(
                    "Host parameter does not match hashed host field in supplied key",
                ));
            }
            if hash_host && !hs.starts_with("|1|") {
                let rest = k.trim().splitn(2, char::is_whitespace).nth(1).unwrap_or("");
                key = Some(format!("{} {rest}", hashed(&host)));
            }
        }
        let path = args
            .str("path")
            .unwrap_or_else(|| "~/.ssh/known_hosts".into());
        let path = util::expand_user(ctx, &path).await?;
        let target = util::read_for_edit(ctx, &path, true, false, &Attrs::default()).await?;
        let before =
            String::from_utf8_lossy(target.content.as_deref().unwrap_or_default()).into_owned();
        let after = edit(&before, &host, key.as_deref(), present);
        if after != before && target.content.is_none() && !ctx.check_mode {
            let mut s = crate::shell::Script::new();
            s.raw("rd_d=$(dirname -- ")
                .arg(&target.real_path)
                .raw(")\n");
            s.raw("[ -d \"$rd_d\" ] || mkdir -p -m 700 -- \"$rd_d\"\n");
            ctx.run_ok(s.as_str()).await?;
        }
        let mut o = util::apply_edit(
            ctx,
            &Edit {
                path: &path,
                target: &target,
                after: after.as_bytes(),
                attrs: Attrs::default(),
                backup: false,
                validate: None,
                msg: String::new(),
            },
        )
        .await?;
        if target.content.is_none() && after.is_empty() {
            o.changed = false;
            o.diff.clear();
        }
        o.data.remove("msg");
        o.msg = None;
        Ok(o.with("name", host)
            .with("key", key.unwrap_or_default())
            .with("path", path)
            .with("hash_host", hash_host)
            .with("state", state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1";
    const K2: &str = "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK2";
    const R: &str = "example.org ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB";

    #[test]
    fn adds_keeps_replaces_and_removes() {
        let other = "other.org ssh-ed25519 AAAAX\n";
        let a = edit(other, "example.org", Some(K1), true);
        assert_eq!(a, format!("{other}{K1}\n"));
        assert_eq!(edit(&a, "example.org", Some(K1), true), a, "same key kept");
        let b = edit(&a, "example.org", Some(K2), true);
        assert_eq!(
            b,
            format!("{other}{K2}\n"),
            "same type, other key: replaced"
        );
        let c = edit(&b, "example.org", Some(R), true);
        assert_eq!(c, format!("{other}{K2}\n{R}\n"), "other type: added");
        assert_eq!(
            edit(&c, "example.org", Some(R), false),
            format!("{other}{K2}\n")
        );
        assert_eq!(edit(&c, "example.org", None, false), other);
        assert_eq!(edit(other, "example.org", Some(K1), false), other);
    }

    #[test]
    fn hmac_sha1_is_rfc2202() {
        // RFC 2202 test case 2
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn hashed_entries_are_found() {
        let h = hashed("[example.org]:2222");
        assert!(names_host(&h, "[example.org]:2222"));
        assert!(!names_host(&h, "example.org"));
        assert!(names_host("a.org,example.org,10.0.0.1", "example.org"));
        let line = format!("{h} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1\n");
        assert_eq!(edit(&line, "[example.org]:2222", None, false), "");
    }
}
