//! The whole job through the binary: provision on moto, the EC2 inventory keyed by tags
//! (instances mapped to fleet containers), then a playbook that wires the API to Redis
//! with the endpoint taken from the inventory — nobody copies an address into a file.

use crate::harness::*;
use crate::moto_fixture::{moto_env, unique};

#[test]
fn provision_inventory_and_redis_wiring_end_to_end() {
    let f = fleet();
    let env = moto_env();
    let project = unique("stack");
    let dir = tempdir();
    let pubkey = format!("{}.pub", f.key().display());
    let (p1, p2) = (f.host("node1").port, f.host("node2").port);
    std::fs::write(
        dir.path().join("infra.yml"),
        format!(
            r#"project: {project}
env: e2e
region: us-east-1
key_pair: {{public_key_file: {pubkey}}}
security_groups:
  api: {{ingress: [{{port: 22, cidr: 203.0.113.0/24}}]}}
  redis: {{ingress: [{{port: 6379, from: api}}]}}
instances:
  api:
    count: 2
    type: t3.micro
    ami: {{owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}}
    security_groups: [api]
    tags: {{"rdeploy:ssh": "127.0.0.1:{{{{ [{p1}, {p2}][index - 1] }}}}"}}
redis:
  events:
    node_type: cache.t3.micro
    security_groups: [redis]
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("aws_ec2.yml"),
        format!(
            r#"plugin: aws_ec2
regions: [us-east-1]
filters:
  tag:rdeploy:project: {project}
  tag:rdeploy:env: e2e
hostnames: [tag:rdeploy:host]
keyed_groups:
  - {{prefix: tag_Name, key: tags.Name}}
compose:
  ansible_host: "tags['rdeploy:ssh'].split(':')[0]"
  ansible_port: "tags['rdeploy:ssh'].split(':')[1] | int"
  ansible_user: "'root'"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("wire.yml"),
        "- hosts: tag_Name_api\n  gather_facts: no\n  tasks:\n    - copy:\n        content: \"REDIS={{ redis_endpoints.events }}\\nME={{ inventory_hostname }}\\n\"\n        dest: /etc/rd-redis-{{ inventory_hostname }}.env\n",
    )
    .unwrap();
    let run = |args: &[&str]| rdeploy_env(dir.path(), args, &env);
    run(&["provision", "infra.yml", "--auto-approve"]).assert_code(0);
    let inv = run(&["inventory", "-i", "aws_ec2.yml", "--json"]);
    inv.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&inv.stdout).expect("inventory JSON");
    let hosts: Vec<&str> = doc["tag_Name_api"]["hosts"]
        .as_array()
        .expect("group tag_Name_api")
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(hosts, vec!["api-1", "api-2"]);
    let endpoint = doc["_meta"]["hostvars"]["api-1"]["redis_endpoints"]["events"]
        .as_str()
        .expect("redis endpoint in hostvars")
        .to_string();
    assert!(endpoint.ends_with(":6379"), "{endpoint}");

    let kh = f.known_hosts();
    let key = f.key();
    let r = run(&[
        "run",
        "wire.yml",
        "-i",
        "aws_ec2.yml",
        "--known-hosts",
        kh.to_str().unwrap(),
        "--private-key",
        key.to_str().unwrap(),
    ]);
    r.assert_code(0);
    for (host, node) in [("api-1", "node1"), ("api-2", "node2")] {
        let text = docker_out(
            &f.host(node).container,
            &format!("cat /etc/rd-redis-{host}.env"),
        );
        assert_eq!(text, format!("REDIS={endpoint}\nME={host}"));
    }
    run(&["destroy", "infra.yml", "--auto-approve"]).assert_code(0);
    let after = run(&["inventory", "-i", "aws_ec2.yml", "--json"]);
    assert!(
        !after.stdout.contains("api-1"),
        "destroyed instances leave the inventory: {}",
        after.stdout
    );
}
