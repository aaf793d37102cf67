//! Host keys an inventory vouches for: a per-host set of trusted keys (and key
//! fingerprints) checked by [`known_hosts::verify_with`](super::known_hosts::verify_with)
//! next to the known_hosts files, on the same verification path.
//!
//! The EC2 inventory names where to read it (the instance's console output, where
//! cloud-init prints the host keys at first boot); the executor reads it when it first
//! connects, so that the first connection to a freshly launched instance is verified
//! instead of trusted blindly. It reaches the connection as the host variable [`VAR`]:
//!
//! ```yaml
//! rdeploy_ssh_host_keys:          # as the inventory sets it: where to read the keys
//!   source: the EC2 console output of i-0abc (us-east-1)
//!   instance_id: i-0abc
//!   region: us-east-1
//! rdeploy_ssh_host_keys:          # once read (or given so by any inventory)
//!   source: the EC2 console output of i-0abc (us-east-1)
//!   keys: ["ssh-ed25519 AAAA...", "ecdsa-sha2-nistp256 AAAA..."]
//!   fingerprints: ["ED25519 SHA256:...", "ECDSA SHA256:..."]
//!   missing: why no key was found (only when `keys` and `fingerprints` are empty)
//! ```
//!
//! Invariants: a set that holds keys is authoritative for its host: a server key that
//! matches none of them is refused, under strict checking and accept-new alike (a
//! man-in-the-middle could otherwise offer a key type the set does not list). An empty
//! set never accepts anything; it only explains, in the refusal, why nothing was found.

use super::known_hosts::{fingerprint, key_type};
use russh::keys::{Algorithm, EcdsaCurve, PublicKey, PublicKeyBase64 as _};
use serde_json::{json, Value};

/// The host variable the inventory sets and the connection reads.
pub const VAR: &str = "rdeploy_ssh_host_keys";

/// One host's trusted keys and where they come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrustedKeys {
    /// Where the keys were read, for messages (`EC2 console output of i-0abc (us-east-1)`).
    pub source: String,
    pub keys: Vec<PublicKey>,
    /// `(type as cloud-init prints it: ED25519, ECDSA, RSA; SHA256:...)` for keys printed
    /// only as fingerprints.
    pub fingerprints: Vec<(String, String)>,
    /// Why no key was found, when none was.
    pub missing: Option<String>,
}

/// What the trusted set says about a server key.
#[derive(Debug, Clone, PartialEq)]
pub enum TrustedVerdict {
    /// The key (or its fingerprint) is in the set.
    Known,
    /// The set holds keys, none of them this one.
    Mismatch,
    /// The set is empty.
    Absent,
}

impl TrustedKeys {
    /// Reads the host variable ([`VAR`]); `None` when it is not set or not a mapping.
    /// Entries that do not parse are dropped (and so can never match).
    pub fn from_var(v: &Value) -> Option<TrustedKeys> {
        let m = v.as_object()?;
        // Where to read the keys, not yet read (see inventory::ec2_host_keys::resolve).
        if !["keys", "fingerprints", "missing"]
            .iter()
            .any(|k| m.contains_key(*k))
        {
            return None;
        }
        let strings = |k: &str| -> Vec<String> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let keys = strings("keys")
            .iter()
            .filter_map(|line| {
                let mut w = line.split_ascii_whitespace();
                let (_ty, blob) = (w.next()?, w.next()?);
                russh::keys::parse_public_key_base64(blob).ok()
            })
            .collect();
        let fingerprints = strings("fingerprints")
            .iter()
            .filter_map(|f| {
                let (ty, fp) = f.split_once(' ')?;
                fp.starts_with("SHA256:")
                    .then(|| (ty.to_ascii_uppercase(), fp.trim().to_string()))
            })
            .collect();
        Some(TrustedKeys {
            source: m
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("the inventory")
                .to_string(),
            keys,
            fingerprints,
            missing: m.get("missing").and_then(Value::as_str).map(str::to_string),
        })
    }

    /// The host variable's value for this set (the inverse of [`from_var`](Self::from_var)).
    pub fn to_var(&self) -> Value {
        let mut v = json!({
            "source": self.source,
            "keys": self.keys.iter().map(|k| format!("{} {}", key_type(k), k.public_key_base64())).collect::<Vec<_>>(),
            "fingerprints": self.fingerprints.iter().map(|(t, f)| format!("{t} {f}")).collect::<Vec<_>>(),
        });
        if let Some(m) = &self.missing {
            v["missing"] = Value::from(m.as_str());
        }
        v
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.fingerprints.is_empty()
    }

    /// Checks a server key against the set.
    pub fn check(&self, key: &PublicKey) -> TrustedVerdict {
        if self.is_empty() {
            return TrustedVerdict::Absent;
        }
        let fp = fingerprint(key);
        if self.keys.iter().any(|k| k.key_data() == key.key_data())
            || self.fingerprints.iter().any(|(_, f)| *f == fp)
        {
            TrustedVerdict::Known
        } else {
            TrustedVerdict::Mismatch
        }
    }

