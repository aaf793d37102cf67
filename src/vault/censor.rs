//! Keeps decrypted vault values out of every output. Each decrypted value is registered
//! here (inline `!vault` values whole; the string values of a vaulted vars file; the
//! lines of a vaulted file copied with `copy src`); [`Censoring`] wraps every reporter
//! and replaces them by [`MASK`] in events (task names, messages, results, diffs) before
//! any reporter sees them, and [`censor`] is applied to the final error message.
//!
//! A value is masked wherever it appears in a string; values shorter than
//! [`MIN_SUBSTRING`] characters are masked only where a whole string equals them (so
//! that a 2-character secret does not mask every word holding those letters).

use crate::output::{Event, Reporter};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// What a decrypted value is shown as.
pub const MASK: &str = "********";
/// The shortest value masked inside longer strings.
pub const MIN_SUBSTRING: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Registers a decrypted value (trimmed; empty values are ignored).
pub fn register(value: &str) {
    let mut add = vec![value.to_string()];
    let t = value.trim();
    if t != value {
        add.push(t.to_string());
    }
    // A multi-line value also shows line by line (diffs, stdout_lines).
    if value.contains('\n') {
        add.extend(value.lines().map(|l| l.trim().to_string()));
    }
    let mut s = SECRETS.write().unwrap();
    for v in add {
        if !v.is_empty() && !s.contains(&v) {
            s.push(v);
        }
    }
    // Longest first, so that a value containing another is masked whole.
    s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    ACTIVE.store(true, Ordering::Release);
}

/// Registers a decrypted file's content (whole and line by line).
pub fn register_text(text: &str) {
    register(text);
}

/// Registers every string value of a decrypted document.
pub fn register_values(node: &crate::yaml::Node) {
    use crate::yaml::NodeKind;
    match &node.kind {
        NodeKind::Str(s) => register(s),
        NodeKind::Seq(items) => items.iter().for_each(register_values),
        NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| register_values(v)),
        _ => {}
    }
}

/// Registers every string value of a decrypted JSON document.
pub fn register_json(v: &serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::String(s) => register(s),
        J::Array(items) => items.iter().for_each(register_json),
        J::Object(m) => m.values().for_each(register_json),
        _ => {}
    }
}

/// Whether `s` holds a registered value (as [`censor`] would mask it).
pub fn contains_secret(s: &str) -> bool {
    active() && matches!(censor(s), Cow::Owned(_))
}

/// A filter turned `input` into `output` (`| b64encode`, `| upper`, `| hash` ...): when
/// the input holds a decrypted value, the output is registered too, so that a value
/// derived from a secret is masked like the secret itself.
pub fn taint(input: &str, output: &str) {
    if output != input && !output.is_empty() && contains_secret(input) {
        register(output);
    }
}

/// Whether any value was registered.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// Masks registered values in a string.
pub fn censor(s: &str) -> Cow<'_, str> {
    if !active() || s.is_empty() {
        return Cow::Borrowed(s);
    }
    let secrets = SECRETS.read().unwrap();
    let mut out = Cow::Borrowed(s);
    for secret in secrets.iter() {
        if out.as_ref() == secret.as_str() {
            return Cow::Owned(MASK.to_string());
        }
        if secret.chars().count() >= MIN_SUBSTRING && out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

fn censor_in_place(s: &mut String) {
    if let Cow::Owned(c) = censor(s) {
        *s = c;
    }
}

/// Masks registered values in every string of a JSON value.
pub fn censor_json(v: &mut serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::String(s) => censor_in_place(s),
        J::Array(items) => items.iter_mut().for_each(censor_json),
        J::Object(m) => m.values_mut().for_each(censor_json),
        _ => {}
    }
}

/// A copy of an event with registered values masked.
pub fn censor_event(ev: &Event) -> Event {
    let mut ev = ev.clone();
    match &mut ev {
        Event::PlaybookStart { path, .. } => censor_in_place(path),
        Event::PlayStart { name, .. } => censor_in_place(name),
        Event::TaskStart { name, .. } => censor_in_place(name),
        Event::HostResult(r) => {
            censor_in_place(&mut r.task);
            for s in [&mut r.item, &mut r.msg].into_iter().flatten() {
                censor_in_place(s);
            }
            censor_json(&mut r.result);
            for d in &mut r.diff {
                censor_in_place(&mut d.before);
                censor_in_place(&mut d.after);
            }
        }
        Event::Warning { msg } | Event::Message { msg } => censor_in_place(msg),
        Event::HostOutput { line, .. } => censor_in_place(line),
        Event::Recap { .. } => {}
        Event::Environments { environments, .. } => environments.iter_mut().for_each(censor_json),
        Event::Environment { environment } => censor_json(environment),
        Event::Plan { plan } => censor_json(plan),
        Event::Outputs { outputs } => outputs.values_mut().for_each(censor_json),
    }
    ev
}

/// Wraps a reporter: events reach it with decrypted values masked.
pub struct Censoring(pub Box<dyn Reporter>);

impl Reporter for Censoring {
    fn event(&self, ev: &Event) {
        if active() {
            self.0.event(&censor_event(ev));
        } else {
            self.0.event(ev);
        }
    }
    fn finish(&self) {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is process-wide: these tests use values no other test produces.
    #[test]
    fn masks_whole_and_inside() {
        register("zq-vault-unit-secret");
        register("zq");
        assert_eq!(censor("pw is zq-vault-unit-secret!"), "pw is ********!");
        assert_eq!(censor("zq"), MASK);
        assert_eq!(censor("zqa"), "zqa");
        let mut j = serde_json::json!({"msg": ["a zq-vault-unit-secret"], "n": 1});
        censor_json(&mut j);
        assert_eq!(j, serde_json::json!({"msg": ["a ********"], "n": 1}));
        register("line-one-zq\nline-two-zq\n");
        assert_eq!(censor("+line-two-zq"), "+********");
    }

    #[test]
    fn derived_values_are_registered_by_taint() {
        register("zq-taint-secret");
        taint("user:zq-taint-secret", "dXNlcjp6cS10YWludC1zZWNyZXQ=");
        assert_eq!(censor("auth dXNlcjp6cS10YWludC1zZWNyZXQ="), "auth ********");
        taint("no secret here", "bm8gc2VjcmV0IGhlcmU=");
        assert_eq!(censor("bm8gc2VjcmV0IGhlcmU="), "bm8gc2VjcmV0IGhlcmU=");
    }
}
