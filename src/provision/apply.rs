//! Applying a plan: each change becomes AWS calls, in the plan's order, in stages:
//!
//! 1. creations and in-place updates (network, key pair, security groups and rules,
//!    cache subnet group, instance launches — concurrently —, Redis);
//! 2. waiting (bounded) until the launched and started instances are `running`;
//! 3. Elastic IP associations, load balancer targets, then the old instances of
//!    replacements are terminated;
//! 4. destroys, in reverse dependency order (addresses, instances, Redis, groups, key,
//!    route table, gateway, subnets, VPC), each retried while AWS still sees a dependency;
//! 5. waiting (bounded) until created or modified Redis are `available`.
//!
//! Every resource is created with its tags in the same call (TagSpecifications), so an
//! interrupted apply leaves nothing untagged: the next run discovers it and converges.
//! The bounded waits are in `apply/wait.rs`.

mod wait;

use super::aws::{self, cloud_err, retry_codes, tag, Aws};
use super::lb::LbOp;
use super::plan::{
    base_tags, cache_subnet_group_name, config_tag, redis_config, Change, Launch, Op, Plan,
    SubnetRef,
};
use super::spec::{RedisKind, RuleSpec, Source, Spec};
use super::state::{Perm, PermSource, State};
use crate::error::{Error, Result};
use crate::output::{Event, Reporter};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, BlockDeviceMapping, DomainType, EbsBlockDevice, InstanceType,
    IpPermission, IpRange, ResourceType, UserIdGroupPair, VolumeType,
};
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use wait::{redis_status, wait_instances, wait_redis, wait_redis_gone};

/// Ids known while applying: from discovery and lookups, plus what this apply created.
#[derive(Debug, Default, Clone)]
pub(crate) struct RegionCtx {
    pub(crate) vpc_id: Option<String>,
    pub(crate) subnets: HashMap<String, String>,
    igw_id: Option<String>,
    pub(crate) sgs: HashMap<String, String>,
    /// (group, index) -> instance id, for the instances the spec keeps.
    pub(crate) instances: HashMap<(String, u32), String>,
    /// Elastic IPs of the region: allocation id -> instance id.
    eips: Vec<super::state::Eip>,
    /// Load balancers, target groups and listeners by name.
    pub(crate) lb: super::lb::apply::LbCtx,
}

pub struct Applier<'a> {
    aws: &'a Aws,
    pub(crate) spec: &'a Spec,
    lookups: &'a super::lookup::Lookups,
    reporter: &'a dyn Reporter,
    ctx: HashMap<String, RegionCtx>,
    /// Instances to wait for (region, id).
    to_run: Vec<(String, String)>,
    /// Redis to wait for (region, id, kind).
    to_be_available: Vec<(String, String, RedisKind)>,
    /// Rules of newly created security groups (region, group name, rules).
    pending_rules: Vec<(String, String, Vec<RuleSpec>)>,
    /// Work after the instances run: EIP associations, replaced instances to terminate.
    after_running: Vec<(String, Op)>,
    /// Replacements: (region, old id, group, index).
    replaced: Vec<(String, String, String, u32)>,
    /// Resources a destroy could not remove but that do not fail the run (warned about).
    pub left_in_place: Vec<String>,
    /// Databases to wait for (region, id).
    pub(crate) db_waits: Vec<(String, String)>,
}

fn say(reporter: &dyn Reporter, msg: impl Into<String>) {
    reporter.event(&Event::Message { msg: msg.into() });
}

