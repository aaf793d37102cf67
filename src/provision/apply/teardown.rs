//! Destroying network resources (groups, key pair, route table, gateway, subnets, VPC),
//! each retried while AWS still sees a dependency.

use super::retry::{Retry, DEPENDENCY};
use super::*;
use crate::aws::ErrorCode;

impl Applier<'_> {
    pub(super) async fn exec_teardown(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        let ec2 = self.aws.ec2(region);
        let spec = self.spec;
        let limit = Duration::from_secs(spec.timeouts.destroy);
        let dependent = Retry::new(region, DEPENDENCY, limit);
        match op {
            Op::DeleteSg { id } => {
                Retry::new(
                    region,
                    &["DependencyViolation", "InvalidGroup.InUse"],
                    limit,
                )
                .gone_ok("DeleteSecurityGroup", || {
                    ec2.delete_security_group().group_id(id).send()
                })
                .await?;
                Ok(None)
            }
            Op::DeleteKeyPair { name } => {
                ec2.delete_key_pair()
                    .key_name(name)
                    .send()
                    .await
                    .or_cloud(region, "DeleteKeyPair")?;
                Ok(None)
            }
            Op::DeleteRouteTable { id, associations } => {
                for a in associations {
                    ec2.disassociate_route_table()
                        .association_id(a)
                        .send()
                        .await
                        .unless_gone(region, "DisassociateRouteTable")?;
                }
                dependent
                    .gone_ok("DeleteRouteTable", || {
                        ec2.delete_route_table().route_table_id(id).send()
                    })
                    .await?;
                Ok(None)
            }
            Op::DeleteIgw { id, vpcs } => {
                for v in vpcs {
                    let detach = dependent
                        .gone_ok("DetachInternetGateway", || {
                            ec2.detach_internet_gateway()
                                .internet_gateway_id(id)
                                .vpc_id(v)
                                .send()
                        })
                        .await;
                    match detach {
                        Err(e) if e.error_code() != Some("Gateway.NotAttached") => return Err(e),
                        _ => {}
                    }
                }
                dependent
                    .gone_ok("DeleteInternetGateway", || {
                        ec2.delete_internet_gateway().internet_gateway_id(id).send()
                    })
                    .await?;
                Ok(None)
            }
            Op::DeleteSubnet { id } => {
                dependent
                    .gone_ok("DeleteSubnet", || ec2.delete_subnet().subnet_id(id).send())
                    .await?;
                Ok(None)
            }
            Op::DeleteVpc { id } => {
                dependent
                    .gone_ok("DeleteVpc", || ec2.delete_vpc().vpc_id(id).send())
                    .await?;
                Ok(None)
            }
            _ => unreachable!("not a teardown operation"),
        }
    }
}

/// Removes the rules that reference other groups from these groups (so that groups
/// referencing each other can be deleted).
pub(super) async fn revoke_group_rules(aws: &Aws, region: &str, ids: &[String]) -> Result<()> {
    let ec2 = aws.ec2(region);
    let Some(out) = ec2
        .describe_security_groups()
        .set_group_ids(Some(ids.to_vec()))
        .send()
        .await
        .unless_gone(region, "DescribeSecurityGroups")?
    else {
        return Ok(());
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
        ec2.revoke_security_group_ingress()
            .group_id(g.group_id().unwrap_or_default())
            .set_ip_permissions(Some(ip))
            .send()
            .await
            .unless_gone(region, "RevokeSecurityGroupIngress")?;
    }
    Ok(())
}
