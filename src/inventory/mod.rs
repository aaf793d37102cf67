//! The inventory: hosts, groups and their variables, from static files (YAML, INI,
//! executable scripts printing `ansible-inventory --list` JSON, directories of them),
//! `group_vars/`/`host_vars/`, and the dynamic EC2 source ([`aws_ec2`]).
//! Host patterns (`web:&prod:!old`, `~regex`, `web*`, `@retry`) select hosts from it
//! ([`pattern`]); [`display`] renders it the way `ansible-inventory` does.
//!
//! Invariants, as in Ansible after its "reconcile" step:
//! - `all` and `ungrouped` always exist; every other group descends from `all`;
//! - a host that is in no group but `all` is in `ungrouped`, and only such hosts are;
//! - the group graph has no cycles;
//! - variables are kept where they were defined (inventory source, group_vars/ and
//!   host_vars/ files next to the sources, next to the playbook) and merged per host by
//!   [`Inventory::host_vars`] with Ansible's precedence.

pub mod aws_ec2;
pub mod aws_rds;
pub mod display;
pub mod ec2_host_keys;
pub mod ini;
pub mod pattern;
pub mod script;
pub mod vars_files;
pub mod yaml_inv;

use crate::error::{Error, Result};
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// Variables as loaded (raw, not templated: templating happens when a task uses them).
pub type Vars = IndexMap<String, Value>;

/// Names Ansible treats as the controller itself.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, Clone, Default)]
pub struct Host {
    pub name: String,
    /// Variables set on the host in an inventory source (inventory line, script, EC2).
    /// host_vars/ files are kept apart, in [`Inventory::inventory_vars_dirs`] and
    /// [`Inventory::playbook_vars_dirs`]; [`Inventory::host_vars`] merges everything.
    pub vars: Vars,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in this group.
    pub hosts: Vec<String>,
    /// Child groups.
    pub children: Vec<String>,
    /// Variables set on the group in an inventory source (group_vars/ files are kept
    /// apart, see [`Host::vars`]).
    pub vars: Vars,
}

/// Hosts and groups; `all` and `ungrouped` always exist.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: IndexMap<String, Host>,
    pub groups: IndexMap<String, Group>,
    /// Variables every host gets from dynamic sources (e.g. `rdeploy_elasticache`);
    /// they rank with the `all` group's inventory variables.
    pub extra_vars_all: Vars,
    /// The inventory sources, as given.
    pub sources: Vec<PathBuf>,
    /// `group_vars/`/`host_vars/` next to the inventory sources, lowest precedence first.
    pub inventory_vars_dirs: Vec<vars_files::VarsDir>,
    /// `group_vars/`/`host_vars/` next to the playbook (win over the inventory's).
    pub playbook_vars_dirs: Vec<vars_files::VarsDir>,
    /// `localhost` is Ansible's implicit localhost: in no group (not even `all`'s host
    /// list), `ansible_connection: local`, selected only by its own name.
    pub implicit_localhost: bool,
}

impl Inventory {
    /// An empty inventory with `all` and `ungrouped` (a child of `all`).
    pub fn new() -> Inventory {
        let mut inv = Inventory::default();
        inv.add_group("all");
        inv.add_group("ungrouped");
        inv.groups["all"].children.push("ungrouped".into());
        inv
    }

    /// Loads and merges inventory sources (files, directories, scripts, `host1,host2,`
    /// lists, aws_ec2 configs). `playbook_dir` adds its group_vars/host_vars.
    pub async fn load(sources: &[PathBuf], playbook_dir: Option<&Path>) -> Result<Inventory> {
        let mut inv = Inventory::new();
        for src in sources {
            inv.load_source(src).await?;
            inv.sources.push(src.clone());
        }
        inv.reconcile()?;
        inv.add_implicit_localhost();
        inv.load_inventory_vars_dirs()?;
        if let Some(dir) = playbook_dir {
            inv.set_playbook_dir(dir)?;
        }
        Ok(inv)
    }

