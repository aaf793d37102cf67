//! Applying ElastiCache changes: the cache subnet group and Redis.

use super::*;
use crate::aws::ErrorCode;

/// The settings a replication group and a single-node cluster are created with alike
/// (the two request builders share the setters, not a trait).
macro_rules! with_redis_settings {
    ($req:expr, $r:expr, $subnet_group:expr, $sg_ids:expr, $tags:expr) => {
        $req.engine("redis")
            .set_engine_version($r.engine_version.clone())
            .cache_node_type(&$r.node_type)
            .port($r.port as i32)
            .cache_subnet_group_name(&$subnet_group)
            .set_security_group_ids(Some($sg_ids))
            .set_tags(Some(ec_tags(&$tags)))
    };
}

impl Applier<'_> {
    pub(super) async fn exec_redis(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        let spec = self.spec;
        let limit = Duration::from_secs(spec.timeouts.destroy);
        match op {
            Op::CreateCacheSubnetGroup {
                name,
                subnets,
                update,
            } => {
                let rc = self.rc(region);
                let ids = subnets
                    .iter()
                    .map(|s| match s {
                        SubnetRef::Id(i) => Ok(i.clone()),
                        SubnetRef::Name(n) => rc.subnets.get(n).cloned().ok_or_else(|| {
                            Error::cloud_in(region, format!("subnet {n} does not exist"))
                        }),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let ec = self.aws.elasticache(region);
                if *update {
                    ec.modify_cache_subnet_group()
                        .cache_subnet_group_name(name)
                        .set_subnet_ids(Some(ids))
                        .send()
                        .await
                        .or_cloud(region, "ModifyCacheSubnetGroup")?;
                } else {
                    ec.create_cache_subnet_group()
                        .cache_subnet_group_name(name)
                        .cache_subnet_group_description(format!("rdeploy {}/{}", spec.project, spec.env))
                        .set_subnet_ids(Some(ids))
                        .set_tags(Some(ec_tags(&base_tags(spec, "cache-subnet-group", name, name))))
                        .send()
                        .await
                        .map_err(|e| match e.code() {
                            Some("CacheSubnetGroupAlreadyExists") => Error::cloud_in(region, format!("a cache subnet group named `{name}` exists but is not rdeploy's (no rdeploy tags); rdeploy will not touch it"
                            )),
                            _ => cloud_err(region, "CreateCacheSubnetGroup", e),
                        })?;
                }
                Ok(None)
            }
            Op::CreateRedis { name } => {
                self.create_redis(region, name).await?;
                Ok(None)
            }
            Op::UpdateRedis {
                name,
                engine_version,
                security_groups,
                replicas,
            } => {
                self.update_redis(
                    region,
                    name,
                    engine_version.as_deref(),
                    *security_groups,
                    *replicas,
                )
                .await?;
                Ok(None)
            }
            Op::ReplaceRedis { name } => {
                let r = &spec.redis[name];
                let ec = self.aws.elasticache(region);
                let cur_kind = {
                    // The current one may be of the other kind.
                    let rg = ec
                        .describe_replication_groups()
                        .replication_group_id(&r.aws_id)
                        .send()
                        .await;
                    if rg.is_ok() {
                        RedisKind::ReplicationGroup
                    } else {
                        RedisKind::CacheCluster
                    }
                };
                delete_redis(self.aws, region, &r.aws_id, cur_kind).await?;
                wait_redis_gone(
                    self.aws,
                    self.reporter,
                    region,
                    &r.aws_id,
                    cur_kind,
                    spec.timeouts.redis,
                )
                .await?;
                self.create_redis(region, name).await?;
                Ok(None)
            }
            Op::DeleteRedis { aws_id, kind } => {
                delete_redis(self.aws, region, aws_id, *kind).await?;
                Ok(Some("deleting (AWS finishes in the background)".into()))
            }
            Op::DeleteCacheSubnetGroup { name } => {
                let ec = self.aws.elasticache(region);
                let few = aws_sdk_elasticache::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
                let r = retry_codes(&["CacheSubnetGroupInUse"], limit, || {
                    ec.delete_cache_subnet_group()
                        .cache_subnet_group_name(name)
                        .customize()
                        .config_override(few.clone())
                        .send()
                })
                .await;
                match r {
                    Ok(_) => Ok(None),
                    Err(e) if aws::is_not_found(&e) => Ok(None),
                    Err(e) => {
                        // Holds no data and costs nothing: a warning, not a failure.
                        self.reporter.event(&Event::Warning {
                            msg: format!(
                                "could not delete the cache subnet group: {} (it costs nothing; delete it by hand if you like)",
                                aws::describe(region, &format!("DeleteCacheSubnetGroup {name}"), &e)
                            ),
                        });
                        self.left_in_place
                            .push(format!("cache subnet group {name} ({region})"));
                        Ok(Some("left in place".into()))
                    }
                }
            }
            _ => unreachable!("not a redis operation"),
        }
    }

    pub(super) async fn create_redis(&mut self, region: &str, name: &str) -> Result<()> {
        let spec = self.spec;
        let r = &spec.redis[name];
        let ec = self.aws.elasticache(region);
        let not_ours = || {
            Error::cloud_in(region, format!("an ElastiCache resource `{}` exists but is not rdeploy's (no rdeploy:project/rdeploy:env tags); rdeploy will not touch it",
                r.aws_id
            ))
        };
        // Discovery did not see it as ours: if it exists, it is either being deleted (then
        // wait until it is gone) or somebody else's.
        for kind in [RedisKind::ReplicationGroup, RedisKind::CacheCluster] {
            match redis_status(self.aws, region, &r.aws_id, kind).await? {
                None => {}
                Some(s) if s == "deleting" => {
                    wait_redis_gone(
                        self.aws,
                        self.reporter,
                        region,
                        &r.aws_id,
                        kind,
                        spec.timeouts.redis,
                    )
                    .await?
                }
                Some(_) => return Err(not_ours()),
            }
        }
        let rc = self.rc(region);
        let sg_ids = r
            .security_groups
            .iter()
            .map(|s| resolve_sg(rc, region, &s.value))
            .collect::<Result<Vec<_>>>()?;
        let subnet_group = r
            .subnet_group
            .clone()
            .unwrap_or_else(|| cache_subnet_group_name(spec));
        let mut tags = base_tags(spec, "redis", name, &r.aws_id);
        tags.insert(tag::CONFIG.into(), config_tag(&redis_config(spec, r)));
        // Another's resource under the id rdeploy wants: say so, never adopt it.
        let created = |r: Result<()>| match r {
            Err(e)
                if matches!(
                    e.error_code(),
                    Some("ReplicationGroupAlreadyExists")
                        | Some("ReplicationGroupAlreadyExistsFault")
                        | Some("CacheClusterAlreadyExists")
                ) =>
            {
                Err(not_ours())
            }
            other => other,
        };
        match r.kind {
            RedisKind::ReplicationGroup => {
                let req = ec
                    .create_replication_group()
                    .replication_group_id(&r.aws_id)
                    .replication_group_description(format!(
                        "rdeploy {}/{} {}",
                        spec.project, spec.env, r.name
                    ))
                    .num_cache_clusters(1 + r.replicas as i32)
                    .automatic_failover_enabled(r.replicas > 0);
                let sent = with_redis_settings!(req, r, subnet_group, sg_ids, tags).send();
                created(
                    sent.await
                        .or_cloud(region, "CreateReplicationGroup")
                        .map(drop),
                )?;
            }
            RedisKind::CacheCluster => {
                let req = ec
                    .create_cache_cluster()
                    .cache_cluster_id(&r.aws_id)
                    .num_cache_nodes(1);
                let sent = with_redis_settings!(req, r, subnet_group, sg_ids, tags).send();
                created(sent.await.or_cloud(region, "CreateCacheCluster").map(drop))?;
            }
        }
        self.to_be_available
            .push((region.to_string(), r.aws_id.clone(), r.kind));
        Ok(())
    }

    pub(super) async fn update_redis(
        &mut self,
        region: &str,
        name: &str,
        engine: Option<&str>,
        sgs: bool,
        replicas: Option<(u32, u32)>,
    ) -> Result<()> {
        let spec = self.spec;
        let r = &spec.redis[name];
        let ec = self.aws.elasticache(region);
        let rc = self.rc(region);
        let sg_ids = r
            .security_groups
            .iter()
            .map(|s| resolve_sg(rc, region, &s.value))
            .collect::<Result<Vec<_>>>()?;
        let arn;
        match r.kind {
            RedisKind::ReplicationGroup => {
                if engine.is_some() || sgs {
                    let mut req = ec
                        .modify_replication_group()
                        .replication_group_id(&r.aws_id)
                        .apply_immediately(true);
                    if let Some(v) = engine {
                        req = req.engine_version(v);
                    }
                    if sgs {
                        req = req.set_security_group_ids(Some(sg_ids.clone()));
                    }
                    req.send()
                        .await
                        .or_cloud(region, "ModifyReplicationGroup")?;
                }
                if let Some((from, to)) = replicas {
                    if to > from {
                        ec.increase_replica_count()
                            .replication_group_id(&r.aws_id)
                            .new_replica_count(to as i32)
                            .apply_immediately(true)
                            .send()
                            .await
                            .or_cloud(region, "IncreaseReplicaCount")?;
                    } else {
                        ec.decrease_replica_count()
                            .replication_group_id(&r.aws_id)
                            .new_replica_count(to as i32)
                            .apply_immediately(true)
                            .send()
                            .await
                            .or_cloud(region, "DecreaseReplicaCount")?;
                    }
                }
                let out = ec
                    .describe_replication_groups()
                    .replication_group_id(&r.aws_id)
                    .send()
                    .await
                    .or_cloud(region, "DescribeReplicationGroups")?;
                arn = out
                    .replication_groups()
                    .first()
                    .and_then(|g| g.arn())
                    .unwrap_or_default()
                    .to_string();
            }
            RedisKind::CacheCluster => {
                let mut req = ec
                    .modify_cache_cluster()
                    .cache_cluster_id(&r.aws_id)
                    .apply_immediately(true);
                if let Some(v) = engine {
                    req = req.engine_version(v);
                }
                if sgs {
                    req = req.set_security_group_ids(Some(sg_ids));
                }
                req.send().await.or_cloud(region, "ModifyCacheCluster")?;
                let out = ec
                    .describe_cache_clusters()
                    .cache_cluster_id(&r.aws_id)
                    .send()
                    .await
                    .or_cloud(region, "DescribeCacheClusters")?;
                arn = out
                    .cache_clusters()
                    .first()
                    .and_then(|g| g.arn())
                    .unwrap_or_default()
                    .to_string();
            }
        }
        let tag = aws_sdk_elasticache::types::Tag::builder()
            .key(tag::CONFIG)
            .value(config_tag(&redis_config(spec, r)))
            .build();
        ec.add_tags_to_resource()
            .resource_name(&arn)
            .tags(tag)
            .send()
            .await
            .or_cloud(region, "AddTagsToResource")?;
        self.to_be_available
            .push((region.to_string(), r.aws_id.clone(), r.kind));
        Ok(())
    }
}

pub(super) fn ec_tags(
    tags: &indexmap::IndexMap<String, String>,
) -> Vec<aws_sdk_elasticache::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_elasticache::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

pub(super) async fn delete_redis(aws: &Aws, region: &str, id: &str, kind: RedisKind) -> Result<()> {
    let ec = aws.elasticache(region);
    let r = match kind {
        RedisKind::ReplicationGroup => ec
            .delete_replication_group()
            .replication_group_id(id)
            .retain_primary_cluster(false)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if aws::is_not_found(&e) {
                    None
                } else {
                    Some(cloud_err(region, "DeleteReplicationGroup", e))
                }
            }),
        RedisKind::CacheCluster => ec
            .delete_cache_cluster()
            .cache_cluster_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if aws::is_not_found(&e) {
                    None
                } else {
                    Some(cloud_err(region, "DeleteCacheCluster", e))
                }
            }),
    };
    match r {
        Ok(()) | Err(None) => Ok(()),
        Err(Some(e)) => Err(e),
    }
}
