//! The `apt_key` module: adds or removes an APT signing key WITHOUT needing gpg or the
//! deprecated `apt-key` on the host.
//!
//! Exchange 1 reads the keyrings apt trusts (or `keyring:`) and fetches the new key
//! (`url` on the host, `file` on the host, or inline `data`), all base64-encoded. Rust
//! parses the OpenPGP packets to get key fingerprints, so `id` checks and idempotence
//! work on any host. Exchange 2 (only when needed) writes the key, dearmored, to
//! `keyring` or `/etc/apt/trusted.gpg.d/<KEYID>.gpg`, or removes a key's file.

use super::util::{fetch_fn, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

pub struct AptKey;

const PARAMS: &[&str] = &[
    "id",
    "url",
    "data",
    "file",
    "keyring",
    "keyserver",
    "state",
    "validate_certs",
];

/// Decodes ASCII armor (`-----BEGIN PGP PUBLIC KEY BLOCK-----`) to binary; binary
/// input is returned as is.
pub fn dearmor(data: &[u8]) -> Result<Vec<u8>, String> {
    let text = match std::str::from_utf8(data) {
        Ok(t) if t.contains("-----BEGIN PGP") => t,
        _ => return Ok(data.to_vec()),
    };
    let mut out = Vec::new();
    let mut in_block = false;
    let mut in_body = false;
    let mut b64 = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("-----BEGIN PGP") {
            in_block = true;
            in_body = false;
            b64.clear();
            continue;
        }
        if l.starts_with("-----END PGP") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("bad armored key: {e}"))?;
            out.extend_from_slice(&bytes);
            in_block = false;
            continue;
        }
        if !in_block {
            continue;
        }
        if !in_body {
            // Armor headers ("Version: ...") end at the first empty line.
            if l.is_empty() {
                in_body = true;
            } else if !l.contains(':') {
                in_body = true;
                b64.push_str(l);
            }
            continue;
        }
        if l.starts_with('=') && l.len() == 5 {
            continue; // CRC-24 checksum line
        }
        b64.push_str(l);
    }
    if out.is_empty() {
        return Err("no armored key block found".into());
    }
    Ok(out)
}

/// The fingerprints (upper-case hex) of the primary keys and subkeys in an OpenPGP
/// keyring or key export (v4 and v6 keys).
pub fn fingerprints(data: &[u8]) -> Vec<String> {
    keys(data).into_iter().flatten().collect()
}

/// The keys of a keyring: for each primary key, its fingerprint then its subkeys'.
pub fn keys(data: &[u8]) -> Vec<Vec<String>> {
    let mut keys: Vec<Vec<String>> = Vec::new();
    let mut i = 0usize;
    while i < data.len() {
        let hdr = data[i];
        if hdr & 0x80 == 0 {
            break;
        }
        let (tag, len, hlen) = if hdr & 0x40 != 0 {
            let tag = hdr & 0x3f;
            let Some(&o1) = data.get(i + 1) else { break };
            match o1 {
                0..=191 => (tag, o1 as usize, 2),
                192..=223 => {
                    let Some(&o2) = data.get(i + 2) else { break };
                    (tag, ((o1 as usize - 192) << 8) + o2 as usize + 192, 3)
                }
                255 => {
                    let Some(b) = data.get(i + 2..i + 6) else {
                        break;
                    };
                    (
                        tag,
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                        6,
                    )
                }
                _ => break, // partial lengths never occur in key packets
            }
        } else {
            let tag = (hdr >> 2) & 0x0f;
            match hdr & 3 {
                0 => (tag, *data.get(i + 1).unwrap_or(&0) as usize, 2),
                1 => {
                    let Some(b) = data.get(i + 1..i + 3) else {
                        break;
                    };
                    (tag, u16::from_be_bytes([b[0], b[1]]) as usize, 3)
                }
                2 => {
                    let Some(b) = data.get(i + 1..i + 5) else {
                        break;
                    };
                    (
                        tag,
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                        5,
                    )
                }
                _ => (tag, data.len() - i - 1, 1),
            }
        };
        let start = i + hlen;
        let end = start.saturating_add(len);
        if end > data.len() {
            break;
        }
        if tag == 6 || tag == 14 {
            let body = &data[start..end];
            let fp = match body.first() {
                Some(4) => {
                    let mut h = Sha1::new();
                    h.update([0x99]);
                    h.update((len as u16).to_be_bytes());
                    h.update(body);
                    Some(hex::encode_upper(h.finalize()))
                }
                Some(6) => {
                    let mut h = Sha256::new();
                    h.update([0x9b]);
                    h.update((len as u32).to_be_bytes());
                    h.update(body);
                    Some(hex::encode_upper(h.finalize()))
                }
                _ => None,
            };
            if let Some(fp) = fp {
                match (tag, keys.last_mut()) {
                    (14, Some(k)) => k.push(fp),
                    _ => keys.push(vec![fp]),
                }
            }
        }
        i = end;
    }
    keys
}

