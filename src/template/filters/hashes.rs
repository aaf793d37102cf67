//! Hashes.

use super::*;

pub(crate) fn hex_digest(data: &[u8], hashtype: &str) -> Result<String, Error> {
    use sha2::Digest;
    Ok(match hashtype.to_ascii_lowercase().as_str() {
        "md5" => format!("{:x}", ::md5::compute(data)),
        "sha1" => hex::encode(sha1::Sha1::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        other => return Err(fail(format!("unsupported hash type {other}"))),
    })
}

pub(crate) fn hash_input(value: &Value, what: &str) -> Result<Vec<u8>, Error> {
    defined(value, what)?;
    Ok(match value.kind() {
        ValueKind::Bytes => value.as_bytes().unwrap_or_default().to_vec(),
        _ => py_str(value).into_bytes(),
    })
}

pub(crate) fn hash(value: &Value, hashtype: Option<String>) -> Result<String, Error> {
    hex_digest(
        &hash_input(value, "hash")?,
        hashtype.as_deref().unwrap_or("sha1"),
    )
}

pub(crate) fn md5(value: &Value) -> Result<String, Error> {
    hex_digest(&hash_input(value, "md5")?, "md5")
}

pub(crate) fn sha1(value: &Value) -> Result<String, Error> {
    hex_digest(&hash_input(value, "sha1")?, "sha1")
}

/// `password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None)`: the crypt(3)
/// strings passlib makes (`$6$rounds=656000$salt$...`, `$5$...`, `$1$...`).
pub(crate) fn password_hash(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("password_hash", args);
    let hashtype = opt_string(p.take("hashtype")).unwrap_or_else(|| "sha512".into());
    let salt = opt_string(p.take("salt"));
    let salt_size = opt_int(p.take("salt_size"), "salt_size")?;
    let rounds = opt_int(p.take("rounds"), "rounds")?;
    p.take("ident");
    p.finish()?;
    defined(value, "password_hash")?;
    let password = py_str(value);
    let (scheme, default_salt, default_rounds) = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => ("6", 16, 656_000),
        "sha256" | "sha256_crypt" => ("5", 16, 535_000),
        "md5" | "md5_crypt" => ("1", 8, 1000),
        other => {
            return Err(fail(format!(
                "{other} is not in the list of supported algorithms: md5, sha256, sha512"
            )))
        }
    };
    let salt = match salt {
        Some(s) => {
            if !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/')
            {
                return Err(fail("invalid characters in salt"));
            }
            s
        }
        None => {
            let n = salt_size.unwrap_or(default_salt).clamp(1, 16) as usize;
            let mut rng = PyRandom::from_entropy();
            (0..n)
                .map(|_| crypt::ALPHABET[rng.randbelow(64) as usize] as char)
                .collect()
        }
    };
    Ok(match scheme {
        "1" => crypt::md5_crypt(password.as_bytes(), &salt),
        _ => {
            let rounds = rounds.unwrap_or(default_rounds).clamp(1000, 999_999_999) as u32;
            crypt::sha_crypt(password.as_bytes(), &salt, rounds, scheme == "6")
        }
    })
}

/// crypt(3) password hashes: SHA-crypt (`$5$`, `$6$`) and MD5-crypt (`$1$`).
pub(crate) mod crypt {
    use sha2::Digest;

