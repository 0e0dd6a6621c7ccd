//! Where the server is and which token to use.
//!
//! Each setting comes from the first place that has it: the command-line
//! flag, then the environment (`HALE_SERVER`, `HALE_TOKEN`, `HALE_TENANT`),
//! then the CLI config file. clap already merges flags and environment; this
//! module adds the file.
//!
//! ```toml
//! # ~/.config/hale/cli.toml
//! server = "https://hale.internal:8080"
//! token = "..."          # keep this file private (chmod 600)
//! tenant = "team-a"      # for platform tokens
//! timeout = "30s"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::ServerArgs;
use crate::exit::CliError;

/// The default time one request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The resolved connection settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// The server's base URL, without a trailing slash.
    pub server: String,
    /// The bearer token.
    pub token: Option<String>,
    /// The tenant for platform tokens.
    pub tenant: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for Connection {
    // The token is a secret; it never appears in debug output or logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tenant", &self.tenant)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The CLI config file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    server: Option<String>,
    token: Option<String>,
    tenant: Option<String>,
    #[serde(default, with = "optional_duration")]
    timeout: Option<Duration>,
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let raw = Option::<String>::deserialize(d)?;
        raw.map(|s| hale_domain::time::duration::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The default config file location, if a home can be found.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("hale").join("cli.toml"));
    }
    std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| {
        PathBuf::from(h)
            .join(".config")
            .join("hale")
            .join("cli.toml")
    })
}

fn read_file_settings(path: &Path, explicit: bool) -> Result<FileSettings, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        // A missing default file just means "no file settings"; a file the
        // user named must exist.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(FileSettings::default());
        }
        Err(e) => return Err(CliError::file(path.display(), format!("cannot read: {e}"))),
    };
    toml::from_str(&text).map_err(|e| CliError::file(path.display(), e.to_string()))
}

/// Resolves the connection: flags and environment (already merged by clap),
/// then the config file.
pub fn resolve(args: &ServerArgs) -> Result<Connection, CliError> {
    let (path, explicit) = match &args.cli_config {
        Some(p) => (Some(p.clone()), true),
        None => (default_config_path(), false),
    };
    let file = match &path {
        Some(p) => read_file_settings(p, explicit)?,
        None => FileSettings::default(),
    };
    let server = args
        .server
        .clone()
        .or(file.server)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            CliError::Usage(
                "no server given: pass --server URL, set HALE_SERVER, or put server = \"...\" in the CLI config file".into(),
            )
        })?;
    let server = server.trim().trim_end_matches('/').to_owned();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(CliError::Usage(format!(
            "server {server:?} is not an http:// or https:// URL"
        )));
    }
    Ok(Connection {
        server,
        token: args.token.clone().or(file.token).filter(|t| !t.is_empty()),
        tenant: args
            .tenant
            .clone()
            .or(file.tenant)
            .filter(|t| !t.is_empty()),
        timeout: args.timeout.or(file.timeout).unwrap_or(DEFAULT_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("cli.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_fills_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "server = \"http://file:1/\"\ntoken = \"file-token\"\ntenant = \"file-tenant\"\ntimeout = \"5s\"\n",
        );
        let args = ServerArgs {
            server: Some("http://flag:2".into()),
            cli_config: Some(path),
            ..ServerArgs::default()
        };
        let c = resolve(&args).unwrap();
        assert_eq!(c.server, "http://flag:2");
        assert_eq!(c.token.as_deref(), Some("file-token"));
        assert_eq!(c.tenant.as_deref(), Some("file-tenant"));
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert!(!format!("{c:?}").contains("file-token"), "token leaked");
    }

    #[test]
    fn a_named_config_file_must_exist_and_parse() {
        let dir = tempfile::tempdir().unwrap();
        let args = ServerArgs {
            cli_config: Some(dir.path().join("missing.toml")),
            ..ServerArgs::default()
        };
        assert!(matches!(resolve(&args), Err(CliError::File { .. })));
        let bad = write(dir.path(), "server = \"http://x\"\ncolour = 1\n");
        let args = ServerArgs {
            cli_config: Some(bad),
            ..ServerArgs::default()
        };
        let err = resolve(&args).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn no_server_anywhere_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "token = \"t\"\n");
        let args = ServerArgs {
            cli_config: Some(path),
            ..ServerArgs::default()
        };
        let err = resolve(&args).unwrap_err();
        assert_eq!(err.exit(), crate::exit::Exit::Usage);
        let args = ServerArgs {
            server: Some("ftp://x".into()),
            cli_config: Some(dir.path().join("cli.toml")),
            ..ServerArgs::default()
        };
        assert!(resolve(&args).is_err());
    }
}
