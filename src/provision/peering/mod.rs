//! VPC peering across the spec's regions: [`spec`] reads `peering` (pairs of regions,
//! security group rules for the peer's block), [`state`] discovers the peering
//! connections by tags and the routes of the VPCs' route tables, [`plan`] diffs them,
//! [`apply`] requests, accepts (in the peer's region), routes both sides and deletes.

pub mod apply;
pub mod plan;
pub mod spec;
pub mod state;

/// What the apply does for a peering change (ids resolved at apply time).
#[derive(Debug, Clone)]
pub enum PeeringOp {
    /// Requests the connection from the first region and accepts it in the second.
    Create { name: String },
    /// Accepts a connection still pending acceptance.
    Accept { name: String },
    /// Routes to the peer's block through the connection, in every route table of the
    /// region's VPC (the public one and the main one).
    Routes { name: String },
    /// Deletes the connection and the routes through it.
    Delete { id: String, regions: Vec<String> },
}
