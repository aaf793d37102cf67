//! Verified first contact: instances' SSH host keys from their EC2 console output.
//!
//! moto's GetConsoleOutput answers every instance with the same canned kernel log (no
//! cloud-init, no host keys), so moto alone can only show the "no key found yet" path.
//! To show the whole path with real keys, the test puts a small HTTP stand-in in front
//! of moto: it answers GetConsoleOutput for chosen instances with the console text
//! cloud-init would print on them (made inside the fleet container the instance maps
//! to, from its real /etc/ssh/ssh_host_*_key.pub, in `logger --stderr -t ec2` format)
//! and forwards every other call to moto unchanged. The product sees an ordinary EC2
//! endpoint (AWS_ENDPOINT_URL).

use super::harness::{docker_out, fleet, rdeploy_env, recap, tempdir};
use super::moto_fixture::{live_instances, moto_env, Stack};
use base64::Engine as _;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The console text cloud-init's write-ssh-key-fingerprints prints on a host, made in
/// the container from its real host keys (each line as `logger --stderr -t ec2` writes
/// it), with kernel and cloud-init lines around it and the console's CRLF line ends.
fn console_of(container: &str) -> String {
    let block = docker_out(
        container,
        r#"{ echo; echo '#############################################################'
             echo '-----BEGIN SSH HOST KEY FINGERPRINTS-----'
             for f in /etc/ssh/ssh_host_*key.pub; do ssh-keygen -l -f "$f"; done
             echo '-----END SSH HOST KEY FINGERPRINTS-----'
             echo '#############################################################'
             echo '-----BEGIN SSH HOST KEY KEYS-----'
             cat /etc/ssh/ssh_host_*key.pub
             echo '-----END SSH HOST KEY KEYS-----'
           } | sed "s/^/<14>$(date '+%b %e %H:%M:%S') ec2: /""#,
    );
    let mut lines = vec![
        "[    0.000000] Linux version 6.1.0-27-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1".to_string(),
        "[   13.004562] cloud-init[688]: Cloud-init v. 22.4.2 running 'modules:final' at Tue, 01 Dec 2026 11:02:40 +0000. Up 12.98 seconds.".to_string(),
    ];
    lines.extend(block.lines().map(str::to_string));
    lines.push("[   13.220871] random: crng init done".into());
    lines.push("Debian GNU/Linux 12 ip-10-0-1-23 ttyS0".into());
    lines.join("\r\n")
}

/// An EC2 endpoint that answers GetConsoleOutput for the instances in `consoles` and
/// forwards everything else to moto. One request per connection (`Connection: close`).
struct ConsoleStandIn {
    port: u16,
    consoles: Arc<Mutex<HashMap<String, String>>>,
    /// GetConsoleOutput calls seen, per instance.
    calls: Arc<Mutex<HashMap<String, usize>>>,
}

impl ConsoleStandIn {
    fn start() -> ConsoleStandIn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let consoles: Arc<Mutex<HashMap<String, String>>> = Default::default();
        let calls: Arc<Mutex<HashMap<String, usize>>> = Default::default();
        let (c, n) = (consoles.clone(), calls.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (c, n) = (c.clone(), n.clone());
                std::thread::spawn(move || {
                    let _ = serve(s, &c, &n);
                });
            }
        });
        ConsoleStandIn {
            port,
            consoles,
            calls,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(
    mut s: TcpStream,
    consoles: &Mutex<HashMap<String, String>>,
    calls: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
    let mut buf = vec![];
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    let param = |name: &str| {
        body.split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    if param("Action").as_deref() == Some("GetConsoleOutput") {
        let id = param("InstanceId").unwrap_or_default();
        *calls.lock().unwrap().entry(id.clone()).or_default() += 1;
        if let Some(text) = consoles.lock().unwrap().get(&id).cloned() {
            let out = base64::engine::general_purpose::STANDARD.encode(text);
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetConsoleOutputResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>stand-in</requestId><instanceId>{id}</instanceId><timestamp>2026-12-01T11:02:45.000Z</timestamp><output>{out}</output></GetConsoleOutputResponse>"
            );
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            )?;
            return Ok(());
        }
    }
    // Forward to moto as it is, asking it to close after the answer.
    let mut head_lines: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    head_lines.push("Connection: close");
    let mut m = TcpStream::connect("127.0.0.1:5055")?;
    m.write_all(format!("{}\r\n\r\n", head_lines.join("\r\n")).as_bytes())?;
    m.write_all(&buf[head_end..])?;
    let mut resp = vec![];
    m.read_to_end(&mut resp)?;
    s.write_all(&resp)
}

const SPEC: &str = r#"
project: PROJECT
env: dev
region: REGION
network: {cidr: 10.61.0.0/16, azs: 1}
security_groups:
  node:
    ingress:
      - {port: 22, cidr: 10.0.0.0/8}
instances:
  node:
    count: 3
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [node]
    tags: {"rdeploy:ssh": "{{ SSH[index - 1] }}"}
