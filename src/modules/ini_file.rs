//! The `ini_file` module (`community.general.ini_file`): sets, adds or removes one
//! option (or a whole section) of an INI file, keeping everything else as it is.
//!
//! Read in one exchange, edited on the controller by [`edit_ini`] (a port of the
//! collection's algorithm: commented-out options are reused, `exclusive`, `values`,
//! `allow_no_value`, `section_has`), written back only when it differs.

use super::util::{self, Attrs, Edit};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;

/// A fake section name put in front of the file so options outside any section (and
/// `section: null`) are handled like the rest (the same name the collection uses).
const FAKE_SECTION: &str = "ad01e11446efb704fcdbdb21f2c43757423d91c5";

/// What to do with the file.
#[derive(Debug, Clone, Default)]
pub struct IniParams {
    pub section: Option<String>,
    pub option: Option<String>,
    pub values: Vec<String>,
    pub present: bool,
    pub exclusive: bool,
    pub no_extra_spaces: bool,
    pub ignore_spaces: bool,
    pub allow_no_value: bool,
    /// `section_has`: the section to edit is the one holding these option/value pairs.
    pub section_has: Vec<(String, String)>,
}

fn chomp(l: &str) -> &str {
    l.strip_suffix('\n').unwrap_or(l)
}

/// `([#;]?)( |\t)*(OPTION)( |\t)*(=|$)( |\t)*(.*)`: the option, maybe commented out.
fn match_opt(option: &str) -> Regex {
    Regex::new(&format!(
        r"^([#;]?)( |\t)*({})( |\t)*(=|$)( |\t)*(.*)",
        regex::escape(option)
    ))
    .expect("valid regex")
}

/// `( |\t)*(OPTION)( |\t)*(=|$)( |\t)*(.*)`: the option, not commented out.
fn match_active_opt(option: &str) -> Regex {
    Regex::new(&format!(
        r"^( |\t)*({})( |\t)*(=|$)( |\t)*(.*)",
        regex::escape(option)
    ))
    .expect("valid regex")
}

fn opt_value(re: &Regex, line: &str, group: usize) -> Option<String> {
    re.captures(chomp(line)).map(|c| {
        c.get(group)
            .map(|m| m.as_str().to_string())
            .unwrap_or_default()
    })
}

fn section_has_all(checks: &[(String, String)], lines: &[String]) -> bool {
    checks.iter().all(|(opt, val)| {
        let re = match_opt(opt);
        lines
            .iter()
            .any(|l| opt_value(&re, l, 7).as_deref() == Some(val.as_str()))
    })
}

