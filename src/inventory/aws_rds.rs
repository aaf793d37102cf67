//! RDS databases for the aws_ec2 inventory (rdeploy's `rds` option, on by default): the
//! instances of the listed regions whose tags match the `tag:` filters, given to every
//! host as `rdeploy_rds` (by identifier) and `database_endpoints` (by the spec's name,
//! `address:port`), the way ElastiCache is given as `redis_endpoints`.

use crate::error::Result;
use crate::provision::aws::{self, cloud_err, Aws};
use serde_json::{json, Value};

/// The databases of a region matching `tag_filters` (an account without RDS permissions
/// gets none).
pub async fn databases(
    aws: &Aws,
    tag_filters: &[(String, Vec<String>)],
    region: &str,
) -> Result<Vec<Value>> {
    let rds = aws.rds(region);
    let wanted: Vec<(&str, &Vec<String>)> = tag_filters
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("tag:").map(|t| (t, v)))
        .collect();
    let mut out = vec![];
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let code = aws_sdk_rds::error::ProvideErrorMetadata::code(&e);
                if code.is_some_and(|c| c.contains("AccessDenied") || c.contains("Unauthorized")) {
                    return Ok(vec![]);
                }
                return Err(cloud_err(region, "DescribeDBInstances", e));
            }
        };
        for d in page.db_instances() {
            if d.db_instance_status() == Some("deleting") {
                continue;
            }
            let tags: serde_json::Map<String, Value> = d
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        json!(t.value().unwrap_or_default()),
                    )
                })
                .collect();
            let matches = wanted.iter().all(|(k, vals)| {
                tags.get(*k)
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| vals.iter().any(|x| super::aws_ec2::glob_match(x, v)))
            });
            if !matches {
                continue;
            }
            let id = d.db_instance_identifier().unwrap_or_default().to_string();
            let address = d.endpoint().and_then(|e| e.address()).map(String::from);
            let port = d.endpoint().and_then(|e| e.port());
            let endpoint = match (&address, port) {
                (Some(a), Some(p)) => json!(format!("{a}:{p}")),
                _ => Value::Null,
            };
            out.push(json!({
                "id": id,
                "name": tags.get(aws::tag::NAME).and_then(|v| v.as_str()).unwrap_or(&id),
                "engine": d.engine(), "engine_version": d.engine_version(),
                "status": d.db_instance_status(), "class": d.db_instance_class(),
                "region": region, "address": address, "port": port, "endpoint": endpoint,
                "db_name": d.db_name(), "username": d.master_username(), "tags": tags,
            }));
        }
    }
    let id = |r: &Value| r["id"].as_str().unwrap_or_default().to_string();
    out.sort_by(|a, b| super::natural_cmp(&id(a), &id(b)));
    Ok(out)
}
