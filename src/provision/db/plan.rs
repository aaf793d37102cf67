//! Planning databases (pure): the spec's `databases` against the RDS instances and the
//! DB subnet group discovery found. Engine, master user and database name cannot change
//! in RDS: a change there is a replacement (with approval: the data is lost). The rest
//! is modified in place (applied immediately). Storage never shrinks.

use super::spec::DbSpec;
use super::state::Db;
use super::{password_matches, subnet_group_name_for, DbOp};
use crate::error::{Error, Result};
use crate::provision::lookup::Lookups;
use crate::provision::plan::{change, Action, Change, Op};
use crate::provision::spec::{Network, Spec};
use crate::provision::state::{RegionState, State};
use std::collections::BTreeSet;

/// (builds, destroys): subnet groups then databases; databases then subnet groups.
pub fn plan(spec: &Spec, state: &State, lookups: &Lookups) -> Result<(Vec<Change>, Vec<Change>)> {
    let mut groups = vec![];
    let mut dbs = vec![];
    let mut d_dbs = vec![];
    let mut d_groups = vec![];
    for region in &spec.regions {
        let rs = state.region(region);
        let wanted: Vec<&DbSpec> = spec
            .databases
            .values()
            .filter(|d| &d.region == region)
            .collect();
        let group_name = subnet_group_name_for(&spec.project, &spec.env);
        let need_group = wanted.iter().any(|d| d.subnet_group.is_none());
        let cur_group = rs.db.subnet_groups.iter().find(|g| g.name == group_name);
        if need_group {
            let want: BTreeSet<String> = db_subnets(spec, region, lookups)
                .into_iter()
                .map(|n| {
                    rs.subnets
                        .iter()
                        .find(|s| s.name == n)
                        .map(|s| s.id.clone())
                        .unwrap_or(n)
                })
                .collect();
            match cur_group {
                None => groups.push(change(
                    Action::Create,
                    "db-subnet-group",
                    group_name.clone(),
                    region,
                    None,
                    vec![db_subnets(spec, region, lookups).join(", ")],
                    Op::Db(DbOp::CreateSubnetGroup { update: false }),
                )),
                Some(g) if g.subnet_ids.iter().cloned().collect::<BTreeSet<_>>() != want => groups
                    .push(change(
                        Action::Update,
                        "db-subnet-group",
                        group_name.clone(),
                        region,
                        None,
                        vec![format!(
                            "subnets: {}",
                            db_subnets(spec, region, lookups).join(", ")
                        )],
                        Op::Db(DbOp::CreateSubnetGroup { update: true }),
                    )),
                Some(_) => {}
            }
        } else if let Some(g) = cur_group {
            d_groups.push(delete_group(&g.name, region));
        }
        for d in &wanted {
            let cur = rs
                .db
                .instances
                .iter()
                .find(|x| x.aws_id == d.aws_id && !x.deleting());
            match cur {
                None => dbs.push(change(
                    Action::Create,
                    "database",
                    d.aws_id.clone(),
                    region,
                    None,
                    vec![format!(
                        "{} {} {} {} GiB, user {}{}",
                        d.engine,
                        d.engine_version.as_deref().unwrap_or("(default version)"),
                        d.class,
                        d.storage,
                        d.username,
                        d.db_name
                            .as_ref()
                            .map(|n| format!(", database {n}"))
                            .unwrap_or_default()
                    )],
                    Op::Db(DbOp::Create {
                        name: d.name.clone(),
                        replace: None,
                    }),
                )),
                Some(cur) => {
                    let fixed = fixed_drift(d, cur);
                    if !fixed.is_empty() {
                        let mut details = fixed;
                        details.push("(the data in it is lost)".into());
                        dbs.push(change(
                            Action::Replace,
                            "database",
                            d.aws_id.clone(),
                            region,
                            Some(cur.aws_id.clone()),
                            details,
                            Op::Db(DbOp::Create {
                                name: d.name.clone(),
                                replace: Some(cur.aws_id.clone()),
                            }),
                        ));
                        continue;
                    }
                    let (details, password, major) = drift(spec, rs, d, cur)?;
                    if !details.is_empty() {
                        dbs.push(change(
                            Action::Update,
                            "database",
                            d.aws_id.clone(),
                            region,
                            Some(cur.aws_id.clone()),
                            details,
                            Op::Db(DbOp::Modify {
                                name: d.name.clone(),
                                password,
                                version_major: major,
                            }),
                        ));
                    }
                }
            }
        }
        for cur in rs
            .db
            .instances
            .iter()
            .filter(|x| !x.deleting() && !wanted.iter().any(|d| d.aws_id == x.aws_id))
        {
            d_dbs.push(delete_db(cur, region, true));
        }
    }
    groups.extend(dbs);
    d_dbs.extend(d_groups);
    Ok((groups, d_dbs))
}

/// Changes for `destroy`: every database (final snapshot unless the spec says no),
/// then the subnet group.
pub fn destroy(spec: &Spec, rs: &RegionState) -> Vec<Change> {
    let mut out: Vec<Change> = rs
        .db
        .instances
        .iter()
        .filter(|d| !d.deleting())
        .map(|d| {
            let snap = spec.databases.get(&d.name).is_none_or(|s| s.final_snapshot);
            delete_db(d, &rs.region, snap)
        })
        .collect();
    out.extend(
        rs.db
            .subnet_groups
            .iter()
            .map(|g| delete_group(&g.name, &rs.region)),
    );
    out
}