"#;

const INVENTORY: &str = r#"plugin: aws_ec2
regions: [REGION]
filters:
  tag:rdeploy:project: PROJECT
  instance-state-name: running
hostnames: [tag:rdeploy:host]
compose:
  ansible_host: "tags['rdeploy:ssh'].split(':')[0]"
  ansible_port: "tags['rdeploy:ssh'].split(':')[1] | int"
  ansible_user: "'root'"
"#;

/// node-1's console carries its container's real keys; node-2's console carries another
/// container's keys (a wrong key); node-3's is moto's own answer (no keys). An empty
/// known_hosts and strict checking: node-1 connects, node-2 and node-3 are refused,
/// each with its reason; accept-new then records node-3 only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_is_verified_by_the_console_keys_and_refused_without_them() {
    let f = fleet();
    let (good, wrong, other, none) = (
        f.host("node3"),
        f.host("node4"),
        f.host("node5"),
        f.host("node6"),
    );
    let ssh = format!(
        "['127.0.0.1:{}', '127.0.0.1:{}', '127.0.0.1:{}']",
        good.port, wrong.port, none.port
    );
    let s = Stack::from_text(&SPEC.replace("SSH", &ssh), "hostkeys", "us-west-1");
    s.apply(None).await;
    let ids: HashMap<String, String> = live_instances(&s.region, &s.project)
        .await
        .into_iter()
        .map(|(id, _name, index, _)| (format!("node-{index}"), id))
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");

    let stand_in = ConsoleStandIn::start();
    {
        let mut c = stand_in.consoles.lock().unwrap();
        c.insert(ids["node-1"].clone(), console_of(&good.container));
        c.insert(ids["node-2"].clone(), console_of(&other.container));
    }
    let dir = tempdir();
    let inv = dir.path().join("aws_ec2.yml");
    std::fs::write(
        &inv,
        INVENTORY
            .replace("PROJECT", &s.project)
            .replace("REGION", &s.region),
    )
    .unwrap();
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    let url = stand_in.url();
    let env: Vec<(&str, &str)> = moto_env()
        .into_iter()
        .map(|(k, v)| {
            if k == "AWS_ENDPOINT_URL" {
                (k, url.as_str())
            } else {
                (k, v)
            }
        })
        .collect();

    // The inventory says where each host's keys are to be read (no call yet).
    let host = rdeploy_env(
        dir.path(),
        &["inventory", "-i", inv.to_str().unwrap(), "--host", "node-1"],
        &env,
    );
    host.assert_code(0);
    let vars: serde_json::Value = serde_json::from_str(&host.stdout).expect(&host.stdout);
    let trusted = &vars["rdeploy_ssh_host_keys"];
    assert_eq!(
        trusted["source"],
        format!("the EC2 console output of {} ({})", ids["node-1"], s.region)
    );
    assert_eq!(trusted["instance_id"], ids["node-1"].as_str());
    assert!(
        stand_in.calls.lock().unwrap().is_empty(),
        "the inventory reads no console"
    );

    let key = f.key();
    let exec = |policy: &str| {
        rdeploy_env(
            dir.path(),
            &[
                "exec",
                "all",
                "-i",
                inv.to_str().unwrap(),
                "--private-key",
                key.to_str().unwrap(),
                "--known-hosts",
                kh.to_str().unwrap(),
                "--host-key-checking",
                policy,
                "--",
                "cat /etc/hostname",
            ],
            &env,
        )
    };
    let r = exec("strict");
    r.assert_code(4);
    let out = format!("{}\n{}", r.stdout, r.stderr);
    let line_of = |host: &str| {
        out.lines()
            .filter(|l| l.contains(host))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let recap = recap(&r.stdout);
    assert_eq!(
        recap["node-1"],
        [1, 1, 0, 0, 0],
        "node-1 ran the command: {out}"
    );
    assert_eq!(recap["node-2"][2], 1, "{out}");
    assert_eq!(recap["node-3"][2], 1, "{out}");
    let n2 = line_of("node-2");
    assert!(
        n2.contains("UNREACHABLE")
            && n2.contains("is not one of the host keys")
            && n2.contains(&ids["node-2"]),
        "{out}"
    );
    let n3 = line_of("node-3");
    assert!(
        n3.contains("UNREACHABLE")
            && n3.contains("holds no SSH host keys")
            && n3.contains("no cloud-init SSH HOST KEY block yet")
            && n3.contains("ssh-keyscan")
            && n3.contains("accept-new"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        "",
        "nothing recorded"
    );

    // accept-new asked for explicitly: the host without console keys is recorded; the
    // one whose console names other keys is still refused.
    let r = exec("accept-new");
    r.assert_code(4);
    let out = format!("{}\n{}", r.stdout, r.stderr);
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert!(
        recorded.starts_with(&format!("[127.0.0.1]:{} ", none.port)),
        "{recorded}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("node-2") && l.contains("is not one of the host keys")),
        "{out}"
    );
    s.destroy(None).await;
}
