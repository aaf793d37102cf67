//! Templates as Ansible renders them, continued from `templates.rs` (split there at its
//! section seams): lookups and whole templates.

use crate::templates::{t, Tpl};
use rdeploy::template::filters::py_str;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Lookups.

#[test]
fn env_lookup() {
    let t = t();
    let home = std::env::var("HOME").unwrap();
    assert_eq!(t.text("lookup('env', 'HOME')"), home);
    assert_eq!(t.repr("query('env', 'HOME')"), format!("['{home}']"));
    assert_eq!(t.repr("lookup('env', 'RDEPLOY_NOPE_XYZ')"), "''");
    assert_eq!(
        t.text("lookup('env', 'RDEPLOY_NOPE_XYZ', default='dflt')"),
        "dflt"
    );
    assert_eq!(t.text("lookup('ansible.builtin.env', 'HOME')"), home);
}

#[test]
fn lookup_joins_strings_query_always_lists() {
    let t = t();
    assert_eq!(t.repr("lookup('items', ['a', 'b'])"), "'a,b'");
    assert_eq!(t.repr("lookup('items', ['a'])"), "'a'");
    assert_eq!(t.repr("lookup('items', [1, 2], [3])"), "[1, 2, 3]");
    assert_eq!(t.repr("lookup('items', [])"), "[]");
    assert_eq!(
        t.repr("lookup('list', ['a', 'b'], wantlist=true)"),
        "[['a', 'b']]"
    );
    assert_eq!(t.repr("q('items', 'single')"), "['single']");
    assert_eq!(
        t.repr("lookup('first_found', ['/nonexistent1'], errors='ignore')"),
        "None"
    );
    assert_eq!(
        t.repr("query('first_found', ['/nonexistent1'], errors='ignore')"),
        "[]"
    );
    assert!(t
        .err("lookup('first_found', ['/nonexistent1'])")
        .contains("No file was found"));
    assert!(t
        .err("lookup('nope_plugin', 'x')")
        .contains("not supported"));
    assert!(t
        .err("lookup('env', 'HOME', bogus=1)")
        .contains("has no option 'bogus'"));
}

#[test]
fn loop_lookups_items_list_dict_nested_together() {
    let t = t();
    assert_eq!(
        t.repr("query('items', [1, [2, 3]], 4)"),
        "[1, [2, 3], 4]",
        "one level only"
    );
    assert_eq!(t.repr("query('list', 1, 2)"), "[1, 2]");
    assert_eq!(
        t.repr("query('dict', {'a': 1, 'b': 2})"),
        "[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}]"
    );
    assert_eq!(
        t.repr("query('indexed_items', ['a', 'b'])"),
        "[[0, 'a'], [1, 'b']]"
    );
    assert_eq!(
        t.repr("query('nested', ['a', 'b'], [1, 2])"),
        "[['a', 1], ['a', 2], ['b', 1], ['b', 2]]"
    );
    assert_eq!(
        t.repr("query('together', ['a', 'b', 'c'], [1, 2])"),
        "[['a', 1], ['b', 2], ['c', None]]"
    );
    assert_eq!(
        t.repr("query('subelements', [{'n': 'a', 'l': [1, 2]}], 'l')"),
        "[[{'n': 'a'}, 1], [{'n': 'a'}, 2]]"
    );
    assert_eq!(
        t.repr("query('subelements', [{'n': 'a', 'x': {'l': [1]}}, {'n': 'b'}], 'x.l', {'skip_missing': true})"),
        "[[{'n': 'a', 'x': {}}, 1]]"
    );
    assert_eq!(t.repr("query('random_choice', 'only')"), "['only']");
    // How the executor calls a `with_<lookup>:` loop.
    let t = t.var("__terms", json!([["a"], [1, 2]]));
    assert_eq!(t.repr("query('nested', *__terms)"), "[['a', 1], ['a', 2]]");
}

