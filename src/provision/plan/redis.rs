//! Planning ElastiCache Redis and its cache subnet group.

use super::*;

impl Planner<'_> {
    pub(super) fn redis(
        &mut self,
        region: &str,
        rs: &RegionState,
        cache_groups: &mut Vec<Change>,
        out: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) -> Result<()> {
        let spec = self.spec;
        let here: Vec<&crate::provision::spec::RedisSpec> =
            spec.redis.values().filter(|r| r.region == region).collect();
        let csg_name = cache_subnet_group_name(spec);
        let needs_csg = here.iter().any(|r| r.subnet_group.is_none());
        if needs_csg {
            let wanted = cache_subnets(spec, self.lookups.regions.get(region));
            let current = rs.cache_subnet_groups.iter().find(|g| g.name == csg_name);
            match current {
                None => cache_groups.push(change(
                    Action::Create,
                    "cache-subnet-group",
                    csg_name.clone(),
                    region,
                    None,
                    vec![format!("subnets: {}", subnet_refs_display(&wanted))],
                    Op::CreateCacheSubnetGroup {
                        name: csg_name.clone(),
                        subnets: wanted,
                        update: false,
                    },
                )),
                Some(g) => {
                    let ids = subnet_ids_by_name(rs);
                    let resolved: Option<BTreeSet<String>> = wanted
                        .iter()
                        .map(|r| match r {
                            SubnetRef::Id(i) => Some(i.clone()),
                            SubnetRef::Name(n) => ids.get(n).cloned(),
                        })
                        .collect();
                    let have: BTreeSet<String> = g.subnet_ids.iter().cloned().collect();
                    if resolved.as_ref() != Some(&have) {
                        cache_groups.push(change(
                            Action::Update,
                            "cache-subnet-group",
                            csg_name.clone(),
                            region,
                            None,
                            vec![format!("subnets -> {}", subnet_refs_display(&wanted))],
                            Op::CreateCacheSubnetGroup {
                                name: csg_name.clone(),
                                subnets: wanted,
                                update: true,
                            },
                        ));
                    }
                }
            }
        }
        for r in &here {
            let live = rs
                .redis
                .iter()
                .find(|x| x.aws_id == r.aws_id && !x.deleting());
            let want_cfg = redis_config(spec, r);
            match live {
                None => {
                    let mut details = vec![format!(
                        "{} {} redis {}, {} replica(s), port {}",
                        r.kind.as_str(),
                        r.node_type,
                        r.engine_version.as_deref().unwrap_or("(default version)"),
                        r.replicas,
                        r.port
                    )];
                    if rs
                        .redis
                        .iter()
                        .any(|x| x.aws_id == r.aws_id && x.deleting())
                    {
                        details.push("waits for the previous one to finish deleting".into());
                    }
                    out.push(change(
                        Action::Create,
                        "redis",
                        r.aws_id.clone(),
                        region,
                        None,
                        details,
                        Op::CreateRedis {
                            name: r.name.clone(),
                        },
                    ));
                }
                Some(cur) => {
                    let mut why = vec![];
                    if cur.kind != r.kind {
                        why.push(format!("kind {} -> {}", cur.kind.as_str(), r.kind.as_str()));
                    }
                    if cur.node_type != r.node_type {
                        why.push(format!("node type {} -> {}", cur.node_type, r.node_type));
                    }
                    if cur.port.is_some_and(|p| p != r.port as i32) {
                        why.push(format!(
                            "port {} -> {}",
                            cur.port.unwrap_or_default(),
                            r.port
                        ));
                    }
                    if cur.config.get("subnet_group") != want_cfg.get("subnet_group") {
                        why.push(format!(
                            "subnet group {} -> {}",
                            cur.config
                                .get("subnet_group")
                                .map(String::as_str)
                                .unwrap_or("?"),
                            want_cfg["subnet_group"]
                        ));
                    }
                    if !why.is_empty() {
                        why.push("the data in it is lost".into());
                        out.push(change(
                            Action::Replace,
                            "redis",
                            r.aws_id.clone(),
                            region,
                            Some(cur.aws_id.clone()),
                            why,
                            Op::ReplaceRedis {
                                name: r.name.clone(),
                            },
                        ));
                        continue;
                    }
                    let mut details = vec![];
                    let engine = (cur.config.get("engine") != want_cfg.get("engine")
                        && r.engine_version.is_some())
                    .then(|| {
                        details.push(format!(
                            "engine version {} -> {}",
                            cur.config.get("engine").map(String::as_str).unwrap_or("?"),
                            want_cfg["engine"]
                        ));
                        r.engine_version.clone().unwrap_or_default()
                    });
                    let sgs = cur.config.get("sg") != want_cfg.get("sg");
                    if sgs {
                        details.push(format!(
                            "security groups {} -> {}",
                            cur.config.get("sg").map(String::as_str).unwrap_or("?"),
                            want_cfg["sg"]
                        ));
                    }
                    let have_replicas: u32 = cur
                        .config
                        .get("replicas")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let replicas = (have_replicas != r.replicas).then(|| {
                        details.push(format!("replicas {have_replicas} -> {}", r.replicas));
                        (have_replicas, r.replicas)
                    });
                    if !details.is_empty() {
                        out.push(change(
                            Action::Update,
                            "redis",
                            r.aws_id.clone(),
                            region,
                            Some(cur.aws_id.clone()),
                            details,
                            Op::UpdateRedis {
                                name: r.name.clone(),
                                engine_version: engine,
                                security_groups: sgs,
                                replicas,
                            },
                        ));
                    }
                }
            }
        }
        for cur in rs.redis.iter().filter(|x| !x.deleting()) {
            if !here.iter().any(|r| r.aws_id == cur.aws_id) {
                destroy.push(change(
                    Action::Destroy,
                    "redis",
                    cur.aws_id.clone(),
                    region,
                    Some(cur.aws_id.clone()),
                    vec!["the data in it is lost".into()],
                    Op::DeleteRedis {
                        aws_id: cur.aws_id.clone(),
                        kind: cur.kind,
                    },
                ));
            }
        }
        if !needs_csg {
            for g in &rs.cache_subnet_groups {
                let mut c = change(
                    Action::Destroy,
                    "cache-subnet-group",
                    g.name.clone(),
                    region,
                    None,
                    vec![],
                    Op::DeleteCacheSubnetGroup {
                        name: g.name.clone(),
                    },
                );
                c.needs_approval = false;
                destroy.push(c);
            }
        }
        Ok(())
    }
}
