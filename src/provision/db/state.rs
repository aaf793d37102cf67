//! Discovery of RDS instances and DB subnet groups. DescribeDBInstances has no tag
//! filter: candidates are the identifiers starting with the project, kept only when
//! their tags carry the project *and* the environment.

use super::TAG_PASSWORD;
use crate::aws::SdkResult;
use crate::error::Result;
use crate::provision::aws::{tag, Aws};
use crate::provision::describe::{tag_pairs, Owner};
use indexmap::IndexMap;

#[derive(Debug, Clone, Default)]
pub struct DbState {
    pub instances: Vec<Db>,
    pub subnet_groups: Vec<DbSubnetGroup>,
}

impl DbState {
    pub fn count(&self) -> usize {
        self.instances.len() + self.subnet_groups.len()
    }
}

#[derive(Debug, Clone)]
pub struct Db {
    pub aws_id: String,
    /// The spec name (tag `rdeploy:name`).
    pub name: String,
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub storage: u32,
    pub storage_type: Option<String>,
    pub username: String,
    pub db_name: Option<String>,
    pub port: Option<i32>,
    pub address: Option<String>,
    pub subnet_group: Option<String>,
    pub sg_ids: Vec<String>,
    pub multi_az: bool,
    pub public: bool,
    pub backup_retention: Option<u32>,
    /// The salted hash of the password it was given (tag `rdeploy:password`).
    pub password_hash: Option<String>,
}

impl Db {
    pub fn deleting(&self) -> bool {
        self.status == "deleting"
    }
    pub fn endpoint(&self) -> Option<String> {
        Some(format!("{}:{}", self.address.as_ref()?, self.port?))
    }
}

#[derive(Debug, Clone)]
pub struct DbSubnetGroup {
    pub name: String,
    pub subnet_ids: Vec<String>,
}

fn tags_of(list: &[aws_sdk_rds::types::Tag]) -> IndexMap<String, String> {
    tag_pairs(list.iter().map(|t| (t.key(), t.value())))
}

fn ours(t: &IndexMap<String, String>, project: &str, env: &str) -> bool {
    Owner::new(project, env, "").owns(t)
}

pub async fn discover(aws: &Aws, project: &str, env: &str, region: &str) -> Result<DbState> {
    let rds = aws.rds(region);
    let mut out = DbState::default();
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeDBInstances")?;
        for d in page.db_instances() {
            let id = d.db_instance_identifier().unwrap_or_default();
            if !id.starts_with(project) {
                continue;
            }
            let t = tags_of(d.tag_list());
            if !ours(&t, project, env) {
                continue;
            }
            out.instances.push(Db {
                aws_id: id.to_string(),
                name: t.get(tag::NAME).cloned().unwrap_or_default(),
                arn: d.db_instance_arn().unwrap_or_default().to_string(),
                status: d.db_instance_status().unwrap_or_default().to_string(),
                engine: d.engine().unwrap_or_default().to_string(),
                engine_version: d.engine_version().unwrap_or_default().to_string(),
                class: d.db_instance_class().unwrap_or_default().to_string(),
                storage: d.allocated_storage().unwrap_or(0) as u32,
                storage_type: d.storage_type().map(String::from),
                username: d.master_username().unwrap_or_default().to_string(),
                db_name: d.db_name().map(String::from),
                port: d.endpoint().and_then(|e| e.port()),
                address: d.endpoint().and_then(|e| e.address()).map(String::from),
                subnet_group: d
                    .db_subnet_group()
                    .and_then(|g| g.db_subnet_group_name())
                    .map(String::from),
                sg_ids: d
                    .vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id().map(String::from))
                    .collect(),
                multi_az: d.multi_az().unwrap_or(false),
                public: d.publicly_accessible().unwrap_or(false),
                backup_retention: d.backup_retention_period().map(|x| x as u32),
                password_hash: t.get(TAG_PASSWORD).cloned(),
            });
        }
    }
    let name = super::subnet_group_name_for(project, env);
    let found = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&name)
        .send()
        .await
        .unless_gone(region, "DescribeDBSubnetGroups")?;
    for g in found.iter().flat_map(|o| o.db_subnet_groups()) {
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        let t = rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .or_cloud(region, "ListTagsForResource")?;
        if ours(&tags_of(t.tag_list()), project, env) {
            out.subnet_groups.push(DbSubnetGroup {
                name: g.db_subnet_group_name().unwrap_or_default().to_string(),
                subnet_ids: g
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(String::from))
                    .collect(),
            });
        }
    }
    Ok(out)
}
