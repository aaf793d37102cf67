//! The spec's `databases` section: RDS PostgreSQL instances, validated with positions
//! before any API call. The master password comes from an inline `!vault` value, a
//! variable of a (vault-encrypted) vars file, or an environment variable — never from
//! clear text in the spec — and is registered with the censor, so no event, error or
//! log line shows it.

use crate::error::{Error, Result, Span};
use crate::provision::fields::{
    bool_of, logical_name, map_entries, seq_of, spec_region_of, str_of, uint_of, Fields,
};
use crate::provision::spec::{slug, Located, Spec};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;
use std::path::Path;

/// A password: never shown by `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone)]
pub struct DbSpec {
    pub name: String,
    /// The RDS identifier: `<project>-<env>-<name>` (at most 63 characters).
    pub aws_id: String,
    pub engine: String,
    /// A version or its prefix ("16" matches 16.3).
    pub engine_version: Option<String>,
    pub class: String,
    /// GiB.
    pub storage: u32,
    pub storage_type: Option<String>,
    pub username: String,
    pub password: Password,
    pub db_name: Option<String>,
    pub port: u16,
    /// An existing DB subnet group (`None`: rdeploy makes `<project>-<env>-db`).
    pub subnet_group: Option<String>,
    pub security_groups: Vec<Located<String>>,
    pub multi_az: bool,
    pub public: bool,
    pub backup_retention: Option<u32>,
    /// Take a final snapshot when the database is destroyed (default true).
    pub final_snapshot: bool,
    pub region: String,
    pub span: Span,
}

/// Reads `databases:`.
pub fn parse(
    n: &Node,
    regions: &[String],
    prefix: &str,
    spec_path: &Path,
) -> Result<IndexMap<String, DbSpec>> {
    let mut out = IndexMap::new();
    for (k, v) in map_entries(n, "databases")? {
        let name = logical_name(k)?;
        let db = db_of(&name, v, regions, prefix, spec_path)?;
        out.insert(name, db);
    }
    Ok(out)
}

