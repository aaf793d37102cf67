//! Templates as Ansible renders them: every filter, test and lookup rdeploy provides,
//! checked against the outputs Ansible documents and ansible-core 2.19 produces.
//!
//! Expressions are written as they appear in a template file (Jinja string escapes apply:
//! `'\\1'` is a backslash and a one).

use minijinja::Value;
use rdeploy::template::filters::{py_repr, py_str};
use rdeploy::template::Templar;
use serde_json::json;

/// A templar with variables, and the ways a test looks at a result.
pub(crate) struct Tpl {
    templar: Templar,
    vars: serde_json::Map<String, serde_json::Value>,
}

pub(crate) fn tpl() -> Tpl {
    Tpl {
        templar: Templar::new(),
        vars: serde_json::Map::new(),
    }
}

impl Tpl {
    pub(crate) fn var(mut self, name: &str, value: serde_json::Value) -> Self {
        self.vars.insert(name.into(), value);
        self
    }

    pub(crate) fn ctx(&self) -> Value {
        rdeploy::template::from_json(&serde_json::Value::Object(self.vars.clone()))
    }

    /// Evaluates an expression to a value.
    pub(crate) fn eval(&self, expr: &str) -> Value {
        self.templar
            .eval_expr(expr, &self.ctx())
            .unwrap_or_else(|e| panic!("{expr}: {}", e.message))
    }

    /// Evaluates an expression and shows it as Python's `repr()` (how Ansible prints it).
    pub(crate) fn repr(&self, expr: &str) -> String {
        py_repr(&self.eval(expr))
    }

    /// Evaluates an expression to text (Python's `str()`).
    pub(crate) fn text(&self, expr: &str) -> String {
        py_str(&self.eval(expr))
    }

    pub(crate) fn is(&self, expr: &str) -> bool {
        let v = self.eval(expr);
        assert_eq!(
            v.kind(),
            minijinja::value::ValueKind::Bool,
            "{expr} should be a boolean, got {v}"
        );
        v.is_true()
    }

    /// Renders a template string.
    pub(crate) fn render(&self, src: &str) -> String {
        self.templar
            .render_string(src, &self.ctx())
            .unwrap_or_else(|e| panic!("{src}: {}", e.message))
    }

    /// The error message of an expression that must fail.
    pub(crate) fn err(&self, expr: &str) -> String {
        match self.templar.eval_expr(expr, &self.ctx()) {
            Ok(v) => panic!("{expr} should fail, gave {}", py_repr(&v)),
            Err(e) => e.message,
        }
    }
}

pub(crate) fn t() -> Tpl {
    tpl()
}

// ---------------------------------------------------------------------------------------
// Types and strings.

#[test]
fn bool_accepts_ansible_boolean_strings() {
    let t = t();
    for yes in [
        "'yes'", "'Yes'", "'on'", "'ON'", "'true'", "'True'", "'1'", "1", "true", "1.0",
    ] {
        assert!(t.is(&format!("{yes} | bool")), "{yes}");
    }
    for no in [
        "'no'", "'off'", "'false'", "'0'", "0", "false", "none", "'maybe'", "' yes'", "2",
    ] {
        assert!(!t.is(&format!("{no} | bool")), "{no}");
    }
    assert!(t.is("'yes' | ansible.builtin.bool"));
}

#[test]
fn int_and_float_parse_like_python() {
    let t = t();
    assert_eq!(t.repr("'42' | int"), "42");
    assert_eq!(t.repr("'42.7' | int"), "42", "Jinja2 goes through float");
    assert_eq!(t.repr("-3.7 | int"), "-3");
    assert_eq!(t.repr("' 0x1F ' | int(base=16)"), "31");
    assert_eq!(t.repr("'ff' | int(base=16)"), "255");
    assert_eq!(t.repr("'0b101' | int(0, 2)"), "5");
    assert_eq!(
        t.repr("'017' | int(base=0)"),
        "17",
        "int('017', 0) fails, then Jinja2 falls back to float"
    );
    assert_eq!(t.repr("'1_000' | int"), "1000");
    assert_eq!(t.repr("'1e3' | int"), "1000");
    assert_eq!(t.repr("'abc' | int"), "0", "the default, not an error");
    assert_eq!(t.repr("'abc' | int(7)"), "7");
    assert_eq!(t.repr("'abc' | int(default=9)"), "9");
    assert_eq!(t.repr("none | int"), "0");
    assert_eq!(t.repr("true | int"), "1");
    assert_eq!(t.repr("'3.5' | float"), "3.5");
    assert_eq!(t.repr("' 2 ' | float"), "2.0");
    assert_eq!(t.repr("'abc' | float"), "0.0");
    assert_eq!(t.repr("'x' | float(1.5)"), "1.5");
    assert!(t.err("nope | int").contains("undefined"));
}