    pub const ALPHABET: &[u8; 64] =
        b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    fn b64_from_24bit(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
        let mut w = ((b2 as u32) << 16) | ((b1 as u32) << 8) | b0 as u32;
        for _ in 0..n {
            out.push(ALPHABET[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    }

    fn digest(sha512: bool, parts: &[&[u8]]) -> Vec<u8> {
        if sha512 {
            let mut h = sha2::Sha512::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        } else {
            let mut h = sha2::Sha256::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        }
    }

    fn repeat_to(src: &[u8], len: usize) -> Vec<u8> {
        src.iter().cycle().take(len).copied().collect()
    }

    pub fn sha_crypt(pw: &[u8], salt: &str, rounds: u32, sha512: bool) -> String {
        let salt: Vec<u8> = salt.bytes().take(16).collect();
        let hlen = if sha512 { 64 } else { 32 };
        let b = digest(sha512, &[pw, &salt, pw]);
        let mut a_input: Vec<u8> = Vec::new();
        a_input.extend_from_slice(pw);
        a_input.extend_from_slice(&salt);
        a_input.extend(repeat_to(&b, pw.len()));
        let mut n = pw.len();
        while n > 0 {
            if n & 1 == 1 {
                a_input.extend_from_slice(&b);
            } else {
                a_input.extend_from_slice(pw);
            }
            n >>= 1;
        }
        let a = digest(sha512, &[&a_input]);
        let dp = digest(sha512, &[&pw.repeat(pw.len())]);
        let p = repeat_to(&dp, pw.len());
        let ds = digest(sha512, &[&salt.repeat(16 + a[0] as usize)]);
        let s = repeat_to(&ds, salt.len());
        let mut c = a;
        for i in 0..rounds {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
            parts.push(if i & 1 == 1 { &p } else { &c });
            if i % 3 != 0 {
                parts.push(&s);
            }
            if i % 7 != 0 {
                parts.push(&p);
            }
            parts.push(if i & 1 == 1 { &c } else { &p });
            c = digest(sha512, &parts);
        }
        debug_assert_eq!(c.len(), hlen);
        let mut out = String::from(if sha512 { "$6$" } else { "$5$" });
        if rounds != 5000 {
            out.push_str(&format!("rounds={rounds}$"));
        }
        out.push_str(&String::from_utf8_lossy(&salt));
        out.push('$');
        if sha512 {
            for i in 0..21 {
                let (x, y, z) = match i % 3 {
                    0 => (i, i + 21, i + 42),
                    1 => (i + 21, i + 42, i),
                    _ => (i + 42, i, i + 21),
                };
                b64_from_24bit(&mut out, c[x], c[y], c[z], 4);
            }
            b64_from_24bit(&mut out, 0, 0, c[63], 2);
        } else {
            for i in 0..10 {
                let (x, y, z) = match i % 3 {
                    0 => (i, i + 10, i + 20),
                    1 => (i + 20, i, i + 10),
                    _ => (i + 10, i + 20, i),
                };
                b64_from_24bit(&mut out, c[x], c[y], c[z], 4);
            }
            b64_from_24bit(&mut out, 0, c[31], c[30], 3);
        }
        out
    }

    pub fn md5_crypt(pw: &[u8], salt: &str) -> String {
        let salt: Vec<u8> = salt.bytes().take(8).collect();
        let md5 = |parts: &[&[u8]]| -> [u8; 16] {
            let mut ctx = ::md5::Context::new();
            for p in parts {
                ctx.consume(p);
            }
            ctx.compute().0
        };
        let fin = md5(&[pw, &salt, pw]);
        let mut ctx: Vec<u8> = Vec::new();
        ctx.extend_from_slice(pw);
        ctx.extend_from_slice(b"$1$");
        ctx.extend_from_slice(&salt);
        let mut i = pw.len() as isize;
        while i > 0 {
            ctx.extend_from_slice(&fin[..(i.min(16) as usize)]);
            i -= 16;
        }
        let mut n = pw.len();
        while n > 0 {
            if n & 1 == 1 {
                ctx.push(0);
            } else {
                ctx.push(*pw.first().unwrap_or(&0));
            }
            n >>= 1;
        }
        let mut fin = md5(&[&ctx]);
        for i in 0..1000 {
            let mut parts: Vec<&[u8]> = Vec::new();
            let f = fin;
            parts.push(if i & 1 == 1 { pw } else { &f });
            if i % 3 != 0 {
                parts.push(&salt);
            }
            if i % 7 != 0 {
                parts.push(pw);
            }
            parts.push(if i & 1 == 1 { &f } else { pw });
            fin = md5(&parts);
        }
        let mut out = format!("$1${}$", String::from_utf8_lossy(&salt));
        for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
            b64_from_24bit(&mut out, fin[a], fin[b], fin[c], 4);
        }
        b64_from_24bit(&mut out, 0, 0, fin[11], 2);
        out
    }
}
