//! Applying peering: the connection is requested from the first region with its tags,
//! accepted in the peer's region (and tagged there too, so either side finds it), then
//! routes to the peer's block are created (or corrected) in every route table of both
//! VPCs. Deleting removes the routes through the connection first.

use super::state::{route_tables, PeeringState};
use super::PeeringOp;
use crate::aws::SdkResult;
use crate::error::{Error, Result};
use crate::provision::apply::retry::Retry;
use crate::provision::apply::Applier;
use crate::provision::aws::{self, tag_spec};
use crate::provision::plan::base_tags;
use aws_sdk_ec2::types::ResourceType;
use std::time::{Duration, Instant};

impl Applier<'_> {
    fn peering_spec(&self, name: &str) -> Result<super::spec::PeeringSpec> {
        self.spec
            .peering
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| Error::cloud(format!("peering {name} is not in the spec")))
    }

    /// The connection of that name as a region sees it now (retried for a minute: a
    /// connection created a moment ago may not be listed yet).
    async fn find_pcx(&self, region: &str, name: &str) -> Result<super::state::Pcx> {
        let start = Instant::now();
        loop {
            let st: PeeringState =
                super::state::discover(self.aws(), &self.spec.project, &self.spec.env, region)
                    .await?;
            if let Some(c) = st.connections.into_iter().find(|c| c.name == name) {
                return Ok(c);
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(Error::cloud_in(
                    region,
                    format!("the peering connection {name} is not found"),
                ));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    async fn accept(&self, region: &str, id: &str) -> Result<()> {
        let ec2 = self.aws().ec2(region);
        Retry::new(
            region,
            &["InvalidVpcPeeringConnectionID.NotFound"],
            Duration::from_secs(60),
        )
        .call("AcceptVpcPeeringConnection", || {
            ec2.accept_vpc_peering_connection()
                .vpc_peering_connection_id(id)
                .send()
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn exec_peering(
        &mut self,
        region: &str,
        op: &PeeringOp,
    ) -> Result<Option<String>> {
        match op {
            PeeringOp::Create { name } => {
                let p = self.peering_spec(name)?;
                let vpc = |s: &mut Self, r: &str| {
                    s.region_ctx(r)
                        .vpc_id
                        .clone()
                        .ok_or_else(|| Error::cloud_in(r, "the VPC does not exist"))
                };
                let (a, b) = (vpc(self, &p.requester)?, vpc(self, &p.accepter)?);
                let tags = base_tags(
                    self.spec,
                    "vpc-peering",
                    name,
                    &format!("{}-{name}", self.spec.prefix()),
                );
                let out = self
                    .aws()
                    .ec2(&p.requester)
                    .create_vpc_peering_connection()
                    .vpc_id(&a)
                    .peer_vpc_id(&b)
                    .peer_region(&p.accepter)
                    .tag_specifications(tag_spec(ResourceType::VpcPeeringConnection, &tags))
                    .send()
                    .await
                    .or_cloud(&p.requester, "CreateVpcPeeringConnection")?;
                let id = out
                    .vpc_peering_connection()
                    .and_then(|c| c.vpc_peering_connection_id())
                    .unwrap_or_default()
                    .to_string();
                self.accept(&p.accepter, &id).await?;
                // The accepter's side carries the tags too.
                self.aws()
                    .ec2(&p.accepter)
                    .create_tags()
                    .resources(&id)
                    .set_tags(Some(aws::ec2_tags(&tags)))
                    .send()
                    .await
                    .or_cloud(&p.accepter, "CreateTags")?;
                Ok(Some(id))
            }
            PeeringOp::Accept { name } => {
                let c = self.find_pcx(region, name).await?;
                self.accept(region, &c.id).await?;
                Ok(Some(c.id))
            }
            PeeringOp::Routes { name } => {
                let p = self.peering_spec(name)?;
                let other = p.other(region).unwrap_or_default().to_string();
                let dest = self
                    .spec
                    .network
                    .cidr_in(&other)
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                let pcx = self.find_pcx(&p.requester, name).await?;
                let vpc = self
                    .region_ctx(region)
                    .vpc_id
                    .clone()
                    .ok_or_else(|| Error::cloud_in(region, "the VPC does not exist"))?;
                let ec2 = self.aws().ec2(region);
                let mut done = 0;
                for t in route_tables(&ec2, region, &vpc).await? {
                    match t.peering_routes.iter().find(|(d, _)| d == &dest) {
                        Some((_, x)) if x == &pcx.id => continue,
                        Some(_) => {
                            ec2.replace_route()
                                .route_table_id(&t.id)
                                .destination_cidr_block(&dest)
                                .vpc_peering_connection_id(&pcx.id)
                                .send()
                                .await
                                .or_cloud(region, "ReplaceRoute")?;
                        }
                        None => {
                            ec2.create_route()
                                .route_table_id(&t.id)
                                .destination_cidr_block(&dest)
                                .vpc_peering_connection_id(&pcx.id)
                                .send()
                                .await
                                .or_cloud(region, "CreateRoute")?;
                        }
                    }
                    done += 1;
                }
                Ok(Some(format!(
                    "{done} route table(s): {dest} via {}",
                    pcx.id
                )))
            }
            PeeringOp::Delete { id, regions } => {
                for r in regions {
                    let ec2 = self.aws().ec2(r);
                    let vpcs = ec2
                        .describe_vpcs()
                        .set_filters(Some(aws::owner_filters(&self.spec.project, &self.spec.env)))
                        .send()
                        .await
                        .or_cloud(r, "DescribeVpcs")?;
                    for v in vpcs.vpcs().iter().filter_map(|v| v.vpc_id()) {
                        for t in route_tables(&ec2, r, v).await? {
                            for (d, _) in t.peering_routes.iter().filter(|(_, x)| x == id) {
                                ec2.delete_route()
                                    .route_table_id(&t.id)
                                    .destination_cidr_block(d)
                                    .send()
                                    .await
                                    .unless_gone(r, "DeleteRoute")?;
                            }
                        }
                    }
                }
                self.aws()
                    .ec2(region)
                    .delete_vpc_peering_connection()
                    .vpc_peering_connection_id(id)
                    .send()
                    .await
                    .unless_gone(region, "DeleteVpcPeeringConnection")?;
                Ok(None)
            }
        }
    }
}
