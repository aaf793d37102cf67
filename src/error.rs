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

/// Top-level error of the library; the binary maps it to an exit status
/// (`app::exit_status`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input in a user file (playbook, inventory, template, infra spec): exit 1.
    #[error("{0}")]
    Source(#[from] SourceError),
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
