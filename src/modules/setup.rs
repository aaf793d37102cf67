//! The `setup` module: gathers facts about the host in ONE exchange. A fixed shell
//! script prints sections (`uname`, `/etc/os-release`, routes, addresses,
//! `/proc/meminfo`, ids, environment...) and [`parse_facts`] turns them into facts with
//! Ansible's names (`ansible_os_family`, `ansible_default_ipv4`, ...). Reading routes
//! (`ip -4 route get`) sends no traffic. Nothing on the host but a POSIX shell and
//! coreutils is required; missing tools just leave their facts out.

use super::util::{section, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct Setup;

/// The fact-gathering script. Sections are marked `@@RD name`; the environment comes
/// last, NUL-separated, since values may hold newlines.
const SCRIPT: &str = r#"echo '@@RD uname'; uname -s; uname -r; uname -m; uname -v; uname -n
echo '@@RD os_release'; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
echo '@@RD debian_version'; cat /etc/debian_version 2>/dev/null
echo '@@RD lsb_release'; command -v lsb_release >/dev/null 2>&1 && LC_ALL=C lsb_release -a 2>/dev/null
echo '@@RD hostname'; hostname 2>/dev/null || cat /proc/sys/kernel/hostname
echo '@@RD fqdn'; hostname -f 2>/dev/null || hostname 2>/dev/null
echo '@@RD route_get'; ip -4 route get 1.1.1.1 2>/dev/null
echo '@@RD route_default'; ip -4 route show default 2>/dev/null
echo '@@RD route6_get'; ip -6 route get 2606:4700:4700::1111 2>/dev/null
echo '@@RD addr4'; ip -4 -o addr show 2>/dev/null
echo '@@RD addr6'; ip -6 -o addr show 2>/dev/null
echo '@@RD links'; for n in $(ls -U /sys/class/net 2>/dev/null); do d=/sys/class/net/$n; [ -e "$d" ] || continue; printf '%s %s %s %s %s %s %s\n' "$n" "$(cat "$d/address" 2>/dev/null)" "$(cat "$d/mtu" 2>/dev/null)" "$(cat "$d/operstate" 2>/dev/null)" "$(cat "$d/type" 2>/dev/null)" "$(cat "$d/flags" 2>/dev/null)" "$(cat "$d/speed" 2>/dev/null)"; done
echo '@@RD apparmor'; if [ -e /sys/kernel/security/apparmor ]; then echo enabled; else echo disabled; fi
echo '@@RD meminfo'; cat /proc/meminfo 2>/dev/null
echo '@@RD nproc'; nproc 2>/dev/null
echo '@@RD cpuinfo'; grep -E '^(processor|vendor_id|model name|physical id|core id|cpu cores|siblings|Hardware|cpu model)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
echo '@@RD id'; id -un; id -u; id -g; id -gn; getent passwd "$(id -un)" 2>/dev/null
echo '@@RD service_mgr'; if [ -d /run/systemd/system ]; then echo systemd; elif command -v initctl >/dev/null 2>&1 && [ -d /etc/init ]; then echo upstart; elif [ -e /sbin/openrc ]; then echo openrc; elif [ -L /sbin/init ] && case "$(readlink /sbin/init)" in *systemd*) true;; *) false;; esac; then echo systemd; elif [ -d /etc/init.d ]; then echo sysvinit; elif [ -d /etc/dinit.d ]; then echo dinit; else echo service; fi; if [ -r /proc/1/comm ]; then cat /proc/1/comm; elif [ -L /sbin/init ]; then basename "$(readlink /sbin/init)"; fi
echo '@@RD pkg_mgr'; for c in apt-get dnf yum zypper apk pacman pkg; do if command -v $c >/dev/null 2>&1; then echo $c; break; fi; done
echo '@@RD date'; rd_e=$(date +%s); LC_ALL=C date -d "@$rd_e" '+%Y %m %d %H %M %S %s %z %Z %A %u %V %B %b %a %j %p' 2>/dev/null || LC_ALL=C date '+%Y %m %d %H %M %S %s %z %Z %A %u %V %B %b %a %j %p'; date -u -d "@$rd_e" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null || date -u '+%Y-%m-%dT%H:%M:%SZ'; date +%N
echo '@@RD virt'; if [ -f /.dockerenv ]; then echo docker; elif [ -f /run/.containerenv ]; then echo podman; elif grep -qa 'container=lxc' /proc/1/environ 2>/dev/null; then echo lxc; elif grep -qaE '(docker|kubepods|containerd)' /proc/1/cgroup 2>/dev/null; then echo container; elif command -v systemd-detect-virt >/dev/null 2>&1; then systemd-detect-virt 2>/dev/null; fi
echo '@@RD dns'; cat /etc/resolv.conf 2>/dev/null
echo '@@RD uptime'; cat /proc/uptime 2>/dev/null
echo '@@RD machine_id'; cat /etc/machine-id 2>/dev/null
echo '@@RD selinux'; if [ -e /sys/fs/selinux/enforce ]; then cat /sys/fs/selinux/enforce; fi
echo '@@RD ids'; id -u; id -ru; id -g; id -rg; getconf LONG_BIT 2>/dev/null; cat /proc/sys/crypto/fips_enabled 2>/dev/null
echo '@@RD dmi'; for k in sys_vendor product_name product_version product_serial product_uuid bios_date bios_vendor bios_version board_name board_vendor board_version board_serial board_asset_tag chassis_vendor chassis_version chassis_serial chassis_asset_tag; do printf '%s=%s\n' "$k" "$(cat /sys/devices/virtual/dmi/id/$k 2>/dev/null)"; done
echo '@@RD python'; command -v python3 2>/dev/null || command -v python 2>/dev/null
echo '@@RD env'; env -0 2>/dev/null || env
"#;

