//! Where a channel's secret comes from: an environment variable or a file,
//! never the configuration text.

use std::fmt;
use std::path::PathBuf;

/// A secret's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value of an environment variable.
    Env(String),
    /// The contents of a file (trailing whitespace trimmed), e.g. a
    /// mounted Kubernetes secret.
    File(PathBuf),
}

/// A secret value: printed as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret could not be read. The message names the source, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset or empty.
    #[error("environment variable {0} is unset or empty")]
    MissingEnv(String),
    /// The file cannot be read or is empty.
    #[error("secret file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl SecretSource {
    /// Reads the secret now.
    pub fn read(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_owned())),
                _ => Err(SecretError::MissingEnv(name.clone())),
            },
            SecretSource::File(path) => {
                let err = |reason: String| SecretError::File {
                    path: path.display().to_string(),
                    reason,
                };
                let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
                let v = text.trim();
                if v.is_empty() {
                    return Err(err("the file is empty".to_owned()));
                }
                Ok(Secret(v.to_owned()))
            }
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "env {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn files_are_trimmed_and_missing_sources_name_the_source_only() {
        let dir = std::env::temp_dir().join(format!("hale-notify-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, "whsec_abc\n").unwrap();
        assert_eq!(
            SecretSource::File(path.clone()).read().unwrap().expose(),
            "whsec_abc"
        );
        std::fs::write(&path, "  \n").unwrap();
        assert!(SecretSource::File(path.clone()).read().is_err());
        let missing = SecretSource::Env("HALE_NOTIFY_TEST_SURELY_UNSET".into()).read();
        assert_eq!(
            missing,
            Err(SecretError::MissingEnv(
                "HALE_NOTIFY_TEST_SURELY_UNSET".into()
            ))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
