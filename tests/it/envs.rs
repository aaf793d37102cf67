//! `rdeploy env list` / `env show` on moto: two environments of one project side by
//! side, each counted and shown on its own; destroying one leaves the other.

use super::harness::{rdeploy_env, Run};
use super::moto_fixture::{live_instances, moto_env, Stack};
use serde_json::Value;

const SPEC: &str = r#"
project: PROJECT
env: main
region: REGION
network: {cidr: 10.62.0.0/16, azs: 2}
security_groups:
  app:
    ingress:
      - {port: 22, cidr: 10.0.0.0/8}
instances:
  app:
    count: COUNT
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
outputs:
  app_hosts: "{{ instances.app | map(attribute='host') | join(',') }}"
  first_ip: "{{ instances.app[0].private_ip }}"
"#;

fn env_cmd(s: &Stack, args: &[&str]) -> Run {
    let mut a = vec!["env"];
    a.extend_from_slice(args);
    rdeploy_env(s.dir.path(), &a, &moto_env())
}

fn json_event(r: &Run, event: &str) -> Value {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == event)
        .unwrap_or_else(|| panic!("no {event} event in\n{}\n{}", r.stdout, r.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_environments_side_by_side_listed_shown_and_destroyed_one_at_a_time() {
    let s = Stack::from_text(&SPEC.replace("COUNT", "2"), "envs", "us-west-2");
    let spec = s.spec.to_str().unwrap().to_string();
    s.apply(Some("feature-x")).await;
    s.write(&SPEC.replace("COUNT", "1"));
    s.apply(Some("main")).await;

    let r = env_cmd(&s, &["list", &spec, "--output", "json"]);
    r.assert_code(0);
    let doc = json_event(&r, "environments");
    assert_eq!(doc["project"], s.project.as_str());
    let envs = doc["environments"].as_array().unwrap();
    let names: Vec<&str> = envs.iter().map(|e| e["env"].as_str().unwrap()).collect();
    assert_eq!(names, ["feature-x", "main"], "{doc}");
    for (e, instances) in envs.iter().zip([2, 1]) {
        let res = &e["resources"];
        assert_eq!(res["instance"], instances, "{e}");
        assert_eq!(res["vpc"], 1, "{e}");
        assert_eq!(res["subnet"], 2, "{e}");
        assert_eq!(res["security-group"], 1, "{e}");
        let total: u64 = res
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(e["total"], total);
        assert!(e["created"].as_str().unwrap().starts_with("20"), "{e}");
    }
    // The same in the table.
    let r = env_cmd(&s, &["list", &spec]);
    r.assert_code(0);
    let rows: Vec<&str> = r.stdout.lines().collect();
    assert!(rows[0].starts_with("ENV "), "{}", r.stdout);
    assert!(
        rows[1].starts_with("feature-x ") && rows[1].contains("instance=2"),
        "{}",
        r.stdout
    );
    assert!(
        rows[2].starts_with("main ") && rows[2].contains("instance=1"),
        "{}",
        r.stdout
    );

    // env show: each environment's own instances, addresses and outputs.
    let live = live_instances(&s.region, &s.project).await;
    for (env, hosts) in [("feature-x", "app-1,app-2"), ("main", "app-1")] {
        let r = env_cmd(&s, &["show", env, &spec, "--output", "json"]);
        r.assert_code(0);
        let d = &json_event(&r, "environment")["environment"];
        assert_eq!(d["env"], env);
        assert_eq!(d["outputs"]["app_hosts"], hosts, "{d}");
        let instances: Vec<&Value> = d["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "instance")
            .collect();
        assert_eq!(instances.len(), hosts.split(',').count());
        for i in &instances {
            let id = i["id"].as_str().unwrap();
            let l = live.iter().find(|l| l.0 == id).expect("a live instance");
            assert_eq!(l.3, env, "instance {id} belongs to {env}");
            assert!(
                i["details"]["private_ip"]
                    .as_str()
                    .unwrap()
                    .starts_with("10.62."),
                "{i}"
            );
        }
        assert_eq!(
            d["outputs"]["first_ip"],
            instances[0]["details"]["private_ip"]
        );
        let r = env_cmd(&s, &["show", env, &spec]);
        r.assert_code(0);
        assert!(
            r.stdout
                .contains(&format!("Environment {}/{env}:", s.project)),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout.contains(&format!("  app_hosts = {hosts}")),
            "{}",
            r.stdout
        );
    }

    // Destroying one leaves the other.
    s.destroy(Some("feature-x")).await;
    let r = env_cmd(&s, &["list", &spec, "--output", "json"]);
    let doc = json_event(&r, "environments");
    let names: Vec<&str> = doc["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["env"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main"], "{doc}");
    assert_eq!(doc["environments"][0]["resources"]["instance"], 1);
    let r = env_cmd(&s, &["show", "feature-x", &spec]);
    r.assert_code(1);
    assert!(r.stdout.contains("has no resources"), "{}", r.stdout);
    s.destroy(Some("main")).await;
    let r = env_cmd(&s, &["list", &spec]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("No environment of project"),
        "{}",
        r.stdout
    );
}

/// Bad input is one error with its position, exit status 1, before any AWS call (the
/// endpoint here answers nothing).
#[test]
fn bad_spec_or_env_name_fails_before_any_call() {
    let dir = super::harness::tempdir();
    let spec = |count: &str| {
        SPEC.replace("PROJECT", "shop")
            .replace("REGION", "us-east-1")
            .replace("COUNT", count)
    };
    std::fs::write(dir.path().join("infra.yml"), spec("1x")).unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("AWS_REGION", "us-east-1"),
    ];
    let r = rdeploy_env(dir.path(), &["env", "list", "infra.yml"], &env);
    r.assert_code(1);
    assert!(
        r.stderr
            .contains("infra.yml:12:12: `count` must be a whole number"),
        "{}",
        r.stderr
    );
    std::fs::write(dir.path().join("infra.yml"), spec("1")).unwrap();
    let r = rdeploy_env(dir.path(), &["env", "show", "Bad_Env", "infra.yml"], &env);
    r.assert_code(1);
    assert!(r.stderr.contains("--env `Bad_Env`"), "{}", r.stderr);
    assert!(!r.stderr.contains("127.0.0.1:9"), "{}", r.stderr);
}
