//! Inventory loading as a user meets it: INI, YAML, script and directory sources from
//! tests/fixtures/inventory/, group_vars/host_vars precedence, host patterns, the
//! `ansible-inventory` renderings, and errors that point into the file. No fleet.

use rdeploy::inventory::{display, Inventory};
use serde_json::{json, Value};
use std::path::PathBuf;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventory")
        .join(rel)
}

fn load(sources: &[&str]) -> Inventory {
    load_with_playbook(sources, None)
}

fn load_with_playbook(sources: &[&str], playbook_dir: Option<&str>) -> Inventory {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sources: Vec<PathBuf> = sources
        .iter()
        .map(|s| {
            if s.contains(',') {
                PathBuf::from(s)
            } else {
                fixture(s)
            }
        })
        .collect();
    let pb = playbook_dir.map(fixture);
    rt.block_on(Inventory::load(&sources, pb.as_deref()))
        .unwrap_or_else(|e| panic!("load {sources:?}: {e}"))
}

/// The error of loading a bad fixture, with the fixture directory made relative.
fn load_error(source: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(Inventory::load(&[fixture(source)], None))
        .expect_err("should fail");
    let root = fixture("");
    err.to_string().replace(&root.display().to_string(), "")
}

fn var(inv: &Inventory, host: &str, key: &str) -> Value {
    inv.host_vars(host).get(key).cloned().unwrap_or(Value::Null)
}

fn select(inv: &Inventory, pattern: &str) -> Vec<String> {
    inv.select(pattern)
        .unwrap_or_else(|e| panic!("select {pattern}: {e}"))
}

#[test]
fn ini_groups_ranges_and_ungrouped() {
    let inv = load(&["ini/hosts"]);
    assert_eq!(
        inv.group_hosts("all"),
        [
            "bastion.example.com",
            "web1.example.com",
            "web2.example.com",
            "web3.example.com",
            "web4.example.com",
            "db1.example.com"
        ]
    );
    assert_eq!(inv.group_hosts("ungrouped"), ["bastion.example.com"]);
    assert_eq!(inv.group_hosts("prod").len(), 5);
    assert_eq!(inv.group_names("web1.example.com"), ["prod", "web"]);
    assert_eq!(inv.group_names("bastion.example.com"), ["ungrouped"]);
    let groups = inv.groups_map();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["all", "ungrouped", "web", "db", "prod"]
    );
    assert_eq!(var(&inv, "web4.example.com", "ansible_port"), json!(2222));
    assert_eq!(
        var(&inv, "web4.example.com", "healthcheck"),
        json!("/status page")
    );
    assert_eq!(var(&inv, "db1.example.com", "ansible_port"), json!(5022));
}

#[test]
fn variable_precedence_follows_ansible() {
    let inv = load(&["ini/hosts"]);
    // group_vars/all.yml beats the INI file's [all:vars]...
    assert_eq!(var(&inv, "web2.example.com", "ntp"), json!("gv-all"));
    // ...and even its [web:vars]: every group_vars/ file ranks above inventory-file group vars.
    assert_eq!(var(&inv, "web2.example.com", "http_port"), json!(80));
    // host_vars/ beats group_vars/; a host variable on the INI line beats any group.
    assert_eq!(var(&inv, "web1.example.com", "http_port"), json!(9000));
    assert_eq!(var(&inv, "web4.example.com", "http_port"), json!(9090));
    // Child group (web) beats parent group (prod), in files as in the INI.
    assert_eq!(var(&inv, "web2.example.com", "tier"), json!("web-gv"));
    assert_eq!(var(&inv, "db1.example.com", "tier"), json!("prod-gv"));
    // group_vars/prod/ is a directory: files merged in order, hidden files skipped.
    assert_eq!(var(&inv, "db1.example.com", "backups"), json!("hourly"));
    assert_eq!(var(&inv, "web3.example.com", "region"), json!("eu-west-1"));
    // host_vars/NAME without extension (JSON is YAML) beats the INI line.
    assert_eq!(var(&inv, "db1.example.com", "replica"), json!(true));
    assert_eq!(var(&inv, "db1.example.com", "role"), json!("primary"));
    // YAML 1.1 in vars files.
    assert_eq!(var(&inv, "web1.example.com", "listen"), json!(true));
    assert_eq!(var(&inv, "web1.example.com", "mode"), json!(420));
    // Ungrouped hosts get `all` only.
    assert_eq!(var(&inv, "bastion.example.com", "tier"), Value::Null);
}

