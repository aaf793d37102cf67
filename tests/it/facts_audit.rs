//! rdeploy's facts against ansible-core's `setup`: the same playbook (gather_facts, then
//! `ansible_facts` written as JSON on the controller) run by ansible-playbook 2.21 and by
//! rdeploy on one container with Python. Every fact of [`EQUAL`] must be present in both
//! and equal; [`DIFFER`] names the facts both have whose values legitimately differ
//! between two runs (time, load, the SSH client's port), checked for their shape only.
//! A fact that drifts from ansible-core's fails this test.

use super::harness::{ansible_playbook, rdeploy, tempdir, write_file, OwnHost};
use serde_json::Value;
use std::path::Path;

/// Facts whose values must be the same as ansible-core's.
const EQUAL: &[&str] = &[
    "all_ipv4_addresses",
    "all_ipv6_addresses",
    "apparmor",
    "architecture",
    "bios_date",
    "bios_vendor",
    "bios_version",
    "board_name",
    "board_vendor",
    "chassis_vendor",
    "default_ipv4",
    "distribution",
    "distribution_major_version",
    "distribution_release",
    "distribution_version",
    "dns",
    "domain",
    "effective_group_id",
    "effective_user_id",
    "eth0",
    "fips",
    "fqdn",
    "hostname",
    "interfaces",
    "kernel",
    "kernel_version",
    "lo",
    "machine",
    "memtotal_mb",
    "nodename",
    "os_family",
    "pkg_mgr",
    "processor_cores",
    "processor_count",
    "processor_vcpus",
    "processor_nproc",
    "processor_threads_per_core",
    "product_name",
    "product_serial",
    "product_uuid",
    "product_version",
    "real_group_id",
    "real_user_id",
    "selinux",
    "service_mgr",
    "swaptotal_mb",
    "system",
    "system_vendor",
    "user_dir",
    "user_gecos",
    "user_gid",
    "user_id",
    "user_shell",
    "user_uid",
    "userspace_bits",
    "virtualization_role",
    "virtualization_type",
];

/// Facts both gather whose values change from one run to the next: compared by type.
const DIFFER: &[(&str, &str)] = &[
    ("date_time", "the clock moved between the two runs"),
    ("memfree_mb", "free memory changes every second"),
    ("swapfree_mb", "free swap can change between the two runs"),
    ("uptime_seconds", "the host's uptime grows between the two runs"),
    ("env", "SSH_CLIENT/SSH_CONNECTION carry the client's port; ansible-core runs its module with LANG/LC_* of its own"),
    ("lsb", "without lsb_release ansible-core gives {}; rdeploy fills it from /etc/os-release (roles read ansible_lsb.codename): every key ansible-core gives must be equal"),
];

fn prefix() -> String {
    std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into())
}

const BOOK: &str = r#"
- hosts: h
  gather_facts: true
  tasks:
    - copy:
        content: "{{ ansible_facts | to_nice_json }}"
        dest: "{{ out }}"
      delegate_to: localhost
"#;

fn read(p: &Path) -> serde_json::Map<String, Value> {
    match serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() {
        Value::Object(m) => m,
        other => panic!("facts are not a mapping: {other}"),
    }
}

#[test]
fn facts_are_ansible_cores() {
    let dir = tempdir();
    let d = dir.path();
    let own = OwnHost::start(&format!("{}-facts", prefix()), &[], d);
    let inv = own.inventory_checked(d, "t", "h");
    write_file(d, "facts.yml", BOOK);
    let (ours, theirs) = (d.join("ours.json"), d.join("theirs.json"));
    let inv = inv.display().to_string();
    rdeploy(
        d,
        &[
            "run",
            "facts.yml",
            "-i",
            &inv,
            "-e",
            &format!("out={}", ours.display()),
        ],
    )
    .assert_code(0);
    ansible_playbook(
        d,
        &[
            "-i",
            &inv,
            "facts.yml",
            "-e",
            &format!("out={}", theirs.display()),
        ],
        &[],
    );
    let (a, b) = (read(&ours), read(&theirs));
    let mut drift = Vec::new();
    for k in EQUAL {
        match (a.get(*k).map(unordered), b.get(*k).map(unordered)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => drift.push(format!(
                "{k}:\n  rdeploy:      {}\n  ansible-core: {}",
                show(x.as_ref()),
                show(y.as_ref())
            )),
        }
    }
    for (k, why) in DIFFER {
        match (a.get(*k), b.get(*k)) {
            (Some(x), Some(y)) if same_shape(x, y) => {}
            (x, y) => drift.push(format!(
                "{k} ({why}):\n  rdeploy:      {}\n  ansible-core: {}",
                show(x),
                show(y)
            )),
        }
    }
    // date_time: the same keys; env: the same variables but the per-connection ones
    let keys = |m: &Value| {
        m.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut ka = keys(&a["date_time"]);
    let mut kb = keys(&b["date_time"]);
    ka.sort();
    kb.sort();
    if ka != kb {
        drift.push(format!(
            "date_time keys:\n  rdeploy:      {ka:?}\n  ansible-core: {kb:?}"
        ));
    }
    for v in ["HOME", "PATH", "LOGNAME", "SHELL", "USER", "PWD"] {
        if a["env"][v] != b["env"][v] {
            drift.push(format!("env.{v}: {} vs {}", a["env"][v], b["env"][v]));
        }
    }
    if let Some(theirs) = b["lsb"].as_object() {
        for (k, v) in theirs {
            if a["lsb"].get(k) != Some(v) {
                drift.push(format!("lsb.{k}: {} vs {v}", a["lsb"][k]));
            }
        }
    }
    assert!(
        drift.is_empty(),
        "facts that differ from ansible-core's:\n{}",
        drift.join("\n")
    );
}

/// Lists of names compared as sets: ansible-core's order of `interfaces` is not stable
/// (`["lo","eth0"]` and `["eth0","lo"]` were both seen on the same container here).
fn unordered(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.iter().all(Value::is_string) => {
            let mut a = a.clone();
            a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            Value::Array(a)
        }
        other => other.clone(),
    }
}

fn show(v: Option<&Value>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "<missing>".into())
}

fn same_shape(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}
