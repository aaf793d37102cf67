//! Applying load-balancing changes: ELBv2 calls for [`LbOp`]s, names resolved to ids and
//! ARNs from discovery and from what this apply created ([`LbCtx`]). Everything is tagged
//! in its creating call. Targets are registered once the instances run (the applier runs
//! `SyncTargets` after waiting for them), before replaced instances are terminated.

use super::spec::{ActionSpec, LbSpec, TargetGroupSpec};
use super::state::LbState;
use super::{LbOp, TAG_LB};
use crate::aws::SdkResult;
use crate::error::{Error, Result};
use crate::provision::apply::retry::Retry;
use crate::provision::apply::Applier;
use crate::provision::plan::base_tags;
use crate::provision::spec::Spec;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, PathPatternConditionConfig,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition, Tag,
    TargetDescription, TargetGroupAttribute, TargetTypeEnum,
};
use indexmap::IndexMap;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// A target group's health check on a Create or Modify request (the two builders have
/// the same setters but no trait in common).
macro_rules! with_health_check {
    ($req:expr, $h:expr) => {{
        let h: &super::spec::HealthCheck = $h;
        $req.set_health_check_protocol(h.protocol.as_deref().map(ProtocolEnum::from))
            .set_health_check_path(h.path.clone())
            .set_health_check_port(h.port.clone())
            .set_health_check_interval_seconds(h.interval.map(|x| x as i32))
            .set_health_check_timeout_seconds(h.timeout.map(|x| x as i32))
            .set_healthy_threshold_count(h.healthy.map(|x| x as i32))
            .set_unhealthy_threshold_count(h.unhealthy.map(|x| x as i32))
            .set_matcher(
                h.matcher
                    .as_ref()
                    .map(|m| Matcher::builder().http_code(m).build()),
            )
    }};
}

/// A listener's settings on a Create or Modify request.
macro_rules! with_listener {
    ($req:expr, $ls:expr, $port:expr, $action:expr) => {{
        let ls: &super::spec::ListenerSpec = $ls;
        $req.port($port as i32)
            .protocol(ProtocolEnum::from(ls.protocol.as_str()))
            .set_certificates(
                ls.certificate
                    .as_ref()
                    .map(|c| vec![Certificate::builder().certificate_arn(c).build()]),
            )
            .set_ssl_policy(ls.ssl_policy.clone())
            .default_actions($action)
    }};
}

/// The listener on `port` of a load balancer's spec.
fn listener_spec(l: &LbSpec, port: u16) -> Result<super::spec::ListenerSpec> {
    l.listeners
        .iter()
        .find(|x| x.port == port)
        .cloned()
        .ok_or_else(|| Error::cloud(format!("listener {port} is not in the spec")))
}

/// ARNs known while applying, per region.
#[derive(Debug, Default, Clone)]
pub struct LbCtx {
    /// load balancer name -> ARN
    pub lbs: HashMap<String, String>,
    /// (load balancer, target group) -> ARN, only target groups with the spec's settings
    pub tgs: HashMap<(String, String), String>,
    /// (load balancer, port) -> listener ARN
    pub listeners: HashMap<(String, u16), String>,
}

impl LbCtx {
    pub fn new(spec: &Spec, st: &LbState) -> LbCtx {
        let mut c = LbCtx::default();
        for l in &st.lbs {
            c.lbs.insert(l.name.clone(), l.arn.clone());
            for x in &l.listeners {
                c.listeners.insert((l.name.clone(), x.port), x.arn.clone());
            }
        }
        for t in &st.target_groups {
            let current = spec
                .load_balancers
                .get(&t.lb)
                .and_then(|l| l.target_groups.get(&t.name))
                .is_some_and(|s| s.aws_name == t.aws_name);
            if current {
                c.tgs.insert((t.lb.clone(), t.name.clone()), t.arn.clone());
            }
        }
        c
    }
}

