//! `rdeploy provision` / `destroy` against a real moto server (tests/fleet/fleet.sh moto,
//! 127.0.0.1:5055). Every test works on its own project name, so tests run in parallel
//! and reruns on the same moto server do not see each other's resources.
#![allow(dead_code)]

use super::moto_fixture::*;
use rdeploy::output::{Collect, Event};
use rdeploy::provision::{self, aws::Aws, AwsSettings, ProvisionOptions};

fn count(list: &[(String, String, u32, String)], name: &str) -> usize {
    list.iter().filter(|i| i.1 == name).count()
}

fn summary(p: &provision::Plan) -> (usize, usize, usize, usize) {
    (
        p.summary.create,
        p.summary.update,
        p.summary.replace,
        p.summary.destroy,
    )
}

const SMALL: &str = r#"
project: PROJECT
env: dev
region: REGION
network: {cidr: 10.60.0.0/16, azs: 2}
security_groups:
  app:
    ingress:
      - {port: 22, cidr: 10.0.0.0/8}
      - {port: 80, cidr: 0.0.0.0/0}
  db:
    ingress:
      - {port: 5432, from: app}
instances:
  app:
    count: COUNT
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
"#;

fn small(count: u32) -> String {
    SMALL.replace("COUNT", &count.to_string())
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_on_an_empty_account_creates_everything_and_changes_nothing() {
    let s = Stack::fixture("seed.yml", "plan", "us-east-1");
    let mut o = s.opts(None);
    o.plan_only = true;
    let c = Collect::default();
    let out = provision::provision_with(&o, &c, &moto())
        .await
        .expect("plan");
    let msgs = messages(&c);
    let p = &out.plan;
    assert!(!out.applied);
    assert!(
        p.changes
            .iter()
            .all(|c| c.action == provision::plan::Action::Create || c.resource == "elastic-ip"),
        "{msgs:#?}"
    );
    // vpc, 4 subnets, igw, route table, key, 5 groups, 7 instances, 1 EIP, cache subnet group, redis
    let n = |r: &str| p.changes.iter().filter(|c| c.resource == r).count();
    assert_eq!(
        (
            n("vpc"),
            n("subnet"),
            n("internet-gateway"),
            n("route-table")
        ),
        (1, 4, 1, 1)
    );
    assert_eq!(
        (
            n("key-pair"),
            n("security-group"),
            n("instance"),
            n("elastic-ip")
        ),
        (1, 5, 7, 1)
    );
    assert_eq!((n("cache-subnet-group"), n("redis")), (1, 1));
    assert_eq!(p.summary.destroy, 0);
    assert!(
        msgs.iter().any(|m| m.starts_with("Plan: 23 to create")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("+ingress tcp 6379 from group api")),
        "{msgs:#?}"
    );
    // Nothing was created.
    assert!(live_instances(&s.region, &s.project).await.is_empty());
    let vpcs = ec2(&s.region)
        .await
        .describe_vpcs()
        .filters(super::moto_fixture::project_filter(&s.project))
        .send()
        .await
        .unwrap();
    assert!(vpcs.vpcs().is_empty());

    // The plan as JSON.
    o.json = true;
    let c = Collect::default();
    provision::provision_with(&o, &c, &moto())
        .await
        .expect("plan");
    // The plan is its own event (an object, not a JSON string inside a message).
    let doc =
        c.0.lock()
            .unwrap()
            .iter()
            .find_map(|e| match e {
                Event::Plan { .. } => Some(serde_json::to_value(e).unwrap()),
                _ => None,
            })
            .expect("json plan event");
    assert_eq!(doc["event"], "plan");
    assert!(doc["plan"].is_object(), "{doc}");
    assert_eq!(doc["plan"]["summary"]["create"], 23);
    assert_eq!(doc["plan"]["project"], s.project.as_str());
    assert!(doc["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["resource"] == "redis" && c["action"] == "create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_seed_stack_then_reapply_changes_nothing() {
    let s = Stack::fixture("seed.yml", "seed", "us-east-1");
    let t = std::time::Instant::now();
    let (out, msgs) = provision_collect(&s.opts(None)).await;
    let out = out.unwrap_or_else(|e| panic!("{e}\n{}", msgs.join("\n")));
    eprintln!("seed stack applied in {:.1?}", t.elapsed());
    assert!(out.applied);
    let live = live_instances(&s.region, &s.project).await;
    assert_eq!(
        (
            count(&live, "api"),
            count(&live, "api_lb"),
            count(&live, "client"),
            count(&live, "web")
        ),
        (2, 1, 2, 2),
        "{live:?}"
    );
    let idx: Vec<u32> = live.iter().filter(|i| i.1 == "api").map(|i| i.2).collect();
    assert_eq!(idx, vec![1, 2]);

    // Outputs: the Elastic IP of the LB, hosts, the Redis endpoint.
    let lb_ip = out.outputs["lb_address"].as_str().unwrap().to_string();
    let eips = ec2(&s.region)
        .await
        .describe_addresses()
        .filters(super::moto_fixture::project_filter(&s.project))
        .send()
        .await
        .unwrap();
    assert_eq!(eips.addresses().len(), 1);
    assert_eq!(eips.addresses()[0].public_ip(), Some(lb_ip.as_str()));
    let lb_id = live.iter().find(|i| i.1 == "api_lb").unwrap().0.clone();
    assert_eq!(eips.addresses()[0].instance_id(), Some(lb_id.as_str()));
    assert_eq!(
        out.outputs["api_hosts"],
        serde_json::json!(["api-1", "api-2"])
    );
    let redis = out.outputs["redis_endpoint"].as_str().unwrap();
    assert!(
        redis.ends_with(":6379") && redis.contains(&format!("{}-dev-cache", s.project)),
        "{redis}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Apply complete: 23 created")),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m.starts_with("Outputs:")), "{msgs:#?}");

    // Redis: a replication group, tagged, reachable only from the api group.
    let ec = Aws::connect(&moto()).await.elasticache(&s.region);
    let rg = ec
        .describe_replication_groups()
        .replication_group_id(format!("{}-dev-cache", s.project))
        .send()
        .await
        .unwrap();
    assert_eq!(rg.replication_groups()[0].status(), Some("available"));
    let sgs = ec2(&s.region)
        .await
        .describe_security_groups()
        .filters(super::moto_fixture::project_filter(&s.project))
        .send()
        .await
        .unwrap();
    let by_name = |n: &str| {
        sgs.security_groups()
            .iter()
            .find(|g| g.group_name() == Some(&format!("{}-dev-{n}", s.project)))
            .unwrap()
            .clone()
    };
    let redis_sg = by_name("redis");
    let perms = redis_sg.ip_permissions();
    assert_eq!(perms.len(), 1);
    assert_eq!(perms[0].from_port(), Some(6379));
    assert_eq!(
        perms[0].user_id_group_pairs()[0].group_id(),
        by_name("api").group_id()
    );
    assert!(perms[0].ip_ranges().is_empty());

    // Second run: no change, says so, same instances.
    let (again, msgs) = provision_collect(&s.opts(None)).await;
    let again = again.unwrap_or_else(|e| panic!("{e}\n{}", msgs.join("\n")));
    assert!(again.plan.is_empty(), "{:#?}", again.plan.changes);
    assert!(!again.applied);
    assert!(
        msgs.iter().any(|m| m.starts_with("No changes")),
        "{msgs:#?}"
    );
    assert_eq!(again.outputs["lb_address"], out.outputs["lb_address"]);
    assert_eq!(live_instances(&s.region, &s.project).await, live);

    let d = s.destroy(None).await;
    assert!(d.applied);
    assert!(live_instances(&s.region, &s.project).await.is_empty());
    assert!(s.plan(None).await.summary.create > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_count_2_then_3_then_1_terminates_the_oldest() {
    let s = Stack::from_text(&small(2), "count", "us-west-2");
    s.apply(None).await;
    let two = live_instances(&s.region, &s.project).await;
    assert_eq!(count(&two, "app"), 2);

    // Launch times have a one-second resolution: make the third one visibly newer.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.write(&small(3));
    let p = s.plan(None).await;
    assert_eq!(summary(&p), (1, 0, 0, 0), "{:#?}", p.changes);
    assert_eq!(p.changes[0].name, "app-3");
    s.apply(None).await;
    let three = live_instances(&s.region, &s.project).await;
    assert_eq!(count(&three, "app"), 3);
    let newest = three.iter().find(|i| i.2 == 3).unwrap().0.clone();
    assert!(
        two.iter().all(|i| three.contains(i)),
        "the first two are kept"
    );

    s.write(&small(1));
    let p = s.plan(None).await;
    assert_eq!(summary(&p), (0, 0, 0, 1), "{:#?}", p.changes);
    assert!(!p.changes[0].needs_approval, "scaling in needs no approval");
    assert!(
        p.changes[0].details[0].contains("terminating the oldest"),
        "{:?}",
        p.changes[0].details
    );
    s.apply(None).await;
    let one = live_instances(&s.region, &s.project).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0, newest, "the newest instance stays");
    assert!(s.plan(None).await.is_empty());
    s.destroy(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_security_group_rules_converge() {
    let s = Stack::from_text(&small(1), "rules", "us-west-2");
    s.apply(None).await;
    // Drop port 80, open 443 and a range, allow db from a CIDR too.
    let changed = small(1)
        .replace("      - {port: 80, cidr: 0.0.0.0/0}\n", "      - {port: 443, cidr: 0.0.0.0/0}\n      - {ports: 8000-8100, protocol: udp, cidr: 10.1.0.0/16}\n")
        .replace("      - {port: 5432, from: app}\n", "      - {port: 5432, from: app}\n      - {port: 5432, cidr: 10.9.9.0/24}\n");
    s.write(&changed);
    let p = s.plan(None).await;
    assert_eq!(summary(&p), (0, 2, 0, 0), "{:#?}", p.changes);
    let app = p.changes.iter().find(|c| c.name.ends_with("-app")).unwrap();
    assert!(
        app.details
            .contains(&"+ingress tcp 443 from 0.0.0.0/0".to_string()),
        "{:?}",
        app.details
    );
    assert!(
        app.details
            .contains(&"+ingress udp 8000-8100 from 10.1.0.0/16".to_string()),
        "{:?}",
        app.details
    );
    assert!(
        app.details
            .contains(&"-ingress tcp 80 from 0.0.0.0/0".to_string()),
        "{:?}",
        app.details
    );
    s.apply(None).await;
    assert!(s.plan(None).await.is_empty(), "rules converged");

    let sgs = ec2(&s.region)
        .await
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{}-dev-app", s.project))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut ports: Vec<(String, i32)> = sgs.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| (p.ip_protocol().unwrap().to_string(), p.from_port().unwrap()))
        .collect();
    ports.sort();
    assert_eq!(
        ports,
        vec![
            ("tcp".into(), 22),
            ("tcp".into(), 443),
            ("udp".into(), 8000)
        ]
    );
    s.destroy(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_environments_are_isolated() {
    let s = Stack::from_text(&small(2), "envs", "eu-west-1");
    s.apply(Some("main")).await;
    s.apply(Some("feature-x")).await;
    let all = live_instances(&s.region, &s.project).await;
    assert_eq!(all.iter().filter(|i| i.3 == "main").count(), 2);
    assert_eq!(all.iter().filter(|i| i.3 == "feature-x").count(), 2);
    // Each env plans against its own resources only.
    assert!(s.plan(Some("main")).await.is_empty());
    assert!(s.plan(Some("feature-x")).await.is_empty());

    let d = s.destroy(Some("feature-x")).await;
    assert!(d
        .plan
        .changes
        .iter()
        .all(|c| c.action == provision::plan::Action::Destroy));
    let left = live_instances(&s.region, &s.project).await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|i| i.3 == "main"));
    assert!(s.plan(Some("main")).await.is_empty(), "main untouched");
    s.destroy(Some("main")).await;
    assert!(live_instances(&s.region, &s.project).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_never_touches_resources_without_both_tags() {
    let s = Stack::from_text(&small(1), "untag", "eu-central-1");
    s.apply(None).await;
    let c = ec2(&s.region).await;
    let vpc = c
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("isDefault")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpcs()[0].vpc_id().unwrap().to_string();
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
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    // Untagged, project tag only, and right project but another env: all must survive.
    let mut foreign = vec![];
    for tags in [
        vec![],
        vec![tag("rdeploy:project", &s.project)],
        vec![
            tag("rdeploy:project", &s.project),
            tag("rdeploy:env", "other"),
        ],
    ] {
        let mut req = c
            .run_instances()
            .image_id(&ami)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1);
        if !tags.is_empty() {
            req = req.tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .set_tags(Some(tags.clone()))
                    .build(),
            );
        }
        let out = req.send().await.unwrap();
        foreign.push(out.instances()[0].instance_id().unwrap().to_string());
    }
    let sg = c
        .create_security_group()
        .group_name(format!("{}-dev-lookalike", s.project))
        .description("not rdeploy's")
        .vpc_id(&vpc_id)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(tag("rdeploy:project", &s.project))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sg_id = sg.group_id().unwrap().to_string();

    let d = s.destroy(None).await;
    assert!(d.applied);
    assert!(d.plan.changes.iter().all(|ch| !ch
        .details
        .iter()
        .any(|x| foreign.iter().any(|f| x.contains(f)))));
    let out = c
        .describe_instances()
        .set_instance_ids(Some(foreign.clone()))
        .send()
        .await
        .unwrap();
    let states: Vec<String> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| i.state().unwrap().name().unwrap().as_str().to_string())
        .collect();
    assert_eq!(states, vec!["running"; 3], "foreign instances untouched");
    let still = c
        .describe_security_groups()
        .group_ids(&sg_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.security_groups().len(),
        1,
        "foreign security group untouched"
    );
    // Ours are gone.
    let ours: Vec<_> = live_instances(&s.region, &s.project)
        .await
        .into_iter()
        .filter(|i| i.3 == "dev")
        .collect();
    assert!(ours.is_empty());
    c.terminate_instances()
        .set_instance_ids(Some(foreign))
        .send()
        .await
        .unwrap();
    c.delete_security_group()
        .group_id(&sg_id)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_apply_converges_without_duplicates() {
    let s = Stack::fixture("seed.yml", "intr", "ap-south-1");
    // 1. Interrupt: drop the apply future as soon as the first resources exist.
    let c = std::sync::Arc::new(Collect::default());
    let opts = s.opts(None);
    let c2 = c.clone();
    let task = tokio::spawn(async move {
        provision::provision_with(&opts, c2.as_ref(), &moto())
            .await
            .map(|o| o.applied)
    });
    let t = std::time::Instant::now();
    loop {
        let created = messages(&c).iter().filter(|m| m.contains(": + ")).count();
        if created >= 3 || task.is_finished() || t.elapsed() > std::time::Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;
    let done_before = messages(&c).iter().filter(|m| m.contains(": + ")).count();
    assert!(
        done_before >= 1,
        "something was created before the interruption"
    );

    // 2. A failure midway: an ElastiCache replication group with rdeploy's id but
    // without its tags exists (someone else's). The apply creates the rest, then refuses
    // to touch it and fails.
    let ec = Aws::connect(&moto()).await.elasticache(&s.region);
    ec.create_replication_group()
        .replication_group_id(format!("{}-dev-cache", s.project))
        .replication_group_description("not rdeploy's")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .send()
        .await
        .unwrap();
    let (r, msgs) = provision_collect(&s.opts(None)).await;
    let err = r
        .expect_err("the foreign replication group stops the apply")
        .to_string();
    assert!(
        err.contains("exists but is not rdeploy's"),
        "{err}\n{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("+ instance web-2")),
        "instances were launched before: {msgs:#?}"
    );

    // 3. The fixed spec (another Redis name) converges: exact counts, one VPC, no
    // duplicates; a rerun is clean; the foreign group is left alone.
    let seed = std::fs::read_to_string(fixtures().join("seed.yml"))
        .unwrap()
        .replace("  cache:\n", "  sessions:\n")
        .replace("redis.cache.", "redis.sessions.");
    s.write(&seed);
    let (r, msgs) = provision_collect(&s.opts(None)).await;
    r.unwrap_or_else(|e| panic!("{e}\n{}", msgs.join("\n")));
    let live = live_instances(&s.region, &s.project).await;
    assert_eq!(
        (
            count(&live, "api"),
            count(&live, "api_lb"),
            count(&live, "client"),
            count(&live, "web")
        ),
        (2, 1, 2, 2),
        "{live:?}"
    );
    let vpcs = ec2(&s.region)
        .await
        .describe_vpcs()
        .filters(super::moto_fixture::project_filter(&s.project))
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let p = s.plan(None).await;
    assert!(p.is_empty(), "{:#?}", p.changes);
    s.destroy(None).await;
    let foreign = ec
        .describe_replication_groups()
        .replication_group_id(format!("{}-dev-cache", s.project))
        .send()
        .await
        .unwrap();
    assert_eq!(
        foreign.replication_groups()[0].status(),
        Some("available"),
        "the foreign group is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_needs_approval_and_ci_refuses_without_it() {
    let s = Stack::from_text(&small(1), "repl", "ca-central-1");
    s.apply(None).await;
    let before = live_instances(&s.region, &s.project).await;
    s.write(&small(1).replace("type: t3.micro", "type: t3.large"));
    let p = s.plan(None).await;
    assert_eq!(summary(&p), (0, 0, 1, 0), "{:#?}", p.changes);
    assert!(p.changes[0].needs_approval);
    assert!(
        p.changes[0]
            .details
            .iter()
            .any(|d| d == "type t3.micro -> t3.large"),
        "{:?}",
        p.changes[0].details
    );

    // The binary, stdin not a terminal, no --auto-approve: refuses, exit 1, nothing done.
    let env = moto_env();
    let run =
        super::harness::rdeploy_env(s.dir.path(), &["provision", s.spec.to_str().unwrap()], &env);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("--auto-approve"), "{all}");
    assert_eq!(live_instances(&s.region, &s.project).await, before);

    // With --auto-approve: replaced (same index, new id).
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["provision", "--auto-approve", s.spec.to_str().unwrap()],
        &env,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let after = live_instances(&s.region, &s.project).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].0, before[0].0);
    assert_eq!(after[0].2, 1);
    assert!(s.plan(None).await.is_empty());

    // `--plan` through the binary changes nothing and exits 0.
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["provision", "--plan", s.spec.to_str().unwrap()],
        &env,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let run =
        super::harness::rdeploy_env(s.dir.path(), &["destroy", s.spec.to_str().unwrap()], &env);
    assert_eq!(
        run.code, 1,
        "destroy without approval refuses: {}\n{}",
        run.stdout, run.stderr
    );
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["destroy", "--auto-approve", s.spec.to_str().unwrap()],
        &env,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(live_instances(&s.region, &s.project).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_region_spec_spans_regions() {
    let text = r#"
project: PROJECT
env: dev
regions: [us-east-2, eu-west-2]
network: {cidr: 10.70.0.0/16, azs: 1}
security_groups:
  app: {ingress: [{port: 22, cidr: 10.0.0.0/8}]}
instances:
  app:
    count: 1
    regions: [us-east-2, eu-west-2]
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
outputs:
  regions: "{{ instances.app | map(attribute='region') | list }}"
"#;
    let s = Stack::from_text(text, "multi", "us-east-2");
    let (out, msgs) = provision_collect(&s.opts(None)).await;
    let out = out.unwrap_or_else(|e| panic!("{e}\n{}", msgs.join("\n")));
    assert_eq!(live_instances("us-east-2", &s.project).await.len(), 1);
    assert_eq!(live_instances("eu-west-2", &s.project).await.len(), 1);
    // Indexes are unique across regions.
    let mut idx: Vec<u32> = live_instances("us-east-2", &s.project)
        .await
        .iter()
        .chain(live_instances("eu-west-2", &s.project).await.iter())
        .map(|i| i.2)
        .collect();
    idx.sort();
    assert_eq!(idx, vec![1, 2]);
    assert_eq!(
        out.outputs["regions"],
        serde_json::json!(["us-east-2", "eu-west-2"])
    );
    assert!(s.plan(None).await.is_empty());

    // The inventory spans the regions too.
    let cfg = format!(
        "plugin: aws_ec2\nregions: [us-east-2, eu-west-2]\nfilters:\n  tag:rdeploy:project: {}\nhostnames: [tag:rdeploy:host]\nkeyed_groups:\n  - {{key: placement.region, prefix: region}}\n",
        s.project
    );
    let path = s.dir.path().join("aws_ec2.yml");
    std::fs::write(&path, cfg).unwrap();
    let doc = rdeploy::yaml::load_file(&path).unwrap();
    let mut inv = rdeploy::inventory::Inventory::new();
    rdeploy::inventory::aws_ec2::load_with(&path, &doc, &mut inv, &moto())
        .await
        .unwrap();
    let mut hosts: Vec<&String> = inv.groups["aws_ec2"].hosts.iter().collect();
    hosts.sort();
    assert_eq!(hosts, vec!["app-1", "app-2"]);
    assert_eq!(inv.groups["region_us_east_2"].hosts.len(), 1);
    assert_eq!(inv.groups["region_eu_west_2"].hosts.len(), 1);

    s.destroy(None).await;
    assert!(live_instances("eu-west-2", &s.project).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_give_positions_and_make_no_api_call() {
    // AWS points at a closed port: any API call would fail with a connection error.
    let closed = AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        credentials: Some(("x".into(), "y".into())),
        profile: None,
    };
    let cases: &[(&str, &str)] = &[
        ("project: shop\nenv: dev\nregion: us-east-1\ninstances:\n  api:\n    count: 2\n    typ: t3.micro\n", "infra.yml:7:5: unknown key `typ`"),
        ("project: shop\nenv: dev\nregion: us-east-1\ninstances:\n  api:\n    count: [2]\n", "infra.yml:6:12: `count` must be a whole number"),
        (
            "project: shop\nenv: dev\nregion: us-east-1\nsecurity_groups:\n  redis:\n    ingress:\n      - port: 6379\n        from: api\n",
            "infra.yml:8:15: security group `redis`: a rule refers to `api`, which is not defined",
        ),
        ("project: shop\nenv: dev\nregion: us-east-1\nredis:\n  cache:\n    security_groups: [nope]\n", "infra.yml:6:23: redis `cache`: security group `nope` is not defined"),
        ("project: Shop!\nenv: dev\nregion: us-east-1\n", "infra.yml:1:10: project `Shop!`"),
        ("project: shop\nenv: dev\nregion: us-east-1\nnetwork: {cidr: 10.0.0.0/33}\n", "infra.yml:4:17: `10.0.0.0/33` is not an IPv4 CIDR block"),
        ("project: shop\nenv: dev\nregion: us-east-1\noutputs:\n  x: \"{{ instances.api[0 }}\"\n", "infra.yml:5:6: invalid template"),
    ];
    for (text, want) in cases {
        let dir = super::harness::tempdir();
        let spec = dir.path().join("infra.yml");
        std::fs::write(&spec, text).unwrap();
        let opts = ProvisionOptions {
            spec: spec.clone(),
            env: None,
            plan_only: false,
            auto_approve: true,
            json: false,
        };
        let t = std::time::Instant::now();
        let err = provision::provision_with(&opts, &Collect::default(), &closed)
            .await
            .expect_err("bad spec")
            .to_string();
        let rel = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(rel.starts_with(want), "want {want:?}, got:\n{rel}");
        assert!(matches!(
            provision::load_spec(&opts),
            Err(rdeploy::error::Error::Source(_))
        ));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "no network round trips"
        );
        let err = provision::destroy_with(&opts, &Collect::default(), &closed)
            .await
            .expect_err("bad spec")
            .to_string();
        assert!(err
            .replace(&format!("{}/", dir.path().display()), "")
            .starts_with(want));
    }

    // Through the binary too: exit 1, the position and a caret on stderr.
    let dir = super::harness::tempdir();
    std::fs::write(dir.path().join("infra.yml"), cases[0].0).unwrap();
    let run = super::harness::rdeploy_env(
        dir.path(),
        &["provision", "--plan", "infra.yml"],
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("infra.yml:7:5: unknown key `typ`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("^"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_example_plans_against_moto() {
    // inventory/infra.yml itself: valid, and plannable (its Ubuntu 22.04 lookup is not
    // in moto's image list, which the error must say).
    let opts = ProvisionOptions {
        spec: super::harness::repo_root().join("inventory/infra.yml"),
        env: Some(unique("ex")),
        plan_only: true,
        auto_approve: false,
        json: false,
    };
    provision::load_spec(&opts).expect("the seed example is valid");
    match provision::plan_with(&opts, &Collect::default(), &moto()).await {
        Ok(p) => assert!(p.summary.create >= 20),
        Err(e) => assert!(e.to_string().contains("no AMI of 099720109477"), "{e}"),
    }
}

/// A fake EC2 endpoint answering `RequestLimitExceeded` twice, then success: the
/// configuration rdeploy builds retries throttling with backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_with_backoff() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let seen = hits.clone();
    let server = tokio::spawn(async move {
        for n in 0..3 {
            let (mut sock, _) = listener.accept().await.unwrap();
            seen.lock().unwrap().push(std::time::Instant::now());
            // Read the request head and its body.
            let mut buf = vec![];
            let mut chunk = [0u8; 4096];
            loop {
                let k = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
                if k == 0 {
                    break;
                }
            }
            let (status, body) = if n < 2 {
                ("503 Service Unavailable", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>")
            } else {
                ("200 OK", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r2</requestId><vpcSet/></DescribeVpcsResponse>")
            };
            let resp = format!("HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            sock.write_all(resp.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        }
    });
    let settings = AwsSettings {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        credentials: Some(("x".into(), "y".into())),
        profile: None,
    };
    let out = Aws::connect(&settings)
        .await
        .ec2("us-east-1")
        .describe_vpcs()
        .send()
        .await;
    assert!(out.is_ok(), "{out:?}");
    server.await.unwrap();
    let hits = hits.lock().unwrap();
    assert_eq!(hits.len(), 3, "two throttled attempts, then success");
    assert!(hits[2] > hits[0], "attempts are spaced by a backoff");
}
