//! The `group` module: local groups through `groupadd`, `groupmod`, `groupdel`.
//! One exchange queries `getent group`; a second one acts, only when needed.

use super::user::parse_group_line;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;

pub struct Group;

const PARAMS: &[&str] = &[
    "name",
    "gid",
    "state",
    "system",
    "local",
    "non_unique",
    "force",
    "gid_min",
    "gid_max",
];

#[async_trait]
impl Module for Group {
    fn name(&self) -> &'static str {
        "group"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("group", PARAMS)?;
        let name = args.req_str("name")?;
        if name.is_empty()
            || name.starts_with('-')
            || name.contains([':', '\n', '/', ','])
            || name.contains(char::is_whitespace)
        {
            return Err(ModuleError::failed(format!("group: invalid name {name:?}")));
        }
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let gid = args.int("gid")?;
        let system = args.bool_or("system", false)?;
        let non_unique = args.bool_or("non_unique", false)?;

        let mut s = Script::new();
        s.raw("getent group ").arg(&name).raw(" || true");
        let out = ctx.run_own(s.as_str()).await?;
        let cur = out.stdout_str().lines().next().and_then(parse_group_line);

        let mut argv: Vec<String> = Vec::new();
        match (state.as_str(), &cur) {
            ("present", None) => {
                argv.push("groupadd".into());
                if let Some(g) = gid {
                    argv.extend(["-g".into(), g.to_string()]);
                    if non_unique {
                        argv.push("-o".into());
                    }
                }
                if system {
                    argv.push("-r".into());
                }
                if let Some(m) = args.int("gid_min")? {
                    argv.extend(["-K".into(), format!("GID_MIN={m}")]);
                }
                if let Some(m) = args.int("gid_max")? {
                    argv.extend(["-K".into(), format!("GID_MAX={m}")]);
                }
            }
            ("present", Some((_, cur_gid))) => {
                if let Some(g) = gid {
                    if cur_gid != &g.to_string() {
                        argv.extend(["groupmod".into(), "-g".into(), g.to_string()]);
                        if non_unique {
                            argv.push("-o".into());
                        }
                    }
                }
            }
            ("absent", Some(_)) => {
                argv.push("groupdel".into());
                if args.bool_or("force", false)? {
                    argv.push("-f".into());
                }
            }
            ("absent", None) => {}
            (other, _) => {
                return Err(ModuleError::failed(format!(
                    "group: state must be present or absent, got {other}"
                )))
            }
        }
        let mut o = Outcome::changed(!argv.is_empty())
            .with("name", name.clone())
            .with("state", state.clone());
        if state == "present" {
            o = o.with("system", system);
        }
        if argv.is_empty() || ctx.check_mode {
            if let Some((_, g)) = &cur {
                o = o.with("gid", g.parse::<i64>().unwrap_or(-1));
            } else if let Some(g) = gid {
                o = o.with("gid", g);
            }
            return Ok(o);
        }
        argv.push("--".into());
        argv.push(name.clone());
        let mut s = Script::new();
        s.args(&argv).raw(" || exit $?\n");
        if state == "present" {
            s.raw("getent group ").arg(&name).raw("\n");
        }
        let r = ctx.run_own(s.as_str()).await?;
        if r.rc != 0 {
            let mut f = Outcome::failed(format!(
                "{} failed (rc={}): {}",
                argv[0],
                r.rc,
                r.stderr_str().trim()
            ))
            .with("name", name);
            f.changed = false;
            return Ok(f);
        }
        if let Some((_, g)) = r.stdout_str().lines().next().and_then(parse_group_line) {
            o = o.with("gid", g.parse::<i64>().unwrap_or(-1));
        }
        Ok(o)
    }
}
