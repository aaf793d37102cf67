//! The `debconf` module: answers in the debconf database (what `debconf-set-selections`
//! preseeds before a package is installed or reconfigured).
//!
//! One exchange reads the package's current answers (`debconf-show NAME`; for
//! `vtype: password`, whose value debconf-show hides, the entry in debconf's
//! `passwords.dat`, read as root); the answer is compared on the controller as
//! ansible-core does (booleans case-insensitively, multiselect as a sorted list) and set
//! with `debconf-set-selections` (`-u` for `unseen`), the line on stdin — never on a
//! command line — only when it differs and not in check mode. Result keys as
//! ansible-core: `current`, `previous` (and a diff of both); password values are
//! replaced by `********` there.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct Debconf;

const PARAMS: &[&str] = &[
    "name",
    "question",
    "vtype",
    "value",
    "unseen",
    "selection",
    "setting",
    "answer",
];
const VTYPES: &[&str] = &[
    "boolean",
    "error",
    "multiselect",
    "note",
    "password",
    "seen",
    "select",
    "string",
    "text",
    "title",
];
const SPEC: &[Param] = &[
    Param::new("name").required(),
    Param::new("vtype").choices(VTYPES),
    Param::new("unseen").default("false"),
];

/// `question -> value` from `debconf-show` lines (`* pkg/q: value`, `*` = seen).
pub fn parse_show(out: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for l in out.lines() {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let k = k.trim().trim_start_matches('*').trim();
        if !k.is_empty() {
            m.insert(k.to_string(), Value::String(v.trim().to_string()));
        }
    }
    m
}

/// The `Value:` of `question` in debconf's passwords.dat (RFC 822-style stanzas).
pub fn password_of(dat: &str, question: &str) -> Option<String> {
    for stanza in dat.split("\n\n") {
        let mut name = None;
        let mut value = None;
        for l in stanza.lines() {
            if let Some(n) = l.strip_prefix("Name: ") {
                name = Some(n.trim());
            } else if let Some(v) = l.strip_prefix("Value: ") {
                value = Some(v.to_string());
            } else if l == "Value:" {
                value = Some(String::new());
            }
        }
        if name == Some(question) {
            return Some(value.unwrap_or_default());
        }
    }
    None
}

/// The value as the user gave it, in debconf's words (booleans lower-case, a
/// multiselect list joined with `, ` in sorted order).
fn wanted(args: &Args, vtype: &str) -> Option<String> {
    let v = args.get("value").or_else(|| args.get("answer"))?;
    Some(match (vtype, v) {
        ("boolean", Value::Bool(b)) => b.to_string(),
        ("boolean", other) => super::args::value_to_string(other).to_lowercase(),
        ("multiselect", Value::Array(a)) => {
            let mut items: Vec<String> = a.iter().map(super::args::value_to_string).collect();
            items.sort();
            items.join(", ")
        }
        (_, other) => super::args::value_to_string(other),
    })
}

fn normalized_existing(existing: &str, vtype: &str) -> String {
    match vtype {
        "boolean" => existing.to_lowercase(),
        "multiselect" => {
            let mut items: Vec<&str> = existing
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            items.sort();
            items.join(", ")
        }
        _ => existing.to_string(),
    }
}

#[async_trait]
impl Module for Debconf {
    fn name(&self) -> &'static str {
        "debconf"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["current", "previous"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("debconf", PARAMS)?;
        let name = args.req_str("name")?;
        let question = args.str_any(&["question", "selection", "setting"]);
        let vtype = args.str("vtype");
        if let Some(t) = &vtype {
            if !VTYPES.contains(&t.as_str()) {
                return Err(ModuleError::failed(format!(
                    "value of vtype must be one of: {}, got: {t}",
                    VTYPES.join(", ")
                )));
            }
        }
        let unseen = args.bool_or("unseen", false)?;
        let mut s = Script::new();
        s.raw("command -v debconf-show >/dev/null 2>&1 || { echo 'debconf is not installed on this host (debconf-show is missing)' >&2; exit 4; }\n");
        s.raw("echo '@@RD show'; LC_ALL=C debconf-show ")
            .arg(&name)
            .raw(" 2>/dev/null\n");
        let is_password = vtype.as_deref() == Some("password");
        if is_password {
            s.raw("echo '@@RD passwords'; cat /var/cache/debconf/passwords.dat 2>/dev/null\n");
        }
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let text = out.stdout_str();
        let secs = super::util::sections(&text);
        let prev = parse_show(super::util::section(&secs, "show").unwrap_or(""));
        let mask = |v: String| {
            if is_password {
                "********".to_string()
            } else {
                v
            }
        };
        let Some(question) = question else {
            // without a question: the package's answers
            return Ok(Outcome::ok().with("current", Value::Object(prev)));
        };
        let (Some(vtype), Some(value)) = (
            vtype.as_deref(),
            wanted(args, vtype.as_deref().unwrap_or("")),
        ) else {
            return Err(ModuleError::failed(
                "when supplying a question you must supply a valid vtype and value",
            ));
        };
        let existing = if is_password {
            super::util::section(&secs, "passwords").and_then(|d| password_of(d, &question))
        } else {
            prev.get(&question)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let changed = match &existing {
            None => true,
            Some(e) => normalized_existing(e, vtype) != value,
        };
        if !changed {
            let mut cur = Map::new();
            cur.insert(question.clone(), json!(mask(existing.unwrap_or_default())));
            return Ok(Outcome::ok().with("current", Value::Object(cur)));
        }
        if !ctx.check_mode {
            let flag = if unseen { " -u" } else { "" };
            let line = format!("{name} {question} {vtype} {value}\n");
            let set = ctx
                .run_stdin(
                    &format!("LC_ALL=C debconf-set-selections{flag}\n"),
                    Some(line.into_bytes()),
                )
                .await?;
            if set.rc != 0 {
                return Err(ModuleError::failed(format!(
                    "debconf-set-selections failed (rc={}): {}",
                    set.rc,
                    set.stderr_str().trim()
                )));
            }
        }
        let before = mask(existing.unwrap_or_default());
        let after = mask(value);
        let mut o = Outcome::changed(true)
            .with("current", json!({ question.clone(): after.clone() }))
            .with("previous", json!({ question.clone(): before.clone() }));
        if ctx.diff_mode {
            o = o.with_diff(
                &format!("debconf {name}"),
                format!("{question}: {before}\n"),
                format!("{question}: {after}\n"),
            );
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debconf_show_and_passwords() {
        let m = parse_show("* tzdata/Areas: Europe\n  tzdata/Zones/Etc: UTC\n");
        assert_eq!(m["tzdata/Areas"], "Europe");
        assert_eq!(m["tzdata/Zones/Etc"], "UTC");
        let dat = "Name: a/pw\nTemplate: a/pw\nValue: s3cret\nOwners: a\n\nName: b/pw\nValue:\n";
        assert_eq!(password_of(dat, "a/pw").as_deref(), Some("s3cret"));
        assert_eq!(password_of(dat, "b/pw").as_deref(), Some(""));
        assert_eq!(password_of(dat, "c/pw"), None);
        assert_eq!(normalized_existing("b, a", "multiselect"), "a, b");
        assert_eq!(normalized_existing("True", "boolean"), "true");
    }
}
