//! `peering` against the moto server: two regions' VPCs peered, routes on both sides,
//! the database's security group admitting the peer's block; re-apply, a change (the
//! rule dropped), destroy leaving an untagged look-alike peering alone. Checked with the
//! SDK in both regions. Also examples/two-regions, applied and destroyed.

use super::moto_fixture::{ec2, Stack};
use std::collections::BTreeSet;

const A: &str = "us-east-1";
const B: &str = "eu-west-2";

const SPEC: &str = r#"
project: PROJECT
env: dev
regions: [us-east-1, eu-west-2]
network: {cidr: 10.90.0.0/16, cidrs: {eu-west-2: 10.91.0.0/16}, azs: 1, private_subnets: true}
security_groups:
  app: {ingress: [{port: 22, cidr: 10.0.0.0/8}]}
  db: {ingress: [{port: 5432, from: app}]}
peering:
  - regions: [us-east-1, eu-west-2]
    ALLOW
instances:
  app:
    regions: [us-east-1, eu-west-2]
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
"#;

/// (pcx id, status) of the project's peering connections seen from a region.
async fn peerings(region: &str, project: &str) -> Vec<(String, String)> {
    let out = ec2(region)
        .await
        .describe_vpc_peering_connections()
        .send()
        .await
        .unwrap();
    out.vpc_peering_connections()
        .iter()
        .filter(|p| {
            p.tags()
                .iter()
                .any(|t| t.key() == Some("rdeploy:project") && t.value() == Some(project))
        })
        .map(|p| {
            (
                p.vpc_peering_connection_id().unwrap().to_string(),
                p.status().unwrap().code().unwrap().as_str().to_string(),
            )
        })
        .collect()
}

async fn vpc_of(region: &str, project: &str) -> String {
    let out = ec2(region)
        .await
        .describe_vpcs()
        .filters(super::moto_fixture::project_filter(project))
        .send()
        .await
        .unwrap();
    out.vpcs()[0].vpc_id().unwrap().to_string()
}

/// Per route table of the VPC: the (destination, pcx) routes through a peering.
async fn peer_routes(region: &str, vpc: &str) -> Vec<BTreeSet<(String, String)>> {
    let out = ec2(region)
        .await
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.route_tables()
        .iter()
        .map(|t| {
            t.routes()
                .iter()
                .filter_map(|r| {
                    Some((
                        r.destination_cidr_block()?.to_string(),
                        r.vpc_peering_connection_id()?.to_string(),
                    ))
                })
                .collect()
        })
        .collect()
}

