//! Discovery of load balancers and target groups. ELBv2's Describe calls have no tag
//! filter: candidates are the names starting with the project (every name rdeploy makes
//! does), and only those whose tags carry the project *and* the environment are kept.
//! Listeners and rules of a load balancer rdeploy owns belong to it.

use super::spec::{ActionSpec, HealthCheck};
use super::TAG_LB;
use crate::aws::SdkResult;
use crate::error::Result;
use crate::provision::aws::{tag, Aws};
use crate::provision::describe::{tag_pairs, Owner};
use aws_sdk_elasticloadbalancingv2::types::Action;
use aws_sdk_elasticloadbalancingv2::Client;
use indexmap::IndexMap;

/// The load-balancing resources of one region.
#[derive(Debug, Clone, Default)]
pub struct LbState {
    pub lbs: Vec<Lb>,
    pub target_groups: Vec<Tg>,
}

impl LbState {
    pub fn count(&self) -> usize {
        self.lbs.len() + self.target_groups.len()
    }
    pub fn lb(&self, name: &str) -> Option<&Lb> {
        self.lbs.iter().find(|l| l.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Lb {
    pub arn: String,
    /// The spec name (tag `rdeploy:name`).
    pub name: String,
    pub aws_name: String,
    pub dns_name: String,
    pub zone_id: String,
    pub lb_type: String,
    pub scheme: String,
    pub vpc_id: String,
    pub state: String,
    pub subnet_ids: Vec<String>,
    pub sg_ids: Vec<String>,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub arn: String,
    pub port: u16,
    pub protocol: String,
    pub certificate: Option<String>,
    pub ssl_policy: Option<String>,
    /// Forward actions hold the target group's ARN.
    pub default: Option<ActionSpec>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub arn: String,
    pub priority: u32,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub action: Option<ActionSpec>,
}

#[derive(Debug, Clone)]
pub struct Tg {
    pub arn: String,
    /// The spec name of the target group (tag `rdeploy:name`) and of its load balancer
    /// (tag `rdeploy:lb`).
    pub name: String,
    pub lb: String,
    pub aws_name: String,
    pub protocol: String,
    pub port: u16,
    pub vpc_id: String,
    pub health: HealthCheck,
    pub stickiness: Option<u32>,
    pub deregistration_delay: Option<u32>,
    /// Registered instance ids.
    pub targets: Vec<String>,
}

/// Discovers the load balancers and target groups of a project and environment.
pub async fn discover(aws: &Aws, project: &str, env: &str, region: &str) -> Result<LbState> {
    let elb = aws.elbv2(region);
    let mut candidates = vec![];
    let mut pages = elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeLoadBalancers")?;
        for l in page.load_balancers() {
            if l.load_balancer_name()
                .unwrap_or_default()
                .starts_with(project)
            {
                candidates.push(l.clone());
            }
        }
    }
    let arns: Vec<String> = candidates
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(String::from))
        .collect();
    let tags = owned_tags(&elb, region, &arns, project, env).await?;
    let mut lbs = vec![];
    for l in candidates {
        let arn = l.load_balancer_arn().unwrap_or_default().to_string();
        let Some(t) = tags.get(&arn) else { continue };
        let listeners = listeners(&elb, region, &arn).await?;
        lbs.push(Lb {
            name: t.get(tag::NAME).cloned().unwrap_or_default(),
            aws_name: l.load_balancer_name().unwrap_or_default().into(),
            dns_name: l.dns_name().unwrap_or_default().into(),
            zone_id: l.canonical_hosted_zone_id().unwrap_or_default().into(),
            lb_type: l
                .r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            scheme: l
                .scheme()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            vpc_id: l.vpc_id().unwrap_or_default().into(),
            state: l
                .state()
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            subnet_ids: l
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(String::from))
                .collect(),
            sg_ids: l.security_groups().to_vec(),
            listeners,
            arn,
        });
    }

