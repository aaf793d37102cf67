//! Reading the spec's sections: network, key pair, security groups and their rules,
//! instance groups, Redis — each checked with positions.

use super::*;

pub(super) fn network_of(n: &Node, regions: &[String]) -> Result<Network> {
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

pub(super) fn key_pair_of(
    n: &Node,
    spec_path: &Path,
    project: &str,
    env: &str,
) -> Result<KeyPairSpec> {
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

pub(super) fn expand_path(file: &str, spec_path: &Path) -> PathBuf {
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

pub(super) fn security_group_of(name: &str, n: &Node) -> Result<SecurityGroupSpec> {
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

pub(super) fn rule_of(n: &Node) -> Result<Vec<(RuleSpec, Span)>> {
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

pub(super) fn group_source_of(v: &Node) -> Result<Source> {
    let s = str_of(v, "a security group name")?;
    Ok(if s.starts_with("sg-") {
        Source::GroupId(s)
    } else {
        Source::Group(s)
    })
}

pub(super) fn cidr_of(v: &Node) -> Result<String> {
    let s = str_of(v, "a CIDR block")?;
    let c = Cidr::parse(&s)
        .ok_or_else(|| v.error(format!("`{s}` is not an IPv4 CIDR block (like 10.0.0.0/8)")))?;
    Ok(c.to_string())
}

pub(super) fn port_range_of(v: &Node) -> Result<(i32, i32)> {
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

pub(super) fn instance_group_of(
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

pub(super) fn ami_of(n: &Node) -> Result<AmiSpec> {
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

pub(super) fn redis_of(
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
