//! Discovery for peering: the connections of the project and environment (by tags; kept
//! only while requested, pending or active) and the routes of the route tables of the
//! environment's VPC in a region.

use crate::aws::SdkResult;
use crate::error::Result;
use crate::provision::aws::{self, tag, Aws};
use crate::provision::describe::Owner;

#[derive(Debug, Clone, Default)]
pub struct PeeringState {
    pub connections: Vec<Pcx>,
    pub route_tables: Vec<RouteTableRoutes>,
}

impl PeeringState {
    pub fn count(&self) -> usize {
        self.connections.len()
    }
}

#[derive(Debug, Clone)]
pub struct Pcx {
    pub id: String,
    /// The spec's name (tag `rdeploy:name`, `<requester>--<accepter>`).
    pub name: String,
    /// pending-acceptance, active, provisioning, initiating-request.
    pub status: String,
    pub requester_vpc: String,
    pub accepter_vpc: String,
}

#[derive(Debug, Clone)]
pub struct RouteTableRoutes {
    pub id: String,
    pub main: bool,
    /// (destination block, peering connection id) of the routes through a peering.
    pub peering_routes: Vec<(String, String)>,
}

const LIVE: [&str; 4] = [
    "pending-acceptance",
    "active",
    "provisioning",
    "initiating-request",
];

pub async fn discover(aws: &Aws, project: &str, env: &str, region: &str) -> Result<PeeringState> {
    let ec2 = aws.ec2(region);
    let mut out = PeeringState::default();
    let found = ec2
        .describe_vpc_peering_connections()
        .set_filters(Some(aws::owner_filters(project, env)))
        .send()
        .await
        .or_cloud(region, "DescribeVpcPeeringConnections")?;
    for p in found.vpc_peering_connections() {
        let t = aws::tag_map(p.tags());
        let status = p
            .status()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        // Filters are applied here too (not every endpoint honours them).
        if !Owner::new(project, env, region).owns(&t) || !LIVE.contains(&status.as_str()) {
            continue;
        }
        out.connections.push(Pcx {
            id: p
                .vpc_peering_connection_id()
                .unwrap_or_default()
                .to_string(),
            name: t.get(tag::NAME).cloned().unwrap_or_default(),
            status,
            requester_vpc: p
                .requester_vpc_info()
                .and_then(|v| v.vpc_id())
                .unwrap_or_default()
                .to_string(),
            accepter_vpc: p
                .accepter_vpc_info()
                .and_then(|v| v.vpc_id())
                .unwrap_or_default()
                .to_string(),
        });
    }
    let vpcs = ec2
        .describe_vpcs()
        .set_filters(Some(aws::owner_filters(project, env)))
        .send()
        .await
        .or_cloud(region, "DescribeVpcs")?;
    if let Some(vpc) = vpcs.vpcs().first().and_then(|v| v.vpc_id()) {
        out.route_tables = route_tables(&ec2, region, vpc).await?;
    }
    Ok(out)
}

/// The route tables of a VPC with their peering routes.
pub async fn route_tables(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    vpc: &str,
) -> Result<Vec<RouteTableRoutes>> {
    let rts = ec2
        .describe_route_tables()
        .filters(aws::filter("vpc-id", &[vpc]))
        .send()
        .await
        .or_cloud(region, "DescribeRouteTables")?;
    Ok(rts
        .route_tables()
        .iter()
        .map(|t| RouteTableRoutes {
            id: t.route_table_id().unwrap_or_default().to_string(),
            main: t.associations().iter().any(|a| a.main().unwrap_or(false)),
            peering_routes: t
                .routes()
                .iter()
                .filter_map(|r| {
                    Some((
                        r.destination_cidr_block()?.to_string(),
                        r.vpc_peering_connection_id()?.to_string(),
                    ))
                })
                .collect(),
        })
        .collect())
}
