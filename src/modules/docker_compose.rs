//! The `docker_compose` module (also `community.docker.docker_compose` and
//! `docker_compose_v2`): a Compose project with the Compose v1 module's arguments
//! (`project_src`, `state`, `restarted`, `stopped`, `pull`, `build`, `remove_orphans`,
//! `files`, `services`, `recreate`, `definition`). It runs `docker compose` (v2 plugin)
//! when present, else `docker-compose` (v1), in ONE exchange; `changed` compares the
//! project's containers (id, state, image) before and after.

use super::util::{section, sections};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{json, Value};

pub struct DockerCompose;

const PARAMS: &[&str] = &[
    "project_src",
    "project_name",
    "files",
    "state",
    "services",
    "scale",
    "restarted",
    "stopped",
    "pull",
    "build",
    "recreate",
    "remove_orphans",
    "remove_images",
    "remove_volumes",
    "timeout",
    "env_file",
    "definition",
    "dependencies",
    "hostname_check",
    "nocache",
    "wait",
    "wait_timeout",
    "docker_host",
    "tls",
    "validate_certs",
    "api_version",
    "profiles",
    "debug",
];

/// `(id, state, image)` of each container line `ID STATE IMAGE` (sorted).
pub fn parse_containers(text: &str) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = text
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.len() >= 3).then(|| (t[0].to_string(), t[1].to_string(), t[2].to_string()))
        })
        .collect();
    v.sort();
    v
}

