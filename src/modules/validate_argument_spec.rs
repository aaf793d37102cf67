//! The `validate_argument_spec` module: checks variables against an argument spec as
//! ansible-core's `ArgumentSpecValidator` does — `required`, `type` (with its
//! conversions: `"8080"` is an int, `"yes"` a bool, `"a,b"` a list), `choices`,
//! `elements` of lists and nested `options` of dicts. Runs on the controller only.
//!
//! Given `argument_spec` (and `provided_arguments`), as a task writes it; or, for the
//! task the loader puts at the start of a role with `meta/argument_specs.yml`, the spec
//! file and entry point (`_spec_file`, `_entry_point`, `_role`). Each option's value is
//! the provided one, else the host's variable of that name. A failure names the role,
//! every wrong option and the expected type.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;
use serde_json::{Map, Value};

pub struct ValidateArgumentSpec;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Converts `v` to `ty` as ansible-core's `check_type_*` do; `Err(reason)` otherwise.
pub fn convert(v: &Value, ty: &str) -> Result<Value, String> {
    let fail = |why: &str| Err(format!("{} cannot be converted to {why}", type_name(v)));
    match ty {
        "raw" => Ok(v.clone()),
        "str" | "path" => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Bool(b) => Ok(Value::String(if *b { "True" } else { "False" }.into())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => fail("a str"),
        },
        "int" => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                Ok(Value::from(n.as_f64().unwrap() as i64))
            }
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| fail("an int")),
            _ => fail("an int"),
        },
        "float" => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(Value::from)
                .or_else(|_| fail("a float")),
            _ => fail("a float"),
        },
        "bool" => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(Value::Bool(n.as_i64() == Some(1)))
            }
            Value::String(s) => match s.to_lowercase().as_str() {
                "y" | "yes" | "on" | "1" | "true" | "t" => Ok(Value::Bool(true)),
                "n" | "no" | "off" | "0" | "false" | "f" => Ok(Value::Bool(false)),
                _ => fail("a bool"),
            },
            _ => fail("a bool"),
        },
        "list" => match v {
            Value::Array(_) => Ok(v.clone()),
            Value::String(s) => Ok(Value::Array(
                s.split(',').map(|x| Value::String(x.to_string())).collect(),
            )),
            Value::Number(_) => Ok(Value::Array(vec![Value::String(v.to_string())])),
            _ => fail("a list"),
        },
        "dict" => match v {
            Value::Object(_) => Ok(v.clone()),
            Value::String(s) if s.trim_start().starts_with('{') => {
                serde_json::from_str(s).or_else(|_| fail("a dict"))
            }
            Value::String(s) if s.contains('=') => {
                let mut m = Map::new();
                for kv in s.split([',', ' ']).filter(|x| !x.is_empty()) {
                    let (k, val) = kv.split_once('=').ok_or("not k=v".to_string())?;
                    m.insert(k.trim().to_string(), Value::String(val.trim().to_string()));
                }
                Ok(Value::Object(m))
            }
            _ => fail("a dict"),
        },
        "bytes" | "bits" => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) if s.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                Ok(v.clone())
            }
            _ => fail(&format!("{ty} (a size such as 10M)")),
        },
        "json" | "jsonarg" => match v {
            Value::String(_) => Ok(v.clone()),
            other => Ok(Value::String(other.to_string())),
        },
        other => Err(format!("unknown type {other}")),
    }
}

/// Validates `values` against `options`; `prefix` names the enclosing option.
pub fn validate(
    options: &Map<String, Value>,
    values: &dyn Fn(&str) -> Option<Value>,
    prefix: &str,
    errors: &mut Vec<String>,
) {
    let mut missing = Vec::new();
    for (name, spec) in options {
        let full = format!("{prefix}{name}");
        let spec = spec.as_object().cloned().unwrap_or_default();
        let Some(v) = values(name).filter(|v| !v.is_null()) else {
            if spec
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                missing.push(full);
            }
            continue;
        };
        let ty = spec.get("type").and_then(Value::as_str).unwrap_or("str");
        let v = match convert(&v, ty) {
            Ok(c) => c,
            Err(why) => {
                errors.push(format!(
                    "argument '{full}' is of type {} and we were unable to convert to {ty}: {why}",
                    type_name(&v)
                ));
                continue;
            }
        };
        if let Some(Value::Array(choices)) = spec.get("choices") {
            let items: Vec<&Value> = match &v {
                Value::Array(a) if ty == "list" => a.iter().collect(),
                other => vec![other],
            };
            let shown = |c: &Value| {
                c.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| c.to_string())
            };
            for it in items {
                let ok = choices.iter().any(|c| c == it || shown(c) == shown(it));
                if !ok {
                    errors.push(format!(
                        "value of {full} must be one of: {}, got: {}",
                        choices.iter().map(shown).collect::<Vec<_>>().join(", "),
                        shown(it)
                    ));
                }
            }
        }
        if let (Value::Array(items), Some(et)) = (&v, spec.get("elements").and_then(Value::as_str))
        {
            for (i, it) in items.iter().enumerate() {
                match convert(it, et) {
                    Err(why) => errors.push(format!(
                        "Elements value for option '{full}' is of type {} and we were unable to convert to {et}: {why} (item {i})",
                        type_name(it)
                    )),
                    Ok(c) => {
                        if let (Value::Object(sub), Some(Value::Object(subspec))) = (&c, spec.get("options")) {
                            validate(subspec, &|k| sub.get(k).cloned(), &format!("{full}[{i}]."), errors);
                        }
                    }
                }
            }
        }
        if let (Value::Object(sub), Some(Value::Object(subspec))) = (&v, spec.get("options")) {
            if ty == "dict" {
                validate(
                    subspec,
                    &|k| sub.get(k).cloned(),
                    &format!("{full}."),
                    errors,
                );
            }
        }
    }
    if !missing.is_empty() {
        errors.insert(
            0,
            format!("missing required arguments: {}", missing.join(", ")),
        );
    }
}

