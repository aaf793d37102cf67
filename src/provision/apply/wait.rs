//! Bounded waits of an apply: polling with a growing interval until instances are
//! running or terminated, a Redis is available or gone, with progress messages and a
//! timeout that says nothing was rolled back.

use super::super::aws::{Aws, SdkResult};
use super::super::spec::RedisKind;
use super::say;
use crate::error::{Error, Result};
use crate::output::Reporter;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Polls with a growing interval (1 s up to 15 s) until `done` or the timeout.
async fn poll<F, Fut>(
    timeout_secs: u64,
    what: &str,
    reporter: &dyn Reporter,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(bool, String)>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut last = String::new();
    let mut last_report = Instant::now();
    loop {
        let (done, progress) = check().await?;
        if done {
            if !last.is_empty() || start.elapsed() > Duration::from_secs(2) {
                say(
                    reporter,
                    format!("  {what}: done ({progress}, {:.0?})", start.elapsed()),
                );
            }
            return Ok(());
        }
        if progress != last || last_report.elapsed() > Duration::from_secs(30) {
            say(
                reporter,
                format!(
                    "  waiting for {what}: {progress} ({:.0?} so far)",
                    start.elapsed()
                ),
            );
            last = progress;
            last_report = Instant::now();
        }
        if start.elapsed() + delay > Duration::from_secs(timeout_secs) {
            return Err(Error::cloud(format!(
                "timed out after {timeout_secs} s waiting for {what} ({last}); nothing was rolled back: run again to converge"
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

/// Waits until every instance is in `target` state (running or terminated).
pub(super) async fn wait_instances(
    aws: &Aws,
    reporter: &dyn Reporter,
    ids: &[(String, String)],
    target: &str,
    timeout: u64,
) -> Result<()> {
    let mut by_region: HashMap<&str, Vec<String>> = HashMap::new();
    for (r, id) in ids {
        by_region.entry(r.as_str()).or_default().push(id.clone());
    }
    let total = ids.len();
    let what = format!("{total} instance(s) {target}");
    poll(timeout, &what, reporter, || {
        let by_region = by_region.clone();
        async move {
            let mut ok = 0;
            for (region, ids) in &by_region {
                let ec2 = aws.ec2(region);
                let found = match super::super::state::describe_instances(
                    &ec2,
                    region,
                    vec![],
                    ids.clone(),
                )
                .await
                {
                    Ok(f) => f,
                    // Just launched and not visible yet: not done.
                    Err(Error::Cloud(c))
                        if c.code.as_deref() == Some("InvalidInstanceID.NotFound") =>
                    {
                        if target == "terminated" {
                            ok += ids.len();
                        }
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for i in &found {
                    if i.state == target {
                        ok += 1;
                    } else if target == "running"
                        && (i.state == "terminated" || i.state == "shutting-down")
                    {
                        return Err(Error::cloud_in(
                            region,
                            format!(
                                "instance {} ({}) stopped while starting: {}",
                                i.id, i.group, i.state
                            ),
                        ));
                    }
                }
                if target == "terminated" {
                    ok += ids.len() - found.len();
                }
            }
            Ok((ok >= total, format!("{ok}/{total}")))
        }
    })
    .await
}

pub(super) async fn redis_status(
    aws: &Aws,
    region: &str,
    id: &str,
    kind: RedisKind,
) -> Result<Option<String>> {
    let ec = aws.elasticache(region);
    match kind {
        RedisKind::ReplicationGroup => Ok(ec
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .unless_gone(region, "DescribeReplicationGroups")?
            .and_then(|o| o.replication_groups().first()?.status().map(String::from))),
        RedisKind::CacheCluster => Ok(ec
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
            .unless_gone(region, "DescribeCacheClusters")?
            .and_then(|o| {
                o.cache_clusters()
                    .first()?
                    .cache_cluster_status()
                    .map(String::from)
            })),
    }
}

pub(super) async fn wait_redis(
    aws: &Aws,
    reporter: &dyn Reporter,
    region: &str,
    id: &str,
    kind: RedisKind,
    timeout: u64,
) -> Result<()> {
    poll(
        timeout,
        &format!("redis {id} available"),
        reporter,
        || async move {
            let s = redis_status(aws, region, id, kind).await?;
            Ok((
                s.as_deref() == Some("available"),
                s.unwrap_or_else(|| "not found".into()),
            ))
        },
    )
    .await
}

pub(super) async fn wait_redis_gone(
    aws: &Aws,
    reporter: &dyn Reporter,
    region: &str,
    id: &str,
    kind: RedisKind,
    timeout: u64,
) -> Result<()> {
    let present = redis_status(aws, region, id, kind).await?;
    if present.is_none() {
        return Ok(());
    }
    poll(
        timeout,
        &format!("redis {id} deleted"),
        reporter,
        || async move {
            let s = redis_status(aws, region, id, kind).await?;
            Ok((s.is_none(), s.unwrap_or_else(|| "gone".into())))
        },
    )
    .await
}
