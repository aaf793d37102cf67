//! `dns` against the moto server: records in a hosted zone the test creates (rdeploy
//! never creates zones) — an A alias to a network load balancer, an A record with the
//! master's Elastic IP, a CNAME. Plan, apply, re-apply, changes, a foreign record at a
//! wanted name, destroy leaving records rdeploy did not create; checked with the SDK.

use super::moto_fixture::{moto, Stack};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use rdeploy::provision::aws::Aws;
use std::collections::BTreeMap;

const REGION: &str = "us-east-1";

async fn r53() -> aws_sdk_route53::Client {
    Aws::connect(&moto()).await.route53()
}

/// name -> (type, values or alias target), every record of the zone.
async fn records(zone: &str) -> BTreeMap<(String, String), Vec<String>> {
    let out = r53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap();
    out.resource_record_sets()
        .iter()
        .map(|s| {
            let vals = match s.alias_target() {
                Some(a) => vec![a.dns_name().trim_end_matches('.').to_string()],
                None => s
                    .resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect(),
            };
            (
                (
                    s.name().trim_end_matches('.').to_string(),
                    s.r#type().as_str().to_string(),
                ),
                vals,
            )
        })
        .collect()
}

async fn put(zone: &str, name: &str, t: RrType, value: &str) {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(t)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap();
    r53()
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

const SPEC: &str = r#"
project: PROJECT
env: dev
region: REGION
network: {cidr: 10.62.0.0/16, azs: 3}
instances:
  master: {type: t3.micro, ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}, elastic_ip: true}
  edge: {count: 2, type: t3.micro, ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}}
load_balancers:
  data:
    type: network
    target_groups: {edge: {instances: edge, port: 9000}}
    listeners: [{port: 443, protocol: TCP, default: {forward: edge}}]
dns:
  ZONE:
    ttl: 60
    records:
      data: {load_balancer: data}
      master: {instances: master MASTER_ADDRESS}
      WWW
