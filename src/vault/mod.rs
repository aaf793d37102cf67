//! ansible-vault support: encrypted files (vars files, group_vars/host_vars, include_vars,
//! `copy src`) and inline `!vault` values, byte-compatible with ansible-vault.
//!
//! - [`format`] the `$ANSIBLE_VAULT` envelope, [`crypto`] VaultAES256,
//!   [`password`] where passwords come from, [`censor`] keeps decrypted values out of
//!   every output, [`cli`] the `rdeploy vault ...` commands.
//! - The run's passwords are a [`Keyring`], installed once per process ([`install`])
//!   before any input is loaded; loaders call [`read_file`] and [`decrypt_inline`]. Each
//!   vaulted text is decrypted once per run (cached by its ciphertext), and every
//!   decrypted value is registered with [`censor`].
//! - With several passwords, the one whose vault id matches a 1.2 envelope's label is
//!   tried first, then the others in the order they were given (Ansible's order).

pub mod censor;
pub mod cli;
pub mod crypto;
pub mod format;
pub mod password;

use crate::error::{Error, Result};
use password::Secret;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// Why a vaulted text could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Format(#[from] format::FormatError),
    #[error(
        "it is vault-encrypted and no vault password was given \
         (use --vault-password-file, --vault-id or --ask-vault-pass)"
    )]
    NoSecret,
    #[error("cannot decrypt it: wrong vault password (tried vault ids: {0})")]
    NoMatch(String),
    #[error("cannot decrypt it: {0}")]
    Crypto(crypto::CryptoError),
}

/// The passwords of a run.
#[derive(Debug, Default)]
pub struct Keyring {
    secrets: Vec<Secret>,
}

impl Keyring {
    pub fn new(secrets: Vec<Secret>) -> Self {
        Keyring { secrets }
    }
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// The candidates for an envelope: the matching id first, then the others.
    fn candidates(&self, vault_id: Option<&str>) -> Vec<&Secret> {
        let (mut first, rest): (Vec<&Secret>, Vec<&Secret>) = self
            .secrets
            .iter()
            .partition(|s| Some(s.id.as_str()) == vault_id);
        first.extend(rest);
        first
    }

    /// Decrypts a vaulted text.
    pub fn decrypt(&self, text: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.decrypt_with(text).map(|(plain, _)| plain)
    }

    /// Decrypts a vaulted text; also returns the secret that did.
    pub fn decrypt_with(&self, text: &[u8]) -> Result<(Vec<u8>, &Secret), VaultError> {
        let env = format::parse(text)?;
        if self.secrets.is_empty() {
            return Err(VaultError::NoSecret);
        }
        for s in self.candidates(env.vault_id.as_deref()) {
            match crypto::decrypt(&env, s.password()) {
                Ok(plain) => return Ok((plain, s)),
                Err(crypto::CryptoError::Hmac) => continue,
                Err(e) => return Err(VaultError::Crypto(e)),
            }
        }
        let ids: Vec<&str> = self.secrets.iter().map(|s| s.id.as_str()).collect();
        Err(VaultError::NoMatch(ids.join(", ")))
    }

    /// The password to encrypt with: `--encrypt-vault-id`, or the only one given.
    pub fn for_encryption(&self, id: Option<&str>) -> Result<&Secret> {
        match id {
            Some(id) => self.secrets.iter().find(|s| s.id == id).ok_or_else(|| {
                Error::usage(format!(
                    "no vault password with id `{id}` was given (--encrypt-vault-id)"
                ))
            }),
            None => match self.secrets.as_slice() {
                [] => Err(Error::usage("no vault password was given")),
                [one] => Ok(one),
                many => {
                    let ids: Vec<&str> = many.iter().map(|s| s.id.as_str()).collect();
                    Err(Error::usage(format!(
                        "the vault ids {} are available to encrypt; choose one with \
                         --encrypt-vault-id",
                        ids.join(", ")
                    )))
                }
            },
        }
    }
}

/// A keyring with the run's cache of decrypted texts.
#[derive(Debug, Default)]
pub struct Vault {
    pub keyring: Keyring,
    cache: Mutex<HashMap<Vec<u8>, Arc<Vec<u8>>>>,
    decryptions: std::sync::atomic::AtomicUsize,
}

impl Vault {
    pub fn new(keyring: Keyring) -> Self {
        Vault {
            keyring,
            ..Default::default()
        }
    }

    /// Decrypts a vaulted text once; later calls with the same text use the cache.
    pub fn decrypt(&self, text: &[u8]) -> Result<Arc<Vec<u8>>, VaultError> {
        let key = text.trim_ascii().to_vec();
        if let Some(hit) = self.cache.lock().unwrap().get(&key) {
            return Ok(hit.clone());
        }
        self.decryptions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let plain = Arc::new(self.keyring.decrypt(&key)?);
        self.cache.lock().unwrap().insert(key, plain.clone());
        Ok(plain)
    }

    /// How many texts were actually decrypted (not served from the cache).
    pub fn decryptions(&self) -> usize {
        self.decryptions.load(std::sync::atomic::Ordering::Relaxed)
    }
}

