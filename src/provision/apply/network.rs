//! Applying network changes: VPC, subnets, internet gateway, route table, key pair,
//! security groups and their rules.

use super::retry::Retry;
use super::*;

impl Applier<'_> {
    pub(super) async fn exec_network(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        let ec2 = self.aws.ec2(region);
        let spec = self.spec;
        let prefix = spec.prefix();
        let consistency = Duration::from_secs(60);
        match op {
            Op::CreateVpc { cidr } => {
                let out = ec2
                    .create_vpc()
                    .cidr_block(cidr)
                    .tag_specifications(aws::tag_spec(
                        ResourceType::Vpc,
                        &base_tags(spec, "vpc", "vpc", &prefix),
                    ))
                    .send()
                    .await
                    .or_cloud(region, "CreateVpc")?;
                let id = out
                    .vpc()
                    .and_then(|v| v.vpc_id())
                    .unwrap_or_default()
                    .to_string();
                Retry::new(region, &["InvalidVpcID.NotFound"], consistency)
                    .call("ModifyVpcAttribute", || {
                        ec2.modify_vpc_attribute()
                            .vpc_id(&id)
                            .enable_dns_hostnames(
                                AttributeBooleanValue::builder().value(true).build(),
                            )
                            .send()
                    })
                    .await?;
                self.rc(region).vpc_id = Some(id.clone());
                Ok(Some(id))
            }
            Op::CreateSubnet {
                name,
                cidr,
                az,
                public,
            } => {
                let vpc = self.vpc(region)?;
                let tags = base_tags(spec, "subnet", name, &format!("{prefix}-{name}"));
                let out = Retry::new(region, &["InvalidVpcID.NotFound"], consistency)
                    .call("CreateSubnet", || {
                        ec2.create_subnet()
                            .vpc_id(&vpc)
                            .cidr_block(cidr)
                            .availability_zone(az)
                            .tag_specifications(aws::tag_spec(ResourceType::Subnet, &tags))
                            .send()
                    })
                    .await?;
                let id = out
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .unwrap_or_default()
                    .to_string();
                if *public {
                    set_subnet_public(&ec2, region, &id, true).await?;
                }
                self.rc(region).subnets.insert(name.clone(), id.clone());
                Ok(Some(id))
            }
            Op::SetSubnetPublic { subnet_id, public } => {
                set_subnet_public(&ec2, region, subnet_id, *public).await?;
                Ok(None)
            }
            Op::CreateIgw => {
                let vpc = self.vpc(region)?;
                let out = ec2
                    .create_internet_gateway()
                    .tag_specifications(aws::tag_spec(
                        ResourceType::InternetGateway,
                        &base_tags(spec, "internet-gateway", "igw", &prefix),
                    ))
                    .send()
                    .await
                    .or_cloud(region, "CreateInternetGateway")?;
                let id = out
                    .internet_gateway()
                    .and_then(|g| g.internet_gateway_id())
                    .unwrap_or_default()
                    .to_string();
                attach_igw(&ec2, region, &id, &vpc).await?;
                self.rc(region).igw_id = Some(id.clone());
                Ok(Some(id))
            }
            Op::AttachIgw { igw_id } => {
                let vpc = self.vpc(region)?;
                attach_igw(&ec2, region, igw_id, &vpc).await?;
                Ok(None)
            }
            Op::CreateRouteTable { public_subnets } => {
                let vpc = self.vpc(region)?;
                let igw = self
                    .rc(region)
                    .igw_id
                    .clone()
                    .ok_or_else(|| Error::cloud_in(region, "no internet gateway"))?;
                let out = ec2
                    .create_route_table()
                    .vpc_id(&vpc)
                    .tag_specifications(aws::tag_spec(
                        ResourceType::RouteTable,
                        &base_tags(spec, "route-table", "public", &format!("{prefix}-public")),
                    ))
                    .send()
                    .await
                    .or_cloud(region, "CreateRouteTable")?;
                let id = out
                    .route_table()
                    .and_then(|t| t.route_table_id())
                    .unwrap_or_default()
                    .to_string();
                self.fix_route_table(region, &id, true, public_subnets, &igw)
                    .await?;
                Ok(Some(id))
            }
            Op::FixRouteTable {
                rt_id,
                add_default_route,
                associate,
            } => {
                let igw = self
                    .rc(region)
                    .igw_id
                    .clone()
                    .ok_or_else(|| Error::cloud_in(region, "no internet gateway"))?;
                self.fix_route_table(region, rt_id, *add_default_route, associate, &igw)
                    .await?;
                Ok(None)
            }
            Op::ImportKeyPair {
                name,
                public_key,
                replace,
            } => {
                if *replace {
                    ec2.delete_key_pair()
                        .key_name(name)
                        .send()
                        .await
                        .or_cloud(region, "DeleteKeyPair")?;
                }
                let mut tags = base_tags(spec, "key-pair", name, name);
                tags.insert(
                    tag::PUBKEY.into(),
                    crate::provision::plan::pubkey_hash(public_key),
                );
                let out = ec2
                    .import_key_pair()
                    .key_name(name)
                    .public_key_material(aws_smithy_types::Blob::new(public_key.as_bytes()))
                    .tag_specifications(aws::tag_spec(ResourceType::KeyPair, &tags))
                    .send()
                    .await
                    .map_err(|e| match e.code() {
                        Some("InvalidKeyPair.Duplicate") => Error::cloud_in(region, format!("a key pair named `{name}` exists but is not rdeploy's (no rdeploy:project/rdeploy:env tags): rename `key_pair.name` or delete it"
                        )),
                        _ => cloud_err(region, "ImportKeyPair", e),
                    })?;
                Ok(out.key_pair_id().map(String::from))
            }
            Op::CreateSg {
                name,
                description,
                rules,
            } => {
                let vpc = self.vpc(region)?;
                let group_name = format!("{prefix}-{name}");
                let out = ec2
                    .create_security_group()
                    .group_name(&group_name)
                    .description(description)
                    .vpc_id(&vpc)
                    .tag_specifications(aws::tag_spec(ResourceType::SecurityGroup, &base_tags(spec, "security-group", name, &group_name)))
                    .send()
                    .await
                    .map_err(|e| match e.code() {
                        Some("InvalidGroup.Duplicate") => Error::cloud_in(region, format!("a security group named `{group_name}` exists in {vpc} but is not rdeploy's (no rdeploy:project/rdeploy:env tags); rdeploy will not touch it"
                        )),
                        _ => cloud_err(region, "CreateSecurityGroup", e),
                    })?;
                let id = out.group_id().unwrap_or_default().to_string();
                self.rc(region).sgs.insert(name.clone(), id.clone());
                if !rules.is_empty() {
                    self.pending_rules
                        .push((region.to_string(), name.clone(), rules.clone()));
                }
                Ok(Some(id))
            }
            Op::SgRules { name, add, remove } => {
                self.sg_rules(region, name, add, remove).await?;
                Ok(None)
            }
            _ => unreachable!("not a network operation"),
        }
    }

    pub(super) async fn fix_route_table(
        &mut self,
        region: &str,
        rt: &str,
        add_default_route: bool,
        associate: &[String],
        igw: &str,
    ) -> Result<()> {
        let ec2 = self.aws.ec2(region);
        let consistency = Duration::from_secs(60);
        if add_default_route {
            let r = retry_codes(
                &["InvalidRouteTableID.NotFound", "InvalidGatewayID.NotFound"],
                consistency,
                || {
                    ec2.create_route()
                        .route_table_id(rt)
                        .destination_cidr_block("0.0.0.0/0")
                        .gateway_id(igw)
                        .send()
                },
            )
            .await;
            match r {
                Ok(_) => {}
                Err(e) if e.code() == Some("RouteAlreadyExists") => {
                    ec2.replace_route()
                        .route_table_id(rt)
                        .destination_cidr_block("0.0.0.0/0")
                        .gateway_id(igw)
                        .send()
                        .await
                        .or_cloud(region, "ReplaceRoute")?;
                }
                Err(e) => return Err(cloud_err(region, "CreateRoute", e)),
            }
        }
        for name in associate {
            let subnet =
                self.rc(region).subnets.get(name).cloned().ok_or_else(|| {
                    Error::cloud_in(region, format!("subnet {name} does not exist"))
                })?;
            Retry::new(
                region,
                &["InvalidRouteTableID.NotFound", "InvalidSubnetID.NotFound"],
                consistency,
            )
            .call("AssociateRouteTable", || {
                ec2.associate_route_table()
                    .route_table_id(rt)
                    .subnet_id(&subnet)
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    pub(super) async fn sg_rules(
        &mut self,
        region: &str,
        name: &str,
        add: &[RuleSpec],
        remove: &[Perm],
    ) -> Result<()> {
        let ec2 = self.aws.ec2(region);
        let rc = self.rc(region);
        let id = resolve_sg(rc, region, name)?;
        let consistency = Duration::from_secs(60);
        if !remove.is_empty() {
            let perms: Vec<IpPermission> = remove.iter().map(perm_to_ip_permission).collect();
            match ec2
                .revoke_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(perms))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
                Err(e) => return Err(cloud_err(region, "RevokeSecurityGroupIngress", e)),
            }
        }
        for r in add {
            let source = match &r.source {
                Source::Cidr(c) => PermSource::Cidr(c.clone()),
                Source::GroupId(g) => PermSource::Group(g.clone()),
                Source::Group(n) => PermSource::Group(resolve_sg(rc, region, n)?),
            };
            let perm = perm_to_ip_permission(&Perm {
                protocol: r.protocol.clone(),
                from_port: r.from_port,
                to_port: r.to_port,
                source,
            });
            let res = retry_codes(&["InvalidGroup.NotFound"], consistency, || {
                ec2.authorize_security_group_ingress()
                    .group_id(&id)
                    .ip_permissions(perm.clone())
                    .send()
            })
            .await;
            match res {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
                Err(e) => {
                    return Err(cloud_err(
                        region,
                        &format!("AuthorizeSecurityGroupIngress ({r})"),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }
}

pub(super) async fn set_subnet_public(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
    public: bool,
) -> Result<()> {
    Retry::new(
        region,
        &["InvalidSubnetID.NotFound"],
        Duration::from_secs(60),
    )
    .call("ModifySubnetAttribute", || {
        ec2.modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
            .send()
    })
    .await?;
    Ok(())
}

pub(super) async fn attach_igw(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    igw: &str,
    vpc: &str,
) -> Result<()> {
    match retry_codes(
        &["InvalidInternetGatewayID.NotFound", "InvalidVpcID.NotFound"],
        Duration::from_secs(60),
        || {
            ec2.attach_internet_gateway()
                .internet_gateway_id(igw)
                .vpc_id(vpc)
                .send()
        },
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => Ok(()),
        Err(e) => Err(cloud_err(region, "AttachInternetGateway", e)),
    }
}

pub(super) fn perm_to_ip_permission(p: &Perm) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(&p.protocol);
    if p.protocol != "-1" {
        b = b.from_port(p.from_port).to_port(p.to_port);
    }
    match &p.source {
        PermSource::Cidr(c) => b = b.ip_ranges(IpRange::builder().cidr_ip(c).build()),
        PermSource::Group(g) => {
            b = b.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build())
        }
    }
    b.build()
}