fn db_of(
    name: &str,
    n: &Node,
    regions: &[String],
    prefix: &str,
    spec_path: &Path,
) -> Result<DbSpec> {
    let mut f = Fields::new(n, "a database")?;
    f.allow(&[
        "engine",
        "engine_version",
        "class",
        "instance_class",
        "storage",
        "storage_type",
        "username",
        "password",
        "db_name",
        "port",
        "subnet_group",
        "security_groups",
        "multi_az",
        "publicly_accessible",
        "backup_retention",
        "final_snapshot",
        "region",
    ])?;
    let engine = match f.get("engine") {
        None => "postgres".to_string(),
        Some(v) => {
            let e = str_of(v, "engine")?;
            if e != "postgres" {
                return Err(v.error(format!(
                    "engine `{e}` is not supported: rdeploy manages RDS PostgreSQL (`postgres`)"
                )));
            }
            e
        }
    };
    let engine_version = match f.get("engine_version") {
        Some(v) => Some(
            v.scalar_string()
                .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| v.error("`engine_version` is a version like \"16\" or \"16.3\""))?,
        ),
        None => None,
    };
    let class_node = match (f.get("class"), f.get("instance_class")) {
        (Some(a), Some(_)) => {
            return Err(a.error("use either `class` or `instance_class`, not both"))
        }
        (a, b) => a.or(b),
    };
    let class = match class_node {
        Some(v) => {
            let c = str_of(v, "class")?;
            if !c.starts_with("db.") {
                return Err(v.error(format!(
                    "`{c}` is not a DB instance class (like db.t3.micro)"
                )));
            }
            c
        }
        None => "db.t3.micro".to_string(),
    };
    let storage = match f.get("storage") {
        Some(v) => {
            let s = uint_of(v, "storage")?;
            if !(20..=65536).contains(&s) {
                return Err(v.error("`storage` is 20 to 65536 GiB"));
            }
            s
        }
        None => 20,
    };
    let storage_type = match f.get("storage_type") {
        Some(v) => {
            let t = str_of(v, "storage_type")?;
            if !["gp2", "gp3", "io1", "io2", "standard"].contains(&t.as_str()) {
                return Err(v.error("`storage_type` is gp2, gp3, io1, io2 or standard"));
            }
            Some(t)
        }
        None => None,
    };
    let username = match f.get("username") {
        Some(v) => {
            let u = str_of(v, "username")?;
            let ok = u.len() <= 63
                && u.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !["postgres", "rdsadmin", "admin", "user"].contains(&u.as_str());
            if !ok {
                return Err(v.error(format!("`{u}` is not a usable master user name (a letter, then letters, digits, `_`; not a reserved word)")));
            }
            u
        }
        None => "app".to_string(),
    };
    let password = password_of(f.required("password")?, spec_path)?;
    let db_name = match f.get("db_name") {
        Some(v) => {
            let d = str_of(v, "db_name")?;
            let ok = d.len() <= 63
                && d.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(v.error(format!(
                    "`{d}` is not a database name (a letter, then letters, digits, `_`)"
                )));
            }
            Some(d)
        }
        None => None,
    };
    let port = match f.get("port") {
        Some(v) => {
            let p = uint_of(v, "port")?;
            if !(1150..=65535).contains(&p) {
                return Err(v.error("an RDS port is 1150 to 65535"));
            }
            p as u16
        }
        None => 5432,
    };
    let subnet_group = match f.get("subnet_group") {
        Some(v) => Some(str_of(v, "subnet_group")?),
        None => None,
    };
    let mut security_groups = vec![];
    if let Some(v) = f.get("security_groups") {
        for s in seq_of(v, "security_groups")? {
            security_groups.push(Located {
                value: str_of(s, "a security group name")?,
                span: s.span.clone(),
            });
        }
    }
    let flag = |k: &str, d: bool| -> Result<bool> {
        match f.get(k) {
            Some(v) => bool_of(v, k),
            None => Ok(d),
        }
    };
    let multi_az = flag("multi_az", false)?;
    let public = flag("publicly_accessible", false)?;
    let final_snapshot = flag("final_snapshot", true)?;
    let backup_retention = match f.get("backup_retention") {
        Some(v) => {
            let d = uint_of(v, "backup_retention")?;
            if d > 35 {
                return Err(v.error("`backup_retention` is 0 to 35 days"));
            }
            Some(d)
        }
        None => None,
    };
    let region = match f.get("region") {
        Some(v) => spec_region_of(v, regions)?,
        None => regions[0].clone(),
    };
    let aws_id = slug(&format!("{prefix}-{name}"));
    if aws_id.len() > 63 || !aws_id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(n.error(format!(
            "the RDS identifier `{aws_id}` (<project>-<env>-<name>) must start with a letter and have at most 63 characters"
        )));
    }
    Ok(DbSpec {
        name: name.to_string(),
        aws_id,
        engine,
        engine_version,
        class,
        storage,
        storage_type,
        username,
        password,
        db_name,
        port,
        subnet_group,
        security_groups,
        multi_az,
        public,
        backup_retention,
        final_snapshot,
        region,
        span: n.span.clone(),
    })
}

