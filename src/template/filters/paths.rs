//! Paths, with Python's posixpath semantics (evaluated on the controller).

use super::*;

pub(crate) fn path_arg(value: &Value, what: &str) -> Result<String, Error> {
    defined(value, what)?;
    Ok(if value.is_none() {
        String::new()
    } else {
        py_str(value)
    })
}

pub(crate) fn py_basename(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

pub(crate) fn py_dirname(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let head = &p[..i];
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

pub(crate) fn py_normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(comp);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let out = format!("{}{}", "/".repeat(initial), comps.join("/"));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

/// `os.path.join`.
pub(crate) fn py_path_join(parts: &[String]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if part.starts_with('/') || i == 0 {
            out = part.clone();
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(part);
        } else {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

pub(crate) fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        py_normpath(p)
    } else {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "/".into());
        py_normpath(&py_path_join(&[cwd, p.to_string()]))
    }
}

pub(crate) fn home_of(user: Option<&str>) -> Option<String> {
    match user {
        None => std::env::var("HOME").ok().or_else(|| {
            let uid = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Uid:"))
                        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
                })?;
            passwd_home(|fields| fields.get(2) == Some(&uid.as_str()))
        }),
        Some(name) => passwd_home(|fields| fields.first() == Some(&name)),
    }
}

pub(crate) fn passwd_home(pred: impl Fn(&[&str]) -> bool) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 5 && pred(f))
        .map(|f| f[5].to_string())
}

pub(crate) fn py_expanduser(p: &str) -> String {
    if !p.starts_with('~') {
        return p.to_string();
    }
    let i = p[1..].find('/').map(|i| i + 1).unwrap_or(p.len());
    let home = if i == 1 {
        home_of(None)
    } else {
        home_of(Some(&p[1..i]))
    };
    match home {
        Some(h) => {
            let out = format!("{}{}", h.trim_end_matches('/'), &p[i..]);
            if out.is_empty() {
                "/".into()
            } else {
                out
            }
        }
        None => p.to_string(),
    }
}

