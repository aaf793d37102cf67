//! The plan: the spec compared with what discovery found, as a list of changes per
//! resource (create, update, replace, destroy), ordered so that applying them in sequence
//! respects dependencies (network, key pair, security groups, their rules, instances,
//! Redis; then destroys in reverse dependency order).
//!
//! Planning makes no API call: it is a pure function of the spec, the [`State`] and the
//! [`Lookups`], which is what makes `--plan` safe and unit-testable.
//!
//! This file has the plan's types and `plan()`; each resource kind is planned in its own
//! file (`network.rs`: VPC, subnets, key pair, security groups; `instances.rs`;
//! `redis.rs`; `destroy.rs`: the plan of `destroy`; load balancers, DNS, databases and
//! peering in their own modules of `provision/`).

mod destroy;
mod instances;
mod network;
mod redis;
#[cfg(test)]
mod tests;
pub use destroy::destroy_plan;

use super::aws::{short_hash, tag};
use super::lookup::{Ami, Lookups};
use super::spec::{InstanceGroupSpec, Network, RedisKind, RuleSpec, Source, Spec, SubnetSel};
use super::state::{Igw, Instance, Perm, PermSource, RegionState, RouteTable, State, Subnet, Vpc};
use crate::error::{Error, Result};
use crate::template::Templar;
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Destroy,
}

impl Action {
    pub fn symbol(&self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Destroy => "-",
        }
    }
}

/// One change to one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: Action,
    /// vpc, subnet, internet-gateway, route-table, key-pair, security-group, instance,
    /// elastic-ip, cache-subnet-group, redis.
    pub resource: &'static str,
    pub name: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub details: Vec<String>,
    /// Replacements and destroys (other than scaling in) wait for confirmation.
    pub needs_approval: bool,
    #[serde(skip)]
    pub op: Op,
}

/// What the apply does for a change. Names are resolved to ids at apply time, because
/// earlier changes of the same plan create some of them.
#[derive(Debug, Clone)]
pub enum Op {
    CreateVpc {
        cidr: String,
    },
    CreateSubnet {
        name: String,
        cidr: String,
        az: String,
        public: bool,
    },
    SetSubnetPublic {
        subnet_id: String,
        public: bool,
    },
    CreateIgw,
    AttachIgw {
        igw_id: String,
    },
    CreateRouteTable {
        public_subnets: Vec<String>,
    },
    FixRouteTable {
        rt_id: String,
        add_default_route: bool,
        associate: Vec<String>,
    },
    ImportKeyPair {
        name: String,
        public_key: String,
        replace: bool,
    },
    /// Creates the group; its rules are added once every new group of the plan exists.
    CreateSg {
        name: String,
        description: String,
        rules: Vec<RuleSpec>,
    },
    SgRules {
        name: String,
        add: Vec<RuleSpec>,
        remove: Vec<Perm>,
    },
    Launch(Box<Launch>),
    Replace {
        launch: Box<Launch>,
        old_id: String,
    },
    UpdateInstance {
        id: String,
        security_groups: Option<Vec<String>>,
        set_tags: IndexMap<String, String>,
        remove_tags: Vec<String>,
        start: bool,
    },
    /// Associates `allocation_id` (a free address of the group) or a newly allocated one.
    EnsureEip {
        group: String,
        index: u32,
        allocation_id: Option<String>,
    },
    ReleaseEip {
        allocation_id: String,
        association_id: Option<String>,
    },
    Terminate {
        ids: Vec<String>,
    },
    CreateCacheSubnetGroup {
        name: String,
        subnets: Vec<SubnetRef>,
        update: bool,
    },
    CreateRedis {
        name: String,
    },
    UpdateRedis {
        name: String,
        engine_version: Option<String>,
        security_groups: bool,
        replicas: Option<(u32, u32)>,
    },
    ReplaceRedis {
        name: String,
    },
    DeleteRedis {
        aws_id: String,
        kind: RedisKind,
    },
    DeleteCacheSubnetGroup {
        name: String,
    },
    DeleteSg {
        id: String,
    },
    DeleteKeyPair {
        name: String,
    },
    DeleteRouteTable {
        id: String,
        associations: Vec<String>,
    },
    DeleteIgw {
        id: String,
        vpcs: Vec<String>,
    },
    DeleteSubnet {
        id: String,
    },
    DeleteVpc {
        id: String,
    },
    /// Load balancers, target groups, listeners, rules, targets (`lb/`).
    Lb(super::lb::LbOp),
    /// Records in Route 53 hosted zones (`dns/`).
    Dns(super::dns::DnsOp),
    /// RDS databases and their subnet group (`db/`).
    Db(super::db::DbOp),
    /// VPC peering connections and their routes (`peering/`).
    Peering(super::peering::PeeringOp),
}

