//! Unit tests of the filters (Python/Ansible outputs as expected values).

use super::*;

#[test]
fn python_float_repr() {
    let cases = [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1.5e16, "1.5e+16"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456789.123, "123456789.123"),
        (1.0 / 3.0, "0.3333333333333333"),
        (f64::INFINITY, "inf"),
        (-0.0, "-0.0"),
    ];
    for (f, want) in cases {
        assert_eq!(py_float_repr(f), want, "{f}");
    }
}

#[test]
fn python_str_repr_picks_quotes() {
    assert_eq!(py_str_repr("a"), "'a'");
    assert_eq!(py_str_repr("it's"), "\"it's\"");
    assert_eq!(py_str_repr("it's \"x\""), "'it\\'s \"x\"'");
    assert_eq!(py_str_repr("a\nb\t\\"), "'a\\nb\\t\\\\'");
    assert_eq!(py_str_repr("\u{1}é"), "'\\x01é'");
    assert_eq!(
        py_repr(&Value::from(vec![
            Value::from(true),
            Value::from(()),
            Value::from("x")
        ])),
        "[True, None, 'x']"
    );
}

#[test]
fn python_int_and_float_parsing() {
    assert_eq!(parse_py_int(" 42 ", 10), Some(42));
    assert_eq!(parse_py_int("-0x1f", 16), Some(-31));
    assert_eq!(parse_py_int("0o17", 0), Some(15));
    assert_eq!(parse_py_int("1_000", 10), Some(1000));
    assert_eq!(parse_py_int("1__0", 10), None);
    assert_eq!(parse_py_int("017", 0), None);
    assert_eq!(parse_py_int("00", 0), Some(0));
    assert_eq!(parse_py_int("z", 36), Some(35));
    assert_eq!(parse_py_float(" 1e3 "), Some(1000.0));
    assert_eq!(parse_py_float("-Infinity"), Some(f64::NEG_INFINITY));
    assert_eq!(parse_py_float("1_0.5"), Some(10.5));
    assert_eq!(parse_py_float("0x10"), None);
    assert_eq!(parse_py_float(""), None);
}

#[test]
fn python_regex_translation() {
    assert_eq!(translate_py_regex(r"a\Z"), r"a\z");
    assert_eq!(translate_py_regex("{x}"), r"\{x\}");
    assert_eq!(translate_py_regex("a{2}b{,3}c{1,}"), "a{2}b{0,3}c{1,}");
    assert_eq!(translate_py_regex("[[]"), r"[\[]");
    assert_eq!(translate_py_regex("[]a]"), r"[\]a]");
    assert_eq!(translate_py_regex("a(?#comment)b"), "ab");
    assert_eq!(translate_py_regex(r"\<\/"), "</");
    assert_eq!(translate_py_regex(r"\0"), r"\x{0}");
    let re = compile_py_regex(r"(?P<word>\w+)\s*$", false, false).unwrap();
    assert!(re.is_match("hello  "));
    assert!(
        compile_py_regex("(?<=a)b", false, false).is_err(),
        "lookbehind has no equivalent"
    );
}

#[test]
fn python_replacement_templates() {
    let re = compile_py_regex("(a)(?P<n>b)?", false, false).unwrap();
    let sub = |repl: &str, text: &str| py_regex_sub(&re, repl, text, 0).map(|r| r.0);
    assert_eq!(sub(r"[\1\g<n>\g<0>]", "ab a").unwrap(), "[abab] [aa]");
    assert_eq!(sub(r"\n\t\\", "a").unwrap(), "\n\t\\");
    assert_eq!(sub(r"\.", "a").unwrap(), r"\.");
    assert_eq!(sub(r"\101", "a").unwrap(), "A", "octal escape");
    assert!(
        sub(r"\q", "a").is_err(),
        "unknown letter escapes are errors, as in Python"
    );
    assert!(sub(r"\g<nope>", "a").is_err());
    assert!(sub(r"\3", "a").is_err());
    let empty = compile_py_regex("x*", false, false).unwrap();
    assert_eq!(
        py_regex_sub(&empty, "-", "axxb", 0).unwrap(),
        ("-a--b-".to_string(), 4)
    );
}

