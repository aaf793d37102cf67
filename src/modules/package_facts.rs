//! The `package_facts` module: the installed packages as `ansible_facts.packages`
//! (`{name: [{name, version, arch, release?, category?, source}]}`, a list because
//! several versions or architectures can be installed), in one exchange and without
//! Python: `dpkg-query` (source `apt`), `rpm -qa` (`rpm`) or `apk info` (`apk`);
//! `manager: auto` takes the first that exists. Never changes anything (check mode is
//! the same run).

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome, Param};
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct PackageFacts;

const PARAMS: &[&str] = &["manager", "strategy"];
const MANAGERS: &[&str] = &["auto", "apt", "rpm", "apk"];
const SPEC: &[Param] = &[
    Param::new("manager").default("auto").choices(MANAGERS),
    Param::new("strategy")
        .default("first")
        .choices(&["first", "all"]),
];

const SCRIPT: &str = r#"rd_m=$1
if { [ "$rd_m" = auto ] || [ "$rd_m" = apt ]; } && command -v dpkg-query >/dev/null 2>&1; then
  echo '@@RD apt'; LC_ALL=C dpkg-query -W -f '${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${Section}\n'
  [ "$rd_m" = auto ] && [ "$rd_s" = first ] && exit 0
fi
if { [ "$rd_m" = auto ] || [ "$rd_m" = rpm ]; } && command -v rpm >/dev/null 2>&1; then
  echo '@@RD rpm'; LC_ALL=C rpm -qa --queryformat '%{NAME}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{EPOCH}\n'
  [ "$rd_m" = auto ] && [ "$rd_s" = first ] && exit 0
fi
if { [ "$rd_m" = auto ] || [ "$rd_m" = apk ]; } && command -v apk >/dev/null 2>&1; then
  echo '@@RD apk'; apk info -v 2>/dev/null
fi
echo '@@RD end'
"#;

/// Adds one package to the facts.
fn add(out: &mut Map<String, Value>, name: &str, entry: Value) {
    if let Some(Value::Array(a)) = out.get_mut(name) {
        a.push(entry);
    } else {
        out.insert(name.to_string(), json!([entry]));
    }
}

/// Parses the script's output into `packages`.
pub fn parse(text: &str) -> Map<String, Value> {
    let mut pk = Map::new();
    for (sec, body) in super::util::sections(text) {
        for l in body.lines() {
            let f: Vec<&str> = l.split('\t').collect();
            match sec.as_str() {
                // only installed packages (`ii `, `hi `)
                "apt" if f.len() >= 5 && f[0].get(1..2) == Some("i") => add(
                    &mut pk,
                    f[1],
                    json!({"name": f[1], "version": f[2], "arch": f[3], "category": f[4], "source": "apt"}),
                ),
                "rpm" if f.len() >= 5 => {
                    let epoch = f[4].parse::<i64>().ok();
                    add(
                        &mut pk,
                        f[0],
                        json!({"name": f[0], "version": f[1], "release": f[2], "arch": f[3], "epoch": epoch, "source": "rpm"}),
                    )
                }
                "apk" => {
                    // name-version-rREL: the version starts at the last-but-one '-'
                    let parts: Vec<&str> = l.rsplitn(3, '-').collect();
                    if parts.len() == 3 {
                        add(
                            &mut pk,
                            parts[2],
                            json!({"name": parts[2], "version": format!("{}-{}", parts[1], parts[0]), "source": "apk"}),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    pk
}

#[async_trait]
impl Module for PackageFacts {
    fn name(&self) -> &'static str {
        "package_facts"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    fn spec(&self) -> &'static [Param] {
        SPEC
    }
    fn returns(&self) -> &'static [&'static str] {
        &["ansible_facts.packages"]
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("package_facts", PARAMS)?;
        let manager = args
            .list("manager")
            .and_then(|l| l.into_iter().next())
            .unwrap_or_else(|| "auto".into());
        if !MANAGERS.contains(&manager.as_str()) {
            return Err(ModuleError::failed(format!(
                "package_facts: manager must be one of {}, got: {manager}",
                MANAGERS.join(", ")
            )));
        }
        let strategy = args.str("strategy").unwrap_or_else(|| "first".into());
        let mut s = crate::shell::Script::new();
        s.raw("rd_s=")
            .arg(&strategy)
            .raw("\nset -- ")
            .arg(&manager)
            .raw("\n");
        s.raw(SCRIPT);
        let out = ctx.run(s.as_str()).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "package_facts: listing packages failed (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        let pk = parse(&out.stdout_str());
        if pk.is_empty() {
            return Err(ModuleError::failed(format!(
                "Could not detect a supported package manager (tried: {manager}: dpkg-query, rpm, apk)"
            )));
        }
        let mut o = Outcome::ok();
        o.facts.insert("packages".into(), Value::Object(pk));
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_manager() {
        let t = "@@RD apt\nii \ttree\t2.1.0-1\tamd64\tutils\nrc \tgone\t1.0\tamd64\tutils\nii \tlibc6\t2.36-9\tamd64\tlibs\nii \tlibc6\t2.36-9\ti386\tlibs\n@@RD rpm\nbash\t5.1\t2.el9\tx86_64\t(none)\n@@RD apk\nmusl-1.2.4-r2\n@@RD end\n";
        let p = parse(t);
        assert_eq!(p["tree"][0]["version"], "2.1.0-1");
        assert!(p.get("gone").is_none());
        assert_eq!(p["libc6"].as_array().unwrap().len(), 2);
        assert_eq!(p["bash"][0]["release"], "2.el9");
        assert_eq!(p["musl"][0]["version"], "1.2.4-r2");
    }
}
