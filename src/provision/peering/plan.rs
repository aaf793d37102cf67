//! Planning peering (pure): a connection per `peering` entry (requested from the first
//! region, accepted in the second), a route to the peer's block through it in every
//! route table of both VPCs; connections the spec no longer names are deleted with
//! their routes. The security group rules for the peer's block are planned with the
//! groups' other rules ([`super::spec::extra_rules`]).

use super::spec::PeeringSpec;
use super::PeeringOp;
use crate::provision::plan::{change, Action, Change, Op};
use crate::provision::spec::Spec;
use crate::provision::state::State;
use std::collections::BTreeSet;

/// (builds, destroys). `pending` are the plan's network changes (a route table created
/// now needs the routes too).
pub fn plan(spec: &Spec, state: &State, pending: &[&Change]) -> (Vec<Change>, Vec<Change>) {
    let mut builds = vec![];
    let mut routes = vec![];
    for p in &spec.peering {
        let found = [&p.requester, &p.accepter]
            .iter()
            .filter_map(|r| state.regions.get(*r))
            .flat_map(|rs| rs.peering.connections.iter())
            .find(|c| c.name == p.name)
            .cloned();
        let id = match &found {
            None => {
                builds.push(change(
                    Action::Create,
                    "vpc-peering",
                    p.name.clone(),
                    &p.requester,
                    None,
                    vec![format!(
                        "{} {} <-> {} {}",
                        p.requester,
                        block(spec, &p.requester),
                        p.accepter,
                        block(spec, &p.accepter)
                    )],
                    Op::Peering(PeeringOp::Create {
                        name: p.name.clone(),
                    }),
                ));
                None
            }
            Some(c) => {
                if c.status == "pending-acceptance" {
                    builds.push(change(
                        Action::Update,
                        "vpc-peering",
                        p.name.clone(),
                        &p.accepter,
                        Some(c.id.clone()),
                        vec!["accept".into()],
                        Op::Peering(PeeringOp::Accept {
                            name: p.name.clone(),
                        }),
                    ));
                }
                Some(c.id.clone())
            }
        };
        for region in [&p.requester, &p.accepter] {
            let other = p.other(region).unwrap_or_default().to_string();
            let dest = block(spec, &other);
            let tables = state
                .regions
                .get(region)
                .map(|rs| rs.peering.route_tables.clone())
                .unwrap_or_default();
            let new_table = pending.iter().any(|c| {
                &c.region == region
                    && matches!(c.op, Op::CreateRouteTable { .. } | Op::CreateVpc { .. })
            });
            let missing = id.is_none()
                || new_table
                || tables.is_empty()
                || tables.iter().any(|t| {
                    !t.peering_routes
                        .iter()
                        .any(|(d, x)| d == &dest && Some(x) == id.as_ref())
                });
            if missing {
                routes.push(route_change(p, region, &dest, id.clone()));
            }
        }
    }
    builds.extend(routes);
    let wanted: BTreeSet<&str> = spec.peering.iter().map(|p| p.name.as_str()).collect();
    let destroys = deletes(state, |name| !wanted.contains(name));
    (builds, destroys)
}

/// Every connection of the environment (for `destroy`).
pub fn destroy(state: &State) -> Vec<Change> {
    deletes(state, |_| true)
}

fn deletes(state: &State, unwanted: impl Fn(&str) -> bool) -> Vec<Change> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for rs in state.regions.values() {
        for c in rs.peering.connections.iter().filter(|c| unwanted(&c.name)) {
            if !seen.insert(c.id.clone()) {
                continue;
            }
            let regions: Vec<String> = c
                .name
                .split("--")
                .map(String::from)
                .filter(|r| state.regions.contains_key(r))
                .collect();
            out.push(change(
                Action::Destroy,
                "vpc-peering",
                c.name.clone(),
                &rs.region,
                Some(c.id.clone()),
                vec![format!(
                    "{} <-> {}, and the routes through it",
                    c.requester_vpc, c.accepter_vpc
                )],
                Op::Peering(PeeringOp::Delete {
                    id: c.id.clone(),
                    regions,
                }),
            ));
        }
    }
    out
}

fn block(spec: &Spec, region: &str) -> String {
    spec.network
        .cidr_in(region)
        .map(|c| c.to_string())
        .unwrap_or_default()
}

fn route_change(p: &PeeringSpec, region: &str, dest: &str, id: Option<String>) -> Change {
    change(
        Action::Update,
        "vpc-peering-routes",
        format!("{} in {region}", p.name),
        region,
        id,
        vec![format!(
            "{dest} via the peering, in every route table of the VPC"
        )],
        Op::Peering(PeeringOp::Routes {
            name: p.name.clone(),
        }),
    )
}
