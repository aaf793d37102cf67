//! `rdeploy env list` / `rdeploy env show ENV`: the environments of a project, read-only.
//!
//! Environments are found by their tags: every EC2 resource tagged with the spec's
//! `rdeploy:project` names its environment in `rdeploy:env` (DescribeTags, all pages);
//! each environment is then discovered with [`state::discover`], the same discovery
//! `rdeploy provision` plans from, so the counts are what a plan would see. An
//! environment whose resources are all gone (terminated instances keep their tags for a
//! while) is not listed. Nothing here creates, changes or deletes anything.
//!
//! Creation time: AWS reports none for VPCs, subnets or groups, so an environment's
//! `created` is the launch time of its oldest live instance (none without instances).

use super::aws::{self, tag, Aws, AwsSettings};
use super::outputs;
use super::spec::Spec;
use super::state::{self, RegionState, State};
use crate::aws::SdkResult;
use crate::error::Result;
use crate::output::{Collect, Event, Reporter};
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// What `env list` / `env show` were asked.
#[derive(Debug, Clone)]
pub struct EnvOptions {
    pub spec: PathBuf,
    pub json: bool,
}

/// One environment in `env list`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSummary {
    pub env: String,
    /// Regions (of the spec's) where it has resources.
    pub regions: Vec<String>,
    /// RFC 3339, the oldest live instance's launch time.
    pub created: Option<String>,
    /// Resources per kind (`rdeploy:kind` names), kinds with none left out.
    pub counts: IndexMap<String, usize>,
    pub total: usize,
}

impl EnvSummary {
    pub fn to_json(&self) -> Value {
        json!({
            "env": self.env, "regions": self.regions, "created": self.created,
            "resources": self.counts, "total": self.total,
        })
    }
}

/// The resources of a region by kind, as `(kind, name, id, details)`.
pub fn resources(rs: &RegionState) -> Vec<(&'static str, String, String, Value)> {
    let mut out = vec![];
    for v in &rs.vpcs {
        out.push(("vpc", String::new(), v.id.clone(), json!({"cidr": v.cidr})));
    }
    for s in &rs.subnets {
        out.push((
            "subnet",
            s.name.clone(),
            s.id.clone(),
            json!({"cidr": s.cidr, "az": s.az}),
        ));
    }
    for g in &rs.igws {
        out.push(("internet-gateway", String::new(), g.id.clone(), json!({})));
    }
    for t in &rs.route_tables {
        out.push(("route-table", String::new(), t.id.clone(), json!({})));
    }
    for g in &rs.security_groups {
        out.push((
            "security-group",
            g.name.clone(),
            g.id.clone(),
            json!({"group_name": g.group_name}),
        ));
    }
    for k in &rs.key_pairs {
        out.push(("key-pair", k.name.clone(), k.name.clone(), json!({})));
    }
    let mut instances: Vec<&state::Instance> = rs.instances.iter().collect();
    instances.sort_by(|a, b| (&a.group, a.index).cmp(&(&b.group, b.index)));
    for i in instances {
        let eip = rs
            .eips
            .iter()
            .find(|e| e.instance_id.as_deref() == Some(i.id.as_str()))
            .map(|e| e.public_ip.clone());
        out.push((
            "instance",
            format!("{}-{}", i.group, i.index),
            i.id.clone(),
            json!({
                "state": i.state, "type": i.instance_type, "az": i.az,
                "private_ip": i.private_ip, "public_ip": eip.or(i.public_ip.clone()),
                "launched": launch_time(i.launch_time),
            }),
        ));
    }
    for e in &rs.eips {
        out.push((
            "elastic-ip",
            e.group.clone(),
            e.allocation_id.clone(),
            json!({"public_ip": e.public_ip, "instance": e.instance_id}),
        ));
    }
    for r in rs.redis.iter().filter(|r| !r.deleting()) {
        let endpoint = match (&r.address, r.port) {
            (Some(a), Some(p)) => Some(format!("{a}:{p}")),
            _ => None,
        };
        out.push((
            "redis",
            r.name.clone(),
            r.aws_id.clone(),
            json!({"status": r.status, "endpoint": endpoint}),
        ));
    }
    for g in &rs.cache_subnet_groups {
        out.push((
            "cache-subnet-group",
            g.name.clone(),
            g.name.clone(),
            json!({}),
        ));
    }
    for l in &rs.lb.lbs {
        out.push((
            "load-balancer",
            l.name.clone(),
            l.arn.clone(),
            json!({"type": l.lb_type, "scheme": l.scheme, "state": l.state, "dns_name": l.dns_name}),
        ));
    }
    for t in &rs.lb.target_groups {
        out.push((
            "target-group",
            t.name.clone(),
            t.arn.clone(),
            json!({"load_balancer": t.lb, "protocol": t.protocol, "port": t.port}),
        ));
    }
    for d in &rs.db.instances {
        let endpoint = match (&d.address, d.port) {
            (Some(a), Some(p)) => Some(format!("{a}:{p}")),
            _ => None,
        };
        out.push((
            "database",
            d.name.clone(),
            d.aws_id.clone(),
            json!({"status": d.status, "engine": d.engine, "engine_version": d.engine_version, "endpoint": endpoint}),
        ));
    }
    for c in &rs.peering.connections {
        out.push((
            "vpc-peering",
            c.name.clone(),
            c.id.clone(),
            json!({"status": c.status}),
        ));
    }
    out
}