    /// Loads one source into this inventory (without reconciling; [`Inventory::load`]
    /// does that once at the end).
    pub async fn load_source(&mut self, src: &Path) -> Result<()> {
        let text = src.to_string_lossy();
        if !src.exists() {
            if text.contains(',') {
                return self.load_host_list(&text);
            }
            return Err(Error::usage(format!(
                "inventory source {} does not exist",
                src.display()
            )));
        }
        if src.is_dir() {
            for file in source_files_in_dir(src)? {
                self.load_file(&file).await?;
            }
            return Ok(());
        }
        self.load_file(src).await
    }

    /// A `host1,host2:2222,` list: each host goes to `ungrouped`.
    fn load_host_list(&mut self, list: &str) -> Result<()> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (pattern, port) = pattern::parse_address(item);
            let names = pattern::expand_hostname_range(&pattern)
                .map_err(|e| Error::usage(format!("inventory host list `{list}`: {e}")))?;
            for name in names {
                self.add_host(&name, Some("ungrouped"));
                if let Some(port) = port {
                    self.set_host_var(&name, "ansible_port", Value::from(port));
                }
            }
        }
        Ok(())
    }

    /// One inventory file: an executable script, an aws_ec2 config, a YAML inventory or
    /// an INI inventory (by extension, then by content).
    async fn load_file(&mut self, path: &Path) -> Result<()> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let yaml_ext = matches!(ext.as_str(), "yml" | "yaml" | "json");
        if !yaml_ext && ext != "ini" && is_executable(path) {
            return script::load(path, self).await;
        }
        let text = crate::yaml::read_input(path)?;
        if ext == "ini" {
            return ini::parse(&text, path, self);
        }
        if yaml_ext {
            let doc = crate::yaml::load_str(&text, path)?;
            return self.load_yaml_doc(path, &doc).await;
        }
        if !ext.is_empty() {
            // Ansible's YAML plugin only takes .yml/.yaml/.json or extension-less files.
            return ini::parse(&text, path, self);
        }
        // No extension: YAML when it reads as a YAML mapping, INI otherwise.
        match crate::yaml::load_str(&text, path) {
            Ok(doc) if doc.as_map().is_some() => self.load_yaml_doc(path, &doc).await,
            Ok(_) => ini::parse(&text, path, self),
            Err(yaml_err) => match ini::parse(&text, path, self) {
                Err(_) if looks_like_yaml(&text) => Err(yaml_err),
                other => other,
            },
        }
    }

    async fn load_yaml_doc(&mut self, path: &Path, doc: &crate::yaml::Node) -> Result<()> {
        if let Some(plugin) = doc.get("plugin") {
            return match plugin.as_str() {
                Some("aws_ec2" | "amazon.aws.aws_ec2") => aws_ec2::load(path, doc, self).await,
                Some(other) => Err(plugin.error(format!(
                    "inventory plugin `{other}` is not supported (supported: aws_ec2, amazon.aws.aws_ec2)"
                ))),
                None => Err(plugin.error("`plugin` must be a plugin name")),
            };
        }
        yaml_inv::parse(doc, self)
    }

    /// Adds a group (no-op when it exists) and returns it.
    pub fn add_group(&mut self, name: &str) -> &mut Group {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                name: name.to_string(),
                ..Default::default()
            })
    }

    /// Adds a host (no-op when it exists), and puts it in `group` when given (creating
    /// the group). Returns the host.
    pub fn add_host(&mut self, name: &str, group: Option<&str>) -> &mut Host {
        if self.implicit_localhost && name == "localhost" {
            self.implicit_localhost = false;
            if let Some(h) = self.hosts.get_mut(name) {
                h.vars.shift_remove("ansible_connection");
            }
        }
        if let Some(group) = group {
            // A new host is in no group yet: only a known one needs the (linear) check,
            // so a range of many new hosts (`node[1:50000]`) is not quadratic.
            let known = self.hosts.contains_key(name);
            let g = self.add_group(group);
            if !known || !g.hosts.iter().any(|h| h == name) {
                g.hosts.push(name.to_string());
            }
        }
        self.hosts.entry(name.to_string()).or_insert_with(|| Host {
            name: name.to_string(),
            vars: Vars::new(),
        })
    }

    /// Makes `child` a child group of `parent` (creating both). Refuses cycles.
    pub fn add_child(&mut self, parent: &str, child: &str) -> Result<()> {
        if parent == child {
            return Err(Error::usage(format!(
                "group `{parent}` cannot be a child of itself"
            )));
        }
        self.add_group(child);
        if self
            .groups
            .get(parent)
            .is_some_and(|g| g.children.iter().any(|c| c == child))
        {
            return Ok(());
        }
        if self.descendants(child).iter().any(|g| g == parent) {
            return Err(Error::usage(format!(
                "adding group `{child}` as a child of `{parent}` creates a dependency loop"
            )));
        }
        self.add_group(parent).children.push(child.to_string());
        Ok(())
    }

    /// Sets a variable on a host (creating the host).
    pub fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        self.add_host(host, None)
            .vars
            .insert(key.to_string(), value);
    }

    /// Sets a variable on a group (creating the group).
    pub fn set_group_var(&mut self, group: &str, key: &str, value: Value) {
        self.add_group(group).vars.insert(key.to_string(), value);
    }

    /// Ansible's reconcile step: parentless groups become children of `all`; hosts in
    /// no group go to `ungrouped`; hosts in another group leave `ungrouped`.
    pub fn reconcile(&mut self) -> Result<()> {
        self.add_group("all");
        if !self.groups.contains_key("ungrouped") {
            self.add_group("ungrouped");
            self.add_child("all", "ungrouped")?;
        }
        let parents = self.parents_map();
        let orphans: Vec<String> = self
            .groups
            .keys()
            .filter(|g| *g != "all" && !parents.contains_key(g.as_str()))
            .cloned()
            .collect();
        for g in orphans {
            self.add_child("all", &g)?;
        }
        // A host is grouped when a group other than all/ungrouped lists it (its
        // ancestors then are other groups too).
        let grouped: HashSet<String> = self
            .groups
            .values()
            .filter(|g| g.name != "all" && g.name != "ungrouped")
            .flat_map(|g| g.hosts.iter().cloned())
            .collect();
        let implicit = self.implicit_localhost;
        let ungrouped = &mut self.groups["ungrouped"];
        ungrouped.hosts.retain(|h| !grouped.contains(h));
        let already: HashSet<String> = ungrouped.hosts.iter().cloned().collect();
        for h in self.hosts.keys() {
            let skip = (implicit && h == "localhost") || grouped.contains(h) || already.contains(h);
            if !skip {
                ungrouped.hosts.push(h.clone());
            }
        }
        Ok(())
    }

    /// Adds (or extends) a host while a play runs (`add_host`, `group_by`): puts it in
    /// `groups` (created as children of `all`), sets `vars` on it, keeps `ungrouped`
    /// right, and reads the group_vars/host_vars files of the new host and groups.
    pub fn add_runtime_host(&mut self, name: &str, groups: &[String], vars: Vars) -> Result<()> {
        self.add_host(name, None);
        for g in groups {
            self.add_host(name, Some(g));
        }
        for (k, v) in vars {
            self.set_host_var(name, &k, v);
        }
        self.reconcile()?;
        for dirs in [&mut self.inventory_vars_dirs, &mut self.playbook_vars_dirs] {
            for d in dirs.iter_mut() {
                for g in groups {
                    if !d.groups.contains_key(g) {
                        if let Some(v) = vars_files::load_entity(&d.dir.join("group_vars"), g)? {
                            d.groups.insert(g.clone(), v);
                        }
                    }
                }
                if !d.hosts.contains_key(name) {
                    if let Some(v) = vars_files::load_entity(&d.dir.join("host_vars"), name)? {
                        d.hosts.insert(name.to_string(), v);
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds Ansible's implicit localhost when no source defined a localhost.
    fn add_implicit_localhost(&mut self) {
        if LOCALHOST_NAMES.iter().any(|n| self.hosts.contains_key(*n)) {
            return;
        }
        let mut vars = Vars::new();
        vars.insert("ansible_connection".into(), Value::from("local"));
        self.hosts.insert(
            "localhost".into(),
            Host {
                name: "localhost".into(),
                vars,
            },
        );
        self.implicit_localhost = true;
    }

    /// Whether `host` is the implicit localhost (not defined by any source).
    pub fn is_implicit(&self, host: &str) -> bool {
        self.implicit_localhost && host == "localhost"
    }

    /// Reads group_vars/ and host_vars/ next to every inventory source (replacing what
    /// was read before). Call again after adding hosts or groups.
    pub fn load_inventory_vars_dirs(&mut self) -> Result<()> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for src in &self.sources {
            if let Some(dir) = vars_dir_of_source(src) {
                // The same directory twice ranks where it comes last.
                dirs.retain(|d| *d != dir);
                dirs.push(dir);
            }
        }
        let mut loaded = Vec::new();
        for dir in dirs {
            if let Some(v) = vars_files::VarsDir::load(&dir, self)? {
                loaded.push(v);
            }
        }
        self.inventory_vars_dirs = loaded;
        Ok(())
    }

    /// Reads group_vars/ and host_vars/ next to the playbook (replacing those of a
    /// previous playbook directory).
    pub fn set_playbook_dir(&mut self, dir: &Path) -> Result<()> {
        self.playbook_vars_dirs = vars_files::VarsDir::load(dir, self)?.into_iter().collect();
        Ok(())
    }

    /// Parent groups of every group that has one.
    pub fn parents_map(&self) -> HashMap<&str, Vec<&str>> {
        let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
        for g in self.groups.values() {
            for c in &g.children {
                out.entry(c.as_str()).or_default().push(g.name.as_str());
            }
        }
        out
    }

    /// The groups below `group` (children, their children ...), breadth first, each once.
    pub fn descendants(&self, group: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        queue.push_back(group);
        seen.insert(group);
        while let Some(g) = queue.pop_front() {
            if let Some(g) = self.groups.get(g) {
                for c in &g.children {
                    if seen.insert(c.as_str()) {
                        out.push(c.clone());
                        queue.push_back(c.as_str());
                    }
                }
            }
        }
        out
    }

    /// The groups `host` belongs to: those listing it and all their ancestors
    /// (including `all`), in no particular order. Empty for the implicit localhost.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        if self.is_implicit(host) {
            return vec![];
        }
        let parents = self.parents_map();
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for g in self.groups.values() {
            if g.hosts.iter().any(|h| h == host) && seen.insert(g.name.as_str()) {
                queue.push_back(g.name.as_str());
            }
        }
        while let Some(g) = queue.pop_front() {
            out.push(g.to_string());
            for p in parents.get(g).into_iter().flatten() {
                if seen.insert(p) {
                    queue.push_back(p);
                }
            }
        }
        if self.hosts.contains_key(host) && !out.iter().any(|g| g == "all") {
            out.push("all".into());
        }
        out
    }

    /// The `group_names` magic variable: the host's groups (with ancestors), sorted,
    /// without `all`. `ungrouped` appears only for hosts in no other group.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        names.sort();
        names
    }

    /// Hosts of a group: its own hosts in order, then those of its descendants (breadth
    /// first), each once. `all` gives every host in inventory order (without the
    /// implicit localhost). Unknown group: empty.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        if group == "all" {
            return self
                .hosts
                .keys()
                .filter(|h| !self.is_implicit(h))
                .cloned()
                .collect();
        }
        let Some(g) = self.groups.get(group) else {
            return vec![];
        };
        let descendants = self.descendants(group);
        let lists = std::iter::once(&g.hosts).chain(
            descendants
                .iter()
                .filter_map(|d| self.groups.get(d))
                .map(|dg| &dg.hosts),
        );
        let mut seen: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        for list in lists {
            for h in list {
                if seen.insert(h.as_str()) {
                    out.push(h.clone());
                }
            }
        }
        out
    }

    /// The `groups` magic variable: every group with its hosts (see [`Inventory::group_hosts`]).
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| (g.clone(), self.group_hosts(g)))
            .collect()
    }

    /// Depth of every group: the longest path from `all` (`all` is 0; a group no one
    /// lists as a child counts as a child of `all`).
    pub fn group_depths(&self) -> HashMap<String, usize> {
        let parents = self.parents_map();
        let mut memo: HashMap<String, usize> = HashMap::new();
        fn depth<'a>(
            g: &'a str,
            parents: &HashMap<&'a str, Vec<&'a str>>,
            memo: &mut HashMap<String, usize>,
            stack: &mut Vec<&'a str>,
        ) -> usize {
            if g == "all" {
                return 0;
            }
            if let Some(d) = memo.get(g) {
                return *d;
            }
            if stack.contains(&g) {
                return 0; // cycles are refused by add_child; stay finite anyway
            }
            stack.push(g);
            let d = match parents.get(g) {
                Some(ps) if !ps.is_empty() => ps
                    .iter()
                    .map(|p| depth(p, parents, memo, stack) + 1)
                    .max()
                    .unwrap_or(1),
                _ => 1,
            };
            stack.pop();
            memo.insert(g.to_string(), d);
            d
        }
        let mut stack = Vec::new();
        for g in self.groups.keys() {
            let d = depth(g, &parents, &mut memo, &mut stack);
            memo.insert(g.clone(), d);
        }
        memo
    }

    /// `ansible_group_priority` of a group (from its inventory-source variables; 1 when unset).
    pub fn group_priority(&self, group: &str) -> i64 {
        match self
            .groups
            .get(group)
            .and_then(|g| g.vars.get("ansible_group_priority"))
        {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
            _ => 1,
        }
    }

    /// The host's groups without `all`, in merge order: by depth, then
    /// `ansible_group_priority`, then name (later ones win).
    pub fn sorted_host_groups(&self, host: &str) -> Vec<String> {
        let depths = self.group_depths();
        let mut groups: Vec<String> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        groups.sort_by(|a, b| {
            let ka = (depths.get(a).copied().unwrap_or(1), self.group_priority(a));
            let kb = (depths.get(b).copied().unwrap_or(1), self.group_priority(b));
            ka.cmp(&kb).then_with(|| a.cmp(b))
        });
        groups
    }

    /// Every inventory variable of a host, merged as Ansible does (hash_behaviour
    /// `replace`: a later definition replaces the whole value):
    ///
    /// `all` group (inventory source) < other groups (inventory source) <
    /// inventory group_vars/all < playbook group_vars/all < inventory group_vars/* <
    /// playbook group_vars/* < host (inventory source) < inventory host_vars/ <
    /// playbook host_vars/. Groups are merged by depth, `ansible_group_priority`, name.
    /// Unknown host: the `all` variables only.
    pub fn host_vars(&self, host: &str) -> Vars {
        let mut out = Vars::new();
        let mut merge = |vars: Option<&Vars>| {
            for (k, v) in vars.into_iter().flatten() {
                out.insert(k.clone(), v.clone());
            }
        };
        let groups = self.sorted_host_groups(host);
        merge(self.groups.get("all").map(|g| &g.vars));
        merge(Some(&self.extra_vars_all));
        for g in &groups {
            merge(self.groups.get(g).map(|g| &g.vars));
        }
        for d in self
            .inventory_vars_dirs
            .iter()
            .chain(&self.playbook_vars_dirs)
        {
            merge(d.groups.get("all"));
        }
        for dirs in [&self.inventory_vars_dirs, &self.playbook_vars_dirs] {
            for d in dirs {
                for g in &groups {
                    merge(d.groups.get(g));
                }
            }
        }
        merge(self.hosts.get(host).map(|h| &h.vars));
        for d in self
            .inventory_vars_dirs
            .iter()
            .chain(&self.playbook_vars_dirs)
        {
            merge(d.hosts.get(host));
        }
        out
    }
}

