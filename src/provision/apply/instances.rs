//! Applying instance changes: launches, replacements, in-place updates, Elastic IPs,
//! terminations.

use super::retry::Retry;
use super::*;

impl Applier<'_> {
    pub(super) async fn exec_instances(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        let ec2 = self.aws.ec2(region);
        let spec = self.spec;
        let limit = Duration::from_secs(spec.timeouts.destroy);
        match op {
            Op::Launch(l) => {
                let p = self.prepare_launch(region, l)?;
                let id = run_instance(self.aws, region, l, &p).await?;
                self.rc(region)
                    .instances
                    .insert((l.group.clone(), l.index), id.clone());
                self.to_run.push((region.to_string(), id.clone()));
                Ok(Some(id))
            }
            Op::Replace { launch, old_id } => {
                let p = self.prepare_launch(region, launch)?;
                let id = run_instance(self.aws, region, launch, &p).await?;
                self.rc(region)
                    .instances
                    .insert((launch.group.clone(), launch.index), id.clone());
                self.to_run.push((region.to_string(), id.clone()));
                self.replaced.push((
                    region.to_string(),
                    old_id.clone(),
                    launch.group.clone(),
                    launch.index,
                ));
                Ok(Some(format!("{id} (replaces {old_id} once running)")))
            }
            Op::UpdateInstance {
                id,
                security_groups,
                set_tags,
                remove_tags,
                start,
            } => {
                if let Some(names) = security_groups {
                    let rc = self.rc(region);
                    let ids = names
                        .iter()
                        .map(|n| resolve_sg(rc, region, n))
                        .collect::<Result<Vec<_>>>()?;
                    ec2.modify_instance_attribute()
                        .instance_id(id)
                        .set_groups(Some(ids))
                        .send()
                        .await
                        .or_cloud(region, "ModifyInstanceAttribute")?;
                }
                if !set_tags.is_empty() {
                    ec2.create_tags()
                        .resources(id)
                        .set_tags(Some(aws::ec2_tags(set_tags)))
                        .send()
                        .await
                        .or_cloud(region, "CreateTags")?;
                }
                if !remove_tags.is_empty() {
                    let tags = remove_tags
                        .iter()
                        .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
                        .collect();
                    ec2.delete_tags()
                        .resources(id)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .or_cloud(region, "DeleteTags")?;
                }
                if *start {
                    ec2.start_instances()
                        .instance_ids(id)
                        .send()
                        .await
                        .or_cloud(region, "StartInstances")?;
                    self.to_run.push((region.to_string(), id.clone()));
                }
                Ok(None)
            }
            Op::EnsureEip {
                group,
                index,
                allocation_id,
            } => {
                let alloc = self
                    .ensure_eip(region, group, *index, allocation_id.as_deref())
                    .await?;
                Ok(Some(alloc))
            }
            Op::ReleaseEip {
                allocation_id,
                association_id,
            } => {
                if let Some(a) = association_id {
                    ec2.disassociate_address()
                        .association_id(a)
                        .send()
                        .await
                        .unless_gone(region, "DisassociateAddress")?;
                }
                Retry::new(region, &["InvalidIPAddress.InUse"], limit)
                    .gone_ok("ReleaseAddress", || {
                        ec2.release_address().allocation_id(allocation_id).send()
                    })
                    .await?;
                Ok(None)
            }
            Op::Terminate { ids } => {
                terminate(self.aws, region, ids).await?;
                Ok(None)
            }
            _ => unreachable!("not a instances operation"),
        }
    }

    /// Associates an address of the group (or a new one) with instance `group-index`.
    pub(super) async fn ensure_eip(
        &mut self,
        region: &str,
        group: &str,
        index: u32,
        allocation_id: Option<&str>,
    ) -> Result<String> {
        let spec = self.spec;
        let ec2 = self.aws.ec2(region);
        let instance = self
            .rc(region)
            .instances
            .get(&(group.to_string(), index))
            .cloned()
            .ok_or_else(|| {
                Error::cloud_in(
                    region,
                    format!("no instance {group}-{index} for its Elastic IP"),
                )
            })?;
        let alloc = match allocation_id {
            Some(a) => a.to_string(),
            None => {
                let name = format!("{}-{group}", spec.prefix());
                let out = ec2
                    .allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(aws::tag_spec(
                        ResourceType::ElasticIp,
                        &base_tags(spec, "elastic-ip", group, &name),
                    ))
                    .send()
                    .await
                    .or_cloud(region, "AllocateAddress")?;
                out.allocation_id().unwrap_or_default().to_string()
            }
        };
        Retry::new(
            region,
            &[
                "InvalidInstanceID",
                "IncorrectInstanceState",
                "InvalidAllocationID.NotFound",
            ],
            Duration::from_secs(60),
        )
        .call("AssociateAddress", || {
            ec2.associate_address()
                .allocation_id(&alloc)
                .instance_id(&instance)
                .allow_reassociation(true)
                .send()
        })
        .await?;
        Ok(format!("{alloc} -> {instance}"))
    }

    pub(super) async fn move_eip(
        &mut self,
        region: &str,
        old_id: &str,
        new_id: &str,
    ) -> Result<()> {
        let eip = self
            .rc(region)
            .eips
            .iter()
            .find(|e| e.instance_id.as_deref() == Some(old_id))
            .cloned();
        if let Some(e) = eip {
            let ec2 = self.aws.ec2(region);
            ec2.associate_address()
                .allocation_id(&e.allocation_id)
                .instance_id(new_id)
                .allow_reassociation(true)
                .send()
                .await
                .or_cloud(region, "AssociateAddress")?;
            say(
                self.reporter,
                format!(
                    "  {region}: elastic-ip {} moved from {old_id} to {new_id}",
                    e.public_ip
                ),
            );
        }
        Ok(())
    }
}

