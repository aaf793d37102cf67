//! The infra spec: loading `infra.yml` into typed values and validating it before any
//! API call. Every error points at file:line:col (unknown keys, wrong types, dangling
//! references such as a rule naming a security group the spec does not define).
//!
//! The format is described in docs/PROVISION.md.

use crate::error::{Error, Result, Span};
use crate::template::Templar;
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::fields::{
    bool_of, check_template, logical_name, map_entries, region_of, seq_of, spec_region_of, str_of,
    tags_of, uint_of, Fields,
};

/// A value with the position it came from in the spec.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub span: Span,
}

/// The whole spec: one project and one environment.
#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    pub project: String,
    pub env: String,
    /// Regions this spec manages; the first is the default for groups and Redis.
    pub regions: Vec<String>,
    /// Tags put on every resource (besides rdeploy's own).
    pub tags: IndexMap<String, String>,
    pub network: Network,
    pub key_pair: Option<KeyPairSpec>,
    pub security_groups: IndexMap<String, SecurityGroupSpec>,
    pub instances: IndexMap<String, InstanceGroupSpec>,
    pub redis: IndexMap<String, RedisSpec>,
    pub load_balancers: IndexMap<String, super::lb::spec::LbSpec>,
    pub dns: Vec<super::dns::spec::ZoneSpec>,
    pub databases: IndexMap<String, super::db::spec::DbSpec>,
    pub peering: Vec<super::peering::spec::PeeringSpec>,
    pub outputs: IndexMap<String, Located<String>>,
    pub timeouts: Timeouts,
    pub span: Span,
}

/// Bounds on the waits of an apply (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub instances: u64,
    pub redis: u64,
    pub databases: u64,
    pub destroy: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            instances: 600,
            redis: 1800,
            databases: 2400,
            destroy: 1200,
        }
    }
}

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.split_once('/')?;
        let addr: Ipv4Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let addr = u32::from(addr);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Some(Cidr {
            addr: addr & mask,
            prefix,
        })
    }
    /// The `index`-th block of length `prefix` inside this one.
    pub fn subnet(&self, prefix: u8, index: u32) -> Cidr {
        Cidr {
            addr: self.addr + (index << (32 - prefix)),
            prefix,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.prefix)
    }
}

/// Where instances and Redis live.
#[derive(Debug, Clone)]
pub enum Network {
    /// rdeploy creates a VPC per region with subnets over the first `azs` zones.
    Create {
        cidr: Cidr,
        /// Per-region blocks (`network.cidrs`), same prefix length as `cidr`: peered
        /// VPCs must not overlap.
        region_cidrs: IndexMap<String, Cidr>,
        azs: u32,
        public: bool,
        private: bool,
        span: Span,
    },
    /// The region's default VPC and its default subnets.
    Default,
    /// An existing VPC and subnets (single region), never modified.
    Existing {
        vpc_id: String,
        subnet_ids: Vec<String>,
    },
}

impl Network {
    /// The VPC block in a region (`network.cidrs`, else `network.cidr`).
    pub fn cidr_in(&self, region: &str) -> Option<Cidr> {
        match self {
            Network::Create {
                cidr, region_cidrs, ..
            } => Some(*region_cidrs.get(region).unwrap_or(cidr)),
            _ => None,
        }
    }

    /// Names of the subnets rdeploy creates (`public-a`, `private-b` ...) with their
    /// CIDR (of `network.cidr`) and zone index, in creation order. The names are the
    /// same in every region.
    pub fn planned_subnets(&self) -> Vec<SubnetPlan> {
        match self {
            Network::Create { cidr, .. } => self.subnets_of(*cidr),
            _ => vec![],
        }
    }

    /// [`Network::planned_subnets`] with the region's block.
    pub fn planned_subnets_in(&self, region: &str) -> Vec<SubnetPlan> {
        match self.cidr_in(region) {
            Some(c) => self.subnets_of(c),
            None => vec![],
        }
    }

