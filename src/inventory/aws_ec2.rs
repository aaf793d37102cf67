//! The dynamic EC2 inventory: a YAML file with `plugin: aws_ec2` (or
//! `amazon.aws.aws_ec2`) in the format of Ansible's amazon.aws.aws_ec2 plugin.
//!
//! Options: `regions` (default: every region), `filters` (default instance states
//! running, pending, stopping, stopped), `include_filters`/`exclude_filters`,
//! `hostnames` (default `dns-name`, then `private-dns-name`), `keyed_groups`, `groups`,
//! `compose`, `strict`, `hostvars_prefix`/`hostvars_suffix`, `leading_separator`,
//! `use_contrib_script_compatible_sanitization`, and rdeploy's own `elasticache`
//! (default true), `ssh_host_keys` (default true: verify running instances rdeploy
//! launched by the host keys in their console output, see [`super::ec2_host_keys`])
//! and `page_size` (DescribeInstances page size, default 1000).
//!
//! Hosts are ordered by hostname with digit runs compared as numbers (`api-2` before
//! `api-10`), then by instance id, in every group and in `all`, whatever order the API
//! answered in (hosts of sources given earlier with `-i` still come first).
//!
//! Every host is in the group `aws_ec2`. Without a `keyed_groups` option, rdeploy adds
//! the groups ec2.py users know: `tag_<key>_<value>`, the region (`us_east_1`), the zone
//! (`us_east_1a`), `type_<instance type>`, `security_group_<name>`, `key_<key pair>`.
//! Host variables are the instance's facts as the Ansible plugin names them
//! (`instance_id`, `state.name`, `placement.region`, `tags` ...) plus ec2.py's `ec2_*`.
//!
//! ElastiCache replication groups and cache clusters of the same regions (kept when their
//! tags match the `tag:` filters) are exposed to every host as `rdeploy_elasticache`
//! (by ElastiCache id: address, port, endpoint ...) and `redis_endpoints` (by the
//! `rdeploy:name` tag or id: `"address:port"`).

use super::{Inventory, Vars};
use crate::aws::SdkResult;
use crate::aws::{self, cloud_err, Aws, AwsSettings};
use crate::error::{Error, Result, Span};
use crate::template::{single_expression, to_json, truthy, Templar};
use crate::yaml::{Node, NodeKind};
use aws_sdk_ec2::types::Filter;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Loads an aws_ec2 inventory config (`plugin: aws_ec2`) into `inv`.
pub async fn load(path: &Path, doc: &Node, inv: &mut Inventory) -> Result<()> {
    load_with(path, doc, inv, &AwsSettings::default()).await
}

/// [`load`] with explicit AWS settings (the config's `aws_profile` still applies).
pub async fn load_with(
    path: &Path,
    doc: &Node,
    inv: &mut Inventory,
    settings: &AwsSettings,
) -> Result<()> {
    let cfg = Config::parse(path, doc)?;
    let mut settings = settings.clone();
    if settings.profile.is_none() {
        settings.profile = cfg.profile.clone();
    }
    let aws = Aws::connect(&settings).await;
    let fetched = fetch(&aws, &cfg).await.map_err(|e| aws.locate(e))?;
    populate(&cfg, &fetched, inv)
}

/// A `keyed_groups` entry.
#[derive(Debug, Clone)]
pub struct KeyedGroup {
    pub key: String,
    pub prefix: String,
    pub separator: String,
    pub parent_group: Option<String>,
    pub default_value: Option<String>,
    pub trailing_separator: bool,
    pub span: Span,
}

/// A `hostnames` entry: a preference (`tag:Name`, `dns-name` ...), optionally prefixed
/// by another preference's value.
#[derive(Debug, Clone)]
pub struct Hostname {
    pub name: String,
    pub prefix: Option<String>,
    pub separator: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: std::path::PathBuf,
    pub regions: Vec<String>,
    pub filters: Vec<(String, Vec<String>)>,
    pub include_filters: Vec<Vec<(String, Vec<String>)>>,
    pub exclude_filters: Vec<Vec<(String, Vec<String>)>>,
    pub hostnames: Vec<Hostname>,
    /// `None`: rdeploy's default groups (see the module doc).
    pub keyed_groups: Option<Vec<KeyedGroup>>,
    pub groups: Vec<(String, String, Span)>,
    pub compose: Vec<(String, String, Span)>,
    pub strict: bool,
    pub hostvars_prefix: String,
    pub hostvars_suffix: String,
    pub leading_separator: bool,
    pub contrib_sanitization: bool,
    pub elasticache: bool,
    pub ssh_host_keys: bool,
    /// rdeploy: expose RDS databases (`rdeploy_rds`, `database_endpoints`).
    pub rds: bool,
    pub page_size: Option<i32>,
    pub profile: Option<String>,
}

const KEYS: &[&str] = &[
    "plugin",
    "regions",
    "filters",
    "include_filters",
    "exclude_filters",
    "hostnames",
    "keyed_groups",
    "groups",
    "compose",
    "strict",
    "hostvars_prefix",
    "hostvars_suffix",
    "leading_separator",
    "use_contrib_script_compatible_sanitization",
    "use_extra_vars",
    "allow_duplicated_hosts",
    "strict_permissions",
    "cache",
    "cache_plugin",
    "cache_timeout",
    "cache_connection",
    "cache_prefix",
    "aws_profile",
    "profile",
    "boto_profile",
    "elasticache",
    "ssh_host_keys",
    "rds",
    "page_size",
];

