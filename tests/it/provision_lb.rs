//! `load_balancers` against the moto server: plan on an empty account, apply, re-apply
//! changes nothing, changes converge (health check, rule, scale-out registers the new
//! instance, a target group's port makes a new group), destroy removes ours and leaves
//! untagged look-alikes — every check made through the AWS SDK, not rdeploy's output.

use super::moto_fixture::{moto, moto_env, Stack};
use aws_sdk_elasticloadbalancingv2::types::{Tag, TargetTypeEnum};
use rdeploy::provision::aws::Aws;
use std::collections::{BTreeMap, BTreeSet};

const REGION: &str = "us-east-1";

/// An ACM certificate issued by moto (its ELBv2 checks that a listener's certificate exists
/// in ACM), requested with the boto3 of moto's own virtualenv.
pub fn acm_certificate(domain: &str) -> String {
    moto();
    let py = ["/opt/rdeploy-moto/bin/python", "/opt/moto-venv/bin/python"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("moto's virtualenv (tests/fleet/fleet.sh moto)");
    let script = "import boto3,sys; c=boto3.client('acm', endpoint_url='http://127.0.0.1:5055', region_name=sys.argv[2], aws_access_key_id='testing', aws_secret_access_key='testing'); print(c.request_certificate(DomainName=sys.argv[1])['CertificateArn'])";
    let out = std::process::Command::new(py)
        .args(["-c", script, domain, REGION])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub async fn elb() -> aws_sdk_elasticloadbalancingv2::Client {
    Aws::connect(&moto()).await.elbv2(REGION)
}

const SPEC: &str = r#"
project: PROJECT
env: dev
region: REGION
network: {cidr: 10.60.0.0/16, azs: 2}
security_groups:
  lb:
    ingress: [{port: 80, cidr: 0.0.0.0/0}, {port: 443, cidr: 0.0.0.0/0}]
  app:
    ingress: [{port: 8080, from: lb}]
instances:
  web:
    count: WEB_COUNT
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
  demo:
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
load_balancers:
  front:
    security_groups: [lb]
    target_groups:
      web: {instances: web, port: 8080, health_check: {path: HEALTH, matcher: "200-399"}, stickiness: 600}
      demo: {instances: demo, port: DEMO_PORT}
    listeners:
      - {port: 80, default: {redirect: https}}
      - port: 443
        certificate: CERT
        default: {forward: web}
        rules:
          - {host: DEMO_HOST, forward: demo}
          - {path: /maintenance, fixed_response: {status: 503, body: "back soon"}}
outputs:
  url: "https://{{ load_balancers.front.dns_name }}/"
"#;

struct Knobs {
    web: u32,
    health: &'static str,
    demo_port: u16,
    demo_host: &'static str,
}

fn spec_text(k: &Knobs, cert: &str) -> String {
    SPEC.replace("WEB_COUNT", &k.web.to_string())
        .replace("HEALTH", k.health)
        .replace("DEMO_PORT", &k.demo_port.to_string())
        .replace("DEMO_HOST", k.demo_host)
        .replace("CERT", cert)
}

/// What AWS says about one load balancer of the project, read with the SDK.
#[derive(Debug)]
struct Seen {
    arn: String,
    dns: String,
    scheme: String,
    sgs: Vec<String>,
    /// port -> (protocol, certificate, default action type, redirect protocol)
    listeners: BTreeMap<i32, (String, Option<String>, String, Option<String>)>,
    /// host or path -> (priority, action type, target group name)
    rules: BTreeMap<String, (String, String, Option<String>)>,
    /// target groups of the project and env by their tag rdeploy:name
    tgs: BTreeMap<String, SeenTg>,
}

#[derive(Debug)]
struct SeenTg {
    aws_name: String,
    port: i32,
    health_path: Option<String>,
    sticky: Option<String>,
    targets: BTreeSet<String>,
}

async fn seen(project: &str) -> Option<Seen> {
    let c = elb().await;
    let lbs = c.describe_load_balancers().send().await.unwrap();
    let lb = lbs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(&format!("{project}-dev-front")))?
        .clone();
    let arn = lb.load_balancer_arn().unwrap().to_string();
    let mut listeners = BTreeMap::new();
    let mut rules = BTreeMap::new();
    let mut tg_names = BTreeMap::new();
    let tgs_out = c.describe_target_groups().send().await.unwrap();
    for g in tgs_out.target_groups() {
        tg_names.insert(
            g.target_group_arn().unwrap().to_string(),
            g.target_group_name().unwrap().to_string(),
        );
    }
    let ls = c
        .describe_listeners()
        .load_balancer_arn(&arn)
        .send()
        .await
        .unwrap();
    for l in ls.listeners() {
        let a = &l.default_actions()[0];
        listeners.insert(
            l.port().unwrap(),
            (
                l.protocol().unwrap().as_str().to_string(),
                l.certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .map(String::from),
                a.r#type().unwrap().as_str().to_string(),
                a.redirect_config()
                    .and_then(|r| r.protocol())
                    .map(String::from),
            ),
        );
        let rs = c
            .describe_rules()
            .listener_arn(l.listener_arn().unwrap())
            .send()
            .await
            .unwrap();
        for r in rs
            .rules()
            .iter()
            .filter(|r| r.priority() != Some("default"))
        {
            for cond in r.conditions() {
                let values: Vec<String> = cond
                    .host_header_config()
                    .map(|h| h.values().to_vec())
                    .or(cond.path_pattern_config().map(|p| p.values().to_vec()))
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| cond.values().to_vec());
                for v in values {
                    let a = &r.actions()[0];
                    rules.insert(
                        v,
                        (
                            r.priority().unwrap().to_string(),
                            a.r#type().unwrap().as_str().to_string(),
                            a.target_group_arn().and_then(|t| tg_names.get(t)).cloned(),
                        ),
                    );
                }
            }
        }
    }
    let mut tgs = BTreeMap::new();
    for g in tgs_out.target_groups() {
        let garn = g.target_group_arn().unwrap();
        let tags = c.describe_tags().resource_arns(garn).send().await.unwrap();
        let tag = |k: &str| {
            tags.tag_descriptions()[0]
                .tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .map(String::from)
        };
        if tag("rdeploy:project").as_deref() != Some(project)
            || tag("rdeploy:env").as_deref() != Some("dev")
        {
            continue;
        }
        let attrs = c
            .describe_target_group_attributes()
            .target_group_arn(garn)
            .send()
            .await
            .unwrap();
        let sticky = attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("stickiness.enabled"))
            .and_then(|a| a.value())
            .map(String::from);
        let health = c
            .describe_target_health()
            .target_group_arn(garn)
            .send()
            .await
            .unwrap();
        tgs.insert(
            tag("rdeploy:name").unwrap_or_default(),
            SeenTg {
                aws_name: g.target_group_name().unwrap().to_string(),
                port: g.port().unwrap(),
                health_path: g.health_check_path().map(String::from),
                sticky,
                targets: health
                    .target_health_descriptions()
                    .iter()
                    .map(|d| d.target().unwrap().id().unwrap().to_string())
                    .collect(),
            },
        );
    }
    Some(Seen {
        arn,
        dns: lb.dns_name().unwrap().to_string(),
        scheme: lb.scheme().unwrap().as_str().to_string(),
        sgs: lb.security_groups().to_vec(),
        listeners,
        rules,
        tgs,
    })
}