/// A subnet by the spec's name (`public-a`, maybe not created yet) or by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubnetRef {
    Name(String),
    Id(String),
}

/// Everything needed to launch one instance.
#[derive(Debug, Clone)]
pub struct Launch {
    pub group: String,
    pub index: u32,
    pub ami: Ami,
    pub instance_type: String,
    pub key_name: Option<String>,
    pub subnet: SubnetRef,
    pub security_groups: Vec<String>,
    pub root_volume_gb: Option<u32>,
    pub user_data: Option<String>,
    pub tags: IndexMap<String, String>,
    pub elastic_ip: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub destroy: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub project: String,
    pub env: String,
    pub regions: Vec<String>,
    pub changes: Vec<Change>,
    pub summary: Summary,
}

impl Plan {
    pub fn new(project: &str, env: &str, regions: &[String], changes: Vec<Change>) -> Plan {
        let mut summary = Summary::default();
        for c in &changes {
            match c.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Destroy => summary.destroy += 1,
            }
        }
        Plan {
            project: project.into(),
            env: env.into(),
            regions: regions.to_vec(),
            changes,
            summary,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    pub fn needs_approval(&self) -> usize {
        self.changes.iter().filter(|c| c.needs_approval).count()
    }
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The tags every resource of the spec gets (besides per-kind ones).
pub fn base_tags(spec: &Spec, kind: &str, name: &str, aws_name: &str) -> IndexMap<String, String> {
    let mut t = IndexMap::new();
    t.insert("Name".to_string(), aws_name.to_string());
    for (k, v) in &spec.tags {
        t.insert(k.clone(), v.clone());
    }
    t.insert(tag::PROJECT.into(), spec.project.clone());
    t.insert(tag::ENV.into(), spec.env.clone());
    t.insert(tag::KIND.into(), kind.into());
    t.insert(tag::NAME.into(), name.into());
    t
}

/// The instance tags for one member of a group (system tags, defaults, group tags).
pub fn instance_tags(
    spec: &Spec,
    g: &InstanceGroupSpec,
    index: u32,
    region: &str,
) -> Result<IndexMap<String, String>> {
    let host = format!("{}-{}", g.name, index);
    let mut t = base_tags(spec, "instance", &g.name, &g.name);
    let ctx = minijinja::context! {
        project => spec.project.clone(), env => spec.env.clone(), group => g.name.clone(),
        index => index, host => host.clone(), region => region.to_string(),
    };
    let templar = Templar::new();
    let mut extra: Vec<String> = spec.tags.keys().cloned().collect();
    for (k, v) in &g.tags {
        let val = templar.render_string(&v.value, &ctx).map_err(|e| {
            Error::source_at(
                &v.span,
                format!("tag `{k}` of instance group `{}`: {}", g.name, e.message),
            )
        })?;
        t.insert(k.clone(), val);
        if !extra.contains(k) {
            extra.push(k.clone());
        }
    }
    t.insert(tag::INDEX.into(), index.to_string());
    t.insert(tag::HOST.into(), host);
    t.insert(tag::LAUNCH.into(), launch_hash(g));
    t.insert(tag::TAGS.into(), extra.join(" "));
    Ok(t)
}

/// Hash of the launch settings AWS does not report back.
pub fn launch_hash(g: &InstanceGroupSpec) -> String {
    short_hash(&format!(
        "user_data={:?} root_volume={:?}",
        g.user_data, g.root_volume_gb
    ))
}

/// The settings recorded on a Redis resource (tag `rdeploy:config`).
pub fn redis_config(spec: &Spec, r: &super::spec::RedisSpec) -> IndexMap<String, String> {
    let mut c = IndexMap::new();
    c.insert(
        "engine".into(),
        r.engine_version.clone().unwrap_or_else(|| "default".into()),
    );
    c.insert("replicas".into(), r.replicas.to_string());
    let sgs: Vec<&str> = r.security_groups.iter().map(|s| s.value.as_str()).collect();
    c.insert(
        "sg".into(),
        if sgs.is_empty() {
            "-".into()
        } else {
            sgs.join("+")
        },
    );
    c.insert(
        "subnet_group".into(),
        r.subnet_group
            .clone()
            .unwrap_or_else(|| cache_subnet_group_name(spec)),
    );
    c
}

pub fn config_tag(c: &IndexMap<String, String>) -> String {
    c.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn cache_subnet_group_name(spec: &Spec) -> String {
    super::spec::slug(&spec.prefix())
}

/// The subnets a group may launch into, in a region.
pub fn group_subnets(
    spec: &Spec,
    g: &InstanceGroupSpec,
    lk: &super::lookup::RegionLookups,
) -> Vec<(SubnetRef, String)> {
    match &spec.network {
        Network::Create { .. } => {
            let planned = spec.network.planned_subnets();
            let names: Vec<String> = match &g.subnets {
                Some(SubnetSel::Named(n)) => n.clone(),
                Some(SubnetSel::Private) => planned
                    .iter()
                    .filter(|s| !s.public)
                    .map(|s| s.name.clone())
                    .collect(),
                Some(SubnetSel::Public) => planned
                    .iter()
                    .filter(|s| s.public)
                    .map(|s| s.name.clone())
                    .collect(),
                None => {
                    let public: Vec<String> = planned
                        .iter()
                        .filter(|s| s.public)
                        .map(|s| s.name.clone())
                        .collect();
                    if public.is_empty() {
                        planned.iter().map(|s| s.name.clone()).collect()
                    } else {
                        public
                    }
                }
            };
            names
                .into_iter()
                .map(|n| {
                    if n.starts_with("subnet-") {
                        (SubnetRef::Id(n), String::new())
                    } else {
                        let az = planned
                            .iter()
                            .find(|p| p.name == n)
                            .and_then(|p| lk.azs.get(p.az_index))
                            .cloned()
                            .unwrap_or_default();
                        (SubnetRef::Name(n), az)
                    }
                })
                .collect()
        }
        Network::Default | Network::Existing { .. } => {
            let wanted: Option<&Vec<String>> = match &g.subnets {
                Some(SubnetSel::Named(n)) => Some(n),
                _ => None,
            };
            lk.subnets
                .iter()
                .filter(|(id, _)| wanted.is_none_or(|w| w.contains(id)))
                .map(|(id, az)| (SubnetRef::Id(id.clone()), az.clone()))
                .collect()
        }
    }
}

/// Where each spec subnet name is (by id) in the current state.
fn subnet_ids_by_name(rs: &RegionState) -> HashMap<String, String> {
    rs.subnets
        .iter()
        .map(|s| (s.name.clone(), s.id.clone()))
        .collect()
}

struct Planner<'a> {
    spec: &'a Spec,
    lookups: &'a Lookups,
}

/// Computes the plan for `provision`.
pub fn plan(spec: &Spec, state: &State, lookups: &Lookups) -> Result<Plan> {
    let mut p = Planner { spec, lookups };
    let used = spec.used_regions();
    // Phase lists, concatenated at the end in dependency order.
    let mut network = vec![];
    let mut keys = vec![];
    let mut sgs = vec![];
    let mut rules = vec![];
    let mut cache_groups = vec![];
    let mut instances = vec![];
    let mut redis = vec![];
    let mut d_eips = vec![];
    let mut d_instances = vec![];
    let mut d_redis = vec![];
    let mut d_sgs = vec![];
    let mut d_keys = vec![];
    let mut d_network = vec![];

    // Instance indexes are unique per group across regions.
    let mut taken: HashMap<String, BTreeSet<u32>> = HashMap::new();
    for g in spec.instances.values() {
        let entry = taken.entry(g.name.clone()).or_default();
        for rs in state
            .regions
            .values()
            .filter(|rs| g.regions.contains(&rs.region))
        {
            entry.extend(
                rs.instances
                    .iter()
                    .filter(|i| i.group == g.name)
                    .map(|i| i.index),
            );
        }
    }

    for region in &spec.regions {
        let rs = state.region(region);
        let in_use = used.contains(region);
        check_same_vpc(spec, rs, lookups.regions.get(region))?;

        // Network.
        p.network(region, rs, in_use, &mut network, &mut d_network)?;
        // Key pair.
        p.key_pair(region, rs, in_use, &mut keys, &mut d_keys);
        // Security groups and rules.
        p.security_groups(region, rs, in_use, &mut sgs, &mut rules, &mut d_sgs);
        // Instances.
        p.instances(
            region,
            rs,
            &mut taken,
            &mut instances,
            &mut d_eips,
            &mut d_instances,
        )?;
        // Redis.
        p.redis(region, rs, &mut cache_groups, &mut redis, &mut d_redis)?;
    }

    let (dbs, d_dbs) = super::db::plan::plan(spec, state, lookups)?;
    let net: Vec<&Change> = network.iter().collect();
    let (peering, d_peering) = super::peering::plan::plan(spec, state, &net);
    let moving: Vec<&Change> = instances.iter().chain(&d_instances).collect();
    let (lbs, d_lbs) = super::lb::plan::plan(spec, state, lookups, &moving)?;
    let pending: Vec<&Change> = moving.iter().copied().chain(&lbs).collect();
    let (dns, d_dns) = super::dns::plan::plan(spec, state, &pending)?;
    let mut changes = vec![];
    for list in [
        network,
        keys,
        sgs,
        rules,
        peering,
        cache_groups,
        instances,
        redis,
        dbs,
        lbs,
        dns,
        d_dns,
        d_peering,
        d_lbs,
        d_eips,
        d_instances,
        d_redis,
        d_dbs,
        d_sgs,
        d_keys,
        d_network,
    ] {
        changes.extend(list);
    }
    Ok(Plan::new(&spec.project, &spec.env, &spec.regions, changes))
}

/// Refuses plans that would move an existing environment to another VPC.
fn check_same_vpc(
    spec: &Spec,
    rs: &RegionState,
    lk: Option<&super::lookup::RegionLookups>,
) -> Result<()> {
    let target = match &spec.network {
        Network::Create { .. } => rs.vpcs.first().map(|v| v.id.clone()),
        _ => lk.and_then(|l| l.vpc_id.clone()),
    };
    let Some(target) = target else { return Ok(()) };
    if let Some(sg) = rs.security_groups.iter().find(|s| s.vpc_id != target) {
        return Err(Error::cloud(format!(
            "{}: security group {} ({}) is in {}, but the spec's network is {target}: moving an environment to another network is not supported; run `rdeploy destroy` first",
            rs.region, sg.group_name, sg.id, sg.vpc_id
        )));
    }
    Ok(())
}

pub(crate) fn change(
    action: Action,
    resource: &'static str,
    name: impl Into<String>,
    region: &str,
    id: Option<String>,
    details: Vec<String>,
    op: Op,
) -> Change {
    let needs_approval = matches!(action, Action::Replace | Action::Destroy);
    Change {
        action,
        resource,
        name: name.into(),
        region: region.into(),
        id,
        details,
        needs_approval,
        op,
    }
}

/// The subnets of the cache subnet group rdeploy makes: private ones when the network has
/// them, else public ones; the default/existing VPC's subnets otherwise.
pub fn cache_subnets(spec: &Spec, lk: Option<&super::lookup::RegionLookups>) -> Vec<SubnetRef> {
    match &spec.network {
        Network::Create { private, .. } => {
            let planned = spec.network.planned_subnets();
            planned
                .into_iter()
                .filter(|s| s.public != *private)
                .map(|s| SubnetRef::Name(s.name))
                .collect()
        }
        _ => lk
            .map(|l| {
                l.subnets
                    .iter()
                    .map(|(id, _)| SubnetRef::Id(id.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn subnet_refs_display(refs: &[SubnetRef]) -> String {
    refs.iter()
        .map(|r| match r {
            SubnetRef::Name(n) | SubnetRef::Id(n) => n.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn release(e: &super::state::Eip, region: &str, approval: bool) -> Change {
    let mut c = change(
        Action::Destroy,
        "elastic-ip",
        format!("{} {}", e.group, e.public_ip),
        region,
        Some(e.allocation_id.clone()),
        vec![format!("release {} (the address is lost)", e.public_ip)],
        Op::ReleaseEip {
            allocation_id: e.allocation_id.clone(),
            association_id: e.association_id.clone(),
        },
    );
    c.needs_approval = approval;
    c
}

pub(super) fn ids_of(list: &[&Instance]) -> String {
    list.iter()
        .map(|i| i.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn perm_display(p: &Perm, names: &HashMap<&str, &str>) -> String {
    let r = RuleSpec {
        protocol: p.protocol.clone(),
        from_port: p.from_port,
        to_port: p.to_port,
        source: match &p.source {
            PermSource::Cidr(c) => Source::Cidr(c.clone()),
            PermSource::Group(id) => match names.get(id.as_str()) {
                Some(n) => Source::Group(n.to_string()),
                None => Source::GroupId(id.clone()),
            },
        },
    };
    r.to_string()
}

/// The hash recorded on an imported key pair: of the key's type and base64 body.
pub fn pubkey_hash(public_key: &str) -> String {
    let body: Vec<&str> = public_key.split_whitespace().take(2).collect();
    short_hash(&body.join(" "))
}

fn pk_summary(pk: &str) -> String {
    let f: Vec<&str> = pk.split_whitespace().collect();
    match f.as_slice() {
        [t, _, c, ..] => format!("{t} {c}"),
        [t, ..] => t.to_string(),
        [] => String::new(),
    }
}

/// Destroying a discovered route table, gateway, subnet or VPC (the plan of `destroy`
/// and a network no longer wanted in a region both use these).
fn destroy_route_table(rt: &RouteTable, prefix: &str, region: &str) -> Change {
    change(
        Action::Destroy,
        "route-table",
        format!("{prefix}-public"),
        region,
        Some(rt.id.clone()),
        vec![],
        Op::DeleteRouteTable {
            id: rt.id.clone(),
            associations: rt.associations.iter().map(|a| a.0.clone()).collect(),
        },
    )
}

fn destroy_igw(g: &Igw, prefix: &str, region: &str) -> Change {
    change(
        Action::Destroy,
        "internet-gateway",
        prefix.to_string(),
        region,
        Some(g.id.clone()),
        vec![],
        Op::DeleteIgw {
            id: g.id.clone(),
            vpcs: g.attached_vpcs.clone(),
        },
    )
}

fn destroy_subnet(s: &Subnet, prefix: &str, region: &str) -> Change {
    change(
        Action::Destroy,
        "subnet",
        format!("{prefix}-{}", s.name),
        region,
        Some(s.id.clone()),
        vec![s.cidr.clone()],
        Op::DeleteSubnet { id: s.id.clone() },
    )
}

fn destroy_vpc(v: &Vpc, prefix: &str, region: &str) -> Change {
    change(
        Action::Destroy,
        "vpc",
        prefix.to_string(),
        region,
        Some(v.id.clone()),
        vec![v.cidr.clone()],
        Op::DeleteVpc { id: v.id.clone() },
    )
}
