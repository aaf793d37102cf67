//! The AWS side shared by provisioning and the EC2 inventory: one SDK configuration from
//! the standard chain (env, profiles, SSO, instance role; `AWS_ENDPOINT_URL` honoured),
//! per-region clients, retries, error messages, and rdeploy's tag conventions.
//!
//! Retries happen at two levels: the SDK's standard mode retries throttling and
//! transient errors (5xx, timeouts) with exponential backoff and jitter; [`retry_codes`]
//! additionally waits out AWS's eventual consistency (a security group created a moment
//! ago not found yet, `DependencyViolation` while an instance is still terminating).

use crate::error::{CloudError, CloudErrorKind, Error, Result};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use indexmap::IndexMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// Tag keys rdeploy puts on what it creates.
pub mod tag {
    /// The project (both this and [`ENV`] must match for rdeploy to touch a resource).
    pub const PROJECT: &str = "rdeploy:project";
    pub const ENV: &str = "rdeploy:env";
    /// vpc, subnet, internet-gateway, route-table, security-group, key-pair, instance,
    /// elastic-ip, redis, cache-subnet-group.
    pub const KIND: &str = "rdeploy:kind";
    /// The resource's name in the spec (`api`, `public-a`, `sessions`).
    pub const NAME: &str = "rdeploy:name";
    /// An instance's ordinal in its group (1, 2, ...), stable across runs.
    pub const INDEX: &str = "rdeploy:index";
    /// `<group>-<index>`, unique in the project and environment (a handy inventory hostname).
    pub const HOST: &str = "rdeploy:host";
    /// A hash of the launch settings AWS does not report back (user data, root volume).
    pub const LAUNCH: &str = "rdeploy:launch";
    /// The spec's extra tag keys on an instance (space separated), to remove dropped ones.
    pub const TAGS: &str = "rdeploy:tags";
    /// The public key's hash on an imported key pair.
    pub const PUBKEY: &str = "rdeploy:pubkey";
    /// Redis settings AWS does not report back uniformly (engine version, replicas, groups).
    pub const CONFIG: &str = "rdeploy:config";
}

/// How to reach AWS. The default uses the standard credential and region chain.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// Endpoint override (the SDK already honours `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Static credentials (access key id, secret) instead of the default chain.
    pub credentials: Option<(String, String)>,
    /// A named profile from ~/.aws/config.
    pub profile: Option<String>,
}

/// The loaded SDK configuration; clients per region are cheap to make from it.
#[derive(Clone)]
pub struct Aws {
    sdk: aws_config::SdkConfig,
}

/// A retry classifier that gives up at once when the endpoint cannot be reached at all
/// (connection refused, DNS name not found): the SDK's standard mode would retry such
/// transient-looking errors with backoff for half a minute before saying anything.
/// Throttling, 5xx, timeouts and resets are still retried.
#[derive(Debug, Default, Clone, Copy)]
struct UnreachableEndpoint;

impl aws_sdk_ec2::config::retry::ClassifyRetry for UnreachableEndpoint {
    fn classify_retry(
        &self,
        ctx: &aws_sdk_ec2::config::interceptors::InterceptorContext,
    ) -> aws_sdk_ec2::config::retry::RetryAction {
        use aws_sdk_ec2::config::retry::RetryAction;
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        match err.as_connector_error() {
            Some(c) if is_unreachable(c) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "rdeploy: unreachable endpoint"
    }
}

/// Whether a connection error means "nothing listens there / no such host" (as opposed
/// to a failure worth retrying).
fn is_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
        }
        if err.to_string().contains("dns error") {
            return true;
        }
        cur = err.source();
    }
    false
}