    fn subnets_of(&self, cidr: Cidr) -> Vec<SubnetPlan> {
        let Network::Create {
            azs,
            public,
            private,
            ..
        } = self
        else {
            return vec![];
        };
        let cidr = &cidr;
        let new_prefix = (cidr.prefix + 8).min(28);
        let blocks = 1u32 << (new_prefix - cidr.prefix);
        let half = blocks / 2;
        let mut out = vec![];
        for (kind, on, base) in [("public", *public, 0), ("private", *private, half)] {
            if !on {
                continue;
            }
            for i in 0..*azs {
                out.push(SubnetPlan {
                    name: format!("{kind}-{}", (b'a' + i as u8) as char),
                    cidr: cidr.subnet(new_prefix, base + i),
                    az_index: i as usize,
                    public: kind == "public",
                });
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPlan {
    pub name: String,
    pub cidr: Cidr,
    pub az_index: usize,
    pub public: bool,
}

#[derive(Debug, Clone)]
pub struct KeyPairSpec {
    pub name: String,
    /// The public key to import (`None`: an existing key pair used by name, not managed).
    pub public_key: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct SecurityGroupSpec {
    pub name: String,
    pub description: String,
    pub ingress: Vec<RuleSpec>,
    /// The security groups the rules name, where they name them.
    pub refs: Vec<Located<String>>,
    pub span: Span,
}

/// One ingress rule with a single source (lists in the spec are expanded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleSpec {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Cidr(String),
    /// A security group of this spec, by name.
    Group(String),
    /// A security group outside the spec, by id.
    GroupId(String),
}

impl std::fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        let ports = if self.protocol == "-1" {
            String::new()
        } else if self.from_port == self.to_port {
            format!(" {}", self.from_port)
        } else {
            format!(" {}-{}", self.from_port, self.to_port)
        };
        let src = match &self.source {
            Source::Cidr(c) => c.clone(),
            Source::Group(g) => format!("group {g}"),
            Source::GroupId(g) => g.clone(),
        };
        write!(f, "{proto}{ports} from {src}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiSpec {
    Id(String),
    /// Newest image (by creation date, then name) of these owners matching the name pattern.
    Lookup {
        owners: Vec<String>,
        name: String,
        architecture: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetSel {
    Public,
    Private,
    /// Subnet names of the spec's network (`public-a`) or subnet ids.
    Named(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct InstanceGroupSpec {
    pub name: String,
    pub count: u32,
    pub instance_type: String,
    pub ami: AmiSpec,
    pub subnets: Option<SubnetSel>,
    pub security_groups: Vec<Located<String>>,
    /// Key pair name to launch with (`None`: no key).
    pub key_name: Option<String>,
    pub root_volume_gb: Option<u32>,
    pub user_data: Option<String>,
    /// Extra tags; values may be templates over project, env, group, index, host, region.
    pub tags: IndexMap<String, Located<String>>,
    pub elastic_ip: bool,
    pub regions: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisKind {
    ReplicationGroup,
    CacheCluster,
}

impl RedisKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RedisKind::ReplicationGroup => "replication_group",
            RedisKind::CacheCluster => "cache_cluster",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RedisSpec {
    pub name: String,
    /// The ElastiCache id: `<project>-<env>-<name>`, lowercase.
    pub aws_id: String,
    pub kind: RedisKind,
    pub engine_version: Option<String>,
    pub node_type: String,
    pub replicas: u32,
    pub port: u16,
    pub security_groups: Vec<Located<String>>,
    /// An existing cache subnet group (`None`: rdeploy makes `<project>-<env>`).
    pub subnet_group: Option<String>,
    pub region: String,
    pub span: Span,
}

/// Lowercase, `[a-z0-9-]` only, no leading/trailing/double hyphens.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && slug(s) == s
}

pub(crate) fn is_logical_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Spec {
    /// `<project>-<env>`, the prefix of every AWS name rdeploy makes.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.project, self.env)
    }

    /// Every region something of the spec lives in (network, groups, Redis), in spec order.
    pub fn used_regions(&self) -> Vec<String> {
        let mut used: Vec<String> = vec![];
        for g in self.instances.values() {
            for r in &g.regions {
                if !used.contains(r) {
                    used.push(r.clone());
                }
            }
        }
        for r in self.redis.values() {
            if !used.contains(&r.region) {
                used.push(r.region.clone());
            }
        }
        for l in self.load_balancers.values() {
            if !used.contains(&l.region) {
                used.push(l.region.clone());
            }
        }
        for d in self.databases.values() {
            if !used.contains(&d.region) {
                used.push(d.region.clone());
            }
        }
        for p in &self.peering {
            for r in [&p.requester, &p.accepter] {
                if !used.contains(r) {
                    used.push(r.clone());
                }
            }
        }
        self.regions
            .iter()
            .filter(|r| used.contains(r))
            .cloned()
            .collect()
    }
}

/// Reads and validates a spec file; `env_override` is `--env`.
pub fn load(path: &Path, env_override: Option<&str>) -> Result<Spec> {
    let doc = crate::yaml::load_file(path)?;
    parse(&doc, path, env_override)
}

/// Validates a parsed spec document.
pub fn parse(doc: &Node, path: &Path, env_override: Option<&str>) -> Result<Spec> {
    let mut top = Fields::new(doc, "the infra spec")?;
    top.allow(&[
        "project",
        "env",
        "environment",
        "region",
        "regions",
        "tags",
        "network",
        "key_pair",
        "security_groups",
        "instances",
        "redis",
        "load_balancers",
        "dns",
        "databases",
        "peering",
        "outputs",
        "timeouts",
    ])?;

    let project_node = top.required("project")?;
    let project = str_of(project_node, "project")?;
    if !is_slug(&project) || project.len() > 24 {
        return Err(project_node.error(format!(
            "project `{project}` must be 1-24 characters of a-z, 0-9 and `-` (for example `{}`)",
            slug(&project)
        )));
    }

    let env = match env_override {
        Some(e) => {
            if !is_slug(e) || e.len() > 24 {
                return Err(Error::usage(format!(
                    "--env `{e}` must be 1-24 characters of a-z, 0-9 and `-` (for example `{}`)",
                    slug(e)
                )));
            }
            e.to_string()
        }
        None => {
            let n = match (top.get("env"), top.get("environment")) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => {
                    return Err(
                        doc.error("missing `env` (the environment name; `--env` can set it too)")
                    );
                }
            };
            let e = str_of(n, "env")?;
            if !is_slug(&e) || e.len() > 24 {
                return Err(n.error(format!(
                    "env `{e}` must be 1-24 characters of a-z, 0-9 and `-` (for example `{}`)",
                    slug(&e)
                )));
            }
            e
        }
    };

    let regions: Vec<String> = match (top.get("region"), top.get("regions")) {
        (Some(a), Some(_)) => return Err(a.error("use either `region` or `regions`, not both")),
        (Some(r), None) => vec![region_of(r)?],
        (None, Some(rs)) => {
            let list = seq_of(rs, "regions")?;
            if list.is_empty() {
                return Err(rs.error("`regions` must name at least one region"));
            }
            let mut out = vec![];
            for r in list {
                let r = region_of(r)?;
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            out
        }
        (None, None) => return Err(doc.error("missing `region` (or `regions`)")),
    };

    let tags = match top.get("tags") {
        Some(n) => tags_of(n, false)?
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect(),
        None => IndexMap::new(),
    };

    let network = match top.get("network") {
        None => Network::Default,
        Some(n) => network_of(n, &regions)?,
    };

    let key_pair = match top.get("key_pair") {
        None => None,
        Some(n) => Some(key_pair_of(n, path, &project, &env)?),
    };

    let mut security_groups = IndexMap::new();
    if let Some(n) = top.get("security_groups") {
        for (k, v) in map_entries(n, "security_groups")? {
            let name = logical_name(k)?;
            security_groups.insert(name.clone(), security_group_of(&name, v)?);
        }
    }

    let mut instances = IndexMap::new();
    if let Some(n) = top.get("instances") {
        for (k, v) in map_entries(n, "instances")? {
            let name = logical_name(k)?;
            let g = instance_group_of(&name, v, &regions, key_pair.as_ref())?;
            instances.insert(name, g);
        }
    }

    let mut redis = IndexMap::new();
    if let Some(n) = top.get("redis") {
        for (k, v) in map_entries(n, "redis")? {
            let name = logical_name(k)?;
            let r = redis_of(&name, v, &regions, &project, &env)?;
            redis.insert(name, r);
        }
    }

    let load_balancers = match top.get("load_balancers") {
        Some(n) => super::lb::spec::parse(n, &regions, &slug(&format!("{project}-{env}")))?,
        None => IndexMap::new(),
    };

    let databases = match top.get("databases") {
        Some(n) => super::db::spec::parse(n, &regions, &slug(&format!("{project}-{env}")), path)?,
        None => IndexMap::new(),
    };
    let peering = match top.get("peering") {
        Some(n) => super::peering::spec::parse(n, &regions)?,
        None => vec![],
    };
    let dns = match top.get("dns") {
        Some(n) => super::dns::spec::parse(n)?,
        None => vec![],
    };

    let templar = Templar::new();
    let mut outputs = IndexMap::new();
    if let Some(n) = top.get("outputs") {
        for (k, v) in map_entries(n, "outputs")? {
            let key = k.key_string().unwrap_or_default();
            let text = v
                .scalar_string()
                .ok_or_else(|| v.error("an output must be a string (a template)"))?;
            check_template(&templar, &text, v)?;
            outputs.insert(
                key,
                Located {
                    value: text,
                    span: v.span.clone(),
                },
            );
        }
    }

    let mut timeouts = Timeouts::default();
    if let Some(n) = top.get("timeouts") {
        let mut f = Fields::new(n, "timeouts")?;
        f.allow(&["instances", "redis", "databases", "destroy"])?;
        if let Some(v) = f.get("instances") {
            timeouts.instances = uint_of(v, "timeouts.instances")? as u64;
        }
        if let Some(v) = f.get("redis") {
            timeouts.redis = uint_of(v, "timeouts.redis")? as u64;
        }
        if let Some(v) = f.get("databases") {
            timeouts.databases = uint_of(v, "timeouts.databases")? as u64;
        }
        if let Some(v) = f.get("destroy") {
            timeouts.destroy = uint_of(v, "timeouts.destroy")? as u64;
        }
    }

    let spec = Spec {
        path: path.to_path_buf(),
        project,
        env,
        regions,
        tags,
        network,
        key_pair,
        security_groups,
        instances,
        redis,
        load_balancers,
        dns,
        databases,
        peering,
        outputs,
        timeouts,
        span: doc.span.clone(),
    };
    check_references(&spec)?;
    super::lb::spec::check(&spec)?;
    super::dns::spec::check(&spec)?;
    super::db::spec::check(&spec)?;
    super::peering::spec::check(&spec)?;
    Ok(spec)
}

/// Cross-references: rules, groups and Redis naming security groups, subnets, regions.
fn check_references(spec: &Spec) -> Result<()> {
    let known = |name: &str| spec.security_groups.contains_key(name);
    let names = || {
        spec.security_groups
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    for sg in spec.security_groups.values() {
        for r in &sg.refs {
            let g = &r.value;
            {
                if !known(g) {
                    return Err(Error::source_at(
                        &r.span,
                        format!("security group `{}`: a rule refers to `{g}`, which is not defined (defined: {})", sg.name, names()),
                    ));
                }
            }
        }
    }
    for g in spec.instances.values() {
        for s in &g.security_groups {
            if !s.value.starts_with("sg-") && !known(&s.value) {
                return Err(Error::source_at(
                    &s.span,
                    format!(
                        "instance group `{}`: security group `{}` is not defined (defined: {})",
                        g.name,
                        s.value,
                        names()
                    ),
                ));
            }
        }
        if let Some(SubnetSel::Named(list)) = &g.subnets {
            let planned: Vec<String> = spec
                .network
                .planned_subnets()
                .into_iter()
                .map(|s| s.name)
                .collect();
            for s in list {
                if !s.starts_with("subnet-") && !planned.contains(s) {
                    return Err(Error::source_at(
                        &g.span,
                        format!(
                            "instance group `{}`: subnet `{s}` is not one the network creates ({})",
                            g.name,
                            planned.join(", ")
                        ),
                    ));
                }
            }
        }
        if matches!(
            g.subnets,
            Some(SubnetSel::Public) | Some(SubnetSel::Private)
        ) {
            let want_public = g.subnets == Some(SubnetSel::Public);
            if let Network::Create {
                public, private, ..
            } = &spec.network
            {
                if (want_public && !public) || (!want_public && !private) {
                    return Err(Error::source_at(
                        &g.span,
                        format!(
                            "instance group `{}` asks for {} subnets, but the network has none",
                            g.name,
                            if want_public { "public" } else { "private" }
                        ),
                    ));
                }
            }
        }
    }
    for r in spec.redis.values() {
        for s in &r.security_groups {
            if !s.value.starts_with("sg-") && !known(&s.value) {
                return Err(Error::source_at(
                    &s.span,
                    format!(
                        "redis `{}`: security group `{}` is not defined (defined: {})",
                        r.name,
                        s.value,
                        names()
                    ),
                ));
            }
        }
    }
    if let Network::Existing { .. } = spec.network {
        if spec.regions.len() > 1 {
            return Err(Error::source_at(
                &spec.span,
                "an existing VPC (`network.vpc_id`) can only be used with a single region",
            ));
        }
    }
    if spec.instances.values().any(|g| g.elastic_ip) {
        if let Network::Create {
            public: false,
            span,
            ..
        } = &spec.network
        {
            return Err(Error::source_at(
                span,
                "an instance group asks for elastic_ip, but the network has no public subnets",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

fn network_of(n: &Node, regions: &[String]) -> Result<Network> {
    if let Some(s) = n.as_str() {
        return match s {
            "default" => Ok(Network::Default),
            _ => Err(n.error(format!(
                "unknown network `{s}`: use `default` or a mapping with `cidr` or `vpc_id`"
            ))),
        };
    }
    let mut f = Fields::new(n, "network")?;
    f.allow(&[
        "cidr",
        "cidrs",
        "azs",
        "public_subnets",
        "private_subnets",
        "vpc_id",
        "subnet_ids",
        "default",
    ])?;
    if let Some(d) = f.get("default") {
        if bool_of(d, "network.default")? {
            return Ok(Network::Default);
        }
    }
    if let Some(v) = f.get("vpc_id") {
        let vpc_id = str_of(v, "network.vpc_id")?;
        if !vpc_id.starts_with("vpc-") {
            return Err(v.error(format!("`{vpc_id}` is not a VPC id (vpc-...)")));
        }
        let sn = f.required("subnet_ids")?;
        let mut subnet_ids = vec![];
        for s in seq_of(sn, "network.subnet_ids")? {
            let id = str_of(s, "subnet id")?;
            if !id.starts_with("subnet-") {
                return Err(s.error(format!("`{id}` is not a subnet id (subnet-...)")));
            }
            subnet_ids.push(id);
        }
        if subnet_ids.is_empty() {
            return Err(sn.error("`subnet_ids` must list at least one subnet"));
        }
        for k in ["cidr", "cidrs", "azs", "public_subnets", "private_subnets"] {
            if let Some(x) = f.get(k) {
                return Err(x.error(format!(
                    "`{k}` does not apply to an existing VPC (`vpc_id`)"
                )));
            }
        }
        let _ = regions;
        return Ok(Network::Existing { vpc_id, subnet_ids });
    }
    let cidr_node = f.required("cidr")?;
    let cidr_s = str_of(cidr_node, "network.cidr")?;
    let cidr = Cidr::parse(&cidr_s)
        .ok_or_else(|| cidr_node.error(format!("`{cidr_s}` is not an IPv4 CIDR block")))?;
    if !(16..=24).contains(&cidr.prefix) {
        return Err(cidr_node.error("a VPC CIDR block must be between /16 and /24"));
    }
    let azs = match f.get("azs") {
        Some(v) => uint_of(v, "network.azs")?,
        None => 2,
    };
    if !(1..=6).contains(&azs) {
        return Err(f.get("azs").unwrap().error("`azs` must be between 1 and 6"));
    }
    let public = match f.get("public_subnets") {
        Some(v) => bool_of(v, "network.public_subnets")?,
        None => true,
    };
    let private = match f.get("private_subnets") {
        Some(v) => bool_of(v, "network.private_subnets")?,
        None => false,
    };
    if !public && !private {
        return Err(n.error("the network needs public or private subnets (or both)"));
    }
    let blocks = 1u32 << ((cidr.prefix + 8).min(28) - cidr.prefix);
    if azs > blocks / 2 {
        return Err(cidr_node.error(format!("{cidr} is too small for {azs} zones")));
    }
    let mut region_cidrs = IndexMap::new();
    if let Some(m) = f.get("cidrs") {
        for (k, v) in map_entries(m, "network.cidrs")? {
            let region = spec_region_of(k, regions)?;
            let s = str_of(v, "a CIDR block")?;
            let c = Cidr::parse(&s)
                .ok_or_else(|| v.error(format!("`{s}` is not an IPv4 CIDR block")))?;
            if c.prefix != cidr.prefix {
                return Err(v.error(format!(
                    "every region's block has the prefix length of `cidr` (/{}), so that the subnets are the same",
                    cidr.prefix
                )));
            }
            region_cidrs.insert(region, c);
        }
    }
    Ok(Network::Create {
        cidr,
        region_cidrs,
        azs,
        public,
        private,
        span: n.span.clone(),
    })
}

fn key_pair_of(n: &Node, spec_path: &Path, project: &str, env: &str) -> Result<KeyPairSpec> {
    let mut f = Fields::new(n, "key_pair")?;
    f.allow(&["name", "public_key", "public_key_file"])?;
    let name = match f.get("name") {
        Some(v) => str_of(v, "key_pair.name")?,
        None => format!("{project}-{env}"),
    };
    let public_key = match (f.get("public_key"), f.get("public_key_file")) {
        (Some(a), Some(_)) => {
            return Err(a.error("use either `public_key` or `public_key_file`, not both"))
        }
        (Some(v), None) => Some(str_of(v, "key_pair.public_key")?),
        (None, Some(v)) => {
            let file = str_of(v, "key_pair.public_key_file")?;
            let p = expand_path(&file, spec_path);
            let text = std::fs::read_to_string(&p).map_err(|e| {
                v.error(format!("cannot read public key file {}: {e}", p.display()))
            })?;
            Some(text)
        }
        (None, None) => {
            if f.get("name").is_none() {
                return Err(n.error("`key_pair` needs `public_key_file`/`public_key` (import) or `name` (an existing key pair)"));
            }
            None
        }
    };
    let public_key = match public_key {
        Some(k) => {
            let k = k.trim().to_string();
            let fields: Vec<&str> = k.split_whitespace().collect();
            if fields.len() < 2
                || !(fields[0].starts_with("ssh-") || fields[0].starts_with("ecdsa-"))
            {
                return Err(
                    n.error("the public key is not in OpenSSH format (`ssh-ed25519 AAAA...`)")
                );
            }
            Some(k)
        }
        None => None,
    };
    Ok(KeyPairSpec {
        name,
        public_key,
        span: n.span.clone(),
    })
}

fn expand_path(file: &str, spec_path: &Path) -> PathBuf {
    if let Some(rest) = file.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    let p = PathBuf::from(file);
    if p.is_absolute() {
        p
    } else {
        spec_path.parent().unwrap_or(Path::new(".")).join(p)
    }
}

fn security_group_of(name: &str, n: &Node) -> Result<SecurityGroupSpec> {
    let mut f = Fields::new(n, "a security group")?;
    f.allow(&["description", "ingress"])?;
    let description = match f.get("description") {
        Some(v) => str_of(v, "description")?,
        None => format!("{name} (rdeploy)"),
    };
    let mut ingress: Vec<RuleSpec> = vec![];
    let mut refs = vec![];
    if let Some(list) = f.get("ingress") {
        for r in seq_of(list, "ingress")? {
            for (rule, span) in rule_of(r)? {
                if let Source::Group(g) = &rule.source {
                    refs.push(Located {
                        value: g.clone(),
                        span,
                    });
                }
                if !ingress.contains(&rule) {
                    ingress.push(rule);
                }
            }
        }
    }
    Ok(SecurityGroupSpec {
        name: name.to_string(),
        description,
        ingress,
        refs,
        span: n.span.clone(),
    })
}

fn rule_of(n: &Node) -> Result<Vec<(RuleSpec, Span)>> {
    let mut f = Fields::new(n, "an ingress rule")?;
    f.allow(&[
        "port",
        "ports",
        "protocol",
        "cidr",
        "cidrs",
        "from",
        "from_group",
        "from_groups",
        "description",
    ])?;
    let protocol = match f.get("protocol") {
        None => "tcp".to_string(),
        Some(v) => {
            let p = v.scalar_string().unwrap_or_default().to_ascii_lowercase();
            match p.as_str() {
                "tcp" | "udp" | "icmp" => p,
                "all" | "-1" => "-1".to_string(),
                _ => return Err(v.error(format!("unknown protocol `{p}` (tcp, udp, icmp or all)"))),
            }
        }
    };
    let (from_port, to_port) = match (f.get("port"), f.get("ports")) {
        (Some(a), Some(_)) => return Err(a.error("use either `port` or `ports`, not both")),
        (Some(v), None) | (None, Some(v)) => port_range_of(v)?,
        (None, None) => {
            if protocol == "-1" || protocol == "icmp" {
                (-1, -1)
            } else {
                return Err(n.error("an ingress rule needs `port` (or `ports: 8000-8100`)"));
            }
        }
    };
    let (from_port, to_port) = if protocol == "-1" {
        (-1, -1)
    } else {
        (from_port, to_port)
    };
    let mut sources = vec![];
    if let Some(v) = f.get("cidr") {
        sources.push((v, Source::Cidr(cidr_of(v)?)));
    }
    if let Some(v) = f.get("cidrs") {
        for c in seq_of(v, "cidrs")? {
            sources.push((c, Source::Cidr(cidr_of(c)?)));
        }
    }
    for key in ["from", "from_group"] {
        if let Some(v) = f.get(key) {
            sources.push((v, group_source_of(v)?));
        }
    }
    if let Some(v) = f.get("from_groups") {
        for g in seq_of(v, "from_groups")? {
            sources.push((g, group_source_of(g)?));
        }
    }
    if sources.is_empty() {
        return Err(n.error("an ingress rule needs a source: `cidr`, `cidrs`, `from` (a security group) or `from_groups`"));
    }
    Ok(sources
        .into_iter()
        .map(|(node, source)| {
            (
                RuleSpec {
                    protocol: protocol.clone(),
                    from_port,
                    to_port,
                    source,
                },
                node.span.clone(),
            )
        })
        .collect())
}

fn group_source_of(v: &Node) -> Result<Source> {
    let s = str_of(v, "a security group name")?;
    Ok(if s.starts_with("sg-") {
        Source::GroupId(s)
    } else {
        Source::Group(s)
    })
}

fn cidr_of(v: &Node) -> Result<String> {
    let s = str_of(v, "a CIDR block")?;
    let c = Cidr::parse(&s)
        .ok_or_else(|| v.error(format!("`{s}` is not an IPv4 CIDR block (like 10.0.0.0/8)")))?;
    Ok(c.to_string())
}

fn port_range_of(v: &Node) -> Result<(i32, i32)> {
    let check = |p: i64| -> Result<i32> {
        if (0..=65535).contains(&p) {
            Ok(p as i32)
        } else {
            Err(v.error(format!("port {p} is out of range (0-65535)")))
        }
    };
    match &v.kind {
        NodeKind::Int(p) => {
            let p = check(*p)?;
            Ok((p, p))
        }
        NodeKind::Str(s) => {
            if s == "all" {
                return Ok((0, 65535));
            }
            let (a, b) = s
                .split_once('-')
                .ok_or_else(|| v.error(format!("`{s}` is not a port or a range like 8000-8100")))?;
            let a: i64 = a
                .trim()
                .parse()
                .map_err(|_| v.error(format!("`{s}` is not a port range")))?;
            let b: i64 = b
                .trim()
                .parse()
                .map_err(|_| v.error(format!("`{s}` is not a port range")))?;
            if a > b {
                return Err(v.error(format!("port range `{s}` is reversed")));
            }
            Ok((check(a)?, check(b)?))
        }
        _ => Err(v.error(format!(
            "a port must be a number or a range like 8000-8100, not a {}",
            v.type_name()
        ))),
    }
}

fn instance_group_of(
    name: &str,
    n: &Node,
    regions: &[String],
    key: Option<&KeyPairSpec>,
) -> Result<InstanceGroupSpec> {
    let mut f = Fields::new(n, "an instance group")?;
    f.allow(&[
        "count",
        "type",
        "instance_type",
        "ami",
        "subnets",
        "subnet",
        "security_groups",
        "key_pair",
        "root_volume",
        "root_volume_size",
        "user_data",
        "tags",
        "elastic_ip",
        "region",
        "regions",
    ])?;
    let count = match f.get("count") {
        Some(v) => uint_of(v, "count")?,
        None => 1,
    };
    if count > 1000 {
        return Err(f
            .get("count")
            .unwrap()
            .error("count is limited to 1000 per group and region"));
    }
    let type_node = match (f.get("type"), f.get("instance_type")) {
        (Some(a), Some(_)) => return Err(a.error("use either `type` or `instance_type`, not both")),
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => {
            return Err(n.error(format!(
                "instance group `{name}` needs `type` (e.g. t3.micro)"
            )))
        }
    };
    let instance_type = str_of(type_node, "type")?;
    if !instance_type.contains('.') {
        return Err(type_node.error(format!(
            "`{instance_type}` is not an instance type (like t3.micro)"
        )));
    }
    let ami_node = f.required("ami")?;
    let ami = ami_of(ami_node)?;
    let subnets = match (f.get("subnets"), f.get("subnet")) {
        (Some(a), Some(_)) => return Err(a.error("use either `subnets` or `subnet`, not both")),
        (Some(v), None) | (None, Some(v)) => Some(match &v.kind {
            NodeKind::Str(s) if s == "public" => SubnetSel::Public,
            NodeKind::Str(s) if s == "private" => SubnetSel::Private,
            NodeKind::Str(s) => SubnetSel::Named(vec![s.clone()]),
            NodeKind::Seq(items) => {
                let mut out = vec![];
                for i in items {
                    out.push(str_of(i, "a subnet name")?);
                }
                if out.is_empty() {
                    return Err(v.error("`subnets` must not be empty"));
                }
                SubnetSel::Named(out)
            }
            _ => {
                return Err(v.error(format!(
                    "`subnets` must be public, private or a list of subnets, not a {}",
                    v.type_name()
                )))
            }
        }),
        (None, None) => None,
    };
    let mut security_groups = vec![];
    if let Some(v) = f.get("security_groups") {
        for s in seq_of(v, "security_groups")? {
            security_groups.push(Located {
                value: str_of(s, "a security group name")?,
                span: s.span.clone(),
            });
        }
    }
    let key_name = match f.get("key_pair") {
        None => key.map(|k| k.name.clone()),
        Some(v) => match &v.kind {
            NodeKind::Bool(false) | NodeKind::Null => None,
            NodeKind::Bool(true) => match key {
                Some(k) => Some(k.name.clone()),
                None => {
                    return Err(v.error("`key_pair: true` but the spec has no `key_pair` section"))
                }
            },
            NodeKind::Str(s) => Some(s.clone()),
            _ => return Err(v.error("`key_pair` must be a key pair name, true or false")),
        },
    };
    let root_volume_gb = match (f.get("root_volume"), f.get("root_volume_size")) {
        (Some(a), Some(_)) => {
            return Err(a.error("use either `root_volume` or `root_volume_size`, not both"))
        }
        (Some(v), None) | (None, Some(v)) => {
            let gb = uint_of(v, "root_volume")?;
            if !(1..=16384).contains(&gb) {
                return Err(v.error("root_volume is a size in GiB between 1 and 16384"));
            }
            Some(gb)
        }
        (None, None) => None,
    };
    let user_data = match f.get("user_data") {
        Some(v) => Some(str_of(v, "user_data")?),
        None => None,
    };
    let tags = match f.get("tags") {
        Some(v) => {
            let t = tags_of(v, true)?;
            let templar = Templar::new();
            for l in t.values() {
                check_template(
                    &templar,
                    &l.value,
                    &Node {
                        kind: NodeKind::Null,
                        span: l.span.clone(),
                    },
                )?;
            }
            t
        }
        None => IndexMap::new(),
    };
    let elastic_ip = match f.get("elastic_ip") {
        Some(v) => bool_of(v, "elastic_ip")?,
        None => false,
    };
    let group_regions = match (f.get("region"), f.get("regions")) {
        (Some(a), Some(_)) => return Err(a.error("use either `region` or `regions`, not both")),
        (Some(v), None) => vec![spec_region_of(v, regions)?],
        (None, Some(v)) => {
            let mut out = vec![];
            for r in seq_of(v, "regions")? {
                let r = spec_region_of(r, regions)?;
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            if out.is_empty() {
                return Err(v.error("`regions` must not be empty"));
            }
            out
        }
        (None, None) => vec![regions[0].clone()],
    };
    Ok(InstanceGroupSpec {
        name: name.to_string(),
        count,
        instance_type,
        ami,
        subnets,
        security_groups,
        key_name,
        root_volume_gb,
        user_data,
        tags,
        elastic_ip,
        regions: group_regions,
        span: n.span.clone(),
    })
}

fn ami_of(n: &Node) -> Result<AmiSpec> {
    if let Some(s) = n.as_str() {
        if !s.starts_with("ami-") {
            return Err(n.error(format!(
                "`{s}` is not an AMI id (ami-...); use `{{owner: ..., name: ...}}` to look one up"
            )));
        }
        return Ok(AmiSpec::Id(s.to_string()));
    }
    let mut f = Fields::new(n, "ami")?;
    f.allow(&["id", "owner", "owners", "name", "architecture"])?;
    if let Some(v) = f.get("id") {
        return ami_of(v);
    }
    let mut owners = vec![];
    match (f.get("owner"), f.get("owners")) {
        (Some(a), Some(_)) => return Err(a.error("use either `owner` or `owners`, not both")),
        (Some(v), None) => owners.push(
            v.scalar_string()
                .ok_or_else(|| v.error("`owner` must be an account id or alias"))?,
        ),
        (None, Some(v)) => {
            for o in seq_of(v, "owners")? {
                owners.push(
                    o.scalar_string()
                        .ok_or_else(|| o.error("an owner must be an account id or alias"))?,
                );
            }
        }
        (None, None) => {
            return Err(n.error("an AMI lookup needs `owner` (an account id, or `amazon`, `self`)"))
        }
    }
    let name = str_of(f.required("name")?, "ami.name")?;
    let architecture = match f.get("architecture") {
        Some(v) => Some(str_of(v, "ami.architecture")?),
        None => None,
    };
    Ok(AmiSpec::Lookup {
        owners,
        name,
        architecture,
    })
}

fn redis_of(
    name: &str,
    n: &Node,
    regions: &[String],
    project: &str,
    env: &str,
) -> Result<RedisSpec> {
    let mut f = Fields::new(n, "a Redis definition")?;
    f.allow(&[
        "kind",
        "engine_version",
        "node_type",
        "replicas",
        "port",
        "security_groups",
        "subnet_group",
        "region",
    ])?;
    let kind = match f.get("kind") {
        None => RedisKind::ReplicationGroup,
        Some(v) => match v.as_str() {
            Some("replication_group") => RedisKind::ReplicationGroup,
            Some("cache_cluster") | Some("cluster") => RedisKind::CacheCluster,
            _ => return Err(v.error("`kind` must be replication_group (default) or cache_cluster")),
        },
    };
    let engine_version = match f.get("engine_version") {
        Some(v) => Some(
            v.scalar_string()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| v.error("`engine_version` must be a version like \"7.1\""))?,
        ),
        None => None,
    };
    let node_type = match f.get("node_type") {
        Some(v) => str_of(v, "node_type")?,
        None => "cache.t3.micro".to_string(),
    };
    if !node_type.starts_with("cache.") {
        return Err(f.get("node_type").unwrap().error(format!(
            "`{node_type}` is not a cache node type (like cache.t3.micro)"
        )));
    }
    let replicas = match f.get("replicas") {
        Some(v) => uint_of(v, "replicas")?,
        None => 0,
    };
    if replicas > 5 {
        return Err(f
            .get("replicas")
            .unwrap()
            .error("a replication group has at most 5 replicas"));
    }
    if kind == RedisKind::CacheCluster && replicas > 0 {
        return Err(f
            .get("replicas")
            .unwrap()
            .error("a cache_cluster has no replicas; use kind: replication_group"));
    }
    let port = match f.get("port") {
        Some(v) => {
            let p = uint_of(v, "port")?;
            if !(1024..=65535).contains(&p) {
                return Err(v.error("port must be between 1024 and 65535"));
            }
            p as u16
        }
        None => 6379,
    };
    let mut security_groups = vec![];
    if let Some(v) = f.get("security_groups") {
        for s in seq_of(v, "security_groups")? {
            security_groups.push(Located {
                value: str_of(s, "a security group name")?,
                span: s.span.clone(),
            });
        }
    }
    let subnet_group = match f.get("subnet_group") {
        Some(v) => Some(str_of(v, "subnet_group")?),
        None => None,
    };
    let region = match f.get("region") {
        Some(v) => spec_region_of(v, regions)?,
        None => regions[0].clone(),
    };
    let aws_id = slug(&format!("{project}-{env}-{name}"));
    if aws_id.len() > 40 {
        return Err(n.error(format!(
            "the ElastiCache id `{aws_id}` (<project>-<env>-<name>) is {} characters; AWS allows 40: shorten the name",
            aws_id.len()
        )));
    }
    Ok(RedisSpec {
        name: name.to_string(),
        aws_id,
        kind,
        engine_version,
        node_type,
        replicas,
        port,
        security_groups,
        subnet_group,
        region,
        span: n.span.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Spec> {
        let doc = crate::yaml::load_str(s, Path::new("infra.yml")).unwrap();
        parse(&doc, Path::new("infra.yml"), None)
    }

    fn err(s: &str) -> String {
        parse_str(s).unwrap_err().to_string()
    }

    const MINIMAL: &str = "project: shop\nenv: dev\nregion: us-east-1\n";

    #[test]
    fn minimal_spec() {
        let s = parse_str(MINIMAL).unwrap();
        assert_eq!(s.project, "shop");
        assert_eq!(s.env, "dev");
        assert_eq!(s.regions, vec!["us-east-1"]);
        assert!(matches!(s.network, Network::Default));
    }

    #[test]
    fn unknown_key_has_position_and_hint() {
        let e = err("project: shop\nenv: dev\nregion: us-east-1\ninstances:\n  api:\n    cuont: 2\n    type: t3.micro\n    ami: ami-1\n");
        assert!(e.starts_with("infra.yml:6:5: unknown key `cuont`"), "{e}");
        assert!(e.contains("did you mean `count`"), "{e}");
    }

    #[test]
    fn wrong_type_has_position() {
        let e = err("project: shop\nenv: dev\nregion: us-east-1\ninstances:\n  api:\n    count: two\n    type: t3.micro\n    ami: ami-1\n");
        assert!(
            e.starts_with("infra.yml:6:12: `count` must be a whole number, not a string"),
            "{e}"
        );
    }

    #[test]
    fn dangling_rule_reference() {
        let e = err("project: shop\nenv: dev\nregion: us-east-1\nsecurity_groups:\n  redis:\n    ingress:\n      - {port: 6379, from: apii}\n");
        assert!(
            e.starts_with("infra.yml:7:28: security group `redis`: a rule refers to `apii`"),
            "{e}"
        );
    }

    #[test]
    fn dangling_group_security_group() {
        let e = err("project: shop\nenv: dev\nregion: us-east-1\ninstances:\n  api:\n    type: t3.micro\n    ami: ami-1\n    security_groups: [nope]\n");
        assert!(
            e.starts_with(
                "infra.yml:8:23: instance group `api`: security group `nope` is not defined"
            ),
            "{e}"
        );
    }

    #[test]
    fn env_override_and_validation() {
        let doc = crate::yaml::load_str(MINIMAL, Path::new("infra.yml")).unwrap();
        let s = parse(&doc, Path::new("infra.yml"), Some("feature-x")).unwrap();
        assert_eq!(s.env, "feature-x");
        let e = parse(&doc, Path::new("infra.yml"), Some("feature/X"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("feature-x"), "{e}");
    }

    #[test]
    fn rules_expand_and_dedupe() {
        let s = parse_str(
            "project: shop\nenv: dev\nregion: us-east-1\nsecurity_groups:\n  web:\n    ingress:\n      - {port: 80, cidrs: [0.0.0.0/0, 10.0.0.0/8]}\n      - {ports: 8000-8100, protocol: udp, cidr: 10.1.2.3/8}\n      - {port: 80, cidr: 0.0.0.0/0}\n",
        )
        .unwrap();
        let r = &s.security_groups["web"].ingress;
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].to_string(), "udp 8000-8100 from 10.0.0.0/8");
    }

    #[test]
    fn subnets_are_planned() {
        let s = parse_str("project: shop\nenv: dev\nregion: us-east-1\nnetwork:\n  cidr: 10.40.0.0/16\n  azs: 2\n  private_subnets: true\n").unwrap();
        let subs = s.network.planned_subnets();
        let names: Vec<String> = subs
            .iter()
            .map(|s| format!("{} {}", s.name, s.cidr))
            .collect();
        assert_eq!(
            names,
            vec![
                "public-a 10.40.0.0/24",
                "public-b 10.40.1.0/24",
                "private-a 10.40.128.0/24",
                "private-b 10.40.129.0/24"
            ]
        );
    }

    #[test]
    fn redis_id_and_region_checks() {
        let s = parse_str("project: shop\nenv: dev\nregions: [us-east-1, eu-west-1]\nredis:\n  sessions_cache:\n    region: eu-west-1\n").unwrap();
        assert_eq!(s.redis["sessions_cache"].aws_id, "shop-dev-sessions-cache");
        let e = err(
            "project: shop\nenv: dev\nregion: us-east-1\nredis:\n  x:\n    region: eu-west-1\n",
        );
        assert!(
            e.starts_with("infra.yml:6:13: region `eu-west-1` is not one of the spec's regions"),
            "{e}"
        );
    }

    #[test]
    fn seed_example_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/infra.yml");
        if p.exists() {
            let s = load(&p, None).unwrap();
            assert_eq!(s.instances.len(), 4);
            assert!(s.instances["api_lb"].elastic_ip);
        }
    }
}