/// Instance ids of a group, from EC2.
async fn group_ids(project: &str, group: &str) -> BTreeSet<String> {
    super::moto_fixture::live_instances(REGION, project)
        .await
        .into_iter()
        .filter(|i| i.1 == group)
        .map(|i| i.0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_lifecycle() {
    let cert = acm_certificate("demo.example.com");
    let mut k = Knobs {
        web: 2,
        health: "/health",
        demo_port: 8080,
        demo_host: "demo.example.com",
    };
    let s = Stack::from_text(&spec_text(&k, &cert), "lb", REGION);
    let p = &s.project;

    // Plan on an empty account: the whole load balancer, nothing made.
    let plan = s.plan(None).await;
    let kinds: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.resource, c.name.as_str()))
        .collect();
    for want in [
        ("load-balancer", format!("{p}-dev-front")),
        ("listener", format!("{p}-dev-front:80")),
        ("listener", format!("{p}-dev-front:443")),
    ] {
        assert!(kinds.contains(&(want.0, want.1.as_str())), "{kinds:?}");
    }
    assert_eq!(
        plan.changes
            .iter()
            .filter(|c| c.resource == "target-group")
            .count(),
        2
    );
    assert!(seen(p).await.is_none());

    // Apply: what AWS has is what the spec says.
    let (out, msgs) = s.apply(None).await;
    assert!(out.applied, "{msgs:#?}");
    let a = seen(p).await.expect("the load balancer exists");
    assert_eq!(a.scheme, "internet-facing");
    assert_eq!(
        a.listeners[&80],
        ("HTTP".into(), None, "redirect".into(), Some("HTTPS".into()))
    );
    assert_eq!(a.listeners[&443].0, "HTTPS");
    assert_eq!(a.listeners[&443].1.as_deref(), Some(cert.as_str()));
    assert_eq!(a.listeners[&443].2, "forward");
    assert_eq!(a.tgs.len(), 2, "{:?}", a.tgs);
    let demo_tg = &a.tgs["demo"].aws_name;
    assert!(demo_tg.len() <= 32, "{demo_tg}");
    assert_eq!(a.rules["demo.example.com"].0, "10");
    assert_eq!(a.rules["demo.example.com"].2.as_ref(), Some(demo_tg));
    assert_eq!(a.rules["/maintenance"].1, "fixed-response");
    let web = &a.tgs["web"];
    assert_eq!(web.port, 8080);
    assert_eq!(web.health_path.as_deref(), Some("/health"));
    assert_eq!(web.sticky.as_deref(), Some("true"), "sticky");
    assert_eq!(
        web.targets,
        group_ids(p, "web").await,
        "targets = the web group"
    );
    assert_eq!(a.tgs["demo"].targets, group_ids(p, "demo").await);
    // The DNS name reaches the outputs.
    assert_eq!(out.outputs["url"], format!("https://{}/", a.dns));
    // The instances accept 8080 only from the load balancer's group.
    let ec2 = super::moto_fixture::ec2(REGION).await;
    let sgs = ec2
        .describe_security_groups()
        .filters(super::moto_fixture::project_filter(p))
        .send()
        .await
        .unwrap();
    let lb_sg = sgs
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some(&format!("{p}-dev-lb")))
        .unwrap();
    let app_sg = sgs
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some(&format!("{p}-dev-app")))
        .unwrap();
    assert_eq!(a.sgs, vec![lb_sg.group_id().unwrap().to_string()]);
    let perms = app_sg.ip_permissions();
    assert_eq!(perms.len(), 1);
    assert!(perms[0].ip_ranges().is_empty());
    assert_eq!(
        perms[0].user_id_group_pairs()[0].group_id(),
        lb_sg.group_id()
    );

    // Re-apply: nothing to do.
    let again = s.plan(None).await;
    assert!(again.is_empty(), "{:#?}", again.changes);

    // Changes converge: health check path, the rule's host, one more web instance, and
    // a new port for the demo target group (a new group; the rule moves to it).
    k.web = 3;
    k.health = "/healthz";
    k.demo_host = "preview.example.com";
    k.demo_port = 9090;
    s.write(&spec_text(&k, &cert));
    let (out, msgs) = s.apply(None).await;
    assert!(out.applied, "{msgs:#?}");
    let b = seen(p).await.unwrap();
    assert_eq!(b.arn, a.arn, "the same load balancer");
    let web = &b.tgs["web"];
    assert_eq!(web.health_path.as_deref(), Some("/healthz"));
    let ids = group_ids(p, "web").await;
    assert_eq!(ids.len(), 3);
    assert_eq!(web.targets, ids, "the new instance is registered");
    assert!(!b.rules.contains_key("demo.example.com"));
    let demo = &b.tgs["demo"];
    assert_eq!(demo.port, 9090);
    assert_ne!(&demo.aws_name, demo_tg, "a new target group");
    assert_eq!(b.tgs.len(), 2, "the old demo group is gone: {:?}", b.tgs);
    assert_eq!(
        b.rules["preview.example.com"].2.as_ref(),
        Some(&demo.aws_name)
    );
    assert_eq!(demo.targets, group_ids(p, "demo").await);
    assert!(s.plan(None).await.is_empty());

    // Look-alikes: a load balancer named like ours without tags, and a target group of
    // the same project but another environment. Destroy must leave both.
    let c = elb().await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.61.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let sub = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.61.0.0/24")
        .send()
        .await
        .unwrap();
    let sub_id = sub.subnet().unwrap().subnet_id().unwrap().to_string();
    let other_lb = c
        .create_load_balancer()
        .name(format!("{p}-lb2"))
        .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network)
        .subnets(&sub_id)
        .send()
        .await
        .unwrap();
    let other_lb_arn = other_lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let other_tg = c
        .create_target_group()
        .name(format!("{p}-tg"))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc_id)
        .target_type(TargetTypeEnum::Instance)
        .tags(Tag::builder().key("rdeploy:project").value(p).build())
        .tags(Tag::builder().key("rdeploy:env").value("other").build())
        .send()
        .await
        .unwrap();
    let other_tg_arn = other_tg.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();

    let d = s.destroy(None).await;
    assert!(d.applied);
    assert!(seen(p).await.is_none(), "our load balancer is gone");
    let left: Vec<String> = c
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
        .iter()
        .filter(|g| g.target_group_name().unwrap().starts_with(p.as_str()))
        .map(|g| g.target_group_arn().unwrap().to_string())
        .collect();
    assert_eq!(
        left,
        vec![other_tg_arn.clone()],
        "only the other env's group is left"
    );
    let lbs = c
        .describe_load_balancers()
        .load_balancer_arns(&other_lb_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        lbs.load_balancers().len(),
        1,
        "the untagged look-alike stays"
    );
    assert!(group_ids(p, "web").await.is_empty());

    // Clean up the look-alikes.
    c.delete_load_balancer()
        .load_balancer_arn(&other_lb_arn)
        .send()
        .await
        .unwrap();
    c.delete_target_group()
        .target_group_arn(&other_tg_arn)
        .send()
        .await
        .unwrap();
    ec2.delete_subnet().subnet_id(&sub_id).send().await.unwrap();
    ec2.delete_vpc().vpc_id(&vpc_id).send().await.unwrap();
}

