//! The spec's `peering` section: VPC peering between two of the spec's regions, and
//! security group rules admitting the peer's VPC block where the spec says.

use crate::error::{Error, Result, Span};
use crate::provision::fields::{seq_of, spec_region_of, str_of, uint_of, Fields};
use crate::provision::spec::{Located, Network, RuleSpec, Source, Spec};
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct PeeringSpec {
    /// `<requester>--<accepter>` (tag `rdeploy:name`).
    pub name: String,
    /// The region that requests the connection.
    pub requester: String,
    /// The region that accepts it.
    pub accepter: String,
    pub allow: Vec<AllowSpec>,
    pub span: Span,
}

impl PeeringSpec {
    pub fn other(&self, region: &str) -> Option<&str> {
        if region == self.requester {
            Some(&self.accepter)
        } else if region == self.accepter {
            Some(&self.requester)
        } else {
            None
        }
    }
}

/// Ingress on `security_group` (in both regions) from the other side's VPC block.
#[derive(Debug, Clone)]
pub struct AllowSpec {
    pub security_group: Located<String>,
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
}

/// Reads `peering:` — a list of `{regions: [A, B], allow: [{security_group, port, protocol}]}`.
pub fn parse(n: &Node, regions: &[String]) -> Result<Vec<PeeringSpec>> {
    let mut out: Vec<PeeringSpec> = vec![];
    for p in seq_of(n, "peering")? {
        let mut f = Fields::new(p, "a peering")?;
        f.allow(&["regions", "allow"])?;
        let rn = f.required("regions")?;
        let list = seq_of(rn, "regions")?;
        if list.len() != 2 {
            return Err(rn.error("a peering joins two regions: `regions: [us-east-1, eu-west-1]`"));
        }
        let a = spec_region_of(&list[0], regions)?;
        let b = spec_region_of(&list[1], regions)?;
        if a == b {
            return Err(rn.error("a peering joins two different regions"));
        }
        let mut allow = vec![];
        if let Some(al) = f.get("allow") {
            for x in seq_of(al, "allow")? {
                let mut af = Fields::new(x, "a peering rule")?;
                af.allow(&["security_group", "port", "protocol"])?;
                let sg = af.required("security_group")?;
                let protocol = match af.get("protocol") {
                    None => "tcp".to_string(),
                    Some(v) => match v.as_str() {
                        Some("tcp") | Some("udp") => v.as_str().unwrap().to_string(),
                        Some("all") => "-1".to_string(),
                        _ => return Err(v.error("`protocol` is tcp (default), udp or all")),
                    },
                };
                let (from_port, to_port) = if protocol == "-1" {
                    (-1, -1)
                } else {
                    let pn = af.required("port")?;
                    let p = uint_of(pn, "port")?;
                    if !(1..=65535).contains(&p) {
                        return Err(pn.error("`port` is 1 to 65535"));
                    }
                    (p as i32, p as i32)
                };
                allow.push(AllowSpec {
                    security_group: Located {
                        value: str_of(sg, "security_group")?,
                        span: sg.span.clone(),
                    },
                    protocol,
                    from_port,
                    to_port,
                });
            }
        }
        let name = format!("{a}--{b}");
        if out
            .iter()
            .any(|o| (o.requester == a && o.accepter == b) || (o.requester == b && o.accepter == a))
        {
            return Err(rn.error(format!("{a} and {b} are peered twice")));
        }
        out.push(PeeringSpec {
            name,
            requester: a,
            accepter: b,
            allow,
            span: p.span.clone(),
        });
    }
    Ok(out)
}

/// References: the network is rdeploy's (one VPC per region), the blocks do not overlap,
/// the rules name groups of the spec.
pub fn check(spec: &Spec) -> Result<()> {
    for p in &spec.peering {
        if !matches!(spec.network, Network::Create { .. }) {
            return Err(Error::source_at(
                &p.span,
                "peering needs the VPCs rdeploy creates (`network: {cidr: ..., cidrs: {REGION: ...}}`)",
            ));
        }
        let (a, b) = (
            spec.network.cidr_in(&p.requester).unwrap(),
            spec.network.cidr_in(&p.accepter).unwrap(),
        );
        let overlap = {
            let m = a.prefix.min(b.prefix);
            let mask = if m == 0 { 0 } else { u32::MAX << (32 - m) };
            a.addr & mask == b.addr & mask
        };
        if overlap {
            return Err(Error::source_at(
                &p.span,
                format!(
                    "{} ({a}) and {} ({b}) overlap: peered VPCs need distinct blocks; give one region its own with `network.cidrs`",
                    p.requester, p.accepter
                ),
            ));
        }
        for r in &p.allow {
            if !spec.security_groups.contains_key(&r.security_group.value) {
                return Err(Error::source_at(
                    &r.security_group.span,
                    format!(
                        "peering {}: security group `{}` is not defined",
                        p.name, r.security_group.value
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The rules peering adds to a security group in a region: ingress from the peer's block.
pub fn extra_rules(spec: &Spec, region: &str, group: &str) -> Vec<RuleSpec> {
    let mut out = vec![];
    for p in &spec.peering {
        let Some(other) = p.other(region) else {
            continue;
        };
        let Some(cidr) = spec.network.cidr_in(other) else {
            continue;
        };
        for a in p.allow.iter().filter(|a| a.security_group.value == group) {
            let r = RuleSpec {
                protocol: a.protocol.clone(),
                from_port: a.from_port,
                to_port: a.to_port,
                source: Source::Cidr(cidr.to_string()),
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(s: &str) -> crate::error::Result<crate::provision::spec::Spec> {
        let doc = crate::yaml::load_str(s, Path::new("infra.yml")).unwrap();
        crate::provision::spec::parse(&doc, Path::new("infra.yml"), None)
    }

    #[test]
    fn peering_validates_blocks_and_groups() {
        let base =
            "project: shop\nenv: dev\nregions: [us-east-1, eu-west-1]\nsecurity_groups: {db: {}}\n";
        let s = parse(&format!("{base}network: {{cidr: 10.40.0.0/16, cidrs: {{eu-west-1: 10.41.0.0/16}}}}\npeering:\n  - {{regions: [us-east-1, eu-west-1], allow: [{{security_group: db, port: 5432}}]}}\n")).unwrap();
        let r = super::extra_rules(&s, "us-east-1", "db");
        assert_eq!(r[0].to_string(), "tcp 5432 from 10.41.0.0/16");
        let r = super::extra_rules(&s, "eu-west-1", "db");
        assert_eq!(r[0].to_string(), "tcp 5432 from 10.40.0.0/16");
        let e = parse(&format!("{base}network: {{cidr: 10.40.0.0/16}}\npeering:\n  - {{regions: [us-east-1, eu-west-1]}}\n")).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "infra.yml:7:6: us-east-1 (10.40.0.0/16) and eu-west-1 (10.40.0.0/16) overlap"
            ),
            "{e}"
        );
        let e = parse(&format!("{base}network: {{cidr: 10.40.0.0/16, cidrs: {{eu-west-1: 10.41.0.0/16}}}}\npeering:\n  - {{regions: [us-east-1, eu-west-1], allow: [{{security_group: dbb, port: 5432}}]}}\n")).unwrap_err().to_string();
        assert!(e.contains("security group `dbb` is not defined"), "{e}");
        let e = parse(&format!("{base}network: {{cidr: 10.40.0.0/16}}\npeering:\n  - {{regions: [us-east-1, ap-south-1]}}\n")).unwrap_err().to_string();
        assert!(
            e.contains("region `ap-south-1` is not one of the spec's regions"),
            "{e}"
        );
    }
}
