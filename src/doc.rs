//! `rdeploy doc`: the module names rdeploy knows (like `ansible-doc -l`) and one
//! module's parameters (like `ansible-doc copy`), from the same definitions the loader
//! validates tasks against (the module registry and the engine's own actions).

use crate::modules::registry;
use crate::playbook::EngineAction;
use std::io::Write;

/// Writes a line to stdout; a closed stdout (`rdeploy doc | head`) is not an error.
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// Task actions the engine runs itself (not modules on a host).
const ENGINE_ONLY: &[&str] = &[
    "include_tasks",
    "import_tasks",
    "include",
    "include_role",
    "import_role",
    "import_playbook",
];

/// Prints the list, or one module's page; exit status 1 for an unknown name.
pub fn run(module: Option<&str>) -> i32 {
    let reg = registry();
    match module {
        None => {
            let mut seen = std::collections::BTreeMap::new();
            for n in reg.names() {
                if let Some(m) = reg.get(n) {
                    seen.entry(m.name()).or_insert_with(|| m.aliases().to_vec());
                }
            }
            for (name, aliases) in &seen {
                let mut line = format!("{name:<22} ansible.builtin.{name}");
                if !aliases.is_empty() {
                    line.push_str(&format!("  (also: {})", aliases.join(", ")));
                }
                out!("{line}");
            }
            for a in EngineAction::NAMES.iter().chain(ENGINE_ONLY) {
                out!("{a:<22} ansible.builtin.{a}  (run by the engine)");
            }
            0
        }
        Some(name) => {
            let short = name.rsplit('.').next().unwrap_or(name);
            if let Some(m) = reg.get(name) {
                out!("> {} ({})", m.name().to_uppercase(), m.name());
                if !m.aliases().is_empty() {
                    out!("  aliases: {}", m.aliases().join(", "));
                }
                let spec = m.spec();
                match m.params() {
                    Some(ps) => {
                        out!("\nPARAMETERS (unknown ones are refused at load time):");
                        for p in ps {
                            let mut line = format!("  {p}");
                            if let Some(s) = spec.iter().find(|s| s.name == *p) {
                                if s.required {
                                    line.push_str("  (required)");
                                }
                                if let Some(d) = s.default {
                                    line.push_str(&format!("  default: {d}"));
                                }
                                if !s.choices.is_empty() {
                                    line.push_str(&format!("  choices: {}", s.choices.join(", ")));
                                }
                            }
                            out!("{line}");
                        }
                    }
                    None => out!("\nPARAMETERS: free-form (not checked at load time)"),
                }
                if !m.returns().is_empty() {
                    out!("\nRETURN VALUES (besides changed, failed, msg):");
                    for r in m.returns() {
                        out!("  {r}");
                    }
                }
                0
            } else if EngineAction::NAMES.contains(&short) || ENGINE_ONLY.contains(&short) {
                out!(
                    "> {} ({short}): run by the engine on the controller",
                    short.to_uppercase()
                );
                0
            } else {
                eprintln!("ERROR: no module named {name:?} (rdeploy doc lists them)");
                1
            }
        }
    }
}
