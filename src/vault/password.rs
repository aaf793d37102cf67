//! Where vault passwords come from, as Ansible reads them: `--vault-id label@source`
//! (source: a file, an executable file that prints the password, or `prompt`),
//! `--vault-password-file FILE` (label `default`), `--ask-vault-pass`, and ansible.cfg's
//! `vault_identity_list` / `vault_password_file` (`ANSIBLE_VAULT_IDENTITY_LIST`,
//! `ANSIBLE_VAULT_PASSWORD_FILE`).
//!
//! A file's password is its content stripped of surrounding whitespace; a script's is its
//! stdout stripped of `\r`/`\n`. A script named `*-client` or `*-client.EXT` is given
//! `--vault-id LABEL` (Ansible's client scripts). Empty passwords are refused.

use super::format::DEFAULT_ID;
use std::fmt;
use std::path::{Path, PathBuf};

/// One password with its vault id (label). Never printed: `Debug` hides the password.
#[derive(Clone)]
pub struct Secret {
    pub id: String,
    /// Where it came from (a path or `prompt`), for messages.
    pub source: String,
    password: Vec<u8>,
}

impl Secret {
    pub fn new(id: impl Into<String>, source: impl Into<String>, password: Vec<u8>) -> Self {
        Secret {
            id: id.into(),
            source: source.into(),
            password,
        }
    }
    pub fn password(&self) -> &[u8] {
        &self.password
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}@{})", self.id, self.source)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.password.fill(0);
    }
}

/// Why a password could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the vault password file {0} was not found")]
    NotFound(PathBuf),
    #[error("the vault password file {0} is a directory")]
    IsDir(PathBuf),
    #[error("cannot read the vault password file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("cannot run the vault password script {0}: {1}")]
    Run(PathBuf, std::io::Error),
    #[error("the vault password script {path} exited with status {status}{}", if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    Script {
        path: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("empty vault password from {0}")]
    Empty(String),
    #[error("cannot read the vault password from the terminal: {0}")]
    Prompt(std::io::Error),
    #[error("the vault passwords do not match")]
    Mismatch,
    #[error("invalid --vault-id `{0}`: expected LABEL@SOURCE or SOURCE")]
    BadId(String),
}

/// Where one password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Prompt,
    File(PathBuf),
}

/// A `label@source` vault identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub label: String,
    pub source: Source,
    /// `--ask-vault-pass` prompts "Vault password: " (without the label).
    pub plain_prompt: bool,
}

impl Identity {
    /// Parses `label@source` or `source` (label `default`); `prompt` asks on the terminal.
    pub fn parse(spec: &str) -> Result<Identity, PasswordError> {
        let spec = spec.trim();
        let (label, source) = match spec.split_once('@') {
            Some((l, s)) => (l.trim(), s.trim()),
            None => (DEFAULT_ID, spec),
        };
        if label.is_empty() || source.is_empty() {
            return Err(PasswordError::BadId(spec.to_string()));
        }
        let source = if source == "prompt" || source == "prompt_ask_vault_pass" {
            Source::Prompt
        } else {
            Source::File(expand_home(source))
        };
        Ok(Identity {
            label: label.to_string(),
            source,
            plain_prompt: false,
        })
    }

    pub fn file(label: &str, path: &Path) -> Identity {
        Identity {
            label: label.to_string(),
            source: Source::File(path.to_path_buf()),
            plain_prompt: false,
        }
    }

    /// `--ask-vault-pass`.
    pub fn ask() -> Identity {
        Identity {
            label: DEFAULT_ID.to_string(),
            source: Source::Prompt,
            plain_prompt: true,
        }
    }

