//! Variable scopes. A [`Scope`] is a stack of layers in Ansible's precedence order
//! (highest first); values are templated lazily when read, as in Ansible, so that
//! `url: "http://{{ lb_host }}:{{ port }}"` in group_vars renders in the task's context.

use crate::template::Templar;
use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use parking_lot::Mutex;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

pub type Layer = Arc<IndexMap<String, Value>>;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Lazily-templated variables of one host for one task.
pub struct Scope {
    layers: Vec<Layer>,
    templar: Templar,
    cache: Mutex<HashMap<String, Value>>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<vars>")
    }
}

impl Scope {
    /// Layers are given highest precedence first.
    pub fn new(layers: Vec<Layer>, templar: Templar) -> Arc<Scope> {
        Arc::new(Scope {
            layers,
            templar,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A new scope with one more layer on top.
    pub fn with_top(self: &Arc<Self>, top: IndexMap<String, Value>) -> Arc<Scope> {
        let mut layers = Vec::with_capacity(self.layers.len() + 1);
        layers.push(Arc::new(top));
        layers.extend(self.layers.iter().cloned());
        Scope::new(layers, self.templar.clone())
    }

    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.layers.iter().find_map(|l| l.get(key))
    }

    pub fn value(self: &Arc<Self>) -> Value {
        Value::from_dyn_object(self.clone())
    }

    /// Reads and templates a variable.
    pub fn get(self: &Arc<Self>, key: &str) -> Option<Value> {
        let raw = self.raw(key)?.clone();
        if !needs_render(&raw) {
            return Some(raw);
        }
        if let Some(v) = self.cache.lock().get(key) {
            return Some(v.clone());
        }
        let depth = DEPTH.with(|d| d.get());
        if depth > 30 {
            return Some(Value::from(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("recursive loop detected in template for variable `{key}`"),
            )));
        }
        DEPTH.with(|d| d.set(depth + 1));
        let res = self.templar.render_value(&raw, &self.value());
        DEPTH.with(|d| d.set(depth));
        let v = match res {
            Ok(v) => v,
            Err(e) => Value::from(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("in variable `{key}`: {}", e.message),
            )),
        };
        self.cache.lock().insert(key.to_string(), v.clone());
        Some(v)
    }

    /// All variable names (deduplicated, highest layer first).
    pub fn keys(&self) -> Vec<String> {
        let mut seen = IndexMap::new();
        for l in &self.layers {
            for k in l.keys() {
                seen.entry(k.clone()).or_insert(());
            }
        }
        seen.into_keys().collect()
    }
}

/// Whether a value contains template syntax anywhere.
pub fn needs_render(v: &Value) -> bool {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::String => v.as_str().map(Templar::is_template).unwrap_or(false),
        ValueKind::Seq => v
            .try_iter()
            .map(|mut it| it.any(|i| needs_render(&i)))
            .unwrap_or(false),
        ValueKind::Map => v
            .try_iter()
            .map(|mut it| {
                it.any(|k| {
                    v.get_item(&k).map(|x| needs_render(&x)).unwrap_or(false) || needs_render(&k)
                })
            })
            .unwrap_or(false),
        _ => false,
    }
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key.as_str()?)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(self.keys().into_iter().map(Value::from)))
    }
}

/// `hostvars`: every host's variables, built on demand.
pub struct HostVars {
    pub lookup: Arc<dyn Fn(&str) -> Option<Value> + Send + Sync>,
    pub names: Arc<Vec<String>>,
}

impl std::fmt::Debug for HostVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hostvars>")
    }
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (self.lookup)(key.as_str()?)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(
            self.names
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>()
                .into_iter(),
        ))
    }
}

/// Converts a JSON map into a layer.
pub fn layer_from_json(m: &IndexMap<String, serde_json::Value>) -> Layer {
    Arc::new(
        m.iter()
            .map(|(k, v)| (k.clone(), crate::template::from_json(v)))
            .collect(),
    )
}

/// A list of host names shared by every task and host of a play (`play_hosts`,
/// `ansible_play_batch`...): cloning it and handing it to templates costs O(1), where
/// a `Vec` would cost O(hosts) per task and host, i.e. O(hosts²) per task.
#[derive(Clone, Default)]
pub struct HostList {
    names: Arc<Vec<String>>,
    value: Value,
}

impl HostList {
    /// The list as a template value (shared, not copied).
    pub fn value(&self) -> Value {
        self.value.clone()
    }
}

impl From<Vec<String>> for HostList {
    fn from(names: Vec<String>) -> Self {
        let value = Value::from(names.clone());
        HostList {
            names: Arc::new(names),
            value,
        }
    }
}

impl std::ops::Deref for HostList {
    type Target = Vec<String>;
    fn deref(&self) -> &Vec<String> {
        &self.names
    }
}
