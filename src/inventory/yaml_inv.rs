//! YAML inventories (Ansible's `yaml` inventory plugin format):
//!
//! ```yaml
//! all:
//!   vars: {ansible_user: deploy}
//!   hosts:
//!     lone.example.com:
//!   children:
//!     web:
//!       hosts:
//!         web[01:03].example.com:
//!         db.example.com:2222: {ansible_user: bob}
//!       vars: {http_port: 8080}
//! ```
//!
//! Top-level keys are groups. A group is a mapping with only `hosts`, `children` and
//! `vars` (anything else is an error pointing at the key), or empty. Host entries map a
//! host pattern (ranges, `:port`) to its variables or to nothing.

use super::{pattern, Inventory};
use crate::error::Result;
use crate::yaml::{Node, NodeKind};
use serde_json::Value;

/// Parses a YAML inventory document into `inv`.
pub fn parse(doc: &Node, inv: &mut Inventory) -> Result<()> {
    let entries = match &doc.kind {
        NodeKind::Null => return Ok(()),
        NodeKind::Map(m) => m,
        _ => {
            return Err(doc.error(format!(
                "a YAML inventory is a mapping of group names (e.g. `all:`), found a {}",
                doc.type_name()
            )))
        }
    };
    for (key, data) in entries {
        let name = group_name(key)?;
        parse_group(&name, data, inv)?;
    }
    Ok(())
}

fn group_name(key: &Node) -> Result<String> {
    match key.key_string() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(key.error("a group name must be a non-empty string")),
    }
}

fn parse_group(name: &str, data: &Node, inv: &mut Inventory) -> Result<()> {
    inv.add_group(name);
    let entries = match &data.kind {
        NodeKind::Null => return Ok(()),
        NodeKind::Map(m) => m,
        _ => {
            return Err(data.error(format!(
                "group `{name}` must be a mapping with `hosts`, `children` or `vars` (or empty), found a {}",
                data.type_name()
            )))
        }
    };
    for (key, value) in entries {
        let section = key.key_string().unwrap_or_default();
        match section.as_str() {
            "hosts" | "children" | "vars" => {}
            _ => {
                return Err(key.error(format!(
                    "unexpected key `{section}` in group `{name}`: a group has only `hosts`, `children` and `vars`{}",
                    if section == "host" || section == "var" || section == "child" {
                        format!(" (did you mean `{}`?)", if section == "child" { "children".into() } else { format!("{section}s") })
                    } else {
                        String::new()
                    }
                )))
            }
        }
        let items: Vec<(&Node, Option<&Node>)> = match &value.kind {
            NodeKind::Null => continue,
            NodeKind::Map(m) => m.iter().map(|(k, v)| (k, Some(v))).collect(),
            // `hosts: web1` / `children: web` is allowed by Ansible: a single entry.
            NodeKind::Str(_) if section != "vars" => vec![(value, None)],
            NodeKind::Seq(_) if section == "hosts" => {
                return Err(value.error(format!(
                    "`hosts` of group `{name}` must be a mapping (`host:` per line, with its variables or nothing), not a list"
                )))
            }
            _ => {
                return Err(value.error(format!(
                    "`{section}` of group `{name}` must be a mapping, found a {}",
                    value.type_name()
                )))
            }
        };
        match section.as_str() {
            "vars" => {
                for (k, v) in items {
                    let k = k
                        .key_string()
                        .ok_or_else(|| k.error("a variable name must be a string"))?;
                    inv.set_group_var(name, &k, v.map(Node::to_json).unwrap_or(Value::Null));
                }
            }
            "children" => {
                for (k, v) in items {
                    let child = group_name(k)?;
                    match v {
                        Some(v) => parse_group(&child, v, inv)?,
                        None => {
                            inv.add_group(&child);
                        }
                    }
                    inv.add_child(name, &child)
                        .map_err(|e| k.error(e.to_string()))?;
                }
            }
            _ => {
                for (k, v) in items {
                    parse_hosts(name, k, v, inv)?;
                }
            }
        }
    }
    Ok(())
}

