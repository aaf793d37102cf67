//! The shapes discovery repeats for every resource kind: a `Describe*` call filtered to
//! what one project and environment tag, and the ownership check of the services whose
//! Describe calls have no tag filter (ElastiCache, ELBv2, RDS).

use super::aws::{self, tag, HttpResponse, SdkResult};
use crate::error::Result;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::Filter;
use indexmap::IndexMap;
use std::future::Future;

/// Whose resources discovery looks for, and where.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub region: &'a str,
}

impl<'a> Owner<'a> {
    pub fn new(project: &'a str, env: &'a str, region: &'a str) -> Self {
        Owner {
            project,
            env,
            region,
        }
    }

    /// The EC2 filters selecting what carries both owner tags.
    pub fn filters(&self) -> Vec<Filter> {
        aws::owner_filters(self.project, self.env)
    }

    /// One `Describe*` call given the owner filters (`call` puts them on the request and
    /// sends it); an error says the region and the operation `op`.
    pub async fn describe<T, E, F, Fut>(&self, op: &str, call: F) -> Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnOnce(Vec<Filter>) -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    {
        call(self.filters()).await.or_cloud(self.region, op)
    }

    /// Whether these tags carry this owner's project *and* environment.
    pub fn owns(&self, tags: &IndexMap<String, String>) -> bool {
        tags.get(tag::PROJECT).map(String::as_str) == Some(self.project)
            && tags.get(tag::ENV).map(String::as_str) == Some(self.env)
    }
}

/// Tags as a map, from any service's (key, value) pairs (the SDKs have one Tag type each).
pub fn tag_pairs<'t>(
    pairs: impl IntoIterator<Item = (Option<&'t str>, Option<&'t str>)>,
) -> IndexMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            (
                k.unwrap_or_default().to_string(),
                v.unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The `rdeploy:name` tag (empty when missing).
pub fn name_tag(tags: &IndexMap<String, String>) -> String {
    tags.get(tag::NAME).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_needs_both_tags() {
        let o = Owner::new("shop", "dev", "eu-west-1");
        let mut t = IndexMap::new();
        t.insert(tag::PROJECT.to_string(), "shop".to_string());
        assert!(!o.owns(&t));
        t.insert(tag::ENV.to_string(), "prod".to_string());
        assert!(!o.owns(&t));
        t.insert(tag::ENV.to_string(), "dev".to_string());
        assert!(o.owns(&t));
        let f = o.filters();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name(), Some("tag:rdeploy:project"));
        assert_eq!(f[1].values(), ["dev".to_string()]);
    }
}
