//! Property tests (proptest, no fleet): the parsers of user input — YAML
//! (`rdeploy::yaml`), INI inventories, `k=v` strings, host patterns — never panic and
//! finish quickly on arbitrary input (random text and random sequences of the tokens
//! their grammars care about); shell quoting round-trips arbitrary strings (quotes,
//! newlines, `$`, backslashes, any Unicode but NUL, which no argv can hold) through a
//! real `/bin/sh -c 'printf ...'` on the controller, and `shell::split` undoes
//! `shell::join`. `shell::quote` takes `&str`, so non-UTF-8 bytes are outside its API.

use proptest::prelude::*;
use rdeploy::inventory::Inventory;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The most one parse of a small input may take (debug build, shared machine).
const QUICK: Duration = Duration::from_secs(2);

/// Runs `f` and asserts it took less than [`QUICK`].
fn quick<T>(what: &str, input: &str, f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let out = f();
    assert!(
        t0.elapsed() < QUICK,
        "{what} took {:?} on {input:?}",
        t0.elapsed()
    );
    out
}

/// Random sequences of grammar tokens, joined: reaches deeper than random text.
fn tokens(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max).prop_map(|v| v.concat())
}

/// Random text or random tokens.
fn input(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof!["(?s).{0,200}", tokens(alphabet, 60),]
}

const YAML_TOKENS: &[&str] = &[
    "- ",
    ": ",
    "\n",
    "  ",
    "    ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!custom ",
    "'",
    "\"",
    "|",
    "|-\n",
    ">",
    "# c",
    "key",
    "yes",
    "no",
    "0644",
    "0x1F",
    "1e400",
    "~",
    "null",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "? ",
    "\\",
    "\\u00e9",
    "é",
    "\u{feff}",
    "\r\n",
    "{{ v }}",
    "=",
    "-1",
    ".inf",
    "2001-12-14",
    "@",
    "`",
    "%",
];

const INI_TOKENS: &[&str] = &[
    "[",
    "]",
    "web",
    ":children",
    ":vars",
    "\n",
    " ",
    "=",
    "'",
    "\"",
    "#",
    ";",
    "\\",
    "ansible_port=",
    "ansible_host=",
    "22",
    "x",
    "[a:z]",
    "[01:03]",
    "[1:3:0]",
    "[:]",
    "[9:1]",
    "a=b",
    "all",
    "ungrouped",
    "{",
    "}",
    "\t",
    "\r\n",
    "é",
    "[web:vars]",
    "[web:children]",
    "[all:vars]",
    "[db]",
    "db[1:2]",
    "host:2222",
    "[::1]",
    "${x}",
];

const KV_TOKENS: &[&str] = &[
    "k=v",
    "a",
    "b",
    "=",
    "'",
    "\"",
    "\\",
    " ",
    "  ",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "\n",
    "b=",
    "==",
    "x='y z'",
    "\"q\"",
    "\\'",
    "\\\"",
    "é",
    "\t",
    "_raw_params=",
];

const PATTERN_TOKENS: &[&str] = &[
    "web",
    "db",
    "all",
    "prod",
    "lone",
    ":",
    "&",
    "!",
    "~",
    "*",
    "?",
    "[",
    "]",
    "0",
    "1",
    "-",
    ",",
    "(",
    ")",
    "^",
    "$",
    ".",
    "\\",
    "web[1:2]",
    "web[-1]",
    "~(",
    "~[",
    "{",
    "}",
    "|",
    "+",
    " ",
    "é",
    "10.0.0.1",
    "host.example.com",
    "ungrouped",
    "[0:]",
];

/// A small inventory to select from.
fn inventory() -> Inventory {
    let mut inv = Inventory::new();
    rdeploy::inventory::ini::parse(
        "lone\n[web]\nweb1\nweb2\nweb3\n[db]\ndb1\ndb2\n[prod:children]\nweb\n[ext]\nhost.example.com\n10.0.0.1\n",
        Path::new("hosts"),
        &mut inv,
    )
    .expect("inventory");
    inv
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn yaml_loader_never_panics(text in input(YAML_TOKENS)) {
        quick("yaml::load_all_str", &text, || {
            let _ = rdeploy::yaml::load_all_str(&text, Path::new("p.yml"));
        });
    }

    #[test]
    fn ini_inventory_never_panics(text in input(INI_TOKENS)) {
        quick("ini::parse", &text, || {
            let mut inv = Inventory::new();
            let _ = rdeploy::inventory::ini::parse(&text, Path::new("hosts"), &mut inv);
        });
    }

    /// Host ranges with any bounds: an error or a bounded list, never a runaway.
    #[test]
    fn ini_host_ranges_stay_bounded(
        b in "[0-9]{1,12}", e in "[0-9]{1,12}", step in "[0-9]{0,3}", twice in any::<bool>()
    ) {
        let range = if step.is_empty() { format!("[{b}:{e}]") } else { format!("[{b}:{e}:{step}]") };
        let line = if twice { format!("h{range}x{range}") } else { format!("h{range}") };
        let text = format!("[g]\n{line}\n");
        quick("ini::parse (range)", &text, || {
            let mut inv = Inventory::new();
            let _ = rdeploy::inventory::ini::parse(&text, Path::new("hosts"), &mut inv);
        });
    }

    #[test]
    fn kv_parser_never_panics(text in input(KV_TOKENS), free in any::<bool>()) {
        quick("kv::parse_kv", &text, || {
            let _ = rdeploy::playbook::kv::parse_kv(&text, free);
            let _ = rdeploy::playbook::kv::split_args(&text);
        });
    }

    /// `@file` terms read a file: left out of random patterns.
    #[test]
    fn host_patterns_never_panic(text in input(PATTERN_TOKENS).prop_filter("no @file", |s| !s.contains('@'))) {
        let inv = inventory();
        quick("Inventory::select", &text, || {
            let _ = inv.select(&text);
            let _ = inv.select_limited("all", Some(&text));
        });
    }
}

/// Arbitrary strings, with the characters shells care about made frequent.
fn shell_string() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        3 => any::<char>().prop_filter("no NUL in argv", |c| *c != '\0'),
        1 => prop::sample::select(&[
            '\'', '"', '$', '\\', '\n', '`', '!', ' ', '*', '?', '~', '#', ';', '&', '|', '(',
            ')', '{', '}', '<', '>', '\t', '\r', '=', '%', '-',
        ][..]),
    ];
    prop::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect())
}

/// Runs `script` with `/bin/sh -c` and returns its stdout bytes.
fn sh(script: &str) -> Vec<u8> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("run /bin/sh");
    assert!(
        out.status.success(),
        "sh -c {script:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn quote_round_trips_through_sh(s in shell_string()) {
        let script = format!("printf %s {}", rdeploy::shell::quote(&s));
        prop_assert_eq!(sh(&script), s.as_bytes());
    }

    #[test]
    fn script_args_round_trip_through_sh(v in prop::collection::vec(shell_string(), 1..5)) {
        let mut s = rdeploy::shell::Script::new();
        s.raw("printf '%s\\0' ").args(&v);
        let out = sh(s.as_str());
        let want: Vec<u8> = v.iter().flat_map(|a| a.bytes().chain([0])).collect();
        prop_assert_eq!(out, want);
    }

    #[test]
    fn split_undoes_join(v in prop::collection::vec(shell_string(), 0..5)) {
        let line = rdeploy::shell::join(&v);
        prop_assert_eq!(rdeploy::shell::split(&line), Ok(v));
    }
}
