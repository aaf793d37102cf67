//! Typed access to a task's (already templated) module arguments, with Ansible's
//! conversions: `yes`/`no`/`true`/`1` booleans, numbers given as strings, lists given
//! as comma-separated strings.

use super::ModuleError;
use serde_json::{Map, Value};

/// Module arguments after templating and `omit` removal.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub map: Map<String, Value>,
}

impl Args {
    pub fn new(map: Map<String, Value>) -> Self {
        Args { map }
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// The free-form string (`command: echo hi`), if any.
    pub fn raw_params(&self) -> Option<String> {
        self.str("_raw_params").or_else(|| self.str("cmd"))
    }

    /// A string argument (numbers and booleans are stringified).
    pub fn str(&self, key: &str) -> Option<String> {
        self.get(key).map(value_to_string)
    }
    pub fn req_str(&self, key: &str) -> Result<String, ModuleError> {
        self.str(key)
            .ok_or_else(|| ModuleError::failed(format!("missing required argument: {key}")))
    }
    /// First present of several names (aliases such as `path`/`dest`/`name`).
    pub fn str_any(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.str(k))
    }
    pub fn req_str_any(&self, keys: &[&str]) -> Result<String, ModuleError> {
        self.str_any(keys)
            .ok_or_else(|| ModuleError::failed(format!("missing required argument: {}", keys[0])))
    }

    /// A boolean argument with Ansible's truthy strings.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ModuleError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => to_bool(v).map(Some).ok_or_else(|| {
                ModuleError::failed(format!("argument {key}: {v} is not a valid boolean"))
            }),
        }
    }
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ModuleError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ModuleError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| ModuleError::failed(format!("argument {key}: not an integer"))),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                ModuleError::failed(format!("argument {key}: {s:?} is not an integer"))
            }),
            Some(v) => Err(ModuleError::failed(format!(
                "argument {key}: {v} is not an integer"
            ))),
        }
    }
    pub fn float(&self, key: &str) -> Result<Option<f64>, ModuleError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => {
                s.trim().parse::<f64>().map(Some).map_err(|_| {
                    ModuleError::failed(format!("argument {key}: {s:?} is not a number"))
                })
            }
            Some(v) => Err(ModuleError::failed(format!(
                "argument {key}: {v} is not a number"
            ))),
        }
    }

    /// A list argument: a YAML list, or a comma-separated string.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        match self.get(key)? {
            Value::Array(a) => Some(
                a.iter()
                    .filter(|v| !v.is_null())
                    .map(value_to_string)
                    .collect(),
            ),
            Value::String(s) => Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            ),
            v => Some(vec![value_to_string(v)]),
        }
    }

    /// A `mode` argument normalised to what `chmod` takes: an octal string (`0644`)
    /// for numbers (YAML `0644` is the integer 420), or the symbolic string as given.
    pub fn mode(&self, key: &str) -> Result<Option<String>, ModuleError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let i = n
                    .as_i64()
                    .ok_or_else(|| ModuleError::failed("mode must be an integer or a string"))?;
                Ok(Some(format!("0{:o}", i)))
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                if s.bytes().all(|b| b.is_ascii_digit()) {
                    if !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                        return Err(ModuleError::failed(format!(
                            "mode {s:?} is not a valid octal mode"
                        )));
                    }
                    let t = s.trim_start_matches('0');
                    return Ok(Some(format!("0{}", if t.is_empty() { "0" } else { t })));
                }
                if s == "preserve" {
                    return Ok(Some("preserve".into()));
                }
                if !s.bytes().all(|b| b"ugoarwxXst+-=,".contains(&b)) {
                    return Err(ModuleError::failed(format!(
                        "mode {s:?} is not a valid mode"
                    )));
                }
                Ok(Some(s.to_string()))
            }
            Some(v) => Err(ModuleError::failed(format!("mode {v} is not valid"))),
        }
    }

    /// Fails when an argument not in `known` is present (names starting with `_` are internal).
    pub fn check_known(&self, module: &str, known: &[&str]) -> Result<(), ModuleError> {
        for k in self.map.keys() {
            if !k.starts_with('_') && !known.contains(&k.as_str()) {
                return Err(ModuleError::failed(format!(
                    "Unsupported parameters for ({module}) module: {k}. Supported parameters include: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Ansible's boolean conversion.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64().map(|f| f != 0.0).unwrap_or(false)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
            "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

/// Stringifies a value as Ansible would pass it to a module.
pub fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        Args::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn modes() {
        let a = args(json!({"a": 420, "b": "0644", "c": "644", "d": "u=rw,g=r", "e": "0999"}));
        assert_eq!(a.mode("a").unwrap().as_deref(), Some("0644"));
        assert_eq!(a.mode("b").unwrap().as_deref(), Some("0644"));
        assert_eq!(a.mode("c").unwrap().as_deref(), Some("0644"));
        assert_eq!(a.mode("d").unwrap().as_deref(), Some("u=rw,g=r"));
        assert!(a.mode("e").is_err());
    }

    #[test]
    fn bools() {
        let a = args(json!({"a": "yes", "b": "False", "c": 1, "d": "maybe"}));
        assert_eq!(a.bool("a").unwrap(), Some(true));
        assert_eq!(a.bool("b").unwrap(), Some(false));
        assert_eq!(a.bool("c").unwrap(), Some(true));
        assert!(a.bool("d").is_err());
    }
}
