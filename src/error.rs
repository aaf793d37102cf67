//! Error types shared by every layer: source positions (file:line:col) and the
//! compiler-style rendering of errors that point into user files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a user file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub col: usize,
}

impl Span {
    pub fn new(file: &Arc<PathBuf>, line: usize, col: usize) -> Self {
        Span {
            file: file.clone(),
            line,
            col,
        }
    }
    /// An error at this position.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Source(SourceError::new(self, msg))
    }
    /// A span for a whole file (line 1, column 1), used when no finer position exists.
    pub fn file_start(file: &Path) -> Self {
        Span {
            file: Arc::new(file.to_path_buf()),
            line: 1,
            col: 1,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// An error in a user-supplied file, rendered like a compiler diagnostic:
///
/// ```text
/// error: unknown task keyword `whne`
///   --> site.yml:12:7
///    |
/// 12 |       whne: x
///    |       ^
/// ```
#[derive(Debug, Clone, thiserror::Error)]
pub struct SourceError {
    pub span: Span,
    pub message: String,
}

impl SourceError {
    pub fn new(span: &Span, message: impl Into<String>) -> Self {
        SourceError {
            span: span.clone(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.span, self.message)?;
        if let Ok(text) = std::fs::read_to_string(&*self.span.file) {
            if let Some(line) = text.lines().nth(self.span.line.saturating_sub(1)) {
                let num = self.span.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(f, "{pad} |")?;
                writeln!(f, "{num} | {line}")?;
                let caret_pad: String = line
                    .chars()
                    .take(self.span.col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "{pad} | {caret_pad}^")?;
            }
        }
        Ok(())
    }
}

/// Renders several diagnostics one after the other, then how many there were.
fn render_all(errors: &[SourceError]) -> String {
    let mut out: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    out.push(format!("{} problems found, nothing was run", errors.len()));
    out.join("\n\n")
}

/// Top-level error of the library; the binary maps it to an exit status
/// (`app::exit_status`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input in a user file (playbook, inventory, template, infra spec): exit 1.
    #[error("{0}")]
    Source(#[from] SourceError),
    /// Several problems in user files found by one validation pass, all reported at once
    /// (exit 1). Build it with [`Error::from_problems`]: never fewer than two.
    #[error("{}", render_all(.0))]
    Sources(Vec<SourceError>),
    /// Bad usage (flags, settings, missing files): exit 1.
    #[error("{0}")]
    Usage(UsageError),
    /// I/O on the controller.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// A failure talking to a cloud API or reaching it over the network (the EC2
    /// inventory, `provision`, `destroy`): exit 3.
    #[error("{0}")]
    Cloud(#[from] CloudError),
    /// Interrupted by the user (Ctrl-C): exit 130.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// A cloud failure that is not an API answer (something expected is missing).
    pub fn cloud(detail: impl Into<String>) -> Self {
        Error::Cloud(CloudError::new(detail))
    }
    /// A cloud failure in one region that is not an API answer.
    pub fn cloud_in(region: impl AsRef<str>, detail: impl Into<String>) -> Self {
        Error::Cloud(CloudError::new(detail).in_region(region.as_ref()))
    }
    /// The cloud error this is, if it is one.
    pub fn as_cloud(&self) -> Option<&CloudError> {
        match self {
            Error::Cloud(c) => Some(c),
            _ => None,
        }
    }
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(UsageError {
            setting: None,
            value: None,
            message: msg.into(),
        })
    }
    /// Bad usage of one setting (a flag, an ansible.cfg key, an environment variable)
    /// with the value given; `msg` is the whole message.
    pub fn bad_setting(setting: &str, value: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Usage(UsageError {
            setting: Some(setting.to_string()),
            value: Some(value.into()),
            message: msg.into(),
        })
    }
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    pub fn source_at(span: &Span, msg: impl Into<String>) -> Self {
        Error::Source(SourceError::new(span, msg))
    }
    /// One error carrying every problem (in order); give it at least one.
    pub fn many(mut problems: Vec<SourceError>) -> Self {
        if problems.len() == 1 {
            Error::Source(problems.remove(0))
        } else {
            Error::Sources(problems)
        }
    }
    /// `Ok` when there is no problem, else [`Error::many`].
    pub fn from_problems(problems: Vec<SourceError>) -> Result<()> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::many(problems))
        }
    }
    /// The diagnostics this error carries (empty for errors without a position).
    pub fn into_problems(self) -> std::result::Result<Vec<SourceError>, Error> {
        match self {
            Error::Source(e) => Ok(vec![e]),
            Error::Sources(v) => Ok(v),
            other => Err(other),
        }
    }
}

/// Bad usage: the message for the user, and the setting at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The flag (`--forks`), ansible.cfg key or environment variable at fault.
    pub setting: Option<String>,
    /// The value it was given.
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// What went wrong with a cloud call, for callers to match on (by type, not by text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudErrorKind {
    /// The resource is gone or never existed (`*.NotFound`, `*.Malformed` ids).
    NotFound,
    /// AWS asked to slow down (the SDK retried already).
    Throttling,
    /// The API endpoint could not be reached (connection, DNS, timeout).
    Unreachable,
    /// The credentials are missing, wrong or lack the permission.
    Denied,
    /// Any other answer, or something expected that is missing.
    Other,
}

