//! `rdeploy vault create|encrypt|decrypt|view|edit|rekey|encrypt_string`, as
//! ansible-vault does them. Files are written atomically (a temporary file in the same
//! directory, then a rename), keeping an existing file's mode; new files are 0600.
//! Without any password source, the password is asked on the terminal (twice when
//! encrypting with a new one).

use super::password::{Identity, Secret, Sources};
use super::{crypto, format, Keyring};
use crate::cli::{VaultAction, VaultArgs};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Runs one `rdeploy vault` command; returns the exit status.
pub fn run(args: VaultArgs) -> Result<i32> {
    let cfg = crate::config::load(args.config.as_deref())?;
    let sources = super::sources(&args.pass, &cfg);
    let encrypting = matches!(
        args.action,
        VaultAction::Create { .. }
            | VaultAction::Encrypt { .. }
            | VaultAction::EncryptString { .. }
    );
    let keyring = load_keyring(&sources, encrypting)?;
    let enc_id = args.encrypt_vault_id.as_deref();
    match args.action {
        VaultAction::Encrypt { files, output } => {
            let secret = keyring.for_encryption(enc_id)?;
            each_input(&files, output.as_deref(), |name, data| {
                if format::is_vaulted(&data) {
                    return Err(Error::usage(format!("{name}: input is already encrypted")));
                }
                encrypt(&data, secret).map(String::into_bytes)
            })?;
            eprintln!("Encryption successful");
        }
        VaultAction::Decrypt { files, output } => {
            each_input(&files, output.as_deref(), |name, data| {
                decrypt(&keyring, name, &data).map(|(plain, _)| plain)
            })?;
            eprintln!("Decryption successful");
        }
        VaultAction::View { files } => {
            let mut out = std::io::stdout().lock();
            for f in &files {
                let (plain, _) = decrypt(&keyring, &f.display().to_string(), &read(f)?)?;
                out.write_all(&plain)
                    .map_err(|e| Error::io("cannot write to stdout", e))?;
            }
        }
        VaultAction::Create { file } => {
            if file.exists() {
                return Err(Error::usage(format!(
                    "{} exists, please use 'edit' instead",
                    file.display()
                )));
            }
            let secret = keyring.for_encryption(enc_id)?;
            let plain = edit_in_editor(b"")?;
            write_file(&file, encrypt(&plain, secret)?.as_bytes())?;
        }
        VaultAction::Edit { file } => {
            let name = file.display().to_string();
            let (plain, used) = decrypt(&keyring, &name, &read(&file)?)?;
            let secret = match enc_id {
                Some(_) => keyring.for_encryption(enc_id)?,
                None => used,
            };
            let edited = edit_in_editor(&plain)?;
            if edited != plain {
                write_file(&file, encrypt(&edited, secret)?.as_bytes())?;
            }
        }
        VaultAction::Rekey {
            files,
            new_password_file,
            new_vault_id,
        } => {
            let new = match (&new_vault_id, &new_password_file) {
                (Some(id), _) => Identity::parse(id),
                (None, Some(f)) => Ok(Identity::file(format::DEFAULT_ID, f)),
                (None, None) => Ok(Identity::ask()),
            }
            .and_then(|i| i.load(true))
            .map_err(|e| Error::usage(e.to_string()))?;
            // Every file is decrypted before any is rewritten.
            let mut plains = Vec::new();
            for f in &files {
                let (plain, _) = decrypt(&keyring, &f.display().to_string(), &read(f)?)?;
                plains.push(plain);
            }
            for (f, plain) in files.iter().zip(plains) {
                write_file(f, encrypt(&plain, &new)?.as_bytes())?;
            }
            eprintln!("Rekey successful");
        }
        VaultAction::EncryptString {
            values,
            names,
            prompt,
            stdin_name,
        } => {
            let secret = keyring.for_encryption(enc_id)?;
            let mut items: Vec<(Option<String>, Vec<u8>)> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                items.push((names.get(i).cloned(), v.as_bytes().to_vec()));
            }
            if prompt {
                let v = rpassword::prompt_password("String to encrypt: ")
                    .map_err(|e| Error::usage(format!("cannot read the value: {e}")))?;
                items.push((names.get(items.len()).cloned(), v.into_bytes()));
            }
            if stdin_name.is_some() || items.is_empty() {
                eprintln!(
                    "Reading plaintext input from stdin. (ctrl-d to end input, twice if your \
                     content does not already have a newline)"
                );
                let mut data = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(|e| Error::io("cannot read stdin", e))?;
                items.push((stdin_name.or_else(|| names.get(items.len()).cloned()), data));
            }
            let mut blocks = Vec::new();
            for (name, value) in &items {
                blocks.push(format::yaml_block(
                    &encrypt(value, secret)?,
                    name.as_deref(),
                ));
            }
            println!("{}", blocks.join("\n"));
            eprintln!("Encryption successful");
        }
    }
    Ok(crate::app::EXIT_OK)
}