fn launch_time((secs, nanos): (i64, u32)) -> Option<String> {
    aws_smithy_types::DateTime::from_secs_and_nanos(secs, nanos)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

/// The summary of one discovered environment.
pub fn summarize(env: &str, state: &State) -> EnvSummary {
    let mut counts: IndexMap<String, usize> = IndexMap::new();
    let mut regions = vec![];
    let mut oldest: Option<(i64, u32)> = None;
    for rs in state.regions.values() {
        let res = resources(rs);
        if !res.is_empty() {
            regions.push(rs.region.clone());
        }
        for (kind, ..) in res {
            *counts.entry(kind.to_string()).or_default() += 1;
        }
        for i in &rs.instances {
            if oldest.is_none_or(|o| i.launch_time < o) {
                oldest = Some(i.launch_time);
            }
        }
    }
    EnvSummary {
        env: env.to_string(),
        regions,
        created: oldest.and_then(launch_time),
        total: counts.values().sum(),
        counts,
    }
}

/// The environment names of `project` in `region`, from the EC2 tags.
async fn env_names(aws: &Aws, project: &str, region: &str) -> Result<BTreeSet<String>> {
    let ec2 = aws.ec2(region);
    let mut ids = BTreeSet::new();
    let mut pages = ec2
        .describe_tags()
        .filters(aws::filter("key", &[tag::PROJECT]))
        .filters(aws::filter("value", &[project]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeTags")?;
        for t in page.tags() {
            // The value filter is a pattern (`*`, `?`): compare exactly.
            if t.value() == Some(project) {
                if let Some(id) = t.resource_id() {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let mut envs = BTreeSet::new();
    // DescribeTags takes at most 200 values per filter.
    for chunk in ids.chunks(200) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let mut pages = ec2
            .describe_tags()
            .filters(aws::filter("key", &[tag::ENV]))
            .filters(aws::filter("resource-id", &refs))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.or_cloud(region, "DescribeTags")?;
            for t in page.tags() {
                if let (Some(id), Some(v)) = (t.resource_id(), t.value()) {
                    if chunk.iter().any(|c| c == id) && !v.is_empty() {
                        envs.insert(v.to_string());
                    }
                }
            }
        }
    }
    Ok(envs)
}

/// Every environment of the spec's project with resources left, in name order.
pub async fn list(aws: &Aws, spec: &Spec) -> Result<Vec<EnvSummary>> {
    let per_region = futures::future::try_join_all(
        spec.regions
            .iter()
            .map(|r| env_names(aws, &spec.project, r)),
    )
    .await?;
    let names: BTreeSet<String> = per_region.into_iter().flatten().collect();
    let quiet = Collect::default();
    let states = futures::future::try_join_all(names.iter().map(|env| {
        let quiet = &quiet;
        async move {
            let st = state::discover(aws, &spec.project, env, &spec.regions, quiet).await?;
            Ok::<_, crate::error::Error>(summarize(env, &st))
        }
    }))
    .await?;
    Ok(states.into_iter().filter(|s| s.total > 0).collect())
}

/// The `env list` table.
pub fn list_lines(project: &str, envs: &[EnvSummary]) -> Vec<String> {
    if envs.is_empty() {
        return vec![format!(
            "No environment of project {project} has resources (looked for the rdeploy:project tag)."
        )];
    }
    let width = envs.iter().map(|e| e.env.len()).max().unwrap_or(3).max(3);
    let mut out = vec![format!(
        "{:<width$}  {:<20}  {:>9}  {:<12}  KINDS",
        "ENV", "CREATED", "RESOURCES", "REGIONS"
    )];
    for e in envs {
        let kinds = e
            .counts
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        out.push(format!(
            "{:<width$}  {:<20}  {:>9}  {:<12}  {kinds}",
            e.env,
            e.created.as_deref().unwrap_or("-"),
            e.total,
            e.regions.join(","),
        ));
    }
    out
}

/// `env show`: the environment's resources (with addresses) and the spec's outputs
/// rendered over them, as `rdeploy provision` prints them.
pub fn show_doc(spec: &Spec, state: &State) -> Result<Value> {
    let mut res = vec![];
    for rs in state.regions.values() {
        for (kind, name, id, details) in resources(rs) {
            res.push(json!({"kind": kind, "name": name, "id": id, "region": rs.region, "details": details}));
        }
    }
    let outputs = if res.is_empty() {
        IndexMap::new()
    } else {
        outputs::render(spec, state)?
    };
    let s = summarize(&spec.env, state);
    Ok(json!({
        "project": spec.project, "env": spec.env, "created": s.created,
        "total": s.total, "resources": res, "outputs": outputs,
    }))
}

/// The `env show` text.
pub fn show_lines(doc: &Value) -> Vec<String> {
    let mut out = vec![];
    let res = doc["resources"].as_array().cloned().unwrap_or_default();
    let (project, env) = (
        doc["project"].as_str().unwrap_or_default(),
        doc["env"].as_str().unwrap_or_default(),
    );
    if res.is_empty() {
        out.push(format!(
            "Environment {project}/{env} has no resources (nothing is tagged with it)."
        ));
        return out;
    }
    out.push(format!(
        "Environment {project}/{env}: {} resource(s), created {}",
        res.len(),
        doc["created"].as_str().unwrap_or("-")
    ));
    let multi = res
        .iter()
        .map(|r| r["region"].as_str())
        .collect::<BTreeSet<_>>()
        .len()
        > 1;
    for r in &res {
        let d = &r["details"];
        let mut extra: Vec<String> = vec![];
        for k in [
            "state",
            "type",
            "private_ip",
            "public_ip",
            "cidr",
            "az",
            "endpoint",
            "status",
        ] {
            if let Some(v) = d.get(k).and_then(|v| v.as_str()) {
                extra.push(format!("{k}={v}"));
            }
        }
        let region = if multi {
            format!(" [{}]", r["region"].as_str().unwrap_or_default())
        } else {
            String::new()
        };
        let name = r["name"].as_str().unwrap_or_default();
        out.push(
            format!(
                "  {:<18} {:<14} {}{region}  {}",
                r["kind"].as_str().unwrap_or_default(),
                if name.is_empty() { "-" } else { name },
                r["id"].as_str().unwrap_or_default(),
                extra.join(" ")
            )
            .trim_end()
            .to_string(),
        );
    }
    out
}

/// `rdeploy env list`: exit status 0.
pub async fn run_list(
    opts: &EnvOptions,
    reporter: &dyn Reporter,
    settings: &AwsSettings,
) -> Result<i32> {
    let spec = super::spec::load(&opts.spec, None)?;
    let aws = Aws::connect(settings).await;
    let envs = list(&aws, &spec).await.map_err(|e| aws.locate(e))?;
    if opts.json {
        reporter.event(&Event::Environments {
            project: spec.project.clone(),
            environments: envs.iter().map(EnvSummary::to_json).collect(),
        });
    } else {
        for l in list_lines(&spec.project, &envs) {
            reporter.event(&Event::Message { msg: l });
        }
    }
    Ok(0)
}

/// `rdeploy env show ENV`: exit status 0, or 1 when the environment has no resources.
pub async fn run_show(
    opts: &EnvOptions,
    env: &str,
    reporter: &dyn Reporter,
    settings: &AwsSettings,
) -> Result<i32> {
    let spec = super::spec::load(&opts.spec, Some(env))?;
    let aws = Aws::connect(settings).await;
    let quiet = Collect::default();
    let st = state::discover(&aws, &spec.project, &spec.env, &spec.regions, &quiet)
        .await
        .map_err(|e| aws.locate(e))?;
    let doc = show_doc(&spec, &st)?;
    let empty = doc["total"] == 0;
    if opts.json {
        reporter.event(&Event::Environment { environment: doc });
    } else {
        for l in show_lines(&doc) {
            reporter.event(&Event::Message { msg: l });
        }
        let outputs: IndexMap<String, Value> = doc["outputs"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        super::report::show_outputs(&outputs, reporter, false);
    }
    Ok(if empty { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(env: &str, created: Option<&str>, counts: &[(&str, usize)]) -> EnvSummary {
        EnvSummary {
            env: env.into(),
            regions: vec!["us-east-1".into()],
            created: created.map(String::from),
            counts: counts.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            total: counts.iter().map(|(_, n)| n).sum(),
        }
    }

    #[test]
    fn list_table() {
        let lines = list_lines(
            "shop",
            &[
                summary(
                    "feature-x",
                    Some("2026-12-01T11:02:40Z"),
                    &[("vpc", 1), ("instance", 2)],
                ),
                summary("main", None, &[("vpc", 1)]),
            ],
        );
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ENV        CREATED"), "{lines:?}");
        assert!(
            lines[1].starts_with(
                "feature-x  2026-12-01T11:02:40Z          3  us-east-1     vpc=1 instance=2"
            ),
            "{lines:?}"
        );
        assert!(lines[2].contains("main       -"), "{lines:?}");
        assert!(list_lines("shop", &[])[0].contains("No environment"));
    }

    #[test]
    fn launch_times_are_rfc3339() {
        assert_eq!(
            launch_time((1_796_122_960, 0)).as_deref(),
            Some("2026-12-01T11:02:40Z")
        );
    }
}
