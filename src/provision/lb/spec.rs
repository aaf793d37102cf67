//! The spec's `load_balancers` section: application and network load balancers, their
//! target groups (built from instance groups), listeners, default actions and rules,
//! validated with positions before any API call (docs/PROVISION.md, "load_balancers").

use crate::error::{Error, Result, Span};
use crate::provision::aws::short_hash;
use crate::provision::fields::{
    bool_of, logical_name, map_entries, seq_of, spec_region_of, str_of, uint_of, Fields,
};
use crate::provision::spec::{slug, Located, Network, Spec, SubnetSel};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbType {
    Application,
    Network,
}

impl LbType {
    /// The value of the ELBv2 API (`application`, `network`).
    pub fn as_str(&self) -> &'static str {
        match self {
            LbType::Application => "application",
            LbType::Network => "network",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LbSpec {
    pub name: String,
    /// `<project>-<env>-<name>` made to fit AWS's 32 characters.
    pub aws_name: String,
    pub lb_type: LbType,
    pub internal: bool,
    pub subnets: SubnetSel,
    pub security_groups: Vec<Located<String>>,
    pub region: String,
    pub target_groups: IndexMap<String, TargetGroupSpec>,
    pub listeners: Vec<ListenerSpec>,
    pub span: Span,
}

impl LbSpec {
    pub fn scheme(&self) -> &'static str {
        if self.internal {
            "internal"
        } else {
            "internet-facing"
        }
    }
}

#[derive(Debug, Clone)]
pub struct TargetGroupSpec {
    pub name: String,
    /// Includes a hash of the settings AWS cannot change (protocol, port), so that a
    /// changed one is a new target group created before the old one goes.
    pub aws_name: String,
    /// The instance group whose instances are the targets.
    pub instances: Located<String>,
    pub port: u16,
    pub protocol: String,
    pub health: HealthCheck,
    /// lb_cookie stickiness duration in seconds (`None`: stickiness off).
    pub stickiness: Option<u32>,
    pub deregistration_delay: Option<u32>,
    pub span: Span,
}

/// The health check settings the spec sets; unset ones are left at AWS's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheck {
    pub protocol: Option<String>,
    pub path: Option<String>,
    pub port: Option<String>,
    pub interval: Option<u32>,
    pub timeout: Option<u32>,
    pub healthy: Option<u32>,
    pub unhealthy: Option<u32>,
    pub matcher: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListenerSpec {
    pub port: u16,
    pub protocol: String,
    pub certificate: Option<String>,
    pub ssl_policy: Option<String>,
    pub default: ActionSpec,
    pub rules: Vec<LbRuleSpec>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    /// To a target group of the same load balancer, by name.
    Forward(String),
    Redirect {
        protocol: Option<String>,
        port: Option<String>,
        host: Option<String>,
        path: Option<String>,
        query: Option<String>,
        /// HTTP_301 or HTTP_302.
        status: String,
    },
    Fixed {
        status: String,
        content_type: String,
        body: Option<String>,
    },
}

impl std::fmt::Display for ActionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionSpec::Forward(tg) => write!(f, "forward to {tg}"),
            ActionSpec::Redirect {
                protocol,
                port,
                host,
                path,
                status,
                ..
            } => {
                let parts: Vec<String> = [
                    protocol.clone(),
                    host.clone(),
                    port.as_ref().map(|p| format!(":{p}")),
                    path.clone(),
                ]
                .into_iter()
                .flatten()
                .collect();
                write!(f, "redirect {} {}", parts.join(" "), status)
            }
            ActionSpec::Fixed { status, .. } => write!(f, "fixed response {status}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LbRuleSpec {
    pub priority: u32,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub action: ActionSpec,
    pub span: Span,
}

impl LbRuleSpec {
    pub fn describe(&self) -> String {
        let mut c = vec![];
        if !self.hosts.is_empty() {
            c.push(format!("host {}", self.hosts.join(",")));
        }
        if !self.paths.is_empty() {
            c.push(format!("path {}", self.paths.join(",")));
        }
        format!(
            "rule {}: {} -> {}",
            self.priority,
            c.join(" and "),
            self.action
        )
    }
}

/// An AWS name for `<parts>` of at most `max` characters: the slug itself when it fits,
/// else its start and a hash of the whole (stable, so discovery finds it again).
pub fn fit_name(full: &str, max: usize, suffix: Option<&str>) -> String {
    let base = slug(full);
    let tail = suffix.map(|s| format!("-{s}")).unwrap_or_default();
    if base.len() + tail.len() <= max {
        return format!("{base}{tail}");
    }
    let hash = &short_hash(&base)[..6];
    let keep = max - tail.len() - hash.len() - 1;
    let head: String = base.chars().take(keep).collect();
    format!("{}-{hash}{tail}", head.trim_end_matches('-'))
}

/// Reads `load_balancers:`; references are checked by [`check`] once the spec is whole.
pub fn parse(n: &Node, regions: &[String], prefix: &str) -> Result<IndexMap<String, LbSpec>> {
    let mut out = IndexMap::new();
    for (k, v) in map_entries(n, "load_balancers")? {
        let name = logical_name(k)?;
        let lb = lb_of(&name, v, regions, prefix)?;
        out.insert(name, lb);
    }
    Ok(out)
}

fn lb_of(name: &str, n: &Node, regions: &[String], prefix: &str) -> Result<LbSpec> {
    let mut f = Fields::new(n, "a load balancer")?;
    f.allow(&[
        "type",
        "scheme",
        "internal",
        "subnets",
        "security_groups",
        "region",
        "target_groups",
        "listeners",
    ])?;
    let lb_type = match f.get("type") {
        None => LbType::Application,
        Some(v) => match v.as_str() {
            Some("application") | Some("alb") => LbType::Application,
            Some("network") | Some("nlb") => LbType::Network,
            _ => return Err(v.error("`type` must be application (default) or network")),
        },
    };
    let internal = match (f.get("scheme"), f.get("internal")) {
        (Some(a), Some(_)) => return Err(a.error("use either `scheme` or `internal`, not both")),
        (Some(v), None) => match v.as_str() {
            Some("internet-facing") => false,
            Some("internal") => true,
            _ => return Err(v.error("`scheme` must be internet-facing (default) or internal")),
        },
        (None, Some(v)) => bool_of(v, "internal")?,
        (None, None) => false,
    };
    let subnets =
        match f.get("subnets") {
            None => {
                if internal {
                    SubnetSel::Private
                } else {
                    SubnetSel::Public
                }
            }
            Some(v) => match &v.kind {
                NodeKind::Str(s) if s == "public" => SubnetSel::Public,
                NodeKind::Str(s) if s == "private" => SubnetSel::Private,
                NodeKind::Seq(items) if !items.is_empty() => {
                    let mut out = vec![];
                    for i in items {
                        out.push(str_of(i, "a subnet name")?);
                    }
                    SubnetSel::Named(out)
                }
                _ => return Err(v.error(
                    "`subnets` must be public, private or a list of subnets (public-a, subnet-...)",
                )),
            },
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
    let region = match f.get("region") {
        Some(v) => spec_region_of(v, regions)?,
        None => regions[0].clone(),
    };
    let mut target_groups = IndexMap::new();
    if let Some(v) = f.get("target_groups") {
        for (k, tv) in map_entries(v, "target_groups")? {
            let tg_name = logical_name(k)?;
            let tg = target_group_of(&tg_name, tv, lb_type, &format!("{prefix}-{name}"))?;
            target_groups.insert(tg_name, tg);
        }
    }
    let list = f.required("listeners")?;
    let mut listeners: Vec<ListenerSpec> = vec![];
    for l in seq_of(list, "listeners")? {
        let ls = listener_of(l, lb_type)?;
        if listeners.iter().any(|o| o.port == ls.port) {
            return Err(l.error(format!(
                "load balancer `{name}` has two listeners on port {}",
                ls.port
            )));
        }
        listeners.push(ls);
    }
    if listeners.is_empty() {
        return Err(list.error("a load balancer needs at least one listener"));
    }
    Ok(LbSpec {
        name: name.to_string(),
        aws_name: fit_name(&format!("{prefix}-{name}"), 32, None),
        lb_type,
        internal,
        subnets,
        security_groups,
        region,
        target_groups,
        listeners,
        span: n.span.clone(),
    })
}

fn protocol_of(v: &Node, allowed: &[&str], what: &str) -> Result<String> {
    let p = v.scalar_string().unwrap_or_default().to_ascii_uppercase();
    if !allowed.contains(&p.as_str()) {
        return Err(v.error(format!(
            "`{p}` is not a {what} protocol here (use {})",
            allowed.join(", ")
        )));
    }
    Ok(p)
}

fn port_of(v: &Node, what: &str) -> Result<u16> {
    let p = uint_of(v, what)?;
    if !(1..=65535).contains(&p) {
        return Err(v.error(format!("`{what}` must be a port between 1 and 65535")));
    }
    Ok(p as u16)
}

fn target_group_of(name: &str, n: &Node, t: LbType, owner: &str) -> Result<TargetGroupSpec> {
    let mut f = Fields::new(n, "a target group")?;
    f.allow(&[
        "instances",
        "port",
        "protocol",
        "health_check",
        "stickiness",
        "deregistration_delay",
    ])?;
    let inst = f.required("instances")?;
    let instances = Located {
        value: str_of(inst, "instances (an instance group)")?,
        span: inst.span.clone(),
    };
    let port = port_of(f.required("port")?, "port")?;
    let (allowed, default): (&[&str], &str) = match t {
        LbType::Application => (&["HTTP", "HTTPS"], "HTTP"),
        LbType::Network => (&["TCP", "UDP", "TLS", "TCP_UDP"], "TCP"),
    };
    let protocol = match f.get("protocol") {
        Some(v) => protocol_of(v, allowed, "target group")?,
        None => default.to_string(),
    };
    let mut health = HealthCheck::default();
    if let Some(h) = f.get("health_check") {
        let mut hf = Fields::new(h, "a health check")?;
        hf.allow(&[
            "protocol",
            "path",
            "port",
            "interval",
            "timeout",
            "healthy_threshold",
            "unhealthy_threshold",
            "matcher",
        ])?;
        if let Some(v) = hf.get("protocol") {
            health.protocol = Some(protocol_of(v, &["HTTP", "HTTPS", "TCP"], "health check")?);
        }
        if let Some(v) = hf.get("path") {
            let p = str_of(v, "health_check.path")?;
            if !p.starts_with('/') {
                return Err(v.error("a health check path starts with `/`"));
            }
            health.path = Some(p);
        }
        if let Some(v) = hf.get("port") {
            health.port = Some(match &v.kind {
                NodeKind::Str(s) if s == "traffic-port" => s.clone(),
                _ => port_of(v, "health_check.port")?.to_string(),
            });
        }
        let secs = |key: &str, lo: u32, hi: u32| -> Result<Option<u32>> {
            match hf.get(key) {
                None => Ok(None),
                Some(v) => {
                    let x = uint_of(v, key)?;
                    if !(lo..=hi).contains(&x) {
                        return Err(v.error(format!("`{key}` must be between {lo} and {hi}")));
                    }
                    Ok(Some(x))
                }
            }
        };
        health.interval = secs("interval", 5, 300)?;
        health.timeout = secs("timeout", 2, 120)?;
        health.healthy = secs("healthy_threshold", 2, 10)?;
        health.unhealthy = secs("unhealthy_threshold", 2, 10)?;
        if let Some(v) = hf.get("matcher") {
            health.matcher = Some(
                v.scalar_string()
                    .ok_or_else(|| v.error("`matcher` is HTTP codes like 200 or 200-399"))?,
            );
        }
        let http_check = health
            .protocol
            .as_deref()
            .map(|p| p != "TCP")
            .unwrap_or(t == LbType::Application);
        if !http_check {
            for k in ["path", "matcher"] {
                if let Some(v) = hf.get(k) {
                    return Err(v.error(format!("`{k}` needs an HTTP or HTTPS health check")));
                }
            }
        }
    }
    let stickiness = match f.get("stickiness") {
        None => None,
        Some(v) => {
            if t != LbType::Application {
                return Err(v.error(
                    "stickiness (lb_cookie) is for application load balancers' HTTP target groups",
                ));
            }
            match &v.kind {
                NodeKind::Bool(false) => None,
                NodeKind::Bool(true) => Some(86400),
                NodeKind::Int(_) => Some(uint_of(v, "stickiness")?),
                NodeKind::Map(_) => {
                    let mut sf = Fields::new(v, "stickiness")?;
                    sf.allow(&["duration"])?;
                    match sf.get("duration") {
                        Some(d) => Some(uint_of(d, "stickiness.duration")?),
                        None => Some(86400),
                    }
                }
                _ => {
                    return Err(v.error(
                        "`stickiness` is true, false, a duration in seconds or {duration: N}",
                    ))
                }
            }
        }
    };
    if let (Some(d), Some(v)) = (stickiness, f.get("stickiness")) {
        if !(1..=604800).contains(&d) {
            return Err(v.error("a stickiness duration is 1 to 604800 seconds"));
        }
    }
    let deregistration_delay = match f.get("deregistration_delay") {
        Some(v) => {
            let d = uint_of(v, "deregistration_delay")?;
            if d > 3600 {
                return Err(v.error("`deregistration_delay` is 0 to 3600 seconds"));
            }
            Some(d)
        }
        None => None,
    };
    let fixed = short_hash(&format!("{protocol}:{port}"));
    Ok(TargetGroupSpec {
        name: name.to_string(),
        aws_name: fit_name(&format!("{owner}-{name}"), 32, Some(&fixed[..6])),
        instances,
        port,
        protocol,
        health,
        stickiness,
        deregistration_delay,
        span: n.span.clone(),
    })
}

fn listener_of(n: &Node, t: LbType) -> Result<ListenerSpec> {
    let mut f = Fields::new(n, "a listener")?;
    f.allow(&[
        "port",
        "protocol",
        "certificate",
        "certificate_arn",
        "ssl_policy",
        "default",
        "rules",
    ])?;
    let port = port_of(f.required("port")?, "port")?;
    let allowed: &[&str] = match t {
        LbType::Application => &["HTTP", "HTTPS"],
        LbType::Network => &["TCP", "UDP", "TLS", "TCP_UDP"],
    };
    let protocol = match f.get("protocol") {
        Some(v) => protocol_of(v, allowed, "listener")?,
        None => match (t, port) {
            (LbType::Application, 443) => "HTTPS".into(),
            (LbType::Application, _) => "HTTP".into(),
            (LbType::Network, _) => "TCP".into(),
        },
    };
    let cert_node = match (f.get("certificate"), f.get("certificate_arn")) {
        (Some(a), Some(_)) => {
            return Err(a.error("use either `certificate` or `certificate_arn`, not both"))
        }
        (a, b) => a.or(b),
    };
    let secure = protocol == "HTTPS" || protocol == "TLS";
    let certificate = match cert_node {
        Some(v) => {
            if !secure {
                return Err(v.error(format!(
                    "a {protocol} listener takes no certificate (HTTPS or TLS do)"
                )));
            }
            let arn = str_of(v, "certificate")?;
            let ok = arn.starts_with("arn:aws")
                && (arn.contains(":acm:") && arn.contains(":certificate/")
                    || arn.contains(":iam::") && arn.contains(":server-certificate/"));
            if !ok {
                return Err(v.error(format!(
                    "`{arn}` is not a certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID, or an IAM server certificate)"
                )));
            }
            Some(arn)
        }
        None => {
            if secure {
                return Err(n.error(format!(
                    "a {protocol} listener needs `certificate` (an ACM certificate ARN)"
                )));
            }
            None
        }
    };
    let ssl_policy = match f.get("ssl_policy") {
        Some(v) if secure => Some(str_of(v, "ssl_policy")?),
        Some(v) => return Err(v.error("`ssl_policy` applies to HTTPS and TLS listeners")),
        None => None,
    };
    let default = action_of(f.required("default")?, t)?;
    let mut rules: Vec<LbRuleSpec> = vec![];
    if let Some(v) = f.get("rules") {
        if t != LbType::Application {
            return Err(v.error("rules (host and path) are for application load balancers"));
        }
        for (i, r) in seq_of(v, "rules")?.iter().enumerate() {
            let rule = rule_of(r, (i as u32 + 1) * 10)?;
            if rules.iter().any(|o| o.priority == rule.priority) {
                return Err(r.error(format!(
                    "two rules of this listener have priority {}",
                    rule.priority
                )));
            }
            rules.push(rule);
        }
    }
    Ok(ListenerSpec {
        port,
        protocol,
        certificate,
        ssl_policy,
        default,
        rules,
        span: n.span.clone(),
    })
}

const ACTION_KEYS: [&str; 3] = ["forward", "redirect", "fixed_response"];

/// `{forward: TG}`, `{redirect: https}` / `{redirect: {protocol, port, host, path, query,
/// status}}`, `{fixed_response: {status, body, content_type}}`.
fn action_of(n: &Node, t: LbType) -> Result<ActionSpec> {
    let mut f = Fields::new(n, "an action")?;
    f.allow(&ACTION_KEYS)?;
    action_from(&f, n, t)
}

fn action_from(f: &Fields, n: &Node, t: LbType) -> Result<ActionSpec> {
    let given: Vec<&str> = ACTION_KEYS
        .iter()
        .copied()
        .filter(|k| f.get(k).is_some())
        .collect();
    if given.len() != 1 {
        return Err(n.error(
            "an action is one of `forward: TARGET_GROUP`, `redirect: https` (or a mapping), `fixed_response: {status: 404}`",
        ));
    }
    let v = f.get(given[0]).unwrap();
    match given[0] {
        "forward" => Ok(ActionSpec::Forward(str_of(v, "forward (a target group)")?)),
        "redirect" => {
            if t != LbType::Application {
                return Err(v.error("redirects are for application load balancers"));
            }
            if let Some(s) = v.as_str() {
                return match s {
                    "https" | "HTTPS" => Ok(ActionSpec::Redirect {
                        protocol: Some("HTTPS".into()),
                        port: Some("443".into()),
                        host: None,
                        path: None,
                        query: None,
                        status: "HTTP_301".into(),
                    }),
                    _ => Err(v.error("`redirect: https`, or a mapping {protocol, port, host, path, query, status}")),
                };
            }
            let mut rf = Fields::new(v, "a redirect")?;
            rf.allow(&["protocol", "port", "host", "path", "query", "status"])?;
            let opt = |k: &str| -> Result<Option<String>> {
                rf.get(k)
                    .map(|x| {
                        x.scalar_string()
                            .ok_or_else(|| x.error(format!("`{k}` must be a string")))
                    })
                    .transpose()
            };
            let protocol = match rf.get("protocol") {
                Some(x) => Some(protocol_of(x, &["HTTP", "HTTPS"], "redirect")?),
                None => None,
            };
            let status = match rf.get("status") {
                None => "HTTP_301".to_string(),
                Some(x) => match x.scalar_string().as_deref() {
                    Some("301") | Some("HTTP_301") => "HTTP_301".into(),
                    Some("302") | Some("HTTP_302") => "HTTP_302".into(),
                    _ => return Err(x.error("a redirect status is 301 or 302")),
                },
            };
            Ok(ActionSpec::Redirect {
                protocol,
                port: opt("port")?,
                host: opt("host")?,
                path: opt("path")?,
                query: opt("query")?,
                status,
            })
        }
        _ => {
            if t != LbType::Application {
                return Err(v.error("fixed responses are for application load balancers"));
            }
            let mut rf = Fields::new(v, "a fixed response")?;
            rf.allow(&["status", "body", "content_type"])?;
            let s = rf.required("status")?;
            let code = uint_of(s, "status")?;
            if !(200..=599).contains(&code) {
                return Err(s.error("a fixed response status is an HTTP code (200-599)"));
            }
            let content_type = match rf.get("content_type") {
                Some(x) => {
                    let c = str_of(x, "content_type")?;
                    const OK: [&str; 5] = [
                        "text/plain",
                        "text/css",
                        "text/html",
                        "application/javascript",
                        "application/json",
                    ];
                    if !OK.contains(&c.as_str()) {
                        return Err(x.error(format!("content_type is one of {}", OK.join(", "))));
                    }
                    c
                }
                None => "text/plain".into(),
            };
            let body = match rf.get("body") {
                Some(x) => {
                    let b = str_of(x, "body")?;
                    if b.len() > 1024 {
                        return Err(x.error("a fixed response body is at most 1024 bytes"));
                    }
                    Some(b)
                }
                None => None,
            };
            Ok(ActionSpec::Fixed {
                status: code.to_string(),
                content_type,
                body,
            })
        }
    }
}

fn rule_of(n: &Node, default_priority: u32) -> Result<LbRuleSpec> {
    let mut f = Fields::new(n, "a listener rule")?;
    let mut keys = vec!["priority", "host", "hosts", "path", "paths"];
    keys.extend(ACTION_KEYS);
    f.allow(&keys)?;
    let priority = match f.get("priority") {
        Some(v) => {
            let p = uint_of(v, "priority")?;
            if !(1..=50000).contains(&p) {
                return Err(v.error("a rule priority is 1 to 50000"));
            }
            p
        }
        None => default_priority,
    };
    let list = |one: &str, many: &str| -> Result<Vec<String>> {
        let mut out = vec![];
        if let Some(v) = f.get(one) {
            out.push(str_of(v, one)?);
        }
        if let Some(v) = f.get(many) {
            for x in seq_of(v, many)? {
                out.push(str_of(x, one)?);
            }
        }
        Ok(out)
    };
    let hosts = list("host", "hosts")?;
    let paths = list("path", "paths")?;
    if hosts.is_empty() && paths.is_empty() {
        return Err(n.error("a rule needs `host` (or `hosts`) and/or `path` (or `paths`)"));
    }
    if hosts.len() + paths.len() > 5 {
        return Err(n.error("a rule matches at most 5 host and path values"));
    }
    for p in &paths {
        if !p.starts_with('/') {
            return Err(n.error(format!("the path pattern `{p}` must start with `/`")));
        }
    }
    let action = action_from(&f, n, LbType::Application)?;
    Ok(LbRuleSpec {
        priority,
        hosts,
        paths,
        action,
        span: n.span.clone(),
    })
}

/// References: security groups, instance groups (in the load balancer's region), target
/// groups of the actions, subnets of the network; ALBs need two zones.
pub fn check(spec: &Spec) -> Result<()> {
    let sg_names = || {
        spec.security_groups
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    for lb in spec.load_balancers.values() {
        let what = format!("load balancer `{}`", lb.name);
        for s in &lb.security_groups {
            if !s.value.starts_with("sg-") && !spec.security_groups.contains_key(&s.value) {
                return Err(Error::source_at(
                    &s.span,
                    format!(
                        "{what}: security group `{}` is not defined (defined: {})",
                        s.value,
                        sg_names()
                    ),
                ));
            }
        }
        for tg in lb.target_groups.values() {
            match spec.instances.get(&tg.instances.value) {
                None => {
                    return Err(Error::source_at(
                        &tg.instances.span,
                        format!(
                            "{what}: target group `{}`: instance group `{}` is not defined (defined: {})",
                            tg.name,
                            tg.instances.value,
                            spec.instances.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
                Some(g) if !g.regions.contains(&lb.region) => {
                    return Err(Error::source_at(
                        &tg.instances.span,
                        format!(
                            "{what} is in {}, but instance group `{}` has no instances there ({})",
                            lb.region,
                            g.name,
                            g.regions.join(", ")
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        for l in &lb.listeners {
            let mut actions = vec![&l.default];
            actions.extend(l.rules.iter().map(|r| &r.action));
            for a in actions {
                if let ActionSpec::Forward(tg) = a {
                    if !lb.target_groups.contains_key(tg) {
                        return Err(Error::source_at(
                            &l.span,
                            format!(
                                "{what}: listener {} forwards to `{tg}`, which is not one of its target_groups ({})",
                                l.port,
                                lb.target_groups.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        match &spec.network {
            Network::Create {
                azs,
                public,
                private,
                ..
            } => {
                let planned: Vec<String> = spec
                    .network
                    .planned_subnets()
                    .into_iter()
                    .map(|s| s.name)
                    .collect();
                match &lb.subnets {
                    SubnetSel::Public if !public => {
                        return Err(Error::source_at(
                            &lb.span,
                            format!("{what} wants public subnets, but the network has none"),
                        ))
                    }
                    SubnetSel::Private if !private => {
                        return Err(Error::source_at(
                            &lb.span,
                            format!("{what} wants private subnets, but the network has none (set `subnets: public` or `network.private_subnets: true`)"),
                        ))
                    }
                    SubnetSel::Named(list) => {
                        for s in list {
                            if !s.starts_with("subnet-") && !planned.contains(s) {
                                return Err(Error::source_at(
                                    &lb.span,
                                    format!(
                                        "{what}: subnet `{s}` is not one the network creates ({})",
                                        planned.join(", ")
                                    ),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
                let zones = match &lb.subnets {
                    SubnetSel::Named(list) => list.len() as u32,
                    _ => *azs,
                };
                if lb.lb_type == LbType::Application && zones < 2 {
                    return Err(Error::source_at(
                        &lb.span,
                        format!("{what}: an application load balancer needs subnets in at least two availability zones (network.azs: 2)"),
                    ));
                }
            }
            Network::Default | Network::Existing { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse_str(s: &str) -> Result<Spec> {
        let doc = crate::yaml::load_str(s, Path::new("infra.yml")).unwrap();
        crate::provision::spec::parse(&doc, Path::new("infra.yml"), None)
    }

    const BASE: &str = "project: shop\nenv: dev\nregion: us-east-1\nnetwork: {cidr: 10.1.0.0/16, azs: 2}\nsecurity_groups:\n  lb: {ingress: [{port: 443, cidr: 0.0.0.0/0}]}\ninstances:\n  web: {type: t3.micro, ami: ami-1}\n";

    #[test]
    fn full_alb_parses() {
        let s = parse_str(&format!("{BASE}load_balancers:\n  front:\n    security_groups: [lb]\n    target_groups:\n      web: {{instances: web, port: 8080, health_check: {{path: /health}}, stickiness: 600}}\n    listeners:\n      - {{port: 80, default: {{redirect: https}}}}\n      - port: 443\n        certificate: arn:aws:acm:us-east-1:123456789012:certificate/abc\n        default: {{forward: web}}\n        rules:\n          - {{host: demo.example.com, fixed_response: {{status: 404}}}}\n")).unwrap();
        let lb = &s.load_balancers["front"];
        assert_eq!(lb.aws_name, "shop-dev-front");
        assert_eq!(lb.listeners[1].protocol, "HTTPS");
        assert_eq!(lb.listeners[1].rules[0].priority, 10);
        assert_eq!(lb.target_groups["web"].stickiness, Some(600));
        assert!(lb.target_groups["web"].aws_name.len() <= 32);
    }

    #[test]
    fn errors_point_at_the_source() {
        let cases = [
            ("load_balancers:\n  front:\n    listners: []\n", "11:5: unknown key `listners` in a load balancer (did you mean `listeners`?)"),
            ("load_balancers:\n  front:\n    target_groups:\n      web: {instances: wbe, port: 80}\n    listeners: [{port: 80, default: {forward: web}}]\n", "12:24: load balancer `front`: target group `web`: instance group `wbe` is not defined"),
            ("load_balancers:\n  front:\n    listeners: [{port: 80, default: {forward: nope}}]\n", "11:18: load balancer `front`: listener 80 forwards to `nope`"),
            ("load_balancers:\n  front:\n    listeners: [{port: 443, protocol: HTTPS, default: {fixed_response: {status: 404}}}]\n", "11:18: a HTTPS listener needs `certificate`"),
            ("load_balancers:\n  front:\n    listeners: [{port: 443, certificate: my-cert, default: {fixed_response: {status: 404}}}]\n", "11:42: `my-cert` is not a certificate ARN"),
            ("load_balancers:\n  front:\n    security_groups: [lbb]\n    listeners: [{port: 80, default: {fixed_response: {status: 404}}}]\n", "11:23: load balancer `front`: security group `lbb` is not defined"),
        ];
        for (tail, want) in cases {
            let e = parse_str(&format!("{BASE}{tail}")).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("infra.yml:{want}")),
                "{e}\nwanted {want}"
            );
        }
    }

    #[test]
    fn long_names_fit() {
        let n = fit_name(
            "a-very-long-project-name-x-feature-branch-name-lb",
            32,
            None,
        );
        assert!(n.len() <= 32, "{n}");
        assert_eq!(
            n,
            fit_name(
                "a-very-long-project-name-x-feature-branch-name-lb",
                32,
                None
            )
        );
        let t = fit_name(
            "a-very-long-project-name-x-feature-branch-name-lb-web",
            32,
            Some("abcdef"),
        );
        assert!(t.len() <= 32 && t.ends_with("-abcdef"), "{t}");
    }
}
