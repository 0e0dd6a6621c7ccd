//! Free text (command output) with secrets replaced, by regular
//! expression.
//!
//! The built-in patterns cover what healing commands commonly print:
//! connection URLs, `KEY=value` and `"key": "value"` pairs whose key names
//! a secret, `Authorization: Bearer ...`, PEM private keys and cloud access
//! key ids. Operators add their own (`[executor] redact_patterns`); a
//! configured pattern's whole match is replaced by `***`.

use std::borrow::Cow;

use regex::Regex;

use crate::MASK;

/// The patterns every [`Redactor`] applies, before the configured ones.
/// A pattern with a capture group named `keep` keeps that group and masks
/// the rest of the match.
pub const BUILTIN_PATTERNS: &[&str] = &[
    // PEM private keys, whole (the body spans lines).
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
    // The password of a URL's user-info, up to the last '@' of the word.
    r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s]*@",
    // key=value, key: value, "key": "value" where the key names a secret
    // (DB_PASSWORD=, client_secret:, X-Api-Key:, "token": ...).
    r#"(?i)(?P<keep>\b[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)["']?\s*[:=]\s*["']?)[^\s"',;&]+"#,
    // Authorization headers and bearer tokens.
    r"(?i)(?P<keep>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
    // AWS access key ids.
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
];

/// A configured pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The index among the configured patterns.
    pub index: usize,
    /// The pattern.
    pub pattern: String,
    /// What the regex compiler said.
    pub why: String,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "redaction pattern {} ({:?}) is not a valid regular expression: {}",
            self.index, self.pattern, self.why
        )
    }
}

impl std::error::Error for PatternError {}

/// Replaces secrets in text: the built-in patterns, then the configured
/// ones.
#[derive(Debug, Clone)]
pub struct Redactor {
    patterns: Vec<Regex>,
}

impl Default for Redactor {
    /// The built-in patterns only.
    fn default() -> Self {
        Redactor {
            patterns: BUILTIN_PATTERNS
                .iter()
                .filter_map(|p| Regex::new(p).ok())
                .collect(),
        }
    }
}

impl Redactor {
    /// The built-in patterns plus `extra` (each a regular expression whose
    /// whole match is masked).
    pub fn new<S: AsRef<str>>(extra: &[S]) -> Result<Self, PatternError> {
        let mut r = Redactor::default();
        for (index, p) in extra.iter().enumerate() {
            let p = p.as_ref();
            let re = Regex::new(p).map_err(|e| PatternError {
                index,
                pattern: p.to_owned(),
                why: e.to_string(),
            })?;
            r.patterns.push(re);
        }
        Ok(r)
    }

    /// `text` with every match replaced by `***` (a pattern's `keep` group
    /// is kept).
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for re in &self.patterns {
            if !re.is_match(&out) {
                continue;
            }
            let replaced = re
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    let keep = caps.name("keep").map_or("", |m| m.as_str());
                    // A URL keeps its '@' so the host stays readable.
                    let at = if caps[0].ends_with('@') && !keep.ends_with('@') {
                        "@"
                    } else {
                        ""
                    };
                    format!("{keep}{MASK}{at}")
                })
                .into_owned();
            out = Cow::Owned(replaced);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_patterns_compile() {
        assert_eq!(Redactor::default().patterns.len(), BUILTIN_PATTERNS.len());
    }

    #[test]
    fn what_commands_print_is_masked() {
        let r = Redactor::default();
        let cases = [
            (
                "connecting to postgres://app:s3cr@t@db:5432/x",
                "connecting to postgres://app:***@db:5432/x",
            ),
            ("DB_PASSWORD=hunter2 other=1", "DB_PASSWORD=*** other=1"),
            (
                r#"{"client_secret": "abc123", "id": 1}"#,
                r#"{"client_secret": "***", "id": 1}"#,
            ),
            ("X-Api-Key: k-123456", "X-Api-Key: ***"),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y",
                "Authorization: Bearer ***",
            ),
            ("key AKIAABCDEFGHIJKLMNOP here", "key *** here"),
            (
                "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nxyz\n-----END RSA PRIVATE KEY-----\nb",
                "a\n***\nb",
            ),
            ("restarted nginx in 0.3s", "restarted nginx in 0.3s"),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact(input), want, "{input}");
        }
    }

    #[test]
    fn configured_patterns_add_to_the_builtins_and_bad_ones_are_named() {
        let r = Redactor::new(&["sess-[a-f0-9]{6}"]).unwrap();
        assert_eq!(
            r.redact("session sess-abc123 password=x"),
            "session *** password=***"
        );
        let e = Redactor::new(&["ok", "(unclosed"]).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.to_string().contains("(unclosed"), "{e}");
    }
}