    /// The key types of the set, to ask the server for them first.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut out: Vec<Algorithm> = self.keys.iter().map(|k| k.algorithm()).collect();
        for (ty, _) in &self.fingerprints {
            let a = match ty.as_str() {
                "ED25519" => Some(Algorithm::Ed25519),
                "RSA" => Some(Algorithm::Rsa { hash: None }),
                // cloud-init prints "(ECDSA)" for every curve; the common one first.
                "ECDSA" => Some(Algorithm::Ecdsa {
                    curve: EcdsaCurve::NistP256,
                }),
                _ => None,
            };
            if let Some(a) = a.filter(|a| !out.contains(a)) {
                out.push(a);
            }
        }
        out
    }

    /// What the set holds, for messages: `ssh-ed25519 SHA256:..., ecdsa-sha2-nistp256 SHA256:...`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} {}", key_type(k), fingerprint(k)))
            .collect();
        for (t, f) in &self.fingerprints {
            if !parts.iter().any(|p| p.ends_with(f.as_str())) {
                parts.push(format!("{t} {f}"));
            }
        }
        parts.join(", ")
    }

    /// The refusal for a key the set does not hold.
    pub fn mismatch_message(&self, host_id: &str, offered: &str) -> String {
        format!(
            "WARNING: the server at {host_id} offered {offered}, which is not one of the host keys \
             {} records for this instance ({}). Someone could be eavesdropping (man-in-the-middle \
             attack), or the address now belongs to another machine. Refusing to connect.",
            self.source,
            self.describe()
        )
    }

    /// What to add to the "no host key is known" refusal when the set is empty.
    pub fn absent_hint(&self) -> String {
        let mut source = self.source.clone();
        if let Some(c) = source.get(..1) {
            source.replace_range(..1, &c.to_ascii_uppercase());
        }
        format!(
            " {source} holds no SSH host keys{}. cloud-init prints them to the console at the end \
             of the instance's first boot, and EC2 can take a few minutes to publish console \
             output: wait and run again. Or record the key yourself (ssh-keyscan, after checking \
             its fingerprint out of band) or pass --host-key-checking accept-new explicitly.",
            self.missing
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIPor2hy3CS2oZgaD2qWpL0Rs5xNZnykpTOIUM/O+5dN2";
    const ED_A_FP: &str = "SHA256:XEHhfEWb6ChmJC8K7MJUOtcrzOIbWf6BnDfJpHnhL7c";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIHQgtYr3UMmSjkQwbJX2OvWUne/lU3KvHCvg82fm02K+";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    #[test]
    fn var_round_trip_and_checks() {
        let t = TrustedKeys::from_var(&json!({
            "source": "EC2 console output of i-1",
            "keys": [format!("ssh-ed25519 {ED_A} root@h"), "ssh-ed25519 !!bad"],
            "fingerprints": ["ECDSA SHA256:abc", "RSA MD5:zz"],
        }))
        .unwrap();
        assert_eq!(t.keys.len(), 1);
        assert_eq!(
            t.fingerprints,
            [("ECDSA".to_string(), "SHA256:abc".to_string())]
        );
        assert_eq!(TrustedKeys::from_var(&t.to_var()).unwrap(), t);
        assert_eq!(t.check(&key(ED_A)), TrustedVerdict::Known);
        assert_eq!(t.check(&key(ED_B)), TrustedVerdict::Mismatch);
        assert!(t.describe().contains(ED_A_FP), "{}", t.describe());
        let algs: Vec<String> = t
            .algorithms()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        assert_eq!(algs, ["ssh-ed25519", "ecdsa-sha2-nistp256"]);
    }

    #[test]
    fn fingerprint_only_and_empty_sets() {
        let t = TrustedKeys {
            fingerprints: vec![("ED25519".into(), ED_A_FP.into())],
            ..Default::default()
        };
        assert_eq!(t.check(&key(ED_A)), TrustedVerdict::Known);
        assert_eq!(t.check(&key(ED_B)), TrustedVerdict::Mismatch);
        let empty = TrustedKeys {
            source: "EC2 console output of i-2".into(),
            missing: Some("no SSH HOST KEY block yet".into()),
            ..Default::default()
        };
        assert_eq!(empty.check(&key(ED_A)), TrustedVerdict::Absent);
        let hint = empty.absent_hint();
        assert!(
            hint.contains("i-2") && hint.contains("no SSH HOST KEY block yet"),
            "{hint}"
        );
        assert!(TrustedKeys::from_var(&json!("x")).is_none());
        // Not read yet: only where to read it.
        assert!(TrustedKeys::from_var(
            &json!({"source": "s", "instance_id": "i-1", "region": "r"})
        )
        .is_none());
    }
}