impl Config {
    /// Validates the config (unknown keys, wrong types, bad expressions: file:line:col).
    pub fn parse(path: &Path, doc: &Node) -> Result<Config> {
        let map = doc
            .as_map()
            .ok_or_else(|| doc.error("an aws_ec2 inventory must be a mapping"))?;
        for (k, _) in map {
            let key = k.key_string().unwrap_or_default();
            if !KEYS.contains(&key.as_str()) {
                return Err(k.error(format!(
                    "unknown aws_ec2 option `{key}`; known options: {}",
                    KEYS.join(", ")
                )));
            }
            if [
                "include_extra_api_calls",
                "iam_role_arn",
                "use_ssm_inventory",
            ]
            .contains(&key.as_str())
            {
                return Err(k.error(format!(
                    "aws_ec2 option `{key}` is not supported by rdeploy"
                )));
            }
        }
        let get = |k: &str| doc.get(k).filter(|n| !n.is_null());
        let templar = Templar::new();
        let mut cfg = Config {
            path: path.to_path_buf(),
            regions: vec![],
            filters: vec![],
            include_filters: vec![],
            exclude_filters: vec![],
            hostnames: vec![
                Hostname {
                    name: "dns-name".into(),
                    prefix: None,
                    separator: "_".into(),
                },
                Hostname {
                    name: "private-dns-name".into(),
                    prefix: None,
                    separator: "_".into(),
                },
            ],
            keyed_groups: None,
            groups: vec![],
            compose: vec![],
            strict: false,
            hostvars_prefix: String::new(),
            hostvars_suffix: String::new(),
            leading_separator: true,
            contrib_sanitization: false,
            elasticache: true,
            ssh_host_keys: true,
            rds: true,
            page_size: None,
            profile: None,
        };
        if let Some(n) = get("regions") {
            for r in seq(n, "regions")? {
                cfg.regions.push(string(r, "a region")?);
            }
        }
        if let Some(n) = get("filters") {
            cfg.filters = filters_of(n)?;
        }
        for (key, list) in [
            ("include_filters", &mut cfg.include_filters),
            ("exclude_filters", &mut cfg.exclude_filters),
        ] {
            if let Some(n) = get(key) {
                for f in seq(n, key)? {
                    list.push(filters_of(f)?);
                }
            }
        }
        if let Some(n) = get("hostnames") {
            cfg.hostnames.clear();
            for h in seq(n, "hostnames")? {
                cfg.hostnames.push(hostname_of(h)?);
            }
        }
        if let Some(n) = get("keyed_groups") {
            let mut out = vec![];
            for kg in seq(n, "keyed_groups")? {
                out.push(keyed_group_of(kg, &templar)?);
            }
            cfg.keyed_groups = Some(out);
        } else if doc.get("keyed_groups").is_some() {
            cfg.keyed_groups = Some(vec![]);
        }
        if let Some(n) = get("groups") {
            for (k, v) in mapping(n, "groups")? {
                let name = k.key_string().unwrap_or_default();
                let cond = v
                    .scalar_string()
                    .ok_or_else(|| v.error("a group condition must be an expression string"))?;
                compile(&templar, &cond, v)?;
                cfg.groups.push((name, cond, v.span.clone()));
            }
        }
        if let Some(n) = get("compose") {
            for (k, v) in mapping(n, "compose")? {
                let name = k.key_string().unwrap_or_default();
                let expr = v
                    .scalar_string()
                    .ok_or_else(|| v.error("a compose value must be an expression string"))?;
                compile(&templar, &expr, v)?;
                cfg.compose.push((name, expr, v.span.clone()));
            }
        }
        let flag = |k: &str, default: bool| -> Result<bool> {
            match get(k) {
                None => Ok(default),
                Some(n) => match n.kind {
                    NodeKind::Bool(b) => Ok(b),
                    _ => Err(n.error(format!(
                        "`{k}` must be true or false, not a {}",
                        n.type_name()
                    ))),
                },
            }
        };
        cfg.strict = flag("strict", false)?;
        cfg.leading_separator = flag("leading_separator", true)?;
        cfg.contrib_sanitization = flag("use_contrib_script_compatible_sanitization", false)?;
        cfg.elasticache = flag("elasticache", true)?;
        cfg.ssh_host_keys = flag("ssh_host_keys", true)?;
        cfg.rds = flag("rds", true)?;
        if let Some(n) = get("hostvars_prefix") {
            cfg.hostvars_prefix = string(n, "hostvars_prefix")?;
        }
        if let Some(n) = get("hostvars_suffix") {
            cfg.hostvars_suffix = string(n, "hostvars_suffix")?;
        }
        if let Some(n) = get("page_size") {
            match n.kind {
                NodeKind::Int(i) if (5..=1000).contains(&i) => cfg.page_size = Some(i as i32),
                _ => return Err(n.error("`page_size` must be a number between 5 and 1000")),
            }
        }
        for k in ["aws_profile", "profile", "boto_profile"] {
            if let Some(n) = get(k) {
                cfg.profile = Some(string(n, k)?);
            }
        }
        Ok(cfg)
    }
}

fn seq<'a>(n: &'a Node, what: &str) -> Result<&'a Vec<Node>> {
    n.as_seq()
        .ok_or_else(|| n.error(format!("`{what}` must be a list, not a {}", n.type_name())))
}

fn mapping<'a>(n: &'a Node, what: &str) -> Result<&'a Vec<(Node, Node)>> {
    n.as_map().ok_or_else(|| {
        n.error(format!(
            "`{what}` must be a mapping, not a {}",
            n.type_name()
        ))
    })
}

fn string(n: &Node, what: &str) -> Result<String> {
    match &n.kind {
        NodeKind::Str(s) => Ok(s.clone()),
        _ => Err(n.error(format!("{what} must be a string, not a {}", n.type_name()))),
    }
}

fn filters_of(n: &Node) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = vec![];
    for (k, v) in mapping(n, "filters")? {
        let name = k.key_string().unwrap_or_default();
        let values = match &v.kind {
            NodeKind::Seq(items) => items
                .iter()
                .map(|i| {
                    i.scalar_string()
                        .ok_or_else(|| i.error("a filter value must be a scalar"))
                })
                .collect::<Result<Vec<_>>>()?,
            _ => vec![v
                .scalar_string()
                .ok_or_else(|| v.error("a filter value must be a scalar or a list"))?],
        };
        out.push((name, values));
    }
    Ok(out)
}

const HOSTNAME_PREFS: &[&str] = &[
    "dns-name",
    "private-dns-name",
    "ip-address",
    "public-ip-address",
    "private-ip-address",
    "instance-id",
    "network-interface.addresses.association.public-ip",
    "network-interface.addresses.private-ip-address",
    "image-id",
    "key-name",
];

fn check_pref(n: &Node, p: &str) -> Result<()> {
    if p.starts_with("tag:") || HOSTNAME_PREFS.contains(&p) {
        Ok(())
    } else {
        Err(n.error(format!(
            "unsupported hostnames preference `{p}` (use tag:KEY or one of: {})",
            HOSTNAME_PREFS.join(", ")
        )))
    }
}

