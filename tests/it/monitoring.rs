//! examples/monitoring on the local default (moto + containers started by the example's
//! own local/up.sh): one branch environment converges, the rerun changes nothing, and
//! Prometheus's targets API lists every node tagged Prometheus=true `up` (and nothing
//! else); a newly tagged instance is scraped after the next run.

use super::harness::{fleet, rdeploy_env, recap, repo_root, Run};
use super::provision::{ec2, moto_env, unique};
use std::process::Command;
use std::time::{Duration, Instant};

struct Env {
    project: String,
    env: String,
    dir: std::path::PathBuf,
}

impl Env {
    fn up_sh(&self, extra: &[&str]) -> std::process::Output {
        Command::new("bash")
            .arg(repo_root().join("examples/monitoring/local/up.sh"))
            .arg(&self.env)
            .args(extra)
            .env("MONITORING_PROJECT", &self.project)
            .current_dir(repo_root())
            .output()
            .expect("run up.sh")
    }
    fn container(&self, host: &str) -> String {
        let prefix = std::env::var("RDEPLOY_FLEET_PREFIX").unwrap_or_else(|_| "rdeploy".into());
        format!("{prefix}-mon-{}-{}-{host}", self.project, self.env)
    }
    fn rdeploy(&self, args: &[&str]) -> Run {
        rdeploy_env(&repo_root(), args, &moto_env())
    }
    fn converge(&self) -> Run {
        let inv = self.dir.join("aws_ec2.yml");
        let kh = self.dir.join("known_hosts");
        let key = fleet().key();
        let r = self.rdeploy(&[
            "run",
            "examples/monitoring/site.yml",
            "-i",
            inv.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
            "--private-key",
            key.to_str().unwrap(),
            "--limit",
            &format!("env_{}", self.env.replace('-', "_")),
            "-e",
            "prometheus_scrape_interval=2s",
        ]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r
    }
    /// `(instance_name, health)` of the node job's targets, from the API on the
    /// Prometheus host itself.
    fn targets(&self) -> Vec<(String, String)> {
        let out = Command::new("docker")
            .args(["exec", &self.container("monitor-1"), "python3", "-c"])
            .arg("import json,urllib.request; d=json.load(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/targets')); print(json.dumps(d['data']['activeTargets']))")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let mut t: Vec<(String, String)> = v
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|t| t["labels"]["job"] == "node")
            .map(|t| {
                (
                    t["labels"]["instance_name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    t["health"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        t.sort();
        t
    }
    /// Waits (bounded) until the targets are `want`, all up.
    fn wait_targets_up(&self, want: &[&str]) {
        let want: Vec<(String, String)> = want
            .iter()
            .map(|h| (h.to_string(), "up".to_string()))
            .collect();
        let end = Instant::now() + Duration::from_secs(60);
        let mut got = vec![];
        while Instant::now() < end {
            got = self.targets();
            if got == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("Prometheus targets: {got:?}, wanted {want:?}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.up_sh(&["down"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_example_scrapes_every_tagged_node() {
    fleet();
    let mut e = Env {
        project: unique("mon"),
        env: "feature-x".into(),
        dir: Default::default(),
    };
    let out = e.up_sh(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    e.dir = repo_root().join(String::from_utf8_lossy(&out.stdout).trim());
    let spec = e.dir.join("infra.yml");
    let spec = spec.to_str().unwrap();
    e.rdeploy(&["provision", spec, "--env", &e.env, "--auto-approve"])
        .assert_code(0);

    let t = Instant::now();
    let first = e.converge();
    let first_secs = t.elapsed().as_secs_f64();
    let r = recap(&first.stdout);
    assert!(
        r["app-1"][1] > 0 && r["monitor-1"][1] > 0,
        "{}",
        first.stdout
    );
    assert!(
        !r.contains_key("worker-1"),
        "the untagged worker is not configured: {}",
        first.stdout
    );
    e.wait_targets_up(&["app-1", "app-2"]);

    let t = Instant::now();
    let again = e.converge();
    let again_secs = t.elapsed().as_secs_f64();
    for (h, c) in recap(&again.stdout) {
        assert_eq!(c[1], 0, "{h} changed on the rerun:\n{}", again.stdout);
    }
    eprintln!("monitoring example: first converge {first_secs:.1} s, rerun {again_secs:.1} s");

    // Tag the worker Prometheus=true (as one would in the console), rerun: scraped.
    let c = ec2("us-east-1").await;
    let worker = c
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:rdeploy:project")
                .values(&e.project)
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:rdeploy:host")
                .values("worker-1")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .reservations()[0]
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    c.create_tags()
        .resources(&worker)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Prometheus")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let third = e.converge();
    let r = recap(&third.stdout);
    assert!(
        r["worker-1"][1] > 0,
        "node exporter installed on the worker: {}",
        third.stdout
    );
    assert!(
        r["monitor-1"][1] > 0,
        "the target list changed: {}",
        third.stdout
    );
    assert_eq!(r["app-1"][1], 0, "{}", third.stdout);
    e.wait_targets_up(&["app-1", "app-2", "worker-1"]);

    // env show sees the environment; destroy drops it.
    let show = e.rdeploy(&["env", "show", &e.env, spec]);
    show.assert_code(0);
    assert!(
        show.stdout.contains("scraped = app-1, app-2"),
        "{}",
        show.stdout
    );
    e.rdeploy(&["destroy", spec, "--env", &e.env, "--auto-approve"])
        .assert_code(0);
}
