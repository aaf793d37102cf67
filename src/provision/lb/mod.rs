//! Load balancers (ELBv2: application and network): [`spec`] reads and validates the
//! `load_balancers` section, [`state`] discovers what exists, [`plan`] diffs them into
//! changes, [`apply`] carries the changes out. Same model as the rest of provisioning:
//! tagged at creation, discovered by tags, converged exactly, destroyed in order.

pub mod apply;
pub mod plan;
pub mod spec;
pub mod state;

use crate::provision::state::State;
use serde_json::{json, Value};

/// The load balancer a target group belongs to (its spec name).
pub const TAG_LB: &str = "rdeploy:lb";

/// What the apply does for a load-balancing change (names are resolved to ARNs then).
#[derive(Debug, Clone)]
pub enum LbOp {
    CreateTg {
        lb: String,
        tg: String,
    },
    UpdateTg {
        lb: String,
        tg: String,
        arn: String,
    },
    /// Registers the instance group's instances and deregisters the others; `leaving`
    /// are instances this plan terminates.
    SyncTargets {
        lb: String,
        tg: String,
        leaving: Vec<String>,
    },
    DeleteTg {
        arn: String,
    },
    /// Creates the load balancer (after deleting `replace`, when AWS cannot change it).
    CreateLb {
        lb: String,
        replace: Option<String>,
    },
    UpdateLb {
        lb: String,
        arn: String,
        subnets: bool,
        security_groups: bool,
    },
    DeleteLb {
        arn: String,
    },
    /// Creates the listener with its rules.
    CreateListener {
        lb: String,
        port: u16,
    },
    UpdateListener {
        lb: String,
        port: u16,
        arn: String,
    },
    DeleteListener {
        arn: String,
    },
    /// Creates (`arn: None`) or modifies a rule.
    PutRule {
        lb: String,
        port: u16,
        priority: u32,
        arn: Option<String>,
    },
    DeleteRule {
        arn: String,
    },
}

/// `load_balancers.<name>` for the outputs: dns_name, zone_id, arn, type, scheme, region.
pub fn outputs(state: &State) -> Value {
    let mut m = serde_json::Map::new();
    for rs in state.regions.values() {
        for l in &rs.lb.lbs {
            m.insert(
                l.name.clone(),
                json!({
                    "name": l.aws_name, "dns_name": l.dns_name, "zone_id": l.zone_id,
                    "arn": l.arn, "type": l.lb_type, "scheme": l.scheme, "region": rs.region,
                }),
            );
        }
    }
    Value::Object(m)
}