fn hostname_of(n: &Node) -> Result<Hostname> {
    if let Some(s) = n.as_str() {
        check_pref(n, s)?;
        return Ok(Hostname {
            name: s.to_string(),
            prefix: None,
            separator: "_".into(),
        });
    }
    let m = mapping(n, "a hostnames entry")?;
    let mut h = Hostname {
        name: String::new(),
        prefix: None,
        separator: "_".into(),
    };
    for (k, v) in m {
        match k.key_string().unwrap_or_default().as_str() {
            "name" => {
                h.name = string(v, "name")?;
                check_pref(v, &h.name)?;
            }
            "prefix" => {
                let p = string(v, "prefix")?;
                check_pref(v, &p)?;
                h.prefix = Some(p);
            }
            "separator" => h.separator = v.scalar_string().unwrap_or_default(),
            other => {
                return Err(k.error(format!(
                    "unknown key `{other}` in a hostnames entry (name, prefix, separator)"
                )))
            }
        }
    }
    if h.name.is_empty() {
        return Err(n.error("a hostnames entry needs `name`"));
    }
    Ok(h)
}

fn keyed_group_of(n: &Node, templar: &Templar) -> Result<KeyedGroup> {
    let m = mapping(n, "a keyed_groups entry")?;
    let mut kg = KeyedGroup {
        key: String::new(),
        prefix: String::new(),
        separator: "_".into(),
        parent_group: None,
        default_value: None,
        trailing_separator: true,
        span: n.span.clone(),
    };
    for (k, v) in m {
        let key = k.key_string().unwrap_or_default();
        match key.as_str() {
            "key" => {
                kg.key = v.scalar_string().ok_or_else(|| v.error("`key` must be an expression"))?;
                kg.span = v.span.clone();
                compile(templar, &kg.key, v)?;
            }
            "prefix" => kg.prefix = v.scalar_string().unwrap_or_default(),
            "separator" => kg.separator = v.scalar_string().unwrap_or_default(),
            "parent_group" => kg.parent_group = Some(string(v, "parent_group")?),
            "default_value" => kg.default_value = Some(v.scalar_string().unwrap_or_default()),
            "trailing_separator" => match v.kind {
                NodeKind::Bool(b) => kg.trailing_separator = b,
                _ => return Err(v.error("`trailing_separator` must be true or false")),
            },
            other => {
                return Err(k.error(format!(
                    "unknown key `{other}` in keyed_groups (key, prefix, separator, parent_group, default_value, trailing_separator)"
                )))
            }
        }
    }
    if kg.key.is_empty() {
        return Err(n.error("a keyed_groups entry needs `key`"));
    }
    Ok(kg)
}

/// The expression inside `{{ }}` when written that way, else the text itself.
fn expr_text(s: &str) -> &str {
    single_expression(s).unwrap_or(s).trim()
}

fn compile(templar: &Templar, expr: &str, at: &Node) -> Result<()> {
    templar
        .env()
        .compile_expression(expr_text(expr))
        .map(|_| ())
        .map_err(|e| at.error(format!("invalid expression `{expr}`: {e}")))
}

// ---------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------

/// What the API calls returned: instances (as host facts) and ElastiCache resources.
#[derive(Debug, Default)]
pub struct Fetched {
    pub instances: Vec<Value>,
    pub elasticache: Vec<Value>,
    pub databases: Vec<Value>,
}

fn to_filters(list: &[(String, Vec<String>)], with_default_state: bool) -> Vec<Filter> {
    let mut out: Vec<Filter> = list
        .iter()
        .map(|(k, v)| {
            Filter::builder()
                .name(k)
                .set_values(Some(v.clone()))
                .build()
        })
        .collect();
    if with_default_state && !list.iter().any(|(k, _)| k == "instance-state-name") {
        out.push(aws::filter(
            "instance-state-name",
            &["running", "pending", "stopping", "stopped"],
        ));
    }
    out
}

/// Queries every region in parallel (all pages), applies include/exclude filters.
pub async fn fetch(aws: &Aws, cfg: &Config) -> Result<Fetched> {
    let regions = if cfg.regions.is_empty() {
        let region = aws.default_region();
        let out = aws
            .ec2(&region)
            .describe_regions()
            .send()
            .await
            .or_cloud(&region, "DescribeRegions")?;
        let mut r: Vec<String> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(String::from))
            .collect();
        r.sort();
        r
    } else {
        cfg.regions.clone()
    };
    let futs = regions.iter().map(|r| fetch_region(aws, cfg, r));
    let per_region = futures::future::try_join_all(futs).await?;
    let mut out = Fetched::default();
    for (i, e, d) in per_region {
        out.instances.extend(i);
        out.elasticache.extend(e);
        out.databases.extend(d);
    }
    Ok(out)
}

async fn fetch_region(
    aws: &Aws,
    cfg: &Config,
    region: &str,
) -> Result<(Vec<Value>, Vec<Value>, Vec<Value>)> {
    let ec2 = aws.ec2(region);
    let mut seen = std::collections::HashSet::new();
    let mut instances = vec![];
    let mut queries = vec![to_filters(&cfg.filters, true)];
    for f in &cfg.include_filters {
        queries.push(to_filters(f, true));
    }
    for filters in queries {
        for i in describe(&ec2, region, filters, cfg.page_size).await? {
            if seen.insert(i["instance_id"].as_str().unwrap_or_default().to_string()) {
                instances.push(i);
            }
        }
    }
    for f in &cfg.exclude_filters {
        let excluded: std::collections::HashSet<String> =
            describe(&ec2, region, to_filters(f, false), cfg.page_size)
                .await?
                .iter()
                .map(|i| i["instance_id"].as_str().unwrap_or_default().to_string())
                .collect();
        instances.retain(|i| !excluded.contains(i["instance_id"].as_str().unwrap_or_default()));
    }
    if cfg.ssh_host_keys {
        super::ec2_host_keys::mark(region, cfg.profile.as_deref(), &mut instances);
    }
    let caches = if cfg.elasticache {
        elasticache(aws, cfg, region).await?
    } else {
        vec![]
    };
    let databases = if cfg.rds {
        super::aws_rds::databases(aws, &cfg.filters, region).await?
    } else {
        vec![]
    };
    Ok((instances, caches, databases))
}