#[test]
fn sequence_lookup() {
    let t = t();
    assert_eq!(
        t.repr("query('sequence', 'start=1 end=5')"),
        "['1', '2', '3', '4', '5']"
    );
    assert_eq!(
        t.repr("query('sequence', 'start=0 end=10 stride=3 format=host%02d')"),
        "['host00', 'host03', 'host06', 'host09']"
    );
    assert_eq!(t.repr("query('sequence', 'count=3')"), "['1', '2', '3']");
    assert_eq!(
        t.repr("query('sequence', 'start=5 count=3 stride=2')"),
        "['5', '7', '9']"
    );
    assert_eq!(
        t.repr("query('sequence', '4-8/2:web%d')"),
        "['web4', 'web6', 'web8']"
    );
    assert_eq!(
        t.repr("query('sequence', '5')"),
        "['1', '2', '3', '4', '5']"
    );
    assert_eq!(
        t.repr("query('sequence', 'start=10 end=1 stride=-3')"),
        "['10', '7', '4', '1']"
    );
    assert_eq!(
        t.repr("query('sequence', 'start=1 end=3', 'start=7 end=8')"),
        "['1', '2', '3', '7', '8']"
    );
    assert_eq!(t.repr("query('sequence', 'start=0 count=0')"), "[]");
    assert_eq!(
        t.repr("query('sequence', start=2, end=4)"),
        "['2', '3', '4']"
    );
    assert_eq!(t.repr("lookup('sequence', 'start=1 end=3')"), "'1,2,3'");
    assert!(t
        .err("query('sequence', 'end=0')")
        .contains("to count backwards make stride negative"));
    assert!(t
        .err("query('sequence', 'start=1')")
        .contains("must specify count or end"));
}

#[test]
fn pipe_and_lines_run_on_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let t = t().var("playbook_dir", json!(dir.path().display().to_string()));
    assert_eq!(
        t.text("lookup('pipe', 'echo hello; echo world')"),
        "hello\nworld"
    );
    assert_eq!(
        t.repr(r"query('lines', 'printf \'a\\nb\\n\'')"),
        "['a', 'b']"
    );
    let real = dir.path().canonicalize().unwrap().display().to_string();
    assert_eq!(
        t.text("lookup('pipe', 'pwd -P')"),
        real,
        "commands run in the playbook directory"
    );
    assert!(t.err("lookup('pipe', 'exit 3')").contains("returned 3"));
}

#[test]
fn vars_and_varnames_lookups() {
    let t = t()
        .var("my_var", json!("mv"))
        .var("my_other", json!(1))
        .var("greeting", json!("hello {{ my_var }}"))
        .var("inventory_hostname", json!("web1"))
        .var("hostvars", json!({"web1": {"only_on_host": "h"}}));
    assert_eq!(t.text("lookup('vars', 'my_var')"), "mv");
    assert_eq!(t.text("lookup('vars', 'my_' ~ 'var')"), "mv");
    assert_eq!(
        t.text("lookup('vars', 'greeting')"),
        "hello mv",
        "values are templated"
    );
    assert_eq!(t.text("lookup('vars', 'only_on_host')"), "h");
    assert_eq!(t.text("lookup('vars', 'nope_var', default='dv')"), "dv");
    assert!(t
        .err("lookup('vars', 'nope_var')")
        .contains("No variable named 'nope_var'"));
    let mut names: Vec<String> = t
        .eval("query('varnames', '^my_')")
        .try_iter()
        .unwrap()
        .map(|v| py_str(&v))
        .collect();
    names.sort();
    assert_eq!(names, ["my_other", "my_var"]);
}

