//! Configuration problems, each with the file, line and column it is about.

use std::fmt;

use super::span::{self, LineCol};

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `env HALE_LISTEN`, or `<built-in defaults>`).
    pub origin: String,
    /// Where in the file, when known.
    pub at: Option<LineCol>,
    /// The dotted field path, when known (`tenants[0].strategies[1].risk`).
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem at byte range `span` of `text`.
    pub(crate) fn at_span(
        origin: &str,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        path: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            origin: origin.to_owned(),
            at: span.map(|s| span::line_col(text, s.start)),
            path,
            message: message.into(),
        }
    }

    /// A problem at a field path, located in `text` (or at the deepest
    /// table on the path that exists).
    pub(crate) fn at_path(
        origin: &str,
        text: &str,
        path: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::at_span(
            origin,
            text,
            span::locate(text, path),
            Some(path.to_owned()),
            message,
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(at) = self.at {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        f.write_str(": ")?;
        if let Some(p) = &self.path {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a configuration (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// A single problem.
    pub fn one(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
