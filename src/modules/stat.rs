//! The `stat` module: facts about one path, in Ansible's shape (`stat.exists`,
//! `stat.isdir`, `stat.mode` as `"0644"`, `stat.checksum` (SHA-1 by default), `pw_name`
//! ...), gathered in one exchange with coreutils' `stat` and `*sum`.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{json, Map, Value};

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// Builds the `stat` dict from the script's output lines.
fn parse(path: &str, out: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let mut lines = out.lines();
    let first = lines.next().unwrap_or("");
    if first != "RD_STAT" {
        m.insert("exists".into(), Value::Bool(false));
        return m;
    }
    let fields: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    let names = lines.next().unwrap_or("");
    let (pw, gr) = names.split_once(':').unwrap_or((names, ""));
    let raw = u32::from_str_radix(fields.first().copied().unwrap_or("0"), 16).unwrap_or(0);
    let num = |i: usize| -> u64 { fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let float = |i: usize| -> Value {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .unwrap_or(Value::Null)
    };
    let fmt = raw & 0o170000;
    let perm = raw & 0o7777;
    let bit = |b: u32| Value::Bool(raw & b != 0);
    m.insert("exists".into(), Value::Bool(true));
    m.insert("path".into(), Value::String(path.to_string()));
    m.insert("mode".into(), Value::String(format!("{perm:04o}")));
    m.insert("isdir".into(), Value::Bool(fmt == 0o040000));
    m.insert("ischr".into(), Value::Bool(fmt == 0o020000));
    m.insert("isblk".into(), Value::Bool(fmt == 0o060000));
    m.insert("isreg".into(), Value::Bool(fmt == 0o100000));
    m.insert("isfifo".into(), Value::Bool(fmt == 0o010000));
    m.insert("islnk".into(), Value::Bool(fmt == 0o120000));
    m.insert("issock".into(), Value::Bool(fmt == 0o140000));
    m.insert("uid".into(), json!(num(1)));
    m.insert("gid".into(), json!(num(2)));
    m.insert("size".into(), json!(num(3)));
    m.insert("inode".into(), json!(num(4)));
    m.insert("dev".into(), json!(num(5)));
    m.insert("nlink".into(), json!(num(6)));
    m.insert("atime".into(), float(7));
    m.insert("mtime".into(), float(8));
    m.insert("ctime".into(), float(9));
    m.insert("blocks".into(), json!(num(10)));
    m.insert("block_size".into(), json!(num(11)));
    if fmt == 0o020000 || fmt == 0o060000 {
        let major = u64::from_str_radix(fields.get(12).copied().unwrap_or("0"), 16).unwrap_or(0);
        let minor = u64::from_str_radix(fields.get(13).copied().unwrap_or("0"), 16).unwrap_or(0);
        m.insert("device_type".into(), json!((major << 8) | minor));
    }
    m.insert("wusr".into(), bit(0o200));
    m.insert("rusr".into(), bit(0o400));
    m.insert("xusr".into(), bit(0o100));
    m.insert("wgrp".into(), bit(0o020));
    m.insert("rgrp".into(), bit(0o040));
    m.insert("xgrp".into(), bit(0o010));
    m.insert("woth".into(), bit(0o002));
    m.insert("roth".into(), bit(0o004));
    m.insert("xoth".into(), bit(0o001));
    m.insert("isuid".into(), bit(0o4000));
    m.insert("isgid".into(), bit(0o2000));
    m.insert("pw_name".into(), Value::String(pw.to_string()));
    m.insert("gr_name".into(), Value::String(gr.to_string()));
    m.insert("readable".into(), Value::Bool(false));
    m.insert("writeable".into(), Value::Bool(false));
    m.insert("executable".into(), Value::Bool(false));
    for line in lines {
        match line {
            "RD_R" => {
                m.insert("readable".into(), Value::Bool(true));
            }
            "RD_W" => {
                m.insert("writeable".into(), Value::Bool(true));
            }
            "RD_X" => {
                m.insert("executable".into(), Value::Bool(true));
            }
            l if l.starts_with("RD_LNKT ") => {
                m.insert("lnk_target".into(), Value::String(l[8..].to_string()));
            }
            l if l.starts_with("RD_LNKS ") => {
                m.insert("lnk_source".into(), Value::String(l[8..].to_string()));
            }
            l if l.starts_with("RD_SUM ") => {
                m.insert(
                    "checksum".into(),
                    Value::String(l[7..].split(' ').next().unwrap_or("").to_string()),
                );
            }
            _ => {}
        }
    }
    m
}

pub struct Stat;

#[async_trait]
impl Module for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path",
            "dest",
            "name",
            "follow",
            "get_checksum",
            "checksum_algorithm",
            "checksum",
            "checksum_algo",
            "get_md5",
            "get_mime",
            "mime",
            "mime_type",
            "mime-type",
            "get_attributes",
            "attr",
            "attributes",
        ])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let path =
            super::util::expand_user(ctx, &args.req_str_any(&["path", "dest", "name"])?).await?;
        let follow = args.bool_or("follow", false)?;
        let get_checksum = args.bool_or("get_checksum", true)?;
        let algo = args
            .str_any(&["checksum_algorithm", "checksum", "checksum_algo"])
            .unwrap_or_else(|| "sha1".into())
            .to_ascii_lowercase();
        if !ALGORITHMS.contains(&algo.as_str()) {
            return Err(ModuleError::failed(format!(
                "value of checksum_algorithm must be one of: {}, got: {algo}",
                ALGORITHMS.join(", ")
            )));
        }
        let st = if follow { "stat -L" } else { "stat" };
        let mut s = Script::new();
        s.raw("rd_p=").arg(&path).raw("\n");
        if follow {
            s.raw("[ -e \"$rd_p\" ] || { echo RD_ABSENT; exit 0; }\n");
        } else {
            s.raw("[ -e \"$rd_p\" ] || [ -L \"$rd_p\" ] || { echo RD_ABSENT; exit 0; }\n");
        }
        s.raw("echo RD_STAT\n");
        s.raw(&format!(
            "{st} -c '%f %u %g %s %i %d %h %.9X %.9Y %.9Z %b %B %t %T' \"$rd_p\" || exit 3\n"
        ));
        s.raw(&format!("{st} -c '%U:%G' \"$rd_p\"\n"));
        s.raw("[ -r \"$rd_p\" ] && echo RD_R; [ -w \"$rd_p\" ] && echo RD_W; [ -x \"$rd_p\" ] && echo RD_X\n");
        s.raw("if [ -L \"$rd_p\" ]; then echo \"RD_LNKT $(readlink -- \"$rd_p\")\"; echo \"RD_LNKS $(readlink -f -- \"$rd_p\")\"; fi\n");
        if get_checksum {
            let cond = if follow {
                "[ -f \"$rd_p\" ]"
            } else {
                "[ -f \"$rd_p\" ] && [ ! -L \"$rd_p\" ]"
            };
            s.raw(&format!("if {cond} && [ -r \"$rd_p\" ]; then echo \"RD_SUM $({algo}sum < \"$rd_p\")\"; fi\n"));
        }
        s.raw("exit 0\n");
        let out = ctx.run_own(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "cannot stat {path}: {}",
                out.stderr_str().trim()
            )));
        }
        let stat = parse(&path, &out.stdout_str());
        Ok(Outcome::ok().with("stat", Value::Object(stat)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_regular_file() {
        let out = "RD_STAT\n81a4 0 0 5 12 43 1 1.5 2.25 3.0 8 4096 0 0\nroot:root\nRD_R\nRD_W\nRD_SUM da39a3ee5e6b4b0d3255bfef95601890afd80709  -\n";
        let m = parse("/x", out);
        assert_eq!(m["exists"], json!(true));
        assert_eq!(m["isreg"], json!(true));
        assert_eq!(m["isdir"], json!(false));
        assert_eq!(m["mode"], json!("0644"));
        assert_eq!(m["size"], json!(5));
        assert_eq!(m["mtime"], json!(2.25));
        assert_eq!(m["pw_name"], json!("root"));
        assert_eq!(
            m["checksum"],
            json!("da39a3ee5e6b4b0d3255bfef95601890afd80709")
        );
        assert_eq!(m["executable"], json!(false));
        assert_eq!(parse("/x", "RD_ABSENT\n")["exists"], json!(false));
    }

    #[test]
    fn parses_a_directory_mode() {
        let m = parse(
            "/d",
            "RD_STAT\n43ed 0 0 4096 1 1 2 0 0 0 8 4096 0 0\nroot:root\n",
        );
        assert_eq!(m["isdir"], json!(true));
        assert_eq!(m["mode"], json!("1755"));
    }
}
