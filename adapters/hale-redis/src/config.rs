//! Configuration of the Redis lock backend.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The default bound on one Redis command (the port's "at most 250 ms").
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// The default bound on checking a connection out of the pool, including
/// waiting for a free slot and opening or health-checking a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// The default number of pooled connections. Each is multiplexed, so a few
/// serve many concurrent callers.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Settings of [`RedisLocks`](crate::RedisLocks).
///
/// Every key Hale writes starts with `hale:{tenant}:`; the prefix is fixed
/// so that all replicas of a deployment agree on it.
///
/// The worst-case duration of one lock operation is `connect_timeout +
/// command_timeout`; after that it returns `LockError::Unavailable`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisLocksConfig {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`).
    pub url: String,
    /// Bound on one command round trip (default 250 ms).
    pub command_timeout: Duration,
    /// Bound on getting a pooled connection (default 250 ms).
    pub connect_timeout: Duration,
    /// Maximum number of pooled connections (default 16).
    pub pool_size: usize,
    /// With a `rediss://` URL: a PEM file of the certificate authorities
    /// that sign the server's certificate, used instead of the system's
    /// trust store. Unset: the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl RedisLocksConfig {
    /// Defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        RedisLocksConfig {
            url: url.into(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
            ca_file: None,
        }
    }

    /// Verifies a `rediss://` server against the CAs in `path` (PEM).
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Sets the per-command timeout.
    #[must_use]
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets the connection checkout timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the pool size.
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Checks the settings that do not need the server.
    pub(crate) fn validate(&self) -> Result<(), RedisConfigError> {
        if self.command_timeout.is_zero() {
            return Err(RedisConfigError::Invalid(
                "command_timeout must be greater than zero",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(RedisConfigError::Invalid(
                "connect_timeout must be greater than zero",
            ));
        }
        if self.pool_size == 0 {
            return Err(RedisConfigError::Invalid("pool_size must be at least 1"));
        }
        Ok(())
    }

    /// The URL with any password replaced by `***`, for logs and errors.
    pub fn redacted_url(&self) -> String {
        hale_redact::redact_url(&self.url)
    }
}

impl fmt::Debug for RedisLocksConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLocksConfig")
            .field("url", &self.redacted_url())
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The configuration was rejected. Nothing here needs a reachable server:
/// Redis being down at startup is not a configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisConfigError {
    /// A setting is out of range.
    #[error("invalid redis lock configuration: {0}")]
    Invalid(&'static str),
    /// The URL could not be parsed.
    #[error("invalid redis url {url}: {reason}")]
    Url {
        /// The URL with its password redacted.
        url: String,
        /// What the driver said.
        reason: String,
    },
    /// The connection pool could not be built.
    #[error("cannot build the redis connection pool: {0}")]
    Pool(String),
    /// The TLS settings cannot be used (unreadable CA file, a CA file with
    /// a plain `redis://` URL).
    #[error("redis TLS: {0}")]
    Tls(String),
}

#[cfg(test)]
mod tests {
    use hale_redact::redact_url as redact;

    use super::*;

    #[test]
    fn passwords_never_reach_debug_output() {
        let cfg = RedisLocksConfig::new("redis://hale:s3cret@redis.internal:6379/2");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("redis://hale:***@redis.internal:6379/2"),
            "{shown}"
        );
        assert_eq!(redact("redis://:pw@h:1"), "redis://:***@h:1");
        assert_eq!(redact("redis://token@h:1"), "redis://***@h:1");
        assert_eq!(redact("redis://127.0.0.1:6390"), "redis://127.0.0.1:6390");
        assert_eq!(redact("not a url"), "not a url");
        assert_eq!(
            redact("rediss://u:p@ss@h:6380/0"),
            "rediss://u:***@h:6380/0"
        );
    }

    #[test]
    fn zero_timeouts_and_empty_pools_are_rejected() {
        let ok = RedisLocksConfig::new("redis://127.0.0.1:1");
        assert_eq!(ok.validate(), Ok(()));
        for bad in [
            ok.clone().with_command_timeout(Duration::ZERO),
            ok.clone().with_connect_timeout(Duration::ZERO),
            ok.clone().with_pool_size(0),
        ] {
            assert!(
                matches!(bad.validate(), Err(RedisConfigError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