fn tags(t: &IndexMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Errors AWS gives for a subnet, group or instance created a moment ago.
const CONSISTENCY: [&str; 4] = [
    "InvalidSubnet",
    "InvalidSecurityGroup",
    "SubnetNotFound",
    "InvalidTarget",
];

impl Applier<'_> {
    fn lb_spec(&self, name: &str) -> Result<&LbSpec> {
        self.spec
            .load_balancers
            .get(name)
            .ok_or_else(|| Error::cloud(format!("load balancer `{name}` is not in the spec")))
    }

    fn tg_spec(&self, lb: &str, tg: &str) -> Result<&TargetGroupSpec> {
        self.lb_spec(lb)?
            .target_groups
            .get(tg)
            .ok_or_else(|| Error::cloud(format!("target group `{lb}/{tg}` is not in the spec")))
    }

    fn tg_arn(&mut self, region: &str, lb: &str, tg: &str) -> Result<String> {
        self.region_ctx(region)
            .lb
            .tgs
            .get(&(lb.to_string(), tg.to_string()))
            .cloned()
            .ok_or_else(|| {
                Error::cloud_in(
                    region,
                    format!("target group `{tg}` of load balancer `{lb}` does not exist"),
                )
            })
    }

    fn build_action(&mut self, region: &str, lb: &str, a: &ActionSpec) -> Result<Action> {
        Ok(match a {
            ActionSpec::Forward(tg) => Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(self.tg_arn(region, lb, tg)?)
                .build(),
            ActionSpec::Redirect {
                protocol,
                port,
                host,
                path,
                query,
                status,
            } => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .set_protocol(protocol.clone())
                        .set_port(port.clone())
                        .set_host(host.clone())
                        .set_path(path.clone())
                        .set_query(query.clone())
                        .status_code(RedirectActionStatusCodeEnum::from(status.as_str()))
                        .build(),
                )
                .build(),
            ActionSpec::Fixed {
                status,
                content_type,
                body,
            } => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code(status)
                        .content_type(content_type)
                        .set_message_body(body.clone())
                        .build(),
                )
                .build(),
        })
    }

    /// Executes one load-balancing operation; returns what it created, if anything.
    pub(crate) async fn exec_lb(&mut self, region: &str, op: &LbOp) -> Result<Option<String>> {
        let elb = self.aws().elbv2(region);
        let limit = Duration::from_secs(self.spec.timeouts.destroy);
        let consistency = Duration::from_secs(60);
        match op {
            LbOp::CreateTg { lb, tg } => {
                let t = self.tg_spec(lb, tg)?.clone();
                let vpc = self.vpc_of(region)?;
                let mut tagset = base_tags(self.spec, "target-group", &t.name, &t.aws_name);
                tagset.insert(TAG_LB.into(), lb.clone());
                let req = elb
                    .create_target_group()
                    .name(&t.aws_name)
                    .protocol(ProtocolEnum::from(t.protocol.as_str()))
                    .port(t.port as i32)
                    .vpc_id(vpc)
                    .target_type(TargetTypeEnum::Instance)
                    .set_tags(Some(tags(&tagset)));
                let out = with_health_check!(req, &t.health)
                    .send()
                    .await
                    .or_cloud(region, "CreateTargetGroup")?;
                let arn = out
                    .target_groups()
                    .first()
                    .and_then(|g| g.target_group_arn())
                    .unwrap_or_default()
                    .to_string();
                self.region_ctx(region)
                    .lb
                    .tgs
                    .insert((lb.clone(), tg.clone()), arn.clone());
                self.tg_attributes(region, &t, &arn, true).await?;
                Ok(Some(arn))
            }
            LbOp::UpdateTg { lb, tg, arn } => {
                let t = self.tg_spec(lb, tg)?.clone();
                let req = elb.modify_target_group().target_group_arn(arn);
                with_health_check!(req, &t.health)
                    .send()
                    .await
                    .or_cloud(region, "ModifyTargetGroup")?;
                self.tg_attributes(region, &t, arn, false).await?;
                Ok(None)
            }
            LbOp::SyncTargets { lb, tg, leaving } => {
                let t = self.tg_spec(lb, tg)?.clone();
                let arn = self.tg_arn(region, lb, tg)?;
                let want: BTreeSet<String> = self
                    .region_ctx(region)
                    .instances
                    .iter()
                    .filter(|((g, _), id)| g == &t.instances.value && !leaving.contains(id))
                    .map(|(_, id)| id.clone())
                    .collect();
                let health = elb
                    .describe_target_health()
                    .target_group_arn(&arn)
                    .send()
                    .await
                    .or_cloud(region, "DescribeTargetHealth")?;
                let have: BTreeSet<String> = health
                    .target_health_descriptions()
                    .iter()
                    .filter_map(|d| d.target().and_then(|t| t.id()).map(String::from))
                    .collect();
                let add: Vec<TargetDescription> = want
                    .difference(&have)
                    .map(|id| {
                        TargetDescription::builder()
                            .id(id)
                            .port(t.port as i32)
                            .build()
                    })
                    .collect();
                let remove: Vec<TargetDescription> = have
                    .difference(&want)
                    .map(|id| TargetDescription::builder().id(id).build())
                    .collect();
                let summary = format!("{} registered, {} deregistered", add.len(), remove.len());
                if !add.is_empty() {
                    Retry::new(region, &CONSISTENCY, consistency)
                        .call("RegisterTargets", || {
                            elb.register_targets()
                                .target_group_arn(&arn)
                                .set_targets(Some(add.clone()))
                                .send()
                        })
                        .await?;
                }
                if !remove.is_empty() {
                    elb.deregister_targets()
                        .target_group_arn(&arn)
                        .set_targets(Some(remove))
                        .send()
                        .await
                        .unless_gone(region, "DeregisterTargets")?;
                }
                Ok(Some(summary))
            }
            LbOp::DeleteTg { arn } => {
                // In use until the listeners pointing at it (or their load balancer) are gone.
                Retry::new(region, &["ResourceInUse"], limit)
                    .gone_ok("DeleteTargetGroup", || {
                        elb.delete_target_group().target_group_arn(arn).send()
                    })
                    .await?;
                Ok(None)
            }
            LbOp::CreateLb { lb, replace } => {
                let l = self.lb_spec(lb)?.clone();
                if let Some(old) = replace {
                    self.delete_lb_and_wait(region, old).await?;
                    let rc = &mut self.region_ctx(region).lb;
                    rc.listeners.retain(|(n, _), _| n != lb);
                }
                let subnets = self.lb_subnet_ids(region, &l)?;
                let sgs = self.lb_sg_ids(region, &l)?;
                let tagset = base_tags(self.spec, "load-balancer", &l.name, &l.aws_name);
                let out = Retry::new(region, &CONSISTENCY, consistency)
                    .call("CreateLoadBalancer", || {
                        elb.create_load_balancer()
                            .name(&l.aws_name)
                            .r#type(LoadBalancerTypeEnum::from(l.lb_type.as_str()))
                            .scheme(LoadBalancerSchemeEnum::from(l.scheme()))
                            .set_subnets(Some(subnets.clone()))
                            .set_security_groups(if sgs.is_empty() {
                                None
                            } else {
                                Some(sgs.clone())
                            })
                            .set_tags(Some(tags(&tagset)))
                            .send()
                    })
                    .await?;
                let created = out.load_balancers().first();
                let arn = created
                    .and_then(|x| x.load_balancer_arn())
                    .unwrap_or_default()
                    .to_string();
                let dns = created.and_then(|x| x.dns_name()).unwrap_or_default();
                self.region_ctx(region).lb.lbs.insert(lb.clone(), arn);
                Ok(Some(dns.to_string()))
            }
            LbOp::UpdateLb {
                lb,
                arn,
                subnets,
                security_groups,
            } => {
                let l = self.lb_spec(lb)?.clone();
                if *subnets {
                    let ids = self.lb_subnet_ids(region, &l)?;
                    elb.set_subnets()
                        .load_balancer_arn(arn)
                        .set_subnets(Some(ids))
                        .send()
                        .await
                        .or_cloud(region, "SetSubnets")?;
                }
                if *security_groups {
                    let ids = self.lb_sg_ids(region, &l)?;
                    elb.set_security_groups()
                        .load_balancer_arn(arn)
                        .set_security_groups(Some(ids))
                        .send()
                        .await
                        .or_cloud(region, "SetSecurityGroups")?;
                }
                Ok(None)
            }
            LbOp::DeleteLb { arn } => {
                elb.delete_load_balancer()
                    .load_balancer_arn(arn)
                    .send()
                    .await
                    .unless_gone(region, "DeleteLoadBalancer")?;
                Ok(None)
            }
            LbOp::CreateListener { lb, port } => {
                let l = self.lb_spec(lb)?.clone();
                let ls = listener_spec(&l, *port)?;
                let lb_arn = self.lb_arn(region, lb)?;
                let action = self.build_action(region, lb, &ls.default)?;
                let tagset = base_tags(
                    self.spec,
                    "listener",
                    &format!("{lb}:{port}"),
                    &format!("{}:{port}", l.aws_name),
                );
                let req = elb
                    .create_listener()
                    .load_balancer_arn(&lb_arn)
                    .set_tags(Some(tags(&tagset)));
                let out = with_listener!(req, &ls, *port, action)
                    .send()
                    .await
                    .or_cloud(region, "CreateListener")?;
                let arn = out
                    .listeners()
                    .first()
                    .and_then(|x| x.listener_arn())
                    .unwrap_or_default()
                    .to_string();
                self.region_ctx(region)
                    .lb
                    .listeners
                    .insert((lb.clone(), *port), arn.clone());
                for r in &ls.rules {
                    self.put_rule(region, lb, *port, r.priority, None).await?;
                }
                Ok(Some(arn))
            }
            LbOp::UpdateListener { lb, port, arn } => {
                let l = self.lb_spec(lb)?.clone();
                let ls = listener_spec(&l, *port)?;
                let action = self.build_action(region, lb, &ls.default)?;
                let req = elb.modify_listener().listener_arn(arn);
                with_listener!(req, &ls, *port, action)
                    .send()
                    .await
                    .or_cloud(region, "ModifyListener")?;
                Ok(None)
            }
            LbOp::DeleteListener { arn } => {
                elb.delete_listener()
                    .listener_arn(arn)
                    .send()
                    .await
                    .unless_gone(region, "DeleteListener")?;
                Ok(None)
            }
            LbOp::PutRule {
                lb,
                port,
                priority,
                arn,
            } => {
                self.put_rule(region, lb, *port, *priority, arn.as_deref())
                    .await
            }
            LbOp::DeleteRule { arn } => {
                elb.delete_rule()
                    .rule_arn(arn)
                    .send()
                    .await
                    .unless_gone(region, "DeleteRule")?;
                Ok(None)
            }
        }
    }

    fn lb_arn(&mut self, region: &str, lb: &str) -> Result<String> {
        self.region_ctx(region)
            .lb
            .lbs
            .get(lb)
            .cloned()
            .ok_or_else(|| Error::cloud_in(region, format!("load balancer `{lb}` does not exist")))
    }

    fn vpc_of(&mut self, region: &str) -> Result<String> {
        self.region_ctx(region)
            .vpc_id
            .clone()
            .ok_or_else(|| Error::cloud_in(region, "the VPC does not exist"))
    }

    fn lb_subnet_ids(&mut self, region: &str, l: &LbSpec) -> Result<Vec<String>> {
        let names = super::plan::lb_subnets(self.spec, l, self.lookups());
        let rc = self.region_ctx(region);
        names
            .into_iter()
            .map(|n| {
                if n.starts_with("subnet-") {
                    Ok(n)
                } else {
                    rc.subnets.get(&n).cloned().ok_or_else(|| {
                        Error::cloud_in(region, format!("subnet {n} does not exist"))
                    })
                }
            })
            .collect()
    }

    fn lb_sg_ids(&mut self, region: &str, l: &LbSpec) -> Result<Vec<String>> {
        let rc = self.region_ctx(region);
        l.security_groups
            .iter()
            .map(|s| {
                if s.value.starts_with("sg-") {
                    Ok(s.value.clone())
                } else {
                    rc.sgs.get(&s.value).cloned().ok_or_else(|| {
                        Error::cloud_in(
                            region,
                            format!("security group `{}` does not exist", s.value),
                        )
                    })
                }
            })
            .collect()
    }

    async fn tg_attributes(
        &mut self,
        region: &str,
        t: &TargetGroupSpec,
        arn: &str,
        new: bool,
    ) -> Result<()> {
        let attr = |k: &str, v: String| TargetGroupAttribute::builder().key(k).value(v).build();
        let mut attrs = vec![];
        if t.protocol == "HTTP" || t.protocol == "HTTPS" {
            match t.stickiness {
                Some(d) => {
                    attrs.push(attr("stickiness.enabled", "true".into()));
                    attrs.push(attr("stickiness.type", "lb_cookie".into()));
                    attrs.push(attr("stickiness.lb_cookie.duration_seconds", d.to_string()));
                }
                None if !new => attrs.push(attr("stickiness.enabled", "false".into())),
                None => {}
            }
        }
        if let Some(d) = t.deregistration_delay {
            attrs.push(attr("deregistration_delay.timeout_seconds", d.to_string()));
        }
        if attrs.is_empty() {
            return Ok(());
        }
        self.aws()
            .elbv2(region)
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .set_attributes(Some(attrs))
            .send()
            .await
            .or_cloud(region, "ModifyTargetGroupAttributes")?;
        Ok(())
    }

    async fn put_rule(
        &mut self,
        region: &str,
        lb: &str,
        port: u16,
        priority: u32,
        arn: Option<&str>,
    ) -> Result<Option<String>> {
        let l = self.lb_spec(lb)?.clone();
        let r = l
            .listeners
            .iter()
            .find(|x| x.port == port)
            .and_then(|x| x.rules.iter().find(|r| r.priority == priority))
            .cloned()
            .ok_or_else(|| {
                Error::cloud(format!(
                    "rule {priority} of listener {port} is not in the spec"
                ))
            })?;
        let action = self.build_action(region, lb, &r.action)?;
        let mut conditions = vec![];
        if !r.hosts.is_empty() {
            let hosts = HostHeaderConditionConfig::builder().set_values(Some(r.hosts.clone()));
            conditions.push(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(hosts.build())
                    .build(),
            );
        }
        if !r.paths.is_empty() {
            let paths = PathPatternConditionConfig::builder().set_values(Some(r.paths.clone()));
            conditions.push(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(paths.build())
                    .build(),
            );
        }
        let elb = self.aws().elbv2(region);
        match arn {
            Some(arn) => {
                elb.modify_rule()
                    .rule_arn(arn)
                    .set_conditions(Some(conditions))
                    .actions(action)
                    .send()
                    .await
                    .or_cloud(region, "ModifyRule")?;
                Ok(None)
            }
            None => {
                let listener = self
                    .region_ctx(region)
                    .lb
                    .listeners
                    .get(&(lb.to_string(), port))
                    .cloned()
                    .ok_or_else(|| {
                        Error::cloud_in(region, format!("listener {port} of `{lb}` does not exist"))
                    })?;
                let tagset = base_tags(
                    self.spec,
                    "listener-rule",
                    &format!("{lb}:{port}#{priority}"),
                    &format!("{}:{port}#{priority}", l.aws_name),
                );
                let out = elb
                    .create_rule()
                    .listener_arn(listener)
                    .priority(priority as i32)
                    .set_conditions(Some(conditions))
                    .actions(action)
                    .set_tags(Some(tags(&tagset)))
                    .send()
                    .await
                    .or_cloud(region, "CreateRule")?;
                Ok(out
                    .rules()
                    .first()
                    .and_then(|x| x.rule_arn())
                    .map(String::from))
            }
        }
    }

    /// Deletes a load balancer and waits (bounded) until its name is free again.
    async fn delete_lb_and_wait(&mut self, region: &str, arn: &str) -> Result<()> {
        let elb = self.aws().elbv2(region);
        elb.delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .unless_gone(region, "DeleteLoadBalancer")?;
        let start = std::time::Instant::now();
        loop {
            let r = elb
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await
                .unless_gone(region, "DescribeLoadBalancers")?;
            if r.is_none_or(|o| o.load_balancers().is_empty()) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(self.spec.timeouts.destroy) {
                return Err(Error::cloud_in(
                    region,
                    format!("timed out waiting for load balancer {arn} to be deleted"),
                ));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}
