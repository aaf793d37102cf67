//! DNS records in existing Route 53 hosted zones: [`spec`] reads and validates the `dns`
//! section, [`state`] finds the zones by name and the records rdeploy owns there (by
//! their ownership TXT records), [`plan`] diffs them, [`apply`] makes the atomic change
//! batches. rdeploy never creates or deletes a hosted zone.

pub mod apply;
pub mod plan;
pub mod spec;
pub mod state;

use crate::provision::spec::Spec;
use serde_json::{json, Value};

/// What the apply does for a DNS change.
#[derive(Debug, Clone)]
pub enum DnsOp {
    /// Writes the spec's record `fqdn` (values resolved at apply time, once the load
    /// balancers exist and the instances run) with its ownership TXT; `replace` is the
    /// record of another type at that name, deleted in the same batch.
    Upsert {
        zone_id: String,
        fqdn: String,
        replace: Option<Box<state::OwnedRecord>>,
        /// Instances this plan terminates (not to be listed).
        leaving: Vec<String>,
    },
    /// Deletes a record rdeploy owns and its ownership TXT.
    Delete {
        zone_id: String,
        record: Box<state::OwnedRecord>,
    },
}

/// `dns.<record as the spec names it>`: the full name, for the outputs.
pub fn outputs(spec: &Spec) -> Value {
    let mut m = serde_json::Map::new();
    for z in &spec.dns {
        for r in &z.records {
            m.insert(r.key.clone(), json!(r.fqdn));
        }
    }
    Value::Object(m)
}
