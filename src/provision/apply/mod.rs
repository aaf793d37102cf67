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

mod instances;
mod network;
mod redis;
pub(crate) mod retry;
mod teardown;
mod wait;

use self::instances::{run_instance, terminate};
use self::network::perm_to_ip_permission;
use self::teardown::revoke_group_rules;
use super::aws::{self, cloud_err, retry_codes, tag, Aws, SdkResult};
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
                .ok_or_else(|| Error::cloud_in(region, format!("subnet {n} does not exist")))?,
        };
        let mut sg_ids = vec![];
        for s in &l.security_groups {
            sg_ids.push(resolve_sg(rc, region, s)?);
        }
        Ok(Prepared { subnet_id, sg_ids })
    }

    /// Executes one operation; returns the id of what it created, if anything.
    async fn exec(&mut self, region: &str, op: &Op) -> Result<Option<String>> {
        match op {
            Op::CreateVpc { .. }
            | Op::CreateSubnet { .. }
            | Op::SetSubnetPublic { .. }
            | Op::CreateIgw { .. }
            | Op::AttachIgw { .. }
            | Op::CreateRouteTable { .. }
            | Op::FixRouteTable { .. }
            | Op::ImportKeyPair { .. }
            | Op::CreateSg { .. }
            | Op::SgRules { .. } => self.exec_network(region, op).await,
            Op::Launch(_)
            | Op::Replace { .. }
            | Op::UpdateInstance { .. }
            | Op::EnsureEip { .. }
            | Op::ReleaseEip { .. }
            | Op::Terminate { .. } => self.exec_instances(region, op).await,
            Op::CreateCacheSubnetGroup { .. }
            | Op::CreateRedis { .. }
            | Op::UpdateRedis { .. }
            | Op::ReplaceRedis { .. }
            | Op::DeleteRedis { .. }
            | Op::DeleteCacheSubnetGroup { .. } => self.exec_redis(region, op).await,
            Op::DeleteSg { .. }
            | Op::DeleteKeyPair { .. }
            | Op::DeleteRouteTable { .. }
            | Op::DeleteIgw { .. }
            | Op::DeleteSubnet { .. }
            | Op::DeleteVpc { .. } => self.exec_teardown(region, op).await,
            Op::Lb(op) => Box::pin(self.exec_lb(region, op)).await,
            Op::Dns(op) => Box::pin(self.exec_dns(op)).await,
            Op::Db(op) => Box::pin(self.exec_db(region, op)).await,
            Op::Peering(op) => Box::pin(self.exec_peering(region, op)).await,
        }
    }

    fn vpc(&mut self, region: &str) -> Result<String> {
        self.rc(region)
            .vpc_id
            .clone()
            .ok_or_else(|| Error::cloud_in(region, "the VPC does not exist"))
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
        .ok_or_else(|| Error::cloud_in(region, format!("security group `{name}` does not exist")))
}
