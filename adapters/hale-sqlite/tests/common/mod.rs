//! A fresh database file per test, under Cargo's per-target temp directory
//! (`target/tmp`), so runs leave nothing in /tmp and `cargo clean` removes
//! them.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::Arc;

use hale_sqlite::SqliteStore;

/// A path for a new database file.
pub(crate) fn db_path(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hale-sqlite");
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir.join(format!("{test}-{}.db", uuid::Uuid::new_v4().simple()))
}

/// A store on a new file.
pub(crate) async fn test_store(test: &str) -> Arc<SqliteStore> {
    let path = db_path(test);
    Arc::new(SqliteStore::open(&path).await.expect("open the test store"))
}
