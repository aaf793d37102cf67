//! Renderings of the inventory for `rdeploy inventory`: the JSON of
//! `ansible-inventory --list` and `--host`, the tree of `ansible-inventory --graph`,
//! and a host table. Pure functions: the caller prints.

use super::{Inventory, Vars};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

/// Magic and internal variables `ansible-inventory` leaves out of host variables.
const INTERNAL_VARS: [&str; 21] = [
    "ansible_config_file",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_playbook_python",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "ansible_check_mode",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "omit",
    "playbook_dir",
    "hostvars",
];

fn without_internal(mut vars: Vars) -> Vars {
    vars.retain(|k, _| !INTERNAL_VARS.contains(&k.as_str()));
    vars
}

/// `ansible-inventory --list`: each group (from `all` down) with `hosts` and
/// `children` (empty keys and empty groups left out; `all` has no `hosts`), and
/// `_meta.hostvars` with every host's merged variables. Keys sorted, as Ansible prints.
pub fn to_ansible_json(inv: &Inventory) -> Value {
    let all_hosts = inv.group_hosts("all");
    let available: HashSet<&str> = all_hosts.iter().map(String::as_str).collect();
    let mut results: Map<String, Value> = Map::new();
    let mut seen: HashSet<String> = HashSet::new();
    if inv.groups.contains_key("all") {
        format_group(inv, "all", &available, &mut seen, &mut results);
    }
    let mut hostvars = Map::new();
    for h in &all_hosts {
        let vars = without_internal(inv.host_vars(h));
        if !vars.is_empty() {
            hostvars.insert(h.clone(), Value::Object(vars.into_iter().collect()));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    results.insert("_meta".into(), Value::Object(meta));
    sorted(Value::Object(results))
}

fn format_group(
    inv: &Inventory,
    name: &str,
    available: &HashSet<&str>,
    seen: &mut HashSet<String>,
    out: &mut Map<String, Value>,
) {
    let Some(group) = inv.groups.get(name) else {
        return;
    };
    let mut entry = Map::new();
    if name != "all" {
        let hosts: Vec<Value> = group
            .hosts
            .iter()
            .filter(|h| available.contains(h.as_str()))
            .map(|h| Value::from(h.as_str()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::Array(hosts));
        }
    }
    if !group.children.is_empty() {
        entry.insert(
            "children".into(),
            Value::Array(
                group
                    .children
                    .iter()
                    .map(|c| Value::from(c.as_str()))
                    .collect(),
            ),
        );
    }
    if !entry.is_empty() {
        out.insert(name.to_string(), Value::Object(entry));
    }
    for child in &group.children {
        if seen.insert(child.clone()) {
            format_group(inv, child, available, seen, out);
        }
    }
}

/// Object keys sorted, recursively (Python's `json.dumps(sort_keys=True)`).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// `ansible-inventory --graph [GROUP]`: `@all:` then `  |--@child:` and `  |  |--host`
/// lines, children and hosts in inventory order, each line ending in a newline. Empty
/// for an unknown group.
pub fn graph(inv: &Inventory, group: Option<&str>) -> String {
    let start = group.unwrap_or("all");
    if !inv.groups.contains_key(start) {
        return String::new();
    }
    let mut lines = Vec::new();
    graph_group(inv, start, 0, &mut lines);
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn graph_group(inv: &Inventory, name: &str, depth: usize, lines: &mut Vec<String>) {
    let Some(group) = inv.groups.get(name) else {
        return;
    };
    lines.push(graph_name(&format!("@{name}:"), depth));
    for child in &group.children {
        graph_group(inv, child, depth + 1, lines);
    }
    if name != "all" {
        for h in &group.hosts {
            lines.push(graph_name(h, depth + 1));
        }
    }
}

/// `ansible-inventory --host NAME`: the host's merged variables (keys sorted); Null for
/// an unknown host.
pub fn host(inv: &Inventory, name: &str) -> Value {
    if !inv.hosts.contains_key(name) {
        return Value::Null;
    }
    let vars = without_internal(inv.host_vars(name));
    sorted(Value::Object(vars.into_iter().collect()))
}

/// A table of hosts: HOST, ADDRESS (`ansible_host` or the name, `:port` when
/// `ansible_port` is set), GROUPS (comma-separated), STATE (`ec2_state` or `-`). The
/// implicit localhost is not an inventory host and is left out, as ansible-inventory does.
pub fn table(inv: &Inventory, hosts: &[String]) -> String {
    let header = ["HOST", "ADDRESS", "GROUPS", "STATE"].map(String::from);
    let mut rows: Vec<[String; 4]> = vec![header];
    for h in hosts.iter().filter(|h| !inv.is_implicit(h)) {
        let vars = inv.host_vars(h);
        let addr = vars
            .get("ansible_host")
            .and_then(scalar)
            .unwrap_or_else(|| h.clone());
        let addr = match vars.get("ansible_port").and_then(scalar) {
            Some(port) if addr.contains(':') => format!("[{addr}]:{port}"),
            Some(port) => format!("{addr}:{port}"),
            None => addr,
        };
        let groups = inv.group_names(h).join(",");
        let state = match vars.get("ec2_state") {
            Some(Value::Object(m)) => m.get("name").and_then(scalar),
            Some(v) => scalar(v),
            None => None,
        }
        .unwrap_or_else(|| "-".into());
        rows.push([
            h.clone(),
            addr,
            if groups.is_empty() {
                "-".into()
            } else {
                groups
            },
            state,
        ]);
    }
    let mut widths = [0usize; 4];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn inv() -> Inventory {
        let mut inv = Inventory::new();
        super::super::ini::parse(
            "lone\n[web]\nw2 ansible_host=10.0.0.2 ansible_port=2222\nw1\n[db]\nd1 ec2_state=running\n\
             [prod:children]\nweb\ndb\n[prod:vars]\nenv=prod\n[empty]\n",
            Path::new("hosts"),
            &mut inv,
        )
        .unwrap();
        inv.reconcile().unwrap();
        inv.add_implicit_localhost();
        inv
    }

    #[test]
    fn json_like_ansible_inventory() {
        let j = to_ansible_json(&inv());
        assert_eq!(
            j,
            json!({
                "_meta": {"hostvars": {
                    "d1": {"ec2_state": "running", "env": "prod"},
                    "w1": {"env": "prod"},
                    "w2": {"ansible_host": "10.0.0.2", "ansible_port": 2222, "env": "prod"}
                }},
                "all": {"children": ["ungrouped", "prod", "empty"]},
                "db": {"hosts": ["d1"]},
                "prod": {"children": ["web", "db"]},
                "ungrouped": {"hosts": ["lone"]},
                "web": {"hosts": ["w2", "w1"]}
            })
        );
        let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["_meta", "all", "db", "prod", "ungrouped", "web"]);
    }

    #[test]
    fn graph_tree() {
        assert_eq!(
            graph(&inv(), None),
            "@all:\n  |--@ungrouped:\n  |  |--lone\n  |--@prod:\n  |  |--@web:\n  |  |  |--w2\n  |  |  |--w1\n  |  |--@db:\n  |  |  |--d1\n  |--@empty:\n"
        );
        assert_eq!(graph(&inv(), Some("db")), "@db:\n  |--d1\n");
        assert_eq!(graph(&inv(), Some("nope")), "");
    }

    #[test]
    fn host_vars_view() {
        assert_eq!(
            host(&inv(), "w2"),
            json!({"ansible_host": "10.0.0.2", "ansible_port": 2222, "env": "prod"})
        );
        assert_eq!(host(&inv(), "nope"), Value::Null);
    }

    #[test]
    fn host_table() {
        let inv = inv();
        let mut hosts = inv.group_hosts("all");
        hosts.push("localhost".into());
        let t = table(&inv, &hosts);
        assert_eq!(
            t,
            "HOST  ADDRESS        GROUPS     STATE\n\
             lone  lone           ungrouped  -\n\
             w2    10.0.0.2:2222  prod,web   -\n\
             w1    w1             prod,web   -\n\
             d1    d1             db,prod    running\n"
        );
    }
}
