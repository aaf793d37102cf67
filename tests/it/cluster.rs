//! examples/cluster on the local default: the master and three edge nodes converge (the
//! rerun changes nothing), every edge is configured with the master's address from the
//! inventory, and the master has heard from every edge, from that edge's own address.

use super::examples_local::LocalEnv;
use super::harness::recap;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_edges_pair_with_the_master_from_the_inventory() {
    let e = LocalEnv::up("cluster", "main");
    e.provision();
    let first = e.converge(&[]);
    let r = recap(&first.stdout);
    for h in ["master-1", "edge-1", "edge-2", "edge-3"] {
        assert!(r[h][1] > 0, "{h} configured: {}", first.stdout);
    }
    let again = e.converge(&[]);
    for (h, c) in recap(&again.stdout) {
        assert_eq!(c[1], 0, "{h} changed on the rerun:\n{}", again.stdout);
    }

    let master_ip = e.ip("master-1");
    assert!(!master_ip.is_empty());
    for edge in ["edge-1", "edge-2", "edge-3"] {
        let conf = e.sh(edge, "cat /etc/cluster-edge.conf");
        assert!(
            conf.contains(&format!("MASTER_ADDRESS={master_ip}\n")),
            "{edge}: {conf}"
        );
    }
    // The master records each report with the address it came from (bounded wait:
    // edges report every 2 s).
    let end = Instant::now() + Duration::from_secs(30);
    let want: Vec<(String, String)> = ["edge-1", "edge-2", "edge-3"]
        .iter()
        .map(|h| (h.to_string(), e.ip(h)))
        .collect();
    let mut seen = vec![];
    while Instant::now() < end {
        seen = e
            .sh("master-1", "cd /var/lib/cluster-master/edges 2>/dev/null && for f in *; do [ -f \"$f\" ] && echo \"$f $(cut -d' ' -f1 \"$f\")\"; done")
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, ip)| (n.to_string(), ip.to_string()))
            .collect::<Vec<_>>();
        seen.sort();
        if seen == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(seen, want, "edges the master heard from");

    let show = e.rdeploy(&["env", "show", "main", &e.spec()]);
    show.assert_code(0);
    assert!(
        show.stdout.contains("edges = edge-1, edge-2, edge-3"),
        "{}",
        show.stdout
    );
    // The network load balancer in front of the edges and the names under the zone
    // (created in moto by up.sh, as the zone the user owns): the outputs name them, and
    // Route 53 holds the alias to the load balancer and the master's address.
    let zone = format!("{}.cluster.test", e.project);
    for want in [
        format!("application-url = wss://data.{zone}/ws"),
        format!("management-url = ws://master.{zone}:9000/ws"),
    ] {
        assert!(show.stdout.contains(&want), "{want}:\n{}", show.stdout);
    }
    assert!(show.stdout.contains("load-balancer"), "{}", show.stdout);
    let aws = rdeploy::aws::Aws::connect(&super::moto_fixture::moto()).await;
    let r53 = aws.route53();
    let zones = r53.list_hosted_zones().send().await.unwrap();
    let zid = zones
        .hosted_zones()
        .iter()
        .find(|z| z.name().trim_end_matches('.') == zone)
        .map(|z| z.id().to_string())
        .expect("the zone");
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zid)
        .send()
        .await
        .unwrap();
    let name_of = |n: &str| format!("{n}.{zone}.");
    let data = sets
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == name_of("data") && r.r#type().as_str() == "A")
        .expect("data's A record");
    assert!(
        data.alias_target().is_some(),
        "an alias to the load balancer"
    );
    let master = sets
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == name_of("master") && r.r#type().as_str() == "A")
        .expect("master's A record");
    assert_eq!(master.resource_records().len(), 1);
    e.destroy();
}