/// Whether a key id (short, long, or fingerprint; `0x` allowed) names this fingerprint.
pub fn id_matches(id: &str, fp: &str) -> bool {
    let id = id
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .replace(' ', "")
        .to_uppercase();
    if id.is_empty() {
        return false;
    }
    if fp.len() == 64 {
        // v6: the key id is the first 8 bytes
        return fp == id || fp.starts_with(&id);
    }
    fp.ends_with(&id)
}

#[async_trait]
impl Module for AptKey {
    fn name(&self) -> &'static str {
        "apt_key"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("apt_key", PARAMS)?;
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let id = args.str("id");
        let keyring = args.str("keyring");
        let url = args.str("url");
        let file = args.str("file");
        let data = args.str("data");
        if args.has("keyserver") {
            return Err(ModuleError::failed("apt_key: keyserver is not supported by rdeploy (it needs gpg on the host); use url or data"));
        }
        if state != "present" && state != "absent" {
            return Err(ModuleError::failed(format!(
                "apt_key: state must be present or absent, got {state}"
            )));
        }
        if state == "present" && url.is_none() && file.is_none() && data.is_none() {
            return Err(ModuleError::failed(
                "apt_key: one of url, data, file is required with state=present",
            ));
        }
        if state == "absent" && id.is_none() {
            return Err(ModuleError::failed(
                "apt_key: id is required with state=absent",
            ));
        }
        let validate = args.bool_or("validate_certs", true)?;

