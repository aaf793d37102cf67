//! SSH host keys of EC2 instances from their console output, for verified first contact.
//!
//! At the end of an instance's first boot, cloud-init's `write-ssh-key-fingerprints`
//! prints the host key fingerprints and the public host keys to the console through
//! `logger --stderr -t ec2`:
//!
//! ```text
//! <14>Dec  1 11:02:41 ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
//! <14>Dec  1 11:02:41 ec2: 256 SHA256:2Ief... root@ip-10-0-1-23 (ED25519)
//! <14>Dec  1 11:02:41 ec2: -----END SSH HOST KEY FINGERPRINTS-----
//! <14>Dec  1 11:02:41 ec2: -----BEGIN SSH HOST KEY KEYS-----
//! <14>Dec  1 11:02:41 ec2: ssh-ed25519 AAAA... root@ip-10-0-1-23
//! <14>Dec  1 11:02:41 ec2: -----END SSH HOST KEY KEYS-----
//! ```
//!
//! EC2's GetConsoleOutput returns that console text base64-encoded. Every running
//! instance rdeploy launched (it carries the `rdeploy:project` tag) gets the host variable
//! [`rdeploy_ssh_host_keys`](crate::ssh::trusted_keys) from the EC2 inventory ([`mark`]:
//! where to read the keys, no call yet); when rdeploy first connects to the host, the
//! console output is read ([`resolve`]) and the connection checks the server's key
//! against those keys as well as known_hosts.
//!
//! Parsing is line-based and tolerant of what shares a serial console: CRLF and stray
//! CRs, a syslog or `ec2:` prefix before each line, kernel messages in the middle of a
//! block. Only complete blocks count (BEGIN .. END); the last complete block of each kind
//! wins (a later boot). A key whose type also has a fingerprint line must match it, else
//! nothing from that console output is trusted.

use crate::provision::aws::{self, Aws, AwsSettings};
use crate::ssh::known_hosts::fingerprint;
use crate::ssh::trusted_keys::{TrustedKeys, VAR};
use base64::Engine as _;
use russh::keys::PublicKey;
use serde_json::Value;

const KEYS_BEGIN: &str = "-----BEGIN SSH HOST KEY KEYS-----";
const KEYS_END: &str = "-----END SSH HOST KEY KEYS-----";
const FP_BEGIN: &str = "-----BEGIN SSH HOST KEY FINGERPRINTS-----";
const FP_END: &str = "-----END SSH HOST KEY FINGERPRINTS-----";

/// What one console output says about the host's keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsoleKeys {
    pub keys: Vec<PublicKey>,
    /// `(ED25519|ECDSA|RSA|DSA, SHA256:...)`.
    pub fingerprints: Vec<(String, String)>,
    /// Why nothing (or not everything) can be trusted.
    pub problem: Option<String>,
}

/// The text of GetConsoleOutput's `Output` (base64; a text that is not base64 is taken
/// as it is). Invalid UTF-8 is replaced, never an error: consoles carry binary noise.
pub fn decode_output(output: &str) -> String {
    let compact: String = output
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => output.to_string(),
    }
}

/// Reads cloud-init's host key blocks out of console text.
pub fn parse_console(text: &str) -> ConsoleKeys {
    #[derive(PartialEq)]
    enum In {
        None,
        Keys,
        Fps,
    }
    let mut state = In::None;
    let (mut cur_keys, mut cur_fps) = (vec![], vec![]);
    let mut keys: Option<Vec<PublicKey>> = None;
    let mut fps: Option<Vec<(String, String)>> = None;
    for raw in text.split('\n') {
        let line = raw.replace('\r', "");
        if line.contains(KEYS_BEGIN) {
            state = In::Keys;
            cur_keys.clear();
        } else if line.contains(FP_BEGIN) {
            state = In::Fps;
            cur_fps.clear();
        } else if line.contains(KEYS_END) {
            if state == In::Keys {
                keys = Some(std::mem::take(&mut cur_keys));
            }
            state = In::None;
        } else if line.contains(FP_END) {
            if state == In::Fps {
                fps = Some(std::mem::take(&mut cur_fps));
            }
            state = In::None;
        } else if state == In::Keys {
            if let Some(k) = key_in_line(&line) {
                cur_keys.push(k);
            }
        } else if state == In::Fps {
            if let Some(f) = fingerprint_in_line(&line) {
                cur_fps.push(f);
            }
        }
    }
    let keys = keys.unwrap_or_default();
    let fps = fps.unwrap_or_default();
    // A key and a fingerprint of the same type that disagree: the console mixes two
    // key generations (or was tampered with): trust none of it.
    for k in &keys {
        let ty = cloud_init_type(k);
        let fp = fingerprint(k);
        if fps.iter().any(|(t, f)| *t == ty && *f != fp) && !fps.iter().any(|(_, f)| *f == fp) {
            return ConsoleKeys {
                problem: Some(format!(
                    "its {ty} host key does not match the {ty} fingerprint printed with it"
                )),
                ..Default::default()
            };
        }
    }
    let problem = (keys.is_empty() && fps.is_empty())
        .then(|| "it has no cloud-init SSH HOST KEY block yet".to_string());
    ConsoleKeys {
        keys,
        fingerprints: fps,
        problem,
    }
}