#[async_trait]
impl Module for Setup {
    fn name(&self) -> &'static str {
        "setup"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["gather_facts"]
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["gather_subset", "filter", "gather_timeout", "fact_path"])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("setup", self.params().unwrap_or(&[]))?;
        let filters = args.list("filter").unwrap_or_default();
        let patterns = filters
            .iter()
            .map(|f| {
                glob::Pattern::new(f)
                    .map_err(|e| ModuleError::failed(format!("setup: bad filter {f:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = ctx.run(SCRIPT).await?;
        if out.stdout.is_empty() {
            return Err(ModuleError::failed(format!(
                "setup: fact gathering printed nothing: {}",
                out.stderr_str().trim()
            )));
        }
        let mut facts = parse_facts(&out.stdout_str());
        if !patterns.is_empty() {
            facts.retain(|k, _| patterns.iter().any(|p| p.matches(k)));
        }
        // The executor sets these as host facts and shows them as `ansible_facts`.
        let mut o = Outcome::ok();
        o.facts = facts;
        Ok(o)
    }
}

fn kv_file(text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            m.insert(k.trim().to_string(), Value::String(v.replace("\\\"", "\"")));
        }
    }
    m
}

fn s(m: &Map<String, Value>, k: &str) -> String {
    m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

/// Ansible's distribution name for an os-release `ID`.
fn distribution_name(id: &str, name: &str) -> String {
    match id {
        "debian" => "Debian",
        "ubuntu" => "Ubuntu",
        "raspbian" => "Debian",
        "linuxmint" => "Linux Mint",
        "kali" => "Kali",
        "pop" => "Pop!_OS",
        "centos" => "CentOS",
        "rhel" => "RedHat",
        "fedora" => "Fedora",
        "rocky" => "Rocky",
        "almalinux" => "AlmaLinux",
        "ol" => "OracleLinux",
        "amzn" => "Amazon",
        "alpine" => "Alpine",
        "arch" => "Archlinux",
        "opensuse-leap" | "opensuse" => "openSUSE Leap",
        "opensuse-tumbleweed" => "openSUSE Tumbleweed",
        "sles" => "SLES",
        "gentoo" => "Gentoo",
        "" => {
            return if name.is_empty() {
                "NA".into()
            } else {
                name.to_string()
            }
        }
        other => {
            let mut c = other.chars();
            return match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => "NA".into(),
            };
        }
    }
    .to_string()
}

/// Ansible's `ansible_os_family` for an os-release `ID` and `ID_LIKE`.
fn os_family(id: &str, id_like: &str) -> String {
    let fam = |x: &str| -> Option<&'static str> {
        Some(match x {
            "debian" | "ubuntu" | "raspbian" | "linuxmint" | "kali" | "pop" | "devuan" | "neon"
            | "elementary" => "Debian",
            "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "ol" | "amzn" | "scientific"
            | "cloudlinux" => "RedHat",
            "alpine" => "Alpine",
            "arch" | "manjaro" | "endeavouros" => "Archlinux",
            "sles" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" | "suse" => "Suse",
            "gentoo" => "Gentoo",
            _ => return None,
        })
    };
    if let Some(f) = fam(id) {
        return f.into();
    }
    for l in id_like.split_whitespace() {
        if let Some(f) = fam(l) {
            return f.into();
        }
    }
    if id.is_empty() {
        "NA".into()
    } else {
        distribution_name(id, "")
    }
}

/// IPv4 dotted netmask for a prefix length.
fn netmask(prefix: u32) -> String {
    let m: u32 = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    };
    std::net::Ipv4Addr::from(m).to_string()
}

fn network(addr: &str, prefix: u32) -> String {
    match addr.parse::<std::net::Ipv4Addr>() {
        Ok(a) => {
            let m: u32 = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix.min(32))
            };
            std::net::Ipv4Addr::from(u32::from(a) & m).to_string()
        }
        Err(_) => String::new(),
    }
}

/// One IPv4 address of an interface from `ip -4 -o addr`.
#[derive(Debug, Clone)]
struct Addr4 {
    iface: String,
    address: String,
    prefix: u32,
    broadcast: String,
}

