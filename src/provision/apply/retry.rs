//! The shape every delete and many creates share: retried while AWS answers one of a few
//! "not yet" codes (a dependency still there, a resource created a moment ago not visible
//! yet), bounded in time; for deletes, "not found" means the work is done already. Errors
//! are [`CloudError`](crate::error::CloudError)s saying the region and the operation.

use crate::aws::{retry_codes, HttpResponse, SdkResult};
use crate::error::{Error, Result};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// Calls in one region retried while they fail with one of `codes`, for at most `limit`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry<'a> {
    region: &'a str,
    codes: &'a [&'a str],
    limit: Duration,
}

/// What AWS answers while something still depends on what is being deleted.
pub(crate) const DEPENDENCY: &[&str] = &["DependencyViolation"];

impl<'a> Retry<'a> {
    pub(crate) fn new(region: &'a str, codes: &'a [&'a str], limit: Duration) -> Self {
        Retry {
            region,
            codes,
            limit,
        }
    }

    /// The call's answer; an error says the region and operation `op`.
    pub(crate) async fn call<T, E, F, Fut>(&self, op: &str, f: F) -> Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    {
        retry_codes(self.codes, self.limit, f)
            .await
            .or_cloud(self.region, op)
    }

    /// Like [`Retry::call`], but "not found" (already gone) is `Ok(None)`.
    pub(crate) async fn gone_ok<T, E, F, Fut>(&self, op: &str, f: F) -> Result<Option<T>>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    {
        match self.call(op, f).await {
            Err(Error::Cloud(c)) if c.is_not_found() => Ok(None),
            r => r.map(Some),
        }
    }
}
