//! Planning load balancers: the spec's `load_balancers` against what discovery found, as
//! changes for the plan (pure, no API call). Build order: target groups, load balancers,
//! listeners, rules, then the targets (once the instances run); destroy order: rules,
//! listeners, load balancers, target groups.
//!
//! A target group's name carries a hash of what AWS cannot change (protocol, port): a
//! changed one is a new target group, the listeners move to it, and the old one is
//! destroyed after (create before destroy, like the instances).

use super::spec::{ActionSpec, LbSpec, LbType, TargetGroupSpec};
use super::state::{Lb, Listener, Tg};
use super::LbOp;
use crate::error::Result;
use crate::provision::lookup::Lookups;
use crate::provision::plan::{change, Action, Change, Op};
use crate::provision::spec::{Network, Spec, SubnetSel};
use crate::provision::state::{RegionState, State};
use std::collections::BTreeSet;

/// Changes for the load balancers: (builds, destroys).
pub fn plan(
    spec: &Spec,
    state: &State,
    lookups: &Lookups,
    instance_changes: &[&Change],
) -> Result<(Vec<Change>, Vec<Change>)> {
    let mut p = Phases::default();
    for region in &spec.regions {
        let rs = state.region(region);
        let wanted: Vec<&LbSpec> = spec
            .load_balancers
            .values()
            .filter(|l| &l.region == region)
            .collect();
        for lb in &wanted {
            plan_lb(spec, rs, lookups, lb, instance_changes, &mut p);
        }
        // Whatever of ours the spec no longer wants here.
        for cur in &rs.lb.lbs {
            if !wanted.iter().any(|l| l.name == cur.name) {
                p.d_lbs.push(delete_lb(cur, region, "not in the spec"));
            }
        }
        for tg in &rs.lb.target_groups {
            let keep = wanted.iter().any(|l| {
                l.name == tg.lb
                    && l.target_groups
                        .get(&tg.name)
                        .is_some_and(|t| t.aws_name == tg.aws_name)
            });
            if !keep {
                p.d_tgs.push(delete_tg(tg, region));
            }
        }
    }
    Ok(p.finish())
}

/// Changes for a `destroy`: every load balancer, then every target group.
pub fn destroy(rs: &RegionState) -> Vec<Change> {
    let mut out: Vec<Change> = rs
        .lb
        .lbs
        .iter()
        .map(|l| delete_lb(l, &rs.region, "destroy"))
        .collect();
    out.extend(rs.lb.target_groups.iter().map(|t| delete_tg(t, &rs.region)));
    out
}

#[derive(Default)]
struct Phases {
    tgs: Vec<Change>,
    lbs: Vec<Change>,
    listeners: Vec<Change>,
    rules: Vec<Change>,
    targets: Vec<Change>,
    d_rules: Vec<Change>,
    d_listeners: Vec<Change>,
    d_lbs: Vec<Change>,
    d_tgs: Vec<Change>,
}

impl Phases {
    fn finish(self) -> (Vec<Change>, Vec<Change>) {
        let mut builds = self.tgs;
        builds.extend(self.lbs);
        builds.extend(self.listeners);
        builds.extend(self.rules);
        builds.extend(self.targets);
        let mut destroys = self.d_rules;
        destroys.extend(self.d_listeners);
        destroys.extend(self.d_lbs);
        destroys.extend(self.d_tgs);
        (builds, destroys)
    }
}

fn delete_lb(cur: &Lb, region: &str, why: &str) -> Change {
    change(
        Action::Destroy,
        "load-balancer",
        cur.aws_name.clone(),
        region,
        Some(cur.arn.clone()),
        vec![format!("{} {} ({why})", cur.lb_type, cur.dns_name)],
        Op::Lb(LbOp::DeleteLb {
            arn: cur.arn.clone(),
        }),
    )
}

fn delete_tg(cur: &Tg, region: &str) -> Change {
    change(
        Action::Destroy,
        "target-group",
        cur.aws_name.clone(),
        region,
        Some(cur.arn.clone()),
        vec![format!("{} {}", cur.protocol, cur.port)],
        Op::Lb(LbOp::DeleteTg {
            arn: cur.arn.clone(),
        }),
    )
}

