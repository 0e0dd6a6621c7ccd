//! How the store connects: URL, schema, pool size and the timeouts that make
//! a dead database answer `Unavailable` quickly instead of hanging.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hale_engine::ports::StoreError;
use sqlx::postgres::PgConnectOptions;

/// Connection settings for [`PgStore`](crate::PgStore).
///
/// The defaults suit one `hale-server` replica: 10 connections, 5 s to get a
/// connection (which includes connecting), 5 s per statement.
#[derive(Clone)]
pub struct PgStoreConfig {
    /// The application role's URL, e.g.
    /// `postgres://hale_app:secret@db:5432/hale`.
    pub url: String,
    /// The schema holding Hale's tables (the connection's `search_path`).
    /// `None` uses the role's default search path (normally `public`).
    pub schema: Option<String>,
    /// If set, [`PgStore::connect`](crate::PgStore::connect) first applies
    /// pending migrations with this URL (the migration role's).
    pub migrate_url: Option<String>,
    /// Most pooled connections.
    pub max_connections: u32,
    /// Bound on the first connection in `connect`.
    pub connect_timeout: Duration,
    /// Bound on getting a pooled connection, including opening a new one.
    pub acquire_timeout: Duration,
    /// Server-side bound on one statement (`statement_timeout`); a timed-out
    /// statement is cancelled and its transaction rolled back.
    pub statement_timeout: Duration,
    /// Server-side bound on a session idling inside a transaction
    /// (`idle_in_transaction_session_timeout`), so a stalled client cannot
    /// hold row locks forever.
    pub idle_in_transaction_timeout: Duration,
    /// Client-side bound on a whole store call (acquire, statements, commit).
    /// Covers a server that stops answering without closing the socket,
    /// which no server-side timeout can.
    pub operation_timeout: Duration,
}

impl PgStoreConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        PgStoreConfig {
            url: url.into(),
            schema: None,
            migrate_url: None,
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            idle_in_transaction_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(15),
        }
    }

    /// Uses `schema` for Hale's tables.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Applies migrations with `url` on connect.
    pub fn with_migrations(mut self, url: impl Into<String>) -> Self {
        self.migrate_url = Some(url.into());
        self
    }

    /// The sqlx options for `url` with this config's session settings.
    pub(crate) fn connect_options(&self, url: &str) -> Result<PgConnectOptions, StoreError> {
        let mut opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("postgres URL {}: {e}", redact(url))))?
            .application_name("hale");
        let mut settings = vec![
            (
                "statement_timeout",
                self.statement_timeout.as_millis().to_string(),
            ),
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_timeout.as_millis().to_string(),
            ),
        ];
        if let Some(schema) = &self.schema {
            check_schema_name(schema)?;
            settings.push(("search_path", schema.clone()));
        }
        opts = opts.options(settings);
        Ok(opts)
    }
}

impl fmt::Debug for PgStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStoreConfig")
            .field("url", &redact(&self.url))
            .field("schema", &self.schema)
            .field("migrate_url", &self.migrate_url.as_deref().map(redact))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}

/// A URL with its password and secret query parameters replaced, for logs
/// and errors (see [`hale_redact::redact_url`] for every form handled).
pub fn redact(url: &str) -> String {
    hale_redact::redact_url(url)
}

/// Schema names go into `search_path` and DDL: plain lower-case identifiers
/// only, so no quoting is ever needed.
pub(crate) fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit()
        && !schema.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "schema name {schema:?}: use 1-63 characters of [a-z0-9_], not starting with a digit or pg_"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://hale_app:s3cret@db:5432/hale"),
            "postgres://hale_app:***@db:5432/hale"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact("postgres://hale_app@db/hale?sslmode=require&password=s3cret"),
            "postgres://hale_app@db/hale?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgres://hale_app:p@ss@db/hale"),
            "postgres://hale_app:***@db/hale"
        );
        let cfg = PgStoreConfig::new("postgres://a:b@h/d");
        assert!(!format!("{cfg:?}").contains(":b@"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("hale").is_ok());
        assert!(check_schema_name("hale_test_01").is_ok());
        for bad in [
            "",
            "Hale",
            "a;drop",
            "1x",
            "pg_catalog",
            "a-b",
            &"x".repeat(64),
        ] {
            assert!(check_schema_name(bad).is_err(), "{bad:?}");
        }
    }
}
