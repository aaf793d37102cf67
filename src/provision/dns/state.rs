//! Discovery of the records rdeploy manages in the spec's hosted zones. Route 53 records
//! carry no tags, so ownership is a TXT record beside each one (the way external-dns
//! keeps its registry): `_rdeploy.<name>` with
//! `"heritage=rdeploy,project=<p>,env=<e>,type=<A|CNAME>"`, written in the same atomic
//! change batch as the record. A record without its TXT is never touched.

use super::spec::ZoneSpec;
use crate::aws::SdkResult;
use crate::error::{Error, Result};
use crate::provision::aws::Aws;
use aws_sdk_route53::types::{ResourceRecordSet, RrType};

#[derive(Debug, Clone, Default)]
pub struct DnsState {
    pub zones: Vec<ZoneState>,
}

impl DnsState {
    pub fn count(&self) -> usize {
        self.zones.iter().map(|z| z.owned.len()).sum()
    }
    pub fn zone(&self, name: &str) -> Option<&ZoneState> {
        self.zones.iter().find(|z| z.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct ZoneState {
    pub name: String,
    /// The hosted zone id without `/hostedzone/`.
    pub id: String,
    /// Records of this project and environment.
    pub owned: Vec<OwnedRecord>,
    /// Names (fqdn, type) holding an A or CNAME that rdeploy's project/env does not own.
    pub foreign: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct OwnedRecord {
    pub fqdn: String,
    pub rtype: String,
    /// The record as Route 53 has it (a DELETE must repeat it exactly); `None` when only
    /// the ownership TXT is left (an interrupted change).
    pub record: Option<ResourceRecordSet>,
    pub owner: ResourceRecordSet,
    /// Values (addresses, CNAME target) or, for an alias, its DNS name.
    pub values: Vec<String>,
    pub ttl: Option<i64>,
}

/// `_rdeploy.<fqdn>`
pub fn owner_name(fqdn: &str) -> String {
    format!("_rdeploy.{fqdn}")
}

/// The TXT value (quoted, as Route 53 stores it).
pub fn owner_value(project: &str, env: &str, rtype: &str) -> String {
    format!("\"heritage=rdeploy,project={project},env={env},type={rtype}\"")
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Lowercase, no final dot, no `dualstack.` prefix: how alias targets are compared.
pub fn norm_target(s: &str) -> String {
    let n = norm(s);
    n.strip_prefix("dualstack.").map(String::from).unwrap_or(n)
}

/// Finds each zone by name and reads its records. A zone that does not exist (or is
/// ambiguous) is an error pointing at the spec, before anything is changed — except for
/// `destroy` (`missing_ok`), where a zone that is gone has nothing of ours left.
pub async fn discover(
    aws: &Aws,
    zones: &[ZoneSpec],
    project: &str,
    env: &str,
    missing_ok: bool,
) -> Result<DnsState> {
    let mut out = DnsState::default();
    if zones.is_empty() {
        return Ok(out);
    }
    let r53 = aws.route53();
    for z in zones {
        let found = r53
            .list_hosted_zones_by_name()
            .dns_name(&z.name)
            .send()
            .await
            .or_cloud("route53", "ListHostedZonesByName")?;
        let matching: Vec<_> = found
            .hosted_zones()
            .iter()
            .filter(|h| norm(h.name()) == z.name)
            .filter(|h| {
                z.private
                    .is_none_or(|p| h.config().map(|c| c.private_zone()).unwrap_or(false) == p)
            })
            .collect();
        let zone = match matching.as_slice() {
            [one] => *one,
            [] if missing_ok => continue,
            [] => {
                return Err(Error::source_at(
                    &z.span,
                    format!(
                        "no {}hosted zone `{}` in this account: rdeploy only adds records to a zone you own (create it first)",
                        match z.private {
                            Some(true) => "private ",
                            Some(false) => "public ",
                            None => "",
                        },
                        z.name
                    ),
                ))
            }
            _ => {
                return Err(Error::source_at(
                    &z.span,
                    format!(
                        "{} hosted zones are named `{}`: say `private: true` or `private: false`",
                        matching.len(),
                        z.name
                    ),
                ))
            }
        };
        let id = zone.id().trim_start_matches("/hostedzone/").to_string();
        let sets = record_sets(aws, &id).await?;
        let mine = owner_value(project, env, "");
        let mine = mine.trim_end_matches('"');
        let mut owned = vec![];
        for s in sets.iter().filter(|s| s.r#type() == &RrType::Txt) {
            let name = norm(s.name());
            let Some(fqdn) = name.strip_prefix("_rdeploy.") else {
                continue;
            };
            let value = s
                .resource_records()
                .first()
                .map(|r| r.value().to_string())
                .unwrap_or_default();
            if !value.starts_with("\"heritage=rdeploy,") {
                continue;
            }
            if !value.starts_with(mine) {
                continue; // another project's or environment's
            }
            let rtype = value
                .trim_matches('"')
                .rsplit("type=")
                .next()
                .unwrap_or("A")
                .to_string();
            let record = sets
                .iter()
                .find(|r| norm(r.name()) == fqdn && r.r#type().as_str() == rtype)
                .cloned();
            let values = match &record {
                Some(r) => match r.alias_target() {
                    Some(a) => vec![norm_target(a.dns_name())],
                    None => {
                        let mut v: Vec<String> = r
                            .resource_records()
                            .iter()
                            .map(|x| norm(x.value()))
                            .collect();
                        v.sort();
                        v
                    }
                },
                None => vec![],
            };
            owned.push(OwnedRecord {
                fqdn: fqdn.to_string(),
                rtype,
                ttl: record.as_ref().and_then(|r| r.ttl()),
                record,
                owner: s.clone(),
                values,
            });
        }
        let foreign = sets
            .iter()
            .filter(|s| matches!(s.r#type(), RrType::A | RrType::Cname | RrType::Aaaa))
            .map(|s| (norm(s.name()), s.r#type().as_str().to_string()))
            .filter(|(n, _)| !owned.iter().any(|o| &o.fqdn == n))
            .collect();
        out.zones.push(ZoneState {
            name: z.name.clone(),
            id,
            owned,
            foreign,
        });
    }
    Ok(out)
}

/// Every record set of a zone (ListResourceRecordSets pages by name and type).
async fn record_sets(aws: &Aws, zone_id: &str) -> Result<Vec<ResourceRecordSet>> {
    let r53 = aws.route53();
    let mut out = vec![];
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut req = r53.list_resource_record_sets().hosted_zone_id(zone_id);
        if let Some((name, t, ident)) = next.take() {
            req = req
                .start_record_name(name)
                .start_record_type(t)
                .set_start_record_identifier(ident);
        }
        let page = req
            .send()
            .await
            .or_cloud("route53", "ListResourceRecordSets")?;
        out.extend(page.resource_record_sets().iter().cloned());
        if !page.is_truncated() {
            return Ok(out);
        }
        match (page.next_record_name(), page.next_record_type()) {
            (Some(n), Some(t)) => {
                next = Some((
                    n.to_string(),
                    t.clone(),
                    page.next_record_identifier().map(String::from),
                ))
            }
            _ => return Ok(out),
        }
    }
}