/// A network load balancer, internal, TCP, on the default VPC's subnets (one per zone);
/// `--output json --plan` gives the plan as its own event object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_load_balancer_and_json_plan() {
    let text = r#"
project: PROJECT
env: dev
region: REGION
instances:
  edge:
    count: 2
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
load_balancers:
  data:
    type: network
    scheme: internal
    subnets: public
    target_groups:
      edge: {instances: edge, port: 9000, protocol: TCP, health_check: {protocol: TCP, interval: 10}}
    listeners:
      - {port: 9000, protocol: TCP, default: {forward: edge}}
outputs:
  data: "{{ load_balancers.data.dns_name }}"
"#;
    let s = Stack::from_text(text, "nlb", REGION);
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["provision", "--plan", "--output", "json", "infra.yml"],
        &moto_env(),
    );
    run.assert_code(0);
    let plan: serde_json::Value = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "plan")
        .unwrap_or_else(|| panic!("no plan event in:\n{}", run.stdout));
    assert!(plan["plan"]["changes"].is_array(), "{plan}");
    assert!(plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["resource"] == "load-balancer" && c["action"] == "create"));

    let (out, msgs) = s.apply(None).await;
    assert!(out.applied, "{msgs:#?}");
    let c = elb().await;
    let lbs = c.describe_load_balancers().send().await.unwrap();
    let lb = lbs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(&format!("{}-dev-data", s.project)))
        .expect("the NLB");
    assert_eq!(lb.r#type().unwrap().as_str(), "network");
    assert_eq!(lb.scheme().unwrap().as_str(), "internal");
    assert_eq!(out.outputs["data"], lb.dns_name().unwrap());
    let zones: BTreeSet<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name())
        .collect();
    assert_eq!(
        zones.len(),
        lb.availability_zones().len(),
        "one subnet per zone"
    );
    let tgs = c
        .describe_target_groups()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tgs.target_groups().len(), 1);
    let tg = &tgs.target_groups()[0];
    let health = c
        .describe_target_health()
        .target_group_arn(tg.target_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.target_health_descriptions().len(),
        2,
        "both edge nodes"
    );
    assert_eq!(tg.protocol().unwrap().as_str(), "TCP");
    assert_eq!(tg.health_check_interval_seconds(), Some(10));
    assert!(s.plan(None).await.is_empty());

    // `env show` lists the load balancer and its target group with the others
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["env", "show", "dev", "infra.yml", "--output", "json"],
        &moto_env(),
    );
    run.assert_code(0);
    let shown = run.stdout.clone();
    assert!(
        shown.contains("\"load-balancer\"") && shown.contains(lb.dns_name().unwrap()),
        "{shown}"
    );
    assert!(shown.contains("\"target-group\""), "{shown}");

    // The scheme cannot change in place: a replacement, which needs approval.
    let old_arn = lb.load_balancer_arn().unwrap().to_string();
    s.write(&text.replace("scheme: internal", "scheme: internet-facing"));
    let plan = Box::pin(s.plan(None)).await;
    let c_lb = plan
        .changes
        .iter()
        .find(|c| c.resource == "load-balancer")
        .expect("a load balancer change");
    assert_eq!(c_lb.action, rdeploy::provision::plan::Action::Replace);
    assert!(c_lb.needs_approval);
    let mut o = s.opts(None);
    o.auto_approve = false;
    let (r, _) = super::moto_fixture::provision_collect(&o).await;
    assert_eq!(r.unwrap().code, 1, "refused without approval (no terminal)");
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let lbs = c.describe_load_balancers().send().await.unwrap();
    let lb = lbs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(&format!("{}-dev-data", s.project)))
        .expect("the new NLB");
    assert_ne!(lb.load_balancer_arn().unwrap(), old_arn);
    assert_eq!(lb.scheme().unwrap().as_str(), "internet-facing");
    let ls = c
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ls.listeners().len(), 1, "its listener made again");
    assert!(Box::pin(s.plan(None)).await.is_empty());
    s.destroy(None).await;
    let lbs = c.describe_load_balancers().send().await.unwrap();
    assert!(!lbs.load_balancers().iter().any(|l| l
        .load_balancer_name()
        .unwrap()
        .starts_with(s.project.as_str())));
}

