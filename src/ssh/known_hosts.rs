//! known_hosts files and host key verification, the way OpenSSH does it.
//!
//! This module owns the file format (plain and hashed `|1|salt|hash` host entries,
//! `[host]:port` names, comma lists with `*`/`?` wildcards and `!negation`, the
//! `@revoked` and `@cert-authority` markers, comments) and the decision taken for a
//! server key under a [`HostKeyPolicy`]: accept, record (accept-new) or refuse with a
//! message that names the key type and its `SHA256:` fingerprint, like `ssh` does.

use super::trusted_keys::{TrustedKeys, TrustedVerdict};
use super::HostKeyPolicy;
use base64::Engine as _;
use russh::keys::{Algorithm, HashAlg, PublicKey, PublicKeyBase64 as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The marker at the start of a known_hosts line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `@cert-authority`: the key is a CA that signs host certificates.
    CertAuthority,
    /// `@revoked`: the key must never be accepted.
    Revoked,
}

/// One usable line of a known_hosts file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: Arc<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    pub marker: Option<Marker>,
    /// The host field as written (comma list, possibly hashed).
    pub hosts: String,
    pub key: PublicKey,
}

impl Entry {
    /// Whether this line's host field names `host_id` (see [`host_id`]).
    pub fn matches(&self, host_id: &str) -> bool {
        hosts_field_matches(&self.hosts, host_id)
    }
}

/// What a set of known_hosts files says about a server key.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A line for this host records exactly this key.
    Known,
    /// No line records a key of this type for this host.
    Unknown,
    /// The host is recorded with another key of the same type.
    Changed {
        file: Arc<PathBuf>,
        line: usize,
        recorded: PublicKey,
    },
    /// The key is marked `@revoked`.
    Revoked { file: Arc<PathBuf>, line: usize },
}

/// The parsed content of one or more known_hosts files.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    pub entries: Vec<Entry>,
}

/// The name a host is recorded under: `host` for port 22, `[host]:port` otherwise.
pub fn host_id(address: &str, port: u16) -> String {
    let host = address.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// The known_hosts file used when none is configured: `~/.ssh/known_hosts`.
pub fn default_files() -> Vec<PathBuf> {
    home_dir()
        .map(|h| vec![h.join(".ssh").join("known_hosts")])
        .unwrap_or_default()
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The fingerprint OpenSSH prints for a key: `SHA256:` and unpadded base64.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A key type as OpenSSH names it in known_hosts (`ssh-ed25519`, `ecdsa-sha2-nistp256`).
pub fn key_type(key: &PublicKey) -> String {
    key.algorithm().as_str().to_string()
}

impl KnownHosts {
    /// Parses the text of one known_hosts file. Lines that cannot be read (unknown key
    /// types, bad base64) are skipped, as OpenSSH does.
    pub fn parse(text: &str, file: &Path) -> KnownHosts {
        let file = Arc::new(file.to_path_buf());
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(e) = parse_line(line, &file, i + 1) {
                entries.push(e);
            }
        }
        KnownHosts { entries }
    }

    /// Reads every file in order; missing files count as empty.
    pub fn load(files: &[PathBuf]) -> Result<KnownHosts, HostKeyError> {
        let mut all = KnownHosts::default();
        for f in files {
            match std::fs::read_to_string(f) {
                Ok(text) => all.entries.extend(KnownHosts::parse(&text, f).entries),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(HostKeyError::Read {
                        file: f.clone(),
                        source: Arc::new(source),
                    })
                }
            }
        }
        Ok(all)
    }

    /// Checks a server key for `host_id` (see [`host_id`]).
    pub fn check(&self, host_id: &str, key: &PublicKey) -> Verdict {
        let host_id = host_id.to_ascii_lowercase();
        let data = key.key_data();
        if let Some(e) = self.entries.iter().find(|e| {
            e.marker == Some(Marker::Revoked) && e.key.key_data() == data && e.matches(&host_id)
        }) {
            return Verdict::Revoked {
                file: e.file.clone(),
                line: e.line,
            };
        }
        let plain = || {
            self.entries
                .iter()
                .filter(|e| e.marker.is_none() && e.matches(&host_id))
        };
        if plain().any(|e| e.key.key_data() == data) {
            return Verdict::Known;
        }
        let family = key_family(&key.algorithm());
        match plain().find(|e| key_family(&e.key.algorithm()) == family) {
            Some(e) => Verdict::Changed {
                file: e.file.clone(),
                line: e.line,
                recorded: e.key.clone(),
            },
            None => Verdict::Unknown,
        }
    }

    /// The key types recorded for a host, in file order (to prefer them when
    /// negotiating, as OpenSSH does, so that a host known by its ECDSA key is not
    /// asked for its Ed25519 key).
    pub fn known_algorithms(&self, host_id: &str) -> Vec<Algorithm> {
        let host_id = host_id.to_ascii_lowercase();
        let mut out: Vec<Algorithm> = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.marker.is_none() && e.matches(&host_id))
        {
            let a = e.key.algorithm();
            if !out.iter().any(|o| key_family(o) == key_family(&a)) {
                out.push(a);
            }
        }
        out
    }
}