#[test]
fn playbook_group_vars_win_over_inventory_group_vars() {
    let inv = load_with_playbook(&["ini/hosts"], Some("playbook"));
    assert_eq!(var(&inv, "web2.example.com", "tier"), json!("web-playbook"));
    assert_eq!(var(&inv, "db1.example.com", "tier"), json!("prod-gv"));
}

#[test]
fn yaml_inventory_with_priority_and_ranges() {
    let inv = load(&["yaml/inventory.yml"]);
    assert_eq!(
        inv.group_hosts("all"),
        [
            "bastion.example.com",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "db-a.example.com",
            "db-b.example.com"
        ]
    );
    assert_eq!(inv.group_hosts("ungrouped"), ["bastion.example.com"]);
    assert_eq!(
        inv.group_names("web02.example.com"),
        ["production", "stage_canary", "webservers"]
    );
    // stage_canary sorts after production by name, but production has priority 10.
    assert_eq!(var(&inv, "web02.example.com", "env"), json!("production"));
    assert_eq!(var(&inv, "db-b.example.com", "ansible_port"), json!(2222));
    assert_eq!(var(&inv, "db-b.example.com", "engine"), json!("postgres"));
    assert_eq!(
        var(&inv, "db-b.example.com", "ansible_user"),
        json!("deploy")
    );
}

#[test]
fn script_inventory() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = fixture("script/inventory.sh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let inv = load(&["script/inventory.sh"]);
    assert_eq!(inv.group_hosts("prod"), ["s-web1", "s-web2", "s-db1"]);
    assert_eq!(inv.group_names("s-web1"), ["prod", "web"]);
    assert_eq!(var(&inv, "s-web1", "ansible_host"), json!("10.1.0.1"));
    assert_eq!(var(&inv, "s-web2", "http_port"), json!(8080));
    assert_eq!(var(&inv, "s-db1", "env"), json!("prod"));
}

#[test]
fn directory_inventory_skips_non_inventory_files() {
    let inv = load(&["dir"]);
    assert_eq!(
        inv.group_hosts("all"),
        ["d-web1", "d-web2", "d-db1", "d-extra1"]
    );
    assert!(!inv.groups.contains_key("backup") && !inv.groups.contains_key("hidden"));
    assert_eq!(var(&inv, "d-web1", "from_dir_group_vars"), json!(true));
}

#[test]
fn several_sources_and_host_lists_merge() {
    let inv = load(&["ini/hosts", "yaml/inventory.yml", "extra1,extra2:2200,"]);
    assert_eq!(inv.group_names("bastion.example.com"), ["ungrouped"]);
    assert!(inv.groups.contains_key("web") && inv.groups.contains_key("webservers"));
    assert_eq!(
        inv.group_hosts("ungrouped"),
        ["bastion.example.com", "extra1", "extra2"]
    );
    assert_eq!(var(&inv, "extra2", "ansible_port"), json!(2200));
    // The YAML's `all` vars apply to the INI's hosts too.
    assert_eq!(
        var(&inv, "web1.example.com", "ansible_user"),
        json!("deploy")
    );
}

#[test]
fn host_patterns() {
    let inv = load(&["yaml/inventory.yml"]);
    assert_eq!(select(&inv, "all").len(), 6);
    assert_eq!(
        select(&inv, "webservers:&stage_canary"),
        ["web02.example.com"]
    );
    assert_eq!(
        select(&inv, "production:!web02*"),
        [
            "web01.example.com",
            "web03.example.com",
            "db-a.example.com",
            "db-b.example.com"
        ]
    );
    assert_eq!(
        select(&inv, "dbservers,bastion.example.com"),
        [
            "db-a.example.com",
            "db-b.example.com",
            "bastion.example.com"
        ]
    );
    assert_eq!(
        select(&inv, "webservers[0]:webservers[-1]"),
        ["web01.example.com", "web03.example.com"]
    );
    assert_eq!(
        select(&inv, "webservers[1:]"),
        ["web02.example.com", "web03.example.com"]
    );
    assert_eq!(
        select(&inv, "~db-[ab]"),
        ["db-a.example.com", "db-b.example.com"]
    );
    assert_eq!(
        select(&inv, "*.example.com:!web*"),
        [
            "bastion.example.com",
            "db-a.example.com",
            "db-b.example.com"
        ]
    );
    assert!(select(&inv, "nosuchgroup").is_empty());
    assert_eq!(
        select(&inv, "localhost"),
        ["localhost"],
        "implicit localhost"
    );
    assert_eq!(var(&inv, "localhost", "ansible_connection"), json!("local"));
    assert_eq!(
        inv.select_limited("production", Some("dbservers")).unwrap(),
        ["db-a.example.com", "db-b.example.com"]
    );
    let dir = tempfile::tempdir().unwrap();
    let retry = dir.path().join("site.retry");
    std::fs::write(&retry, "web03.example.com\nbastion.example.com\n").unwrap();
    assert_eq!(
        select(&inv, &format!("@{}", retry.display())),
        ["web03.example.com", "bastion.example.com"]
    );
}