/// Bad load balancer specs: file:line:col, exit 1, before any API call (the endpoint
/// given refuses connections, which would be a different error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_spec_errors_come_before_any_call() {
    let base = "project: shop\nenv: dev\nregion: us-east-1\nnetwork: {cidr: 10.1.0.0/16, azs: 2}\ninstances:\n  web: {type: t3.micro, ami: ami-1}\n";
    let cases = [
        (
            "load_balancers:\n  front:\n    listeners: [{port: 80, default: {forwrd: web}}]\n",
            "infra.yml:9:38: unknown key `forwrd` in an action (did you mean `forward`?)",
        ),
        (
            "load_balancers:\n  front:\n    target_groups: {web: {instances: api, port: 80}}\n    listeners: [{port: 80, default: {forward: web}}]\n",
            "infra.yml:9:38: load balancer `front`: target group `web`: instance group `api` is not defined (defined: web)",
        ),
        (
            "load_balancers:\n  front:\n    type: network\n    listeners: [{port: 80, protocol: HTTP, default: {forward: x}}]\n",
            "infra.yml:10:38: `HTTP` is not a listener protocol here (use TCP, UDP, TLS, TCP_UDP)",
        ),
        (
            "dns:\n  example.com:\n    records:\n      data: {load_balancer: data}\n",
            "infra.yml:10:14: dns record `data.example.com`: load balancer `data` is not defined (defined: none)",
        ),
    ];
    for (tail, want) in cases {
        let dir = super::harness::tempdir();
        std::fs::write(dir.path().join("infra.yml"), format!("{base}{tail}")).unwrap();
        for cmd in ["provision", "destroy"] {
            let run = super::harness::rdeploy_env(
                dir.path(),
                &[cmd, "--plan", "infra.yml"],
                &[
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
                    ("AWS_ACCESS_KEY_ID", "x"),
                    ("AWS_SECRET_ACCESS_KEY", "y"),
                    ("AWS_REGION", "us-east-1"),
                ],
            );
            assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
            assert!(run.stderr.contains(want), "want {want}\n{}", run.stderr);
            assert!(!run.stderr.contains("127.0.0.1:9"), "{}", run.stderr);
        }
    }
}

/// examples/alb-tls as its README runs it on moto (a certificate from moto's ACM in place
/// of the placeholder ARN): applied, converged, destroyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_tls_example_applies_and_destroys() {
    let root = super::harness::repo_root();
    let text = std::fs::read_to_string(root.join("examples/alb-tls/infra.yml")).unwrap();
    let placeholder =
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000";
    assert!(text.contains(placeholder));
    let cert = acm_certificate("demo.example.com");
    let text = text
        .replace(placeholder, &cert)
        .replace("project: tlsdemo", "project: PROJECT");
    let s = Stack::from_text(&text, "tls", REGION);
    let (out, msgs) = s.apply(None).await;
    assert!(out.applied, "{msgs:#?}");
    let c = elb().await;
    let lbs = c.describe_load_balancers().send().await.unwrap();
    let lb = lbs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(&format!("{}-prod-web", s.project)))
        .expect("the ALB");
    assert_eq!(out.outputs["lb_dns_name"], lb.dns_name().unwrap());
    let ls = c
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let https = ls
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .unwrap();
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(cert.as_str())
    );
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    assert!(s.plan(None).await.is_empty());
    s.destroy(None).await;
    assert!(super::moto_fixture::live_instances(REGION, &s.project)
        .await
        .is_empty());
}
