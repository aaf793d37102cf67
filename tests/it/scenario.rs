//! A fluent harness for engine tests that need no fleet: a project in a scratch
//! directory, hosts that run with `connection: local` (each host's effects go to files
//! named after it), one run of the binary, and checks a user would make.
//!
//! ```ignore
//! Scenario::new()
//!     .hosts(&["h1", "h2"])
//!     .playbook("- hosts: all\n  tasks: ...")
//!     .run()
//!     .code(0)
//!     .recap("h1")
//!     .ok(2)
//!     .changed(1);
//! ```
#![allow(dead_code)]

use super::harness::{rdeploy_env, recap_full, tempdir, write_file, Recap, Run};
use std::path::Path;

pub struct Scenario {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    inventory: Option<String>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    pub fn new() -> Self {
        Scenario {
            dir: tempdir(),
            args: vec![],
            env: vec![],
            inventory: None,
        }
    }

    /// Hosts in group `app` (and `all`), all with `ansible_connection=local`.
    pub fn hosts(self, names: &[&str]) -> Self {
        let mut text = String::from("[all:vars]\nansible_connection=local\n[app]\n");
        for n in names {
            text.push_str(n);
            text.push('\n');
        }
        self.inventory(&text)
    }

    /// An INI inventory as written.
    pub fn inventory(mut self, ini: &str) -> Self {
        write_file(self.dir.path(), "hosts.ini", ini);
        self.inventory = Some("hosts.ini".into());
        self
    }

    /// `site.yml`.
    pub fn playbook(self, yaml: &str) -> Self {
        self.file("site.yml", yaml)
    }

    /// Any other project file (roles, vars files, templates).
    pub fn file(self, rel: &str, text: &str) -> Self {
        write_file(self.dir.path(), rel, text);
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    pub fn args(mut self, a: &[&str]) -> Self {
        self.args.extend(a.iter().map(|s| s.to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// `rdeploy run site.yml -i hosts.ini ARGS...`
    pub fn run(self) -> Ran {
        let mut args: Vec<String> = vec!["run".into(), "site.yml".into()];
        if let Some(i) = &self.inventory {
            args.push("-i".into());
            args.push(i.clone());
        }
        args.extend(self.args.iter().cloned());
        self.run_raw(&args)
    }

    /// `rdeploy ARGS...` in the project directory.
    pub fn run_raw(self, args: &[String]) -> Ran {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let run = rdeploy_env(self.dir.path(), &a, &e);
        Ran {
            recap: recap_full(&run.stdout),
            run,
            dir: self.dir,
        }
    }
}

/// A finished run.
pub struct Ran {
    pub run: Run,
    pub recap: std::collections::HashMap<String, Recap>,
    dir: tempfile::TempDir,
}

impl Ran {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn code(&self, code: i32) -> &Self {
        self.run.assert_code(code);
        self
    }

    /// The recap line of `host` (it must be there).
    pub fn recap(&self, host: &str) -> RecapCheck<'_> {
        let r = self
            .recap
            .get(host)
            .unwrap_or_else(|| panic!("no recap line for {host}\n--- stdout\n{}", self.run.stdout));
        RecapCheck {
            ran: self,
            host: host.to_string(),
            r: *r,
        }
    }

    pub fn no_recap(&self, host: &str) -> &Self {
        assert!(
            !self.recap.contains_key(host),
            "{host} is in the recap\n{}",
            self.run.stdout
        );
        self
    }

    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(
            self.run.stdout.contains(s),
            "stdout lacks {s:?}\n{}",
            self.run.stdout
        );
        self
    }

    pub fn stdout_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.run.stdout.contains(s),
            "stdout has {s:?}\n{}",
            self.run.stdout
        );
        self
    }

    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.run.stderr.contains(s),
            "stderr lacks {s:?}\n{}",
            self.run.stderr
        );
        self
    }

    /// Neither stdout nor stderr contain `s`.
    pub fn nowhere(&self, s: &str) -> &Self {
        self.stdout_lacks(s);
        assert!(
            !self.run.stderr.contains(s),
            "stderr has {s:?}\n{}",
            self.run.stderr
        );
        self
    }

    /// A project file written by the run (trimmed), or None.
    pub fn file(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(rel))
            .ok()
            .map(|s| s.trim_end().to_string())
    }

    /// Lines of a file written by the run (empty when it does not exist).
    pub fn lines(&self, rel: &str) -> Vec<String> {
        self.file(rel)
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The order in which `TASK [...]` headers appear in stdout.
    pub fn task_headers(&self) -> Vec<String> {
        self.run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("TASK ["))
            .filter_map(|l| l.split_once(']').map(|(n, _)| n.to_string()))
            .collect()
    }
}

/// Checks on one recap line: `.ok(2).changed(1)`.
pub struct RecapCheck<'a> {
    ran: &'a Ran,
    host: String,
    r: Recap,
}

macro_rules! field {
    ($name:ident) => {
        pub fn $name(self, n: u32) -> Self {
            assert_eq!(
                self.r.$name,
                n,
                "{}: {} in the recap\n{}",
                self.host,
                stringify!($name),
                self.ran.run.stdout
            );
            self
        }
    };
}

impl<'a> RecapCheck<'a> {
    field!(ok);
    field!(changed);
    field!(unreachable);
    field!(failed);
    field!(skipped);
    field!(rescued);
    field!(ignored);

    /// Back to the run, for more checks.
    pub fn and(self) -> &'a Ran {
        self.ran
    }
}
