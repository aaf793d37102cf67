//! Destroying network resources (groups, key pair, route table, gateway, subnets, VPC),
//! each retried while AWS still sees a dependency.

use super::*;

impl Applier<'_> {
    pub(super) async fn exec_teardown(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        let ec2 = self.aws.ec2(region);
        let spec = self.spec;
        let limit = Duration::from_secs(spec.timeouts.destroy);
        match op {
            Op::DeleteSg { id } => {
                match retry_codes(
                    &["DependencyViolation", "InvalidGroup.InUse"],
                    limit,
                    || ec2.delete_security_group().group_id(id).send(),
                )
                .await
                {
                    Ok(_) => Ok(None),
                    Err(e) if aws::is_not_found(&e) => Ok(None),
                    Err(e) => Err(cloud_err(region, "DeleteSecurityGroup", e)),
                }
            }
            Op::DeleteKeyPair { name } => {
                ec2.delete_key_pair()
                    .key_name(name)
                    .send()
                    .await
                    .map_err(|e| cloud_err(region, "DeleteKeyPair", e))?;
                Ok(None)
            }
            Op::DeleteRouteTable { id, associations } => {
                for a in associations {
                    match ec2
                        .disassociate_route_table()
                        .association_id(a)
                        .send()
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if aws::is_not_found(&e) => {}
                        Err(e) => return Err(cloud_err(region, "DisassociateRouteTable", e)),
                    }
                }
                match retry_codes(&["DependencyViolation"], limit, || {
                    ec2.delete_route_table().route_table_id(id).send()
                })
                .await
                {
                    Ok(_) => Ok(None),
                    Err(e) if aws::is_not_found(&e) => Ok(None),
                    Err(e) => Err(cloud_err(region, "DeleteRouteTable", e)),
                }
            }
            Op::DeleteIgw { id, vpcs } => {
                for v in vpcs {
                    match retry_codes(&["DependencyViolation"], limit, || {
                        ec2.detach_internet_gateway()
                            .internet_gateway_id(id)
                            .vpc_id(v)
                            .send()
                    })
                    .await
                    {
                        Ok(_) => {}
                        Err(e)
                            if aws::is_not_found(&e) || e.code() == Some("Gateway.NotAttached") => {
                        }
                        Err(e) => return Err(cloud_err(region, "DetachInternetGateway", e)),
                    }
                }
                match retry_codes(&["DependencyViolation"], limit, || {
                    ec2.delete_internet_gateway().internet_gateway_id(id).send()
                })
                .await
                {
                    Ok(_) => Ok(None),
                    Err(e) if aws::is_not_found(&e) => Ok(None),
                    Err(e) => Err(cloud_err(region, "DeleteInternetGateway", e)),
                }
            }
            Op::DeleteSubnet { id } => match retry_codes(&["DependencyViolation"], limit, || {
                ec2.delete_subnet().subnet_id(id).send()
            })
            .await
            {
                Ok(_) => Ok(None),
                Err(e) if aws::is_not_found(&e) => Ok(None),
                Err(e) => Err(cloud_err(region, "DeleteSubnet", e)),
            },
            // Boxed: each kind's future is large; exec's own stays small.
            Op::DeleteVpc { id } => match retry_codes(&["DependencyViolation"], limit, || {
                ec2.delete_vpc().vpc_id(id).send()
            })
            .await
            {
                Ok(_) => Ok(None),
                Err(e) if aws::is_not_found(&e) => Ok(None),
                Err(e) => Err(cloud_err(region, "DeleteVpc", e)),
            },
            _ => unreachable!("not a teardown operation"),
        }
    }
}

/// Removes the rules that reference other groups from these groups (so that groups
/// referencing each other can be deleted).
pub(super) async fn revoke_group_rules(aws: &Aws, region: &str, ids: &[String]) -> Result<()> {
    let ec2 = aws.ec2(region);
    let out = match ec2
        .describe_security_groups()
        .set_group_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if aws::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(cloud_err(region, "DescribeSecurityGroups", e)),
    };
    for g in out.security_groups() {
        let perms: Vec<Perm> = crate::provision::state::flatten_perms(g.ip_permissions())
            .into_iter()
            .filter(|p| matches!(p.source, PermSource::Group(_)))
            .collect();
        if perms.is_empty() {
            continue;
        }
        let ip: Vec<IpPermission> = perms.iter().map(perm_to_ip_permission).collect();
        match ec2
            .revoke_security_group_ingress()
            .group_id(g.group_id().unwrap_or_default())
            .set_ip_permissions(Some(ip))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if aws::is_not_found(&e) => {}
            Err(e) => return Err(cloud_err(region, "RevokeSecurityGroupIngress", e)),
        }
    }
    Ok(())
}
