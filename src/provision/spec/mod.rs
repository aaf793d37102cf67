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

mod sections;
use sections::*;

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