impl<'a> Applier<'a> {
    pub fn new(
        aws: &'a Aws,
        spec: &'a Spec,
        state: &State,
        lookups: &'a super::lookup::Lookups,
        reporter: &'a dyn Reporter,
    ) -> Self {
        let mut ctx = HashMap::new();
        for (region, rs) in &state.regions {
            let mut c = RegionCtx {
                vpc_id: rs.vpcs.first().map(|v| v.id.clone()),
                subnets: rs
                    .subnets
                    .iter()
                    .map(|s| (s.name.clone(), s.id.clone()))
                    .collect(),
                igw_id: rs.igws.first().map(|g| g.id.clone()),
                sgs: rs
                    .security_groups
                    .iter()
                    .map(|s| (s.name.clone(), s.id.clone()))
                    .collect(),
                instances: rs
                    .instances
                    .iter()
                    .map(|i| ((i.group.clone(), i.index), i.id.clone()))
                    .collect(),
                eips: rs.eips.clone(),
                lb: super::lb::apply::LbCtx::new(spec, &rs.lb),
            };
            if let Some(lk) = lookups.regions.get(region) {
                if lk.vpc_id.is_some() {
                    c.vpc_id = lk.vpc_id.clone();
                }
            }
            ctx.insert(region.clone(), c);
        }
        Applier {
            aws,
            spec,
            lookups,
            reporter,
            ctx,
            to_run: vec![],
            to_be_available: vec![],
            pending_rules: vec![],
            after_running: vec![],
            replaced: vec![],
            left_in_place: vec![],
            db_waits: vec![],
        }
    }

    fn rc(&mut self, region: &str) -> &mut RegionCtx {
        self.ctx.entry(region.to_string()).or_default()
    }

    /// What the apply knows of a region (for the appliers of other resource kinds).
    pub(crate) fn region_ctx(&mut self, region: &str) -> &mut RegionCtx {
        self.rc(region)
    }

    pub(crate) fn say(&self, msg: impl Into<String>) {
        say(self.reporter, msg)
    }