/// A failure talking to a cloud API: where (region), what (operation, resource), the
/// AWS error code when AWS answered, and what was said.
///
/// Rendered `region: Operation resource: detail (endpoint: url)`, each part only when known.
#[derive(Debug, Clone)]
pub struct CloudError {
    pub region: Option<String>,
    /// The API operation (`DescribeVpcs`), when the error is an API answer.
    pub operation: Option<String>,
    /// The resource the operation was about (a name or id), when the message names it.
    pub resource: Option<String>,
    /// AWS's error code (`InvalidGroup.NotFound`, `Throttling`).
    pub code: Option<String>,
    pub kind: CloudErrorKind,
    /// What was said (AWS's `Code: message`, or rdeploy's own words).
    pub detail: String,
    /// The API endpoint in use, added once at the top (`aws::Aws::locate`).
    pub endpoint: Option<String>,
}

impl CloudError {
    pub fn new(detail: impl Into<String>) -> Self {
        CloudError {
            region: None,
            operation: None,
            resource: None,
            code: None,
            kind: CloudErrorKind::Other,
            detail: detail.into(),
            endpoint: None,
        }
    }
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }
    pub fn operation(mut self, op: &str) -> Self {
        self.operation = Some(op.to_string());
        self
    }
    pub fn resource(mut self, r: impl Into<String>) -> Self {
        self.resource = Some(r.into());
        self
    }
    /// Sets AWS's error code and the kind it implies.
    pub fn code(mut self, code: &str) -> Self {
        self.kind = CloudErrorKind::of_code(code);
        self.code = Some(code.to_string());
        self
    }
    pub fn kind(mut self, kind: CloudErrorKind) -> Self {
        self.kind = kind;
        self
    }
    pub fn is_not_found(&self) -> bool {
        self.kind == CloudErrorKind::NotFound
    }
}

impl CloudErrorKind {
    /// The kind of an AWS error code.
    pub fn of_code(code: &str) -> Self {
        if code.contains("NotFound") || code.ends_with(".Malformed") {
            CloudErrorKind::NotFound
        } else if code.contains("Throttl") || code == "RequestLimitExceeded" {
            CloudErrorKind::Throttling
        } else if matches!(
            code,
            "AuthFailure"
                | "UnauthorizedOperation"
                | "AccessDenied"
                | "AccessDeniedException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
        ) {
            CloudErrorKind::Denied
        } else {
            CloudErrorKind::Other
        }
    }
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.region {
            write!(f, "{r}: ")?;
        }
        match (&self.operation, &self.resource) {
            (Some(op), Some(res)) => write!(f, "{op} {res}: ")?,
            (Some(op), None) => write!(f, "{op}: ")?,
            _ => {}
        }
        f.write_str(&self.detail)?;
        if let Some(e) = &self.endpoint {
            write!(f, " (endpoint: {e})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CloudError {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_errors_render_their_parts_and_match_by_kind() {
        let e = CloudError::new("InvalidVpcID.NotFound: no such vpc")
            .in_region("eu-west-1")
            .operation("DeleteVpc")
            .code("InvalidVpcID.NotFound");
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "eu-west-1: DeleteVpc: InvalidVpcID.NotFound: no such vpc"
        );
        let e = CloudError::new("Throttling: slow down")
            .operation("DeleteCacheSubnetGroup")
            .resource("p-dev")
            .code("Throttling");
        assert_eq!(e.kind, CloudErrorKind::Throttling);
        assert_eq!(
            e.to_string(),
            "DeleteCacheSubnetGroup p-dev: Throttling: slow down"
        );
        let mut e = CloudError::new("the VPC does not exist").in_region("us-east-1");
        e.endpoint = Some("http://127.0.0.1:5055/".into());
        assert_eq!(
            e.to_string(),
            "us-east-1: the VPC does not exist (endpoint: http://127.0.0.1:5055/)"
        );
        assert_eq!(
            CloudErrorKind::of_code("AuthFailure"),
            CloudErrorKind::Denied
        );
        assert_eq!(
            CloudErrorKind::of_code("DependencyViolation"),
            CloudErrorKind::Other
        );
    }

    #[test]
    fn problems_are_reported_together() {
        let f = Arc::new(PathBuf::from("/nonexistent/site.yml"));
        assert!(Error::from_problems(vec![]).is_ok());
        let one = Error::from_problems(vec![SourceError::new(&Span::new(&f, 2, 3), "a")]);
        assert!(matches!(one, Err(Error::Source(_))));
        let two = Error::from_problems(vec![
            SourceError::new(&Span::new(&f, 2, 3), "first"),
            SourceError::new(&Span::new(&f, 9, 1), "second"),
        ])
        .unwrap_err()
        .to_string();
        assert!(two.starts_with("/nonexistent/site.yml:2:3: first"), "{two}");
        assert!(
            two.contains("\n\n/nonexistent/site.yml:9:1: second"),
            "{two}"
        );
        assert!(two.ends_with("2 problems found, nothing was run"), "{two}");
    }
}
