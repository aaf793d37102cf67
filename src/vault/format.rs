//! The ansible-vault envelope, byte for byte as `lib/ansible/parsing/vault/__init__.py`
//! writes and reads it:
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256            (or $ANSIBLE_VAULT;1.2;AES256;<vault-id>)
//! <hexlify(hexlify(salt) "\n" hex(hmac) "\n" hexlify(ciphertext)), in 80-character lines>
//! ```
//!
//! The header is split on `;` with each part stripped; the body lines are joined and
//! unhexlified twice. Pure functions: no I/O, no keys.

use std::fmt;

/// The first bytes of every vaulted text.
pub const HEADER: &str = "$ANSIBLE_VAULT";
/// The only cipher ansible-vault writes and reads.
pub const CIPHER: &str = "AES256";
/// Ansible's label for secrets given without one (`--vault-password-file`).
pub const DEFAULT_ID: &str = "default";

/// A malformed envelope (not a password problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not vault-encrypted data (no `$ANSIBLE_VAULT` header)")]
    NoHeader,
    #[error("invalid vault header `{0}`")]
    BadHeader(String),
    #[error("unsupported vault format version `{0}` (1.1 and 1.2 are known)")]
    Version(String),
    #[error("unsupported vault cipher `{0}` (only AES256 is known)")]
    Cipher(String),
    #[error("invalid ansible-vault data: {0}")]
    Body(&'static str),
}

/// The parts of a vaulted text.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `1.1` or `1.2`.
    pub version: String,
    /// The label of a 1.2 envelope.
    pub vault_id: Option<String>,
    pub salt: Vec<u8>,
    pub hmac: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("vault_id", &self.vault_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Whether a text is vault-encrypted (starts with the header, leading blanks allowed).
pub fn is_vaulted(text: &[u8]) -> bool {
    text.trim_ascii_start().starts_with(HEADER.as_bytes())
}

/// Parses a vaulted text (a whole file, or an inline `!vault` value).
pub fn parse(text: &[u8]) -> Result<Envelope, FormatError> {
    let text = text.trim_ascii_start();
    if !text.starts_with(HEADER.as_bytes()) {
        return Err(FormatError::NoHeader);
    }
    let text = std::str::from_utf8(text).map_err(|_| FormatError::Body("not ASCII"))?;
    let mut lines = text.lines();
    let header_line = lines.next().unwrap_or_default().trim();
    let parts: Vec<&str> = header_line.split(';').map(str::trim).collect();
    if parts.len() < 3 || parts[0] != HEADER {
        return Err(FormatError::BadHeader(header_line.to_string()));
    }
    let version = parts[1].to_string();
    if version != "1.1" && version != "1.2" {
        return Err(FormatError::Version(version));
    }
    if parts[2] != CIPHER {
        return Err(FormatError::Cipher(parts[2].to_string()));
    }
    let vault_id = parts
        .get(3)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string());
    let body: String = lines.map(str::trim).collect();
    let inner = hex::decode(body.as_bytes()).map_err(|_| FormatError::Body("bad hex"))?;
    let mut fields = inner.splitn(3, |b| *b == b'\n');
    let (Some(salt), Some(hmac), Some(ct)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(FormatError::Body("expected salt, hmac and ciphertext"));
    };
    let dec = |b: &[u8]| hex::decode(b.trim_ascii()).map_err(|_| FormatError::Body("bad hex"));
    Ok(Envelope {
        version,
        vault_id,
        salt: dec(salt)?,
        hmac: dec(hmac)?,
        ciphertext: dec(ct)?,
    })
}

/// Formats an envelope as ansible-vault does: version 1.2 with the id when an id other
/// than `default` is given, else 1.1; 80-character lines; a final newline.
pub fn format(salt: &[u8], hmac: &[u8], ciphertext: &[u8], vault_id: Option<&str>) -> String {
    let mut header = format!("{HEADER};1.1;{CIPHER}");
    if let Some(id) = vault_id.filter(|id| !id.is_empty() && *id != DEFAULT_ID) {
        header = format!("{HEADER};1.2;{CIPHER};{id}");
    }
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(hmac),
        hex::encode(ciphertext)
    );
    let body = hex::encode(inner.as_bytes());
    let mut out = header;
    out.push('\n');
    for chunk in body.as_bytes().chunks(80) {
        out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
        out.push('\n');
    }
    out
}

/// An `encrypt_string` block: `name: !vault |` then the envelope indented by 10 spaces.
pub fn yaml_block(vaulted: &str, name: Option<&str>) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |"),
        None => "!vault |".to_string(),
    };
    for line in vaulted.lines() {
        out.push('\n');
        out.push_str("          ");
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_versions() {
        let t = format(b"salt", b"mac", b"ciphertext", None);
        assert!(t.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert!(t.ends_with('\n'));
        assert!(t.lines().skip(1).all(|l| l.len() <= 80));
        let e = parse(t.as_bytes()).unwrap();
        assert_eq!((e.version.as_str(), e.vault_id.as_deref()), ("1.1", None));
        assert_eq!(e.ciphertext, b"ciphertext");
        assert_eq!(e.salt, b"salt");
        let t = format(b"s", b"m", b"c", Some("prod"));
        assert!(t.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert_eq!(
            parse(t.as_bytes()).unwrap().vault_id.as_deref(),
            Some("prod")
        );
        let t = format(b"s", b"m", b"c", Some("default"));
        assert!(t.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    }

    #[test]
    fn bad_envelopes() {
        assert_eq!(parse(b"hello"), Err(FormatError::NoHeader));
        assert!(matches!(
            parse(b"$ANSIBLE_VAULT;1.0;AES256\n00"),
            Err(FormatError::Version(_))
        ));
        assert!(matches!(
            parse(b"$ANSIBLE_VAULT;1.1;AES\n00"),
            Err(FormatError::Cipher(_))
        ));
        assert!(matches!(
            parse(b"$ANSIBLE_VAULT;1.1;AES256\nzz"),
            Err(FormatError::Body(_))
        ));
        assert!(is_vaulted(b"  $ANSIBLE_VAULT;1.1;AES256"));
    }

    #[test]
    fn yaml_block_like_encrypt_string() {
        let b = yaml_block("$ANSIBLE_VAULT;1.1;AES256\nabcd\n", Some("pw"));
        assert_eq!(
            b,
            "pw: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          abcd"
        );
    }
}