#[test]
fn python_random_matches_cpython() {
    let mut r = PyRandom::from_seed(&Value::from(42));
    let words: Vec<u128> = (0..3).map(|_| r.getrandbits(32)).collect();
    assert_eq!(words, [2746317213, 478163327, 107420369]);
    assert_eq!(r.getrandbits(64), 5073395517033431291);
    assert_eq!(r.getrandbits(100), 882565121070403957190206503824);
    let mut r = PyRandom::from_seed(&Value::from("abc"));
    let picks: Vec<i128> = (0..5).map(|_| r.randrange(0, 1000, 1).unwrap()).collect();
    assert_eq!(picks, [790, 571, 471, 726, 939]);
    assert_eq!(
        PyRandom::from_seed(&Value::from(0)).getrandbits(32),
        3626764237
    );
    assert_eq!(
        PyRandom::from_seed(&Value::from(-7)).getrandbits(32),
        1390851128
    );
    assert_eq!(
        PyRandom::from_seed(&Value::from((1i128 << 70) + 5)).getrandbits(32),
        2004888747
    );
}

#[test]
fn crypt_hashes_match_openssl() {
    assert_eq!(
        crypt::sha_crypt(b"Hello world!", "saltstring", 5000, true),
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
    );
    assert_eq!(
        crypt::sha_crypt(b"Hello world!", "saltstring", 5000, false),
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
    );
    assert_eq!(
        crypt::sha_crypt(b"x", "toolongsaltstringXYZ", 5000, true),
        "$6$toolongsaltstrin$m5UCdGkMg16fnZB/afayhHcFYEQvnTRoKod8GIJKB0rGGl9IQGUPKeGHHw5xPOFVPjhTAcuzioT6ZcDqsMKJ80"
    );
    assert_eq!(
        crypt::md5_crypt(b"pw", "saltsalt"),
        "$1$saltsalt$6SNdNaZLKst2LlSm7oPPL1"
    );
}

fn yaml(v: serde_json::Value, flow: Option<bool>, indent: usize) -> String {
    let o = yaml_dump::Options {
        flow,
        indent,
        ..Default::default()
    };
    yaml_dump::dump(&crate::template::from_json(&v), &o).unwrap()
}

#[test]
fn yaml_emitter_styles() {
    use serde_json::json;
    assert_eq!(
        yaml(json!({"a": [1, 2], "b": {"c": "d"}}), None, 2),
        "a: [1, 2]\nb: {c: d}\n"
    );
    assert_eq!(
        yaml(json!({"a": [{"b": 1, "c": 2}]}), Some(false), 4),
        "a:\n-   b: 1\n    c: 2\n"
    );
    assert_eq!(
        yaml(
            json!(["yes", "on", "1", "0.5", "~", "", "a: b", "x"]),
            Some(false),
            2
        ),
        "- 'yes'\n- 'on'\n- '1'\n- '0.5'\n- '~'\n- ''\n- 'a: b'\n- x\n"
    );
    assert_eq!(
        yaml(
            json!({"t": "a\tb", "e": "😀", "n": "a\u{85}b"}),
            Some(false),
            2
        ),
        "e: \"\\U0001F600\"\nn: \"a\\Nb\"\nt: \"a\\tb\"\n"
    );
    assert_eq!(
        yaml(json!({"m": "l1\nl2\n"}), Some(false), 2),
        "m: 'l1\n\n  l2\n\n  '\n"
    );
    assert_eq!(yaml(json!({}), None, 2), "{}\n");
    assert_eq!(yaml(json!([]), Some(false), 2), "[]\n");
    assert_eq!(yaml(json!(null), None, 2), "null\n");
}

