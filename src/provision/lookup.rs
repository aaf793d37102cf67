//! Lookups: what the spec refers to but rdeploy does not own — availability zones,
//! the default or an existing VPC and its subnets, AMIs (by id or by owner + name
//! pattern, newest wins), existing key pairs and cache subnet groups. Read-only.

use super::aws::{self, cloud_err, Aws};
use super::spec::{AmiSpec, Network, Spec};
use crate::aws::SdkResult;
use crate::error::{Error, Result};
use indexmap::IndexMap;

#[derive(Debug, Clone, Default)]
pub struct Lookups {
    pub regions: IndexMap<String, RegionLookups>,
}

#[derive(Debug, Clone, Default)]
pub struct RegionLookups {
    /// Available zones, sorted by name.
    pub azs: Vec<String>,
    /// For `network: default` and existing VPCs: the VPC and its subnets (id, zone).
    pub vpc_id: Option<String>,
    pub subnets: Vec<(String, String)>,
    /// The AMI of each instance group living in this region.
    pub amis: IndexMap<String, Ami>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ami {
    pub id: String,
    pub name: String,
    pub root_device: Option<String>,
}

pub async fn lookup(aws: &Aws, spec: &Spec) -> Result<Lookups> {
    let regions = spec.used_regions();
    let futs = regions.iter().map(|r| lookup_region(aws, spec, r));
    let found = futures::future::try_join_all(futs).await?;
    Ok(Lookups {
        regions: regions.into_iter().zip(found).collect(),
    })
}

async fn lookup_region(aws: &Aws, spec: &Spec, region: &str) -> Result<RegionLookups> {
    let ec2 = aws.ec2(region);
    let mut out = RegionLookups::default();

    let azs = ec2
        .describe_availability_zones()
        .set_filters(Some(vec![aws::filter("state", &["available"])]))
        .send()
        .await
        .or_cloud(region, "DescribeAvailabilityZones")?;
    out.azs = azs
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(String::from))
        .collect();
    out.azs.sort();
    if let Network::Create { azs, span, .. } = &spec.network {
        if out.azs.len() < *azs as usize {
            return Err(Error::source_at(
                span,
                format!(
                    "region {region} has {} availability zones, the network asks for {azs}",
                    out.azs.len()
                ),
            ));
        }
    }