    /// Gets the password. `confirm`: prompt twice (a new password), as `ansible-vault
    /// create/encrypt` do.
    pub fn load(&self, confirm: bool) -> Result<Secret, PasswordError> {
        match &self.source {
            Source::Prompt => {
                let (first, again) = if confirm {
                    ("New Vault password", "Confirm New Vault password")
                } else {
                    ("Vault password", "")
                };
                let label = if self.plain_prompt || self.label == DEFAULT_ID {
                    String::new()
                } else {
                    format!(" ({})", self.label)
                };
                let pw = prompt(&format!("{first}{label}: "))?;
                if confirm && prompt(&format!("{again}{label}: "))? != pw {
                    return Err(PasswordError::Mismatch);
                }
                Ok(Secret::new(&self.label, "prompt", pw))
            }
            Source::File(path) => {
                let pw = read_password_file(path, &self.label)?;
                Ok(Secret::new(&self.label, path.display().to_string(), pw))
            }
        }
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

fn prompt(text: &str) -> Result<Vec<u8>, PasswordError> {
    let pw = rpassword::prompt_password(text).map_err(PasswordError::Prompt)?;
    let pw = pw.trim().as_bytes().to_vec();
    if pw.is_empty() {
        return Err(PasswordError::Empty("the prompt".into()));
    }
    Ok(pw)
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_m: &std::fs::Metadata) -> bool {
    false
}

/// A client script: `name-client` or `name-client.ext`.
fn is_client(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
}

fn strip_newlines(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b'\r' | b'\n'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b'\r' | b'\n'))
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// Reads a password file, or runs it when it is executable.
pub fn read_password_file(path: &Path, label: &str) -> Result<Vec<u8>, PasswordError> {
    let meta = std::fs::metadata(path).map_err(|_| PasswordError::NotFound(path.to_path_buf()))?;
    if meta.is_dir() {
        return Err(PasswordError::IsDir(path.to_path_buf()));
    }
    let pw = if is_executable(&meta) {
        let mut cmd = std::process::Command::new(path);
        cmd.stdout(std::process::Stdio::piped());
        if is_client(path) {
            cmd.arg("--vault-id").arg(label);
            cmd.stderr(std::process::Stdio::piped());
        }
        let out = cmd
            .output()
            .map_err(|e| PasswordError::Run(path.to_path_buf(), e))?;
        if !out.status.success() {
            return Err(PasswordError::Script {
                path: path.to_path_buf(),
                status: out
                    .status
                    .code()
                    .map_or_else(|| "killed".into(), |c| c.to_string()),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        strip_newlines(&out.stdout).to_vec()
    } else {
        let data = std::fs::read(path).map_err(|e| PasswordError::Read(path.to_path_buf(), e))?;
        strip_newlines(data.trim_ascii()).to_vec()
    };
    if pw.is_empty() {
        return Err(PasswordError::Empty(path.display().to_string()));
    }
    Ok(pw)
}

/// Every way a command was given vault passwords, in Ansible's order: ansible.cfg's
/// identity list, `--vault-id`, `--vault-password-file`, ansible.cfg's password file,
/// `--ask-vault-pass`.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub config_ids: Vec<String>,
    pub vault_ids: Vec<String>,
    pub password_files: Vec<PathBuf>,
    pub config_password_file: Option<PathBuf>,
    pub ask: bool,
}

impl Sources {
    pub fn identities(&self) -> Result<Vec<Identity>, PasswordError> {
        let mut out = Vec::new();
        for s in self.config_ids.iter().chain(&self.vault_ids) {
            out.push(Identity::parse(s)?);
        }
        for f in self.password_files.iter().chain(&self.config_password_file) {
            out.push(Identity::file(DEFAULT_ID, f));
        }
        if self.ask {
            out.push(Identity::ask());
        }
        Ok(out)
    }

    /// Loads every password (prompts on the terminal for `prompt` sources).
    pub fn load(&self) -> Result<Vec<Secret>, PasswordError> {
        self.identities()?.iter().map(|i| i.load(false)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse_like_ansible() {
        let i = Identity::parse("prod@/x/pw").unwrap();
        assert_eq!(
            (i.label.as_str(), &i.source),
            ("prod", &Source::File("/x/pw".into()))
        );
        let i = Identity::parse("/x/pw").unwrap();
        assert_eq!(i.label, "default");
        assert_eq!(
            Identity::parse("dev@prompt").unwrap().source,
            Source::Prompt
        );
        assert!(Identity::parse("dev@").is_err());
    }

    #[test]
    fn files_and_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "  s3cret \n\n").unwrap();
        assert_eq!(read_password_file(&f, "default").unwrap(), b"s3cret");
        std::fs::write(&f, "\n").unwrap();
        assert!(matches!(
            read_password_file(&f, "default"),
            Err(PasswordError::Empty(_))
        ));
        assert!(matches!(
            read_password_file(&dir.path().join("nope"), "x"),
            Err(PasswordError::NotFound(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let s = dir.path().join("pw-client.sh");
            std::fs::write(
                &s,
                "#!/bin/sh\n[ \"$1\" = --vault-id ] && echo \"pw-for-$2\"\n",
            )
            .unwrap();
            std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(read_password_file(&s, "prod").unwrap(), b"pw-for-prod");
            let s = dir.path().join("pw.sh");
            std::fs::write(&s, "#!/bin/sh\necho ' from script '\n").unwrap();
            std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(read_password_file(&s, "x").unwrap(), b" from script ");
            std::fs::write(&s, "#!/bin/sh\nexit 3\n").unwrap();
            let e = read_password_file(&s, "x").unwrap_err().to_string();
            assert!(e.contains("exited with status 3"), "{e}");
        }
    }

    #[test]
    fn order_of_sources() {
        let s = Sources {
            config_ids: vec!["cfg@/a".into()],
            vault_ids: vec!["cli@/b".into()],
            password_files: vec!["/c".into()],
            config_password_file: Some("/d".into()),
            ask: true,
        };
        let labels: Vec<_> = s
            .identities()
            .unwrap()
            .into_iter()
            .map(|i| i.label)
            .collect();
        assert_eq!(labels, ["cfg", "cli", "default", "default", "default"]);
    }
}