#[test]
fn json_like_python() {
    use serde_json::json;
    let v = crate::template::from_json(&json!({"b": [1, {"c": "é\u{1}"}], "a": 1.5}));
    let compact = JsonStyle {
        indent: None,
        sort_keys: false,
        item_sep: ", ".into(),
        key_sep: ": ".into(),
        ensure_ascii: true,
    };
    assert_eq!(
        json_dumps(&v, &compact).unwrap(),
        r#"{"b": [1, {"c": "\u00e9\u0001"}], "a": 1.5}"#
    );
    let nice = JsonStyle {
        indent: Some("  ".into()),
        sort_keys: true,
        item_sep: ",".into(),
        key_sep: ": ".into(),
        ensure_ascii: false,
    };
    assert_eq!(
        json_dumps(&v, &nice).unwrap(),
        "{\n  \"a\": 1.5,\n  \"b\": [\n    1,\n    {\n      \"c\": \"é\\u0001\"\n    }\n  ]\n}"
    );
}

#[test]
fn posix_paths() {
    assert_eq!(py_dirname("/a/b/"), "/a/b");
    assert_eq!(py_dirname("//"), "//");
    assert_eq!(py_basename("a/b"), "b");
    assert_eq!(py_normpath("///a/./b/../c"), "/a/c");
    assert_eq!(py_normpath("../a/.."), "..");
    assert_eq!(
        py_path_join(&["a".into(), "b/".into(), "c".into()]),
        "a/b/c"
    );
    assert_eq!(
        nt_splitdrive("C:\\x"),
        ("C:".to_string(), "\\x".to_string())
    );
    assert_eq!(nt_split("C:\\a\\b"), ("C:\\a".to_string(), "b".to_string()));
    assert_eq!(py_splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
}

#[test]
fn utc_calendar() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(11016), (2000, 2, 29));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(
        format_utc("%Y-%m-%d %H:%M:%S %j", 1709251199.0),
        "2024-02-29 23:59:59 060"
    );
}

#[test]
fn formatter_prints_python_values() {
    let mut env = Environment::new();
    env.set_formatter(format_value);
    let out = env
        .render_str(
            "{{ true }}|{{ none }}|{{ [1, 'a'] }}|{{ {'k': 1.0} }}|{{ 'x' }}",
            (),
        )
        .unwrap();
    assert_eq!(out, "True||[1, 'a']|{'k': 1.0}|x");
}

#[test]
fn backslashes_doubled_only_in_expression_strings() {
    assert_eq!(
        escape_backslashes(r"{{ x | regex_replace('(\d+)', '\1') }}"),
        r"{{ x | regex_replace('(\\d+)', '\\1') }}"
    );
    assert_eq!(
        escape_backslashes(r"C:\dir {{ 'a\b' }} \n"),
        r"C:\dir {{ 'a\\b' }} \n"
    );
    // Ansible's quirk: an escaped quote is doubled too.
    assert_eq!(escape_backslashes(r#"{{ "q\"q" }}"#), r#"{{ "q\\"q" }}"#);
    assert!(matches!(
        escape_backslashes("no braces \\"),
        Cow::Borrowed(_)
    ));
    let t = crate::template::Templar::new();
    let yaml_text = r"{{ 'web01' | regex_replace('^web(\d+)$', 'db\1') }}";
    let out = t
        .render_string(&escape_backslashes(yaml_text), &Value::from(()))
        .unwrap();
    assert_eq!(out, "db01");
}

#[test]
fn merge_hash_keeps_key_order() {
    use serde_json::json;
    let x = crate::template::from_json(&json!({"a": 1, "b": {"c": [1]}, "d": 4}));
    let y = crate::template::from_json(&json!({"b": {"c": [2], "e": 5}, "a": 9}));
    let m = merge_hash(&x, &y, true, "append").unwrap();
    assert_eq!(py_repr(&m), "{'a': 9, 'b': {'c': [1, 2], 'e': 5}, 'd': 4}");
    assert!(merge_hash(&x, &y, true, "bogus").is_err());
}