async fn describe(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    filters: Vec<Filter>,
    page_size: Option<i32>,
) -> Result<Vec<Value>> {
    let mut req = ec2.describe_instances();
    if !filters.is_empty() {
        req = req.set_filters(Some(filters));
    }
    // 1000 is EC2's largest page: the fewest round trips (and far faster on moto).
    let paginator = req.into_paginator().page_size(page_size.unwrap_or(1000));
    let mut pages = paginator.send();
    let mut out = vec![];
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeInstances")?;
        for r in page.reservations() {
            for i in r.instances() {
                out.push(instance_facts(i, region, r.owner_id(), r.requester_id()));
            }
        }
    }
    Ok(out)
}

fn s(v: Option<&str>) -> Value {
    match v {
        Some(x) => Value::from(x),
        None => Value::Null,
    }
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Value {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        .map(Value::from)
        .unwrap_or(Value::Null)
}

/// The instance's facts, named as the Ansible plugin names them (boto3's snake_case).
pub fn instance_facts(
    i: &aws_sdk_ec2::types::Instance,
    region: &str,
    owner: Option<&str>,
    requester: Option<&str>,
) -> Value {
    let tags: Map<String, Value> = i
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                Value::from(t.value().unwrap_or_default()),
            )
        })
        .collect();
    let sgs: Vec<Value> = i
        .security_groups()
        .iter()
        .map(|g| json!({"group_id": s(g.group_id()), "group_name": s(g.group_name())}))
        .collect();
    let placement = i.placement();
    let nics: Vec<Value> = i
        .network_interfaces()
        .iter()
        .map(|n| {
            json!({
                "network_interface_id": s(n.network_interface_id()),
                "private_ip_address": s(n.private_ip_address()),
                "private_dns_name": s(n.private_dns_name()),
                "subnet_id": s(n.subnet_id()),
                "vpc_id": s(n.vpc_id()),
                "mac_address": s(n.mac_address()),
                "status": s(n.status().map(|x| x.as_str())),
                "association": n.association().map(|a| json!({"public_ip": s(a.public_ip()), "public_dns_name": s(a.public_dns_name()), "ip_owner_id": s(a.ip_owner_id())})),
                "groups": n.groups().iter().map(|g| json!({"group_id": s(g.group_id()), "group_name": s(g.group_name())})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let bdm: Vec<Value> = i
        .block_device_mappings()
        .iter()
        .map(|b| {
            json!({
                "device_name": s(b.device_name()),
                "ebs": b.ebs().map(|e| json!({"volume_id": s(e.volume_id()), "status": s(e.status().map(|x| x.as_str())), "delete_on_termination": e.delete_on_termination(), "attach_time": time(e.attach_time())})),
            })
        })
        .collect();
    let nonempty = |v: Option<&str>| s(v.filter(|x| !x.is_empty()));
    json!({
        "ami_launch_index": i.ami_launch_index(),
        "architecture": s(i.architecture().map(|x| x.as_str())),
        "block_device_mappings": bdm,
        "client_token": s(i.client_token()),
        "ebs_optimized": i.ebs_optimized(),
        "ena_support": i.ena_support(),
        "hypervisor": s(i.hypervisor().map(|x| x.as_str())),
        "iam_instance_profile": i.iam_instance_profile().map(|p| json!({"arn": s(p.arn()), "id": s(p.id())})),
        "image_id": s(i.image_id()),
        "instance_id": s(i.instance_id()),
        "instance_lifecycle": s(i.instance_lifecycle().map(|x| x.as_str())),
        "instance_type": s(i.instance_type().map(|x| x.as_str())),
        "kernel_id": s(i.kernel_id()),
        "key_name": s(i.key_name()),
        "launch_time": time(i.launch_time()),
        "monitoring": {"state": s(i.monitoring().and_then(|m| m.state()).map(|x| x.as_str()))},
        "network_interfaces": nics,
        "owner_id": s(owner),
        "placement": {
            "availability_zone": s(placement.and_then(|p| p.availability_zone())),
            "group_name": s(placement.and_then(|p| p.group_name())),
            "tenancy": s(placement.and_then(|p| p.tenancy()).map(|x| x.as_str())),
            "region": region,
        },
        "platform": s(i.platform().map(|x| x.as_str())),
        "platform_details": s(i.platform_details()),
        "private_dns_name": nonempty(i.private_dns_name()),
        "private_ip_address": nonempty(i.private_ip_address()),
        "public_dns_name": nonempty(i.public_dns_name()),
        "public_ip_address": nonempty(i.public_ip_address()),
        "requester_id": s(requester),
        "root_device_name": s(i.root_device_name()),
        "root_device_type": s(i.root_device_type().map(|x| x.as_str())),
        "security_groups": sgs,
        "source_dest_check": i.source_dest_check(),
        "state": {"code": i.state().and_then(|x| x.code()), "name": s(i.state().and_then(|x| x.name()).map(|x| x.as_str()))},
        "state_transition_reason": s(i.state_transition_reason()),
        "subnet_id": s(i.subnet_id()),
        "tags": tags,
        "virtualization_type": s(i.virtualization_type().map(|x| x.as_str())),
        "vpc_id": s(i.vpc_id()),
    })
}

/// ElastiCache resources of a region whose tags match the config's `tag:` filters.
async fn elasticache(aws: &Aws, cfg: &Config, region: &str) -> Result<Vec<Value>> {
    let ec = aws.elasticache(region);
    let denied = |code: Option<&str>| {
        code.is_some_and(|c| c.contains("AccessDenied") || c.contains("Unauthorized"))
    };
    let mut found: Vec<Value> = vec![];
    let mut pages = ec.describe_replication_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if denied(aws_sdk_ec2::error::ProvideErrorMetadata::code(&e)) => {
                return Ok(vec![])
            }
            Err(e) => return Err(cloud_err(region, "DescribeReplicationGroups", e)),
        };
        for g in page.replication_groups() {
            let primary = g.node_groups().first().and_then(|n| n.primary_endpoint());
            let reader = g.node_groups().first().and_then(|n| n.reader_endpoint());
            let cfg_ep = g.configuration_endpoint();
            let (address, port) = match (primary, cfg_ep) {
                (Some(p), _) => (p.address().map(String::from), p.port()),
                (None, Some(c)) => (c.address().map(String::from), c.port()),
                _ => (None, None),
            };
            found.push(json!({
                "id": s(g.replication_group_id()), "kind": "replication_group", "engine": s(g.engine()),
                "status": s(g.status()), "node_type": s(g.cache_node_type()), "region": region,
                "address": address, "port": port, "reader_address": s(reader.and_then(|r| r.address())),
                "members": g.member_clusters(), "arn": s(g.arn()),
            }));
        }
    }
    let mut pages = ec
        .describe_cache_clusters()
        .show_cache_node_info(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if denied(aws_sdk_ec2::error::ProvideErrorMetadata::code(&e)) => {
                return Ok(found)
            }
            Err(e) => return Err(cloud_err(region, "DescribeCacheClusters", e)),
        };
        for c in page.cache_clusters() {
            if c.replication_group_id().is_some_and(|r| !r.is_empty()) {
                continue;
            }
            let ep = c
                .cache_nodes()
                .first()
                .and_then(|n| n.endpoint())
                .or(c.configuration_endpoint());
            found.push(json!({
                "id": s(c.cache_cluster_id()), "kind": "cache_cluster", "engine": s(c.engine()),
                "engine_version": s(c.engine_version()), "status": s(c.cache_cluster_status()),
                "node_type": s(c.cache_node_type()), "region": region,
                "address": s(ep.and_then(|e| e.address())), "port": ep.and_then(|e| e.port()),
                "reader_address": Value::Null, "arn": s(c.arn()),
            }));
        }
    }
    let tag_filters: Vec<(&str, &Vec<String>)> = cfg
        .filters
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("tag:").map(|t| (t, v)))
        .collect();
    let mut out = vec![];
    for mut r in found {
        if r["status"] == "deleting" {
            continue;
        }
        let arn = r["arn"].as_str().unwrap_or_default().to_string();
        let tags = crate::provision::state::ec_tags(&ec, &arn, region)
            .await
            .unwrap_or(None)
            .unwrap_or_default();
        let matches = tag_filters.iter().all(|(k, vals)| {
            tags.get(*k)
                .is_some_and(|v| vals.iter().any(|x| glob_match(x, v)))
        });
        if !matches {
            continue;
        }
        r["tags"] = json!(tags);
        r["name"] = json!(tags
            .get(aws::tag::NAME)
            .cloned()
            .unwrap_or_else(|| r["id"].as_str().unwrap_or_default().to_string()));
        if let Some(v) = tags.get(aws::tag::CONFIG).and_then(|c| {
            crate::provision::state::parse_config_tag(c)
                .get("engine")
                .cloned()
        }) {
            if r.get("engine_version").is_none_or(|x| x.is_null()) && v != "default" {
                r["engine_version"] = json!(v);
            }
        }
        r["endpoint"] = match (r["address"].as_str(), r["port"].as_i64()) {
            (Some(a), Some(p)) => json!(format!("{a}:{p}")),
            _ => Value::Null,
        };
        out.push(r);
    }
    // A stable order for `rdeploy_elasticache` and `redis_endpoints`, as for hosts.
    let id = |r: &Value| r["id"].as_str().unwrap_or_default().to_string();
    out.sort_by(|a, b| super::natural_cmp(&id(a), &id(b)));
    Ok(out)
}