/// Key types compared for "same type": every RSA signature variant is one type.
fn key_family(a: &Algorithm) -> String {
    if matches!(a, Algorithm::Rsa { .. }) {
        "ssh-rsa".to_string()
    } else {
        a.as_str().to_string()
    }
}

/// Whether `a` is the same key type as `b` (RSA hash variants are one type).
pub fn same_key_type(a: &Algorithm, b: &Algorithm) -> bool {
    key_family(a) == key_family(b)
}

fn parse_line(line: &str, file: &Arc<PathBuf>, lineno: usize) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_ascii_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@cert-authority" => Some(Marker::CertAuthority),
        "@revoked" => Some(Marker::Revoked),
        m if m.starts_with('@') => return None,
        _ => None,
    };
    if marker.is_some() {
        first = fields.next()?;
    }
    let _key_type = fields.next()?;
    let blob = fields.next()?;
    let key = russh::keys::parse_public_key_base64(blob).ok()?;
    Some(Entry {
        file: file.clone(),
        line: lineno,
        marker,
        hosts: first.to_string(),
        key,
    })
}

/// OpenSSH's host list matching: a comma list of patterns (or hashed names); the host
/// matches when some pattern matches and no `!pattern` does.
pub fn hosts_field_matches(field: &str, host_id: &str) -> bool {
    let mut positive = false;
    for pat in field.split(',') {
        if let Some(hashed) = pat.strip_prefix("|1|") {
            if hashed_matches(hashed, host_id) {
                positive = true;
            }
        } else if let Some(neg) = pat.strip_prefix('!') {
            if wildcard_match(&neg.to_ascii_lowercase(), host_id) {
                return false;
            }
        } else if wildcard_match(&pat.to_ascii_lowercase(), host_id) {
            positive = true;
        }
    }
    positive
}

/// `salt|hash` (both base64): HMAC-SHA1 keyed with the salt over the host name.
fn hashed_matches(salt_and_hash: &str, host_id: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    hmac_sha1(&salt, host_id.as_bytes())[..] == hash[..]
}

/// Hashes a host name the way `ssh-keygen -H` does, with the given salt.
pub fn hash_host(host_id: &str, salt: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "|1|{}|{}",
        b64.encode(salt),
        b64.encode(hmac_sha1(salt, host_id.as_bytes()))
    )
}

fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha1::new().chain_update(&ipad).chain_update(msg).finalize();
    Sha1::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Glob matching with `*` and `?` (as OpenSSH's `match_pattern`); the caller
/// lower-cases both sides when case must not matter.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Appends `host_id key` to a known_hosts file, creating it (and its directory).
pub fn append(file: &Path, host_id: &str, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let needs_newline = match std::fs::read(file) {
        Ok(bytes) => !bytes.is_empty() && !bytes.ends_with(b"\n"),
        Err(_) => false,
    };
    let line = format!(
        "{}{} {} {}\n",
        if needs_newline { "\n" } else { "" },
        host_id,
        key.algorithm().as_str(),
        key.public_key_base64()
    );
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    // One write call: concurrent appenders never interleave inside a line.
    f.write_all(line.as_bytes())
}

/// Decides on a server key for `host_id` under `policy`, with `files` as the
/// known_hosts files (the first one is written by accept-new). `Ok` means accept; the
/// error is a message for the user.
pub fn verify(
    host_id: &str,
    files: &[PathBuf],
    policy: HostKeyPolicy,
    key: &PublicKey,
) -> Result<(), HostKeyError> {
    verify_with(host_id, files, policy, key, None)
}

/// [`verify`] with the keys an inventory vouches for this host ([`TrustedKeys`]):
/// `@revoked` lines still win; a key known to the files or to the set is accepted; a set
/// that holds keys refuses every other key (under accept-new too); an empty set adds to
/// the strict refusal why nothing was found and what to do.
pub fn verify_with(
    host_id: &str,
    files: &[PathBuf],
    policy: HostKeyPolicy,
    key: &PublicKey,
    trusted: Option<&TrustedKeys>,
) -> Result<(), HostKeyError> {
    if policy == HostKeyPolicy::Off {
        return Ok(());
    }
    let looked_in = if files.is_empty() {
        "no file".to_string()
    } else {
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let known = KnownHosts::load(files)?;
    let offered = format!("{} key {}", key_type(key), fingerprint(key));
    let verdict = known.check(host_id, key);
    if let (Some(t), Verdict::Unknown | Verdict::Changed { .. }) = (trusted, &verdict) {
        match t.check(key) {
            TrustedVerdict::Known => return Ok(()),
            TrustedVerdict::Mismatch => {
                return Err(HostKeyError::Mismatch(
                    t.mismatch_message(host_id, &offered),
                ))
            }
            TrustedVerdict::Absent => {}
        }
    }
    match verdict {
        Verdict::Known => Ok(()),
        Verdict::Revoked { file, line } => Err(HostKeyError::Revoked {
            offered,
            file: file.to_path_buf(),
            line,
        }),
        Verdict::Changed {
            file,
            line,
            recorded,
        } => Err(HostKeyError::Changed {
            host_id: host_id.to_string(),
            offered,
            file: file.to_path_buf(),
            line,
            recorded: format!("{} key {}", key_type(&recorded), fingerprint(&recorded)),
        }),
        Verdict::Unknown => match policy {
            HostKeyPolicy::AcceptNew => {
                let Some(first) = files.first() else {
                    return Err(HostKeyError::NowhereToRecord { offered });
                };
                append(first, host_id, key).map_err(|source| HostKeyError::Record {
                    offered,
                    file: first.clone(),
                    source: Arc::new(source),
                })
            }
            _ => Err(HostKeyError::Unknown {
                host_id: host_id.to_string(),
                offered,
                looked_in: match trusted {
                    Some(t) => format!("{looked_in} and {}", t.source),
                    None => looked_in,
                },
                hint: trusted.map(|t| t.absent_hint()),
            }),
        },
    }
}

/// Why a server key was refused (or could not be checked); the message is for the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HostKeyError {
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: Arc<std::io::Error>,
    },
    #[error("the server's {offered} is marked @revoked in {}:{line}; refusing to connect", file.display())]
    Revoked {
        offered: String,
        file: PathBuf,
        line: usize,
    },
    #[error(
        "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for {host_id}! The server offered {offered}, \
         but {}:{line} records {recorded}. Someone could be eavesdropping (man-in-the-middle attack), \
         or the host key has just been changed. If the change is expected, remove the old line \
         (ssh-keygen -R '{host_id}' -f {}) and connect again.",
        file.display(),
        file.display()
    )]
    Changed {
        host_id: String,
        offered: String,
        file: PathBuf,
        line: usize,
        /// The recorded key's type and fingerprint.
        recorded: String,
    },
    /// The keys the inventory vouches for do not hold the offered one.
    #[error("{0}")]
    Mismatch(String),
    /// No key is known for the host; `hint` is what the inventory's empty set adds.
    #[error("{}", unknown_message(host_id, offered, looked_in, hint.as_deref()))]
    Unknown {
        host_id: String,
        offered: String,
        looked_in: String,
        hint: Option<String>,
    },
    #[error("no known_hosts file to record the server's {offered} in")]
    NowhereToRecord { offered: String },
    #[error("cannot record the server's {offered} in {}: {source}", file.display())]
    Record {
        offered: String,
        file: PathBuf,
        source: Arc<std::io::Error>,
    },
}