impl Aws {
    /// Loads the configuration. Makes no API call.
    pub async fn connect(settings: &AwsSettings) -> Aws {
        let region =
            aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(8)
                    .with_initial_backoff(Duration::from_millis(250))
                    .with_max_backoff(Duration::from_secs(20)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            );
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        if let Some((id, secret)) = &settings.credentials {
            loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                id,
                secret,
                None,
                None,
                "rdeploy-static",
            ));
        }
        Aws {
            sdk: loader.load().await,
        }
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.sdk)
            .region(aws_sdk_ec2::config::Region::new(region.to_string()))
            .retry_classifier(UnreachableEndpoint)
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    pub fn elasticache(&self, region: &str) -> aws_sdk_elasticache::Client {
        let conf = aws_sdk_elasticache::config::Builder::from(&self.sdk)
            .region(aws_sdk_elasticache::config::Region::new(region.to_string()))
            .retry_classifier(UnreachableEndpoint)
            .build();
        aws_sdk_elasticache::Client::from_conf(conf)
    }

    pub fn elbv2(&self, region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
        let conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(&self.sdk)
            .region(aws_sdk_elasticloadbalancingv2::config::Region::new(
                region.to_string(),
            ))
            .retry_classifier(UnreachableEndpoint)
            .build();
        aws_sdk_elasticloadbalancingv2::Client::from_conf(conf)
    }

    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        let conf = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(aws_sdk_rds::config::Region::new(region.to_string()))
            .retry_classifier(UnreachableEndpoint)
            .build();
        aws_sdk_rds::Client::from_conf(conf)
    }

    /// Route 53 (global: its API lives in us-east-1).
    pub fn route53(&self) -> aws_sdk_route53::Client {
        let conf = aws_sdk_route53::config::Builder::from(&self.sdk)
            .region(aws_sdk_route53::config::Region::new("us-east-1"))
            .retry_classifier(UnreachableEndpoint)
            .build();
        aws_sdk_route53::Client::from_conf(conf)
    }

    /// The API endpoint in use, for messages: the override (`AWS_ENDPOINT_URL`, the
    /// settings) or AWS's regional endpoints.
    pub fn endpoint(&self) -> String {
        match self.sdk.endpoint_url() {
            Some(url) => url.to_string(),
            None => "the AWS regional endpoints".to_string(),
        }
    }

    /// Adds the endpoint to a cloud error (other errors are returned as they are).
    pub fn locate(&self, e: Error) -> Error {
        match e {
            Error::Cloud(mut c) => {
                c.endpoint = Some(self.endpoint());
                Error::Cloud(c)
            }
            other => other,
        }
    }

    /// The region of the configuration chain (us-east-1 when none is set).
    pub fn default_region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }
}

/// The error code of an SDK error (`InvalidGroup.NotFound`, `Throttling` ...).
pub trait ErrorCode {
    fn error_code(&self) -> Option<&str>;
}

impl<E: ProvideErrorMetadata, R> ErrorCode for SdkError<E, R> {
    fn error_code(&self) -> Option<&str> {
        self.code()
    }
}

impl ErrorCode for Error {
    fn error_code(&self) -> Option<&str> {
        self.as_cloud().and_then(|c| c.code.as_deref())
    }
}

/// The SDK's HTTP response type (the same for every service crate).
pub type HttpResponse = aws_sdk_ec2::config::http::HttpResponse;

/// Turns an SDK error into rdeploy's error, saying where and what.
pub fn cloud_err<E>(region: &str, what: &str, e: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::Cloud(typed(region, what, &e))
}

/// `region: what: Code: message`; without an AWS error code, the HTTP status (service
/// errors) or the SDK's error chain (connection, timeout, credentials).
pub fn describe<E>(region: &str, what: &str, e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    typed(region, what, e).to_string()
}

/// The typed shape of an SDK error: region, operation, AWS's code and kind, the detail.
pub fn typed<E>(region: &str, what: &str, e: &SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let base = |detail: String| CloudError::new(detail).in_region(region).operation(what);
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => base(format!("{c}: {m}")).code(c),
        (Some(c), None) => base(c.to_string()).code(c),
        _ => match e {
            SdkError::ServiceError(se) => base(format!(
                "HTTP {} without an AWS error (is the endpoint an AWS API?)",
                se.raw().status().as_u16()
            )),
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                base(format!("cannot reach the API endpoint: {}", error_chain(e)))
                    .kind(CloudErrorKind::Unreachable)
            }
            _ => base(DisplayErrorContext(e).to_string()),
        },
    }
}

