//! Lists and dictionaries.

use super::*;

pub(crate) fn list_arg(v: &Value, what: &str) -> Result<Vec<Value>, Error> {
    defined(v, what)?;
    to_vec(v).map_err(|_| {
        fail(format!(
            "{what} expects a list, got {}",
            python_type_name(v)
        ))
    })
}

/// Order-preserving, case-sensitive unique.
pub(crate) fn unique_values(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

pub(crate) fn union(a: &Value, b: &Value) -> Result<Value, Error> {
    let mut items = list_arg(a, "union")?;
    items.extend(list_arg(b, "union")?);
    Ok(Value::from(unique_values(items)))
}

pub(crate) fn intersect(a: &Value, b: &Value) -> Result<Value, Error> {
    let b = list_arg(b, "intersect")?;
    let items = list_arg(a, "intersect")?
        .into_iter()
        .filter(|x| b.contains(x))
        .collect();
    Ok(Value::from(unique_values(items)))
}

pub(crate) fn difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let b = list_arg(b, "difference")?;
    let items = list_arg(a, "difference")?
        .into_iter()
        .filter(|x| !b.contains(x))
        .collect();
    Ok(Value::from(unique_values(items)))
}

pub(crate) fn symmetric_difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let isect = to_vec(&intersect(a, b)?)?;
    let all = to_vec(&union(a, b)?)?;
    Ok(Value::from(
        all.into_iter()
            .filter(|x| !isect.contains(x))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn flatten_into(
    out: &mut Vec<Value>,
    items: Vec<Value>,
    levels: Option<i64>,
    skip_nulls: bool,
) -> Result<(), Error> {
    for item in items {
        let is_null = item.is_none() || matches!(item.as_str(), Some("None" | "null"));
        if skip_nulls && is_null {
            continue;
        }
        if is_list(&item) {
            match levels {
                None => flatten_into(out, to_vec(&item)?, None, skip_nulls)?,
                Some(l) if l >= 1 => flatten_into(out, to_vec(&item)?, Some(l - 1), skip_nulls)?,
                Some(_) => out.push(item),
            }
        } else {
            out.push(item);
        }
    }
    Ok(())
}

/// `flatten(levels=None, skip_nulls=True)`.
pub(crate) fn flatten(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("flatten", args);
    let levels = opt_int(p.take("levels"), "levels")?;
    let skip_nulls = opt_bool(p.take("skip_nulls"), true);
    p.finish()?;
    let mut out = Vec::new();
    flatten_into(&mut out, list_arg(value, "flatten")?, levels, skip_nulls)?;
    Ok(Value::from(out))
}

pub(crate) fn is_map(v: &Value) -> bool {
    v.kind() == ValueKind::Map
}

/// Ansible's `merge_hash(x, y, recursive, list_merge)`: `y` wins.
pub(crate) fn merge_hash(
    x: &Value,
    y: &Value,
    recursive: bool,
    list_merge: &str,
) -> Result<Value, Error> {
    if !matches!(
        list_merge,
        "replace" | "keep" | "append" | "prepend" | "append_rp" | "prepend_rp"
    ) {
        return Err(fail(
            "merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
        ));
    }
    if !is_map(x) || !is_map(y) {
        return Err(fail(format!(
            "failed to combine variables, expected dicts but got a '{}' and a '{}'",
            python_type_name(x),
            python_type_name(y)
        )));
    }
    let mut out: IndexMap<Value, Value> = map_items(x)?.into_iter().collect();
    for (key, y_value) in map_items(y)? {
        let Some(x_value) = out.get(&key).cloned() else {
            out.insert(key, y_value);
            continue;
        };
        if is_map(&x_value) && is_map(&y_value) {
            let merged = if recursive {
                merge_hash(&x_value, &y_value, recursive, list_merge)?
            } else {
                y_value
            };
            out.insert(key, merged);
            continue;
        }
        if x_value.kind() == ValueKind::Seq && y_value.kind() == ValueKind::Seq {
            let xs = to_vec(&x_value)?;
            let ys = to_vec(&y_value)?;
            let merged: Vec<Value> = match list_merge {
                "replace" => ys,
                "append" => xs.into_iter().chain(ys).collect(),
                "prepend" => ys.into_iter().chain(xs).collect(),
                "append_rp" => xs
                    .into_iter()
                    .filter(|z| !ys.contains(z))
                    .chain(ys.iter().cloned())
                    .collect(),
                "prepend_rp" => {
                    let kept: Vec<Value> = xs.into_iter().filter(|z| !ys.contains(z)).collect();
                    ys.into_iter().chain(kept).collect()
                }
                _ => xs,
            };
            out.insert(key, Value::from(merged));
            continue;
        }
        out.insert(key, y_value);
    }
    Ok(new_map(out))
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; lists of dicts are accepted.
pub(crate) fn combine(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("combine", args);
    let mut terms = vec![value.clone()];
    terms.extend(p.rest());
    let recursive = opt_bool(p.kw("recursive"), false);
    let list_merge = opt_string(p.kw("list_merge")).unwrap_or_else(|| "replace".into());
    if !p.kw.is_empty() {
        return Err(fail(
            "'recursive' and 'list_merge' are the only valid keyword arguments",
        ));
    }
    p.finish()?;
    for t in &terms {
        defined(t, "combine")?;
    }
    let mut dicts = Vec::new();
    flatten_into(&mut dicts, terms, Some(1), false)?;
    let Some(mut result) = dicts.pop() else {
        return Ok(new_map(Vec::new()));
    };
    if dicts.is_empty() && !is_map(&result) {
        return Err(fail(format!(
            "combine expects dictionaries, got {}",
            py_repr(&result)
        )));
    }
    while let Some(d) = dicts.pop() {
        result = merge_hash(&d, &result, recursive, &list_merge)?;
    }
    Ok(result)
}

/// `dict2items(key_name='key', value_name='value')`.
pub(crate) fn dict2items(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("dict2items", args);
    let key_name = opt_string(p.take("key_name")).unwrap_or_else(|| "key".into());
    let value_name = opt_string(p.take("value_name")).unwrap_or_else(|| "value".into());
    p.finish()?;
    defined(value, "dict2items")?;
    if !is_map(value) {
        return Err(fail(format!(
            "dict2items requires a dictionary, got {} instead.",
            python_type_name(value)
        )));
    }
    let items = map_items(value)?
        .into_iter()
        .map(|(k, v)| {
            new_map([
                (Value::from(key_name.as_str()), k),
                (Value::from(value_name.as_str()), v),
            ])
        })
        .collect::<Vec<_>>();
    Ok(Value::from(items))
}

/// `items2dict(key_name='key', value_name='value')`.
pub(crate) fn items2dict(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("items2dict", args);
    let key_name = Value::from(opt_string(p.take("key_name")).unwrap_or_else(|| "key".into()));
    let value_name =
        Value::from(opt_string(p.take("value_name")).unwrap_or_else(|| "value".into()));
    p.finish()?;
    defined(value, "items2dict")?;
    if !is_list(value) {
        return Err(fail(format!(
            "items2dict requires a list, got {} instead.",
            python_type_name(value)
        )));
    }
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    for item in to_vec(value)? {
        if !is_map(&item) {
            return Err(fail(format!(
                "items2dict requires a list of dictionaries, got {} instead.",
                py_repr(value)
            )));
        }
        let k = item.get_item(&key_name)?;
        let v = item.get_item(&value_name)?;
        if k.is_undefined() || v.is_undefined() {
            return Err(fail(format!(
                "items2dict requires each dictionary in the list to contain the keys '{}' and '{}', got {} instead.",
                py_str(&key_name),
                py_str(&value_name),
                py_repr(value)
            )));
        }
        out.insert(k, v);
    }
    Ok(new_map(out))
}

pub(crate) fn lists_of(
    value: &Value,
    others: Vec<Value>,
    what: &str,
) -> Result<Vec<Vec<Value>>, Error> {
    let mut lists = vec![list_arg(value, what)?];
    for o in others {
        lists.push(list_arg(&o, what)?);
    }
    Ok(lists)
}

/// `zip_longest(*others, fillvalue=None)`.
pub(crate) fn zip_longest(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("zip_longest", args);
    let others = p.rest();
    let fill = p.kw("fillvalue").unwrap_or(Value::from(()));
    p.finish()?;
    let lists = lists_of(value, others, "zip_longest")?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    let out: Vec<Value> = (0..n)
        .map(|i| {
            Value::from(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    Ok(Value::from(out))
}

/// `itertools.product(value, *others, repeat=1)`.
pub(crate) fn product(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("product", args);
    let others = p.rest();
    let repeat = opt_int(p.kw("repeat"), "repeat")?.unwrap_or(1).max(0) as usize;
    p.finish()?;
    let base = lists_of(value, others, "product")?;
    let mut pools = Vec::new();
    for _ in 0..repeat {
        pools.extend(base.iter().cloned());
    }
    let mut result: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in pools {
        let mut next = Vec::new();
        for r in &result {
            for item in &pool {
                let mut t = r.clone();
                t.push(item.clone());
                next.push(t);
            }
        }
        result = next;
    }
    Ok(Value::from(
        result.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

/// `itertools.permutations(value, r=None)`.
pub(crate) fn permutations(value: &Value, r: Option<Value>) -> Result<Value, Error> {
    let pool = list_arg(value, "permutations")?;
    let n = pool.len();
    let r = opt_int(r, "r")?.map(|r| r.max(0) as usize).unwrap_or(n);
    let mut out = Vec::new();
    if r <= n {
        let mut indices: Vec<usize> = Vec::new();
        fn rec(
            pool: &[Value],
            r: usize,
            used: &mut Vec<bool>,
            indices: &mut Vec<usize>,
            out: &mut Vec<Value>,
        ) {
            if indices.len() == r {
                out.push(Value::from(
                    indices.iter().map(|i| pool[*i].clone()).collect::<Vec<_>>(),
                ));
                return;
            }
            for i in 0..pool.len() {
                if !used[i] {
                    used[i] = true;
                    indices.push(i);
                    rec(pool, r, used, indices, out);
                    indices.pop();
                    used[i] = false;
                }
            }
        }
        rec(&pool, r, &mut vec![false; n], &mut indices, &mut out);
    }
    Ok(Value::from(out))
}

/// `itertools.combinations(value, r)`.
pub(crate) fn combinations(value: &Value, r: Value) -> Result<Value, Error> {
    let pool = list_arg(value, "combinations")?;
    let r = opt_int(Some(r), "r")?.unwrap_or(0).max(0) as usize;
    let mut out = Vec::new();
    fn rec(pool: &[Value], start: usize, r: usize, cur: &mut Vec<Value>, out: &mut Vec<Value>) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in start..pool.len() {
            cur.push(pool[i].clone());
            rec(pool, i + 1, r, cur, out);
            cur.pop();
        }
    }
    if r <= pool.len() {
        rec(&pool, 0, r, &mut Vec::new(), &mut out);
    }
    Ok(Value::from(out))
}

/// `extract(container, morekeys=None)`: `container[item][morekey]...`.
pub(crate) fn extract(
    item: &Value,
    container: &Value,
    morekeys: Option<Value>,
) -> Result<Value, Error> {
    let mut keys = vec![item.clone()];
    match morekeys {
        None => {}
        Some(m) if m.kind() == ValueKind::Seq => keys.extend(to_vec(&m)?),
        Some(m) => keys.push(m),
    }
    let mut cur = container.clone();
    for k in keys {
        cur = cur.get_item(&k)?;
    }
    Ok(cur)
}

/// `subelements(subelements, skip_missing=False)`: `[item, subitem]` pairs.
pub(crate) fn subelements(
    value: &Value,
    path: &Value,
    args: Rest<ValueOrKwargs>,
) -> Result<Value, Error> {
    let mut p = Params::new("subelements", args);
    let skip_missing = opt_bool(p.take("skip_missing"), false);
    p.finish()?;
    subelements_of(value, path, skip_missing)
}

pub(crate) fn subelements_of(
    value: &Value,
    path: &Value,
    skip_missing: bool,
) -> Result<Value, Error> {
    defined(value, "subelements")?;
    let elements = if is_map(value) {
        map_items(value)?.into_iter().map(|(_, v)| v).collect()
    } else if is_list(value) {
        to_vec(value)?
    } else {
        return Err(fail("obj must be a list of dicts or a nested dict"));
    };
    let keys: Vec<String> = if let Some(s) = path.as_str() {
        s.split('.').map(str::to_string).collect()
    } else if is_list(path) {
        to_vec(path)?.iter().map(py_str).collect()
    } else {
        return Err(fail(format!(
            "subelements must be a list or a string, got {}",
            python_type_name(path)
        )));
    };
    let mut results = Vec::new();
    for element in elements {
        let mut values = element.clone();
        let mut missing = false;
        for key in &keys {
            if !is_map(&values) {
                return Err(fail(format!(
                    "the key '{key}' should point to a dictionary, got {}",
                    py_repr(&values)
                )));
            }
            let next = values.get_item(&Value::from(key.as_str()))?;
            if next.is_undefined() {
                if skip_missing {
                    missing = true;
                    break;
                }
                return Err(fail(format!(
                    "could not find '{key}' key in iterated item {}",
                    py_repr(&values)
                )));
            }
            values = next;
        }
        if missing {
            continue;
        }
        if values.kind() != ValueKind::Seq {
            return Err(fail(format!(
                "the key '{}' should point to a list, got {}",
                keys.last().cloned().unwrap_or_default(),
                py_repr(&values)
            )));
        }
        for v in to_vec(&values)? {
            results.push(Value::from(vec![element.clone(), v]));
        }
    }
    Ok(Value::from(results))
}

/// `rekey_on_member(key, duplicates='error')`.
pub(crate) fn rekey_on_member(
    value: &Value,
    key: &Value,
    args: Rest<ValueOrKwargs>,
) -> Result<Value, Error> {
    let mut p = Params::new("rekey_on_member", args);
    let duplicates = opt_string(p.take("duplicates")).unwrap_or_else(|| "error".into());
    p.finish()?;
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(fail(format!(
            "duplicates parameter to rekey_on_member has unknown value: {duplicates}"
        )));
    }
    defined(value, "rekey_on_member")?;
    let items: Vec<Value> = if is_map(value) {
        map_items(value)?.into_iter().map(|(_, v)| v).collect()
    } else if is_list(value) {
        to_vec(value)?
    } else {
        return Err(fail("Type is not a valid list, set, or dict"));
    };
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    for item in items {
        if !is_map(&item) {
            return Err(fail("List item is not a valid dict"));
        }
        let k = item.get_item(key)?;
        if k.is_undefined() {
            return Err(fail(format!("Key {} was not found", py_str(key))));
        }
        if out.contains_key(&k) && duplicates == "error" {
            return Err(fail(format!(
                "Key {} is not unique, cannot correctly turn into dict",
                py_str(&k)
            )));
        }
        out.insert(k, item);
    }
    Ok(new_map(out))
}