    let mut candidates = vec![];
    let mut pages = elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeTargetGroups")?;
        for g in page.target_groups() {
            if g.target_group_name()
                .unwrap_or_default()
                .starts_with(project)
            {
                candidates.push(g.clone());
            }
        }
    }
    let arns: Vec<String> = candidates
        .iter()
        .filter_map(|g| g.target_group_arn().map(String::from))
        .collect();
    let tags = owned_tags(&elb, region, &arns, project, env).await?;
    let mut target_groups = vec![];
    for g in candidates {
        let arn = g.target_group_arn().unwrap_or_default().to_string();
        let Some(t) = tags.get(&arn) else { continue };
        let attrs = elb
            .describe_target_group_attributes()
            .target_group_arn(&arn)
            .send()
            .await
            .or_cloud(region, "DescribeTargetGroupAttributes")?;
        let attr = |k: &str| {
            attrs
                .attributes()
                .iter()
                .find(|a| a.key() == Some(k))
                .and_then(|a| a.value())
                .map(String::from)
        };
        let stickiness = if attr("stickiness.enabled").as_deref() == Some("true") {
            attr("stickiness.lb_cookie.duration_seconds").and_then(|d| d.parse().ok())
        } else {
            None
        };
        let health = elb
            .describe_target_health()
            .target_group_arn(&arn)
            .send()
            .await
            .or_cloud(region, "DescribeTargetHealth")?;
        target_groups.push(Tg {
            name: t.get(tag::NAME).cloned().unwrap_or_default(),
            lb: t.get(TAG_LB).cloned().unwrap_or_default(),
            aws_name: g.target_group_name().unwrap_or_default().into(),
            protocol: g
                .protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            port: g.port().unwrap_or(0) as u16,
            vpc_id: g.vpc_id().unwrap_or_default().into(),
            health: HealthCheck {
                protocol: g.health_check_protocol().map(|p| p.as_str().to_string()),
                path: g.health_check_path().map(String::from),
                port: g.health_check_port().map(String::from),
                interval: g.health_check_interval_seconds().map(|x| x as u32),
                timeout: g.health_check_timeout_seconds().map(|x| x as u32),
                healthy: g.healthy_threshold_count().map(|x| x as u32),
                unhealthy: g.unhealthy_threshold_count().map(|x| x as u32),
                matcher: g.matcher().and_then(|m| m.http_code()).map(String::from),
            },
            stickiness,
            deregistration_delay: attr("deregistration_delay.timeout_seconds")
                .and_then(|d| d.parse().ok()),
            targets: health
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.id()).map(String::from))
                .collect(),
            arn,
        });
    }
    Ok(LbState { lbs, target_groups })
}

/// The tags of those `arns` that carry the project and the environment (20 per call).
async fn owned_tags(
    elb: &Client,
    region: &str,
    arns: &[String],
    project: &str,
    env: &str,
) -> Result<IndexMap<String, IndexMap<String, String>>> {
    let mut out = IndexMap::new();
    for chunk in arns.chunks(20) {
        let r = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .or_cloud(region, "DescribeTags")?;
        for d in r.tag_descriptions() {
            let t = tag_pairs(d.tags().iter().map(|t| (t.key(), t.value())));
            if Owner::new(project, env, region).owns(&t) {
                out.insert(d.resource_arn().unwrap_or_default().to_string(), t);
            }
        }
    }
    Ok(out)
}

async fn listeners(elb: &Client, region: &str, lb_arn: &str) -> Result<Vec<Listener>> {
    let mut out = vec![];
    let mut pages = elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.or_cloud(region, "DescribeListeners")?;
        for l in page.listeners() {
            let arn = l.listener_arn().unwrap_or_default().to_string();
            let rules = elb
                .describe_rules()
                .listener_arn(&arn)
                .send()
                .await
                .or_cloud(region, "DescribeRules")?;
            let rules = rules
                .rules()
                .iter()
                .filter(|r| !r.is_default().unwrap_or(false) && r.priority() != Some("default"))
                .map(|r| {
                    let mut hosts = vec![];
                    let mut paths = vec![];
                    for c in r.conditions() {
                        let values: Vec<String> = match c.field() {
                            Some("host-header") => c
                                .host_header_config()
                                .map(|h| h.values().to_vec())
                                .filter(|v| !v.is_empty())
                                .unwrap_or_else(|| c.values().to_vec()),
                            Some("path-pattern") => c
                                .path_pattern_config()
                                .map(|h| h.values().to_vec())
                                .filter(|v| !v.is_empty())
                                .unwrap_or_else(|| c.values().to_vec()),
                            _ => vec![],
                        };
                        match c.field() {
                            Some("host-header") => hosts.extend(values),
                            Some("path-pattern") => paths.extend(values),
                            _ => {}
                        }
                    }
                    Rule {
                        arn: r.rule_arn().unwrap_or_default().into(),
                        priority: r.priority().and_then(|p| p.parse().ok()).unwrap_or(0),
                        hosts,
                        paths,
                        action: r.actions().first().map(action_of),
                    }
                })
                .collect();
            out.push(Listener {
                port: l.port().unwrap_or(0) as u16,
                protocol: l
                    .protocol()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                certificate: l
                    .certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .map(String::from),
                ssl_policy: l.ssl_policy().map(String::from),
                default: l.default_actions().first().map(action_of),
                rules,
                arn,
            });
        }
    }
    Ok(out)
}

/// An action as the spec would say it (forward: the target group ARN).
fn action_of(a: &Action) -> ActionSpec {
    if let Some(r) = a.redirect_config() {
        return ActionSpec::Redirect {
            protocol: r.protocol().map(String::from),
            port: r.port().map(String::from),
            host: r.host().map(String::from),
            path: r.path().map(String::from),
            query: r.query().map(String::from),
            status: r
                .status_code()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        };
    }
    if let Some(f) = a.fixed_response_config() {
        return ActionSpec::Fixed {
            status: f.status_code().unwrap_or_default().into(),
            content_type: f.content_type().unwrap_or("text/plain").into(),
            body: f.message_body().map(String::from),
        };
    }
    let arn = a
        .target_group_arn()
        .map(String::from)
        .or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
                .map(String::from)
        })
        .unwrap_or_default();
    ActionSpec::Forward(arn)
}