/// The passwords for a vault command; none given: ask (a new password when encrypting).
fn load_keyring(sources: &Sources, encrypting: bool) -> Result<Keyring> {
    let mut ids = sources
        .identities()
        .map_err(|e| Error::usage(e.to_string()))?;
    if ids.is_empty() {
        ids.push(Identity::ask());
    }
    let secrets = ids
        .iter()
        .map(|i| i.load(encrypting && i.source == super::password::Source::Prompt))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::usage(e.to_string()))?;
    Ok(Keyring::new(secrets))
}

fn encrypt(plain: &[u8], secret: &Secret) -> Result<String> {
    crypto::encrypt(plain, secret.password(), Some(&secret.id))
        .map_err(|e| Error::usage(e.to_string()))
}

fn decrypt<'k>(keyring: &'k Keyring, name: &str, data: &[u8]) -> Result<(Vec<u8>, &'k Secret)> {
    if !format::is_vaulted(data) {
        return Err(Error::usage(format!(
            "{name}: input is not vault encrypted data"
        )));
    }
    keyring
        .decrypt_with(data)
        .map_err(|e| Error::usage(format!("{name}: {e}")))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

/// Applies `f` to each input: files in place (or to `output`), `-`/none: stdin.
fn each_input(
    files: &[PathBuf],
    output: Option<&Path>,
    mut f: impl FnMut(&str, Vec<u8>) -> Result<Vec<u8>>,
) -> Result<()> {
    let stdin = files.is_empty() || files.iter().any(|p| p.as_os_str() == "-");
    if output.is_some() && files.len() > 1 {
        return Err(Error::usage("--output takes one input file"));
    }
    if stdin {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| Error::io("cannot read stdin", e))?;
        let out = f("<stdin>", data)?;
        return emit(output.unwrap_or(Path::new("-")), &out);
    }
    for p in files {
        let out = f(&p.display().to_string(), read(p)?)?;
        emit(output.unwrap_or(p), &out)?;
    }
    Ok(())
}

fn emit(dest: &Path, data: &[u8]) -> Result<()> {
    if dest.as_os_str() == "-" {
        std::io::stdout()
            .write_all(data)
            .map_err(|e| Error::io("cannot write to stdout", e))
    } else {
        write_file(dest, data)
    }
}

/// Writes atomically, keeping an existing file's permissions (new files: 0600).
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    let fail = |e| Error::io(format!("cannot write {}", path.display()), e);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(data).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(fail)?;
    }
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Opens `$EDITOR` (default `vi`) on a private temporary copy; returns the result.
fn edit_in_editor(initial: &[u8]) -> Result<Vec<u8>> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    let path = dir.path().join("vault-edit");
    write_file(&path, initial)?;
    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let mut words = editor.split_whitespace();
    let prog = words.next().unwrap_or("vi");
    let status = std::process::Command::new(prog)
        .args(words)
        .arg(&path)
        .status()
        .map_err(|e| Error::io(format!("cannot run the editor `{editor}`"), e))?;
    if !status.success() {
        return Err(Error::usage(format!(
            "the editor `{editor}` failed ({status}); nothing was written"
        )));
    }
    let out = read(&path)?;
    // Overwrite the plaintext before the directory goes.
    let _ = std::fs::write(&path, vec![0u8; out.len()]);
    Ok(out)
}
