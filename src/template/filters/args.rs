//! Argument handling: Python-style binding of positional and keyword arguments.

use super::*;

pub(crate) fn fail(msg: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

pub(crate) fn undefined_error(what: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedError,
        format!("{what}: the value is undefined"),
    )
}

/// Fails on an undefined value (Ansible renders with strict undefined).
pub(crate) fn defined(v: &Value, what: &str) -> Result<(), Error> {
    if v.is_undefined() {
        Err(undefined_error(what))
    } else {
        Ok(())
    }
}

/// Positional and keyword arguments of a filter, test or function, bound like Python does.
pub(crate) struct Params {
    name: &'static str,
    pos: std::collections::VecDeque<Value>,
    pub(crate) kw: IndexMap<String, Value>,
}

impl Params {
    pub(crate) fn new(name: &'static str, args: Rest<ValueOrKwargs>) -> Params {
        Params::from_values(
            name,
            args.0.into_iter().map(ValueOrKwargs::into_value).collect(),
        )
    }

    pub(crate) fn from_values(name: &'static str, values: Vec<Value>) -> Params {
        let mut pos = std::collections::VecDeque::new();
        let mut kw = IndexMap::new();
        for v in values {
            if v.is_kwargs() {
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let val = v.get_item(&k).unwrap_or_default();
                        kw.insert(k.as_str().unwrap_or_default().to_string(), val);
                    }
                }
            } else {
                pos.push_back(v);
            }
        }
        Params { name, pos, kw }
    }

    /// The next parameter: the next positional argument, else the keyword argument.
    pub(crate) fn take(&mut self, param: &str) -> Option<Value> {
        if let Some(v) = self.pos.pop_front() {
            return Some(v);
        }
        self.kw.shift_remove(param)
    }

    /// A keyword-only parameter.
    pub(crate) fn kw(&mut self, param: &str) -> Option<Value> {
        self.kw.shift_remove(param)
    }

    /// Every remaining positional argument.
    pub(crate) fn rest(&mut self) -> Vec<Value> {
        self.pos.drain(..).collect()
    }

    /// Every remaining keyword argument.
    pub(crate) fn rest_kw(&mut self) -> IndexMap<String, Value> {
        std::mem::take(&mut self.kw)
    }

    pub(crate) fn finish(self) -> Result<(), Error> {
        if !self.pos.is_empty() {
            return Err(Error::new(
                ErrorKind::TooManyArguments,
                format!("{}: too many positional arguments", self.name),
            ));
        }
        if let Some(k) = self.kw.keys().next() {
            return Err(Error::new(
                ErrorKind::TooManyArguments,
                format!("{}: unexpected keyword argument '{k}'", self.name),
            ));
        }
        Ok(())
    }
}

pub(crate) fn opt_bool(v: Option<Value>, default: bool) -> bool {
    match v {
        Some(v) if !v.is_none() && !v.is_undefined() => v.is_true(),
        _ => default,
    }
}

pub(crate) fn opt_string(v: Option<Value>) -> Option<String> {
    match v {
        Some(v) if !v.is_none() && !v.is_undefined() => Some(py_str(&v)),
        _ => None,
    }
}

pub(crate) fn opt_int(v: Option<Value>, what: &str) -> Result<Option<i64>, Error> {
    match v {
        Some(v) if !v.is_none() && !v.is_undefined() => {
            if let Some(i) = v.as_i64() {
                return Ok(Some(i));
            }
            if let Some(s) = v.as_str() {
                if let Some(i) = parse_py_int(s, 10) {
                    return Ok(Some(i as i64));
                }
            }
            if v.kind() == ValueKind::Bool {
                return Ok(Some(v.is_true() as i64));
            }
            Err(fail(format!(
                "{what} must be an integer, got {}",
                py_repr(&v)
            )))
        }
        _ => Ok(None),
    }
}

/// The items of a list-like value (lists, tuples, iterables; not strings or mappings).
pub(crate) fn is_list(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

pub(crate) fn to_vec(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

/// The key/value pairs of a mapping, in order.
pub(crate) fn map_items(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        out.push((k, val));
    }
    Ok(out)
}

pub(crate) fn new_map(pairs: impl IntoIterator<Item = (Value, Value)>) -> Value {
    Value::from_pairs(pairs)
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(v.is_true() as i64 as f64),
        _ => None,
    }
}

pub(crate) fn as_i128(v: &Value) -> Option<i128> {
    if v.is_integer() {
        i128::try_from(v.clone()).ok()
    } else if v.kind() == ValueKind::Bool {
        Some(v.is_true() as i128)
    } else {
        None
    }
}
