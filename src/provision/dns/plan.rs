//! Planning DNS records (pure): the spec's records against those rdeploy owns in each
//! zone. A name holding a record rdeploy did not create stops the plan. Values that
//! depend on this plan (a load balancer created or replaced, instances launched,
//! replaced or terminated, Elastic IPs associated) are written at apply time, once those
//! exist and run.

use super::spec::{RecordSpec, Target};
use super::state::{norm_target, OwnedRecord, ZoneState};
use super::DnsOp;
use crate::error::{Error, Result};
use crate::provision::lb::LbOp;
use crate::provision::plan::{change, Action, Change, Op};
use crate::provision::spec::Spec;
use crate::provision::state::State;

/// The region label of DNS changes (Route 53 is global).
pub const GLOBAL: &str = "global";

/// (builds, destroys) for the spec's zones.
pub fn plan(spec: &Spec, state: &State, pending: &[&Change]) -> Result<(Vec<Change>, Vec<Change>)> {
    let mut builds = vec![];
    let mut destroys = vec![];
    let leaving: Vec<String> = pending
        .iter()
        .flat_map(|c| match &c.op {
            Op::Terminate { ids } => ids.clone(),
            Op::Replace { old_id, .. } => vec![old_id.clone()],
            _ => vec![],
        })
        .collect();
    for z in &spec.dns {
        let Some(zs) = state.dns.zone(&z.name) else {
            continue;
        };
        for r in &z.records {
            let label = format!("{} {}", r.fqdn, r.rtype());
            match zs.owned.iter().find(|o| o.fqdn == r.fqdn) {
                None => {
                    if let Some((_, t)) = zs.foreign.iter().find(|(n, _)| n == &r.fqdn) {
                        return Err(Error::source_at(
                            &r.span,
                            format!(
                                "dns: `{}` already has a {t} record that {}/{} did not create (no ownership TXT `_rdeploy.{}`): rdeploy leaves it alone; remove it or choose another name",
                                r.fqdn, spec.project, spec.env, r.fqdn
                            ),
                        ));
                    }
                    // An instance group with no address (yet): nothing to publish.
                    if desired_now(spec, state, r, pending).is_some_and(|v| v.is_empty()) {
                        continue;
                    }
                    builds.push(upsert(Action::Create, zs, r, None, &leaving, label));
                }
                Some(o) if o.rtype != r.rtype() => {
                    let mut c = upsert(Action::Update, zs, r, Some(o.clone()), &leaving, label);
                    c.details
                        .insert(0, format!("type {} -> {}", o.rtype, r.rtype()));
                    builds.push(c);
                }
                Some(o) => {
                    let want = desired_now(spec, state, r, pending);
                    let same = o.record.is_some()
                        && want.as_ref() == Some(&o.values)
                        && (matches!(r.target, Target::LoadBalancer(_))
                            || o.ttl == Some(r.ttl as i64));
                    if !same {
                        let mut c = upsert(Action::Update, zs, r, None, &leaving, label);
                        c.details.insert(0, format!("now: {}", o.values.join(", ")));
                        builds.push(c);
                    }
                }
            }
        }
        for o in zs
            .owned
            .iter()
            .filter(|o| !z.records.iter().any(|r| r.fqdn == o.fqdn))
        {
            destroys.push(delete(zs, o));
        }
    }
    Ok((builds, destroys))
}

/// Every record rdeploy owns in the spec's zones (for `destroy`).
pub fn destroy(state: &State) -> Vec<Change> {
    state
        .dns
        .zones
        .iter()
        .flat_map(|z| z.owned.iter().map(move |o| delete(z, o)))
        .collect()
}

fn delete(z: &ZoneState, o: &OwnedRecord) -> Change {
    change(
        Action::Destroy,
        "dns-record",
        format!("{} {}", o.fqdn, o.rtype),
        GLOBAL,
        Some(z.id.clone()),
        vec![o.values.join(", ")],
        Op::Dns(DnsOp::Delete {
            zone_id: z.id.clone(),
            record: Box::new(o.clone()),
        }),
    )
}

fn upsert(
    action: Action,
    z: &ZoneState,
    r: &RecordSpec,
    replace: Option<OwnedRecord>,
    leaving: &[String],
    label: String,
) -> Change {
    change(
        action,
        "dns-record",
        label,
        GLOBAL,
        Some(z.id.clone()),
        vec![format!(
            "{}{}",
            r.target,
            match r.target {
                Target::LoadBalancer(_) => String::new(),
                _ => format!(", TTL {}", r.ttl),
            }
        )],
        Op::Dns(DnsOp::Upsert {
            zone_id: z.id.clone(),
            fqdn: r.fqdn.clone(),
            replace: replace.map(Box::new),
            leaving: leaving.to_vec(),
        }),
    )
}

/// The record's values as they can be known now; `None` when this plan changes what
/// they depend on (they are resolved at apply time then).
fn desired_now(
    spec: &Spec,
    state: &State,
    r: &RecordSpec,
    pending: &[&Change],
) -> Option<Vec<String>> {
    match &r.target {
        Target::Cname(c) => Some(vec![c.clone()]),
        Target::LoadBalancer(l) => {
            let lb = spec.load_balancers.get(l)?;
            let changing = pending
                .iter()
                .any(|c| matches!(&c.op, Op::Lb(LbOp::CreateLb { lb: n, .. }) if n == l));
            if changing {
                return None;
            }
            let cur = state.regions.get(&lb.region)?.lb.lb(l)?;
            Some(vec![norm_target(&cur.dns_name)])
        }
        Target::Instances { group, private } => {
            let changing = pending.iter().any(|c| match &c.op {
                Op::Launch(x) => &x.group == group,
                Op::Replace { launch, .. } => &launch.group == group,
                Op::EnsureEip { group: g, .. } => g == group,
                Op::Terminate { ids } => state.regions.values().any(|rs| {
                    rs.instances
                        .iter()
                        .any(|i| &i.group == group && ids.contains(&i.id))
                }),
                Op::UpdateInstance { start: true, .. } => true,
                _ => false,
            });
            if changing {
                return None;
            }
            let mut ips: Vec<String> = state
                .regions
                .values()
                .flat_map(|rs| rs.instances.iter())
                .filter(|i| &i.group == group)
                .filter_map(|i| {
                    if *private {
                        i.private_ip.clone()
                    } else {
                        i.public_ip.clone()
                    }
                })
                .collect();
            ips.sort();
            Some(ips)
        }
    }
}