fn delete_db(cur: &Db, region: &str, final_snapshot: bool) -> Change {
    change(
        Action::Destroy,
        "database",
        cur.aws_id.clone(),
        region,
        Some(cur.aws_id.clone()),
        vec![if final_snapshot {
            "a final snapshot is taken".to_string()
        } else {
            "no final snapshot: the data in it is lost".to_string()
        }],
        Op::Db(DbOp::Delete {
            aws_id: cur.aws_id.clone(),
            final_snapshot,
        }),
    )
}

fn delete_group(name: &str, region: &str) -> Change {
    change(
        Action::Destroy,
        "db-subnet-group",
        name.to_string(),
        region,
        None,
        vec![],
        Op::Db(DbOp::DeleteSubnetGroup {
            name: name.to_string(),
        }),
    )
}

/// The subnets of rdeploy's DB subnet group: the private ones of the network (the
/// public ones when there are none), or the default / existing VPC's.
pub fn db_subnets(spec: &Spec, region: &str, lookups: &Lookups) -> Vec<String> {
    match &spec.network {
        Network::Create { private, .. } => spec
            .network
            .planned_subnets()
            .into_iter()
            .filter(|s| s.public != *private)
            .map(|s| s.name)
            .collect(),
        _ => lookups
            .regions
            .get(region)
            .map(|l| l.subnets.iter().map(|s| s.0.clone()).collect())
            .unwrap_or_default(),
    }
}

/// What RDS cannot change in place.
fn fixed_drift(d: &DbSpec, cur: &Db) -> Vec<String> {
    let mut out = vec![];
    if cur.engine != d.engine {
        out.push(format!("engine: {} -> {}", cur.engine, d.engine));
    }
    if cur.username != d.username {
        out.push(format!("master user: {} -> {}", cur.username, d.username));
    }
    if cur.db_name != d.db_name {
        out.push(format!(
            "database name: {} -> {}",
            cur.db_name.as_deref().unwrap_or("none"),
            d.db_name.as_deref().unwrap_or("none")
        ));
    }
    out
}

/// Whether the running version `have` is `want` or one of its minor versions.
pub fn version_matches(want: &str, have: &str) -> bool {
    let w: Vec<&str> = want.split('.').collect();
    let h: Vec<&str> = have.split('.').collect();
    w.len() <= h.len() && w.iter().zip(&h).all(|(a, b)| a == b)
}

/// In-place differences: (details, password changed, major version upgrade).
fn drift(spec: &Spec, rs: &RegionState, d: &DbSpec, cur: &Db) -> Result<(Vec<String>, bool, bool)> {
    let mut out = vec![];
    let mut major = false;
    if cur.class != d.class {
        out.push(format!("class: {} -> {}", cur.class, d.class));
    }
    if d.storage < cur.storage {
        return Err(Error::source_at(
            &d.span,
            format!(
                "database `{}`: storage cannot shrink ({} GiB now, the spec says {}): RDS only grows it",
                d.name, cur.storage, d.storage
            ),
        ));
    }
    if d.storage > cur.storage {
        out.push(format!("storage: {} -> {} GiB", cur.storage, d.storage));
    }
    if let Some(t) = &d.storage_type {
        if cur.storage_type.as_ref() != Some(t) {
            out.push(format!(
                "storage type: {} -> {t}",
                cur.storage_type.as_deref().unwrap_or("default")
            ));
        }
    }
    if let Some(v) = &d.engine_version {
        if !version_matches(v, &cur.engine_version) {
            major = v.split('.').next() != cur.engine_version.split('.').next();
            out.push(format!(
                "engine version: {} -> {v}{}",
                cur.engine_version,
                if major { " (major upgrade)" } else { "" }
            ));
        }
    }
    if cur.multi_az != d.multi_az {
        out.push(format!("multi-AZ: {} -> {}", cur.multi_az, d.multi_az));
    }
    if cur.public != d.public {
        out.push(format!(
            "publicly accessible: {} -> {}",
            cur.public, d.public
        ));
    }
    if let Some(b) = d.backup_retention {
        if cur.backup_retention != Some(b) {
            out.push(format!("backup retention: {b} days"));
        }
    }
    if cur.port.is_some_and(|p| p != d.port as i32) {
        out.push(format!("port: {} -> {}", cur.port.unwrap_or(0), d.port));
    }
    let want_group = d
        .subnet_group
        .clone()
        .unwrap_or_else(|| subnet_group_name_for(&spec.project, &spec.env));
    if cur.subnet_group.as_deref() != Some(want_group.as_str()) {
        out.push(format!(
            "subnet group: {} -> {want_group}",
            cur.subnet_group.as_deref().unwrap_or("none")
        ));
    }
    if !d.security_groups.is_empty() && rs.groups_differ(&d.security_groups, &cur.sg_ids) {
        out.push(format!(
            "security groups: {}",
            d.security_groups
                .iter()
                .map(|s| s.value.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let password = cur
        .password_hash
        .as_deref()
        .is_none_or(|h| !password_matches(d.password.expose(), h));
    if password {
        out.push("password: changed".into());
    }
    Ok((out, password, major))
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_match_by_prefix() {
        assert!(super::version_matches("16", "16.3"));
        assert!(super::version_matches("16.3", "16.3"));
        assert!(!super::version_matches("16.4", "16.3"));
        assert!(!super::version_matches("15", "16.3"));
    }
}