#[async_trait]
impl Module for ValidateArgumentSpec {
    fn name(&self) -> &'static str {
        "validate_argument_spec"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["argument_spec", "provided_arguments"])
    }
    fn returns(&self) -> &'static [&'static str] {
        &[
            "argument_errors",
            "argument_spec_data",
            "validate_args_context",
        ]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let (options, context) = match args.str("_spec_file") {
            Some(file) => {
                let entry = args.str("_entry_point").unwrap_or_else(|| "main".into());
                let role = args.str("_role").unwrap_or_default();
                let doc = crate::yaml::load_file(std::path::Path::new(&file))
                    .map_err(|e| ModuleError::failed(e.to_string()))?;
                let spec = doc.to_json();
                let opts = spec["argument_specs"][entry.as_str()]["options"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                (opts, format!("role {role}, entry point {entry} ({file})"))
            }
            None => {
                let spec = args
                    .get("argument_spec")
                    .and_then(Value::as_object)
                    .cloned()
                    .ok_or_else(|| {
                        ModuleError::failed(
                            "validate_argument_spec needs argument_spec (a mapping)",
                        )
                    })?;
                (spec, "the task's argument_spec".to_string())
            }
        };
        let provided = args
            .get("provided_arguments")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let vars = ctx.vars;
        let lookup = |k: &str| -> Option<Value> {
            if let Some(v) = provided.get(k) {
                return Some(v.clone());
            }
            let v = vars.get_attr(k).ok()?;
            if v.is_undefined() {
                return None;
            }
            Some(crate::template::to_json(&v))
        };
        let mut errors = Vec::new();
        validate(&options, &lookup, "", &mut errors);
        if errors.is_empty() {
            return Ok(Outcome::ok()
                .with_msg("The arg spec validation passed")
                .with("validate_args_context", context));
        }
        let mut o = Outcome::failed(format!(
            "Validation of arguments failed ({context}):\n{}",
            errors.join("\n")
        ));
        o.data.insert("argument_errors".into(), Value::from(errors));
        o.data
            .insert("argument_spec_data".into(), Value::Object(options));
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(spec: Value, vals: Value) -> Vec<String> {
        let mut e = Vec::new();
        let vals = vals.as_object().unwrap().clone();
        validate(
            spec.as_object().unwrap(),
            &|k| vals.get(k).cloned(),
            "",
            &mut e,
        );
        e
    }

    #[test]
    fn types_required_choices_elements_options() {
        let spec = json!({
            "name": {"type": "str", "required": true},
            "port": {"type": "int"},
            "mode": {"choices": ["a", "b"]},
            "tags": {"type": "list", "elements": "int"},
            "tuning": {"type": "dict", "options": {"threads": {"type": "int"}}},
            "on": {"type": "bool"}
        });
        assert!(check(
            spec.clone(),
            json!({"name": "x", "port": "8080", "on": "yes", "tags": [1, "2"]})
        )
        .is_empty());
        let e = check(spec.clone(), json!({"port": "eighty"}));
        assert_eq!(e[0], "missing required arguments: name");
        assert!(
            e[1].starts_with("argument 'port' is of type str and we were unable to convert to int"),
            "{e:?}"
        );
        let e = check(spec.clone(), json!({"name": "x", "mode": "c"}));
        assert_eq!(e, vec!["value of mode must be one of: a, b, got: c"]);
        let e = check(spec.clone(), json!({"name": "x", "tags": [1, "z"]}));
        assert!(e[0].contains("Elements value for option 'tags'"), "{e:?}");
        let e = check(spec, json!({"name": "x", "tuning": {"threads": "many"}}));
        assert!(
            e[0].starts_with("argument 'tuning.threads' is of type str"),
            "{e:?}"
        );
    }
}
