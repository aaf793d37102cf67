//! Discovery: what of one project and environment exists in AWS right now. Only
//! resources carrying both `rdeploy:project` and `rdeploy:env` with the spec's values are
//! returned; nothing else is ever looked at as "ours". There is no state file.

use super::aws::{self, tag, Aws, SdkResult};
use super::describe::{name_tag, tag_pairs, Owner};
use crate::error::Result;
use crate::output::{Event, Reporter};
use aws_sdk_ec2::types::IpPermission;
use indexmap::IndexMap;

/// Everything rdeploy owns for a project and environment, per region.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub regions: IndexMap<String, RegionState>,
    /// The records rdeploy owns in the spec's hosted zones (Route 53 is global).
    pub dns: super::dns::state::DnsState,
}

impl State {
    pub fn region(&self, r: &str) -> &RegionState {
        self.regions.get(r).expect("discovered region")
    }
    /// Number of resources found.
    pub fn count(&self) -> usize {
        self.regions.values().map(|r| r.count()).sum::<usize>() + self.dns.count()
    }
}

#[derive(Debug, Clone, Default)]
pub struct RegionState {
    pub region: String,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub igws: Vec<Igw>,
    pub route_tables: Vec<RouteTable>,
    pub security_groups: Vec<SecurityGroup>,
    pub key_pairs: Vec<KeyPair>,
    pub instances: Vec<Instance>,
    pub eips: Vec<Eip>,
    pub redis: Vec<Redis>,
    pub cache_subnet_groups: Vec<CacheSubnetGroup>,
    /// Load balancers and target groups.
    pub lb: super::lb::state::LbState,
    /// RDS instances and the DB subnet group.
    pub db: super::db::state::DbState,
    /// Peering connections and the VPC's routes through them.
    pub peering: super::peering::state::PeeringState,
}

impl RegionState {
    pub fn count(&self) -> usize {
        self.vpcs.len()
            + self.subnets.len()
            + self.igws.len()
            + self.route_tables.len()
            + self.security_groups.len()
            + self.key_pairs.len()
            + self.instances.len()
            + self.eips.len()
            + self.redis.len()
            + self.cache_subnet_groups.len()
            + self.lb.count()
            + self.db.count()
            + self.peering.count()
    }
    pub fn sg_by_name(&self, name: &str) -> Option<&SecurityGroup> {
        self.security_groups.iter().find(|s| s.name == name)
    }
    /// Whether the security groups a spec gives (ids, or names of the spec's groups) are
    /// not exactly `ids`; a group not created yet makes them differ.
    pub fn groups_differ(&self, wanted: &[super::spec::Located<String>], ids: &[String]) -> bool {
        let want: std::collections::BTreeSet<Option<String>> = wanted
            .iter()
            .map(|s| {
                if s.value.starts_with("sg-") {
                    Some(s.value.clone())
                } else {
                    self.sg_by_name(&s.value).map(|g| g.id.clone())
                }
            })
            .collect();
        let have: std::collections::BTreeSet<Option<String>> =
            ids.iter().cloned().map(Some).collect();
        want != have
    }
}

#[derive(Debug, Clone)]
pub struct Vpc {
    pub id: String,
    pub cidr: String,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub az: String,
    pub vpc_id: String,
    pub map_public_ip: bool,
}

#[derive(Debug, Clone)]
pub struct Igw {
    pub id: String,
    pub attached_vpcs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    /// (association id, subnet id)
    pub associations: Vec<(String, String)>,
    /// The gateway of the 0.0.0.0/0 route, if any.
    pub default_gateway: Option<String>,
}

/// An ingress rule with a single source, as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Perm {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: PermSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PermSource {
    Cidr(String),
    Group(String),
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    /// The spec name (tag `rdeploy:name`).
    pub name: String,
    pub group_name: String,
    pub vpc_id: String,
    pub ingress: Vec<Perm>,
}