fn parse_addr4(text: &str) -> Vec<Addr4> {
    let mut v = Vec::new();
    for line in text.lines() {
        // "2: eth0    inet 172.18.0.6/16 brd 172.18.255.255 scope global eth0\ ..."
        let toks: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = toks.iter().position(|t| *t == "inet") else {
            continue;
        };
        let iface = toks
            .get(1)
            .map(|s| s.trim_end_matches(':'))
            .unwrap_or("")
            .to_string();
        let Some(cidr) = toks.get(i + 1) else {
            continue;
        };
        let (address, prefix) = match cidr.split_once('/') {
            Some((a, p)) => (a.to_string(), p.parse().unwrap_or(32)),
            None => (cidr.to_string(), 32),
        };
        let broadcast = toks
            .iter()
            .position(|t| *t == "brd")
            .and_then(|j| toks.get(j + 1))
            .map(|s| s.to_string())
            .unwrap_or_default();
        v.push(Addr4 {
            iface: iface.split('@').next().unwrap_or("").to_string(),
            address,
            prefix,
            broadcast,
        });
    }
    v
}

fn parse_addr6(text: &str) -> Vec<(String, String, u32, String)> {
    let mut v = Vec::new();
    for line in text.lines() {
        let toks: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = toks.iter().position(|t| *t == "inet6") else {
            continue;
        };
        let iface = toks
            .get(1)
            .map(|s| s.trim_end_matches(':'))
            .unwrap_or("")
            .split('@')
            .next()
            .unwrap_or("")
            .to_string();
        let Some(cidr) = toks.get(i + 1) else {
            continue;
        };
        let (a, p) = cidr.split_once('/').unwrap_or((cidr, "128"));
        let scope = toks
            .iter()
            .position(|t| *t == "scope")
            .and_then(|j| toks.get(j + 1))
            .unwrap_or(&"")
            .to_string();
        v.push((iface, a.to_string(), p.parse().unwrap_or(128), scope));
    }
    v
}

/// `(interface, source address, gateway)` from `ip route get` / `ip route show default`.
fn parse_route(text: &str) -> (String, String, String) {
    let line = text.lines().next().unwrap_or("");
    let toks: Vec<&str> = line.split_whitespace().collect();
    let after = |k: &str| {
        toks.iter()
            .position(|t| *t == k)
            .and_then(|i| toks.get(i + 1))
            .map(|s| s.to_string())
            .unwrap_or_default()
    };
    (after("dev"), after("src"), after("via"))
}

fn iface_type(sys_type: &str, name: &str) -> &'static str {
    match sys_type {
        "772" => "loopback",
        "1" if name.starts_with("br") || name.starts_with("docker") => "bridge",
        "1" => "ether",
        "65534" => "tunnel",
        _ if name == "lo" => "loopback",
        _ => "unknown",
    }
}

