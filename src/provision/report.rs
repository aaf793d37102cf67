//! Rendering a plan and the outputs as lines (human) or one JSON document, sent to the
//! reporter as [`Event::Message`]s: the provisioner itself never prints.

use super::plan::{Action, Plan};
use crate::output::{Event, Reporter};
use indexmap::IndexMap;

/// The plan as text lines, Terraform-like: one line per change, details indented.
pub fn plan_lines(plan: &Plan) -> Vec<String> {
    let mut out = vec![];
    let multi = plan.regions.len() > 1;
    out.push(format!(
        "Plan for {}/{} ({}):",
        plan.project,
        plan.env,
        plan.regions.join(", ")
    ));
    if plan.changes.is_empty() {
        out.push("  no changes: the infrastructure matches the spec".into());
        return out;
    }
    for c in &plan.changes {
        let id =
            c.id.as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
        let region = if multi {
            format!(" [{}]", c.region)
        } else {
            String::new()
        };
        let approval = if c.needs_approval {
            "  (needs approval)"
        } else {
            ""
        };
        out.push(format!(
            "  {:<3} {:<18} {}{id}{region}{approval}",
            c.action.symbol(),
            c.resource,
            c.name
        ));
        for d in &c.details {
            out.push(format!("        {d}"));
        }
    }
    let s = &plan.summary;
    out.push(format!(
        "Plan: {} to create, {} to update, {} to replace, {} to destroy.",
        s.create, s.update, s.replace, s.destroy
    ));
    out
}

/// Sends the plan to the reporter (as one JSON message when `json`).
pub fn show_plan(plan: &Plan, reporter: &dyn Reporter, json: bool) {
    if json {
        reporter.event(&Event::Plan {
            plan: plan.to_json(),
        });
        return;
    }
    for l in plan_lines(plan) {
        reporter.event(&Event::Message { msg: l });
    }
}

/// Sends the outputs to the reporter.
pub fn show_outputs(
    outputs: &IndexMap<String, serde_json::Value>,
    reporter: &dyn Reporter,
    json: bool,
) {
    if outputs.is_empty() {
        return;
    }
    if json {
        reporter.event(&Event::Outputs {
            outputs: outputs.clone(),
        });
        return;
    }
    reporter.event(&Event::Message {
        msg: "Outputs:".into(),
    });
    for (k, v) in outputs {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        reporter.event(&Event::Message {
            msg: format!("  {k} = {text}"),
        });
    }
}

/// One summary line after an apply.
pub fn applied_line(plan: &Plan) -> String {
    let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
    format!(
        "Apply complete: {} created, {} updated, {} replaced, {} destroyed.",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Destroy)
    )
}
