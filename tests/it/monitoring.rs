//! examples/monitoring on the local default (moto + containers started by
//! examples/local/up.sh): one branch environment converges, the rerun changes nothing, and
//! Prometheus's targets API lists every node tagged Prometheus=true `up` (and nothing
//! else); a newly tagged instance is scraped after the next run.

use super::examples_local::LocalEnv;
use super::harness::{recap, Run};
use super::moto_fixture::ec2;
use std::process::Command;
use std::time::{Duration, Instant};

struct Env(LocalEnv);

impl std::ops::Deref for Env {
    type Target = LocalEnv;
    fn deref(&self) -> &LocalEnv {
        &self.0
    }
}

impl Env {
    fn converge(&self) -> Run {
        self.0.converge(&["-e", "prometheus_scrape_interval=2s"])
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_example_scrapes_every_tagged_node() {
    let e = Env(LocalEnv::up("monitoring", "feature-x"));
    let spec = e.spec();
    let spec = spec.as_str();
    e.provision();

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
        .filters(super::moto_fixture::project_filter(&e.project))
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
    // the branch's own Postgres: its endpoint is an output, its password nowhere
    assert!(show.stdout.contains("database = "), "{}", show.stdout);
    assert!(show.stdout.contains(":5432"), "{}", show.stdout);
    assert!(show.stdout.contains("database"), "{}", show.stdout);
    let down = e.rdeploy(&["destroy", spec, "--env", &e.env, "--auto-approve"]);
    down.assert_code(0);
    for out in [&show.stdout, &show.stderr, &down.stdout, &down.stderr] {
        assert!(
            !out.contains(super::examples_local::EXAMPLE_DB_PASSWORD),
            "the database password was printed:\n{out}"
        );
    }
}
