//! The spec's `dns` section: records in existing Route 53 hosted zones, found by name —
//! an A alias to a load balancer of the spec, A records with an instance group's
//! addresses, CNAMEs. Validated with positions before any API call.

use crate::error::{Error, Result, Span};
use crate::provision::fields::{bool_of, map_entries, str_of, uint_of, Fields};
use crate::provision::spec::Spec;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct ZoneSpec {
    /// The zone's name, lowercase, without the final dot.
    pub name: String,
    /// Which of two same-named zones: the private (true) or the public one.
    pub private: Option<bool>,
    pub records: Vec<RecordSpec>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct RecordSpec {
    /// The name as the spec says it (`data`, `@`, `data.example.com`).
    pub key: String,
    /// The full name, lowercase, without the final dot.
    pub fqdn: String,
    pub target: Target,
    pub ttl: u32,
    pub span: Span,
}

impl RecordSpec {
    /// `A` or `CNAME`.
    pub fn rtype(&self) -> &'static str {
        match self.target {
            Target::Cname(_) => "CNAME",
            _ => "A",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A alias to a load balancer of the spec.
    LoadBalancer(String),
    /// A records: the addresses of an instance group's instances.
    Instances {
        group: String,
        private: bool,
    },
    Cname(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::LoadBalancer(l) => write!(f, "A alias to load balancer {l}"),
            Target::Instances { group, private } => write!(
                f,
                "A: the {} addresses of instance group {group}",
                if *private { "private" } else { "public" }
            ),
            Target::Cname(c) => write!(f, "CNAME {c}"),
        }
    }
}

fn valid_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Reads `dns:` — a mapping of zone name to `{private, ttl, records}`.
pub fn parse(n: &Node) -> Result<Vec<ZoneSpec>> {
    let mut out: Vec<ZoneSpec> = vec![];
    for (k, v) in map_entries(n, "dns")? {
        let name = k
            .key_string()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if !valid_host(&name) || !name.contains('.') {
            return Err(k.error(format!(
                "`{name}` is not a hosted zone name (like example.com)"
            )));
        }
        let mut f = Fields::new(v, "a hosted zone")?;
        f.allow(&["private", "ttl", "records"])?;
        let private = match f.get("private") {
            Some(p) => Some(bool_of(p, "private")?),
            None => None,
        };
        let ttl = match f.get("ttl") {
            Some(t) => ttl_of(t)?,
            None => 300,
        };
        let mut records: Vec<RecordSpec> = vec![];
        for (rk, rv) in map_entries(f.required("records")?, "records")? {
            let key = rk.key_string().unwrap_or_default();
            let lower = key.trim_end_matches('.').to_ascii_lowercase();
            let fqdn = if lower == "@" {
                name.clone()
            } else if lower == name || lower.ends_with(&format!(".{name}")) {
                lower
            } else {
                format!("{lower}.{name}")
            };
            if fqdn.contains('*') {
                return Err(rk.error("wildcard records are not supported"));
            }
            if !valid_host(&fqdn) {
                return Err(rk.error(format!("`{key}` is not a valid record name")));
            }
            if records.iter().any(|r| r.fqdn == fqdn) {
                return Err(rk.error(format!("`{fqdn}` is defined twice")));
            }
            records.push(record_of(key, fqdn, rv, ttl)?);
        }
        if out.iter().any(|z| z.name == name) {
            return Err(k.error(format!("zone `{name}` is listed twice")));
        }
        out.push(ZoneSpec {
            name,
            private,
            records,
            span: k.span.clone(),
        });
    }
    Ok(out)
}

fn ttl_of(t: &Node) -> Result<u32> {
    let x = uint_of(t, "ttl")?;
    if !(1..=604800).contains(&x) {
        return Err(t.error("a TTL is 1 to 604800 seconds"));
    }
    Ok(x)
}

fn record_of(key: String, fqdn: String, n: &Node, zone_ttl: u32) -> Result<RecordSpec> {
    let mut f = Fields::new(n, "a DNS record")?;
    f.allow(&["load_balancer", "instances", "address", "cname", "ttl"])?;
    let given: Vec<&str> = ["load_balancer", "instances", "cname"]
        .into_iter()
        .filter(|k| f.get(k).is_some())
        .collect();
    if given.len() != 1 {
        return Err(n.error(
            "a record is one of `load_balancer: NAME` (A alias), `instances: GROUP` (A), `cname: HOST`",
        ));
    }
    let target = match given[0] {
        "load_balancer" => {
            Target::LoadBalancer(str_of(f.get("load_balancer").unwrap(), "load_balancer")?)
        }
        "instances" => {
            let private = match f.get("address") {
                None => false,
                Some(a) => match a.as_str() {
                    Some("public") => false,
                    Some("private") => true,
                    _ => return Err(a.error("`address` is public (default) or private")),
                },
            };
            Target::Instances {
                group: str_of(f.get("instances").unwrap(), "instances")?,
                private,
            }
        }
        _ => {
            let v = f.get("cname").unwrap();
            let c = str_of(v, "cname")?
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if !valid_host(&c) {
                return Err(v.error(format!("`{c}` is not a host name")));
            }
            Target::Cname(c)
        }
    };
    if let (Some(a), false) = (f.get("address"), matches!(target, Target::Instances { .. })) {
        return Err(a.error("`address` applies to `instances` records"));
    }
    let ttl = match f.get("ttl") {
        Some(t) => {
            if matches!(target, Target::LoadBalancer(_)) {
                return Err(t.error("an alias record has no TTL (Route 53 uses the target's)"));
            }
            ttl_of(t)?
        }
        None => zone_ttl,
    };
    Ok(RecordSpec {
        key,
        fqdn,
        target,
        ttl,
        span: n.span.clone(),
    })
}

/// References: load balancers and instance groups of the spec.
pub fn check(spec: &Spec) -> Result<()> {
    let names = |v: Vec<&String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.into_iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    for z in &spec.dns {
        for r in &z.records {
            match &r.target {
                Target::LoadBalancer(l) if !spec.load_balancers.contains_key(l) => {
                    return Err(Error::source_at(
                        &r.span,
                        format!(
                            "dns record `{}`: load balancer `{l}` is not defined (defined: {})",
                            r.fqdn,
                            names(spec.load_balancers.keys().collect())
                        ),
                    ))
                }
                Target::Instances { group, .. } if !spec.instances.contains_key(group) => {
                    return Err(Error::source_at(
                        &r.span,
                        format!(
                            "dns record `{}`: instance group `{group}` is not defined (defined: {})",
                            r.fqdn,
                            names(spec.instances.keys().collect())
                        ),
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(s: &str) -> crate::error::Result<crate::provision::spec::Spec> {
        let doc = crate::yaml::load_str(s, Path::new("infra.yml")).unwrap();
        crate::provision::spec::parse(&doc, Path::new("infra.yml"), None)
    }
    const BASE: &str = "project: shop\nenv: dev\nregion: us-east-1\ninstances:\n  master: {type: t3.micro, ami: ami-1}\n";

    #[test]
    fn names_are_completed_in_the_zone() {
        let s = parse(&format!("{BASE}dns:\n  Example.com.:\n    records:\n      master: {{instances: master}}\n      www.example.com: {{cname: master.example.com}}\n      '@': {{cname: x.example.net, ttl: 60}}\n")).unwrap();
        let z = &s.dns[0];
        assert_eq!(z.name, "example.com");
        let f: Vec<(&str, &str, u32)> = z
            .records
            .iter()
            .map(|r| (r.fqdn.as_str(), r.rtype(), r.ttl))
            .collect();
        assert_eq!(
            f,
            vec![
                ("master.example.com", "A", 300),
                ("www.example.com", "CNAME", 300),
                ("example.com", "CNAME", 60)
            ]
        );
    }

    #[test]
    fn errors_point_at_the_source() {
        for (tail, want) in [
            ("dns:\n  example.com:\n    records:\n      data: {load_balancer: data}\n", "infra.yml:9:14: dns record `data.example.com`: load balancer `data` is not defined"),
            ("dns:\n  example.com:\n    records:\n      m: {instance: master}\n", "infra.yml:9:11: unknown key `instance` in a DNS record (did you mean `instances`?)"),
            ("dns:\n  example.com:\n    recods: {}\n", "infra.yml:8:5: unknown key `recods`"),
            ("dns:\n  localhost:\n    records: {}\n", "infra.yml:7:3: `localhost` is not a hosted zone name"),
        ] {
            let e = parse(&format!("{BASE}{tail}")).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}\nwanted {want}");
        }
    }
}
