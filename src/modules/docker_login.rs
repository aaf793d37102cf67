//! The `docker_login` module: logs the host's docker client in to (or out of) a
//! registry. The password is a secret: it reaches `docker login --password-stdin` on
//! the exchange's stdin, never a command line, and is never returned.
//!
//! Exchange 1 reads the docker config (`~/.docker/config.json` or `config_path`); when
//! it already holds these credentials for the registry (and not `reauthorize`),
//! nothing else runs. Exchange 2 runs `docker login` / `docker logout`.

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};

pub struct DockerLogin;

const PARAMS: &[&str] = &[
    "registry_url",
    "registry",
    "url",
    "username",
    "password",
    "email",
    "reauthorize",
    "reauth",
    "state",
    "config_path",
    "dockercfg_path",
    "docker_host",
    "tls",
    "validate_certs",
    "api_version",
    "timeout",
    "debug",
];

pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// Registry keys compare without scheme and trailing slash (`https://x/` = `x`).
pub fn registry_key(r: &str) -> String {
    let r = r.trim();
    let r = r
        .strip_prefix("https://")
        .or_else(|| r.strip_prefix("http://"))
        .unwrap_or(r);
    let r = r.trim_end_matches('/');
    match r {
        "index.docker.io/v1" | "index.docker.io" | "docker.io" | "registry-1.docker.io" => {
            "index.docker.io/v1".into()
        }
        other => other.to_string(),
    }
}

/// The `auths` entry of a docker config for a registry, if any.
pub fn find_auth<'a>(config: &'a Value, registry: &str) -> Option<(&'a String, &'a Value)> {
    let want = registry_key(registry);
    config
        .get("auths")?
        .as_object()?
        .iter()
        .find(|(k, _)| registry_key(k) == want)
}

#[async_trait]
impl Module for DockerLogin {
    fn name(&self) -> &'static str {
        "docker_login"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("docker_login", PARAMS)?;
        let registry = args
            .str_any(&["registry_url", "registry", "url"])
            .unwrap_or_else(|| DOCKER_HUB.into());
        let state = args.str("state").unwrap_or_else(|| "present".into());
        let reauth = args.bool_or("reauthorize", false)? || args.bool_or("reauth", false)?;
        let username = args.str("username");
        let password = args.str("password");
        if state == "present" && (username.is_none() || password.is_none()) {
            return Err(ModuleError::failed("docker_login: state is present but all of the following are missing: username, password"));
        }
        if state != "present" && state != "absent" {
            return Err(ModuleError::failed(format!(
                "docker_login: state must be present or absent, got {state}"
            )));
        }
        let config_path = args.str_any(&["config_path", "dockercfg_path"]);

        let mut pre = Script::new();
        pre.raw("LC_ALL=C; export LC_ALL\n");
        if let Some(h) = args.str("docker_host") {
            pre.raw("DOCKER_HOST=")
                .arg(&h)
                .raw("; export DOCKER_HOST\n");
        }
        pre.raw("command -v docker >/dev/null 2>&1 || { echo 'docker_login: the docker client is not installed on the host' >&2; exit 99; }\n");
        match &config_path {
            Some(p) => {
                pre.raw("rd_cfg=")
                    .arg(p)
                    .raw("\nDOCKER_CONFIG=$(dirname \"$rd_cfg\"); export DOCKER_CONFIG\n");
            }
            None => {
                pre.raw("rd_cfg=\"${DOCKER_CONFIG:-$HOME/.docker}/config.json\"\n");
            }
        }
        let mut s = pre.clone();
        s.raw("[ -f \"$rd_cfg\" ] && cat \"$rd_cfg\"\nexit 0\n");
        let out = ctx.run(s.as_str()).await?;
        if out.rc == 99 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let cfg: Value = serde_json::from_slice(&out.stdout).unwrap_or(json!({}));
        let entry = find_auth(&cfg, &registry);
        let mut o = Outcome::ok().with("registry", registry.clone());

        if state == "absent" {
            if entry.is_none() {
                return Ok(o.with_msg(format!("not logged in to {registry}")));
            }
            o.changed = true;
            if ctx.check_mode {
                return Ok(o);
            }
            let mut s = pre;
            s.raw("docker logout ").arg(&registry).raw(" >&2\n");
            let r = ctx.run(s.as_str()).await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "docker logout failed: {}",
                    r.stderr_str().trim()
                )));
            }
            return Ok(o.with_msg(format!("logged out of {registry}")));
        }

        let username = username.unwrap_or_default();
        let password = password.unwrap_or_default();
        let want_auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let same = entry
            .and_then(|(_, v)| v.get("auth"))
            .and_then(|a| a.as_str())
            == Some(want_auth.as_str());
        // With a credentials store the config holds no auth: trust an entry for this registry
        // only when it is stored inline; otherwise log in again (docker login is idempotent).
        o = o.with("login_result", json!({"username": username, "serveraddress": registry, "password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}));
        if same && !reauth {
            return Ok(o.with_msg(format!("already logged in to {registry}")));
        }
        o.changed = true;
        if ctx.check_mode {
            return Ok(o);
        }
        let mut s = pre;
        s.raw("docker login --username ")
            .arg(&username)
            .raw(" --password-stdin ")
            .arg(&registry)
            .raw(" >&2\n");
        let r = ctx
            .run_stdin(s.as_str(), Some(format!("{password}\n").into_bytes()))
            .await?;
        if r.rc != 0 {
            // docker's message never contains the password; keep only its last line.
            let err = r.stderr_str();
            return Ok(Outcome::failed(format!(
                "Logging into {registry} for user {username} failed - {}",
                err.trim().lines().last().unwrap_or("")
            )));
        }
        Ok(o.with_msg(format!("logged in to {registry}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        assert_eq!(
            registry_key("https://index.docker.io/v1/"),
            registry_key("docker.io")
        );
        assert_eq!(registry_key("registry.local:5000/"), "registry.local:5000");
        let cfg = json!({"auths": {"registry.local:5000": {"auth": "dTpw"}}});
        assert!(find_auth(&cfg, "http://registry.local:5000").is_some());
        assert!(find_auth(&cfg, "other").is_none());
    }
}
