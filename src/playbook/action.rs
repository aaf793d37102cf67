//! What a task does, resolved once at load time: a module from the registry, or one of
//! the engine's own actions. Adding an engine action touches this file (its name and
//! variant) and the executor's one `match` over [`EngineAction`]; an unknown name can't
//! pass the loader.

use crate::modules::Registry;

/// The action of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A module from the registry, by its short name as written (`copy`, `systemd`).
    Module(String),
    /// An action the engine runs itself, on the controller.
    Engine(EngineAction),
}

/// The engine's own actions (they change the run's state, not a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineAction {
    SetFact,
    IncludeVars,
    AddHost,
    GroupBy,
    SetStats,
    Meta(Meta),
}

/// `meta:` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    FlushHandlers,
    EndPlay,
    EndHost,
    EndBatch,
    ClearHostErrors,
    ResetConnection,
    ClearFacts,
    Noop,
    RefreshInventory,
}

impl Meta {
    pub const ALL: &'static [(&'static str, Meta)] = &[
        ("flush_handlers", Meta::FlushHandlers),
        ("end_play", Meta::EndPlay),
        ("end_host", Meta::EndHost),
        ("end_batch", Meta::EndBatch),
        ("clear_host_errors", Meta::ClearHostErrors),
        ("reset_connection", Meta::ResetConnection),
        ("clear_facts", Meta::ClearFacts),
        ("noop", Meta::Noop),
        ("refresh_inventory", Meta::RefreshInventory),
    ];

    pub fn parse(s: &str) -> Option<Meta> {
        let s = s.trim();
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("noop")
    }
}

impl EngineAction {
    /// Every engine action by name (`meta` is parsed from its argument by the loader).
    pub const NAMES: &'static [&'static str] = &[
        "set_fact",
        "include_vars",
        "add_host",
        "group_by",
        "set_stats",
        "meta",
    ];

    /// The action for a short name; `meta` needs its argument (see [`Meta::parse`]).
    pub fn from_name(short: &str) -> Option<EngineAction> {
        Some(match short {
            "set_fact" => EngineAction::SetFact,
            "include_vars" => EngineAction::IncludeVars,
            "add_host" => EngineAction::AddHost,
            "group_by" => EngineAction::GroupBy,
            "set_stats" => EngineAction::SetStats,
            "meta" => EngineAction::Meta(Meta::Noop),
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            EngineAction::SetFact => "set_fact",
            EngineAction::IncludeVars => "include_vars",
            EngineAction::AddHost => "add_host",
            EngineAction::GroupBy => "group_by",
            EngineAction::SetStats => "set_stats",
            EngineAction::Meta(_) => "meta",
        }
    }

    /// Whether the action takes a free-form string (`include_vars: file.yml`).
    pub fn free_form(self) -> bool {
        matches!(self, EngineAction::IncludeVars | EngineAction::Meta(_))
    }
}

/// Task keywords that load other tasks (resolved by the loader, never run as actions).
pub const INCLUDE_ACTIONS: &[&str] = &[
    "include_tasks",
    "import_tasks",
    "include_role",
    "import_role",
    "include",
];

impl Action {
    /// Resolves a (possibly fully qualified) action name: a module of the registry or an
    /// engine action. `None` for unknown names (and for the include keywords).
    pub fn resolve(name: &str, registry: &Registry) -> Option<Action> {
        let short = crate::modules::short_name(name);
        if let Some(e) = EngineAction::from_name(short) {
            return Some(Action::Engine(e));
        }
        // the name as written (`systemd`, an alias of service, shows as `systemd`)
        registry
            .get(short)
            .map(|_| Action::Module(short.to_string()))
    }

    /// The action's short name, as shown in output (`copy`, `set_fact`, `meta`).
    pub fn name(&self) -> &str {
        match self {
            Action::Module(m) => m,
            Action::Engine(e) => e.name(),
        }
    }

    /// The module's name, when the action is a module.
    pub fn module(&self) -> Option<&str> {
        match self {
            Action::Module(m) => Some(m),
            Action::Engine(_) => None,
        }
    }

    pub fn is_module(&self, name: &str) -> bool {
        matches!(self, Action::Module(m) if m == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_modules_engine_actions_and_fqcns() {
        let r = crate::modules::registry();
        assert_eq!(
            Action::resolve("ansible.builtin.copy", &r),
            Some(Action::Module("copy".into()))
        );
        assert_eq!(
            Action::resolve("ansible.builtin.set_fact", &r),
            Some(Action::Engine(EngineAction::SetFact))
        );
        assert_eq!(Action::resolve("copyy", &r), None);
        assert_eq!(Action::resolve("include_tasks", &r), None);
        for n in EngineAction::NAMES {
            assert_eq!(Action::resolve(n, &r).unwrap().name(), *n);
        }
    }

    #[test]
    fn meta_names_round_trip() {
        for (n, m) in Meta::ALL {
            assert_eq!(Meta::parse(n), Some(*m));
            assert_eq!(m.name(), *n);
        }
        assert_eq!(Meta::parse("end_everything"), None);
    }
}
