//! Filters that transform a string (`b64encode`, `upper`, `hash`, `regex_replace` ...)
//! wrapped so that a result derived from a vault secret is registered with
//! [`crate::vault::censor`] and masked in output like the secret itself
//! (`{{ ('user:' ~ password) | b64encode }}` for a registry login, say). The wrappers
//! call the filters of `filters.rs` and minijinja's builtins unchanged.

use super::filters::{b64decode, b64encode, hash, md5, password_hash, quote, regex_replace, sha1};
use minijinja::value::{Rest, Value, ValueOrKwargs};
use minijinja::{Environment, Error};
use std::borrow::Cow;

/// Registers the wrappers (over the plain filters of the same names).
pub fn register(env: &mut Environment<'static>) {
    macro_rules! filter {
        ($name:literal, $f:expr) => {{
            env.add_filter($name, $f);
            env.add_filter(concat!("ansible.builtin.", $name), $f);
        }};
    }
    filter!("b64encode", tainted_b64encode);
    filter!("b64decode", tainted_b64decode);
    filter!("regex_replace", tainted_regex_replace);
    filter!("quote", tainted_quote);
    filter!("password_hash", tainted_password_hash);
    filter!("hash", tainted_hash);
    filter!("md5", tainted_md5);
    filter!("sha1", tainted_sha1);
    filter!("checksum", tainted_sha1);
    env.add_filter("upper", tainted_upper);
    env.add_filter("lower", tainted_lower);
    env.add_filter("capitalize", tainted_capitalize);
    env.add_filter("title", tainted_title);
    env.add_filter("reverse", tainted_reverse);
    env.add_filter("urlencode", tainted_urlencode);
    env.add_filter("ansible.builtin.urlencode", tainted_urlencode);
}

/// The input of a filter as text (for [`crate::vault::censor::taint`]).
fn taint_text(v: &Value) -> Option<String> {
    if !crate::vault::censor::active() || v.is_undefined() {
        return None;
    }
    Some(match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    })
}

macro_rules! tainted_rest {
    ($($w:ident => $f:ident),*) => {$(
        fn $w(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
            let out = $f(value, args)?;
            if let Some(i) = taint_text(value) {
                crate::vault::censor::taint(&i, &out);
            }
            Ok(out)
        }
    )*};
}
tainted_rest!(
    tainted_b64encode => b64encode,
    tainted_b64decode => b64decode,
    tainted_regex_replace => regex_replace,
    tainted_password_hash => password_hash
);

fn tainted_quote(value: &Value) -> Result<String, Error> {
    let out = quote(value)?;
    if let Some(i) = taint_text(value) {
        crate::vault::censor::taint(&i, &out);
    }
    Ok(out)
}

fn tainted_hash(value: &Value, hashtype: Option<String>) -> Result<String, Error> {
    let out = hash(value, hashtype)?;
    if let Some(i) = taint_text(value) {
        crate::vault::censor::taint(&i, &out);
    }
    Ok(out)
}

fn tainted_md5(value: &Value) -> Result<String, Error> {
    let out = md5(value)?;
    if let Some(i) = taint_text(value) {
        crate::vault::censor::taint(&i, &out);
    }
    Ok(out)
}

fn tainted_sha1(value: &Value) -> Result<String, Error> {
    let out = sha1(value)?;
    if let Some(i) = taint_text(value) {
        crate::vault::censor::taint(&i, &out);
    }
    Ok(out)
}

macro_rules! tainted_builtin {
    ($($w:ident => $f:ident),*) => {$(
        fn $w(value: minijinja::value::StringInput<'_>) -> Value {
            // the argument converted by minijinja itself (an undefined one fails there,
            // naming the variable)
            let input = crate::vault::censor::active().then(|| value.as_str().to_string());
            let out = minijinja::filters::$f(value);
            if let (Some(i), Some(o)) = (input, out.as_str()) {
                crate::vault::censor::taint(&i, o);
            }
            out
        }
    )*};
}
tainted_builtin!(tainted_upper => upper, tainted_lower => lower, tainted_capitalize => capitalize);

fn tainted_title(value: Cow<'_, str>) -> String {
    let out = minijinja::filters::title(Cow::Borrowed(&value));
    crate::vault::censor::taint(&value, &out);
    out
}

fn tainted_reverse(value: &Value) -> Result<Value, Error> {
    let out = minijinja::filters::reverse(value)?;
    if let (Some(i), Some(o)) = (value.as_str(), out.as_str()) {
        crate::vault::censor::taint(i, o);
    }
    Ok(out)
}

fn tainted_urlencode(value: &Value) -> Result<String, Error> {
    let out = minijinja::filters::urlencode(value)?;
    if let Some(i) = taint_text(value) {
        crate::vault::censor::taint(&i, &out);
    }
    Ok(out)
}