    pub(crate) fn aws(&self) -> &'a Aws {
        self.aws
    }

    pub(crate) fn lookups(&self) -> &'a super::lookup::Lookups {
        self.lookups
    }

    /// Applies every change of the plan. Stops at the first error (a rerun converges).
    pub async fn apply(&mut self, plan: &Plan) -> Result<()> {
        let (builds, destroys): (Vec<&Change>, Vec<&Change>) = plan
            .changes
            .iter()
            .partition(|c| !matches!(c.action, super::plan::Action::Destroy));

        // Stage 1: creations and updates; consecutive launches run concurrently.
        let mut i = 0;
        while i < builds.len() {
            let c = builds[i];
            if !matches!(c.op, Op::CreateSg { .. }) {
                self.flush_rules().await?;
            }
            if matches!(c.op, Op::Launch(_)) {
                let mut j = i;
                while j < builds.len() && matches!(builds[j].op, Op::Launch(_)) {
                    j += 1;
                }
                self.launch_many(&builds[i..j]).await?;
                i = j;
                continue;
            }
            if after_instances(&c.op) {
                // Targets and DNS records are written once the instances run (stage 3).
                i += 1;
                continue;
            }
            if let Op::EnsureEip { .. } = &c.op {
                // Addresses are associated once the instances run (stage 3).
                self.after_running.push((c.region.clone(), c.op.clone()));
                i += 1;
                continue;
            }
            self.run(c).await?;
            i += 1;
        }
        self.flush_rules().await?;

        // Stage 2: instances running.
        let to_run = std::mem::take(&mut self.to_run);
        if !to_run.is_empty() {
            wait_instances(
                self.aws,
                self.reporter,
                &to_run,
                "running",
                self.spec.timeouts.instances,
            )
            .await?;
        }

        // Stage 3: addresses, then the replaced instances go.
        for (region, op) in std::mem::take(&mut self.after_running) {
            if let Op::EnsureEip {
                group,
                index,
                allocation_id,
            } = &op
            {
                let done = self
                    .ensure_eip(&region, group, *index, allocation_id.as_deref())
                    .await?;
                say(
                    self.reporter,
                    format!("  {region}: elastic-ip {group}-{index}: {done}"),
                );
            }
        }
        for c in builds.iter().filter(|c| after_instances(&c.op)) {
            self.run(c).await?;
        }
        for (region, old_id, group, index) in std::mem::take(&mut self.replaced) {
            let new_id = self
                .rc(&region)
                .instances
                .get(&(group.clone(), index))
                .cloned()
                .unwrap_or_default();
            self.move_eip(&region, &old_id, &new_id).await?;
            terminate(self.aws, &region, std::slice::from_ref(&old_id)).await?;
            say(
                self.reporter,
                format!("  {region}: terminated {old_id} (replaced by {new_id})"),
            );
        }

        // Stage 4: destroys.
        self.destroy(&destroys).await?;

        // Stage 5: Redis available.
        let wait = std::mem::take(&mut self.to_be_available);
        for (region, id, kind) in wait {
            wait_redis(
                self.aws,
                self.reporter,
                &region,
                &id,
                kind,
                self.spec.timeouts.redis,
            )
            .await?;
        }
        // Stage 5 too: databases available.
        self.wait_databases().await?;
        Ok(())
    }

    /// Applies destroy changes (also used by `rdeploy destroy`).
    pub async fn destroy(&mut self, destroys: &[&Change]) -> Result<()> {
        if destroys.is_empty() {
            return Ok(());
        }
        // Break security-group cycles first: groups about to go lose their group rules.
        let mut sg_ids: HashMap<String, Vec<String>> = HashMap::new();
        for c in destroys {
            if let Op::DeleteSg { id } = &c.op {
                sg_ids.entry(c.region.clone()).or_default().push(id.clone());
            }
        }
        let mut terminated: Vec<(String, String)> = vec![];
        let mut sgs_prepared = false;
        for c in destroys {
            if matches!(c.op, Op::DeleteSg { .. }) && !sgs_prepared {
                sgs_prepared = true;
                if !terminated.is_empty() {
                    wait_instances(
                        self.aws,
                        self.reporter,
                        &terminated,
                        "terminated",
                        self.spec.timeouts.destroy,
                    )
                    .await?;
                    terminated.clear();
                }
                for (region, ids) in &sg_ids {
                    revoke_group_rules(self.aws, region, ids).await?;
                }
            }
            if matches!(
                c.op,
                Op::DeleteSubnet { .. } | Op::DeleteVpc { .. } | Op::DeleteIgw { .. }
            ) && !terminated.is_empty()
            {
                wait_instances(
                    self.aws,
                    self.reporter,
                    &terminated,
                    "terminated",
                    self.spec.timeouts.destroy,
                )
                .await?;
                terminated.clear();
            }
            if let Op::Terminate { ids } = &c.op {
                terminated.extend(ids.iter().map(|i| (c.region.clone(), i.clone())));
            }
            self.run(c).await?;
        }
        if !terminated.is_empty() {
            wait_instances(
                self.aws,
                self.reporter,
                &terminated,
                "terminated",
                self.spec.timeouts.destroy,
            )
            .await?;
        }
        Ok(())
    }

    async fn run(&mut self, c: &Change) -> Result<()> {
        let label = format!("{} {} {}", c.action.symbol(), c.resource, c.name);
        match self.exec(&c.region, &c.op).await {
            Ok(Some(id)) => {
                say(self.reporter, format!("  {}: {label}: {id}", c.region));
                Ok(())
            }
            Ok(None) => {
                say(self.reporter, format!("  {}: {label}", c.region));
                Ok(())
            }
            Err(e) => {
                say(self.reporter, format!("  {}: {label}: FAILED", c.region));
                Err(e)
            }
        }
    }

    async fn flush_rules(&mut self) -> Result<()> {
        for (region, name, rules) in std::mem::take(&mut self.pending_rules) {
            self.sg_rules(&region, &name, &rules, &[]).await?;
        }
        Ok(())
    }

    async fn launch_many(&mut self, changes: &[&Change]) -> Result<()> {
        let mut jobs = vec![];
        for c in changes {
            if let Op::Launch(l) = &c.op {
                let prepared = self.prepare_launch(&c.region, l)?;
                jobs.push((c.region.clone(), (**l).clone(), prepared));
            }
        }
        let aws = self.aws;
        let results: Vec<(String, Launch, Result<String>)> = futures::stream::iter(jobs)
            .map(|(region, l, p)| async move {
                let r = run_instance(aws, &region, &l, &p).await;
                (region, l, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut first_err = None;
        for (region, l, r) in results {
            match r {
                Ok(id) => {
                    say(
                        self.reporter,
                        format!("  {region}: + instance {}-{}: {id}", l.group, l.index),
                    );
                    self.rc(&region)
                        .instances
                        .insert((l.group.clone(), l.index), id.clone());
                    self.to_run.push((region, id));
                }
                Err(e) => {
                    say(
                        self.reporter,
                        format!("  {region}: + instance {}-{}: FAILED", l.group, l.index),
                    );
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn prepare_launch(&mut self, region: &str, l: &Launch) -> Result<Prepared> {
        let rc = self.rc(region);
        let subnet_id = match &l.subnet {
            SubnetRef::Id(id) => id.clone(),
            SubnetRef::Name(n) => rc
                .subnets
                .get(n)
                .cloned()
                .ok_or_else(|| Error::Cloud(format!("{region}: subnet {n} does not exist")))?,
        };
        let mut sg_ids = vec![];
        for s in &l.security_groups {
            sg_ids.push(resolve_sg(rc, region, s)?);
        }
        Ok(Prepared { subnet_id, sg_ids })
    }

    /// Executes one operation; returns the id of what it created, if anything.
    async fn exec(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        let ec2 = self.aws.ec2(region);
        let spec = self.spec;
        let prefix = spec.prefix();
        let limit = Duration::from_secs(spec.timeouts.destroy);
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
                    .map_err(|e| cloud_err(region, "CreateVpc", e))?;
                let id = out
                    .vpc()
                    .and_then(|v| v.vpc_id())
                    .unwrap_or_default()
                    .to_string();
                retry_codes(&["InvalidVpcID.NotFound"], consistency, || {
                    ec2.modify_vpc_attribute()
                        .vpc_id(&id)
                        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
                        .send()
                })
                .await
                .map_err(|e| cloud_err(region, "ModifyVpcAttribute", e))?;
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
                let out = retry_codes(&["InvalidVpcID.NotFound"], consistency, || {
                    ec2.create_subnet()
                        .vpc_id(&vpc)
                        .cidr_block(cidr)
                        .availability_zone(az)
                        .tag_specifications(aws::tag_spec(ResourceType::Subnet, &tags))
                        .send()
                })
                .await
                .map_err(|e| cloud_err(region, "CreateSubnet", e))?;
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
                    .map_err(|e| cloud_err(region, "CreateInternetGateway", e))?;
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
                    .ok_or_else(|| Error::Cloud(format!("{region}: no internet gateway")))?;
                let out = ec2
                    .create_route_table()
                    .vpc_id(&vpc)
                    .tag_specifications(aws::tag_spec(
                        ResourceType::RouteTable,
                        &base_tags(spec, "route-table", "public", &format!("{prefix}-public")),
                    ))
                    .send()
                    .await
                    .map_err(|e| cloud_err(region, "CreateRouteTable", e))?;
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
                    .ok_or_else(|| Error::Cloud(format!("{region}: no internet gateway")))?;
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
                        .map_err(|e| cloud_err(region, "DeleteKeyPair", e))?;
                }
                let mut tags = base_tags(spec, "key-pair", name, name);
                tags.insert(tag::PUBKEY.into(), super::plan::pubkey_hash(public_key));
                let out = ec2
                    .import_key_pair()
                    .key_name(name)
                    .public_key_material(aws_smithy_types::Blob::new(public_key.as_bytes()))
                    .tag_specifications(aws::tag_spec(ResourceType::KeyPair, &tags))
                    .send()
                    .await
                    .map_err(|e| match e.code() {
                        Some("InvalidKeyPair.Duplicate") => Error::Cloud(format!(
                            "{region}: a key pair named `{name}` exists but is not rdeploy's (no rdeploy:project/rdeploy:env tags): rename `key_pair.name` or delete it"
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
                        Some("InvalidGroup.Duplicate") => Error::Cloud(format!(
                            "{region}: a security group named `{group_name}` exists in {vpc} but is not rdeploy's (no rdeploy:project/rdeploy:env tags); rdeploy will not touch it"
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
                        .map_err(|e| cloud_err(region, "ModifyInstanceAttribute", e))?;
                }
                if !set_tags.is_empty() {
                    ec2.create_tags()
                        .resources(id)
                        .set_tags(Some(aws::ec2_tags(set_tags)))
                        .send()
                        .await
                        .map_err(|e| cloud_err(region, "CreateTags", e))?;
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
                        .map_err(|e| cloud_err(region, "DeleteTags", e))?;
                }
                if *start {
                    ec2.start_instances()
                        .instance_ids(id)
                        .send()
                        .await
                        .map_err(|e| cloud_err(region, "StartInstances", e))?;
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
                    match ec2.disassociate_address().association_id(a).send().await {
                        Ok(_) => {}
                        Err(e) if aws::is_not_found(&e) => {}
                        Err(e) => return Err(cloud_err(region, "DisassociateAddress", e)),
                    }
                }
                match retry_codes(&["InvalidIPAddress.InUse"], limit, || {
                    ec2.release_address().allocation_id(allocation_id).send()
                })
                .await
                {
                    Ok(_) => Ok(None),
                    Err(e) if aws::is_not_found(&e) => Ok(None),
                    Err(e) => Err(cloud_err(region, "ReleaseAddress", e)),
                }
            }
            Op::Terminate { ids } => {
                terminate(self.aws, region, ids).await?;
                Ok(None)
            }
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
                            Error::Cloud(format!("{region}: subnet {n} does not exist"))
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
                        .map_err(|e| cloud_err(region, "ModifyCacheSubnetGroup", e))?;
                } else {
                    ec.create_cache_subnet_group()
                        .cache_subnet_group_name(name)
                        .cache_subnet_group_description(format!("rdeploy {}/{}", spec.project, spec.env))
                        .set_subnet_ids(Some(ids))
                        .set_tags(Some(ec_tags(&base_tags(spec, "cache-subnet-group", name, name))))
                        .send()
                        .await
                        .map_err(|e| match e.code() {
                            Some("CacheSubnetGroupAlreadyExists") => Error::Cloud(format!(
                                "{region}: a cache subnet group named `{name}` exists but is not rdeploy's (no rdeploy tags); rdeploy will not touch it"
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
            Op::Lb(op) => Box::pin(self.exec_lb(region, op)).await,
            Op::Dns(op) => Box::pin(self.exec_dns(op)).await,
            Op::Db(op) => Box::pin(self.exec_db(region, op)).await,
            Op::Peering(op) => Box::pin(self.exec_peering(region, op)).await,
            Op::DeleteVpc { id } => match retry_codes(&["DependencyViolation"], limit, || {
                ec2.delete_vpc().vpc_id(id).send()
            })
            .await
            {
                Ok(_) => Ok(None),
                Err(e) if aws::is_not_found(&e) => Ok(None),
                Err(e) => Err(cloud_err(region, "DeleteVpc", e)),
            },
        }
    }

    /// Associates an address of the group (or a new one) with instance `group-index`.
    async fn ensure_eip(
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
                Error::Cloud(format!(
                    "{region}: no instance {group}-{index} for its Elastic IP"
                ))
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
                    .map_err(|e| cloud_err(region, "AllocateAddress", e))?;
                out.allocation_id().unwrap_or_default().to_string()
            }
        };
        retry_codes(
            &[
                "InvalidInstanceID",
                "IncorrectInstanceState",
                "InvalidAllocationID.NotFound",
            ],
            Duration::from_secs(60),
            || {
                ec2.associate_address()
                    .allocation_id(&alloc)
                    .instance_id(&instance)
                    .allow_reassociation(true)
                    .send()
            },
        )
        .await
        .map_err(|e| cloud_err(region, "AssociateAddress", e))?;
        Ok(format!("{alloc} -> {instance}"))
    }

    fn vpc(&mut self, region: &str) -> Result<String> {
        self.rc(region)
            .vpc_id
            .clone()
            .ok_or_else(|| Error::Cloud(format!("{region}: the VPC does not exist")))
    }

    async fn fix_route_table(
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
                        .map_err(|e| cloud_err(region, "ReplaceRoute", e))?;
                }
                Err(e) => return Err(cloud_err(region, "CreateRoute", e)),
            }
        }
        for name in associate {
            let subnet =
                self.rc(region).subnets.get(name).cloned().ok_or_else(|| {
                    Error::Cloud(format!("{region}: subnet {name} does not exist"))
                })?;
            retry_codes(
                &["InvalidRouteTableID.NotFound", "InvalidSubnetID.NotFound"],
                consistency,
                || {
                    ec2.associate_route_table()
                        .route_table_id(rt)
                        .subnet_id(&subnet)
                        .send()
                },
            )
            .await
            .map_err(|e| cloud_err(region, "AssociateRouteTable", e))?;
        }
        Ok(())
    }

    async fn sg_rules(
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

    async fn move_eip(&mut self, region: &str, old_id: &str, new_id: &str) -> Result<()> {
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
                .map_err(|x| cloud_err(region, "AssociateAddress", x))?;
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

    async fn create_redis(&mut self, region: &str, name: &str) -> Result<()> {
        let spec = self.spec;
        let r = &spec.redis[name];
        let ec = self.aws.elasticache(region);
        let not_ours = || {
            Error::Cloud(format!(
                "{region}: an ElastiCache resource `{}` exists but is not rdeploy's (no rdeploy:project/rdeploy:env tags); rdeploy will not touch it",
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
        let exists = |code: Option<&str>| {
            matches!(
                code,
                Some("ReplicationGroupAlreadyExists")
                    | Some("ReplicationGroupAlreadyExistsFault")
                    | Some("CacheClusterAlreadyExists")
            )
        };
        match r.kind {
            RedisKind::ReplicationGroup => {
                ec.create_replication_group()
                    .replication_group_id(&r.aws_id)
                    .replication_group_description(format!(
                        "rdeploy {}/{} {}",
                        spec.project, spec.env, r.name
                    ))
                    .engine("redis")
                    .set_engine_version(r.engine_version.clone())
                    .cache_node_type(&r.node_type)
                    .num_cache_clusters(1 + r.replicas as i32)
                    .automatic_failover_enabled(r.replicas > 0)
                    .port(r.port as i32)
                    .cache_subnet_group_name(&subnet_group)
                    .set_security_group_ids(Some(sg_ids))
                    .set_tags(Some(ec_tags(&tags)))
                    .send()
                    .await
                    .map_err(|e| {
                        if exists(e.code()) {
                            not_ours()
                        } else {
                            cloud_err(region, "CreateReplicationGroup", e)
                        }
                    })?;
            }
            RedisKind::CacheCluster => {
                ec.create_cache_cluster()
                    .cache_cluster_id(&r.aws_id)
                    .engine("redis")
                    .set_engine_version(r.engine_version.clone())
                    .cache_node_type(&r.node_type)
                    .num_cache_nodes(1)
                    .port(r.port as i32)
                    .cache_subnet_group_name(&subnet_group)
                    .set_security_group_ids(Some(sg_ids))
                    .set_tags(Some(ec_tags(&tags)))
                    .send()
                    .await
                    .map_err(|e| {
                        if exists(e.code()) {
                            not_ours()
                        } else {
                            cloud_err(region, "CreateCacheCluster", e)
                        }
                    })?;
            }
        }
        self.to_be_available
            .push((region.to_string(), r.aws_id.clone(), r.kind));
        Ok(())
    }

    async fn update_redis(
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
                        .map_err(|e| cloud_err(region, "ModifyReplicationGroup", e))?;
                }
                if let Some((from, to)) = replicas {
                    if to > from {
                        ec.increase_replica_count()
                            .replication_group_id(&r.aws_id)
                            .new_replica_count(to as i32)
                            .apply_immediately(true)
                            .send()
                            .await
                            .map_err(|e| cloud_err(region, "IncreaseReplicaCount", e))?;
                    } else {
                        ec.decrease_replica_count()
                            .replication_group_id(&r.aws_id)
                            .new_replica_count(to as i32)
                            .apply_immediately(true)
                            .send()
                            .await
                            .map_err(|e| cloud_err(region, "DecreaseReplicaCount", e))?;
                    }
                }
                let out = ec
                    .describe_replication_groups()
                    .replication_group_id(&r.aws_id)
                    .send()
                    .await
                    .map_err(|e| cloud_err(region, "DescribeReplicationGroups", e))?;
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
                req.send()
                    .await
                    .map_err(|e| cloud_err(region, "ModifyCacheCluster", e))?;
                let out = ec
                    .describe_cache_clusters()
                    .cache_cluster_id(&r.aws_id)
                    .send()
                    .await
                    .map_err(|e| cloud_err(region, "DescribeCacheClusters", e))?;
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
            .map_err(|e| cloud_err(region, "AddTagsToResource", e))?;
        self.to_be_available
            .push((region.to_string(), r.aws_id.clone(), r.kind));
        Ok(())
    }
}

struct Prepared {
    subnet_id: String,
    sg_ids: Vec<String>,
}

/// Builds that need the instances running: load balancer targets, DNS records.
fn after_instances(op: &Op) -> bool {
    matches!(
        op,
        Op::Lb(LbOp::SyncTargets { .. }) | Op::Dns(super::dns::DnsOp::Upsert { .. })
    )
}

fn resolve_sg(rc: &RegionCtx, region: &str, name: &str) -> Result<String> {
    if name.starts_with("sg-") {
        return Ok(name.to_string());
    }
    rc.sgs
        .get(name)
        .cloned()
        .ok_or_else(|| Error::Cloud(format!("{region}: security group `{name}` does not exist")))
}

fn ec_tags(tags: &indexmap::IndexMap<String, String>) -> Vec<aws_sdk_elasticache::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_elasticache::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

fn perm_to_ip_permission(p: &Perm) -> IpPermission {
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

async fn set_subnet_public(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
    public: bool,
) -> Result<()> {
    retry_codes(
        &["InvalidSubnetID.NotFound"],
        Duration::from_secs(60),
        || {
            ec2.modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
                .send()
        },
    )
    .await
    .map_err(|e| cloud_err(region, "ModifySubnetAttribute", e))?;
    Ok(())
}

async fn attach_igw(ec2: &aws_sdk_ec2::Client, region: &str, igw: &str, vpc: &str) -> Result<()> {
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

async fn run_instance(aws: &Aws, region: &str, l: &Launch, p: &Prepared) -> Result<String> {
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
        .ok_or_else(|| Error::Cloud(format!("{region}: RunInstances returned no instance")))
}

async fn terminate(aws: &Aws, region: &str, ids: &[String]) -> Result<()> {
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
                match ec2.terminate_instances().instance_ids(id).send().await {
                    Ok(_) => {}
                    Err(e) if aws::is_not_found(&e) => {}
                    Err(e) => return Err(cloud_err(region, "TerminateInstances", e)),
                }
            }
            Ok(())
        }
        Err(e) => Err(cloud_err(region, "TerminateInstances", e)),
    }
}

/// Removes the rules that reference other groups from these groups (so that groups
/// referencing each other can be deleted).
async fn revoke_group_rules(aws: &Aws, region: &str, ids: &[String]) -> Result<()> {
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
        let perms: Vec<Perm> = super::state::flatten_perms(g.ip_permissions())
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

async fn delete_redis(aws: &Aws, region: &str, id: &str, kind: RedisKind) -> Result<()> {
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