/// `... ssh-ed25519 AAAA... comment`: the first `type base64` pair that parses as a
/// key of that type.
fn key_in_line(line: &str) -> Option<PublicKey> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    words.windows(2).find_map(|w| {
        let ty = w[0];
        if !(ty.starts_with("ssh-") || ty.starts_with("ecdsa-") || ty.starts_with("sk-")) {
            return None;
        }
        let k = russh::keys::parse_public_key_base64(w[1]).ok()?;
        (k.algorithm().as_str() == ty).then_some(k)
    })
}

/// `... 256 SHA256:xxxx comment (ED25519)`, as `ssh-keygen -l` prints it.
fn fingerprint_in_line(line: &str) -> Option<(String, String)> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let i = words.iter().position(|w| w.starts_with("SHA256:"))?;
    if i == 0 || words[i - 1].parse::<u32>().is_err() {
        return None;
    }
    let last = words.last()?;
    let ty = last.strip_prefix('(')?.strip_suffix(')')?;
    let fp = words[i];
    let b64 = &fp["SHA256:".len()..];
    (!b64.is_empty()
        && b64
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'))
    .then(|| (ty.to_ascii_uppercase(), fp.to_string()))
}

/// The type name `ssh-keygen -l` prints for a key.
fn cloud_init_type(k: &PublicKey) -> String {
    let a = k.algorithm();
    let s = a.as_str();
    if s.starts_with("ecdsa-") {
        "ECDSA".into()
    } else if s == "ssh-ed25519" {
        "ED25519".into()
    } else if s == "ssh-dss" {
        "DSA".into()
    } else if matches!(a, russh::keys::Algorithm::Rsa { .. }) {
        "RSA".into()
    } else {
        s.to_ascii_uppercase()
    }
}

/// The trusted set for one instance's console text.
pub fn trusted_from_console(source: String, text: &str) -> TrustedKeys {
    let c = parse_console(text);
    // Fingerprints of keys printed in full are implied by the keys.
    let fingerprints = c
        .fingerprints
        .into_iter()
        .filter(|(_, f)| !c.keys.iter().any(|k| fingerprint(k) == *f))
        .collect();
    TrustedKeys {
        source,
        keys: c.keys,
        fingerprints,
        missing: c.problem,
    }
}

/// Whether rdeploy launched the instance (it carries the `rdeploy:project` tag) and
/// it runs: the instances whose console output is read.
fn wanted(fact: &Value) -> bool {
    fact["tags"].get(aws::tag::PROJECT).is_some() && fact["state"]["name"] == "running"
}

/// Marks every running instance rdeploy launched for host key lookup: sets the [`VAR`]
/// fact to `{source, instance_id, region[, profile]}`, without calling anything. The
/// console output is read when rdeploy first connects to the host ([`resolve`]), so an
/// inventory of thousands of instances costs no extra call, a run one call per host it
/// connects to.
pub fn mark(region: &str, profile: Option<&str>, instances: &mut [Value]) {
    for f in instances.iter_mut().filter(|f| wanted(f)) {
        let Some(id) = f["instance_id"].as_str().map(str::to_string) else {
            continue;
        };
        let mut v = serde_json::json!({
            "source": format!("the EC2 console output of {id} ({region})"),
            "instance_id": id,
            "region": region,
        });
        if let Some(p) = profile {
            v["profile"] = Value::from(p);
        }
        if let Some(obj) = f.as_object_mut() {
            obj.insert(VAR.to_string(), v);
        }
    }
}

/// The trusted keys a [`VAR`] value stands for: as given when it holds keys (or says why
/// none were found), else read now from the instance's console output (one or two
/// GetConsoleOutput calls; a refused or failed call becomes the reason no key is known,
/// which strict checking then shows). `None` when the value is neither.
pub async fn resolve(v: &Value) -> Option<TrustedKeys> {
    if let Some(t) = TrustedKeys::from_var(v) {
        return Some(t);
    }
    let id = v.get("instance_id")?.as_str()?;
    let region = v.get("region")?.as_str()?;
    let settings = AwsSettings {
        profile: v.get("profile").and_then(Value::as_str).map(str::to_string),
        ..Default::default()
    };
    let aws = Aws::connect(&settings).await;
    Some(console_keys(&aws.ec2(region), region, id).await)
}

