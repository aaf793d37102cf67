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
    /// Bad usage (flags, missing files): exit 1.
    #[error("{0}")]
    Usage(String),
    /// I/O on the controller.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// A failure talking to a cloud API or reaching it over the network (the EC2
    /// inventory, `provision`, `destroy`): exit 3.
    #[error("{0}")]
    Cloud(String),
    /// Interrupted by the user (Ctrl-C): exit 130.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
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

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

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
