//! The plan: the spec compared with what discovery found, as a list of changes per
//! resource (create, update, replace, destroy), ordered so that applying them in sequence
//! respects dependencies (network, key pair, security groups, their rules, instances,
//! Redis; then destroys in reverse dependency order).
//!
//! Planning makes no API call: it is a pure function of the spec, the [`State`] and the
//! [`Lookups`], which is what makes `--plan` safe and unit-testable.

mod destroy;
pub use destroy::destroy_plan;

use super::aws::{short_hash, tag};
use super::lookup::{Ami, Lookups};
use super::spec::{InstanceGroupSpec, Network, RedisKind, RuleSpec, Source, Spec, SubnetSel};
use super::state::{Instance, Perm, PermSource, RegionState, State};
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
        return Err(Error::Cloud(format!(
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

impl Planner<'_> {
    fn network(
        &mut self,
        region: &str,
        rs: &RegionState,
        in_use: bool,
        out: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) -> Result<()> {
        let spec = self.spec;
        let prefix = spec.prefix();
        let lk = self.lookups.regions.get(region);
        let wanted = match (&spec.network, in_use) {
            (Network::Create { public, .. }, true) => spec
                .network
                .cidr_in(region)
                .map(|c| (c.to_string(), *public)),
            _ => None,
        };
        let Some((cidr, public)) = wanted else {
            // Nothing of the network is wanted here: everything found goes.
            for rt in &rs.route_tables {
                destroy.push(change(
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
                ));
            }
            for g in &rs.igws {
                destroy.push(change(
                    Action::Destroy,
                    "internet-gateway",
                    prefix.clone(),
                    region,
                    Some(g.id.clone()),
                    vec![],
                    Op::DeleteIgw {
                        id: g.id.clone(),
                        vpcs: g.attached_vpcs.clone(),
                    },
                ));
            }
            for s in &rs.subnets {
                destroy.push(change(
                    Action::Destroy,
                    "subnet",
                    format!("{prefix}-{}", s.name),
                    region,
                    Some(s.id.clone()),
                    vec![s.cidr.clone()],
                    Op::DeleteSubnet { id: s.id.clone() },
                ));
            }
            for v in &rs.vpcs {
                destroy.push(change(
                    Action::Destroy,
                    "vpc",
                    prefix.clone(),
                    region,
                    Some(v.id.clone()),
                    vec![v.cidr.clone()],
                    Op::DeleteVpc { id: v.id.clone() },
                ));
            }
            return Ok(());
        };

        // VPC.
        match rs.vpcs.first() {
            None => out.push(change(Action::Create, "vpc", prefix.clone(), region, None, vec![cidr.clone()], Op::CreateVpc { cidr: cidr.clone() })),
            Some(v) if v.cidr != cidr => {
                return Err(Error::Cloud(format!(
                    "{region}: the VPC {} has CIDR {}, the spec asks for {cidr}: a VPC cannot change its CIDR; run `rdeploy destroy` first or keep the CIDR",
                    v.id, v.cidr
                )))
            }
            Some(_) => {}
        }
        for v in rs.vpcs.iter().skip(1) {
            destroy.push(change(
                Action::Destroy,
                "vpc",
                prefix.clone(),
                region,
                Some(v.id.clone()),
                vec!["duplicate".into()],
                Op::DeleteVpc { id: v.id.clone() },
            ));
        }

        // Subnets.
        let planned = spec.network.planned_subnets_in(region);
        let azs = lk.map(|l| l.azs.clone()).unwrap_or_default();
        for sp in &planned {
            let az = azs.get(sp.az_index).cloned().unwrap_or_default();
            match rs.subnets.iter().find(|s| s.name == sp.name) {
                None => out.push(change(
                    Action::Create,
                    "subnet",
                    format!("{prefix}-{}", sp.name),
                    region,
                    None,
                    vec![format!(
                        "{} {az} {}",
                        sp.cidr,
                        if sp.public { "public" } else { "private" }
                    )],
                    Op::CreateSubnet {
                        name: sp.name.clone(),
                        cidr: sp.cidr.to_string(),
                        az,
                        public: sp.public,
                    },
                )),
                Some(s) if s.map_public_ip != sp.public => out.push(change(
                    Action::Update,
                    "subnet",
                    format!("{prefix}-{}", sp.name),
                    region,
                    Some(s.id.clone()),
                    vec![format!(
                        "map public IP on launch: {} -> {}",
                        s.map_public_ip, sp.public
                    )],
                    Op::SetSubnetPublic {
                        subnet_id: s.id.clone(),
                        public: sp.public,
                    },
                )),
                Some(_) => {}
            }
        }
        for s in rs
            .subnets
            .iter()
            .filter(|s| !planned.iter().any(|p| p.name == s.name))
        {
            destroy.push(change(
                Action::Destroy,
                "subnet",
                format!("{prefix}-{}", s.name),
                region,
                Some(s.id.clone()),
                vec![s.cidr.clone()],
                Op::DeleteSubnet { id: s.id.clone() },
            ));
        }

        // Internet gateway and the public route table.
        let vpc_id = rs.vpcs.first().map(|v| v.id.clone());
        if public {
            match rs.igws.first() {
                None => out.push(change(
                    Action::Create,
                    "internet-gateway",
                    prefix.clone(),
                    region,
                    None,
                    vec![],
                    Op::CreateIgw,
                )),
                Some(g) if vpc_id.as_ref().is_none_or(|v| !g.attached_vpcs.contains(v)) => out
                    .push(change(
                        Action::Update,
                        "internet-gateway",
                        prefix.clone(),
                        region,
                        Some(g.id.clone()),
                        vec!["attach to the VPC".into()],
                        Op::AttachIgw {
                            igw_id: g.id.clone(),
                        },
                    )),
                Some(_) => {}
            }
            let public_subnets: Vec<String> = planned
                .iter()
                .filter(|s| s.public)
                .map(|s| s.name.clone())
                .collect();
            match rs.route_tables.first() {
                None => out.push(change(
                    Action::Create,
                    "route-table",
                    format!("{prefix}-public"),
                    region,
                    None,
                    vec![format!(
                        "0.0.0.0/0 via the internet gateway, for {}",
                        public_subnets.join(", ")
                    )],
                    Op::CreateRouteTable { public_subnets },
                )),
                Some(rt) => {
                    let ids = subnet_ids_by_name(rs);
                    let associated: HashSet<&String> =
                        rt.associations.iter().map(|a| &a.1).collect();
                    let missing: Vec<String> = public_subnets
                        .iter()
                        .filter(|n| ids.get(*n).is_none_or(|id| !associated.contains(id)))
                        .cloned()
                        .collect();
                    let igw = rs.igws.first().map(|g| g.id.clone());
                    let add_default_route = rt.default_gateway.is_none()
                        || (igw.is_some() && rt.default_gateway != igw);
                    if !missing.is_empty() || add_default_route {
                        let mut details = vec![];
                        if add_default_route {
                            details.push("route 0.0.0.0/0 via the internet gateway".into());
                        }
                        if !missing.is_empty() {
                            details.push(format!("associate {}", missing.join(", ")));
                        }
                        out.push(change(
                            Action::Update,
                            "route-table",
                            format!("{prefix}-public"),
                            region,
                            Some(rt.id.clone()),
                            details,
                            Op::FixRouteTable {
                                rt_id: rt.id.clone(),
                                add_default_route,
                                associate: missing,
                            },
                        ));
                    }
                }
            }
            for rt in rs.route_tables.iter().skip(1) {
                destroy.push(change(
                    Action::Destroy,
                    "route-table",
                    format!("{prefix}-public"),
                    region,
                    Some(rt.id.clone()),
                    vec!["duplicate".into()],
                    Op::DeleteRouteTable {
                        id: rt.id.clone(),
                        associations: rt.associations.iter().map(|a| a.0.clone()).collect(),
                    },
                ));
            }
            for g in rs.igws.iter().skip(1) {
                destroy.push(change(
                    Action::Destroy,
                    "internet-gateway",
                    prefix.clone(),
                    region,
                    Some(g.id.clone()),
                    vec!["duplicate".into()],
                    Op::DeleteIgw {
                        id: g.id.clone(),
                        vpcs: g.attached_vpcs.clone(),
                    },
                ));
            }
        } else {
            for rt in &rs.route_tables {
                destroy.push(change(
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
                ));
            }
            for g in &rs.igws {
                destroy.push(change(
                    Action::Destroy,
                    "internet-gateway",
                    prefix.clone(),
                    region,
                    Some(g.id.clone()),
                    vec![],
                    Op::DeleteIgw {
                        id: g.id.clone(),
                        vpcs: g.attached_vpcs.clone(),
                    },
                ));
            }
        }
        Ok(())
    }

    fn key_pair(
        &mut self,
        region: &str,
        rs: &RegionState,
        in_use: bool,
        out: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) {
        let managed = self
            .spec
            .key_pair
            .as_ref()
            .filter(|k| k.public_key.is_some() && in_use);
        if let Some(kp) = managed {
            let pk = kp.public_key.clone().unwrap_or_default();
            let hash = pubkey_hash(&pk);
            match rs.key_pairs.iter().find(|k| k.name == kp.name) {
                None => out.push(change(
                    Action::Create,
                    "key-pair",
                    kp.name.clone(),
                    region,
                    None,
                    vec![pk_summary(&pk)],
                    Op::ImportKeyPair {
                        name: kp.name.clone(),
                        public_key: pk,
                        replace: false,
                    },
                )),
                Some(k) if k.pubkey_hash.as_deref() != Some(hash.as_str()) => out.push(change(
                    Action::Replace,
                    "key-pair",
                    kp.name.clone(),
                    region,
                    None,
                    vec![
                        format!("public key changed ({})", pk_summary(&pk)),
                        "running instances keep the old key".into(),
                    ],
                    Op::ImportKeyPair {
                        name: kp.name.clone(),
                        public_key: pk,
                        replace: true,
                    },
                )),
                Some(_) => {}
            }
        }
        for k in &rs.key_pairs {
            if managed.is_none_or(|m| m.name != k.name) {
                destroy.push(change(
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
        }
    }

    fn security_groups(
        &mut self,
        region: &str,
        rs: &RegionState,
        in_use: bool,
        out: &mut Vec<Change>,
        rules: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) {
        let spec = self.spec;
        let prefix = spec.prefix();
        let id_to_name: HashMap<&str, &str> = rs
            .security_groups
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        if in_use {
            for sg in spec.security_groups.values() {
                let aws_name = format!("{prefix}-{}", sg.name);
                // The spec's rules, plus those admitting peered VPCs' blocks.
                let mut ingress = sg.ingress.clone();
                for r in super::peering::spec::extra_rules(spec, region, &sg.name) {
                    if !ingress.contains(&r) {
                        ingress.push(r);
                    }
                }
                match rs.sg_by_name(&sg.name) {
                    None => {
                        let mut details = vec![sg.description.clone()];
                        details.extend(ingress.iter().map(|r| format!("+ingress {r}")));
                        out.push(change(
                            Action::Create,
                            "security-group",
                            aws_name.clone(),
                            region,
                            None,
                            details,
                            Op::CreateSg {
                                name: sg.name.clone(),
                                description: sg.description.clone(),
                                rules: ingress.clone(),
                            },
                        ));
                    }
                    Some(cur) => {
                        // Desired rules whose sources resolve to ids now; unresolvable
                        // ones (groups not created yet) are simply added.
                        let mut add = vec![];
                        let mut matched: HashSet<usize> = HashSet::new();
                        for r in &ingress {
                            let want = match &r.source {
                                Source::Cidr(c) => Some(PermSource::Cidr(c.clone())),
                                Source::GroupId(id) => Some(PermSource::Group(id.clone())),
                                Source::Group(n) => {
                                    rs.sg_by_name(n).map(|g| PermSource::Group(g.id.clone()))
                                }
                            };
                            let found = want.and_then(|w| {
                                cur.ingress.iter().position(|p| {
                                    p.protocol == r.protocol
                                        && p.from_port == r.from_port
                                        && p.to_port == r.to_port
                                        && p.source == w
                                })
                            });
                            match found {
                                Some(i) => {
                                    matched.insert(i);
                                }
                                None => add.push(r.clone()),
                            }
                        }
                        let remove: Vec<Perm> = cur
                            .ingress
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| !matched.contains(i))
                            .map(|(_, p)| p.clone())
                            .collect();
                        if !add.is_empty() || !remove.is_empty() {
                            let mut details: Vec<String> =
                                add.iter().map(|r| format!("+ingress {r}")).collect();
                            details.extend(
                                remove
                                    .iter()
                                    .map(|p| format!("-ingress {}", perm_display(p, &id_to_name))),
                            );
                            rules.push(change(
                                Action::Update,
                                "security-group",
                                aws_name,
                                region,
                                Some(cur.id.clone()),
                                details,
                                Op::SgRules {
                                    name: sg.name.clone(),
                                    add,
                                    remove,
                                },
                            ));
                        }
                    }
                }
            }
        }
        for cur in &rs.security_groups {
            if !in_use || !spec.security_groups.contains_key(&cur.name) {
                destroy.push(change(
                    Action::Destroy,
                    "security-group",
                    cur.group_name.clone(),
                    region,
                    Some(cur.id.clone()),
                    vec![],
                    Op::DeleteSg { id: cur.id.clone() },
                ));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn instances(
        &mut self,
        region: &str,
        rs: &RegionState,
        taken: &mut HashMap<String, BTreeSet<u32>>,
        out: &mut Vec<Change>,
        d_eips: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) -> Result<()> {
        let spec = self.spec;
        let sg_id_to_name: HashMap<&str, &str> = rs
            .security_groups
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        let subnet_name_by_id: HashMap<&str, &str> = rs
            .subnets
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();

        for g in spec.instances.values() {
            let mine: Vec<&Instance> = rs.instances.iter().filter(|i| i.group == g.name).collect();
            if !g.regions.iter().any(|r| r == region) {
                if !mine.is_empty() {
                    destroy.push(change(
                        Action::Destroy,
                        "instance",
                        format!("{} x{}", g.name, mine.len()),
                        region,
                        None,
                        vec![format!("group not in {region} any more: {}", ids_of(&mine))],
                        Op::Terminate {
                            ids: mine.iter().map(|i| i.id.clone()).collect(),
                        },
                    ));
                }
                for e in rs.eips.iter().filter(|e| e.group == g.name) {
                    d_eips.push(release(e, region, true));
                }
                continue;
            }
            let lk = self
                .lookups
                .regions
                .get(region)
                .ok_or_else(|| Error::Cloud(format!("{region}: no lookups")))?;
            let ami =
                lk.amis.get(&g.name).cloned().ok_or_else(|| {
                    Error::Cloud(format!("{region}: no AMI for group {}", g.name))
                })?;
            let subnets = group_subnets(spec, g, lk);
            if subnets.is_empty() {
                return Err(Error::source_at(
                    &g.span,
                    format!(
                        "instance group `{}` has no subnet to launch into in {region}",
                        g.name
                    ),
                ));
            }
            let allowed: HashSet<SubnetRef> = subnets.iter().map(|s| s.0.clone()).collect();
            let subnet_ref_of = |id: &str| -> SubnetRef {
                match subnet_name_by_id.get(id) {
                    Some(n) if matches!(spec.network, Network::Create { .. }) => {
                        SubnetRef::Name(n.to_string())
                    }
                    _ => SubnetRef::Id(id.to_string()),
                }
            };

            // Oldest first: surplus instances are the oldest ones (like amazon.aws exact_count).
            let mut sorted = mine.clone();
            sorted.sort_by(|a, b| {
                a.launch_time
                    .cmp(&b.launch_time)
                    .then(a.index.cmp(&b.index))
            });
            let surplus_n = sorted.len().saturating_sub(g.count as usize);
            let (surplus, kept) = sorted.split_at(surplus_n);
            let taken_g = taken.get_mut(&g.name).expect("entry");
            for s in surplus {
                taken_g.remove(&s.index);
            }
            if !surplus.is_empty() {
                let mut c = change(
                    Action::Destroy,
                    "instance",
                    surplus
                        .iter()
                        .map(|i| format!("{}-{}", g.name, i.index))
                        .collect::<Vec<_>>()
                        .join(", "),
                    region,
                    None,
                    vec![format!(
                        "count {} -> {}: terminating the oldest: {}",
                        sorted.len(),
                        g.count,
                        ids_of(surplus)
                    )],
                    Op::Terminate {
                        ids: surplus.iter().map(|i| i.id.clone()).collect(),
                    },
                );
                c.needs_approval = false;
                destroy.push(c);
            }

            // Subnet load for spreading new instances.
            let mut load: IndexMap<SubnetRef, usize> =
                subnets.iter().map(|s| (s.0.clone(), 0)).collect();
            for k in kept {
                if let Some(id) = &k.subnet_id {
                    if let Some(n) = load.get_mut(&subnet_ref_of(id)) {
                        *n += 1;
                    }
                }
            }
            let az_of: HashMap<SubnetRef, String> = subnets.iter().cloned().collect();
            let pick_subnet = |load: &mut IndexMap<SubnetRef, usize>| -> SubnetRef {
                let (r, n) = load.iter_mut().min_by_key(|(_, n)| **n).expect("subnets");
                *n += 1;
                r.clone()
            };
            let launch_for = |index: u32, subnet: SubnetRef| -> Result<Launch> {
                Ok(Launch {
                    group: g.name.clone(),
                    index,
                    ami: ami.clone(),
                    instance_type: g.instance_type.clone(),
                    key_name: g.key_name.clone(),
                    subnet,
                    security_groups: g.security_groups.iter().map(|s| s.value.clone()).collect(),
                    root_volume_gb: g.root_volume_gb,
                    user_data: g.user_data.clone(),
                    tags: instance_tags(spec, g, index, region)?,
                    elastic_ip: g.elastic_ip,
                })
            };
            let subnet_label = |r: &SubnetRef| -> String {
                let name = match r {
                    SubnetRef::Name(n) => n.clone(),
                    SubnetRef::Id(i) => i.clone(),
                };
                match az_of.get(r) {
                    Some(az) if !az.is_empty() => format!("{name} ({az})"),
                    _ => name,
                }
            };

            let want_launch_hash = launch_hash(g);
            let mut eip_targets: Vec<u32> = vec![];
            for k in kept {
                let mut why = vec![];
                if k.image_id != ami.id {
                    why.push(format!("ami {} -> {} ({})", k.image_id, ami.id, ami.name));
                }
                if k.instance_type != g.instance_type {
                    why.push(format!("type {} -> {}", k.instance_type, g.instance_type));
                }
                if k.key_name != g.key_name {
                    why.push(format!(
                        "key {} -> {}",
                        k.key_name.as_deref().unwrap_or("none"),
                        g.key_name.as_deref().unwrap_or("none")
                    ));
                }
                if k.tags.get(tag::LAUNCH) != Some(&want_launch_hash) {
                    why.push("user_data or root_volume changed".into());
                }
                let cur_subnet = k.subnet_id.as_deref().map(subnet_ref_of);
                let subnet_ok = cur_subnet.as_ref().is_some_and(|s| allowed.contains(s));
                if !subnet_ok {
                    why.push(format!(
                        "subnet {} is not one of the group's",
                        k.subnet_id.as_deref().unwrap_or("?")
                    ));
                }
                if !why.is_empty() {
                    let subnet = if subnet_ok {
                        cur_subnet.clone().unwrap()
                    } else {
                        pick_subnet(&mut load)
                    };
                    let l = launch_for(k.index, subnet.clone())?;
                    why.push(format!("new instance in {}", subnet_label(&subnet)));
                    out.push(change(
                        Action::Replace,
                        "instance",
                        format!("{}-{}", g.name, k.index),
                        region,
                        Some(k.id.clone()),
                        why,
                        Op::Replace {
                            launch: Box::new(l),
                            old_id: k.id.clone(),
                        },
                    ));
                    // The old instance's address moves to the new one; without one,
                    // the new instance gets an address like a launch.
                    if g.elastic_ip
                        && !rs.eips.iter().any(|e| {
                            e.group == g.name && e.instance_id.as_deref() == Some(k.id.as_str())
                        })
                    {
                        eip_targets.push(k.index);
                    }
                    continue;
                }
                // In-place updates.
                let mut details = vec![];
                let want_sgs: BTreeSet<String> =
                    g.security_groups.iter().map(|s| s.value.clone()).collect();
                let have_sgs: BTreeSet<String> = k
                    .sg_ids
                    .iter()
                    .map(|id| {
                        sg_id_to_name
                            .get(id.as_str())
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| id.clone())
                    })
                    .collect();
                let set_sgs = if want_sgs != have_sgs && !want_sgs.is_empty() {
                    details.push(format!(
                        "security groups [{}] -> [{}]",
                        have_sgs.iter().cloned().collect::<Vec<_>>().join(", "),
                        want_sgs.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                    Some(g.security_groups.iter().map(|s| s.value.clone()).collect())
                } else {
                    None
                };
                let want_tags = instance_tags(spec, g, k.index, region)?;
                let mut set_tags = IndexMap::new();
                for (key, v) in &want_tags {
                    if k.tags.get(key) != Some(v) {
                        details.push(format!(
                            "tag {key}: {} -> {v}",
                            k.tags.get(key).map(String::as_str).unwrap_or("(none)")
                        ));
                        set_tags.insert(key.clone(), v.clone());
                    }
                }
                let managed_before: Vec<String> = k
                    .tags
                    .get(tag::TAGS)
                    .map(|s| s.split_whitespace().map(String::from).collect())
                    .unwrap_or_default();
                let remove_tags: Vec<String> = managed_before
                    .into_iter()
                    .filter(|key| !want_tags.contains_key(key) && k.tags.contains_key(key))
                    .collect();
                for key in &remove_tags {
                    details.push(format!("-tag {key}"));
                }
                let start = k.state == "stopped" || k.state == "stopping";
                if start {
                    details.push(format!("start ({})", k.state));
                }
                if !details.is_empty() {
                    out.push(change(
                        Action::Update,
                        "instance",
                        format!("{}-{}", g.name, k.index),
                        region,
                        Some(k.id.clone()),
                        details,
                        Op::UpdateInstance {
                            id: k.id.clone(),
                            security_groups: set_sgs,
                            set_tags,
                            remove_tags,
                            start,
                        },
                    ));
                }
                if g.elastic_ip
                    && !rs.eips.iter().any(|e| {
                        e.group == g.name && e.instance_id.as_deref() == Some(k.id.as_str())
                    })
                {
                    eip_targets.push(k.index);
                }
            }
            // Launches.
            let missing = (g.count as usize).saturating_sub(kept.len());
            let mut new_indexes = vec![];
            let mut next = 1u32;
            while new_indexes.len() < missing {
                if !taken_g.contains(&next) {
                    new_indexes.push(next);
                    taken_g.insert(next);
                }
                next += 1;
            }
            for index in new_indexes {
                let subnet = pick_subnet(&mut load);
                let l = launch_for(index, subnet.clone())?;
                let mut details = vec![format!(
                    "{} {} ({}) in {}",
                    g.instance_type,
                    ami.id,
                    ami.name,
                    subnet_label(&subnet)
                )];
                if let Some(sg) =
                    (!l.security_groups.is_empty()).then(|| l.security_groups.join(", "))
                {
                    details.push(format!("security groups: {sg}"));
                }
                out.push(change(
                    Action::Create,
                    "instance",
                    format!("{}-{index}", g.name),
                    region,
                    None,
                    details,
                    Op::Launch(Box::new(l)),
                ));
                if g.elastic_ip {
                    eip_targets.push(index);
                }
            }
            // Elastic IPs: reuse free ones of the group, allocate the rest, release the surplus.
            let kept_ids: HashSet<&str> = kept.iter().map(|k| k.id.as_str()).collect();
            let group_eips: Vec<&super::state::Eip> =
                rs.eips.iter().filter(|e| e.group == g.name).collect();
            let mut free: Vec<&super::state::Eip> = group_eips
                .iter()
                .filter(|e| {
                    e.instance_id
                        .as_deref()
                        .is_none_or(|i| !kept_ids.contains(i))
                })
                .copied()
                .collect();
            // Unassociated first.
            free.sort_by_key(|e| e.instance_id.is_some());
            if g.elastic_ip {
                for index in &eip_targets {
                    let (action, detail, allocation_id) = if free.is_empty() {
                        (
                            Action::Create,
                            format!("allocate for {}-{index}", g.name),
                            None,
                        )
                    } else {
                        let e = free.remove(0);
                        (
                            Action::Update,
                            format!(
                                "associate {} ({}) with {}-{index}",
                                e.public_ip, e.allocation_id, g.name
                            ),
                            Some(e.allocation_id.clone()),
                        )
                    };
                    out.push(change(
                        action,
                        "elastic-ip",
                        format!("{}-{index}", g.name),
                        region,
                        None,
                        vec![detail],
                        Op::EnsureEip {
                            group: g.name.clone(),
                            index: *index,
                            allocation_id,
                        },
                    ));
                }
                for e in free {
                    let mut c = release(e, region, false);
                    c.details
                        .push(format!("count {} leaves it unused", g.count));
                    d_eips.push(c);
                }
            } else {
                for e in group_eips {
                    d_eips.push(release(e, region, true));
                }
            }
        }
        // Instances of groups the spec does not define any more.
        let mut gone: IndexMap<&str, Vec<&Instance>> = IndexMap::new();
        for i in rs
            .instances
            .iter()
            .filter(|i| !spec.instances.contains_key(&i.group))
        {
            gone.entry(i.group.as_str()).or_default().push(i);
        }
        for (name, list) in gone {
            destroy.push(change(
                Action::Destroy,
                "instance",
                format!("{name} x{}", list.len()),
                region,
                None,
                vec![format!(
                    "group `{name}` is not in the spec: {}",
                    ids_of(&list)
                )],
                Op::Terminate {
                    ids: list.iter().map(|i| i.id.clone()).collect(),
                },
            ));
        }
        for e in rs
            .eips
            .iter()
            .filter(|e| !spec.instances.contains_key(&e.group))
        {
            d_eips.push(release(e, region, true));
        }
        Ok(())
    }

    fn redis(
        &mut self,
        region: &str,
        rs: &RegionState,
        cache_groups: &mut Vec<Change>,
        out: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) -> Result<()> {
        let spec = self.spec;
        let here: Vec<&super::spec::RedisSpec> =
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::lookup::RegionLookups;
    use crate::provision::state::{Instance, SecurityGroup};

    fn spec(count: u32, itype: &str) -> Spec {
        let text = format!(
            "project: shop\nenv: dev\nregion: us-east-1\nsecurity_groups:\n  app: {{ingress: [{{port: 22, cidr: 10.0.0.0/8}}]}}\ninstances:\n  app: {{count: {count}, type: {itype}, ami: ami-1, security_groups: [app]}}\n"
        );
        let doc = crate::yaml::load_str(&text, std::path::Path::new("infra.yml")).unwrap();
        super::super::spec::parse(&doc, std::path::Path::new("infra.yml"), None).unwrap()
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
}