/// The subnets a load balancer spans, as the apply resolves them: spec names (created by
/// the network) or ids; one per zone.
pub fn lb_subnets(spec: &Spec, lb: &LbSpec, lookups: &Lookups) -> Vec<String> {
    match &spec.network {
        Network::Create { .. } => {
            let planned = spec.network.planned_subnets();
            match &lb.subnets {
                SubnetSel::Named(n) => n.clone(),
                sel => planned
                    .iter()
                    .filter(|s| s.public == (*sel == SubnetSel::Public))
                    .map(|s| s.name.clone())
                    .collect(),
            }
        }
        Network::Default | Network::Existing { .. } => {
            if let SubnetSel::Named(n) = &lb.subnets {
                return n.clone();
            }
            let mut zones = BTreeSet::new();
            lookups
                .regions
                .get(&lb.region)
                .map(|l| l.subnets.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, az)| zones.insert(az.clone()))
                .map(|(id, _)| id)
                .collect()
        }
    }
}

/// The target group of the spec as it exists now (same name and same fixed settings).
fn current_tg<'a>(rs: &'a RegionState, lb: &LbSpec, tg: &TargetGroupSpec) -> Option<&'a Tg> {
    rs.lb
        .target_groups
        .iter()
        .find(|t| t.lb == lb.name && t.name == tg.name && t.aws_name == tg.aws_name)
}