    match &spec.network {
        Network::Create { .. } => {}
        Network::Default => {
            let vpcs = ec2
                .describe_vpcs()
                .set_filters(Some(vec![aws::filter("isDefault", &["true"])]))
                .send()
                .await
                .or_cloud(region, "DescribeVpcs")?;
            let vpc = vpcs.vpcs().first().and_then(|v| v.vpc_id()).ok_or_else(|| {
                Error::cloud_in(region, "there is no default VPC; give the spec a `network:` with a `cidr` to create one")
            })?;
            let subs = ec2
                .describe_subnets()
                .set_filters(Some(vec![
                    aws::filter("vpc-id", &[vpc]),
                    aws::filter("default-for-az", &["true"]),
                ]))
                .send()
                .await
                .or_cloud(region, "DescribeSubnets")?;
            out.vpc_id = Some(vpc.to_string());
            out.subnets = subs
                .subnets()
                .iter()
                .filter_map(|s| {
                    Some((
                        s.subnet_id()?.to_string(),
                        s.availability_zone().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            out.subnets.sort_by(|a, b| a.1.cmp(&b.1));
            if out.subnets.is_empty() {
                return Err(Error::cloud_in(
                    region,
                    format!("the default VPC {vpc} has no default subnets"),
                ));
            }
        }
        Network::Existing { vpc_id, subnet_ids } => {
            let subs = ec2
                .describe_subnets()
                .set_subnet_ids(Some(subnet_ids.clone()))
                .send()
                .await
                .or_cloud(region, "DescribeSubnets")?;
            for s in subs.subnets() {
                if s.vpc_id() != Some(vpc_id.as_str()) {
                    return Err(Error::cloud_in(
                        region,
                        format!(
                            "subnet {} is in {}, not in {vpc_id}",
                            s.subnet_id().unwrap_or_default(),
                            s.vpc_id().unwrap_or_default()
                        ),
                    ));
                }
                out.subnets.push((
                    s.subnet_id().unwrap_or_default().to_string(),
                    s.availability_zone().unwrap_or_default().to_string(),
                ));
            }
            out.vpc_id = Some(vpc_id.clone());
        }
    }

    let mut cache: Vec<(AmiSpec, Ami)> = vec![];
    for g in spec
        .instances
        .values()
        .filter(|g| g.regions.iter().any(|r| r == region))
    {
        let ami = match cache.iter().find(|(s, _)| *s == g.ami) {
            Some((_, a)) => a.clone(),
            None => {
                let a = resolve_ami(&ec2, region, &g.ami)
                    .await
                    .map_err(|e| match e {
                        Error::Cloud(m) => {
                            Error::source_at(&g.span, format!("instance group `{}`: {m}", g.name))
                        }
                        other => other,
                    })?;
                cache.push((g.ami.clone(), a.clone()));
                a
            }
        };
        out.amis.insert(g.name.clone(), ami);
    }

    // Key pairs used by name only must exist.
    let mut names: Vec<String> = vec![];
    for g in spec
        .instances
        .values()
        .filter(|g| g.regions.iter().any(|r| r == region))
    {
        if let Some(k) = &g.key_name {
            let managed = spec
                .key_pair
                .as_ref()
                .is_some_and(|kp| kp.public_key.is_some() && &kp.name == k);
            if !managed && !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    for k in names {
        match ec2.describe_key_pairs().key_names(&k).send().await {
            Ok(_) => {}
            Err(e) if aws::is_not_found(&e) => {
                return Err(Error::cloud_in(region, format!("key pair `{k}` does not exist (give `key_pair` a `public_key_file` to import it)"
                )))
            }
            Err(e) => return Err(cloud_err(region, "DescribeKeyPairs", e)),
        }
    }

    let ec = aws.elasticache(region);
    for r in spec.redis.values().filter(|r| r.region == region) {
        if let Some(g) = &r.subnet_group {
            match ec
                .describe_cache_subnet_groups()
                .cache_subnet_group_name(g)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if aws::is_not_found(&e) => {
                    return Err(Error::source_at(
                        &r.span,
                        format!(
                            "redis `{}`: cache subnet group `{g}` does not exist in {region}",
                            r.name
                        ),
                    ))
                }
                Err(e) => return Err(cloud_err(region, "DescribeCacheSubnetGroups", e)),
            }
        }
    }
    Ok(out)
}

async fn resolve_ami(ec2: &aws_sdk_ec2::Client, region: &str, spec: &AmiSpec) -> Result<Ami> {
    let to_ami = |i: &aws_sdk_ec2::types::Image| Ami {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        root_device: i.root_device_name().map(String::from),
    };
    match spec {
        AmiSpec::Id(id) => {
            let out = ec2.describe_images().image_ids(id).send().await;
            match out {
                Ok(o) => o
                    .images()
                    .first()
                    .map(to_ami)
                    .ok_or_else(|| Error::cloud(format!("AMI {id} not found in {region}"))),
                Err(e) if aws::is_not_found(&e) => {
                    Err(Error::cloud(format!("AMI {id} not found in {region}")))
                }
                Err(e) => Err(cloud_err(region, "DescribeImages", e)),
            }
        }
        AmiSpec::Lookup {
            owners,
            name,
            architecture,
        } => {
            let mut filters = vec![
                aws::filter("name", &[name]),
                aws::filter("state", &["available"]),
            ];
            if let Some(a) = architecture {
                filters.push(aws::filter("architecture", &[a]));
            }
            let out = ec2
                .describe_images()
                .set_owners(Some(owners.clone()))
                .set_filters(Some(filters))
                .send()
                .await
                .or_cloud(region, "DescribeImages")?;
            let best = out
                .images()
                .iter()
                .max_by(|a, b| (a.creation_date(), a.name()).cmp(&(b.creation_date(), b.name())))
                .map(to_ami);
            best.ok_or_else(|| {
                Error::cloud(format!(
                    "no AMI of {} named `{name}` in {region}",
                    owners.join(", ")
                ))
            })
        }
    }
}
