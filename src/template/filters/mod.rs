//! Ansible's filters on top of minijinja's builtins (see COMPAT.md).
//!
//! Filters whose minijinja builtin already behaves like Ansible's are left alone (`length`,
//! `lower`, `trim`, `unique`, `map`, `select`, `sort`, `min`, `max`, `sum`, `first`, `last`,
//! `list`, `zip`, `default` ...). Filters where Jinja2/Ansible and minijinja differ are
//! replaced: `bool` (Ansible's yes/no/on/off strings), `int`/`float` (Python parsing, the
//! default on failure), `string`/`join` (Python's `str()`: `True`, `None`, `['a']`) and
//! `indent` (keeps a trailing newline like Jinja2).
//!
//! Everything Ansible registers is also reachable by its `ansible.builtin.` name.
//! `to_yaml`/`to_nice_yaml` port libyaml's emitter (what Ansible's dumper uses), so their
//! output is byte-for-byte Ansible's. Dates are rendered in UTC.
//!
//! The Python-compatible helpers the tests and lookups share live here too: `str()`/`repr()`
//! of values ([`py_str`]), Python `re` patterns and replacement templates
//! ([`compile_py_regex`]), Python's seeded `random.Random` ([`PyRandom`]); and two pieces
//! of Ansible's rendering for the [`Templar`](super::Templar): printing values like Python
//! ([`format_value`]) and the backslash pre-escaping of templates from YAML
//! ([`escape_backslashes`]).
//!
//! This file registers the filters; each family lives in its own file: `args.rs`
//! (Python-style argument binding), `pystr.rs`, `types.rs`, `strings.rs`, `py_regex.rs`,
//! `json.rs`, `yaml.rs`, `paths.rs`, `hashes.rs`, `collections.rs`, `random.rs`,
//! `numbers.rs`, `dates.rs`; `unit_tests.rs` holds their unit tests.

use indexmap::IndexMap;
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, Output, State};
use std::borrow::Cow;
use std::fmt::Write as _;

mod args;
mod collections;
mod dates;
mod hashes;
mod json;
mod numbers;
mod paths;
mod py_regex;
mod pystr;
mod random;
mod strings;
mod types;
mod yaml;
pub(crate) use args::*;
pub(crate) use collections::*;
pub(crate) use dates::*;
pub(crate) use hashes::*;
pub(crate) use json::*;
pub(crate) use numbers::*;
pub(crate) use paths::*;
pub(crate) use py_regex::*;
pub use pystr::*;
pub use random::*;
pub(crate) use strings::*;
pub(crate) use types::*;
pub(crate) use yaml::*;
#[cfg(test)]
mod unit_tests;

/// Registers Ansible's filters (and their `ansible.builtin.*` names), the `omit` fallback
/// global and a Python-compatible `dict()` global.
pub fn register(env: &mut Environment<'static>) {
    macro_rules! filter {
        ($name:literal, $f:expr) => {{
            env.add_filter($name, $f);
            env.add_filter(concat!("ansible.builtin.", $name), $f);
        }};
    }

    // Types.
    filter!("bool", to_bool);
    filter!("int", to_int);
    filter!("float", to_float);
    filter!("string", to_string);
    filter!("type_debug", type_debug);
    // Strings.
    filter!("join", join);
    filter!("indent", indent);
    filter!("ternary", ternary);
    filter!("comment", comment);
    filter!("mandatory", mandatory);
    filter!("to_uuid", to_uuid);
    filter!("urlsplit", urlsplit);
    filter!("urldecode", urldecode);
    // Regular expressions.
    filter!("regex_search", regex_search);
    filter!("regex_findall", regex_findall);
    filter!("regex_escape", regex_escape);
    // Serialisation.
    filter!("to_json", to_json);
    filter!("to_nice_json", to_nice_json);
    filter!("from_json", from_json);
    filter!("to_yaml", to_yaml);
    filter!("to_nice_yaml", to_nice_yaml);
    filter!("from_yaml", from_yaml);
    filter!("from_yaml_all", from_yaml_all);
    // Paths (on the controller).
    filter!("basename", basename);
    filter!("dirname", dirname);
    filter!("expanduser", expanduser);
    filter!("expandvars", expandvars);
    filter!("realpath", realpath);
    filter!("relpath", relpath);
    filter!("splitext", splitext);
    filter!("normpath", normpath);
    filter!("path_join", path_join);
    filter!("commonpath", commonpath);
    filter!("win_basename", win_basename);
    filter!("win_dirname", win_dirname);
    filter!("win_splitdrive", win_splitdrive);
    filter!("fileglob", fileglob);
    // Hashes.
    // Lists and dictionaries.
    filter!("union", union);
    filter!("intersect", intersect);
    filter!("difference", difference);
    filter!("symmetric_difference", symmetric_difference);
    filter!("flatten", flatten);
    filter!("combine", combine);
    filter!("dict2items", dict2items);
    filter!("items2dict", items2dict);
    filter!("zip_longest", zip_longest);
    filter!("product", product);
    filter!("permutations", permutations);
    filter!("combinations", combinations);
    filter!("extract", extract);
    filter!("subelements", subelements);
    filter!("random", random);
    filter!("shuffle", shuffle);
    filter!("rekey_on_member", rekey_on_member);
    // Numbers.
    filter!("log", log);
    filter!("pow", pow);
    filter!("root", root);
    filter!("human_readable", human_readable);
    filter!("human_to_bytes", human_to_bytes);
    // Dates.
    filter!("strftime", strftime);
    // Version comparison as a filter (Ansible 1.x spelling, still found in old roles).
    filter!(
        "version_compare",
        crate::template::tests::version_compare_filter
    );
    filter!("version", crate::template::tests::version_compare_filter);

    // Filters that transform a string, registering what they derive from a vault
    // secret so that it is masked too.
    super::taint::register(env);

    // Jinja builtins Ansible also exposes under its own namespace.
    use minijinja::filters as b;
    env.add_filter("ansible.builtin.default", b::default);
    env.add_filter("ansible.builtin.d", b::default);
    env.add_filter("ansible.builtin.map", b::map);
    env.add_filter("ansible.builtin.select", b::select);
    env.add_filter("ansible.builtin.selectattr", b::selectattr);
    env.add_filter("ansible.builtin.reject", b::reject);
    env.add_filter("ansible.builtin.rejectattr", b::rejectattr);
    env.add_filter("ansible.builtin.unique", b::unique);
    env.add_filter("ansible.builtin.groupby", b::groupby);
    env.add_filter("ansible.builtin.split", b::split);
    env.add_filter("ansible.builtin.zip", b::zip);

    env.add_function("dict", dict_function);
    env.add_function("now", now);
    // `omit` is a play variable set by the executor; this fallback makes `default(omit)`
    // give the placeholder even where no play context exists (ad-hoc expressions).
    env.add_global("omit", Value::from(crate::template::OMIT));
}