#[derive(Debug, Clone)]
pub struct KeyPair {
    pub name: String,
    pub pubkey_hash: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub group: String,
    pub index: u32,
    pub state: String,
    pub instance_type: String,
    pub image_id: String,
    pub key_name: Option<String>,
    pub subnet_id: Option<String>,
    pub az: Option<String>,
    pub sg_ids: Vec<String>,
    pub tags: IndexMap<String, String>,
    /// Seconds and nanoseconds since the epoch.
    pub launch_time: (i64, u32),
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub public_dns: Option<String>,
    pub private_dns: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Eip {
    pub allocation_id: String,
    pub public_ip: String,
    /// The instance group it belongs to (tag `rdeploy:name`).
    pub group: String,
    pub instance_id: Option<String>,
    pub association_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Redis {
    pub aws_id: String,
    pub name: String,
    pub kind: super::spec::RedisKind,
    pub status: String,
    pub node_type: String,
    pub port: Option<i32>,
    pub address: Option<String>,
    pub reader_address: Option<String>,
    pub arn: String,
    /// The settings rdeploy recorded at creation/update (tag `rdeploy:config`).
    pub config: IndexMap<String, String>,
    pub members: usize,
}

impl Redis {
    pub fn deleting(&self) -> bool {
        self.status == "deleting"
    }
}

#[derive(Debug, Clone)]
pub struct CacheSubnetGroup {
    pub name: String,
    pub subnet_ids: Vec<String>,
}

/// Parses `k=v k=v` (the format of the `rdeploy:config` tag).
pub fn parse_config_tag(s: &str) -> IndexMap<String, String> {
    s.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Discovers every region of `regions` in parallel.
pub async fn discover(
    aws: &Aws,
    project: &str,
    env: &str,
    regions: &[String],
    reporter: &dyn Reporter,
) -> Result<State> {
    reporter.event(&Event::Message {
        msg: format!("discovering {project}/{env} in {} ...", regions.join(", ")),
    });
    let futs = regions
        .iter()
        .map(|r| discover_region(aws, project, env, r));
    let found = futures::future::try_join_all(futs).await?;
    let mut state = State::default();
    for rs in found {
        state.regions.insert(rs.region.clone(), rs);
    }
    Ok(state)
}

async fn discover_region(aws: &Aws, project: &str, env: &str, region: &str) -> Result<RegionState> {
    let ec2 = aws.ec2(region);
    let ec = aws.elasticache(region);
    let o = Owner::new(project, env, region);
    let (
        vpcs,
        subnets,
        igws,
        route_tables,
        security_groups,
        key_pairs,
        instances,
        eips,
        (redis, cache_subnet_groups),
        lb,
        db,
        peering,
    ) = tokio::try_join!(
        vpcs(&ec2, o),
        subnets(&ec2, o),
        igws(&ec2, o),
        route_tables(&ec2, o),
        security_groups(&ec2, o),
        key_pairs(&ec2, o),
        instances(&ec2, o),
        eips(&ec2, o),
        Box::pin(elasticache(&ec, o)),
        Box::pin(super::lb::state::discover(aws, project, env, region)),
        Box::pin(super::db::state::discover(aws, project, env, region)),
        Box::pin(super::peering::state::discover(aws, project, env, region)),
    )?;
    Ok(RegionState {
        region: region.to_string(),
        vpcs,
        subnets,
        igws,
        route_tables,
        security_groups,
        key_pairs,
        instances,
        eips,
        redis,
        cache_subnet_groups,
        lb,
        db,
        peering,
    })
}

type Ec2 = aws_sdk_ec2::Client;

async fn vpcs(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<Vpc>> {
    let out = o
        .describe("DescribeVpcs", |f| {
            ec2.describe_vpcs().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out.vpcs().iter().map(Vpc::from_aws).collect())
}

async fn subnets(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<Subnet>> {
    let out = o
        .describe("DescribeSubnets", |f| {
            ec2.describe_subnets().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out.subnets().iter().map(Subnet::from_aws).collect())
}

async fn igws(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<Igw>> {
    let out = o
        .describe("DescribeInternetGateways", |f| {
            ec2.describe_internet_gateways().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out.internet_gateways().iter().map(Igw::from_aws).collect())
}

async fn route_tables(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<RouteTable>> {
    let out = o
        .describe("DescribeRouteTables", |f| {
            ec2.describe_route_tables().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out
        .route_tables()
        .iter()
        .map(RouteTable::from_aws)
        .collect())
}

async fn security_groups(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<SecurityGroup>> {
    let out = o
        .describe("DescribeSecurityGroups", |f| {
            ec2.describe_security_groups().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out
        .security_groups()
        .iter()
        .map(SecurityGroup::from_aws)
        .collect())
}

async fn key_pairs(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<KeyPair>> {
    let out = o
        .describe("DescribeKeyPairs", |f| {
            ec2.describe_key_pairs().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out.key_pairs().iter().map(KeyPair::from_aws).collect())
}

async fn eips(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<Eip>> {
    let out = o
        .describe("DescribeAddresses", |f| {
            ec2.describe_addresses().set_filters(Some(f)).send()
        })
        .await?;
    Ok(out.addresses().iter().map(Eip::from_aws).collect())
}

impl Vpc {
    fn from_aws(v: &aws_sdk_ec2::types::Vpc) -> Self {
        Vpc {
            id: v.vpc_id().unwrap_or_default().into(),
            cidr: v.cidr_block().unwrap_or_default().into(),
        }
    }
}

impl Subnet {
    fn from_aws(s: &aws_sdk_ec2::types::Subnet) -> Self {
        Subnet {
            id: s.subnet_id().unwrap_or_default().into(),
            name: name_tag(&aws::tag_map(s.tags())),
            cidr: s.cidr_block().unwrap_or_default().into(),
            az: s.availability_zone().unwrap_or_default().into(),
            vpc_id: s.vpc_id().unwrap_or_default().into(),
            map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
        }
    }
}

impl Igw {
    fn from_aws(g: &aws_sdk_ec2::types::InternetGateway) -> Self {
        Igw {
            id: g.internet_gateway_id().unwrap_or_default().into(),
            attached_vpcs: g
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(String::from))
                .collect(),
        }
    }
}

impl RouteTable {
    fn from_aws(t: &aws_sdk_ec2::types::RouteTable) -> Self {
        RouteTable {
            id: t.route_table_id().unwrap_or_default().into(),
            vpc_id: t.vpc_id().unwrap_or_default().into(),
            associations: t
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
                .filter_map(|a| {
                    Some((
                        a.route_table_association_id()?.to_string(),
                        a.subnet_id()?.to_string(),
                    ))
                })
                .collect(),
            default_gateway: t
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .and_then(|r| r.gateway_id().map(String::from)),
        }
    }
}

impl SecurityGroup {
    fn from_aws(g: &aws_sdk_ec2::types::SecurityGroup) -> Self {
        SecurityGroup {
            id: g.group_id().unwrap_or_default().into(),
            name: name_tag(&aws::tag_map(g.tags())),
            group_name: g.group_name().unwrap_or_default().into(),
            vpc_id: g.vpc_id().unwrap_or_default().into(),
            ingress: flatten_perms(g.ip_permissions()),
        }
    }
}

impl KeyPair {
    fn from_aws(k: &aws_sdk_ec2::types::KeyPairInfo) -> Self {
        KeyPair {
            name: k.key_name().unwrap_or_default().into(),
            pubkey_hash: aws::tag_map(k.tags()).get(tag::PUBKEY).cloned(),
        }
    }
}

impl Eip {
    fn from_aws(a: &aws_sdk_ec2::types::Address) -> Self {
        Eip {
            allocation_id: a.allocation_id().unwrap_or_default().into(),
            public_ip: a.public_ip().unwrap_or_default().into(),
            group: name_tag(&aws::tag_map(a.tags())),
            instance_id: a.instance_id().filter(|s| !s.is_empty()).map(String::from),
            association_id: a
                .association_id()
                .filter(|s| !s.is_empty())
                .map(String::from),
        }
    }
}

/// Flattens AWS's ingress permissions into single-source rules.
pub fn flatten_perms(perms: &[IpPermission]) -> Vec<Perm> {
    let mut out = vec![];
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let (from_port, to_port) = if protocol == "-1" {
            (-1, -1)
        } else {
            (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.push(Perm {
                    protocol: protocol.clone(),
                    from_port,
                    to_port,
                    source: PermSource::Cidr(c.to_string()),
                });
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                out.push(Perm {
                    protocol: protocol.clone(),
                    from_port,
                    to_port,
                    source: PermSource::Group(id.to_string()),
                });
            }
        }
    }
    out
}

/// Instances not terminated (pending, running, stopping, stopped), all pages.
async fn instances(ec2: &Ec2, o: Owner<'_>) -> Result<Vec<Instance>> {
    let mut filters = o.filters();
    filters.push(aws::filter(
        "instance-state-name",
        &["pending", "running", "stopping", "stopped"],
    ));
    describe_instances(ec2, o.region, filters, vec![]).await
}

/// DescribeInstances over all pages, parsed into [`Instance`]s.
pub async fn describe_instances(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    filters: Vec<aws_sdk_ec2::types::Filter>,
    ids: Vec<String>,
) -> Result<Vec<Instance>> {
    let mut req = ec2.describe_instances();
    if !filters.is_empty() {
        req = req.set_filters(Some(filters));
    }
    if !ids.is_empty() {
        req = req.set_instance_ids(Some(ids));
    }
    let mut pages = req.into_paginator().send();
    let mut out = vec![];
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeInstances")?;
        for r in page.reservations() {
            for i in r.instances() {
                let tags = aws::tag_map(i.tags());
                let lt = i
                    .launch_time()
                    .map(|t| (t.secs(), t.subsec_nanos()))
                    .unwrap_or((0, 0));
                out.push(Instance {
                    id: i.instance_id().unwrap_or_default().into(),
                    group: name_tag(&tags),
                    index: tags
                        .get(tag::INDEX)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                    state: i
                        .state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    instance_type: i
                        .instance_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    image_id: i.image_id().unwrap_or_default().into(),
                    key_name: i.key_name().map(String::from),
                    subnet_id: i.subnet_id().map(String::from),
                    az: i
                        .placement()
                        .and_then(|p| p.availability_zone())
                        .map(String::from),
                    sg_ids: i
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(String::from))
                        .collect(),
                    tags,
                    launch_time: lt,
                    private_ip: i
                        .private_ip_address()
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                    public_ip: i
                        .public_ip_address()
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                    public_dns: i
                        .public_dns_name()
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                    private_dns: i
                        .private_dns_name()
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                });
            }
        }
    }
    Ok(out)
}

/// ElastiCache has no tag filter on its Describe calls: candidates are picked by the id
/// prefix rdeploy uses (`<project>-`), then kept only when their tags say they are ours.
async fn elasticache(
    ec: &aws_sdk_elasticache::Client,
    o: Owner<'_>,
) -> Result<(Vec<Redis>, Vec<CacheSubnetGroup>)> {
    let (p, e, region) = (o.project, o.env, o.region);
    let prefix = format!("{p}-");
    let mut found = vec![];
    let mut pages = ec.describe_replication_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeReplicationGroups")?;
        for g in page.replication_groups() {
            let id = g.replication_group_id().unwrap_or_default();
            if !id.starts_with(&prefix) {
                continue;
            }
            let primary = g.node_groups().first().and_then(|n| n.primary_endpoint());
            let reader = g.node_groups().first().and_then(|n| n.reader_endpoint());
            found.push(Redis {
                aws_id: id.to_string(),
                name: String::new(),
                kind: super::spec::RedisKind::ReplicationGroup,
                status: g.status().unwrap_or_default().to_string(),
                node_type: g.cache_node_type().unwrap_or_default().to_string(),
                port: primary.and_then(|p| p.port()),
                address: primary.and_then(|p| p.address()).map(String::from),
                reader_address: reader.and_then(|p| p.address()).map(String::from),
                arn: g.arn().unwrap_or_default().to_string(),
                config: IndexMap::new(),
                members: g.member_clusters().len(),
            });
        }
    }
    let mut pages = ec
        .describe_cache_clusters()
        .show_cache_node_info(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeCacheClusters")?;
        for c in page.cache_clusters() {
            let id = c.cache_cluster_id().unwrap_or_default();
            if !id.starts_with(&prefix) || c.replication_group_id().is_some_and(|r| !r.is_empty()) {
                continue;
            }
            let ep = c.cache_nodes().first().and_then(|n| n.endpoint());
            found.push(Redis {
                aws_id: id.to_string(),
                name: String::new(),
                kind: super::spec::RedisKind::CacheCluster,
                status: c.cache_cluster_status().unwrap_or_default().to_string(),
                node_type: c.cache_node_type().unwrap_or_default().to_string(),
                port: ep.and_then(|p| p.port()),
                address: ep.and_then(|p| p.address()).map(String::from),
                reader_address: None,
                arn: c.arn().unwrap_or_default().to_string(),
                config: IndexMap::new(),
                members: c.num_cache_nodes().unwrap_or(1) as usize,
            });
        }
    }
    let mut redis = vec![];
    for mut r in found {
        let Some(tags) = ec_tags(ec, &r.arn, region).await? else {
            continue;
        };
        if o.owns(&tags) {
            r.name = tags.get(tag::NAME).cloned().unwrap_or_default();
            r.config = tags
                .get(tag::CONFIG)
                .map(|s| parse_config_tag(s))
                .unwrap_or_default();
            redis.push(r);
        }
    }
    let mut groups = vec![];
    let name = super::spec::slug(&format!("{p}-{e}"));
    let found = ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(&name)
        .send()
        .await
        .unless_gone(region, "DescribeCacheSubnetGroups")?;
    if let Some(out) = found {
        for g in out.cache_subnet_groups() {
            let arn = g.arn().unwrap_or_default();
            let Some(tags) = ec_tags(ec, arn, region).await? else {
                continue;
            };
            if o.owns(&tags) {
                groups.push(CacheSubnetGroup {
                    name: g.cache_subnet_group_name().unwrap_or_default().to_string(),
                    subnet_ids: g
                        .subnets()
                        .iter()
                        .filter_map(|s| s.subnet_identifier().map(String::from))
                        .collect(),
                });
            }
        }
    }
    Ok((redis, groups))
}

/// The tags of an ElastiCache resource (`None` when it vanished meanwhile).
pub async fn ec_tags(
    ec: &aws_sdk_elasticache::Client,
    arn: &str,
    region: &str,
) -> Result<Option<IndexMap<String, String>>> {
    if arn.is_empty() {
        return Ok(None);
    }
    let out = ec
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unless_gone(region, "ListTagsForResource")?;
    Ok(out.map(|out| tag_pairs(out.tag_list().iter().map(|t| (t.key(), t.value())))))
}