/// Natural order of host names: digit runs compare as numbers (`api-2` < `api-10`),
/// everything else byte by byte; equal numbers with more leading zeros sort after
/// (`web01` > `web1`), so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    // The first difference in leading zeros between equal numbers.
    let mut zeros = Ordering::Equal;
    loop {
        match (x.first(), y.first()) {
            (None, None) => return zeros.then_with(|| a.cmp(b)),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let dx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let dy = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (nx, ny) = (&x[..dx], &y[..dy]);
                let tx = trim_zeros(nx);
                let ty = trim_zeros(ny);
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord != Ordering::Equal {
                    return ord;
                }
                zeros = zeros.then(dx.cmp(&dy));
                x = &x[dx..];
                y = &y[dy..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|c| **c == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

/// Where a source's group_vars/ and host_vars/ live: the directory itself, or the
/// file's directory; none for a `host1,host2,` list.
fn vars_dir_of_source(src: &Path) -> Option<PathBuf> {
    if !src.exists() {
        return None;
    }
    if src.is_dir() {
        return Some(src.to_path_buf());
    }
    match src.parent() {
        Some(p) if !p.as_os_str().is_empty() => Some(p.to_path_buf()),
        _ => Some(PathBuf::from(".")),
    }
}

/// Extensions Ansible ignores in an inventory directory (ansible-core 2.19+ default,
/// which reads `.ini`).
const IGNORED_EXTS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// The inventory files of a directory source: every entry, sorted, recursing into
/// subdirectories; skipping hidden entries, group_vars/, host_vars/, vars_plugins/ and
/// ignored extensions.
fn source_files_in_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read directory {}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for (name, path) in entries {
        if name.starts_with('.')
            || matches!(name.as_str(), "group_vars" | "host_vars" | "vars_plugins")
            || IGNORED_EXTS.iter().any(|ext| name.ends_with(ext))
        {
            continue;
        }
        if path.is_dir() {
            out.extend(source_files_in_dir(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

/// Whether an extension-less file that is neither valid YAML nor valid INI was meant
/// as YAML (so that the YAML error is the one reported).
fn looks_like_yaml(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    match first {
        Some(l) => {
            l == "---" || (!l.starts_with('[') && l.trim_end().ends_with(':') && !l.contains('='))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv_from_ini(text: &str) -> Inventory {
        let mut inv = Inventory::new();
        ini::parse(text, Path::new("hosts"), &mut inv).unwrap();
        inv.reconcile().unwrap();
        inv.add_implicit_localhost();
        inv
    }

    #[test]
    fn ungrouped_and_all() {
        let inv = inv_from_ini("lone\n[web]\nw1\nw2\n[db]\nd1\n");
        assert_eq!(inv.group_hosts("all"), ["lone", "w1", "w2", "d1"]);
        assert_eq!(inv.group_hosts("ungrouped"), ["lone"]);
        assert_eq!(inv.groups["all"].children, ["ungrouped", "web", "db"]);
        assert_eq!(inv.group_names("lone"), ["ungrouped"]);
        assert_eq!(inv.group_names("w1"), ["web"]);
        assert!(inv.is_implicit("localhost"));
        assert_eq!(
            inv.host_vars("localhost")["ansible_connection"],
            json!("local")
        );
        assert!(!inv.groups_map()["all"].contains(&"localhost".to_string()));
    }

    #[test]
    fn host_leaves_ungrouped_when_grouped_later() {
        let inv = inv_from_ini("h1\n[web]\nh1\n");
        assert!(inv.group_hosts("ungrouped").is_empty());
        assert_eq!(inv.group_names("h1"), ["web"]);
    }

    #[test]
    fn group_names_include_ancestors() {
        let inv = inv_from_ini("[web]\nw1\n[prod:children]\nweb\n");
        assert_eq!(inv.group_names("w1"), ["prod", "web"]);
        assert_eq!(inv.group_hosts("prod"), ["w1"]);
        assert_eq!(inv.groups["all"].children, ["ungrouped", "prod"]);
    }

    #[test]
    fn precedence_depth_then_priority_then_name() {
        let inv = inv_from_ini(
            "[a]\nh\n[b]\nh\n[parent:children]\na\nb\n\
             [all:vars]\nx=all\n[parent:vars]\nx=parent\ny=parent\n[a:vars]\nx=a\nz=a\n[b:vars]\nx=b\nz=b\n",
        );
        let v = inv.host_vars("h");
        assert_eq!(v["x"], json!("b"), "child groups beat parents, b after a");
        assert_eq!(v["y"], json!("parent"));
        let inv = inv_from_ini(
            "[a]\nh\n[b]\nh\n[a:vars]\nx=a\nansible_group_priority=10\n[b:vars]\nx=b\n",
        );
        assert_eq!(inv.host_vars("h")["x"], json!("a"), "higher priority wins");
    }

    #[test]
    fn host_vars_beat_group_vars() {
        let inv = inv_from_ini("[web]\nw1 x=host\n[web:vars]\nx=group\n");
        assert_eq!(inv.host_vars("w1")["x"], json!("host"));
    }

    #[test]
    fn cycles_are_refused() {
        let mut inv = Inventory::new();
        inv.add_child("a", "b").unwrap();
        inv.add_child("b", "c").unwrap();
        assert!(inv.add_child("c", "a").is_err());
        assert!(inv.add_child("a", "a").is_err());
    }

    #[test]
    fn explicit_localhost_is_regular() {
        let inv = inv_from_ini("[local]\nlocalhost ansible_connection=local\n");
        assert!(!inv.is_implicit("localhost"));
        assert_eq!(inv.group_hosts("all"), ["localhost"]);
    }

    #[tokio::test]
    async fn host_list_source() {
        let inv = Inventory::load(&[PathBuf::from("a.example.com,b:2222,")], None)
            .await
            .unwrap();
        assert_eq!(inv.group_hosts("ungrouped"), ["a.example.com", "b"]);
        assert_eq!(inv.host_vars("b")["ansible_port"], json!(2222));
    }

    #[test]
    fn runtime_hosts_join_groups_and_read_vars_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("group_vars")).unwrap();
        std::fs::write(d.path().join("group_vars/late.yml"), "from_file: late\n").unwrap();
        let mut inv = inv_from_ini("[web]\nw1\n");
        inv.set_playbook_dir(d.path()).unwrap();
        let mut vars = Vars::new();
        vars.insert("ansible_host".into(), json!("10.9.9.9"));
        inv.add_runtime_host("new1", &["late".to_string()], vars)
            .unwrap();
        assert_eq!(inv.groups["all"].children.last().unwrap(), "late");
        assert_eq!(inv.group_names("new1"), ["late"]);
        assert_eq!(inv.host_vars("new1")["from_file"], json!("late"));
        assert_eq!(inv.host_vars("new1")["ansible_host"], json!("10.9.9.9"));
        inv.add_runtime_host("w1", &["late".to_string()], Vars::new())
            .unwrap();
        assert_eq!(inv.group_names("w1"), ["late", "web"]);
        inv.add_runtime_host("solo", &[], Vars::new()).unwrap();
        assert_eq!(inv.group_names("solo"), ["ungrouped"]);
    }

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        let mut names = vec![
            "api-10", "api-2", "api-1", "web01", "web1", "api", "b", "a10b2", "a10b10",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["a10b2", "a10b10", "api", "api-1", "api-2", "api-10", "b", "web1", "web01"]
        );
    }

    #[test]
    fn static_sources_keep_file_order() {
        let inv = inv_from_ini("[api]\napi-10\napi-2\napi-1\n");
        assert_eq!(inv.group_hosts("api"), ["api-10", "api-2", "api-1"]);
        assert_eq!(inv.group_hosts("all"), ["api-10", "api-2", "api-1"]);
        let mut inv = Inventory::new();
        let doc = crate::yaml::load_str(
            "all:\n  children:\n    api:\n      hosts:\n        api-10:\n        api-2:\n        api-1:\n",
            Path::new("hosts.yml"),
        )
        .unwrap();
        yaml_inv::parse(&doc, &mut inv).unwrap();
        inv.reconcile().unwrap();
        assert_eq!(inv.group_hosts("api"), ["api-10", "api-2", "api-1"]);
        assert_eq!(inv.group_hosts("all"), ["api-10", "api-2", "api-1"]);
    }

    #[test]
    fn yaml_detection_heuristic() {
        assert!(looks_like_yaml("all:\n  hosts: [\n"));
        assert!(!looks_like_yaml("[web]\nw1 a=\"\n"));
    }
}