/// Turns the script's output into facts. Pure; unit-tested.
pub fn parse_facts(out: &str) -> Map<String, Value> {
    // The environment is NUL-separated and comes last: cut it off before splitting lines.
    let (main, env_text) = match out.find("@@RD env\n") {
        Some(i) => (&out[..i], &out[i + "@@RD env\n".len()..]),
        None => (out, ""),
    };
    let secs = sections(main);
    let sec = |n: &str| section(&secs, n).unwrap_or("");
    let mut f = Map::new();

    // --- system / kernel
    let un: Vec<&str> = sec("uname").lines().collect();
    let system = un.first().copied().unwrap_or("").to_string();
    let machine = un.get(2).copied().unwrap_or("").to_string();
    put(&mut f, "system", json!(system));
    put(&mut f, "kernel", json!(un.get(1).copied().unwrap_or("")));
    put(
        &mut f,
        "kernel_version",
        json!(un.get(3).copied().unwrap_or("")),
    );
    put(&mut f, "machine", json!(machine));
    put(&mut f, "architecture", json!(machine));
    let nodename = un.get(4).copied().unwrap_or("").to_string();

    // --- distribution
    let osr = kv_file(sec("os_release"));
    let id = s(&osr, "ID").to_lowercase();
    let id_like = s(&osr, "ID_LIKE").to_lowercase();
    let dist = distribution_name(&id, &s(&osr, "NAME"));
    let family = os_family(&id, &id_like);
    let mut version = s(&osr, "VERSION_ID");
    let debian_version = sec("debian_version").trim().to_string();
    if id == "debian"
        && !debian_version.is_empty()
        && debian_version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    {
        version = debian_version.clone();
    }
    let mut release = s(&osr, "VERSION_CODENAME");
    if release.is_empty() {
        release = s(&osr, "UBUNTU_CODENAME");
    }
    if release.is_empty() {
        // "12 (bookworm)"
        let v = s(&osr, "VERSION");
        if let (Some(a), Some(b)) = (v.find('('), v.find(')')) {
            if a < b {
                release = v[a + 1..b]
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_lowercase();
            }
        }
    }
    if release.is_empty() {
        release = "NA".into();
    }
    let major = version.split('.').next().unwrap_or("").to_string();
    let minor = version.split('.').nth(1).unwrap_or("").to_string();
    put(&mut f, "distribution", json!(dist));
    put(&mut f, "distribution_release", json!(release));
    put(
        &mut f,
        "distribution_version",
        json!(if version.is_empty() {
            "NA".to_string()
        } else {
            version.clone()
        }),
    );
    put(
        &mut f,
        "distribution_major_version",
        json!(if major.is_empty() {
            "NA".to_string()
        } else {
            major.clone()
        }),
    );
    if !minor.is_empty() {
        put(&mut f, "distribution_minor_version", json!(minor));
    }
    put(&mut f, "os_family", json!(family));

    // --- lsb (from lsb_release when installed, else from os-release)
    let lsb_text = sec("lsb_release");
    let mut lsb = Map::new();
    if !lsb_text.trim().is_empty() {
        for line in lsb_text.lines() {
            if let Some((k, v)) = line.split_once(':') {
                let v = v.trim().to_string();
                match k.trim() {
                    "Distributor ID" => {
                        lsb.insert("id".into(), json!(v));
                    }
                    "Description" => {
                        lsb.insert("description".into(), json!(v));
                    }
                    "Release" => {
                        lsb.insert(
                            "major_release".into(),
                            json!(v.split('.').next().unwrap_or("")),
                        );
                        lsb.insert("release".into(), json!(v));
                    }
                    "Codename" => {
                        lsb.insert("codename".into(), json!(v));
                    }
                    _ => {}
                }
            }
        }
    } else if !id.is_empty() {
        let rel = s(&osr, "VERSION_ID");
        lsb.insert("codename".into(), json!(release));
        lsb.insert("description".into(), json!(s(&osr, "PRETTY_NAME")));
        lsb.insert("id".into(), json!(dist));
        lsb.insert(
            "major_release".into(),
            json!(rel.split('.').next().unwrap_or("")),
        );
        lsb.insert("release".into(), json!(rel));
    }
    put(&mut f, "lsb", Value::Object(lsb));

    // --- names
    let hostname_full = sec("hostname").trim().to_string();
    let fqdn = sec("fqdn").lines().next().unwrap_or("").trim().to_string();
    let fqdn = if fqdn.is_empty() {
        hostname_full.clone()
    } else {
        fqdn
    };
    put(
        &mut f,
        "hostname",
        json!(hostname_full.split('.').next().unwrap_or("")),
    );
    put(
        &mut f,
        "nodename",
        json!(if nodename.is_empty() {
            hostname_full.clone()
        } else {
            nodename
        }),
    );
    put(&mut f, "fqdn", json!(fqdn));
    put(
        &mut f,
        "domain",
        json!(fqdn.split_once('.').map(|(_, d)| d).unwrap_or("")),
    );

    // --- network
    // name, MAC, mtu, operstate, type, flags, speed (/sys/class/net, in its own order:
    // ansible-core's `interfaces` lists them as the directory does)
    type Link = (String, String, String, String, String, String, String);
    let links: Vec<Link> = sec("links")
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split(' ').collect();
            (!t.is_empty() && !t[0].is_empty()).then(|| {
                let g = |i: usize| t.get(i).copied().unwrap_or("").to_string();
                (g(0), g(1), g(2), g(3), g(4), g(5), g(6))
            })
        })
        .collect();
    // ansible-core leaves out a MAC address of all zeros (loopback)
    let mac = |m: &str| (!m.is_empty() && m != "00:00:00:00:00:00").then(|| json!(m));
    let addrs = parse_addr4(sec("addr4"));
    let addrs6 = parse_addr6(sec("addr6"));
    let mut interfaces: Vec<String> = links.iter().map(|l| l.0.clone()).collect();
    for a in &addrs {
        if !interfaces.contains(&a.iface) {
            interfaces.push(a.iface.clone());
        }
    }
    put(&mut f, "interfaces", json!(interfaces));
    let all4: Vec<String> = addrs
        .iter()
        .filter(|a| !a.address.starts_with("127."))
        .map(|a| a.address.clone())
        .collect();
    put(&mut f, "all_ipv4_addresses", json!(all4));
    let all6: Vec<String> = addrs6
        .iter()
        .filter(|a| a.3 != "host")
        .map(|a| a.1.clone())
        .collect();
    put(&mut f, "all_ipv6_addresses", json!(all6));
    let link_of = |name: &str| links.iter().find(|l| l.0 == name);
    let ipv4_of = |a: &Addr4| {
        json!({
            "address": a.address,
            "broadcast": a.broadcast,
            "netmask": netmask(a.prefix),
            "network": network(&a.address, a.prefix),
            "prefix": a.prefix.to_string(),
        })
    };
    for name in &interfaces {
        let mut m = Map::new();
        m.insert("device".into(), json!(name));
        if let Some(l) = link_of(name) {
            if let Some(v) = mac(&l.1) {
                m.insert("macaddress".into(), v);
            }
            m.insert("mtu".into(), json!(l.2.parse::<i64>().unwrap_or(0)));
            m.insert("active".into(), json!(l.3 == "up" || l.3 == "unknown"));
            m.insert("type".into(), json!(iface_type(&l.4, name)));
            if let Ok(flags) = i64::from_str_radix(l.5.trim_start_matches("0x"), 16) {
                m.insert("promisc".into(), json!(flags & 0x100 != 0));
            }
            if let Ok(speed) = l.6.parse::<i64>() {
                m.insert("speed".into(), json!(speed));
            }
        }
        let mine: Vec<&Addr4> = addrs.iter().filter(|a| &a.iface == name).collect();
        if let Some(first) = mine.first() {
            m.insert("ipv4".into(), ipv4_of(first));
            if mine.len() > 1 {
                m.insert(
                    "ipv4_secondaries".into(),
                    json!(mine[1..].iter().map(|a| ipv4_of(a)).collect::<Vec<_>>()),
                );
            }
        }
        let six: Vec<Value> = addrs6
            .iter()
            .filter(|a| &a.0 == name)
            .map(|a| json!({"address": a.1, "prefix": a.2.to_string(), "scope": a.3}))
            .collect();
        if !six.is_empty() {
            m.insert("ipv6".into(), json!(six));
        }
        f.insert(
            format!("ansible_{}", name.replace(['-', ':', '.'], "_")),
            Value::Object(m),
        );
    }
    let (mut dev, mut src, mut gw) = parse_route(sec("route_get"));
    let (ddev, _, dgw) = parse_route(sec("route_default"));
    if dev.is_empty() {
        dev = ddev.clone();
    }
    if gw.is_empty() && dev == ddev {
        gw = dgw;
    }
    let mut d4 = Map::new();
    if !dev.is_empty() {
        let a = addrs
            .iter()
            .find(|a| a.iface == dev && (src.is_empty() || a.address == src))
            .or_else(|| addrs.iter().find(|a| a.iface == dev));
        if src.is_empty() {
            src = a.map(|a| a.address.clone()).unwrap_or_default();
        }
        d4.insert("address".into(), json!(src));
        d4.insert("alias".into(), json!(dev));
        d4.insert("interface".into(), json!(dev));
        d4.insert("gateway".into(), json!(gw));
        if let Some(a) = a {
            d4.insert("broadcast".into(), json!(a.broadcast));
            d4.insert("netmask".into(), json!(netmask(a.prefix)));
            d4.insert("network".into(), json!(network(&a.address, a.prefix)));
            d4.insert("prefix".into(), json!(a.prefix.to_string()));
        }
        if let Some(l) = link_of(&dev) {
            if let Some(v) = mac(&l.1) {
                d4.insert("macaddress".into(), v);
            }
            d4.insert("mtu".into(), json!(l.2.parse::<i64>().unwrap_or(0)));
            d4.insert("type".into(), json!(iface_type(&l.4, &dev)));
        }
    }
    put(&mut f, "default_ipv4", Value::Object(d4));
    let (dev6, src6, gw6) = parse_route(sec("route6_get"));
    let mut d6 = Map::new();
    if !dev6.is_empty() && !src6.is_empty() {
        d6.insert("address".into(), json!(src6));
        d6.insert("interface".into(), json!(dev6));
        d6.insert("gateway".into(), json!(gw6));
    }
    put(&mut f, "default_ipv6", Value::Object(d6));

    // --- memory
    let mut mem = std::collections::HashMap::new();
    for line in sec("meminfo").lines() {
        if let Some((k, v)) = line.split_once(':') {
            let kb: i64 = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            mem.insert(k.trim().to_string(), kb);
        }
    }
    let mb = |k: &str| mem.get(k).copied().unwrap_or(0) / 1024;
    put(&mut f, "memtotal_mb", json!(mb("MemTotal")));
    put(&mut f, "memfree_mb", json!(mb("MemFree")));
    put(&mut f, "swaptotal_mb", json!(mb("SwapTotal")));
    put(&mut f, "swapfree_mb", json!(mb("SwapFree")));
    let nocache_free = mb("MemFree") + mb("Buffers") + mb("Cached");
    put(
        &mut f,
        "memory_mb",
        json!({
            "real": {"total": mb("MemTotal"), "free": mb("MemFree"), "used": mb("MemTotal") - mb("MemFree")},
            "nocache": {"free": nocache_free, "used": mb("MemTotal") - nocache_free},
            "swap": {"total": mb("SwapTotal"), "free": mb("SwapFree"), "used": mb("SwapTotal") - mb("SwapFree"), "cached": mb("SwapCached")},
        }),
    );

    // --- processors
    let mut processors: Vec<Value> = Vec::new();
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores_per_socket: i64 = 0;
    let mut siblings: i64 = 0;
    let mut n_proc = 0i64;
    for line in sec("cpuinfo").lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "processor" => {
                n_proc += 1;
                processors.push(json!(v));
            }
            "vendor_id" | "model name" | "Hardware" | "cpu model" => processors.push(json!(v)),
            "physical id" => {
                sockets.insert(v.to_string());
            }
            "cpu cores" => cores_per_socket = v.parse().unwrap_or(0),
            "siblings" => siblings = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let nproc: i64 = sec("nproc").trim().parse().unwrap_or(n_proc);
    let count = if sockets.is_empty() {
        n_proc.max(1)
    } else {
        sockets.len() as i64
    };
    let cores = if cores_per_socket > 0 {
        cores_per_socket
    } else {
        1
    };
    let threads = if siblings > 0 && cores_per_socket > 0 {
        (siblings / cores_per_socket).max(1)
    } else {
        1
    };
    let vcpus = if sockets.is_empty() {
        n_proc.max(nproc)
    } else {
        threads * cores * count
    };
    put(&mut f, "processor", json!(processors));
    put(&mut f, "processor_count", json!(count));
    put(&mut f, "processor_cores", json!(cores));
    put(&mut f, "processor_threads_per_core", json!(threads));
    put(&mut f, "processor_vcpus", json!(vcpus));
    put(&mut f, "processor_nproc", json!(nproc));

    // --- user
    let idl: Vec<&str> = sec("id").lines().collect();
    let g = |i: usize| idl.get(i).copied().unwrap_or("").trim().to_string();
    put(&mut f, "user_id", json!(g(0)));
    put(&mut f, "user_uid", json!(g(1).parse::<i64>().unwrap_or(-1)));
    put(&mut f, "user_gid", json!(g(2).parse::<i64>().unwrap_or(-1)));
    let pw: Vec<&str> = idl.get(4).copied().unwrap_or("").split(':').collect();
    let env_map = parse_env(env_text);
    let home = pw
        .get(5)
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            env_map
                .get("HOME")
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .unwrap_or_default();
    put(&mut f, "user_dir", json!(home));
    put(
        &mut f,
        "user_shell",
        json!(pw.get(6).copied().unwrap_or("")),
    );
    put(
        &mut f,
        "user_gecos",
        json!(pw.get(4).copied().unwrap_or("")),
    );
    put(&mut f, "env", Value::Object(env_map));
    // effective and real ids, userspace bits, FIPS mode (ansible-core's names)
    let ids: Vec<&str> = sec("ids").lines().map(str::trim).collect();
    let num = |i: usize| ids.get(i).and_then(|v| v.parse::<i64>().ok());
    for (i, k) in [
        "effective_user_id",
        "real_user_id",
        "effective_group_id",
        "real_group_id",
    ]
    .iter()
    .enumerate()
    {
        if let Some(n) = num(i) {
            put(&mut f, k, json!(n));
        }
    }
    if let Some(bits) = ids.get(4).filter(|b| !b.is_empty()) {
        put(&mut f, "userspace_bits", json!(bits));
    }
    put(&mut f, "fips", json!(ids.get(5) == Some(&"1")));
    // DMI (/sys/devices/virtual/dmi/id): "NA" when absent, unreadable or empty, as
    // ansible-core's get_file_content(path, 'NA')
    for line in sec("dmi").lines() {
        if let Some((k, v)) = line.split_once('=') {
            let name = if k == "sys_vendor" {
                "system_vendor"
            } else {
                k
            };
            let v = v.trim();
            put(&mut f, name, json!(if v.is_empty() { "NA" } else { v }));
        }
    }

    // --- managers
    let sm: Vec<&str> = sec("service_mgr").lines().collect();
    put(
        &mut f,
        "service_mgr",
        json!(service_mgr(
            sm.first().copied().unwrap_or("service"),
            sm.get(1).copied().unwrap_or("")
        )),
    );
    let pm = match sec("pkg_mgr").trim() {
        "apt-get" => "apt",
        "" => "unknown",
        "pkg" => "pkgng",
        other => other,
    };
    put(&mut f, "pkg_mgr", json!(pm));

    // --- date/time
    let dl: Vec<&str> = sec("date").lines().collect();
    let d: Vec<&str> = dl
        .first()
        .copied()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if d.len() >= 16 {
        let iso = dl.get(1).copied().unwrap_or("").to_string();
        let nanos = dl.get(2).copied().unwrap_or("0").trim();
        let micro = format!("{:0>6}", nanos.get(..6).unwrap_or("000000"));
        let iso_micro = iso
            .strip_suffix('Z')
            .map(|b| format!("{b}.{micro}Z"))
            .unwrap_or_default();
        let date = format!("{}-{}-{}", d[0], d[1], d[2]);
        let time = format!("{}:{}:{}", d[3], d[4], d[5]);
        put(
            &mut f,
            "date_time",
            json!({
                "year": d[0], "month": d[1], "day": d[2], "hour": d[3], "minute": d[4], "second": d[5],
                "epoch": d[6], "epoch_int": d[6], "tz_offset": d[7], "tz": d[8], "weekday": d[9],
                "weekday_number": d[10], "weeknumber": d[11], "date": date, "time": time,
                "iso8601": iso, "iso8601_micro": iso_micro,
                "iso8601_basic": format!("{}{}{}T{}{}{}{}", d[0], d[1], d[2], d[3], d[4], d[5], micro),
                "iso8601_basic_short": format!("{}{}{}T{}{}{}", d[0], d[1], d[2], d[3], d[4], d[5]),
                "tz_dst": d[8],
            }),
        );
    }

    // --- virtualization
    let virt = sec("virt").trim().to_string();
    let (vt, vr) = match virt.as_str() {
        "" | "none" => ("NA", "NA"),
        v => (v, "guest"),
    };
    put(&mut f, "virtualization_type", json!(vt));
    put(&mut f, "virtualization_role", json!(vr));

    // --- dns
    let mut ns = Vec::new();
    let mut search = Vec::new();
    let mut domain = String::new();
    for line in sec("dns").lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.first().copied() {
            Some("nameserver") if t.len() > 1 => ns.push(t[1].to_string()),
            Some("search") => search.extend(t[1..].iter().map(|s| s.to_string())),
            Some("domain") if t.len() > 1 => domain = t[1].to_string(),
            _ => {}
        }
    }
    let mut dns = Map::new();
    dns.insert("nameservers".into(), json!(ns));
    if !search.is_empty() {
        dns.insert("search".into(), json!(search));
    }
    if !domain.is_empty() {
        dns.insert("domain".into(), json!(domain));
    }
    put(&mut f, "dns", Value::Object(dns));

    // --- misc
    let up: f64 = sec("uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    put(&mut f, "uptime_seconds", json!(up as i64));
    put(&mut f, "machine_id", json!(sec("machine_id").trim()));
    put(
        &mut f,
        "apparmor",
        json!({"status": if sec("apparmor").trim() == "enabled" { "enabled" } else { "disabled" }}),
    );
    let se = match sec("selinux").trim() {
        "1" => json!({"status": "enabled", "mode": "enforcing"}),
        "0" => json!({"status": "enabled", "mode": "permissive"}),
        _ => json!({"status": "disabled"}),
    };
    put(&mut f, "selinux", se);
    let py = sec("python").trim().to_string();
    if !py.is_empty() {
        put(&mut f, "python", json!({"executable": py}));
    }
    put(&mut f, "local", json!({}));
    f
}

