//! Applying database changes: RDS calls for [`DbOp`]s. The master password is read from
//! the spec here and goes only into the API request; the instance's tags carry a salted
//! hash of it. Creations and modifications are waited for (bounded) at the end of the
//! apply; deletions before the subnet group and security groups go.

use super::{password_hash, subnet_group_name_for, DbOp, TAG_PASSWORD};
use crate::aws::SdkResult;
use crate::error::{Error, Result};
use crate::provision::apply::retry::Retry;
use crate::provision::apply::Applier;
use crate::provision::plan::base_tags;
use aws_sdk_rds::types::Tag;
use indexmap::IndexMap;
use std::time::{Duration, Instant};

fn tags(t: &IndexMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl Applier<'_> {
    fn db_spec(&self, name: &str) -> Result<super::spec::DbSpec> {
        self.spec
            .databases
            .get(name)
            .cloned()
            .ok_or_else(|| Error::cloud(format!("database `{name}` is not in the spec")))
    }

    fn db_sg_ids(&mut self, region: &str, d: &super::spec::DbSpec) -> Result<Vec<String>> {
        let rc = self.region_ctx(region);
        d.security_groups
            .iter()
            .map(|s| {
                if s.value.starts_with("sg-") {
                    Ok(s.value.clone())
                } else {
                    rc.sgs.get(&s.value).cloned().ok_or_else(|| {
                        Error::cloud_in(
                            region,
                            format!("security group `{}` does not exist", s.value),
                        )
                    })
                }
            })
            .collect()
    }

    /// Executes one database operation.
    pub(crate) async fn exec_db(&mut self, region: &str, op: &DbOp) -> Result<Option<String>> {
        let rds = self.aws().rds(region);
        let limit = Duration::from_secs(self.spec.timeouts.destroy);
        let group = subnet_group_name_for(&self.spec.project, &self.spec.env);
        match op {
            DbOp::CreateSubnetGroup { update } => {
                let names = super::plan::db_subnets(self.spec, region, self.lookups());
                let rc = self.region_ctx(region);
                let ids: Vec<String> = names
                    .iter()
                    .map(|n| {
                        if n.starts_with("subnet-") {
                            Ok(n.clone())
                        } else {
                            rc.subnets.get(n).cloned().ok_or_else(|| {
                                Error::cloud_in(region, format!("subnet {n} does not exist"))
                            })
                        }
                    })
                    .collect::<Result<_>>()?;
                if *update {
                    rds.modify_db_subnet_group()
                        .db_subnet_group_name(&group)
                        .set_subnet_ids(Some(ids))
                        .send()
                        .await
                        .or_cloud(region, "ModifyDBSubnetGroup")?;
                } else {
                    let t = base_tags(self.spec, "db-subnet-group", &group, &group);
                    rds.create_db_subnet_group()
                        .db_subnet_group_name(&group)
                        .db_subnet_group_description(format!(
                            "rdeploy {}/{}",
                            self.spec.project, self.spec.env
                        ))
                        .set_subnet_ids(Some(ids))
                        .set_tags(Some(tags(&t)))
                        .send()
                        .await
                        .or_cloud(region, "CreateDBSubnetGroup")?;
                }
                Ok(None)
            }
            DbOp::DeleteSubnetGroup { name } => {
                Retry::new(region, &["InvalidDBSubnetGroupStateFault"], limit)
                    .gone_ok("DeleteDBSubnetGroup", || {
                        rds.delete_db_subnet_group()
                            .db_subnet_group_name(name)
                            .send()
                    })
                    .await?;
                Ok(None)
            }
            DbOp::Create { name, replace } => {
                let d = self.db_spec(name)?;
                if let Some(old) = replace {
                    self.delete_db(region, old, d.final_snapshot).await?;
                }
                let sgs = self.db_sg_ids(region, &d)?;
                let mut t = base_tags(self.spec, "database", &d.name, &d.aws_id);
                t.insert(TAG_PASSWORD.into(), password_hash(d.password.expose()));
                let out = Retry::new(
                    region,
                    &["InvalidSubnet", "InvalidVPCNetworkStateFault"],
                    Duration::from_secs(60),
                )
                .call("CreateDBInstance", || {
                    rds.create_db_instance()
                        .db_instance_identifier(&d.aws_id)
                        .engine(&d.engine)
                        .set_engine_version(d.engine_version.clone())
                        .db_instance_class(&d.class)
                        .allocated_storage(d.storage as i32)
                        .set_storage_type(d.storage_type.clone())
                        .master_username(&d.username)
                        .master_user_password(d.password.expose())
                        .set_db_name(d.db_name.clone())
                        .port(d.port as i32)
                        .db_subnet_group_name(
                            d.subnet_group.clone().unwrap_or_else(|| group.clone()),
                        )
                        .set_vpc_security_group_ids(if sgs.is_empty() {
                            None
                        } else {
                            Some(sgs.clone())
                        })
                        .multi_az(d.multi_az)
                        .publicly_accessible(d.public)
                        .set_backup_retention_period(d.backup_retention.map(|x| x as i32))
                        .storage_encrypted(true)
                        .copy_tags_to_snapshot(true)
                        .set_tags(Some(tags(&t)))
                        .send()
                })
                .await?;
                self.db_waits.push((region.to_string(), d.aws_id.clone()));
                Ok(out
                    .db_instance()
                    .and_then(|i| i.db_instance_status())
                    .map(String::from))
            }
            DbOp::Modify {
                name,
                password,
                version_major,
            } => {
                let d = self.db_spec(name)?;
                let sgs = self.db_sg_ids(region, &d)?;
                let mut req = rds
                    .modify_db_instance()
                    .db_instance_identifier(&d.aws_id)
                    .apply_immediately(true)
                    .db_instance_class(&d.class)
                    .allocated_storage(d.storage as i32)
                    .set_storage_type(d.storage_type.clone())
                    .set_engine_version(d.engine_version.clone())
                    .allow_major_version_upgrade(*version_major)
                    .multi_az(d.multi_az)
                    .publicly_accessible(d.public)
                    .set_backup_retention_period(d.backup_retention.map(|x| x as i32))
                    .db_port_number(d.port as i32)
                    .db_subnet_group_name(d.subnet_group.clone().unwrap_or_else(|| group.clone()))
                    .set_vpc_security_group_ids(if sgs.is_empty() { None } else { Some(sgs) });
                if *password {
                    req = req.master_user_password(d.password.expose());
                }
                let out = req.send().await.or_cloud(region, "ModifyDBInstance")?;
                if *password {
                    let arn = out
                        .db_instance()
                        .and_then(|i| i.db_instance_arn())
                        .unwrap_or_default()
                        .to_string();
                    rds.add_tags_to_resource()
                        .resource_name(arn)
                        .tags(
                            Tag::builder()
                                .key(TAG_PASSWORD)
                                .value(password_hash(d.password.expose()))
                                .build(),
                        )
                        .send()
                        .await
                        .or_cloud(region, "AddTagsToResource")?;
                }
                self.db_waits.push((region.to_string(), d.aws_id.clone()));
                Ok(None)
            }
            DbOp::Delete {
                aws_id,
                final_snapshot,
            } => {
                self.delete_db(region, aws_id, *final_snapshot).await?;
                Ok(None)
            }
        }
    }

    /// Deletes a database (a final snapshot `<id>-final-<unix time>` unless told not to)
    /// and waits, bounded, until it is gone.
    async fn delete_db(&mut self, region: &str, aws_id: &str, final_snapshot: bool) -> Result<()> {
        let rds = self.aws().rds(region);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut req = rds
            .delete_db_instance()
            .db_instance_identifier(aws_id)
            .skip_final_snapshot(!final_snapshot);
        if final_snapshot {
            req = req.final_db_snapshot_identifier(format!("{aws_id}-final-{stamp}"));
        }
        req.send().await.unless_gone(region, "DeleteDBInstance")?;
        let start = Instant::now();
        let timeout = Duration::from_secs(self.spec.timeouts.destroy);
        loop {
            let r = rds
                .describe_db_instances()
                .db_instance_identifier(aws_id)
                .send()
                .await
                .unless_gone(region, "DescribeDBInstances")?;
            if r.is_none_or(|o| o.db_instances().is_empty()) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(Error::cloud_in(region, format!("timed out after {} s waiting for database {aws_id} to be deleted; run again to converge",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    /// Waits (bounded by `timeouts.databases`) until created or modified databases are
    /// `available`.
    pub(crate) async fn wait_databases(&mut self) -> Result<()> {
        let timeout = Duration::from_secs(self.spec.timeouts.databases);
        for (region, id) in std::mem::take(&mut self.db_waits) {
            let rds = self.aws().rds(&region);
            let start = Instant::now();
            let mut delay = Duration::from_secs(2);
            loop {
                let out = rds
                    .describe_db_instances()
                    .db_instance_identifier(&id)
                    .send()
                    .await
                    .or_cloud(&region, "DescribeDBInstances")?;
                let status = out
                    .db_instances()
                    .first()
                    .and_then(|d| d.db_instance_status())
                    .unwrap_or_default()
                    .to_string();
                if status == "available" {
                    break;
                }
                if start.elapsed() + delay > timeout {
                    return Err(Error::cloud_in(region, format!("timed out after {} s waiting for database {id} ({status}); nothing was rolled back: run again to converge",
                        timeout.as_secs()
                    )));
                }
                self.say(format!("  waiting for database {id}: {status}"));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
        Ok(())
    }
}