async fn db_cidrs(region: &str, project: &str) -> Vec<String> {
    let out = ec2(region)
        .await
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{project}-dev-db"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(String::from))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peering_lifecycle() {
    let with_rule = SPEC.replace("ALLOW", "allow: [{security_group: db, port: 5432}]");
    let s = Stack::from_text(&with_rule, "peer", A);
    let p = s.project.clone();

    let plan = Box::pin(s.plan(None)).await;
    let kinds: Vec<&str> = plan.changes.iter().map(|c| c.resource).collect();
    assert!(kinds.contains(&"vpc-peering"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "vpc-peering-routes").count(),
        2
    );
    assert!(peerings(A, &p).await.is_empty());

    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let pa = peerings(A, &p).await;
    assert_eq!(pa.len(), 1, "{pa:?}");
    let (pcx, status) = pa[0].clone();
    assert_eq!(status, "active", "accepted in {B}");
    assert_eq!(
        peerings(B, &p).await,
        vec![(pcx.clone(), "active".to_string())]
    );
    // Routes on both sides, in every route table (the public one and the main one).
    let (va, vb) = (vpc_of(A, &p).await, vpc_of(B, &p).await);
    let ra = peer_routes(A, &va).await;
    assert_eq!(ra.len(), 2);
    for t in &ra {
        assert!(
            t.contains(&("10.91.0.0/16".to_string(), pcx.clone())),
            "{ra:?}"
        );
    }
    let rb = peer_routes(B, &vb).await;
    assert_eq!(rb.len(), 2);
    for t in &rb {
        assert!(
            t.contains(&("10.90.0.0/16".to_string(), pcx.clone())),
            "{rb:?}"
        );
    }
    // The database group admits the other region's block, on each side.
    assert_eq!(db_cidrs(A, &p).await, vec!["10.91.0.0/16"]);
    assert_eq!(db_cidrs(B, &p).await, vec!["10.90.0.0/16"]);

    assert!(Box::pin(s.plan(None)).await.is_empty());

    // The rule dropped from the spec: the extra ingress goes, the peering stays.
    s.write(&SPEC.replace("ALLOW", ""));
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    assert!(db_cidrs(A, &p).await.is_empty());
    assert!(db_cidrs(B, &p).await.is_empty());
    assert_eq!(
        peerings(A, &p).await,
        vec![(pcx.clone(), "active".to_string())]
    );
    assert!(Box::pin(s.plan(None)).await.is_empty());

    // A look-alike: a peering between two untagged VPCs, named like ours.
    let c = ec2(A).await;
    let v1 = c
        .create_vpc()
        .cidr_block("10.92.0.0/16")
        .send()
        .await
        .unwrap();
    let v1 = v1.vpc().unwrap().vpc_id().unwrap().to_string();
    let v2 = c
        .create_vpc()
        .cidr_block("10.93.0.0/16")
        .send()
        .await
        .unwrap();
    let v2 = v2.vpc().unwrap().vpc_id().unwrap().to_string();
    let other = c
        .create_vpc_peering_connection()
        .vpc_id(&v1)
        .peer_vpc_id(&v2)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::VpcPeeringConnection)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value(format!("{p}-dev-us-east-1--eu-west-2"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let other = other
        .vpc_peering_connection()
        .unwrap()
        .vpc_peering_connection_id()
        .unwrap()
        .to_string();

    let d = Box::pin(s.destroy(None)).await;
    assert!(d.applied);
    let left = peerings(A, &p).await;
    assert!(
        left.iter().all(|(_, st)| st == "deleted"),
        "ours is deleted: {left:?}"
    );
    let still = c
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.vpc_peering_connections()[0]
            .status()
            .unwrap()
            .code()
            .unwrap()
            .as_str(),
        "pending-acceptance",
        "the look-alike is untouched"
    );
    c.delete_vpc_peering_connection()
        .vpc_peering_connection_id(&other)
        .send()
        .await
        .unwrap();
    c.delete_vpc().vpc_id(&v1).send().await.unwrap();
    c.delete_vpc().vpc_id(&v2).send().await.unwrap();
}

/// examples/two-regions as its README runs it: applied (the database only in the
/// primary region, reachable from the other's block), converged, destroyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_example_applies_and_destroys() {
    let root = super::harness::repo_root();
    let text = std::fs::read_to_string(root.join("examples/two-regions/infra.yml"))
        .unwrap()
        .replace("project: tworeg", "project: PROJECT");
    std::env::set_var("TWOREG_DB_PASSWORD", "example-Pa55word-1");
    let s = Stack::from_text(&text, "tworeg", A);
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let rds = |r: &'static str| async move {
        rdeploy::provision::aws::Aws::connect(&super::moto_fixture::moto())
            .await
            .rds(r)
    };
    let id = format!("{}-prod-main", s.project);
    let here = rds("us-east-1")
        .await
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    let db = &here.db_instances()[0];
    let sg = db.vpc_security_groups()[0].vpc_security_group_id().unwrap();
    let perms = ec2("us-east-1")
        .await
        .describe_security_groups()
        .group_ids(sg)
        .send()
        .await
        .unwrap();
    let cidrs: Vec<&str> = perms.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges().iter().filter_map(|r| r.cidr_ip()))
        .collect();
    assert_eq!(cidrs, vec!["10.81.0.0/16"], "eu-west-1's block reaches it");
    let there = rds("eu-west-1")
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert!(
        !there
            .db_instances()
            .iter()
            .any(|d| d.db_instance_identifier().unwrap().starts_with(&s.project)),
        "no database in the secondary region"
    );
    assert_eq!(
        super::moto_fixture::live_instances("eu-west-1", &s.project)
            .await
            .len(),
        1
    );
    assert!(Box::pin(s.plan(None)).await.is_empty());
    Box::pin(s.destroy(None)).await;
    assert!(super::moto_fixture::live_instances("us-east-1", &s.project)
        .await
        .is_empty());
    let c = rds("us-east-1").await;
    super::moto_fixture::delete_snapshots(&c, &s.project).await;
}