static CURRENT: RwLock<Option<Arc<Vault>>> = RwLock::new(None);

/// Installs the run's passwords (once, before any input is loaded).
pub fn install(keyring: Keyring) {
    *CURRENT.write().unwrap() = Some(Arc::new(Vault::new(keyring)));
}

/// The run's vault (an empty one when no password was given).
pub fn current() -> Arc<Vault> {
    if let Some(v) = CURRENT.read().unwrap().as_ref() {
        return v.clone();
    }
    let mut w = CURRENT.write().unwrap();
    w.get_or_insert_with(|| Arc::new(Vault::default())).clone()
}

/// The password sources of the command line and ansible.cfg, in Ansible's order.
pub fn sources(
    pass: &crate::cli::VaultPassArgs,
    cfg: &crate::config::ProjectConfig,
) -> password::Sources {
    password::Sources {
        config_ids: cfg.vault_identity_list.clone(),
        vault_ids: pass.ids.clone(),
        password_files: pass.password_files.clone(),
        config_password_file: cfg.vault_password_file.clone(),
        ask: pass.ask,
    }
}

/// Loads the passwords (prompting if asked) and installs them for the run: called before
/// any playbook, vars file or inventory is read.
pub fn setup(pass: &crate::cli::VaultPassArgs, cfg: &crate::config::ProjectConfig) -> Result<()> {
    let secrets = sources(pass, cfg)
        .load()
        .map_err(|e| Error::usage(e.to_string()))?;
    install(Keyring::new(secrets));
    Ok(())
}

/// Reads a controller file, decrypting it when it is vaulted; `true` when it was. The
/// error names the file. Decrypted text is registered with [`censor`] line by line.
pub fn read_file(path: &Path) -> Result<(Vec<u8>, bool)> {
    let data =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if !format::is_vaulted(&data) {
        return Ok((data, false));
    }
    let plain = current()
        .decrypt(&data)
        .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
    censor::register_text(&String::from_utf8_lossy(&plain));
    Ok((plain.to_vec(), true))
}

/// The text of a user file (size-checked like [`crate::yaml::read_input`]), decrypted
/// when vaulted; `true` when it was.
pub fn read_text(path: &Path) -> Result<(String, bool)> {
    let text = crate::yaml::read_input(path)?;
    if !format::is_vaulted(text.as_bytes()) {
        return Ok((text, false));
    }
    let plain = current()
        .decrypt(text.as_bytes())
        .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
    let plain = String::from_utf8(plain.to_vec()).map_err(|_| {
        Error::usage(format!(
            "{}: the decrypted content is not UTF-8 text",
            path.display()
        ))
    })?;
    Ok((plain, true))
}

/// Decrypts an inline `!vault` value and registers it with [`censor`].
pub fn decrypt_inline(text: &str) -> Result<String, VaultError> {
    let plain = current().decrypt(text.as_bytes())?;
    let s = String::from_utf8_lossy(&plain).into_owned();
    censor::register(&s);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, pw: &str) -> Secret {
        Secret::new(id, "test", pw.as_bytes().to_vec())
    }

    #[test]
    fn matching_id_first_then_others() {
        let t = crypto::encrypt_with_salt(b"x", b"pw-b", &[3; 32], Some("b"));
        let k = Keyring::new(vec![secret("a", "pw-a"), secret("b", "pw-b")]);
        assert_eq!(k.candidates(Some("b"))[0].id, "b");
        assert_eq!(k.decrypt(t.as_bytes()).unwrap(), b"x");
        // A 1.2 label that matches no id: every password is still tried.
        let t = crypto::encrypt_with_salt(b"y", b"pw-a", &[3; 32], Some("zzz"));
        assert_eq!(k.decrypt(t.as_bytes()).unwrap(), b"y");
        let wrong = Keyring::new(vec![secret("a", "nope")]);
        assert_eq!(
            wrong.decrypt(t.as_bytes()),
            Err(VaultError::NoMatch("a".into()))
        );
        assert_eq!(
            Keyring::default().decrypt(t.as_bytes()),
            Err(VaultError::NoSecret)
        );
    }

    #[test]
    fn decrypted_once() {
        let t = crypto::encrypt_with_salt(b"z", b"pw", &[4; 32], None);
        let v = Vault::new(Keyring::new(vec![secret("default", "pw")]));
        for _ in 0..3 {
            assert_eq!(v.decrypt(t.as_bytes()).unwrap().as_slice(), b"z");
        }
        assert_eq!(v.decryptions(), 1);
    }

    #[test]
    fn encryption_id_choice() {
        let k = Keyring::new(vec![secret("a", "1"), secret("b", "2")]);
        assert!(k.for_encryption(None).is_err());
        assert_eq!(k.for_encryption(Some("b")).unwrap().id, "b");
        let one = Keyring::new(vec![secret("a", "1")]);
        assert_eq!(one.for_encryption(None).unwrap().id, "a");
    }
}