/// EC2-filter-style wildcard match (`*` and `?`).
pub(super) fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    let re = format!(
        "^{}$",
        regex::escape(pattern)
            .replace("\\*", ".*")
            .replace("\\?", ".")
    );
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(text))
}

// ---------------------------------------------------------------------------
// Building the inventory
// ---------------------------------------------------------------------------

/// Group name sanitizing: `[^A-Za-z0-9_]` becomes `_` (with
/// `use_contrib_script_compatible_sanitization`, `-` is kept as ec2.py did).
pub fn sanitize(name: &str, contrib: bool) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (contrib && c == '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The ec2.py-style `ec2_*` variables.
fn ec2_aliases(f: &Value) -> Vars {
    let mut v = Vars::new();
    let get = |p: &str| -> Value {
        let mut cur = f;
        for part in p.split('.') {
            cur = &cur[part];
        }
        cur.clone()
    };
    let str_or_empty = |p: &str| -> Value {
        match get(p) {
            Value::Null => Value::from(""),
            x => x,
        }
    };
    v.insert("ec2_id".into(), get("instance_id"));
    v.insert("ec2_instance_type".into(), get("instance_type"));
    v.insert("ec2_state".into(), get("state.name"));
    v.insert("ec2_state_code".into(), get("state.code"));
    v.insert(
        "ec2_private_ip_address".into(),
        str_or_empty("private_ip_address"),
    );
    v.insert("ec2_ip_address".into(), str_or_empty("public_ip_address"));
    v.insert("ec2_dns_name".into(), str_or_empty("public_dns_name"));
    v.insert(
        "ec2_public_dns_name".into(),
        str_or_empty("public_dns_name"),
    );
    v.insert(
        "ec2_private_dns_name".into(),
        str_or_empty("private_dns_name"),
    );
    v.insert("ec2_region".into(), get("placement.region"));
    v.insert("ec2_placement".into(), get("placement.availability_zone"));
    v.insert("ec2_vpc_id".into(), str_or_empty("vpc_id"));
    v.insert("ec2_subnet_id".into(), str_or_empty("subnet_id"));
    v.insert("ec2_image_id".into(), get("image_id"));
    v.insert("ec2_key_name".into(), str_or_empty("key_name"));
    v.insert("ec2_launch_time".into(), get("launch_time"));
    v.insert("ec2_architecture".into(), get("architecture"));
    v.insert("ec2_root_device_type".into(), get("root_device_type"));
    let sgs = f["security_groups"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = sgs.iter().filter_map(|g| g["group_id"].as_str()).collect();
    let names: Vec<&str> = sgs
        .iter()
        .filter_map(|g| g["group_name"].as_str())
        .collect();
    v.insert("ec2_security_group_ids".into(), Value::from(ids.join(",")));
    v.insert(
        "ec2_security_group_names".into(),
        Value::from(names.join(",")),
    );
    if let Some(tags) = f["tags"].as_object() {
        v.insert("ec2_tags".into(), Value::Object(tags.clone()));
        for (k, val) in tags {
            v.insert(sanitize(&format!("ec2_tag_{k}"), false), val.clone());
        }
    }
    v
}

/// The value of a hostname preference for an instance.
fn preference(f: &Value, pref: &str) -> Option<String> {
    if let Some(tags) = pref.strip_prefix("tag:") {
        for t in tags.split(',') {
            if let Some((k, want)) = t.split_once('=') {
                if f["tags"][k].as_str() == Some(want) {
                    return Some(format!("{k}_{want}"));
                }
            } else if let Some(v) = f["tags"][t].as_str().filter(|v| !v.is_empty()) {
                return Some(v.to_string());
            }
        }
        return None;
    }
    let v = match pref {
        "dns-name" => &f["public_dns_name"],
        "private-dns-name" => &f["private_dns_name"],
        "ip-address"
        | "public-ip-address"
        | "network-interface.addresses.association.public-ip" => &f["public_ip_address"],
        "private-ip-address" | "network-interface.addresses.private-ip-address" => {
            &f["private_ip_address"]
        }
        "instance-id" => &f["instance_id"],
        "image-id" => &f["image_id"],
        "key-name" => &f["key_name"],
        _ => &Value::Null,
    };
    v.as_str().filter(|s| !s.is_empty()).map(String::from)
}

fn hostname_for(cfg: &Config, f: &Value) -> Option<String> {
    for h in &cfg.hostnames {
        let Some(name) = preference(f, &h.name) else {
            continue;
        };
        return match &h.prefix {
            None => Some(name),
            Some(p) => preference(f, p).map(|pre| format!("{pre}{}{name}", h.separator)),
        };
    }
    None
}

/// The instances that have a hostname, in host order: by hostname, digit runs compared
/// as numbers (`api-2` before `api-10`, see [`super::natural_cmp`]), then by instance id.
/// The API returns instances in no stable order; sorting here makes every group and
/// `all` list this source's hosts in the same order on every run.
fn sorted_hosts<'a>(cfg: &Config, instances: &'a [Value]) -> Vec<(String, &'a Value)> {
    let mut out: Vec<(String, &Value)> = instances
        .iter()
        .filter_map(|f| hostname_for(cfg, f).map(|h| (h, f)))
        .collect();
    out.sort_by(|(a, fa), (b, fb)| {
        super::natural_cmp(a, b).then_with(|| {
            let id = |f: &Value| f["instance_id"].as_str().unwrap_or_default().to_string();
            id(fa).cmp(&id(fb))
        })
    });
    out
}

/// Turns fetched instances into hosts and groups (no API call: testable and timed
/// separately from the fetch). Hosts are added in [`sorted_hosts`] order.
pub fn populate(cfg: &Config, fetched: &Fetched, inv: &mut Inventory) -> Result<()> {
    let templar = Templar::new();
    let env = templar.env();
    fn compile_at<'e, 's>(
        env: &'e minijinja::Environment<'static>,
        e: &'s str,
        span: &Span,
    ) -> Result<minijinja::Expression<'e, 's>> {
        env.compile_expression(expr_text(e))
            .map_err(|x| Error::source_at(span, format!("invalid expression `{e}`: {x}")))
    }
    let compile = |e, span| compile_at(env, e, span);
    let compose: Vec<(String, minijinja::Expression<'_, '_>, Span)> = cfg
        .compose
        .iter()
        .map(|(k, e, sp)| Ok((k.clone(), compile(e, sp)?, sp.clone())))
        .collect::<Result<_>>()?;
    let groups: Vec<(String, minijinja::Expression<'_, '_>, Span)> = cfg
        .groups
        .iter()
        .map(|(k, e, sp)| Ok((k.clone(), compile(e, sp)?, sp.clone())))
        .collect::<Result<_>>()?;
    let keyed: Vec<(&KeyedGroup, minijinja::Expression<'_, '_>)> = match &cfg.keyed_groups {
        Some(list) => list
            .iter()
            .map(|k| Ok((k, compile(&k.key, &k.span)?)))
            .collect::<Result<_>>()?,
        None => vec![],
    };

    inv.add_group("aws_ec2");
    inv.add_child("all", "aws_ec2")?;
    for (host, f) in sorted_hosts(cfg, &fetched.instances) {
        // Host variables: the facts, then the ec2_* aliases.
        let aliases = ec2_aliases(f);
        let mut vars = Vars::new();
        if let Some(obj) = f.as_object() {
            for (k, v) in obj {
                vars.insert(
                    format!("{}{k}{}", cfg.hostvars_prefix, cfg.hostvars_suffix),
                    v.clone(),
                );
            }
        }
        // Expressions see the facts without prefix/suffix and the aliases, then the
        // composed variables layered on top (each compose entry sees the earlier ones).
        let mut base: Map<String, Value> = f.as_object().cloned().unwrap_or_default();
        for (k, v) in &aliases {
            base.insert(k.clone(), v.clone());
        }
        for (k, v) in aliases {
            vars.insert(k, v);
        }
        // Read by the connection under this name whatever the prefix/suffix.
        if let Some(v) = f.get(crate::ssh::trusted_keys::VAR) {
            vars.insert(crate::ssh::trusted_keys::VAR.to_string(), v.clone());
        }
        let base = crate::template::from_json(&Value::Object(base));
        let mut composed: IndexMap<String, minijinja::Value> = IndexMap::new();
        let mut ctx = base.clone();
        for (name, expr, span) in &compose {
            match expr.eval(&ctx) {
                Ok(v) if !v.is_undefined() => {
                    vars.insert(name.clone(), to_json(&v));
                    composed.insert(name.clone(), v);
                    ctx = minijinja::value::merge_maps([
                        minijinja::Value::from_pairs(composed.clone()),
                        base.clone(),
                    ]);
                }
                Ok(_) => {}
                Err(e) if cfg.strict => {
                    return Err(Error::source_at(
                        span,
                        format!("compose `{name}` for host {host}: {e}"),
                    ))
                }
                Err(_) => {}
            }
        }

        inv.add_host(&host, Some("aws_ec2"));
        for (k, v) in vars {
            inv.set_host_var(&host, &k, v);
        }

        // groups: conditions.
        for (name, expr, span) in &groups {
            match expr.eval(&ctx) {
                Ok(v) => {
                    if truthy(&v) {
                        inv.add_host(&host, Some(name));
                    }
                }
                Err(e) if cfg.strict => {
                    return Err(Error::source_at(
                        span,
                        format!("group `{name}` for host {host}: {e}"),
                    ))
                }
                Err(_) => {}
            }
        }

        // keyed_groups.
        if cfg.keyed_groups.is_none() {
            for g in default_groups(f, cfg.contrib_sanitization) {
                inv.add_host(&host, Some(&g));
            }
        }
        for (kg, expr) in &keyed {
            let value = match expr.eval(&ctx) {
                Ok(v) => to_json(&v),
                Err(e) if cfg.strict => {
                    return Err(Error::source_at(
                        &kg.span,
                        format!("keyed_groups key `{}` for host {host}: {e}", kg.key),
                    ))
                }
                Err(_) => continue,
            };
            for name in keyed_names(kg, &value, cfg) {
                inv.add_host(&host, Some(&name));
                if let Some(parent) = &kg.parent_group {
                    let parent = sanitize(parent, cfg.contrib_sanitization);
                    if parent != name {
                        inv.add_child(&parent, &name)?;
                    }
                }
            }
        }
    }

    if !fetched.elasticache.is_empty() || cfg.elasticache {
        let mut by_id = inv
            .extra_vars_all
            .get("rdeploy_elasticache")
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        let mut endpoints = inv
            .extra_vars_all
            .get("redis_endpoints")
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        for r in &fetched.elasticache {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            if let Some(ep) = r["endpoint"].as_str() {
                endpoints.insert(r["name"].as_str().unwrap_or(&id).to_string(), json!(ep));
            }
            by_id.insert(id, r.clone());
        }
        inv.extra_vars_all
            .insert("rdeploy_elasticache".into(), Value::Object(by_id));
        inv.extra_vars_all
            .insert("redis_endpoints".into(), Value::Object(endpoints));
    }
    if !fetched.databases.is_empty() || cfg.rds {
        let mut by_id = serde_json::Map::new();
        let mut endpoints = serde_json::Map::new();
        for d in &fetched.databases {
            let id = d["id"].as_str().unwrap_or_default().to_string();
            if let Some(ep) = d["endpoint"].as_str() {
                endpoints.insert(d["name"].as_str().unwrap_or(&id).to_string(), json!(ep));
            }
            by_id.insert(id, d.clone());
        }
        inv.extra_vars_all
            .insert("rdeploy_rds".into(), Value::Object(by_id));
        inv.extra_vars_all
            .insert("database_endpoints".into(), Value::Object(endpoints));
    }
    Ok(())
}

/// The group names of a keyed group for an evaluated key (Ansible's constructed rules).
fn keyed_names(kg: &KeyedGroup, value: &Value, cfg: &Config) -> Vec<String> {
    let sep = if kg.prefix.is_empty() && !cfg.leading_separator {
        ""
    } else {
        kg.separator.as_str()
    };
    let scalar = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            other => other.to_string(),
        }
    };
    let mut bare: Vec<String> = vec![];
    match value {
        Value::Array(items) => bare.extend(items.iter().map(scalar)),
        Value::Object(m) => {
            for (k, v) in m {
                let v = scalar(v);
                if v.is_empty() {
                    match &kg.default_value {
                        Some(d) => bare.push(format!("{k}{}{d}", kg.separator)),
                        None if !kg.trailing_separator => bare.push(k.clone()),
                        None => bare.push(format!("{k}{}", kg.separator)),
                    }
                } else {
                    bare.push(format!("{k}{}{v}", kg.separator));
                }
            }
        }
        Value::Null => {
            if let Some(d) = &kg.default_value {
                bare.push(d.clone());
            } else {
                return vec![];
            }
        }
        other => {
            let s = scalar(other);
            if s.is_empty() {
                match &kg.default_value {
                    Some(d) => bare.push(d.clone()),
                    None if !kg.trailing_separator => {
                        return vec![sanitize(&kg.prefix, cfg.contrib_sanitization)]
                            .into_iter()
                            .filter(|s| !s.is_empty())
                            .collect()
                    }
                    None => bare.push(String::new()),
                }
            } else {
                bare.push(s);
            }
        }
    }
    bare.into_iter()
        .map(|b| sanitize(&format!("{}{sep}{b}", kg.prefix), cfg.contrib_sanitization))
        .filter(|n| !n.is_empty())
        .collect()
}

