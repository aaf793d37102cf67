//! The plan of `rdeploy destroy`: everything discovered for the project and environment,
//! in reverse dependency order (DNS records, peerings, load balancers, addresses,
//! instances, Redis, databases, groups, key, route table, gateway, subnets, VPC).

use super::{
    change, destroy_igw, destroy_route_table, destroy_subnet, destroy_vpc, ids_of, release, Action,
    Op, Plan,
};
use crate::provision::spec::Spec;
use crate::provision::state::{Instance, State};
use indexmap::IndexMap;

/// The plan of `destroy`: everything found, in reverse dependency order.
pub fn destroy_plan(spec: &Spec, state: &State) -> Plan {
    let prefix = spec.prefix();
    let mut eips = vec![];
    let mut insts = vec![];
    let mut redis = vec![];
    let mut csgs = vec![];
    let mut sgs = vec![];
    let mut keys = vec![];
    let mut rts = vec![];
    let mut igws = vec![];
    let mut subnets = vec![];
    let mut vpcs = vec![];
    let mut lbs = vec![];
    let mut dbs = vec![];
    for rs in state.regions.values() {
        let region = rs.region.as_str();
        lbs.extend(crate::provision::lb::plan::destroy(rs));
        dbs.extend(crate::provision::db::plan::destroy(spec, rs));
        for e in &rs.eips {
            eips.push(release(e, region, true));
        }
        let mut by_group: IndexMap<&str, Vec<&Instance>> = IndexMap::new();
        for i in &rs.instances {
            by_group.entry(i.group.as_str()).or_default().push(i);
        }
        for (g, list) in by_group {
            insts.push(change(
                Action::Destroy,
                "instance",
                format!("{g} x{}", list.len()),
                region,
                None,
                vec![ids_of(&list)],
                Op::Terminate {
                    ids: list.iter().map(|i| i.id.clone()).collect(),
                },
            ));
        }
        for r in rs.redis.iter().filter(|r| !r.deleting()) {
            redis.push(change(
                Action::Destroy,
                "redis",
                r.aws_id.clone(),
                region,
                Some(r.aws_id.clone()),
                vec![format!("{} (the data in it is lost)", r.kind.as_str())],
                Op::DeleteRedis {
                    aws_id: r.aws_id.clone(),
                    kind: r.kind,
                },
            ));
        }
        for g in &rs.cache_subnet_groups {
            csgs.push(change(
                Action::Destroy,
                "cache-subnet-group",
                g.name.clone(),
                region,
                None,
                vec![],
                Op::DeleteCacheSubnetGroup {
                    name: g.name.clone(),
                },
            ));
        }
        for s in &rs.security_groups {
            sgs.push(change(
                Action::Destroy,
                "security-group",
                s.group_name.clone(),
                region,
                Some(s.id.clone()),
                vec![],
                Op::DeleteSg { id: s.id.clone() },
            ));
        }
        for k in &rs.key_pairs {
            keys.push(change(
                Action::Destroy,
                "key-pair",
                k.name.clone(),
                region,
                None,
                vec![],
                Op::DeleteKeyPair {
                    name: k.name.clone(),
                },
            ));
        }
        rts.extend(
            rs.route_tables
                .iter()
                .map(|rt| destroy_route_table(rt, &prefix, region)),
        );
        igws.extend(rs.igws.iter().map(|g| destroy_igw(g, &prefix, region)));
        subnets.extend(
            rs.subnets
                .iter()
                .map(|s| destroy_subnet(s, &prefix, region)),
        );
        vpcs.extend(rs.vpcs.iter().map(|v| destroy_vpc(v, &prefix, region)));
    }
    let mut changes = vec![];
    let records = crate::provision::dns::plan::destroy(state);
    let peerings = crate::provision::peering::plan::destroy(state);
    for l in [
        records, peerings, lbs, eips, insts, redis, csgs, dbs, sgs, keys, rts, igws, subnets, vpcs,
    ] {
        changes.extend(l);
    }
    Plan::new(&spec.project, &spec.env, &spec.regions, changes)
}