/// Edits the file's lines; returns the new lines, whether anything changed, and the message.
pub fn edit_ini(input: &[String], p: &IniParams) -> (Vec<String>, bool, String) {
    let mut values: Vec<String> = Vec::new();
    for v in &p.values {
        if !values.contains(v) {
            values.push(v.clone());
        }
    }
    let mut changed = false;
    let mut lines: Vec<String> = input.to_vec();
    if lines.is_empty() {
        lines.push("\n".into());
    }
    if !lines.last().unwrap().ends_with('\n') {
        lines.last_mut().unwrap().push('\n');
        changed = true;
    }
    lines.insert(0, format!("[{FAKE_SECTION}]"));
    lines.push("[".into());
    let section = p
        .section
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| FAKE_SECTION.to_string());
    let header = format!("[{section}]");

    let mut within = false;
    let (mut start, mut end) = (0, 0);
    for (i, l) in lines.iter().enumerate() {
        if within && l.starts_with('[') {
            if section_has_all(&p.section_has, &lines[start..i]) {
                end = i;
                break;
            }
            within = false;
            start = 0;
            end = 0;
        }
        if l.starts_with(&header) {
            within = true;
            start = i;
        }
    }
    let before: Vec<String> = lines[..start].to_vec();
    let mut sec: Vec<String> = lines[start..end].to_vec();
    let after: Vec<String> = lines[end..].to_vec();
    let mut changed_lines = vec![false; sec.len()];
    let fmt = |o: &str, v: &str| {
        if p.no_extra_spaces {
            format!("{o}={v}\n")
        } else {
            format!("{o} = {v}\n")
        }
    };
    let mut msg = "OK".to_string();
    let mut no_value_present = false;

    let update = |sec: &mut Vec<String>,
                  changed_lines: &mut Vec<bool>,
                  i: usize,
                  newline: String,
                  changed: &mut bool,
                  msg: &mut String,
                  re: &Regex| {
        let mut option_changed = None;
        if p.ignore_spaces {
            if let Some(old) = re.captures(chomp(&sec[i])) {
                if old.get(1).map(|m| m.as_str()).unwrap_or("").is_empty() {
                    let new_v = opt_value(re, &newline, 7);
                    option_changed = Some(old.get(7).map(|m| m.as_str().to_string()) != new_v);
                }
            }
        }
        let option_changed = option_changed.unwrap_or_else(|| sec[i] != newline);
        if option_changed {
            sec[i] = newline;
            *changed = true;
            *msg = "option changed".into();
        }
        changed_lines[i] = true;
    };

    if let Some(option) = p.option.as_deref().filter(|o| !o.is_empty()) {
        let re = match_opt(option);
        if p.present {
            for i in 0..sec.len() {
                let Some(val) = opt_value(&re, &sec[i], 7) else {
                    continue;
                };
                if !values.is_empty() && values.contains(&val) {
                    let newline = if val.is_empty() && p.allow_no_value {
                        no_value_present = true;
                        format!("{option}\n")
                    } else {
                        fmt(option, &val)
                    };
                    update(
                        &mut sec,
                        &mut changed_lines,
                        i,
                        newline,
                        &mut changed,
                        &mut msg,
                        &re,
                    );
                    values.retain(|v| *v != val);
                } else if values.is_empty() && p.allow_no_value {
                    update(
                        &mut sec,
                        &mut changed_lines,
                        i,
                        format!("{option}\n"),
                        &mut changed,
                        &mut msg,
                        &re,
                    );
                    no_value_present = true;
                    break;
                }
            }
            if p.exclusive && !p.allow_no_value {
                if !values.is_empty() {
                    for i in 0..sec.len() {
                        if !changed_lines[i] && re.is_match(chomp(&sec[i])) {
                            let v = values.remove(0);
                            update(
                                &mut sec,
                                &mut changed_lines,
                                i,
                                fmt(option, &v),
                                &mut changed,
                                &mut msg,
                                &re,
                            );
                            if values.is_empty() {
                                break;
                            }
                        }
                    }
                }
                let mut i = sec.len();
                while i > 1 {
                    i -= 1;
                    if !changed_lines[i] && re.is_match(chomp(&sec[i])) {
                        sec.remove(i);
                        changed_lines.remove(i);
                        changed = true;
                        msg = "option changed".into();
                    }
                }
            }
            // Insert what is still missing after the section's last non-blank, non-comment line.
            let blank_or_comment = Regex::new(r"^[ \t]*([#;].*)?$").expect("valid regex");
            let mut i = sec.len();
            while i > 0 {
                if !blank_or_comment.is_match(chomp(&sec[i - 1])) {
                    if !values.is_empty() {
                        for v in values.iter().rev() {
                            sec.insert(i, fmt(option, v));
                        }
                        msg = "option added".into();
                        changed = true;
                    } else if p.allow_no_value && !no_value_present {
                        sec.insert(i, format!("{option}\n"));
                        msg = "option added".into();
                        changed = true;
                    }
                    break;
                }
                i -= 1;
            }
        } else {
            let active = match_active_opt(option);
            let keep = |l: &String| -> bool {
                match opt_value(&active, l, 6) {
                    None => true,
                    Some(v) => !(p.exclusive || values.contains(&v)),
                }
            };
            if p.exclusive || !values.is_empty() {
                let new: Vec<String> = sec.iter().filter(|l| keep(l)).cloned().collect();
                if new != sec {
                    changed = true;
                    msg = "option changed".into();
                    sec = new;
                }
            }
        }
    } else if !p.present && !sec.is_empty() {
        sec.clear();
        msg = "section removed".into();
        changed = true;
    }

    let mut out: Vec<String> = before.into_iter().chain(sec).chain(after).collect();
    if !out.is_empty() {
        out.remove(0);
    }
    out.pop();
    if !within && p.present {
        out.push(format!("{header}\n"));
        msg = "section and option added".into();
        for (o, v) in &p.section_has {
            out.push(fmt(o, v));
        }
        match p.option.as_deref().filter(|o| !o.is_empty()) {
            Some(option) if !values.is_empty() => {
                for v in &values {
                    out.push(fmt(option, v));
                }
            }
            Some(option) if p.allow_no_value => out.push(format!("{option}\n")),
            _ => msg = "only section added".into(),
        }
        changed = true;
    }
    (out, changed, msg)
}