async fn console_keys(ec2: &aws_sdk_ec2::Client, region: &str, id: &str) -> TrustedKeys {
    let source = format!("the EC2 console output of {id} ({region})");
    let mut last = None;
    // The buffered output first (kept from the last boot); on Nitro instances the
    // latest output may hold the keys before the buffer is posted.
    for latest in [false, true] {
        let mut req = ec2.get_console_output().instance_id(id);
        if latest {
            req = req.latest(true);
        }
        match req.send().await {
            Ok(out) => {
                let text = out.output().map(decode_output).unwrap_or_default();
                let t = trusted_from_console(source.clone(), &text);
                if !t.is_empty() {
                    return t;
                }
                last = Some(t);
            }
            Err(e) => {
                if last.is_none() {
                    let err = aws::typed(region, "GetConsoleOutput", &e);
                    let denied = matches!(
                        err.code.as_deref(),
                        Some("UnauthorizedOperation" | "AccessDenied")
                    );
                    let hint = if denied {
                        "; the inventory's credentials need ec2:GetConsoleOutput"
                    } else {
                        ""
                    };
                    let msg = err.to_string();
                    last = Some(TrustedKeys {
                        source: source.clone(),
                        missing: Some(format!("{msg}{hint}")),
                        ..Default::default()
                    });
                }
            }
        }
    }
    last.unwrap_or(TrustedKeys {
        source,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = include_str!("../../tests/fixtures/console/cloud-init-debian12.txt");
    const FP_ONLY: &str =
        include_str!("../../tests/fixtures/console/cloud-init-fingerprints-only.txt");
    // The fixture's keys, as `ssh-keygen -l` printed them.
    const ECDSA_FP: &str = "SHA256:Dfmo4+vehQNOXZvhBixjbuus8iVtIc/q0i48Dxe+xFw";
    const ED_FP: &str = "SHA256:2IefIQFOXpoECAkjm5/4U8HKqC5lfpGyfy5os4/Riug";
    const RSA_FP: &str = "SHA256:vvAKG7iXc7x9A6mwJrelqrm5wSQWHohhSLqBEwTWdf0";

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn debian_console_crlf_base64_with_kernel_noise() {
        assert!(
            DEBIAN.contains("\r\n"),
            "the fixture keeps the console's CRLF"
        );
        let text = decode_output(&b64(DEBIAN));
        assert_eq!(text, DEBIAN);
        let c = parse_console(&text);
        assert_eq!(c.problem, None);
        let got: Vec<(String, String)> = c
            .keys
            .iter()
            .map(|k| (k.algorithm().as_str().to_string(), fingerprint(k)))
            .collect();
        assert_eq!(
            got,
            [
                ("ecdsa-sha2-nistp256".to_string(), ECDSA_FP.to_string()),
                ("ssh-ed25519".to_string(), ED_FP.to_string()),
                ("ssh-rsa".to_string(), RSA_FP.to_string()),
            ]
        );
        assert_eq!(
            c.fingerprints,
            [("ECDSA", ECDSA_FP), ("ED25519", ED_FP), ("RSA", RSA_FP)]
                .map(|(t, f)| (t.to_string(), f.to_string()))
        );
        // The trusted set keeps the keys; the fingerprints are implied.
        let t = trusted_from_console("the EC2 console output of i-1".into(), &text);
        assert_eq!(t.keys.len(), 3);
        assert!(t.fingerprints.is_empty());
        // The "key fingerprint is" line of ssh-keygen's own output (no bits, outside
        // a block) is not taken for a fingerprint.
        assert!(fingerprint_in_line("[ 6.9] cloud-init[431]: SHA256:vvAK root@h").is_none());
    }

    #[test]
    fn fingerprints_only_lf_plain_text() {
        // Not base64: taken as it is.
        let text = decode_output(FP_ONLY);
        let c = parse_console(&text);
        assert!(c.keys.is_empty());
        assert_eq!(c.fingerprints, [("ED25519".to_string(), ED_FP.to_string())]);
        let t = trusted_from_console("s".into(), &text);
        assert_eq!(t.fingerprints.len(), 1);
        assert_eq!(t.missing, None);
    }

    #[test]
    fn incomplete_missing_and_conflicting_blocks() {
        // Truncated in the middle of the keys block (the console buffer is 64 KiB):
        // nothing from it.
        let cut = &DEBIAN[..DEBIAN.find("-----END SSH HOST KEY KEYS").unwrap()];
        let cut = &cut[cut.find("-----END SSH HOST KEY FINGERPRINTS").unwrap()..];
        let c = parse_console(cut);
        assert!(c.keys.is_empty() && c.fingerprints.is_empty());
        assert!(c
            .problem
            .unwrap()
            .contains("no cloud-init SSH HOST KEY block"));
        // moto's canned console output: a kernel log with no keys.
        let c = parse_console("Linux version 2.6.16-xenU\nBIOS-provided physical RAM map:\n");
        assert!(c.problem.is_some());
        // A later boot's block wins.
        let later = DEBIAN.replace(ED_FP, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let both = format!("{later}\r\n{DEBIAN}");
        assert_eq!(parse_console(&both).keys.len(), 3);
        assert_eq!(parse_console(&both).problem, None);
        // A key that disagrees with the fingerprint of its type: nothing trusted.
        let c = parse_console(&later);
        assert!(c.keys.is_empty(), "{c:?}");
        assert!(c.problem.unwrap().contains("ED25519"));
    }
}
