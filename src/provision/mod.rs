//! `rdeploy provision` / `rdeploy destroy`: infrastructure on AWS from an infra spec
//! (docs/PROVISION.md), stateless and keyed by tags.
//!
//! Codemap: [`spec`] loads and validates the YAML (file:line:col errors, no API call);
//! [`crate::aws`] holds the SDK configuration, retries and tag conventions; [`state`] discovers
//! what exists (only resources tagged with the project *and* the environment);
//! [`lookup`] reads what the spec refers to (zones, default VPC, AMIs); [`plan`] diffs
//! them into create/update/replace/destroy changes without any API call; [`apply`]
//! executes a plan with bounded waits; [`outputs`] renders the spec's outputs;
//! [`report`] turns plans and outputs into reporter events; [`confirm`] asks for approval;
//! [`envs`] lists and shows environments (`rdeploy env list/show`, read-only).
//!
//! Invariants: nothing is touched that lacks `rdeploy:project` + `rdeploy:env` with the
//! spec's values; every resource is tagged in its creating call; spec errors come before
//! any API call; replacements and destroys need approval (`--auto-approve` in CI).

pub mod apply;
// the shared AWS client code lives in crate::aws (used by the EC2 inventory too)
pub use crate::aws;
pub mod confirm;
pub mod db;
pub mod describe;
pub mod dns;
pub mod envs;
pub(crate) mod fields;
pub mod lb;
pub mod lookup;
pub mod outputs;
pub mod peering;
pub mod plan;
pub mod report;
pub mod spec;
pub mod state;

pub use aws::AwsSettings;
pub use plan::Plan;

use crate::error::Result;
use crate::output::{Event, Reporter};
use indexmap::IndexMap;
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

/// What a provision or destroy run did (for the library API and tests).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit status: 0 done (or nothing to do), 1 refused or declined.
    pub code: i32,
    pub plan: Plan,
    /// Whether the plan was applied.
    pub applied: bool,
    /// The rendered outputs (after an apply, or when nothing changed).
    pub outputs: IndexMap<String, serde_json::Value>,
}

fn say(reporter: &dyn Reporter, msg: impl Into<String>) {
    reporter.event(&Event::Message { msg: msg.into() });
}

/// Plans and (unless `plan_only`) applies the spec; returns the exit status.
pub async fn provision(opts: &ProvisionOptions, reporter: &dyn Reporter) -> Result<i32> {
    Ok(provision_with(opts, reporter, &AwsSettings::default())
        .await?
        .code)
}

/// Destroys everything tagged with the spec's project and environment.
pub async fn destroy(opts: &ProvisionOptions, reporter: &dyn Reporter) -> Result<i32> {
    Ok(destroy_with(opts, reporter, &AwsSettings::default())
        .await?
        .code)
}

/// Loads and validates the spec only (no API call): what `provision` does first.
pub fn load_spec(opts: &ProvisionOptions) -> Result<spec::Spec> {
    spec::load(&opts.spec, opts.env.as_deref())
}

/// Computes the plan without applying it.
pub async fn plan_with(
    opts: &ProvisionOptions,
    reporter: &dyn Reporter,
    settings: &AwsSettings,
) -> Result<Plan> {
    let spec = load_spec(opts)?;
    let aws = aws::Aws::connect(settings).await;
    // Boxed: the discovery futures are large, and callers' stacks need not hold them.
    let (mut state, lookups, dns) = tokio::try_join!(
        Box::pin(state::discover(
            &aws,
            &spec.project,
            &spec.env,
            &spec.regions,
            reporter
        )),
        Box::pin(lookup::lookup(&aws, &spec)),
        Box::pin(dns::state::discover(
            &aws,
            &spec.dns,
            &spec.project,
            &spec.env,
            false
        ))
    )
    .map_err(|e| aws.locate(e))?;
    state.dns = dns;
    plan::plan(&spec, &state, &lookups)
}