fn put(f: &mut Map<String, Value>, k: &str, v: Value) {
    f.insert(format!("ansible_{k}"), v);
}

fn parse_env(text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let sep = if text.contains('\0') { '\0' } else { '\n' };
    for entry in text.split(sep) {
        if let Some((k, v)) = entry.split_once('=') {
            if !k.is_empty() && !k.contains('\n') {
                m.insert(k.to_string(), json!(v));
            }
        }
    }
    m
}

/// `ansible_service_mgr` as ansible-core decides it: the name of PID 1 is trusted
/// (`procd`, `runit-init`, `svscan`, `openrc-init` mapped to their manager) unless it is
/// `init` or ends in `sh` (a shell in a container); then what the host has installed
/// (`detected`: systemd running, upstart, openrc, systemd as /sbin/init, /etc/init.d ...).
/// So a container whose PID 1 is `sshd` has service_mgr `sshd`, as with Ansible.
fn service_mgr<'a>(detected: &'a str, pid1: &'a str) -> &'a str {
    let pid1 = pid1.trim();
    if pid1.is_empty() || pid1 == "init" || pid1.ends_with("sh") {
        return detected;
    }
    match pid1 {
        "procd" => "openwrt_init",
        "runit-init" => "runit",
        "svscan" => "svc",
        "openrc-init" => "openrc",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "@@RD uname\nLinux\n6.1.0-18-amd64\nx86_64\n#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1\nnode5\n\
@@RD os_release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n\
@@RD debian_version\n12.8\n@@RD lsb_release\n@@RD hostname\nnode5\n@@RD fqdn\nnode5.example.org\n\
@@RD route_get\n1.1.1.1 via 172.18.0.1 dev eth0 src 172.18.0.6 uid 0 \n    cache \n\
@@RD route_default\ndefault via 172.18.0.1 dev eth0 \n@@RD route6_get\n\
@@RD addr4\n1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n217: eth0    inet 172.18.0.6/16 brd 172.18.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n\
@@RD addr6\n@@RD links\neth0 02:42:ac:12:00:06 1500 up 1\nlo 00:00:00:00:00:00 65536 unknown 772\n\
@@RD meminfo\nMemTotal:       24562340 kB\nMemFree:        1000000 kB\nSwapTotal: 0 kB\n\
@@RD nproc\n2\n@@RD cpuinfo\nprocessor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\nsiblings\t: 2\ncpu cores\t: 2\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\nsiblings\t: 2\ncpu cores\t: 2\n\
@@RD id\nroot\n0\n0\nroot\nroot:x:0:0:root:/root:/bin/bash\n\
@@RD service_mgr\nsysvinit\nsshd\n@@RD pkg_mgr\napt-get\n\
@@RD date\n2024 05 06 07 08 09 1714979289 +0000 UTC Monday 1 19 May May Mon 127 AM\n2024-05-06T07:08:09Z\n123456789\n\
@@RD virt\ndocker\n@@RD dns\nnameserver 127.0.0.11\nsearch example.org\n@@RD uptime\n100.5 200.1\n@@RD machine_id\n\n@@RD selinux\n@@RD python\n/usr/bin/python3\n\
@@RD env\nHOME=/root\0PATH=/usr/bin:/bin\0MULTI=a\nb\0";

    #[test]
    fn parses_debian_container() {
        let f = parse_facts(SAMPLE);
        assert_eq!(f["ansible_os_family"], "Debian");
        assert_eq!(f["ansible_distribution"], "Debian");
        assert_eq!(f["ansible_distribution_release"], "bookworm");
        assert_eq!(f["ansible_distribution_version"], "12.8");
        assert_eq!(f["ansible_distribution_major_version"], "12");
        assert_eq!(f["ansible_system"], "Linux");
        assert_eq!(f["ansible_architecture"], "x86_64");
        assert_eq!(f["ansible_hostname"], "node5");
        assert_eq!(f["ansible_fqdn"], "node5.example.org");
        assert_eq!(f["ansible_domain"], "example.org");
        assert_eq!(f["ansible_default_ipv4"]["address"], "172.18.0.6");
        assert_eq!(f["ansible_default_ipv4"]["interface"], "eth0");
        assert_eq!(f["ansible_default_ipv4"]["gateway"], "172.18.0.1");
        assert_eq!(f["ansible_default_ipv4"]["netmask"], "255.255.0.0");
        assert_eq!(f["ansible_default_ipv4"]["network"], "172.18.0.0");
        assert_eq!(f["ansible_default_ipv4"]["macaddress"], "02:42:ac:12:00:06");
        assert_eq!(f["ansible_all_ipv4_addresses"], json!(["172.18.0.6"]));
        assert_eq!(f["ansible_eth0"]["ipv4"]["address"], "172.18.0.6");
        assert_eq!(f["ansible_memtotal_mb"], 23986);
        assert_eq!(f["ansible_processor_vcpus"], 2);
        assert_eq!(f["ansible_processor_cores"], 2);
        assert_eq!(f["ansible_processor_count"], 1);
        assert_eq!(f["ansible_user_id"], "root");
        assert_eq!(f["ansible_user_uid"], 0);
        assert_eq!(f["ansible_user_dir"], "/root");
        assert_eq!(f["ansible_env"]["MULTI"], "a\nb");
        assert_eq!(f["ansible_env"]["PATH"], "/usr/bin:/bin");
        assert_eq!(f["ansible_pkg_mgr"], "apt");
        assert_eq!(
            f["ansible_service_mgr"], "sshd",
            "PID 1's name, as ansible-core"
        );
        assert_eq!(service_mgr("sysvinit", "sh"), "sysvinit");
        assert_eq!(service_mgr("sysvinit", "init"), "sysvinit");
        assert_eq!(service_mgr("systemd", "systemd"), "systemd");
        assert_eq!(service_mgr("sysvinit", "runit-init"), "runit");
        assert_eq!(f["ansible_lsb"]["codename"], "bookworm");
        assert_eq!(f["ansible_lsb"]["id"], "Debian");
        assert_eq!(f["ansible_lsb"]["release"], "12");
        assert_eq!(f["ansible_date_time"]["date"], "2024-05-06");
        assert_eq!(f["ansible_date_time"]["epoch"], "1714979289");
        assert_eq!(f["ansible_date_time"]["iso8601"], "2024-05-06T07:08:09Z");
        assert_eq!(
            f["ansible_date_time"]["iso8601_micro"],
            "2024-05-06T07:08:09.123456Z"
        );
        assert_eq!(f["ansible_virtualization_type"], "docker");
        assert_eq!(f["ansible_dns"]["nameservers"], json!(["127.0.0.11"]));
    }

    #[test]
    fn families() {
        assert_eq!(os_family("ubuntu", "debian"), "Debian");
        assert_eq!(os_family("rocky", "rhel centos fedora"), "RedHat");
        assert_eq!(os_family("somethingnew", "debian"), "Debian");
        assert_eq!(distribution_name("ubuntu", ""), "Ubuntu");
        assert_eq!(netmask(24), "255.255.255.0");
        assert_eq!(netmask(0), "0.0.0.0");
    }
}