pub struct IniFile;

#[async_trait]
impl Module for IniFile {
    fn name(&self) -> &'static str {
        "ini_file"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path",
            "dest",
            "section",
            "section_has",
            "option",
            "value",
            "values",
            "backup",
            "state",
            "exclusive",
            "no_extra_spaces",
            "ignore_spaces",
            "allow_no_value",
            "create",
            "follow",
            "owner",
            "group",
            "mode",
            "unsafe_writes",
            "attributes",
            "seuser",
            "serole",
            "setype",
            "selevel",
            "modify_inactive_option",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let path = util::expand_user(ctx, &args.req_str_any(&["path", "dest"])?).await?;
        let present = match args.str("state").as_deref().unwrap_or("present") {
            "present" => true,
            "absent" => false,
            s => {
                return Err(ModuleError::failed(format!(
                    "value of state must be one of: absent, present, got: {s}"
                )))
            }
        };
        if args.has("value") && args.has("values") {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: value|values",
            ));
        }
        let allow_no_value = args.bool_or("allow_no_value", false)?;
        let values: Vec<String> = match args.str("value") {
            Some(v) => vec![v],
            None => args.list("values").unwrap_or_default(),
        };
        if present && !allow_no_value && values.is_empty() && args.has("option") {
            return Err(ModuleError::failed(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False.",
            ));
        }
        let section_has = match args.get("section_has") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|e| {
                    let o = e.get("option")?;
                    let v = e
                        .get("value")
                        .map(super::args::value_to_string)
                        .unwrap_or_default();
                    Some((super::args::value_to_string(o), v))
                })
                .collect(),
            _ => Vec::new(),
        };
        let p = IniParams {
            section: args.str("section"),
            option: args.str("option"),
            values,
            present,
            exclusive: args.bool_or("exclusive", true)?,
            no_extra_spaces: args.bool_or("no_extra_spaces", false)?,
            ignore_spaces: args.bool_or("ignore_spaces", false)?,
            allow_no_value,
            section_has,
        };
        let create = args.bool_or("create", true)?;
        let attrs = Attrs::from_args(args)?;
        let target =
            util::read_for_edit(ctx, &path, args.bool_or("follow", false)?, create, &attrs).await?;
        if target.content.is_none() && !create {
            return Ok(
                Outcome::failed(format!("Destination {path} does not exist!")).with("rc", 257),
            );
        }
        let original = target.content.clone().unwrap_or_default();
        let text = match String::from_utf8(original) {
            Ok(t) => t,
            Err(_) => return Ok(Outcome::failed(format!("{path} is not valid UTF-8"))),
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        let (new_lines, changed, msg) = edit_ini(&lines, &p);
        let after = if changed {
            new_lines.concat().into_bytes()
        } else {
            target.content.clone().unwrap_or_default()
        };
        if !changed && target.content.is_none() {
            return Ok(Outcome::changed(false).with("msg", msg).with("path", path));
        }
        let mut o = util::apply_edit(
            ctx,
            &Edit {
                path: &path,
                target: &target,
                after: &after,
                attrs,
                backup: args.bool_or("backup", false)?,
                validate: None,
                msg: msg.clone(),
            },
        )
        .await?;
        if !o.changed {
            o.data.insert("msg".into(), Value::String(msg));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(text: &str, f: impl FnOnce(&mut IniParams)) -> (String, bool, String) {
        let mut p = IniParams {
            present: true,
            exclusive: true,
            ..Default::default()
        };
        f(&mut p);
        let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        let (out, changed, msg) = edit_ini(&lines, &p);
        (out.concat(), changed, msg)
    }

    fn set(p: &mut IniParams, section: &str, option: &str, value: &str) {
        p.section = Some(section.into());
        p.option = Some(option.into());
        p.values = vec![value.into()];
    }

    #[test]
    fn adds_section_and_option_to_empty_file() {
        let (t, c, m) = ini("", |p| set(p, "drinks", "fav", "lemonade"));
        assert_eq!(t, "\n[drinks]\nfav = lemonade\n");
        assert!(c);
        assert_eq!(m, "section and option added");
        let (t2, c2, _) = ini(&t, |p| set(p, "drinks", "fav", "lemonade"));
        assert_eq!((t2.as_str(), c2), (t.as_str(), false));
    }

    #[test]
    fn changes_and_adds_options() {
        let text = "[a]\nx = 1\n\n[b]\ny=2\n";
        let (t, c, m) = ini(text, |p| set(p, "a", "x", "5"));
        assert_eq!(
            (t.as_str(), c, m.as_str()),
            ("[a]\nx = 5\n\n[b]\ny=2\n", true, "option changed")
        );
        let (t, _, m) = ini(text, |p| set(p, "a", "z", "9"));
        assert_eq!(
            (t.as_str(), m.as_str()),
            ("[a]\nx = 1\nz = 9\n\n[b]\ny=2\n", "option added")
        );
        let (t, _, _) = ini(text, |p| {
            set(p, "b", "y", "3");
            p.no_extra_spaces = true
        });
        assert_eq!(t, "[a]\nx = 1\n\n[b]\ny=3\n");
        // A commented-out option is reused.
        let (t, _, _) = ini("[a]\n# x = 1\n", |p| set(p, "a", "x", "2"));
        assert_eq!(t, "[a]\nx = 2\n");
    }

    #[test]
    fn options_outside_sections() {
        let (t, c, _) = ini("top = 1\n[a]\nx = 1\n", |p| {
            p.option = Some("top".into());
            p.values = vec!["2".into()];
        });
        assert_eq!((t.as_str(), c), ("top = 2\n[a]\nx = 1\n", true));
    }

    #[test]
    fn removes_options_and_sections() {
        let text = "[a]\nx = 1\ny = 2\n[b]\nz = 3\n";
        let (t, c, _) = ini(text, |p| {
            p.present = false;
            p.section = Some("a".into());
            p.option = Some("x".into());
        });
        assert_eq!((t.as_str(), c), ("[a]\ny = 2\n[b]\nz = 3\n", true));
        let (t, _, m) = ini(text, |p| {
            p.present = false;
            p.section = Some("a".into());
        });
        assert_eq!(
            (t.as_str(), m.as_str()),
            ("[b]\nz = 3\n", "section removed")
        );
    }

    #[test]
    fn multiple_values_and_no_value() {
        let (t, _, _) = ini("[d]\nb = x\n", |p| {
            p.section = Some("d".into());
            p.option = Some("b".into());
            p.values = vec!["coke".into(), "pepsi".into()];
        });
        assert_eq!(t, "[d]\nb = coke\nb = pepsi\n");
        let (t, _, _) = ini("[mysqld]\n", |p| {
            p.section = Some("mysqld".into());
            p.option = Some("skip-name-resolve".into());
            p.allow_no_value = true;
        });
        assert_eq!(t, "[mysqld]\nskip-name-resolve\n");
    }

    #[test]
    fn missing_trailing_newline_is_a_change() {
        let (t, c, _) = ini("[a]\nx = 1", |p| set(p, "a", "x", "1"));
        assert_eq!((t.as_str(), c), ("[a]\nx = 1\n", true));
    }
}