pub(crate) fn py_expandvars(p: &str) -> String {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    if !p.contains('$') {
        return p.to_string();
    }
    let re = RE.get_or_init(|| regex::Regex::new(r"\$(\w+|\{[^}]*\})").expect("valid regex"));
    re.replace_all(p, |c: &regex::Captures<'_>| {
        let name = c[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

pub(crate) fn py_realpath(p: &str) -> String {
    let abs = abspath(p);
    if let Ok(c) = std::fs::canonicalize(&abs) {
        return c.display().to_string();
    }
    // Resolve the longest existing prefix, keep the rest as it is.
    let comps: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
    for n in (0..comps.len()).rev() {
        let prefix = format!("/{}", comps[..n].join("/"));
        if let Ok(c) = std::fs::canonicalize(&prefix) {
            let mut parts = vec![c.display().to_string()];
            parts.extend(comps[n..].iter().map(|s| s.to_string()));
            return py_path_join(&parts);
        }
    }
    abs
}

pub(crate) fn basename(value: &Value) -> Result<String, Error> {
    Ok(py_basename(&path_arg(value, "basename")?).to_string())
}

pub(crate) fn dirname(value: &Value) -> Result<String, Error> {
    Ok(py_dirname(&path_arg(value, "dirname")?))
}

pub(crate) fn expanduser(value: &Value) -> Result<String, Error> {
    Ok(py_expanduser(&path_arg(value, "expanduser")?))
}

pub(crate) fn expandvars(value: &Value) -> Result<String, Error> {
    Ok(py_expandvars(&path_arg(value, "expandvars")?))
}

pub(crate) fn realpath(value: &Value) -> Result<String, Error> {
    Ok(py_realpath(&path_arg(value, "realpath")?))
}

pub(crate) fn normpath(value: &Value) -> Result<String, Error> {
    Ok(py_normpath(&path_arg(value, "normpath")?))
}

pub(crate) fn relpath(value: &Value, start: Option<Value>) -> Result<String, Error> {
    let path = path_arg(value, "relpath")?;
    if path.is_empty() {
        return Err(fail("no path specified"));
    }
    let start = start.map(|s| py_str(&s)).unwrap_or_else(|| ".".into());
    let s: Vec<String> = abspath(&start)
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let p: Vec<String> = abspath(&path)
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let common = s.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut rel: Vec<String> = vec!["..".to_string(); s.len() - common];
    rel.extend(p[common..].iter().cloned());
    if rel.is_empty() {
        return Ok(".".into());
    }
    Ok(py_path_join(&rel))
}

/// `os.path.splitext`: `[root, ext]`.
pub(crate) fn splitext(value: &Value) -> Result<Value, Error> {
    let p = path_arg(value, "splitext")?;
    let sep = p.rfind('/').map(|i| i as isize).unwrap_or(-1);
    if let Some(dot) = p.rfind('.') {
        if dot as isize > sep {
            let name_start = (sep + 1) as usize;
            if p[name_start..dot].chars().any(|c| c != '.') {
                return Ok(Value::from(vec![
                    Value::from(&p[..dot]),
                    Value::from(&p[dot..]),
                ]));
            }
        }
    }
    Ok(Value::from(vec![Value::from(p), Value::from("")]))
}

pub(crate) fn path_join(value: &Value) -> Result<String, Error> {
    defined(value, "path_join")?;
    if let Some(s) = value.as_str() {
        return Ok(s.to_string());
    }
    if !is_list(value) {
        return Err(fail(format!(
            "|path_join expects string or sequence, got {} instead.",
            python_type_name(value)
        )));
    }
    let parts: Vec<String> = to_vec(value)?.iter().map(py_str).collect();
    Ok(py_path_join(&parts))
}

pub(crate) fn commonpath(value: &Value) -> Result<String, Error> {
    defined(value, "commonpath")?;
    if !is_list(value) {
        return Err(fail(format!(
            "|commonpath expects sequence, got {} instead.",
            python_type_name(value)
        )));
    }
    let paths: Vec<String> = to_vec(value)?.iter().map(py_str).collect();
    if paths.is_empty() {
        return Err(fail("commonpath() arg is an empty sequence"));
    }
    let absolute = paths[0].starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(fail("Can't mix absolute and relative paths"));
    }
    let split: Vec<Vec<&str>> = paths
        .iter()
        .map(|p| {
            p.split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect()
        })
        .collect();
    let min = split.iter().min().cloned().unwrap_or_default();
    let max = split.iter().max().cloned().unwrap_or_default();
    let common = min.iter().zip(&max).take_while(|(a, b)| a == b).count();
    Ok(format!(
        "{}{}",
        if absolute { "/" } else { "" },
        min[..common].join("/")
    ))
}

pub(crate) fn nt_splitdrive(p: &str) -> (String, String) {
    let norm = p.replace('/', "\\");
    if norm.starts_with("\\\\") && !norm[2..].starts_with('\\') {
        // UNC: \\server\share
        let Some(index) = norm[2..].find('\\').map(|i| i + 2) else {
            return (String::new(), p.to_string());
        };
        let index2 = match norm[index + 1..].find('\\') {
            Some(0) => return (String::new(), p.to_string()),
            Some(j) => index + 1 + j,
            None => p.len(),
        };
        return (p[..index2].to_string(), p[index2..].to_string());
    }
    if p.len() >= 2 && p.as_bytes()[1] == b':' && p.is_char_boundary(2) {
        return (p[..2].to_string(), p[2..].to_string());
    }
    (String::new(), p.to_string())
}

pub(crate) fn nt_split(p: &str) -> (String, String) {
    let (d, rest) = nt_splitdrive(p);
    let i = rest.rfind(['\\', '/']).map(|i| i + 1).unwrap_or(0);
    let (head, tail) = rest.split_at(i);
    let trimmed = head.trim_end_matches(['\\', '/']);
    let head = if trimmed.is_empty() { head } else { trimmed };
    (format!("{d}{head}"), tail.to_string())
}

pub(crate) fn win_basename(value: &Value) -> Result<String, Error> {
    Ok(nt_split(&path_arg(value, "win_basename")?).1)
}

pub(crate) fn win_dirname(value: &Value) -> Result<String, Error> {
    Ok(nt_split(&path_arg(value, "win_dirname")?).0)
}

pub(crate) fn win_splitdrive(value: &Value) -> Result<Value, Error> {
    let (d, p) = nt_splitdrive(&path_arg(value, "win_splitdrive")?);
    Ok(Value::from(vec![Value::from(d), Value::from(p)]))
}

/// Regular files matching a glob on the controller (sorted).
pub(crate) fn glob_files(pattern: &str) -> Vec<String> {
    let mut out: Vec<String> = match glob::glob(pattern) {
        Ok(paths) => paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

pub(crate) fn fileglob(value: &Value) -> Result<Value, Error> {
    let pattern = path_arg(value, "fileglob")?;
    Ok(Value::from(
        glob_files(&pattern)
            .into_iter()
            .map(Value::from)
            .collect::<Vec<_>>(),
    ))
}