/// An SDK call's result turned into rdeploy's, saying where and what.
pub trait SdkResult<T> {
    /// `Err` as a [`CloudError`] in `region` for operation `what`.
    fn or_cloud(self, region: &str, what: &str) -> Result<T>;
    /// Like [`SdkResult::or_cloud`], but a "not found" answer (the resource is gone, the
    /// work is done already) is `Ok(None)`.
    fn unless_gone(self, region: &str, what: &str) -> Result<Option<T>>;
}

impl<T, E> SdkResult<T> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn or_cloud(self, region: &str, what: &str) -> Result<T> {
        self.map_err(|e| cloud_err(region, what, e))
    }
    fn unless_gone(self, region: &str, what: &str) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(cloud_err(region, what, e)),
        }
    }
}

/// An error and its sources, `: `-separated (without the SDK's debug dump).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        parts.push(err.to_string());
        cur = err.source();
    }
    parts.join(": ")
}

/// Whether an error is a "not found" answer (the resource is gone or never existed).
pub fn is_not_found<E: ErrorCode>(e: &E) -> bool {
    e.error_code()
        .is_some_and(|c| CloudErrorKind::of_code(c) == CloudErrorKind::NotFound)
}

/// Retries `op` while it fails with one of `codes`, with exponential backoff (0.5 s
/// doubling up to 15 s, with jitter) until `limit` has passed; other errors return at once.
pub async fn retry_codes<T, E, F, Fut>(
    codes: &[&str],
    limit: Duration,
    op: F,
) -> std::result::Result<T, E>
where
    E: ErrorCode,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    retry_codes_from(Duration::from_millis(500), codes, limit, op).await
}

async fn retry_codes_from<T, E, F, Fut>(
    first: Duration,
    codes: &[&str],
    limit: Duration,
    mut op: F,
) -> std::result::Result<T, E>
where
    E: ErrorCode,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let start = Instant::now();
    let mut delay = first;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let retryable = e.error_code().is_some_and(|c| codes.contains(&c));
                if !retryable || start.elapsed() + delay > limit {
                    return Err(e);
                }
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        }
    }
}

/// 75-100 % of `d`, so that parallel retries spread out.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let frac = 0.75 + (nanos % 1000) as f64 / 4000.0;
    d.mul_f64(frac)
}

/// EC2 tags from a map.
pub fn ec2_tags(tags: &IndexMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A TagSpecification so that the tags are set atomically with the creation.
pub fn tag_spec(rt: ResourceType, tags: &IndexMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// EC2 tags as a map.
pub fn tag_map(tags: &[Tag]) -> IndexMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|s| s.to_string()).collect()))
        .build()
}

/// The filters selecting everything of one project and environment.
pub fn owner_filters(project: &str, env: &str) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{}", tag::PROJECT), &[project]),
        filter(&format!("tag:{}", tag::ENV), &[env]),
    ]
}

/// A short stable hash (hex) for tags.
pub fn short_hash(s: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Fake(&'static str);
    impl ErrorCode for Fake {
        fn error_code(&self) -> Option<&str> {
            Some(self.0)
        }
    }

    #[tokio::test]
    async fn retries_listed_codes_with_backoff() {
        let calls = AtomicU32::new(0);
        let ms = Duration::from_millis(1);
        let r: std::result::Result<u32, Fake> = retry_codes_from(
            ms,
            &["DependencyViolation"],
            Duration::from_secs(60),
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err(Fake("DependencyViolation"))
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn other_codes_fail_at_once_and_limit_is_bounded() {
        let calls = AtomicU32::new(0);
        let ms = Duration::from_millis(1);
        let r: std::result::Result<(), Fake> =
            retry_codes_from(ms, &["X"], Duration::from_secs(60), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Fake("AccessDenied"))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let start = Instant::now();
        let r: std::result::Result<(), Fake> = retry_codes_from(
            Duration::from_millis(10),
            &["X"],
            Duration::from_millis(200),
            || async { Err(Fake("X")) },
        )
        .await;
        assert!(r.is_err());
        assert!(start.elapsed() <= Duration::from_millis(400));
    }
}