/// A project layout: `site/roles/web/{files,templates,vars}` plus the playbook directory.
fn project() -> (tempfile::TempDir, Tpl) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let role = root.join("roles/web");
    for sub in ["files", "templates", "vars", "tasks"] {
        std::fs::create_dir_all(role.join(sub)).unwrap();
    }
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(role.join("files/motd"), "role motd\n\n").unwrap();
    std::fs::write(root.join("files/only_in_play.txt"), "  play file  \n").unwrap();
    std::fs::write(root.join("files/motd"), "play motd").unwrap();
    std::fs::write(
        role.join("templates/app.conf.j2"),
        "port = {{ port }}\n{% for h in hosts %}\npeer = {{ h }}\n{% endfor %}\n",
    )
    .unwrap();
    std::fs::write(role.join("vars/Debian.yml"), "pkg: apt\n").unwrap();
    std::fs::write(role.join("vars/default.yml"), "pkg: none\n").unwrap();
    std::fs::write(
        root.join("templates/play.j2"),
        "{{ template_path | basename }}: {{ extra | default('none') }}",
    )
    .unwrap();
    std::fs::write(role.join("files/a.pub"), "key a").unwrap();
    std::fs::write(role.join("files/b.pub"), "key b").unwrap();
    let t = t()
        .var("role_path", json!(role.display().to_string()))
        .var("playbook_dir", json!(root.display().to_string()))
        .var("port", json!(8080))
        .var("hosts", json!(["a", "b"]));
    (dir, t)
}

#[test]
fn file_lookup_searches_role_then_playbook() {
    let (dir, t) = project();
    assert_eq!(
        t.repr("lookup('file', 'motd')"),
        "'role motd'",
        "role files/ first, trailing whitespace stripped"
    );
    assert_eq!(
        t.repr("lookup('file', 'only_in_play.txt')"),
        "'  play file'"
    );
    assert_eq!(
        t.repr("lookup('file', 'only_in_play.txt', lstrip=true, rstrip=false)"),
        "'play file  \\n'"
    );
    let abs = dir.path().join("files/motd").display().to_string();
    assert_eq!(t.text(&format!("lookup('file', '{abs}')")), "play motd");
    assert_eq!(
        t.repr("query('file', 'motd', 'only_in_play.txt')"),
        "['role motd', '  play file']"
    );
    assert!(t
        .err("lookup('file', 'missing.txt')")
        .contains("missing.txt"));
}

#[test]
fn template_lookup_renders_with_the_current_variables() {
    let (_dir, t) = project();
    assert_eq!(
        t.text("lookup('template', 'app.conf.j2')"),
        "port = 8080\npeer = a\npeer = b\n"
    );
    assert_eq!(
        t.text("lookup('template', 'app.conf.j2', template_vars={'port': 9})"),
        "port = 9\npeer = a\npeer = b\n"
    );
    assert_eq!(
        t.text("lookup('template', 'play.j2', template_vars={'extra': 'x'})"),
        "play.j2: x"
    );
    assert!(t.err("lookup('template', 'nope.j2')").contains("nope.j2"));
}

#[test]
fn first_found_lists_dicts_and_skip() {
    let (dir, t) = project();
    let role = dir.path().join("roles/web");
    let t = t.var("ansible_distribution", json!("Debian"));
    assert_eq!(
        t.text(
            "lookup('first_found', ['Ubuntu.yml', ansible_distribution ~ '.yml', 'default.yml'])"
        ),
        role.join("vars/Debian.yml").display().to_string()
    );
    assert_eq!(
        t.text("lookup('first_found', {'files': ['nope.yml', 'default.yml'], 'paths': ['vars']})"),
        role.join("vars/default.yml").display().to_string()
    );
    assert_eq!(
        t.text("lookup('first_found', 'x.yml,default.yml')"),
        role.join("vars/default.yml").display().to_string()
    );
    assert_eq!(
        t.text("lookup('first_found', files=['nope.txt', 'passwd'], paths=['/etc'])"),
        "/etc/passwd"
    );
    assert_eq!(
        t.text("lookup('first_found', 'hostname', paths=['/etc'])"),
        "/etc/hostname"
    );
    assert_eq!(t.repr("query('first_found', ['nope'], skip=true)"), "[]");
    assert_eq!(
        t.repr("lookup('first_found', {'files': ['/nonexistent1'], 'skip': true})"),
        "[]"
    );
    // A task can say which subdirectory it searches (Ansible derives it from the action).
    let t = t.var("_lookup_subdir", json!("templates"));
    assert_eq!(
        t.text("lookup('first_found', ['motd', 'app.conf.j2'])"),
        role.join("templates/app.conf.j2").display().to_string()
    );
}

