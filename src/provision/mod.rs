//! `rdeploy provision` / `rdeploy destroy`: infrastructure on AWS from an infra spec,
//! stateless and keyed by tags (not implemented yet).

use crate::error::{Error, Result};
use crate::output::Reporter;
use std::path::PathBuf;

/// What the user asked for on the command line.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    pub spec: PathBuf,
    pub env: Option<String>,
    /// Only show the plan (`--plan`).
    pub plan_only: bool,
    /// Apply replacements/destroys without asking (`--auto-approve`).
    pub auto_approve: bool,
    /// Print the plan as JSON.
    pub json: bool,
}

/// Plans and (unless `plan_only`) applies the spec; returns the exit status.
pub async fn provision(_opts: &ProvisionOptions, _reporter: &dyn Reporter) -> Result<i32> {
    Err(Error::usage("provision: not implemented yet"))
}

/// Destroys everything tagged with the spec's project and environment.
pub async fn destroy(_opts: &ProvisionOptions, _reporter: &dyn Reporter) -> Result<i32> {
    Err(Error::usage("destroy: not implemented yet"))
}