/// [`provision`] with explicit AWS settings; returns the plan and outputs too.
pub async fn provision_with(
    opts: &ProvisionOptions,
    reporter: &dyn Reporter,
    settings: &AwsSettings,
) -> Result<Outcome> {
    // The spec is validated before anything talks to AWS.
    let spec = load_spec(opts)?;
    let aws = aws::Aws::connect(settings).await;
    // Boxed: the discovery futures are large, and callers' stacks need not hold them.
    let (mut state, lookups, dns) = tokio::try_join!(
        Box::pin(state::discover(
            &aws,
            &spec.project,
            &spec.env,
            &spec.regions,
            reporter
        )),
        Box::pin(lookup::lookup(&aws, &spec)),
        Box::pin(dns::state::discover(
            &aws,
            &spec.dns,
            &spec.project,
            &spec.env,
            false
        ))
    )
    .map_err(|e| aws.locate(e))?;
    state.dns = dns;
    let plan = plan::plan(&spec, &state, &lookups)?;
    report::show_plan(&plan, reporter, opts.json);
    let mut outcome = Outcome {
        code: 0,
        plan: plan.clone(),
        applied: false,
        outputs: IndexMap::new(),
    };
    if opts.plan_only {
        return Ok(outcome);
    }
    if plan.is_empty() {
        say(
            reporter,
            format!(
                "No changes: {}/{} is up to date ({} resources).",
                spec.project,
                spec.env,
                state.count()
            ),
        );
        outcome.outputs = outputs::render(&spec, &state)?;
        report::show_outputs(&outcome.outputs, reporter, opts.json);
        return Ok(outcome);
    }
    let risky = plan.needs_approval();
    if risky > 0
        && !opts.auto_approve
        && !approved(reporter, risky, "replaces or destroys", "provision").await
    {
        outcome.code = 1;
        return Ok(outcome);
    }
    let mut applier = apply::Applier::new(&aws, &spec, &state, &lookups, reporter);
    Box::pin(applier.apply(&plan))
        .await
        .map_err(|e| aws.locate(e))?;
    outcome.applied = true;
    say(reporter, report::applied_line(&plan));
    let state = Box::pin(state::discover(
        &aws,
        &spec.project,
        &spec.env,
        &spec.regions,
        reporter,
    ))
    .await
    .map_err(|e| aws.locate(e))?;
    outcome.outputs = outputs::render(&spec, &state)?;
    report::show_outputs(&outcome.outputs, reporter, opts.json);
    Ok(outcome)
}

/// [`destroy`] with explicit AWS settings.
pub async fn destroy_with(
    opts: &ProvisionOptions,
    reporter: &dyn Reporter,
    settings: &AwsSettings,
) -> Result<Outcome> {
    let spec = load_spec(opts)?;
    let aws = aws::Aws::connect(settings).await;
    let (mut state, dns) = tokio::try_join!(
        Box::pin(state::discover(
            &aws,
            &spec.project,
            &spec.env,
            &spec.regions,
            reporter
        )),
        Box::pin(dns::state::discover(
            &aws,
            &spec.dns,
            &spec.project,
            &spec.env,
            true
        ))
    )
    .map_err(|e| aws.locate(e))?;
    state.dns = dns;
    let plan = plan::destroy_plan(&spec, &state);
    report::show_plan(&plan, reporter, opts.json);
    let mut outcome = Outcome {
        code: 0,
        plan: plan.clone(),
        applied: false,
        outputs: IndexMap::new(),
    };
    if opts.plan_only {
        return Ok(outcome);
    }
    if plan.is_empty() {
        say(
            reporter,
            format!(
                "Nothing to destroy: no resource is tagged {}/{}.",
                spec.project, spec.env
            ),
        );
        return Ok(outcome);
    }
    if !opts.auto_approve && !approved(reporter, plan.changes.len(), "destroys", "destroy").await {
        outcome.code = 1;
        return Ok(outcome);
    }
    let lookups = lookup::Lookups::default();
    let mut applier = apply::Applier::new(&aws, &spec, &state, &lookups, reporter);
    let changes: Vec<&plan::Change> = plan.changes.iter().collect();
    Box::pin(applier.destroy(&changes))
        .await
        .map_err(|e| aws.locate(e))?;
    outcome.applied = true;
    let left = &applier.left_in_place;
    let tail = if left.is_empty() {
        String::new()
    } else {
        format!("; left in place: {}", left.join(", "))
    };
    say(
        reporter,
        format!(
            "Destroy complete: {} resource(s) of {}/{} removed{tail}.",
            plan.changes.len() - left.len(),
            spec.project,
            spec.env
        ),
    );
    Ok(outcome)
}

/// Asks for approval on a terminal; refuses (with the reason) when nobody can answer.
async fn approved(reporter: &dyn Reporter, n: usize, verb: &str, command: &str) -> bool {
    match confirm::ask(&format!("The plan {verb} {n} resource(s). Apply it?")).await {
        confirm::Answer::Yes => true,
        confirm::Answer::No => {
            say(reporter, "Not applied: approval declined.");
            false
        }
        confirm::Answer::CannotAsk => {
            reporter.event(&Event::Warning {
                msg: format!(
                    "not applied: the plan {verb} {n} resource(s), which needs approval, and stdin is not a terminal to ask on; \
                     review the plan and run `rdeploy {command} --auto-approve` to apply it"
                ),
            });
            false
        }
    }
}