#[test]
fn fileglob_lookup_relative_to_files() {
    let (dir, t) = project();
    let role = dir.path().join("roles/web/files");
    assert_eq!(
        t.repr("query('fileglob', '*.pub')"),
        format!(
            "['{}', '{}']",
            role.join("a.pub").display(),
            role.join("b.pub").display()
        )
    );
    assert_eq!(
        t.text("lookup('fileglob', '*.pub')"),
        format!(
            "{},{}",
            role.join("a.pub").display(),
            role.join("b.pub").display()
        )
    );
    assert_eq!(t.repr("query('fileglob', '*.none')"), "[]");
    let abs = format!("{}/*.pub", role.display());
    assert_eq!(
        t.eval(&format!("query('fileglob', '{abs}') | length"))
            .as_i64(),
        Some(2)
    );
}

#[test]
fn password_lookup_creates_then_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let t = t().var("playbook_dir", json!(dir.path().display().to_string()));
    let first = t.text("lookup('password', 'credentials/db length=12 chars=ascii_letters,digits')");
    assert_eq!(first.len(), 12);
    assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("credentials/db")).unwrap(),
        format!("{first}\n")
    );
    assert_eq!(
        t.text("lookup('password', 'credentials/db length=12')"),
        first,
        "the stored password is reused"
    );
    let fresh = t.text("lookup('password', '/dev/null length=8 chars=digits')");
    assert!(fresh.len() == 8 && fresh.chars().all(|c| c.is_ascii_digit()));
}

#[test]
fn inventory_hostnames_lookup() {
    let t = t().var("groups", json!({"all": ["web1", "web2", "db1"], "web": ["web1", "web2"], "db": ["db1"], "ungrouped": []}));
    assert_eq!(
        t.repr("query('inventory_hostnames', 'all')"),
        "['web1', 'web2', 'db1']"
    );
    assert_eq!(
        t.repr("query('inventory_hostnames', 'web:db')"),
        "['web1', 'web2', 'db1']"
    );
    assert_eq!(
        t.repr("query('inventory_hostnames', 'all:!db')"),
        "['web1', 'web2']"
    );
    assert_eq!(
        t.repr("query('inventory_hostnames', 'all:&web')"),
        "['web1', 'web2']"
    );
    assert_eq!(
        t.repr("query('inventory_hostnames', 'web*')"),
        "['web1', 'web2']"
    );
}

// ---------------------------------------------------------------------------------------
// Whole templates.

#[test]
fn a_role_template_renders_as_with_ansible() {
    let t = t()
        .var("nginx_worker_processes", json!("auto"))
        .var("nginx_sites", json!([{"name": "api", "port": 8000, "ssl": "yes"}, {"name": "web", "port": 80, "ssl": "no"}]))
        .var("ansible_managed", json!("Ansible managed"))
        .var("result", json!({"changed": true, "failed": false, "stdout": "nginx version: nginx/1.22.1"}));
    let src = r#"{{ ansible_managed | comment }}
worker_processes {{ nginx_worker_processes }};
{% for site in nginx_sites | sort(attribute='name') %}
server {
    listen {{ site.port }}{{ ' ssl' if site.ssl | bool else '' }};
    server_name {{ site.name | regex_replace('^(.*)$', '\\1.example.com') }};
}
{% endfor %}
{% if result is changed and result is not failed %}
# version {{ result.stdout | regex_search('[0-9.]+$') }}{{ ' (new)' if result.stdout | regex_search('[0-9.]+$') is version('1.20', '>=') else '' }}
{% endif %}
"#;
    insta::assert_snapshot!(t.render(src), @r"
    #
    # Ansible managed
    #
    worker_processes auto;
    server {
        listen 8000 ssl;
        server_name api.example.com;
    }
    server {
        listen 80;
        server_name web.example.com;
    }
    # version 1.22.1 (new)
    ");
}
