//! The realtime app, end to end through the binary, as a team runs it: provision the
//! stack on moto, the EC2 inventory by tags, `playbooks/site.yml` over SSH onto
//! containers that run real Docker engines (Compose v1 from Debian, and a v2 plugin
//! stand-in on the web hosts), a real registry with a login, a real Redis standing in
//! for ElastiCache, real nginx with sticky sessions in front of the API, and the web
//! console in headless Chromium. Then what CI does: `scripts/redeploy.sh api TAG`,
//! rolling, with a health gate.
//!
//! Everything is checked from outside rdeploy: HTTP through the published ports, the
//! client's own status page, `docker exec`, the browser.

use crate::harness::*;
use crate::moto_fixture::{moto_env, unique};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One docker-capable fleet host (tests/fleet/fleet.sh up 7 --docker).
#[derive(Debug, Clone)]
struct Node {
    container: String,
    ip: String,
    ports: BTreeMap<String, u16>,
}

fn sh(script: &Path, args: &[&str]) {
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run a fleet script");
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the docker-capable fleet, the registry and Redis, and pushes the images.
fn stack() -> BTreeMap<String, Node> {
    let root = repo_root();
    let fleet = root.join("tests/fleet/fleet.sh");
    let stack = root.join("tests/fleet/stack.sh");
    sh(&fleet, &["up", "7", "--docker"]);
    sh(&stack, &["services"]);
    sh(&stack, &["images", "v1"]);
    sh(&stack, &["image", "api", "v2"]);
    sh(&stack, &["image", "api", "broken", "--unhealthy"]);
    let text = std::fs::read_to_string(root.join("target/fleet/dnodes/hosts.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let ports = h["ports"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, p)| (k.clone(), p.as_u64().unwrap() as u16))
                .collect();
            (
                h["name"].as_str().unwrap().to_string(),
                Node {
                    container: h["container"].as_str().unwrap().to_string(),
                    ip: h["ip"].as_str().unwrap().to_string(),
                    ports,
                },
            )
        })
        .collect()
}

/// A plain HTTP/1.1 GET (Connection: close) on 127.0.0.1:port: (status, body). Bounded by timeouts.
fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = format!("127.0.0.1:{port}");
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| e.to_string())?;
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {buf:?}"))?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

fn get_json(port: u16, path: &str) -> Value {
    let (code, body) = http_get(port, path).unwrap_or_else(|e| panic!("GET :{port}{path}: {e}"));
    assert_eq!(code, 200, "GET :{port}{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET :{port}{path}: {e}: {body}"))
}

/// Polls `f` every 500 ms until it returns Some, at most `secs` seconds.
fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The client's own status page (port 8081 of its host).
fn client_status(n: &Node) -> Value {
    let (_, body) = http_get(n.ports["8081"], "/health").unwrap_or((0, "{}".into()));
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// When the app container of a compose project on a host was started.
fn started_at(n: &Node, project: &str) -> String {
    docker_out(
        &n.container,
        &format!("docker inspect -f '{{{{.State.StartedAt}}}}' {project}_{project}_1"),
    )
}

fn recap(run: &Run) -> BTreeMap<String, (u64, u64)> {
    // "host : ok=N changed=N ..." lines of the human recap: (changed, failed)
    let mut m = BTreeMap::new();
    let text = run.stdout.split("PLAY RECAP").last().unwrap_or("");
    for line in text.lines() {
        let Some((host, stats)) = line.split_once(" : ") else {
            continue;
        };
        let field = |k: &str| {
            stats
                .split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX)
        };
        m.insert(host.trim().to_string(), (field("changed"), field("failed")));
    }
    m
}

/// A Compose v2 plugin stand-in: `docker compose ...` forwarded to the v1 binary, so the
/// v2 code path (the plugin is found first) runs on hosts where only v1 is packaged.
const COMPOSE_V2_SHIM: &str = r#"mkdir -p /usr/libexec/docker/cli-plugins && cat > /usr/libexec/docker/cli-plugins/docker-compose <<'EOF'
#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"rdeploy tests","Version":"v2.0.0-shim","ShortDescription":"Compose v2 stand-in (forwards to docker-compose v1)"}'
  exit 0
fi
shift
exec docker-compose "$@"
EOF
chmod 755 /usr/libexec/docker/cli-plugins/docker-compose"#;