fn parse_hosts(group: &str, key: &Node, vars: Option<&Node>, inv: &mut Inventory) -> Result<()> {
    let pat = key
        .key_string()
        .ok_or_else(|| key.error("a host name must be a string"))?;
    let (hostpat, port) = pattern::parse_address(&pat);
    let names = pattern::expand_hostname_range(&hostpat).map_err(|e| key.error(e.to_string()))?;
    let vars: Vec<(String, Value)> = match vars.map(|v| &v.kind) {
        None | Some(NodeKind::Null) => vec![],
        Some(NodeKind::Map(m)) => m
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.key_string()
                        .ok_or_else(|| k.error("a variable name must be a string"))?,
                    v.to_json(),
                ))
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            let v = vars.expect("checked");
            return Err(v.error(format!(
                "variables of host `{pat}` must be a mapping (or nothing), found a {}",
                v.type_name()
            )));
        }
    };
    for name in names {
        inv.add_host(&name, Some(group));
        if let Some(port) = port {
            inv.set_host_var(&name, "ansible_port", Value::from(port));
        }
        for (k, v) in &vars {
            inv.set_host_var(&name, k, v.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn load(text: &str) -> Result<Inventory> {
        let doc = crate::yaml::load_str(text, Path::new("inv.yml"))?;
        let mut inv = Inventory::new();
        parse(&doc, &mut inv)?;
        inv.reconcile()?;
        Ok(inv)
    }

    #[test]
    fn groups_hosts_vars_children() {
        let inv = load(
            "all:\n  vars:\n    ntp: pool.ntp.org\n  hosts:\n    lone:\n  children:\n    web:\n      hosts:\n        web[01:02].x:\n          role: web\n        db.x:2222:\n      vars:\n        port: 0644\n        on: yes\n    prod:\n      children:\n        web:\n",
        )
        .unwrap();
        assert_eq!(inv.group_hosts("web"), ["web01.x", "web02.x", "db.x"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["lone"]);
        assert_eq!(inv.group_names("web01.x"), ["prod", "web"]);
        assert_eq!(inv.hosts["web02.x"].vars["role"], json!("web"));
        assert_eq!(inv.hosts["db.x"].vars["ansible_port"], json!(2222));
        assert_eq!(inv.groups["web"].vars["port"], json!(420), "YAML 1.1 octal");
        assert_eq!(
            inv.groups["web"].vars["True"],
            json!(true),
            "`on:` is a YAML 1.1 boolean key"
        );
        assert_eq!(inv.groups["all"].vars["ntp"], json!("pool.ntp.org"));
        assert_eq!(inv.groups["all"].children, ["ungrouped", "web", "prod"]);
    }

    #[test]
    fn top_level_groups_without_all() {
        let inv = load("web:\n  hosts:\n    w1:\ndb:\n  hosts: d1\nempty:\n").unwrap();
        assert_eq!(
            inv.groups["all"].children,
            ["ungrouped", "web", "db", "empty"]
        );
        assert_eq!(inv.group_hosts("db"), ["d1"]);
    }

    #[test]
    fn unknown_key_is_an_error_at_the_key() {
        let e = load("all:\n  children:\n    web:\n      host:\n        w1:\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("inv.yml:4:7: unexpected key `host` in group `web`"),
            "{e}"
        );
        assert!(e.contains("did you mean `hosts`?"), "{e}");
    }

    #[test]
    fn hosts_as_list_is_an_error() {
        let e = load("web:\n  hosts:\n    - w1\n").unwrap_err().to_string();
        assert!(
            e.starts_with("inv.yml:3:5: `hosts` of group `web` must be a mapping"),
            "{e}"
        );
    }

    #[test]
    fn bad_shapes() {
        let e = load("- a\n").unwrap_err().to_string();
        assert!(
            e.starts_with("inv.yml:1:1: a YAML inventory is a mapping"),
            "{e}"
        );
        let e = load("web: [1]\n").unwrap_err().to_string();
        assert!(
            e.starts_with("inv.yml:1:6: group `web` must be a mapping"),
            "{e}"
        );
        let e = load("web:\n  hosts:\n    w1: 3\n").unwrap_err().to_string();
        assert!(
            e.starts_with("inv.yml:3:9: variables of host `w1` must be a mapping"),
            "{e}"
        );
        let e = load("web:\n  hosts:\n    w[1:]:\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("inv.yml:3:5: host range must specify end value"),
            "{e}"
        );
    }
}