        // ---- exchange 1: existing keyrings (+ the new key when it is on the host or a URL)
        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\nrd_ring() { echo \"@@RD ring $1\"; base64 -w0 < \"$1\"; echo; }\n");
        match &keyring {
            Some(k) => {
                s.raw("[ -f ").arg(k).raw(" ] && rd_ring ").arg(k).raw("\n");
            }
            None => {
                s.raw("for f in /etc/apt/trusted.gpg /etc/apt/trusted.gpg.d/*.gpg /etc/apt/trusted.gpg.d/*.asc; do [ -f \"$f\" ] && rd_ring \"$f\"; done\n");
            }
        }
        let need_new = state == "present";
        if need_new {
            if let Some(u) = &url {
                s.raw(&fetch_fn(30, validate));
                s.raw("rd_k=$(mktemp) || exit 3\ntrap 'rm -f \"$rd_k\"' EXIT\n");
                s.raw("rd_fetch ")
                    .arg(u)
                    .raw(" \"$rd_k\" || { echo 'failed to download key' >&2; exit 92; }\n");
                s.raw("echo '@@RD new'; base64 -w0 < \"$rd_k\"; echo\n");
            } else if let Some(f) = &file {
                s.raw("[ -f ")
                    .arg(f)
                    .raw(" ] || { echo ")
                    .arg(&format!("key file {f} does not exist"))
                    .raw(" >&2; exit 93; }\n");
                s.raw("echo '@@RD new'; base64 -w0 < ")
                    .arg(f)
                    .raw("; echo\n");
            }
        }
        s.raw("exit 0\n");
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "apt_key: {}",
                out.stderr_str().trim()
            )));
        }
        let stdout = out.stdout_str();
        let secs = sections(&stdout);
        let b64 = |t: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(t.trim().as_bytes())
                .unwrap_or_default()
        };
        // (file, its keys), each key = primary fingerprint then subkeys'
        let mut rings: Vec<(String, Vec<Vec<String>>)> = Vec::new();
        for (n, t) in &secs {
            if let Some(path) = n.strip_prefix("ring ") {
                let raw = b64(t);
                let bin = dearmor(&raw).unwrap_or(raw);
                rings.push((path.to_string(), keys(&bin)));
            }
        }
        let key_matches = |id: &str, k: &Vec<String>| k.iter().any(|f| id_matches(id, f));

        if state == "absent" {
            let id = id.unwrap_or_default();
            let holding: Vec<&(String, Vec<Vec<String>>)> = rings
                .iter()
                .filter(|(_, ks)| ks.iter().any(|k| key_matches(&id, k)))
                .collect();
            if holding.is_empty() {
                return Ok(Outcome::ok().with("id", id));
            }
            // A key can be removed without gpg when its file holds no other key.
            let mut rm = Vec::new();
            for (path, ks) in &holding {
                if ks.iter().any(|k| !key_matches(&id, k)) {
                    return Err(ModuleError::failed(format!(
                        "apt_key: key {id} is in {path} together with other keys; removing one key from a shared keyring is not supported (delete the keyring file, or use a keyring per key)"
                    )));
                }
                rm.push(path.clone());
            }
            let o = Outcome::changed(true)
                .with("id", id.clone())
                .with("removed_files", serde_json::json!(rm));
            if ctx.check_mode {
                return Ok(o);
            }
            let mut s = Script::new();
            s.raw("rm -f -- ").args(&rm);
            ctx.run_ok(s.as_str()).await?;
            return Ok(o);
        }

        // present
        let new_raw: Vec<u8> = match (&data, super::util::section(&secs, "new")) {
            (Some(d), _) => d.clone().into_bytes(),
            (None, Some(t)) => b64(t),
            (None, None) => return Err(ModuleError::failed("apt_key: could not read the key")),
        };
        let new_bin =
            dearmor(&new_raw).map_err(|e| ModuleError::failed(format!("apt_key: {e}")))?;
        let new_fps = fingerprints(&new_bin);
        if new_fps.is_empty() {
            return Err(ModuleError::failed(
                "apt_key: the data is not an OpenPGP public key",
            ));
        }
        if let Some(i) = &id {
            if !new_fps.iter().any(|f| id_matches(i, f)) {
                return Err(ModuleError::failed(format!(
                    "apt_key: the key does not contain the key id {i} (it has {})",
                    new_fps.join(", ")
                )));
            }
        }
        let primary = new_fps[0].clone();
        let have = |fp: &str| {
            rings
                .iter()
                .any(|(_, ks)| ks.iter().flatten().any(|f| f == fp))
        };
        let already = match &id {
            Some(i) => rings
                .iter()
                .any(|(_, ks)| ks.iter().any(|k| key_matches(i, k))),
            None => new_fps.iter().all(|f| have(f)),
        };
        let key_id = primary[primary.len().saturating_sub(16)..].to_string();
        let mut o = Outcome::ok()
            .with("id", id.clone().unwrap_or_else(|| key_id.clone()))
            .with("fp", primary.clone())
            .with("key_id", key_id.clone());
        if already {
            return Ok(o);
        }
        let dest = keyring
            .clone()
            .unwrap_or_else(|| format!("/etc/apt/trusted.gpg.d/{key_id}.gpg"));
        o.changed = true;
        o = o.with("keyring", dest.clone());
        if ctx.check_mode {
            return Ok(o);
        }
        // Append to an existing keyring file given by the user; else write a new file.
        let mut content = Vec::new();
        if keyring.is_some() {
            if let Some((_, t)) = secs
                .iter()
                .find(|(n, _)| n.strip_prefix("ring ").is_some_and(|p| p == dest))
            {
                let raw = b64(t);
                content = dearmor(&raw).unwrap_or(raw);
            }
        }
        content.extend_from_slice(&new_bin);
        let mut s = Script::new();
        s.raw("rd_dest=")
            .arg(&dest)
            .raw("\nrd_dir=$(dirname \"$rd_dest\")\nmkdir -p \"$rd_dir\" || exit 3\n");
        s.raw("rd_tmp=$(mktemp \"$rd_dir/.rdeploy.XXXXXXXX\") || exit 3\n");
        s.raw(&super::util::receive_stdin("\"$rd_tmp\"", content.len()));
        s.raw("chmod 0644 \"$rd_tmp\" && mv -f \"$rd_tmp\" \"$rd_dest\" || { rm -f \"$rd_tmp\"; exit 3; }\n");
        let r = ctx.run_stdin(s.as_str(), Some(content)).await?;
        if r.rc != 0 {
            return Err(ModuleError::failed(format!(
                "apt_key: writing {dest} failed: {}",
                r.stderr_str().trim()
            )));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal v4 public-key packet (old format, tag 6) followed by a user id.
    fn sample_key() -> Vec<u8> {
        let mut body = vec![4u8, 0x5f, 0x00, 0x00, 0x00, 22]; // v4, time, algo 22 (EdDSA)
        body.extend_from_slice(&[9, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01]); // curve OID
        body.extend_from_slice(&[0x01, 0x07, 0x40]); // MPI bit length 263, 0x40 prefix
        body.extend_from_slice(&[7u8; 32]);
        let mut k = vec![0x99, 0x00, body.len() as u8];
        k.extend_from_slice(&body);
        k.extend_from_slice(&[0xb4, 0x04, b't', b'e', b's', b't']); // user id packet
        k
    }

    #[test]
    fn fingerprint_of_v4_key() {
        let k = sample_key();
        let fps = fingerprints(&k);
        assert_eq!(fps.len(), 1);
        assert_eq!(fps[0].len(), 40);
        // the fingerprint is SHA-1 over 0x99 || len || body, i.e. exactly the packet here
        let mut h = Sha1::new();
        h.update(&k[..k.len() - 6]);
        assert_eq!(fps[0], hex::encode_upper(h.finalize()));
        let long_id = &fps[0][24..];
        assert!(id_matches(long_id, &fps[0]));
        assert!(id_matches(&format!("0x{}", &fps[0][32..]), &fps[0]));
        assert!(!id_matches("DEADBEEF", &fps[0]));
    }

    #[test]
    fn armor_roundtrip() {
        let k = sample_key();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&k);
        let armored = format!("-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\n{}\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n", b64);
        assert_eq!(dearmor(armored.as_bytes()).unwrap(), k);
        assert_eq!(dearmor(&k).unwrap(), k);
    }
}
