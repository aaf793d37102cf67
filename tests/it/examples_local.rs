//! One environment of an example on the local default: containers, moto, spec and
//! inventory from examples/local/up.sh (the README's own commands), provisioned and
//! converged through the binary. Containers go at drop.
#![allow(dead_code)]

use super::harness::{fleet, rdeploy_env, repo_root, Run};
use super::moto_fixture::{moto_env, unique};
use std::path::PathBuf;
use std::process::Command;

/// The password the examples' databases get in these tests (never printed).
pub const EXAMPLE_DB_PASSWORD: &str = "branch-db-Pw-7731";

pub struct LocalEnv {
    pub example: String,
    pub project: String,
    pub env: String,
    /// Holds infra.yml, aws_ec2.yml, known_hosts.
    pub dir: PathBuf,
}

impl LocalEnv {
    /// Starts the containers (examples/local/up.sh EXAMPLE ENV) for a fresh project.
    pub fn up(example: &str, env: &str) -> LocalEnv {
        fleet();
        let mut e = LocalEnv {
            example: example.into(),
            project: unique(&example[..3]),
            env: env.into(),
            dir: PathBuf::new(),
        };
        let out = e.up_sh(&[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        e.dir = repo_root().join(String::from_utf8_lossy(&out.stdout).trim());
        e
    }

    fn up_sh(&self, extra: &[&str]) -> std::process::Output {
        Command::new("bash")
            .arg(repo_root().join("examples/local/up.sh"))
            .arg(&self.example)
            .arg(&self.env)
            .args(extra)
            .env("EXAMPLE_PROJECT", &self.project)
            .current_dir(repo_root())
            .output()
            .expect("run examples/local/up.sh")
    }

    pub fn spec(&self) -> String {
        self.dir.join("infra.yml").display().to_string()
    }

    /// The container standing for an inventory host (`master-1`).
    pub fn container(&self, host: &str) -> String {
        let prefix = std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into());
        format!(
            "{prefix}-{}-{}-{}-{host}",
            self.example, self.project, self.env
        )
    }

    /// The container's address on the fleet network.
    pub fn ip(&self, host: &str) -> String {
        let prefix = std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into());
        let out = Command::new("docker")
            .args(["inspect", "-f"])
            .arg(format!(
                "{{{{(index .NetworkSettings.Networks \"{prefix}-net\").IPAddress}}}}"
            ))
            .arg(self.container(host))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn rdeploy(&self, args: &[&str]) -> Run {
        let mut env = moto_env();
        // the examples' databases read their password from the environment
        env.push(("EXAMPLE_DB_PASSWORD", EXAMPLE_DB_PASSWORD));
        rdeploy_env(&repo_root(), args, &env)
    }

    pub fn provision(&self) {
        self.rdeploy(&[
            "provision",
            &self.spec(),
            "--env",
            &self.env,
            "--auto-approve",
        ])
        .assert_code(0);
    }

    pub fn destroy(&self) {
        self.rdeploy(&[
            "destroy",
            &self.spec(),
            "--env",
            &self.env,
            "--auto-approve",
        ])
        .assert_code(0);
    }

    /// `rdeploy run examples/EXAMPLE/site.yml` on this environment with strict host
    /// keys (the containers' real keys); asserts exit status 0.
    pub fn converge(&self, extra: &[&str]) -> Run {
        let inv = self.dir.join("aws_ec2.yml");
        let kh = self.dir.join("known_hosts");
        let key = fleet().key();
        let site = format!("examples/{}/site.yml", self.example);
        let limit = format!("env_{}", self.env.replace('-', "_"));
        let mut args = vec![
            "run",
            &site,
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
            "--private-key",
            key.to_str().unwrap(),
        ];
        if self.example == "monitoring" {
            args.extend(["--limit", limit.as_str()]);
        }
        args.extend_from_slice(extra);
        let r = self.rdeploy(&args);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r
    }

    /// Runs a shell command in a container (independent of rdeploy).
    pub fn sh(&self, host: &str, script: &str) -> String {
        let out = Command::new("docker")
            .args(["exec", &self.container(host), "sh", "-c", script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for LocalEnv {
    fn drop(&mut self) {
        let _ = self.up_sh(&["down"]);
    }
}