/// `!vault |...`, `{env: NAME}` or `{file: vars.yml, var: NAME}`; checked against RDS's
/// rules without ever putting the value in a message.
fn password_of(v: &Node, spec_path: &Path) -> Result<Password> {
    let value = match &v.kind {
        NodeKind::Str(s) => {
            // An inline `!vault` value was decrypted by the loader and registered.
            if crate::vault::censor::censor(s) == s.as_str() {
                return Err(v.error(
                    "the password is in clear text in the spec: use an inline `!vault` value, `{env: NAME}` or `{file: vault.yml, var: NAME}`",
                ));
            }
            s.clone()
        }
        NodeKind::Map(_) => {
            let mut f = Fields::new(v, "a password source")?;
            f.allow(&["env", "file", "var"])?;
            match (f.get("env"), f.get("file")) {
                (Some(e), None) => {
                    let name = str_of(e, "env")?;
                    let val = std::env::var(&name).map_err(|_| {
                        e.error(format!(
                            "the environment variable `{name}` (the database password) is not set"
                        ))
                    })?;
                    val
                }
                (None, Some(file)) => {
                    let var_node = f.required("var")?;
                    let var = str_of(var_node, "var")?;
                    let rel = str_of(file, "file")?;
                    let path = spec_path.parent().unwrap_or(Path::new(".")).join(&rel);
                    let (text, _vaulted) = crate::vault::read_text(&path)
                        .map_err(|e| file.error(format!("cannot read {}: {e}", path.display())))?;
                    let doc = crate::yaml::load_str(&text, &path)?;
                    let val = doc
                        .get(&var)
                        .and_then(|n| n.scalar_string())
                        .ok_or_else(|| {
                            var_node
                                .error(format!("{} has no string variable `{var}`", path.display()))
                        })?;
                    val
                }
                _ => {
                    return Err(v.error(
                        "a password source is `{env: NAME}` or `{file: vault.yml, var: NAME}`",
                    ))
                }
            }
        }
        _ => {
            return Err(v.error(
                "`password` is a `!vault` value, `{env: NAME}` or `{file: vault.yml, var: NAME}`",
            ))
        }
    };
    crate::vault::censor::register(&value);
    let bad = value
        .chars()
        .any(|c| !c.is_ascii_graphic() || c == '/' || c == '"' || c == '@');
    if value.len() < 8 || value.len() > 128 || bad {
        return Err(v.error(
            "the password must be 8 to 128 printable ASCII characters without `/`, `\"`, `@` or spaces (RDS's rule)",
        ));
    }
    Ok(Password(value))
}

/// References: security groups; the network has subnets for a subnet group.
pub fn check(spec: &Spec) -> Result<()> {
    for db in spec.databases.values() {
        for s in &db.security_groups {
            if !s.value.starts_with("sg-") && !spec.security_groups.contains_key(&s.value) {
                return Err(Error::source_at(
                    &s.span,
                    format!(
                        "database `{}`: security group `{}` is not defined (defined: {})",
                        db.name,
                        s.value,
                        spec.security_groups
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
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

    #[test]
    fn password_from_env_is_never_in_debug_output() {
        std::env::set_var("RDEPLOY_UNIT_DB_PW", "unit-Secret-4711");
        let s = parse("project: shop\nenv: dev\nregion: us-east-1\ndatabases:\n  main: {password: {env: RDEPLOY_UNIT_DB_PW}, engine_version: \"16\"}\n").unwrap();
        let db = &s.databases["main"];
        assert_eq!(db.aws_id, "shop-dev-main");
        assert_eq!(db.password.expose(), "unit-Secret-4711");
        assert!(!format!("{s:?}").contains("unit-Secret-4711"));
        assert!(!crate::vault::censor::censor("x unit-Secret-4711 y").contains("unit-Secret"));
    }

    #[test]
    fn clear_text_and_missing_env_are_errors() {
        std::env::set_var("RDEPLOY_UNIT_DB_PW", "unit-Secret-4711");
        let e = parse("project: shop\nenv: dev\nregion: us-east-1\ndatabases:\n  main: {password: hunter22-plain}\n").unwrap_err().to_string();
        assert!(
            e.starts_with("infra.yml:5:20: the password is in clear text"),
            "{e}"
        );
        assert!(!e.contains("hunter22-plain"), "{e}");
        let e = parse("project: shop\nenv: dev\nregion: us-east-1\ndatabases:\n  main: {password: {env: RDEPLOY_UNIT_NOT_SET_X}}\n").unwrap_err().to_string();
        assert!(
            e.starts_with("infra.yml:5:26: the environment variable `RDEPLOY_UNIT_NOT_SET_X`"),
            "{e}"
        );
        let e = parse("project: shop\nenv: dev\nregion: us-east-1\ndatabases:\n  main: {password: {env: RDEPLOY_UNIT_DB_PW}, security_groups: [db]}\n").unwrap_err().to_string();
        assert!(
            e.contains("database `main`: security group `db` is not defined"),
            "{e}"
        );
    }
}
