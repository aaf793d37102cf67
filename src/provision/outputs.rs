//! The spec's `outputs`: templates rendered after an apply over what exists then.
//!
//! Context: `project`, `env`, `regions`, `instances` (group -> list of instances sorted by
//! index, each with id, host, index, region, az, type, state, private_ip, public_ip,
//! public_dns, private_dns, elastic_ip), `redis` (name -> id, kind, region, address, port,
//! endpoint, reader_address), `vpc` (region -> id), `security_groups` (name -> id),
//! `load_balancers` (name -> dns_name, zone_id, arn, type, scheme, region), `dns`
//! (record as named in the spec -> its full name), `databases` (name -> id, address,
//! port, endpoint, engine, engine_version, db_name, username, status, region).

use super::spec::Spec;
use super::state::State;
use crate::error::{Error, Result};
use crate::template::{to_json, Templar};
use indexmap::IndexMap;
use serde_json::{json, Value};

/// The template context of the outputs.
pub fn context(spec: &Spec, state: &State) -> Value {
    let mut instances: IndexMap<String, Vec<Value>> =
        spec.instances.keys().map(|k| (k.clone(), vec![])).collect();
    let mut redis = serde_json::Map::new();
    let mut vpc = serde_json::Map::new();
    let mut sgs = serde_json::Map::new();
    for rs in state.regions.values() {
        let mut list: Vec<&super::state::Instance> = rs.instances.iter().collect();
        list.sort_by_key(|i| i.index);
        for i in list {
            let eip = rs
                .eips
                .iter()
                .find(|e| e.instance_id.as_deref() == Some(i.id.as_str()))
                .map(|e| e.public_ip.clone());
            instances.entry(i.group.clone()).or_default().push(json!({
                "id": i.id, "host": format!("{}-{}", i.group, i.index), "index": i.index,
                "region": rs.region, "az": i.az, "type": i.instance_type, "state": i.state,
                "private_ip": i.private_ip, "public_ip": eip.clone().or(i.public_ip.clone()),
                "public_dns": i.public_dns, "private_dns": i.private_dns, "elastic_ip": eip,
            }));
        }
        for r in rs.redis.iter().filter(|r| !r.deleting()) {
            let key = if r.name.is_empty() {
                r.aws_id.clone()
            } else {
                r.name.clone()
            };
            let endpoint = match (&r.address, r.port) {
                (Some(a), Some(p)) => Some(format!("{a}:{p}")),
                _ => None,
            };
            redis.insert(key, json!({
                "id": r.aws_id, "kind": r.kind.as_str(), "region": rs.region, "address": r.address,
                "port": r.port, "endpoint": endpoint, "reader_address": r.reader_address, "status": r.status,
            }));
        }
        if let Some(v) = rs.vpcs.first() {
            vpc.insert(rs.region.clone(), json!(v.id));
        }
        for s in &rs.security_groups {
            sgs.entry(s.name.clone()).or_insert(json!(s.id));
        }
    }
    for list in instances.values_mut() {
        list.sort_by_key(|v| v["index"].as_u64().unwrap_or(0));
    }
    json!({
        "project": spec.project, "env": spec.env, "regions": spec.regions, "region": spec.regions[0],
        "instances": instances, "redis": redis, "vpc": vpc, "security_groups": sgs,
        "load_balancers": super::lb::outputs(state),
        "dns": super::dns::outputs(spec),
        "databases": super::db::outputs(state),
    })
}

/// Renders every output; an error names the output and points at its template.
pub fn render(spec: &Spec, state: &State) -> Result<IndexMap<String, Value>> {
    let templar = Templar::new();
    let ctx = crate::template::from_json(&context(spec, state));
    let mut out = IndexMap::new();
    for (name, t) in &spec.outputs {
        let v = templar
            .render_str(&t.value, &ctx)
            .map_err(|e| Error::source_at(&t.span, format!("output `{name}`: {}", e.message)))?;
        out.insert(name.clone(), to_json(&v));
    }
    Ok(out)
}
