//! Unit tests of the planner.

use super::*;
use crate::provision::lookup::RegionLookups;
use crate::provision::state::{Instance, SecurityGroup};

fn spec(count: u32, itype: &str) -> Spec {
    let text = format!(
        "project: shop\nenv: dev\nregion: us-east-1\nsecurity_groups:\n  app: {{ingress: [{{port: 22, cidr: 10.0.0.0/8}}]}}\ninstances:\n  app: {{count: {count}, type: {itype}, ami: ami-1, security_groups: [app]}}\n"
    );
    let doc = crate::yaml::load_str(&text, std::path::Path::new("infra.yml")).unwrap();
    crate::provision::spec::parse(&doc, std::path::Path::new("infra.yml"), None).unwrap()
}

fn lookups() -> Lookups {
    let mut rl = RegionLookups {
        azs: vec!["us-east-1a".into(), "us-east-1b".into()],
        vpc_id: Some("vpc-1".into()),
        subnets: vec![
            ("subnet-a".into(), "us-east-1a".into()),
            ("subnet-b".into(), "us-east-1b".into()),
        ],
        ..Default::default()
    };
    rl.amis.insert(
        "app".into(),
        Ami {
            id: "ami-1".into(),
            name: "img".into(),
            root_device: None,
        },
    );
    Lookups {
        regions: [("us-east-1".to_string(), rl)].into_iter().collect(),
    }
}

fn instance(s: &Spec, id: &str, index: u32, launched: i64, itype: &str) -> Instance {
    let g = &s.instances["app"];
    Instance {
        id: id.into(),
        group: "app".into(),
        index,
        state: "running".into(),
        instance_type: itype.into(),
        image_id: "ami-1".into(),
        key_name: None,
        subnet_id: Some(
            if index % 2 == 1 {
                "subnet-a"
            } else {
                "subnet-b"
            }
            .into(),
        ),
        az: None,
        sg_ids: vec!["sg-app".into()],
        tags: instance_tags(s, g, index, "us-east-1").unwrap(),
        launch_time: (launched, 0),
        private_ip: None,
        public_ip: None,
        public_dns: None,
        private_dns: None,
    }
}

fn state(s: &Spec, instances: Vec<Instance>) -> State {
    let rs = RegionState {
        region: "us-east-1".into(),
        security_groups: vec![SecurityGroup {
            id: "sg-app".into(),
            name: "app".into(),
            group_name: "shop-dev-app".into(),
            vpc_id: "vpc-1".into(),
            ingress: vec![Perm {
                protocol: "tcp".into(),
                from_port: 22,
                to_port: 22,
                source: PermSource::Cidr("10.0.0.0/8".into()),
            }],
        }],
        instances,
        ..Default::default()
    };
    let _ = s;
    State {
        regions: [("us-east-1".to_string(), rs)].into_iter().collect(),
        ..Default::default()
    }
}

#[test]
fn matching_state_plans_nothing() {
    let s = spec(2, "t3.micro");
    let st = state(
        &s,
        vec![
            instance(&s, "i-1", 1, 100, "t3.micro"),
            instance(&s, "i-2", 2, 100, "t3.micro"),
        ],
    );
    let p = plan(&s, &st, &lookups()).unwrap();
    assert!(p.is_empty(), "{:#?}", p.changes);
}

#[test]
fn scale_in_terminates_the_oldest_without_approval() {
    let s = spec(1, "t3.micro");
    let st = state(
        &s,
        vec![
            instance(&s, "i-new", 1, 300, "t3.micro"),
            instance(&s, "i-old", 2, 100, "t3.micro"),
            instance(&s, "i-mid", 3, 200, "t3.micro"),
        ],
    );
    let p = plan(&s, &st, &lookups()).unwrap();
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Destroy);
    assert!(!c.needs_approval);
    match &c.op {
        Op::Terminate { ids } => {
            assert_eq!(ids, &vec!["i-old".to_string(), "i-mid".to_string()])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn scale_out_fills_free_indexes_and_spreads_subnets() {
    let s = spec(3, "t3.micro");
    let st = state(&s, vec![instance(&s, "i-2", 2, 100, "t3.micro")]);
    let p = plan(&s, &st, &lookups()).unwrap();
    let launches: Vec<(u32, SubnetRef)> = p
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::Launch(l) => Some((l.index, l.subnet.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        launches,
        vec![
            (1, SubnetRef::Id("subnet-a".into())),
            (3, SubnetRef::Id("subnet-a".into()))
        ]
    );
}

#[test]
fn type_change_is_a_replacement_needing_approval() {
    let s = spec(1, "t3.large");
    let st = state(&s, vec![instance(&s, "i-1", 1, 100, "t3.micro")]);
    let p = plan(&s, &st, &lookups()).unwrap();
    assert_eq!(
        p.summary,
        Summary {
            create: 0,
            update: 0,
            replace: 1,
            destroy: 0
        }
    );
    assert!(p.changes[0].needs_approval);
    assert!(p.changes[0]
        .details
        .contains(&"type t3.micro -> t3.large".to_string()));
}

#[test]
fn destroy_plan_orders_dependencies() {
    let s = spec(1, "t3.micro");
    let mut st = state(&s, vec![instance(&s, "i-1", 1, 100, "t3.micro")]);
    let rs = st.regions.get_mut("us-east-1").unwrap();
    rs.vpcs.push(crate::provision::state::Vpc {
        id: "vpc-1".into(),
        cidr: "10.0.0.0/16".into(),
    });
    let p = destroy_plan(&s, &st);
    let order: Vec<&str> = p.changes.iter().map(|c| c.resource).collect();
    assert_eq!(order, vec!["instance", "security-group", "vpc"]);
    assert!(p.changes.iter().all(|c| c.needs_approval));
}
