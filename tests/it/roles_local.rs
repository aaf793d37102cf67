//! The repo's roles' templates rendered on localhost (`connection: local`), with the
//! inventory deciding what they contain: no fleet needed.

use super::harness::{rdeploy, repo_root, tempdir, write_file as write};

/// Renders roles/nginx_sticky's template for an inventory with `api_hosts` API hosts.
fn render_sticky(api_hosts: usize, extra_vars: &str) -> String {
    let dir = tempdir();
    let root = repo_root();
    let mut inv = String::from("localhost ansible_connection=local\n[tag_Name_api]\n");
    for i in 1..=api_hosts {
        inv.push_str(&format!("api-{i} private_ip_address=10.0.1.{}\n", 10 + i));
    }
    write(dir.path(), "hosts.ini", &inv);
    // vars_files: the role's defaults, then the case's variables (later files win)
    write(
        dir.path(),
        "extra.yml",
        extra_vars.replace("\n    ", "\n").trim_start(),
    );
    write(
        dir.path(),
        "site.yml",
        &format!(
            "- hosts: localhost\n  gather_facts: no\n  vars_files: ['{root}/roles/nginx_sticky/defaults/main.yml', extra.yml]\n  tasks:\n    - template:\n        src: '{root}/roles/nginx_sticky/templates/sticky.conf.j2'\n        dest: '{out}'\n",
            root = root.display(),
            out = dir.path().join("sticky.conf").display(),
        ),
    );
    let r = rdeploy(dir.path(), &["run", "site.yml", "-i", "hosts.ini"]);
    r.assert_code(0);
    std::fs::read_to_string(dir.path().join("sticky.conf")).unwrap()
}

const API_UPSTREAM: &str = "    nginx_sticky_upstreams: [{name: api, group: tag_Name_api, port: 8080, sticky: STICKY}]\n    nginx_sticky_sites: [{server_name: _, upstream: api}]\n";

#[test]
fn nginx_sticky_upstream_follows_the_inventory_group() {
    let two = render_sticky(2, &API_UPSTREAM.replace("STICKY", "hash"));
    let servers = |conf: &str| -> Vec<String> {
        conf.lines()
            .filter(|l| l.trim_start().starts_with("server 10."))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
            .collect()
    };
    assert_eq!(servers(&two), ["10.0.1.11:8080", "10.0.1.12:8080"], "{two}");
    assert!(two.contains("hash $remote_addr consistent;"), "{two}");
    assert!(
        two.contains("proxy_set_header Upgrade $http_upgrade;"),
        "{two}"
    );
    assert!(two.contains("proxy_read_timeout 3600s;"), "{two}");
    // a third host in the group, rerun: it is in the upstream
    let three = render_sticky(3, &API_UPSTREAM.replace("STICKY", "hash"));
    assert_eq!(servers(&three).len(), 3, "{three}");
    assert!(
        three.contains("server 10.0.1.13:8080 max_fails=3 fail_timeout=10s;   # api-3"),
        "{three}"
    );
}

#[test]
fn nginx_sticky_stickiness_kinds_and_tls() {
    assert!(render_sticky(2, &API_UPSTREAM.replace("STICKY", "ip_hash")).contains("    ip_hash;"));
    let cookie = render_sticky(
        1,
        "    nginx_sticky_upstreams: [{name: api, group: tag_Name_api, port: 8080, sticky: cookie, cookie_name: sid}]\n    nginx_sticky_sites: [{server_name: _, upstream: api}]\n",
    );
    assert!(cookie.contains("hash $cookie_sid consistent;"), "{cookie}");
    let header = render_sticky(
        1,
        "    nginx_sticky_upstreams: [{name: api, group: tag_Name_api, port: 8080, sticky: header, header_name: X-Session-Id}]\n    nginx_sticky_sites: [{server_name: _, upstream: api}]\n",
    );
    assert!(
        header.contains("hash $http_x_session_id consistent;"),
        "{header}"
    );
    let tls = render_sticky(
        1,
        &(API_UPSTREAM.replace("STICKY", "hash")
            + "    nginx_sticky_tls_cert: /etc/ssl/a.pem\n    nginx_sticky_tls_key: /etc/ssl/a.key\n"),
    );
    assert!(
        tls.contains("return 301 https://$host$request_uri;"),
        "{tls}"
    );
    assert!(tls.contains("listen 443 ssl default_server;"), "{tls}");
    // an empty group still gives a valid upstream (one server marked down)
    let none = render_sticky(0, &API_UPSTREAM.replace("STICKY", "hash"));
    assert!(none.contains("server 127.0.0.1:9 down;"), "{none}");
}
