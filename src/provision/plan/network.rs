//! Planning the network (VPC, subnets, gateway, routes), the key pair and the
//! security groups with their rules.

use super::*;

impl Planner<'_> {
    pub(super) fn network(
        &mut self,
        region: &str,
        rs: &RegionState,
        in_use: bool,
        out: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) -> Result<()> {
        let spec = self.spec;
        let prefix = spec.prefix();
        let lk = self.lookups.regions.get(region);
        let wanted = match (&spec.network, in_use) {
            (Network::Create { public, .. }, true) => spec
                .network
                .cidr_in(region)
                .map(|c| (c.to_string(), *public)),
            _ => None,
        };
        let Some((cidr, public)) = wanted else {
            // Nothing of the network is wanted here: everything found goes.
            destroy.extend(
                rs.route_tables
                    .iter()
                    .map(|rt| destroy_route_table(rt, &prefix, region)),
            );
            destroy.extend(rs.igws.iter().map(|g| destroy_igw(g, &prefix, region)));
            destroy.extend(
                rs.subnets
                    .iter()
                    .map(|s| destroy_subnet(s, &prefix, region)),
            );
            destroy.extend(rs.vpcs.iter().map(|v| destroy_vpc(v, &prefix, region)));
            return Ok(());
        };

        // VPC.
        match rs.vpcs.first() {
            None => out.push(change(Action::Create, "vpc", prefix.clone(), region, None, vec![cidr.clone()], Op::CreateVpc { cidr: cidr.clone() })),
            Some(v) if v.cidr != cidr => {
                return Err(Error::cloud_in(region, format!("the VPC {} has CIDR {}, the spec asks for {cidr}: a VPC cannot change its CIDR; run `rdeploy destroy` first or keep the CIDR",
                    v.id, v.cidr
                )))
            }
            Some(_) => {}
        }
        for v in rs.vpcs.iter().skip(1) {
            destroy.push(change(
                Action::Destroy,
                "vpc",
                prefix.clone(),
                region,
                Some(v.id.clone()),
                vec!["duplicate".into()],
                Op::DeleteVpc { id: v.id.clone() },
            ));
        }

        // Subnets.
        let planned = spec.network.planned_subnets_in(region);
        let azs = lk.map(|l| l.azs.clone()).unwrap_or_default();
        for sp in &planned {
            let az = azs.get(sp.az_index).cloned().unwrap_or_default();
            match rs.subnets.iter().find(|s| s.name == sp.name) {
                None => out.push(change(
                    Action::Create,
                    "subnet",
                    format!("{prefix}-{}", sp.name),
                    region,
                    None,
                    vec![format!(
                        "{} {az} {}",
                        sp.cidr,
                        if sp.public { "public" } else { "private" }
                    )],
                    Op::CreateSubnet {
                        name: sp.name.clone(),
                        cidr: sp.cidr.to_string(),
                        az,
                        public: sp.public,
                    },
                )),
                Some(s) if s.map_public_ip != sp.public => out.push(change(
                    Action::Update,
                    "subnet",
                    format!("{prefix}-{}", sp.name),
                    region,
                    Some(s.id.clone()),
                    vec![format!(
                        "map public IP on launch: {} -> {}",
                        s.map_public_ip, sp.public
                    )],
                    Op::SetSubnetPublic {
                        subnet_id: s.id.clone(),
                        public: sp.public,
                    },
                )),
                Some(_) => {}
            }
        }
        for s in rs
            .subnets
            .iter()
            .filter(|s| !planned.iter().any(|p| p.name == s.name))
        {
            destroy.push(change(
                Action::Destroy,
                "subnet",
                format!("{prefix}-{}", s.name),
                region,
                Some(s.id.clone()),
                vec![s.cidr.clone()],
                Op::DeleteSubnet { id: s.id.clone() },
            ));
        }

        // Internet gateway and the public route table.
        let vpc_id = rs.vpcs.first().map(|v| v.id.clone());
        if public {
            match rs.igws.first() {
                None => out.push(change(
                    Action::Create,
                    "internet-gateway",
                    prefix.clone(),
                    region,
                    None,
                    vec![],
                    Op::CreateIgw,
                )),
                Some(g) if vpc_id.as_ref().is_none_or(|v| !g.attached_vpcs.contains(v)) => out
                    .push(change(
                        Action::Update,
                        "internet-gateway",
                        prefix.clone(),
                        region,
                        Some(g.id.clone()),
                        vec!["attach to the VPC".into()],
                        Op::AttachIgw {
                            igw_id: g.id.clone(),
                        },
                    )),
                Some(_) => {}
            }
            let public_subnets: Vec<String> = planned
                .iter()
                .filter(|s| s.public)
                .map(|s| s.name.clone())
                .collect();
            match rs.route_tables.first() {
                None => out.push(change(
                    Action::Create,
                    "route-table",
                    format!("{prefix}-public"),
                    region,
                    None,
                    vec![format!(
                        "0.0.0.0/0 via the internet gateway, for {}",
                        public_subnets.join(", ")
                    )],
                    Op::CreateRouteTable { public_subnets },
                )),
                Some(rt) => {
                    let ids = subnet_ids_by_name(rs);
                    let associated: HashSet<&String> =
                        rt.associations.iter().map(|a| &a.1).collect();
                    let missing: Vec<String> = public_subnets
                        .iter()
                        .filter(|n| ids.get(*n).is_none_or(|id| !associated.contains(id)))
                        .cloned()
                        .collect();
                    let igw = rs.igws.first().map(|g| g.id.clone());
                    let add_default_route = rt.default_gateway.is_none()
                        || (igw.is_some() && rt.default_gateway != igw);
                    if !missing.is_empty() || add_default_route {
                        let mut details = vec![];
                        if add_default_route {
                            details.push("route 0.0.0.0/0 via the internet gateway".into());
                        }
                        if !missing.is_empty() {
                            details.push(format!("associate {}", missing.join(", ")));
                        }
                        out.push(change(
                            Action::Update,
                            "route-table",
                            format!("{prefix}-public"),
                            region,
                            Some(rt.id.clone()),
                            details,
                            Op::FixRouteTable {
                                rt_id: rt.id.clone(),
                                add_default_route,
                                associate: missing,
                            },
                        ));
                    }
                }
            }
            for rt in rs.route_tables.iter().skip(1) {
                destroy.push(change(
                    Action::Destroy,
                    "route-table",
                    format!("{prefix}-public"),
                    region,
                    Some(rt.id.clone()),
                    vec!["duplicate".into()],
                    Op::DeleteRouteTable {
                        id: rt.id.clone(),
                        associations: rt.associations.iter().map(|a| a.0.clone()).collect(),
                    },
                ));
            }
            for g in rs.igws.iter().skip(1) {
                destroy.push(change(
                    Action::Destroy,
                    "internet-gateway",
                    prefix.clone(),
                    region,
                    Some(g.id.clone()),
                    vec!["duplicate".into()],
                    Op::DeleteIgw {
                        id: g.id.clone(),
                        vpcs: g.attached_vpcs.clone(),
                    },
                ));
            }
        } else {
            destroy.extend(
                rs.route_tables
                    .iter()
                    .map(|rt| destroy_route_table(rt, &prefix, region)),
            );
            destroy.extend(rs.igws.iter().map(|g| destroy_igw(g, &prefix, region)));
        }
        Ok(())
    }

    pub(super) fn key_pair(
        &mut self,
        region: &str,
        rs: &RegionState,
        in_use: bool,
        out: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) {
        let managed = self
            .spec
            .key_pair
            .as_ref()
            .filter(|k| k.public_key.is_some() && in_use);
        if let Some(kp) = managed {
            let pk = kp.public_key.clone().unwrap_or_default();
            let hash = pubkey_hash(&pk);
            match rs.key_pairs.iter().find(|k| k.name == kp.name) {
                None => out.push(change(
                    Action::Create,
                    "key-pair",
                    kp.name.clone(),
                    region,
                    None,
                    vec![pk_summary(&pk)],
                    Op::ImportKeyPair {
                        name: kp.name.clone(),
                        public_key: pk,
                        replace: false,
                    },
                )),
                Some(k) if k.pubkey_hash.as_deref() != Some(hash.as_str()) => out.push(change(
                    Action::Replace,
                    "key-pair",
                    kp.name.clone(),
                    region,
                    None,
                    vec![
                        format!("public key changed ({})", pk_summary(&pk)),
                        "running instances keep the old key".into(),
                    ],
                    Op::ImportKeyPair {
                        name: kp.name.clone(),
                        public_key: pk,
                        replace: true,
                    },
                )),
                Some(_) => {}
            }
        }
        for k in &rs.key_pairs {
            if managed.is_none_or(|m| m.name != k.name) {
                destroy.push(change(
                    Action::Destroy,
                    "key-pair",
                    k.name.clone(),
                    region,
                    None,
                    vec![],
                    Op::DeleteKeyPair {
                        name: k.name.clone(),
                    },
                ));
            }
        }
    }

    pub(super) fn security_groups(
        &mut self,
        region: &str,
        rs: &RegionState,
        in_use: bool,
        out: &mut Vec<Change>,
        rules: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) {
        let spec = self.spec;
        let prefix = spec.prefix();
        let id_to_name: HashMap<&str, &str> = rs
            .security_groups
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        if in_use {
            for sg in spec.security_groups.values() {
                let aws_name = format!("{prefix}-{}", sg.name);
                // The spec's rules, plus those admitting peered VPCs' blocks.
                let mut ingress = sg.ingress.clone();
                for r in crate::provision::peering::spec::extra_rules(spec, region, &sg.name) {
                    if !ingress.contains(&r) {
                        ingress.push(r);
                    }
                }
                match rs.sg_by_name(&sg.name) {
                    None => {
                        let mut details = vec![sg.description.clone()];
                        details.extend(ingress.iter().map(|r| format!("+ingress {r}")));
                        out.push(change(
                            Action::Create,
                            "security-group",
                            aws_name.clone(),
                            region,
                            None,
                            details,
                            Op::CreateSg {
                                name: sg.name.clone(),
                                description: sg.description.clone(),
                                rules: ingress.clone(),
                            },
                        ));
                    }
                    Some(cur) => {
                        // Desired rules whose sources resolve to ids now; unresolvable
                        // ones (groups not created yet) are simply added.
                        let mut add = vec![];
                        let mut matched: HashSet<usize> = HashSet::new();
                        for r in &ingress {
                            let want = match &r.source {
                                Source::Cidr(c) => Some(PermSource::Cidr(c.clone())),
                                Source::GroupId(id) => Some(PermSource::Group(id.clone())),
                                Source::Group(n) => {
                                    rs.sg_by_name(n).map(|g| PermSource::Group(g.id.clone()))
                                }
                            };
                            let found = want.and_then(|w| {
                                cur.ingress.iter().position(|p| {
                                    p.protocol == r.protocol
                                        && p.from_port == r.from_port
                                        && p.to_port == r.to_port
                                        && p.source == w
                                })
                            });
                            match found {
                                Some(i) => {
                                    matched.insert(i);
                                }
                                None => add.push(r.clone()),
                            }
                        }
                        let remove: Vec<Perm> = cur
                            .ingress
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| !matched.contains(i))
                            .map(|(_, p)| p.clone())
                            .collect();
                        if !add.is_empty() || !remove.is_empty() {
                            let mut details: Vec<String> =
                                add.iter().map(|r| format!("+ingress {r}")).collect();
                            details.extend(
                                remove
                                    .iter()
                                    .map(|p| format!("-ingress {}", perm_display(p, &id_to_name))),
                            );
                            rules.push(change(
                                Action::Update,
                                "security-group",
                                aws_name,
                                region,
                                Some(cur.id.clone()),
                                details,
                                Op::SgRules {
                                    name: sg.name.clone(),
                                    add,
                                    remove,
                                },
                            ));
                        }
                    }
                }
            }
        }
        for cur in &rs.security_groups {
            if !in_use || !spec.security_groups.contains_key(&cur.name) {
                destroy.push(change(
                    Action::Destroy,
                    "security-group",
                    cur.group_name.clone(),
                    region,
                    Some(cur.id.clone()),
                    vec![],
                    Op::DeleteSg { id: cur.id.clone() },
                ));
            }
        }
    }
}
