//! Applying DNS changes: one atomic Route 53 change batch per record — the record and
//! its ownership TXT together (and the old record when its type changes), so no record
//! ever exists without its owner mark. Values are resolved here: the load balancer's DNS
//! name and zone from ELBv2, the instances' addresses from EC2 once they run.

use super::spec::{RecordSpec, Target};
use super::state::{owner_name, owner_value, OwnedRecord};
use super::DnsOp;
use crate::aws::SdkResult;
use crate::error::{Error, Result};
use crate::provision::apply::retry::Retry;
use crate::provision::apply::Applier;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use std::time::Duration;

fn built<T>(r: std::result::Result<T, aws_sdk_route53::error::BuildError>) -> Result<T> {
    r.map_err(|e| Error::cloud(format!("route53: building a request: {e}")))
}

fn rrset(name: &str, t: RrType, ttl: i64, values: &[String]) -> Result<ResourceRecordSet> {
    let mut b = ResourceRecordSet::builder().name(name).r#type(t).ttl(ttl);
    for v in values {
        b = b.resource_records(built(ResourceRecord::builder().value(v).build())?);
    }
    built(b.build())
}

fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change> {
    built(
        Change::builder()
            .action(action)
            .resource_record_set(set)
            .build(),
    )
}

impl Applier<'_> {
    fn record_spec(&self, fqdn: &str) -> Result<RecordSpec> {
        self.spec
            .dns
            .iter()
            .flat_map(|z| z.records.iter())
            .find(|r| r.fqdn == fqdn)
            .cloned()
            .ok_or_else(|| Error::cloud(format!("dns record {fqdn} is not in the spec")))
    }

    /// The record set the spec wants now (`None`: an instance group without addresses).
    async fn desired_set(
        &mut self,
        r: &RecordSpec,
        leaving: &[String],
    ) -> Result<Option<ResourceRecordSet>> {
        match &r.target {
            Target::Cname(c) => Ok(Some(rrset(
                &r.fqdn,
                RrType::Cname,
                r.ttl as i64,
                std::slice::from_ref(c),
            )?)),
            Target::LoadBalancer(l) => {
                let lb =
                    self.spec.load_balancers.get(l).ok_or_else(|| {
                        Error::cloud(format!("load balancer {l} is not in the spec"))
                    })?;
                let region = lb.region.clone();
                let arn = self
                    .region_ctx(&region)
                    .lb
                    .lbs
                    .get(l)
                    .cloned()
                    .ok_or_else(|| {
                        Error::cloud_in(&region, format!("load balancer `{l}` does not exist"))
                    })?;
                let out = self
                    .aws()
                    .elbv2(&region)
                    .describe_load_balancers()
                    .load_balancer_arns(&arn)
                    .send()
                    .await
                    .or_cloud(&region, "DescribeLoadBalancers")?;
                let found = out.load_balancers().first().ok_or_else(|| {
                    Error::cloud_in(&region, format!("load balancer {arn} vanished"))
                })?;
                let alias = built(
                    AliasTarget::builder()
                        .hosted_zone_id(found.canonical_hosted_zone_id().unwrap_or_default())
                        .dns_name(found.dns_name().unwrap_or_default())
                        .evaluate_target_health(true)
                        .build(),
                )?;
                Ok(Some(built(
                    ResourceRecordSet::builder()
                        .name(&r.fqdn)
                        .r#type(RrType::A)
                        .alias_target(alias)
                        .build(),
                )?))
            }
            Target::Instances { group, private } => {
                let g = self
                    .spec
                    .instances
                    .get(group)
                    .ok_or_else(|| {
                        Error::cloud(format!("instance group {group} is not in the spec"))
                    })?
                    .clone();
                let mut ips = vec![];
                for region in &g.regions {
                    let ids: Vec<String> = self
                        .region_ctx(region)
                        .instances
                        .iter()
                        .filter(|((n, _), id)| n == group && !leaving.contains(id))
                        .map(|(_, id)| id.clone())
                        .collect();
                    if ids.is_empty() {
                        continue;
                    }
                    let ec2 = self.aws().ec2(region);
                    let found =
                        crate::provision::state::describe_instances(&ec2, region, vec![], ids)
                            .await?;
                    ips.extend(found.into_iter().filter_map(|i| {
                        if *private {
                            i.private_ip
                        } else {
                            i.public_ip
                        }
                    }));
                }
                ips.sort();
                if ips.is_empty() {
                    return Ok(None);
                }
                Ok(Some(rrset(&r.fqdn, RrType::A, r.ttl as i64, &ips)?))
            }
        }
    }

    /// Executes one DNS operation.
    pub(crate) async fn exec_dns(&mut self, op: &DnsOp) -> Result<Option<String>> {
        let (project, env) = (self.spec.project.clone(), self.spec.env.clone());
        let mut changes = vec![];
        let (zone_id, summary) = match op {
            DnsOp::Upsert {
                zone_id,
                fqdn,
                replace,
                leaving,
            } => {
                let r = self.record_spec(fqdn)?;
                if let Some(old) = replace {
                    changes.extend(delete_changes(old)?);
                }
                let owner = rrset(
                    &owner_name(fqdn),
                    RrType::Txt,
                    r.ttl as i64,
                    &[owner_value(&project, &env, r.rtype())],
                )?;
                match self.desired_set(&r, leaving).await? {
                    Some(set) => {
                        let summary = summarize(&set);
                        changes.push(change(ChangeAction::Upsert, set)?);
                        changes.push(change(ChangeAction::Upsert, owner)?);
                        (zone_id.clone(), summary)
                    }
                    None => {
                        // No address to publish: the record goes (its owner mark too).
                        let cur = self.current(zone_id, fqdn, r.rtype()).await?;
                        if let Some(c) = cur {
                            changes.push(change(ChangeAction::Delete, c)?);
                        }
                        if let Some(o) = self.current(zone_id, &owner_name(fqdn), "TXT").await? {
                            changes.push(change(ChangeAction::Delete, o)?);
                        }
                        (zone_id.clone(), "no addresses: record removed".to_string())
                    }
                }
            }
            DnsOp::Delete { zone_id, record } => {
                changes.extend(delete_changes(record)?);
                (zone_id.clone(), String::new())
            }
        };
        if changes.is_empty() {
            return Ok(None);
        }
        let batch = built(
            ChangeBatch::builder()
                .comment(format!("rdeploy {project}/{env}"))
                .set_changes(Some(changes))
                .build(),
        )?;
        let r53 = self.aws().route53();
        Retry::new(
            "route53",
            &["PriorRequestNotComplete"],
            Duration::from_secs(120),
        )
        .call("ChangeResourceRecordSets", || {
            r53.change_resource_record_sets()
                .hosted_zone_id(&zone_id)
                .change_batch(batch.clone())
                .send()
        })
        .await?;
        Ok(if summary.is_empty() {
            None
        } else {
            Some(summary)
        })
    }

    /// The record set of that name and type as Route 53 has it now.
    async fn current(
        &self,
        zone_id: &str,
        name: &str,
        rtype: &str,
    ) -> Result<Option<ResourceRecordSet>> {
        let out = self
            .aws()
            .route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .start_record_type(RrType::from(rtype))
            .max_items(1)
            .send()
            .await
            .or_cloud("route53", "ListResourceRecordSets")?;
        Ok(out
            .resource_record_sets()
            .iter()
            .find(|s| {
                s.name().trim_end_matches('.').eq_ignore_ascii_case(name)
                    && s.r#type().as_str() == rtype
            })
            .cloned())
    }
}

/// DELETEs of a record and its ownership TXT, exactly as found (Route 53 requires it).
fn delete_changes(o: &OwnedRecord) -> Result<Vec<Change>> {
    let mut out = vec![];
    if let Some(r) = &o.record {
        out.push(change(ChangeAction::Delete, r.clone())?);
    }
    out.push(change(ChangeAction::Delete, o.owner.clone())?);
    Ok(out)
}

fn summarize(s: &ResourceRecordSet) -> String {
    match s.alias_target() {
        Some(a) => format!("alias {}", a.dns_name()),
        None => s
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}