outputs:
  application-url: "wss://{{ dns.data }}/ws"
  management-url: "ws://{{ dns.master }}:9000/ws"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_records_lifecycle() {
    let s = Stack::from_text(
        "project: PROJECT\nenv: dev\nregion: REGION\n",
        "dns",
        REGION,
    );
    let zone_name = format!("{}.example.com", s.project);
    let created = r53()
        .await
        .create_hosted_zone()
        .name(&zone_name)
        .caller_reference(&s.project)
        .send()
        .await
        .unwrap();
    let zone = created
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    // Records rdeploy did not create: one plain, one marked by another environment.
    put(
        &zone,
        &format!("legacy.{zone_name}"),
        RrType::A,
        "192.0.2.10",
    )
    .await;
    put(
        &zone,
        &format!("other.{zone_name}"),
        RrType::Cname,
        "x.example.net",
    )
    .await;
    put(
        &zone,
        &format!("_rdeploy.other.{zone_name}"),
        RrType::Txt,
        &format!(
            "\"heritage=rdeploy,project={},env=other,type=CNAME\"",
            s.project
        ),
    )
    .await;
    let before = records(&zone).await;

    let spec = |master: &str, www: &str| {
        SPEC.replace("ZONE", &zone_name)
            .replace("MASTER_ADDRESS", master)
            .replace("WWW", www)
    };
    s.write(&spec("", &format!("www: {{cname: data.{zone_name}}}")));
    let n = |x: &str| format!("{x}.{zone_name}");

    // Plan on an empty account: three records to create.
    let plan = Box::pin(s.plan(None)).await;
    let dns: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.resource == "dns-record")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        dns,
        vec![
            format!("{} A", n("data")),
            format!("{} A", n("master")),
            format!("{} CNAME", n("www"))
        ]
    );
    assert_eq!(records(&zone).await, before, "a plan changes nothing");

    // Apply.
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let r = records(&zone).await;
    let aws = Aws::connect(&moto()).await;
    let lbs = aws
        .elbv2(REGION)
        .describe_load_balancers()
        .send()
        .await
        .unwrap();
    let lb_dns = lbs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(&format!("{}-dev-data", s.project)))
        .unwrap()
        .dns_name()
        .unwrap()
        .to_string();
    assert_eq!(r[&(n("data"), "A".into())], vec![lb_dns.clone()]);
    let eips = aws
        .ec2(REGION)
        .describe_addresses()
        .filters(super::moto_fixture::project_filter(&s.project))
        .send()
        .await
        .unwrap();
    let eip = eips.addresses()[0].public_ip().unwrap().to_string();
    assert_eq!(r[&(n("master"), "A".into())], vec![eip]);
    assert_eq!(r[&(n("www"), "CNAME".into())], vec![n("data")]);
    let owner = &r[&(format!("_rdeploy.{}", n("www")), "TXT".into())];
    assert_eq!(
        owner,
        &vec![format!(
            "\"heritage=rdeploy,project={},env=dev,type=CNAME\"",
            s.project
        )]
    );
    assert_eq!(
        out.outputs["application-url"],
        format!("wss://{}/ws", n("data"))
    );
    assert_eq!(
        out.outputs["management-url"],
        format!("ws://{}:9000/ws", n("master"))
    );

    // Re-apply: nothing to do.
    let again = Box::pin(s.plan(None)).await;
    assert!(again.is_empty(), "{:#?}", again.changes);

    // Changes: master by its private address, www points elsewhere.
    s.write(&spec(", address: private", "www: {cname: cdn.example.net}"));
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let r = records(&zone).await;
    let private = super::moto_fixture::live_instances(REGION, &s.project).await;
    let master_id = private.iter().find(|i| i.1 == "master").unwrap().0.clone();
    let desc = aws
        .ec2(REGION)
        .describe_instances()
        .instance_ids(&master_id)
        .send()
        .await
        .unwrap();
    let private_ip = desc.reservations()[0].instances()[0]
        .private_ip_address()
        .unwrap()
        .to_string();
    assert_eq!(r[&(n("master"), "A".into())], vec![private_ip]);
    assert_eq!(r[&(n("www"), "CNAME".into())], vec!["cdn.example.net"]);
    assert!(Box::pin(s.plan(None)).await.is_empty());

    // A wanted name that holds a record rdeploy did not create: the plan stops.
    s.write(&spec("", "legacy: {cname: data.example.net}"));
    let err = s.plan_err(None).await;
    assert!(
        err.contains(&format!("`{}` already has a A record", n("legacy"))),
        "{err}"
    );
    assert_eq!(
        records(&zone).await[&(n("legacy"), "A".into())],
        vec!["192.0.2.10"]
    );

    // A record dropped from the spec is deleted with its owner mark.
    s.write(&spec("", ""));
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let r = records(&zone).await;
    assert!(!r.contains_key(&(n("www"), "CNAME".into())));
    assert!(!r.contains_key(&(format!("_rdeploy.{}", n("www")), "TXT".into())));

    // Destroy: ours go, the zone and everything else stay as they were.
    Box::pin(s.destroy(None)).await;
    assert_eq!(records(&zone).await, before);

    r53()
        .await
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch({
            let mut b = ChangeBatch::builder();
            for (name, t, v) in [
                (n("legacy"), RrType::A, "192.0.2.10".to_string()),
                (n("other"), RrType::Cname, "x.example.net".to_string()),
                (
                    format!("_rdeploy.{}", n("other")),
                    RrType::Txt,
                    format!(
                        "\"heritage=rdeploy,project={},env=other,type=CNAME\"",
                        s.project
                    ),
                ),
            ] {
                b = b.changes(
                    Change::builder()
                        .action(ChangeAction::Delete)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name(name)
                                .r#type(t)
                                .ttl(300)
                                .resource_records(
                                    ResourceRecord::builder().value(v).build().unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                );
            }
            b.build().unwrap()
        })
        .send()
        .await
        .unwrap();
    r53()
        .await
        .delete_hosted_zone()
        .id(&zone)
        .send()
        .await
        .unwrap();
}

/// A zone that does not exist: an error pointing at the spec, and nothing created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_zone_stops_before_any_change() {
    let s = Stack::from_text(
        "project: PROJECT\nenv: dev\nregion: REGION\ninstances:\n  m: {type: t3.micro, ami: {owner: \"099720109477\", name: \"ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*\"}}\ndns:\n  PROJECT.nowhere.example:\n    records: {m: {instances: m}}\n",
        "nozone",
        REGION,
    );
    let (r, msgs) = super::moto_fixture::provision_collect(&s.opts(None)).await;
    let err = r.expect_err("no zone").to_string();
    assert!(
        err.contains("infra.yml:7:3: no hosted zone") && err.contains("create it first"),
        "{err}\n{msgs:#?}"
    );
    assert!(super::moto_fixture::live_instances(REGION, &s.project)
        .await
        .is_empty());
    // Destroying is not blocked by the missing zone (nothing of ours can be there).
    let d = Box::pin(s.destroy(None)).await;
    assert_eq!(d.code, 0);
}