#[test]
fn string_is_pythons_str() {
    let t = t();
    assert_eq!(t.text("123 | string"), "123");
    assert_eq!(t.text("true | string"), "True");
    assert_eq!(t.text("none | string"), "None");
    assert_eq!(
        t.text("[1, 'a', none, true, 1.5] | string"),
        "[1, 'a', None, True, 1.5]"
    );
    assert_eq!(
        t.text(r#"{'a': [1, 2], 'b': "it's"} | string"#),
        r#"{'a': [1, 2], 'b': "it's"}"#
    );
    assert_eq!(t.text("1e16 | string"), "1e+16");
    assert_eq!(t.text("123456789.0 | string"), "123456789.0");
    assert_eq!(t.text("1.5e-7 | string"), "1.5e-07");
    assert_eq!(t.text("(0.1 + 0.2) | string"), "0.30000000000000004");
    assert_eq!(t.text("(2 ** 64) | string"), "18446744073709551616");
}

#[test]
fn type_debug_names_python_types() {
    let t = t();
    let names: Vec<String> = ["'x'", "1", "none", "{}", "[]", "1.5", "true"]
        .iter()
        .map(|e| t.text(&format!("{e} | type_debug")))
        .collect();
    assert_eq!(
        names,
        ["str", "int", "NoneType", "dict", "list", "float", "bool"]
    );
}

#[test]
fn builtin_string_filters_match_jinja2() {
    let t = t();
    assert_eq!(t.text("'abc' | length"), "3");
    assert_eq!(t.text("{'a': 1, 'b': 2} | length"), "2");
    assert_eq!(t.text("[1, 2, 3] | count"), "3");
    assert_eq!(t.text("'hello WORLD' | lower"), "hello world");
    assert_eq!(t.text("'hello world' | upper"), "HELLO WORLD");
    assert_eq!(t.text("'hello WORLD' | capitalize"), "Hello world");
    assert_eq!(
        t.text("'hello world-foo bar_baz' | title"),
        "Hello World-Foo Bar_baz"
    );
    assert_eq!(t.text("'  x  ' | trim"), "x");
    assert_eq!(t.repr("'a,,b' | split(',')"), "['a', '', 'b']");
    assert_eq!(t.repr("'  a  b ' | split"), "['a', 'b']");
    assert_eq!(t.repr("'a b c' | split(' ', 1)"), "['a', 'b c']");
    assert_eq!(t.text("'%s-%05d' | format('a', 42)"), "a-00042");
}

#[test]
fn join_uses_python_str_of_items() {
    let t = t();
    assert_eq!(t.text("[1, 2, 3] | join(', ')"), "1, 2, 3");
    assert_eq!(t.text("[true, none, 'x'] | join('-')"), "True-None-x");
    assert_eq!(t.text("'abc' | join('.')"), "a.b.c");
    assert_eq!(
        t.text("[{'n': 'a'}, {'n': 'b'}] | join(',', attribute='n')"),
        "a,b"
    );
}

#[test]
fn default_covers_omit_and_falsy_values() {
    let t = t();
    assert_eq!(t.text("nope | default('d')"), "d");
    assert_eq!(t.text("nope | d('d')"), "d");
    assert_eq!(t.repr("'' | default('d')"), "''");
    assert_eq!(t.text("'' | default('d', true)"), "d");
    assert_eq!(t.text("0 | default('d', true)"), "d");
    assert_eq!(t.repr("none | default('x')"), "None");
    assert_eq!(t.text("nope | default(omit)"), rdeploy::template::OMIT);
    let t = t.var("omit", json!("__omit_from_play__"));
    assert_eq!(
        t.text("nope | default(omit)"),
        "__omit_from_play__",
        "the play's omit wins"
    );
}

#[test]
fn ternary_uses_python_truthiness() {
    let t = t();
    assert_eq!(t.text("true | ternary('yes', 'no')"), "yes");
    assert_eq!(t.text("false | ternary('yes', 'no')"), "no");
    assert_eq!(t.text("none | ternary('yes', 'no', 'null')"), "null");
    assert_eq!(t.text("none | ternary('yes', 'no')"), "no");
    assert_eq!(
        t.text("'no' | ternary('t', 'f')"),
        "t",
        "a non-empty string is true"
    );
}

#[test]
fn indent_keeps_jinja2_trailing_newline() {
    let t = t();
    assert_eq!(t.text(r"'a\nb\n' | indent(2)"), "a\n  b\n");
    assert_eq!(t.text(r"'a\nb' | indent(2, true)"), "  a\n  b");
    assert_eq!(t.text(r"'a\n\nb' | indent(2, blank=true)"), "a\n  \n  b");
    assert_eq!(t.text(r"'a\n\nb' | indent(width=3)"), "a\n\n   b");
    assert_eq!(t.text(r"'a\nb' | indent('>>')"), "a\n>>b");
    let out = t
        .var("cfg", json!({"a": 1, "b": [1, 2]}))
        .render("root:\n  {{ cfg | to_nice_yaml(indent=2) | indent(2) }}end\n");
    assert_eq!(out, "root:\n  a: 1\n  b:\n  - 1\n  - 2\nend\n");
}

#[test]
fn quote_is_shell_safe() {
    let t = t();
    assert_eq!(t.text("'simple' | quote"), "simple");
    assert_eq!(t.text("'a b' | quote"), "'a b'");
    assert_eq!(t.text("'' | quote"), "''");
    assert_eq!(t.text("none | quote"), "''");
    // Ansible (shlex) writes '"'"' for a quote; '\'' is the same to every POSIX shell.
    assert_eq!(t.text(r#""it's a test" | quote"#), r"'it'\''s a test'");
}

#[test]
fn comment_decorates_like_ansible() {
    let t = t();
    assert_eq!(t.text("'Hello' | comment"), "#\n# Hello\n#");
    assert_eq!(t.text(r"'a\nb' | comment"), "#\n# a\n# b\n#");
    assert_eq!(t.text("'x' | comment('c')"), "//\n// x\n//");
    assert_eq!(t.text("'x' | comment('erlang')"), "%\n% x\n%");
    assert_eq!(t.text("'x' | comment('cblock')"), "/*\n *\n * x\n *\n */");
    assert_eq!(t.text("'x' | comment('xml')"), "<!--\n -\n - x\n -\n-->");
    assert_eq!(t.text("'x' | comment(decoration='; ')"), ";\n; x\n;");
    assert_eq!(
        t.text("'x' | comment(prefix_count=2, postfix_count=0)"),
        "#\n#\n# x"
    );
    assert!(t.err("'x' | comment('nope')").contains("Invalid style"));
}

#[test]
fn mandatory_fails_on_undefined() {
    let t = t();
    assert_eq!(t.text("'x' | mandatory"), "x");
    assert!(t
        .err("nope | mandatory")
        .contains("Mandatory variable not defined."));
    assert!(t.err("nope | mandatory('set nope!')").contains("set nope!"));
}

#[test]
fn base64_and_uuid() {
    let t = t();
    assert_eq!(t.text("'Hello' | b64encode"), "SGVsbG8=");
    assert_eq!(t.text("'SGVsbG8=' | b64decode"), "Hello");
    assert_eq!(
        t.text("'Hello' | b64encode(encoding='utf-16-le')"),
        "SABlAGwAbABvAA=="
    );
    assert_eq!(
        t.text("'SABlAGwAbABvAA==' | b64decode(encoding='utf-16-le')"),
        "Hello"
    );
    assert_eq!(t.text("'??>' | b64encode(urlsafe=true)"), "Pz8-");
    assert_eq!(
        t.text("'x' | to_uuid"),
        "66b2f013-1baa-5313-9c8c-e6f1182e0e90"
    );
    assert_eq!(
        t.text("'x' | to_uuid(namespace='6ba7b810-9dad-11d1-80b4-00c04fd430c8')"),
        "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a"
    );
}

#[test]
fn urlsplit_and_urldecode() {
    let t = t();
    let url = "'http://user:pw@www.acme.com:9000/dir/index.html?query=term#fragment'";
    assert_eq!(
        t.repr(&format!("{url} | urlsplit")),
        "{'fragment': 'fragment', 'hostname': 'www.acme.com', 'netloc': 'user:pw@www.acme.com:9000', 'password': 'pw', \
         'path': '/dir/index.html', 'port': 9000, 'query': 'query=term', 'scheme': 'http', 'username': 'user'}"
    );
    assert_eq!(
        t.text(&format!("{url} | urlsplit('hostname')")),
        "www.acme.com"
    );
    assert_eq!(
        t.repr("'https://[::1]:443/' | urlsplit('hostname')"),
        "'::1'"
    );
    assert_eq!(
        t.repr("'https://[::1]:443/' | urlsplit('username')"),
        "None"
    );
    assert_eq!(t.text("'a%20b+c' | urldecode"), "a b c");
}

// ---------------------------------------------------------------------------------------
// Regular expressions.

#[test]
fn regex_replace_with_python_backreferences() {
    let t = t();
    assert_eq!(
        t.text(r"'ansible' | regex_replace('^a.*i(.*)$', 'a\\1')"),
        "able"
    );
    assert_eq!(
        t.text(r"'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\d+)$', '\\g<host>, \\g<port>')"),
        "localhost, 80"
    );
    assert_eq!(
        t.text(r"'foo' | regex_replace('(o)', '\\g<1>\\1')"),
        "foooo"
    );
    assert_eq!(
        t.text(r"'web01' | regex_replace('^web(\\d+)$', 'db\\1')"),
        "db01"
    );
    assert_eq!(
        t.text("'foo bar' | regex_replace('o', '0', count=1)"),
        "f0o bar"
    );
    assert_eq!(
        t.text("'Foo' | regex_replace('foo', 'x', ignorecase=true)"),
        "x"
    );
    assert_eq!(
        t.text(r"'abc\ndef' | regex_replace('^d', 'D', multiline=true)"),
        "abc\nDef"
    );
    assert_eq!(
        t.text(r"'tab\there' | regex_replace('\\s', '_')"),
        "tab_here"
    );
    assert_eq!(
        t.text(r"'a.b.c' | regex_replace('\\.', '/', count=1)"),
        "a/b.c"
    );
    // Python's empty-match rules and literal braces.
    assert_eq!(t.text("'aaa' | regex_replace('a*', '-')"), "--");
    assert_eq!(t.text("'abc' | regex_replace('', '-')"), "-a-b-c-");
    assert_eq!(t.text("'text {x}' | regex_replace('{x}', 'y')"), "text y");
    assert_eq!(
        t.text("'x{,2}' | regex_replace('x{,2}', 'Y')"),
        "YY{Y,Y2Y}Y"
    );
    assert_eq!(
        t.text("'hello' | regex_replace('l', 'L', mandatory_count=2)"),
        "heLLo"
    );
    assert!(t
        .err("'hello' | regex_replace('l', 'L', mandatory_count=3)")
        .contains("should match 3 times"));
    assert!(t
        .err(r"'x' | regex_replace('x', '\\2')")
        .contains("invalid group reference"));
}

#[test]
fn regex_search_and_findall() {
    let t = t();
    assert_eq!(
        t.repr("'server1/database42' | regex_search('database[0-9]+')"),
        "'database42'"
    );
    assert_eq!(t.repr("'foo' | regex_search('bar')"), "None");
    assert_eq!(
        t.repr(
            r"'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\1', '\\2')"
        ),
        "['1', '42']"
    );
    assert_eq!(
        t.repr(r"'ab' | regex_search('(?P<x>a)(?P<y>b)', '\\g<y>', '\\g<x>')"),
        "['b', 'a']"
    );
    assert_eq!(
        t.repr(r"'A1' | regex_search('a(\\d)', '\\1', ignorecase=true)"),
        "['1']"
    );
    assert_eq!(t.repr("'ab12' | regex_search('[0-9]+') | int"), "12");
    assert_eq!(
        t.repr(r"'Our IP is 192.168.0.1 and 10.0.0.2' | regex_findall('\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b')"),
        "['192.168.0.1', '10.0.0.2']"
    );
    assert_eq!(
        t.repr("'a1b2c3' | regex_findall('([a-z])([0-9])')"),
        "[['a', '1'], ['b', '2'], ['c', '3']]"
    );
    assert_eq!(
        t.repr("'a1b2c3' | regex_findall('[a-z]([0-9])')"),
        "['1', '2', '3']"
    );
    assert_eq!(
        t.repr("'hello' | regex_findall('(x)?(l)')"),
        "[['', 'l'], ['', 'l']]"
    );
    assert_eq!(
        t.repr(r"'foo\nbar\n' | regex_findall('^(\\w+)$', multiline=true)"),
        "['foo', 'bar']"
    );
}

#[test]
fn regex_escape_python_and_posix() {
    let t = t();
    assert_eq!(t.text("'^f.*o(.*)$' | regex_escape"), r"\^f\.\*o\(\.\*\)\$");
    assert_eq!(
        t.text("'^f.*o(.*)$' | regex_escape('posix_basic')"),
        r"\^f\.\*o(\.\*)\$"
    );
    assert_eq!(t.text("'a b-c#d' | regex_escape"), r"a\ b\-c\#d");
}

#[test]
fn regex_tests_match_search_regex() {
    let t = t();
    assert!(t.is("'abc' is match('a')"));
    assert!(
        !t.is("'abc' is match('b')"),
        "match is anchored at the start"
    );
    assert!(t.is("'abc' is search('b')"));
    assert!(t.is("'ABC' is match('a', ignorecase=true)"));
    assert!(t.is("'abc' is regex('b')"));
    assert!(!t.is("'abc' is regex('b', match_type='match')"));
    assert!(t.is("'abc' is regex('abc', match_type='fullmatch')"));
    assert!(!t.is("'abcd' is regex('abc', match_type='fullmatch')"));
    assert!(t.is(r"'line1\nline2' is search('^line2$', multiline=true)"));
}

// ---------------------------------------------------------------------------------------
// JSON and YAML.

#[test]
fn to_json_writes_like_python_json_dumps() {
    let t = t();
    assert_eq!(
        t.text("{'b': 1, 'a': [1, 2.5, none, true, 'é']} | to_json"),
        r#"{"b": 1, "a": [1, 2.5, null, true, "\u00e9"]}"#
    );
    assert_eq!(
        t.text("{'b': 1, 'a': [1, 2]} | to_json(sort_keys=true)"),
        r#"{"a": [1, 2], "b": 1}"#
    );
    assert_eq!(
        t.text("{'b': 1, 'a': [1, 2]} | to_json(indent=2)"),
        "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}"
    );
    assert_eq!(
        t.text("[1.0, 0.1, 1e20, 1e-5, 123456789.123] | to_json"),
        "[1.0, 0.1, 1e+20, 1e-05, 123456789.123]"
    );
    assert_eq!(t.text("'é' | to_json(ensure_ascii=false)"), "\"é\"");
    assert_eq!(
        t.text("{'a': 1} | to_json(separators=[',', ':'])"),
        r#"{"a":1}"#
    );
    assert_eq!(
        t.text("{1: 'a', 'b': 2} | to_json"),
        r#"{"1": "a", "b": 2}"#
    );
}

#[test]
fn to_nice_json_sorts_and_indents_by_four() {
    let t = t();
    insta::assert_snapshot!(t.text("{'b': 1, 'a': {'c': [], 'd': {}, 'e': [1, {'f': none}]}} | to_nice_json"), @r#"
    {
        "a": {
            "c": [],
            "d": {},
            "e": [
                1,
                {
                    "f": null
                }
            ]
        },
        "b": 1
    }
    "#);
    assert_eq!(
        t.text("{'b': 1, 'a': [1, 2]} | to_nice_json(indent=2)"),
        "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1\n}"
    );
    assert_eq!(
        t.text("{'b': 1, 'a': 2} | to_nice_json(sort_keys=false, indent=1)"),
        "{\n \"b\": 1,\n \"a\": 2\n}"
    );
}

#[test]
fn from_json_keeps_types_and_order() {
    let t = t();
    assert_eq!(
        t.repr(r#"'{"z": [1, 2, {"b": null}], "c": true, "f": 1.0}' | from_json"#),
        "{'z': [1, 2, {'b': None}], 'c': True, 'f': 1.0}"
    );
    assert!(t.err("'{nope' | from_json").contains("from_json"));
}

#[test]
fn to_yaml_uses_flow_style_for_scalar_collections() {
    let t = t();
    let doc = "{'b': 1, 'a': [1, 2, {'c': none}], 'd': {'e': 'f'}}";
    assert_eq!(
        t.text(&format!("{doc} | to_yaml")),
        "a:\n- 1\n- 2\n- {c: null}\nb: 1\nd: {e: f}\n"
    );
    assert_eq!(
        t.text("'abc' | to_yaml"),
        "abc\n",
        "no '...' after a lone scalar, like libyaml"
    );
    assert_eq!(
        t.text("{'b': 1, 'a': 2} | to_yaml(sort_keys=false)"),
        "{b: 1, a: 2}\n"
    );
    assert_eq!(
        t.text("['a', 'b'] | to_yaml(explicit_start=true)"),
        "--- [a, b]\n"
    );
    assert_eq!(
        t.text("{'x': {'y': {'z': [1, {'w': 2}]}}} | to_yaml"),
        "x:\n  y:\n    z:\n    - 1\n    - {w: 2}\n"
    );
}

#[test]
fn to_nice_yaml_block_style_indent_four() {
    let t = t();
    let doc = "{'b': 1, 'a': [1, 2, {'c': none}], 'd': {'e': 'f'}}";
    insta::assert_snapshot!(t.text(&format!("{doc} | to_nice_yaml")), @r"
    a:
    - 1
    - 2
    -   c: null
    b: 1
    d:
        e: f
    ");
    assert_eq!(
        t.text(&format!("{doc} | to_nice_yaml(indent=2)")),
        "a:\n- 1\n- 2\n- c: null\nb: 1\nd:\n  e: f\n"
    );
    assert_eq!(
        t.text("[[1, 2], [3, [4, 5]], {'a': [6]}] | to_nice_yaml"),
        "-   - 1\n    - 2\n-   - 3\n    -   - 4\n        - 5\n-   a:\n    - 6\n"
    );
}

#[test]
fn yaml_quotes_what_would_read_back_differently() {
    let t = t();
    assert_eq!(
        t.text(r#"['yes', '123', '1.5', 'null', '', ' x', 'a: b', 'x #y', '- z', '@at', 'é', 'q"q', "it's", '2023-01-01', '0777', '~', '=', '<<'] | to_yaml"#),
        "['yes', '123', '1.5', 'null', '', ' x', 'a: b', 'x #y', '- z', '@at', é, q\"q, it's,\n  '2023-01-01', '0777', '~', '=', '<<']\n"
    );
    assert_eq!(
        t.text(r"['multi\nline\n', 'tab\there'] | to_nice_yaml"),
        "- 'multi\n\n    line\n\n    '\n- \"tab\\there\"\n"
    );
    assert_eq!(
        t.text("{'': 'empty key', 'yes': 1} | to_nice_yaml"),
        "'': empty key\n'yes': 1\n"
    );
    assert_eq!(
        t.text("[1.0, 1e20, none, true] | to_yaml"),
        "[1.0, 1.0e+20, null, true]\n"
    );
}

#[test]
fn yaml_folds_long_lines_at_eighty_columns() {
    let t = t().var("words", json!("word ".repeat(30).trim()));
    assert_eq!(
        t.text("{'long': words} | to_nice_yaml"),
        "long: word word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word\n"
    );
    let t = t.var(
        "items",
        json!((0..30).map(|i| format!("item{i}")).collect::<Vec<_>>()),
    );
    assert_eq!(
        t.text("{'k': items} | to_yaml"),
        "k: [item0, item1, item2, item3, item4, item5, item6, item7, item8, item9, item10,\n  item11, item12, item13, item14, item15, item16, item17, item18, item19, item20,\n  item21, item22, item23, item24, item25, item26, item27, item28, item29]\n"
    );
    assert_eq!(
        t.text("{'a': 'some long text that wraps around'} | to_nice_yaml(width=20)"),
        "a: some long text that\n    wraps around\n"
    );
}

#[test]
fn from_yaml_reads_yaml_1_1() {
    let t = t();
    assert_eq!(
        t.repr(r"'a: 1\nb: [1, 2]\nc: yes\nd: 0644\n' | from_yaml"),
        "{'a': 1, 'b': [1, 2], 'c': True, 'd': 420}"
    );
    assert_eq!(
        t.repr(r"'a: 1\n---\nb: 2\n' | from_yaml_all | list"),
        "[{'a': 1}, {'b': 2}]"
    );
    assert_eq!(t.repr("'' | from_yaml"), "None");
    let t = t.var("cfg", json!({"x": [1, "two", {"y": null}]}));
    assert_eq!(
        t.repr("cfg | to_yaml | from_yaml"),
        "{'x': [1, 'two', {'y': None}]}"
    );
    assert_eq!(t.repr("cfg | to_nice_yaml | from_yaml == cfg"), "True");
}

// ---------------------------------------------------------------------------------------
// Paths.

#[test]
fn path_filters_follow_posixpath() {
    let t = t();
    assert_eq!(t.text("'/etc/nginx/nginx.conf' | dirname"), "/etc/nginx");
    assert_eq!(t.text("'/etc/nginx/' | dirname"), "/etc/nginx");
    assert_eq!(t.text("'nginx.conf' | dirname"), "");
    assert_eq!(t.text("'/' | dirname"), "/");
    assert_eq!(t.text("'/etc/nginx/nginx.conf' | basename"), "nginx.conf");
    assert_eq!(t.text("'/etc/nginx/' | basename"), "");
    assert_eq!(t.text("'/a/b/../c/./d' | normpath"), "/a/c/d");
    assert_eq!(t.text("'//a//b' | normpath"), "//a/b");
    assert_eq!(
        t.repr("'/a/b/c.tar.gz' | splitext"),
        "['/a/b/c.tar', '.gz']"
    );
    assert_eq!(t.repr("'.bashrc' | splitext"), "['.bashrc', '']");
    assert_eq!(
        t.text("['/etc', 'nginx', 'conf.d'] | path_join"),
        "/etc/nginx/conf.d"
    );
    assert_eq!(t.text("['a', '/b', 'c'] | path_join"), "/b/c");
    assert_eq!(
        t.text("['/usr/lib', '/usr/local/lib'] | commonpath"),
        "/usr"
    );
    assert_eq!(t.text("'/a/b/c' | relpath('/a/x')"), "../b/c");
    assert_eq!(
        t.text(r"'C:\\Users\\x\\file.txt' | win_basename"),
        "file.txt"
    );
    assert_eq!(
        t.text(r"'C:\\Users\\x\\file.txt' | win_dirname"),
        r"C:\Users\x"
    );
    assert_eq!(
        t.repr(r"'\\\\server\\share\\dir\\f' | win_splitdrive"),
        r"['\\\\server\\share', '\\dir\\f']"
    );
}

#[test]
fn controller_path_filters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.conf"), "a").unwrap();
    std::fs::write(dir.path().join("b.conf"), "b").unwrap();
    std::fs::create_dir(dir.path().join("c.conf")).unwrap();
    let t = t().var("d", json!(dir.path().display().to_string()));
    let real = dir.path().canonicalize().unwrap().display().to_string();
    assert_eq!(
        t.repr("(d ~ '/*.conf') | fileglob | map('basename') | list"),
        "['a.conf', 'b.conf']"
    );
    assert_eq!(
        t.text("(d ~ '/x/../a.conf') | realpath"),
        format!("{real}/a.conf")
    );
    assert_eq!(
        t.text("(d ~ '/missing/file') | realpath"),
        format!("{real}/missing/file")
    );
    let home = std::env::var("HOME").unwrap();
    assert_eq!(t.text("'~/x' | expanduser"), format!("{home}/x"));
    assert_eq!(t.text("'$HOME/x' | expandvars"), format!("{home}/x"));
    assert_eq!(t.text("'$NOPE_NOT_SET/x' | expandvars"), "$NOPE_NOT_SET/x");
}

// ---------------------------------------------------------------------------------------
// Hashes.

#[test]
fn hashes_and_checksums() {
    let t = t();
    assert_eq!(
        t.text("'test' | hash('sha1')"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(
        t.text("'test' | hash"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(
        t.text("'test' | hash('md5')"),
        "098f6bcd4621d373cade4e832627b4f6"
    );
    assert_eq!(
        t.text("'test' | hash('sha256')"),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    assert_eq!(
        t.text("'test' | hash('sha512')"),
        "ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143732c304cc5fa9ad8e6f57f50028a8ff"
    );
    assert_eq!(
        t.text("'test' | checksum"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(
        t.text("'test' | sha1"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(t.text("'test' | md5"), "098f6bcd4621d373cade4e832627b4f6");
    assert!(t
        .err("'x' | hash('nope')")
        .contains("unsupported hash type"));
}

#[test]
fn password_hash_matches_passlib() {
    let t = t();
    assert_eq!(
        t.text("'Hello world!' | password_hash('sha512', 'saltstring', rounds=5000)"),
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
    );
    assert_eq!(
        t.text("'pw' | password_hash('sha256', 'abc', rounds=10000)"),
        t.text("'pw' | password_hash('sha256_crypt', 'abc', rounds=10000)")
    );
    assert_eq!(
        t.text("'pw' | password_hash('md5', 'saltsalt')"),
        "$1$saltsalt$6SNdNaZLKst2LlSm7oPPL1"
    );
    // passlib's default rounds show in the hash.
    assert!(t
        .text("'pw' | password_hash('sha256', 'saltsalt')")
        .starts_with("$5$rounds=535000$saltsalt$"));
    let random_salt = t.text("'pw' | password_hash");
    assert!(
        random_salt.starts_with("$6$rounds=656000$") && random_salt.len() > 100,
        "{random_salt}"
    );
    assert!(t
        .err("'pw' | password_hash('blowfish')")
        .contains("not in the list of supported"));
}

// ---------------------------------------------------------------------------------------
// Lists and dictionaries.

#[test]
fn set_theory_filters_keep_order() {
    let t = t();
    assert_eq!(t.repr("[1, 2, 2, 3, 'a', 'A'] | unique"), "[1, 2, 3, 'a']");
    assert_eq!(t.repr("[1, 2, 3] | union([3, 4, 2])"), "[1, 2, 3, 4]");
    assert_eq!(t.repr("[1, 2, 3, 2] | intersect([2, 3, 5])"), "[2, 3]");
    assert_eq!(t.repr("[1, 2, 3, 1] | difference([2])"), "[1, 3]");
    assert_eq!(
        t.repr("[1, 2, 3] | symmetric_difference([3, 4])"),
        "[1, 2, 4]"
    );
    assert_eq!(
        t.repr("['A', 'a'] | union(['B', 'b'])"),
        "['A', 'a', 'B', 'b']",
        "case-sensitive"
    );
}

#[test]
fn flatten_levels_and_nulls() {
    let t = t();
    assert_eq!(
        t.repr("[1, [2, [3, [4, none, 'None']]], none] | flatten"),
        "[1, 2, 3, 4]"
    );
    assert_eq!(
        t.repr("[1, [2, [3, [4]]]] | flatten(levels=1)"),
        "[1, 2, [3, [4]]]"
    );
    assert_eq!(t.repr("[1, [2, [3, [4]]]] | flatten(2)"), "[1, 2, 3, [4]]");
    assert_eq!(
        t.repr("[1, [none]] | flatten(skip_nulls=false)"),
        "[1, None]"
    );
}

#[test]
fn combine_shallow_recursive_and_list_merge() {
    let t = t();
    assert_eq!(
        t.repr("{'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}, 'c': 3})"),
        "{'a': 1, 'b': {'y': 2}, 'c': 3}"
    );
    assert_eq!(
        t.repr("{'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}, 'c': 3}, recursive=true)"),
        "{'a': 1, 'b': {'x': 1, 'y': 2}, 'c': 3}"
    );
    let lm = |mode: &str| {
        t.repr(&format!("{{'a': {{'l': [1, 2]}}}} | combine({{'a': {{'l': [2, 3]}}}}, recursive=true, list_merge='{mode}')"))
    };
    assert_eq!(lm("replace"), "{'a': {'l': [2, 3]}}");
    assert_eq!(lm("keep"), "{'a': {'l': [1, 2]}}");
    assert_eq!(lm("append"), "{'a': {'l': [1, 2, 2, 3]}}");
    assert_eq!(lm("prepend"), "{'a': {'l': [2, 3, 1, 2]}}");
    assert_eq!(lm("append_rp"), "{'a': {'l': [1, 2, 3]}}");
    assert_eq!(lm("prepend_rp"), "{'a': {'l': [2, 3, 1]}}");
    assert_eq!(
        t.repr("[{'a': 1}, {'b': 2}, {'a': 3}] | combine"),
        "{'a': 3, 'b': 2}"
    );
    assert_eq!(
        t.repr("{'a': 1} | combine({'b': 2}, {'a': 5})"),
        "{'a': 5, 'b': 2}"
    );
    assert_eq!(
        t.repr("{'a': {'b': 1}} | combine({'a': {'c': 2}}, {'a': {'b': 3}}, recursive=true)"),
        "{'a': {'b': 3, 'c': 2}}"
    );
    assert!(t
        .err("{'a': 1} | combine({'b': 2}, bogus=true)")
        .contains("only valid keyword arguments"));
    assert!(t
        .err("[{'a': 1}, [{'b': 2}]] | combine")
        .contains("expected dicts"));
}

#[test]
fn dict2items_and_items2dict() {
    let t = t();
    assert_eq!(
        t.repr("{'a': 1, 'b': 2} | dict2items"),
        "[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}]"
    );
    assert_eq!(
        t.repr("{'a': 1} | dict2items(key_name='k', value_name='v')"),
        "[{'k': 'a', 'v': 1}]"
    );
    assert_eq!(
        t.repr("[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}] | items2dict"),
        "{'a': 1, 'b': 2}"
    );
    assert_eq!(
        t.repr("[{'k': 'a', 'v': 1}] | items2dict(key_name='k', value_name='v')"),
        "{'a': 1}"
    );
    assert_eq!(
        t.repr("{'b': 2, 'a': 1} | dict2items | items2dict"),
        "{'b': 2, 'a': 1}"
    );
    assert!(t.err("[1] | dict2items").contains("requires a dictionary"));
    assert!(t
        .err("[{'x': 1}] | items2dict")
        .contains("to contain the keys 'key' and 'value'"));
}

#[test]
fn zip_product_and_combinatorics() {
    let t = t();
    assert_eq!(
        t.repr("[1, 2, 3] | zip(['a', 'b']) | list"),
        "[(1, 'a'), (2, 'b')]"
    );
    assert_eq!(
        t.repr("[1, 2, 3] | zip_longest(['a'], fillvalue='-') | list"),
        "[[1, 'a'], [2, '-'], [3, '-']]"
    );
    assert_eq!(
        t.repr("[1, 2] | product(['a', 'b']) | list"),
        "[[1, 'a'], [1, 'b'], [2, 'a'], [2, 'b']]"
    );
    assert_eq!(
        t.repr("[1, 2] | product(repeat=2) | list"),
        "[[1, 1], [1, 2], [2, 1], [2, 2]]"
    );
    assert_eq!(
        t.repr("[1, 2, 3] | permutations(2) | list"),
        "[[1, 2], [1, 3], [2, 1], [2, 3], [3, 1], [3, 2]]"
    );
    assert_eq!(
        t.repr("[1, 2, 3] | combinations(2) | list"),
        "[[1, 2], [1, 3], [2, 3]]"
    );
    assert_eq!(t.repr("dict(['a', 'b'] | zip([1, 2]))"), "{'a': 1, 'b': 2}");
    assert_eq!(t.repr("dict({'x': 1}, y=2)"), "{'x': 1, 'y': 2}");
}

#[test]
fn extract_and_subelements() {
    let t = t().var(
        "hostvars",
        json!({"web1": {"ip": "10.0.0.1"}, "web2": {"ip": "10.0.0.2"}}),
    );
    assert_eq!(
        t.repr("[1, 2] | map('extract', ['a', 'b', 'c']) | list"),
        "['b', 'c']"
    );
    assert_eq!(
        t.repr("['x'] | map('extract', {'x': {'y': 5}}, 'y') | list"),
        "[5]"
    );
    assert_eq!(
        t.repr("['web1', 'web2'] | map('extract', hostvars, 'ip') | list"),
        "['10.0.0.1', '10.0.0.2']"
    );
    let t = t.var(
        "users",
        json!([{"name": "alice", "groups": ["wheel", "adm"]}, {"name": "bob", "groups": []}]),
    );
    assert_eq!(
        t.repr("users | subelements('groups') | map(attribute='1') | list"),
        "['wheel', 'adm']"
    );
    assert_eq!(
        t.repr("users | subelements('groups') | map(attribute='0.name') | list"),
        "['alice', 'alice']"
    );
    assert_eq!(
        t.repr("[{'name': 'a', 'x': {'y': [1]}}, {'name': 'b'}] | subelements('x.y', skip_missing=true)"),
        "[[{'name': 'a', 'x': {'y': [1]}}, 1]]"
    );
    assert!(t
        .err("[{'name': 'b'}] | subelements('x')")
        .contains("could not find 'x' key"));
}

#[test]
fn select_reject_map_use_ansible_tests_and_filters() {
    let t = t();
    assert_eq!(
        t.repr("['a', 'b', 'aa'] | select('match', 'a') | list"),
        "['a', 'aa']"
    );
    assert_eq!(
        t.repr("['xa', 'b', 'ab'] | select('search', 'a') | list"),
        "['xa', 'ab']"
    );
    assert_eq!(
        t.repr("['xa', 'b', 'ab'] | reject('search', 'a') | list"),
        "['b']"
    );
    assert_eq!(
        t.repr("['1.2', '1.10', '2.0'] | select('version', '1.5', '>') | list"),
        "['1.10', '2.0']"
    );
    assert_eq!(
        t.repr("[{'n': 1, 'x': 'ok'}, {'n': 2}] | selectattr('x', 'defined') | list"),
        "[{'n': 1, 'x': 'ok'}]"
    );
    assert_eq!(
        t.repr("[{'n': 1, 'x': 'ok'}, {'n': 2}] | rejectattr('x', 'defined') | list"),
        "[{'n': 2}]"
    );
    assert_eq!(t.repr("[{'r': {'failed': true}}, {'r': {'failed': false}}] | selectattr('r', 'failed') | list | length"), "1");
    assert_eq!(t.repr("['1', '2'] | map('int') | list"), "[1, 2]");
    assert_eq!(
        t.repr("['a1', 'b2'] | map('regex_replace', '[0-9]', '') | list"),
        "['a', 'b']"
    );
    assert_eq!(
        t.repr("[{'a': 1}, {'a': 2}] | map(attribute='a') | list"),
        "[1, 2]"
    );
    assert_eq!(
        t.repr("[1, 2, 3] | map('string') | list"),
        "['1', '2', '3']"
    );
}

#[test]
fn builtin_list_filters() {
    let t = t();
    assert_eq!(t.repr("[1, 2, 3] | max"), "3");
    assert_eq!(t.repr("[1, 2, 3] | min"), "1");
    assert_eq!(t.repr("[1, 2, 3] | sum"), "6");
    assert_eq!(t.repr("[3, 1, 2] | first"), "3");
    assert_eq!(t.repr("[3, 1, 2] | last"), "2");
    assert_eq!(t.repr("'abc' | list"), "['a', 'b', 'c']");
    assert_eq!(t.repr("['b', 'A', 'c'] | sort"), "['A', 'b', 'c']");
    assert_eq!(
        t.repr("[{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list"),
        "[1, 2]"
    );
    assert_eq!(t.repr("[{'g': 'x', 'v': 1}, {'g': 'y', 'v': 2}, {'g': 'x', 'v': 3}] | groupby('g') | map('first') | list"), "['x', 'y']");
}

#[test]
fn random_and_shuffle_match_pythons_seeded_generator() {
    let t = t();
    // Same values as ansible-core (Python's random.Random): the cron-minute idiom is stable.
    assert_eq!(t.repr("59 | random(seed='web1')"), "52");
    assert_eq!(t.repr("60 | random(seed='db.example.com')"), "4");
    assert_eq!(t.repr("100 | random(start=10, step=5, seed='s')"), "85");
    assert_eq!(t.repr("['a', 'b', 'c'] | random(seed=42)"), "'c'");
    assert_eq!(
        t.repr("[1, 2, 3, 4, 5] | shuffle(seed='x')"),
        "[5, 2, 1, 4, 3]"
    );
    assert_eq!(
        t.repr("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10] | shuffle(seed=12345)"),
        "[9, 8, 4, 6, 2, 3, 10, 5, 1, 7]"
    );
    let unseeded = t.eval("10 | random").as_i64().unwrap();
    assert!((0..10).contains(&unseeded));
    assert_eq!(
        t.eval("[1, 2, 3] | shuffle | sort | list"),
        t.eval("[1, 2, 3]")
    );
    assert!(t.err("[] | random").contains("empty"));
}

#[test]
fn rekey_on_member() {
    let t = t();
    assert_eq!(
        t.repr("[{'n': 'a', 'v': 1}, {'n': 'b', 'v': 2}] | rekey_on_member('n')"),
        "{'a': {'n': 'a', 'v': 1}, 'b': {'n': 'b', 'v': 2}}"
    );
    assert!(t
        .err("[{'n': 'a'}, {'n': 'a'}] | rekey_on_member('n')")
        .contains("not unique"));
}

// ---------------------------------------------------------------------------------------
// Numbers and dates.

#[test]
fn math_filters() {
    let t = t();
    assert_eq!(t.repr("8 | log(2)"), "3.0");
    assert_eq!(t.repr("100 | log(10)"), "2.0");
    assert_eq!(t.repr("2 | pow(10)"), "1024.0");
    assert_eq!(t.repr("16 | root"), "4.0");
    assert_eq!(t.repr("27 | root(3)"), "3.0");
}

#[test]
fn human_readable_and_back() {
    let t = t();
    assert_eq!(t.text("1024 | human_readable"), "1.00 KB");
    assert_eq!(t.text("1500000 | human_readable"), "1.43 MB");
    assert_eq!(t.text("1 | human_readable"), "1.00 Bytes");
    assert_eq!(t.text("0 | human_readable"), "0.00 Bytes");
    assert_eq!(t.text("1099511627776 | human_readable"), "1.00 TB");
    assert_eq!(t.text("10000000 | human_readable(unit='G')"), "0.01 GB");
    assert_eq!(t.text("1024 | human_readable(isbits=true)"), "1.00 Kb");
    assert_eq!(t.repr("'1 KB' | human_to_bytes"), "1024");
    assert_eq!(t.repr("'2.5M' | human_to_bytes"), "2621440");
    assert_eq!(t.repr("'1.5 GB' | human_to_bytes"), "1610612736");
    assert_eq!(t.repr("'1 kilobyte' | human_to_bytes"), "1024");
    assert_eq!(t.repr("'10' | human_to_bytes(default_unit='K')"), "10240");
    assert_eq!(t.repr("'1Mb' | human_to_bytes(isbits=true)"), "1048576");
    assert!(t.err("'2 Kb' | human_to_bytes").contains("expect KB or K"));
}

#[test]
fn strftime_formats_utc_seconds() {
    let t = t();
    assert_eq!(
        t.text("'%Y-%m-%d %H:%M:%S' | strftime(0)"),
        "1970-01-01 00:00:00"
    );
    assert_eq!(
        t.text("'%a %b %d %j %y %A %B %I %p' | strftime(1700000000, utc=true)"),
        "Tue Nov 14 318 23 Tuesday November 10 PM"
    );
    assert_eq!(
        t.text("'%F %T %D %R %e %C %u %w' | strftime(31536000, utc=true)"),
        "1971-01-01 00:00:00 01/01/71 00:00  1 19 5 5"
    );
    assert_eq!(
        t.text("'%c|%x|%X' | strftime(951782400, utc=true)"),
        "Tue Feb 29 00:00:00 2000|02/29/00|00:00:00"
    );
    let year: i64 = t.text("'%Y' | strftime").parse().unwrap();
    assert!(year >= 2024);
    assert_eq!(t.text("now(fmt='%Y')"), t.text("'%Y' | strftime"));
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn version_tests_loose_strict_semver() {
    let t = t();
    assert!(t.is("'1.10' is version('1.9', '>')"));
    assert!(!t.is("'1.10' is version('1.9', 'lt')"));
    assert!(t.is("'2.0' is version('2.0.0', '<')"));
    assert!(t.is("'1.0.0' is version('1.0.0', '==')"));
    assert!(t.is("'1.0.0' is version('1.0.0')"), "eq by default");
    assert!(t.is("'1.0.0' is version('1.0.1', '<>')"));
    assert!(t.is("'1.0.0' is version('1.0.1', 'ne')"));
    assert!(t.is("'18.04' is version('16.04', '>=')"));
    assert!(t.is("'3.1' is version_compare('3.0', 'ge')"));
    assert!(t.is("'1.2.3' is version('1.2', '>=')"));
    assert!(t.is("'2.6.32-5-amd64' is version('2.6.32-4-amd64', '>')"));
    assert!(t.is("'2024.01.15' is version('2023.12.31', '>')"));
    assert!(
        !t.is("3.10 is version('3.9', '>')"),
        "a float 3.10 is 3.1, as in Python"
    );
    assert!(t.is("'1.2a1' is version('1.2', '<', strict=true)"));
    assert!(t.is("'3.0' is version('3.0', '>=', strict=true)"));
    assert!(t.is("'1.0.0-alpha' is version('1.0.0', '<', version_type='semver')"));
    assert!(t.is("'1.10.0' is version('1.9.0', '>', version_type='semver')"));
    assert!(t.is("'1.0.0+build1' is version('1.0.0', '==', version_type='semver')"));
    assert!(
        t.eval("'1.10' | version_compare('1.9', '>')").is_true(),
        "old filter spelling"
    );
    assert!(t
        .err("'1' is version('1', 'bogus')")
        .contains("Invalid operator type"));
    assert!(t.err("'' is version('1')").contains("cannot be empty"));
    assert!(t
        .err("'1.2.3.4' is version('1.0', strict=true)")
        .contains("invalid version number"));
}

#[test]
fn task_result_tests() {
    let t = t()
        .var("ok", json!({"changed": false, "rc": 0}))
        .var("bad", json!({"failed": true, "rc": 2, "changed": true}));
    assert!(t.is("bad is failed") && t.is("bad is failure"));
    assert!(!t.is("ok is failed"));
    assert!(t.is("ok is succeeded") && t.is("ok is success") && t.is("ok is successful"));
    assert!(!t.is("bad is success"));
    assert!(t.is("bad is changed") && t.is("bad is change"));
    assert!(!t.is("ok is changed"));
    assert!(
        !t.is("{'rc': 1} is failed"),
        "failed reads result.failed, not rc"
    );
    assert!(!t.is("{} is changed"));
    assert!(t.is("{'results': [{'changed': false}, {'changed': true}]} is changed"));
    assert!(t.is("{'skipped': true} is skipped") && t.is("{'skipped': true} is skip"));
    assert!(!t.is("ok is skipped"));
    assert!(t.is("{'unreachable': true} is unreachable"));
    assert!(t.is("ok is reachable"));
    assert!(
        t.is("{} is finished")
            && !t.is("{'finished': 0} is finished")
            && t.is("{'finished': 1} is finished")
    );
    assert!(t.is("{'started': 1} is started"));
    assert!(t.err("'x' is failed").contains("expects a dictionary"));
    assert!(t.is("bad is ansible.builtin.failed"));
}

#[test]
fn set_and_truthiness_tests() {
    let t = t();
    assert!(t.is("[1, 2] is subset([1, 2, 3])"));
    assert!(!t.is("[1, 4] is subset([1, 2, 3])"));
    assert!(t.is("[1, 2, 3] is superset([1, 2])"));
    assert!(t.is("[1, 2] is issubset([1, 2, 3])"));
    assert!(t.is("[1, 2] is contains(1)") && !t.is("[1, 2] is contains(3)"));
    assert!(t.is("[0, 1] is any") && !t.is("[0, 1] is all") && t.is("[] is all"));
    assert!(t.is("'x' is truthy") && !t.is("'' is truthy") && t.is("'no' is truthy"));
    assert!(!t.is("'no' is truthy(convert_bool=true)") && t.is("'no' is falsy(convert_bool=true)"));
    assert!(t.is("'a' is in ['a', 'b']"));
    assert!(t.is("none is none"));
    assert!(!t.is("nope is defined") && t.is("nope is undefined"));
}

#[test]
fn type_tests_follow_jinja2() {
    let t = t();
    assert!(
        t.is("'abc' is string")
            && t.is("1 is number")
            && t.is("1.5 is float")
            && t.is("1 is integer")
    );
    assert!(t.is("true is boolean") && t.is("{} is mapping") && t.is("[] is iterable"));
    assert!(
        t.is("'abc' is sequence")
            && t.is("{} is sequence")
            && t.is("[] is sequence")
            && !t.is("1 is sequence")
    );
    assert!(!t.is("nope is sequence"));
    assert!(t.is("(0.0 / 1) is number"));
}

#[test]
fn uri_tests() {
    let t = t();
    assert!(t.is("'http://x.com/a' is url"));
    assert!(t.is("'urn:isbn:0451450523' is urn"));
    assert!(t.is("'mailto:x@y' is uri"));
    assert!(!t.is("'foo' is url"));
    assert!(t.is("'https://x' is url(['https'])") && !t.is("'http://x' is url(['https'])"));
}

#[test]
fn file_tests_on_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.txt");
    std::fs::write(&f, "x").unwrap();
    std::os::unix::fs::symlink(&f, dir.path().join("l")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("dangling")).unwrap();
    let t = t().var("d", json!(dir.path().display().to_string()));
    assert!(t.is("d is directory") && t.is("d is is_dir") && !t.is("d is file"));
    assert!(t.is("(d ~ '/f.txt') is file") && t.is("(d ~ '/f.txt') is exists"));
    assert!(t.is("(d ~ '/l') is link") && t.is("(d ~ '/l') is file"));
    assert!(!t.is("(d ~ '/dangling') is exists") && t.is("(d ~ '/dangling') is link_exists"));
    assert!(t.is("(d ~ '/l') is same_file(d ~ '/f.txt')"));
    assert!(t.is("d is abs") && !t.is("'rel/path' is abs"));
    assert!(t.is("'/' is mount") && !t.is("d is mount"));
    assert!(t.is("'~' is directory"), "~ is expanded");
}