fn plan_lb(
    spec: &Spec,
    rs: &RegionState,
    lookups: &Lookups,
    lb: &LbSpec,
    instance_changes: &[&Change],
    p: &mut Phases,
) {
    let region = rs.region.as_str();
    // Target groups.
    for tg in lb.target_groups.values() {
        match current_tg(rs, lb, tg) {
            None => {
                let mut d = vec![format!(
                    "{} {} -> instance group {}",
                    tg.protocol, tg.port, tg.instances.value
                )];
                d.extend(health_lines(tg));
                p.tgs.push(change(
                    Action::Create,
                    "target-group",
                    tg.aws_name.clone(),
                    region,
                    None,
                    d,
                    Op::Lb(LbOp::CreateTg {
                        lb: lb.name.clone(),
                        tg: tg.name.clone(),
                    }),
                ));
                p.targets
                    .push(targets_change(rs, lb, tg, None, instance_changes, true));
            }
            Some(cur) => {
                let details = tg_drift(tg, cur);
                if !details.is_empty() {
                    p.tgs.push(change(
                        Action::Update,
                        "target-group",
                        tg.aws_name.clone(),
                        region,
                        Some(cur.arn.clone()),
                        details,
                        Op::Lb(LbOp::UpdateTg {
                            lb: lb.name.clone(),
                            tg: tg.name.clone(),
                            arn: cur.arn.clone(),
                        }),
                    ));
                }
                let c = targets_change(rs, lb, tg, Some(cur), instance_changes, false);
                if !c.details.is_empty() {
                    p.targets.push(c);
                }
            }
        }
    }

    // The load balancer itself.
    let subnets = lb_subnets(spec, lb, lookups);
    let cur = rs.lb.lb(&lb.name);
    let fresh = match cur {
        None => {
            p.lbs.push(change(
                Action::Create,
                "load-balancer",
                lb.aws_name.clone(),
                region,
                None,
                vec![format!(
                    "{} {} over {}",
                    lb.lb_type.as_str(),
                    lb.scheme(),
                    subnets.join(", ")
                )],
                Op::Lb(LbOp::CreateLb {
                    lb: lb.name.clone(),
                    replace: None,
                }),
            ));
            true
        }
        Some(cur) if cur.lb_type != lb.lb_type.as_str() || cur.scheme != lb.scheme() => {
            p.lbs.push(change(
                Action::Replace,
                "load-balancer",
                lb.aws_name.clone(),
                region,
                Some(cur.arn.clone()),
                vec![format!(
                    "{} {} -> {} {} (AWS cannot change this in place; the DNS name changes)",
                    cur.lb_type,
                    cur.scheme,
                    lb.lb_type.as_str(),
                    lb.scheme()
                )],
                Op::Lb(LbOp::CreateLb {
                    lb: lb.name.clone(),
                    replace: Some(cur.arn.clone()),
                }),
            ));
            true
        }
        Some(cur) => {
            let mut details = vec![];
            let want_subnets: BTreeSet<String> = subnets
                .iter()
                .map(|s| {
                    rs.subnets
                        .iter()
                        .find(|x| &x.name == s)
                        .map(|x| x.id.clone())
                        .unwrap_or_else(|| s.clone())
                })
                .collect();
            let have_subnets: BTreeSet<String> = cur.subnet_ids.iter().cloned().collect();
            let set_subnets = want_subnets != have_subnets;
            if set_subnets {
                details.push(format!(
                    "subnets: {} -> {}",
                    have_subnets.into_iter().collect::<Vec<_>>().join(", "),
                    subnets.join(", ")
                ));
            }
            // A network load balancer without groups keeps AWS's (none).
            let set_sgs = rs.groups_differ(&lb.security_groups, &cur.sg_ids)
                && !(lb.lb_type == LbType::Network && lb.security_groups.is_empty());
            if set_sgs {
                details.push(format!(
                    "security groups: {}",
                    lb.security_groups
                        .iter()
                        .map(|s| s.value.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !details.is_empty() {
                p.lbs.push(change(
                    Action::Update,
                    "load-balancer",
                    lb.aws_name.clone(),
                    region,
                    Some(cur.arn.clone()),
                    details,
                    Op::Lb(LbOp::UpdateLb {
                        lb: lb.name.clone(),
                        arn: cur.arn.clone(),
                        subnets: set_subnets,
                        security_groups: set_sgs,
                    }),
                ));
            }
            false
        }
    };

    // Listeners and rules (all new on a new or replaced load balancer).
    let tg_arn = |name: &str| -> Option<String> {
        lb.target_groups
            .get(name)
            .and_then(|t| current_tg(rs, lb, t))
            .map(|t| t.arn.clone())
    };
    let listeners: &[Listener] = match (fresh, cur) {
        (false, Some(c)) => &c.listeners,
        _ => &[],
    };
    for l in &lb.listeners {
        let label = format!("{}:{}", lb.aws_name, l.port);
        match listeners.iter().find(|x| x.port == l.port) {
            None => {
                let mut d = vec![format!("{} {} -> {}", l.protocol, l.port, l.default)];
                d.extend(l.rules.iter().map(|r| r.describe()));
                p.listeners.push(change(
                    Action::Create,
                    "listener",
                    label,
                    region,
                    None,
                    d,
                    Op::Lb(LbOp::CreateListener {
                        lb: lb.name.clone(),
                        port: l.port,
                    }),
                ));
            }
            Some(cur) => {
                let mut d = vec![];
                if cur.protocol != l.protocol {
                    d.push(format!("protocol: {} -> {}", cur.protocol, l.protocol));
                }
                if cur.certificate != l.certificate {
                    d.push(format!(
                        "certificate: {} -> {}",
                        cur.certificate.as_deref().unwrap_or("none"),
                        l.certificate.as_deref().unwrap_or("none")
                    ));
                }
                if l.ssl_policy.is_some() && cur.ssl_policy != l.ssl_policy {
                    d.push(format!(
                        "ssl policy: {} -> {}",
                        cur.ssl_policy.as_deref().unwrap_or("none"),
                        l.ssl_policy.as_deref().unwrap_or_default()
                    ));
                }
                if !action_matches(&l.default, cur.default.as_ref(), &tg_arn) {
                    d.push(format!("default: -> {}", l.default));
                }
                if !d.is_empty() {
                    p.listeners.push(change(
                        Action::Update,
                        "listener",
                        label.clone(),
                        region,
                        Some(cur.arn.clone()),
                        d,
                        Op::Lb(LbOp::UpdateListener {
                            lb: lb.name.clone(),
                            port: l.port,
                            arn: cur.arn.clone(),
                        }),
                    ));
                }
                for r in &l.rules {
                    let found = cur.rules.iter().find(|x| x.priority == r.priority);
                    let same = found.is_some_and(|x| {
                        sorted(&x.hosts) == sorted(&r.hosts)
                            && sorted(&x.paths) == sorted(&r.paths)
                            && action_matches(&r.action, x.action.as_ref(), &tg_arn)
                    });
                    if same {
                        continue;
                    }
                    p.rules.push(change(
                        if found.is_some() {
                            Action::Update
                        } else {
                            Action::Create
                        },
                        "listener-rule",
                        format!("{label}#{}", r.priority),
                        region,
                        found.map(|x| x.arn.clone()),
                        vec![r.describe()],
                        Op::Lb(LbOp::PutRule {
                            lb: lb.name.clone(),
                            port: l.port,
                            priority: r.priority,
                            arn: found.map(|x| x.arn.clone()),
                        }),
                    ));
                }
                for x in cur
                    .rules
                    .iter()
                    .filter(|x| !l.rules.iter().any(|r| r.priority == x.priority))
                {
                    p.d_rules.push(change(
                        Action::Destroy,
                        "listener-rule",
                        format!("{label}#{}", x.priority),
                        region,
                        Some(x.arn.clone()),
                        vec![],
                        Op::Lb(LbOp::DeleteRule { arn: x.arn.clone() }),
                    ));
                }
            }
        }
    }
    for x in listeners
        .iter()
        .filter(|x| !lb.listeners.iter().any(|l| l.port == x.port))
    {
        p.d_listeners.push(change(
            Action::Destroy,
            "listener",
            format!("{}:{}", lb.aws_name, x.port),
            region,
            Some(x.arn.clone()),
            vec![x.protocol.clone()],
            Op::Lb(LbOp::DeleteListener { arn: x.arn.clone() }),
        ));
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Whether an action found on AWS is what the spec says. Forward compares the target
/// group's ARN; a redirect's host/path/query only where the spec sets them (AWS fills
/// in `#{host}`, `/#{path}`, `#{query}`).
fn action_matches(
    want: &ActionSpec,
    have: Option<&ActionSpec>,
    tg_arn: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let Some(have) = have else { return false };
    match (want, have) {
        (ActionSpec::Forward(tg), ActionSpec::Forward(arn)) => tg_arn(tg).as_deref() == Some(arn),
        (
            ActionSpec::Redirect {
                protocol,
                port,
                host,
                path,
                query,
                status,
            },
            ActionSpec::Redirect {
                protocol: hp,
                port: hport,
                host: hh,
                path: hpath,
                query: hq,
                status: hs,
            },
        ) => {
            let opt = |w: &Option<String>, h: &Option<String>| w.is_none() || w == h;
            opt(protocol, hp)
                && opt(port, hport)
                && opt(host, hh)
                && opt(path, hpath)
                && opt(query, hq)
                && status == hs
        }
        (w @ ActionSpec::Fixed { .. }, h @ ActionSpec::Fixed { .. }) => w == h,
        _ => false,
    }
}

fn health_lines(tg: &TargetGroupSpec) -> Vec<String> {
    let h = &tg.health;
    let mut parts = vec![];
    if let Some(p) = &h.protocol {
        parts.push(p.clone());
    }
    if let Some(p) = &h.path {
        parts.push(p.clone());
    }
    if let Some(p) = &h.port {
        parts.push(format!("port {p}"));
    }
    if let Some(m) = &h.matcher {
        parts.push(format!("codes {m}"));
    }
    let mut out = vec![];
    if !parts.is_empty() {
        out.push(format!("health check {}", parts.join(" ")));
    }
    if let Some(s) = tg.stickiness {
        out.push(format!("sticky (lb_cookie, {s} s)"));
    }
    out
}

/// What of a target group's changeable settings differs (only what the spec sets;
/// stickiness is converged both ways on HTTP target groups).
fn tg_drift(tg: &TargetGroupSpec, cur: &Tg) -> Vec<String> {
    let mut d = vec![];
    let h = &tg.health;
    let c = &cur.health;
    macro_rules! cmp {
        ($f:ident, $label:expr) => {
            if h.$f.is_some() && h.$f != c.$f {
                d.push(format!(
                    "health check {}: {} -> {}",
                    $label,
                    c.$f.as_ref()
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "default".into()),
                    h.$f.as_ref().map(|x| x.to_string()).unwrap_or_default()
                ));
            }
        };
    }
    cmp!(protocol, "protocol");
    cmp!(path, "path");
    cmp!(port, "port");
    cmp!(interval, "interval");
    cmp!(timeout, "timeout");
    cmp!(healthy, "healthy threshold");
    cmp!(unhealthy, "unhealthy threshold");
    cmp!(matcher, "matcher");
    if (tg.protocol == "HTTP" || tg.protocol == "HTTPS") && tg.stickiness != cur.stickiness {
        d.push(match tg.stickiness {
            Some(s) => format!("stickiness: on (lb_cookie, {s} s)"),
            None => "stickiness: off".into(),
        });
    }
    if tg.deregistration_delay.is_some() && tg.deregistration_delay != cur.deregistration_delay {
        d.push(format!(
            "deregistration delay: {} s",
            tg.deregistration_delay.unwrap_or_default()
        ));
    }
    d
}

/// Registering the instance group's instances: needed when the registered set differs
/// from the instances that stay, or when instances of the group are launched, replaced
/// or terminated by this plan (resolved at apply time, once they run).
fn targets_change(
    rs: &RegionState,
    lb: &LbSpec,
    tg: &TargetGroupSpec,
    cur: Option<&Tg>,
    instance_changes: &[&Change],
    new: bool,
) -> Change {
    let group = &tg.instances.value;
    let region = rs.region.as_str();
    let mut leaving: Vec<String> = vec![];
    let mut launching = 0;
    for c in instance_changes.iter().filter(|c| c.region == region) {
        match &c.op {
            Op::Launch(l) if &l.group == group => launching += 1,
            Op::Replace { launch, old_id } if &launch.group == group => {
                launching += 1;
                leaving.push(old_id.clone());
            }
            Op::Terminate { ids } => leaving.extend(
                ids.iter()
                    .filter(|id| {
                        rs.instances
                            .iter()
                            .any(|i| &i.id == *id && &i.group == group)
                    })
                    .cloned(),
            ),
            _ => {}
        }
    }
    let staying: BTreeSet<String> = rs
        .instances
        .iter()
        .filter(|i| &i.group == group && !leaving.contains(&i.id))
        .map(|i| i.id.clone())
        .collect();
    let registered: BTreeSet<String> = cur
        .map(|c| c.targets.iter().cloned().collect())
        .unwrap_or_default();
    let mut details = vec![];
    let add: Vec<&String> = staying.difference(&registered).collect();
    let remove: Vec<&String> = registered.difference(&staying).collect();
    if !add.is_empty() {
        details.push(format!(
            "+ {}",
            add.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if launching > 0 {
        details.push(format!("+ {launching} new instance(s) of {group}"));
    }
    if !remove.is_empty() {
        details.push(format!(
            "- {}",
            remove
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if new && details.is_empty() {
        details.push(format!("the instances of {group}"));
    }
    change(
        if new { Action::Create } else { Action::Update },
        "lb-targets",
        tg.aws_name.clone(),
        region,
        cur.map(|c| c.arn.clone()),
        details,
        Op::Lb(LbOp::SyncTargets {
            lb: lb.name.clone(),
            tg: tg.name.clone(),
            leaving,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(host: Option<&str>, status: &str) -> ActionSpec {
        ActionSpec::Redirect {
            protocol: Some("HTTPS".into()),
            port: Some("443".into()),
            host: host.map(String::from),
            path: None,
            query: None,
            status: status.into(),
        }
    }

    #[test]
    fn actions_compare_like_aws_reports_them() {
        let none = |_: &str| None;
        // AWS fills in #{host}, /#{path}, #{query}: the spec's unset parts match them.
        let aws = ActionSpec::Redirect {
            protocol: Some("HTTPS".into()),
            port: Some("443".into()),
            host: Some("#{host}".into()),
            path: Some("/#{path}".into()),
            query: Some("#{query}".into()),
            status: "HTTP_301".into(),
        };
        assert!(action_matches(
            &redirect(None, "HTTP_301"),
            Some(&aws),
            &none
        ));
        assert!(!action_matches(
            &redirect(None, "HTTP_302"),
            Some(&aws),
            &none
        ));
        assert!(!action_matches(
            &redirect(Some("www.example.com"), "HTTP_301"),
            Some(&aws),
            &none
        ));
        // Forward compares the target group's ARN; an unknown group never matches.
        let arn = |n: &str| (n == "web").then(|| "arn:tg/web".to_string());
        let fwd = ActionSpec::Forward("arn:tg/web".into());
        assert!(action_matches(
            &ActionSpec::Forward("web".into()),
            Some(&fwd),
            &arn
        ));
        assert!(!action_matches(
            &ActionSpec::Forward("api".into()),
            Some(&fwd),
            &arn
        ));
        assert!(!action_matches(
            &ActionSpec::Forward("web".into()),
            None,
            &arn
        ));
    }
}
