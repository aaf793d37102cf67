//! `group_vars/` and `host_vars/` directories (Ansible's `host_group_vars` plugin).
//!
//! For an entity `NAME` (a group or a host) the first of these that exists is used:
//! `NAME` (a file, or a directory whose files are merged in lexical order, recursing
//! into subdirectories, skipping hidden files and backups `*~`, taking only files with
//! no extension or `.yml`/`.yaml`/`.json`), `NAME.yml`, `NAME.yaml`, `NAME.json`.
//! Each file holds a mapping of variables (or nothing).

use super::{Inventory, Vars};
use crate::error::{Error, Result, Span};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

const VARS_EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// The variables of one directory's `group_vars/` and `host_vars/`, for the groups and
/// hosts of the inventory.
#[derive(Debug, Clone, Default)]
pub struct VarsDir {
    /// The directory holding `group_vars/` and/or `host_vars/`.
    pub dir: PathBuf,
    pub groups: IndexMap<String, Vars>,
    pub hosts: IndexMap<String, Vars>,
}

impl VarsDir {
    /// Loads the files for every group and host of `inv`; None when `dir` has neither
    /// `group_vars/` nor `host_vars/`.
    pub fn load(dir: &Path, inv: &Inventory) -> Result<Option<VarsDir>> {
        let gdir = dir.join("group_vars");
        let hdir = dir.join("host_vars");
        if !gdir.is_dir() && !hdir.is_dir() {
            return Ok(None);
        }
        let mut out = VarsDir {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        if gdir.is_dir() {
            for g in inv.groups.keys() {
                if let Some(vars) = load_entity(&gdir, g)? {
                    out.groups.insert(g.clone(), vars);
                }
            }
        }
        if hdir.is_dir() {
            for h in inv.hosts.keys() {
                if let Some(vars) = load_entity(&hdir, h)? {
                    out.hosts.insert(h.clone(), vars);
                }
            }
        }
        Ok(Some(out))
    }
}

/// The variables of one group or host from `base` (`group_vars/` or `host_vars/`),
/// None when no file exists for it.
pub fn load_entity(base: &Path, name: &str) -> Result<Option<Vars>> {
    let files = find_vars_files(base, name);
    if files.is_empty() {
        return Ok(None);
    }
    let mut vars = Vars::new();
    for f in files {
        for (k, v) in load_vars_file(&f)? {
            vars.insert(k, v);
        }
    }
    Ok(Some(vars))
}

/// The files holding the variables of `name` under `base` (see the module docs).
pub fn find_vars_files(base: &Path, name: &str) -> Vec<PathBuf> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return vec![];
    }
    let plain = base.join(name);
    if plain.is_dir() {
        return dir_vars_files(&plain);
    }
    if plain.is_file() {
        return vec![plain];
    }
    for ext in VARS_EXTENSIONS {
        let p = base.join(format!("{name}.{ext}"));
        if p.is_dir() {
            return dir_vars_files(&p);
        }
        if p.is_file() {
            return vec![p];
        }
    }
    vec![]
}

fn dir_vars_files(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<(String, PathBuf)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect(),
        Err(_) => return vec![],
    };
    names.sort();
    let mut out = Vec::new();
    for (name, path) in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let ext = Path::new(&name)
            .extension()
            .map(|e| e.to_string_lossy().into_owned());
        if path.is_dir() {
            if ext.is_none() {
                out.extend(dir_vars_files(&path));
            }
        } else if ext.as_deref().is_none_or(|e| VARS_EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
    out
}

/// Reads one vars file: a YAML (or JSON) mapping, or an empty file.
pub fn load_vars_file(path: &Path) -> Result<Vars> {
    let (text, vaulted) = crate::vault::read_text(path)?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json {
        if text.trim().is_empty() {
            return Ok(Vars::new());
        }
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            let span = Span {
                file: std::sync::Arc::new(path.to_path_buf()),
                line: e.line().max(1),
                col: e.column().max(1),
            };
            Error::source_at(&span, format!("invalid JSON: {e}"))
        })?;
        if vaulted {
            crate::vault::censor::register_json(&v);
        }
        return match v {
            serde_json::Value::Object(m) => Ok(m.into_iter().collect()),
            serde_json::Value::Null => Ok(Vars::new()),
            other => Err(Error::source_at(
                &Span::file_start(path),
                format!("a vars file must hold a mapping of variables, found {other}"),
            )),
        };
    }
    let doc = crate::yaml::load_str(&text, path)?;
    if vaulted {
        crate::vault::censor::register_values(&doc);
    }
    if doc.is_null() {
        return Ok(Vars::new());
    }
    let Some(entries) = doc.as_map() else {
        return Err(doc.error(format!(
            "a vars file must hold a mapping of variables, found a {}",
            doc.type_name()
        )));
    };
    let mut vars = Vars::new();
    for (k, v) in entries {
        let key = k
            .key_string()
            .ok_or_else(|| k.error("a variable name must be a string"))?;
        vars.insert(key, v.to_json());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_precedence_and_directories() {
        let d = tempfile::tempdir().unwrap();
        let g = d.path().join("group_vars");
        std::fs::create_dir_all(g.join("web/sub")).unwrap();
        std::fs::write(g.join("web/10-a.yml"), "a: 1\nb: 1\n").unwrap();
        std::fs::write(g.join("web/20-b.yaml"), "b: 2\n").unwrap();
        std::fs::write(g.join("web/sub/c.json"), r#"{"c": 3}"#).unwrap();
        std::fs::write(g.join("web/notes.md"), "ignored: true\n").unwrap();
        std::fs::write(g.join("web/.hidden.yml"), "ignored: true\n").unwrap();
        std::fs::write(g.join("web/x.yml~"), "ignored: true\n").unwrap();
        std::fs::write(g.join("web.yml"), "shadowed: true\n").unwrap();
        std::fs::write(g.join("db.yml"), "db: yml\n").unwrap();
        std::fs::write(g.join("db.json"), r#"{"db": "json"}"#).unwrap();
        std::fs::write(g.join("all"), "---\n# empty\n").unwrap();
        let web = load_entity(&g, "web").unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&web).unwrap(),
            json!({"a": 1, "b": 2, "c": 3})
        );
        assert_eq!(load_entity(&g, "db").unwrap().unwrap()["db"], json!("yml"));
        assert_eq!(load_entity(&g, "all").unwrap().unwrap().len(), 0);
        assert!(load_entity(&g, "nope").unwrap().is_none());
    }

    #[test]
    fn bad_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.yml");
        std::fs::write(&f, "- a\n").unwrap();
        let e = load_vars_file(&f).unwrap_err().to_string();
        assert!(
            e.contains("x.yml:1:1: a vars file must hold a mapping"),
            "{e}"
        );
        std::fs::write(&f, "$ANSIBLE_VAULT;1.1;AES256\n6162\n").unwrap();
        let e = load_vars_file(&f).unwrap_err().to_string();
        assert!(e.contains("x.yml: invalid ansible-vault data"), "{e}");
        let j = d.path().join("x.json");
        std::fs::write(&j, "{\n  \"a\": ,\n}").unwrap();
        let e = load_vars_file(&j).unwrap_err().to_string();
        assert!(e.contains("x.json:2:"), "{e}");
    }
}
