//! Where the database file lives and how long a call may wait.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

/// Settings for [`SqliteStore`](crate::SqliteStore).
#[derive(Debug, Clone)]
pub struct SqliteStoreConfig {
    /// The database file (created if missing, with its `-wal`/`-shm` files
    /// beside it).
    pub path: PathBuf,
    /// Most pooled connections. Readers run in parallel under WAL; writers
    /// take turns on SQLite's single write lock.
    pub max_connections: u32,
    /// How long a writer waits for the write lock before the call answers
    /// `Unavailable` (`PRAGMA busy_timeout`).
    pub busy_timeout: Duration,
    /// Bound on getting a pooled connection.
    pub acquire_timeout: Duration,
}

impl SqliteStoreConfig {
    /// Defaults for the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteStoreConfig {
            path: path.into(),
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }

    /// The sqlx options: WAL (readers never block the writer), FULL
    /// synchronous (a commit is on disk before `Ok`, surviving power loss,
    /// not only a process crash), foreign keys on, and the busy timeout.
    pub(crate) fn connect_options(&self) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(self.busy_timeout)
    }
}
