//! RDS PostgreSQL databases: [`spec`] reads and validates `databases` (the password from
//! a vault value or the environment, never printed), [`state`] discovers instances and
//! DB subnet groups by tags, [`plan`] diffs them, [`apply`] creates, modifies, replaces
//! and deletes them (waits bounded by `timeouts.databases`).

pub mod apply;
pub mod plan;
pub mod spec;
pub mod state;

use crate::provision::state::State;
use serde_json::{json, Value};

/// A salted PBKDF2 hash of the master password (AWS never reports the password, so a
/// change is found by comparing with this). The password itself is in no tag.
pub const TAG_PASSWORD: &str = "rdeploy:password";

const ROUNDS: u32 = 100_000;

/// The DB subnet group rdeploy makes: `<project>-<env>-db`.
pub fn subnet_group_name_for(project: &str, env: &str) -> String {
    crate::provision::spec::slug(&format!("{project}-{env}-db"))
}

/// `pbkdf2-sha256$ROUNDS$SALT$HASH` with a fresh salt.
pub fn password_hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    if getrandom::fill(&mut salt).is_err() {
        salt = [7u8; 16];
    }
    hash_with(password, &hex::encode(salt))
}

fn hash_with(password: &str, salt_hex: &str) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
        password.as_bytes(),
        salt_hex.as_bytes(),
        ROUNDS,
        &mut out,
    );
    format!("pbkdf2-sha256${ROUNDS}${salt_hex}${}", hex::encode(out))
}

/// Whether `password` is the one `hash` was made from.
pub fn password_matches(password: &str, hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    match parts.as_slice() {
        ["pbkdf2-sha256", rounds, salt, _] if *rounds == ROUNDS.to_string() => {
            hash_with(password, salt) == hash
        }
        _ => false,
    }
}

/// What the apply does for a database change.
#[derive(Debug, Clone)]
pub enum DbOp {
    CreateSubnetGroup {
        update: bool,
    },
    DeleteSubnetGroup {
        name: String,
    },
    /// Creates the database (after deleting `replace`, whose data is lost).
    Create {
        name: String,
        replace: Option<String>,
    },
    Modify {
        name: String,
        password: bool,
        version_major: bool,
    },
    Delete {
        aws_id: String,
        final_snapshot: bool,
    },
}

/// `databases.<name>` for the outputs: id, address, port, endpoint, engine,
/// engine_version, db_name, username, status, region.
pub fn outputs(state: &State) -> Value {
    let mut m = serde_json::Map::new();
    for rs in state.regions.values() {
        for d in rs.db.instances.iter().filter(|d| !d.deleting()) {
            m.insert(
                d.name.clone(),
                json!({
                    "id": d.aws_id, "address": d.address, "port": d.port, "endpoint": d.endpoint(),
                    "engine": d.engine, "engine_version": d.engine_version, "db_name": d.db_name,
                    "username": d.username, "status": d.status, "region": rs.region,
                }),
            );
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    #[test]
    fn password_hash_round_trips_and_hides_the_password() {
        let h = super::password_hash("correct-horse-9");
        assert!(!h.contains("correct-horse-9"));
        assert!(super::password_matches("correct-horse-9", &h));
        assert!(!super::password_matches("correct-horse-8", &h));
        assert_ne!(h, super::password_hash("correct-horse-9"), "salted");
    }
}