#[async_trait]
impl Module for DockerCompose {
    fn name(&self) -> &'static str {
        "docker_compose"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["docker_compose_v2"]
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("docker_compose", PARAMS)?;
        let definition = args.get("definition").cloned();
        let project_src = args.str("project_src");
        if project_src.is_none() && definition.is_none() {
            return Err(ModuleError::failed(
                "docker_compose: one of project_src, definition is required",
            ));
        }
        let project_name = args.str("project_name");
        if definition.is_some() && project_name.is_none() {
            return Err(ModuleError::failed(
                "docker_compose: project_name is required with definition",
            ));
        }
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let (state, restarted, stopped) = match state.as_str() {
            "present" => (
                "present",
                args.bool_or("restarted", false)?,
                args.bool_or("stopped", false)?,
            ),
            "absent" => ("absent", false, false),
            "restarted" => ("present", true, false),
            "stopped" => ("present", false, true),
            other => {
                return Err(ModuleError::failed(format!(
                    "docker_compose: state must be present or absent, got {other}"
                )))
            }
        };
        let services = args.list("services").unwrap_or_default();
        let files = args.list("files").unwrap_or_default();
        // pull/build: booleans (v1) or policies (v2: always/missing/never/policy).
        let policy = |k: &str| -> Result<Option<String>, ModuleError> {
            match args.get(k) {
                None => Ok(None),
                Some(Value::String(s))
                    if matches!(s.as_str(), "always" | "missing" | "never" | "policy") =>
                {
                    Ok(Some(s.clone()))
                }
                Some(_) => Ok(args.bool(k)?.map(|b| {
                    if b {
                        "always".to_string()
                    } else {
                        "never".to_string()
                    }
                })),
            }
        };
        let pull = policy("pull")?;
        let build = policy("build")?;
        let recreate = args.str("recreate").unwrap_or_else(|| "smart".into());
        let remove_orphans = args.bool_or("remove_orphans", false)?;
        let timeout = args.int("timeout")?;

        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n");
        if let Some(h) = args.str("docker_host") {
            s.raw("DOCKER_HOST=").arg(&h).raw("; export DOCKER_HOST\n");
        }
        s.raw(
            "command -v docker >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || { echo 'docker_compose: docker is not installed on the host (neither docker nor docker-compose was found)' >&2; exit 99; }\n\
             if docker compose version >/dev/null 2>&1; then rd_v=2; dc() { docker compose \"$@\"; }\n\
             elif command -v docker-compose >/dev/null 2>&1; then rd_v=1; dc() { docker-compose \"$@\"; }\n\
             else echo 'docker_compose: no Compose found on the host (neither the docker compose plugin nor docker-compose)' >&2; exit 99; fi\n\
             echo \"@@RD compose v$rd_v\"\n",
        );
        let mut stdin = None;
        if let Some(def) = &definition {
            // JSON is valid YAML: the definition is written as JSON.
            let data = serde_json::to_vec_pretty(def).unwrap_or_default();
            s.raw("rd_dir=$(mktemp -d) || exit 3\ntrap 'rm -rf \"$rd_dir\"' EXIT\n");
            s.raw(&super::util::receive_stdin(
                "\"$rd_dir/docker-compose.yml\"",
                data.len(),
            ));
            s.raw("cd \"$rd_dir\" || exit 3\n");
            stdin = Some(data);
        } else if let Some(p) = &project_src {
            s.raw("cd ")
                .arg(p)
                .raw(" || { echo ")
                .arg(&format!("docker_compose: project_src {p} does not exist"))
                .raw(" >&2; exit 99; }\n");
        }
        let mut base: Vec<String> = Vec::new();
        for f in &files {
            base.extend(["-f".into(), f.clone()]);
        }
        if let Some(n) = &project_name {
            base.extend(["-p".into(), n.clone()]);
        }
        if let Some(e) = args.str("env_file") {
            base.extend(["--env-file".into(), e]);
        }
        for p in args.list("profiles").unwrap_or_default() {
            base.extend(["--profile".into(), p]);
        }
        s.raw("set -- ").args(&base).raw("\n");
        // The project's containers: id, state, image.
        s.raw("rd_ps() { for rd_c in $(dc \"$@\" ps -a -q 2>/dev/null); do docker inspect -f '{{.Id}} {{.State.Status}} {{.Image}}' \"$rd_c\" 2>/dev/null; done; }\n");
        s.raw("echo '@@RD before'; rd_ps \"$@\"\n");
        let svc = &services;
        let check = ctx.check_mode;
        let mut steps: Vec<Vec<String>> = Vec::new();
        if state == "absent" {
            let mut d = vec!["down".to_string()];
            if remove_orphans {
                d.push("--remove-orphans".into());
            }
            if let Some(r) = args.str("remove_images") {
                d.extend(["--rmi".into(), r]);
            }
            if args.bool_or("remove_volumes", false)? {
                d.push("-v".into());
            }
            if let Some(t) = timeout {
                d.extend(["-t".into(), t.to_string()]);
            }
            steps.push(d);
        } else {
            if pull.as_deref() == Some("always") {
                let mut p = vec!["pull".to_string()];
                p.extend(svc.iter().cloned());
                steps.push(p);
            }
            if build.as_deref() == Some("always") {
                let mut b = vec!["build".to_string()];
                if args.bool_or("nocache", false)? {
                    b.push("--no-cache".into());
                }
                b.extend(svc.iter().cloned());
                steps.push(b);
            }
            let mut up = vec!["up".to_string(), "-d".to_string()];
            match recreate.as_str() {
                "always" => up.push("--force-recreate".into()),
                "never" => up.push("--no-recreate".into()),
                _ => {}
            }
            if build.as_deref() == Some("never") {
                up.push("--no-build".into());
            }
            if remove_orphans {
                up.push("--remove-orphans".into());
            }
            if !args.bool_or("dependencies", true)? {
                up.push("--no-deps".into());
            }
            if let Some(t) = timeout {
                up.extend(["-t".into(), t.to_string()]);
            }
            if let Some(Value::Object(scale)) = args.get("scale") {
                for (k, v) in scale {
                    up.extend([
                        "--scale".into(),
                        format!("{k}={}", super::args::value_to_string(v)),
                    ]);
                }
            }
            up.extend(svc.iter().cloned());
            if !stopped {
                steps.push(up);
            } else {
                let mut st = vec!["stop".to_string()];
                st.extend(svc.iter().cloned());
                steps.push(st);
            }
            if restarted {
                let mut r = vec!["restart".to_string()];
                if let Some(t) = timeout {
                    r.extend(["-t".into(), t.to_string()]);
                }
                r.extend(svc.iter().cloned());
                steps.push(r);
            }
        }
        if !check {
            for st in &steps {
                s.raw("echo ")
                    .arg(&format!("@@RD step {}", st[0]))
                    .raw("\ndc \"$@\" ")
                    .args(st)
                    .raw(" >&2 || { rd_rc=$?; echo ")
                    .arg(&format!("docker compose {} failed", st[0]))
                    .raw(" >&2; exit $rd_rc; }\n");
            }
            s.raw("echo '@@RD after'; rd_ps \"$@\"\n");
        }
        let out = ctx.run_stdin(s.as_str(), stdin).await?;
        let stdout = out.stdout_str();
        let stderr = out.stderr_str();
        let secs = sections(&stdout);
        let version = secs
            .iter()
            .find_map(|(n, _)| n.strip_prefix("compose ").map(String::from))
            .unwrap_or_default();
        if out.rc == 99 {
            return Err(ModuleError::failed(stderr.trim().to_string()));
        }
        let before = parse_containers(section(&secs, "before").unwrap_or(""));
        let as_json = |v: &[(String, String, String)]| {
            json!(v
                .iter()
                .map(|(i, s, im)| json!({"id": i, "state": s, "image": im}))
                .collect::<Vec<_>>())
        };
        let mut o = Outcome::ok()
            .with("compose", version)
            .with("containers_before", as_json(&before));
        if out.rc != 0 {
            o.failed = true;
            o.changed = secs.iter().any(|(n, _)| n.starts_with("step "));
            o.msg = Some(format!(
                "docker compose failed (rc={}): {}",
                out.rc,
                stderr
                    .trim()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
            return Ok(o.with("stderr", stderr));
        }
        if check {
            let running = before.iter().filter(|c| c.1 == "running").count();
            o.changed = match state {
                "absent" => !before.is_empty(),
                _ => {
                    restarted
                        || (stopped && running > 0)
                        || (!stopped && (before.is_empty() || running < before.len()))
                        || recreate == "always"
                }
            };
            return Ok(o.with_msg("check mode: prediction from the current containers"));
        }
        let after = parse_containers(section(&secs, "after").unwrap_or(""));
        o.changed = before != after || restarted;
        Ok(o.with("containers", as_json(&after)).with("stderr", stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers() {
        let c = parse_containers("bbb running sha256:2\naaa exited sha256:1\n\n");
        assert_eq!(
            c[0],
            (
                "aaa".to_string(),
                "exited".to_string(),
                "sha256:1".to_string()
            )
        );
        assert_eq!(c.len(), 2);
    }
}