#[test]
fn graph_like_ansible_inventory() {
    let inv = load(&["yaml/inventory.yml"]);
    insta::assert_snapshot!(display::graph(&inv, None), @r"
    @all:
      |--@ungrouped:
      |  |--bastion.example.com
      |--@webservers:
      |  |--web01.example.com
      |  |--web02.example.com
      |  |--web03.example.com
      |--@dbservers:
      |  |--db-a.example.com
      |  |--db-b.example.com
      |--@production:
      |  |--@webservers:
      |  |  |--web01.example.com
      |  |  |--web02.example.com
      |  |  |--web03.example.com
      |  |--@dbservers:
      |  |  |--db-a.example.com
      |  |  |--db-b.example.com
      |--@stage_canary:
      |  |--web02.example.com
    ");
}

#[test]
fn json_like_ansible_inventory() {
    let inv = load(&["script/inventory.sh"]);
    let j = display::to_ansible_json(&inv);
    insta::assert_snapshot!(serde_json::to_string_pretty(&j).unwrap(), @r#"
    {
      "_meta": {
        "hostvars": {
          "s-db1": {
            "ansible_host": "10.1.0.9",
            "env": "prod"
          },
          "s-web1": {
            "ansible_host": "10.1.0.1",
            "env": "prod",
            "http_port": 8080
          },
          "s-web2": {
            "env": "prod",
            "http_port": 8080
          }
        }
      },
      "all": {
        "children": [
          "ungrouped",
          "prod"
        ]
      },
      "db": {
        "hosts": [
          "s-db1"
        ]
      },
      "prod": {
        "children": [
          "web",
          "db"
        ]
      },
      "web": {
        "hosts": [
          "s-web1",
          "s-web2"
        ]
      }
    }
    "#);
    assert_eq!(
        display::host(&inv, "s-web1"),
        json!({"ansible_host": "10.1.0.1", "env": "prod", "http_port": 8080})
    );
}

#[test]
fn host_table() {
    let inv = load(&["ini/hosts"]);
    let hosts = inv.select("db:bastion*").unwrap();
    insta::assert_snapshot!(display::table(&inv, &hosts), @r"
    HOST                 ADDRESS        GROUPS     STATE
    db1.example.com      10.0.0.5:5022  db,prod    -
    bastion.example.com  203.0.113.10   ungrouped  -
    ");
}

#[test]
fn errors_point_into_the_file() {
    let e = load_error("bad/unknown_key.yml");
    assert!(
        e.starts_with("bad/unknown_key.yml:6:7: unexpected key `var` in group `web`"),
        "{e}"
    );
    assert!(e.contains("did you mean `vars`?"), "{e}");
    assert!(e.contains("6 |       var:"), "caret snippet: {e}");

    let e = load_error("bad/syntax.yml");
    assert!(e.starts_with("bad/syntax.yml:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");

    let e = load_error("bad/bad_var.ini");
    assert!(
        e.starts_with("bad/bad_var.ini:3:6: expected key=value host variable, got `ansible_host`"),
        "{e}"
    );

    let e = load_error("bad/undefined_child.ini");
    assert!(e.starts_with("bad/undefined_child.ini:6:1: section [prod:children] includes undefined group `dbservers`"), "{e}");

    let e = load_error("bad/plugin.yml");
    assert!(
        e.starts_with(
            "bad/plugin.yml:1:9: inventory plugin `community.general.proxmox` is not supported"
        ),
        "{e}"
    );

    let e = load_error("does/not/exist");
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn missing_group_in_graph_and_unknown_host() {
    let inv = load(&["ini/hosts"]);
    assert_eq!(display::graph(&inv, Some("nope")), "");
    assert_eq!(display::host(&inv, "nope"), Value::Null);
}
