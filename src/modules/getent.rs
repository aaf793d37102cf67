//! The `getent` module: reads a name-service database (`getent DATABASE [KEY]`) in one
//! exchange and sets the fact `getent_<database>`: a dict from each entry's first
//! field to the list of its other fields, as Ansible does (several entries with the
//! same key become a list of lists).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{Map, Value};

pub struct Getent;

const PARAMS: &[&str] = &["database", "key", "split", "fail_key", "service"];

/// Databases whose entries are `:`-separated (others split on whitespace).
const COLON: &[&str] = &["passwd", "shadow", "group", "gshadow"];

/// Parses `getent` output the way Ansible's getent module does.
pub fn parse_getent(out: &str, database: &str, split: Option<&str>) -> Map<String, Value> {
    let split = split
        .map(String::from)
        .or_else(|| COLON.contains(&database).then(|| ":".to_string()));
    let mut results: Map<String, Value> = Map::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in out.lines() {
        if line.is_empty() {
            continue;
        }
        let record: Vec<String> = match &split {
            Some(sep) => line.split(sep.as_str()).map(String::from).collect(),
            None => line.split_whitespace().map(String::from).collect(),
        };
        if record.is_empty() {
            continue;
        }
        let key = record[0].clone();
        let rest = Value::Array(
            record[1..]
                .iter()
                .map(|s| Value::String(s.clone()))
                .collect(),
        );
        match seen.get_mut(&key) {
            Some(n) => {
                if *n == 1 {
                    let first = results.remove(&key).unwrap_or(Value::Null);
                    results.insert(key.clone(), Value::Array(vec![first]));
                }
                if let Some(Value::Array(a)) = results.get_mut(&key) {
                    a.push(rest);
                }
                *n += 1;
            }
            None => {
                results.insert(key.clone(), rest);
                seen.insert(key, 1);
            }
        }
    }
    results
}

#[async_trait]
impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("getent", PARAMS)?;
        let database = args.req_str("database")?;
        let key = args.str("key");
        let split = args.str("split");
        let fail_key = args.bool_or("fail_key", true)?;
        let mut s = Script::new();
        s.raw("getent ");
        if let Some(svc) = args.str("service") {
            s.raw("-s ").arg(&svc).raw(" ");
        }
        s.raw("-- ").arg(&database);
        if let Some(k) = &key {
            // Ansible passes the key as is; several keys may be given separated by spaces.
            for w in k.split_whitespace() {
                s.raw(" ").arg(w);
            }
        }
        let out = ctx.run(s.as_str()).await?;
        let results = parse_getent(&out.stdout_str(), &database, split.as_deref());
        let mut o = Outcome::ok();
        match out.rc {
            0 => {}
            1 => {
                return Err(ModuleError::failed(format!(
                    "Missing arguments, or database unknown: {database}"
                )))
            }
            2 => {
                if fail_key {
                    return Err(ModuleError::failed(
                        "One or more supplied key could not be found in the database.",
                    ));
                }
                o.msg = Some("One or more supplied key could not be found in the database.".into());
            }
            3 => {
                return Err(ModuleError::failed(
                    "Enumeration not supported on this database.",
                ))
            }
            rc => {
                return Err(ModuleError::failed(format!(
                    "getent failed (rc={rc}): {}",
                    out.stderr_str().trim()
                )))
            }
        }
        let fact = format!("getent_{database}");
        o.facts.insert(fact, Value::Object(results));
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwd_and_hosts() {
        let m = parse_getent("root:x:0:0:root:/root:/bin/bash\n", "passwd", None);
        assert_eq!(
            m["root"],
            json!(["x", "0", "0", "root", "/root", "/bin/bash"])
        );
        let m = parse_getent(
            "127.0.0.1       localhost\n127.0.0.1 other\n",
            "hosts",
            None,
        );
        assert_eq!(m["127.0.0.1"], json!([["localhost"], ["other"]]));
    }
}