/// rdeploy's default groups when no `keyed_groups` is configured (ec2.py's names).
fn default_groups(f: &Value, contrib: bool) -> Vec<String> {
    let mut out = vec![];
    if let Some(tags) = f["tags"].as_object() {
        for (k, v) in tags {
            out.push(sanitize(
                &format!("tag_{k}_{}", v.as_str().unwrap_or_default()),
                contrib,
            ));
        }
    }
    if let Some(r) = f["placement"]["region"].as_str() {
        out.push(sanitize(r, contrib));
    }
    if let Some(az) = f["placement"]["availability_zone"].as_str() {
        out.push(sanitize(az, contrib));
    }
    if let Some(t) = f["instance_type"].as_str() {
        out.push(sanitize(&format!("type_{t}"), contrib));
    }
    for g in f["security_groups"].as_array().into_iter().flatten() {
        if let Some(n) = g["group_name"].as_str() {
            out.push(sanitize(&format!("security_group_{n}"), contrib));
        }
    }
    if let Some(k) = f["key_name"].as_str() {
        out.push(sanitize(&format!("key_{k}"), contrib));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<Config> {
        let doc = crate::yaml::load_str(text, Path::new("aws_ec2.yml")).unwrap();
        Config::parse(Path::new("aws_ec2.yml"), &doc)
    }

    fn fact(id: &str, name: &str, ip: &str) -> Value {
        json!({
            "instance_id": id, "instance_type": "t3.micro", "state": {"code": 16, "name": "running"},
            "private_ip_address": "10.0.0.5", "public_ip_address": ip, "public_dns_name": format!("ec2-{id}.compute.amazonaws.com"),
            "private_dns_name": "ip-10-0-0-5.ec2.internal",
            "placement": {"availability_zone": "us-east-1a", "region": "us-east-1"},
            "security_groups": [{"group_id": "sg-1", "group_name": "shop-dev-api"}],
            "tags": {"Name": name, "rdeploy:ssh": "127.0.0.1:2201"}, "key_name": "shop-dev", "vpc_id": "vpc-1", "subnet_id": "subnet-1",
        })
    }

    fn build(c: &Config, facts: Vec<Value>) -> Inventory {
        let mut inv = Inventory::new();
        populate(
            c,
            &Fetched {
                instances: facts,
                elasticache: vec![],
                databases: vec![],
            },
            &mut inv,
        )
        .unwrap();
        inv
    }

    #[test]
    fn unknown_option_has_position() {
        let e = cfg("plugin: aws_ec2\nregion: [us-east-1]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("aws_ec2.yml:2:1: unknown aws_ec2 option `region`"),
            "{e}"
        );
        let e = cfg("plugin: aws_ec2\ncompose:\n  ansible_host: public_ip_address |\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("aws_ec2.yml:3:17: invalid expression"), "{e}");
    }

    #[test]
    fn keyed_groups_compose_and_groups() {
        let c = cfg("plugin: aws_ec2\nhostnames: [tag:Name, instance-id]\nkeyed_groups:\n  - {prefix: tag, key: tags}\n  - {prefix: sg, key: \"security_groups | map(attribute='group_name')\"}\n  - {key: placement.region, prefix: aws_region}\ngroups:\n  public: public_ip_address is defined and public_ip_address\ncompose:\n  ansible_host: \"tags['rdeploy:ssh'].split(':')[0]\"\n  ansible_port: \"tags['rdeploy:ssh'].split(':')[1] | int\"\n").unwrap();
        let inv = build(
            &c,
            vec![fact("i-1", "api", "54.0.0.1"), fact("i-2", "api_lb", "")],
        );
        assert!(inv.groups["tag_Name_api"]
            .hosts
            .contains(&"api".to_string()));
        assert!(inv.groups["tag_Name_api_lb"]
            .hosts
            .contains(&"api_lb".to_string()));
        assert!(inv.groups.contains_key("tag_rdeploy_ssh_127_0_0_1_2201"));
        assert!(inv.groups["sg_shop_dev_api"].hosts.len() == 2);
        assert!(inv.groups["aws_region_us_east_1"].hosts.len() == 2);
        assert_eq!(inv.groups["public"].hosts, vec!["api".to_string()]);
        let h = &inv.hosts["api"].vars;
        assert_eq!(h["ansible_host"], json!("127.0.0.1"));
        assert_eq!(h["ansible_port"], json!(2201));
        assert_eq!(h["ec2_tag_Name"], json!("api"));
        assert_eq!(h["ec2_id"], json!("i-1"));
        assert_eq!(h["ec2_security_group_names"], json!("shop-dev-api"));
        assert!(inv.groups["aws_ec2"].hosts.len() == 2);
    }

    #[test]
    fn default_groups_and_hostnames() {
        let c = cfg("plugin: amazon.aws.aws_ec2\n").unwrap();
        let inv = build(&c, vec![fact("i-1", "api", "54.0.0.1")]);
        let host = "ec2-i-1.compute.amazonaws.com";
        assert!(inv.hosts.contains_key(host));
        for g in [
            "tag_Name_api",
            "us_east_1",
            "us_east_1a",
            "type_t3_micro",
            "security_group_shop_dev_api",
            "key_shop_dev",
        ] {
            assert!(
                inv.groups
                    .get(g)
                    .is_some_and(|g| g.hosts.iter().any(|h| h == host)),
                "{g}"
            );
        }
    }

    #[test]
    fn keyed_group_edge_cases() {
        let c = cfg("plugin: aws_ec2\nhostnames: [instance-id]\nkeyed_groups:\n  - {key: tags.Missing | default(''), prefix: miss, default_value: none}\n  - {key: tags.Missing | default(''), prefix: bare, trailing_separator: false}\n  - {key: instance_type, prefix: '', separator: ''}\n  - {key: tags.Name, parent_group: roles}\n").unwrap();
        let inv = build(&c, vec![fact("i-1", "api", "")]);
        assert!(inv.groups.contains_key("miss_none"));
        assert!(inv.groups.contains_key("bare"));
        assert!(inv.groups.contains_key("t3_micro"));
        assert!(inv.groups.contains_key("_api"));
        assert!(inv.groups["roles"].children.contains(&"_api".to_string()));
    }

    #[test]
    fn strict_reports_the_expression() {
        let c = cfg("plugin: aws_ec2\nhostnames: [instance-id]\nstrict: true\ncompose:\n  x: tags.Nope.upper()\n").unwrap();
        let mut inv = Inventory::new();
        let e = populate(
            &c,
            &Fetched {
                instances: vec![fact("i-1", "api", "")],
                elasticache: vec![],
                databases: vec![],
            },
            &mut inv,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("aws_ec2.yml:5:6: compose `x` for host i-1"),
            "{e}"
        );
        let c =
            cfg("plugin: aws_ec2\nhostnames: [instance-id]\ncompose:\n  x: tags.Nope.upper()\n")
                .unwrap();
        let inv = build(&c, vec![fact("i-1", "api", "")]);
        assert!(!inv.hosts["i-1"].vars.contains_key("x"));
    }

    #[test]
    fn hosts_are_in_natural_order_whatever_the_api_order() {
        let c = cfg("plugin: aws_ec2\nhostnames: [tag:Name]\ngroups:\n  api: true\n").unwrap();
        let facts = vec![
            fact("i-3", "api-10", ""),
            fact("i-1", "api-2", ""),
            fact("i-2", "api-1", ""),
        ];
        let inv = build(&c, facts);
        let want = ["api-1", "api-2", "api-10"];
        assert_eq!(inv.group_hosts("all"), want);
        assert_eq!(inv.group_hosts("api"), want);
        assert_eq!(inv.group_hosts("aws_ec2"), want);
        assert_eq!(inv.group_hosts("tag_Name_api_10"), ["api-10"]);
        assert_eq!(inv.group_hosts("us_east_1"), want);
    }

    #[test]
    fn hostname_tag_forms() {
        let f = fact("i-9", "web", "");
        assert_eq!(preference(&f, "tag:Name"), Some("web".into()));
        assert_eq!(preference(&f, "tag:Nope,Name"), Some("web".into()));
        assert_eq!(preference(&f, "tag:Name=web"), Some("Name_web".into()));
        assert_eq!(preference(&f, "ip-address"), None);
        let c = cfg("plugin: aws_ec2\nhostnames:\n  - {name: tag:Name, prefix: instance-id, separator: '-'}\n").unwrap();
        assert_eq!(hostname_for(&c, &f), Some("i-9-web".into()));
    }
}