pub(super) async fn run_instance(
    aws: &Aws,
    region: &str,
    l: &Launch,
    p: &Prepared,
) -> Result<String> {
    use base64::Engine;
    let ec2 = aws.ec2(region);
    let mut req = ec2
        .run_instances()
        .image_id(&l.ami.id)
        .instance_type(InstanceType::from(l.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .subnet_id(&p.subnet_id)
        .set_security_group_ids((!p.sg_ids.is_empty()).then(|| p.sg_ids.clone()))
        .set_key_name(l.key_name.clone())
        .tag_specifications(aws::tag_spec(ResourceType::Instance, &l.tags));
    if let Some(ud) = &l.user_data {
        req = req.user_data(base64::engine::general_purpose::STANDARD.encode(ud));
    }
    if let Some(gb) = l.root_volume_gb {
        let device = l
            .ami
            .root_device
            .clone()
            .unwrap_or_else(|| "/dev/xvda".into());
        req = req.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(device)
                .ebs(
                    EbsBlockDevice::builder()
                        .volume_size(gb as i32)
                        .volume_type(VolumeType::Gp3)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        );
    }
    // These codes mean the request was refused, so retrying cannot launch twice.
    let out = retry_codes(
        &[
            "InvalidGroup.NotFound",
            "InvalidSubnetID.NotFound",
            "InvalidKeyPair.NotFound",
        ],
        Duration::from_secs(60),
        || req.clone().send(),
    )
    .await
    .map_err(|e| {
        cloud_err(
            region,
            &format!("RunInstances ({}-{})", l.group, l.index),
            e,
        )
    })?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(String::from)
        .ok_or_else(|| Error::cloud_in(region, "RunInstances returned no instance"))
}

pub(super) async fn terminate(aws: &Aws, region: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ec2 = aws.ec2(region);
    match ec2
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if aws::is_not_found(&e) => {
            // Some are gone already: terminate the others one by one.
            for id in ids {
                ec2.terminate_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .unless_gone(region, "TerminateInstances")?;
            }
            Ok(())
        }
        Err(e) => Err(cloud_err(region, "TerminateInstances", e)),
    }
}
