//! Reading the infra spec field by field: a mapping whose unknown keys are errors at
//! their position (with a "did you mean"), typed scalars, names, regions and tags. Shared
//! by the spec's sections (`spec.rs`, `lb/spec.rs`, `dns/spec.rs` ...).

use super::spec::{is_logical_name, Located};
use crate::error::Result;
use crate::template::Templar;
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;

/// A mapping node read field by field; unknown keys are errors at their position.
pub(crate) struct Fields<'a> {
    pub(crate) node: &'a Node,
    pub(crate) what: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(node: &'a Node, what: &'static str) -> Result<Self> {
        if node.as_map().is_none() {
            return Err(node.error(format!(
                "{what} must be a mapping, not a {}",
                node.type_name()
            )));
        }
        Ok(Fields { node, what })
    }
    pub(crate) fn allow(&mut self, keys: &[&str]) -> Result<()> {
        for (k, _) in self.node.as_map().unwrap() {
            let name = k.key_string().unwrap_or_default();
            if !keys.contains(&name.as_str()) {
                let hint = closest(&name, keys)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                return Err(k.error(format!(
                    "unknown key `{name}` in {}{hint}; expected one of: {}",
                    self.what,
                    keys.join(", ")
                )));
            }
        }
        Ok(())
    }
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.node.get(key).filter(|n| !n.is_null())
    }
    pub(crate) fn required(&self, key: &str) -> Result<&'a Node> {
        self.get(key)
            .ok_or_else(|| self.node.error(format!("missing `{key}` in {}", self.what)))
    }
}

/// The allowed key closest to a misspelled one (edit distance ≤ 2).
pub(crate) fn closest<'k>(name: &str, keys: &[&'k str]) -> Option<&'k str> {
    fn dist(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let cost = if a[i - 1] == b[j - 1] { 0 } else { 1 };
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    keys.iter()
        .map(|k| (dist(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

pub(crate) fn map_entries<'a>(n: &'a Node, what: &str) -> Result<Vec<(&'a Node, &'a Node)>> {
    match &n.kind {
        NodeKind::Map(m) => Ok(m.iter().map(|(k, v)| (k, v)).collect()),
        NodeKind::Null => Ok(vec![]),
        _ => Err(n.error(format!(
            "`{what}` must be a mapping (name: settings), not a {}",
            n.type_name()
        ))),
    }
}

pub(crate) fn seq_of<'a>(n: &'a Node, what: &str) -> Result<&'a Vec<Node>> {
    n.as_seq()
        .ok_or_else(|| n.error(format!("`{what}` must be a list, not a {}", n.type_name())))
}

pub(crate) fn str_of(n: &Node, what: &str) -> Result<String> {
    match &n.kind {
        NodeKind::Str(s) => Ok(s.clone()),
        _ => Err(n.error(format!(
            "`{what}` must be a string, not a {}",
            n.type_name()
        ))),
    }
}

pub(crate) fn bool_of(n: &Node, what: &str) -> Result<bool> {
    match &n.kind {
        NodeKind::Bool(b) => Ok(*b),
        _ => Err(n.error(format!(
            "`{what}` must be true or false, not a {}",
            n.type_name()
        ))),
    }
}

pub(crate) fn uint_of(n: &Node, what: &str) -> Result<u32> {
    match &n.kind {
        NodeKind::Int(i) if *i >= 0 && *i <= u32::MAX as i64 => Ok(*i as u32),
        NodeKind::Int(i) => Err(n.error(format!("`{what}` must not be negative (got {i})"))),
        _ => Err(n.error(format!(
            "`{what}` must be a whole number, not a {}",
            n.type_name()
        ))),
    }
}

pub(crate) fn logical_name(k: &Node) -> Result<String> {
    let name = k.key_string().unwrap_or_default();
    if !is_logical_name(&name) || name.len() > 40 {
        return Err(k.error(format!(
            "`{name}` is not a valid name: use 1-40 letters, digits, `_` or `-`"
        )));
    }
    Ok(name)
}

pub(crate) fn region_of(n: &Node) -> Result<String> {
    let r = str_of(n, "region")?;
    let ok = r.split('-').count() >= 3
        && r.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && r.chars().last().is_some_and(|c| c.is_ascii_digit());
    if !ok {
        return Err(n.error(format!("`{r}` is not an AWS region (like us-east-1)")));
    }
    Ok(r)
}

pub(crate) fn spec_region_of(n: &Node, regions: &[String]) -> Result<String> {
    let r = region_of(n)?;
    if !regions.contains(&r) {
        return Err(n.error(format!(
            "region `{r}` is not one of the spec's regions ({})",
            regions.join(", ")
        )));
    }
    Ok(r)
}

pub(crate) fn tags_of(
    n: &Node,
    allow_templates: bool,
) -> Result<IndexMap<String, Located<String>>> {
    let mut out = IndexMap::new();
    for (k, v) in map_entries(n, "tags")? {
        let key = k.key_string().unwrap_or_default();
        if key.is_empty() || key.len() > 128 {
            return Err(k.error("a tag key must be 1-128 characters"));
        }
        if key.starts_with("aws:") {
            return Err(k.error("tag keys starting with `aws:` are reserved by AWS"));
        }
        if key == "Name" || key.starts_with("rdeploy:") && !allow_templates {
            return Err(k.error(format!("tag `{key}` is set by rdeploy; choose another key")));
        }
        if allow_templates
            && [
                "rdeploy:project",
                "rdeploy:env",
                "rdeploy:kind",
                "rdeploy:name",
                "rdeploy:index",
                "rdeploy:host",
                "rdeploy:launch",
                "rdeploy:tags",
            ]
            .contains(&key.as_str())
        {
            return Err(k.error(format!("tag `{key}` is set by rdeploy; choose another key")));
        }
        if key.contains(' ') {
            return Err(k.error("tag keys with spaces are not supported"));
        }
        let value = v
            .scalar_string()
            .ok_or_else(|| v.error("a tag value must be a scalar"))?;
        if !allow_templates && Templar::is_template(&value) {
            return Err(v.error("templates are only allowed in instance group tags"));
        }
        out.insert(
            key,
            Located {
                value,
                span: v.span.clone(),
            },
        );
    }
    Ok(out)
}

pub(crate) fn check_template(t: &Templar, text: &str, at: &Node) -> Result<()> {
    if Templar::is_template(text) {
        if let Err(e) = t.env().template_from_str(text) {
            return Err(at.error(format!("invalid template: {e}")));
        }
    }
    Ok(())
}
