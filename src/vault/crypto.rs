//! VaultAES256, the only cipher of ansible-vault: PBKDF2-HMAC-SHA256 (10000 iterations)
//! derives 80 bytes from the password and a 32-byte random salt: the AES-256 key, the
//! HMAC-SHA256 key and the 16-byte initial counter. The plaintext is PKCS#7-padded
//! (even in CTR mode, as Ansible does), encrypted with AES-256-CTR (128-bit big-endian
//! counter), and the HMAC covers the ciphertext; it is checked (in constant time) before
//! anything is decrypted.

use super::format::{self, Envelope};
use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};
use pbkdf2::sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;
type Aes256Ctr = ctr::Ctr128BE<Aes256>;

const ITERATIONS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
/// Ansible's salt length (`os.urandom(32)`).
pub const SALT_LEN: usize = 32;

/// Why a vaulted text could not be decrypted with a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The HMAC does not match: a wrong password (or a tampered file).
    #[error("HMAC verification failed (wrong password?)")]
    Hmac,
    #[error("bad padding after decryption")]
    Padding,
    #[error("cannot get random bytes for the salt: {0}")]
    Random(String),
}

struct Keys {
    cipher: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = [0u8; 2 * KEY_LEN + IV_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut out);
    let mut k = Keys {
        cipher: [0; KEY_LEN],
        mac: [0; KEY_LEN],
        iv: [0; IV_LEN],
    };
    k.cipher.copy_from_slice(&out[..KEY_LEN]);
    k.mac.copy_from_slice(&out[KEY_LEN..2 * KEY_LEN]);
    k.iv.copy_from_slice(&out[2 * KEY_LEN..]);
    out.fill(0);
    k
}

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m
}

fn ctr(keys: &Keys, data: &mut [u8]) {
    let mut c = Aes256Ctr::new_from_slices(&keys.cipher, &keys.iv).expect("key and iv lengths");
    c.apply_keystream(data);
}

/// Decrypts a parsed envelope with one password.
pub fn decrypt(env: &Envelope, password: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let keys = derive(password, &env.salt);
    mac(&keys.mac, &env.ciphertext)
        .verify_slice(&env.hmac)
        .map_err(|_| CryptoError::Hmac)?;
    let mut data = env.ciphertext.clone();
    ctr(&keys, &mut data);
    let pad = *data.last().ok_or(CryptoError::Padding)? as usize;
    if pad == 0
        || pad > 16
        || pad > data.len()
        || !data[data.len() - pad..].iter().all(|b| *b as usize == pad)
    {
        return Err(CryptoError::Padding);
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

/// Encrypts with a fresh random salt; returns the whole envelope text.
pub fn encrypt(
    plaintext: &[u8],
    password: &[u8],
    vault_id: Option<&str>,
) -> Result<String, CryptoError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(encrypt_with_salt(plaintext, password, &salt, vault_id))
}

/// Encrypts with a given salt (deterministic; for tests).
pub fn encrypt_with_salt(
    plaintext: &[u8],
    password: &[u8],
    salt: &[u8],
    vault_id: Option<&str>,
) -> String {
    let keys = derive(password, salt);
    let pad = 16 - plaintext.len() % 16;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    data.extend(std::iter::repeat_n(pad as u8, pad));
    ctr(&keys, &mut data);
    let tag = mac(&keys.mac, &data).finalize().into_bytes();
    format::format(salt, &tag, &data, vault_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by `ansible-vault encrypt_string --vault-password-file pw 'hello vault'`
    /// (ansible-core 2.21, password `test-pass`).
    const FROM_ANSIBLE: &str = "$ANSIBLE_VAULT;1.1;AES256
37383737613964636534323134653131323532623238356330313136393965653161656439326631
3761623461393632333863303762333830386561643366620a343361623332376335663238376335
30393934326163363639623931383363353865383536393639653033323930323634353034336130
6661366464363030360a323066353431393038393839623362613730653465623330643066343666
6663
";

    #[test]
    fn round_trip() {
        let t = encrypt(b"secret text\n", b"pw", None).unwrap();
        let env = format::parse(t.as_bytes()).unwrap();
        assert_eq!(decrypt(&env, b"pw").unwrap(), b"secret text\n");
        assert_eq!(decrypt(&env, b"other"), Err(CryptoError::Hmac));
        // Block-sized and empty plaintexts get a whole padding block.
        for p in [&b""[..], &[7u8; 16][..]] {
            let t = encrypt_with_salt(p, b"pw", &[1; 32], Some("prod"));
            let env = format::parse(t.as_bytes()).unwrap();
            assert_eq!(env.ciphertext.len(), p.len() + 16);
            assert_eq!(decrypt(&env, b"pw").unwrap(), p);
        }
    }

    #[test]
    fn decrypts_ansible_output() {
        let env = format::parse(FROM_ANSIBLE.as_bytes()).unwrap();
        assert_eq!(decrypt(&env, b"test-pass").unwrap(), b"hello vault");
    }
}