#[test]
fn realtime_app_provision_converge_sticky_websockets_redis_console_and_rolling_redeploy() {
    let nodes = stack();
    let node = |n: &str| nodes[n].clone();
    let (lb, api1, api2) = (node("dnode1"), node("dnode2"), node("dnode3"));
    let (client1, client2, web1) = (node("dnode4"), node("dnode5"), node("dnode6"));
    let root = repo_root();
    let env = moto_env();
    let envname = unique("rt");
    let dir = tempdir();
    let run = |args: &[&str]| rdeploy_env(&root, args, &env);

    // The local spec (ports/addresses of the containers), in a fresh environment.
    let infra = dir.path().join("infra.yml");
    sh(
        &root.join("tests/fleet/stack.sh"),
        &["infra", infra.to_str().unwrap()],
    );
    // The inventory source of inventory/local, for this environment, with its group_vars.
    let inv_dir = dir.path().join("inventory");
    std::fs::create_dir_all(inv_dir.join("group_vars")).unwrap();
    let src = std::fs::read_to_string(root.join("inventory/local/aws_ec2.yml")).unwrap();
    assert!(src.contains("tag:rdeploy:env: local"));
    std::fs::write(
        inv_dir.join("aws_ec2.yml"),
        src.replace(
            "tag:rdeploy:env: local",
            &format!("tag:rdeploy:env: {envname}"),
        ),
    )
    .unwrap();
    std::fs::copy(
        root.join("inventory/local/group_vars/all.yml"),
        inv_dir.join("group_vars/all.yml"),
    )
    .unwrap();
    let inv = inv_dir.join("aws_ec2.yml");
    let inv = inv.to_str().unwrap();

    run(&[
        "provision",
        infra.to_str().unwrap(),
        "--env",
        &envname,
        "--auto-approve",
    ])
    .assert_code(0);
    let listed = run(&["inventory", "-i", inv, "--json"]);
    listed.assert_code(0);
    let doc: Value = serde_json::from_str(&listed.stdout).unwrap();
    let group = |g: &str| -> BTreeSet<String> {
        doc[g]["hosts"]
            .as_array()
            .unwrap_or_else(|| panic!("group {g} in {}", listed.stdout))
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        group("tag_Name_api"),
        ["api-1", "api-2"].map(String::from).into()
    );
    assert_eq!(group("tag_Name_api_lb"), ["api_lb-1".to_string()].into());
    let endpoint = doc["_meta"]["hostvars"]["api-1"]["redis_endpoints"]["cache"]
        .as_str()
        .expect("the ElastiCache endpoint in the inventory")
        .to_string();
    let redis_host = endpoint.rsplit_once(':').unwrap().0;
    sh(
        &root.join("tests/fleet/stack.sh"),
        &["redis-alias", redis_host],
    );

    // A clean slate on the hosts the test converges (an earlier run may have left apps).
    for n in nodes.values() {
        docker_sh(
            &n.container,
            "command -v docker >/dev/null && for p in api client web; do [ -d /srv/$p ] && (cd /srv/$p && docker-compose down -t 1 >/dev/null 2>&1); done; rm -rf /srv/api /srv/client /srv/web /root/.docker; true",
        );
    }
    for web in ["dnode6", "dnode7"] {
        docker_out(&nodes[web].container, COMPOSE_V2_SHIM);
    }

    let kh = root.join("target/fleet/dnodes/known_hosts");
    let key = root.join("target/fleet/id_ed25519");
    let site = |extra: &[&str]| {
        let mut a: Vec<&str> = vec![
            "run",
            "playbooks/site.yml",
            "-i",
            inv,
            "--known-hosts",
            kh.to_str().unwrap(),
            "--private-key",
            key.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let password = std::fs::read_to_string(root.join("target/fleet/registry/password")).unwrap();
    let password = password.trim().to_string();
    assert!(password.len() >= 16);
    let mut outputs: Vec<String> = vec![];

    // Converge; every host ok, JSON events say which Compose ran where.
    let first = site(&["--output", "json"]);
    outputs.push(first.stdout.clone() + &first.stderr);
    first.assert_code(0);
    let mut compose_by_host: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in first.stdout.lines() {
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if ev["event"] == "host_result" && ev["action"] == "docker_compose" {
            if let Some(v) = ev["result"]["compose"].as_str() {
                compose_by_host
                    .entry(ev["host"].as_str().unwrap().to_string())
                    .or_default()
                    .insert(v.to_string());
            }
        }
    }
    for (h, want) in [
        ("api-1", "v1"),
        ("api-2", "v1"),
        ("client-1", "v1"),
        ("web-1", "v2"),
        ("web-2", "v2"),
    ] {
        assert_eq!(
            compose_by_host.get(h),
            Some(&[want.to_string()].into()),
            "Compose used on {h}: {compose_by_host:?}"
        );
    }
    // The load balancer host has no Python (the fleet removes it): rdeploy needed none.
    assert!(!docker_sh(&lb.container, "command -v python3")
        .status
        .success());

    // Idempotent, and --check predicts nothing on the converged stack.
    let second = site(&[]);
    outputs.push(second.stdout.clone() + &second.stderr);
    second.assert_code(0);
    let r = recap(&second);
    assert_eq!(r.len(), 7, "{}", second.stdout);
    for (h, (changed, failed)) in &r {
        assert_eq!(
            (*changed, *failed),
            (0, 0),
            "rerun on {h}:\n{}",
            second.stdout
        );
    }
    let check = site(&["--check", "--diff"]);
    outputs.push(check.stdout.clone() + &check.stderr);
    check.assert_code(0);
    for (h, (changed, _)) in recap(&check) {
        assert_eq!(changed, 0, "--check on {h}:\n{}", check.stdout);
    }

    // The upstream comes from the inventory: both API nodes' private addresses.
    let conf = docker_out(&lb.container, "cat /etc/nginx/conf.d/sticky.conf");
    for n in [&api1, &api2] {
        assert!(conf.contains(&format!("server {}:8080", n.ip)), "{conf}");
    }
    // The API's environment has the Redis endpoint from the inventory.
    assert_eq!(
        docker_out(&api1.container, "cat /srv/api/redis.env"),
        format!("REDIS_URL=redis://{endpoint}")
    );

    // Each client keeps one API node for its whole session; the two clients (two source
    // addresses) are on different nodes.
    let sessions = wait_for("both clients connected with a few acks", 60, || {
        let s: Vec<Value> = [&client1, &client2]
            .iter()
            .map(|c| client_status(c))
            .collect();
        s.iter()
            .all(|v| v["connected"] == true && v["acks"].as_u64().unwrap_or(0) >= 3)
            .then_some(s)
    });
    let on: BTreeSet<String> = sessions
        .iter()
        .map(|s| s["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        on,
        ["api-1", "api-2"].map(String::from).into(),
        "{sessions:?}"
    );
    for s in &sessions {
        assert_eq!(s["node_changes"], 0, "one API node per session: {s}");
        assert_eq!(s["sessions"].as_array().unwrap().len(), 1, "{s}");
    }
    let c1_node = sessions[0]["node"].as_str().unwrap().to_string();

    // GET /clients on either API node lists every client (from Redis).
    for n in [&api1, &api2] {
        let clients = wait_for("both clients in /clients", 30, || {
            let v = get_json(n.ports["8080"], "/clients");
            (v.get("client-1").is_some() && v.get("client-2").is_some()).then_some(v)
        });
        assert!(
            clients["client-1"]["seq"].as_u64().unwrap() >= 1,
            "{clients}"
        );
    }

    // An event sent by a client on one node reaches a console connected to the other one
    // (through Redis pub/sub): a console on the node client-1 is NOT on.
    let (other_ip, other_name) = if c1_node == "api-1" {
        (&api2.ip, "api-2")
    } else {
        (&api1.ip, "api-1")
    };
    let console = format!(
        r#"
import asyncio, json, websockets
async def main():
    async with websockets.connect("ws://{other_ip}:8080/ws?role=console", open_timeout=10) as ws:
        welcome = json.loads(await ws.recv())
        while True:
            e = json.loads(await asyncio.wait_for(ws.recv(), 15))
            if e.get("type") == "health" and not e.get("snapshot") and e.get("client") == "client-1":
                print(json.dumps({{"console_on": welcome["node"], "event_via": e["node"]}}))
                return
asyncio.run(main())
"#
    );
    let out = Command::new("docker")
        .args([
            "exec",
            &web1.container,
            "docker",
            "run",
            "--rm",
            "--network",
            "host",
            "registry:5000/realtime/web:v1",
            "python3",
            "-c",
            &console,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["console_on"], other_name, "{seen}");
    assert_eq!(seen["event_via"], c1_node.as_str(), "{seen}");

    // The web console in a real browser shows both clients, their health updating live.
    let shot = root.join("target/realtime-console.png");
    let out = Command::new("node")
        .arg(root.join("tests/browser/console.mjs"))
        .arg(format!("http://127.0.0.1:{}/", web1.ports["80"]))
        .arg("client-1,client-2")
        .arg(&shot)
        .output()
        .expect("node (tests/run.sh installs playwright-core)");
    assert!(
        out.status.success(),
        "browser: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in ["client-1", "client-2"] {
        let (a, b) = (
            page["first"][c]["seq"].as_u64().unwrap(),
            page["second"][c]["seq"].as_u64().unwrap(),
        );
        assert!(b > a, "{c}'s health updated on the open page: {page}");
    }

    // One API node stops: new connections go to the other, and the client that was on
    // it reconnects through the load balancer to the other node.
    let (stopped, survivor) = if c1_node == "api-1" {
        (&api1, "api-2")
    } else {
        (&api2, "api-1")
    };
    docker_out(&stopped.container, "docker stop -t 2 api_api_1");
    for _ in 0..6 {
        let v = get_json(lb.ports["80"], "/node");
        assert_eq!(v["node"], survivor, "with one node down: {v}");
    }
    wait_for("client-1 on the surviving node", 60, || {
        let s = client_status(&client1);
        (s["connected"] == true && s["node"] == survivor).then_some(())
    });
    docker_out(&stopped.container, "docker start api_api_1");
    wait_for("the stopped node healthy again", 30, || {
        matches!(http_get(stopped.ports["8080"], "/health"), Ok((200, _))).then_some(())
    });

    // CI: roll the API out to v2 while a bounded loop polls the load balancer.
    let others_before: Vec<String> = [(&client1, "client"), (&client2, "client"), (&web1, "web")]
        .iter()
        .map(|(n, p)| started_at(n, p))
        .collect();
    let api_before: Vec<String> = [&api1, &api2]
        .iter()
        .map(|n| started_at(n, "api"))
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        let port = lb.ports["80"];
        std::thread::spawn(move || {
            let mut codes: BTreeMap<String, u32> = BTreeMap::new();
            for _ in 0..3000 {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let k = match http_get(port, "/node") {
                    Ok((c, _)) => c.to_string(),
                    Err(e) => e,
                };
                *codes.entry(k).or_default() += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            codes
        })
    };
    let artifacts = dir.path().join("artifacts");
    let redeploy = |tag: &str| {
        let out = Command::new("bash")
            .arg(root.join("scripts/redeploy.sh"))
            .args([
                "api",
                tag,
                "--known-hosts",
                kh.to_str().unwrap(),
                "--private-key",
                key.to_str().unwrap(),
            ])
            .current_dir(&root)
            .envs(env.iter().copied())
            .env("RDEPLOY", rdeploy_bin())
            .env("INVENTORY", inv)
            .env("ARTIFACT_DIR", &artifacts)
            .output()
            .unwrap();
        let artifact = std::fs::read_to_string(artifacts.join(format!("redeploy-api-{tag}.jsonl")))
            .unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            artifact,
        )
    };
    let (code, log, artifact) = redeploy("v2");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let codes = poller.join().unwrap();
    outputs.push(log.clone() + &artifact);
    assert_eq!(code, 0, "{log}\n{artifact}");
    assert!(codes.get("200").copied().unwrap_or(0) >= 10, "{codes:?}");
    assert_eq!(
        codes.len(),
        1,
        "every request answered during the rollout: {codes:?}"
    );
    for n in [&api1, &api2] {
        assert_eq!(get_json(n.ports["8080"], "/node")["version"], "v2");
    }
    let api_after: Vec<String> = [&api1, &api2]
        .iter()
        .map(|n| started_at(n, "api"))
        .collect();
    assert!(
        api_before.iter().zip(&api_after).all(|(a, b)| a != b),
        "api restarted"
    );
    let others_after: Vec<String> = [(&client1, "client"), (&client2, "client"), (&web1, "web")]
        .iter()
        .map(|(n, p)| started_at(n, p))
        .collect();
    assert_eq!(others_before, others_after, "only the api apps restarted");

    // A release whose health check fails stops after the first node, exit 2.
    let (code, log, artifact) = redeploy("broken");
    outputs.push(log.clone() + &artifact);
    assert_eq!(code, 2, "{log}\n{artifact}");
    let versions: Vec<Value> = [&api1, &api2]
        .iter()
        .map(|n| get_json(n.ports["8080"], "/node")["version"].clone())
        .collect();
    assert_eq!(
        versions,
        vec![Value::from("broken"), Value::from("v2")],
        "rollout stopped at api-1"
    );
    // and rolling forward again repairs it
    let (code, log, artifact) = redeploy("v2");
    outputs.push(log.clone() + &artifact);
    assert_eq!(code, 0, "{log}");
    assert_eq!(get_json(api1.ports["8080"], "/node")["version"], "v2");

    // The registry password was used on every app host and printed nowhere.
    assert!(docker_out(&api1.container, "cat /root/.docker/config.json").contains("registry:5000"));
    for (i, o) in outputs.iter().enumerate() {
        assert!(!o.contains(&password), "registry password in output #{i}");
    }

    run(&[
        "destroy",
        infra.to_str().unwrap(),
        "--env",
        &envname,
        "--auto-approve",
    ])
    .assert_code(0);
}
