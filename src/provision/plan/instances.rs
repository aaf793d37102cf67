//! Planning instance groups: scale in/out by index, replacements when the launch
//! configuration changed, tags, Elastic IPs.

use super::*;

impl Planner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn instances(
        &mut self,
        region: &str,
        rs: &RegionState,
        taken: &mut HashMap<String, BTreeSet<u32>>,
        out: &mut Vec<Change>,
        d_eips: &mut Vec<Change>,
        destroy: &mut Vec<Change>,
    ) -> Result<()> {
        let spec = self.spec;
        let sg_id_to_name: HashMap<&str, &str> = rs
            .security_groups
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        let subnet_name_by_id: HashMap<&str, &str> = rs
            .subnets
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();

        for g in spec.instances.values() {
            let mine: Vec<&Instance> = rs.instances.iter().filter(|i| i.group == g.name).collect();
            if !g.regions.iter().any(|r| r == region) {
                if !mine.is_empty() {
                    destroy.push(change(
                        Action::Destroy,
                        "instance",
                        format!("{} x{}", g.name, mine.len()),
                        region,
                        None,
                        vec![format!("group not in {region} any more: {}", ids_of(&mine))],
                        Op::Terminate {
                            ids: mine.iter().map(|i| i.id.clone()).collect(),
                        },
                    ));
                }
                for e in rs.eips.iter().filter(|e| e.group == g.name) {
                    d_eips.push(release(e, region, true));
                }
                continue;
            }
            let lk = self
                .lookups
                .regions
                .get(region)
                .ok_or_else(|| Error::cloud_in(region, "no lookups"))?;
            let ami =
                lk.amis.get(&g.name).cloned().ok_or_else(|| {
                    Error::cloud_in(region, format!("no AMI for group {}", g.name))
                })?;
            let subnets = group_subnets(spec, g, lk);
            if subnets.is_empty() {
                return Err(Error::source_at(
                    &g.span,
                    format!(
                        "instance group `{}` has no subnet to launch into in {region}",
                        g.name
                    ),
                ));
            }
            let allowed: HashSet<SubnetRef> = subnets.iter().map(|s| s.0.clone()).collect();
            let subnet_ref_of = |id: &str| -> SubnetRef {
                match subnet_name_by_id.get(id) {
                    Some(n) if matches!(spec.network, Network::Create { .. }) => {
                        SubnetRef::Name(n.to_string())
                    }
                    _ => SubnetRef::Id(id.to_string()),
                }
            };

            // Oldest first: surplus instances are the oldest ones (like amazon.aws exact_count).
            let mut sorted = mine.clone();
            sorted.sort_by(|a, b| {
                a.launch_time
                    .cmp(&b.launch_time)
                    .then(a.index.cmp(&b.index))
            });
            let surplus_n = sorted.len().saturating_sub(g.count as usize);
            let (surplus, kept) = sorted.split_at(surplus_n);
            let taken_g = taken.get_mut(&g.name).expect("entry");
            for s in surplus {
                taken_g.remove(&s.index);
            }
            if !surplus.is_empty() {
                let mut c = change(
                    Action::Destroy,
                    "instance",
                    surplus
                        .iter()
                        .map(|i| format!("{}-{}", g.name, i.index))
                        .collect::<Vec<_>>()
                        .join(", "),
                    region,
                    None,
                    vec![format!(
                        "count {} -> {}: terminating the oldest: {}",
                        sorted.len(),
                        g.count,
                        ids_of(surplus)
                    )],
                    Op::Terminate {
                        ids: surplus.iter().map(|i| i.id.clone()).collect(),
                    },
                );
                c.needs_approval = false;
                destroy.push(c);
            }

            // Subnet load for spreading new instances.
            let mut load: IndexMap<SubnetRef, usize> =
                subnets.iter().map(|s| (s.0.clone(), 0)).collect();
            for k in kept {
                if let Some(id) = &k.subnet_id {
                    if let Some(n) = load.get_mut(&subnet_ref_of(id)) {
                        *n += 1;
                    }
                }
            }
            let az_of: HashMap<SubnetRef, String> = subnets.iter().cloned().collect();
            let pick_subnet = |load: &mut IndexMap<SubnetRef, usize>| -> SubnetRef {
                let (r, n) = load.iter_mut().min_by_key(|(_, n)| **n).expect("subnets");
                *n += 1;
                r.clone()
            };
            let launch_for = |index: u32, subnet: SubnetRef| -> Result<Launch> {
                Ok(Launch {
                    group: g.name.clone(),
                    index,
                    ami: ami.clone(),
                    instance_type: g.instance_type.clone(),
                    key_name: g.key_name.clone(),
                    subnet,
                    security_groups: g.security_groups.iter().map(|s| s.value.clone()).collect(),
                    root_volume_gb: g.root_volume_gb,
                    user_data: g.user_data.clone(),
                    tags: instance_tags(spec, g, index, region)?,
                    elastic_ip: g.elastic_ip,
                })
            };
            let subnet_label = |r: &SubnetRef| -> String {
                let name = match r {
                    SubnetRef::Name(n) => n.clone(),
                    SubnetRef::Id(i) => i.clone(),
                };
                match az_of.get(r) {
                    Some(az) if !az.is_empty() => format!("{name} ({az})"),
                    _ => name,
                }
            };

            let want_launch_hash = launch_hash(g);
            let mut eip_targets: Vec<u32> = vec![];
            for k in kept {
                let mut why = vec![];
                if k.image_id != ami.id {
                    why.push(format!("ami {} -> {} ({})", k.image_id, ami.id, ami.name));
                }
                if k.instance_type != g.instance_type {
                    why.push(format!("type {} -> {}", k.instance_type, g.instance_type));
                }
                if k.key_name != g.key_name {
                    why.push(format!(
                        "key {} -> {}",
                        k.key_name.as_deref().unwrap_or("none"),
                        g.key_name.as_deref().unwrap_or("none")
                    ));
                }
                if k.tags.get(tag::LAUNCH) != Some(&want_launch_hash) {
                    why.push("user_data or root_volume changed".into());
                }
                let cur_subnet = k.subnet_id.as_deref().map(subnet_ref_of);
                let subnet_ok = cur_subnet.as_ref().is_some_and(|s| allowed.contains(s));
                if !subnet_ok {
                    why.push(format!(
                        "subnet {} is not one of the group's",
                        k.subnet_id.as_deref().unwrap_or("?")
                    ));
                }
                if !why.is_empty() {
                    let subnet = if subnet_ok {
                        cur_subnet.clone().unwrap()
                    } else {
                        pick_subnet(&mut load)
                    };
                    let l = launch_for(k.index, subnet.clone())?;
                    why.push(format!("new instance in {}", subnet_label(&subnet)));
                    out.push(change(
                        Action::Replace,
                        "instance",
                        format!("{}-{}", g.name, k.index),
                        region,
                        Some(k.id.clone()),
                        why,
                        Op::Replace {
                            launch: Box::new(l),
                            old_id: k.id.clone(),
                        },
                    ));
                    // The old instance's address moves to the new one; without one,
                    // the new instance gets an address like a launch.
                    if g.elastic_ip
                        && !rs.eips.iter().any(|e| {
                            e.group == g.name && e.instance_id.as_deref() == Some(k.id.as_str())
                        })
                    {
                        eip_targets.push(k.index);
                    }
                    continue;
                }
                // In-place updates.
                let mut details = vec![];
                let want_sgs: BTreeSet<String> =
                    g.security_groups.iter().map(|s| s.value.clone()).collect();
                let have_sgs: BTreeSet<String> = k
                    .sg_ids
                    .iter()
                    .map(|id| {
                        sg_id_to_name
                            .get(id.as_str())
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| id.clone())
                    })
                    .collect();
                let set_sgs = if want_sgs != have_sgs && !want_sgs.is_empty() {
                    details.push(format!(
                        "security groups [{}] -> [{}]",
                        have_sgs.iter().cloned().collect::<Vec<_>>().join(", "),
                        want_sgs.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                    Some(g.security_groups.iter().map(|s| s.value.clone()).collect())
                } else {
                    None
                };
                let want_tags = instance_tags(spec, g, k.index, region)?;
                let mut set_tags = IndexMap::new();
                for (key, v) in &want_tags {
                    if k.tags.get(key) != Some(v) {
                        details.push(format!(
                            "tag {key}: {} -> {v}",
                            k.tags.get(key).map(String::as_str).unwrap_or("(none)")
                        ));
                        set_tags.insert(key.clone(), v.clone());
                    }
                }
                let managed_before: Vec<String> = k
                    .tags
                    .get(tag::TAGS)
                    .map(|s| s.split_whitespace().map(String::from).collect())
                    .unwrap_or_default();
                let remove_tags: Vec<String> = managed_before
                    .into_iter()
                    .filter(|key| !want_tags.contains_key(key) && k.tags.contains_key(key))
                    .collect();
                for key in &remove_tags {
                    details.push(format!("-tag {key}"));
                }
                let start = k.state == "stopped" || k.state == "stopping";
                if start {
                    details.push(format!("start ({})", k.state));
                }
                if !details.is_empty() {
                    out.push(change(
                        Action::Update,
                        "instance",
                        format!("{}-{}", g.name, k.index),
                        region,
                        Some(k.id.clone()),
                        details,
                        Op::UpdateInstance {
                            id: k.id.clone(),
                            security_groups: set_sgs,
                            set_tags,
                            remove_tags,
                            start,
                        },
                    ));
                }
                if g.elastic_ip
                    && !rs.eips.iter().any(|e| {
                        e.group == g.name && e.instance_id.as_deref() == Some(k.id.as_str())
                    })
                {
                    eip_targets.push(k.index);
                }
            }
            // Launches.
            let missing = (g.count as usize).saturating_sub(kept.len());
            let mut new_indexes = vec![];
            let mut next = 1u32;
            while new_indexes.len() < missing {
                if !taken_g.contains(&next) {
                    new_indexes.push(next);
                    taken_g.insert(next);
                }
                next += 1;
            }
            for index in new_indexes {
                let subnet = pick_subnet(&mut load);
                let l = launch_for(index, subnet.clone())?;
                let mut details = vec![format!(
                    "{} {} ({}) in {}",
                    g.instance_type,
                    ami.id,
                    ami.name,
                    subnet_label(&subnet)
                )];
                if let Some(sg) =
                    (!l.security_groups.is_empty()).then(|| l.security_groups.join(", "))
                {
                    details.push(format!("security groups: {sg}"));
                }
                out.push(change(
                    Action::Create,
                    "instance",
                    format!("{}-{index}", g.name),
                    region,
                    None,
                    details,
                    Op::Launch(Box::new(l)),
                ));
                if g.elastic_ip {
                    eip_targets.push(index);
                }
            }
            // Elastic IPs: reuse free ones of the group, allocate the rest, release the surplus.
            let kept_ids: HashSet<&str> = kept.iter().map(|k| k.id.as_str()).collect();
            let group_eips: Vec<&crate::provision::state::Eip> =
                rs.eips.iter().filter(|e| e.group == g.name).collect();
            let mut free: Vec<&crate::provision::state::Eip> = group_eips
                .iter()
                .filter(|e| {
                    e.instance_id
                        .as_deref()
                        .is_none_or(|i| !kept_ids.contains(i))
                })
                .copied()
                .collect();
            // Unassociated first.
            free.sort_by_key(|e| e.instance_id.is_some());
            if g.elastic_ip {
                for index in &eip_targets {
                    let (action, detail, allocation_id) = if free.is_empty() {
                        (
                            Action::Create,
                            format!("allocate for {}-{index}", g.name),
                            None,
                        )
                    } else {
                        let e = free.remove(0);
                        (
                            Action::Update,
                            format!(
                                "associate {} ({}) with {}-{index}",
                                e.public_ip, e.allocation_id, g.name
                            ),
                            Some(e.allocation_id.clone()),
                        )
                    };
                    out.push(change(
                        action,
                        "elastic-ip",
                        format!("{}-{index}", g.name),
                        region,
                        None,
                        vec![detail],
                        Op::EnsureEip {
                            group: g.name.clone(),
                            index: *index,
                            allocation_id,
                        },
                    ));
                }
                for e in free {
                    let mut c = release(e, region, false);
                    c.details
                        .push(format!("count {} leaves it unused", g.count));
                    d_eips.push(c);
                }
            } else {
                for e in group_eips {
                    d_eips.push(release(e, region, true));
                }
            }
        }
        // Instances of groups the spec does not define any more.
        let mut gone: IndexMap<&str, Vec<&Instance>> = IndexMap::new();
        for i in rs
            .instances
            .iter()
            .filter(|i| !spec.instances.contains_key(&i.group))
        {
            gone.entry(i.group.as_str()).or_default().push(i);
        }
        for (name, list) in gone {
            destroy.push(change(
                Action::Destroy,
                "instance",
                format!("{name} x{}", list.len()),
                region,
                None,
                vec![format!(
                    "group `{name}` is not in the spec: {}",
                    ids_of(&list)
                )],
                Op::Terminate {
                    ids: list.iter().map(|i| i.id.clone()).collect(),
                },
            ));
        }
        for e in rs
            .eips
            .iter()
            .filter(|e| !spec.instances.contains_key(&e.group))
        {
            d_eips.push(release(e, region, true));
        }
        Ok(())
    }
}
