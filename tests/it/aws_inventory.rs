//! The aws_ec2 inventory source against moto: groups, compose, host variables, the
//! ElastiCache variables, and a 2,000-instance account listed through pagination.

use super::moto_fixture::{fixtures, moto, moto_env, Stack};
use rdeploy::aws::Aws;
use rdeploy::inventory::{aws_ec2, Inventory};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Loads an aws_ec2 config (PROJECT/REGION replaced) into a fresh inventory.
async fn load(text: &str, dir: &Path) -> Inventory {
    let path = dir.join("aws_ec2.yml");
    std::fs::write(&path, text).unwrap();
    let doc = rdeploy::yaml::load_file(&path).unwrap();
    let mut inv = Inventory::new();
    aws_ec2::load_with(&path, &doc, &mut inv, &moto())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    inv.reconcile().unwrap();
    inv
}

fn hosts_of(inv: &Inventory, group: &str) -> Vec<String> {
    let mut h = inv
        .groups
        .get(group)
        .map(|g| g.hosts.clone())
        .unwrap_or_default();
    h.sort();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_of_the_seed_stack_groups_compose_hostvars_and_redis() {
    let s = Stack::fixture("seed.yml", "inv", "us-east-2");
    let (out, _) = s.apply(None).await;
    let cfg = std::fs::read_to_string(fixtures().join("aws_ec2.yml"))
        .unwrap()
        .replace("PROJECT", &s.project)
        .replace("REGION", &s.region);
    let inv = load(&cfg, s.dir.path()).await;

    let mut names: Vec<&String> = inv.hosts.keys().collect();
    names.sort();
    assert_eq!(
        names,
        vec!["api-1", "api-2", "api_lb-1", "client-1", "client-2", "web-1", "web-2"]
    );
    assert_eq!(hosts_of(&inv, "tag_Name_api"), vec!["api-1", "api-2"]);
    assert_eq!(hosts_of(&inv, "tag_Name_api_lb"), vec!["api_lb-1"]);
    assert_eq!(hosts_of(&inv, "tag_role_api"), vec!["api-1", "api-2"]);
    assert_eq!(
        hosts_of(&inv, &format!("sg_{}_dev_web", s.project.replace('-', "_"))),
        vec!["web-1", "web-2"]
    );
    assert_eq!(hosts_of(&inv, "env_dev").len(), 7);
    assert_eq!(hosts_of(&inv, "redis_clients"), vec!["api-1", "api-2"]);
    assert_eq!(hosts_of(&inv, "aws_ec2").len(), 7);
    assert!(inv.groups["all"].children.contains(&"aws_ec2".to_string()));

    // compose: the loopback SSH endpoint from the instance's tag.
    let api1 = &inv.hosts["api-1"].vars;
    assert_eq!(api1["ansible_host"], json!("127.0.0.1"));
    assert_eq!(api1["ansible_port"], json!(22201));
    assert_eq!(inv.hosts["web-2"].vars["ansible_port"], json!(22402));
    // Facts as the Ansible plugin names them, and ec2.py's aliases.
    assert_eq!(api1["instance_type"], json!("t3.small"));
    assert_eq!(api1["state"]["name"], json!("running"));
    assert_eq!(api1["placement"]["region"], json!("us-east-2"));
    assert_eq!(api1["tags"]["Name"], json!("api"));
    assert_eq!(api1["ec2_tag_Name"], json!("api"));
    assert_eq!(api1["ec2_tag_rdeploy_host"], json!("api-1"));
    assert_eq!(api1["ec2_region"], json!("us-east-2"));
    assert!(api1["ec2_id"].as_str().unwrap().starts_with("i-"));
    assert!(api1["ec2_private_ip_address"]
        .as_str()
        .unwrap()
        .starts_with("10.40."));
    assert_eq!(
        api1["ec2_security_group_names"],
        json!(format!("{}-dev-api", s.project))
    );
    assert!(api1["ec2_vpc_id"].as_str().unwrap().starts_with("vpc-"));
    // The Elastic IP is the LB's public address.
    assert_eq!(
        inv.hosts["api_lb-1"].vars["ec2_ip_address"],
        out.outputs["lb_address"]
    );

    // ElastiCache for every host.
    let endpoint = out.outputs["redis_endpoint"].as_str().unwrap();
    assert_eq!(
        inv.extra_vars_all["redis_endpoints"]["cache"],
        json!(endpoint)
    );
    let rg = &inv.extra_vars_all["rdeploy_elasticache"][format!("{}-dev-cache", s.project)];
    assert_eq!(rg["port"], json!(6379));
    assert_eq!(rg["kind"], json!("replication_group"));
    assert_eq!(rg["name"], json!("cache"));
    assert_eq!(rg["engine_version"], json!("7.1"));
    assert_eq!(
        format!("{}:{}", rg["address"].as_str().unwrap(), rg["port"]),
        endpoint
    );

    // The same through the binary: `rdeploy inventory list --json` (ansible-inventory format).
    std::fs::write(s.dir.path().join("aws_ec2.yml"), &cfg).unwrap();
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["inventory", "list", "-i", "aws_ec2.yml", "--json"],
        &moto_env(),
    );
    if run.code == 0 {
        let doc: serde_json::Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        assert_eq!(
            doc["_meta"]["hostvars"]["api-2"]["ansible_port"],
            json!(22202),
            "{}",
            run.stdout
        );
        assert_eq!(
            doc["_meta"]["hostvars"]["api-2"]["redis_endpoints"]["cache"],
            json!(endpoint),
            "{}",
            run.stdout
        );
        let mut api = doc["tag_Name_api"]["hosts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        api.sort_by_key(|v| v.as_str().unwrap_or_default().to_string());
        assert_eq!(api, vec![json!("api-1"), json!("api-2")], "{}", run.stdout);
    } else {
        panic!(
            "rdeploy inventory list failed: {}\n{}",
            run.stdout, run.stderr
        );
    }

    // After a destroy the inventory is empty (terminated instances are filtered out).
    s.destroy(None).await;
    let inv = load(&cfg, s.dir.path()).await;
    assert!(
        inv.hosts.keys().all(|h| h == "localhost"),
        "{:?}",
        inv.hosts.keys().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_exclude_filters_and_default_groups() {
    let text = r#"
project: PROJECT
env: dev
region: REGION
instances:
  a: {count: 2, type: t3.micro, ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*"}}
  b: {count: 1, type: t3.nano, ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*"}}
"#;
    let s = Stack::from_text(text, "filt", "ap-northeast-1");
    s.apply(None).await;
    let base = format!(
        "plugin: aws_ec2\nregions: [{}]\nhostnames: [tag:rdeploy:host]\n",
        s.region
    );
    // Default groups (no keyed_groups): ec2.py's names.
    let inv = load(
        &format!("{base}filters:\n  tag:rdeploy:project: {}\n", s.project),
        s.dir.path(),
    )
    .await;
    assert_eq!(hosts_of(&inv, "tag_Name_a"), vec!["a-1", "a-2"]);
    assert_eq!(hosts_of(&inv, "type_t3_nano"), vec!["b-1"]);
    assert_eq!(hosts_of(&inv, "ap_northeast_1").len(), 3);
    assert_eq!(hosts_of(&inv, "tag_rdeploy_host_a_1"), vec!["a-1"]);
    assert_eq!(hosts_of(&inv, "tag_rdeploy_env_dev").len(), 3);
    // exclude_filters removes, include_filters adds.
    let inv = load(
        &format!(
            "{base}filters:\n  tag:rdeploy:project: {p}\nexclude_filters:\n  - tag:Name: a\n",
            p = s.project
        ),
        s.dir.path(),
    )
    .await;
    assert_eq!(
        inv.hosts
            .keys()
            .filter(|h| *h != "localhost")
            .cloned()
            .collect::<Vec<_>>(),
        vec!["b-1"]
    );
    let inv = load(
        &format!("{base}filters:\n  tag:rdeploy:project: {p}\n  tag:Name: b\ninclude_filters:\n  - tag:rdeploy:host: a-2\n", p = s.project),
        s.dir.path(),
    )
    .await;
    let mut h: Vec<String> = inv
        .hosts
        .keys()
        .filter(|h| *h != "localhost")
        .cloned()
        .collect();
    h.sort();
    assert_eq!(h, vec!["a-2", "b-1"]);
    s.destroy(None).await;
}

/// 2,000 instances (in 400 reservations of 5) under one project tag, in a region no
/// other test uses; created once per moto server and reused by later runs.
async fn two_thousand(region: &str, project: &str) {
    let c = Aws::connect(&moto()).await.ec2(region);
    // A tagged VPC marks a complete fixture (counting 2,000 instances on moto takes 10 s).
    let marker = || {
        aws_sdk_ec2::types::Filter::builder()
            .name("tag:rdeploy-2k-complete")
            .values(project)
            .build()
    };
    if !c
        .describe_vpcs()
        .filters(marker())
        .send()
        .await
        .unwrap()
        .vpcs()
        .is_empty()
    {
        return;
    }
    let mut have = 0;
    let filters = vec![
        aws_sdk_ec2::types::Filter::builder()
            .name("tag:rdeploy:project")
            .values(project)
            .build(),
        aws_sdk_ec2::types::Filter::builder()
            .name("instance-state-name")
            .values("running")
            .build(),
    ];
    let mut pages = c
        .describe_instances()
        .set_filters(Some(filters))
        .into_paginator()
        .page_size(1000)
        .send();
    while let Some(p) = pages.next().await {
        have += p
            .unwrap()
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum::<usize>();
    }
    let ami = c
        .describe_images()
        .owners("099720109477")
        .send()
        .await
        .unwrap()
        .images()[0]
        .image_id()
        .unwrap()
        .to_string();
    let t = Instant::now();
    let missing = 2000usize.saturating_sub(have);
    let calls: Vec<usize> = (0..missing.div_ceil(5)).collect();
    let types = ["t3.micro", "t3.small", "m5.large", "c5.xlarge"];
    futures::future::join_all(calls.chunks(8).map(|chunk| {
        let c = c.clone();
        let ami = ami.clone();
        let chunk = chunk.to_vec();
        async move {
            for n in chunk {
                let tags = vec![
                    aws_sdk_ec2::types::Tag::builder()
                        .key("rdeploy:project")
                        .value(project)
                        .build(),
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value(format!("node{}", n % 10))
                        .build(),
                ];
                c.run_instances()
                    .image_id(&ami)
                    .instance_type(aws_sdk_ec2::types::InstanceType::from(types[n % 4]))
                    .min_count(5)
                    .max_count(5)
                    .tag_specifications(
                        aws_sdk_ec2::types::TagSpecification::builder()
                            .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                            .set_tags(Some(tags))
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
        }
    }))
    .await;
    eprintln!(
        "[2k] launched {missing} instances in moto in {:.1?}",
        t.elapsed()
    );
    c.create_vpc()
        .cidr_block("10.99.0.0/16")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("rdeploy-2k-complete")
                        .value(project)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_over_2000_instances_is_paginated_and_fast() {
    let region = "ap-southeast-2";
    let project = "rdeploy-inventory-2k";
    moto();
    two_thousand(region, project).await;

    let dir = super::harness::tempdir();
    let text = format!(
        "plugin: aws_ec2\nregions: [{region}]\npage_size: 100\nelasticache: false\nfilters:\n  tag:rdeploy:project: {project}\n  instance-state-name: running\nhostnames: [instance-id]\nkeyed_groups:\n  - {{prefix: tag, key: tags}}\n  - {{prefix: type, key: instance_type}}\ncompose:\n  ansible_host: private_ip_address\n"
    );
    let path = dir.path().join("aws_ec2.yml");
    std::fs::write(&path, &text).unwrap();
    let doc = rdeploy::yaml::load_file(&path).unwrap();
    let cfg = aws_ec2::Config::parse(&path, &doc).unwrap();
    let aws = Aws::connect(&moto()).await;

    let t = Instant::now();
    let fetched = aws_ec2::fetch(&aws, &cfg).await.unwrap();
    let fetch_time = t.elapsed();
    let t = Instant::now();
    let mut inv = Inventory::new();
    aws_ec2::populate(&cfg, &fetched, &mut inv).unwrap();
    inv.reconcile().unwrap();
    let build_time = t.elapsed();
    eprintln!(
        "[2k] {} instances, library: DescribeInstances (moto, 4 pages of 100 reservations) {:.2?}, building hosts/groups {:.2?}, total {:.2?}",
        fetched.instances.len(),
        fetch_time,
        build_time,
        fetch_time + build_time
    );
    // 400 reservations in pages of 100: only pagination gives all of them.
    assert_eq!(fetched.instances.len(), 2000);
    assert_eq!(hosts_of(&inv, "aws_ec2").len(), 2000);
    assert_eq!(hosts_of(&inv, "tag_Name_node3").len(), 200);
    assert_eq!(hosts_of(&inv, "type_m5_large").len(), 500);
    assert!(inv
        .hosts
        .values()
        .filter(|h| h.name.starts_with("i-"))
        .all(|h| h.vars["ansible_host"].is_string()));
    assert!(
        build_time < Duration::from_secs(3),
        "building the inventory took {build_time:?}"
    );
    // moto serializes ~5 ms per instance; real EC2 answers a 1000-instance page in ~1 s.
    assert!(
        fetch_time < Duration::from_secs(90),
        "listing took {fetch_time:?}"
    );

    // The whole command, through the binary, with the default page size.
    std::fs::write(&path, text.replace("page_size: 100\n", "")).unwrap();
    let t = Instant::now();
    let run = super::harness::rdeploy_env(
        dir.path(),
        &["inventory", "list", "-i", "aws_ec2.yml", "--json"],
        &moto_env(),
    );
    eprintln!("[2k] `rdeploy inventory list --json` over 2,000 instances (default pages of 1000): {:.2?} (exit {})", t.elapsed(), run.code);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["_meta"]["hostvars"].as_object().unwrap().len(), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_config_errors_have_positions() {
    let dir = super::harness::tempdir();
    let path = dir.path().join("aws_ec2.yml");
    for (text, want) in [
        (
            "plugin: aws_ec2\nregoins: [us-east-1]\n",
            "aws_ec2.yml:2:1: unknown aws_ec2 option `regoins`",
        ),
        (
            "plugin: aws_ec2\nkeyed_groups:\n  - {prefix: tag, kye: tags}\n",
            "aws_ec2.yml:3:19: unknown key `kye` in keyed_groups",
        ),
        (
            "plugin: aws_ec2\nhostnames: [dns_name]\n",
            "aws_ec2.yml:2:13: unsupported hostnames preference `dns_name`",
        ),
        (
            "plugin: aws_ec2\ngroups:\n  web: tags.Name ==\n",
            "aws_ec2.yml:3:8: invalid expression",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let doc = rdeploy::yaml::load_file(&path).unwrap();
        let mut inv = Inventory::new();
        // A closed port: a config error must come before any API call.
        let closed = rdeploy::provision::AwsSettings {
            endpoint_url: Some("http://127.0.0.1:9".into()),
            credentials: Some(("x".into(), "y".into())),
            profile: None,
        };
        let e = aws_ec2::load_with(&path, &doc, &mut inv, &closed)
            .await
            .unwrap_err()
            .to_string();
        let rel = e.replace(&format!("{}/", dir.path().display()), "");
        assert!(rel.starts_with(want), "want {want:?}, got {rel}");
    }
}

/// The whole path: provision (moto) -> EC2 inventory -> playbook over SSH. moto's
/// instances are not reachable, so each carries a tag `rdeploy:ssh` with the loopback
/// endpoint of a fleet container, mapped by the inventory's `compose` (tests only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbook_runs_on_provisioned_instances_through_the_ec2_inventory() {
    let f = tokio::task::spawn_blocking(super::harness::fleet)
        .await
        .unwrap();
    let (n1, n2) = (f.host("node1"), f.host("node2"));
    let spec = format!(
        r#"
project: PROJECT
env: dev
region: REGION
security_groups:
  app: {{ingress: [{{port: 22, cidr: 10.0.0.0/8}}]}}
  redis: {{ingress: [{{port: 6379, from: app}}]}}
instances:
  app:
    count: 2
    type: t3.micro
    ami: {{owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*"}}
    security_groups: [app]
    tags:
      "rdeploy:ssh": "127.0.0.1:{{{{ {{1: {p1}, 2: {p2}}}[index] }}}}"
redis:
  cache: {{security_groups: [redis]}}
"#,
        p1 = n1.port,
        p2 = n2.port
    );
    let s = Stack::from_text(&spec, "e2e", "us-west-1");
    s.apply(None).await;
    let inv = format!(
        "plugin: aws_ec2\nregions: [{}]\nfilters:\n  tag:rdeploy:project: {}\nhostnames: [tag:rdeploy:host]\ncompose:\n  ansible_host: \"tags['rdeploy:ssh'].split(':')[0]\"\n  ansible_port: \"tags['rdeploy:ssh'].split(':')[1] | int\"\n  ansible_user: \"'root'\"\n  ansible_ssh_private_key_file: \"'{}'\"\n",
        s.region,
        s.project,
        f.key().display()
    );
    std::fs::write(s.dir.path().join("aws_ec2.yml"), inv).unwrap();
    let marker = format!("/tmp/rdeploy-{}.conf", s.project);
    std::fs::write(
        s.dir.path().join("site.yml"),
        format!(
            "- hosts: tag_Name_app\n  gather_facts: no\n  tasks:\n    - name: wire redis\n      copy:\n        content: \"redis={{{{ redis_endpoints.cache }}}} host={{{{ inventory_hostname }}}}\\n\"\n        dest: {marker}\n"
        ),
    )
    .unwrap();
    let kh = f.known_hosts().display().to_string();
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["run", "site.yml", "-i", "aws_ec2.yml", "--known-hosts", &kh],
        &moto_env(),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let redis = Aws::connect(&moto()).await.elasticache(&s.region);
    let rg = redis
        .describe_replication_groups()
        .replication_group_id(format!("{}-dev-cache", s.project))
        .send()
        .await
        .unwrap();
    let ep = rg.replication_groups()[0].node_groups()[0]
        .primary_endpoint()
        .unwrap();
    let want = format!("{}:{}", ep.address().unwrap(), ep.port().unwrap());
    assert_eq!(
        super::harness::docker_out(&n1.container, &format!("cat {marker}")),
        format!("redis={want} host=app-1")
    );
    assert_eq!(
        super::harness::docker_out(&n2.container, &format!("cat {marker}")),
        format!("redis={want} host=app-2")
    );
    super::harness::docker_sh(&n1.container, &format!("rm -f {marker}"));
    super::harness::docker_sh(&n2.container, &format!("rm -f {marker}"));
    s.destroy(None).await;
}