fn unknown_message(host_id: &str, offered: &str, looked_in: &str, hint: Option<&str>) -> String {
    match hint {
        Some(h) => format!(
            "no host key is known for {host_id} (looked in {looked_in}); the server offered {offered}.{h}"
        ),
        None => format!(
            "no host key is known for {host_id} (looked in {looked_in}); the server offered {offered}. \
             Add it to known_hosts (e.g. ssh-keyscan) after checking the fingerprint, or use \
             host key checking accept-new"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Keys made with ssh-keygen; fingerprints as printed by `ssh-keygen -lf`.
    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIPor2hy3CS2oZgaD2qWpL0Rs5xNZnykpTOIUM/O+5dN2";
    const ED_A_FP: &str = "SHA256:XEHhfEWb6ChmJC8K7MJUOtcrzOIbWf6BnDfJpHnhL7c";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIHQgtYr3UMmSjkQwbJX2OvWUne/lU3KvHCvg82fm02K+";
    const ED_B_FP: &str = "SHA256:yvoE3wQwA0KfFa6PdNMTcw+thDfnZOwp4WFQWeuPSmA";
    const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGtCjisc9w9BKCX1RCwkIVT1Ee7wBmIFeXUL0OBL0EH2KWKBtyikfu7O75bIHta0cKhCTLcSZmkJ4+oSVEcF1jY=";
    // `ssh-keygen -H` of "[127.0.0.1]:2222 ssh-ed25519 ED_A".
    const HASHED: &str = "|1|GwG0e/UQI37kQclP9EpkBI4EsQg=|cVJ1ztWIstQ882jNbNXQ8mxQd7o=";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn kh(text: &str) -> KnownHosts {
        KnownHosts::parse(text, Path::new("/kh"))
    }

    #[test]
    fn host_ids() {
        assert_eq!(host_id("Example.COM", 22), "example.com");
        assert_eq!(host_id("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn fingerprint_is_openssh_sha256() {
        assert_eq!(fingerprint(&key(ED_A)), ED_A_FP);
        assert_eq!(fingerprint(&key(ED_B)), ED_B_FP);
        assert_eq!(key_type(&key(ED_A)), "ssh-ed25519");
        assert_eq!(key_type(&key(ECDSA)), "ecdsa-sha2-nistp256");
    }

    #[test]
    fn hmac_sha1_rfc2202() {
        let d = hmac_sha1(&[0x0b; 20], b"Hi There");
        assert_eq!(hex::encode(d), "b617318655057264e28bc0b6fb378c8ef146be00");
        let d = hmac_sha1(
            &[0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(hex::encode(d), "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    }

    #[test]
    fn plain_bracket_and_comma_entries() {
        let k = kh(&format!(
            "# comment\n\n[127.0.0.1]:2222 ssh-ed25519 {ED_A} a comment\nweb1,10.0.0.5 ssh-ed25519 {ED_B}\n"
        ));
        assert_eq!(k.entries.len(), 2);
        assert!(matches!(
            k.check("[127.0.0.1]:2222", &key(ED_A)),
            Verdict::Known
        ));
        assert!(matches!(k.check("127.0.0.1", &key(ED_A)), Verdict::Unknown));
        assert!(matches!(k.check("10.0.0.5", &key(ED_B)), Verdict::Known));
        assert!(matches!(k.check("WEB1", &key(ED_B)), Verdict::Known));
        assert!(matches!(k.check("web2", &key(ED_B)), Verdict::Unknown));
    }

    #[test]
    fn hashed_entries() {
        let k = kh(&format!("{HASHED} ssh-ed25519 {ED_A}\n"));
        assert!(matches!(
            k.check("[127.0.0.1]:2222", &key(ED_A)),
            Verdict::Known
        ));
        assert!(matches!(
            k.check("[127.0.0.1]:2223", &key(ED_A)),
            Verdict::Unknown
        ));
        // Our own hashing reads back.
        let line = format!(
            "{} ssh-ed25519 {ED_B}",
            hash_host("node7", b"0123456789abcdefghij")
        );
        assert!(matches!(
            kh(&line).check("node7", &key(ED_B)),
            Verdict::Known
        ));
    }

    #[test]
    fn wildcards_and_negation() {
        let k = kh(&format!(
            "*.example.com,!bad.example.com ssh-ed25519 {ED_A}\nhost? ssh-ed25519 {ED_B}\n"
        ));
        assert!(matches!(
            k.check("a.example.com", &key(ED_A)),
            Verdict::Known
        ));
        assert!(matches!(
            k.check("bad.example.com", &key(ED_A)),
            Verdict::Unknown
        ));
        assert!(matches!(k.check("host1", &key(ED_B)), Verdict::Known));
        assert!(matches!(k.check("host12", &key(ED_B)), Verdict::Unknown));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn changed_key_of_same_type() {
        let k = kh(&format!(
            "h ssh-ed25519 {ED_A}\nh ecdsa-sha2-nistp256 {ECDSA}\n"
        ));
        match k.check("h", &key(ED_B)) {
            Verdict::Changed { line, recorded, .. } => {
                assert_eq!(line, 1);
                assert_eq!(fingerprint(&recorded), ED_A_FP);
            }
            v => panic!("{v:?}"),
        }
        // Another type recorded only: unknown, not changed.
        let k = kh(&format!("h ecdsa-sha2-nistp256 {ECDSA}\n"));
        assert!(matches!(k.check("h", &key(ED_B)), Verdict::Unknown));
        // Two lines, one of them right: known.
        let k = kh(&format!("h ssh-ed25519 {ED_A}\nh ssh-ed25519 {ED_B}\n"));
        assert!(matches!(k.check("h", &key(ED_B)), Verdict::Known));
    }

    #[test]
    fn markers() {
        let k = kh(&format!(
            "@revoked * ssh-ed25519 {ED_A}\nh ssh-ed25519 {ED_A}\n@cert-authority *.corp ssh-ed25519 {ED_B}\n@bogus h ssh-ed25519 {ED_B}\n"
        ));
        assert_eq!(k.entries.len(), 3);
        assert!(matches!(
            k.check("h", &key(ED_A)),
            Verdict::Revoked { line: 1, .. }
        ));
        // A CA key is not a host key.
        assert!(matches!(k.check("x.corp", &key(ED_B)), Verdict::Unknown));
    }

    #[test]
    fn bad_lines_are_skipped() {
        let k = kh(&format!(
            "h ssh-ed25519 !!notbase64\nh\nh ssh-ed25519 {ED_A}\n"
        ));
        assert_eq!(k.entries.len(), 1);
        assert_eq!(k.entries[0].line, 3);
    }

    #[test]
    fn known_algorithms_in_file_order() {
        let k = kh(&format!(
            "h ecdsa-sha2-nistp256 {ECDSA}\nh ssh-ed25519 {ED_A}\nh ssh-ed25519 {ED_B}\n"
        ));
        let algs: Vec<String> = k
            .known_algorithms("h")
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        assert_eq!(algs, ["ecdsa-sha2-nistp256", "ssh-ed25519"]);
    }

    #[test]
    fn verify_policies() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/known_hosts");
        let files = vec![f.clone()];
        let e = verify("[h]:2200", &files, HostKeyPolicy::Strict, &key(ED_A))
            .unwrap_err()
            .to_string();
        assert!(e.contains(ED_A_FP) && e.contains("ssh-ed25519"), "{e}");
        verify("[h]:2200", &files, HostKeyPolicy::Off, &key(ED_A)).unwrap();
        verify("[h]:2200", &files, HostKeyPolicy::AcceptNew, &key(ED_A)).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text, format!("[h]:2200 ssh-ed25519 {ED_A}\n"));
        verify("[h]:2200", &files, HostKeyPolicy::Strict, &key(ED_A)).unwrap();
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            let e = verify("[h]:2200", &files, policy, &key(ED_B))
                .unwrap_err()
                .to_string();
            assert!(e.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{e}");
            assert!(e.contains(ED_B_FP) && e.contains(ED_A_FP), "{e}");
        }
        // A file without a final newline gets one before the appended line.
        std::fs::write(&f, format!("x ssh-ed25519 {ED_A}")).unwrap();
        verify("y", &files, HostKeyPolicy::AcceptNew, &key(ED_B)).unwrap();
        let k = KnownHosts::load(&files).unwrap();
        assert_eq!(k.entries.len(), 2);
    }

    #[test]
    fn verify_with_trusted_keys() {
        use crate::ssh::trusted_keys::TrustedKeys;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("known_hosts");
        let files = vec![f.clone()];
        let console = TrustedKeys {
            source: "EC2 console output of i-1".into(),
            keys: vec![key(ED_A)],
            ..Default::default()
        };
        // Empty known_hosts, strict: the console's key is accepted, another refused
        // (also under accept-new, which then records nothing).
        verify_with(
            "10.0.0.5",
            &files,
            HostKeyPolicy::Strict,
            &key(ED_A),
            Some(&console),
        )
        .unwrap();
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            let e = verify_with("10.0.0.5", &files, policy, &key(ED_B), Some(&console))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("i-1") && e.contains(ED_A_FP) && e.contains(ED_B_FP),
                "{e}"
            );
        }
        assert!(!f.exists());
        // The address was another machine's before (a stale line): the console decides.
        std::fs::write(&f, format!("10.0.0.5 ssh-ed25519 {ED_B}\n")).unwrap();
        verify_with(
            "10.0.0.5",
            &files,
            HostKeyPolicy::Strict,
            &key(ED_A),
            Some(&console),
        )
        .unwrap();
        // Revoked still wins.
        std::fs::write(&f, format!("@revoked * ssh-ed25519 {ED_A}\n")).unwrap();
        let e = verify_with(
            "10.0.0.5",
            &files,
            HostKeyPolicy::Strict,
            &key(ED_A),
            Some(&console),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("@revoked"), "{e}");
        // No key found yet: strict refuses and says why and what to do.
        std::fs::remove_file(&f).unwrap();
        let none = TrustedKeys {
            source: "EC2 console output of i-2".into(),
            missing: Some("no SSH HOST KEY block in it yet".into()),
            ..Default::default()
        };
        let e = verify_with(
            "10.0.0.6",
            &files,
            HostKeyPolicy::Strict,
            &key(ED_A),
            Some(&none),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("i-2")
                && e.contains("first boot")
                && e.contains("ssh-keyscan")
                && e.contains("accept-new"),
            "{e}"
        );
        // accept-new was asked for explicitly: recorded.
        verify_with(
            "10.0.0.6",
            &files,
            HostKeyPolicy::AcceptNew,
            &key(ED_A),
            Some(&none),
        )
        .unwrap();
        assert!(std::fs::read_to_string(&f)
            .unwrap()
            .starts_with("10.0.0.6 ssh-ed25519"));
    }
}
